//! The amphora agent: serves the agent API (`krater_agent_api`) over mutual TLS inside
//! an amphora, checks and swaps in the amphora's bundle (every load balancer's HAProxy
//! configuration, keepalived, nftables, certificates) and reloads what changed, runs
//! each HAProxy in the load-balancing namespace, and plugs interfaces into it. Where
//! its files are is its own business: rendered configurations name them through
//! `${KRATER_LB_DIR}`, which the agent sets.
//!
//! The agent runs in the amphora's management namespace (`amp-<id>`); tenant traffic
//! is served from the load-balancing namespace (`amp-<id>-lb`), which the agent
//! reaches with `ip -n` and `ip netns exec` (DESIGN §5). HAProxy daemonizes itself,
//! so the data plane keeps serving when the agent stops; a new agent finds it again
//! through its pid file.
//!
//! The agent supervises its HAProxy processes and keepalived: one that dies is started
//! again within a second or so (a HAProxy is left out of the heartbeats meanwhile: its
//! listeners go ERROR).
//!
//! UDP listeners are served by nftables, with the agent's own health checks of their
//! members (the `nat` module).
//!
//! Every heartbeat interval the agent sends each health manager a signed Octavia v3
//! heartbeat with the statuses and counters of the HAProxy processes it runs, the
//! statuses of its UDP listeners, and the version of its bundle.

mod bundle;
mod cmd;
mod config;
mod error;
mod haproxy;
mod heartbeat;
mod info;
mod keepalived;
mod nat;
mod plug;
mod process;
mod routes;
mod server;
mod server_state;
mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
pub use keepalived::vrrp_check;
use tokio::net::TcpListener;

/// Longest path of a Unix socket (`sun_path` less its terminating NUL).
const MAX_SOCKET_PATH: usize = 107;
/// How often the agent looks for a HAProxy that died.
const SUPERVISE_INTERVAL: Duration = Duration::from_secs(1);

/// What an agent needs to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentConfig {
    /// The amphora's id; its server certificate names it.
    pub amphora_id: String,
    /// Address and port to listen on (Octavia: `[::]:9443`).
    pub listen: SocketAddr,
    /// The amphora's server certificate (PEM).
    pub server_cert_pem_path: PathBuf,
    /// The key of the server certificate (PEM).
    pub server_key_pem_path: PathBuf,
    /// The CA that signs the controller's client certificates (PEM); no other client
    /// completes the TLS handshake.
    pub client_ca_pem_path: PathBuf,
    /// The load-balancing namespace, e.g. `amp-<short id>-lb`; it must exist.
    pub lb_netns: String,
    /// Holds the bundles and one runtime directory per load balancer; short enough
    /// for the path of a stats socket below it (at most 107 bytes).
    pub state_dir: PathBuf,
    /// The HAProxy binary, e.g. `/usr/sbin/haproxy`.
    pub haproxy_cmd: PathBuf,
    /// The `krater` binary: keepalived's check runs `krater vrrp-check`.
    pub krater_cmd: PathBuf,
    /// Namespace in which the interfaces to plug appear; `None` (in an amphora): the
    /// agent's own. Tests name one so that they never touch the host's interfaces.
    pub interfaces_netns: Option<String>,
    /// Health managers to send heartbeats to (each beat goes to every one); none:
    /// no heartbeats.
    pub heartbeat_targets: Vec<SocketAddr>,
    /// Time between two heartbeats; not zero.
    pub heartbeat_interval: Duration,
    /// File holding the HMAC key of heartbeats (its text, without surrounding
    /// whitespace); read when the agent starts.
    pub heartbeat_key_file: PathBuf,
}

impl AgentConfig {
    fn validate(&self) -> anyhow::Result<()> {
        krater_agent_api::parse_id("amphora id", &self.amphora_id)?;
        check_netns_name(&self.lb_netns)?;
        if let Some(ns) = &self.interfaces_netns {
            check_netns_name(ns)?;
        }
        if !self.state_dir.is_absolute() {
            bail!("state_dir {} is not absolute", self.state_dir.display());
        }
        // `<state_dir>/<lb id>/haproxy.sock`
        let socket_len =
            self.state_dir.as_os_str().len() + 2 + 36 + krater_render::STATS_SOCKET.len();
        if socket_len > MAX_SOCKET_PATH {
            bail!(
                "state_dir {} is too long for the stats sockets below it",
                self.state_dir.display()
            );
        }
        if self.heartbeat_interval.is_zero() {
            bail!("heartbeat_interval must not be zero");
        }
        Ok(())
    }
}

/// Binds `config.listen` and serves the agent API, sending heartbeats, until an error
/// stops it. The agent process: it records its pid in the state directory
/// ([`krater_agent_api::layout::AGENT_PID`]), by which `krater cleanup` finds it.
pub async fn run(config: AgentConfig) -> anyhow::Result<()> {
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    create_state_dir(&config)?;
    let pid_file = config.state_dir.join(krater_agent_api::layout::AGENT_PID);
    std::fs::write(&pid_file, format!("{}\n", std::process::id()))
        .with_context(|| format!("cannot write {}", pid_file.display()))?;
    serve(config, listener).await
}

/// Creates the state directory (root's only) when missing.
fn create_state_dir(config: &AgentConfig) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&config.state_dir)
        .with_context(|| format!("cannot create {}", config.state_dir.display()))
}

/// Serves the agent API on an already bound listener (`config.listen` is not used),
/// until an error stops it, and sends heartbeats (see the `heartbeat` module) while it
/// serves. Fails at once when the configuration, the certificates or the heartbeat
/// key are unusable.
pub async fn serve(config: AgentConfig, listener: TcpListener) -> anyhow::Result<()> {
    config.validate()?;
    let tls = Arc::new(tls::Tls::load(
        config.server_cert_pem_path.clone(),
        config.server_key_pem_path.clone(),
        &config.client_ca_pem_path,
    )?);
    let heartbeat_key = config::read_heartbeat_key(&config.heartbeat_key_file)?;
    create_state_dir(&config)?;
    keepalived::write_check_script(&config.state_dir, &config.krater_cmd)?;
    let agent = Arc::new(routes::Agent {
        haproxy: haproxy::Haproxy {
            haproxy_cmd: config.haproxy_cmd.clone(),
            lb_netns: config.lb_netns.clone(),
            state_dir: config.state_dir.clone(),
        },
        keepalived: keepalived::Keepalived {
            lb_netns: config.lb_netns.clone(),
            state_dir: config.state_dir.clone(),
        },
        plugger: plug::Plugger {
            interfaces_netns: config.interfaces_netns.clone(),
            lb_netns: config.lb_netns.clone(),
        },
        nat: nat::Nat::start(config.lb_netns.clone(), config.state_dir.clone()),
        tls: tls.clone(),
        lock: tokio::sync::Mutex::new(()),
    });
    // The UDP listeners of the bundle in force (from an agent that ran before): their
    // ruleset is still loaded; their health checks start again.
    match bundle::Bundles::new(&agent).current() {
        Ok(Some((_, bundle))) if !bundle.nat_listeners.is_empty() => {
            if let Err(err) = agent.nat.set(&bundle.nat_listeners).await {
                tracing::error!(error = ?err, "cannot serve the UDP listeners of the bundle in force");
            }
        }
        Ok(_) => {}
        Err(err) => tracing::error!(error = ?err, "cannot read the bundle in force"),
    }
    let heartbeats = tokio::spawn(heartbeat::send_forever(heartbeat::Sender::new(
        &config,
        heartbeat_key,
        agent.nat.clone(),
    )));
    let supervisor = tokio::spawn(supervise_forever(agent.clone()));
    // Heartbeats and supervision stop with the agent (also when this future is
    // dropped).
    let _background = (AbortOnDrop(heartbeats), AbortOnDrop(supervisor));
    let addr = listener.local_addr()?;
    tracing::info!(amphora_id = %config.amphora_id, %addr, lb_netns = %config.lb_netns, "amphora agent listening");
    server::accept_loop(listener, tls, routes::router(agent))
        .await
        .context("accept loop")
}

/// Every [`SUPERVISE_INTERVAL`], under the agent's lock, starts again each HAProxy,
/// and keepalived, that died while it should run, and loads again a UDP listeners'
/// ruleset whose load failed.
async fn supervise_forever(agent: Arc<routes::Agent>) {
    let mut ticks = tokio::time::interval(SUPERVISE_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let _guard = agent.lock.lock().await;
        agent.haproxy.revive().await;
        agent.keepalived.revive().await;
        agent.nat.revive().await;
    }
}

/// Aborts a background task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A namespace name is a file name under `/run/netns`.
fn check_netns_name(name: &str) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with(['-', '.'])
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !ok {
        bail!("invalid namespace name {name:?}");
    }
    Ok(())
}
