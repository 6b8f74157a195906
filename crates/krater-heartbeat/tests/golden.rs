//! Byte compatibility with Octavia: decodes datagrams produced by Python following
//! Octavia's `status_message.wrap_envelope` (see `data/gen_golden.py`), and checks that
//! krater's own encoding of the same JSON decodes to the same message.

use krater_heartbeat::{
    decode, encode, unwrap_envelope, wrap_envelope, HeartbeatError, HeartbeatMessage,
    ListenerStatus, MemberStatus, PoolStatus,
};

const KEY: &str = "insecure-heartbeat-key";
const HEX: &[u8] = include_bytes!("data/octavia_v3_hex.bin");
const RAW: &[u8] = include_bytes!("data/octavia_v3_raw.bin");
const JSON: &str = include_str!("data/octavia_v3.json");

const AMP: &str = "6e3f2a10-8d3c-4c55-9a0e-0d4b1f7c2a11";
const L1: &str = "1b8a3c4e-0000-4000-8000-000000000001";
const L2: &str = "1b8a3c4e-0000-4000-8000-000000000002";
const P1: &str = "2c9b4d5f-0000-4000-8000-000000000001:1b8a3c4e-0000-4000-8000-000000000001";
const P2: &str = "2c9b4d5f-0000-4000-8000-000000000002";

fn assert_golden_fields(msg: &HeartbeatMessage) {
    assert_eq!(msg.id, AMP);
    assert_eq!(msg.seq, 42);
    assert_eq!(msg.ver, 3);
    assert_eq!(msg.listeners.len(), 2);
    let l1 = &msg.listeners[L1];
    assert_eq!(ListenerStatus::classify(&l1.status), ListenerStatus::Open);
    assert_eq!(
        (
            l1.stats.tx,
            l1.stats.rx,
            l1.stats.conns,
            l1.stats.totconns,
            l1.stats.ereq
        ),
        (1024, 2048, 3, 17, 1)
    );
    let l2 = &msg.listeners[L2];
    assert_eq!(ListenerStatus::classify(&l2.status), ListenerStatus::Full);
    assert_eq!(l2.stats.conns, 50000);

    let p1 = &msg.pools[P1];
    assert_eq!(PoolStatus::classify(&p1.status), PoolStatus::Up);
    let members: Vec<MemberStatus> = p1
        .members
        .values()
        .map(|s| MemberStatus::classify(s))
        .collect();
    assert_eq!(
        members,
        [
            MemberStatus::Up,
            MemberStatus::Down,
            MemberStatus::Drain,
            MemberStatus::Maint,
            MemberStatus::NoCheck,
            MemberStatus::Up,
        ]
    );
    assert_eq!(
        p1.members["3dac5e60-0000-4000-8000-000000000002"],
        "DOWN 1/2"
    );
    let p2 = &msg.pools[P2];
    assert_eq!(PoolStatus::classify(&p2.status), PoolStatus::Down);
    assert!(p2.members.is_empty());
}

#[test]
fn octavia_hex_digest_vector_decodes() {
    assert_eq!(
        &HEX[HEX.len() - 64..],
        b"14f8b971a966a08c675048e711a7d50d30edd04e070052f10a8f4c87e9bcb639"
    );
    let msg = decode(HEX, KEY).expect("golden datagram decodes");
    assert_golden_fields(&msg);
    // The inflated payload is exactly the JSON Python wrote.
    assert_eq!(unwrap_envelope(HEX, KEY).expect("unwraps"), JSON.as_bytes());
}

#[test]
fn octavia_legacy_raw_digest_vector_decodes() {
    let msg = decode(RAW, KEY).expect("legacy datagram decodes");
    assert_golden_fields(&msg);
}

#[test]
fn octavia_vectors_reject_wrong_key() {
    assert!(matches!(decode(HEX, "wrong"), Err(HeartbeatError::BadHmac)));
    assert!(matches!(decode(RAW, "wrong"), Err(HeartbeatError::BadHmac)));
}

#[test]
fn krater_encoding_of_same_json_decodes_identically() {
    let from_python = decode(HEX, KEY).expect("golden decodes");
    // Wrap Python's JSON text with krater's envelope code ...
    let rewrapped = wrap_envelope(JSON.as_bytes(), KEY).expect("wraps");
    assert_eq!(decode(&rewrapped, KEY).expect("decodes"), from_python);
    // ... and krater's own serialization of the parsed message.
    let reencoded = encode(&from_python, KEY).expect("encodes");
    assert_eq!(decode(&reencoded, KEY).expect("decodes"), from_python);
}

#[test]
fn octavias_messages_carry_no_bundle_version_and_kraters_add_one_octavia_ignores() {
    let from_python = decode(HEX, KEY).expect("golden decodes");
    assert_eq!(from_python.bundle_version, None);
    // Without a version the key is not written: the JSON is Octavia's own.
    let written: serde_json::Value = serde_json::from_slice(
        &unwrap_envelope(&encode(&from_python, KEY).expect("encodes"), KEY).expect("unwraps"),
    )
    .expect("json");
    assert!(written.get("bundle_version").is_none(), "{written}");

    // With one, the key sits beside Octavia's, which keep their values (Octavia's
    // health manager reads `id`, `seq`, `ver`, `listeners` and `pools` by name and
    // nothing else).
    let mut with_version = from_python.clone();
    with_version.bundle_version = Some("ab".repeat(32));
    let datagram = encode(&with_version, KEY).expect("encodes");
    let written: serde_json::Value =
        serde_json::from_slice(&unwrap_envelope(&datagram, KEY).expect("unwraps")).expect("json");
    assert_eq!(written["bundle_version"], "ab".repeat(32));
    assert_golden_fields(&decode(&datagram, KEY).expect("decodes"));
}
