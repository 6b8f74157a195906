//! `/v2/lbaas/l7policies/{l7policy_id}/rules`: the conditions of an L7 policy, every
//! one checked by the grammar the renderer uses ([`grammar::l7_rule`]).

use super::*;
use crate::body::{Field, Input};
use crate::views;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use krater_domain::flow::{Flow, ObjectKind, ObjectRef};
use krater_domain::grammar::{self, RuleRefused};
use krater_domain::*;
use std::collections::HashMap;

pub(super) const UPDATE_FIELDS: &[&str] = &[
    "type",
    "compare_type",
    "key",
    "value",
    "invert",
    "admin_state_up",
    "tags",
];
/// What a create takes (and an entry of a policy's `rules`).
pub(super) const CREATE_FIELDS: [&str; 9] = [
    "type",
    "compare_type",
    "key",
    "value",
    "invert",
    "admin_state_up",
    "tags",
    "project_id",
    "tenant_id",
];
/// Octavia's limit of rules per policy.
const MAX_RULES: usize = 50;

/// The fields of a rule as a request gives them.
pub(super) struct RuleSpec {
    kind: Field<L7RuleType>,
    compare_type: Field<L7CompareType>,
    key: Field<String>,
    value: Field<String>,
    invert: Field<bool>,
    admin_state_up: Field<bool>,
    tags: Field<Vec<String>>,
}

fn parse_fields(input: &Input) -> ApiResult<RuleSpec> {
    Ok(RuleSpec {
        kind: input.enumeration::<L7RuleType>("type")?,
        compare_type: input.enumeration::<L7CompareType>("compare_type")?,
        key: one_line(input, "key")?,
        value: one_line(input, "value")?,
        invert: input.boolean("invert")?,
        admin_state_up: input.boolean("admin_state_up")?,
        tags: input.string_list("tags", TAGS_MAX)?,
    })
}

/// A create's fields: `type`, `compare_type` and `value` are mandatory.
pub(super) fn parse_spec(input: &Input) -> ApiResult<RuleSpec> {
    let spec = parse_fields(input)?;
    input.required("type", spec.kind.clone())?;
    input.required("compare_type", spec.compare_type.clone())?;
    input.required("value", spec.value.clone())?;
    body_project(input)?;
    Ok(spec)
}

/// Octavia's 400 for a rule whose fields do not go together.
fn check(rule: &L7Rule) -> ApiResult<()> {
    let refused = match grammar::l7_rule(
        rule.kind,
        rule.compare_type,
        rule.key.as_deref(),
        &rule.value,
    ) {
        Ok(_) => return Ok(()),
        Err(refused) => refused,
    };
    let detail = match refused {
        RuleRefused::Rule(reason) => format!("Invalid L7 Rule: {reason}"),
        RuleRefused::Characters(what) => format!("Invalid characters in {what}"),
        RuleRefused::NotTrue => format!(
            "Invalid L7 Rule: L7rule value {} is not a boolean True string.",
            rule.value
        ),
        RuleRefused::Regex(reason) => format!("Unable to parse regular expression: {reason}"),
    };
    Err(ApiError::bad_request(format!(
        "Error parsing L7Rule: {detail}"
    )))
}

/// A `key` or `value`: at most 255 characters, on one line (Octavia's pattern).
fn one_line(input: &Input, field: &str) -> ApiResult<Field<String>> {
    let text = input.string(field, 255)?;
    if let Field::Value(text) = &text {
        if text.contains(['\r', '\n']) {
            return Err(crate::body::invalid(
                field,
                text,
                "Value should match the pattern ^[^\\r\\n]*$",
            ));
        }
    }
    Ok(text)
}

/// Stores a new rule of `policy`, PENDING_CREATE, once checked. The caller holds the
/// locks.
pub(super) async fn insert(tx: &mut Tx, spec: RuleSpec, policy: &L7Policy) -> ApiResult<L7Rule> {
    let (Field::Value(kind), Field::Value(compare_type), Field::Value(value)) =
        (spec.kind, spec.compare_type, spec.value)
    else {
        return Err(ApiError::bad_request("Mandatory field missing."));
    };
    let rule = L7Rule {
        id: uuid::Uuid::new_v4().to_string(),
        project_id: policy.project_id.clone(),
        l7policy_id: policy.id.clone(),
        provisioning_status: ProvisioningStatus::PendingCreate,
        operating_status: OperatingStatus::Offline,
        admin_state_up: flag_or(spec.admin_state_up, true),
        kind,
        compare_type,
        key: optional_text(spec.key),
        value,
        invert: flag_or(spec.invert, false),
        tags: spec.tags.value().unwrap_or_default(),
        created_at: now(),
        updated_at: None,
    };
    check(&rule)?;
    if tx.l7rules_of(&policy.id).await?.len() >= MAX_RULES {
        return Err(ApiError::conflict(format!(
            "Too many rules on L7 policy {}",
            policy.id
        )));
    }
    tx.save_l7rule(&rule).await?;
    Ok(rule)
}

/// The rule routes answer Octavia's 404 for a missing policy before anything else.
pub async fn require_policy(
    state: State<AppState>,
    Path(params): Path<HashMap<String, String>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let policy_id = params.get("l7policy_id").map(String::as_str).unwrap_or("");
    let caller = Caller::from_headers(request.headers(), &state);
    let found = match state.db.begin().await {
        Ok(mut tx) => super::l7policy::find(&mut tx, &caller, policy_id).await,
        Err(err) => Err(err.into()),
    };
    // Octavia spells the policy without a space here.
    let missing = |_| format!("L7Policy {policy_id} not found.");
    under_parent(found, missing, request, next).await
}

/// The load balancer a policy's listener belongs to.
async fn lb_of(tx: &mut Tx, policy: &L7Policy) -> ApiResult<String> {
    let listener = tx
        .listener(&policy.listener_id)
        .await?
        .ok_or_else(|| missing(Table::Listener, &policy.listener_id))?;
    Ok(listener.load_balancer_id)
}

pub async fn create(
    state: State<AppState>,
    caller: Caller,
    Path(policy_id): Path<String>,
    uri: Uri,
    body: Bytes,
) -> ApiResult<Response> {
    let input = Input::parse(&body, "rule", "rule_", &CREATE_FIELDS)?;
    let spec = parse_spec(&input)?;
    let mut tx = state.db.begin().await?;
    let policy = super::l7policy::find(&mut tx, &caller, &policy_id).await?;
    let lb_id = lb_of(&mut tx, &policy).await?;
    tx.lock(Lock::NewChildOf(Table::L7Policy, &policy.id))
        .await?;
    let rule = insert(&mut tx, spec, &policy).await?;
    tx.enqueue(&Flow::ApplyChildren {
        lb_id,
        changed: vec![ObjectRef::new(ObjectKind::L7Rule, &rule.id)],
    })
    .await?;
    tx.commit().await?;
    Ok(one(
        StatusCode::CREATED,
        "rule",
        views::to_value(views::l7rule(&rule)),
        &Query::parse(uri.query()),
    ))
}

async fn find(tx: &mut Tx, caller: &Caller, policy_id: &str, id: &str) -> ApiResult<L7Rule> {
    super::l7policy::find(tx, caller, policy_id).await?;
    tx.l7rule(id)
        .await?
        .filter(|r| r.l7policy_id == policy_id)
        .ok_or_else(|| missing(Table::L7Rule, id))
}

pub async fn show(
    state: State<AppState>,
    caller: Caller,
    Path((policy_id, id)): Path<(String, String)>,
    uri: Uri,
) -> ApiResult<Response> {
    let mut tx = state.db.begin().await?;
    let rule = find(&mut tx, &caller, &policy_id, &id).await?;
    Ok(one(
        StatusCode::OK,
        "rule",
        views::to_value(views::l7rule(&rule)),
        &Query::parse(uri.query()),
    ))
}

pub async fn list(
    state: State<AppState>,
    Path(policy_id): Path<String>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<Response> {
    let caller = crate::Caller::from_headers(&headers, &state);
    let asked = list_query(&state, &uri, &query::L7RULES)?;
    let mut tx = state.db.begin().await?;
    super::l7policy::find(&mut tx, &caller, &policy_id).await?;
    let rules = tx
        .list_l7rules(&caller.scope(), &policy_id, &asked.1)
        .await?;
    let page = rules
        .iter()
        .map(|r| views::to_value(views::l7rule(r)))
        .collect();
    Ok(list_of(
        &state,
        &headers,
        &uri,
        &query::L7RULES,
        page,
        &asked,
    ))
}

pub async fn update(
    state: State<AppState>,
    caller: Caller,
    Path((policy_id, id)): Path<(String, String)>,
    uri: Uri,
    body: Bytes,
) -> ApiResult<Response> {
    let input = Input::parse(&body, "rule", "rule_", UPDATE_FIELDS)?;
    let s = parse_fields(&input)?;
    for (name, null) in [
        ("type", s.kind == Field::Null),
        ("compare_type", s.compare_type == Field::Null),
        ("value", s.value == Field::Null),
    ] {
        if null {
            return Err(crate::body::invalid(
                name,
                "None",
                "Mandatory field missing.",
            ));
        }
    }
    let mut tx = state.db.begin().await?;
    let mut rule = find(&mut tx, &caller, &policy_id, &id).await?;
    let policy = super::l7policy::find(&mut tx, &caller, &policy_id).await?;
    if let Field::Value(kind) = s.kind {
        rule.kind = kind;
    }
    if let Field::Value(compare_type) = s.compare_type {
        rule.compare_type = compare_type;
    }
    if let Field::Value(value) = s.value {
        rule.value = value;
    }
    rule.key = updated(s.key.map(Some), rule.key, None).filter(|k| !k.is_empty());
    // A type that has no key drops the one it had.
    if matches!(
        rule.kind,
        L7RuleType::HostName | L7RuleType::Path | L7RuleType::FileType
    ) && input.raw_value("type").is_some()
    {
        rule.key = None;
    }
    rule.invert = updated(s.invert, rule.invert, false);
    if let Field::Value(up) = s.admin_state_up {
        rule.admin_state_up = up;
    }
    rule.tags = updated(s.tags, rule.tags, vec![]);
    check(&rule)?;
    let lb_id = lb_of(&mut tx, &policy).await?;
    tx.lock(Lock::Update(Table::L7Rule, &id)).await?;
    rule.provisioning_status = ProvisioningStatus::PendingUpdate;
    rule.updated_at = Some(now());
    tx.save_l7rule(&rule).await?;
    tx.enqueue(&Flow::ApplyChildren {
        lb_id,
        changed: vec![ObjectRef::new(ObjectKind::L7Rule, &id)],
    })
    .await?;
    tx.commit().await?;
    Ok(one(
        StatusCode::OK,
        "rule",
        views::to_value(views::l7rule(&rule)),
        &Query::parse(uri.query()),
    ))
}

pub async fn delete(
    state: State<AppState>,
    caller: Caller,
    Path((policy_id, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let mut tx = state.db.begin().await?;
    find(&mut tx, &caller, &policy_id, &id).await?;
    let policy = super::l7policy::find(&mut tx, &caller, &policy_id).await?;
    let lb_id = lb_of(&mut tx, &policy).await?;
    tx.lock(Lock::Delete(Table::L7Rule, &id)).await?;
    tx.enqueue(&Flow::ApplyChildren {
        lb_id,
        changed: vec![ObjectRef::new(ObjectKind::L7Rule, &id)],
    })
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
