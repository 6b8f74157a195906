//! A flood of datagrams from outside the management network: counted, not logged
//! one line each. Alone in its test binary, so that no other test's receiver logs
//! through (or caches the interest of) the same callsites.

mod support;

use krater_db::Db;
use krater_health_manager::{run, Counters, DropCause};
use krater_heartbeat::HeartbeatMessage;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::{receiver, stamped, wait_for, NAME};

/// Log lines, as a subscriber writes them.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Log {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_flood_from_outside_the_management_network_is_counted_not_logged() {
    const FLOOD: u64 = 20_000;
    const BATCH: u64 = 100;
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(&krater_db::test_support::database_url(dir.path()).await)
        .await
        .unwrap();
    let log = Log::default();
    let writer = log.clone();
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish(),
    )
    .unwrap();
    let counters = Arc::new(Counters::default());
    // The management network is 127.0.0.2 alone; the flood comes from 127.0.0.1.
    let settings = receiver("127.0.0.2/32");
    let bind = settings.bind;
    let receiver = tokio::spawn(run(db, settings, counters.clone(), NAME.into()));
    tokio::time::sleep(Duration::from_millis(100)).await;

    // Correctly signed, but from a member's or a client's side of the host.
    let beat = stamped(HeartbeatMessage::new("amphora-1", 0), "run-1");
    let forged = krater_heartbeat::encode(&beat, "right-key").unwrap();
    let outside = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for sent in (BATCH..=FLOOD).step_by(BATCH as usize) {
        for _ in 0..BATCH {
            outside.send_to(&forged, bind).await.unwrap();
        }
        // In batches the socket's buffer holds: none is lost before it is counted.
        wait_for(|| counters.dropped(DropCause::Foreign), sent).await;
    }
    let management = tokio::net::UdpSocket::bind("127.0.0.2:0").await.unwrap();
    management.send_to(&forged, bind).await.unwrap();
    wait_for(|| counters.accepted.load(Ordering::Relaxed), 1).await;
    receiver.abort();

    let counts = counters.snapshot();
    assert_eq!(counts.foreign_source, FLOOD);
    assert_eq!(
        counts.bad_signature + counts.malformed + counts.replayed + counts.stale,
        0
    );
    assert_eq!(
        counters.accepted.load(Ordering::Relaxed),
        1,
        "the management network is heard"
    );
    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    let dropped: Vec<&str> = text.lines().filter(|l| l.contains("dropped")).collect();
    assert_eq!(
        dropped.len(),
        1,
        "one line within the interval, not one per datagram:\n{}",
        &text[..text.len().min(2000)]
    );
    assert!(dropped[0].contains("Foreign"), "{}", dropped[0]);
}
