//! L7 policies and rules through the API, on the embedded service (noop amphorae):
//! positions kept dense 1..n across creates, moves and deletes; policies in position
//! order on their listener; nested rules and the 50-rule limit; Octavia's checks of
//! actions, targets and rules; a pool in use by a policy; a cascade delete.

mod common;

use common::TestService;
use reqwest::StatusCode;
use serde_json::{json, Value};

const POLICIES: &str = "/v2/lbaas/l7policies";

async fn positions(svc: &TestService, listener: &str) -> Vec<(String, i64)> {
    let (_, body) = svc
        .get(&format!(
            "{POLICIES}?listener_id={listener}&sort=position:asc"
        ))
        .await;
    body["l7policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                p["position"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn named(names: &[&str]) -> Vec<(String, i64)> {
    names
        .iter()
        .enumerate()
        .map(|(i, n)| ((*n).to_owned(), i as i64 + 1))
        .collect()
}

#[tokio::test]
async fn positions_stay_dense_and_ordered() {
    let svc = TestService::start().await;
    let lb = svc.active_lb("amphora").await;
    let stack = svc.http_stack(&lb).await;
    let policy = |name: &str, extra: Value| {
        let mut body = json!({"listener_id": stack.listener, "name": name, "action": "REJECT"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    let mut ids = std::collections::HashMap::new();
    for name in ["a", "b", "c"] {
        let id = svc
            .create_child(&lb, POLICIES, "l7policy", policy(name, json!({})))
            .await;
        ids.insert(name, id);
    }
    assert_eq!(
        positions(&svc, &stack.listener).await,
        named(&["a", "b", "c"])
    );
    let first = svc
        .create_child(
            &lb,
            POLICIES,
            "l7policy",
            policy("first", json!({"position": 1})),
        )
        .await;
    assert_eq!(
        positions(&svc, &stack.listener).await,
        named(&["first", "a", "b", "c"])
    );
    // Far past the end is the end.
    let (code, body) = svc
        .put(
            &format!("{POLICIES}/{first}"),
            json!({"l7policy": {"position": 99}}),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body["l7policy"]["position"], 4);
    svc.wait_for(
        &format!("/v2/lbaas/loadbalancers/{lb}"),
        "loadbalancer",
        "ACTIVE",
    )
    .await;
    assert_eq!(
        positions(&svc, &stack.listener).await,
        named(&["a", "b", "c", "first"])
    );
    let (code, _) = svc.delete(&format!("{POLICIES}/{}", ids["b"])).await;
    assert_eq!(code, StatusCode::NO_CONTENT);
    svc.wait_gone(&format!("{POLICIES}/{}", ids["b"])).await;
    assert_eq!(
        positions(&svc, &stack.listener).await,
        named(&["a", "c", "first"])
    );

    // The listener lists its policies in position order.
    let (_, listener) = svc
        .get(&format!("/v2/lbaas/listeners/{}", stack.listener))
        .await;
    let shown: Vec<&str> = listener["listener"]["l7policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        shown,
        [ids["a"].as_str(), ids["c"].as_str(), first.as_str()]
    );
}

#[tokio::test]
async fn targets_rules_and_their_checks() {
    let svc = TestService::start().await;
    let lb = svc.active_lb("amphora").await;
    let stack = svc.http_stack(&lb).await;
    let listener = &stack.listener;
    let p = |extra: Value| {
        let mut body = json!({"listener_id": listener});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        json!({ "l7policy": body })
    };
    let bad = [
        (p(json!({"action": "REDIRECT_TO_URL"})), "Invalid L7 Policy arguments: redirect_url must not be None"),
        (p(json!({"action": "REDIRECT_PREFIX"})), "Invalid L7 Policy arguments: redirect_prefix must not be None"),
        (p(json!({"action": "REDIRECT_TO_POOL"})), "Invalid L7 Policy arguments: redirect_pool_id or redirect_pool must not be None"),
        (
            p(json!({"action": "REDIRECT_PREFIX", "redirect_pool_id": stack.pool, "redirect_prefix": "http://a"})),
            "Invalid L7 Policy arguments: Cannot specify redirect_pool_id and redirect_url or redirect_prefix at the same time",
        ),
        (
            p(json!({"action": "REDIRECT_TO_URL", "redirect_url": "ftp://a"})),
            "Invalid input for field/attribute redirect_url. Value: 'ftp://a'. Value must be a valid URL string",
        ),
    ];
    for (body, message) in bad {
        let (code, answer) = svc.post(POLICIES, body.clone()).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_eq!(answer["faultstring"], message, "{body}");
    }

    // A redirect gets Octavia's default code; a lone pool implies its action.
    let (code, url) = svc
        .post(
            POLICIES,
            p(json!({"action": "REDIRECT_TO_URL", "redirect_url": "https://example.com/x"})),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{url}");
    assert_eq!(url["l7policy"]["redirect_http_code"], 302);
    svc.wait_for(
        &format!("/v2/lbaas/loadbalancers/{lb}"),
        "loadbalancer",
        "ACTIVE",
    )
    .await;
    let url_id = url["l7policy"]["id"].as_str().unwrap().to_owned();
    let (code, moved) = svc
        .put(
            &format!("{POLICIES}/{url_id}"),
            json!({"l7policy": {"redirect_pool_id": stack.pool}}),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{moved}");
    assert_eq!(moved["l7policy"]["action"], "REDIRECT_TO_POOL");
    assert_eq!(moved["l7policy"]["redirect_url"], Value::Null);
    assert_eq!(moved["l7policy"]["redirect_http_code"], Value::Null);
    svc.wait_for(
        &format!("/v2/lbaas/loadbalancers/{lb}"),
        "loadbalancer",
        "ACTIVE",
    )
    .await;

    // A pool a policy leads to cannot be deleted.
    let (code, answer) = svc.delete(&format!("/v2/lbaas/pools/{}", stack.pool)).await;
    assert_eq!(code, StatusCode::CONFLICT, "{answer}");
    assert_eq!(
        answer["faultstring"],
        format!("Pool {} is in use by L7 policy {url_id}", stack.pool)
    );

    // Rules: nested in the create, up to 50.
    let rules: Vec<Value> = (0..50)
        .map(|i| json!({"type": "PATH", "compare_type": "STARTS_WITH", "value": format!("/r{i}")}))
        .collect();
    let (code, full) = svc
        .post(POLICIES, p(json!({"action": "REJECT", "rules": rules})))
        .await;
    assert_eq!(code, StatusCode::CREATED, "{full}");
    assert_eq!(full["l7policy"]["rules"].as_array().unwrap().len(), 50);
    let full_id = full["l7policy"]["id"].as_str().unwrap().to_owned();
    svc.wait_for(&format!("{POLICIES}/{full_id}"), "l7policy", "ACTIVE")
        .await;
    let rules_path = format!("{POLICIES}/{full_id}/rules");
    let (code, answer) = svc
        .post(
            &rules_path,
            json!({"rule": {"type": "PATH", "compare_type": "EQUAL_TO", "value": "/x"}}),
        )
        .await;
    assert_eq!(code, StatusCode::CONFLICT, "{answer}");
    assert_eq!(
        answer["faultstring"],
        format!("Too many rules on L7 policy {full_id}")
    );

    let rule_path = format!("{POLICIES}/{url_id}/rules");
    let bad_rules = [
        (
            json!({"type": "HEADER", "compare_type": "EQUAL_TO", "value": "x"}),
            "Error parsing L7Rule: Invalid L7 Rule: L7 rule type requires a key",
        ),
        (
            json!({"type": "FILE_TYPE", "compare_type": "STARTS_WITH", "value": "jpg"}),
            "Error parsing L7Rule: Invalid L7 Rule: invalid comparison type for rule type",
        ),
        (
            json!({"type": "PATH", "compare_type": "EQUAL_TO", "value": "/a b"}),
            "Error parsing L7Rule: Invalid characters in comparison value",
        ),
        (
            json!({"type": "SSL_DN_FIELD", "compare_type": "EQUAL_TO", "key": "1CN", "value": "x"}),
            "Error parsing L7Rule: Invalid L7 Rule: Invalid L7rule distinguished name field.",
        ),
    ];
    for (rule, message) in bad_rules {
        let (code, answer) = svc.post(&rule_path, json!({ "rule": rule })).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{rule}: {answer}");
        assert_eq!(answer["faultstring"], message, "{rule}");
    }
    let (code, rule) = svc
        .post(&rule_path, json!({"rule": {"type": "HEADER", "compare_type": "EQUAL_TO", "key": "X-A", "value": "\"a b\"", "invert": true}}))
        .await;
    assert_eq!(code, StatusCode::CREATED, "{rule}");
    let rule_id = rule["rule"]["id"].as_str().unwrap().to_owned();
    svc.wait_for(&format!("{rule_path}/{rule_id}"), "rule", "ACTIVE")
        .await;
    let (_, rule) = svc.get(&format!("{rule_path}/{rule_id}")).await;
    assert_eq!(rule["rule"]["operating_status"], "ONLINE");
    assert_eq!(rule["rule"]["key"], "X-A");
    // A type without a key drops it.
    let (code, rule) = svc
        .put(
            &format!("{rule_path}/{rule_id}"),
            json!({"rule": {"type": "PATH", "value": "/p"}}),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{rule}");
    assert_eq!(rule["rule"]["key"], Value::Null);
    svc.wait_for(&format!("{rule_path}/{rule_id}"), "rule", "ACTIVE")
        .await;

    // A cascade delete takes the policies and rules with it.
    let (code, _) = svc
        .delete(&format!("/v2/lbaas/loadbalancers/{lb}?cascade=true"))
        .await;
    assert_eq!(code, StatusCode::NO_CONTENT);
    svc.wait_gone(&format!("/v2/lbaas/loadbalancers/{lb}"))
        .await;
    let (_, left) = svc.get(POLICIES).await;
    assert_eq!(left["l7policies"], json!([]));
}

/// Every L7 string that reaches HAProxy, fed what could break a configuration: each
/// is refused with 400, or stored and then rendered harmlessly (the load balancer
/// comes back ACTIVE, which it would not if HAProxy's check refused the file).
#[tokio::test]
async fn hostile_l7_strings_are_refused_or_harmless() {
    let svc = TestService::start().await;
    let lb = svc.active_lb("amphora").await;
    let stack = svc.http_stack(&lb).await;
    let long = "a".repeat(4096);
    let hostile = [
        "x\ny",
        "x\rz",
        "\"",
        "'",
        "\\",
        "a b",
        "#",
        "%[src]",
        "\0",
        "é",
        long.as_str(),
        "-f",
        "${HOME}",
    ];
    let policy = svc
        .create_child(
            &lb,
            POLICIES,
            "l7policy",
            json!({"listener_id": stack.listener, "action": "REJECT"}),
        )
        .await;
    let rules = format!("{POLICIES}/{policy}/rules");
    for value in hostile {
        let bodies = [
            (
                rules.as_str(),
                json!({"rule": {"type": "PATH", "compare_type": "EQUAL_TO", "value": value}}),
            ),
            (
                rules.as_str(),
                json!({"rule": {"type": "HEADER", "compare_type": "EQUAL_TO", "key": value, "value": "v"}}),
            ),
            (
                rules.as_str(),
                json!({"rule": {"type": "COOKIE", "compare_type": "REGEX", "key": "c", "value": value}}),
            ),
            (
                POLICIES,
                json!({"l7policy": {"listener_id": stack.listener, "action": "REDIRECT_TO_URL", "redirect_url": format!("http://a/{value}")}}),
            ),
            (
                POLICIES,
                json!({"l7policy": {"listener_id": stack.listener, "action": "REDIRECT_PREFIX", "redirect_prefix": value}}),
            ),
        ];
        for (path, body) in bodies {
            let (code, answer) = svc.post(path, body.clone()).await;
            match code {
                StatusCode::BAD_REQUEST => {}
                StatusCode::CREATED => {
                    let key = if path == POLICIES { "l7policy" } else { "rule" };
                    let id = answer[key]["id"].as_str().unwrap();
                    let lb_path = format!("/v2/lbaas/loadbalancers/{lb}");
                    svc.wait_for(&lb_path, "loadbalancer", "ACTIVE").await;
                    let (_, shown) = svc.get(&format!("{path}/{id}")).await;
                    assert_eq!(shown[key]["provisioning_status"], "ACTIVE", "{body}");
                }
                other => panic!("{body}: {other} {answer}"),
            }
        }
    }
}
