//! The agent's configuration file, written by the `netns` compute driver next to the
//! amphora's certificate. Unknown keys are an error.

use crate::AgentConfig;
use anyhow::Context as _;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AgentFile {
    amphora_id: String,
    listen: SocketAddr,
    server_cert: PathBuf,
    server_key: PathBuf,
    client_ca: PathBuf,
    lb_netns: String,
    state_dir: PathBuf,
    haproxy_cmd: PathBuf,
    #[serde(default)]
    interfaces_netns: Option<String>,
    #[serde(default)]
    heartbeat_targets: Vec<SocketAddr>,
    heartbeat_interval_secs: u64,
    heartbeat_key_file: PathBuf,
}

impl AgentConfig {
    /// Reads the agent's TOML file and the heartbeat key it names.
    pub fn load(path: &Path) -> anyhow::Result<AgentConfig> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let file: AgentFile =
            toml::from_str(&text).with_context(|| format!("invalid {}", path.display()))?;
        let key = std::fs::read_to_string(&file.heartbeat_key_file)
            .with_context(|| format!("cannot read {}", file.heartbeat_key_file.display()))?;
        Ok(AgentConfig {
            amphora_id: file.amphora_id,
            listen: file.listen,
            server_cert_pem_path: file.server_cert,
            server_key_pem_path: file.server_key,
            client_ca_pem_path: file.client_ca,
            lb_netns: file.lb_netns,
            state_dir: file.state_dir,
            haproxy_cmd: file.haproxy_cmd,
            interfaces_netns: file.interfaces_netns,
            heartbeat_targets: file.heartbeat_targets,
            heartbeat_interval: Duration::from_secs(file.heartbeat_interval_secs.max(1)),
            heartbeat_key: key.trim().to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"amphora_id = "a8e0755b-05b5-4756-bc5e-6fbbd63bc465"
listen = "198.18.0.12:9443"
server_cert = "/run/krater/x/server.pem"
server_key = "/run/krater/x/server.key"
client_ca = "/run/krater/x/client_ca.pem"
lb_netns = "amp-0123456789-lb"
state_dir = "/run/krater/x"
haproxy_cmd = "/usr/sbin/haproxy"
heartbeat_targets = ["198.18.0.1:5555"]
heartbeat_interval_secs = 2
"#;

    #[test]
    fn reads_the_file_the_compute_driver_writes() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key");
        std::fs::write(&key, "secret\n").unwrap();
        let path = dir.path().join("agent.toml");
        std::fs::write(&path, format!("{FILE}heartbeat_key_file = {key:?}\n")).unwrap();
        let config = AgentConfig::load(&path).unwrap();
        assert_eq!(config.heartbeat_key, "secret");
        assert_eq!(
            config.heartbeat_targets,
            vec!["198.18.0.1:5555".parse().unwrap()]
        );
        assert_eq!(config.heartbeat_interval, Duration::from_secs(2));
        assert_eq!(config.lb_netns, "amp-0123456789-lb");

        std::fs::write(
            &path,
            format!("{FILE}heartbeat_key_file = {key:?}\nbogus = 1\n"),
        )
        .unwrap();
        let err = format!("{:#}", AgentConfig::load(&path).unwrap_err());
        assert!(err.contains("bogus"), "{err}");
    }
}
