//! One HAProxy per load balancer of the bundle in force: its files, the check of a
//! configuration, and start, reload and stop.
//!
//! The configuration HAProxy runs is `bundle/<lb>/haproxy.cfg` of the state directory
//! (see the `bundle` module); its runtime files are in the load balancer's own
//! directory `<lb>/`, which HAProxy knows as `${KRATER_LB_DIR}`
//! ([`krater_render::LB_DIR_VAR`]), set by the agent for `haproxy -c` and for the
//! HAProxy it starts:
//!
//! | file in `<lb>/` | what |
//! |---|---|
//! | `haproxy.pid` | pid of the master (`-p`) |
//! | `haproxy.sock` | the stats socket (admin, `expose-fd listeners`), from the config |
//! | `servers-state` | `show servers state`, saved before a reload, read on start; pruned of servers whose check address or port changed |
//! | `haproxy.log` | what the last start printed |
//!
//! HAProxy runs in master-worker mode and daemonizes itself (`-W -D`): the starting
//! process forks the master into a new session and exits, with a failure status when
//! the listeners cannot be bound, so the master survives the agent. The agent
//! supervises it: a master that died while its pid file says it should run is
//! started again ([`Haproxy::revive`]). A reload is
//! SIGUSR2 to the master, which re-executes itself on the same file (through the
//! bundle link, the file of the bundle in force) and hands the listening sockets to
//! the new workers (`expose-fd listeners`); the old workers finish their connections.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::Duration;

use krater_agent_api::layout;
use rustix::process::Signal;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use crate::cmd::Cmd;
use crate::error::{ApiError, ApiResult};
use crate::process;
use crate::server_state;

/// HAProxy's program name, by which its master is recognised.
pub(crate) const HAPROXY: &str = "haproxy";
/// How long a stopping HAProxy may take to finish its connections before it is
/// stopped hard.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// Longest exchange on the stats socket.
const SOCKET_TIMEOUT: Duration = Duration::from_secs(5);
/// What HAProxy reads when there is no saved state yet: the format version alone.
const EMPTY_SERVER_STATE: &str = "1\n";

/// The files of one load balancer.
pub(crate) struct LbFiles {
    /// The runtime directory, `${KRATER_LB_DIR}`.
    dir: PathBuf,
    /// `haproxy.cfg` of the bundle in force.
    config: PathBuf,
}

impl LbFiles {
    /// `lb_id` must be a canonical UUID (see [`krater_agent_api::parse_id`]).
    pub(crate) fn new(state_dir: &Path, lb_id: &str) -> Self {
        Self {
            dir: state_dir.join(lb_id),
            config: state_dir
                .join(layout::BUNDLE)
                .join(lb_id)
                .join(layout::HAPROXY_CONFIG),
        }
    }

    pub(crate) fn config(&self) -> &Path {
        &self.config
    }

    pub(crate) fn pid_file(&self) -> PathBuf {
        self.dir.join(layout::HAPROXY_PID)
    }

    pub(crate) fn stats_socket(&self) -> PathBuf {
        self.dir.join(krater_render::STATS_SOCKET)
    }

    fn server_state(&self) -> PathBuf {
        self.dir.join(krater_render::SERVER_STATE)
    }

    fn log(&self) -> PathBuf {
        self.dir.join("haproxy.log")
    }
}

/// Runs HAProxy on behalf of the handlers.
pub(crate) struct Haproxy {
    pub(crate) haproxy_cmd: PathBuf,
    pub(crate) lb_netns: String,
    pub(crate) state_dir: PathBuf,
}

impl Haproxy {
    pub(crate) fn files(&self, lb_id: &str) -> LbFiles {
        LbFiles::new(&self.state_dir, lb_id)
    }

    /// `haproxy -c` of the configuration in `config` for load balancer `lb_id`: `None`
    /// when it passes, else what HAProxy said.
    pub(crate) async fn check(&self, lb_id: &str, config: &Path) -> ApiResult<Option<String>> {
        let check = Cmd::new(&self.haproxy_cmd)
            .env(krater_render::LB_DIR_VAR, self.files(lb_id).dir)
            .arg("-c")
            .arg("-f")
            .arg(config)
            .output()
            .await?;
        if check.status.success() {
            return Ok(None);
        }
        let mut output = String::from_utf8_lossy(&check.stdout).into_owned();
        output.push_str(&String::from_utf8_lossy(&check.stderr));
        Ok(Some(output))
    }

    /// The configuration in force, if any.
    pub(crate) fn config(&self, lb_id: &str) -> ApiResult<Option<Vec<u8>>> {
        let files = self.files(lb_id);
        match std::fs::read(files.config()) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(file_error(files.config(), e)),
        }
    }

    /// Starts HAProxy in the load-balancing namespace; nothing to do when it runs.
    /// Returns what happened, for the answer's details.
    pub(crate) async fn start(&self, lb_id: &str) -> ApiResult<&'static str> {
        let files = self.require_config(lb_id)?;
        if process::running(&files.pid_file(), HAPROXY).is_some() {
            return Ok("haproxy is already running");
        }
        self.spawn(&files).await?;
        Ok("haproxy started")
    }

    /// Reloads the running HAProxy on its stored configuration, saving the servers'
    /// state first; starts it when it is not running.
    pub(crate) async fn reload(&self, lb_id: &str) -> ApiResult<&'static str> {
        let files = self.require_config(lb_id)?;
        let Some(pid) = process::running(&files.pid_file(), HAPROXY) else {
            self.spawn(&files).await?;
            return Ok("haproxy started");
        };
        save_server_state(&files).await;
        process::signal(pid, Signal::USR2)
            .map_err(|e| ApiError::internal("Error reloading haproxy", e.to_string()))?;
        Ok("haproxy reloaded")
    }

    /// Stops HAProxy, gracefully first; nothing to do when it is not running.
    pub(crate) async fn stop(&self, lb_id: &str) -> ApiResult<&'static str> {
        let files = self.require_config(lb_id)?;
        self.stop_files(&files).await
    }

    /// Stops HAProxy and removes the load balancer's runtime directory; nothing to do
    /// for an unknown one.
    pub(crate) async fn remove(&self, lb_id: &str) -> ApiResult<()> {
        let files = self.files(lb_id);
        self.stop_files(&files).await?;
        match std::fs::remove_dir_all(&files.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(file_error(&files.dir, e)),
        }
    }

    /// Starts again the HAProxy of every load balancer of the bundle in force that
    /// should run but does not: its pid file is there (HAProxy writes it when it
    /// starts; a stop removes it) but names no live master, as when HAProxy crashed or
    /// was killed. Octavia leaves this to systemd in the amphora. Returns the load
    /// balancers started.
    pub(crate) async fn revive(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.state_dir.join(layout::BUNDLE)) else {
            return Vec::new();
        };
        let mut started = Vec::new();
        for lb_id in entries
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
        {
            if krater_agent_api::parse_id("load balancer id", &lb_id).is_err() {
                continue;
            }
            let files = self.files(&lb_id);
            let pid_file = files.pid_file();
            if !files.config().is_file()
                || !pid_file.exists()
                || process::running(&pid_file, HAPROXY).is_some()
            {
                continue;
            }
            tracing::warn!(lb_id, "haproxy is not running; starting it again");
            match self.spawn(&files).await {
                Ok(()) => started.push(lb_id),
                Err(err) => tracing::error!(lb_id, error = ?err, "cannot start haproxy again"),
            }
        }
        started
    }

    async fn stop_files(&self, files: &LbFiles) -> ApiResult<&'static str> {
        let Some(pid) = process::running(&files.pid_file(), HAPROXY) else {
            return Ok("haproxy is not running");
        };
        // A soft stop (listeners close, connections finish), then a hard one.
        let steps = [
            (Signal::USR1, STOP_GRACE),
            (Signal::TERM, Duration::from_secs(5)),
        ];
        process::stop(pid, HAPROXY, &steps)
            .await
            .map_err(|e| ApiError::internal("Error stopping haproxy", e.to_string()))?;
        let _ = std::fs::remove_file(files.pid_file());
        Ok("haproxy stopped")
    }

    fn require_config(&self, lb_id: &str) -> ApiResult<LbFiles> {
        let files = self.files(lb_id);
        if files.config().is_file() {
            Ok(files)
        } else {
            Err(ApiError::not_found("Loadbalancer Not Found"))
        }
    }

    /// `ip netns exec <lb_netns> haproxy -W -D -f <cfg> -p <pid>` with
    /// `KRATER_LB_DIR` set, waiting only for the starting process (the master
    /// daemonizes).
    async fn spawn(&self, files: &LbFiles) -> ApiResult<()> {
        create_dir(&files.dir)?;
        // A state saved before the configuration changed must not outlive it.
        let state = match std::fs::read_to_string(files.server_state()) {
            Ok(state) => state,
            Err(e) if e.kind() == ErrorKind::NotFound => EMPTY_SERVER_STATE.to_owned(),
            Err(e) => return Err(file_error(&files.server_state(), e)),
        };
        write_server_state(files, &state).map_err(|e| file_error(&files.server_state(), e))?;
        let cmd = Cmd::in_netns(&self.lb_netns, &self.haproxy_cmd)
            .env(krater_render::LB_DIR_VAR, &files.dir)
            .args(["-W", "-D", "-f"])
            .arg(files.config())
            .arg("-p")
            .arg(files.pid_file());
        tracing::info!(command = %cmd.display(), "starting haproxy");
        cmd.run_logged(&files.log())
            .await
            .map_err(|e| ApiError::internal("Error starting haproxy", e.detail))
    }
}

/// Saves `show servers state` into the server-state file, so that the new workers
/// of a reload start with the servers' current states and weights (those whose
/// health check changed start afresh). A failure is
/// logged and the previous file kept: the reload goes on.
async fn save_server_state(files: &LbFiles) {
    let socket = files.stats_socket();
    let state = match stats_command(&socket, "show servers state").await {
        Ok(state) if state.starts_with('1') => state,
        Ok(other) => {
            tracing::warn!(answer = %other.chars().take(200).collect::<String>(), "unexpected servers state");
            return;
        }
        Err(e) => {
            tracing::warn!(socket = %socket.display(), error = %e, "cannot read the servers state");
            return;
        }
    };
    if let Err(e) = write_server_state(files, &state) {
        let path = files.server_state();
        tracing::warn!(path = %path.display(), error = %e, "cannot save the servers state");
    }
}

/// Writes `state` as the server-state file, without the servers whose health-check
/// address or port the stored configuration no longer has ([`server_state::prune`]).
fn write_server_state(files: &LbFiles, state: &str) -> std::io::Result<()> {
    let config = std::fs::read_to_string(files.config())?;
    let path = files.server_state();
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, server_state::prune(state, &config))?;
    std::fs::rename(&tmp, &path)
}

/// Sends one command to HAProxy's stats socket and returns its whole answer (HAProxy
/// closes the connection after it), within [`SOCKET_TIMEOUT`].
pub(crate) async fn stats_command(socket: &Path, command: &str) -> std::io::Result<String> {
    let exchange = async {
        let mut stream = UnixStream::connect(socket).await?;
        stream.write_all(format!("{command}\n").as_bytes()).await?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await?;
        Ok(answer)
    };
    tokio::time::timeout(SOCKET_TIMEOUT, exchange)
        .await
        .map_err(|_| {
            std::io::Error::new(
                ErrorKind::TimedOut,
                format!("no answer within {SOCKET_TIMEOUT:?}"),
            )
        })?
}

pub(crate) fn create_dir(dir: &Path) -> ApiResult<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| file_error(dir, e))
}

pub(crate) fn file_error(path: &Path, e: std::io::Error) -> ApiError {
    ApiError::internal("Error handling a file", format!("{}: {e}", path.display()))
}
