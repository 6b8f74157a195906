//! `PUT …/loadbalancers/{id}/failover` and `PUT …/amphorae/{id}/failover` through the
//! API with the noop amphora drivers: Octavia's rules (admin only, 409 while the load
//! balancer is busy, 404 for what does not exist) and the flows' visible effect, a new
//! amphora in place of the old one with its role, the load balancer ACTIVE again.

mod common;

use common::{fault, TestService};
use reqwest::{Method, StatusCode};
use serde_json::Value;

async fn amphorae_of(svc: &TestService, lb: &str) -> Vec<Value> {
    let (code, body) = svc
        .get(&format!("/v2/octavia/amphorae?loadbalancer_id={lb}"))
        .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    body["amphorae"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["status"] != "DELETED")
        .cloned()
        .collect()
}

async fn put(svc: &TestService, path: &str, roles: Option<&str>) -> (StatusCode, Value) {
    svc.call_as(("project-1", roles), Method::PUT, path, None)
        .await
}

#[tokio::test]
async fn an_amphora_failover_replaces_the_amphora_and_keeps_its_role() {
    let svc = TestService::start().await;
    let lb = svc.active_lb("amphora").await;
    let before = amphorae_of(&svc, &lb).await;
    assert_eq!(before.len(), 1, "{before:?}");
    let old = before[0]["id"].as_str().unwrap().to_string();
    let path = format!("/v2/octavia/amphorae/{old}/failover");

    let (code, body) = put(&svc, &path, Some("member")).await;
    assert_eq!(code, StatusCode::FORBIDDEN, "{body}");
    let (code, body) = put(&svc, &path, None).await;
    assert_eq!(code, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body, Value::Null, "a 202 without a body");
    svc.wait_for(
        &format!("/v2/lbaas/loadbalancers/{lb}"),
        "loadbalancer",
        "ACTIVE",
    )
    .await;

    let after = amphorae_of(&svc, &lb).await;
    assert_eq!(after.len(), 1, "{after:?}");
    assert_ne!(after[0]["id"], old.as_str(), "a new amphora");
    assert_eq!(after[0]["status"], "ALLOCATED");
    assert_eq!(after[0]["role"], before[0]["role"]);
    // The replaced amphora is gone from the API, and cannot be failed over again.
    let (code, _) = svc.get(&format!("/v2/octavia/amphorae/{old}")).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    let (code, body) = put(&svc, &path, None).await;
    assert_eq!(code, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body, fault(&format!("Amphora {old} not found.")));
}

#[tokio::test]
async fn a_load_balancer_failover_replaces_every_amphora() {
    let svc = TestService::start().await;
    let lb = svc.active_lb("amphora").await;
    let old: Vec<Value> = amphorae_of(&svc, &lb).await;
    let path = format!("/v2/lbaas/loadbalancers/{lb}/failover");

    let (code, _) = put(&svc, &path, Some("member")).await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    let (code, body) = put(&svc, &path, None).await;
    assert_eq!(code, StatusCode::ACCEPTED, "{body}");
    svc.wait_for(
        &format!("/v2/lbaas/loadbalancers/{lb}"),
        "loadbalancer",
        "ACTIVE",
    )
    .await;
    let new = amphorae_of(&svc, &lb).await;
    assert_eq!(new.len(), old.len());
    assert!(new.iter().all(|a| !old.iter().any(|o| o["id"] == a["id"])));

    let missing = "00000000-0000-0000-0000-000000000001";
    let (code, body) = put(
        &svc,
        &format!("/v2/lbaas/loadbalancers/{missing}/failover"),
        None,
    )
    .await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert_eq!(body, fault(&format!("Load Balancer {missing} not found.")));
}

#[tokio::test]
async fn a_failover_waits_for_a_busy_load_balancer() {
    let dir = tempfile::tempdir().unwrap();
    // No worker: the first failover keeps the load balancer PENDING_UPDATE.
    let svc = TestService::start_in(dir.path(), |c| c.controller_worker.workers = 0).await;
    let subnet = svc.subnet_id("public-subnet").await;
    let (code, body) = svc
        .post(
            "/v2/lbaas/loadbalancers",
            serde_json::json!({"loadbalancer": {"vip_subnet_id": subnet}}),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED);
    let lb = body["loadbalancer"]["id"].as_str().unwrap().to_string();
    let (code, body) = put(
        &svc,
        &format!("/v2/lbaas/loadbalancers/{lb}/failover"),
        None,
    )
    .await;
    assert_eq!(code, StatusCode::CONFLICT, "{body}");
    assert_eq!(
        body,
        fault(&format!(
            "Load Balancer {lb} is immutable and cannot be updated."
        ))
    );
}
