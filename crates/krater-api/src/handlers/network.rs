//! A read-only, Neutron-compatible view of the `local` driver's networks, subnets and
//! ports under `/network/v2.0`, so that clients resolve `public-subnet` to its id as
//! they do on a cloud.

use super::*;
use crate::query::Query;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use krater_drivers::{Network, Subnet};

fn network_json(n: &Network, project_id: &str) -> Value {
    json!({
        "id": n.id, "name": n.name, "status": "ACTIVE", "admin_state_up": true,
        "subnets": [n.subnet_id], "shared": true, "router:external": n.name == "public",
        "project_id": project_id, "tenant_id": project_id, "mtu": 1500,
        "availability_zones": [], "tags": [], "description": "",
    })
}

fn subnet_json(s: &Subnet, project_id: &str) -> Value {
    json!({
        "id": s.id, "name": s.name, "network_id": s.network_id, "ip_version": 4,
        "cidr": s.cidr(), "gateway_ip": s.gateway_ip.to_string(), "enable_dhcp": false,
        "allocation_pools": [{"start": s.allocation_start.to_string(), "end": s.allocation_end.to_string()}],
        "dns_nameservers": [], "host_routes": [], "project_id": project_id,
        "tenant_id": project_id, "tags": [], "description": "",
    })
}

fn port_json(p: &krater_domain::Port, project_id: &str) -> Value {
    json!({
        "id": p.id, "name": p.name, "network_id": p.network_id, "status": "ACTIVE",
        "admin_state_up": true, "mac_address": p.mac_address,
        "fixed_ips": [{"subnet_id": p.subnet_id, "ip_address": p.ip_address}],
        "device_owner": p.device_owner, "device_id": p.device_id,
        "project_id": project_id, "tenant_id": project_id, "tags": [], "description": "",
        "security_groups": [],
    })
}

/// Neutron's list filters: exact match on any attribute, repeated keys OR-ed.
fn filtered(collection: &str, objects: Vec<Value>, uri: &Uri) -> Response {
    let query = Query::parse(uri.query());
    let fields = query.fields();
    let items: Vec<Value> = objects
        .into_iter()
        .filter(|o| {
            let mut keys: Vec<&str> = query
                .pairs
                .iter()
                .map(|(k, _)| k.as_str())
                .filter(|k| !matches!(*k, "fields" | "limit" | "marker" | "sort_key" | "sort_dir"))
                .collect();
            keys.dedup();
            keys.iter().all(|key| {
                query
                    .pairs
                    .iter()
                    .filter(|(k, _)| k == key)
                    .any(|(_, wanted)| match o.get(*key) {
                        Some(Value::String(s)) => s == wanted,
                        Some(Value::Bool(b)) => b.to_string() == wanted.to_ascii_lowercase(),
                        Some(other) => &other.to_string() == wanted,
                        None => false,
                    })
            })
        })
        .map(|o| select_fields(o, &fields))
        .collect();
    Json(json!({ collection: items })).into_response()
}

fn neutron_not_found(kind: &str, id: &str) -> Response {
    let body = json!({"NeutronError": {"type": format!("{kind}NotFound"),
        "message": format!("{kind} {id} could not be found."), "detail": ""}});
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}

fn project(state: &AppState) -> &str {
    &state.config.api_settings.default_project_id
}

pub async fn versions(state: State<AppState>, headers: HeaderMap) -> Json<Value> {
    let href = format!("{}/network/v2.0/", crate::base_url(&state, &headers));
    Json(
        json!({"versions": [{"id": "v2.0", "status": "CURRENT", "links": [{"rel": "self", "href": href}]}]}),
    )
}

pub async fn list_networks(state: State<AppState>, uri: Uri) -> Response {
    let objects = state
        .networks
        .networks
        .iter()
        .map(|n| network_json(n, project(&state)))
        .collect();
    filtered("networks", objects, &uri)
}

pub async fn show_network(state: State<AppState>, Path(id): Path<String>) -> Response {
    match state.networks.network(&id) {
        Some(n) => Json(json!({"network": network_json(n, project(&state))})).into_response(),
        None => neutron_not_found("Network", &id),
    }
}

pub async fn list_subnets(state: State<AppState>, uri: Uri) -> Response {
    let objects = state
        .networks
        .subnets
        .iter()
        .map(|s| subnet_json(s, project(&state)))
        .collect();
    filtered("subnets", objects, &uri)
}

pub async fn show_subnet(state: State<AppState>, Path(id): Path<String>) -> Response {
    match state.networks.subnet(&id) {
        Some(s) => Json(json!({"subnet": subnet_json(s, project(&state))})).into_response(),
        None => neutron_not_found("Subnet", &id),
    }
}

pub async fn list_ports(state: State<AppState>, uri: Uri) -> ApiResult<Response> {
    let mut tx = state.db.begin().await?;
    let objects = tx
        .ports()
        .await?
        .iter()
        .map(|p| port_json(p, project(&state)))
        .collect();
    Ok(filtered("ports", objects, &uri))
}

pub async fn show_port(state: State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    let mut tx = state.db.begin().await?;
    Ok(match tx.ports().await?.iter().find(|p| p.id == id) {
        Some(p) => Json(json!({"port": port_json(p, project(&state))})).into_response(),
        None => neutron_not_found("Port", &id),
    })
}
