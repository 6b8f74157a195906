//! `krater.toml`: the configuration of every krater process.
//!
//! Sections are named after Octavia's. Every option has a default (the `DEFAULT_*`
//! constants and `Default` impls below), so krater runs with no file at all; a key
//! that is not known here is an error, never silently ignored. Precedence: the file
//! given with `--config`, else built-in defaults. Secrets (the heartbeat key) are read
//! from files named here, never given on the command line.

use serde::Deserialize;
use std::path::{Path, PathBuf};

pub const DEFAULT_DATA_DIR: &str = "/var/lib/krater";
pub const DEFAULT_BIND_HOST: &str = "127.0.0.1";
pub const DEFAULT_BIND_PORT: u16 = 9876;
pub const DEFAULT_PROJECT_ID: &str = "krater-default-project";
pub const DEFAULT_PAGINATION_MAX_LIMIT: usize = 1000;
pub const DEFAULT_HEARTBEAT_PORT: u16 = 5555;

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the database, the CA and amphora state live.
    pub data_dir: Option<PathBuf>,
    pub api_settings: ApiSettings,
    pub database: Database,
    pub controller_worker: ControllerWorker,
    pub health_manager: HealthManager,
    pub house_keeping: HouseKeeping,
    pub haproxy_amphora: HaproxyAmphora,
    pub networking: Networking,
    pub certificates: Certificates,
    pub keepalived_vrrp: KeepalivedVrrp,
}

/// `[keepalived_vrrp]`: VRRP between the two amphorae of an ACTIVE_STANDBY load
/// balancer (Octavia's section and option names).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct KeepalivedVrrp {
    /// Seconds between two advertisements of the MASTER (VRRPv3: hundredths of a
    /// second, 0.01 to 40.95). The BACKUP takes over after about three missed ones.
    pub vrrp_advert_int: f64,
    /// Seconds between two runs of the check that HAProxy serves.
    pub vrrp_check_interval: u64,
    /// Failed checks in a row after which an amphora gives the VIP up.
    pub vrrp_fail_count: u32,
    /// Passed checks in a row after which it may hold the VIP again.
    pub vrrp_success_count: u32,
    /// Seconds between two rounds of gratuitous ARP of the MASTER.
    pub vrrp_garp_refresh_interval: u64,
    /// Gratuitous ARPs per round.
    pub vrrp_garp_refresh_count: u32,
}

impl Default for KeepalivedVrrp {
    fn default() -> Self {
        // Octavia advertises every second and checks every 5 s; a takeover here
        // takes well under a second.
        Self {
            vrrp_advert_int: 0.2,
            vrrp_check_interval: 1,
            vrrp_fail_count: 2,
            vrrp_success_count: 2,
            vrrp_garp_refresh_interval: 5,
            vrrp_garp_refresh_count: 2,
        }
    }
}

/// How many amphorae a load balancer gets (`[controller_worker]
/// loadbalancer_topology`).
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LoadBalancerTopology {
    /// One amphora.
    #[default]
    Single,
    /// Two, MASTER and BACKUP, the VIP moved between them by VRRP.
    ActiveStandby,
}

/// `[certificates]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Certificates {
    /// Seconds an amphora's server certificate is valid (Octavia's 30 days).
    pub cert_validity_time: u64,
}

impl Default for Certificates {
    fn default() -> Self {
        Self {
            cert_validity_time: 2_592_000,
        }
    }
}

/// How the API authenticates callers.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum AuthStrategy {
    /// The project comes from `X-Project-Id`; every caller is admin (local use).
    #[default]
    Noauth,
}

/// `[api_settings]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ApiSettings {
    pub bind_host: String,
    pub bind_port: u16,
    pub auth_strategy: AuthStrategy,
    /// Project used in noauth mode when a request names none (Octavia answers 400).
    pub default_project_id: String,
    /// Base of the links in list responses; the request's own URL when unset.
    pub api_base_uri: Option<String>,
    pub pagination_max_limit: usize,
    pub enabled_provider_drivers: Vec<String>,
    pub default_provider_driver: String,
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self {
            bind_host: DEFAULT_BIND_HOST.into(),
            bind_port: DEFAULT_BIND_PORT,
            auth_strategy: AuthStrategy::Noauth,
            default_project_id: DEFAULT_PROJECT_ID.into(),
            api_base_uri: None,
            pagination_max_limit: DEFAULT_PAGINATION_MAX_LIMIT,
            enabled_provider_drivers: vec![
                "amphora".into(),
                "octavia".into(),
                "amphorav2".into(),
                "noop_driver".into(),
            ],
            default_provider_driver: "amphora".into(),
        }
    }
}

/// `[database]`
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Database {
    /// `sqlite://path` or `postgres://…`; `sqlite://<data_dir>/krater.db` when unset.
    pub connection: Option<String>,
}

/// Which implementation of a driver the amphora provider uses.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DriverChoice {
    /// The real one: `netns` compute, `local` network, the mTLS agent for amphorae.
    Real,
    /// Does nothing (tests of the API alone).
    Noop,
}

/// `[controller_worker]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ControllerWorker {
    /// Drivers behind the `amphora` provider: `real` (network namespaces, local
    /// bridges, the agent) or `noop`.
    pub amphora_drivers: DriverChoice,
    /// Seconds a new amphora's agent may take to answer.
    pub amp_boot_timeout_seconds: u64,
    /// Flows run at once by this process; 0 runs no worker here (an API-only process).
    pub workers: usize,
    /// Seconds a claimed job stays owned without a renewal before another worker may
    /// resume it. A running worker renews its leases every third of this.
    pub job_lease_seconds: u64,
    /// Claims of one job (its tasks kept killing their workers) before the flow is
    /// reverted without running its tasks again.
    pub job_max_attempts: u32,
    /// How often an idle worker looks for jobs (milliseconds); new jobs also wake it.
    pub poll_interval_ms: u64,
    /// Attempts of one task before the flow reverts.
    pub task_retries: u32,
    /// Topology of new load balancers.
    pub loadbalancer_topology: LoadBalancerTopology,
}

impl Default for ControllerWorker {
    fn default() -> Self {
        Self {
            amphora_drivers: DriverChoice::Real,
            amp_boot_timeout_seconds: 60,
            workers: 4,
            job_lease_seconds: 3,
            job_max_attempts: 5,
            poll_interval_ms: 500,
            task_retries: 3,
            loadbalancer_topology: LoadBalancerTopology::Single,
        }
    }
}

/// `[health_manager]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HealthManager {
    pub bind_ip: String,
    pub bind_port: u16,
    /// Seconds between heartbeats of an amphora.
    pub heartbeat_interval: u64,
    /// Seconds without a heartbeat after which an amphora is failed over.
    pub heartbeat_timeout: u64,
    /// Seconds between two looks for amphorae silent that long.
    pub health_check_interval: u64,
    /// The storm guard: when more amphorae than this are silent at once, none is
    /// failed over (the health manager's own network is the likelier fault).
    pub failover_threshold: usize,
    /// Seconds a heartbeat may take to arrive (and the clocks of amphora and health
    /// manager may differ by); an older one, or a copy, is dropped as a replay.
    pub heartbeat_replay_window: u64,
    /// Every health manager's `address:port`: each amphora sends each heartbeat to
    /// all of them. Empty: this health manager's `bind_ip:bind_port` alone.
    pub controller_ip_port_list: Vec<String>,
    /// File holding the HMAC key of heartbeats (`<data_dir>/heartbeat.key` when
    /// unset); made at first start when missing.
    pub heartbeat_key_file: Option<PathBuf>,
}

impl Default for HealthManager {
    fn default() -> Self {
        Self {
            bind_ip: "198.19.0.1".into(),
            bind_port: DEFAULT_HEARTBEAT_PORT,
            // Tighter than Octavia's 10 s / 60 s / 3 s: heartbeats are cheap here, and a
            // dead amphora is replaced within seconds.
            heartbeat_interval: 1,
            heartbeat_timeout: 3,
            health_check_interval: 1,
            failover_threshold: 5,
            heartbeat_replay_window: 30,
            controller_ip_port_list: Vec::new(),
            heartbeat_key_file: None,
        }
    }
}

/// `[house_keeping]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HouseKeeping {
    /// Seconds between two cleanups of the database.
    pub cleanup_interval: u64,
    /// Seconds a DELETED load balancer stays in the database.
    pub load_balancer_expiry_age: u64,
    /// Seconds a DELETED amphora stays in the database.
    pub amphora_expiry_age: u64,
    /// Seconds between two looks for amphora certificates to rotate.
    pub cert_interval: u64,
    /// A certificate with less than this many seconds left is replaced (without a
    /// failover, the data plane untouched).
    pub cert_expiry_buffer: u64,
    /// Amphorae kept booted and ready, with no load balancer, for creates and
    /// failovers to take instead of booting one (0: none).
    pub spare_amphora_pool_size: usize,
    /// Seconds between two looks at the spares pool (refill, remove dead spares).
    pub spare_check_interval: u64,
}

impl Default for HouseKeeping {
    fn default() -> Self {
        // Octavia's defaults: every 30 s, rows deleted more than a week ago.
        Self {
            cleanup_interval: 30,
            load_balancer_expiry_age: 604_800,
            amphora_expiry_age: 604_800,
            // Octavia looks every hour; a look costs one query here.
            cert_interval: 60,
            cert_expiry_buffer: 1_209_600,
            spare_amphora_pool_size: 0,
            // Octavia's was 30 s; a spare taken is replaced within this.
            spare_check_interval: 5,
        }
    }
}

/// `[haproxy_amphora]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HaproxyAmphora {
    pub haproxy_cmd: PathBuf,
    /// Port the amphora agent listens on (mutual TLS).
    pub bind_port: u16,
    /// Where each amphora keeps its HAProxy files, as `<base_path>/<amphora_id>/<lb_id>/`.
    /// Short on purpose: a stats socket path must stay under 108 bytes.
    pub base_path: PathBuf,
}

impl Default for HaproxyAmphora {
    fn default() -> Self {
        Self {
            haproxy_cmd: "/usr/sbin/haproxy".into(),
            bind_port: 9443,
            base_path: "/run/krater".into(),
        }
    }
}

/// `[networking]`: the networks of the `local` network driver.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Networking {
    /// Networks for VIPs and members.
    pub networks: Vec<NetworkConfig>,
    /// The network between the controller and the amphora agents (Octavia's lb-mgmt-net).
    pub management: NetworkConfig,
    /// Addresses that may never be a member (Octavia's `reserved_ips`).
    pub reserved_ips: Vec<String>,
}

impl Default for Networking {
    fn default() -> Self {
        Self {
            networks: vec![
                NetworkConfig {
                    name: "public".into(),
                    subnet_name: "public-subnet".into(),
                    cidr: "198.18.1.0/24".into(),
                    gateway_ip: "198.18.1.1".into(),
                    allocation_start: "198.18.1.10".into(),
                    allocation_end: "198.18.1.250".into(),
                    bridge: "kr-vip0".into(),
                },
                NetworkConfig {
                    name: "private".into(),
                    subnet_name: "private-subnet".into(),
                    cidr: "198.18.2.0/24".into(),
                    gateway_ip: "198.18.2.1".into(),
                    allocation_start: "198.18.2.10".into(),
                    allocation_end: "198.18.2.250".into(),
                    bridge: "kr-mem0".into(),
                },
            ],
            management: NetworkConfig {
                name: "lb-mgmt-net".into(),
                subnet_name: "lb-mgmt-subnet".into(),
                // Room for 4,000 amphorae, apart from the public and private subnets.
                cidr: "198.19.0.0/20".into(),
                gateway_ip: "198.19.0.1".into(),
                allocation_start: "198.19.0.10".into(),
                allocation_end: "198.19.15.250".into(),
                bridge: "kr-mgmt".into(),
            },
            reserved_ips: vec!["169.254.169.254".into()],
        }
    }
}

/// One network of the `local` driver: a Linux bridge with one subnet.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    pub name: String,
    pub subnet_name: String,
    pub cidr: String,
    pub gateway_ip: String,
    pub allocation_start: String,
    pub allocation_end: String,
    pub bridge: String,
}

/// A configuration file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid configuration in {path}: {source}")]
    Parse {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("invalid configuration in {path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
}

impl Config {
    /// Reads `path`, or returns the defaults when `path` is `None`.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.into(),
            source,
        })?;
        let config: Self = toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.into(),
            source: Box::new(source),
        })?;
        config.check().map_err(|reason| ConfigError::Invalid {
            path: path.into(),
            reason,
        })?;
        Ok(config)
    }

    /// Rules that the types alone do not express.
    fn check(&self) -> Result<(), String> {
        if self.house_keeping.cert_expiry_buffer >= self.certificates.cert_validity_time {
            return Err(format!(
                "[house_keeping] cert_expiry_buffer ({} s) must be shorter than [certificates] cert_validity_time ({} s)",
                self.house_keeping.cert_expiry_buffer, self.certificates.cert_validity_time
            ));
        }
        let hm = &self.health_manager;
        if hm.heartbeat_interval == 0 {
            return Err("[health_manager] heartbeat_interval must be at least 1 second".into());
        }
        if hm.health_check_interval == 0 {
            return Err("[health_manager] health_check_interval must be at least 1 second".into());
        }
        if let Some(bad) = hm
            .controller_ip_port_list
            .iter()
            .find(|a| a.parse::<std::net::SocketAddr>().is_err())
        {
            return Err(format!(
                "[health_manager] controller_ip_port_list: {bad:?} is not an address:port"
            ));
        }
        // A timeout shorter than two intervals fails over an amphora that lost one
        // datagram.
        if hm.heartbeat_timeout < 2 * hm.heartbeat_interval {
            return Err(format!(
                "[health_manager] heartbeat_timeout ({} s) must be at least twice heartbeat_interval ({} s)",
                hm.heartbeat_timeout, hm.heartbeat_interval
            ));
        }
        let vrrp = &self.keepalived_vrrp;
        if !(0.01..=40.95).contains(&vrrp.vrrp_advert_int) {
            return Err(format!(
                "[keepalived_vrrp] vrrp_advert_int ({}) must be between 0.01 and 40.95 seconds",
                vrrp.vrrp_advert_int
            ));
        }
        if vrrp.vrrp_check_interval == 0
            || vrrp.vrrp_fail_count == 0
            || vrrp.vrrp_success_count == 0
        {
            return Err("[keepalived_vrrp] vrrp_check_interval, vrrp_fail_count and vrrp_success_count must be at least 1".into());
        }
        Ok(())
    }

    /// The data directory, defaulted.
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR))
    }

    /// Where amphorae send their heartbeats: `controller_ip_port_list`, or this health
    /// manager's own address when it is empty.
    pub fn heartbeat_targets(&self) -> Vec<std::net::SocketAddr> {
        let hm = &self.health_manager;
        if hm.controller_ip_port_list.is_empty() {
            return format!("{}:{}", hm.bind_ip, hm.bind_port)
                .parse()
                .into_iter()
                .collect();
        }
        // Checked when the configuration was read.
        hm.controller_ip_port_list
            .iter()
            .filter_map(|a| a.parse().ok())
            .collect()
    }

    /// The heartbeat key file, defaulted into the data directory.
    pub fn heartbeat_key_file(&self) -> PathBuf {
        self.health_manager
            .heartbeat_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir().join("heartbeat.key"))
    }

    /// The database URL, defaulted to a SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        match &self.database.connection {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir().join("krater.db").display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_file_means_defaults() {
        let config = Config::load(None).unwrap();
        assert_eq!(config.api_settings.bind_port, 9876);
        assert_eq!(config.database_url(), "sqlite:///var/lib/krater/krater.db");
    }

    #[test]
    fn partial_file_keeps_other_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("krater.toml");
        std::fs::write(
            &path,
            "data_dir = \"/tmp/k\"\n[api_settings]\nbind_port = 1234\n",
        )
        .unwrap();
        let config = Config::load(Some(&path)).unwrap();
        assert_eq!(config.api_settings.bind_port, 1234);
        assert_eq!(config.api_settings.bind_host, "127.0.0.1");
        assert_eq!(config.database_url(), "sqlite:///tmp/k/krater.db");
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("krater.toml");
        std::fs::write(&path, "[api_settings]\nbind_prot = 1234\n").unwrap();
        let err = Config::load(Some(&path)).unwrap_err().to_string();
        assert!(err.contains("bind_prot"), "{err}");
        std::fs::write(&path, "[no_such_section]\n").unwrap();
        assert!(Config::load(Some(&path)).is_err());
    }

    #[test]
    fn topology_and_vrrp_timings_are_read_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("krater.toml");
        std::fs::write(
            &path,
            "[controller_worker]\nloadbalancer_topology = \"ACTIVE_STANDBY\"\n[keepalived_vrrp]\nvrrp_advert_int = 0.1\n",
        )
        .unwrap();
        let config = Config::load(Some(&path)).unwrap();
        assert_eq!(
            config.controller_worker.loadbalancer_topology,
            LoadBalancerTopology::ActiveStandby
        );
        assert_eq!(config.keepalived_vrrp.vrrp_advert_int, 0.1);
        assert_eq!(config.keepalived_vrrp.vrrp_fail_count, 2);
        for (text, complaint) in [
            (
                "[controller_worker]\nloadbalancer_topology = \"TRIPLE\"\n",
                "TRIPLE",
            ),
            (
                "[keepalived_vrrp]\nvrrp_advert_int = 0\n",
                "vrrp_advert_int",
            ),
            (
                "[keepalived_vrrp]\nvrrp_fail_count = 0\n",
                "vrrp_fail_count",
            ),
        ] {
            std::fs::write(&path, text).unwrap();
            let err = Config::load(Some(&path)).unwrap_err().to_string();
            assert!(err.contains(complaint), "{text}: {err}");
        }
    }

    #[test]
    fn zero_heartbeat_interval_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("krater.toml");
        std::fs::write(&path, "[health_manager]\nheartbeat_interval = 0\n").unwrap();
        let err = Config::load(Some(&path)).unwrap_err().to_string();
        assert!(err.contains("heartbeat_interval"), "{err}");
    }

    #[test]
    fn health_manager_timings_and_addresses_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("krater.toml");
        for (text, complaint) in [
            (
                "heartbeat_interval = 2\nheartbeat_timeout = 3\n",
                "twice heartbeat_interval",
            ),
            ("health_check_interval = 0\n", "health_check_interval"),
            (
                "controller_ip_port_list = [\"198.19.0.1\"]\n",
                "not an address:port",
            ),
        ] {
            std::fs::write(&path, format!("[health_manager]\n{text}")).unwrap();
            let err = Config::load(Some(&path)).unwrap_err().to_string();
            assert!(err.contains(complaint), "{text}: {err}");
        }
        std::fs::write(
            &path,
            "[health_manager]\ncontroller_ip_port_list = [\"198.19.0.1:5555\", \"198.19.0.2:5555\"]\n",
        )
        .unwrap();
        let config = Config::load(Some(&path)).unwrap();
        assert_eq!(config.heartbeat_targets().len(), 2);
        assert_eq!(
            Config::default().heartbeat_targets(),
            ["198.19.0.1:5555".parse().unwrap()],
            "the one health manager's address by default"
        );
    }
}
