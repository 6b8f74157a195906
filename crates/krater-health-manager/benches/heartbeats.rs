//! How many heartbeats one health-manager process verifies and applies per second:
//! `cargo bench -p krater-health-manager` (SQLite in a temporary directory; PostgreSQL
//! with KRATER_TEST_POSTGRES_URL, see `krater_db::test_support`). 200 amphorae, each
//! serving a load balancer with one listener and a pool of two members, send signed,
//! stamped heartbeats over loopback; every one is verified (signature, replay window),
//! mapped onto statuses and its counters added, as in production. Verification alone
//! is measured beside it. Prints figures; asserts nothing.

#[path = "../tests/support/mod.rs"]
mod support;

use krater_health_manager::{run, Counters};
use krater_heartbeat::{HeartbeatMessage, ListenerHealth, ListenerStats, PoolHealth};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

const AMPHORAE: usize = 200;
const ROUNDS: u64 = 50;
const KEY: &str = "right-key";

fn heartbeat(i: usize, seq: u64) -> HeartbeatMessage {
    let mut message = support::stamped(HeartbeatMessage::new(format!("amp-{i}"), seq), "bench");
    message.listeners.insert(
        format!("listener-{i}"),
        ListenerHealth {
            status: "OPEN".into(),
            stats: ListenerStats {
                tx: 100,
                rx: 200,
                conns: 3,
                totconns: 5,
                ereq: 0,
            },
        },
    );
    message.pools.insert(
        format!("pool-{i}:listener-{i}"),
        PoolHealth {
            status: "UP".into(),
            members: [format!("m{i}-a"), format!("m{i}-b")]
                .into_iter()
                .map(|m| (m, "UP".to_string()))
                .collect(),
        },
    );
    message
}

#[tokio::main]
async fn main() {
    let (db, _dir) = support::load_balancers(AMPHORAE).await;
    let backend = if std::env::var_os("KRATER_TEST_POSTGRES_URL").is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let datagrams: Vec<Vec<u8>> = (0..ROUNDS)
        .flat_map(|seq| (0..AMPHORAE).map(move |i| (i, seq)))
        .map(|(i, seq)| krater_heartbeat::encode(&heartbeat(i, seq), KEY).unwrap())
        .collect();

    let started = Instant::now();
    for datagram in &datagrams {
        krater_heartbeat::decode(datagram, KEY).unwrap();
    }
    let verify_rate = datagrams.len() as f64 / started.elapsed().as_secs_f64();

    let counters = Arc::new(Counters::default());
    let settings = support::receiver("127.0.0.0/8");
    let bind = settings.bind;
    let receiver = tokio::spawn(run(db, settings, counters.clone(), support::NAME.into()));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let started = Instant::now();
    let mut sent = 0u64;
    // A few dozen at a time: no more in flight than the socket's buffer holds, so
    // none is lost and every one is counted.
    for round in datagrams.chunks(50) {
        for datagram in round {
            socket.send_to(datagram, bind).await.unwrap();
        }
        sent += round.len() as u64;
        let waiting = Instant::now();
        while counters.accepted.load(Ordering::Relaxed) < sent {
            assert!(
                waiting.elapsed() < Duration::from_secs(30),
                "stuck at {} of {sent}: {:?}",
                counters.accepted.load(Ordering::Relaxed),
                counters.snapshot()
            );
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
    }
    let apply_rate = sent as f64 / started.elapsed().as_secs_f64();
    receiver.abort();
    let dropped = counters.snapshot();
    println!(
        "health manager, {backend}: {sent} heartbeats of {AMPHORAE} amphorae (a listener and a pool of 2 members each)"
    );
    println!("  verified and applied: {apply_rate:9.0} heartbeats/s (one process)");
    println!(
        "  verified only:        {verify_rate:9.0} heartbeats/s (signature and decoding, one core)"
    );
    println!(
        "  at 1 heartbeat/s per amphora this process keeps up with {:.0} amphorae; dropped: {}",
        apply_rate,
        dropped.bad_signature + dropped.malformed + dropped.replayed + dropped.stale
    );
}
