//! A fully populated load balancer: `listeners` and `pools`, with their members and
//! monitors, given in the load balancer's create and made with it in one transaction
//! (Octavia's "graph" create). A listener's `default_pool` is either a whole pool or
//! a reference to a pool of the same request by name (`{"name": …}`, optionally with
//! `admin_state_up` or `tls_enabled`, which Octavia also ignores there); pools are
//! therefore named, and names are unique within the request.
//!
//! A listener's `l7policies` come with their `rules`; a policy's `redirect_pool`
//! names a pool of the request the same way.
//!
//! Every object goes through the checks of its own create.

use super::*;
use crate::body::Input;
use krater_domain::*;
use std::collections::{HashMap, HashSet};

/// WSME's names of the nested types, as its "Unknown attribute" messages give them.
const LISTENERS_ARG: &str = "load_balancer.loadbalancer.listeners";
const POOLS_ARG: &str = "load_balancer.loadbalancer.pools";
const DEFAULT_POOL_ARG: &str = "load_balancer.loadbalancer.listeners.default_pool";
const POLICIES_ARG: &str = "load_balancer.loadbalancer.listeners.l7policies";
const REDIRECT_POOL_ARG: &str = "load_balancer.loadbalancer.listeners.l7policies.redirect_pool";

/// Fields of the nested types: those of each create, without the parent's id and the
/// project (both come from the load balancer).
const LISTENER_ONLY_FIELDS: &[&str] = &["protocol", "protocol_port", "default_pool", "l7policies"];
const POOL_ONLY_FIELDS: &[&str] = &["protocol", "healthmonitor", "members"];
const MEMBER_ONLY_FIELDS: &[&str] = &["address", "protocol_port", "subnet_id", "request_sriov"];
const MONITOR_ONLY_FIELDS: &[&str] = &["type"];
const POLICY_ONLY_FIELDS: &[&str] = &["rules", "redirect_pool"];

/// Keys of a `default_pool` that still make it a reference by name.
const REFERENCE_KEYS: &[&str] = &["name", "admin_state_up", "tls_enabled"];

/// The children of a new load balancer, checked, PENDING_CREATE, not yet written.
#[derive(Default)]
pub(super) struct Graph {
    pub pools: Vec<Pool>,
    pub members: Vec<Member>,
    pub monitors: Vec<HealthMonitor>,
    pub listeners: Vec<Listener>,
    /// Policies by the index of their listener in `listeners`; written once the
    /// pools and listeners are.
    pub policies: Vec<(usize, super::l7policy::PolicySpec)>,
}

/// The load balancer the graph belongs to.
pub(super) struct Owner<'a> {
    pub lb_id: &'a str,
    pub project_id: &'a str,
    pub provider: &'a str,
}

/// A pool given in full.
struct PoolEntry {
    input: Input,
    /// WSME's name of its type: where it was given.
    argument: &'static str,
    name: Option<String>,
}

/// A pool made from an entry, as the listeners that name it need it.
struct NamedPool {
    id: String,
    protocol: PoolProtocol,
}

/// Parses and checks the `listeners` and `pools` of a load balancer create; writes
/// nothing.
pub(super) fn parse(input: &Input, state: &AppState, owner: &Owner) -> ApiResult<Graph> {
    let listener_fields = fields_of(super::listener::COMMON_FIELDS, LISTENER_ONLY_FIELDS);
    let pool_fields = fields_of(super::pool::COMMON_FIELDS, POOL_ONLY_FIELDS);

    let mut pool_entries = Vec::new();
    for value in input.list("pools")? {
        let pool = input.element(&value, POOLS_ARG, &pool_fields)?;
        pool_entries.push(PoolEntry {
            name: pool.string("name", NAME_MAX)?.value(),
            input: pool,
            argument: POOLS_ARG,
        });
    }
    // Each listener with the name of its default pool.
    let mut listener_entries = Vec::new();
    let mut references = Vec::new();
    for value in input.list("listeners")? {
        let listener = input.element(&value, LISTENERS_ARG, &listener_fields)?;
        let default_pool = match listener.raw_value("default_pool") {
            None | Some(Value::Null) => None,
            Some(value) => {
                let pool = listener.element(value, DEFAULT_POOL_ARG, &pool_fields)?;
                let name = pool
                    .string("name", NAME_MAX)?
                    .value()
                    .filter(|name| !name.is_empty())
                    .ok_or_else(|| {
                        ApiError::validation(
                            "Pools must be named when creating a fully populated loadbalancer.",
                        )
                    })?;
                if pool.keys().all(|k| REFERENCE_KEYS.contains(&k.as_str())) {
                    references.push(name.clone());
                } else {
                    pool_entries.push(PoolEntry {
                        input: pool,
                        argument: DEFAULT_POOL_ARG,
                        name: Some(name.clone()),
                    });
                }
                Some(name)
            }
        };
        let policies = listener.list("l7policies")?;
        listener_entries.push((listener, default_pool, policies));
    }

    // As in Octavia, unnamed pools count as one name here.
    let names: HashSet<&Option<String>> = pool_entries.iter().map(|p| &p.name).collect();
    if names.len() != pool_entries.len() {
        return Err(ApiError::validation(
            "Pool names must be unique when creating a fully populated loadbalancer.",
        ));
    }
    for reference in &references {
        if !names.contains(&Some(reference.clone())) {
            return Err(ApiError::validation(format!(
                "Pool '{reference}' was referenced but no full definition was found."
            )));
        }
    }

    let mut graph = Graph::default();
    let mut pool_by_name = HashMap::new();
    for entry in &pool_entries {
        let pool = add_pool(&mut graph, entry, state, owner)?;
        if let Some(name) = &entry.name {
            pool_by_name.insert(name.clone(), pool);
        }
    }
    let policy_fields = fields_of(super::l7policy::UPDATE_FIELDS, POLICY_ONLY_FIELDS);
    for (input, default_pool, policies) in listener_entries {
        let spec = super::listener::parse_spec(&input)?;
        let mut listener =
            super::listener::new_listener(spec, owner.lb_id, owner.project_id.to_string())?;
        super::listener::check_port_free(&graph.listeners, &listener)?;
        match (default_pool, &listener.default_pool_id) {
            (Some(name), _) => {
                // A named default pool wins over a `default_pool_id`, as in Octavia.
                let pool = pool_by_name.get(&name).ok_or_else(|| {
                    ApiError::validation(format!(
                        "Pool '{name}' was referenced but no full definition was found."
                    ))
                })?;
                super::pool::check_listener_protocol(listener.protocol, pool.protocol)?;
                listener.default_pool_id = Some(pool.id.clone());
            }
            // The pools of this request get their ids only now: an id cannot name one.
            (None, Some(pool_id)) => return Err(missing(Table::Pool, pool_id)),
            (None, None) => {}
        }
        super::unenforced::check_listener(owner.provider, &listener)?;
        for value in policies {
            let policy = input.element(&value, POLICIES_ARG, &policy_fields)?;
            let redirect_pool = match policy.raw_value("redirect_pool") {
                None | Some(Value::Null) => None,
                Some(value) => {
                    let reference = policy.element(value, REDIRECT_POOL_ARG, &pool_fields)?;
                    let name = reference
                        .string("name", NAME_MAX)?
                        .value()
                        .unwrap_or_default();
                    let pool = pool_by_name.get(&name).ok_or_else(|| {
                        ApiError::validation(format!(
                            "Pool '{name}' was referenced but no full definition was found."
                        ))
                    })?;
                    Some(pool.id.clone())
                }
            };
            let spec = super::l7policy::parse_spec(&policy, redirect_pool)?;
            graph.policies.push((graph.listeners.len(), spec));
        }
        graph.listeners.push(listener);
    }
    Ok(graph)
}

/// Checks one pool given in full, with its monitor and members, and adds them to the
/// graph.
fn add_pool(
    graph: &mut Graph,
    entry: &PoolEntry,
    state: &AppState,
    owner: &Owner,
) -> ApiResult<NamedPool> {
    let input = &entry.input;
    for required in ["protocol", "lb_algorithm"] {
        if input.raw_value(required).is_none_or(Value::is_null) {
            let shown = entry.name.as_deref().unwrap_or("None");
            return Err(ApiError::validation(format!(
                "Pool definition for '{shown}' missing required attribute: {required}"
            )));
        }
    }
    let spec = super::pool::parse_spec(input, entry.argument)?;
    super::pool::check_unsupported(input, Some(spec.lb_algorithm))?;
    let pool = super::pool::new_pool(spec, owner.lb_id, owner.project_id.to_string());
    super::unenforced::check_pool(owner.provider, &pool)?;

    let monitor_fields = fields_of(super::health_monitor::UPDATE_FIELDS, MONITOR_ONLY_FIELDS);
    if let Some(value) = input.raw_value("healthmonitor").filter(|v| !v.is_null()) {
        let argument = format!("{}.healthmonitor", entry.argument);
        let monitor_input = input.element(value, &argument, &monitor_fields)?;
        let spec = super::health_monitor::parse_spec(&monitor_input)?;
        let monitor = super::health_monitor::new_health_monitor(
            &monitor_input,
            spec,
            &pool,
            owner.project_id.to_string(),
        )?;
        super::unenforced::check_health_monitor(owner.provider, &monitor)?;
        graph.monitors.push(monitor);
    }

    let member_fields = fields_of(super::member::UPDATE_FIELDS, MEMBER_ONLY_FIELDS);
    let argument = format!("{}.members", entry.argument);
    let first_member = graph.members.len();
    for value in input.list("members")? {
        let member_input = input.element(&value, &argument, &member_fields)?;
        let spec = super::member::parse_spec(&member_input, state)?;
        // As in Octavia's graph create, members start without a monitor's verdict.
        let member = super::member::new_member(spec, &pool, false);
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
    let named = NamedPool {
        id: pool.id.clone(),
        protocol: pool.protocol,
    };
    graph.pools.push(pool);
    Ok(named)
}
