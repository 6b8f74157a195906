//! What the receiver tests share: a receiver on loopback and a bounded wait.

use krater_health_manager::{Receiver, SourceNetwork};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A receiver on a free loopback port that hears only `sources`, logging at most one
/// line about drops an hour.
pub fn receiver(sources: &str) -> Receiver {
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (address, prefix_len) = sources.split_once('/').unwrap();
    Receiver {
        bind: format!("127.0.0.1:{port}").parse().unwrap(),
        key: "right-key".into(),
        sources: SourceNetwork {
            address: address.parse().unwrap(),
            prefix_len: prefix_len.parse().unwrap(),
        },
        drop_log_interval: Duration::from_secs(3600),
    }
}

/// Waits (bounded) until `counter` reaches `value`.
pub async fn wait_for(counter: &AtomicU64, value: u64) {
    for _ in 0..500 {
        if counter.load(Ordering::Relaxed) >= value {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("counter stuck at {counter:?}, expected {value}");
}
