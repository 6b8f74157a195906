//! Heartbeats against a real database (SQLite, or PostgreSQL: see
//! `krater_db::test_support`): statuses and statistics as a user sees them after an
//! amphora reports, and forged heartbeats dropped.

mod support;

use krater_db::Db;
use krater_domain::*;
use krater_health_manager::{process, run, Counters, DropCause};
use krater_heartbeat::{HeartbeatMessage, ListenerHealth, ListenerStats as Counts, PoolHealth};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use support::{receiver, stamped, wait_for, NAME};

const LB: &str = "lb-0";
const LISTENER: &str = "listener-0";
const POOL: &str = "pool-0";
const AMPHORA: &str = "amp-0";

async fn database() -> (Db, tempfile::TempDir) {
    support::load_balancers(1).await
}

fn message(m1: &str, m2: &str, pool: &str, rx: u64) -> HeartbeatMessage {
    let mut msg = HeartbeatMessage::new(AMPHORA, 1);
    msg.listeners.insert(
        LISTENER.into(),
        ListenerHealth {
            status: "OPEN".into(),
            stats: Counts {
                tx: 10,
                rx,
                conns: 2,
                totconns: 5,
                ereq: 0,
            },
        },
    );
    msg.pools.insert(
        format!("{POOL}:{LISTENER}"),
        PoolHealth {
            status: pool.into(),
            members: [
                ("m0-a".to_string(), m1.to_string()),
                ("m0-b".to_string(), m2.to_string()),
            ]
            .into_iter()
            .collect(),
        },
    );
    msg
}

async fn statuses(
    db: &Db,
) -> (
    OperatingStatus,
    OperatingStatus,
    OperatingStatus,
    OperatingStatus,
    OperatingStatus,
) {
    let mut tx = db.begin().await.unwrap();
    let g = tx.load_balancer_graph(LB).await.unwrap();
    (
        g.load_balancer.operating_status,
        g.listeners[0].operating_status,
        g.pools[0].pool.operating_status,
        g.pools[0].members[0].operating_status,
        g.pools[0].members[1].operating_status,
    )
}

#[tokio::test]
async fn statuses_follow_the_heartbeats() {
    use OperatingStatus::*;
    let (db, _dir) = database().await;
    process(&db, &message("UP", "UP", "UP", 100)).await.unwrap();
    assert_eq!(
        statuses(&db).await,
        (Online, Online, Online, Online, Online)
    );

    process(&db, &message("UP", "DOWN", "UP", 50))
        .await
        .unwrap();
    assert_eq!(
        statuses(&db).await,
        (Degraded, Online, Degraded, Online, Error)
    );

    process(&db, &message("DOWN", "DOWN", "DOWN", 0))
        .await
        .unwrap();
    assert_eq!(statuses(&db).await, (Error, Online, Error, Error, Error));

    let mut tx = db.begin().await.unwrap();
    let stats = tx.listener_stats(LISTENER).await.unwrap();
    assert_eq!(stats.bytes_in, 150, "deltas add up");
    assert_eq!(
        stats.active_connections, 2,
        "current connections are absolute"
    );
    assert_eq!(
        tx.amphora_listener_stats(AMPHORA).await.unwrap(),
        vec![(LISTENER.to_string(), stats)],
        "the amphora's own view of the same counters"
    );
    assert!(tx.last_heartbeat(AMPHORA).await.unwrap().is_some());
}

#[tokio::test]
async fn forged_truncated_oversized_replayed_and_old_heartbeats_are_dropped_and_counted() {
    let (db, _dir) = database().await;
    let counters = Arc::new(Counters::default());
    let settings = receiver("127.0.0.0/8");
    let bind = settings.bind;
    let receiver = tokio::spawn(run(db.clone(), settings, counters.clone(), NAME.into()));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let beat = |seq: u64| {
        let mut message = message("UP", "UP", "UP", 1);
        message.seq = seq;
        stamped(message, "run-1")
    };
    let good = krater_heartbeat::encode(&beat(1), "right-key").unwrap();
    let mut old = beat(2);
    old.sent_ms = old.sent_ms.map(|ms| ms - 60_000);
    let mut bomb = beat(3);
    bomb.bundle_version = Some("0".repeat(2 * krater_heartbeat::MAX_DECOMPRESSED_LEN));
    let sent: Vec<(DropCause, Vec<u8>)> = vec![
        (
            DropCause::BadSignature,
            krater_heartbeat::encode(&beat(1), "wrong-key").unwrap(),
        ),
        // Shorter than a digest; cut in half, the digest does not match any more.
        (DropCause::Malformed, b"garbage".to_vec()),
        (DropCause::BadSignature, good[..good.len() / 2].to_vec()),
        // Signed, but not a heartbeat.
        (
            DropCause::Malformed,
            krater_heartbeat::wrap_envelope(b"{\"not\": \"a heartbeat\"}", "right-key").unwrap(),
        ),
        (
            DropCause::TooLarge,
            krater_heartbeat::wrap_envelope(&serde_json::to_vec(&bomb).unwrap(), "right-key")
                .unwrap(),
        ),
        (
            DropCause::Stale,
            krater_heartbeat::encode(&old, "right-key").unwrap(),
        ),
        // Not stamped (as an Octavia amphora sends): it cannot be told from a replay.
        (
            DropCause::Stale,
            krater_heartbeat::encode(&message("UP", "UP", "UP", 1), "right-key").unwrap(),
        ),
    ];
    for (_, datagram) in &sent {
        socket.send_to(datagram, bind).await.unwrap();
    }
    socket.send_to(&good, bind).await.unwrap();
    wait_for(|| counters.accepted.load(Ordering::Relaxed), 1).await;
    // The same datagram again, as an attacker on the management network replays it.
    socket.send_to(&good, bind).await.unwrap();
    wait_for(|| counters.dropped(DropCause::Replayed), 1).await;

    let expected = |cause: DropCause| sent.iter().filter(|(c, _)| *c == cause).count() as u64;
    for cause in [
        DropCause::BadSignature,
        DropCause::Malformed,
        DropCause::TooLarge,
        DropCause::Stale,
    ] {
        assert_eq!(counters.dropped(cause), expected(cause), "{cause:?}");
    }
    assert_eq!(counters.dropped(DropCause::Replayed), 1);
    assert_eq!(counters.accepted.load(Ordering::Relaxed), 1);
    assert_eq!(statuses(&db).await.0, OperatingStatus::Online);

    // The operator reads the same counts from the database.
    let mut reported = None;
    for _ in 0..100 {
        let mut tx = db.read().await.unwrap();
        let rows = tx.health_managers().await.unwrap();
        if let Some(row) = rows
            .into_iter()
            .find(|r| r.id == NAME && r.counts.replayed == 1)
        {
            reported = Some(row);
            break;
        }
        drop(tx);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    receiver.abort();
    let reported = reported.expect("the counts were stored within 10 s");
    assert_eq!(reported.counts, counters.snapshot());
}
