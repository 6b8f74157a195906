//! `/v2/lbaas/listeners`.

use super::*;
use crate::body::{invalid, Field, Input};
use crate::views;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use krater_domain::flow::{Flow, ObjectKind, ObjectRef};
use krater_domain::*;

const TIMEOUT_MAX: i64 = 2_073_600_000;
const DEFAULT_TIMEOUT_CLIENT_DATA: i64 = 50_000;
const DEFAULT_TIMEOUT_MEMBER_CONNECT: i64 = 5_000;
const DEFAULT_TIMEOUT_MEMBER_DATA: i64 = 50_000;
const DEFAULT_TIMEOUT_TCP_INSPECT: i64 = 0;

/// Fields a create and an update share.
pub(super) const COMMON_FIELDS: &[&str] = &[
    "name",
    "description",
    "admin_state_up",
    "connection_limit",
    "default_tls_container_ref",
    "sni_container_refs",
    "default_pool_id",
    "insert_headers",
    "timeout_client_data",
    "timeout_member_connect",
    "timeout_member_data",
    "timeout_tcp_inspect",
    "tags",
    "client_ca_tls_container_ref",
    "client_authentication",
    "client_crl_container_ref",
    "allowed_cidrs",
    "tls_ciphers",
    "tls_versions",
    "alpn_protocols",
    "hsts_max_age",
    "hsts_include_subdomains",
    "hsts_preload",
];
const CREATE_ONLY_FIELDS: &[&str] = &[
    "protocol",
    "protocol_port",
    "loadbalancer_id",
    "project_id",
    "tenant_id",
    "default_pool",
    "l7policies",
];

/// Headers HTTP listeners may insert.
const HTTP_HEADERS: &[&str] = &[
    "X-Forwarded-For",
    "X-Forwarded-Port",
    "X-Forwarded-Proto",
    "X-Forwarded-IP",
    "X-Client-IP",
    "X-Real-IP",
];
/// Headers only TERMINATED_HTTPS listeners may insert.
const TLS_HEADERS: &[&str] = &[
    "X-SSL-Client-Verify",
    "X-SSL-Client-Has-Cert",
    "X-SSL-Client-DN",
    "X-SSL-Client-CN",
    "X-SSL-Issuer",
    "X-SSL-Client-SHA1",
    "X-SSL-Client-Not-Before",
    "X-SSL-Client-Not-After",
];

/// The settings a create or an update may give, parsed and type-checked.
struct Settings {
    name: Field<String>,
    description: Field<String>,
    admin_state_up: Field<bool>,
    connection_limit: Field<i64>,
    default_pool_id: Field<String>,
    insert_headers: Field<Vec<(String, String)>>,
    timeouts: [Field<i64>; 4],
    tags: Field<Vec<String>>,
    allowed_cidrs: Field<Vec<String>>,
    tls: tls::TlsFields,
    hsts_max_age: Field<i64>,
    /// `hsts_include_subdomains` or `hsts_preload` asked for.
    hsts_flags: bool,
    /// The certificate references given (default, client CA, SNI).
    tls_refs: Vec<String>,
}

/// Certificate references need a TERMINATED_HTTPS listener, and a certificate store,
/// which this deployment does not have yet: the references can never be retrieved.
fn check_tls_refs(protocol: ListenerProtocol, refs: &[String]) -> ApiResult<()> {
    if refs.is_empty() {
        return Ok(());
    }
    if protocol != ListenerProtocol::TerminatedHttps {
        return Err(ApiError::validation(format!(
            "Certificate container references are not allowed on {protocol} protocol listeners."
        )));
    }
    Err(could_not_retrieve(refs))
}

fn could_not_retrieve(refs: &[String]) -> ApiError {
    let shown: Vec<String> = refs.iter().map(|r| format!("'{r}'")).collect();
    ApiError::bad_request(format!(
        "Could not retrieve certificate: [{}]",
        shown.join(", ")
    ))
}

fn parse_settings(input: &Input) -> ApiResult<Settings> {
    let timeout = |name: &str| input.int(name, Some(0), Some(TIMEOUT_MAX));
    let mut settings = Settings {
        tls_refs: Vec::new(),
        name: input.string("name", NAME_MAX)?,
        description: input.string("description", NAME_MAX)?,
        admin_state_up: input.boolean("admin_state_up")?,
        connection_limit: input.int("connection_limit", Some(-1), None)?,
        default_pool_id: input.uuid("default_pool_id")?,
        insert_headers: match input.object("insert_headers")? {
            Field::Value(map) => {
                let mut headers = Vec::new();
                for (key, value) in map {
                    let Some(value) = value.as_str() else {
                        return Err(invalid(
                            "insert_headers",
                            &value.to_string(),
                            "Value should be string",
                        ));
                    };
                    if value.chars().count() > 255 {
                        return Err(invalid(
                            "insert_headers",
                            value,
                            "Value should have a maximum character requirement of 255",
                        ));
                    }
                    headers.push((key, value.to_string()));
                }
                Field::Value(headers)
            }
            Field::Null => Field::Null,
            Field::Absent => Field::Absent,
        },
        timeouts: [
            timeout("timeout_client_data")?,
            timeout("timeout_member_connect")?,
            timeout("timeout_member_data")?,
            timeout("timeout_tcp_inspect")?,
        ],
        tags: input.string_list("tags", TAGS_MAX)?,
        allowed_cidrs: match input.string_list("allowed_cidrs", 64)? {
            Field::Value(list) => Field::Value(
                list.iter()
                    .map(|c| grammar::cidr(c))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|_| {
                        let shown: Vec<String> = list.iter().map(|c| format!("'{c}'")).collect();
                        invalid(
                            "allowed_cidrs",
                            &format!("[{}]", shown.join(", ")),
                            "Value should be IPv4 or IPv6 CIDR format",
                        )
                    })?,
            ),
            other => other,
        },
        tls: tls::parse(input)?,
        hsts_max_age: input.int("hsts_max_age", Some(0), None)?,
        hsts_flags: input.boolean("hsts_include_subdomains")? == Field::Value(true)
            || input.boolean("hsts_preload")? == Field::Value(true),
    };
    // TLS settings need a certificate store, which this deployment does not have yet.
    for tls in ["default_tls_container_ref", "client_ca_tls_container_ref"] {
        if let Field::Value(reference) = input.string(tls, 255)? {
            settings.tls_refs.push(reference);
        }
    }
    if let Field::Value(refs) = input.string_list("sni_container_refs", 255)? {
        settings.tls_refs.extend(refs);
    }
    if let Field::Value(reference) = input.string("client_crl_container_ref", 255)? {
        return Err(could_not_retrieve(&[reference]));
    }
    if let Field::Value(auth) = input.string("client_authentication", 16)? {
        if !["NONE", "OPTIONAL", "MANDATORY"].contains(&auth.as_str()) {
            return Err(invalid(
                "client_authentication",
                &auth,
                "Value should be one of: NONE, OPTIONAL, MANDATORY",
            ));
        }
        if auth != "NONE" {
            return Err(ApiError::validation(
                "Client authentication setting OPTIONAL or MANDATORY requires a client certificate authority.",
            ));
        }
    }
    Ok(settings)
}

/// HSTS headers are sent by TERMINATED_HTTPS listeners only, and its flags need a max
/// age. A listener of this deployment never has one stored (it has no TERMINATED_HTTPS
/// listeners yet), so an update is checked like a create, with Octavia's other message.
fn check_hsts(protocol: ListenerProtocol, settings: &Settings, creating: bool) -> ApiResult<()> {
    let max_age = matches!(settings.hsts_max_age, Field::Value(_));
    if settings.hsts_flags && !max_age {
        return Err(ApiError::validation(if creating {
            "HSTS configuration options hsts_include_subdomains and hsts_preload only make sense if hsts_max_age is set as well."
        } else {
            "Cannot enable hsts_include_subdomains or hsts_preload if hsts_max_age was not set as well."
        }));
    }
    if max_age && protocol != ListenerProtocol::TerminatedHttps {
        return Err(ApiError::validation(
            "The HSTS feature can only be used for listeners using the TERMINATED_HTTPS protocol.",
        ));
    }
    Ok(())
}

/// The headers a listener of `protocol` may insert. Octavia quotes the unknown ones as
/// a Python `dict_keys` on a create and as a list on an update.
fn check_insert_headers(
    protocol: ListenerProtocol,
    headers: &[(String, String)],
    creating: bool,
) -> ApiResult<()> {
    if headers.is_empty() {
        return Ok(());
    }
    let allowed: Vec<&str> = match protocol {
        ListenerProtocol::Http => HTTP_HEADERS.to_vec(),
        ListenerProtocol::TerminatedHttps => {
            HTTP_HEADERS.iter().chain(TLS_HEADERS).copied().collect()
        }
        other => {
            return Err(ApiError::bad_request(format!(
                "insert-headers is not a valid option for a {other} protocol listener."
            )))
        }
    };
    let unknown: Vec<String> = headers
        .iter()
        .filter(|(key, _)| !allowed.contains(&key.as_str()))
        .map(|(key, _)| format!("'{key}'"))
        .collect();
    if !unknown.is_empty() {
        return Err(ApiError::bad_request(format!(
            "{}[{}]{} is not a valid option for insert_headers",
            if creating { "dict_keys(" } else { "" },
            unknown.join(", "),
            if creating { ")" } else { "" },
        )));
    }
    Ok(())
}

/// Every allowed CIDR must be of the IP version of one of the load balancer's VIPs.
fn check_cidrs_match_vip(lb: &LoadBalancer, cidrs: &[String]) -> ApiResult<()> {
    let vips: Vec<&str> = lb.vip.ip_address.iter().map(String::as_str).collect();
    for cidr in cidrs {
        let v6 = cidr.contains(':');
        if !vips.iter().any(|vip| vip.contains(':') == v6) {
            let shown: Vec<String> = vips.iter().map(|v| format!("'{v}'")).collect();
            return Err(ApiError::validation(format!(
                "CIDR {cidr} IP version incompatible with all VIPs [{}] IP version.",
                shown.join(", ")
            )));
        }
    }
    Ok(())
}

/// The default pool must be on the same load balancer and speak a compatible protocol.
async fn check_default_pool(
    tx: &mut Tx,
    lb_id: &str,
    protocol: ListenerProtocol,
    pool_id: &str,
) -> ApiResult<()> {
    let pool = tx
        .pool(pool_id)
        .await?
        .filter(|p| p.load_balancer_id == lb_id)
        .ok_or_else(|| missing(Table::Pool, pool_id))?;
    super::pool::check_listener_protocol(protocol, pool.protocol)
}

/// A new listener as a create, or an entry of a fully populated load balancer, gives it.
pub(super) struct ListenerSpec {
    protocol: ListenerProtocol,
    protocol_port: u16,
    settings: Settings,
}

pub(super) fn parse_spec(input: &Input) -> ApiResult<ListenerSpec> {
    let protocol_field = input.enumeration::<ListenerProtocol>("protocol")?;
    let protocol = input.required("protocol", protocol_field)?;
    let port_field = input.port("protocol_port")?;
    let protocol_port = input.required("protocol_port", port_field)?;
    let settings = parse_settings(input)?;
    check_hsts(protocol, &settings, true)?;
    Ok(ListenerSpec {
        protocol,
        protocol_port,
        settings,
    })
}

/// The listener a spec describes, PENDING_CREATE on load balancer `lb_id`, once its
/// headers are checked against its protocol. Its default pool is the spec's
/// `default_pool_id`, not checked here.
pub(super) fn new_listener(
    spec: ListenerSpec,
    lb_id: &str,
    project_id: String,
) -> ApiResult<Listener> {
    let ListenerSpec {
        protocol,
        protocol_port,
        settings,
    } = spec;
    let insert_headers = settings.insert_headers.value().unwrap_or_default();
    check_insert_headers(protocol, &insert_headers, true)?;
    check_tls_refs(protocol, &settings.tls_refs)?;
    if protocol == ListenerProtocol::TerminatedHttps {
        return Err(ApiError::validation(
            "An SNI or default certificate container reference must be provided for TERMINATED_HTTPS protocol listeners.",
        ));
    }
    let [client, connect, data, inspect] = settings.timeouts;
    Ok(Listener {
        id: uuid::Uuid::new_v4().to_string(),
        project_id,
        load_balancer_id: lb_id.to_string(),
        name: optional_text(settings.name),
        description: optional_text(settings.description),
        provisioning_status: ProvisioningStatus::PendingCreate,
        operating_status: OperatingStatus::Offline,
        admin_state_up: flag_or(settings.admin_state_up, true),
        protocol,
        protocol_port,
        connection_limit: settings.connection_limit.value().unwrap_or(-1),
        default_pool_id: settings.default_pool_id.value(),
        timeout_client_data: client.value().unwrap_or(DEFAULT_TIMEOUT_CLIENT_DATA),
        timeout_member_connect: connect.value().unwrap_or(DEFAULT_TIMEOUT_MEMBER_CONNECT),
        timeout_member_data: data.value().unwrap_or(DEFAULT_TIMEOUT_MEMBER_DATA),
        timeout_tcp_inspect: inspect.value().unwrap_or(DEFAULT_TIMEOUT_TCP_INSPECT),
        insert_headers,
        allowed_cidrs: settings.allowed_cidrs.value().unwrap_or_default(),
        tls: tls::created(settings.tls),
        tags: settings.tags.value().unwrap_or_default(),
        created_at: now(),
        updated_at: None,
    })
}

/// Two listeners of a load balancer cannot share a port of the same L4 protocol. The
/// answer names the listener already there, as Octavia's does.
pub(super) fn check_port_free(others: &[Listener], new: &Listener) -> ApiResult<()> {
    let port = new.protocol_port;
    if let Some(taken) = others
        .iter()
        .find(|o| o.protocol.l4_family() == new.protocol.l4_family() && o.protocol_port == port)
    {
        return Err(ApiError::conflict(format!(
            "Another Listener on this Load Balancer is already using protocol {} and protocol_port {port}",
            taken.protocol
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
    let input = Input::parse(&body, "listener", "listener_", &allowed)?;
    let spec = parse_spec(&input)?;
    let lb_field = input.uuid("loadbalancer_id")?;
    let lb_id = input.required("loadbalancer_id", lb_field)?;
    // A child belongs to its load balancer's project; the body's is only checked.
    body_project(&input)?;
    let nested = nested_child(&input, &["default_pool"], &["l7policies"])?;

    let mut tx = state.db.begin().await?;
    let lb = super::load_balancer::find(&mut tx, &caller, &lb_id).await?;
    refuse_nested(nested, "listener", &lb.provider)?;
    let listener = new_listener(spec, &lb_id, lb.project_id.clone())?;
    check_port_free(&tx.listeners_of(&lb_id).await?, &listener)?;
    if let Some(pool_id) = &listener.default_pool_id {
        check_default_pool(&mut tx, &lb_id, listener.protocol, pool_id).await?;
    }
    check_cidrs_match_vip(&lb, &listener.allowed_cidrs)?;
    unenforced::check_listener(&lb.provider, &listener)?;
    tx.lock(Lock::NewChildOf(Table::LoadBalancer, &lb_id))
        .await?;
    tx.save_listener(&listener).await?;
    tx.enqueue(&Flow::ApplyChildren {
        lb_id,
        changed: vec![ObjectRef::new(ObjectKind::Listener, &listener.id)],
    })
    .await?;
    tx.commit().await?;
    // A new listener has no policies yet.
    Ok(one(
        StatusCode::CREATED,
        "listener",
        views::to_value(views::References::default().listener(&listener)),
        &Query::parse(uri.query()),
    ))
}

/// One listener as its views show it.
async fn shown(tx: &mut Tx, listener: &Listener, query: &Query) -> ApiResult<Value> {
    let listeners = std::slice::from_ref(listener);
    let references = views::References::of_listeners(tx, listeners, &query.fields()).await?;
    Ok(views::to_value(references.listener(listener)))
}

/// The listener `id` if the caller reaches it, else Octavia's 404.
pub(super) async fn find(tx: &mut Tx, caller: &Caller, id: &str) -> ApiResult<Listener> {
    tx.listener(id)
        .await?
        .filter(|l| caller.scope().admits(&l.project_id))
        .ok_or_else(|| missing(Table::Listener, id))
}

pub async fn show(
    state: State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    uri: Uri,
) -> ApiResult<Response> {
    let mut tx = state.db.begin().await?;
    let listener = find(&mut tx, &caller, &id).await?;
    let query = Query::parse(uri.query());
    let shown = shown(&mut tx, &listener, &query).await?;
    Ok(one(StatusCode::OK, "listener", shown, &query))
}

pub async fn list(
    state: State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<Response> {
    let caller = crate::Caller::from_headers(&headers, &state);
    let asked = list_query(&state, &uri, &query::LISTENERS)?;
    let mut tx = state.db.begin().await?;
    let listeners = tx.list_listeners(&caller.scope(), &asked.1).await?;
    let references =
        views::References::of_listeners(&mut tx, &listeners, &asked.0.fields()).await?;
    let page = listeners
        .iter()
        .map(|l| views::to_value(references.listener(l)))
        .collect();
    Ok(list_of(
        &state,
        &headers,
        &uri,
        &query::LISTENERS,
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
    let input = Input::parse(&body, "listener", "listener_", COMMON_FIELDS)?;
    let settings = parse_settings(&input)?;
    let mut tx = state.db.begin().await?;
    let mut listener = find(&mut tx, &caller, &id).await?;
    check_hsts(listener.protocol, &settings, false)?;
    let tls = tls::updated_options(
        settings.tls,
        listener.tls.clone(),
        Some(DEFAULT_LISTENER_ALPN_PROTOCOLS),
    )?;
    if let Field::Value(headers) = &settings.insert_headers {
        check_insert_headers(listener.protocol, headers, false)?;
    }
    check_tls_refs(listener.protocol, &settings.tls_refs)?;
    if let Field::Value(pool_id) = &settings.default_pool_id {
        check_default_pool(
            &mut tx,
            &listener.load_balancer_id,
            listener.protocol,
            pool_id,
        )
        .await?;
    }
    tx.lock(Lock::Update(Table::Listener, &id)).await?;
    let [client, connect, data, inspect] = settings.timeouts;
    listener.name = updated(settings.name.map(Some), listener.name, None).filter(|s| !s.is_empty());
    listener.description = updated(settings.description.map(Some), listener.description, None)
        .filter(|s| !s.is_empty());
    if let Field::Value(up) = settings.admin_state_up {
        listener.admin_state_up = up;
    }
    listener.connection_limit = updated(settings.connection_limit, listener.connection_limit, -1);
    listener.default_pool_id = updated(
        settings.default_pool_id.map(Some),
        listener.default_pool_id,
        None,
    );
    listener.insert_headers = updated(settings.insert_headers, listener.insert_headers, vec![]);
    listener.timeout_client_data = updated(
        client,
        listener.timeout_client_data,
        DEFAULT_TIMEOUT_CLIENT_DATA,
    );
    listener.timeout_member_connect = updated(
        connect,
        listener.timeout_member_connect,
        DEFAULT_TIMEOUT_MEMBER_CONNECT,
    );
    listener.timeout_member_data = updated(
        data,
        listener.timeout_member_data,
        DEFAULT_TIMEOUT_MEMBER_DATA,
    );
    listener.timeout_tcp_inspect = updated(
        inspect,
        listener.timeout_tcp_inspect,
        DEFAULT_TIMEOUT_TCP_INSPECT,
    );
    listener.tags = updated(settings.tags, listener.tags, vec![]);
    let settings_cidrs = settings.allowed_cidrs.clone();
    listener.allowed_cidrs = updated(settings.allowed_cidrs, listener.allowed_cidrs, vec![]);
    listener.tls = tls;
    let lb = tx
        .load_balancer(&listener.load_balancer_id)
        .await?
        .ok_or_else(|| missing(Table::LoadBalancer, &listener.load_balancer_id))?;
    if let Field::Value(cidrs) = &settings_cidrs {
        check_cidrs_match_vip(&lb, cidrs)?;
    }
    unenforced::check_listener(&lb.provider, &listener)?;
    listener.provisioning_status = ProvisioningStatus::PendingUpdate;
    listener.updated_at = Some(now());
    tx.save_listener(&listener).await?;
    tx.enqueue(&Flow::ApplyChildren {
        lb_id: listener.load_balancer_id.clone(),
        changed: vec![ObjectRef::new(ObjectKind::Listener, &id)],
    })
    .await?;
    let query = Query::parse(uri.query());
    let shown = shown(&mut tx, &listener, &query).await?;
    tx.commit().await?;
    Ok(one(StatusCode::OK, "listener", shown, &query))
}

pub async fn delete(
    state: State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let mut tx = state.db.begin().await?;
    let listener = find(&mut tx, &caller, &id).await?;
    tx.lock(Lock::Delete(Table::Listener, &id)).await?;
    tx.enqueue(&Flow::ApplyChildren {
        lb_id: listener.load_balancer_id.clone(),
        changed: vec![ObjectRef::new(ObjectKind::Listener, &id)],
    })
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn stats(
    state: State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let mut tx = state.db.begin().await?;
    find(&mut tx, &caller, &id).await?;
    let stats = tx.listener_stats(&id).await?;
    Ok(Json(json!({ "stats": views::stats(stats) })).into_response())
}
