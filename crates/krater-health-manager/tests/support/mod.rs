//! What the receiver tests share: a receiver on loopback and a bounded wait.

use krater_health_manager::{Receiver, SourceNetwork, Watch};
use krater_heartbeat::HeartbeatMessage;
use std::time::Duration;

/// A receiver on a free loopback port that hears only `sources`, logging at most one
/// line about drops an hour, failing nothing over.
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
        replay_window: Duration::from_secs(30),
        drop_log_interval: Duration::from_secs(3600),
        // These tests are about receiving: nothing goes stale while they run.
        watch: Watch {
            heartbeat_timeout: Duration::from_secs(3600),
            check_interval: Duration::from_secs(3600),
            failover_threshold: 5,
        },
    }
}

/// Waits (bounded) until `count()` reaches `value`.
pub async fn wait_for(count: impl Fn() -> u64, value: u64) {
    for _ in 0..500 {
        if count() >= value {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("count stuck at {}, expected {value}", count());
}

/// `message` stamped as krater's agent stamps it: run `boot`, sent now.
pub fn stamped(mut message: HeartbeatMessage, boot: &str) -> HeartbeatMessage {
    message.boot = Some(boot.into());
    message.sent_ms = Some(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64,
    );
    message
}

/// The health manager's name in its reports, for tests.
pub const NAME: &str = "test-host:127.0.0.1";
