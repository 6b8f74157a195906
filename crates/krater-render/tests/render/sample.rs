//! Sample load-balancer graphs: one builder function per entity, with fixed ids and
//! Octavia's defaults, which the cases then change field by field.

use krater_domain::{
    Amphora, AmphoraRole, AmphoraStatus, HealthMonitor, HealthMonitorType, L7CompareType, L7Policy,
    L7PolicyAction, L7PolicyGraph, L7Rule, L7RuleType, LbAlgorithm, Listener, ListenerProtocol,
    LoadBalancer, LoadBalancerGraph, Member, OperatingStatus, Pool, PoolGraph, PoolProtocol,
    ProvisioningStatus, SessionPersistence, SessionPersistenceType, Timestamp, TlsOptions,
    Topology, Vip,
};

const PROJECT: &str = "e3cd678b11784734bc366148aa37580e";

/// A fixed, readable UUID: `kind` tells the entity (1 load balancer, 2 listener,
/// 3 pool, 4 member, 5 health monitor, 6 L7 policy, 7 L7 rule), `n` its number.
pub fn id(kind: u32, n: u32) -> String {
    format!("{kind}0000000-0000-4000-8000-{n:012}")
}

pub fn lb_id() -> String {
    id(1, 1)
}

pub fn listener_id(n: u32) -> String {
    id(2, n)
}

pub fn pool_id(n: u32) -> String {
    id(3, n)
}

pub fn member_id(n: u32) -> String {
    id(4, n)
}

/// An enabled, ACTIVE load balancer with this VIP and nothing in it.
pub fn graph(vip: &str) -> LoadBalancerGraph {
    LoadBalancerGraph {
        load_balancer: LoadBalancer {
            id: lb_id(),
            project_id: PROJECT.into(),
            name: Some("lb1".into()),
            description: None,
            provisioning_status: ProvisioningStatus::Active,
            operating_status: OperatingStatus::Online,
            admin_state_up: true,
            provider: "amphora".into(),
            topology: Topology::Single,
            vip: Vip {
                ip_address: Some(vip.into()),
                ..Vip::default()
            },
            flavor_id: None,
            availability_zone: None,
            tags: Vec::new(),
            created_at: Timestamp::default(),
            updated_at: None,
        },
        listeners: Vec::new(),
        pools: Vec::new(),
        l7policies: Vec::new(),
        amphorae: Vec::new(),
    }
}

/// An enabled listener with Octavia's default limits and timeouts.
pub fn listener(n: u32, protocol: ListenerProtocol, port: u16, pool: Option<u32>) -> Listener {
    Listener {
        id: listener_id(n),
        project_id: PROJECT.into(),
        load_balancer_id: lb_id(),
        name: Some(format!("listener{n}")),
        description: None,
        provisioning_status: ProvisioningStatus::Active,
        operating_status: OperatingStatus::Online,
        admin_state_up: true,
        protocol,
        protocol_port: port,
        connection_limit: -1,
        default_pool_id: pool.map(pool_id),
        timeout_client_data: 50_000,
        timeout_member_connect: 5_000,
        timeout_member_data: 50_000,
        timeout_tcp_inspect: 0,
        insert_headers: Vec::new(),
        allowed_cidrs: Vec::new(),
        tls: TlsOptions::default(),
        tags: Vec::new(),
        created_at: Timestamp::default(),
        updated_at: None,
    }
}

/// An enabled pool without members, health monitor or persistence.
pub fn pool(n: u32, protocol: PoolProtocol, lb_algorithm: LbAlgorithm) -> PoolGraph {
    PoolGraph {
        pool: Pool {
            id: pool_id(n),
            project_id: PROJECT.into(),
            load_balancer_id: lb_id(),
            name: Some(format!("pool{n}")),
            description: None,
            provisioning_status: ProvisioningStatus::Active,
            operating_status: OperatingStatus::Online,
            admin_state_up: true,
            protocol,
            lb_algorithm,
            session_persistence: None,
            tls_enabled: false,
            tls: TlsOptions::default(),
            tags: Vec::new(),
            created_at: Timestamp::default(),
            updated_at: None,
        },
        members: Vec::new(),
        health_monitor: None,
    }
}

/// Session persistence of this kind, with an optional cookie name.
pub fn persistence(kind: SessionPersistenceType, cookie: Option<&str>) -> SessionPersistence {
    SessionPersistence {
        kind,
        cookie_name: cookie.map(str::to_owned),
        persistence_timeout: None,
        persistence_granularity: None,
    }
}

/// An ALLOCATED amphora of the load balancer (kind 6) plugged into the VIP network
/// at `vrrp_ip`.
pub fn amphora(n: u32, role: AmphoraRole, vrrp_ip: &str) -> Amphora {
    Amphora {
        id: id(6, n),
        load_balancer_id: Some(lb_id()),
        compute_id: None,
        status: AmphoraStatus::Allocated,
        role: Some(role),
        lb_network_ip: Some(format!("198.18.0.{}", 10 + n)),
        vrrp_ip: Some(vrrp_ip.into()),
        ha_ip: None,
        vrrp_port_id: None,
        ha_port_id: None,
        vrrp_interface: Some("eth1".into()),
        vrrp_id: Some(1),
        vrrp_priority: role.vrrp_priority(),
        cert_expiration: None,
        cert_busy: false,
        cached_zone: None,
        image_id: None,
        compute_flavor: None,
        created_at: Timestamp::default(),
        updated_at: None,
    }
}

/// An enabled member of weight 1.
pub fn member(n: u32, address: &str, port: u16) -> Member {
    Member {
        id: member_id(n),
        project_id: PROJECT.into(),
        pool_id: pool_id(0),
        name: Some(format!("member{n}")),
        provisioning_status: ProvisioningStatus::Active,
        operating_status: OperatingStatus::Online,
        admin_state_up: true,
        address: address.into(),
        protocol_port: port,
        weight: 1,
        backup: false,
        subnet_id: None,
        monitor_address: None,
        monitor_port: None,
        tags: Vec::new(),
        created_at: Timestamp::default(),
        updated_at: None,
    }
}

/// An enabled health monitor: every 5 s, 3 s timeout, up after 3, down after 2; HTTP
/// fields unset (the renderer's defaults: GET / expecting 200).
pub fn health_monitor(n: u32, kind: HealthMonitorType) -> HealthMonitor {
    HealthMonitor {
        id: id(5, n),
        project_id: PROJECT.into(),
        pool_id: pool_id(n),
        name: Some(format!("hm{n}")),
        provisioning_status: ProvisioningStatus::Active,
        operating_status: OperatingStatus::Online,
        admin_state_up: true,
        kind,
        delay: 5,
        timeout: 3,
        max_retries: 3,
        max_retries_down: 2,
        http_method: None,
        url_path: None,
        expected_codes: None,
        http_version: None,
        domain_name: None,
        tags: Vec::new(),
        created_at: Timestamp::default(),
        updated_at: None,
    }
}

/// Insert-headers settings, all "true".
pub fn headers(names: &[&str]) -> Vec<(String, String)> {
    names
        .iter()
        .map(|n| ((*n).to_owned(), "true".to_owned()))
        .collect()
}

/// An enabled L7 policy of listener 1 at `position`, with no rules and no target.
pub fn l7policy(n: u32, action: L7PolicyAction, position: i64) -> L7PolicyGraph {
    L7PolicyGraph {
        policy: L7Policy {
            id: id(6, n),
            project_id: PROJECT.into(),
            listener_id: listener_id(1),
            name: Some(format!("policy{n}")),
            description: None,
            provisioning_status: ProvisioningStatus::Active,
            operating_status: OperatingStatus::Online,
            admin_state_up: true,
            action,
            position,
            redirect_pool_id: None,
            redirect_url: None,
            redirect_prefix: None,
            redirect_http_code: None,
            tags: Vec::new(),
            created_at: Timestamp::default(),
            updated_at: None,
        },
        rules: Vec::new(),
    }
}

/// An enabled rule of policy `policy`.
pub fn l7rule(
    n: u32,
    policy: u32,
    kind: L7RuleType,
    compare_type: L7CompareType,
    key: Option<&str>,
    value: &str,
) -> L7Rule {
    L7Rule {
        id: id(7, n),
        project_id: PROJECT.into(),
        l7policy_id: id(6, policy),
        provisioning_status: ProvisioningStatus::Active,
        operating_status: OperatingStatus::Online,
        admin_state_up: true,
        kind,
        compare_type,
        key: key.map(str::to_owned),
        value: value.to_owned(),
        invert: false,
        tags: Vec::new(),
        created_at: Timestamp::default(),
        updated_at: None,
    }
}
