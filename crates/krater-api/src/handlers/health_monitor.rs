//! `/v2/lbaas/healthmonitors`.

use super::*;
use crate::body::{invalid, Field, Input};
use crate::views;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use krater_domain::flow::{Flow, ObjectKind, ObjectRef};
use krater_domain::grammar::{self, Refused};
use krater_domain::*;

pub(super) const UPDATE_FIELDS: &[&str] = &[
    "name",
    "admin_state_up",
    "delay",
    "timeout",
    "max_retries",
    "max_retries_down",
    "http_method",
    "url_path",
    "expected_codes",
    "http_version",
    "domain_name",
    "tags",
];
const CREATE_ONLY_FIELDS: &[&str] = &["pool_id", "type", "project_id", "tenant_id"];
/// Fields only HTTP and HTTPS monitors take (`http_version` and `domain_name` are
/// taken, and ignored, by every type, as in Octavia).
const HTTP_ONLY_FIELDS: &[&str] = &["http_method", "url_path", "expected_codes"];
const DEFAULT_URL_PATH: &str = "/";
const DEFAULT_EXPECTED_CODES: &str = "200";
const DEFAULT_MAX_RETRIES_DOWN: i64 = 3;
const UDP_CONNECT_MIN_DELAY: i64 = 3;

/// The settings an update may change (and a create may give).
struct Settings {
    name: Field<String>,
    admin_state_up: Field<bool>,
    delay: Field<i64>,
    timeout: Field<i64>,
    max_retries: Field<i64>,
    max_retries_down: Field<i64>,
    http_method: Field<HttpMethod>,
    url_path: Field<String>,
    expected_codes: Field<String>,
    http_version: Field<f64>,
    domain_name: Field<String>,
    tags: Field<Vec<String>>,
}

/// Octavia's shape of `expected_codes`: `200`, `200,202` or `200-204` (the codes
/// themselves are then checked by [`grammar::expected_codes`]).
fn octavia_expected_codes_shape(codes: &str) -> bool {
    let code = |c: &str| c.len() == 3 && c.bytes().all(|b| b.is_ascii_digit());
    if let Some((from, to)) = codes.split_once('-') {
        return code(from) && code(to);
    }
    codes.split(',').all(|c| code(c.trim()))
}

fn parse_settings(input: &Input) -> ApiResult<Settings> {
    let url_path = input.string("url_path", 255)?;
    if let Field::Value(path) = &url_path {
        if grammar::url_path(path).is_err() {
            return Err(invalid(
                "url_path",
                path,
                "Value must be a valid URL Path string",
            ));
        }
    }
    let expected_codes = input.string("expected_codes", 64)?;
    if let Field::Value(codes) = &expected_codes {
        if !octavia_expected_codes_shape(codes) {
            return Err(invalid(
                "expected_codes",
                codes,
                "Value should match the pattern ^(\\d{3}(\\s*,\\s*\\d{3})*)$|^(\\d{3}-\\d{3})$",
            ));
        }
        // Codes HTTP does not have, or a range going downwards, would make a monitor
        // that marks every member down: Octavia takes them, krater refuses them.
        if let Err(Refused(reason)) = grammar::expected_codes(codes) {
            return Err(invalid(
                "expected_codes",
                codes,
                &format!("Value is invalid: {reason}"),
            ));
        }
    }
    let http_version = match input.raw_value("http_version") {
        None => Field::Absent,
        Some(Value::Null) => Field::Null,
        Some(value) => match value
            .as_f64()
            .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
        {
            Some(v) if v == 1.0 || v == 1.1 => Field::Value(v),
            Some(v) => {
                return Err(invalid(
                    "http_version",
                    &format!("{v:?}"),
                    "Value should be one of: 1.0, 1.1",
                ))
            }
            None => {
                return Err(invalid(
                    "http_version",
                    &value.to_string(),
                    "Value should be one of: 1.0, 1.1",
                ))
            }
        },
    };
    let domain_name = input.string("domain_name", 255)?;
    if let Field::Value(domain) = &domain_name {
        if grammar::domain_name(domain).is_err() {
            return Err(invalid(
                "domain_name",
                domain,
                "Value should match the pattern ^(?=.{1,253}\\.?$)(?:(?!-|[^.]+_)[A-Za-z0-9-_]{1,63}(?<!-)(?:\\.|$))+$",
            ));
        }
    }
    Ok(Settings {
        name: input.string("name", NAME_MAX)?,
        admin_state_up: input.boolean("admin_state_up")?,
        delay: seconds(input, "delay", grammar::check_interval)?,
        timeout: seconds(input, "timeout", grammar::check_timeout)?,
        max_retries: input.int("max_retries", Some(1), Some(10))?,
        max_retries_down: input.int("max_retries_down", Some(1), Some(10))?,
        http_method: input.enumeration::<HttpMethod>("http_method")?,
        url_path,
        expected_codes,
        http_version,
        domain_name,
        tags: input.string_list("tags", TAGS_MAX)?,
    })
}

/// A number of seconds: first Octavia's type (0 to 2^31 − 1), then the grammar of the
/// field, since HAProxy cannot check every 0 s nor count past ~24 days.
fn seconds(
    input: &Input,
    field: &str,
    grammar: impl Fn(i64) -> Result<i64, Refused>,
) -> ApiResult<Field<i64>> {
    let value = input.int(field, Some(0), Some(i64::from(i32::MAX)))?;
    if let Field::Value(seconds) = value {
        if let Err(Refused(reason)) = grammar(seconds) {
            return Err(invalid(
                field,
                &seconds.to_string(),
                &format!("Value {reason}"),
            ));
        }
    }
    Ok(value)
}

/// Checks the fields against the monitor's type and the pool's protocol. As in
/// Octavia, a create refuses an HTTP-only field that is not null, an update one that
/// is given at all.
fn check_type(
    input: &Input,
    kind: HealthMonitorType,
    pool: &Pool,
    delay: i64,
    creating: bool,
) -> ApiResult<()> {
    if !kind.is_http() {
        for field in HTTP_ONLY_FIELDS {
            let given = match input.raw_value(field) {
                None => false,
                Some(value) if creating => !value.is_null(),
                Some(_) => true,
            };
            if given {
                return Err(ApiError::bad_request(format!(
                    "{field} is not a valid option for health monitors of type {kind}"
                )));
            }
        }
    }
    let udp_pool = matches!(pool.protocol, PoolProtocol::Udp | PoolProtocol::Sctp);
    match kind {
        HealthMonitorType::UdpConnect | HealthMonitorType::Sctp if !udp_pool => {
            return Err(ApiError::validation(format!(
                "The {kind} type is only supported for pools of type UDP/SCTP."
            )))
        }
        HealthMonitorType::Https | HealthMonitorType::Ping | HealthMonitorType::TlsHello
            if udp_pool =>
        {
            return Err(ApiError::validation(format!(
                "The associated pool protocol is {}. Health monitors of type {kind} are not supported for this pool protocol.",
                pool.protocol
            )))
        }
        HealthMonitorType::UdpConnect if delay < UDP_CONNECT_MIN_DELAY => {
            return Err(ApiError::validation(format!(
                "The request delay value {delay} should be larger than {UDP_CONNECT_MIN_DELAY} for {kind} health monitor type."
            )))
        }
        _ => {}
    }
    Ok(())
}

/// `domain_name` needs an `http_version`, and that version must be 1.1. `asked` is
/// the domain the request gives; `domain` and `version` are what the monitor would
/// have.
fn check_domain(asked: Option<&str>, domain: Option<&str>, version: Option<f64>) -> ApiResult<()> {
    let given = |d: Option<&str>| d.is_some_and(|d| !d.is_empty());
    if given(asked) && version.is_none() {
        return Err(ApiError::validation(
            "'http_version' must be specified when 'domain_name' is provided.",
        ));
    }
    match version {
        Some(v) if given(domain) && v < 1.1 => Err(ApiError::bad_request(format!(
            "http_version {v:?} is not a valid option for health monitors HTTP 1.1 domain name health check"
        ))),
        _ => Ok(()),
    }
}

/// A new monitor as a create, or a pool of a fully populated load balancer, gives it.
pub(super) struct MonitorSpec {
    kind: HealthMonitorType,
    delay: i64,
    timeout: i64,
    max_retries: i64,
    settings: Settings,
}

pub(super) fn parse_spec(input: &Input) -> ApiResult<MonitorSpec> {
    let kind_field = input.enumeration::<HealthMonitorType>("type")?;
    let kind = input.required("type", kind_field)?;
    let settings = parse_settings(input)?;
    Ok(MonitorSpec {
        kind,
        delay: input.required("delay", settings.delay.clone())?,
        timeout: input.required("timeout", settings.timeout.clone())?,
        max_retries: input.required("max_retries", settings.max_retries.clone())?,
        settings,
    })
}

/// The monitor a spec describes for `pool`, PENDING_CREATE, once checked against the
/// pool's protocol.
pub(super) fn new_health_monitor(
    input: &Input,
    spec: MonitorSpec,
    pool: &Pool,
    project_id: String,
) -> ApiResult<HealthMonitor> {
    let MonitorSpec {
        kind,
        delay,
        timeout,
        max_retries,
        settings: s,
    } = spec;
    check_type(input, kind, pool, delay, true)?;
    let domain_name = s.domain_name.value();
    let http_version = s.http_version.value();
    check_domain(domain_name.as_deref(), domain_name.as_deref(), http_version)?;
    let http = kind.is_http();
    Ok(HealthMonitor {
        id: uuid::Uuid::new_v4().to_string(),
        project_id,
        pool_id: pool.id.clone(),
        name: optional_text(s.name),
        provisioning_status: ProvisioningStatus::PendingCreate,
        operating_status: OperatingStatus::Offline,
        admin_state_up: flag_or(s.admin_state_up, true),
        kind,
        delay,
        timeout,
        max_retries,
        max_retries_down: s
            .max_retries_down
            .value()
            .unwrap_or(DEFAULT_MAX_RETRIES_DOWN),
        http_method: http.then(|| s.http_method.value().unwrap_or(HttpMethod::Get)),
        url_path: http.then(|| {
            s.url_path
                .value()
                .unwrap_or_else(|| DEFAULT_URL_PATH.into())
        }),
        expected_codes: http.then(|| {
            s.expected_codes
                .value()
                .unwrap_or_else(|| DEFAULT_EXPECTED_CODES.into())
        }),
        http_version,
        domain_name,
        tags: s.tags.value().unwrap_or_default(),
        created_at: now(),
        updated_at: None,
    })
}

pub async fn create(
    state: State<AppState>,
    caller: Caller,
    uri: Uri,
    body: Bytes,
) -> ApiResult<Response> {
    let allowed = fields_of(UPDATE_FIELDS, CREATE_ONLY_FIELDS);
    let input = Input::parse(&body, "healthmonitor", "health_monitor_", &allowed)?;
    let pool_field = input.uuid("pool_id")?;
    let pool_id = input.required("pool_id", pool_field)?;
    let spec = parse_spec(&input)?;
    // A child belongs to its load balancer's project; the body's is only checked.
    body_project(&input)?;

    let mut tx = state.db.begin().await?;
    let pool = super::pool::find(&mut tx, &caller, &pool_id).await?;
    let monitor = new_health_monitor(&input, spec, &pool, pool.project_id.clone())?;
    let lb = tx
        .load_balancer(&pool.load_balancer_id)
        .await?
        .ok_or_else(|| missing(Table::LoadBalancer, &pool.load_balancer_id))?;
    super::unenforced::check_health_monitor(&lb.provider, &monitor)?;
    if tx.health_monitor_of(&pool_id).await?.is_some() {
        return Err(ApiError::conflict("This pool already has a health monitor"));
    }
    tx.lock(Lock::NewChildOf(Table::Pool, &pool.id)).await?;
    tx.save_health_monitor(&monitor).await?;
    tx.enqueue(&Flow::ApplyChildren {
        lb_id: pool.load_balancer_id.clone(),
        changed: vec![ObjectRef::new(ObjectKind::HealthMonitor, &monitor.id)],
    })
    .await?;
    tx.commit().await?;
    Ok(one(
        StatusCode::CREATED,
        "healthmonitor",
        views::to_value(views::health_monitor(&monitor)),
        &Query::parse(uri.query()),
    ))
}

/// The health monitor `id` if the caller reaches it, else Octavia's 404.
async fn find(tx: &mut Tx, caller: &Caller, id: &str) -> ApiResult<HealthMonitor> {
    tx.health_monitor(id)
        .await?
        .filter(|h| caller.scope().admits(&h.project_id))
        .ok_or_else(|| missing(Table::HealthMonitor, id))
}

pub async fn show(
    state: State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    uri: Uri,
) -> ApiResult<Response> {
    let mut tx = state.db.begin().await?;
    let monitor = find(&mut tx, &caller, &id).await?;
    Ok(one(
        StatusCode::OK,
        "healthmonitor",
        views::to_value(views::health_monitor(&monitor)),
        &Query::parse(uri.query()),
    ))
}

pub async fn list(
    state: State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<Response> {
    let caller = crate::Caller::from_headers(&headers, &state);
    let asked = list_query(&state, &uri, &query::HEALTH_MONITORS)?;
    let mut tx = state.db.begin().await?;
    let monitors = tx.list_health_monitors(&caller.scope(), &asked.1).await?;
    let page = monitors
        .iter()
        .map(|h| views::to_value(views::health_monitor(h)))
        .collect();
    Ok(list_of(
        &state,
        &headers,
        &uri,
        &query::HEALTH_MONITORS,
        page,
        &asked,
    ))
}

pub async fn update(
    state: State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    uri: Uri,
    body: Bytes,
) -> ApiResult<Response> {
    let input = Input::parse(&body, "healthmonitor", "health_monitor_", UPDATE_FIELDS)?;
    let s = parse_settings(&input)?;
    for (name, field) in [
        ("delay", &s.delay),
        ("timeout", &s.timeout),
        ("max_retries", &s.max_retries),
    ] {
        if *field == Field::Null {
            return Err(invalid(name, "None", "Mandatory field missing."));
        }
    }
    let mut tx = state.db.begin().await?;
    let mut monitor = find(&mut tx, &caller, &id).await?;
    let pool = super::pool::find(&mut tx, &caller, &monitor.pool_id).await?;
    let delay = s.delay.clone().value().unwrap_or(monitor.delay);
    check_type(&input, monitor.kind, &pool, delay, false)?;
    let asked_domain = s.domain_name.clone().value();
    let http = monitor.kind.is_http();
    monitor.name = updated(s.name.map(Some), monitor.name, None).filter(|n| !n.is_empty());
    if let Field::Value(up) = s.admin_state_up {
        monitor.admin_state_up = up;
    }
    monitor.delay = delay;
    monitor.timeout = s.timeout.value().unwrap_or(monitor.timeout);
    monitor.max_retries = s.max_retries.value().unwrap_or(monitor.max_retries);
    monitor.max_retries_down = updated(
        s.max_retries_down,
        monitor.max_retries_down,
        DEFAULT_MAX_RETRIES_DOWN,
    );
    if http {
        monitor.http_method = Some(updated(
            s.http_method,
            monitor.http_method.unwrap_or(HttpMethod::Get),
            HttpMethod::Get,
        ));
        monitor.url_path = Some(updated(
            s.url_path,
            monitor.url_path.unwrap_or_else(|| DEFAULT_URL_PATH.into()),
            DEFAULT_URL_PATH.into(),
        ));
        monitor.expected_codes = Some(updated(
            s.expected_codes,
            monitor
                .expected_codes
                .unwrap_or_else(|| DEFAULT_EXPECTED_CODES.into()),
            DEFAULT_EXPECTED_CODES.into(),
        ));
    }
    monitor.http_version = updated(s.http_version.map(Some), monitor.http_version, None);
    monitor.domain_name = updated(s.domain_name.map(Some), monitor.domain_name, None);
    check_domain(
        asked_domain.as_deref(),
        monitor.domain_name.as_deref(),
        monitor.http_version,
    )?;
    monitor.tags = updated(s.tags, monitor.tags, vec![]);
    tx.lock(Lock::Update(Table::HealthMonitor, &id)).await?;
    monitor.provisioning_status = ProvisioningStatus::PendingUpdate;
    monitor.updated_at = Some(now());
    tx.save_health_monitor(&monitor).await?;
    tx.enqueue(&Flow::ApplyChildren {
        lb_id: pool.load_balancer_id.clone(),
        changed: vec![ObjectRef::new(ObjectKind::HealthMonitor, &id)],
    })
    .await?;
    tx.commit().await?;
    Ok(one(
        StatusCode::OK,
        "healthmonitor",
        views::to_value(views::health_monitor(&monitor)),
        &Query::parse(uri.query()),
    ))
}

pub async fn delete(
    state: State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let mut tx = state.db.begin().await?;
    let monitor = find(&mut tx, &caller, &id).await?;
    let pool = super::pool::find(&mut tx, &caller, &monitor.pool_id).await?;
    tx.lock(Lock::Delete(Table::HealthMonitor, &id)).await?;
    tx.enqueue(&Flow::ApplyChildren {
        lb_id: pool.load_balancer_id.clone(),
        changed: vec![ObjectRef::new(ObjectKind::HealthMonitor, &id)],
    })
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
