//! `/v2/lbaas/pools/{pool_id}/members`, with the batch update.

use super::*;
use crate::body::{Field, Input};
use crate::views;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use krater_domain::flow::{Flow, ObjectKind, ObjectRef};
use krater_domain::*;
use std::collections::{HashMap, HashSet};

pub(super) const UPDATE_FIELDS: &[&str] = &[
    "name",
    "admin_state_up",
    "weight",
    "backup",
    "monitor_address",
    "monitor_port",
    "tags",
];
const CREATE_ONLY_FIELDS: &[&str] = &[
    "address",
    "protocol_port",
    "subnet_id",
    "project_id",
    "tenant_id",
    "request_sriov",
];

/// The settings an update may change (and a create may give).
struct MemberSettings {
    name: Field<String>,
    admin_state_up: Field<bool>,
    weight: Field<i64>,
    backup: Field<bool>,
    monitor_address: Field<String>,
    monitor_port: Field<u16>,
    tags: Field<Vec<String>>,
}

impl MemberSettings {
    /// An entry of a batch update replaces the member as a create would: what it does
    /// not give is reset to its create default (name and tags, which have none, stay).
    fn into_batch_entry(self) -> Self {
        Self {
            admin_state_up: Field::Value(self.admin_state_up.value().unwrap_or(true)),
            weight: reset_absent(self.weight),
            backup: reset_absent(self.backup),
            monitor_address: reset_absent(self.monitor_address),
            monitor_port: reset_absent(self.monitor_port),
            ..self
        }
    }
}

/// An absent field of a batch entry resets like a null one.
fn reset_absent<T>(field: Field<T>) -> Field<T> {
    match field {
        Field::Absent => Field::Null,
        other => other,
    }
}

fn parse_settings(input: &Input) -> ApiResult<MemberSettings> {
    Ok(MemberSettings {
        name: input.string("name", NAME_MAX)?,
        admin_state_up: input.boolean("admin_state_up")?,
        weight: input.int("weight", Some(0), Some(256))?,
        backup: input.boolean("backup")?,
        monitor_address: input
            .ip_address("monitor_address")?
            .map(|ip| ip.to_string()),
        monitor_port: input.port("monitor_port")?,
        tags: input.string_list("tags", TAGS_MAX)?,
    })
}

/// A member as a create (or an entry of a batch update) describes it.
pub(super) struct MemberSpec {
    address: String,
    protocol_port: u16,
    subnet_id: Option<String>,
    settings: MemberSettings,
}

pub(super) fn parse_spec(input: &Input, state: &AppState) -> ApiResult<MemberSpec> {
    let address_field = input.ip_address("address")?;
    let address = input.required("address", address_field)?;
    let port_field = input.port("protocol_port")?;
    let protocol_port = input.required("protocol_port", port_field)?;
    let spec = MemberSpec {
        address: address.to_string(),
        protocol_port,
        subnet_id: input.uuid("subnet_id")?.value(),
        settings: parse_settings(input)?,
    };
    // A member belongs to its load balancer's project; the body's is only checked.
    body_project(input)?;
    if input.boolean("request_sriov")? == Field::Value(true) {
        return Err(ApiError::bad_request(
            "The load balancer flavor does not allow SR-IOV member ports.",
        ));
    }
    if spec
        .address
        .parse()
        .is_ok_and(|ip| state.is_reserved_ip(ip))
    {
        return Err(ApiError::bad_request(format!(
            "{} is not a valid option for member address",
            spec.address
        )));
    }
    if let Some(subnet_id) = &spec.subnet_id {
        if state.networks.subnet(subnet_id).is_none() {
            return Err(ApiError::bad_request(format!(
                "Subnet {subnet_id} not found."
            )));
        }
    }
    Ok(spec)
}

pub(super) fn new_member(spec: MemberSpec, pool: &Pool, has_monitor: bool) -> Member {
    let settings = spec.settings;
    Member {
        id: uuid::Uuid::new_v4().to_string(),
        project_id: pool.project_id.clone(),
        pool_id: pool.id.clone(),
        name: optional_text(settings.name),
        provisioning_status: ProvisioningStatus::PendingCreate,
        operating_status: if has_monitor {
            OperatingStatus::Offline
        } else {
            OperatingStatus::NoMonitor
        },
        admin_state_up: flag_or(settings.admin_state_up, true),
        address: spec.address,
        protocol_port: spec.protocol_port,
        weight: settings
            .weight
            .value()
            .and_then(|w| u16::try_from(w).ok())
            .unwrap_or(1),
        backup: flag_or(settings.backup, false),
        subnet_id: spec.subnet_id,
        monitor_address: settings.monitor_address.value(),
        monitor_port: settings.monitor_port.value(),
        tags: settings.tags.value().unwrap_or_default(),
        created_at: now(),
        updated_at: None,
    }
}

/// Applies the updatable settings of a request to a member.
fn apply_update(member: &mut Member, settings: MemberSettings) {
    member.name =
        updated(settings.name.map(Some), member.name.take(), None).filter(|s| !s.is_empty());
    if let Field::Value(up) = settings.admin_state_up {
        member.admin_state_up = up;
    }
    member.weight = updated(settings.weight, member.weight.into(), 1)
        .try_into()
        .unwrap_or(1);
    member.backup = updated(settings.backup, member.backup, false);
    member.monitor_address = updated(
        settings.monitor_address.map(Some),
        member.monitor_address.take(),
        None,
    );
    member.monitor_port = updated(settings.monitor_port.map(Some), member.monitor_port, None);
    member.tags = updated(settings.tags, std::mem::take(&mut member.tags), vec![]);
    member.provisioning_status = ProvisioningStatus::PendingUpdate;
    member.updated_at = Some(now());
}

pub(super) fn duplicate(address: &str, port: u16) -> ApiError {
    ApiError::conflict(format!(
        "Another member on this pool is already using ip {address} on protocol_port {port}"
    ))
}

/// Route layer of the member routes: a missing pool is a 404 before anything else.
pub async fn require_pool(
    state: State<AppState>,
    Path(params): Path<HashMap<String, String>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let pool_id = params.get("pool_id").map(String::as_str).unwrap_or("");
    let caller = Caller::from_headers(request.headers(), &state);
    let found = match state.db.begin().await {
        Ok(mut tx) => super::pool::find(&mut tx, &caller, pool_id).await,
        Err(err) => Err(err.into()),
    };
    under_parent(found, |err| err.message, request, next).await
}

pub async fn create(
    state: State<AppState>,
    caller: Caller,
    Path(pool_id): Path<String>,
    uri: Uri,
    body: Bytes,
) -> ApiResult<Response> {
    let allowed = fields_of(UPDATE_FIELDS, CREATE_ONLY_FIELDS);
    let input = Input::parse(&body, "member", "member_", &allowed)?;
    let mut tx = state.db.begin().await?;
    let pool = super::pool::find(&mut tx, &caller, &pool_id).await?;
    let spec = parse_spec(&input, &state)?;
    let existing = tx.members_of(&pool_id).await?;
    if existing
        .iter()
        .any(|m| m.address == spec.address && m.protocol_port == spec.protocol_port)
    {
        return Err(duplicate(&spec.address, spec.protocol_port));
    }
    tx.lock(Lock::NewChildOf(Table::Pool, &pool.id)).await?;
    let has_monitor = tx.health_monitor_of(&pool_id).await?.is_some();
    let member = new_member(spec, &pool, has_monitor);
    tx.save_member(&member).await.map_err(|e| match e {
        DbError::Duplicate(_) => duplicate(&member.address, member.protocol_port),
        other => other.into(),
    })?;
    tx.enqueue(&Flow::ApplyChildren {
        lb_id: pool.load_balancer_id.clone(),
        changed: vec![ObjectRef::new(ObjectKind::Member, &member.id)],
    })
    .await?;
    tx.commit().await?;
    Ok(one(
        StatusCode::CREATED,
        "member",
        views::to_value(views::member(&member)),
        &Query::parse(uri.query()),
    ))
}

async fn find(tx: &mut Tx, caller: &Caller, pool_id: &str, id: &str) -> ApiResult<Member> {
    super::pool::find(tx, caller, pool_id).await?;
    tx.member(id)
        .await?
        .filter(|m| m.pool_id == pool_id)
        .ok_or_else(|| missing(Table::Member, id))
}

pub async fn show(
    state: State<AppState>,
    caller: Caller,
    Path((pool_id, id)): Path<(String, String)>,
    uri: Uri,
) -> ApiResult<Response> {
    let mut tx = state.db.begin().await?;
    let member = find(&mut tx, &caller, &pool_id, &id).await?;
    Ok(one(
        StatusCode::OK,
        "member",
        views::to_value(views::member(&member)),
        &Query::parse(uri.query()),
    ))
}

pub async fn list(
    state: State<AppState>,
    Path(pool_id): Path<String>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<Response> {
    let caller = crate::Caller::from_headers(&headers, &state);
    let asked = list_query(&state, &uri, &query::MEMBERS)?;
    let mut tx = state.db.begin().await?;
    super::pool::find(&mut tx, &caller, &pool_id).await?;
    let members = tx.list_members(&caller.scope(), &pool_id, &asked.1).await?;
    let page = members
        .iter()
        .map(|m| views::to_value(views::member(m)))
        .collect();
    Ok(list_of(
        &state,
        &headers,
        &uri,
        &query::MEMBERS,
        page,
        &asked,
    ))
}

pub async fn update(
    state: State<AppState>,
    caller: Caller,
    Path((pool_id, id)): Path<(String, String)>,
    uri: Uri,
    body: Bytes,
) -> ApiResult<Response> {
    let input = Input::parse(&body, "member", "member_", UPDATE_FIELDS)?;
    let settings = parse_settings(&input)?;
    let mut tx = state.db.begin().await?;
    let mut member = find(&mut tx, &caller, &pool_id, &id).await?;
    let pool = super::pool::find(&mut tx, &caller, &pool_id).await?;
    tx.lock(Lock::Update(Table::Member, &id)).await?;
    apply_update(&mut member, settings);
    tx.save_member(&member).await?;
    tx.enqueue(&Flow::ApplyChildren {
        lb_id: pool.load_balancer_id.clone(),
        changed: vec![ObjectRef::new(ObjectKind::Member, &id)],
    })
    .await?;
    tx.commit().await?;
    Ok(one(
        StatusCode::OK,
        "member",
        views::to_value(views::member(&member)),
        &Query::parse(uri.query()),
    ))
}

pub async fn delete(
    state: State<AppState>,
    caller: Caller,
    Path((pool_id, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let mut tx = state.db.begin().await?;
    find(&mut tx, &caller, &pool_id, &id).await?;
    let pool = super::pool::find(&mut tx, &caller, &pool_id).await?;
    tx.lock(Lock::Delete(Table::Member, &id)).await?;
    tx.enqueue(&Flow::ApplyChildren {
        lb_id: pool.load_balancer_id.clone(),
        changed: vec![ObjectRef::new(ObjectKind::Member, &id)],
    })
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `PUT /pools/{pool_id}/members`: the body is the wanted set of members, matched to
/// the existing ones by (address, protocol_port).
pub async fn batch_update(
    state: State<AppState>,
    caller: Caller,
    Path(pool_id): Path<String>,
    uri: Uri,
    body: Bytes,
) -> ApiResult<Response> {
    let additive_only = Query::parse(uri.query())
        .pairs
        .iter()
        .any(|(k, v)| k == "additive_only" && v.eq_ignore_ascii_case("true"));
    let whole = crate::body::parse_json(&body)?;
    let Value::Object(top) = &whole else {
        return Err(ApiError::bad_request("Request is not in valid JSON format"));
    };
    let batch = Input::nested(top.clone(), whole.clone(), "members_");
    if let Some(unknown) = batch.keys().find(|k| *k != "members") {
        return Err(ApiError::bad_request(format!(
            "Unknown attribute for argument members_: {unknown}"
        )));
    }
    if batch.raw_value("members").is_none_or(Value::is_null) {
        return Err(crate::body::invalid(
            "members",
            "None",
            "Mandatory field missing.",
        ));
    }
    let entries = batch.list("members")?;
    let allowed = fields_of(UPDATE_FIELDS, CREATE_ONLY_FIELDS);
    let mut specs = Vec::new();
    let mut seen = HashSet::new();
    for entry in entries {
        let Value::Object(map) = entry else {
            return Err(ApiError::bad_request("Request is not in valid JSON format"));
        };
        let input = Input::nested(map, whole.clone(), "members_");
        if let Some(unknown) = input.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(ApiError::bad_request(format!(
                "Unknown attribute for argument members_.members: {unknown}"
            )));
        }
        specs.push(parse_spec(&input, &state)?);
    }

    let mut tx = state.db.begin().await?;
    let pool = super::pool::find(&mut tx, &caller, &pool_id).await?;
    let existing = tx.members_of(&pool_id).await?;
    let has_monitor = tx.health_monitor_of(&pool_id).await?.is_some();
    tx.lock(Lock::NewChildOf(Table::Pool, &pool.id)).await?;
    let mut changed = Vec::new();
    for spec in specs {
        let current = existing
            .iter()
            .find(|m| m.address == spec.address && m.protocol_port == spec.protocol_port);
        if !seen.insert((spec.address.clone(), spec.protocol_port)) {
            return Err(match current {
                Some(_) => {
                    ApiError::validation("Member must be updated only once in the same request.")
                }
                None => duplicate(&spec.address, spec.protocol_port),
            });
        }
        match current {
            Some(current) => {
                let mut member = current.clone();
                tx.lock(Lock::Update(Table::Member, &member.id)).await?;
                apply_update(&mut member, spec.settings.into_batch_entry());
                tx.save_member(&member).await?;
                changed.push(ObjectRef::new(ObjectKind::Member, &member.id));
            }
            None => {
                let member = new_member(spec, &pool, has_monitor);
                tx.save_member(&member).await?;
                changed.push(ObjectRef::new(ObjectKind::Member, &member.id));
            }
        }
    }
    if !additive_only {
        for member in &existing {
            if !seen.contains(&(member.address.clone(), member.protocol_port)) {
                tx.lock(Lock::Delete(Table::Member, &member.id)).await?;
                changed.push(ObjectRef::new(ObjectKind::Member, &member.id));
            }
        }
    }
    tx.enqueue(&Flow::ApplyChildren {
        lb_id: pool.load_balancer_id.clone(),
        changed,
    })
    .await?;
    tx.commit().await?;
    Ok(StatusCode::ACCEPTED.into_response())
}
