//! A small load-balancer graph rendered with krater-render: HTTP listeners on a VIP,
//! each with a round-robin pool of one member.

use krater_domain::{
    LbAlgorithm, Listener, ListenerProtocol, LoadBalancer, LoadBalancerGraph, Member,
    OperatingStatus, Pool, PoolGraph, PoolProtocol, ProvisioningStatus, Timestamp, Topology, Vip,
};
use krater_render::{render, RenderOptions};

const PROJECT: &str = "e3cd678b11784734bc366148aa37580e";

fn id(kind: u32, n: usize) -> String {
    format!("{kind}0000000-0000-4000-8000-{n:012}")
}

/// The `haproxy.cfg` of load balancer `lb_id` with VIP `vip`: one HTTP listener per
/// `(port, member address, member port)`, paths under `base_dir`.
pub fn config(lb_id: &str, vip: &str, listeners: &[(u16, &str, u16)], base_dir: &str) -> String {
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
        amphorae: Vec::new(),
    };
    for (n, &(port, address, member_port)) in listeners.iter().enumerate() {
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
                tags: Vec::new(),
                created_at: Timestamp::default(),
                updated_at: None,
            },
            members: vec![Member {
                id: id(4, n),
                project_id: PROJECT.into(),
                pool_id,
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
            }],
            health_monitor: None,
        });
    }
    let opts = RenderOptions {
        base_dir: base_dir.into(),
        ..RenderOptions::default()
    };
    render(&graph, &opts).expect("render")
}
