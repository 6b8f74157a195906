//! The operator guide's workflow through the REST API, for both providers: every
//! object reaches ACTIVE, shows Octavia's fields and defaults, and a cascade delete
//! removes everything.

mod common;

use common::TestService;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn workflow(provider: &str) {
    let svc = TestService::start().await;
    let lb = svc.active_lb(provider).await;
    let (_, body) = svc.get(&format!("/v2/lbaas/loadbalancers/{lb}")).await;
    let shown = &body["loadbalancer"];
    assert_eq!(shown["provider"], provider);
    assert_eq!(shown["vip_address"], "198.18.1.10");
    assert_eq!(shown["tenant_id"], shown["project_id"]);
    assert_eq!(shown["project_id"], "project-1");
    assert_eq!(shown["vip_vnic_type"], "normal");

    let listener = svc
        .create_child(
            &lb,
            "/v2/lbaas/listeners",
            "listener",
            json!({"name": "listener1", "protocol": "HTTP", "protocol_port": 80, "loadbalancer_id": lb}),
        )
        .await;
    let pool = svc
        .create_child(
            &lb,
            "/v2/lbaas/pools",
            "pool",
            json!({"name": "pool1", "lb_algorithm": "ROUND_ROBIN", "listener_id": listener, "protocol": "HTTP"}),
        )
        .await;
    let hm = svc
        .create_child(
            &lb,
            "/v2/lbaas/healthmonitors",
            "healthmonitor",
            json!({"pool_id": pool, "type": "HTTP", "delay": 5, "max_retries": 4, "timeout": 10, "url_path": "/healthcheck"}),
        )
        .await;
    let private = svc.subnet_id("private-subnet").await;
    for address in ["198.18.2.20", "198.18.2.21"] {
        svc.create_child(
            &lb,
            &format!("/v2/lbaas/pools/{pool}/members"),
            "member",
            json!({"address": address, "protocol_port": 80, "subnet_id": private}),
        )
        .await;
    }

    let (_, body) = svc.get(&format!("/v2/lbaas/listeners/{listener}")).await;
    let l = &body["listener"];
    assert_eq!(l["provisioning_status"], "ACTIVE");
    assert_eq!(l["default_pool_id"], pool.as_str());
    assert_eq!(l["connection_limit"], -1);
    assert_eq!(l["timeout_client_data"], 50000);
    assert_eq!(l["timeout_member_connect"], 5000);
    assert_eq!(l["insert_headers"], json!({}));
    assert_eq!(l["allowed_cidrs"], json!(null));
    assert_eq!(l["loadbalancers"], json!([{"id": lb}]));

    let (_, body) = svc.get(&format!("/v2/lbaas/pools/{pool}")).await;
    let p = &body["pool"];
    assert_eq!(p["healthmonitor_id"], hm.as_str());
    assert_eq!(p["listeners"], json!([{"id": listener}]));
    assert_eq!(p["members"].as_array().unwrap().len(), 2);

    let (_, body) = svc.get(&format!("/v2/lbaas/healthmonitors/{hm}")).await;
    assert_eq!(body["healthmonitor"]["operating_status"], "ONLINE");
    assert_eq!(body["healthmonitor"]["http_method"], "GET");
    assert_eq!(body["healthmonitor"]["expected_codes"], "200");
    assert_eq!(body["healthmonitor"]["max_retries_down"], 3);

    let (code, tree) = svc
        .get(&format!("/v2/lbaas/loadbalancers/{lb}/status"))
        .await;
    assert_eq!(code, StatusCode::OK);
    let tree_pool = &tree["statuses"]["loadbalancer"]["listeners"][0]["pools"][0];
    assert_eq!(tree_pool["id"], pool.as_str());
    assert_eq!(tree_pool["health_monitor"]["type"], "HTTP");
    assert_eq!(tree_pool["members"].as_array().unwrap().len(), 2);

    let (code, stats) = svc
        .get(&format!("/v2/lbaas/loadbalancers/{lb}/stats"))
        .await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(
        stats,
        json!({"stats": {"bytes_in": 0, "bytes_out": 0, "active_connections": 0, "total_connections": 0, "request_errors": 0}})
    );

    let (_, amphorae) = svc.get("/v2/octavia/amphorae").await;
    if provider == krater_domain::NOOP_PROVIDER {
        // Octavia's noop provider builds nothing: no amphora.
        assert_eq!(amphorae["amphorae"], json!([]));
    } else {
        let amphora = &amphorae["amphorae"][0];
        assert_eq!(amphora["loadbalancer_id"], lb.as_str());
        assert_eq!(amphora["status"], "ALLOCATED");
        assert_eq!(amphora["role"], "STANDALONE");
        let (code, _) = svc
            .get(&format!(
                "/v2/octavia/amphorae/{}",
                amphora["id"].as_str().unwrap()
            ))
            .await;
        assert_eq!(code, StatusCode::OK);
    }

    let (code, body) = svc.delete(&format!("/v2/lbaas/loadbalancers/{lb}")).await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["faultstring"],
        format!("Validation failure: Cannot delete Load Balancer {lb} - it has children")
    );
    let (code, _) = svc
        .delete(&format!("/v2/lbaas/loadbalancers/{lb}?cascade=true"))
        .await;
    assert_eq!(code, StatusCode::NO_CONTENT);
    svc.wait_gone(&format!("/v2/lbaas/loadbalancers/{lb}"))
        .await;
    for path in [
        format!("/v2/lbaas/listeners/{listener}"),
        format!("/v2/lbaas/pools/{pool}"),
        format!("/v2/lbaas/healthmonitors/{hm}"),
    ] {
        assert_eq!(svc.get(&path).await.0, StatusCode::NOT_FOUND, "{path}");
    }
    let (_, amphorae) = svc.get("/v2/octavia/amphorae").await;
    assert_eq!(amphorae["amphorae"], json!([]));
    let (_, ports) = svc.get("/network/v2.0/ports").await;
    assert_eq!(
        ports["ports"],
        json!([]),
        "the VIP and amphora addresses are released"
    );
}

#[tokio::test]
async fn workflow_with_the_amphora_provider() {
    workflow("amphora").await;
}

#[tokio::test]
async fn workflow_with_the_noop_provider() {
    workflow("noop_driver").await;
}

#[tokio::test]
async fn updates_and_deletes_of_children() {
    let svc = TestService::start().await;
    let lb = svc.active_lb("amphora").await;
    let listener = svc
        .create_child(
            &lb,
            "/v2/lbaas/listeners",
            "listener",
            json!({"protocol": "TCP", "protocol_port": 443, "loadbalancer_id": lb}),
        )
        .await;
    let (code, body) = svc
        .put(
            &format!("/v2/lbaas/listeners/{listener}"),
            json!({"listener": {"connection_limit": 100, "timeout_client_data": 1000, "name": "renamed"}}),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body["listener"]["provisioning_status"], "PENDING_UPDATE");
    let shown = svc
        .wait_for(
            &format!("/v2/lbaas/listeners/{listener}"),
            "listener",
            "ACTIVE",
        )
        .await;
    assert_eq!(shown["connection_limit"], 100);
    assert_eq!(shown["name"], "renamed");
    svc.wait_for(
        &format!("/v2/lbaas/loadbalancers/{lb}"),
        "loadbalancer",
        "ACTIVE",
    )
    .await;
    // null resets to the default
    svc.put(
        &format!("/v2/lbaas/listeners/{listener}"),
        json!({"listener": {"timeout_client_data": null}}),
    )
    .await;
    let shown = svc
        .wait_for(
            &format!("/v2/lbaas/listeners/{listener}"),
            "listener",
            "ACTIVE",
        )
        .await;
    assert_eq!(shown["timeout_client_data"], 50000);
    svc.wait_for(
        &format!("/v2/lbaas/loadbalancers/{lb}"),
        "loadbalancer",
        "ACTIVE",
    )
    .await;

    let pool = svc
        .create_child(
            &lb,
            "/v2/lbaas/pools",
            "pool",
            json!({"lb_algorithm": "SOURCE_IP", "loadbalancer_id": lb, "protocol": "TCP",
                   "session_persistence": {"type": "SOURCE_IP"}}),
        )
        .await;
    let member = svc
        .create_child(
            &lb,
            &format!("/v2/lbaas/pools/{pool}/members"),
            "member",
            json!({"address": "198.18.2.30", "protocol_port": 8080, "weight": 5, "backup": true}),
        )
        .await;
    let (_, body) = svc
        .get(&format!("/v2/lbaas/pools/{pool}/members/{member}"))
        .await;
    assert_eq!(body["member"]["operating_status"], "NO_MONITOR");
    assert_eq!(body["member"]["weight"], 5);
    let (code, _) = svc
        .put(
            &format!("/v2/lbaas/pools/{pool}/members/{member}"),
            json!({"member": {"weight": null, "backup": false}}),
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    let shown = svc
        .wait_for(
            &format!("/v2/lbaas/pools/{pool}/members/{member}"),
            "member",
            "ACTIVE",
        )
        .await;
    assert_eq!(shown["weight"], 1);
    assert_eq!(shown["backup"], false);
    svc.wait_for(
        &format!("/v2/lbaas/loadbalancers/{lb}"),
        "loadbalancer",
        "ACTIVE",
    )
    .await;

    // Batch update: replace the set with two new members.
    let (code, _) = svc
        .put(
            &format!("/v2/lbaas/pools/{pool}/members"),
            json!({"members": [{"address": "198.18.2.31", "protocol_port": 80},
                               {"address": "198.18.2.32", "protocol_port": 80}]}),
        )
        .await;
    assert_eq!(code, StatusCode::ACCEPTED);
    svc.wait_for(
        &format!("/v2/lbaas/loadbalancers/{lb}"),
        "loadbalancer",
        "ACTIVE",
    )
    .await;
    let (_, members) = svc.get(&format!("/v2/lbaas/pools/{pool}/members")).await;
    let mut addresses: Vec<&str> = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["address"].as_str().unwrap())
        .collect();
    addresses.sort();
    assert_eq!(addresses, ["198.18.2.31", "198.18.2.32"]);

    let (code, _) = svc.delete(&format!("/v2/lbaas/pools/{pool}")).await;
    assert_eq!(code, StatusCode::NO_CONTENT);
    svc.wait_gone(&format!("/v2/lbaas/pools/{pool}")).await;
    let (code, _) = svc.delete(&format!("/v2/lbaas/listeners/{listener}")).await;
    assert_eq!(code, StatusCode::NO_CONTENT);
    svc.wait_gone(&format!("/v2/lbaas/listeners/{listener}"))
        .await;
    svc.wait_for(
        &format!("/v2/lbaas/loadbalancers/{lb}"),
        "loadbalancer",
        "ACTIVE",
    )
    .await;
    let (code, _) = svc.delete(&format!("/v2/lbaas/loadbalancers/{lb}")).await;
    assert_eq!(code, StatusCode::NO_CONTENT);
    svc.wait_gone(&format!("/v2/lbaas/loadbalancers/{lb}"))
        .await;
}

#[tokio::test]
async fn providers_lists_the_enabled_drivers() {
    let svc = TestService::start_with(|config| {
        config.api_settings.enabled_provider_drivers = vec!["amphora".into(), "noop_driver".into()];
    })
    .await;
    let (code, body) = svc.get("/v2/lbaas/providers").await;
    assert_eq!(code, StatusCode::OK);
    let names: Vec<&str> = body["providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["amphora", "noop_driver"]);
    assert!(body["providers"][0]["description"].as_str().unwrap() != "");
    let (_, body) = svc.get("/v2/lbaas/providers?fields=name").await;
    assert_eq!(
        body,
        json!({"providers": [{"name": "amphora"}, {"name": "noop_driver"}]})
    );
}

/// Octavia keeps the TLS options of any listener or pool, echoes them, and resets them
/// to its defaults when an update sets them to null (pools have no default ALPN list).
#[tokio::test]
async fn tls_options_are_stored_and_reset_to_defaults() {
    let svc = TestService::start().await;
    let lb = svc.active_lb("amphora").await;
    let listener = svc
        .create_child(
            &lb,
            "/v2/lbaas/listeners",
            "listener",
            json!({"protocol": "HTTP", "protocol_port": 80, "loadbalancer_id": lb,
                   "tls_versions": ["TLSv1.3"], "tls_ciphers": "ECDHE", "alpn_protocols": ["h2"]}),
        )
        .await;
    let path = format!("/v2/lbaas/listeners/{listener}");
    let (_, shown) = svc.get(&path).await;
    assert_eq!(shown["listener"]["tls_versions"], json!(["TLSv1.3"]));
    assert_eq!(shown["listener"]["tls_ciphers"], json!("ECDHE"));
    assert_eq!(shown["listener"]["alpn_protocols"], json!(["h2"]));
    let (code, updated) = svc
        .put(
            &path,
            json!({"listener": {"tls_versions": null, "tls_ciphers": null, "alpn_protocols": null}}),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{updated}");
    let updated = &updated["listener"];
    assert_eq!(updated["tls_versions"], json!(["TLSv1.2", "TLSv1.3"]));
    assert_eq!(
        updated["alpn_protocols"],
        json!(["h2", "http/1.1", "http/1.0"])
    );
    assert!(updated["tls_ciphers"]
        .as_str()
        .unwrap()
        .starts_with("TLS_AES_128_GCM_SHA256:"));
    svc.wait_for(&path, "listener", "ACTIVE").await;

    let pool = svc
        .create_child(
            &lb,
            "/v2/lbaas/pools",
            "pool",
            json!({"protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "loadbalancer_id": lb,
                   "alpn_protocols": ["http/1.1"]}),
        )
        .await;
    let path = format!("/v2/lbaas/pools/{pool}");
    let (_, shown) = svc.get(&path).await;
    assert_eq!(shown["pool"]["alpn_protocols"], json!(["http/1.1"]));
    assert_eq!(shown["pool"]["tls_versions"], Value::Null);
    let (_, updated) = svc
        .put(
            &path,
            json!({"pool": {"alpn_protocols": null, "tls_versions": null}}),
        )
        .await;
    assert_eq!(updated["pool"]["alpn_protocols"], Value::Null);
    assert_eq!(
        updated["pool"]["tls_versions"],
        json!(["TLSv1.2", "TLSv1.3"])
    );
}

/// A fully populated load balancer: listeners, pools, members and a monitor in one
/// create, answered with whole objects, all ACTIVE together, gone with a cascade.
#[tokio::test]
async fn fully_populated_load_balancer() {
    let svc = TestService::start().await;
    let subnet = svc.subnet_id("public-subnet").await;
    let (code, body) = svc
        .post(
            "/v2/lbaas/loadbalancers",
            json!({"loadbalancer": {
                "name": "graph", "vip_subnet_id": subnet,
                "listeners": [
                    {"name": "web", "protocol": "HTTP", "protocol_port": 80,
                     "default_pool": {
                         "name": "web-pool", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
                         "healthmonitor": {"type": "HTTP", "delay": 5, "timeout": 3,
                                           "max_retries": 3, "url_path": "/healthcheck"},
                         "members": [{"address": "198.18.2.20", "protocol_port": 80},
                                     {"address": "198.18.2.21", "protocol_port": 80}]}},
                    {"name": "raw", "protocol": "TCP", "protocol_port": 81,
                     "default_pool": {"name": "tcp-pool", "tls_enabled": false}}
                ],
                "pools": [{"name": "tcp-pool", "protocol": "TCP", "lb_algorithm": "SOURCE_IP",
                           "members": [{"address": "198.18.2.22", "protocol_port": 22}]}]
            }}),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    let lb = &body["loadbalancer"];
    let lb_id = lb["id"].as_str().unwrap().to_string();
    let listeners = lb["listeners"].as_array().unwrap();
    let pools = lb["pools"].as_array().unwrap();
    assert_eq!(listeners.len(), 2);
    assert_eq!(pools.len(), 2);
    assert!(
        listeners[0].get("loadbalancers").is_none(),
        "{}",
        listeners[0]
    );
    let pool_named = |name: &str| pools.iter().find(|p| p["name"] == name).unwrap().clone();
    let web_pool = pool_named("web-pool");
    let tcp_pool = pool_named("tcp-pool");
    assert!(web_pool.get("healthmonitor_id").is_none());
    assert_eq!(web_pool["healthmonitor"]["url_path"], "/healthcheck");
    assert_eq!(web_pool["members"].as_array().unwrap().len(), 2);
    assert_eq!(web_pool["members"][0]["operating_status"], "NO_MONITOR");
    assert_eq!(tcp_pool["healthmonitor"], Value::Null);
    let listener_named = |name: &str| listeners.iter().find(|l| l["name"] == name).unwrap();
    assert_eq!(listener_named("web")["default_pool_id"], web_pool["id"]);
    assert_eq!(listener_named("raw")["default_pool_id"], tcp_pool["id"]);
    for object in [&listeners[0], &web_pool, &web_pool["healthmonitor"]] {
        assert_eq!(object["provisioning_status"], "PENDING_CREATE");
    }

    svc.wait_for(
        &format!("/v2/lbaas/loadbalancers/{lb_id}"),
        "loadbalancer",
        "ACTIVE",
    )
    .await;
    let (_, tree) = svc
        .get(&format!("/v2/lbaas/loadbalancers/{lb_id}/status"))
        .await;
    let tree_listeners = tree["statuses"]["loadbalancer"]["listeners"]
        .as_array()
        .unwrap();
    assert_eq!(tree_listeners.len(), 2);
    for (path, key) in [
        (
            format!(
                "/v2/lbaas/listeners/{}",
                listeners[0]["id"].as_str().unwrap()
            ),
            "listener",
        ),
        (
            format!("/v2/lbaas/pools/{}", web_pool["id"].as_str().unwrap()),
            "pool",
        ),
        (
            format!(
                "/v2/lbaas/healthmonitors/{}",
                web_pool["healthmonitor"]["id"].as_str().unwrap()
            ),
            "healthmonitor",
        ),
        (
            format!(
                "/v2/lbaas/pools/{}/members/{}",
                tcp_pool["id"].as_str().unwrap(),
                tcp_pool["members"][0]["id"].as_str().unwrap()
            ),
            "member",
        ),
    ] {
        let (code, shown) = svc.get(&path).await;
        assert_eq!(code, StatusCode::OK, "{path}");
        assert_eq!(shown[key]["provisioning_status"], "ACTIVE", "{path}");
    }

    let (code, _) = svc
        .delete(&format!("/v2/lbaas/loadbalancers/{lb_id}?cascade=true"))
        .await;
    assert_eq!(code, StatusCode::NO_CONTENT);
    svc.wait_gone(&format!("/v2/lbaas/loadbalancers/{lb_id}"))
        .await;
    let (_, pools) = svc.get("/v2/lbaas/pools").await;
    assert_eq!(pools["pools"], json!([]));
}

/// Octavia leaves `healthmonitor_id` out of a pool without a monitor (create, show, list).
#[tokio::test]
async fn a_pool_without_a_monitor_has_no_healthmonitor_id() {
    let svc = TestService::start().await;
    let lb = svc.active_lb("noop_driver").await;
    let (code, created) = svc
        .post(
            "/v2/lbaas/pools",
            json!({"pool": {"loadbalancer_id": lb, "protocol": "TCP", "lb_algorithm": "ROUND_ROBIN"}}),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED);
    let pool = created["pool"]["id"].as_str().unwrap().to_string();
    assert!(
        created["pool"].get("healthmonitor_id").is_none(),
        "{created}"
    );
    svc.wait_for(
        &format!("/v2/lbaas/loadbalancers/{lb}"),
        "loadbalancer",
        "ACTIVE",
    )
    .await;
    let (_, shown) = svc.get(&format!("/v2/lbaas/pools/{pool}")).await;
    assert!(shown["pool"].get("healthmonitor_id").is_none(), "{shown}");
    let (_, listed) = svc.get("/v2/lbaas/pools").await;
    assert!(
        listed["pools"][0].get("healthmonitor_id").is_none(),
        "{listed}"
    );
    let hm = svc
        .create_child(
            &lb,
            "/v2/lbaas/healthmonitors",
            "healthmonitor",
            json!({"pool_id": pool, "type": "TCP", "delay": 5, "timeout": 3, "max_retries": 3}),
        )
        .await;
    let (_, shown) = svc.get(&format!("/v2/lbaas/pools/{pool}")).await;
    assert_eq!(shown["pool"]["healthmonitor_id"], json!(hm));
}

/// A batch update replaces a member as Octavia does: what an entry does not give is
/// reset to its create default; name and tags (which have none) stay.
#[tokio::test]
async fn a_batch_update_resets_what_an_entry_leaves_out() {
    let svc = TestService::start().await;
    let lb = svc.active_lb("noop_driver").await;
    let pool = svc
        .create_child(
            &lb,
            "/v2/lbaas/pools",
            "pool",
            json!({"loadbalancer_id": lb, "protocol": "TCP", "lb_algorithm": "ROUND_ROBIN"}),
        )
        .await;
    let members = format!("/v2/lbaas/pools/{pool}/members");
    let member = svc
        .create_child(
            &lb,
            &members,
            "member",
            json!({"address": "198.18.2.30", "protocol_port": 80, "name": "m1", "weight": 5,
                   "backup": true, "monitor_port": 8080, "monitor_address": "198.18.2.31",
                   "admin_state_up": false, "tags": ["t1"]}),
        )
        .await;
    let (code, _) = svc
        .put(
            &members,
            json!({"members": [{"address": "198.18.2.30", "protocol_port": 80}]}),
        )
        .await;
    assert_eq!(code, StatusCode::ACCEPTED);
    let shown = svc
        .wait_for(&format!("{members}/{member}"), "member", "ACTIVE")
        .await;
    for (key, value) in [
        ("name", json!("m1")),
        ("tags", json!(["t1"])),
        ("weight", json!(1)),
        ("backup", json!(false)),
        ("monitor_port", Value::Null),
        ("monitor_address", Value::Null),
        ("admin_state_up", json!(true)),
    ] {
        assert_eq!(shown[key], value, "{key}: {shown}");
    }
}

/// As in Octavia, `http_version` and `domain_name` are taken by monitors of every type
/// (a PING or TCP monitor ignores them); only the HTTP-only fields are refused.
#[tokio::test]
async fn a_ping_monitor_takes_an_http_version() {
    let svc = TestService::start().await;
    let lb = svc.active_lb("amphora").await;
    let pool = svc
        .create_child(
            &lb,
            "/v2/lbaas/pools",
            "pool",
            json!({"loadbalancer_id": lb, "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}),
        )
        .await;
    let hm = svc
        .create_child(
            &lb,
            "/v2/lbaas/healthmonitors",
            "healthmonitor",
            json!({"pool_id": pool, "type": "PING", "delay": 5, "timeout": 3, "max_retries": 3,
                   "http_version": 1.1, "domain_name": "a.example"}),
        )
        .await;
    let path = format!("/v2/lbaas/healthmonitors/{hm}");
    let (_, body) = svc.get(&path).await;
    assert_eq!(body["healthmonitor"]["http_version"], json!(1.1));
    assert_eq!(body["healthmonitor"]["domain_name"], json!("a.example"));
    assert_eq!(
        body["healthmonitor"]["provisioning_status"],
        json!("ACTIVE")
    );
    // An update may not name an HTTP-only field at all, not even to clear it.
    let (code, body) = svc
        .put(&path, json!({"healthmonitor": {"url_path": null}}))
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["faultstring"],
        "url_path is not a valid option for health monitors of type PING"
    );
}

/// A child belongs to its load balancer's project, whatever the request says, as in
/// Octavia (the body's `project_id` is still checked).
#[tokio::test]
async fn children_take_the_project_of_their_load_balancer() {
    let svc = TestService::start().await;
    let subnet = svc.subnet_id("public-subnet").await;
    let (code, body) = svc
        .post(
            "/v2/lbaas/loadbalancers",
            json!({"loadbalancer": {"vip_subnet_id": subnet, "project_id": "owner"}}),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    let lb = body["loadbalancer"]["id"].as_str().unwrap().to_string();
    svc.wait_for(
        &format!("/v2/lbaas/loadbalancers/{lb}"),
        "loadbalancer",
        "ACTIVE",
    )
    .await;
    let listener = svc
        .create_child(
            &lb,
            "/v2/lbaas/listeners",
            "listener",
            json!({"loadbalancer_id": lb, "protocol": "HTTP", "protocol_port": 80, "project_id": "other"}),
        )
        .await;
    let pool = svc
        .create_child(
            &lb,
            "/v2/lbaas/pools",
            "pool",
            json!({"listener_id": listener, "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "project_id": "other"}),
        )
        .await;
    let hm = svc
        .create_child(
            &lb,
            "/v2/lbaas/healthmonitors",
            "healthmonitor",
            json!({"pool_id": pool, "type": "TCP", "delay": 5, "timeout": 3, "max_retries": 3, "project_id": "other"}),
        )
        .await;
    let member = svc
        .create_child(
            &lb,
            &format!("/v2/lbaas/pools/{pool}/members"),
            "member",
            json!({"address": "198.18.2.20", "protocol_port": 80, "project_id": "other"}),
        )
        .await;
    for (path, key) in [
        (format!("/v2/lbaas/listeners/{listener}"), "listener"),
        (format!("/v2/lbaas/pools/{pool}"), "pool"),
        (format!("/v2/lbaas/healthmonitors/{hm}"), "healthmonitor"),
        (format!("/v2/lbaas/pools/{pool}/members/{member}"), "member"),
    ] {
        let (_, body) = svc.get(&path).await;
        assert_eq!(body[key]["project_id"], "owner", "{body}");
    }
}
