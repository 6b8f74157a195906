//! Project scope: a caller with roles but not `admin` reaches only its project's
//! objects (404 otherwise, as Octavia answers); an admin and noauth's caller without
//! roles reach every project's.

mod common;

use common::TestService;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const MEMBER_B: (&str, Option<&str>) = ("project-b", Some("member,reader"));
const ADMIN_B: (&str, Option<&str>) = ("project-b", Some("admin"));

fn ids(body: &Value, collection: &str) -> Vec<String> {
    body[collection]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_project_reaches_only_its_own_objects() {
    let svc = TestService::start().await;
    let lb_a = svc.active_lb("noop_driver").await;
    let stack = svc.http_stack(&lb_a).await;
    let subnet = svc.subnet_id("public-subnet").await;
    let body = json!({"loadbalancer": {"vip_subnet_id": subnet, "provider": "noop_driver"}});
    let (code, created) = svc
        .call_as(
            MEMBER_B,
            Method::POST,
            "/v2/lbaas/loadbalancers",
            Some(body.to_string()),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{created}");
    assert_eq!(created["loadbalancer"]["project_id"], "project-b");
    let lb_b = created["loadbalancer"]["id"].as_str().unwrap().to_string();

    // Lists: each project its own; an admin and noauth without roles every one.
    let get = |who, path: String| {
        let svc = &svc;
        async move { svc.call_as(who, Method::GET, &path, None).await }
    };
    let (_, own) = get(MEMBER_B, "/v2/lbaas/loadbalancers".into()).await;
    assert_eq!(ids(&own, "loadbalancers"), std::slice::from_ref(&lb_b));
    for (who, collection) in [
        ("listeners", "listeners"),
        ("pools", "pools"),
        ("healthmonitors", "healthmonitors"),
    ] {
        let (_, body) = get(MEMBER_B, format!("/v2/lbaas/{who}")).await;
        assert!(ids(&body, collection).is_empty(), "{who}: {body}");
    }
    // The amphora API is the operator's.
    let (code, body) = get(MEMBER_B, "/v2/octavia/amphorae".into()).await;
    assert_eq!(code, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(
        body["faultstring"],
        "Policy does not allow this request to be performed."
    );
    let (code, _) = get(ADMIN_B, "/v2/octavia/amphorae".into()).await;
    assert_eq!(code, StatusCode::OK);
    for who in [ADMIN_B, ("project-1", None)] {
        let (_, all) = get(who, "/v2/lbaas/loadbalancers".into()).await;
        let mut seen = ids(&all, "loadbalancers");
        seen.sort();
        let mut both = vec![lb_a.clone(), lb_b.clone()];
        both.sort();
        assert_eq!(seen, both);
        let (_, listeners) = get(who, "/v2/lbaas/listeners".into()).await;
        assert_eq!(
            ids(&listeners, "listeners"),
            std::slice::from_ref(&stack.listener)
        );
    }
    // A marker of another project's object is not one of the list's.
    let (code, body) = get(MEMBER_B, format!("/v2/lbaas/loadbalancers?marker={lb_a}")).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");

    // Project A's load balancer: 404 to show, change, delete and its sub-resources.
    let missing = format!("Load Balancer {lb_a} not found.");
    let path = format!("/v2/lbaas/loadbalancers/{lb_a}");
    let rename = json!({"loadbalancer": {"name": "taken"}}).to_string();
    for (method, path, body) in [
        (Method::GET, path.clone(), None),
        (Method::PUT, path.clone(), Some(rename)),
        (Method::DELETE, format!("{path}?cascade=true"), None),
        (Method::GET, format!("{path}/status"), None),
        (Method::GET, format!("{path}/stats"), None),
    ] {
        let (code, body) = svc.call_as(MEMBER_B, method.clone(), &path, body).await;
        assert_eq!(code, StatusCode::NOT_FOUND, "{method} {path}: {body}");
        assert_eq!(body["faultstring"], missing, "{body}");
    }
    let (_, shown) = svc.get(&path).await;
    assert_eq!(shown["loadbalancer"]["name"], "lb1");
    assert_eq!(shown["loadbalancer"]["provisioning_status"], "ACTIVE");
    let (code, _) = get(ADMIN_B, path.clone()).await;
    assert_eq!(code, StatusCode::OK);

    // Project A's children: 404 to show, change and delete, and to a child made on A's
    // load balancer; untouched afterwards.
    let (pool, member) = (&stack.pool, &stack.member);
    let children = [
        (
            "Listener",
            &stack.listener,
            "listener",
            format!("/v2/lbaas/listeners/{}", stack.listener),
        ),
        ("Pool", pool, "pool", format!("/v2/lbaas/pools/{pool}")),
        (
            "Health Monitor",
            &stack.hm,
            "healthmonitor",
            format!("/v2/lbaas/healthmonitors/{}", stack.hm),
        ),
        (
            "Pool",
            pool,
            "member",
            format!("/v2/lbaas/pools/{pool}/members/{member}"),
        ),
    ];
    for (kind, id, root, path) in &children {
        for method in [Method::GET, Method::PUT, Method::DELETE] {
            let body = (method == Method::PUT).then(|| json!({*root: {"name": "x"}}).to_string());
            let (code, body) = svc.call_as(MEMBER_B, method.clone(), path, body).await;
            assert_eq!(code, StatusCode::NOT_FOUND, "{method} {path}: {body}");
            // A member's missing pool answers pecan's body, as Octavia does.
            let message = body["faultstring"]
                .as_str()
                .or(body["description"].as_str());
            assert_eq!(
                message,
                Some(format!("{kind} {id} not found.").as_str()),
                "{body}"
            );
        }
        let (code, shown) = svc.get(path).await;
        assert_eq!(code, StatusCode::OK, "{path}: {shown}");
    }
    let listener = json!({"listener": {"loadbalancer_id": lb_a, "protocol": "TCP",
        "protocol_port": 81}});
    let (code, body) = svc
        .call_as(
            MEMBER_B,
            Method::POST,
            "/v2/lbaas/listeners",
            Some(listener.to_string()),
        )
        .await;
    assert_eq!(code, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["faultstring"], missing);
}
