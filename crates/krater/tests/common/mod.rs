//! A krater service started in-process on a free port with its own database (a SQLite
//! file, or PostgreSQL: see `krater_db::test_support`), and a small JSON client for it.

#![allow(dead_code)] // each test binary uses a different part of the harness

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

pub struct TestService {
    pub base: String,
    pub service: krater::serve::Service,
    client: reqwest::Client,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for TestService {
    fn drop(&mut self) {
        self.service.abort();
    }
}

impl TestService {
    /// A service with a worker (noop drivers behind every provider for now).
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// A service whose configuration `adjust` may change first.
    pub async fn start_with(adjust: impl FnOnce(&mut krater_config::Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut service = Self::start_in(dir.path(), adjust).await;
        service._dir = Some(dir);
        service
    }

    /// A service on the data directory `dir` (which the caller keeps) and the database
    /// of `dir`: a service started again on `dir` finds what the first one stored.
    pub async fn start_in(
        dir: &std::path::Path,
        adjust: impl FnOnce(&mut krater_config::Config),
    ) -> Self {
        let mut config = krater_config::Config {
            data_dir: Some(dir.to_path_buf()),
            ..Default::default()
        };
        config.database.connection = Some(krater_db::test_support::database_url(dir).await);
        config.api_settings.bind_port = 0;
        config.controller_worker.amphora_drivers = krater_config::DriverChoice::Noop;
        config.controller_worker.poll_interval_ms = 50;
        adjust(&mut config);
        let _ = tracing_subscriber::fmt().with_test_writer().try_init();
        let service = krater::serve::start(config).await.unwrap();
        Self {
            base: format!("http://{}", service.address()),
            service,
            client: reqwest::Client::new(),
            _dir: None,
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.call_raw(method, path, body.map(|b| b.to_string()))
            .await
    }

    pub async fn call_raw(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
    ) -> (StatusCode, Value) {
        self.call_as(("project-1", None), method, path, body).await
    }

    /// A call from `project` with the Keystone roles `roles` (none: noauth's caller).
    pub async fn call_as(
        &self,
        (project, roles): (&str, Option<&str>),
        method: Method,
        path: &str,
        body: Option<String>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .client
            .request(method, format!("{}{}", self.base, path))
            .header("X-Project-Id", project);
        if let Some(roles) = roles {
            request = request.header("X-Roles", roles);
        }
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }
    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(body)).await
    }
    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, None).await
    }

    /// The id of a local subnet, looked up by name as a client does.
    pub async fn subnet_id(&self, name: &str) -> String {
        let (_, body) = self
            .get(&format!("/network/v2.0/subnets?name={name}"))
            .await;
        body["subnets"][0]["id"].as_str().unwrap().to_string()
    }

    /// Waits until the object at `path` (wrapped in `key`) has `provisioning_status`.
    pub async fn wait_for(&self, path: &str, key: &str, status: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (code, body) = self.get(path).await;
            if code == StatusCode::OK && body[key]["provisioning_status"] == status {
                return body[key].clone();
            }
            assert!(
                Instant::now() < deadline,
                "{path} never reached {status}: {code} {body}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until GET `path` answers 404.
    pub async fn wait_gone(&self, path: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.get(path).await.0 != StatusCode::NOT_FOUND {
            assert!(Instant::now() < deadline, "{path} was never deleted");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Creates a load balancer on the public subnet and waits until it is ACTIVE.
    pub async fn active_lb(&self, provider: &str) -> String {
        let subnet = self.subnet_id("public-subnet").await;
        let (code, body) = self
            .post(
                "/v2/lbaas/loadbalancers",
                json!({"loadbalancer": {"name": "lb1", "vip_subnet_id": subnet, "provider": provider}}),
            )
            .await;
        assert_eq!(code, StatusCode::CREATED, "{body}");
        let id = body["loadbalancer"]["id"].as_str().unwrap().to_string();
        self.wait_for(
            &format!("/v2/lbaas/loadbalancers/{id}"),
            "loadbalancer",
            "ACTIVE",
        )
        .await;
        id
    }

    /// Creates a child object, waits until its load balancer is ACTIVE again, returns its id.
    pub async fn create_child(&self, lb_id: &str, path: &str, key: &str, body: Value) -> String {
        let (code, created) = self.post(path, json!({ key: body })).await;
        assert_eq!(code, StatusCode::CREATED, "{path}: {created}");
        self.wait_for(
            &format!("/v2/lbaas/loadbalancers/{lb_id}"),
            "loadbalancer",
            "ACTIVE",
        )
        .await;
        created[key]["id"].as_str().unwrap().to_string()
    }

    /// An HTTP listener on port 80 of `lb`, its default pool with an HTTP monitor and
    /// one member (198.18.2.20:80), each waited for.
    pub async fn http_stack(&self, lb: &str) -> HttpStack {
        let listener = self
            .create_child(
                lb,
                "/v2/lbaas/listeners",
                "listener",
                json!({"protocol": "HTTP", "protocol_port": 80, "loadbalancer_id": lb}),
            )
            .await;
        let pool = self
            .create_child(
                lb,
                "/v2/lbaas/pools",
                "pool",
                json!({"lb_algorithm": "ROUND_ROBIN", "listener_id": listener, "protocol": "HTTP"}),
            )
            .await;
        let hm = self
        .create_child(
            lb,
            "/v2/lbaas/healthmonitors",
            "healthmonitor",
            json!({"pool_id": pool, "type": "HTTP", "delay": 5, "timeout": 3, "max_retries": 3}),
        )
        .await;
        let member = self
            .create_child(
                lb,
                &format!("/v2/lbaas/pools/{pool}/members"),
                "member",
                json!({"address": "198.18.2.20", "protocol_port": 80}),
            )
            .await;
        HttpStack {
            listener,
            pool,
            hm,
            member,
        }
    }

    /// Every visible object, to prove that a refused request wrote nothing.
    pub async fn snapshot(&self) -> Value {
        let mut all = serde_json::Map::new();
        for collection in ["loadbalancers", "listeners", "pools", "healthmonitors"] {
            let (_, body) = self.get(&format!("/v2/lbaas/{collection}")).await;
            all.insert(collection.into(), body[collection].clone());
        }
        let (_, pools) = self.get("/v2/lbaas/pools").await;
        for pool in pools["pools"].as_array().unwrap() {
            let id = pool["id"].as_str().unwrap();
            let (_, members) = self.get(&format!("/v2/lbaas/pools/{id}/members")).await;
            all.insert(format!("members-{id}"), members["members"].clone());
        }
        let (_, ports) = self.get("/network/v2.0/ports").await;
        all.insert("ports".into(), ports["ports"].clone());
        Value::Object(all)
    }
}

/// The ids of what [`TestService::http_stack`] made.
pub struct HttpStack {
    pub listener: String,
    pub pool: String,
    pub hm: String,
    pub member: String,
}

/// `{"faultcode": "Client", "faultstring": …, "debuginfo": null}`
pub fn fault(message: &str) -> Value {
    json!({"faultcode": "Client", "faultstring": message, "debuginfo": null})
}
