//! No user-supplied string can inject configuration: unsafe values are refused with
//! an error naming the field; names and descriptions are never written.

use krater_domain::{
    HealthMonitor, HealthMonitorType, L7CompareType, L7PolicyAction, L7RuleType, LbAlgorithm,
    ListenerProtocol, LoadBalancerGraph, PoolProtocol, SessionPersistenceType,
};
use krater_render::{render, RenderError, RenderOptions};

use crate::sample::*;

/// An HTTP listener on an HTTP pool with an HTTP monitor and one member.
fn http_lb() -> LoadBalancerGraph {
    let mut g = graph("198.18.1.10");
    g.listeners
        .push(listener(1, ListenerProtocol::Http, 80, Some(1)));
    let mut p = pool(1, PoolProtocol::Http, LbAlgorithm::RoundRobin);
    p.health_monitor = Some(health_monitor(1, HealthMonitorType::Http));
    p.members = vec![member(1, "198.18.2.11", 80)];
    g.pools.push(p);
    g
}

fn hm(g: &mut LoadBalancerGraph) -> &mut HealthMonitor {
    g.pools[0].health_monitor.as_mut().expect("monitor")
}

/// Renders and expects an error on `field`, of the unsafe kind if `unsafe_value`.
#[track_caller]
fn refused(g: &LoadBalancerGraph, field: &str, unsafe_value: bool) {
    match render(g, &RenderOptions::default()) {
        Err(RenderError::UnsafeValue { field: f, .. }) if unsafe_value => assert_eq!(f, field),
        Err(RenderError::InvalidValue { field: f, .. }) if !unsafe_value => assert_eq!(f, field),
        other => panic!("expected {field} to be refused, got {other:?}"),
    }
}

#[test]
fn the_base_graph_renders() {
    assert!(render(&http_lb(), &RenderOptions::default()).is_ok());
}

#[test]
fn url_path_with_a_newline_or_a_space_is_refused() {
    for bad in [
        "/health\n    server evil 203.0.113.1:80",
        "/health check",
        "/health#",
        "/\"x\"",
        "/a\\b",
        "/a\tb",
    ] {
        let mut g = http_lb();
        hm(&mut g).url_path = Some(bad.into());
        refused(&g, "health_monitor.url_path", true);
    }
    let mut g = http_lb();
    hm(&mut g).url_path = Some("health".into());
    refused(&g, "health_monitor.url_path", false);
}

#[test]
fn cookie_name_with_a_space_is_refused() {
    for (bad, unsafe_value) in [("SESS ID", true), ("a\nb", true), ("a)b", false)] {
        let mut g = http_lb();
        g.pools[0].pool.session_persistence =
            Some(persistence(SessionPersistenceType::AppCookie, Some(bad)));
        refused(&g, "session_persistence.cookie_name", unsafe_value);
    }
}

#[test]
fn app_cookie_without_a_name_is_refused() {
    let mut g = http_lb();
    g.pools[0].pool.session_persistence =
        Some(persistence(SessionPersistenceType::AppCookie, None));
    assert!(matches!(
        render(&g, &RenderOptions::default()),
        Err(RenderError::Missing {
            field: "session_persistence.cookie_name"
        })
    ));
}

#[test]
fn domain_name_and_expected_codes_are_checked() {
    let mut g = http_lb();
    hm(&mut g).http_version = Some(1.1);
    hm(&mut g).domain_name = Some("example.com\r\nX-Evil: 1".into());
    refused(&g, "health_monitor.domain_name", true);

    let mut g = http_lb();
    hm(&mut g).expected_codes = Some("200\n    option external-check".into());
    refused(&g, "health_monitor.expected_codes", true);
    hm(&mut g).expected_codes = Some("2xx".into());
    refused(&g, "health_monitor.expected_codes", false);
}

#[test]
fn addresses_must_be_ip_addresses() {
    let mut g = http_lb();
    g.pools[0].members[0].address = "198.18.2.11:80 backup".into();
    refused(&g, "member.address", true);
    g.pools[0].members[0].address = "backend.example.com".into();
    refused(&g, "member.address", false);

    let mut g = http_lb();
    g.pools[0].members[0].monitor_address = Some("198.18.2.11\n".into());
    refused(&g, "member.monitor_address", true);

    let mut g = http_lb();
    g.load_balancer.vip.ip_address = Some("0.0.0.0:80 ssl".into());
    refused(&g, "load_balancer.vip.ip_address", true);
}

#[test]
fn ids_are_checked() {
    let mut g = http_lb();
    g.listeners[0].id = "l1\nfrontend evil".into();
    refused(&g, "listener.id", true);

    let mut g = http_lb();
    g.pools[0].members[0].id = "m1/x".into();
    refused(&g, "member.id", false);

    let mut g = http_lb();
    let evil = "p1 if TRUE".to_owned();
    g.pools[0].pool.id = evil.clone();
    g.listeners[0].default_pool_id = Some(evil);
    refused(&g, "pool.id", true);

    let mut g = http_lb();
    g.load_balancer.id = "lb#1".into();
    refused(&g, "load_balancer.id", true);
}

#[test]
fn allowed_cidrs_are_networks_only() {
    for bad in [
        "198.18.1.0/24\n    server evil 203.0.113.1:80",
        "198.18.1.0/24 #",
        "any",
    ] {
        let mut g = http_lb();
        g.listeners[0].allowed_cidrs = vec!["10.0.0.0/8".into(), bad.into()];
        refused(&g, "listener.allowed_cidrs", bad != "any");
    }
}

#[test]
fn l7_values_cannot_leave_their_word() {
    let evil = "x\n    server evil 203.0.113.1:80";
    let with_rule = |kind, key: Option<&str>, value: &str| {
        let mut g = http_lb();
        let mut p = l7policy(1, L7PolicyAction::Reject, 1);
        p.rules = vec![l7rule(1, 1, kind, L7CompareType::EqualTo, key, value)];
        g.l7policies = vec![p];
        g
    };
    refused(
        &with_rule(L7RuleType::Path, None, evil),
        "l7rule.value",
        true,
    );
    refused(
        &with_rule(L7RuleType::Path, None, "a b"),
        "l7rule.value",
        true,
    );
    refused(
        &with_rule(L7RuleType::Header, Some("a#b"), "v"),
        "l7rule.key",
        true,
    );
    refused(
        &with_rule(L7RuleType::Header, None, "v"),
        "l7rule.value",
        false,
    );
    // Quoted, a space is part of the text and is escaped.
    let text = render(
        &with_rule(L7RuleType::Path, None, "\"/a b#\""),
        &RenderOptions::default(),
    )
    .expect("renders");
    assert!(text.contains("path -m str -- /a\\ b\\#\n"), "{text}");

    for url in [evil, "http://a b", "javascript:alert(1)"] {
        let mut g = with_rule(L7RuleType::Path, None, "/x");
        g.l7policies[0].policy.action = L7PolicyAction::RedirectToUrl;
        g.l7policies[0].policy.redirect_url = Some(url.into());
        refused(&g, "l7policy.redirect_url", url != "javascript:alert(1)");
    }
}

#[test]
fn options_are_checked() {
    let g = http_lb();
    let opts = RenderOptions {
        user: Some("nobody\n    daemon".into()),
        ..RenderOptions::default()
    };
    assert!(matches!(
        render(&g, &opts),
        Err(RenderError::UnsafeValue {
            field: "options.user",
            ..
        })
    ));
}

#[test]
fn names_and_descriptions_are_never_written() {
    let evil = "x\n    server evil 203.0.113.1:80\n#";
    let mut g = http_lb();
    g.load_balancer.name = Some(evil.into());
    g.load_balancer.description = Some(evil.into());
    g.listeners[0].name = Some(evil.into());
    g.listeners[0].description = Some(evil.into());
    g.pools[0].pool.name = Some(evil.into());
    g.pools[0].pool.description = Some(evil.into());
    g.pools[0].members[0].name = Some(evil.into());
    hm(&mut g).name = Some(evil.into());
    let text = render(&g, &RenderOptions::default()).expect("renders");
    assert!(!text.contains("evil"), "{text}");
    assert!(
        !text.contains("listener1") && !text.contains("pool1"),
        "{text}"
    );
}

#[test]
fn errors_name_the_field_and_escape_the_value() {
    let mut g = http_lb();
    hm(&mut g).url_path = Some("/a\nb".into());
    let message = render(&g, &RenderOptions::default())
        .expect_err("refused")
        .to_string();
    assert!(message.contains("health_monitor.url_path"), "{message}");
    assert!(message.contains("\"/a\\nb\""), "{message}");
}
