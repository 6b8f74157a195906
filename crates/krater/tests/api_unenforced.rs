//! What the amphora cannot honour yet is refused with 501, never stored and reported
//! ACTIVE: SCTP (the kernel has none) and PROMETHEUS listeners, SCTP pools and
//! monitors, LEAST_CONNECTIONS on UDP pools;
//! also when a pool is updated to it. A refused request writes nothing. The
//! `noop_driver` provider, which has no data plane, takes them as Octavia's does.

mod common;

use common::TestService;
use reqwest::StatusCode;
use serde_json::{json, Value};

fn not_implemented(what: &str) -> Value {
    json!({
        "faultcode": "Server",
        "faultstring": format!("Provider 'amphora' does not support a requested option: {what}"),
        "debuginfo": null,
    })
}

#[tokio::test]
async fn what_the_amphora_cannot_enforce_is_refused() {
    let svc = TestService::start().await;
    let lb = svc.active_lb("amphora").await;
    let subnet = svc.subnet_id("public-subnet").await;
    let listener = |extra: Value| {
        let mut body = json!({"loadbalancer_id": lb, "protocol": "HTTP", "protocol_port": 80});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        json!({ "listener": body })
    };
    let udp_pool = svc
        .create_child(
            &lb,
            "/v2/lbaas/pools",
            "pool",
            json!({"loadbalancer_id": lb, "protocol": "UDP", "lb_algorithm": "ROUND_ROBIN"}),
        )
        .await;
    let no_sctp = "the amphorae's kernel has no SCTP.";
    let cases = [
        (
            "/v2/lbaas/listeners",
            listener(json!({"protocol": "SCTP"})),
            format!("SCTP listeners are not available: {no_sctp}"),
        ),
        (
            "/v2/lbaas/listeners",
            listener(json!({"protocol": "PROMETHEUS"})),
            "PROMETHEUS listeners are not available yet.".to_owned(),
        ),
        (
            "/v2/lbaas/pools",
            json!({"pool": {"loadbalancer_id": lb, "protocol": "UDP", "lb_algorithm": "LEAST_CONNECTIONS"}}),
            "LEAST_CONNECTIONS is not available for UDP pools yet.".to_owned(),
        ),
        (
            "/v2/lbaas/pools",
            json!({"pool": {"loadbalancer_id": lb, "protocol": "SCTP", "lb_algorithm": "ROUND_ROBIN"}}),
            format!("SCTP pools are not available: {no_sctp}"),
        ),
        (
            "/v2/lbaas/healthmonitors",
            json!({"healthmonitor": {"pool_id": udp_pool, "type": "SCTP", "delay": 3, "timeout": 1, "max_retries": 2}}),
            format!("SCTP health monitors are not available: {no_sctp}"),
        ),
        (
            "/v2/lbaas/loadbalancers",
            json!({"loadbalancer": {"vip_subnet_id": subnet, "listeners": [{"protocol": "SCTP", "protocol_port": 53}]}}),
            format!("SCTP listeners are not available: {no_sctp}"),
        ),
        (
            "/v2/lbaas/loadbalancers",
            json!({"loadbalancer": {"vip_subnet_id": subnet, "pools": [{"protocol": "UDP", "lb_algorithm": "LEAST_CONNECTIONS"}]}}),
            "LEAST_CONNECTIONS is not available for UDP pools yet.".to_owned(),
        ),
    ];
    for (path, body, what) in cases {
        let before = svc.snapshot().await;
        let (code, answer) = svc.post(path, body.clone()).await;
        assert_eq!(code, StatusCode::NOT_IMPLEMENTED, "{body}: {answer}");
        assert_eq!(answer, not_implemented(&what), "{body}");
        assert_eq!(svc.snapshot().await, before, "{body} wrote something");
    }
}

#[tokio::test]
async fn a_udp_pool_cannot_be_updated_to_least_connections() {
    let svc = TestService::start().await;
    let lb = svc.active_lb("amphora").await;
    let pool = svc
        .create_child(
            &lb,
            "/v2/lbaas/pools",
            "pool",
            json!({"loadbalancer_id": lb, "protocol": "UDP", "lb_algorithm": "SOURCE_IP"}),
        )
        .await;
    let path = format!("/v2/lbaas/pools/{pool}");
    let before = svc.snapshot().await;
    let (code, answer) = svc
        .put(
            &path,
            json!({"pool": {"lb_algorithm": "LEAST_CONNECTIONS"}}),
        )
        .await;
    assert_eq!(code, StatusCode::NOT_IMPLEMENTED, "{answer}");
    assert_eq!(
        answer,
        not_implemented("LEAST_CONNECTIONS is not available for UDP pools yet.")
    );
    assert_eq!(
        svc.snapshot().await,
        before,
        "the refused update wrote something"
    );
}

#[tokio::test]
async fn a_persistence_granularity_must_be_of_the_vips_family() {
    let svc = TestService::start().await;
    let lb = svc.active_lb("amphora").await;
    let before = svc.snapshot().await;
    let (code, answer) = svc
        .post(
            "/v2/lbaas/pools",
            json!({"pool": {"loadbalancer_id": lb, "protocol": "UDP", "lb_algorithm": "ROUND_ROBIN",
                            "session_persistence": {"type": "SOURCE_IP",
                                                    "persistence_granularity": "ffff:ffff::"}}}),
        )
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{answer}");
    let text = answer["faultstring"].as_str().unwrap_or_default();
    assert!(
        text.contains(
            "persistence_granularity ffff:ffff:: is not of the address family of the VIP"
        ),
        "{answer}"
    );
    assert_eq!(
        svc.snapshot().await,
        before,
        "the refused create wrote something"
    );
}

#[tokio::test]
async fn the_noop_provider_takes_them() {
    let svc = TestService::start().await;
    let lb = svc.active_lb("noop_driver").await;
    let (code, answer) = svc
        .post(
            "/v2/lbaas/listeners",
            json!({"listener": {"loadbalancer_id": lb, "protocol": "UDP", "protocol_port": 53,
                                "allowed_cidrs": ["198.18.1.0/24"]}}),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{answer}");
}
