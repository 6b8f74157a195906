//! A small load-balancer graph rendered with krater-render: HTTP listeners on a VIP,
//! each with a round-robin pool, optionally health-checked.

use krater_domain::{
    HealthMonitor, HealthMonitorType, LbAlgorithm, Listener, ListenerProtocol, LoadBalancer,
    LoadBalancerGraph, Member, OperatingStatus, Pool, PoolGraph, PoolProtocol, ProvisioningStatus,
    Timestamp, TlsOptions, Topology, Vip,
};
use krater_render::{render, RenderOptions};

const PROJECT: &str = "e3cd678b11784734bc366148aa37580e";

/// The id of the `n`-th object of a kind: 2 listener, 3 pool, 4 member, 5 monitor.
pub fn id(kind: u32, n: usize) -> String {
    format!("{kind}0000000-0000-4000-8000-{n:012}")
}

/// The `haproxy.cfg` of load balancer `lb_id` with VIP `vip`: one HTTP listener per
/// `(port, member address, member port)`.
pub fn config(lb_id: &str, vip: &str, listeners: &[(u16, &str, u16)]) -> String {
    let listeners: Vec<(u16, Vec<(&str, u16)>)> = listeners
        .iter()
        .map(|&(port, address, member_port)| (port, vec![(address, member_port)]))
        .collect();
    build(lb_id, vip, &listeners, false)
}

/// The `haproxy.cfg` of load balancer `lb_id` with one HTTP listener on `port` whose
/// pool has the `members` (member `n` is `id(4, n)`) and an HTTP health monitor
/// checking `GET /` every second, a member down after one failed check.
pub fn checked_config(lb_id: &str, vip: &str, port: u16, members: &[(&str, u16)]) -> String {
    build(lb_id, vip, &[(port, members.to_vec())], true)
}

fn build(lb_id: &str, vip: &str, listeners: &[(u16, Vec<(&str, u16)>)], monitor: bool) -> String {
    let mut graph = LoadBalancerGraph {
        load_balancer: LoadBalancer {
            id: lb_id.into(),
            project_id: PROJECT.into(),
            name: Some("lb".into()),
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
    };
    let mut member_n = 0;
    for (n, (port, members)) in listeners.iter().enumerate() {
        let port = *port;
        let pool_id = id(3, n);
        graph.listeners.push(Listener {
            id: id(2, n),
            project_id: PROJECT.into(),
            load_balancer_id: lb_id.into(),
            name: None,
            description: None,
            provisioning_status: ProvisioningStatus::Active,
            operating_status: OperatingStatus::Online,
            admin_state_up: true,
            protocol: ListenerProtocol::Http,
            protocol_port: port,
            connection_limit: 1000,
            default_pool_id: Some(pool_id.clone()),
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
        });
        graph.pools.push(PoolGraph {
            pool: Pool {
                id: pool_id.clone(),
                project_id: PROJECT.into(),
                load_balancer_id: lb_id.into(),
                name: None,
                description: None,
                provisioning_status: ProvisioningStatus::Active,
                operating_status: OperatingStatus::Online,
                admin_state_up: true,
                protocol: PoolProtocol::Http,
                lb_algorithm: LbAlgorithm::RoundRobin,
                session_persistence: None,
                tls_enabled: false,
                tls: TlsOptions::default(),
                tags: Vec::new(),
                created_at: Timestamp::default(),
                updated_at: None,
            },
            members: members
                .iter()
                .map(|&(address, member_port)| {
                    member_n += 1;
                    Member {
                        id: id(4, member_n - 1),
                        project_id: PROJECT.into(),
                        pool_id: pool_id.clone(),
                        name: None,
                        provisioning_status: ProvisioningStatus::Active,
                        operating_status: OperatingStatus::Online,
                        admin_state_up: true,
                        address: address.into(),
                        protocol_port: member_port,
                        weight: 1,
                        backup: false,
                        subnet_id: None,
                        monitor_address: None,
                        monitor_port: None,
                        tags: Vec::new(),
                        created_at: Timestamp::default(),
                        updated_at: None,
                    }
                })
                .collect(),
            health_monitor: monitor.then(|| HealthMonitor {
                id: id(5, n),
                project_id: PROJECT.into(),
                pool_id: pool_id.clone(),
                name: None,
                provisioning_status: ProvisioningStatus::Active,
                operating_status: OperatingStatus::Online,
                admin_state_up: true,
                kind: HealthMonitorType::Http,
                delay: 1,
                timeout: 1,
                max_retries: 1,
                max_retries_down: 1,
                http_method: None,
                url_path: None,
                expected_codes: None,
                http_version: None,
                domain_name: None,
                tags: Vec::new(),
                created_at: Timestamp::default(),
                updated_at: None,
            }),
        });
    }
    render(&graph, &RenderOptions::default()).expect("render")
}
