//! The load balancers of the golden files, one per file name.

use krater_domain::{
    AmphoraRole, AmphoraStatus, HealthMonitor, HealthMonitorType as Hm, HttpMethod,
    L7CompareType as C, L7PolicyAction as A, L7RuleType as R, LbAlgorithm as Alg,
    ListenerProtocol as L, LoadBalancerGraph, Member, PoolProtocol as P, ProvisioningStatus,
    SessionPersistenceType as Sp, Topology,
};

use crate::sample::*;

/// Every case: `tests/golden/<name>.cfg` holds its rendering with the default options.
pub fn all() -> Vec<(&'static str, LoadBalancerGraph)> {
    vec![
        ("http_round_robin", http_round_robin()),
        ("tcp_least_connections", tcp_least_connections()),
        ("source_ip", source_ip()),
        ("cookies", cookies()),
        ("limits_timeouts_no_monitor", limits_timeouts_no_monitor()),
        ("ipv6", ipv6()),
        ("proxy_protocol", proxy_protocol()),
        ("left_out", left_out()),
        ("allowed_cidrs", allowed_cidrs()),
        ("l7", l7()),
    ]
}

/// An ACTIVE_STANDBY load balancer: rendered once per amphora (`<name>.<n>.cfg`,
/// and `<name>.<n>.keepalived.conf`), MASTER first. A third amphora, being replaced,
/// takes part in neither VRRP nor the peers.
pub fn active_standby() -> (&'static str, LoadBalancerGraph) {
    let mut g = graph("198.18.1.10");
    g.load_balancer.topology = Topology::ActiveStandby;
    g.listeners.push(listener(1, L::Tcp, 443, Some(1)));
    let mut p = pool(1, P::Tcp, Alg::SourceIp);
    p.pool.session_persistence = Some(persistence(Sp::SourceIp, None));
    p.members = vec![member(1, "198.18.2.11", 443), member(2, "198.18.2.12", 443)];
    g.pools.push(p);
    let mut leaving = amphora(3, AmphoraRole::Backup, "198.18.1.23");
    leaving.status = AmphoraStatus::PendingDelete;
    g.amphorae = vec![
        amphora(1, AmphoraRole::Master, "198.18.1.21"),
        amphora(2, AmphoraRole::Backup, "198.18.1.22"),
        leaving,
    ];
    ("active_standby", g)
}

/// HTTP listener with every forwarded header, round robin, an HTTP/1.1 monitor with a
/// Host header and a range of codes, and members of every kind.
fn http_round_robin() -> LoadBalancerGraph {
    let mut g = graph("198.18.1.10");
    let mut l = listener(1, L::Http, 80, Some(1));
    l.insert_headers = headers(&["X-Forwarded-For", "X-Forwarded-Port", "X-Forwarded-Proto"]);
    // Octavia accepts these but does not insert them; krater does.
    l.insert_headers
        .extend(headers(&["X-Forwarded-IP", "X-Real-IP"]));
    // Only "true" inserts a header.
    l.insert_headers
        .push(("X-Client-IP".into(), "False".into()));
    g.listeners.push(l);
    let mut p = pool(1, P::Http, Alg::RoundRobin);
    p.health_monitor = Some(HealthMonitor {
        http_method: Some(HttpMethod::Get),
        url_path: Some("/healthz?full=1".into()),
        expected_codes: Some("200-204".into()),
        http_version: Some(1.1),
        domain_name: Some("www.example.com".into()),
        ..health_monitor(1, Hm::Http)
    });
    p.members = vec![
        Member {
            monitor_address: Some("198.18.2.111".into()),
            monitor_port: Some(9000),
            ..member(1, "198.18.2.11", 8080)
        },
        Member {
            backup: true,
            ..member(2, "198.18.2.12", 8080)
        },
        Member {
            weight: 0,
            ..member(3, "198.18.2.13", 8080)
        },
        Member {
            admin_state_up: false,
            weight: 10,
            ..member(4, "198.18.2.14", 8080)
        },
        Member {
            provisioning_status: ProvisioningStatus::PendingDelete,
            ..member(5, "198.18.2.15", 8080)
        },
    ];
    g.pools.push(p);
    g
}

/// A TCP and an HTTP listener open to some networks only, the HTTP one also inserting
/// a header (whose rule HAProxy runs after the connection check anyway).
fn allowed_cidrs() -> LoadBalancerGraph {
    let mut g = graph("198.18.1.10");
    let mut tcp = listener(1, L::Tcp, 22, Some(1));
    tcp.allowed_cidrs = vec!["198.18.1.0/24".into(), "203.0.113.7/32".into()];
    let mut http = listener(2, L::Http, 80, None);
    http.allowed_cidrs = vec!["0.0.0.0/0".into()];
    http.insert_headers = headers(&["X-Forwarded-For"]);
    g.listeners.extend([tcp, http]);
    let mut p = pool(1, P::Tcp, Alg::RoundRobin);
    p.members = vec![member(1, "198.18.2.11", 22)];
    g.pools.push(p);
    g
}

/// An HTTP listener with a policy of every action, written in HAProxy's order of
/// evaluation (deny, redirects, pools) whatever their positions; every rule type and
/// compare type, an inverted rule, values that need escaping; and what is left out:
/// a disabled policy, a policy without enabled rules, a disabled rule, a policy
/// whose pool is disabled. Two policies lead to pool 2, which gets one backend.
fn l7() -> LoadBalancerGraph {
    let mut g = graph("198.18.1.10");
    g.listeners.push(listener(1, L::Http, 80, Some(1)));
    for n in 1..=3 {
        let mut p = pool(n, P::Http, Alg::RoundRobin);
        p.members = vec![member(n, &format!("198.18.2.{}", 10 + n), 80)];
        g.pools.push(p);
    }
    g.pools[2].pool.admin_state_up = false;

    let mut to_api = l7policy(1, A::RedirectToPool, 1);
    to_api.policy.redirect_pool_id = Some(pool_id(2));
    to_api.rules = vec![
        l7rule(1, 1, R::Path, C::StartsWith, None, "/api"),
        l7rule(2, 1, R::HostName, C::EqualTo, None, "API.example.com"),
        l7rule(
            3,
            1,
            R::Header,
            C::Contains,
            Some("X-Client_Version.1"),
            "\"beta 2#\"",
        ),
    ];
    let mut images = l7policy(2, A::RedirectToPool, 2);
    images.policy.redirect_pool_id = Some(pool_id(2));
    images.rules = vec![l7rule(4, 2, R::FileType, C::EqualTo, None, "jpg")];
    let mut moved = l7policy(3, A::RedirectToUrl, 3);
    moved.policy.redirect_url = Some("https://www.example.com/new?from=old#top".into());
    moved.policy.redirect_http_code = Some(301);
    moved.rules = vec![l7rule(
        5,
        3,
        R::Path,
        C::Regex,
        None,
        "^/old/[a-z]+\\.html$",
    )];
    let mut prefix = l7policy(4, A::RedirectPrefix, 4);
    prefix.policy.redirect_prefix = Some("https://secure.example.com".into());
    prefix.rules = vec![l7rule(6, 4, R::Cookie, C::EqualTo, Some("insecure"), "1")];
    let mut deny = l7policy(5, A::Reject, 5);
    let mut not_admin = l7rule(7, 5, R::Header, C::EndsWith, Some("X-Role"), "admin");
    not_admin.invert = true;
    deny.rules = vec![
        l7rule(8, 5, R::Path, C::StartsWith, None, "/admin"),
        not_admin,
        l7rule(9, 5, R::SslConnHasCert, C::EqualTo, None, "true"),
        l7rule(10, 5, R::SslVerifyResult, C::EqualTo, None, "0"),
        l7rule(11, 5, R::SslDnField, C::Regex, Some("CN"), "^admin-.*"),
    ];
    let mut disabled = l7policy(6, A::Reject, 6);
    disabled.policy.admin_state_up = false;
    disabled.rules = vec![l7rule(12, 6, R::Path, C::EqualTo, None, "/disabled")];
    let no_rules = l7policy(7, A::Reject, 7);
    let mut rule_disabled = l7policy(8, A::Reject, 8);
    let mut off = l7rule(13, 8, R::Path, C::EqualTo, None, "/off");
    off.admin_state_up = false;
    rule_disabled.rules = vec![off];
    let mut to_disabled_pool = l7policy(9, A::RedirectToPool, 9);
    to_disabled_pool.policy.redirect_pool_id = Some(pool_id(3));
    to_disabled_pool.rules = vec![l7rule(14, 9, R::Path, C::EqualTo, None, "/closed")];
    g.l7policies = vec![
        to_api,
        images,
        moved,
        prefix,
        deny,
        disabled,
        no_rules,
        rule_disabled,
        to_disabled_pool,
    ];
    g
}

/// TCP listener, least connections, a TCP monitor with a monitor port.
fn tcp_least_connections() -> LoadBalancerGraph {
    let mut g = graph("198.18.1.10");
    g.listeners.push(listener(1, L::Tcp, 5432, Some(1)));
    let mut p = pool(1, P::Tcp, Alg::LeastConnections);
    p.health_monitor = Some(HealthMonitor {
        delay: 10,
        timeout: 5,
        max_retries: 5,
        max_retries_down: 3,
        ..health_monitor(1, Hm::Tcp)
    });
    p.members = vec![
        member(1, "198.18.2.11", 5432),
        Member {
            monitor_port: Some(5433),
            weight: 256,
            ..member(2, "198.18.2.12", 5432)
        },
    ];
    g.pools.push(p);
    g
}

/// HTTPS passthrough: source-IP balancing and persistence, a TLS-HELLO monitor; and a
/// TCP listener on a source-IP-port pool (round robin) with an HTTPS monitor over
/// HTTP/1.0.
fn source_ip() -> LoadBalancerGraph {
    let mut g = graph("198.18.1.10");
    g.listeners.push(listener(1, L::Https, 443, Some(1)));
    g.listeners.push(listener(2, L::Tcp, 8443, Some(2)));
    let mut p1 = pool(1, P::Https, Alg::SourceIp);
    p1.pool.session_persistence = Some(persistence(Sp::SourceIp, None));
    p1.health_monitor = Some(health_monitor(1, Hm::TlsHello));
    p1.members = vec![member(1, "198.18.2.11", 443), member(2, "198.18.2.12", 443)];
    let mut p2 = pool(2, P::Https, Alg::SourceIpPort);
    p2.health_monitor = Some(HealthMonitor {
        http_method: Some(HttpMethod::Get),
        url_path: Some("/status".into()),
        expected_codes: Some("200,202".into()),
        http_version: Some(1.0),
        // Only sent with HTTP/1.1.
        domain_name: Some("ignored.example.com".into()),
        ..health_monitor(2, Hm::Https)
    });
    p2.members = vec![member(3, "198.18.2.13", 8443)];
    g.pools.extend([p1, p2]);
    g
}

/// Application cookie (with an HTTPS monitor towards TLS members) and HTTP cookie
/// persistence (HEAD monitor, default path); cookie persistence on a TCP pool is left
/// out.
fn cookies() -> LoadBalancerGraph {
    let mut g = graph("198.18.1.10");
    g.listeners.push(listener(1, L::Http, 80, Some(1)));
    g.listeners.push(listener(2, L::Http, 8080, Some(2)));
    g.listeners.push(listener(3, L::Tcp, 9000, Some(3)));
    let mut p1 = pool(1, P::Http, Alg::RoundRobin);
    p1.pool.session_persistence = Some(persistence(Sp::AppCookie, Some("JSESSIONID")));
    p1.pool.tls_enabled = true;
    p1.health_monitor = Some(HealthMonitor {
        url_path: Some("/ping".into()),
        ..health_monitor(1, Hm::Https)
    });
    p1.members = vec![member(1, "198.18.2.11", 443), member(2, "198.18.2.12", 443)];
    let mut p2 = pool(2, P::Http, Alg::LeastConnections);
    p2.pool.session_persistence = Some(persistence(Sp::HttpCookie, None));
    p2.health_monitor = Some(HealthMonitor {
        http_method: Some(HttpMethod::Head),
        expected_codes: Some("200, 202".into()),
        ..health_monitor(2, Hm::Http)
    });
    p2.members = vec![
        member(3, "198.18.2.11", 8080),
        member(4, "198.18.2.12", 8080),
    ];
    let mut p3 = pool(3, P::Tcp, Alg::RoundRobin);
    p3.pool.session_persistence = Some(persistence(Sp::HttpCookie, None));
    p3.members = vec![member(5, "198.18.2.11", 9000)];
    g.pools.extend([p1, p2, p3]);
    g
}

/// Connection limits summed into the global maxconn; custom timeouts and TCP inspect
/// delay; timeouts of 0 meaning Octavia's defaults; no monitor (monitor address and
/// port are then not written).
fn limits_timeouts_no_monitor() -> LoadBalancerGraph {
    let mut g = graph("198.18.1.10");
    let mut l1 = listener(1, L::Http, 80, Some(1));
    l1.connection_limit = 1000;
    l1.timeout_client_data = 30_000;
    l1.timeout_member_connect = 2_000;
    l1.timeout_member_data = 60_000;
    l1.timeout_tcp_inspect = 500;
    let mut l2 = listener(2, L::Tcp, 2222, Some(2));
    l2.connection_limit = 2500;
    l2.timeout_client_data = 0;
    l2.timeout_member_connect = 0;
    l2.timeout_member_data = 0;
    g.listeners.extend([l1, l2]);
    let mut p1 = pool(1, P::Http, Alg::RoundRobin);
    p1.members = vec![Member {
        monitor_address: Some("198.18.2.111".into()),
        monitor_port: Some(9000),
        ..member(1, "198.18.2.11", 8080)
    }];
    let mut p2 = pool(2, P::Tcp, Alg::SourceIp);
    p2.members = vec![member(2, "198.18.2.12", 22)];
    g.pools.extend([p1, p2]);
    g
}

/// IPv6 VIP, members and monitor address.
fn ipv6() -> LoadBalancerGraph {
    let mut g = graph("2001:db8:1::10");
    let mut l = listener(1, L::Http, 80, Some(1));
    l.allowed_cidrs = vec!["2001:db8:100::/48".into()];
    g.listeners.push(l);
    let mut p = pool(1, P::Http, Alg::RoundRobin);
    p.health_monitor = Some(HealthMonitor {
        url_path: Some("/".into()),
        ..health_monitor(1, Hm::Http)
    });
    p.members = vec![
        Member {
            monitor_address: Some("2001:db8:2::111".into()),
            monitor_port: Some(9000),
            ..member(1, "2001:db8:2::11", 8080)
        },
        // Written in canonical form.
        member(2, "2001:0db8:0002:0000:0000:0000:0000:0012", 8080),
        member(3, "198.18.2.13", 8080),
    ];
    g.pools.push(p);
    g
}

/// PROXY and PROXYV2 pools take their listener's mode.
fn proxy_protocol() -> LoadBalancerGraph {
    let mut g = graph("198.18.1.10");
    let mut l1 = listener(1, L::Http, 80, Some(1));
    l1.insert_headers = headers(&["X-Forwarded-For"]);
    g.listeners.push(l1);
    g.listeners.push(listener(2, L::Tcp, 3306, Some(2)));
    let mut p1 = pool(1, P::Proxy, Alg::RoundRobin);
    p1.health_monitor = Some(health_monitor(1, Hm::Tcp));
    p1.members = vec![member(1, "198.18.2.11", 8080)];
    let mut p2 = pool(2, P::ProxyV2, Alg::LeastConnections);
    p2.health_monitor = Some(health_monitor(2, Hm::Tcp));
    p2.members = vec![member(2, "198.18.2.12", 3306)];
    g.pools.extend([p1, p2]);
    g
}

/// What is not rendered: disabled or deleted listeners, UDP, SCTP, TERMINATED_HTTPS and
/// PROMETHEUS listeners, disabled or deleted pools (their listener keeps a frontend
/// without default backend), deleted or disabled monitors. Also a listener without a
/// pool, and a TCP listener on an HTTP pool.
fn left_out() -> LoadBalancerGraph {
    let mut g = graph("198.18.1.10");
    g.listeners = vec![
        listener(1, L::Http, 80, Some(1)),
        listener(2, L::Http, 81, Some(2)),
        listener(3, L::Http, 82, None),
        listener(4, L::Tcp, 83, Some(4)),
        listener(5, L::Tcp, 84, Some(5)),
        listener(6, L::Udp, 53, None),
        listener(7, L::Sctp, 90, None),
        listener(8, L::TerminatedHttps, 443, None),
        listener(9, L::Prometheus, 9100, None),
    ];
    g.listeners.push(krater_domain::Listener {
        admin_state_up: false,
        ..listener(10, L::Http, 8080, Some(1))
    });
    g.listeners.push(krater_domain::Listener {
        provisioning_status: ProvisioningStatus::PendingDelete,
        ..listener(11, L::Http, 8081, Some(1))
    });
    let mut p1 = pool(1, P::Http, Alg::RoundRobin);
    p1.pool.admin_state_up = false;
    p1.members = vec![member(1, "198.18.2.11", 80)];
    let mut p2 = pool(2, P::Http, Alg::RoundRobin);
    p2.pool.provisioning_status = ProvisioningStatus::PendingDelete;
    p2.members = vec![member(2, "198.18.2.12", 80)];
    let mut p4 = pool(4, P::Tcp, Alg::RoundRobin);
    p4.health_monitor = Some(HealthMonitor {
        provisioning_status: ProvisioningStatus::PendingDelete,
        ..health_monitor(4, Hm::Tcp)
    });
    p4.members = vec![member(4, "198.18.2.14", 83)];
    let mut p5 = pool(5, P::Http, Alg::RoundRobin);
    p5.health_monitor = Some(HealthMonitor {
        admin_state_up: false,
        ..health_monitor(5, Hm::Http)
    });
    p5.members = vec![member(5, "198.18.2.15", 84)];
    g.pools.extend([p1, p2, p4, p5]);
    g
}

/// The UDP cases: `tests/golden/<name>.nft` holds the ruleset the agent loads for the
/// graph while the members the function names are down.
pub fn udp() -> Vec<(&'static str, LoadBalancerGraph, Vec<String>)> {
    vec![
        ("udp_round_robin", udp_round_robin(), vec![member_id(5)]),
        (
            "udp_source_ip",
            udp_source_ip(),
            vec![member_id(1), member_id(2), member_id(4)],
        ),
        ("udp_ipv6", udp_ipv6(), Vec::new()),
        ("udp_none", graph("198.18.1.10"), Vec::new()),
    ]
}

/// Round robin by weight (1 and 3), a draining member (weight 0), a disabled one,
/// a backup (unused while a primary serves), one that is down and one of the other
/// address family (left out); `allowed_cidrs`, a connection limit, a UDP listener
/// without a pool and a TCP listener, which HAProxy serves.
fn udp_round_robin() -> LoadBalancerGraph {
    let mut g = graph("198.18.1.10");
    let mut dns = listener(1, L::Udp, 53, Some(1));
    dns.allowed_cidrs = vec!["198.18.1.0/24".into(), "203.0.113.7/32".into()];
    dns.connection_limit = 1000;
    g.listeners.extend([
        dns,
        listener(2, L::Udp, 5000, None),
        listener(3, L::Tcp, 22, None),
    ]);
    let mut p = pool(1, P::Udp, Alg::RoundRobin);
    let mut heavy = member(2, "198.18.2.12", 5353);
    heavy.weight = 3;
    let mut draining = member(3, "198.18.2.13", 5353);
    draining.weight = 0;
    let mut disabled = member(4, "198.18.2.14", 5353);
    disabled.admin_state_up = false;
    let mut backup = member(6, "198.18.2.16", 5353);
    backup.backup = true;
    p.members = vec![
        member(1, "198.18.2.11", 5353),
        heavy,
        draining,
        disabled,
        member(5, "198.18.2.15", 5353),
        backup,
        member(7, "2001:db8:2::17", 5353),
    ];
    p.health_monitor = Some(health_monitor(1, Hm::UdpConnect));
    g.pools.push(p);
    g
}

/// Persistence by source address under a /24 mask: the primaries are down, so the
/// backups serve; a second listener whose only member is down drops its packets.
fn udp_source_ip() -> LoadBalancerGraph {
    let mut g = graph("198.18.1.10");
    g.listeners.push(listener(1, L::Udp, 514, Some(1)));
    g.listeners.push(listener(2, L::Udp, 515, Some(2)));
    let mut p = pool(1, P::Udp, Alg::RoundRobin);
    let mut sp = persistence(Sp::SourceIp, None);
    sp.persistence_timeout = Some(360);
    sp.persistence_granularity = Some("255.255.255.0".into());
    p.pool.session_persistence = Some(sp);
    let backups = [member(3, "198.18.2.13", 514), member(5, "198.18.2.15", 514)];
    p.members = vec![member(1, "198.18.2.11", 514), member(2, "198.18.2.12", 514)];
    p.members.extend(backups.into_iter().map(|mut m| {
        m.backup = true;
        m
    }));
    let mut hm = health_monitor(1, Hm::Http);
    hm.url_path = Some("/health".into());
    p.health_monitor = Some(hm);
    let mut p2 = pool(2, P::Udp, Alg::SourceIp);
    p2.members = vec![member(4, "198.18.2.14", 515)];
    p2.health_monitor = Some(health_monitor(2, Hm::Tcp));
    g.pools.extend([p, p2]);
    g
}

/// An IPv6 VIP; the IPv4 member and the IPv4 CIDR are left out.
fn udp_ipv6() -> LoadBalancerGraph {
    let mut g = graph("2001:db8:1::10");
    let mut l = listener(1, L::Udp, 53, Some(1));
    l.allowed_cidrs = vec!["2001:db8:1::/64".into(), "198.18.1.0/24".into()];
    // Only CIDRs of the other family: no client may reach it.
    let mut closed = listener(2, L::Udp, 54, Some(1));
    closed.allowed_cidrs = vec!["198.18.1.0/24".into()];
    g.listeners.extend([l, closed]);
    let mut p = pool(1, P::Udp, Alg::SourceIp);
    p.members = vec![
        member(1, "2001:db8:2::11", 53),
        member(2, "2001:db8:2::12", 53),
        member(3, "198.18.2.13", 53),
    ];
    g.pools.push(p);
    g
}
