//! The health manager: receives the amphorae's heartbeats over UDP, drops those that
//! are not signed with the heartbeat key, records when each amphora was last heard
//! from, maps the HAProxy statuses it reports onto members, pools, listeners and the
//! load balancer (as Octavia's health manager does), and adds its traffic counters to
//! the statistics.

mod mapping;

pub use mapping::{operating_statuses, StatusUpdate};

use krater_db::{Db, DbError};
use krater_domain::ListenerStats;
use krater_heartbeat::HeartbeatMessage;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Counts what the receiver did, for logs and tests.
#[derive(Debug, Default)]
pub struct Counters {
    pub accepted: AtomicU64,
    /// Datagrams whose signature or format was wrong.
    pub rejected: AtomicU64,
}

/// Receives heartbeats on `bind` until the task is dropped.
pub async fn run(
    db: Db,
    bind: SocketAddr,
    key: String,
    counters: Arc<Counters>,
) -> std::io::Result<()> {
    let socket = tokio::net::UdpSocket::bind(bind).await?;
    tracing::info!(%bind, "health manager receiving heartbeats");
    let mut buffer = vec![0u8; krater_heartbeat::MAX_DATAGRAM_LEN + 1];
    loop {
        let (len, from) = socket.recv_from(&mut buffer).await?;
        match krater_heartbeat::decode(&buffer[..len], &key) {
            Ok(message) => {
                counters.accepted.fetch_add(1, Ordering::Relaxed);
                if let Err(err) = process(&db, &message).await {
                    tracing::warn!(amphora = %message.id, error = %err, "heartbeat not recorded");
                }
            }
            Err(err) => {
                counters.rejected.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%from, error = %err, "dropped a heartbeat");
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
