//! `/v2/lbaas/l7policies`: rule-guarded actions of an HTTP listener, kept in a dense
//! 1-based `position` order per listener (a create or a move to an occupied position
//! shifts the rest down; a delete closes the gap once it is done).

use super::*;
use crate::body::{invalid, Field, Input};
use crate::views::{self, References};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use krater_domain::flow::{Flow, ObjectKind, ObjectRef};
use krater_domain::grammar;
use krater_domain::*;

pub(super) const UPDATE_FIELDS: &[&str] = &[
    "name",
    "description",
    "admin_state_up",
    "action",
    "redirect_pool_id",
    "redirect_url",
    "redirect_prefix",
    "redirect_http_code",
    "position",
    "tags",
];
const CREATE_ONLY_FIELDS: &[&str] = &["listener_id", "project_id", "tenant_id", "rules"];
/// Octavia's bounds of `position`.
const MAX_POSITION: i64 = i32::MAX as i64;
const DEFAULT_REDIRECT_CODE: i64 = 302;

/// The settings an update may change (and a create may give).
struct Settings {
    name: Field<String>,
    description: Field<String>,
    admin_state_up: Field<bool>,
    action: Field<L7PolicyAction>,
    redirect_pool_id: Field<String>,
    redirect_url: Field<String>,
    redirect_prefix: Field<String>,
    redirect_http_code: Field<i64>,
    position: Field<i64>,
    tags: Field<Vec<String>>,
}

fn url(input: &Input, field: &str) -> ApiResult<Field<String>> {
    let value = input.string(field, 255)?;
    if let Field::Value(url) = &value {
        if grammar::redirect_url(url).is_err() {
            return Err(invalid(field, url, "Value must be a valid URL string"));
        }
    }
    Ok(value)
}

fn parse_settings(input: &Input) -> ApiResult<Settings> {
    let redirect_http_code = input.int("redirect_http_code", None, None)?;
    if let Field::Value(code) = redirect_http_code {
        if !grammar::REDIRECT_CODES.contains(&code) {
            let allowed: Vec<String> = grammar::REDIRECT_CODES.iter().map(i64::to_string).collect();
            return Err(invalid(
                "redirect_http_code",
                &code.to_string(),
                &format!("Value should be one of: {}", allowed.join(", ")),
            ));
        }
    }
    Ok(Settings {
        name: input.string("name", NAME_MAX)?,
        description: input.string("description", NAME_MAX)?,
        admin_state_up: input.boolean("admin_state_up")?,
        action: input.enumeration::<L7PolicyAction>("action")?,
        redirect_pool_id: input.uuid("redirect_pool_id")?,
        redirect_url: url(input, "redirect_url")?,
        redirect_prefix: url(input, "redirect_prefix")?,
        redirect_http_code,
        position: input.int("position", Some(1), Some(MAX_POSITION))?,
        tags: input.string_list("tags", TAGS_MAX)?,
    })
}

/// What a policy does: its action and the one target the action needs.
#[derive(Debug, Clone, Default, PartialEq)]
struct Target {
    action: Option<L7PolicyAction>,
    pool_id: Option<String>,
    url: Option<String>,
    prefix: Option<String>,
    code: Option<i64>,
}

fn policy_args(msg: &str) -> ApiError {
    ApiError::bad_request(format!("Invalid L7 Policy arguments: {msg}"))
}

/// Octavia's reading of the action and its targets (`sanitize_l7policy_api_args`),
/// step by step: an action drops the targets it does not use and needs its own; a
/// pool goes with no URL; a target implies its action and drops the others;
/// redirects default to 302. Only what the request gives counts, so `None` when it
/// gives neither an action nor a target. A create needs an action.
fn target(s: &Settings, creating: bool) -> ApiResult<Option<Target>> {
    let given = |f: &Field<String>| f.clone().value().filter(|v| !v.is_empty());
    let mut t = Target {
        action: s.action.clone().value(),
        pool_id: given(&s.redirect_pool_id),
        url: given(&s.redirect_url),
        prefix: given(&s.redirect_prefix),
        code: s.redirect_http_code.clone().value(),
    };
    match t.action {
        Some(L7PolicyAction::Reject) => (t.url, t.pool_id) = (None, None),
        Some(L7PolicyAction::RedirectToUrl) => {
            t.url
                .as_ref()
                .ok_or_else(|| policy_args("redirect_url must not be None"))?;
            t.pool_id = None;
        }
        Some(L7PolicyAction::RedirectToPool) => {
            t.pool_id
                .as_ref()
                .ok_or_else(|| policy_args("redirect_pool_id or redirect_pool must not be None"))?;
            t.url = None;
        }
        Some(L7PolicyAction::RedirectPrefix) => {
            t.prefix
                .as_ref()
                .ok_or_else(|| policy_args("redirect_prefix must not be None"))?;
        }
        None => {}
    }
    if t.pool_id.is_some() && (t.url.is_some() || t.prefix.is_some()) {
        return Err(policy_args(
            "Cannot specify redirect_pool_id and redirect_url or redirect_prefix at the same time",
        ));
    }
    if t.pool_id.is_some() {
        t.action = Some(L7PolicyAction::RedirectToPool);
        (t.url, t.prefix, t.code) = (None, None, None);
    }
    if t.url.is_some() {
        t.action = Some(L7PolicyAction::RedirectToUrl);
        (t.pool_id, t.prefix) = (None, None);
        t.code = t.code.or(Some(DEFAULT_REDIRECT_CODE));
    }
    if t.prefix.is_some() {
        t.action = Some(L7PolicyAction::RedirectPrefix);
        (t.pool_id, t.url) = (None, None);
        t.code = t.code.or(Some(DEFAULT_REDIRECT_CODE));
    }
    match t.action {
        // A policy that does not redirect has no redirect code.
        Some(L7PolicyAction::Reject | L7PolicyAction::RedirectToPool) => t.code = None,
        Some(_) => {}
        None if creating => {
            return Err(ApiError::bad_request(
                "Invalid L7 Policy action specified: None",
            ))
        }
        None => return Ok(None),
    }
    Ok(Some(t))
}

/// The pool a policy leads to must be of the listener's load balancer, with a
/// protocol the listener can send to.
async fn check_pool(tx: &mut Tx, listener: &Listener, pool_id: &str) -> ApiResult<()> {
    let pool = tx
        .pool(pool_id)
        .await?
        .filter(|p| p.load_balancer_id == listener.load_balancer_id)
        .ok_or_else(|| missing(Table::Pool, pool_id))?;
    super::pool::check_listener_protocol(listener.protocol, pool.protocol)
}

/// Policies belong to HTTP listeners: PROMETHEUS ones take no children, and the
/// amphora renders policies on HTTP listeners only (as Octavia's amphora driver).
fn check_listener(listener: &Listener, provider: &str) -> ApiResult<()> {
    if listener.protocol == ListenerProtocol::Prometheus {
        return Err(ApiError::validation(
            "PROMETHEUS protocol listeners cannot have child objects.",
        ));
    }
    super::unenforced::check_l7policy(provider, listener)
}

/// Puts `policy_id` at `position` (1-based; past the end is the end) among the
/// listener's policies and numbers them all 1..n again.
async fn place(
    tx: &mut Tx,
    listener_id: &str,
    policy_id: &str,
    position: Option<i64>,
) -> ApiResult<i64> {
    let mut order: Vec<String> = tx
        .l7policies_of(listener_id)
        .await?
        .into_iter()
        .map(|p| p.id)
        .filter(|id| id != policy_id)
        .collect();
    let index = position
        .map(|p| usize::try_from(p - 1).unwrap_or(0))
        .unwrap_or(usize::MAX)
        .min(order.len());
    order.insert(index, policy_id.to_owned());
    let ids: Vec<&str> = order.iter().map(String::as_str).collect();
    tx.set_l7policy_positions(&ids).await?;
    Ok(index as i64 + 1)
}

/// A new policy as a create, or an entry of a listener in a fully populated load
/// balancer, gives it; its rules come with it.
pub(super) struct PolicySpec {
    settings: Settings,
    target: Target,
    rules: Vec<super::l7rule::RuleSpec>,
}

/// `redirect_pool` is the id of a pool a fully populated load balancer names.
pub(super) fn parse_spec(input: &Input, redirect_pool: Option<String>) -> ApiResult<PolicySpec> {
    let action = input.enumeration::<L7PolicyAction>("action")?;
    input.required("action", action)?;
    let mut settings = parse_settings(input)?;
    if let Some(pool_id) = redirect_pool {
        settings.redirect_pool_id = Field::Value(pool_id);
    }
    let rules = input
        .list("rules")?
        .iter()
        .map(|rule| {
            let rule = input.element(
                rule,
                "l7policy_.l7policy.rules",
                &super::l7rule::CREATE_FIELDS,
            )?;
            super::l7rule::parse_spec(&rule)
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let target = target(&settings, true)?.unwrap_or_default();
    Ok(PolicySpec {
        settings,
        target,
        rules,
    })
}

/// Checks a spec against its listener and stores the policy (placed at its position)
/// and its rules, PENDING_CREATE. The caller holds the locks.
pub(super) async fn insert(
    tx: &mut Tx,
    spec: PolicySpec,
    listener: &Listener,
    provider: &str,
) -> ApiResult<L7Policy> {
    check_listener(listener, provider)?;
    if let Some(pool_id) = &spec.target.pool_id {
        check_pool(tx, listener, pool_id).await?;
    }
    let PolicySpec {
        settings: s,
        target,
        rules,
    } = spec;
    let mut policy = L7Policy {
        id: uuid::Uuid::new_v4().to_string(),
        project_id: listener.project_id.clone(),
        listener_id: listener.id.clone(),
        name: optional_text(s.name),
        description: optional_text(s.description),
        provisioning_status: ProvisioningStatus::PendingCreate,
        operating_status: OperatingStatus::Offline,
        admin_state_up: flag_or(s.admin_state_up, true),
        action: target.action.unwrap_or(L7PolicyAction::Reject),
        position: MAX_POSITION,
        redirect_pool_id: target.pool_id,
        redirect_url: target.url,
        redirect_prefix: target.prefix,
        redirect_http_code: target.code,
        tags: s.tags.value().unwrap_or_default(),
        created_at: now(),
        updated_at: None,
    };
    tx.save_l7policy(&policy).await?;
    policy.position = place(tx, &listener.id, &policy.id, s.position.value()).await?;
    for rule in rules {
        super::l7rule::insert(tx, rule, &policy).await?;
    }
    Ok(policy)
}

pub async fn create(
    state: State<AppState>,
    caller: Caller,
    uri: Uri,
    body: Bytes,
) -> ApiResult<Response> {
    let allowed = fields_of(UPDATE_FIELDS, CREATE_ONLY_FIELDS);
    let input = Input::parse(&body, "l7policy", "l7policy_", &allowed)?;
    let listener_field = input.uuid("listener_id")?;
    let listener_id = input.required("listener_id", listener_field)?;
    let spec = parse_spec(&input, None)?;
    body_project(&input)?;

    let mut tx = state.db.begin().await?;
    let listener = super::listener::find(&mut tx, &caller, &listener_id).await?;
    let provider = provider_of(&mut tx, &listener).await?;
    tx.lock(Lock::NewChildOf(Table::Listener, &listener.id))
        .await?;
    let policy = insert(&mut tx, spec, &listener, &provider).await?;
    tx.enqueue(&Flow::ApplyChildren {
        lb_id: listener.load_balancer_id.clone(),
        changed: vec![ObjectRef::new(ObjectKind::L7Policy, &policy.id)],
    })
    .await?;
    let query = Query::parse(uri.query());
    let shown = shown(&mut tx, &policy, &query).await?;
    tx.commit().await?;
    Ok(one(StatusCode::CREATED, "l7policy", shown, &query))
}

/// The provider of the listener's load balancer.
async fn provider_of(tx: &mut Tx, listener: &Listener) -> ApiResult<String> {
    let lb = tx
        .load_balancer(&listener.load_balancer_id)
        .await?
        .ok_or_else(|| missing(Table::LoadBalancer, &listener.load_balancer_id))?;
    Ok(lb.provider)
}

/// The policy `id` if the caller reaches it, else Octavia's 404.
pub(super) async fn find(tx: &mut Tx, caller: &Caller, id: &str) -> ApiResult<L7Policy> {
    tx.l7policy(id)
        .await?
        .filter(|p| caller.scope().admits(&p.project_id))
        .ok_or_else(|| missing(Table::L7Policy, id))
}

/// One policy as its views show it.
async fn shown(tx: &mut Tx, policy: &L7Policy, query: &Query) -> ApiResult<Value> {
    let policies = std::slice::from_ref(policy);
    let references = References::of_l7policies(tx, policies, &query.fields()).await?;
    Ok(views::to_value(references.l7policy(policy)))
}

pub async fn show(
    state: State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    uri: Uri,
) -> ApiResult<Response> {
    let mut tx = state.db.begin().await?;
    let policy = find(&mut tx, &caller, &id).await?;
    let query = Query::parse(uri.query());
    let shown = shown(&mut tx, &policy, &query).await?;
    Ok(one(StatusCode::OK, "l7policy", shown, &query))
}

pub async fn list(
    state: State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<Response> {
    let caller = crate::Caller::from_headers(&headers, &state);
    let asked = list_query(&state, &uri, &query::L7POLICIES)?;
    let mut tx = state.db.begin().await?;
    let policies = tx.list_l7policies(&caller.scope(), &asked.1).await?;
    let references = References::of_l7policies(&mut tx, &policies, &asked.0.fields()).await?;
    let page = policies
        .iter()
        .map(|p| views::to_value(references.l7policy(p)))
        .collect();
    Ok(list_of(
        &state,
        &headers,
        &uri,
        &query::L7POLICIES,
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
    let input = Input::parse(&body, "l7policy", "l7policy_", UPDATE_FIELDS)?;
    let s = parse_settings(&input)?;
    if input.keys().next().is_none() {
        return Err(policy_args("Invalid update options"));
    }
    let mut tx = state.db.begin().await?;
    let target = target(&s, false)?;
    let mut policy = find(&mut tx, &caller, &id).await?;
    let listener = super::listener::find(&mut tx, &caller, &policy.listener_id).await?;
    if let Some(pool_id) = target.as_ref().and_then(|t| t.pool_id.as_ref()) {
        check_pool(&mut tx, &listener, pool_id).await?;
    }
    tx.lock(Lock::Update(Table::L7Policy, &id)).await?;
    policy.name = updated(s.name.map(Some), policy.name, None).filter(|n| !n.is_empty());
    policy.description =
        updated(s.description.map(Some), policy.description, None).filter(|n| !n.is_empty());
    if let Field::Value(up) = s.admin_state_up {
        policy.admin_state_up = up;
    }
    match target {
        Some(Target {
            action: Some(action),
            pool_id,
            url,
            prefix,
            code,
        }) => {
            policy.action = action;
            policy.redirect_pool_id = pool_id;
            policy.redirect_url = url;
            policy.redirect_prefix = prefix;
            policy.redirect_http_code = code;
        }
        // Only a new code for the redirect the policy makes.
        _ if policy.action.redirects() => {
            policy.redirect_http_code = updated(
                s.redirect_http_code.map(Some),
                policy.redirect_http_code,
                None,
            )
            .or(Some(DEFAULT_REDIRECT_CODE));
        }
        _ => {}
    }
    policy.tags = updated(s.tags, policy.tags, vec![]);
    policy.provisioning_status = ProvisioningStatus::PendingUpdate;
    policy.updated_at = Some(now());
    tx.save_l7policy(&policy).await?;
    if let Field::Value(position) = s.position {
        policy.position = place(&mut tx, &listener.id, &id, Some(position)).await?;
    }
    tx.enqueue(&Flow::ApplyChildren {
        lb_id: listener.load_balancer_id.clone(),
        changed: vec![ObjectRef::new(ObjectKind::L7Policy, &id)],
    })
    .await?;
    let query = Query::parse(uri.query());
    let shown = shown(&mut tx, &policy, &query).await?;
    tx.commit().await?;
    Ok(one(StatusCode::OK, "l7policy", shown, &query))
}

pub async fn delete(
    state: State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let mut tx = state.db.begin().await?;
    let policy = find(&mut tx, &caller, &id).await?;
    let listener = super::listener::find(&mut tx, &caller, &policy.listener_id).await?;
    tx.lock(Lock::Delete(Table::L7Policy, &id)).await?;
    tx.enqueue(&Flow::ApplyChildren {
        lb_id: listener.load_balancer_id.clone(),
        changed: vec![ObjectRef::new(ObjectKind::L7Policy, &id)],
    })
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
