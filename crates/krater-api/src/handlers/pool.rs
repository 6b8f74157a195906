//! `/v2/lbaas/pools`.

use super::*;
use crate::body::{invalid, Field, Input};
use crate::views::{self, References};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use krater_domain::flow::{Flow, ObjectKind, ObjectRef};
use krater_domain::*;
use serde_json::Map;

pub(super) const COMMON_FIELDS: &[&str] = &[
    "name",
    "description",
    "admin_state_up",
    "lb_algorithm",
    "session_persistence",
    "tags",
    "tls_enabled",
    "tls_container_ref",
    "ca_tls_container_ref",
    "crl_container_ref",
    "tls_ciphers",
    "tls_versions",
    "alpn_protocols",
];
const CREATE_ONLY_FIELDS: &[&str] = &[
    "listener_id",
    "loadbalancer_id",
    "protocol",
    "project_id",
    "tenant_id",
    "healthmonitor",
    "members",
];

/// WSME's path of the type of a pool given on its own.
const POOL_ARG: &str = "pool_.pool";

/// Parses the `session_persistence` of a pool given as `argument` (WSME's path of the
/// pool's type, for its errors) and checks it against the pool's protocol.
fn session_persistence(
    pool: &Input,
    argument: &str,
    map: Map<String, Value>,
    protocol: PoolProtocol,
    creating: bool,
) -> ApiResult<SessionPersistence> {
    let allowed = [
        "type",
        "cookie_name",
        "persistence_timeout",
        "persistence_granularity",
    ];
    let input = pool.element(
        &Value::Object(map),
        &format!("{argument}.session_persistence"),
        &allowed,
    )?;
    let kind_field = input.enumeration::<SessionPersistenceType>("type")?;
    let kind = match kind_field {
        Field::Value(kind) => kind,
        // Octavia's update finds no type only once it checks the whole object.
        _ if !creating => {
            return Err(ApiError::validation(
                "Invalid session_persistence provided.",
            ))
        }
        missing => input.required("type", missing)?,
    };
    let cookie_name = input.string("cookie_name", 255)?.value();
    if let Some(cookie) = &cookie_name {
        if cookie.is_empty()
            || cookie
                .chars()
                .any(|c| c.is_whitespace() || matches!(c, ',' | ';' | '\\'))
        {
            return Err(invalid(
                "cookie_name",
                cookie,
                "Value should match the pattern ^[^\\s,;\\\\]+$",
            ));
        }
    }
    let persistence_timeout = input.int("persistence_timeout", None, None)?.value();
    let persistence_granularity = input
        .ip_address("persistence_granularity")?
        .value()
        .map(|ip| ip.to_string());
    if matches!(protocol, PoolProtocol::Udp | PoolProtocol::Sctp) {
        if kind == SessionPersistenceType::SourceIp && cookie_name.is_some() {
            return Err(ApiError::validation(
                "session_persistence SOURCE_IP type for UDP and SCTP protocols only accepts: type, persistence_timeout, persistence_granularity.",
            ));
        }
        if cookie_name.is_some() {
            return Err(ApiError::validation(
                "Cookie names are not supported for UDP/SCTP pools.",
            ));
        }
        if kind != SessionPersistenceType::SourceIp {
            return Err(ApiError::validation(format!(
                "Session persistence of type {kind} is not supported for UDP/SCTP protocol pools."
            )));
        }
    } else if persistence_timeout.is_some() || persistence_granularity.is_some() {
        return Err(ApiError::validation(
            "persistence_timeout and persistence_granularity is only for UDP and SCTP protocol pools.",
        ));
    }
    match (kind, &cookie_name) {
        (SessionPersistenceType::AppCookie, None) => {
            return Err(ApiError::validation(
                "Field \"cookie_name\" must be specified when using the \"APP_COOKIE\" session persistence type.",
            ))
        }
        (SessionPersistenceType::AppCookie, Some(_)) | (_, None) => {}
        (_, Some(_)) => {
            return Err(ApiError::validation(
                "Field \"cookie_name\" can only be specified with session persistence of type \"APP_COOKIE\".",
            ))
        }
    }
    // Octavia refuses some names (`=`, `)`, `"`) and takes others (`#`, non-ASCII)
    // that HAProxy cannot use: krater refuses all with Octavia's message.
    if cookie_name
        .as_deref()
        .is_some_and(|c| krater_domain::grammar::cookie_name(c).is_err())
    {
        return Err(ApiError::validation("Supplied \"cookie_name\" is invalid."));
    }
    Ok(SessionPersistence {
        kind,
        cookie_name,
        persistence_timeout,
        persistence_granularity,
    })
}

/// Refuses the options this deployment cannot carry out yet.
/// A persistence granularity is a mask of the client's address: of the VIP's
/// address family, or it could match no client.
fn check_granularity_family(pool: &Pool, lb: &krater_domain::LoadBalancer) -> ApiResult<()> {
    let mask = pool
        .session_persistence
        .as_ref()
        .and_then(|sp| sp.persistence_granularity.as_deref())
        .and_then(|m| m.parse::<std::net::IpAddr>().ok());
    let vip = lb
        .vip
        .ip_address
        .as_deref()
        .and_then(|v| v.parse::<std::net::IpAddr>().ok());
    match (mask, vip) {
        (Some(mask), Some(vip)) if mask.is_ipv4() != vip.is_ipv4() => {
            Err(ApiError::validation(format!(
                "persistence_granularity {mask} is not of the address family of the VIP {vip}."
            )))
        }
        _ => Ok(()),
    }
}

pub(super) fn check_unsupported(input: &Input, lb_algorithm: Option<LbAlgorithm>) -> ApiResult<()> {
    if lb_algorithm == Some(LbAlgorithm::SourceIpPort) {
        return Err(ApiError::unsupported_option(
            "amphora",
            "Amphora provider does not support SOURCE_IP_PORT algorithm.",
        ));
    }
    if input.boolean("tls_enabled")? == Field::Value(true) {
        return Err(ApiError::unsupported_option(
            "amphora",
            "TLS to members is not supported yet.",
        ));
    }
    for tls in [
        "tls_container_ref",
        "ca_tls_container_ref",
        "crl_container_ref",
    ] {
        if let Field::Value(reference) = input.string(tls, 255)? {
            return Err(ApiError::bad_request(format!(
                "Could not retrieve certificate: ['{reference}']"
            )));
        }
    }
    Ok(())
}

/// A new pool as a create, or an entry of a fully populated load balancer, gives it.
pub(super) struct PoolSpec {
    pub(super) protocol: PoolProtocol,
    pub(super) lb_algorithm: LbAlgorithm,
    name: Field<String>,
    description: Field<String>,
    admin_state_up: bool,
    tags: Vec<String>,
    persistence: Option<SessionPersistence>,
    tls: TlsOptions,
}

/// A pool create as given in `argument` (WSME's path of its type, for errors).
pub(super) fn parse_spec(input: &Input, argument: &str) -> ApiResult<PoolSpec> {
    let protocol_field = input.enumeration::<PoolProtocol>("protocol")?;
    let protocol = input.required("protocol", protocol_field)?;
    let algorithm_field = input.enumeration::<LbAlgorithm>("lb_algorithm")?;
    let lb_algorithm = input.required("lb_algorithm", algorithm_field)?;
    Ok(PoolSpec {
        protocol,
        lb_algorithm,
        name: input.string("name", NAME_MAX)?,
        description: input.string("description", NAME_MAX)?,
        admin_state_up: flag_or(input.boolean("admin_state_up")?, true),
        tags: input
            .string_list("tags", TAGS_MAX)?
            .value()
            .unwrap_or_default(),
        persistence: match input.object("session_persistence")? {
            Field::Value(map) => Some(session_persistence(input, argument, map, protocol, true)?),
            _ => None,
        },
        tls: tls::created(tls::parse(input)?),
    })
}

/// The pool a spec describes, PENDING_CREATE on load balancer `lb_id`.
pub(super) fn new_pool(spec: PoolSpec, lb_id: &str, project_id: String) -> Pool {
    Pool {
        id: uuid::Uuid::new_v4().to_string(),
        project_id,
        load_balancer_id: lb_id.to_string(),
        name: optional_text(spec.name),
        description: optional_text(spec.description),
        provisioning_status: ProvisioningStatus::PendingCreate,
        operating_status: OperatingStatus::Offline,
        admin_state_up: spec.admin_state_up,
        protocol: spec.protocol,
        lb_algorithm: spec.lb_algorithm,
        session_persistence: spec.persistence,
        tls_enabled: false,
        tls: spec.tls,
        tags: spec.tags,
        created_at: now(),
        updated_at: None,
    }
}

/// A listener forwards only to pools that speak a protocol it can carry.
pub(super) fn check_listener_protocol(
    listener: ListenerProtocol,
    pool: PoolProtocol,
) -> ApiResult<()> {
    if !listener.allowed_pool_protocols().contains(&pool) {
        return Err(ApiError::validation(format!(
            "The pool protocol '{pool}' is invalid while the listener protocol is '{listener}'."
        )));
    }
    Ok(())
}

pub async fn create(
    state: State<AppState>,
    caller: Caller,
    uri: Uri,
    body: Bytes,
) -> ApiResult<Response> {
    let allowed = fields_of(COMMON_FIELDS, CREATE_ONLY_FIELDS);
    let input = Input::parse(&body, "pool", "pool_", &allowed)?;
    let spec = parse_spec(&input, POOL_ARG)?;
    let listener_id = input.uuid("listener_id")?.value();
    let loadbalancer_id = input.uuid("loadbalancer_id")?.value();
    // A child belongs to its load balancer's project; the body's is only checked.
    body_project(&input)?;
    let nested = nested_child(&input, &["healthmonitor"], &["members"])?;

    let mut tx = state.db.begin().await?;
    let listener = match &listener_id {
        Some(id) => Some(
            tx.listener(id)
                .await?
                .ok_or_else(|| missing(Table::Listener, id))?,
        ),
        None => None,
    };
    let lb_id = match (&loadbalancer_id, &listener) {
        (Some(lb), Some(l)) if &l.load_balancer_id != lb => {
            return Err(ApiError::validation(
                "Load Balancer and Listener must belong to the same Load Balancer.",
            ))
        }
        (Some(lb), _) => lb.clone(),
        (None, Some(l)) => l.load_balancer_id.clone(),
        (None, None) => {
            return Err(ApiError::validation(
                "Must provide at least one of: loadbalancer_id, listener_id",
            ))
        }
    };
    let lb = super::load_balancer::find(&mut tx, &caller, &lb_id).await?;
    refuse_nested(nested, "pool", &lb.provider)?;
    if let Some(listener) = &listener {
        if listener.default_pool_id.is_some() {
            return Err(ApiError::conflict(
                "This listener already has a default pool",
            ));
        }
        check_listener_protocol(listener.protocol, spec.protocol)?;
    }
    check_unsupported(&input, Some(spec.lb_algorithm))?;
    tx.lock(Lock::NewChildOf(Table::LoadBalancer, &lb_id))
        .await?;
    let pool = new_pool(spec, &lb_id, lb.project_id.clone());
    unenforced::check_pool(&lb.provider, &pool)?;
    check_granularity_family(&pool, &lb)?;
    tx.save_pool(&pool).await?;
    if let Some(mut listener) = listener {
        tx.lock(Lock::Update(Table::Listener, &listener.id)).await?;
        listener.default_pool_id = Some(pool.id.clone());
        tx.save_listener(&listener).await?;
    }
    tx.enqueue(&Flow::ApplyChildren {
        lb_id,
        changed: vec![ObjectRef::new(ObjectKind::Pool, &pool.id)],
    })
    .await?;
    let query = Query::parse(uri.query());
    let body = shown(&mut tx, &pool, &query).await?;
    tx.commit().await?;
    Ok(one(StatusCode::CREATED, "pool", body, &query))
}

/// The pool `id` if the caller reaches it, else Octavia's 404.
pub(super) async fn find(tx: &mut Tx, caller: &Caller, id: &str) -> ApiResult<Pool> {
    tx.pool(id)
        .await?
        .filter(|p| caller.scope().admits(&p.project_id))
        .ok_or_else(|| missing(Table::Pool, id))
}

/// One pool as its views show it.
async fn shown(tx: &mut Tx, pool: &Pool, query: &Query) -> ApiResult<Value> {
    let pools = std::slice::from_ref(pool);
    let references = References::of_pools(tx, pools, &query.fields()).await?;
    Ok(views::to_value(references.pool(pool)))
}

pub async fn show(
    state: State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    uri: Uri,
) -> ApiResult<Response> {
    let query = Query::parse(uri.query());
    let mut tx = state.db.begin().await?;
    let pool = find(&mut tx, &caller, &id).await?;
    let body = shown(&mut tx, &pool, &query).await?;
    Ok(one(StatusCode::OK, "pool", body, &query))
}

pub async fn list(
    state: State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<Response> {
    let caller = crate::Caller::from_headers(&headers, &state);
    let asked = list_query(&state, &uri, &query::POOLS)?;
    let mut tx = state.db.begin().await?;
    let pools = tx.list_pools(&caller.scope(), &asked.1).await?;
    let references = References::of_pools(&mut tx, &pools, &asked.0.fields()).await?;
    let page = pools
        .iter()
        .map(|p| views::to_value(references.pool(p)))
        .collect();
    Ok(list_of(&state, &headers, &uri, &query::POOLS, page, &asked))
}

pub async fn update(
    state: State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    uri: Uri,
    body: Bytes,
) -> ApiResult<Response> {
    let input = Input::parse(&body, "pool", "pool_", COMMON_FIELDS)?;
    let name = input.string("name", NAME_MAX)?;
    let description = input.string("description", NAME_MAX)?;
    let admin_state_up = input.boolean("admin_state_up")?;
    let lb_algorithm = input.enumeration::<LbAlgorithm>("lb_algorithm")?;
    let tags = input.string_list("tags", TAGS_MAX)?;
    let persistence_field = input.object("session_persistence")?;
    let tls_fields = tls::parse(&input)?;
    check_unsupported(&input, lb_algorithm.clone().value())?;

    let mut tx = state.db.begin().await?;
    let mut pool = find(&mut tx, &caller, &id).await?;
    let persistence = match persistence_field {
        Field::Value(map) => Field::Value(Some(session_persistence(
            &input,
            POOL_ARG,
            map,
            pool.protocol,
            false,
        )?)),
        Field::Null => Field::Null,
        Field::Absent => Field::Absent,
    };
    let tls = tls::updated_options(tls_fields, pool.tls.clone(), None)?;
    tx.lock(Lock::Update(Table::Pool, &id)).await?;
    pool.name = updated(name.map(Some), pool.name, None).filter(|s| !s.is_empty());
    pool.description =
        updated(description.map(Some), pool.description, None).filter(|s| !s.is_empty());
    if let Field::Value(up) = admin_state_up {
        pool.admin_state_up = up;
    }
    if let Field::Value(algorithm) = lb_algorithm {
        pool.lb_algorithm = algorithm;
    }
    pool.session_persistence = updated(persistence, pool.session_persistence, None);
    pool.tags = updated(tags, pool.tags, vec![]);
    pool.tls = tls;
    let lb = tx
        .load_balancer(&pool.load_balancer_id)
        .await?
        .ok_or_else(|| missing(Table::LoadBalancer, &pool.load_balancer_id))?;
    unenforced::check_pool(&lb.provider, &pool)?;
    check_granularity_family(&pool, &lb)?;
    pool.provisioning_status = ProvisioningStatus::PendingUpdate;
    pool.updated_at = Some(now());
    tx.save_pool(&pool).await?;
    tx.enqueue(&Flow::ApplyChildren {
        lb_id: pool.load_balancer_id.clone(),
        changed: vec![ObjectRef::new(ObjectKind::Pool, &id)],
    })
    .await?;
    let query = Query::parse(uri.query());
    let body = shown(&mut tx, &pool, &query).await?;
    tx.commit().await?;
    Ok(one(StatusCode::OK, "pool", body, &query))
}

pub async fn delete(
    state: State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let mut tx = state.db.begin().await?;
    let pool = find(&mut tx, &caller, &id).await?;
    if let Some(policy) = tx.l7policies_to_pool(&id).await?.first() {
        return Err(ApiError::conflict(format!(
            "Pool {id} is in use by L7 policy {}",
            policy.id
        )));
    }
    tx.lock(Lock::Delete(Table::Pool, &id)).await?;
    tx.enqueue(&Flow::ApplyChildren {
        lb_id: pool.load_balancer_id.clone(),
        changed: vec![ObjectRef::new(ObjectKind::Pool, &id)],
    })
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
