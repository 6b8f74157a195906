//! What the amphora cannot honour yet is refused with 501, never stored and reported
//! ACTIVE: UDP, SCTP and PROMETHEUS listeners, UDP and SCTP pools. A refused request writes nothing. The
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
    let cases = [
        (
            "/v2/lbaas/listeners",
            listener(json!({"protocol": "UDP"})),
            "UDP listeners are not available yet.",
        ),
        (
            "/v2/lbaas/listeners",
            listener(json!({"protocol": "SCTP"})),
            "SCTP listeners are not available yet.",
        ),
        (
            "/v2/lbaas/listeners",
            listener(json!({"protocol": "PROMETHEUS"})),
            "PROMETHEUS listeners are not available yet.",
        ),
        (
            "/v2/lbaas/pools",
            json!({"pool": {"loadbalancer_id": lb, "protocol": "UDP", "lb_algorithm": "ROUND_ROBIN"}}),
            "UDP pools are not available yet.",
        ),
        (
            "/v2/lbaas/pools",
            json!({"pool": {"loadbalancer_id": lb, "protocol": "SCTP", "lb_algorithm": "ROUND_ROBIN"}}),
            "SCTP pools are not available yet.",
        ),
        (
            "/v2/lbaas/loadbalancers",
            json!({"loadbalancer": {"vip_subnet_id": subnet, "listeners": [{"protocol": "UDP", "protocol_port": 53}]}}),
            "UDP listeners are not available yet.",
        ),
        (
            "/v2/lbaas/loadbalancers",
            json!({"loadbalancer": {"vip_subnet_id": subnet, "pools": [{"protocol": "UDP", "lb_algorithm": "ROUND_ROBIN"}]}}),
            "UDP pools are not available yet.",
        ),
    ];
    for (path, body, what) in cases {
        let before = svc.snapshot().await;
        let (code, answer) = svc.post(path, body.clone()).await;
        assert_eq!(code, StatusCode::NOT_IMPLEMENTED, "{body}: {answer}");
        assert_eq!(answer, not_implemented(what), "{body}");
        assert_eq!(svc.snapshot().await, before, "{body} wrote something");
    }
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
