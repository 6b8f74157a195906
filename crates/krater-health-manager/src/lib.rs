//! The health manager: receives the amphorae's heartbeats over UDP, drops those that
//! do not come from the management network or are not signed with the heartbeat key
//! (counted by cause, with at most one log line about them per interval), records
//! when each amphora was last heard from, maps the HAProxy statuses it reports onto members, pools, listeners and the
//! load balancer (as Octavia's health manager does), and adds its traffic counters to
//! the statistics.

mod mapping;

pub use mapping::{operating_statuses, StatusUpdate};

use krater_db::{Db, DbError};
use krater_domain::ListenerStats;
use krater_heartbeat::HeartbeatMessage;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Counts what the receiver did, for logs and tests.
#[derive(Debug, Default)]
pub struct Counters {
    /// Verified datagrams, counted once their statuses were written (or failed to be).
    pub accepted: AtomicU64,
    /// Datagrams whose signature or format was wrong.
    pub rejected: AtomicU64,
    /// Datagrams from outside the management network, dropped unread.
    pub foreign: AtomicU64,
}

/// An IP network: the addresses heartbeats may come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceNetwork {
    pub address: IpAddr,
    pub prefix_len: u8,
}

impl SourceNetwork {
    /// Whether `ip` (an IPv4-mapped IPv6 address counts as IPv4) is in the network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        fn masked(bits: u128, width: u32, prefix_len: u8) -> u128 {
            let keep = u32::from(prefix_len).min(width);
            let mask =
                u128::MAX.checked_shl(width - keep).unwrap_or(0) & (u128::MAX >> (128 - width));
            bits & mask
        }
        match (self.address, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                masked(u32::from(net).into(), 32, self.prefix_len)
                    == masked(u32::from(ip).into(), 32, self.prefix_len)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                masked(net.into(), 128, self.prefix_len) == masked(ip.into(), 128, self.prefix_len)
            }
            _ => false,
        }
    }
}

/// Where the receiver listens and whom it hears.
#[derive(Debug, Clone)]
pub struct Receiver {
    pub bind: SocketAddr,
    /// The heartbeat key.
    pub key: String,
    /// The management network: members and VIP clients reach the host's addresses
    /// too, so a datagram from any other source is dropped before it is read.
    pub sources: SourceNetwork,
    /// Dropped datagrams are counted; at most one line about them is logged per
    /// interval, with the counts since the last one.
    pub drop_log_interval: Duration,
}

/// Why a datagram was dropped.
#[derive(Debug, Clone, Copy)]
enum DropCause {
    Foreign,
    Rejected,
}

/// The log of dropped datagrams: one line at most per interval, counting by cause
/// what it did not log.
struct DropLog {
    interval: Duration,
    last: Option<Instant>,
    foreign: u64,
    rejected: u64,
}

impl DropLog {
    fn new(interval: Duration) -> Self {
        Self {
            interval,
            last: None,
            foreign: 0,
            rejected: 0,
        }
    }

    fn dropped(&mut self, cause: DropCause, from: SocketAddr, error: &dyn std::fmt::Display) {
        match cause {
            DropCause::Foreign => self.foreign += 1,
            DropCause::Rejected => self.rejected += 1,
        }
        if self.last.is_some_and(|last| last.elapsed() < self.interval) {
            return;
        }
        tracing::warn!(
            %from,
            ?cause,
            %error,
            foreign = self.foreign,
            rejected = self.rejected,
            "dropped heartbeats since the last report (at most one report every {:?})",
            self.interval
        );
        self.last = Some(Instant::now());
        self.foreign = 0;
        self.rejected = 0;
    }
}

/// Receives heartbeats until the task is dropped.
pub async fn run(db: Db, receiver: Receiver, counters: Arc<Counters>) -> std::io::Result<()> {
    let socket = tokio::net::UdpSocket::bind(receiver.bind).await?;
    tracing::info!(bind = %receiver.bind, sources = ?receiver.sources, "health manager receiving heartbeats");
    let mut drops = DropLog::new(receiver.drop_log_interval);
    let mut buffer = vec![0u8; krater_heartbeat::MAX_DATAGRAM_LEN + 1];
    loop {
        let (len, from) = socket.recv_from(&mut buffer).await?;
        if !receiver.sources.contains(from.ip()) {
            counters.foreign.fetch_add(1, Ordering::Relaxed);
            drops.dropped(DropCause::Foreign, from, &"not from the management network");
            continue;
        }
        match krater_heartbeat::decode(&buffer[..len], &receiver.key) {
            Ok(message) => {
                if let Err(err) = process(&db, &message).await {
                    tracing::warn!(amphora = %message.id, error = %err, "heartbeat not recorded");
                }
                // Counted once its statuses are written (or failed to be).
                counters.accepted.fetch_add(1, Ordering::Relaxed);
            }
            Err(err) => {
                counters.rejected.fetch_add(1, Ordering::Relaxed);
                drops.dropped(DropCause::Rejected, from, &err);
            }
        }
    }
}

/// Applies one heartbeat to the database.
pub async fn process(db: &Db, message: &HeartbeatMessage) -> Result<(), DbError> {
    let mut tx = db.begin().await?;
    let Some(amphora) = tx.amphora(&message.id).await? else {
        tracing::debug!(amphora = %message.id, "heartbeat from an unknown amphora");
        return Ok(());
    };
    tx.record_heartbeat(&amphora.id).await?;
    let Some(lb_id) = amphora.load_balancer_id.clone() else {
        return tx.commit().await;
    };
    let graph = match tx.load_balancer_graph(&lb_id).await {
        Ok(graph) => graph,
        Err(DbError::NotFound { .. }) => return tx.commit().await,
        Err(err) => return Err(err),
    };
    for (listener_id, health) in &message.listeners {
        if graph.listeners.iter().any(|l| &l.id == listener_id) {
            let s = &health.stats;
            let as_i64 = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
            let delta = ListenerStats {
                bytes_in: as_i64(s.rx),
                bytes_out: as_i64(s.tx),
                active_connections: as_i64(s.conns),
                total_connections: as_i64(s.totconns),
                request_errors: as_i64(s.ereq),
            };
            tx.add_listener_stats(listener_id, &amphora.id, delta)
                .await?;
        }
    }
    // Statuses reported while a change is being applied would be stale.
    if !graph.load_balancer.provisioning_status.is_pending() {
        for update in operating_statuses(&graph, message) {
            tx.set_operating_status(update.table, &update.id, update.status)
                .await?;
        }
    }
    tx.commit().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn network(text: &str) -> SourceNetwork {
        let (address, prefix_len) = text.split_once('/').expect("cidr");
        SourceNetwork {
            address: address.parse().expect("address"),
            prefix_len: prefix_len.parse().expect("prefix"),
        }
    }

    fn contains(net: &str, ip: &str) -> bool {
        network(net).contains(ip.parse().expect("ip"))
    }

    #[test]
    fn sources_are_matched_by_prefix() {
        assert!(contains("198.18.0.0/24", "198.18.0.12"));
        assert!(contains("198.18.0.0/24", "::ffff:198.18.0.12"));
        assert!(!contains("198.18.0.0/24", "198.18.2.20"));
        assert!(!contains("198.18.0.0/24", "198.18.1.1"));
        assert!(contains("198.18.0.7/32", "198.18.0.7"));
        assert!(!contains("198.18.0.7/32", "198.18.0.8"));
        assert!(contains("0.0.0.0/0", "203.0.113.1"));
        assert!(contains("fd00:1::/64", "fd00:1::5"));
        assert!(!contains("fd00:1::/64", "fd00:2::5"));
        assert!(!contains("198.18.0.0/24", "fd00:1::5"));
    }
}
