//! Route table and what the resource handlers share: response shapes and the
//! status locks of Octavia's status machine.

mod amphora;
mod graph;
mod health_monitor;
mod l7policy;
mod l7rule;
mod listener;
mod load_balancer;
mod member;
mod network;
mod pool;
mod provider;
mod tls;
mod unenforced;
mod version;

use crate::body::Field;
use crate::error::{ApiError, ApiResult};
use crate::query::{self, select_fields, Collection, Query};
use crate::{AppState, Caller};
use axum::extract::OriginalUri;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use krater_db::{DbError, Lock, Table, Tx};
use serde_json::{json, Value};

/// Octavia's operator actions (the amphora API, failovers): a caller whose roles lack
/// `admin` is refused.
fn require_admin(caller: &Caller) -> ApiResult<()> {
    if caller.is_admin() {
        Ok(())
    } else {
        Err(ApiError::forbidden())
    }
}

pub fn version_routes() -> Router<AppState> {
    Router::new()
        .route("/", get(version::root))
        .route("/v2", get(version::v2))
        .route("/v2/", get(version::v2))
        .route("/v2.0", get(version::v2))
        .route("/v2.0/", get(version::v2))
        .route("/v2/lbaas", get(version::v2))
        .route("/v2.0/lbaas", get(version::v2))
}

/// The member (rule) routes answer Octavia's 404 for a missing pool (policy) before
/// anything else.
pub fn lbaas_routes(state: &AppState) -> Router<AppState> {
    let members = Router::new()
        .route(
            "/pools/:pool_id/members",
            get(member::list)
                .post(member::create)
                .put(member::batch_update)
                .delete(missing_id),
        )
        .route(
            "/pools/:pool_id/members/:id",
            get(member::show).put(member::update).delete(member::delete),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            member::require_pool,
        ));
    let rules = Router::new()
        .route(
            "/l7policies/:l7policy_id/rules",
            get(l7rule::list)
                .post(l7rule::create)
                .put(missing_id)
                .delete(missing_id),
        )
        .route(
            "/l7policies/:l7policy_id/rules/:id",
            get(l7rule::show).put(l7rule::update).delete(l7rule::delete),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            l7rule::require_policy,
        ));
    Router::new()
        .merge(members)
        .merge(rules)
        .route(
            "/l7policies",
            get(l7policy::list)
                .post(l7policy::create)
                .put(missing_id)
                .delete(missing_id),
        )
        .route(
            "/l7policies/:id",
            get(l7policy::show)
                .put(l7policy::update)
                .delete(l7policy::delete),
        )
        .route(
            "/loadbalancers",
            get(load_balancer::list)
                .post(load_balancer::create)
                .put(missing_id)
                .delete(missing_id),
        )
        .route(
            "/loadbalancers/:id",
            get(load_balancer::show)
                .put(load_balancer::update)
                .delete(load_balancer::delete),
        )
        .route("/loadbalancers/:id/status", get(load_balancer::status_tree))
        .route(
            "/loadbalancers/:id/statuses",
            get(load_balancer::status_tree),
        )
        .route("/loadbalancers/:id/stats", get(load_balancer::stats))
        .route("/loadbalancers/:id/failover", put(load_balancer::failover))
        .route(
            "/listeners",
            get(listener::list)
                .post(listener::create)
                .put(missing_id)
                .delete(missing_id),
        )
        .route(
            "/listeners/:id",
            get(listener::show)
                .put(listener::update)
                .delete(listener::delete),
        )
        .route("/listeners/:id/stats", get(listener::stats))
        .route(
            "/pools",
            get(pool::list)
                .post(pool::create)
                .put(missing_id)
                .delete(missing_id),
        )
        .route(
            "/pools/:id",
            get(pool::show).put(pool::update).delete(pool::delete),
        )
        .route("/providers", get(provider::list))
        .route(
            "/healthmonitors",
            get(health_monitor::list)
                .post(health_monitor::create)
                .put(missing_id)
                .delete(missing_id),
        )
        .route(
            "/healthmonitors/:id",
            get(health_monitor::show)
                .put(health_monitor::update)
                .delete(health_monitor::delete),
        )
}

pub fn octavia_routes() -> Router<AppState> {
    Router::new()
        .route("/amphorae", get(amphora::list).delete(missing_id))
        .route("/amphorae/:id", get(amphora::show))
        .route("/amphorae/:id/stats", get(amphora::stats))
        .route("/amphorae/:id/failover", put(amphora::failover))
}

pub fn network_routes() -> Router<AppState> {
    Router::new()
        .route("/", get(network::versions))
        .route("/networks", get(network::list_networks))
        .route("/networks/:id", get(network::show_network))
        .route("/subnets", get(network::list_subnets))
        .route("/subnets/:id", get(network::show_subnet))
        .route("/ports", get(network::list_ports))
        .route("/ports/:id", get(network::show_port))
}

/// The end of a nested collection's guard (members of a pool, rules of a policy):
/// the request goes on when its parent was found, else pecan's 404 with `missing`'s
/// message.
async fn under_parent<T>(
    found: ApiResult<T>,
    missing: impl FnOnce(ApiError) -> String,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match found {
        Err(err) if err.status == StatusCode::NOT_FOUND => {
            ApiError::missing_parent(missing(err)).into_response()
        }
        Err(err) => err.into_response(),
        Ok(_) => next.run(request).await,
    }
}

/// A change or delete sent to a collection instead of one of its objects.
async fn missing_id() -> ApiError {
    ApiError::bad_request("Missing argument: \"id\"")
}

/// `{"<key>": object}` with the `fields` selection applied.
fn one(status: StatusCode, key: &str, object: Value, query: &Query) -> Response {
    let object = select_fields(object, &query.fields());
    (status, Json(json!({ key: object }))).into_response()
}

/// 404 with Octavia's message for a missing object.
fn missing(table: Table, id: &str) -> ApiError {
    ApiError::from(DbError::NotFound {
        table,
        id: id.to_string(),
    })
}

const PROJECT_MAX: usize = 36;

/// The project a body names: `project_id` (or `tenant_id`), at most 36 characters.
fn body_project(input: &crate::body::Input) -> ApiResult<Option<String>> {
    Ok(match input.string("project_id", PROJECT_MAX)? {
        Field::Value(p) => Some(p),
        _ => input.string("tenant_id", PROJECT_MAX)?.value(),
    })
}

/// Reads the project of a new load balancer: the body's, else the caller's, which
/// Octavia checks as if the body had given it.
fn load_balancer_project(input: &crate::body::Input, caller: &crate::Caller) -> ApiResult<String> {
    match body_project(input)? {
        Some(project) => Ok(project),
        None if caller.project_id.chars().count() > PROJECT_MAX => Err(crate::body::invalid(
            "project_id",
            &caller.project_id,
            &format!("Value should have a maximum character requirement of {PROJECT_MAX}"),
        )),
        None => Ok(caller.project_id.clone()),
    }
}

/// Resolves a bool field of a create: absent → default, explicit null → false (WSME).
fn flag_or(field: Field<bool>, default: bool) -> bool {
    match field {
        Field::Absent => default,
        Field::Null => false,
        Field::Value(v) => v,
    }
}

/// Empty strings are stored as NULL, as Octavia renders both as "".
fn optional_text(field: Field<String>) -> Option<String> {
    field.value().filter(|s| !s.is_empty())
}

/// Applies an optional update: absent keeps `current`, null resets to `default`.
fn updated<T>(field: Field<T>, current: T, default: T) -> T {
    match field {
        Field::Absent => current,
        Field::Null => default,
        Field::Value(v) => v,
    }
}

/// Reads the list query of `collection` from the request's URI.
fn list_query(
    state: &AppState,
    uri: &axum::http::Uri,
    collection: &Collection,
) -> ApiResult<(Query, krater_db::ListQuery)> {
    let query = Query::parse(uri.query());
    let max_limit = state.config.api_settings.pagination_max_limit;
    let list = query::list_query(collection, &query, max_limit)?;
    Ok((query, list))
}

/// The answer to a list; `uri` is the request's original URI (with the prefix that
/// nesting strips), so that links lead back to the same collection.
fn list_of(
    state: &axum::extract::State<AppState>,
    headers: &axum::http::HeaderMap,
    uri: &axum::http::Uri,
    collection: &Collection,
    page: Vec<Value>,
    (query, list): &(Query, krater_db::ListQuery),
) -> Response {
    let base = format!("{}{}", crate::base_url(state, headers), uri.path());
    Json(query::list_body(collection, page, list, query, &base)).into_response()
}

/// The first child nested in a single create of a listener or pool, after WSME's type
/// checks of the nested `lists` and `objects` (a 400 comes before anything else).
fn nested_child(
    input: &crate::body::Input,
    objects: &[&'static str],
    lists: &[&'static str],
) -> ApiResult<Option<&'static str>> {
    let mut given = None;
    for field in objects {
        if input.child(field)?.is_some() {
            given = given.or(Some(*field));
        }
    }
    for field in lists {
        if !input.list(field)?.is_empty() {
            given = given.or(Some(*field));
        }
    }
    Ok(given)
}

/// Refuses a child nested in a single create of a `resource` (Octavia 19 answers 500
/// to them; a fully populated load balancer is the way to make them in one go),
/// naming the `provider` of its load balancer.
fn refuse_nested(nested: Option<&str>, resource: &str, provider: &str) -> ApiResult<()> {
    match nested {
        Some(field) => Err(ApiError::unsupported_action(
            provider,
            format!("{field} in a {resource} create"),
        )),
        None => Ok(()),
    }
}

/// The fields a create accepts: those its update accepts too, and its own.
fn fields_of(shared: &[&'static str], own: &[&'static str]) -> Vec<&'static str> {
    shared.iter().chain(own).copied().collect()
}

/// Common shape of the field lists that every create/update accepts.
const TAGS_MAX: usize = 255;
const NAME_MAX: usize = 255;
