//! The agent API's routes (see `krater_agent_api` for the table). Every path
//! component is parsed (UUIDs, an address, an action) before it is used; every change
//! is made under one lock, as Octavia's agent runs a single worker.

use std::net::IpAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use krater_agent_api::{
    parse_id, AmphoraBundle, ApiVersion, BundleStatus, LbAction, Message, PlugNetwork, PlugVip,
    ServerCertificate, VipStatus, API_VERSION,
};
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;

use crate::bundle::{Bundles, Outcome};
use crate::error::{ApiError, ApiResult};
use crate::haproxy::Haproxy;
use crate::info;
use crate::keepalived::Keepalived;
use crate::plug::Plugger;

/// What the handlers share.
pub(crate) struct Agent {
    pub(crate) haproxy: Haproxy,
    pub(crate) keepalived: Keepalived,
    pub(crate) plugger: Plugger,
    pub(crate) nat: Arc<crate::nat::Nat>,
    pub(crate) tls: Arc<crate::tls::Tls>,
    /// Held by every handler that changes something.
    pub(crate) lock: Mutex<()>,
}

type Shared = State<Arc<Agent>>;

/// The agent's router.
pub(crate) fn router(agent: Arc<Agent>) -> Router {
    Router::new()
        .route("/", get(root))
        .route("/1.0/info", get(get_info))
        .route("/1.0/plug/vip/:vip", post(plug_vip).get(vip_status))
        .route("/1.0/plug/network", post(plug_network))
        .route("/1.0/bundle", put(apply_bundle).get(get_bundle))
        .route("/1.0/certificate", put(put_certificate))
        .route("/1.0/vrrp/stop", put(stop_vrrp))
        .route("/1.0/loadbalancer/:id/haproxy", get(get_config))
        .route("/1.0/loadbalancer/:id/:part", put(lb_action))
        .fallback(not_found)
        .with_state(agent)
}

async fn root() -> Json<ApiVersion> {
    Json(ApiVersion {
        api_version: API_VERSION.to_owned(),
    })
}

async fn get_info(State(agent): Shared) -> ApiResult<impl IntoResponse> {
    Ok(Json(info::info(&agent.haproxy.haproxy_cmd).await?))
}

async fn plug_vip(
    State(agent): Shared,
    Path(vip): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let vip = parse_vip(&vip)?;
    let body: PlugVip = parse_body(&body)?;
    let _guard = agent.lock.lock().await;
    agent.plugger.plug_vip(vip, &body).await?;
    Ok(accepted("VIP plugged"))
}

async fn vip_status(State(agent): Shared, Path(vip): Path<String>) -> ApiResult<Json<VipStatus>> {
    let vip = parse_vip(&vip)?;
    Ok(Json(VipStatus {
        held: agent.plugger.holds_vip(vip).await?,
    }))
}

fn parse_vip(text: &str) -> ApiResult<IpAddr> {
    text.parse()
        .map_err(|_| ApiError::invalid(format!("invalid VIP {text:?}")))
}

async fn put_certificate(State(agent): Shared, body: Bytes) -> ApiResult<Response> {
    let body: ServerCertificate = parse_body(&body)?;
    let _guard = agent.lock.lock().await;
    agent.tls.replace(&body)?;
    Ok(accepted("Certificate replaced"))
}

/// Stops keepalived, the VIP left in place, until the next bundle that changes its
/// configuration (see [`Keepalived::abandon`]).
async fn stop_vrrp(State(agent): Shared) -> ApiResult<Response> {
    let _guard = agent.lock.lock().await;
    let done = agent.keepalived.abandon().await?;
    tracing::info!("{done}");
    Ok(accepted(done))
}

async fn plug_network(State(agent): Shared, body: Bytes) -> ApiResult<Response> {
    let body: PlugNetwork = parse_body(&body)?;
    let _guard = agent.lock.lock().await;
    agent.plugger.plug_network(&body).await?;
    Ok(accepted("Network plugged"))
}

async fn apply_bundle(State(agent): Shared, body: Bytes) -> ApiResult<Json<BundleStatus>> {
    let bundle: AmphoraBundle = parse_body(&body)?;
    let _guard = agent.lock.lock().await;
    match Bundles::new(&agent).apply(&bundle).await? {
        Outcome::Applied { version } => Ok(Json(BundleStatus {
            version: Some(version),
        })),
        Outcome::Refused { reason } => Err(ApiError::invalid(reason)),
    }
}

async fn get_bundle(State(agent): Shared) -> Json<BundleStatus> {
    Json(BundleStatus {
        version: Bundles::new(&agent).version(),
    })
}

async fn get_config(State(agent): Shared, Path(lb_id): Path<String>) -> ApiResult<Response> {
    let lb_id = parse_id("load balancer id", &lb_id)?;
    let Some(text) = agent.haproxy.config(&lb_id)? else {
        return Err(ApiError::not_found("Loadbalancer Not Found"));
    };
    let etag = krater_agent_api::config_etag(&text);
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8".to_owned()),
            (header::ETAG, etag),
        ],
        text,
    )
        .into_response())
}

async fn lb_action(
    State(agent): Shared,
    Path((lb_id, action)): Path<(String, String)>,
) -> ApiResult<Response> {
    let lb_id = parse_id("load balancer id", &lb_id)?;
    let action: LbAction = action.parse().map_err(|_| {
        ApiError::invalid(format!(
            "Unknown action: {action:?}; expected start, stop or reload"
        ))
    })?;
    let _guard = agent.lock.lock().await;
    let done = match action {
        LbAction::Start => agent.haproxy.start(&lb_id).await?,
        LbAction::Stop => agent.haproxy.stop(&lb_id).await?,
        LbAction::Reload => agent.haproxy.reload(&lb_id).await?,
    };
    tracing::info!(lb_id, %action, "{done}");
    Ok(accepted(done))
}

async fn not_found() -> ApiError {
    ApiError::not_found("Not Found")
}

/// 202 `{"message": "OK", "details": <what was done>}`
fn accepted(details: &str) -> Response {
    (
        StatusCode::ACCEPTED,
        Json(Message::with_details("OK", details)),
    )
        .into_response()
}

fn parse_body<T: DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    serde_json::from_slice(body).map_err(|e| ApiError::invalid(e.to_string()))
}
