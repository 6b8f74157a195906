//! A fully populated load balancer: `listeners` and `pools`, with their members and
//! monitors, given in the load balancer's create and made with it in one transaction
//! (Octavia's "graph" create). A listener's `default_pool` is either a whole pool or
//! `{"name": …}`, a reference to a pool of the same request; pools are therefore
//! named, and names are unique within the request.
//!
//! Every object goes through the checks of its own create, and the default pool must
//! speak a protocol its listener can carry (Octavia skips that check here; an HAProxy
//! configuration could not be made without it). Nested `l7policies` wait for L7.

use super::*;
use crate::body::{Field, Input};
use crate::Caller;
use krater_domain::*;
use std::collections::HashMap;

/// WSME's names of the nested types, as its "Unknown attribute" messages give them.
const LISTENERS_ARG: &str = "load_balancer.loadbalancer.listeners";
const POOLS_ARG: &str = "load_balancer.loadbalancer.pools";
const DEFAULT_POOL_ARG: &str = "load_balancer.loadbalancer.listeners.default_pool";

/// Fields of the nested types: those of each create, without the parent's id and the
/// project (both come from the load balancer).
const LISTENER_ONLY_FIELDS: &[&str] = &["protocol", "protocol_port", "default_pool", "l7policies"];
const POOL_ONLY_FIELDS: &[&str] = &["protocol", "healthmonitor", "members"];
const MEMBER_ONLY_FIELDS: &[&str] = &["address", "protocol_port", "subnet_id", "request_sriov"];
const MONITOR_ONLY_FIELDS: &[&str] = &["type"];

/// The children of a new load balancer, checked, PENDING_CREATE, not yet written.
#[derive(Default)]
pub(super) struct Graph {
    pub pools: Vec<Pool>,
    pub members: Vec<Member>,
    pub monitors: Vec<HealthMonitor>,
    pub listeners: Vec<Listener>,
}

fn validation(detail: String) -> ApiError {
    ApiError::validation(detail)
}

/// A pool given in full: its input and the WSME name of its type.
struct PoolEntry {
    input: Input,
    argument: &'static str,
}

/// Parses and checks the `listeners` and `pools` of a load balancer create for the
/// load balancer `lb` (made, not yet written).
pub(super) fn parse(input: &Input, state: &AppState, lb: &LoadBalancer) -> ApiResult<Graph> {
    let listener_fields = fields_of(super::listener::COMMON_FIELDS, LISTENER_ONLY_FIELDS);
    let pool_fields = fields_of(super::pool::COMMON_FIELDS, POOL_ONLY_FIELDS);

    let mut pool_entries = Vec::new();
    for value in input.list("pools")? {
        pool_entries.push(PoolEntry {
            input: input.element(&value, POOLS_ARG, &pool_fields)?,
            argument: POOLS_ARG,
        });
    }
    // (listener, the name of its default pool)
    let mut listener_entries = Vec::new();
    let mut references = Vec::new();
    for value in input.list("listeners")? {
        let listener = input.element(&value, LISTENERS_ARG, &listener_fields)?;
        if !listener.list("l7policies")?.is_empty() {
            return Err(ApiError::new(
                StatusCode::NOT_IMPLEMENTED,
                format!(
                    "Provider '{}' does not support a requested action: l7policies in a listener create",
                    lb.provider
                ),
            ));
        }
        let default_pool = match listener.raw_value("default_pool") {
            None | Some(Value::Null) => None,
            Some(value) => {
                let pool = listener.element(value, DEFAULT_POOL_ARG, &pool_fields)?;
                let Field::Value(name) = pool.string("name", NAME_MAX)? else {
                    return Err(validation(
                        "Pools must be named when creating a fully populated loadbalancer.".into(),
                    ));
                };
                let full = pool.keys().any(|k| k != "name" && k != "admin_state_up");
                if full {
                    pool_entries.push(PoolEntry {
                        input: pool,
                        argument: DEFAULT_POOL_ARG,
                    });
                } else {
                    references.push(name.clone());
                }
                Some(name)
            }
        };
        listener_entries.push((listener, default_pool));
    }

    let names: Vec<Option<String>> = pool_entries
        .iter()
        .map(|p| p.input.string("name", NAME_MAX).map(Field::value))
        .collect::<ApiResult<_>>()?;
    let distinct: std::collections::HashSet<&Option<String>> = names.iter().collect();
    if distinct.len() != names.len() {
        return Err(validation(
            "Pool names must be unique when creating a fully populated loadbalancer.".into(),
        ));
    }
    for reference in &references {
        if !names.contains(&Some(reference.clone())) {
            return Err(validation(format!(
                "Pool '{reference}' was referenced but no full definition was found."
            )));
        }
    }

    let mut graph = Graph::default();
    let mut pool_by_name = HashMap::new();
    for (entry, name) in pool_entries.iter().zip(&names) {
        let pool = add_pool(&mut graph, entry, name, state, lb)?;
        if let Some(name) = name {
            pool_by_name.insert(name.clone(), pool);
        }
    }
    for (input, default_pool) in listener_entries {
        let spec = super::listener::parse_spec(&input)?;
        let mut listener = super::listener::new_listener(spec, &lb.id, lb.project_id.clone())?;
        super::listener::check_port_free(&graph.listeners, &listener)?;
        if let Some(pool_id) = &listener.default_pool_id {
            // Pools of this request get their ids only now: an id cannot name one.
            return Err(missing(Table::Pool, pool_id));
        }
        if let Some(name) = default_pool {
            let (pool_id, protocol) = &pool_by_name[&name];
            super::pool::check_listener_protocol(listener.protocol, *protocol)?;
            listener.default_pool_id = Some(pool_id.clone());
        }
        graph.listeners.push(listener);
    }
    Ok(graph)
}

/// Checks one pool given in full, with its monitor and members, and adds them to the
/// graph; returns the pool's id and protocol.
fn add_pool(
    graph: &mut Graph,
    entry: &PoolEntry,
    name: &Option<String>,
    state: &AppState,
    lb: &LoadBalancer,
) -> ApiResult<(String, PoolProtocol)> {
    let input = &entry.input;
    for required in ["protocol", "lb_algorithm"] {
        if input.raw_value(required).is_none_or(Value::is_null) {
            let shown = name.as_deref().unwrap_or("None");
            return Err(validation(format!(
                "Pool definition for '{shown}' missing required attribute: {required}"
            )));
        }
    }
    let spec = super::pool::parse_spec(input)?;
    super::pool::check_unsupported(input, Some(spec.lb_algorithm))?;
    let pool = super::pool::new_pool(spec, &lb.id, lb.project_id.clone());

    let monitor_fields = fields_of(super::health_monitor::UPDATE_FIELDS, MONITOR_ONLY_FIELDS);
    if let Some(value) = input.raw_value("healthmonitor").filter(|v| !v.is_null()) {
        let argument = format!("{}.healthmonitor", entry.argument);
        let monitor_input = input.element(value, &argument, &monitor_fields)?;
        let spec = super::health_monitor::parse_spec(&monitor_input)?;
        graph
            .monitors
            .push(super::health_monitor::new_health_monitor(
                &monitor_input,
                spec,
                &pool,
                lb.project_id.clone(),
            )?);
    }

    let member_fields = fields_of(super::member::UPDATE_FIELDS, MEMBER_ONLY_FIELDS);
    let argument = format!("{}.members", entry.argument);
    let owner = Caller {
        project_id: lb.project_id.clone(),
    };
    let first_member = graph.members.len();
    for value in input.list("members")? {
        let member_input = input.element(&value, &argument, &member_fields)?;
        let spec = super::member::parse_spec(&member_input, state, &owner)?;
        // As in Octavia's graph create, members start without a monitor's verdict.
        let member = super::member::new_member(spec, &pool.id, false);
        if graph.members[first_member..]
            .iter()
            .any(|m| m.address == member.address && m.protocol_port == member.protocol_port)
        {
            return Err(super::member::duplicate(
                &member.address,
                member.protocol_port,
            ));
        }
        graph.members.push(member);
    }
    let id_and_protocol = (pool.id.clone(), pool.protocol);
    graph.pools.push(pool);
    Ok(id_and_protocol)
}
