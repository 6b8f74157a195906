//! Scale: 10,000 load balancers of provider `noop_driver` are created, listed page by
//! page and deleted through the API with no ERROR and no address exhausted.

mod common;

use common::TestService;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::HashSet;

const LOAD_BALANCERS: usize = 10_000;
const IN_FLIGHT: usize = 16;

/// Every load balancer of the collection, following `next` links 1000 at a time.
async fn list_all(svc: &TestService) -> Vec<Value> {
    let mut all = Vec::new();
    let mut path = "/v2/lbaas/loadbalancers?limit=1000".to_string();
    loop {
        let (code, body) = svc.get(&path).await;
        assert_eq!(code, StatusCode::OK, "{body}");
        let page = body["loadbalancers"].as_array().unwrap().clone();
        let next = body["loadbalancers_links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["rel"] == "next")
            .map(|l| l["href"].as_str().unwrap().replace(&svc.base, ""));
        let done = page.is_empty();
        all.extend(page);
        match next {
            Some(next) if !done => path = next,
            _ => return all,
        }
    }
}

/// Sends the request `request` makes of each item, `IN_FLIGHT` at a time, checks its
/// status and returns the bodies.
async fn concurrently<T: Send + 'static>(
    base: &str,
    items: Vec<T>,
    request: impl Fn(T) -> (Method, String, Option<Value>, StatusCode) + Send + Sync + 'static,
) -> Vec<Value> {
    let client = reqwest::Client::new();
    let request = std::sync::Arc::new(request);
    let queue = std::sync::Arc::new(std::sync::Mutex::new(items));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..IN_FLIGHT {
        let (client, base, queue, request) = (
            client.clone(),
            base.to_string(),
            queue.clone(),
            request.clone(),
        );
        tasks.spawn(async move {
            let mut bodies = Vec::new();
            loop {
                let Some(item) = queue.lock().unwrap().pop() else {
                    return bodies;
                };
                let (method, path, body, expected) = request(item);
                let mut call = client
                    .request(method, format!("{base}{path}"))
                    .header("X-Project-Id", "project-1");
                if let Some(body) = body {
                    call = call.json(&body);
                }
                let response = call.send().await.unwrap();
                let status = response.status();
                let text = response.text().await.unwrap();
                assert_eq!(status, expected, "{path}: {text}");
                bodies.push(serde_json::from_str(&text).unwrap_or(Value::Null));
            }
        });
    }
    let mut bodies = Vec::new();
    while let Some(done) = tasks.join_next().await {
        bodies.extend(done.unwrap());
    }
    bodies
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_noop_load_balancers_are_created_listed_and_deleted() {
    let svc = TestService::start().await;
    let subnet = svc.subnet_id("public-subnet").await;
    let created = concurrently(&svc.base, (0..LOAD_BALANCERS).collect(), move |i| {
        let body = json!({"loadbalancer": {"name": format!("lb-{i}"),
            "vip_subnet_id": subnet, "provider": "noop_driver"}});
        (
            Method::POST,
            "/v2/lbaas/loadbalancers".to_string(),
            Some(body),
            StatusCode::CREATED,
        )
    })
    .await;
    let created: Vec<String> = created
        .iter()
        .map(|body| body["loadbalancer"]["id"].as_str().unwrap().to_string())
        .collect();

    // Every one reaches ACTIVE; the pages hold each exactly once.
    let listed = loop {
        let listed = list_all(&svc).await;
        let pending = listed
            .iter()
            .filter(|lb| lb["provisioning_status"] != "ACTIVE")
            .inspect(|lb| assert_ne!(lb["provisioning_status"], "ERROR", "{lb}"))
            .count();
        if pending == 0 {
            break listed;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let ids: HashSet<&str> = listed.iter().map(|lb| lb["id"].as_str().unwrap()).collect();
    assert_eq!(listed.len(), LOAD_BALANCERS);
    assert_eq!(ids, created.iter().map(String::as_str).collect());
    let (_, ports) = svc.get("/network/v2.0/ports").await;
    assert_eq!(
        ports["ports"],
        json!([]),
        "noop load balancers take no address"
    );

    concurrently(&svc.base, created.clone(), |id| {
        let path = format!("/v2/lbaas/loadbalancers/{id}");
        (Method::DELETE, path, None, StatusCode::NO_CONTENT)
    })
    .await;
    // The first page only: a marker deleted between two pages would be refused (400).
    // A load balancer left in ERROR would never go, and the loop would time out.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
    loop {
        let (code, body) = svc.get("/v2/lbaas/loadbalancers?limit=1000").await;
        assert_eq!(code, StatusCode::OK, "{body}");
        let left = body["loadbalancers"].as_array().unwrap();
        assert!(left.iter().all(|lb| lb["provisioning_status"] != "ERROR"));
        if left.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "deletes did not finish"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(list_all(&svc).await.is_empty());
}
