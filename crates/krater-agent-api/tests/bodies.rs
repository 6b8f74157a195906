//! Serde round trips of the agent API's bodies, against the JSON Octavia's controller
//! sends and its agent answers.

use std::net::IpAddr;

use krater_agent_api::{
    config_etag, parse_id, AgentInfo, AmphoraBundle, ApiVersion, Cidr, FixedIp, LbAction,
    MacAddress, Message, PlugNetwork, PlugVip,
};
use serde_json::{json, Value};

fn round_trip<T>(value: &T, expected: Value)
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let written = serde_json::to_value(value).expect("serialize");
    assert_eq!(written, expected);
    let read: T = serde_json::from_value(written).expect("deserialize");
    assert_eq!(&read, value);
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

#[test]
fn version_and_info() {
    round_trip(
        &ApiVersion {
            api_version: "1.0".into(),
        },
        json!({"api_version": "1.0"}),
    );
    round_trip(
        &AgentInfo {
            hostname: "amp-1".into(),
            haproxy_version: "2.6.12-1+deb12u4".into(),
            api_version: "1.0".into(),
            keepalived_version: None,
        },
        json!({
            "hostname": "amp-1",
            "haproxy_version": "2.6.12-1+deb12u4",
            "api_version": "1.0",
            "keepalived_version": null,
        }),
    );
}

#[test]
fn plug_vip() {
    let body = PlugVip {
        subnet_cidr: "198.18.1.0/24".parse().expect("cidr"),
        gateway: Some(ip("198.18.1.1")),
        mac_address: "FA:16:3E:00:00:0A".parse().expect("mac"),
        vrrp_ip: ip("198.18.1.11"),
        mtu: Some(1450),
        vrrp: false,
    };
    round_trip(
        &PlugVip {
            vrrp: true,
            ..body.clone()
        },
        json!({
            "subnet_cidr": "198.18.1.0/24",
            "gateway": "198.18.1.1",
            "mac_address": "fa:16:3e:00:00:0a",
            "vrrp_ip": "198.18.1.11",
            "mtu": 1450,
            "vrrp": true,
        }),
    );
    round_trip(
        &body,
        json!({
            "subnet_cidr": "198.18.1.0/24",
            "gateway": "198.18.1.1",
            "mac_address": "fa:16:3e:00:00:0a",
            "vrrp_ip": "198.18.1.11",
            "mtu": 1450,
        }),
    );
    // Octavia's controller sends more fields, and may send no gateway or MTU.
    let octavia: PlugVip = serde_json::from_value(json!({
        "subnet_cidr": "2001:db8::/64",
        "gateway": null,
        "mac_address": "fa:16:3e:00:00:0b",
        "vrrp_ip": "2001:db8::11",
        "host_routes": [],
        "additional_vips": [],
        "is_sriov": false,
    }))
    .expect("Octavia's body");
    assert_eq!(octavia.gateway, None);
    assert_eq!(octavia.mtu, None);
    assert_eq!(octavia.subnet_cidr.prefix_len(), 64);
}

#[test]
fn plug_network() {
    round_trip(
        &PlugNetwork {
            mac_address: "02:00:00:00:00:01".parse().expect("mac"),
            fixed_ips: vec![FixedIp {
                ip_address: ip("198.18.2.20"),
                subnet_cidr: "198.18.2.0/24".parse().expect("cidr"),
            }],
            mtu: None,
        },
        json!({
            "mac_address": "02:00:00:00:00:01",
            "fixed_ips": [{"ip_address": "198.18.2.20", "subnet_cidr": "198.18.2.0/24"}],
        }),
    );
    let bare: PlugNetwork =
        serde_json::from_value(json!({"mac_address": "02:00:00:00:00:01"})).expect("bare");
    assert!(bare.fixed_ips.is_empty());
}

#[test]
fn messages() {
    round_trip(&Message::new("OK"), json!({"message": "OK"}));
    round_trip(
        &Message::with_details("Invalid request", "[ALERT] ..."),
        json!({"message": "Invalid request", "details": "[ALERT] ..."}),
    );
}

#[test]
fn malformed_values_are_refused() {
    for mac in [
        "02:00:00:00:00",
        "02:00:00:00:00:01:02",
        "02:00:00:00:00:1",
        "02-00-00-00-00-01",
        "02:00:00:00:00:0g",
        "",
    ] {
        assert!(mac.parse::<MacAddress>().is_err(), "{mac}");
    }
    for cidr in [
        "198.18.1.0",
        "198.18.1.0/33",
        "198.18.1.0/+1",
        "2001:db8::/129",
        "x/24",
        "198.18.1.0/24; reboot",
    ] {
        assert!(cidr.parse::<Cidr>().is_err(), "{cidr}");
    }
    let bad = serde_json::from_value::<PlugVip>(json!({
        "subnet_cidr": "198.18.1.0/24",
        "mac_address": "02:00:00:00:00:01",
        "vrrp_ip": "198.18.1.11 dev lo",
    }));
    assert!(bad.is_err());
}

#[test]
fn actions() {
    for action in [LbAction::Start, LbAction::Stop, LbAction::Reload] {
        assert_eq!(action.as_str().parse::<LbAction>(), Ok(action));
    }
    assert!("restart".parse::<LbAction>().is_err());
}

#[test]
fn ids_must_be_canonical_uuids() {
    let id = "10000000-0000-4000-8000-000000000001";
    assert_eq!(parse_id("id", id).as_deref(), Ok(id));
    for bad in [
        "10000000-0000-4000-8000-00000000000",
        "10000000000040008000000000000001",
        "10000000-0000-4000-8000-00000000000A",
        "{10000000-0000-4000-8000-000000000001}",
        "../../etc",
        "",
    ] {
        assert!(parse_id("id", bad).is_err(), "{bad}");
    }
}

#[test]
fn etag_is_the_md5_of_the_body() {
    assert_eq!(config_etag(b""), "d41d8cd98f00b204e9800998ecf8427e");
    assert_eq!(config_etag(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
}

fn sample_bundle() -> AmphoraBundle {
    AmphoraBundle {
        haproxy: [(
            "10000000-0000-4000-8000-000000000001".to_owned(),
            "global\n".to_owned(),
        )]
        .into(),
        ..AmphoraBundle::default()
    }
}

#[test]
fn a_bundles_version_follows_its_content() {
    let bundle = sample_bundle();
    assert_eq!(bundle.version(), sample_bundle().version());
    assert_eq!(bundle.version().len(), 64);
    // The same content sent over the wire keeps its version.
    let wire: AmphoraBundle =
        serde_json::from_slice(&serde_json::to_vec(&bundle).expect("json")).expect("parse");
    assert_eq!(wire.version(), bundle.version());
    let mut changed = sample_bundle();
    changed.keepalived = Some("vrrp_instance x {}\n".into());
    assert_ne!(changed.version(), bundle.version());
    assert_ne!(AmphoraBundle::default().version(), bundle.version());
}

#[test]
fn bundle_names_must_be_safe_path_components() {
    let parse = |body: serde_json::Value| serde_json::from_value::<AmphoraBundle>(body);
    assert!(parse(json!({"haproxy": {"10000000-0000-4000-8000-000000000001": "x"}})).is_ok());
    assert!(parse(json!({"certificates": {"listener-1.pem": "x"}})).is_ok());
    for body in [
        json!({"haproxy": {"../etc": "x"}}),
        json!({"haproxy": {"10000000-0000-4000-8000-00000000000A": "x"}}),
        json!({"certificates": {"../key.pem": "x"}}),
        json!({"certificates": {".hidden": "x"}}),
        json!({"certificates": {"a/b": "x"}}),
        json!({"haproxies": {}}),
    ] {
        assert!(parse(body.clone()).is_err(), "{body}");
    }
}
