//! The `netns` compute driver: an amphora is a pair of network namespaces on this host.
//!
//! `amp-<hash>` holds the agent and its management interface `eth0` (a veth whose other
//! end is on the management bridge); `amp-<hash>-lb` holds the load-balancing side
//! (VIP and member interfaces, HAProxy), as Octavia keeps its `amphora-haproxy`
//! namespace. The agent is started detached (`setsid -f`), so amphorae keep serving
//! when every control-plane process is down. Every namespace made is recorded under
//! `<state_root>/netns/` so that `krater cleanup` can remove what a killed run left.

use crate::ip::{self, ip, short_hash};
use crate::{ComputeDriver, ComputeInstance, DriverError, DriverResult, Subnet};
use async_trait::async_trait;
use krater_domain::{Amphora, Port, Timestamp};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Names of an amphora's namespaces and host-side management link.
#[derive(Debug, Clone, PartialEq)]
pub struct AmphoraNames {
    /// The agent's namespace.
    pub agent_ns: String,
    /// The load-balancing namespace.
    pub lb_ns: String,
    /// Host end of the management veth.
    pub mgmt_link: String,
}

impl AmphoraNames {
    pub fn of(amphora_id: &str) -> Self {
        let h = short_hash(amphora_id);
        Self {
            agent_ns: format!("amp-{h}"),
            lb_ns: format!("amp-{h}-lb"),
            mgmt_link: format!("km{h}"),
        }
    }
}

/// The certificate an amphora's agent serves, and the CA its clients must chain to.
#[derive(Debug, Clone)]
pub struct AmphoraCertificate {
    pub cert_pem: String,
    pub key_pem: String,
    /// The CA that signed the controller's client certificate.
    pub client_ca_pem: String,
    pub expires_at: Timestamp,
}

/// Issues agent certificates (krater's CA).
pub trait CertificateIssuer: Send + Sync {
    fn amphora_certificate(&self, amphora_id: &str) -> DriverResult<AmphoraCertificate>;
}

/// What the agents need to know about the control plane.
#[derive(Debug, Clone)]
pub struct AgentSettings {
    /// The `krater` binary that runs `amphora-agent`.
    pub binary: PathBuf,
    pub port: u16,
    pub haproxy_cmd: PathBuf,
    /// Heartbeat destinations (`ip:port`).
    pub heartbeat_targets: Vec<String>,
    pub heartbeat_interval_secs: u64,
    pub heartbeat_key_file: PathBuf,
}

/// Boots amphorae as network namespaces.
pub struct NetnsCompute {
    /// `<state_root>/<amphora_id>/` holds an amphora's files.
    state_root: PathBuf,
    mgmt_bridge: String,
    mgmt_subnet: Subnet,
    agent: AgentSettings,
    certificates: Arc<dyn CertificateIssuer>,
}

impl NetnsCompute {
    pub fn new(
        state_root: PathBuf,
        mgmt_bridge: String,
        mgmt_subnet: Subnet,
        agent: AgentSettings,
        certificates: Arc<dyn CertificateIssuer>,
    ) -> Self {
        Self {
            state_root,
            mgmt_bridge,
            mgmt_subnet,
            agent,
            certificates,
        }
    }

    fn amphora_dir(&self, amphora_id: &str) -> PathBuf {
        amphora_dir(&self.state_root, amphora_id)
    }

    fn write(path: &Path, text: &str) -> DriverResult<()> {
        std::fs::write(path, text)
            .map_err(|e| DriverError(format!("cannot write {}: {e}", path.display())))
    }

    /// Writes the agent's certificate and configuration.
    fn prepare_agent(
        &self,
        amphora: &Amphora,
        names: &AmphoraNames,
        address: IpAddr,
    ) -> DriverResult<Timestamp> {
        let dir = self.amphora_dir(&amphora.id);
        std::fs::create_dir_all(&dir)
            .map_err(|e| DriverError(format!("cannot create {}: {e}", dir.display())))?;
        let cert = self.certificates.amphora_certificate(&amphora.id)?;
        Self::write(&dir.join("server.pem"), &cert.cert_pem)?;
        Self::write(&dir.join("server.key"), &cert.key_pem)?;
        Self::write(&dir.join("client_ca.pem"), &cert.client_ca_pem)?;
        let targets: Vec<String> = self
            .agent
            .heartbeat_targets
            .iter()
            .map(|t| format!("{t:?}"))
            .collect();
        let config = format!(
            "amphora_id = {id:?}\nlisten = \"{listen}\"\nserver_cert = {cert:?}\n\
             server_key = {key:?}\nclient_ca = {ca:?}\nlb_netns = {lb_ns:?}\nstate_dir = {state:?}\n\
             haproxy_cmd = {haproxy:?}\nheartbeat_targets = [{targets}]\n\
             heartbeat_interval_secs = {interval}\nheartbeat_key_file = {key_file:?}\n",
            id = amphora.id,
            listen = SocketAddr::new(address, self.agent.port),
            cert = dir.join("server.pem").display().to_string(),
            key = dir.join("server.key").display().to_string(),
            ca = dir.join("client_ca.pem").display().to_string(),
            lb_ns = names.lb_ns,
            state = dir.display().to_string(),
            haproxy = self.agent.haproxy_cmd.display().to_string(),
            targets = targets.join(", "),
            interval = self.agent.heartbeat_interval_secs,
            key_file = self.agent.heartbeat_key_file.display().to_string(),
        );
        Self::write(&dir.join("agent.toml"), &config)?;
        Ok(cert.expires_at)
    }

    /// Starts the agent unless one already runs in the namespace.
    fn start_agent(&self, amphora_id: &str, names: &AmphoraNames) -> DriverResult<()> {
        let running = ip(&["netns", "pids", &names.agent_ns])?;
        if !running.trim().is_empty() {
            return Ok(());
        }
        let dir = self.amphora_dir(amphora_id);
        let log = std::fs::File::create(dir.join("agent.log"))
            .map_err(|e| DriverError(format!("cannot create agent log: {e}")))?;
        let log_err = log
            .try_clone()
            .map_err(|e| DriverError(format!("cannot create agent log: {e}")))?;
        let config = dir.join("agent.toml");
        let status = std::process::Command::new("ip")
            .arg("netns")
            .arg("exec")
            .arg(&names.agent_ns)
            .arg("setsid")
            .arg("-f")
            .arg(&self.agent.binary)
            .arg("amphora-agent")
            .arg("--agent-config")
            .arg(&config)
            .stdin(std::process::Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .status()
            .map_err(|e| DriverError(format!("cannot start the agent: {e}")))?;
        if !status.success() {
            return Err(DriverError(format!("starting the agent failed: {status}")));
        }
        Ok(())
    }
}

/// Where an amphora keeps its files: `<state_root>/<short hash of its id>`. Short, so
/// that HAProxy's stats socket path below it stays under the 108-byte limit.
pub fn amphora_dir(state_root: &Path, amphora_id: &str) -> PathBuf {
    state_root.join(short_hash(amphora_id))
}

/// Records a namespace so that `krater cleanup` finds it after a crash.
fn register(state_root: &Path, netns: &str) -> DriverResult<()> {
    let dir = state_root.join("netns");
    std::fs::create_dir_all(&dir)
        .and_then(|_| std::fs::write(dir.join(netns), b""))
        .map_err(|e| DriverError(format!("cannot record namespace {netns}: {e}")))
}

/// Removes every namespace recorded under `state_root` (and their processes), and the
/// amphora directories; descends into subdirectories that hold registries of their own
/// (test runs use `<state_root>/<run>` as theirs). What `krater cleanup` does; returns
/// the namespaces removed.
pub fn cleanup(state_root: &Path) -> DriverResult<Vec<String>> {
    let mut removed = Vec::new();
    ip::kill_processes_using(state_root);
    let registry = state_root.join("netns");
    if let Ok(entries) = std::fs::read_dir(&registry) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            ip::delete_netns(&name)?;
            let _ = std::fs::remove_file(entry.path());
            removed.push(name);
        }
    }
    if let Ok(entries) = std::fs::read_dir(state_root) {
        for entry in entries.flatten() {
            if entry.file_name() != "netns" && entry.path().is_dir() {
                removed.extend(cleanup(&entry.path())?);
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    Ok(removed)
}

#[async_trait]
impl ComputeDriver for NetnsCompute {
    async fn build(&self, amphora: &Amphora, management: &Port) -> DriverResult<ComputeInstance> {
        let names = AmphoraNames::of(&amphora.id);
        for netns in [&names.agent_ns, &names.lb_ns] {
            register(&self.state_root, netns)?;
            ip::ensure_netns(netns)?;
        }
        let wired = ip(&["-n", &names.agent_ns, "link", "show", "dev", "eth0"]).is_ok();
        if !wired && ip::link_exists(&names.mgmt_link) {
            // Half made before a crash: the namespace was replaced, its eth0 lost.
            ip(&["link", "delete", &names.mgmt_link])?;
        }
        if !wired {
            ip(&[
                "link",
                "add",
                &names.mgmt_link,
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                &names.agent_ns,
            ])?;
        }
        ip(&[
            "link",
            "set",
            &names.mgmt_link,
            "master",
            &self.mgmt_bridge,
            "up",
        ])?;
        let cidr = format!("{}/{}", management.ip_address, self.mgmt_subnet.prefix_len);
        ip(&[
            "-n",
            &names.agent_ns,
            "addr",
            "replace",
            &cidr,
            "dev",
            "eth0",
        ])?;
        ip(&["-n", &names.agent_ns, "link", "set", "eth0", "up"])?;
        let address: IpAddr = management.ip_address.parse().map_err(|_| {
            DriverError(format!(
                "management port has an invalid address {:?}",
                management.ip_address
            ))
        })?;
        let expires_at = self.prepare_agent(amphora, &names, address)?;
        self.start_agent(&amphora.id, &names)?;
        Ok(ComputeInstance {
            compute_id: names.agent_ns,
            lb_network_ip: management.ip_address.clone(),
            cert_expiration: Some(expires_at),
        })
    }

    async fn delete(&self, amphora_id: &str) -> DriverResult<()> {
        let names = AmphoraNames::of(amphora_id);
        // HAProxy first (it lives in the lb namespace), then the agent.
        ip::kill_processes_using(&self.amphora_dir(amphora_id));
        ip::delete_netns(&names.lb_ns)?;
        ip::delete_netns(&names.agent_ns)?;
        if ip::link_exists(&names.mgmt_link) {
            ip(&["link", "delete", &names.mgmt_link])?;
        }
        let _ = std::fs::remove_dir_all(self.amphora_dir(amphora_id));
        for netns in [&names.agent_ns, &names.lb_ns] {
            let _ = std::fs::remove_file(self.state_root.join("netns").join(netns));
        }
        Ok(())
    }
}
