//! Renders domain objects as Octavia's response bodies.
//!
//! [`References`] holds the ids that views refer to (a load balancer's listeners, a
//! pool's members, …), read per page by indexed queries.

use crate::query::wants;
use krater_api_types as wire;
use krater_db::{Relation, Tx};
use krater_domain::*;
use serde_json::Value;
use std::collections::HashMap;

pub fn ts(t: Timestamp) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

fn ids<'a>(items: impl Iterator<Item = &'a String>) -> Vec<wire::IdRef> {
    items.map(|id| wire::IdRef { id: id.clone() }).collect()
}

fn text(s: &Option<String>) -> String {
    s.clone().unwrap_or_default()
}

/// The ids a load balancer or pool view refers to, read for one page of objects by
/// indexed queries (only those the `fields` selection shows).
#[derive(Default)]
pub struct References {
    listeners_of_lb: HashMap<String, Vec<String>>,
    pools_of_lb: HashMap<String, Vec<String>>,
    listeners_of_pool: HashMap<String, Vec<String>>,
    members_of_pool: HashMap<String, Vec<String>>,
    monitor_of_pool: HashMap<String, Vec<String>>,
    policies_of_listener: HashMap<String, Vec<String>>,
    rules_of_policy: HashMap<String, Vec<String>>,
}

async fn related(
    tx: &mut Tx,
    relation: Relation,
    parents: &[String],
    shown: bool,
) -> krater_db::Result<HashMap<String, Vec<String>>> {
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    if shown {
        for (parent, id) in tx.related_ids(relation, parents).await? {
            map.entry(parent).or_default().push(id);
        }
    }
    Ok(map)
}

fn refs(map: &HashMap<String, Vec<String>>, parent: &str) -> Vec<wire::IdRef> {
    ids(map.get(parent).into_iter().flatten())
}

impl References {
    /// What the views of `lbs` show: their listeners and pools.
    pub async fn of_load_balancers(
        tx: &mut Tx,
        lbs: &[LoadBalancer],
        fields: &[String],
    ) -> krater_db::Result<Self> {
        let parents: Vec<String> = lbs.iter().map(|lb| lb.id.clone()).collect();
        Ok(Self {
            listeners_of_lb: related(
                tx,
                Relation::ListenersOfLoadBalancer,
                &parents,
                wants(fields, "listeners"),
            )
            .await?,
            pools_of_lb: related(
                tx,
                Relation::PoolsOfLoadBalancer,
                &parents,
                wants(fields, "pools"),
            )
            .await?,
            ..Self::default()
        })
    }

    /// What the views of `pools` show: the listeners using them, members, monitor.
    pub async fn of_pools(
        tx: &mut Tx,
        pools: &[Pool],
        fields: &[String],
    ) -> krater_db::Result<Self> {
        let parents: Vec<String> = pools.iter().map(|p| p.id.clone()).collect();
        Ok(Self {
            listeners_of_pool: related(
                tx,
                Relation::ListenersOfDefaultPool,
                &parents,
                wants(fields, "listeners"),
            )
            .await?,
            members_of_pool: related(
                tx,
                Relation::MembersOfPool,
                &parents,
                wants(fields, "members"),
            )
            .await?,
            monitor_of_pool: related(
                tx,
                Relation::MonitorOfPool,
                &parents,
                wants(fields, "healthmonitor_id"),
            )
            .await?,
            ..Self::default()
        })
    }

    /// What the views of `listeners` show: their L7 policies.
    pub async fn of_listeners(
        tx: &mut Tx,
        listeners: &[Listener],
        fields: &[String],
    ) -> krater_db::Result<Self> {
        let parents: Vec<String> = listeners.iter().map(|l| l.id.clone()).collect();
        Ok(Self {
            policies_of_listener: related(
                tx,
                Relation::PoliciesOfListener,
                &parents,
                wants(fields, "l7policies"),
            )
            .await?,
            ..Self::default()
        })
    }

    /// What the views of `policies` show: their rules.
    pub async fn of_l7policies(
        tx: &mut Tx,
        policies: &[L7Policy],
        fields: &[String],
    ) -> krater_db::Result<Self> {
        let parents: Vec<String> = policies.iter().map(|p| p.id.clone()).collect();
        Ok(Self {
            rules_of_policy: related(
                tx,
                Relation::RulesOfPolicy,
                &parents,
                wants(fields, "rules"),
            )
            .await?,
            ..Self::default()
        })
    }

    pub fn load_balancer(&self, lb: &LoadBalancer) -> wire::LoadBalancer {
        wire::LoadBalancer {
            id: lb.id.clone(),
            name: text(&lb.name),
            description: text(&lb.description),
            provisioning_status: lb.provisioning_status.to_string(),
            operating_status: lb.operating_status.to_string(),
            admin_state_up: lb.admin_state_up,
            project_id: lb.project_id.clone(),
            tenant_id: lb.project_id.clone(),
            created_at: ts(lb.created_at),
            updated_at: lb.updated_at.map(ts),
            vip_address: lb.vip.ip_address.clone(),
            vip_port_id: lb.vip.port_id.clone(),
            vip_subnet_id: lb.vip.subnet_id.clone(),
            vip_network_id: lb.vip.network_id.clone(),
            vip_qos_policy_id: lb.vip.qos_policy_id.clone(),
            vip_sg_ids: vec![],
            vip_vnic_type: "normal".into(),
            additional_vips: vec![],
            listeners: refs(&self.listeners_of_lb, &lb.id),
            pools: refs(&self.pools_of_lb, &lb.id),
            provider: lb.provider.clone(),
            flavor_id: lb.flavor_id.clone(),
            availability_zone: lb.availability_zone.clone(),
            tags: lb.tags.clone(),
        }
    }

    pub fn pool(&self, p: &Pool) -> wire::Pool {
        wire::Pool {
            id: p.id.clone(),
            name: text(&p.name),
            description: text(&p.description),
            provisioning_status: p.provisioning_status.to_string(),
            operating_status: p.operating_status.to_string(),
            admin_state_up: p.admin_state_up,
            protocol: p.protocol.to_string(),
            lb_algorithm: p.lb_algorithm.to_string(),
            session_persistence: p.session_persistence.as_ref().map(|sp| {
                wire::SessionPersistence {
                    kind: sp.kind.to_string(),
                    cookie_name: sp.cookie_name.clone(),
                    persistence_timeout: sp.persistence_timeout,
                    persistence_granularity: sp.persistence_granularity.clone(),
                }
            }),
            project_id: p.project_id.clone(),
            tenant_id: p.project_id.clone(),
            loadbalancers: vec![wire::IdRef {
                id: p.load_balancer_id.clone(),
            }],
            listeners: refs(&self.listeners_of_pool, &p.id),
            created_at: ts(p.created_at),
            updated_at: p.updated_at.map(ts),
            healthmonitor_id: self
                .monitor_of_pool
                .get(&p.id)
                .and_then(|ids| ids.first().cloned()),
            members: refs(&self.members_of_pool, &p.id),
            tags: p.tags.clone(),
            tls_container_ref: None,
            ca_tls_container_ref: None,
            crl_container_ref: None,
            tls_enabled: p.tls_enabled,
            tls_ciphers: p.tls.ciphers.clone(),
            tls_versions: p.tls.versions.clone(),
            alpn_protocols: p.tls.alpn_protocols.clone(),
        }
    }

    pub fn listener(&self, l: &Listener) -> wire::Listener {
        wire::Listener {
            id: l.id.clone(),
            name: text(&l.name),
            description: text(&l.description),
            provisioning_status: l.provisioning_status.to_string(),
            operating_status: l.operating_status.to_string(),
            admin_state_up: l.admin_state_up,
            protocol: l.protocol.to_string(),
            protocol_port: l.protocol_port,
            connection_limit: l.connection_limit,
            default_tls_container_ref: None,
            sni_container_refs: vec![],
            project_id: l.project_id.clone(),
            tenant_id: l.project_id.clone(),
            default_pool_id: l.default_pool_id.clone(),
            l7policies: refs(&self.policies_of_listener, &l.id),
            insert_headers: l
                .insert_headers
                .iter()
                .map(|(k, v)| (k.clone(), Value::from(v.clone())))
                .collect(),
            created_at: ts(l.created_at),
            updated_at: l.updated_at.map(ts),
            loadbalancers: vec![wire::IdRef {
                id: l.load_balancer_id.clone(),
            }],
            timeout_client_data: l.timeout_client_data,
            timeout_member_connect: l.timeout_member_connect,
            timeout_member_data: l.timeout_member_data,
            timeout_tcp_inspect: l.timeout_tcp_inspect,
            tags: l.tags.clone(),
            client_ca_tls_container_ref: None,
            client_authentication: "NONE".into(),
            client_crl_container_ref: None,
            allowed_cidrs: (!l.allowed_cidrs.is_empty()).then(|| l.allowed_cidrs.clone()),
            tls_ciphers: l.tls.ciphers.clone(),
            tls_versions: l.tls.versions.clone(),
            alpn_protocols: l.tls.alpn_protocols.clone(),
            hsts_max_age: None,
            hsts_include_subdomains: false,
            hsts_preload: false,
        }
    }

    pub fn l7policy(&self, p: &L7Policy) -> wire::L7Policy {
        wire::L7Policy {
            id: p.id.clone(),
            name: text(&p.name),
            description: text(&p.description),
            provisioning_status: p.provisioning_status.to_string(),
            operating_status: p.operating_status.to_string(),
            admin_state_up: p.admin_state_up,
            project_id: p.project_id.clone(),
            tenant_id: p.project_id.clone(),
            action: p.action.to_string(),
            listener_id: p.listener_id.clone(),
            redirect_pool_id: p.redirect_pool_id.clone(),
            redirect_url: p.redirect_url.clone(),
            redirect_prefix: p.redirect_prefix.clone(),
            position: p.position,
            rules: refs(&self.rules_of_policy, &p.id),
            created_at: ts(p.created_at),
            updated_at: p.updated_at.map(ts),
            tags: p.tags.clone(),
            redirect_http_code: p.redirect_http_code,
        }
    }
}

/// A load balancer as its create answers it (Octavia's "full" response): its
/// listeners and pools as whole objects, each pool with its members and monitor,
/// without the back references that the nesting makes redundant.
pub fn full_load_balancer(graph: &LoadBalancerGraph) -> Value {
    let without = |object: Value, keys: &[&str]| match object {
        Value::Object(mut map) => {
            for key in keys {
                map.remove(*key);
            }
            Value::Object(map)
        }
        other => other,
    };
    let lb = &graph.load_balancer;
    let mut references = References::default();
    for l in &graph.listeners {
        references
            .listeners_of_lb
            .entry(lb.id.clone())
            .or_default()
            .push(l.id.clone());
        if let Some(pool_id) = &l.default_pool_id {
            let using = references.listeners_of_pool.entry(pool_id.clone());
            using.or_default().push(l.id.clone());
        }
    }
    // Listeners show their policies whole, each with its rules.
    let listeners: Vec<Value> = graph
        .listeners
        .iter()
        .map(|l| {
            let mut listener = without(to_value(references.listener(l)), &["loadbalancers"]);
            let policies: Vec<Value> = graph
                .l7policies_of(&l.id)
                .map(|pg| {
                    let mut policy = to_value(references.l7policy(&pg.policy));
                    policy["rules"] = pg.rules.iter().map(|r| to_value(l7rule(r))).collect();
                    policy
                })
                .collect();
            listener["l7policies"] = Value::from(policies);
            listener
        })
        .collect();
    let pools: Vec<Value> = graph
        .pools
        .iter()
        .map(|pg| {
            references
                .pools_of_lb
                .entry(lb.id.clone())
                .or_default()
                .push(pg.pool.id.clone());
            let members: Vec<Value> = pg.members.iter().map(|m| to_value(member(m))).collect();
            references.members_of_pool.insert(
                pg.pool.id.clone(),
                pg.members.iter().map(|m| m.id.clone()).collect(),
            );
            let mut pool = without(
                to_value(references.pool(&pg.pool)),
                &["loadbalancers", "healthmonitor_id"],
            );
            let monitor = pg
                .health_monitor
                .as_ref()
                .map(|h| without(to_value(health_monitor(h)), &["pools"]));
            pool["members"] = Value::from(members);
            pool["healthmonitor"] = monitor.unwrap_or(Value::Null);
            pool
        })
        .collect();
    let mut value = to_value(references.load_balancer(lb));
    value["listeners"] = Value::from(listeners);
    value["pools"] = Value::from(pools);
    value
}

pub fn member(m: &Member) -> wire::Member {
    wire::Member {
        id: m.id.clone(),
        name: text(&m.name),
        operating_status: m.operating_status.to_string(),
        provisioning_status: m.provisioning_status.to_string(),
        admin_state_up: m.admin_state_up,
        address: m.address.clone(),
        protocol_port: m.protocol_port,
        weight: m.weight,
        backup: m.backup,
        subnet_id: m.subnet_id.clone(),
        project_id: m.project_id.clone(),
        tenant_id: m.project_id.clone(),
        created_at: ts(m.created_at),
        updated_at: m.updated_at.map(ts),
        monitor_address: m.monitor_address.clone(),
        monitor_port: m.monitor_port,
        tags: m.tags.clone(),
        vnic_type: "normal".into(),
    }
}

pub fn health_monitor(h: &HealthMonitor) -> wire::HealthMonitor {
    wire::HealthMonitor {
        id: h.id.clone(),
        name: text(&h.name),
        kind: h.kind.to_string(),
        delay: h.delay,
        timeout: h.timeout,
        max_retries: h.max_retries,
        max_retries_down: h.max_retries_down,
        http_method: h.http_method.map(|m| m.to_string()),
        url_path: h.url_path.clone(),
        expected_codes: h.expected_codes.clone(),
        admin_state_up: h.admin_state_up,
        project_id: h.project_id.clone(),
        tenant_id: h.project_id.clone(),
        pools: vec![wire::IdRef {
            id: h.pool_id.clone(),
        }],
        provisioning_status: h.provisioning_status.to_string(),
        operating_status: h.operating_status.to_string(),
        created_at: ts(h.created_at),
        updated_at: h.updated_at.map(ts),
        tags: h.tags.clone(),
        http_version: h.http_version,
        domain_name: h.domain_name.clone(),
    }
}

pub fn amphora(a: &Amphora) -> wire::Amphora {
    wire::Amphora {
        id: a.id.clone(),
        loadbalancer_id: a.load_balancer_id.clone(),
        compute_id: a.compute_id.clone(),
        lb_network_ip: a.lb_network_ip.clone(),
        vrrp_ip: a.vrrp_ip.clone(),
        ha_ip: a.ha_ip.clone(),
        vrrp_port_id: a.vrrp_port_id.clone(),
        ha_port_id: a.ha_port_id.clone(),
        cert_expiration: a.cert_expiration.map(ts),
        cert_busy: a.cert_busy,
        role: a.role.map(|r| r.to_string()),
        status: a.status.to_string(),
        vrrp_interface: a.vrrp_interface.clone(),
        vrrp_id: a.vrrp_id,
        vrrp_priority: a.vrrp_priority,
        cached_zone: a.cached_zone.clone(),
        created_at: ts(a.created_at),
        updated_at: a.updated_at.map(ts),
        image_id: a.image_id.clone(),
        compute_flavor: a.compute_flavor.clone(),
    }
}

/// Serialises a wire type into a JSON value (infallible for these types).
pub fn to_value(v: impl serde::Serialize) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

pub fn stats(s: ListenerStats) -> wire::Stats {
    wire::Stats {
        bytes_in: s.bytes_in,
        bytes_out: s.bytes_out,
        active_connections: s.active_connections,
        total_connections: s.total_connections,
        request_errors: s.request_errors,
    }
}

pub fn l7rule(r: &L7Rule) -> wire::L7Rule {
    wire::L7Rule {
        id: r.id.clone(),
        kind: r.kind.to_string(),
        compare_type: r.compare_type.to_string(),
        key: r.key.clone(),
        value: r.value.clone(),
        invert: r.invert,
        provisioning_status: r.provisioning_status.to_string(),
        operating_status: r.operating_status.to_string(),
        created_at: ts(r.created_at),
        updated_at: r.updated_at.map(ts),
        project_id: r.project_id.clone(),
        tenant_id: r.project_id.clone(),
        admin_state_up: r.admin_state_up,
        tags: r.tags.clone(),
    }
}
