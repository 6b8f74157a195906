//! Octavia's status machine: objects are immutable while PENDING_* (409 with Octavia's
//! messages), and a change accepted by the API survives the loss of the process that
//! accepted it, even a `kill -9`: the restarted service finishes it.

mod common;

use common::{fault, TestService};
use reqwest::StatusCode;
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A service that accepts requests but runs no worker, so changes stay PENDING_*.
async fn without_worker(dir: &std::path::Path) -> TestService {
    TestService::start_in(dir, |c| c.controller_worker.workers = 0).await
}

#[tokio::test]
async fn pending_objects_are_immutable() {
    let dir = tempfile::tempdir().unwrap();
    let svc = without_worker(dir.path()).await;
    let subnet = svc.subnet_id("public-subnet").await;
    let (code, body) = svc
        .post(
            "/v2/lbaas/loadbalancers",
            json!({"loadbalancer": {"vip_subnet_id": subnet}}),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED);
    assert_eq!(
        body["loadbalancer"]["provisioning_status"],
        "PENDING_CREATE"
    );
    assert_eq!(body["loadbalancer"]["operating_status"], "OFFLINE");
    let lb = body["loadbalancer"]["id"].as_str().unwrap().to_string();

    let (code, body) = svc
        .post(
            "/v2/lbaas/listeners",
            json!({"listener": {"loadbalancer_id": lb, "protocol": "HTTP", "protocol_port": 80}}),
        )
        .await;
    assert_eq!(code, StatusCode::CONFLICT);
    assert_eq!(
        body,
        fault(&format!(
            "Load Balancer {lb} is immutable and cannot be updated."
        ))
    );
    let invalid_state = fault(&format!(
        "Invalid state PENDING_CREATE of loadbalancer resource {lb}"
    ));
    let (code, body) = svc
        .put(
            &format!("/v2/lbaas/loadbalancers/{lb}"),
            json!({"loadbalancer": {"name": "x"}}),
        )
        .await;
    assert_eq!((code, body), (StatusCode::CONFLICT, invalid_state.clone()));
    let (code, body) = svc.delete(&format!("/v2/lbaas/loadbalancers/{lb}")).await;
    assert_eq!((code, body), (StatusCode::CONFLICT, invalid_state));
    drop(svc);

    // A service with a worker on the same database finishes the accepted create.
    let svc = TestService::start_in(dir.path(), |_| {}).await;
    svc.wait_for(
        &format!("/v2/lbaas/loadbalancers/{lb}"),
        "loadbalancer",
        "ACTIVE",
    )
    .await;
    let (code, body) = svc
        .post(
            "/v2/lbaas/listeners",
            json!({"listener": {"loadbalancer_id": lb, "protocol": "HTTP", "protocol_port": 80}}),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    // The listener's create locks the load balancer and the listener itself.
    let listener = body["listener"]["id"].as_str().unwrap().to_string();
    svc.wait_for(
        &format!("/v2/lbaas/listeners/{listener}"),
        "listener",
        "ACTIVE",
    )
    .await;
}

/// `krater serve` as a separate process.
struct Process {
    child: Child,
}

impl Process {
    async fn start(dir: &std::path::Path, port: u16, workers: usize) -> Self {
        let config = dir.join("krater.toml");
        let database = krater_db::test_support::database_url(dir).await;
        std::fs::write(
            &config,
            format!(
                "data_dir = {:?}\n[database]\nconnection = {database:?}\n[api_settings]\nbind_port = {port}\n[controller_worker]\nworkers = {workers}\npoll_interval_ms = 50\namphora_drivers = \"noop\"\n",
                dir.display().to_string()
            ),
        )
        .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_krater"))
            .args(["--config", config.to_str().unwrap(), "serve"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Self { child }
    }

    fn kill_9(&mut self) {
        self.child.kill().unwrap(); // SIGKILL
        self.child.wait().unwrap();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn wait_up(client: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.get(format!("{base}/")).send().await.is_err() {
        assert!(Instant::now() < deadline, "krater serve did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_create_survives_kill_9_of_the_service() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();

    // The first process accepts the create and dies before any worker runs it.
    let mut first = Process::start(dir.path(), port, 0).await;
    wait_up(&client, &base).await;
    let subnets: serde_json::Value = client
        .get(format!("{base}/network/v2.0/subnets?name=public-subnet"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let created: serde_json::Value = client
        .post(format!("{base}/v2/lbaas/loadbalancers"))
        .json(&json!({"loadbalancer": {"vip_subnet_id": subnets["subnets"][0]["id"]}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let lb = created["loadbalancer"]["id"].as_str().unwrap().to_string();
    first.kill_9();

    // The restarted service resumes the job: the load balancer becomes ACTIVE.
    let _second = Process::start(dir.path(), port, 2).await;
    wait_up(&client, &base).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let shown: serde_json::Value = client
            .get(format!("{base}/v2/lbaas/loadbalancers/{lb}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let status = shown["loadbalancer"]["provisioning_status"].clone();
        if status == "ACTIVE" {
            break;
        }
        assert_ne!(status, "ERROR");
        assert!(Instant::now() < deadline, "still {status} after restart");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A change of a pool's members or monitor checks the pool first, as Octavia does: a
/// pool that is not ACTIVE answers 409 naming the pool.
#[tokio::test]
async fn a_pending_pool_refuses_member_and_monitor_changes() {
    let dir = tempfile::tempdir().unwrap();
    let svc = without_worker(dir.path()).await;
    let subnet = svc.subnet_id("public-subnet").await;
    let (code, body) = svc
        .post(
            "/v2/lbaas/loadbalancers",
            json!({"loadbalancer": {"vip_subnet_id": subnet,
                   "pools": [{"name": "p", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}]}}),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    let pool = body["loadbalancer"]["pools"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let immutable = fault(&format!("Pool {pool} is immutable and cannot be updated."));
    let (code, body) = svc
        .post(
            &format!("/v2/lbaas/pools/{pool}/members"),
            json!({"member": {"address": "198.18.2.20", "protocol_port": 80}}),
        )
        .await;
    assert_eq!((code, body), (StatusCode::CONFLICT, immutable.clone()));
    let (code, body) = svc
        .post(
            "/v2/lbaas/healthmonitors",
            json!({"healthmonitor": {"pool_id": pool, "type": "TCP", "delay": 5, "timeout": 3, "max_retries": 3}}),
        )
        .await;
    assert_eq!((code, body), (StatusCode::CONFLICT, immutable));
}
