//! Envelope round trips and rejection of tampered, truncated or foreign datagrams.

use std::collections::BTreeMap;

use krater_heartbeat::{
    decode, encode, HeartbeatError, HeartbeatMessage, ListenerHealth, ListenerStats, PoolHealth,
    MAX_DATAGRAM_LEN,
};

fn sample() -> HeartbeatMessage {
    let mut msg = HeartbeatMessage::new("amp-1", 9);
    msg.listeners.insert(
        "listener-1".into(),
        ListenerHealth {
            status: "OPEN".into(),
            stats: ListenerStats {
                tx: 1,
                rx: 2,
                conns: 3,
                totconns: 4,
                ereq: 5,
            },
        },
    );
    msg.pools.insert(
        "pool-1:listener-1".into(),
        PoolHealth {
            status: "UP".into(),
            members: BTreeMap::from([
                ("m1".to_owned(), "UP".to_owned()),
                ("m2".to_owned(), "no check".to_owned()),
            ]),
        },
    );
    msg
}

#[test]
fn round_trip() {
    let msg = sample();
    let datagram = encode(&msg, "key").expect("encodes");
    assert_eq!(decode(&datagram, "key").expect("decodes"), msg);
}

#[test]
fn wrong_key_is_rejected() {
    let datagram = encode(&sample(), "key").expect("encodes");
    assert!(matches!(
        decode(&datagram, "yek"),
        Err(HeartbeatError::BadHmac)
    ));
    assert!(matches!(
        decode(&datagram, ""),
        Err(HeartbeatError::BadHmac)
    ));
}

#[test]
fn truncated_datagram_is_rejected() {
    let datagram = encode(&sample(), "key").expect("encodes");
    for cut in [1, 10, 64, 65, datagram.len() - 33, datagram.len()] {
        let short = &datagram[..datagram.len() - cut];
        assert!(decode(short, "key").is_err(), "cut {cut} accepted");
    }
}

#[test]
fn tampered_payload_is_rejected() {
    let mut datagram = encode(&sample(), "key").expect("encodes");
    datagram[3] ^= 0x01;
    assert!(matches!(
        decode(&datagram, "key"),
        Err(HeartbeatError::BadHmac)
    ));
}

#[test]
fn unsigned_payload_is_rejected() {
    let datagram = encode(&sample(), "key").expect("encodes");
    let unsigned = &datagram[..datagram.len() - 64];
    assert!(matches!(
        decode(unsigned, "key"),
        Err(HeartbeatError::BadHmac)
    ));
}

#[test]
fn oversized_message_is_not_encoded() {
    let mut msg = HeartbeatMessage::new("amp", 0);
    // Member ids that do not compress: a counter hashed into many distinct strings.
    let members = (0..20_000u64)
        .map(|i| {
            (
                format!("{:016x}", i.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
                "UP".to_owned(),
            )
        })
        .collect();
    msg.pools.insert(
        "p".into(),
        PoolHealth {
            status: "UP".into(),
            members,
        },
    );
    match encode(&msg, "key") {
        Err(HeartbeatError::TooLarge { len, limit }) => {
            assert!(len > limit);
            assert_eq!(limit, MAX_DATAGRAM_LEN);
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
}
