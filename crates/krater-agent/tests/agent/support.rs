//! An agent running inside the test process on 127.0.0.1:<ephemeral>, with
//! certificates from krater-certs in a temporary directory, and its client.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use krater_agent::AgentConfig;
use krater_agent_api::{AgentClient, AmphoraBundle, Applied, ClientError, ClientSettings};
use krater_certs::{
    CertAuthority, CONTROLLER_COMMON_NAME, DEFAULT_AMPHORA_CERT_VALIDITY,
    DEFAULT_CONTROLLER_CERT_VALIDITY,
};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A bundle of these HAProxy configurations, by load balancer id.
pub fn bundle(haproxy: &[(&str, &str)]) -> AmphoraBundle {
    AmphoraBundle {
        haproxy: haproxy
            .iter()
            .map(|&(lb, cfg)| (lb.to_owned(), cfg.to_owned()))
            .collect(),
        ..AmphoraBundle::default()
    }
}

/// The heartbeat key of test agents.
pub const HEARTBEAT_KEY: &str = "test heartbeat key";

/// Quick retries: the agent is local.
pub fn settings() -> ClientSettings {
    ClientSettings {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(60),
        max_attempts: 3,
        retry_interval: Duration::from_millis(100),
    }
}

/// The PEM files of one test: a CA, the amphora's server certificate and the
/// controller's client certificate.
pub struct Pki {
    /// The CA, to issue the agent another certificate.
    pub ca: CertAuthority,
    pub ca_pem: String,
    pub client_cert_pem: String,
    pub client_key_pem: String,
}

impl Pki {
    /// Issues the certificates and writes the agent's into `dir`.
    pub fn new(dir: &Path, amphora_id: &str) -> Self {
        let ca = CertAuthority::generate().expect("CA");
        let server = ca
            .issue_amphora_cert(amphora_id, DEFAULT_AMPHORA_CERT_VALIDITY)
            .expect("server cert");
        let client = ca
            .issue_client_cert(CONTROLLER_COMMON_NAME, DEFAULT_CONTROLLER_CERT_VALIDITY)
            .expect("client cert");
        std::fs::write(dir.join("server.pem"), &server.cert_pem).expect("write");
        std::fs::write(dir.join("server.key"), &server.key_pem).expect("write");
        std::fs::write(dir.join("client_ca.pem"), ca.cert_pem()).expect("write");
        Self {
            ca_pem: ca.cert_pem().to_owned(),
            ca,
            client_cert_pem: client.cert_pem,
            client_key_pem: client.key_pem,
        }
    }

    /// The controller's TLS configuration.
    pub fn controller_tls(&self) -> Arc<rustls::ClientConfig> {
        krater_certs::client_config(&self.ca_pem, &self.client_cert_pem, &self.client_key_pem)
            .expect("client config")
    }
}

/// A running agent; stopped (its task aborted) on drop.
pub struct TestAgent {
    pub config: AgentConfig,
    pub client: AgentClient,
    pub pki: Arc<Pki>,
    pub addr: SocketAddr,
    dir: Arc<TempDir>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl TestAgent {
    /// Starts an agent for the load-balancing namespace `lb_netns`, plugging
    /// interfaces from `interfaces_netns`; it sends no heartbeats.
    pub async fn start(lb_netns: &str, interfaces_netns: Option<&str>) -> Self {
        Self::start_with_heartbeats(
            lb_netns,
            interfaces_netns,
            Vec::new(),
            Duration::from_secs(1),
        )
        .await
    }

    /// Starts an agent that sends heartbeats, signed with [`HEARTBEAT_KEY`], to
    /// `heartbeat_targets` every `heartbeat_interval`.
    pub async fn start_with_heartbeats(
        lb_netns: &str,
        interfaces_netns: Option<&str>,
        heartbeat_targets: Vec<SocketAddr>,
        heartbeat_interval: Duration,
    ) -> Self {
        let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
        let amphora_id = uuid::Uuid::new_v4().to_string();
        let pki = Arc::new(Pki::new(dir.path(), &amphora_id));
        let heartbeat_key_file = dir.path().join("heartbeat.key");
        std::fs::write(&heartbeat_key_file, format!("{HEARTBEAT_KEY}\n")).expect("write");
        let config = AgentConfig {
            amphora_id,
            listen: "127.0.0.1:0".parse().expect("addr"),
            server_cert_pem_path: dir.path().join("server.pem"),
            server_key_pem_path: dir.path().join("server.key"),
            client_ca_pem_path: dir.path().join("client_ca.pem"),
            lb_netns: lb_netns.to_owned(),
            state_dir: dir.path().join("lbs"),
            haproxy_cmd: "/usr/sbin/haproxy".into(),
            // No test here runs keepalived's check.
            krater_cmd: "/bin/true".into(),
            interfaces_netns: interfaces_netns.map(str::to_owned),
            heartbeat_targets,
            heartbeat_interval,
            heartbeat_key_file,
        };
        Self::spawn(config, pki, dir).await
    }

    async fn spawn(config: AgentConfig, pki: Arc<Pki>, dir: Arc<TempDir>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let task = tokio::spawn(krater_agent::serve(config.clone(), listener));
        let client = AgentClient::new(&config.amphora_id, addr, pki.controller_tls(), settings())
            .expect("client");
        client
            .wait_reachable(Duration::from_secs(10))
            .await
            .expect("agent up");
        Self {
            config,
            client,
            pki,
            addr,
            dir,
            task,
        }
    }

    /// Stops this agent and starts another on the same state and certificates.
    pub async fn restart(self) -> Self {
        self.task.abort();
        Self::spawn(self.config.clone(), self.pki.clone(), self.dir.clone()).await
    }

    /// Makes the agent run these HAProxy configurations, by load balancer id.
    pub async fn apply(&self, haproxy: &[(&str, &str)]) -> Result<Applied, ClientError> {
        self.client.ensure_bundle(&bundle(haproxy)).await
    }

    /// `PUT <path>` with the controller's certificate and `body`; the status and the
    /// answer.
    pub async fn raw_put(&self, path: &str, body: Vec<u8>) -> (u16, String) {
        let http = reqwest::Client::builder()
            .use_preconfigured_tls((*self.pki.controller_tls()).clone())
            .resolve(&self.config.amphora_id, self.addr)
            .no_proxy()
            .build()
            .expect("client");
        let url = format!(
            "https://{}:{}{path}",
            self.config.amphora_id,
            self.addr.port()
        );
        let answer = http.put(url).body(body).send().await.expect("put");
        let status = answer.status().as_u16();
        (status, answer.text().await.expect("answer"))
    }
}

impl Drop for TestAgent {
    fn drop(&mut self) {
        self.task.abort();
    }
}
