//! The health manager: receives the amphorae's heartbeats over UDP and drops those
//! that do not come from the management network, are not signed with the heartbeat
//! key, are malformed or too large, or are replayed or old (`replay`): each counted by
//! cause, at most one log line about them per interval, and the counts stored for
//! the operator (`krater health`). It records when each amphora was last heard from,
//! maps the HAProxy statuses it reports onto members, pools, listeners and the load
//! balancer (as Octavia's health manager does), adds its traffic counters to the
//! statistics, and fails over the amphorae that went silent (`failover`).

mod failover;
mod mapping;
mod replay;

pub use failover::{scan, Scan, Watch};
pub use mapping::{operating_statuses, StatusUpdate};
pub use replay::{NotFresh, ReplayGuard};

use krater_db::{Db, DbError, HealthManagerReport, HeartbeatCounts};
use krater_domain::ListenerStats;
use krater_heartbeat::{HeartbeatError, HeartbeatMessage};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Why a datagram was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropCause {
    /// Not from the management network: dropped unread.
    Foreign,
    BadSignature,
    /// Truncated, not zlib, not JSON or not a heartbeat.
    Malformed,
    /// Over the datagram or the decompressed size limit.
    TooLarge,
    Replayed,
    /// Sent outside the time window, or not stamped.
    Stale,
}

impl DropCause {
    const ALL: [DropCause; 6] = [
        DropCause::Foreign,
        DropCause::BadSignature,
        DropCause::Malformed,
        DropCause::TooLarge,
        DropCause::Replayed,
        DropCause::Stale,
    ];

    fn of_error(err: &HeartbeatError) -> Self {
        match err {
            HeartbeatError::BadHmac => DropCause::BadSignature,
            HeartbeatError::TooLarge { .. } | HeartbeatError::DecompressedTooLarge { .. } => {
                DropCause::TooLarge
            }
            _ => DropCause::Malformed,
        }
    }

    fn of_replay(not_fresh: NotFresh) -> Self {
        match not_fresh {
            NotFresh::Replayed => DropCause::Replayed,
            NotFresh::Stale => DropCause::Stale,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// What the receiver did since it started: accepted datagrams (counted once their
/// statuses were written, or failed to be), and dropped ones by cause.
#[derive(Debug, Default)]
pub struct Counters {
    pub accepted: AtomicU64,
    dropped: [AtomicU64; 6],
}

impl Counters {
    /// Datagrams dropped for `cause`.
    pub fn dropped(&self, cause: DropCause) -> u64 {
        self.dropped[cause.index()].load(Ordering::Relaxed)
    }

    fn drop_one(&self, cause: DropCause) {
        self.dropped[cause.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// The counts as stored for the operator.
    pub fn snapshot(&self) -> HeartbeatCounts {
        HeartbeatCounts {
            accepted: self.accepted.load(Ordering::Relaxed),
            foreign_source: self.dropped(DropCause::Foreign),
            bad_signature: self.dropped(DropCause::BadSignature),
            malformed: self.dropped(DropCause::Malformed),
            too_large: self.dropped(DropCause::TooLarge),
            replayed: self.dropped(DropCause::Replayed),
            stale: self.dropped(DropCause::Stale),
        }
    }
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
    /// A heartbeat sent longer ago than this (or ahead of the receiver's clock by
    /// more) is dropped as stale.
    pub replay_window: Duration,
    /// Dropped datagrams are counted; at most one line about them is logged per
    /// interval, with the counts since the last one.
    pub drop_log_interval: Duration,
    /// How silent amphorae are failed over.
    pub watch: Watch,
}

/// The log of dropped datagrams: one line at most per interval, counting by cause
/// what it did not log.
struct DropLog {
    interval: Duration,
    last: Option<Instant>,
    since: [u64; 6],
}

impl DropLog {
    fn new(interval: Duration) -> Self {
        Self {
            interval,
            last: None,
            since: [0; 6],
        }
    }

    fn dropped(&mut self, cause: DropCause, from: SocketAddr, error: &dyn std::fmt::Display) {
        self.since[cause.index()] += 1;
        if self.last.is_some_and(|last| last.elapsed() < self.interval) {
            return;
        }
        let counts: Vec<String> = DropCause::ALL
            .iter()
            .filter(|c| self.since[c.index()] > 0)
            .map(|c| format!("{c:?}={}", self.since[c.index()]))
            .collect();
        tracing::warn!(
            %from,
            ?cause,
            %error,
            dropped = %counts.join(" "),
            "dropped heartbeats since the last report (at most one report every {:?})",
            self.interval
        );
        self.last = Some(Instant::now());
        self.since = [0; 6];
    }
}

/// How often a health manager stores its counts.
const REPORT_INTERVAL: Duration = Duration::from_secs(5);

/// Receives heartbeats, watches for silent amphorae once it can, and stores its counts
/// under `name`, until the task is dropped or the socket fails.
pub async fn run(
    db: Db,
    receiver: Receiver,
    counters: Arc<Counters>,
    name: String,
) -> std::io::Result<()> {
    let socket = tokio::net::UdpSocket::bind(receiver.bind).await?;
    tracing::info!(bind = %receiver.bind, sources = ?receiver.sources, "health manager receiving heartbeats");
    tokio::select! {
        received = receive(&db, &receiver, &counters, socket) => received,
        () = failover::watch(db.clone(), receiver.watch.clone()) => Ok(()),
        () = report(&db, &counters, name) => Ok(()),
    }
}

/// Stores the counts every [`REPORT_INTERVAL`].
async fn report(db: &Db, counters: &Counters, id: String) {
    let started_at = krater_domain::now();
    loop {
        let report = HealthManagerReport {
            id: id.clone(),
            started_at,
            updated_at: krater_domain::now(),
            counts: counters.snapshot(),
        };
        let stored = async {
            let mut tx = db.begin().await?;
            tx.report_health_manager(&report).await?;
            tx.commit().await
        };
        if let Err(err) = stored.await {
            tracing::warn!(error = %err, "cannot store the heartbeat counts");
        }
        tokio::time::sleep(REPORT_INTERVAL).await;
    }
}

async fn receive(
    db: &Db,
    receiver: &Receiver,
    counters: &Counters,
    socket: tokio::net::UdpSocket,
) -> std::io::Result<()> {
    let mut drops = DropLog::new(receiver.drop_log_interval);
    let mut guard = ReplayGuard::new(receiver.replay_window);
    let mut buffer = vec![0u8; krater_heartbeat::MAX_DATAGRAM_LEN + 1];
    loop {
        let (len, from) = socket.recv_from(&mut buffer).await?;
        let mut dropped = |cause: DropCause, error: &dyn std::fmt::Display| {
            counters.drop_one(cause);
            drops.dropped(cause, from, error);
        };
        if !receiver.sources.contains(from.ip()) {
            dropped(DropCause::Foreign, &"not from the management network");
            continue;
        }
        let message = match krater_heartbeat::decode(&buffer[..len], &receiver.key) {
            Ok(message) => message,
            Err(err) => {
                dropped(DropCause::of_error(&err), &err);
                continue;
            }
        };
        if let Err(not_fresh) = guard.check(&message, krater_heartbeat::unix_ms()) {
            let what = format!(
                "{not_fresh:?} heartbeat of {} (seq {})",
                message.id, message.seq
            );
            dropped(DropCause::of_replay(not_fresh), &what);
            continue;
        }
        if let Err(err) = process(db, &message).await {
            tracing::warn!(amphora = %message.id, error = %err, "heartbeat not recorded");
        }
        // Counted once its statuses are written (or failed to be).
        counters.accepted.fetch_add(1, Ordering::Relaxed);
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
