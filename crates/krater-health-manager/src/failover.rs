//! The stale-amphora watch: every `check_interval`, the amphorae not heard from for
//! `heartbeat_timeout` are failed over, each by a failover flow the worker runs.
//!
//! Several health managers may watch one database: each failover is claimed in one
//! transaction (the amphora's health row busy, its load balancer PENDING_UPDATE, the
//! flow queued), so an amphora is failed over once.
//!
//! The storm guard: when more than `failover_threshold` amphorae are going silent at
//! once, the likelier fault is the health manager's own network, so none is failed
//! over; the stale ones are marked FAILOVER_STOPPED and watched again as soon as they
//! are heard from, or, once the storm is over, from then on (a whole timeout more). Amphorae that lose their heartbeats together do not all reach the
//! timeout in the same look (their last heartbeats were up to an interval apart), so
//! "at once" counts every amphora silent for half the timeout, and the failovers still
//! running: one that a storm caught first is not failed over alone.

use krater_db::{Db, DbError, StaleAmphora};
use krater_domain::{AmphoraStatus, Timestamp};
use std::time::Duration;

/// How stale amphorae are found and failed over.
#[derive(Debug, Clone)]
pub struct Watch {
    /// An amphora silent this long is stale.
    pub heartbeat_timeout: Duration,
    /// Time between two looks for stale amphorae.
    pub check_interval: Duration,
    /// More stale amphorae than this at once: none is failed over.
    pub failover_threshold: usize,
}

/// What one look found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scan {
    /// Nothing stale.
    Quiet,
    /// Failovers started for these amphorae (others stale were busy with a flow).
    FailedOver(Vec<String>),
    /// The storm guard held: these stale amphorae were not failed over.
    Stopped(Vec<String>),
}

/// Looks once for stale amphorae and fails them over (or stops, see the module doc).
pub async fn scan(db: &Db, watch: &Watch) -> Result<Scan, DbError> {
    let going_silent = watch.heartbeat_timeout / 2;
    let stale_of = |silent: Vec<(StaleAmphora, Timestamp)>| -> (usize, Vec<StaleAmphora>) {
        let cutoff = chrono::Duration::from_std(watch.heartbeat_timeout)
            .ok()
            .and_then(|t| chrono::Utc::now().naive_utc().checked_sub_signed(t))
            .unwrap_or(chrono::NaiveDateTime::MIN);
        let count = silent.len();
        let stale = silent
            .into_iter()
            .filter(|(_, heard)| *heard < cutoff)
            .map(|(amphora, _)| amphora)
            .collect();
        (count, stale)
    };
    // Most looks find nothing: they take no write lock.
    let (_, stale) = stale_of(db.read().await?.silent_amphorae(going_silent).await?);
    if stale.is_empty() {
        return Ok(Scan::Quiet);
    }
    let mut tx = db.begin().await?;
    let (silent, stale) = stale_of(tx.silent_amphorae(going_silent).await?);
    if stale.is_empty() {
        return Ok(Scan::Quiet);
    }
    let ids = || stale.iter().map(|s| s.amphora_id.clone()).collect();
    let at_once = silent as u64 + tx.failovers_in_flight().await?;
    if at_once > watch.failover_threshold as u64 {
        for amphora in stale
            .iter()
            .filter(|s| s.status == AmphoraStatus::Allocated)
        {
            tx.stop_failover(&amphora.amphora_id).await?;
        }
        tx.commit().await?;
        return Ok(Scan::Stopped(ids()));
    }
    let mut started = Vec::new();
    for amphora in &stale {
        if amphora.status == AmphoraStatus::FailoverStopped {
            tx.watch_again(&amphora.amphora_id).await?;
        } else if tx.claim_failover(amphora).await? {
            started.push(amphora.amphora_id.clone());
        }
    }
    tx.commit().await?;
    Ok(Scan::FailedOver(started))
}

/// Watches until the task is dropped. The first look waits one `heartbeat_timeout`:
/// a health manager that was down has heard no amphora yet.
pub async fn watch(db: Db, watch: Watch) {
    tokio::time::sleep(watch.heartbeat_timeout).await;
    let mut stopped_before = false;
    loop {
        match scan(&db, &watch).await {
            Ok(Scan::FailedOver(ids)) if !ids.is_empty() => {
                tracing::warn!(amphorae = ?ids, timeout = ?watch.heartbeat_timeout, "amphorae went silent; failing them over");
                stopped_before = false;
            }
            Ok(Scan::Stopped(ids)) => {
                if !stopped_before {
                    tracing::error!(
                        amphorae = ?ids,
                        threshold = watch.failover_threshold,
                        "more amphorae went silent at once than failover_threshold: none is failed over (FAILOVER_STOPPED) until they are heard from again"
                    );
                }
                stopped_before = true;
            }
            Ok(_) => stopped_before = false,
            Err(err) => tracing::warn!(error = %err, "cannot look for stale amphorae"),
        }
        tokio::time::sleep(watch.check_interval).await;
    }
}
