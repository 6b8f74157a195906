//! Configuration upload, start, seamless reload, stop and removal of a load balancer's
//! HAProxy, with traffic through the VIP inside the test's namespace.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use krater_agent_api::{config_etag, ClientError, LbAction};

use crate::graph;
use crate::netns::{body_of, haproxy_pid, http_get, Member, Netns, Reaper};
use crate::support::TestAgent;

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

#[tokio::test]
async fn config_start_reload_stop_delete() {
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
    let base_dir = agent.state_dir_str();
    let vip80 = addr("198.18.1.10:80");
    let vip81 = addr("198.18.1.10:81");

    // Nothing yet.
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
        client
            .upload_haproxy_config(LB, "global\n    no-such-keyword 1\n")
            .await
            .expect_err("invalid config"),
    );
    assert_eq!((status, message.as_str()), (400, "Invalid request"));
    assert!(
        details.as_deref().unwrap_or("").contains("no-such-keyword"),
        "{details:?}"
    );
    assert_eq!(client.get_haproxy_config(LB).await.expect("get"), None);

    // A valid one is kept, with its MD5 as ETag.
    let cfg1 = graph::config(LB, VIP, &[(80, "198.18.2.11", 8080)], &base_dir);
    let etag = client
        .upload_haproxy_config(LB, &cfg1)
        .await
        .expect("upload");
    assert_eq!(etag, config_etag(cfg1.as_bytes()));
    assert_eq!(
        client.get_haproxy_config(LB).await.expect("get").as_deref(),
        Some(cfg1.as_str())
    );

    // A later invalid upload leaves it in place.
    let broken = cfg1.replace("balance roundrobin", "balance no-such-algorithm");
    assert_ne!(broken, cfg1);
    let (status, ..) = status_of(
        client
            .upload_haproxy_config(LB, &broken)
            .await
            .expect_err("invalid config"),
    );
    assert_eq!(status, 400);
    assert_eq!(
        client.get_haproxy_config(LB).await.expect("get").as_deref(),
        Some(cfg1.as_str())
    );

    // Unknown action.
    let resp = agent
        .raw_put(&format!("/1.0/loadbalancer/{LB}/restart"))
        .await;
    assert_eq!(resp, 400);

    // Start: traffic through the VIP reaches the member.
    client
        .loadbalancer_action(LB, LbAction::Start)
        .await
        .expect("start");
    wait_for_body(&lb_ns.name, vip80, "/", "member-1").await;
    let pid_file = agent.config.state_dir.join(LB).join("haproxy.pid");
    let master = haproxy_pid(&pid_file).expect("master running");
    // Starting again changes nothing.
    client
        .loadbalancer_action(LB, LbAction::Start)
        .await
        .expect("start again");
    assert_eq!(haproxy_pid(&pid_file), Some(master));

    // Reload onto a changed configuration while a slow request is in flight: the
    // request completes, the new listener answers, the old one keeps answering.
    let cfg2 = graph::config(
        LB,
        VIP,
        &[(80, "198.18.2.11", 8080), (81, "198.18.2.12", 8080)],
        &base_dir,
    );
    client
        .upload_haproxy_config(LB, &cfg2)
        .await
        .expect("upload 2");
    assert!(
        get(&lb_ns.name, vip81, "/").await.is_err(),
        "81 before reload"
    );
    let ns_name = lb_ns.name.clone();
    let in_flight = tokio::task::spawn_blocking(move || http_get(&ns_name, vip80, "/slow"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    client
        .loadbalancer_action(LB, LbAction::Reload)
        .await
        .expect("reload");
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
    let state = std::fs::read_to_string(agent.config.state_dir.join(LB).join("servers-state"))
        .expect("servers-state");
    assert!(state.contains("198.18.2.11"), "saved state: {state}");
    let last_good = std::fs::read_to_string(
        agent
            .config
            .state_dir
            .join(LB)
            .join("haproxy.cfg.last-good"),
    )
    .expect("last good");
    assert_eq!(last_good, cfg1);

    // HAProxy outlives the agent; a new agent on the same state finds it again.
    let agent = agent.restart().await;
    assert_eq!(
        get(&lb_ns.name, vip80, "/").await.as_deref(),
        Ok("member-1")
    );
    let client = &agent.client;

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

    // Reload of a stopped load balancer starts it.
    client
        .loadbalancer_action(LB, LbAction::Reload)
        .await
        .expect("reload = start");
    wait_for_body(&lb_ns.name, vip81, "/", "member-2").await;

    // Delete stops it and removes its files; deleting again is fine.
    client.delete_listeners(LB).await.expect("delete");
    assert!(
        get(&lb_ns.name, vip80, "/").await.is_err(),
        "served after delete"
    );
    assert!(!agent.config.state_dir.join(LB).exists());
    assert_eq!(client.get_haproxy_config(LB).await.expect("get"), None);
    client.delete_listeners(LB).await.expect("delete again");
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
    let cfg = graph::config(
        LB,
        VIP,
        &[(80, "198.18.2.11", 8080)],
        &agent.state_dir_str(),
    );
    agent
        .client
        .upload_haproxy_config(LB, &cfg)
        .await
        .expect("upload");
    agent
        .client
        .loadbalancer_action(LB, LbAction::Start)
        .await
        .expect("start");
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
    let client = &agent.client;
    let socket = agent.config.state_dir.join(LB).join("haproxy.sock");
    let member = graph::id(4, 0);
    let status = || server_status(&socket, &member);
    let plain = graph::checked_config(
        LB,
        VIP,
        80,
        &[("198.18.2.11", 8080)],
        &agent.state_dir_str(),
    );
    // Checks go to an address where nothing answers.
    let monitored = plain.replace(
        "198.18.2.11:8080 weight 1",
        "198.18.2.11:8080 weight 1 addr 198.18.2.99",
    );
    assert_ne!(monitored, plain);

    client
        .upload_haproxy_config(LB, &plain)
        .await
        .expect("upload");
    client
        .loadbalancer_action(LB, LbAction::Start)
        .await
        .expect("start");
    wait_until("the member UP", || status().as_deref() == Some("UP")).await;

    client
        .upload_haproxy_config(LB, &monitored)
        .await
        .expect("upload with monitor address");
    client
        .loadbalancer_action(LB, LbAction::Reload)
        .await
        .expect("reload");
    wait_until("the member DOWN (checked at 198.18.2.99)", || {
        status().is_some_and(|s| s.starts_with("DOWN"))
    })
    .await;

    // The monitor address removed: checks go to the member again.
    client
        .upload_haproxy_config(LB, &plain)
        .await
        .expect("upload without monitor address");
    client
        .loadbalancer_action(LB, LbAction::Reload)
        .await
        .expect("reload");
    wait_until("the member UP again", || status().as_deref() == Some("UP")).await;
    wait_for_body(&lb_ns.name, addr("198.18.1.10:80"), "/", "member-1").await;
}
