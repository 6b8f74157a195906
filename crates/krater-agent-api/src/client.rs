//! The controller's client of one amphora agent: one method per endpoint, over mutual
//! TLS, with bounded retries on connection errors.
//!
//! The agent's certificate names the amphora (SAN DNS = amphora id), so the client
//! asks for `https://<amphora_id>:<port>/` and resolves that name to the agent's
//! management address itself: the TLS name checked is the amphora id, whatever the
//! address.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;

use crate::bundle::{AmphoraBundle, BundleStatus};
use crate::types::{
    parse_id, AgentInfo, ApiVersion, LbAction, Message, ParseError, PlugNetwork, PlugVip,
    ServerCertificate, VipStatus, API_VERSION,
};

/// The first pause of [`AgentClient::wait_reachable`]; pauses double from there up to
/// [`ClientSettings::retry_interval`].
const FIRST_REACHABILITY_PAUSE: Duration = Duration::from_millis(50);

/// Timeouts and retries of an [`AgentClient`]. The defaults are Octavia's
/// `[haproxy_amphora]` `rest_request_conn_timeout`, `rest_request_read_timeout`,
/// `active_connection_max_retries` and `active_connection_retry_interval`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSettings {
    /// Longest wait for a TCP connection.
    pub connect_timeout: Duration,
    /// Longest wait for a whole request, from connecting to the end of the answer.
    pub request_timeout: Duration,
    /// Attempts of one request while connecting fails (at least 1).
    pub max_attempts: u32,
    /// Pause between two attempts.
    pub retry_interval: Duration,
}

impl Default for ClientSettings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            max_attempts: 15,
            retry_interval: Duration::from_secs(2),
        }
    }
}

/// What went wrong talking to an agent.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// An argument would not make a valid request (an id that is not a UUID).
    #[error(transparent)]
    Invalid(#[from] ParseError),
    /// The HTTP client could not be built from the TLS configuration.
    #[error("cannot build the agent client: {0}")]
    Build(#[source] reqwest::Error),
    /// Every attempt to connect failed, or the deadline of
    /// [`AgentClient::wait_reachable`] passed.
    #[error("agent of amphora {amphora_id} unreachable after {attempts} attempt(s): {source}")]
    Unreachable {
        amphora_id: String,
        attempts: u32,
        #[source]
        source: reqwest::Error,
    },
    /// The connection broke or timed out after it was made.
    #[error("request to the agent of amphora {amphora_id} failed: {source}")]
    Transport {
        amphora_id: String,
        #[source]
        source: reqwest::Error,
    },
    /// The agent answered with an error status.
    #[error("agent answered {status}: {message}{}", details.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Status {
        status: u16,
        message: String,
        details: Option<String>,
    },
    /// The agent answered something this client does not understand.
    #[error("unexpected answer from the agent: {0}")]
    Decode(String),
}

/// What [`AgentClient::ensure_bundle`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The agent ran this version already; nothing was sent.
    AlreadyRunning,
    /// The bundle was sent and the agent runs it now.
    Sent,
}

/// Client of the agent of one amphora.
#[derive(Debug, Clone)]
pub struct AgentClient {
    http: reqwest::Client,
    amphora_id: String,
    /// `https://<amphora_id>:<port>`
    base: String,
    settings: ClientSettings,
}

impl AgentClient {
    /// A client of the agent of `amphora_id` listening on `address`, authenticating
    /// with the controller's client certificate in `tls` (which must also trust the
    /// CA of the agents' server certificates).
    pub fn new(
        amphora_id: &str,
        address: SocketAddr,
        tls: Arc<rustls::ClientConfig>,
        settings: ClientSettings,
    ) -> Result<Self, ClientError> {
        let amphora_id = parse_id("amphora id", amphora_id)?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls((*tls).clone())
            .resolve(&amphora_id, address)
            .https_only(true)
            .no_proxy()
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.request_timeout)
            .build()
            .map_err(ClientError::Build)?;
        Ok(Self {
            base: format!("https://{amphora_id}:{}", address.port()),
            http,
            amphora_id,
            settings,
        })
    }

    /// The amphora this client talks to.
    pub fn amphora_id(&self) -> &str {
        &self.amphora_id
    }

    /// Polls `GET /` until the agent answers or `deadline` has passed, pausing 50 ms
    /// after the first attempt and twice as long after each next one, up to
    /// [`ClientSettings::retry_interval`]; an answer with an error status ends the wait
    /// at once.
    pub async fn wait_reachable(&self, deadline: Duration) -> Result<ApiVersion, ClientError> {
        let end = Instant::now() + deadline;
        let mut attempts = 0;
        // An agent in a namespace starts in tens of milliseconds, one in a VM in tens of
        // seconds: poll soon at first, then every `retry_interval`.
        let mut pause = FIRST_REACHABILITY_PAUSE.min(self.settings.retry_interval);
        loop {
            attempts += 1;
            let source = match self.http.get(format!("{}/", self.base)).send().await {
                Ok(resp) => return json(check(resp).await?).await,
                Err(e) => e,
            };
            if Instant::now() + pause >= end {
                return Err(ClientError::Unreachable {
                    amphora_id: self.amphora_id.clone(),
                    attempts,
                    source,
                });
            }
            tracing::debug!(amphora_id = %self.amphora_id, error = %source, "agent not reachable yet");
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(self.settings.retry_interval);
        }
    }

    /// `GET /`
    pub async fn api_version(&self) -> Result<ApiVersion, ClientError> {
        json(self.send(Method::GET, "/", None).await?).await
    }

    /// `GET /1.0/info`
    pub async fn info(&self) -> Result<AgentInfo, ClientError> {
        json(self.send(Method::GET, &v1("info"), None).await?).await
    }

    /// `POST /1.0/plug/vip/{vip}`
    pub async fn plug_vip(&self, vip: IpAddr, body: &PlugVip) -> Result<(), ClientError> {
        let body = to_json(body)?;
        self.send(Method::POST, &v1(&format!("plug/vip/{vip}")), Some(body))
            .await
            .map(drop)
    }

    /// `GET /1.0/plug/vip/{vip}`: whether the amphora holds the VIP now.
    pub async fn vip_status(&self, vip: IpAddr) -> Result<VipStatus, ClientError> {
        json(
            self.send(Method::GET, &v1(&format!("plug/vip/{vip}")), None)
                .await?,
        )
        .await
    }

    /// `POST /1.0/plug/network`
    pub async fn plug_network(&self, body: &PlugNetwork) -> Result<(), ClientError> {
        let body = to_json(body)?;
        self.send(Method::POST, &v1("plug/network"), Some(body))
            .await
            .map(drop)
    }

    /// `PUT /1.0/certificate`: the agent serves `certificate` from its next connection.
    pub async fn put_certificate(
        &self,
        certificate: &ServerCertificate,
    ) -> Result<(), ClientError> {
        let body = to_json(certificate)?;
        self.send(Method::PUT, &v1("certificate"), Some(body))
            .await
            .map(drop)
    }

    /// `PUT /1.0/vrrp/stop`: keepalived stops without a word to its peer and leaves
    /// the VIP where it is, so the amphora goes on serving until the peer, missing
    /// its advertisements, takes the VIP over and announces it. For an amphora about
    /// to be removed: no moment without an amphora answering for the VIP.
    pub async fn stop_vrrp(&self) -> Result<(), ClientError> {
        self.send(Method::PUT, &v1("vrrp/stop"), None)
            .await
            .map(drop)
    }

    /// `GET /1.0/bundle`: the version of the bundle the agent runs.
    pub async fn bundle_status(&self) -> Result<BundleStatus, ClientError> {
        json(self.send(Method::GET, &v1("bundle"), None).await?).await
    }

    /// Makes the agent run `bundle`: sends it (`PUT /1.0/bundle`) unless the agent
    /// reports its version applied already. The agent checks the whole bundle and
    /// keeps the one it runs when it refuses it (400).
    pub async fn ensure_bundle(&self, bundle: &AmphoraBundle) -> Result<Applied, ClientError> {
        let version = bundle.version();
        if self.bundle_status().await?.version.as_deref() == Some(version.as_str()) {
            return Ok(Applied::AlreadyRunning);
        }
        let body = to_json(bundle)?;
        let status: BundleStatus =
            json(self.send(Method::PUT, &v1("bundle"), Some(body)).await?).await?;
        if status.version.as_deref() != Some(version.as_str()) {
            return Err(ClientError::Decode(format!(
                "the agent applied version {:?}, not {version}",
                status.version
            )));
        }
        Ok(Applied::Sent)
    }

    /// `GET /1.0/loadbalancer/{lb_id}/haproxy`: the stored configuration, or `None`
    /// when the agent has none for this load balancer.
    pub async fn get_haproxy_config(&self, lb_id: &str) -> Result<Option<String>, ClientError> {
        let lb_id = parse_id("load balancer id", lb_id)?;
        match self
            .send(
                Method::GET,
                &v1(&format!("loadbalancer/{lb_id}/haproxy")),
                None,
            )
            .await
        {
            Ok(resp) => resp.text().await.map(Some).map_err(|e| self.transport(e)),
            Err(ClientError::Status { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `PUT /1.0/loadbalancer/{lb_id}/{start|stop|reload}`
    pub async fn loadbalancer_action(
        &self,
        lb_id: &str,
        action: LbAction,
    ) -> Result<(), ClientError> {
        let lb_id = parse_id("load balancer id", lb_id)?;
        let path = v1(&format!("loadbalancer/{lb_id}/{action}"));
        self.send(Method::PUT, &path, None).await.map(drop)
    }

    /// Sends one request, retrying while the connection cannot be made, and turns an
    /// error status into [`ClientError::Status`].
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<reqwest::Response, ClientError> {
        let url = format!("{}{path}", self.base);
        let max_attempts = self.settings.max_attempts.max(1);
        let mut attempt = 1;
        loop {
            let mut req = self.http.request(method.clone(), &url);
            if let Some(body) = &body {
                req = req.body(body.clone());
            }
            match req.send().await {
                Ok(resp) => return check(resp).await,
                Err(e) if e.is_connect() && attempt < max_attempts => {
                    tracing::debug!(
                        amphora_id = %self.amphora_id, %method, path, attempt, error = %e,
                        "cannot connect to the agent; retrying"
                    );
                    attempt += 1;
                    tokio::time::sleep(self.settings.retry_interval).await;
                }
                Err(e) if e.is_connect() => {
                    return Err(ClientError::Unreachable {
                        amphora_id: self.amphora_id.clone(),
                        attempts: attempt,
                        source: e,
                    })
                }
                Err(e) => return Err(self.transport(e)),
            }
        }
    }

    fn transport(&self, source: reqwest::Error) -> ClientError {
        ClientError::Transport {
            amphora_id: self.amphora_id.clone(),
            source,
        }
    }
}

/// `/1.0/<rest>`
fn v1(rest: &str) -> String {
    format!("/{API_VERSION}/{rest}")
}

fn to_json<T: serde::Serialize>(body: &T) -> Result<Vec<u8>, ClientError> {
    serde_json::to_vec(body).map_err(|e| ClientError::Decode(e.to_string()))
}

/// Passes a success through; reads the `{"message", "details"}` of an error.
async fn check(resp: reqwest::Response) -> Result<reqwest::Response, ClientError> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let text = resp.text().await.unwrap_or_default();
    let (message, details) = match serde_json::from_str::<Message>(&text) {
        Ok(m) => (m.message, m.details),
        Err(_) => (
            status.canonical_reason().unwrap_or("error").to_owned(),
            (!text.is_empty()).then(|| text.chars().take(1000).collect()),
        ),
    };
    Err(ClientError::Status {
        status: status.as_u16(),
        message,
        details,
    })
}

async fn json<T: DeserializeOwned>(resp: reqwest::Response) -> Result<T, ClientError> {
    let status: StatusCode = resp.status();
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| ClientError::Decode(e.to_string()))?;
    serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode(format!("{status}: {e}")))
}
