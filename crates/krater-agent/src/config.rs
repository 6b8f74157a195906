//! The agent's configuration file, written by the `netns` compute driver next to the
//! amphora's certificate (`krater_drivers::netns`). Every key but `interfaces_netns` is
//! required; unknown keys are an error.
//!
//! ```toml
//! amphora_id = "<uuid>"
//! listen = "198.18.0.12:9443"
//! server_cert = "/run/krater/<id>/server.pem"
//! server_key = "/run/krater/<id>/server.key"
//! client_ca = "/run/krater/<id>/client_ca.pem"
//! lb_netns = "amp-<hash>-lb"
//! state_dir = "/run/krater/<id>"
//! haproxy_cmd = "/usr/sbin/haproxy"
//! heartbeat_targets = ["198.18.0.1:5555"]
//! heartbeat_interval_secs = 2
//! heartbeat_key_file = "/var/lib/krater/heartbeat.key"
//! ```

use crate::AgentConfig;
use anyhow::Context as _;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The file as written.
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
    /// Defaults to the running binary (the agent is `krater amphora-agent`).
    #[serde(default)]
    krater_cmd: Option<PathBuf>,
    #[serde(default)]
    interfaces_netns: Option<String>,
    heartbeat_targets: Vec<SocketAddr>,
    heartbeat_interval_secs: u64,
    heartbeat_key_file: PathBuf,
}

impl AgentConfig {
    /// Reads and checks the agent's TOML file. The heartbeat key file it names is read
    /// when the agent starts ([`crate::serve`]), not here.
    pub fn load(path: &Path) -> anyhow::Result<AgentConfig> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let file: AgentFile =
            toml::from_str(&text).with_context(|| format!("invalid {}", path.display()))?;
        let config = AgentConfig {
            amphora_id: file.amphora_id,
            listen: file.listen,
            server_cert_pem_path: file.server_cert,
            server_key_pem_path: file.server_key,
            client_ca_pem_path: file.client_ca,
            lb_netns: file.lb_netns,
            state_dir: file.state_dir,
            haproxy_cmd: file.haproxy_cmd,
            krater_cmd: match file.krater_cmd {
                Some(path) => path,
                None => std::env::current_exe().context("cannot find the running binary")?,
            },
            interfaces_netns: file.interfaces_netns,
            heartbeat_targets: file.heartbeat_targets,
            heartbeat_interval: Duration::from_secs(file.heartbeat_interval_secs),
            heartbeat_key_file: file.heartbeat_key_file,
        };
        config
            .validate()
            .with_context(|| format!("invalid {}", path.display()))?;
        Ok(config)
    }
}

/// The heartbeat key: the text of `path`, without surrounding whitespace.
pub(crate) fn read_heartbeat_key(path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the heartbeat key {}", path.display()))?;
    let key = text.trim();
    if key.is_empty() {
        anyhow::bail!("the heartbeat key file {} is empty", path.display());
    }
    Ok(key.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `krater_drivers::netns` writes.
    const FILE: &str = r#"amphora_id = "a8e0755b-05b5-4756-bc5e-6fbbd63bc465"
listen = "198.18.0.12:9443"
server_cert = "/run/krater/a8e0755b-05b5-4756-bc5e-6fbbd63bc465/server.pem"
server_key = "/run/krater/a8e0755b-05b5-4756-bc5e-6fbbd63bc465/server.key"
client_ca = "/run/krater/a8e0755b-05b5-4756-bc5e-6fbbd63bc465/client_ca.pem"
lb_netns = "amp-0123456789-lb"
state_dir = "/run/krater/a8e0755b-05b5-4756-bc5e-6fbbd63bc465"
haproxy_cmd = "/usr/sbin/haproxy"
heartbeat_targets = ["198.18.0.1:5555"]
heartbeat_interval_secs = 2
heartbeat_key_file = "/var/lib/krater/heartbeat.key"
"#;

    fn load(text: &str) -> anyhow::Result<AgentConfig> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("agent.toml");
        std::fs::write(&path, text).expect("write");
        AgentConfig::load(&path)
    }

    fn error(text: &str) -> String {
        format!("{:#}", load(text).expect_err("refused"))
    }

    #[test]
    fn reads_the_file_the_compute_driver_writes() {
        let id = "a8e0755b-05b5-4756-bc5e-6fbbd63bc465";
        let run = PathBuf::from(format!("/run/krater/{id}"));
        let config = load(FILE).expect("valid");
        assert_eq!(
            config,
            AgentConfig {
                amphora_id: id.into(),
                listen: "198.18.0.12:9443".parse().expect("addr"),
                server_cert_pem_path: run.join("server.pem"),
                server_key_pem_path: run.join("server.key"),
                client_ca_pem_path: run.join("client_ca.pem"),
                lb_netns: "amp-0123456789-lb".into(),
                state_dir: run.clone(),
                haproxy_cmd: "/usr/sbin/haproxy".into(),
                krater_cmd: std::env::current_exe().expect("test binary"),
                interfaces_netns: None,
                heartbeat_targets: vec!["198.18.0.1:5555".parse().expect("addr")],
                heartbeat_interval: Duration::from_secs(2),
                heartbeat_key_file: "/var/lib/krater/heartbeat.key".into(),
            }
        );
        let config = load(&format!("{FILE}interfaces_netns = \"kt-x\"\n")).expect("valid");
        assert_eq!(config.interfaces_netns.as_deref(), Some("kt-x"));
    }

    #[test]
    fn refuses_unknown_missing_and_invalid_keys() {
        let err = error(&format!("{FILE}bogus = 1\n"));
        assert!(err.contains("unknown field `bogus`"), "{err}");
        let err = error(&FILE.replace("heartbeat_targets = [\"198.18.0.1:5555\"]\n", ""));
        assert!(err.contains("missing field `heartbeat_targets`"), "{err}");
        let err = error(&FILE.replace("198.18.0.1:5555", "198.18.0.1"));
        assert!(err.contains("heartbeat_targets"), "{err}");
        let err =
            error(&FILE.replace("heartbeat_interval_secs = 2", "heartbeat_interval_secs = 0"));
        assert!(err.contains("heartbeat_interval"), "{err}");
        let err = error(&FILE.replacen("a8e0755b-05b5-4756-bc5e-6fbbd63bc465", "amp", 1));
        assert!(err.contains("amphora id"), "{err}");
        let err = error(&FILE.replace("state_dir = \"/run", "state_dir = \"run"));
        assert!(err.contains("state_dir"), "{err}");
    }

    #[test]
    fn the_key_is_the_trimmed_text_of_its_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("heartbeat.key");
        std::fs::write(&path, "  s3cret key\n\n").expect("write");
        assert_eq!(read_heartbeat_key(&path).expect("key"), "s3cret key");
        std::fs::write(&path, " \n").expect("write");
        assert!(read_heartbeat_key(&path).is_err());
        assert!(read_heartbeat_key(&dir.path().join("absent")).is_err());
    }
}
