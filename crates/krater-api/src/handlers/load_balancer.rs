//! `/v2/lbaas/loadbalancers`: create (with VIP allocation), show, list, update,
//! delete (with cascade), the status tree and stats.

use super::*;
use crate::body::{Field, Input};
use crate::views::{self, References};
use crate::Caller;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use krater_config::LoadBalancerTopology;
use krater_domain::flow::Flow;
use krater_domain::*;
use std::net::IpAddr;

const CREATE_FIELDS: &[&str] = &[
    "name",
    "description",
    "admin_state_up",
    "vip_address",
    "vip_port_id",
    "vip_subnet_id",
    "vip_network_id",
    "vip_qos_policy_id",
    "vip_sg_ids",
    "additional_vips",
    "project_id",
    "tenant_id",
    "provider",
    "flavor_id",
    "availability_zone",
    "tags",
    "listeners",
    "pools",
];

const UPDATE_FIELDS: &[&str] = &[
    "name",
    "description",
    "admin_state_up",
    "vip_qos_policy_id",
    "vip_sg_ids",
    "tags",
];

/// Octavia's message when the load balancer itself is not in a state that allows a request.
fn invalid_state(err: DbError) -> ApiError {
    match err {
        DbError::Immutable { id, status, .. } => ApiError::conflict(format!(
            "Invalid state {status} of loadbalancer resource {id}"
        )),
        other => other.into(),
    }
}

pub async fn create(
    state: State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> ApiResult<Response> {
    let caller = Caller::from_headers(&headers, &state);
    let input = Input::parse(&body, "loadbalancer", "load_balancer", CREATE_FIELDS)?;
    let name = input.string("name", NAME_MAX)?;
    let description = input.string("description", NAME_MAX)?;
    let admin_state_up = flag_or(input.boolean("admin_state_up")?, true);
    let vip_address = input.ip_address("vip_address")?.value();
    let vip_port_id = input.uuid("vip_port_id")?.value();
    let vip_subnet_id = input.uuid("vip_subnet_id")?.value();
    let vip_network_id = input.uuid("vip_network_id")?.value();
    let vip_qos_policy_id = input.uuid("vip_qos_policy_id")?.value();
    let vip_sg_ids = input
        .string_list("vip_sg_ids", 36)?
        .value()
        .unwrap_or_default();
    let project_id = load_balancer_project(&input, &caller)?;
    let provider = input.string("provider", 64)?.value();
    let flavor_id = input.uuid("flavor_id")?.value();
    let availability_zone = input.string("availability_zone", 255)?.value();
    let tags = input
        .string_list("tags", TAGS_MAX)?
        .value()
        .unwrap_or_default();

    let additional_vip_subnets = additional_vip_subnets(&input)?;
    if vip_port_id.is_none() && vip_subnet_id.is_none() && vip_network_id.is_none() {
        return Err(no_vip());
    }
    let settings = &state.config.api_settings;
    let provider = provider.unwrap_or_else(|| settings.default_provider_driver.clone());
    if !settings.enabled_provider_drivers.contains(&provider) {
        return Err(ApiError::bad_request(format!(
            "Provider '{provider}' is not enabled."
        )));
    }
    if flavor_id.is_some() {
        return Err(ApiError::validation("Invalid flavor_id."));
    }
    if availability_zone.is_some() {
        return Err(ApiError::validation("Invalid availability zone."));
    }
    if !vip_sg_ids.is_empty() {
        return Err(ApiError::bad_request(
            "vip_sg_ids is not a valid option for this deployment's network driver.",
        ));
    }
    if let Some(qos) = &vip_qos_policy_id {
        return Err(ApiError::bad_request(format!(
            "qos_policy {qos} not found."
        )));
    }
    if let Some(port) = &vip_port_id {
        return Err(ApiError::bad_request(format!("Port {port} not found.")));
    }

    // Which subnet the VIP goes on.
    let subnet =
        match (&vip_subnet_id, &vip_network_id) {
            (Some(subnet_id), _) => state
                .networks
                .subnet(subnet_id)
                .ok_or_else(|| ApiError::bad_request(format!("Subnet {subnet_id} not found.")))?,
            (None, Some(network_id)) => {
                let network = state.networks.network(network_id).ok_or_else(|| {
                    ApiError::bad_request(format!("Network {network_id} not found."))
                })?;
                state.networks.subnet(&network.subnet_id).ok_or_else(|| {
                    ApiError::bad_request(format!("Network {network_id} not found."))
                })?
            }
            (None, None) => return Err(no_vip()),
        };
    if let Some(network_id) = &vip_network_id {
        if &subnet.network_id != network_id {
            return Err(ApiError::validation(format!(
                "Subnet {} is not in network {network_id}.",
                subnet.id
            )));
        }
    }
    check_additional_vips(&state, subnet, &additional_vip_subnets, &provider)?;
    let requested = match vip_address {
        Some(IpAddr::V4(ip)) if state.is_reserved_ip(IpAddr::V4(ip)) => {
            return Err(ApiError::bad_request(format!(
                "The selected VIP address is not allowed in this deployment: {ip}"
            )))
        }
        Some(IpAddr::V4(ip)) if subnet.contains(ip) => {
            if let Some(role) = subnet.reserved_role(ip) {
                return Err(ApiError::validation(format!(
                    "VIP address {ip} is the {role} of subnet {} and cannot be used.",
                    subnet.id
                )));
            }
            Some(ip)
        }
        Some(ip) => {
            return Err(ApiError::validation(format!(
                "VIP address {ip} is not in subnet {}.",
                subnet.id
            )))
        }
        None => None,
    };

    let id = uuid::Uuid::new_v4().to_string();
    let owner = graph::Owner {
        lb_id: &id,
        project_id: &project_id,
        provider: &provider,
    };
    let graph = graph::parse(&input, &state, &owner)?;
    let mut tx = state.db.begin().await?;
    let (address, port_id) = if provider == krater_domain::NOOP_PROVIDER {
        // Octavia's noop driver takes no address: the one asked for, else a made-up one.
        let address = requested.unwrap_or_else(|| subnet.made_up_address());
        (address.to_string(), uuid::Uuid::new_v4().to_string())
    } else {
        let port = allocate_vip(&state, &mut tx, subnet, &id, requested).await?;
        (port.ip_address, port.id)
    };
    let lb = LoadBalancer {
        id: id.clone(),
        project_id,
        name: optional_text(name),
        description: optional_text(description),
        provisioning_status: ProvisioningStatus::PendingCreate,
        operating_status: OperatingStatus::Offline,
        admin_state_up,
        provider,
        topology: match state.config.controller_worker.loadbalancer_topology {
            LoadBalancerTopology::Single => Topology::Single,
            LoadBalancerTopology::ActiveStandby => Topology::ActiveStandby,
        },
        vip: Vip {
            ip_address: Some(address),
            port_id: Some(port_id),
            subnet_id: Some(subnet.id.clone()),
            network_id: Some(subnet.network_id.clone()),
            qos_policy_id: None,
        },
        flavor_id: None,
        availability_zone: None,
        tags,
        created_at: now(),
        updated_at: None,
    };
    tx.save_load_balancer(&lb).await?;
    for pool in &graph.pools {
        tx.save_pool(pool).await?;
    }
    for monitor in &graph.monitors {
        tx.save_health_monitor(monitor).await?;
    }
    for member in &graph.members {
        tx.save_member(member).await?;
    }
    for listener in &graph.listeners {
        tx.save_listener(listener).await?;
    }
    for (listener, policy) in graph.policies {
        super::l7policy::insert(&mut tx, policy, &graph.listeners[listener], &lb.provider).await?;
    }
    tx.enqueue(&Flow::CreateLoadBalancer { lb_id: id.clone() })
        .await?;
    let created = tx.load_balancer_graph(&lb.id).await?;
    tx.commit().await?;
    Ok(one(
        StatusCode::CREATED,
        "loadbalancer",
        views::full_load_balancer(&created),
        &Query::parse(uri.query()),
    ))
}

/// The subnets of `additional_vips`, each entry checked as Octavia's type does.
fn additional_vip_subnets(input: &Input) -> ApiResult<Vec<String>> {
    let mut subnets = Vec::new();
    for value in input.list("additional_vips")? {
        let vip = input.element(
            &value,
            "load_balancer.loadbalancer.additional_vips",
            &["subnet_id", "ip_address", "port_id"],
        )?;
        let subnet = vip.uuid("subnet_id")?;
        vip.ip_address("ip_address")?;
        vip.uuid("port_id")?;
        subnets.push(vip.required("subnet_id", subnet)?);
    }
    Ok(subnets)
}

/// Additional VIPs are checked as Octavia checks them (one per subnet, every subnet
/// known and on the VIP's network), then refused: no amphora binds them yet, and
/// dropping them silently would leave a user waiting for addresses that never answer.
fn check_additional_vips(
    state: &AppState,
    vip_subnet: &krater_drivers::Subnet,
    additional: &[String],
    provider: &str,
) -> ApiResult<()> {
    if additional.is_empty() {
        return Ok(());
    }
    let mut seen = vec![vip_subnet.id.as_str()];
    for subnet_id in additional {
        if seen.contains(&subnet_id.as_str()) {
            return Err(ApiError::validation(
                "Duplicate VIP subnet(s) specified. Only one IP can be bound per subnet.",
            ));
        }
        seen.push(subnet_id);
    }
    for subnet_id in additional {
        let subnet = state
            .networks
            .subnet(subnet_id)
            .ok_or_else(|| ApiError::validation(format!("Subnet {subnet_id} not found")))?;
        if subnet.network_id != vip_subnet.network_id {
            return Err(ApiError::validation(
                "All VIP subnets must belong to the same network.",
            ));
        }
    }
    // The noop provider cannot take them either: they would not be stored.
    Err(ApiError::unsupported_option(
        provider,
        "additional_vips are not available yet.",
    ))
}

/// Takes the VIP's port on `subnet`: exactly `requested`, else the first free address
/// that is not reserved.
async fn allocate_vip(
    state: &AppState,
    tx: &mut Tx,
    subnet: &krater_drivers::Subnet,
    lb_id: &str,
    requested: Option<std::net::Ipv4Addr>,
) -> ApiResult<Port> {
    let name_of_port = format!("krater-lb-{lb_id}");
    let request = krater_db::PortRequest {
        network_id: &subnet.network_id,
        subnet_id: &subnet.id,
        device_owner: "krater:vip",
        device_id: lb_id,
        name: &name_of_port,
    };
    let mut excluded = subnet.reserved_addresses();
    excluded.extend(
        state
            .config
            .networking
            .reserved_ips
            .iter()
            .filter_map(|ip| ip.parse::<std::net::Ipv4Addr>().ok()),
    );
    let pool = match requested {
        Some(ip) => ip..=ip,
        None => subnet.allocation_start..=subnet.allocation_end,
    };
    match tx.allocate_port(request, pool, &excluded).await {
        Ok(Some(port)) => Ok(port),
        Ok(None) | Err(DbError::Duplicate(_)) => Err(match requested {
            Some(ip) => ApiError::conflict(format!("The VIP IP address is already in use: {ip}")),
            None => ApiError::conflict(format!(
                "No more IP addresses available on subnet {}.",
                subnet.id
            )),
        }),
        Err(other) => Err(other.into()),
    }
}

fn no_vip() -> ApiError {
    ApiError::validation("VIP must contain one of: vip_port_id, vip_network_id, vip_subnet_id.")
}

/// The load balancer `id` if the caller reaches it, else Octavia's 404.
pub(super) async fn find(tx: &mut Tx, caller: &Caller, id: &str) -> ApiResult<LoadBalancer> {
    tx.load_balancer(id)
        .await?
        .filter(|lb| caller.scope().admits(&lb.project_id))
        .ok_or_else(|| missing(Table::LoadBalancer, id))
}

/// One load balancer as its views show it.
async fn shown(tx: &mut Tx, lb: &LoadBalancer, query: &Query) -> ApiResult<Value> {
    let lbs = std::slice::from_ref(lb);
    let references = References::of_load_balancers(tx, lbs, &query.fields()).await?;
    Ok(views::to_value(references.load_balancer(lb)))
}

pub async fn show(
    state: State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    uri: Uri,
) -> ApiResult<Response> {
    let caller = Caller::from_headers(&headers, &state);
    let query = Query::parse(uri.query());
    let mut tx = state.db.begin().await?;
    let lb = find(&mut tx, &caller, &id).await?;
    let body = shown(&mut tx, &lb, &query).await?;
    Ok(one(StatusCode::OK, "loadbalancer", body, &query))
}

pub async fn list(
    state: State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<Response> {
    let caller = Caller::from_headers(&headers, &state);
    let asked = list_query(&state, &uri, &query::LOAD_BALANCERS)?;
    let mut tx = state.db.begin().await?;
    let lbs = tx.list_load_balancers(&caller.scope(), &asked.1).await?;
    let references = References::of_load_balancers(&mut tx, &lbs, &asked.0.fields()).await?;
    let page = lbs
        .iter()
        .map(|lb| views::to_value(references.load_balancer(lb)))
        .collect();
    Ok(list_of(
        &state,
        &headers,
        &uri,
        &query::LOAD_BALANCERS,
        page,
        &asked,
    ))
}

pub async fn update(
    state: State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    uri: Uri,
    body: Bytes,
) -> ApiResult<Response> {
    let caller = Caller::from_headers(&headers, &state);
    let input = Input::parse(&body, "loadbalancer", "load_balancer", UPDATE_FIELDS)?;
    let name = input.string("name", NAME_MAX)?;
    let description = input.string("description", NAME_MAX)?;
    let admin_state_up = input.boolean("admin_state_up")?;
    let tags = input.string_list("tags", TAGS_MAX)?;
    if let Field::Value(qos) = input.uuid("vip_qos_policy_id")? {
        return Err(ApiError::bad_request(format!(
            "qos_policy {qos} not found."
        )));
    }
    if input
        .string_list("vip_sg_ids", 36)?
        .value()
        .is_some_and(|l| !l.is_empty())
    {
        return Err(ApiError::bad_request(
            "vip_sg_ids is not a valid option for this deployment's network driver.",
        ));
    }

    let mut tx = state.db.begin().await?;
    let mut lb = find(&mut tx, &caller, &id).await?;
    tx.lock(Lock::Update(Table::LoadBalancer, &id))
        .await
        .map_err(invalid_state)?;
    lb.name = updated(name.map(Some), lb.name, None).filter(|s| !s.is_empty());
    lb.description = updated(description.map(Some), lb.description, None).filter(|s| !s.is_empty());
    if let Field::Value(up) = admin_state_up {
        lb.admin_state_up = up;
    }
    lb.tags = updated(tags, lb.tags, vec![]);
    lb.provisioning_status = ProvisioningStatus::PendingUpdate;
    lb.updated_at = Some(now());
    tx.save_load_balancer(&lb).await?;
    tx.enqueue(&Flow::UpdateLoadBalancer { lb_id: id.clone() })
        .await?;
    let query = Query::parse(uri.query());
    let body = shown(&mut tx, &lb, &query).await?;
    tx.commit().await?;
    Ok(one(StatusCode::OK, "loadbalancer", body, &query))
}

pub async fn delete(
    state: State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    uri: Uri,
) -> ApiResult<Response> {
    let caller = Caller::from_headers(&headers, &state);
    let query = Query::parse(uri.query());
    let cascade = query.pairs.iter().any(|(k, v)| {
        k == "cascade" && matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes")
    });
    let mut tx = state.db.begin().await?;
    find(&mut tx, &caller, &id).await?;
    let has_children =
        !tx.listeners_of(&id).await?.is_empty() || !tx.pools_of(&id).await?.is_empty();
    if has_children && !cascade {
        return Err(ApiError::validation(format!(
            "Cannot delete Load Balancer {id} - it has children"
        )));
    }
    tx.lock(Lock::Delete(Table::LoadBalancer, &id))
        .await
        .map_err(invalid_state)?;
    tx.enqueue(&Flow::DeleteLoadBalancer {
        lb_id: id.clone(),
        cascade,
    })
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn status_tree(
    state: State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let caller = Caller::from_headers(&headers, &state);
    let mut tx = state.db.begin().await?;
    find(&mut tx, &caller, &id).await?;
    let graph = match tx.load_balancer_graph(&id).await {
        Err(DbError::NotFound { .. }) => return Err(missing(Table::LoadBalancer, &id)),
        other => other?,
    };
    let text = |s: &Option<String>| s.clone().unwrap_or_default();
    let listeners: Vec<Value> = graph
        .listeners
        .iter()
        .map(|l| {
            // Octavia's `Listener.pools`: the default pool, then the pools of enabled
            // policies that have a rule.
            let mut pool_ids: Vec<&String> = l.default_pool_id.iter().collect();
            for pg in graph.l7policies_of(&l.id) {
                let p = &pg.policy;
                if let (true, false, Some(pool)) =
                    (p.admin_state_up, pg.rules.is_empty(), &p.redirect_pool_id)
                {
                    if !pool_ids.contains(&pool) {
                        pool_ids.push(pool);
                    }
                }
            }
            let pools: Vec<Value> = pool_ids
                .into_iter()
                .filter_map(|pid| graph.pool(pid))
                .map(|pg| {
                    let mut pool = json!({
                        "id": pg.pool.id,
                        "name": text(&pg.pool.name),
                        "provisioning_status": pg.pool.provisioning_status.as_str(),
                        "operating_status": pg.pool.operating_status.as_str(),
                    });
                    // Octavia writes `"health_monitor": null` for a pool without one.
                    pool["health_monitor"] = match &pg.health_monitor {
                        Some(hm) => json!({
                            "id": hm.id,
                            "name": text(&hm.name),
                            "type": hm.kind.as_str(),
                            "provisioning_status": hm.provisioning_status.as_str(),
                            "operating_status": hm.operating_status.as_str(),
                        }),
                        None => Value::Null,
                    };
                    pool["members"] = pg
                        .members
                        .iter()
                        .map(|m| {
                            json!({
                                "id": m.id,
                                "name": text(&m.name),
                                "operating_status": m.operating_status.as_str(),
                                "provisioning_status": m.provisioning_status.as_str(),
                                "address": m.address,
                                "protocol_port": m.protocol_port,
                            })
                        })
                        .collect();
                    pool
                })
                .collect();
            json!({
                "id": l.id,
                "name": text(&l.name),
                "operating_status": l.operating_status.as_str(),
                "provisioning_status": l.provisioning_status.as_str(),
                "pools": pools,
            })
        })
        .collect();
    let lb = &graph.load_balancer;
    let body = json!({"statuses": {"loadbalancer": {
        "id": lb.id,
        "name": text(&lb.name),
        "operating_status": lb.operating_status.as_str(),
        "provisioning_status": lb.provisioning_status.as_str(),
        "listeners": listeners,
    }}});
    Ok(Json(body).into_response())
}

/// `PUT /loadbalancers/{id}/failover` (admin): every amphora of the load balancer is
/// replaced; from ACTIVE or ERROR, else 409 while another change runs.
pub async fn failover(
    state: State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let mut tx = state.db.begin().await?;
    find(&mut tx, &caller, &id).await?;
    require_admin(&caller)?;
    tx.lock(Lock::Failover(&id)).await?;
    tx.enqueue(&Flow::FailoverLoadBalancer { lb_id: id })
        .await?;
    tx.commit().await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

pub async fn stats(
    state: State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let caller = Caller::from_headers(&headers, &state);
    let mut tx = state.db.begin().await?;
    find(&mut tx, &caller, &id).await?;
    let mut total = ListenerStats::default();
    for listener in tx.listeners_of(&id).await? {
        let s = tx.listener_stats(&listener.id).await?;
        total.bytes_in += s.bytes_in;
        total.bytes_out += s.bytes_out;
        total.active_connections += s.active_connections;
        total.total_connections += s.total_connections;
        total.request_errors += s.request_errors;
    }
    Ok(Json(json!({ "stats": views::stats(total) })).into_response())
}
