//! The daemons the agent runs (HAProxy masters, keepalived), found through their pid
//! files.
//!
//! A daemon is not a child of the agent (it detached itself), so the agent knows it
//! only by pid: a pid counts while `/proc/<pid>` names a live (not zombie) process
//! with the daemon's program name; a reused pid, or a daemon that exited but was not
//! reaped yet, does not.

use std::path::Path;
use std::time::{Duration, Instant};

use rustix::process::{kill_process, Pid, Signal};

/// Pause between two looks at a process that should exit.
const POLL: Duration = Duration::from_millis(50);

/// The running `program` whose pid is in `pid_file`, if any.
pub(crate) fn running(pid_file: &Path, program: &str) -> Option<Pid> {
    let text = std::fs::read_to_string(pid_file).ok()?;
    let raw: i32 = text.lines().next()?.trim().parse().ok()?;
    let pid = Pid::from_raw(raw)?;
    is_running(pid, program).then_some(pid)
}

/// Whether `pid` is a live (not zombie) process named `program`.
pub(crate) fn is_running(pid: Pid, program: &str) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{}/stat", pid.as_raw_nonzero())) else {
        return false;
    };
    // `<pid> (<comm>) <state> ...`; comm may hold spaces and parentheses.
    let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
        return false;
    };
    let comm = &stat[open + 1..close];
    let state = stat[close + 1..].trim_start().chars().next();
    comm == program && !matches!(state, Some('Z' | 'X' | 'x') | None)
}

/// Sends `signal` to `pid`; a process already gone is no error.
pub(crate) fn signal(pid: Pid, signal: Signal) -> std::io::Result<()> {
    match kill_process(pid, signal) {
        Ok(()) | Err(rustix::io::Errno::SRCH) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Waits until `pid` is no longer a live `program`; false when `timeout` passed
/// first.
pub(crate) async fn wait_gone(pid: Pid, program: &str, timeout: Duration) -> bool {
    let end = Instant::now() + timeout;
    loop {
        if !is_running(pid, program) {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Stops `program` at `pid`: each signal in turn, waiting as long as it says for
/// the process to exit, then SIGKILL. Returns once it is gone.
pub(crate) async fn stop(
    pid: Pid,
    program: &str,
    steps: &[(Signal, Duration)],
) -> std::io::Result<()> {
    let last = [(Signal::KILL, Duration::from_secs(5))];
    for &(sig, wait) in steps.iter().chain(&last) {
        signal(pid, sig)?;
        if wait_gone(pid, program, wait).await {
            return Ok(());
        }
        tracing::warn!(
            pid = pid.as_raw_nonzero().get(),
            ?sig,
            program,
            "still running"
        );
    }
    Err(std::io::Error::other(format!(
        "{program} {} did not exit",
        pid.as_raw_nonzero()
    )))
}
