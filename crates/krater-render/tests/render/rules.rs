//! Rules the golden files do not show: the global maxconn, what makes an LB render
//! no proxies, and graphs that cannot be rendered.

use krater_domain::{
    HealthMonitorType, LbAlgorithm, ListenerProtocol, LoadBalancerGraph, PoolProtocol,
    ProvisioningStatus,
};
use krater_render::{haproxy_listeners, render, RenderError, RenderOptions};

use crate::sample::*;

fn tcp_lb(limits: &[i64]) -> LoadBalancerGraph {
    let mut g = graph("198.18.1.10");
    for (n, limit) in (1..).zip(limits) {
        let mut l = listener(n, ListenerProtocol::Tcp, 1000 + n as u16, None);
        l.connection_limit = *limit;
        g.listeners.push(l);
    }
    g
}

fn global_maxconn(text: &str) -> Option<u64> {
    let global = text.split("\n\n").find(|s| s.starts_with("global"))?;
    global
        .lines()
        .find_map(|l| l.trim().strip_prefix("maxconn "))
        .and_then(|v| v.parse().ok())
}

#[test]
fn global_maxconn_is_the_capped_sum_of_listener_limits() {
    let opts = RenderOptions {
        max_global_maxconn: 10_000,
        default_listener_maxconn: 4_000,
        ..RenderOptions::default()
    };
    let maxconn =
        |limits: &[i64]| global_maxconn(&render(&tcp_lb(limits), &opts).expect("renders"));
    assert_eq!(maxconn(&[100, 200]), Some(300));
    assert_eq!(maxconn(&[100, -1]), Some(4_100));
    assert_eq!(maxconn(&[100, 0]), Some(4_100));
    assert_eq!(maxconn(&[9_000, 9_000]), Some(10_000));
    assert_eq!(maxconn(&[]), None);

    // Disabled listeners do not count.
    let mut g = tcp_lb(&[100, 200]);
    g.listeners[1].admin_state_up = false;
    assert_eq!(
        global_maxconn(&render(&g, &opts).expect("renders")),
        Some(100)
    );
}

#[test]
fn default_options_fit_the_open_file_limit() {
    let text = render(&tcp_lb(&[-1, -1]), &RenderOptions::default()).expect("renders");
    assert_eq!(global_maxconn(&text), Some(7_600));
    assert!(text.contains("    maxconn 50000\n"), "{text}");
}

#[test]
fn a_disabled_or_deleted_load_balancer_has_no_proxies() {
    for disable in [
        |g: &mut LoadBalancerGraph| g.load_balancer.admin_state_up = false,
        |g: &mut LoadBalancerGraph| {
            g.load_balancer.provisioning_status = ProvisioningStatus::PendingDelete
        },
    ] {
        let mut g = tcp_lb(&[100]);
        disable(&mut g);
        assert!(haproxy_listeners(&g).is_empty());
        let text = render(&g, &RenderOptions::default()).expect("renders");
        assert!(text.contains("global\n") && text.contains("defaults\n"));
        assert!(!text.contains("frontend"), "{text}");
    }
}

#[test]
fn a_missing_vip_is_an_error_only_with_listeners() {
    let mut g = tcp_lb(&[]);
    g.load_balancer.vip.ip_address = None;
    assert!(render(&g, &RenderOptions::default()).is_ok());
    let mut g = tcp_lb(&[100]);
    g.load_balancer.vip.ip_address = None;
    assert_eq!(
        render(&g, &RenderOptions::default()),
        Err(RenderError::Missing {
            field: "load_balancer.vip.ip_address"
        })
    );
}

#[test]
fn a_default_pool_outside_the_graph_is_an_error() {
    let mut g = tcp_lb(&[100]);
    g.listeners[0].default_pool_id = Some(pool_id(9));
    assert_eq!(
        render(&g, &RenderOptions::default()),
        Err(RenderError::UnknownPool {
            listener_id: listener_id(1),
            pool_id: pool_id(9),
        })
    );
}

#[test]
fn impossible_combinations_are_errors() {
    let with_pool = |protocol, monitor: Option<HealthMonitorType>| {
        let mut g = tcp_lb(&[100]);
        g.listeners[0].default_pool_id = Some(pool_id(1));
        let mut p = pool(1, protocol, LbAlgorithm::RoundRobin);
        p.health_monitor = monitor.map(|kind| health_monitor(1, kind));
        g.pools.push(p);
        render(&g, &RenderOptions::default())
    };
    let field = |r: Result<String, RenderError>| match r {
        Err(RenderError::InvalidValue { field, .. }) => field,
        other => panic!("expected an invalid value, got {other:?}"),
    };
    assert_eq!(field(with_pool(PoolProtocol::Udp, None)), "pool.protocol");
    assert_eq!(
        field(with_pool(
            PoolProtocol::Tcp,
            Some(HealthMonitorType::UdpConnect)
        )),
        "health_monitor.type"
    );
    assert!(with_pool(PoolProtocol::Tcp, Some(HealthMonitorType::Ping)).is_ok());

    let mut g = tcp_lb(&[100]);
    g.listeners[0].default_pool_id = Some(pool_id(1));
    let mut p = pool(1, PoolProtocol::Http, LbAlgorithm::RoundRobin);
    let mut hm = health_monitor(1, HealthMonitorType::Http);
    hm.http_version = Some(2.0);
    p.health_monitor = Some(hm);
    p.members = vec![member(1, "198.18.2.11", 80)];
    g.pools.push(p.clone());
    assert_eq!(
        field(render(&g, &RenderOptions::default())),
        "health_monitor.http_version"
    );

    p.health_monitor = None;
    p.members[0].weight = 257;
    g.pools[0] = p.clone();
    assert_eq!(
        field(render(&g, &RenderOptions::default())),
        "member.weight"
    );

    p.members[0].weight = 1;
    p.members[0].protocol_port = 0;
    g.pools[0] = p;
    assert_eq!(
        field(render(&g, &RenderOptions::default())),
        "member.protocol_port"
    );

    let mut g = tcp_lb(&[100]);
    g.listeners[0].timeout_client_data = -5;
    assert_eq!(
        field(render(&g, &RenderOptions::default())),
        "listener.timeout_client_data"
    );
}

#[test]
fn runtime_paths_are_in_the_agents_directory() {
    let opts = RenderOptions {
        user: Some("haproxy".into()),
        ..RenderOptions::default()
    };
    let text = render(&tcp_lb(&[100]), &opts).expect("renders");
    assert!(text.contains(
        "    stats socket \"${KRATER_LB_DIR}/haproxy.sock\" mode 0600 level admin expose-fd listeners\n"
    ));
    assert!(text.contains("    server-state-file \"${KRATER_LB_DIR}/servers-state\"\n"));
    assert!(text.contains("    user haproxy\n"));
}
