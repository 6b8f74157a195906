//! Plugging the VIP and a member network: interfaces that appear in the "agent"
//! namespace move into the load-balancing namespace as `eth1` and `eth2`.

use serde_json::Value;

use krater_agent_api::{ClientError, FixedIp, PlugNetwork, PlugVip};

use crate::netns::Netns;
use crate::support::TestAgent;

/// `(mtu, up, addresses as "a/n")` of an interface in `ns`.
fn link(ns: &Netns, dev: &str) -> (u64, bool, Vec<String>) {
    let out = ns.ip(&["-j", "addr", "show", "dev", dev]);
    let v: Value = serde_json::from_str(&out).expect("ip -j");
    let link = &v[0];
    let up = link["flags"]
        .as_array()
        .expect("flags")
        .iter()
        .any(|f| f == "UP");
    let mut addrs: Vec<String> = link["addr_info"]
        .as_array()
        .expect("addr_info")
        .iter()
        .filter(|a| a["scope"] == "global")
        .map(|a| format!("{}/{}", a["local"].as_str().expect("local"), a["prefixlen"]))
        .collect();
    addrs.sort();
    (link["mtu"].as_u64().expect("mtu"), up, addrs)
}

fn names(ns: &Netns) -> Vec<String> {
    let v: Value = serde_json::from_str(&ns.ip(&["-j", "link", "show"])).expect("ip -j");
    v.as_array()
        .expect("links")
        .iter()
        .map(|l| l["ifname"].as_str().expect("ifname").to_owned())
        .collect()
}

/// A veth pair in `ns`, its end `name` with `mac`: an interface to plug.
fn add_veth(ns: &Netns, name: &str, mac: &str) {
    let peer = format!("{name}-peer");
    ns.ip(&["link", "add", name, "type", "veth", "peer", "name", &peer]);
    ns.ip(&["link", "set", "dev", name, "address", mac]);
}

#[tokio::test]
async fn plug_vip_and_member_network() {
    let amp_ns = Netns::new("amp");
    let lb_ns = Netns::new("lb");
    add_veth(&amp_ns, "kvip", "02:00:00:00:01:01");
    add_veth(&amp_ns, "kmem", "02:00:00:00:02:01");

    let agent = TestAgent::start(&lb_ns.name, Some(&amp_ns.name)).await;
    let client = &agent.client;

    let vip = "198.18.1.10".parse().expect("vip");
    let body = PlugVip {
        subnet_cidr: "198.18.1.0/24".parse().expect("cidr"),
        gateway: Some("198.18.1.1".parse().expect("gw")),
        mac_address: "02:00:00:00:01:01".parse().expect("mac"),
        vrrp_ip: "198.18.1.11".parse().expect("vrrp"),
        mtu: Some(1400),
        vrrp: false,
    };
    client.plug_vip(vip, &body).await.expect("plug vip");
    assert!(!names(&amp_ns).contains(&"kvip".to_owned()), "moved out");
    let expected = (
        1400,
        true,
        vec!["198.18.1.10/32".to_owned(), "198.18.1.11/24".to_owned()],
    );
    assert_eq!(link(&lb_ns, "eth1"), expected);
    let route = lb_ns.ip(&["-4", "route", "show", "default"]);
    assert!(
        route.contains("via 198.18.1.1 dev eth1"),
        "default route: {route}"
    );
    let lo = lb_ns.ip(&["-j", "link", "show", "dev", "lo"]);
    assert!(lo.contains("\"UP\""), "lo: {lo}");

    // The same call again succeeds and changes nothing.
    client.plug_vip(vip, &body).await.expect("plug vip again");
    assert_eq!(link(&lb_ns, "eth1"), expected);

    // Another interface cannot become eth1.
    add_veth(&amp_ns, "kother", "02:00:00:00:03:01");
    let other = PlugVip {
        mac_address: "02:00:00:00:03:01".parse().expect("mac"),
        ..body.clone()
    };
    match client.plug_vip(vip, &other).await {
        Err(ClientError::Status { status: 409, .. }) => {}
        other => panic!("expected 409, got {other:?}"),
    }

    // A member network becomes eth2 with its address.
    let mut net = PlugNetwork {
        mac_address: "02:00:00:00:02:01".parse().expect("mac"),
        fixed_ips: vec![FixedIp {
            ip_address: "198.18.2.20".parse().expect("ip"),
            subnet_cidr: "198.18.2.0/24".parse().expect("cidr"),
        }],
        mtu: None,
    };
    client.plug_network(&net).await.expect("plug network");
    let (_, up, addrs) = link(&lb_ns, "eth2");
    assert!(up);
    assert_eq!(addrs, ["198.18.2.20/24"]);

    // Plugging it again with another address updates it in place.
    net.fixed_ips[0].ip_address = "198.18.2.21".parse().expect("ip");
    client.plug_network(&net).await.expect("plug network again");
    assert_eq!(link(&lb_ns, "eth2").2, ["198.18.2.21/24"]);
    assert!(!names(&lb_ns).contains(&"eth3".to_owned()));

    // The VIP interface is left alone.
    assert_eq!(link(&lb_ns, "eth1"), expected);

    // An unknown MAC address.
    let unknown = PlugNetwork {
        mac_address: "02:00:00:00:09:09".parse().expect("mac"),
        ..net.clone()
    };
    match client.plug_network(&unknown).await {
        Err(ClientError::Status {
            status: 404,
            message,
            ..
        }) => assert_eq!(message, "Network interface not found"),
        other => panic!("expected 404, got {other:?}"),
    }

    // Mixed address families are refused before anything is touched.
    let mixed = PlugVip {
        vrrp_ip: "2001:db8::11".parse().expect("v6"),
        ..body.clone()
    };
    match client.plug_vip(vip, &mixed).await {
        Err(ClientError::Status { status: 400, .. }) => {}
        other => panic!("expected 400, got {other:?}"),
    }
}

/// With `vrrp`, the VIP is keepalived's: the plug does not put it on `eth1`, leaves it
/// there when keepalived did, and lets HAProxy bind it either way.
#[tokio::test]
async fn a_vrrp_vip_is_left_to_keepalived() {
    let amp_ns = Netns::new("amp");
    let lb_ns = Netns::new("lb");
    add_veth(&amp_ns, "kvip", "02:00:00:00:01:01");
    let agent = TestAgent::start(&lb_ns.name, Some(&amp_ns.name)).await;
    let vip = "198.18.1.10".parse().expect("vip");
    let body = PlugVip {
        subnet_cidr: "198.18.1.0/24".parse().expect("cidr"),
        gateway: None,
        mac_address: "02:00:00:00:01:01".parse().expect("mac"),
        vrrp_ip: "198.18.1.11".parse().expect("vrrp"),
        mtu: None,
        vrrp: true,
    };
    let nonlocal = || {
        crate::netns::run(
            "ip",
            &[
                "netns",
                "exec",
                &lb_ns.name,
                "sysctl",
                "-n",
                "net.ipv4.ip_nonlocal_bind",
            ],
        )
        .trim()
        .to_owned()
    };
    let held = || async { agent.client.vip_status(vip).await.expect("vip status").held };
    assert!(!held().await, "nothing plugged yet");
    assert_eq!(nonlocal(), "0");
    agent.client.plug_vip(vip, &body).await.expect("plug vip");
    assert_eq!(link(&lb_ns, "eth1").2, ["198.18.1.11/24"]);
    assert_eq!(nonlocal(), "1");
    assert!(!held().await, "keepalived has not put the VIP there");

    // What keepalived does as MASTER; a plug again keeps it.
    lb_ns.ip(&["addr", "add", "198.18.1.10/32", "dev", "eth1"]);
    assert!(held().await);
    agent.client.plug_vip(vip, &body).await.expect("plug again");
    assert_eq!(link(&lb_ns, "eth1").2, ["198.18.1.10/32", "198.18.1.11/24"]);
}
