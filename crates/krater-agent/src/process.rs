//! The HAProxy master process of a load balancer, found through its pid file.
//!
//! The master is not a child of the agent (it daemonized itself), so the agent knows
//! it only by pid: a pid counts as the master while `/proc/<pid>` names a process
//! called `haproxy` that is not a zombie (a reused pid, or a master that exited but
//! was not reaped yet, does not).

use std::path::Path;
use std::time::{Duration, Instant};

use rustix::process::{kill_process, Pid, Signal};

/// Pause between two looks at a process that should exit.
const POLL: Duration = Duration::from_millis(50);

/// The running HAProxy master whose pid is in `pid_file`, if any.
pub(crate) fn running_master(pid_file: &Path) -> Option<Pid> {
    let text = std::fs::read_to_string(pid_file).ok()?;
    let raw: i32 = text.lines().next()?.trim().parse().ok()?;
    let pid = Pid::from_raw(raw)?;
    is_haproxy(pid).then_some(pid)
}

/// Whether `pid` is a live (not zombie) process named `haproxy`.
pub(crate) fn is_haproxy(pid: Pid) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{}/stat", pid.as_raw_nonzero())) else {
        return false;
    };
    // `<pid> (<comm>) <state> ...`; comm may hold spaces and parentheses.
    let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
        return false;
    };
    let comm = &stat[open + 1..close];
    let state = stat[close + 1..].trim_start().chars().next();
    comm == "haproxy" && !matches!(state, Some('Z' | 'X' | 'x') | None)
}

/// Sends `signal` to `pid`; a process already gone is no error.
pub(crate) fn signal(pid: Pid, signal: Signal) -> std::io::Result<()> {
    match kill_process(pid, signal) {
        Ok(()) | Err(rustix::io::Errno::SRCH) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Waits until `pid` is no longer a live HAProxy; false when `timeout` passed first.
pub(crate) async fn wait_gone(pid: Pid, timeout: Duration) -> bool {
    let end = Instant::now() + timeout;
    loop {
        if !is_haproxy(pid) {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Stops the master `pid`: a soft stop (SIGUSR1: listeners close, connections
/// finish), then after `grace` a hard stop (SIGTERM), then SIGKILL. Returns once it
/// is gone.
pub(crate) async fn stop(pid: Pid, grace: Duration) -> std::io::Result<()> {
    for (sig, wait) in [
        (Signal::USR1, grace),
        (Signal::TERM, Duration::from_secs(5)),
        (Signal::KILL, Duration::from_secs(5)),
    ] {
        signal(pid, sig)?;
        if wait_gone(pid, wait).await {
            return Ok(());
        }
        tracing::warn!(
            pid = pid.as_raw_nonzero().get(),
            ?sig,
            "HAProxy still running"
        );
    }
    Err(std::io::Error::other(format!(
        "HAProxy {} did not exit",
        pid.as_raw_nonzero()
    )))
}
