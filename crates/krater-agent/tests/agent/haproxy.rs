//! Bundles applied, refused, reloaded only when they change, and removed; a load
//! balancer's HAProxy started, reloaded seamlessly and stopped, with traffic through
//! the VIP inside the test's namespace.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use krater_agent_api::{AmphoraBundle, Applied, BundleStatus, ClientError, LbAction, NatListener};

use crate::graph;
use crate::netns::{body_of, haproxy_pid, http_get, run, Member, Netns, Reaper};
use crate::support::{bundle, TestAgent};

const LB: &str = "10000000-0000-4000-8000-0000000000a1";
const VIP: &str = "198.18.1.10";

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address")
}

/// Polls `GET path` on `addr` in `ns` until the body is `want`.
async fn wait_for_body(ns: &str, addr: SocketAddr, path: &str, want: &str) {
    let end = Instant::now() + Duration::from_secs(10);
    let mut last;
    loop {
        let (ns2, path2) = (ns.to_owned(), path.to_owned());
        let answer = tokio::task::spawn_blocking(move || http_get(&ns2, addr, &path2))
            .await
            .expect("client");
        last = body_of(&answer);
        if last.as_deref() == Ok(want) {
            return;
        }
        assert!(
            Instant::now() < end,
            "{addr}{path}: wanted {want:?}, last {last:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn get(ns: &str, addr: SocketAddr, path: &str) -> Result<String, String> {
    let (ns, path) = (ns.to_owned(), path.to_owned());
    let answer = tokio::task::spawn_blocking(move || http_get(&ns, addr, &path))
        .await
        .expect("client");
    body_of(&answer)
}

fn status_of(err: ClientError) -> (u16, String, Option<String>) {
    match err {
        ClientError::Status {
            status,
            message,
            details,
        } => (status, message, details),
        other => panic!("expected an error status, got {other}"),
    }
}

/// The workers of HAProxy master `master`, sorted: a reload replaces them.
fn workers(master: i32) -> Vec<i32> {
    let children = std::fs::read_to_string(format!("/proc/{master}/task/{master}/children"))
        .expect("children of the master");
    let mut pids: Vec<i32> = children
        .split_whitespace()
        .map(|p| p.parse().expect("pid"))
        .collect();
    pids.sort_unstable();
    pids
}

#[tokio::test]
async fn bundles_applied_checked_reloaded_and_removed() {
    let lb_ns = Netns::new("lb");
    // The VIP and the members live on the namespace's loopback.
    lb_ns.ip(&["addr", "add", "198.18.1.10/32", "dev", "lo"]);
    lb_ns.ip(&["addr", "add", "198.18.2.11/32", "dev", "lo"]);
    lb_ns.ip(&["addr", "add", "198.18.2.12/32", "dev", "lo"]);
    let _m1 = Member::start(&lb_ns, addr("198.18.2.11:8080"), "member-1");
    let _m2 = Member::start(&lb_ns, addr("198.18.2.12:8080"), "member-2");

    let agent = TestAgent::start(&lb_ns.name, None).await;
    let _reaper = Reaper {
        dir: agent.config.state_dir.clone(),
    };
    let client = &agent.client;
    let version = || async { client.bundle_status().await.expect("status").version };
    let vip80 = addr("198.18.1.10:80");
    let vip81 = addr("198.18.1.10:81");

    // Nothing yet.
    assert_eq!(version().await, None);
    assert_eq!(client.get_haproxy_config(LB).await.expect("get"), None);
    let (status, message, _) = status_of(
        client
            .loadbalancer_action(LB, LbAction::Start)
            .await
            .expect_err("start without config"),
    );
    assert_eq!((status, message.as_str()), (404, "Loadbalancer Not Found"));

    // An invalid configuration is refused with haproxy's words.
    let (status, message, details) = status_of(
        agent
            .apply(&[(LB, "global\n    no-such-keyword 1\n")])
            .await
            .expect_err("invalid config"),
    );
    assert_eq!((status, message.as_str()), (400, "Invalid request"));
    let details = details.unwrap_or_default();
    assert!(
        details.contains("no-such-keyword") && details.contains(LB),
        "{details}"
    );
    assert_eq!(version().await, None);
    assert_eq!(client.get_haproxy_config(LB).await.expect("get"), None);

    // A valid bundle is applied: HAProxy runs it, and its version is reported.
    let cfg1 = graph::config(LB, VIP, &[(80, "198.18.2.11", 8080)]);
    let bundle1 = bundle(&[(LB, &cfg1)]);
    assert_eq!(
        agent.apply(&[(LB, &cfg1)]).await.expect("apply"),
        Applied::Sent
    );
    assert_eq!(version().await, Some(bundle1.version()));
    assert_eq!(
        client.get_haproxy_config(LB).await.expect("get").as_deref(),
        Some(cfg1.as_str())
    );
    wait_for_body(&lb_ns.name, vip80, "/", "member-1").await;
    let pid_file = agent.config.state_dir.join(LB).join("haproxy.pid");
    let master = haproxy_pid(&pid_file).expect("master running");
    let workers1 = workers(master);
    assert!(!workers1.is_empty());

    // The same bundle again: the client does not send it, and sent anyway it reloads
    // nothing.
    assert_eq!(
        agent.apply(&[(LB, &cfg1)]).await.expect("apply"),
        Applied::AlreadyRunning
    );
    let body = serde_json::to_vec(&bundle1).expect("json");
    let (status, answer) = agent.raw_put("/1.0/bundle", body).await;
    assert_eq!(status, 200, "{answer}");
    let answer: BundleStatus = serde_json::from_str(&answer).expect("status");
    assert_eq!(answer.version, Some(bundle1.version()));
    // A reload would have forked new workers by now.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(workers(master), workers1, "the identical bundle reloaded");

    // A bundle refused for one part leaves the running one untouched.
    let broken = cfg1.replace("balance roundrobin", "balance no-such-algorithm");
    assert_ne!(broken, cfg1);
    let (status, ..) = status_of(
        agent
            .apply(&[(LB, &broken)])
            .await
            .expect_err("invalid config"),
    );
    assert_eq!(status, 400);
    let mut bad_certificate = bundle(&[(LB, &cfg1)]);
    bad_certificate
        .certificates
        .insert("listener.pem".into(), "not a certificate".into());
    let (status, _, details) = status_of(
        client
            .ensure_bundle(&bad_certificate)
            .await
            .expect_err("not PEM"),
    );
    assert_eq!(status, 400);
    assert!(
        details
            .as_deref()
            .unwrap_or("")
            .contains("certificate listener.pem"),
        "{details:?}"
    );
    assert_eq!(version().await, Some(bundle1.version()));
    assert_eq!(
        client.get_haproxy_config(LB).await.expect("get").as_deref(),
        Some(cfg1.as_str())
    );
    assert_eq!(workers(master), workers1, "a refused bundle reloaded");
    assert_eq!(
        get(&lb_ns.name, vip80, "/").await.as_deref(),
        Ok("member-1")
    );

    // A changed configuration is reloaded while a slow request is in flight: the
    // request completes, the new listener answers, the old one keeps answering.
    let cfg2 = graph::config(
        LB,
        VIP,
        &[(80, "198.18.2.11", 8080), (81, "198.18.2.12", 8080)],
    );
    assert!(
        get(&lb_ns.name, vip81, "/").await.is_err(),
        "81 before reload"
    );
    let ns_name = lb_ns.name.clone();
    let in_flight = tokio::task::spawn_blocking(move || http_get(&ns_name, vip80, "/slow"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        agent.apply(&[(LB, &cfg2)]).await.expect("apply 2"),
        Applied::Sent
    );
    assert_eq!(version().await, Some(bundle(&[(LB, &cfg2)]).version()));
    wait_for_body(&lb_ns.name, vip81, "/", "member-2").await;
    assert_eq!(
        get(&lb_ns.name, vip80, "/").await.as_deref(),
        Ok("member-1")
    );
    assert_eq!(
        body_of(&in_flight.await.expect("in flight")).as_deref(),
        Ok("member-1"),
        "the request in flight during the reload"
    );
    assert_eq!(haproxy_pid(&pid_file), Some(master), "same master");
    // A new worker proves the reload; an old one may still drain a connection.
    assert!(
        workers(master).iter().any(|w| !workers1.contains(w)),
        "the changed bundle did not reload"
    );
    let state = std::fs::read_to_string(agent.config.state_dir.join(LB).join("servers-state"))
        .expect("servers-state");
    assert!(state.contains("198.18.2.11"), "saved state: {state}");

    // HAProxy outlives the agent; a new agent on the same state finds it again.
    let agent = agent.restart().await;
    let client = &agent.client;
    assert_eq!(
        client.bundle_status().await.expect("status").version,
        Some(bundle(&[(LB, &cfg2)]).version())
    );
    assert_eq!(
        get(&lb_ns.name, vip80, "/").await.as_deref(),
        Ok("member-1")
    );

    // Stop: the master is gone and the VIP refuses connections.
    client
        .loadbalancer_action(LB, LbAction::Stop)
        .await
        .expect("stop");
    assert_eq!(haproxy_pid(&pid_file), None);
    assert!(
        get(&lb_ns.name, vip80, "/").await.is_err(),
        "served after stop"
    );
    client
        .loadbalancer_action(LB, LbAction::Stop)
        .await
        .expect("stop again");

    // Unknown action.
    let (status, _) = agent
        .raw_put(&format!("/1.0/loadbalancer/{LB}/restart"), Vec::new())
        .await;
    assert_eq!(status, 400);

    // Reload of a stopped load balancer starts it.
    client
        .loadbalancer_action(LB, LbAction::Reload)
        .await
        .expect("reload = start");
    wait_for_body(&lb_ns.name, vip81, "/", "member-2").await;

    // A bundle without the load balancer stops it and removes its files.
    assert_eq!(agent.apply(&[]).await.expect("empty"), Applied::Sent);
    assert!(
        get(&lb_ns.name, vip80, "/").await.is_err(),
        "served after removal"
    );
    assert!(!agent.config.state_dir.join(LB).exists());
    assert_eq!(client.get_haproxy_config(LB).await.expect("get"), None);
}

#[tokio::test]
async fn udp_listeners_are_loaded_as_an_nftables_table_in_the_namespace() {
    let lb_ns = Netns::new("nf");
    let agent = TestAgent::start(&lb_ns.name, None).await;
    let client = &agent.client;
    let listener: NatListener = serde_json::from_value(serde_json::json!({
        "listener_id": "10000000-0000-4000-8000-0000000000b1",
        "vip": VIP, "port": 53,
        "allowed_cidrs": ["198.18.1.0/24"],
        "pool": {"pool_id": "10000000-0000-4000-8000-0000000000c1",
                 "algorithm": {"type": "ROUND_ROBIN"},
                 "members": [{"member_id": "10000000-0000-4000-8000-0000000000d1",
                              "address": "198.18.2.11", "port": 5353, "weight": 1,
                              "backup": false, "monitor_address": null, "monitor_port": null}],
                 "monitor": null}
    }))
    .expect("listener");
    let with_udp = AmphoraBundle {
        nat_listeners: vec![listener],
        ..AmphoraBundle::default()
    };
    client.ensure_bundle(&with_udp).await.expect("bundle");
    // Both tables: filters, limits and counters; the choice of members.
    let list = || {
        let table = |name| {
            let args = [
                "netns",
                "exec",
                &lb_ns.name,
                "nft",
                "list",
                "table",
                "inet",
                name,
            ];
            run("ip", &args)
        };
        table("krater") + &table("krater_nat")
    };
    let table = list();
    assert!(
        table.contains("ip daddr 198.18.1.10 udp dport 53 dnat ip to numgen inc mod 1 map { 0 : 198.18.2.11 . 5353 }"),
        "{table}"
    );
    assert!(table.contains("ip saddr != @allowed_0 drop"), "{table}");
    let forwarding = run(
        "ip",
        &[
            "netns",
            "exec",
            &lb_ns.name,
            "sysctl",
            "-n",
            "net.ipv4.ip_forward",
        ],
    );
    assert_eq!(forwarding.trim(), "1");
    assert!(
        !run("nft", &["list", "tables"]).contains("inet krater"),
        "loaded outside the namespace"
    );

    // Without UDP listeners the tables balance and forward nothing.
    client
        .ensure_bundle(&AmphoraBundle::default())
        .await
        .expect("empty bundle");
    let table = list();
    assert!(!table.contains("dnat ip to"), "{table}");
    assert!(table.contains("policy drop"), "{table}");
}

/// Whether `pid` is a process that has not exited (a zombie has).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let state = stat[stat.rfind(')').expect("stat") + 1..].trim_start();
        !state.starts_with(['Z', 'X', 'x'])
    })
}

/// Waits (bounded) for `done`.
async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_killed_haproxy_is_started_again_without_an_api_call() {
    let lb_ns = Netns::new("sv");
    lb_ns.ip(&["addr", "add", "198.18.1.10/32", "dev", "lo"]);
    lb_ns.ip(&["addr", "add", "198.18.2.11/32", "dev", "lo"]);
    let _m1 = Member::start(&lb_ns, addr("198.18.2.11:8080"), "member-1");
    let agent = TestAgent::start(&lb_ns.name, None).await;
    let _reaper = Reaper {
        dir: agent.config.state_dir.clone(),
    };
    let vip80 = addr("198.18.1.10:80");
    let cfg = graph::config(LB, VIP, &[(80, "198.18.2.11", 8080)]);
    agent.apply(&[(LB, &cfg)]).await.expect("apply");
    wait_for_body(&lb_ns.name, vip80, "/", "member-1").await;
    let pid_file = agent.config.state_dir.join(LB).join("haproxy.pid");
    let master = haproxy_pid(&pid_file).expect("master running");

    // The fault: the master dies (its workers follow it).
    let pid = rustix::process::Pid::from_raw(master).expect("pid");
    rustix::process::kill_process(pid, rustix::process::Signal::KILL).expect("kill -9");
    wait_until("the killed master to be gone", || !alive(master)).await;

    // No API call: the agent notices and starts a new master, which serves the VIP.
    wait_until("a new HAProxy master", || {
        haproxy_pid(&pid_file).is_some_and(|new| new != master)
    })
    .await;
    wait_for_body(&lb_ns.name, vip80, "/", "member-1").await;

    // A stopped HAProxy is not started again.
    agent
        .client
        .loadbalancer_action(LB, LbAction::Stop)
        .await
        .expect("stop");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        haproxy_pid(&pid_file),
        None,
        "a stopped HAProxy stays stopped"
    );
}

/// The status of server `server` in HAProxy's `show stat` on `socket`, if listed.
fn server_status(socket: &std::path::Path, server: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::os::unix::net::UnixStream::connect(socket).ok()?;
    stream.write_all(b"show stat\n").ok()?;
    let mut csv = String::new();
    stream.read_to_string(&mut csv).ok()?;
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next()?.trim_start_matches("# ").split(',').collect();
    let status = header.iter().position(|c| *c == "status")?;
    lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .find(|row| row.get(1) == Some(&server))
        .and_then(|row| row.get(status).map(|s| (*s).to_owned()))
}

#[tokio::test]
async fn a_removed_monitor_address_takes_effect_at_the_reload() {
    let lb_ns = Netns::new("ma");
    lb_ns.ip(&["addr", "add", "198.18.1.10/32", "dev", "lo"]);
    lb_ns.ip(&["addr", "add", "198.18.2.11/32", "dev", "lo"]);
    let _m1 = Member::start(&lb_ns, addr("198.18.2.11:8080"), "member-1");
    let agent = TestAgent::start(&lb_ns.name, None).await;
    let _reaper = Reaper {
        dir: agent.config.state_dir.clone(),
    };
    let socket = agent.config.state_dir.join(LB).join("haproxy.sock");
    let member = graph::id(4, 0);
    let status = || server_status(&socket, &member);
    let plain = graph::checked_config(LB, VIP, 80, &[("198.18.2.11", 8080)]);
    // Checks go to an address where nothing answers.
    let monitored = plain.replace(
        "198.18.2.11:8080 weight 1",
        "198.18.2.11:8080 weight 1 addr 198.18.2.99",
    );
    assert_ne!(monitored, plain);

    agent.apply(&[(LB, &plain)]).await.expect("apply");
    wait_until("the member UP", || status().as_deref() == Some("UP")).await;

    agent
        .apply(&[(LB, &monitored)])
        .await
        .expect("apply with monitor address");
    wait_until("the member DOWN (checked at 198.18.2.99)", || {
        status().is_some_and(|s| s.starts_with("DOWN"))
    })
    .await;

    // The monitor address removed: checks go to the member again.
    agent
        .apply(&[(LB, &plain)])
        .await
        .expect("apply without monitor address");
    wait_until("the member UP again", || status().as_deref() == Some("UP")).await;
    wait_for_body(&lb_ns.name, addr("198.18.1.10:80"), "/", "member-1").await;
}
