//! One grammar per field: whatever the API accepts, the renderer and HAProxy accept.
//!
//! Each row sends one value of a field that reaches `haproxy.cfg` through the API.
//! A refused value must get its 400 and leave nothing changed; an accepted one must
//! leave the object ACTIVE (the worker rendered the configuration with it), and the
//! configuration rendered from what was stored must pass `haproxy -c`.

mod common;

use common::{fault, TestService};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

/// What the API must answer to a value.
enum Expect {
    Accepted,
    /// 400 with this faultstring.
    Refused(&'static str),
}
use Expect::*;

/// The values tried for each field, with the answer each must get.
fn rows() -> Vec<(&'static str, Value, Expect)> {
    vec![
        // Health monitor: Octavia takes the first four and then fails in the amphora.
        ("url_path", json!("/a#b"), Refused("Invalid input for field/attribute url_path. Value: '/a#b'. Value must be a valid URL Path string")),
        ("url_path", json!("/a\"b"), Refused("Invalid input for field/attribute url_path. Value: '/a\"b'. Value must be a valid URL Path string")),
        ("url_path", json!("/a'b"), Refused("Invalid input for field/attribute url_path. Value: '/a'b'. Value must be a valid URL Path string")),
        ("url_path", json!("/a\\b"), Refused("Invalid input for field/attribute url_path. Value: '/a\\b'. Value must be a valid URL Path string")),
        ("url_path", json!("/é"), Refused("Invalid input for field/attribute url_path. Value: '/é'. Value must be a valid URL Path string")),
        ("url_path", json!("/a b"), Refused("Invalid input for field/attribute url_path. Value: '/a b'. Value must be a valid URL Path string")),
        ("url_path", json!("/ok/path?x=1&y=%20;a$b{c}~"), Accepted),
        ("expected_codes", json!("999"), Refused("Invalid input for field/attribute expected_codes. Value: '999'. Value is invalid: codes are 100 to 599, as 200, 200,202 or 200-204")),
        ("expected_codes", json!("000"), Refused("Invalid input for field/attribute expected_codes. Value: '000'. Value is invalid: codes are 100 to 599, as 200, 200,202 or 200-204")),
        ("expected_codes", json!("500-200"), Refused("Invalid input for field/attribute expected_codes. Value: '500-200'. Value is invalid: a range must go upwards")),
        ("expected_codes", json!("20x"), Refused("Invalid input for field/attribute expected_codes. Value: '20x'. Value should match the pattern ^(\\d{3}(\\s*,\\s*\\d{3})*)$|^(\\d{3}-\\d{3})$")),
        ("expected_codes", json!("100-599"), Accepted),
        ("expected_codes", json!("200, 202 ,204"), Accepted),
        ("delay", json!(0), Refused("Invalid input for field/attribute delay. Value: '0'. Value must be 1 to 2147483 seconds")),
        ("delay", json!(2_147_484), Refused("Invalid input for field/attribute delay. Value: '2147484'. Value must be 1 to 2147483 seconds")),
        ("delay", json!(2_147_483), Accepted),
        ("timeout", json!(2_147_483_647), Refused("Invalid input for field/attribute timeout. Value: '2147483647'. Value must be 0 to 2147483 seconds")),
        ("timeout", json!(2_147_483), Accepted),
        ("timeout", json!(0), Accepted),
        ("max_retries_down", json!(10), Accepted),
        // APP_COOKIE persistence of the pool.
        ("cookie_name", json!("a=b"), Refused("Validation failure: Supplied \"cookie_name\" is invalid.")),
        ("cookie_name", json!("a)b"), Refused("Validation failure: Supplied \"cookie_name\" is invalid.")),
        ("cookie_name", json!("a\"b"), Refused("Validation failure: Supplied \"cookie_name\" is invalid.")),
        ("cookie_name", json!("a#b"), Refused("Validation failure: Supplied \"cookie_name\" is invalid.")),
        ("cookie_name", json!("é"), Refused("Validation failure: Supplied \"cookie_name\" is invalid.")),
        ("cookie_name", json!("a'b"), Refused("Validation failure: Supplied \"cookie_name\" is invalid.")),
        ("cookie_name", json!("a b"), Refused("Invalid input for field/attribute cookie_name. Value: 'a b'. Value should match the pattern ^[^\\s,;\\\\]+$")),
        ("cookie_name", json!("JSESSIONID"), Accepted),
        ("cookie_name", json!("a.b-c!*_~"), Accepted),
    ]
}

/// An ACTIVE load balancer with an HTTP listener, pool, monitor and member.
async fn setup(svc: &TestService) -> (String, String, String) {
    let lb = svc.active_lb("amphora").await;
    let stack = svc.http_stack(&lb).await;
    let (pool, hm) = (stack.pool, stack.hm);
    (lb, pool, hm)
}

#[tokio::test]
async fn whatever_the_api_accepts_the_renderer_and_haproxy_accept() {
    let svc = TestService::start().await;
    let (lb, pool, hm) = setup(&svc).await;
    let haproxy = haproxy();
    let tmp = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (field, value, expect) in rows() {
        let (path, key, body) = if field == "cookie_name" {
            let persistence = json!({"type": "APP_COOKIE", "cookie_name": value});
            (
                format!("/v2/lbaas/pools/{pool}"),
                "pool",
                json!({"pool": {"session_persistence": persistence}}),
            )
        } else {
            (
                format!("/v2/lbaas/healthmonitors/{hm}"),
                "healthmonitor",
                json!({"healthmonitor": {field: value}}),
            )
        };
        let before = svc.snapshot().await;
        let (code, answer) = svc.put(&path, body).await;
        match expect {
            Refused(message) => {
                if code != StatusCode::BAD_REQUEST || answer != fault(message) {
                    failures.push(format!(
                        "{field}={value}: want 400 {message:?}, got {code} {answer}"
                    ));
                }
                assert_eq!(
                    svc.snapshot().await,
                    before,
                    "{field}={value} changed state"
                );
            }
            Accepted => {
                if code != StatusCode::OK {
                    failures.push(format!("{field}={value}: want 200, got {code} {answer}"));
                    continue;
                }
                svc.wait_for(
                    &format!("/v2/lbaas/loadbalancers/{lb}"),
                    "loadbalancer",
                    "ACTIVE",
                )
                .await;
                let (_, object) = svc.get(&path).await;
                if object[key]["provisioning_status"] != "ACTIVE" {
                    failures.push(format!("{field}={value}: accepted, then {}", object[key]));
                    continue;
                }
                if let Err(log) = haproxy_accepts(&svc, &lb, &haproxy, tmp.path()).await {
                    failures.push(format!("{field}={value}: haproxy -c refuses: {log}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Renders the load balancer as stored and runs `haproxy -c` on it.
async fn haproxy_accepts(
    svc: &TestService,
    lb: &str,
    haproxy: &Path,
    dir: &Path,
) -> Result<(), String> {
    let graph = {
        let mut tx = svc.service.db.begin().await.unwrap();
        tx.load_balancer_graph(lb).await.unwrap()
    };
    let text = krater_render::render(&graph, &krater_render::RenderOptions::default())
        .map_err(|e| e.to_string())?;
    std::fs::write(dir.join(krater_render::SERVER_STATE), "1\n").unwrap();
    let cfg = dir.join("haproxy.cfg");
    std::fs::write(&cfg, &text).unwrap();
    let out = Command::new(haproxy)
        .env(krater_render::LB_DIR_VAR, dir)
        .args(["-c", "-f"])
        .arg(&cfg)
        .output()
        .unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{}\n{text}", String::from_utf8_lossy(&out.stderr)))
    }
}

/// The haproxy binary: `$HAPROXY`, else `/usr/sbin/haproxy` (the setup script installs it).
fn haproxy() -> PathBuf {
    let path = std::env::var_os("HAPROXY")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/sbin/haproxy"));
    assert!(path.is_file(), "haproxy not found at {}", path.display());
    path
}

/// A fully populated create checks its nested objects with the same grammar: a bad
/// value refuses the whole request, and no load balancer is left behind in ERROR.
#[tokio::test]
async fn a_fully_populated_create_with_a_bad_nested_value_writes_nothing() {
    let svc = TestService::start().await;
    let subnet = svc.subnet_id("public-subnet").await;
    let before = svc.snapshot().await;
    let monitor =
        json!({"type": "HTTP", "delay": 5, "timeout": 3, "max_retries": 3, "url_path": "/a#b"});
    let pool = json!({"name": "p1", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "healthmonitor": monitor});
    let listener = json!({"protocol": "HTTP", "protocol_port": 80, "default_pool": {"name": "p1"}});
    let (code, answer) = svc
        .post(
            "/v2/lbaas/loadbalancers",
            json!({"loadbalancer": {"vip_subnet_id": subnet, "listeners": [listener], "pools": [pool]}}),
        )
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(
        answer,
        fault("Invalid input for field/attribute url_path. Value: '/a#b'. Value must be a valid URL Path string")
    );
    assert_eq!(svc.snapshot().await, before);
}
