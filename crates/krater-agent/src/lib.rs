//! The amphora agent: serves the agent API (`krater_agent_api`) over mutual TLS inside
//! an amphora, keeps and checks each load balancer's HAProxy configuration, runs that
//! HAProxy in the load-balancing namespace, and plugs interfaces into it.
//!
//! The agent runs in the amphora's management namespace (`amp-<id>`); tenant traffic
//! is served from the load-balancing namespace (`amp-<id>-lb`), which the agent
//! reaches with `ip -n` and `ip netns exec` (DESIGN §5). HAProxy daemonizes itself,
//! so the data plane keeps serving when the agent stops; a new agent finds it again
//! through its pid file.

mod cmd;
mod config;
mod error;
mod haproxy;
mod heartbeat;
mod info;
mod plug;
mod process;
mod routes;
mod server;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context as _};
use tokio::net::TcpListener;

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
    /// Holds one directory per load balancer; must be the `base_dir` the controller
    /// renders configurations with (`RenderOptions::base_dir`), as they name their
    /// stats socket and server-state file there.
    pub state_dir: PathBuf,
    /// The HAProxy binary, e.g. `/usr/sbin/haproxy`.
    pub haproxy_cmd: PathBuf,
    /// Namespace in which the interfaces to plug appear; `None` (in an amphora): the
    /// agent's own. Tests name one so that they never touch the host's interfaces.
    pub interfaces_netns: Option<String>,
    /// Health managers to send heartbeats to (each beat goes to every one).
    pub heartbeat_targets: Vec<SocketAddr>,
    pub heartbeat_interval: std::time::Duration,
    /// The HMAC key of heartbeats (the file's text, trimmed).
    pub heartbeat_key: String,
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
        Ok(())
    }
}

/// Binds `config.listen` and serves the agent API until an error stops it.
pub async fn run(config: AgentConfig) -> anyhow::Result<()> {
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    serve(config, listener).await
}

/// Serves the agent API on an already bound listener (`config.listen` is not used),
/// until an error stops it. Fails at once when the configuration or the
/// certificates are unusable.
pub async fn serve(config: AgentConfig, listener: TcpListener) -> anyhow::Result<()> {
    config.validate()?;
    let tls = tls_config(&config)?;
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&config.state_dir)
            .with_context(|| format!("cannot create {}", config.state_dir.display()))?;
    }
    let agent = Arc::new(routes::Agent {
        haproxy: haproxy::Haproxy {
            haproxy_cmd: config.haproxy_cmd.clone(),
            lb_netns: config.lb_netns.clone(),
            state_dir: config.state_dir.clone(),
        },
        plugger: plug::Plugger {
            interfaces_netns: config.interfaces_netns.clone(),
            lb_netns: config.lb_netns.clone(),
        },
        lock: tokio::sync::Mutex::new(()),
    });
    tokio::spawn(heartbeat::send_forever(heartbeat::Sender::new(&config)));
    let addr = listener.local_addr()?;
    tracing::info!(amphora_id = %config.amphora_id, %addr, lb_netns = %config.lb_netns, "amphora agent listening");
    server::accept_loop(listener, tls, routes::router(agent))
        .await
        .context("accept loop")
}

/// The server's TLS configuration: its certificate, and client certificates
/// required, signed by the client CA.
fn tls_config(config: &AgentConfig) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let read = |path: &PathBuf| {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
    };
    let cert = read(&config.server_cert_pem_path)?;
    let key = read(&config.server_key_pem_path)?;
    let ca = read(&config.client_ca_pem_path)?;
    krater_certs::server_config(&cert, &key, &ca).context("TLS configuration")
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
