//! keepalived in the load-balancing namespace (ACTIVE_STANDBY): started, reloaded and
//! stopped as the bundle says, started again when it dies, and the check it runs.
//!
//! keepalived runs `bundle/keepalived.conf` of the state directory in the foreground
//! of its own session (`setsid -f keepalived -n`), its output in
//! `keepalived/keepalived.log`, so it survives the agent as HAProxy does. Its two pid
//! files (`krater_agent_api::layout`) say it should run: a stop removes them, so a
//! keepalived that died with them in place (killed) is started again by
//! [`Keepalived::revive`]. A keepalived killed hard leaves the VIP on its interface;
//! the new one, starting as BACKUP, removes it.
//!
//! Its check, `<state>/vrrp-check` ([`krater_render::VRRP_CHECK`]), is a two-line
//! script that the agent writes when it starts: it runs `krater vrrp-check
//! <state_dir>` ([`vrrp_check`]), which asks every HAProxy of the bundle for `show
//! info` on its stats socket.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use krater_agent_api::layout;
use rustix::process::Signal;

use crate::cmd::Cmd;
use crate::error::{ApiError, ApiResult};
use crate::haproxy::{create_dir, file_error, stats_command, LbFiles};
use crate::process;

/// keepalived's program name, by which its processes are recognised.
const KEEPALIVED: &str = "keepalived";
/// How long keepalived may take to write its pid file after it was started.
const START_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a stopping keepalived may take to hand the VIP over and exit.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Runs keepalived on behalf of the handlers.
pub(crate) struct Keepalived {
    pub(crate) lb_netns: String,
    pub(crate) state_dir: PathBuf,
}

impl Keepalived {
    fn dir(&self) -> PathBuf {
        self.state_dir.join(layout::KEEPALIVED_DIR)
    }

    fn pid_file(&self) -> PathBuf {
        self.dir().join(layout::KEEPALIVED_PID)
    }

    fn vrrp_pid_file(&self) -> PathBuf {
        self.dir().join(layout::VRRP_PID)
    }

    /// The configuration in force, read through the bundle link.
    fn config(&self) -> PathBuf {
        self.state_dir
            .join(layout::BUNDLE)
            .join(layout::KEEPALIVED_CONFIG)
    }

    fn running(&self) -> bool {
        process::running(&self.pid_file(), KEEPALIVED).is_some()
    }

    /// Starts keepalived on the configuration in force; nothing to do when it runs.
    pub(crate) async fn start(&self) -> ApiResult<&'static str> {
        if self.running() {
            return Ok("keepalived is already running");
        }
        let dir = self.dir();
        create_dir(&dir)?;
        // What a killed keepalived left: its VRRP process, which would go on
        // advertising, and pid files, which make a new one believe it runs already.
        self.kill_vrrp_process();
        for file in [self.pid_file(), self.vrrp_pid_file()] {
            remove_file(&file)?;
        }
        let cmd = Cmd::in_netns(&self.lb_netns, "setsid")
            .args(["-f", KEEPALIVED, "-n", "-l", "-D", "-G", "--vrrp"])
            .arg("-f")
            .arg(self.config())
            .arg("-p")
            .arg(self.pid_file())
            .arg("-r")
            .arg(self.vrrp_pid_file());
        tracing::info!(command = %cmd.display(), "starting keepalived");
        let log = dir.join("keepalived.log");
        cmd.run_logged(&log)
            .await
            .map_err(|e| ApiError::internal("Error starting keepalived", e.detail))?;
        let end = Instant::now() + START_TIMEOUT;
        while !self.running() {
            if Instant::now() >= end {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                return Err(ApiError::internal(
                    "Error starting keepalived",
                    format!("no keepalived runs: {}", text.trim()),
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok("keepalived started")
    }

    /// Makes keepalived read the configuration in force again (SIGHUP); starts it
    /// when it is not running.
    pub(crate) async fn reload(&self) -> ApiResult<&'static str> {
        let Some(pid) = process::running(&self.pid_file(), KEEPALIVED) else {
            return self.start().await;
        };
        process::signal(pid, Signal::HUP)
            .map_err(|e| ApiError::internal("Error reloading keepalived", e.to_string()))?;
        Ok("keepalived reloaded")
    }

    /// Stops keepalived: SIGTERM makes it send a last advertisement of priority 0,
    /// which hands the VIP to the peer at once, and remove the VIP. Nothing to do
    /// when it is not running.
    pub(crate) async fn stop(&self) -> ApiResult<&'static str> {
        let stopped = match process::running(&self.pid_file(), KEEPALIVED) {
            Some(pid) => {
                process::stop(pid, KEEPALIVED, &[(Signal::TERM, STOP_GRACE)])
                    .await
                    .map_err(|e| ApiError::internal("Error stopping keepalived", e.to_string()))?;
                "keepalived stopped"
            }
            None => "keepalived is not running",
        };
        self.kill_vrrp_process();
        for file in [self.pid_file(), self.vrrp_pid_file()] {
            remove_file(&file)?;
        }
        Ok(stopped)
    }

    /// Stops keepalived without letting it give the VIP up: its parent and VRRP
    /// processes are frozen (SIGSTOP) before either is killed (SIGKILL), so neither
    /// sends the priority-0 advertisement and removes the VIP that a stop would (a
    /// VRRP process told of its parent's death would). The amphora goes on serving
    /// the VIP until its peer, missing the advertisements, takes the VIP over; the
    /// controller removes the amphora then. Nothing to do when it is not running.
    pub(crate) async fn abandon(&self) -> ApiResult<&'static str> {
        let pids: Vec<_> = [self.vrrp_pid_file(), self.pid_file()]
            .iter()
            .filter_map(|file| process::running(file, KEEPALIVED))
            .collect();
        let fail =
            |e: std::io::Error| ApiError::internal("Error stopping keepalived", e.to_string());
        for signal in [Signal::STOP, Signal::KILL] {
            for pid in &pids {
                process::signal(*pid, signal).map_err(fail)?;
            }
        }
        for pid in &pids {
            if !process::wait_gone(*pid, KEEPALIVED, STOP_GRACE).await {
                return Err(fail(std::io::Error::other(format!(
                    "keepalived {} did not exit",
                    pid.as_raw_nonzero()
                ))));
            }
        }
        for file in [self.pid_file(), self.vrrp_pid_file()] {
            remove_file(&file)?;
        }
        Ok(if pids.is_empty() {
            "keepalived is not running"
        } else {
            "keepalived stopped; the VIP stays"
        })
    }

    /// Starts keepalived again when it should run (its pid file is there and the
    /// bundle has its configuration) but does not. Returns whether it did.
    pub(crate) async fn revive(&self) -> bool {
        if !self.pid_file().exists() || !self.config().is_file() || self.running() {
            return false;
        }
        tracing::warn!("keepalived is not running; starting it again");
        match self.start().await {
            Ok(_) => true,
            Err(err) => {
                tracing::error!(error = ?err, "cannot start keepalived again");
                false
            }
        }
    }

    /// Kills the VRRP process that a keepalived killed hard may leave behind.
    fn kill_vrrp_process(&self) {
        if let Some(pid) = process::running(&self.vrrp_pid_file(), KEEPALIVED) {
            let _ = process::signal(pid, Signal::KILL);
        }
    }
}

/// Writes `<state_dir>/vrrp-check`, the program keepalived runs as its check: it
/// runs `<krater_cmd> vrrp-check <state_dir>`. Root's only, as keepalived's script
/// security wants.
pub(crate) fn write_check_script(state_dir: &Path, krater_cmd: &Path) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt;
    let path = state_dir.join(krater_render::VRRP_CHECK);
    let tmp = path.with_extension("new");
    let _ = std::fs::remove_file(&tmp);
    let text = format!(
        "#!/bin/sh\nexec {} vrrp-check {}\n",
        shell_quote(&krater_cmd.to_string_lossy()),
        shell_quote(&state_dir.to_string_lossy())
    );
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o700)
        .open(&tmp)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))
}

/// `text` as one word of a POSIX shell: in single quotes, each `'` written `'\''`.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// keepalived's check: every HAProxy of the bundle in force in `state_dir` answers
/// `show info` on its stats socket. Fails when one does not, or when the bundle has
/// neither a HAProxy nor a UDP listener (an amphora with nothing to serve must not
/// hold the VIP; UDP listeners are served by the kernel, whose ruleset stays loaded).
pub async fn vrrp_check(state_dir: &Path) -> anyhow::Result<()> {
    let bundle = state_dir.join(layout::BUNDLE);
    let entries = std::fs::read_dir(&bundle)
        .map_err(|e| anyhow::anyhow!("no bundle in force ({}): {e}", bundle.display()))?;
    let mut served = 0;
    for lb_id in entries
        .flatten()
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| krater_agent_api::parse_id("load balancer id", name).is_ok())
    {
        let socket = LbFiles::new(state_dir, &lb_id).stats_socket();
        let answer = stats_command(&socket, "show info")
            .await
            .map_err(|e| anyhow::anyhow!("haproxy of load balancer {lb_id}: {e}"))?;
        if !answer.contains("Name: HAProxy") {
            anyhow::bail!("haproxy of load balancer {lb_id} answered {answer:?}");
        }
        served += 1;
    }
    if served == 0 && !serves_udp(&bundle) {
        anyhow::bail!("the bundle in force runs no HAProxy and no UDP listener");
    }
    Ok(())
}

/// Whether the bundle in `bundle_dir` has UDP listeners and their table is loaded
/// (the check runs in the load-balancing namespace, as keepalived does).
fn serves_udp(bundle_dir: &Path) -> bool {
    let has_udp = std::fs::read(bundle_dir.join(crate::bundle::BUNDLE_JSON))
        .ok()
        .and_then(|json| serde_json::from_slice::<krater_agent_api::AmphoraBundle>(&json).ok())
        .is_some_and(|b| !b.nat_listeners.is_empty());
    has_udp
        && std::process::Command::new("nft")
            .args(["list", "table"])
            .args(krater_render::DNAT_TABLE.split(' '))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

fn remove_file(path: &Path) -> ApiResult<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(file_error(path, e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_one_shell_word() {
        assert_eq!(shell_quote("/run/krater/ab"), "'/run/krater/ab'");
        assert_eq!(shell_quote("/tmp/it's"), r"'/tmp/it'\''s'");
    }

    #[tokio::test]
    async fn the_check_fails_without_a_haproxy_to_ask() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(vrrp_check(dir.path()).await.is_err(), "no bundle");
        let lb = "a8e0755b-05b5-4756-bc5e-6fbbd63bc465";
        std::fs::create_dir_all(dir.path().join("bundles/v1").join(lb)).expect("mkdir");
        std::os::unix::fs::symlink("bundles/v1", dir.path().join(layout::BUNDLE)).expect("link");
        let err = vrrp_check(dir.path()).await.expect_err("no socket");
        assert!(err.to_string().contains(lb), "{err}");
    }
}
