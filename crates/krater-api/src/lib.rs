//! The Octavia v2 REST API of krater.
//!
//! Handlers validate a request, take the status locks and write the objects and the
//! job of the change in one transaction ([`krater_db::Tx`]), then wake the worker.
//! They never call a driver that touches an amphora: the worker does that.
//! Only this crate knows HTTP status codes.

mod body;
mod error;
mod handlers;
mod query;
mod views;

pub use error::ApiError;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use krater_config::Config;
use krater_db::{Db, Scope};
use krater_drivers::LocalNetworks;
use std::sync::Arc;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
    pub networks: Arc<LocalNetworks>,
}

impl AppState {
    /// True for an address of `[networking] reserved_ips`, which no member and no VIP
    /// may take (compared as addresses, not as text).
    fn is_reserved_ip(&self, ip: std::net::IpAddr) -> bool {
        self.config
            .networking
            .reserved_ips
            .iter()
            .any(|reserved| reserved.parse() == Ok(ip))
    }
}

/// Who calls: a project and its roles, as Keystone's middleware passes them on
/// (`X-Project-Id`, `X-Roles`). noauth trusts the headers.
pub(crate) struct Caller {
    /// From X-Project-Id (or X-Tenant-Id), else the configured default project.
    pub project_id: String,
    /// From X-Roles (comma-separated); `None` when the request names none.
    pub roles: Option<Vec<String>>,
}

impl Caller {
    pub(crate) fn from_headers(headers: &HeaderMap, state: &AppState) -> Self {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        Self {
            project_id: header("x-project-id")
                .or_else(|| header("x-tenant-id"))
                .unwrap_or_else(|| state.config.api_settings.default_project_id.clone()),
            roles: header("x-roles").map(|roles| {
                roles
                    .split(',')
                    .map(|r| r.trim().to_ascii_lowercase())
                    .filter(|r| !r.is_empty())
                    .collect()
            }),
        }
    }

    /// An admin, or a caller without roles (noauth, as so far).
    pub(crate) fn is_admin(&self) -> bool {
        self.scope() == Scope::All
    }

    /// Whose objects the caller reaches: an admin every project's; a caller with roles
    /// but not `admin` only its own. Without roles (noauth, as so far) every project's.
    pub(crate) fn scope(&self) -> Scope {
        match &self.roles {
            Some(roles) if !roles.iter().any(|r| r == "admin") => {
                Scope::Project(self.project_id.clone())
            }
            _ => Scope::All,
        }
    }
}

#[axum::async_trait]
impl axum::extract::FromRequestParts<AppState> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Caller::from_headers(&parts.headers, state))
    }
}

/// The whole API as one router.
pub fn router(state: AppState) -> Router {
    let lbaas = handlers::lbaas_routes(&state);
    let octavia = handlers::octavia_routes();
    let neutron = handlers::network_routes();
    let api = Router::new()
        .merge(handlers::version_routes())
        .nest("/v2/lbaas", lbaas.clone())
        .nest("/v2.0/lbaas", lbaas.clone())
        .nest("/v2/octavia", octavia.clone())
        .nest("/v2.0/octavia", octavia)
        .nest("/v2", lbaas.clone())
        .nest("/v2.0", lbaas)
        .nest("/network/v2.0", neutron)
        .fallback(not_found)
        .layer(middleware::from_fn(method_not_allowed))
        .layer(middleware::from_fn(check_accept))
        .layer(middleware::from_fn(request_id))
        .with_state(state);
    // Routed again without a `.json` suffix or a trailing `/`, which Octavia (pecan)
    // accepts on any path; the outer router keeps the original URI for links.
    Router::new()
        .fallback_service(api)
        .layer(axum::middleware::map_request(normalise_path))
}

async fn normalise_path(mut request: Request) -> Request {
    let uri = request.uri();
    let path = uri.path();
    let trimmed = path.strip_suffix(".json").unwrap_or(path);
    let trimmed = match trimmed.strip_suffix('/') {
        Some(rest) if !rest.is_empty() => rest,
        _ => trimmed,
    };
    if trimmed.len() != path.len() {
        let rebuilt = match uri.query() {
            Some(query) => format!("{trimmed}?{query}"),
            None => trimmed.to_string(),
        };
        if let Ok(normalised) = rebuilt.parse() {
            *request.uri_mut() = normalised;
        }
    }
    request
}

/// A 405 in pecan's body format, as every other routing error.
async fn method_not_allowed(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if response.status() == StatusCode::METHOD_NOT_ALLOWED {
        return ApiError::pecan(StatusCode::METHOD_NOT_ALLOWED, "").into_response();
    }
    response
}

async fn not_found() -> ApiError {
    ApiError::pecan(StatusCode::NOT_FOUND, "")
}

/// Only JSON is served; anything a JSON client could send is accepted.
async fn check_accept(request: Request, next: Next) -> Response {
    let acceptable = match request
        .headers()
        .get("accept")
        .and_then(|v| v.to_str().ok())
    {
        None => true,
        Some(accept) => {
            accept.trim().is_empty()
                || accept.split(',').any(|part| {
                    let media = part.split(';').next().unwrap_or("").trim();
                    matches!(media, "*/*" | "application/*" | "application/json" | "")
                        || media.ends_with("+json")
                        || !media.contains('/')
                })
        }
    };
    if !acceptable {
        let body = serde_json::json!({
            "code": 406,
            "title": "Not Acceptable",
            "description": "Only content type application/json is accepted."
        });
        return (StatusCode::NOT_ACCEPTABLE, axum::Json(body)).into_response();
    }
    next.run(request).await
}

/// Every answer carries `x-openstack-request-id`.
async fn request_id(request: Request, next: Next) -> Response {
    let id = format!("req-{}", uuid::Uuid::new_v4());
    let mut response = next.run(request).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response
            .headers_mut()
            .insert("x-openstack-request-id", value);
    }
    response
}

/// The base URL of links: `api_base_uri`, else the request's own host when it is a
/// plain `host[:port]` (a Host header is never copied into a link otherwise), else
/// the bind address.
pub(crate) fn base_url(state: &State<AppState>, headers: &HeaderMap) -> String {
    let settings = &state.config.api_settings;
    if let Some(base) = &settings.api_base_uri {
        return base.trim_end_matches('/').to_string();
    }
    match headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .filter(|h| is_host(h))
    {
        Some(host) => format!("http://{host}"),
        None if settings.bind_host.contains(':') => {
            format!("http://[{}]:{}", settings.bind_host, settings.bind_port)
        }
        None => format!("http://{}:{}", settings.bind_host, settings.bind_port),
    }
}

/// `name[:port]` or `[v6][:port]`: nothing that could end the authority of a URL.
fn is_host(host: &str) -> bool {
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) if !name.ends_with(':') && !port.contains(']') => (name, Some(port)),
        _ => (host, None),
    };
    let name_ok = match name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
        Some(v6) => v6.parse::<std::net::Ipv6Addr>().is_ok(),
        None => {
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        }
    };
    name_ok && port.is_none_or(|p| p.parse::<u16>().is_ok())
}
