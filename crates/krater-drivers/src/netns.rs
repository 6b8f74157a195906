//! The `netns` compute driver: an amphora is a pair of network namespaces on this host.
//!
//! `amp-<hash>` holds the agent and its management interface `eth0` (a veth whose other
//! end is on the management bridge); `amp-<hash>-lb` holds the load-balancing side
//! (VIP and member interfaces, HAProxy), as Octavia keeps its `amphora-haproxy`
//! namespace. The agent is started detached (`setsid -f`), so amphorae keep serving
//! when every control-plane process is down. Every namespace made is recorded under
//! `<state_root>/netns/` so that `krater cleanup` can remove what a killed run left.

use crate::ip::{self, ip, short_hash};
use crate::process;
use crate::{ComputeDriver, ComputeInstance, DriverError, DriverResult, Subnet};
use async_trait::async_trait;
use krater_agent_api::layout;
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
        Self::of_hash(&short_hash(amphora_id))
    }

    /// The names of the amphora whose id hashes to `h` (its directory's name).
    fn of_hash(h: &str) -> Self {
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

    /// Writes the agent's certificate and configuration, readable by root only: the
    /// directory is 0700, the files 0600 (also when an earlier run left them wider).
    fn prepare_agent(
        &self,
        amphora_id: &str,
        names: &AmphoraNames,
        address: IpAddr,
    ) -> DriverResult<Timestamp> {
        let dir = self.amphora_dir(amphora_id);
        private_dir(&dir)?;
        let cert = self.certificates.amphora_certificate(amphora_id)?;
        write_private(&dir.join("server.pem"), &cert.cert_pem)?;
        write_private(&dir.join("server.key"), &cert.key_pem)?;
        write_private(&dir.join("client_ca.pem"), &cert.client_ca_pem)?;
        let targets: Vec<String> = self
            .agent
            .heartbeat_targets
            .iter()
            .map(|t| format!("{t:?}"))
            .collect();
        let config = format!(
            "amphora_id = {id:?}\nlisten = \"{listen}\"\nserver_cert = {cert:?}\n\
             server_key = {key:?}\nclient_ca = {ca:?}\nlb_netns = {lb_ns:?}\nstate_dir = {state:?}\n\
             haproxy_cmd = {haproxy:?}\nkrater_cmd = {krater:?}\nheartbeat_targets = [{targets}]\n\
             heartbeat_interval_secs = {interval}\nheartbeat_key_file = {key_file:?}\n",
            id = amphora_id,
            listen = SocketAddr::new(address, self.agent.port),
            cert = dir.join("server.pem").display().to_string(),
            key = dir.join("server.key").display().to_string(),
            ca = dir.join("client_ca.pem").display().to_string(),
            lb_ns = names.lb_ns,
            state = dir.display().to_string(),
            haproxy = self.agent.haproxy_cmd.display().to_string(),
            krater = self.agent.binary.display().to_string(),
            targets = targets.join(", "),
            interval = self.agent.heartbeat_interval_secs,
            key_file = self.agent.heartbeat_key_file.display().to_string(),
        );
        write_private(&dir.join(layout::AGENT_CONFIG), &config)?;
        Ok(cert.expires_at)
    }

    /// Starts the agent unless one already runs in the namespace.
    fn start_agent(&self, amphora_id: &str, names: &AmphoraNames) -> DriverResult<()> {
        let running = ip(&["netns", "pids", &names.agent_ns])?;
        if !running.trim().is_empty() {
            return Ok(());
        }
        let dir = self.amphora_dir(amphora_id);
        let log = create_private(&dir.join("agent.log"))?;
        let log_err = log
            .try_clone()
            .map_err(|e| DriverError::retryable(format!("cannot create agent log: {e}")))?;
        let config = dir.join(layout::AGENT_CONFIG);
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
            .map_err(|e| DriverError::retryable(format!("cannot start the agent: {e}")))?;
        if !status.success() {
            return Err(DriverError::retryable(format!(
                "starting the agent failed: {status}"
            )));
        }
        Ok(())
    }
}

/// Where an amphora keeps its files: `<state_root>/<short hash of its id>`. Short, so
/// that HAProxy's stats socket path below it stays under the 108-byte limit.
pub fn amphora_dir(state_root: &Path, amphora_id: &str) -> PathBuf {
    state_root.join(short_hash(amphora_id))
}

/// Creates `dir` (and its parents) with mode 0700, and narrows it to 0700 when it
/// existed.
fn private_dir(dir: &Path) -> DriverResult<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .and_then(|()| std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)))
        .map_err(|e| DriverError::retryable(format!("cannot create {}: {e}", dir.display())))
}

/// Creates or truncates `path` with mode 0600, also when it existed with another.
fn create_private(path: &Path) -> DriverResult<std::fs::File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .and_then(|file| {
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
            Ok(file)
        })
        .map_err(|e| DriverError::retryable(format!("cannot create {}: {e}", path.display())))
}

fn write_private(path: &Path, text: &str) -> DriverResult<()> {
    use std::io::Write;
    create_private(path)?
        .write_all(text.as_bytes())
        .map_err(|e| DriverError::retryable(format!("cannot write {}: {e}", path.display())))
}

/// Names again, in this process's mount namespace, the namespaces of every amphora
/// under `state_root` whose agent runs but whose names do not open here: `ip netns
/// add` binds a name in the mount namespace of its caller only, and `ip netns exec`
/// (which a control plane may run under) gives each start a new one. The agent's
/// namespace is found through its pid (`/proc/<pid>/ns/net`), the load-balancing one
/// through the agent's mount namespace (`/proc/<pid>/root/run/netns/<name>`), where
/// the names it was started with still hold. Returns each name it pinned again, with
/// the outcome.
pub fn adopt_amphorae(state_root: &Path) -> Vec<(String, DriverResult<()>)> {
    let mut pinned = Vec::new();
    let Ok(entries) = std::fs::read_dir(state_root) else {
        return pinned;
    };
    for entry in entries.flatten() {
        let hash = entry.file_name().to_string_lossy().into_owned();
        let names = AmphoraNames::of_hash(&hash);
        if hash == "netns"
            || [&names.agent_ns, &names.lb_ns]
                .iter()
                .all(|ns| ip::netns_usable(ns))
        {
            continue;
        }
        let Some(pid) = process::agent_pid(&entry.path()) else {
            continue;
        };
        let sources = [
            (
                &names.agent_ns,
                PathBuf::from(format!("/proc/{pid}/ns/net")),
            ),
            (
                &names.lb_ns,
                PathBuf::from(format!("/proc/{pid}/root/run/netns/{}", names.lb_ns)),
            ),
        ];
        for (name, source) in sources {
            if ip::netns_usable(name) {
                continue;
            }
            pinned.push((name.clone(), ip::pin_netns(name, &source)));
        }
    }
    pinned
}

/// Records a namespace so that `krater cleanup` finds it after a crash.
fn register(state_root: &Path, netns: &str) -> DriverResult<()> {
    let dir = state_root.join("netns");
    private_dir(&dir)?;
    std::fs::write(dir.join(netns), b"")
        .map_err(|e| DriverError::retryable(format!("cannot record namespace {netns}: {e}")))
}

/// Removes every namespace recorded under `state_root` (and their processes), the
/// processes recorded by the amphorae's pid files (see [`process`]), and the amphora
/// directories; descends into subdirectories that hold registries of their own
/// (test runs use `<state_root>/<run>` as theirs). What `krater cleanup` does; returns
/// the namespaces removed.
pub fn cleanup(state_root: &Path) -> DriverResult<Vec<String>> {
    let mut removed = Vec::new();
    process::kill_amphora_processes(state_root);
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
            DriverError::permanent(format!(
                "management port has an invalid address {:?}",
                management.ip_address
            ))
        })?;
        let expires_at = self.prepare_agent(&amphora.id, &names, address)?;
        self.start_agent(&amphora.id, &names)?;
        Ok(ComputeInstance {
            compute_id: names.agent_ns,
            lb_network_ip: management.ip_address.clone(),
            cert_expiration: Some(expires_at),
        })
    }

    async fn delete(&self, amphora_id: &str) -> DriverResult<()> {
        let names = AmphoraNames::of(amphora_id);
        process::kill_amphora_processes(&self.amphora_dir(amphora_id));
        ip::delete_netns(&names.lb_ns)?;
        ip::delete_netns(&names.agent_ns)?;
        // The host end of the management veth goes with its peer in the agent
        // namespace, which the kernel destroys a little after the delete: it may
        // vanish between the look and the delete.
        if ip::link_exists(&names.mgmt_link) {
            if let Err(err) = ip(&["link", "delete", &names.mgmt_link]) {
                if ip::link_exists(&names.mgmt_link) {
                    return Err(err);
                }
            }
        }
        let _ = std::fs::remove_dir_all(self.amphora_dir(amphora_id));
        for netns in [&names.agent_ns, &names.lb_ns] {
            let _ = std::fs::remove_file(self.state_root.join("netns").join(netns));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    struct FixedCertificate;

    impl CertificateIssuer for FixedCertificate {
        fn amphora_certificate(&self, _: &str) -> DriverResult<AmphoraCertificate> {
            Ok(AmphoraCertificate {
                cert_pem: "cert".into(),
                key_pem: "key".into(),
                client_ca_pem: "ca".into(),
                expires_at: krater_domain::now(),
            })
        }
    }

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).expect("stat").permissions().mode() & 0o777
    }

    #[test]
    fn secrets_of_an_amphora_are_root_only() {
        let root = tempfile::tempdir().expect("tempdir");
        let compute = NetnsCompute::new(
            root.path().to_owned(),
            "kr-mgmt".into(),
            crate::LocalNetworks::from_config(&krater_config::Networking::default())
                .expect("default networks")
                .management
                .expect("management")
                .1,
            AgentSettings {
                binary: "/bin/true".into(),
                port: 9443,
                haproxy_cmd: "/usr/sbin/haproxy".into(),
                heartbeat_targets: vec!["198.18.0.1:5555".into()],
                heartbeat_interval_secs: 1,
                heartbeat_key_file: "/var/lib/krater/heartbeat.key".into(),
            },
            Arc::new(FixedCertificate),
        );
        let id = "a8e0755b-05b5-4756-bc5e-6fbbd63bc465";
        let dir = compute.amphora_dir(id);
        // What an earlier run left: world-readable.
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        std::fs::write(dir.join("server.key"), "old").expect("write");
        std::fs::set_permissions(
            dir.join("server.key"),
            std::fs::Permissions::from_mode(0o644),
        )
        .expect("chmod");

        let names = AmphoraNames::of(id);
        compute
            .prepare_agent(id, &names, "198.18.0.12".parse().expect("ip"))
            .expect("prepared");
        register(root.path(), &names.agent_ns).expect("registered");
        drop(create_private(&dir.join("agent.log")).expect("log"));

        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&root.path().join("netns")), 0o700);
        for file in [
            "server.key",
            "server.pem",
            "client_ca.pem",
            "agent.toml",
            "agent.log",
        ] {
            assert_eq!(mode(&dir.join(file)), 0o600, "{file}");
        }
        assert_eq!(
            std::fs::read_to_string(dir.join("server.key")).expect("read"),
            "key"
        );
    }
}
