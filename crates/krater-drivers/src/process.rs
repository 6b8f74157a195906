//! The processes of an amphora (its agent, HAProxy masters and keepalived), found through the pid
//! files they wrote in the amphora's directory (`krater_agent_api::layout`). A pid is
//! killed only while `/proc/<pid>/cmdline` still shows the program that wrote it, run
//! on this amphora's files: a reused pid, or any other process that merely mentions
//! the path, is left alone.

use krater_agent_api::layout;
use std::path::{Path, PathBuf};

/// A process krater started: its pid file and the arguments its command line holds.
struct Recorded {
    pid_file: PathBuf,
    /// Consecutive arguments the process was started with.
    args: Vec<String>,
}

impl Recorded {
    /// The agent of the amphora whose directory is `dir`.
    fn agent(dir: &Path) -> Self {
        Self {
            pid_file: dir.join(layout::AGENT_PID),
            args: vec![
                "amphora-agent".into(),
                "--agent-config".into(),
                dir.join(layout::AGENT_CONFIG).display().to_string(),
            ],
        }
    }

    /// The HAProxy master of load balancer `lb_id` of the amphora whose directory is
    /// `dir`.
    fn haproxy(dir: &Path, lb_id: &std::ffi::OsStr) -> Self {
        let config = dir.join(layout::BUNDLE).join(lb_id);
        Self {
            pid_file: dir.join(lb_id).join(layout::HAPROXY_PID),
            args: vec![
                "-f".into(),
                config.join(layout::HAPROXY_CONFIG).display().to_string(),
            ],
        }
    }

    /// keepalived's process recorded in `pid_file` (of its runtime directory) of the
    /// amphora whose directory is `dir`: its parent or its VRRP process.
    fn keepalived(dir: &Path, pid_file: &str) -> Self {
        let config = dir.join(layout::BUNDLE).join(layout::KEEPALIVED_CONFIG);
        Self {
            pid_file: dir.join(layout::KEEPALIVED_DIR).join(pid_file),
            args: vec!["-f".into(), config.display().to_string()],
        }
    }

    /// The pid in the pid file, when that process still runs with these arguments.
    fn live_pid(&self) -> Option<u32> {
        let text = std::fs::read_to_string(&self.pid_file).ok()?;
        let pid: u32 = text.lines().next()?.trim().parse().ok()?;
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let argv: Vec<String> = cmdline
            .split(|&b| b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        argv.windows(self.args.len())
            .any(|w| w == self.args.as_slice())
            .then_some(pid)
    }
}

/// The pid of the running agent of the amphora whose directory is `dir`.
pub fn agent_pid(dir: &Path) -> Option<u32> {
    Recorded::agent(dir).live_pid()
}

/// Kills (SIGKILL) the agent of the amphora whose directory is `dir`, then the
/// HAProxy master of each of its load balancers and keepalived: the agent first, so
/// that it cannot start them again. Returns the pids killed.
pub fn kill_amphora_processes(dir: &Path) -> Vec<u32> {
    let mut recorded = vec![
        Recorded::agent(dir),
        Recorded::keepalived(dir, layout::KEEPALIVED_PID),
        Recorded::keepalived(dir, layout::VRRP_PID),
    ];
    if let Ok(entries) = std::fs::read_dir(dir) {
        recorded.extend(
            entries
                .flatten()
                .filter(|e| e.path().is_dir())
                .map(|e| Recorded::haproxy(dir, &e.file_name())),
        );
    }
    let mut killed = Vec::new();
    for process in recorded {
        if let Some(pid) = process.live_pid() {
            // A process that exited in between is no error.
            let _ = crate::ip::run("kill", &["-9", &pid.to_string()]);
            killed.push(pid);
        }
    }
    killed
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Waits (bounded) until process `pid` runs bash, i.e. has exec'd.
    fn wait_for_exec(pid: u32) {
        for _ in 0..500 {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if cmdline.starts_with(b"bash\0") {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("process {pid} never started bash");
    }

    #[test]
    fn only_a_process_running_the_recorded_command_is_killed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join(layout::AGENT_CONFIG);
        // Mentions the path, but is not started as the agent.
        // Both wait in bash's own `read` on a pipe the test holds: no child process
        // outlives them.
        let blocked = |args: &[&str]| {
            std::process::Command::new("bash")
                .args(["-c", "read -r -t 600 _"])
                .args(args)
                .arg(&config)
                .stdin(std::process::Stdio::piped())
                .spawn()
                .expect("spawn")
        };
        let mut decoy = blocked(&["decoy"]);
        let mut agent = blocked(&["amphora-agent", "--agent-config"]);
        // Right after the fork a child still shows the test's command line.
        for child in [&decoy, &agent] {
            wait_for_exec(child.id());
        }
        let record = |pid: u32| {
            std::fs::write(dir.path().join(layout::AGENT_PID), format!("{pid}\n")).expect("write")
        };
        record(decoy.id());
        assert_eq!(kill_amphora_processes(dir.path()), Vec::<u32>::new());
        assert!(decoy.try_wait().expect("wait").is_none(), "the decoy runs");
        record(agent.id());
        assert_eq!(kill_amphora_processes(dir.path()), vec![agent.id()]);
        assert!(agent.wait().expect("wait").code().is_none(), "killed");
        decoy.kill().expect("kill");
        decoy.wait().expect("wait");
    }
}
