//! The spares pool (`[house_keeping] spare_amphora_pool_size`): amphorae booted with
//! no load balancer, so that a create or a failover takes one instead of waiting for
//! a boot (the plan claims it, `saga.rs`).
//!
//! Housekeeping looks at the pool every `spare_check_interval`:
//! - a spare that went silent, or whose build a crash cut short, is removed;
//! - a pool larger than its size (the size lowered, or two housekeeping processes
//!   that filled it at the same moment) loses its newest READY spares;
//! - the pool is filled up to its size, the missing spares built at once.
//!
//! A spare is BOOTING while it is built and READY once its agent answers; it is
//! watched from then on, and heartbeats keep it fresh. Only a READY spare heard from
//! within the heartbeat timeout is taken.

use crate::tasks::{delete_instance, forget_amphora, management_port};
use crate::{Drivers, FlowError};
use krater_db::Db;
use krater_domain::{now, Amphora, AmphoraStatus, Timestamp};
use krater_drivers::LocalNetworks;
use std::sync::Arc;
use std::time::Duration;

/// The pool and what it needs to build and remove spares.
pub struct SparePool {
    pub db: Db,
    pub drivers: Drivers,
    pub networks: Arc<LocalNetworks>,
    /// Spares to keep.
    pub size: usize,
    /// A READY spare silent this long is dead (the health manager's timeout).
    pub heartbeat_timeout: Duration,
    /// A spare BOOTING for twice this long was left by a crash.
    pub boot_timeout: Duration,
    /// Time between two looks.
    pub interval: Duration,
}

/// What one look did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Refill {
    pub built: usize,
    pub removed: usize,
    pub failed: usize,
}

impl SparePool {
    /// One look: removes the dead and surplus spares, builds the missing ones.
    pub async fn look(&self) -> Result<Refill, FlowError> {
        let spares = self.db.read().await?.spares().await?;
        let mut refill = Refill::default();
        let (mut doomed, mut alive) = (Vec::new(), Vec::new());
        for (amphora, heard) in &spares {
            if self.is_dead(amphora, *heard) {
                doomed.push(amphora);
            } else {
                alive.push(amphora);
            }
        }
        let surplus = alive.len().saturating_sub(self.size);
        doomed.extend(
            alive
                .iter()
                .rev()
                .filter(|a| a.status == AmphoraStatus::Ready)
                .take(surplus),
        );
        for amphora in doomed {
            match self.remove(amphora).await {
                Ok(true) => refill.removed += 1,
                Ok(false) => {}
                Err(err) => {
                    tracing::warn!(amphora = %amphora.id, error = %err, "cannot remove a spare amphora")
                }
            }
        }
        let missing = self.size.saturating_sub(alive.len());
        let builds = (0..missing).map(|_| self.build());
        for built in futures_util::future::join_all(builds).await {
            match built {
                Ok(()) => refill.built += 1,
                Err(err) => {
                    refill.failed += 1;
                    tracing::warn!(error = %err, "cannot build a spare amphora");
                }
            }
        }
        Ok(refill)
    }

    fn is_dead(&self, amphora: &Amphora, heard: Option<Timestamp>) -> bool {
        let older_than =
            |at: Timestamp, limit: Duration| (now() - at).to_std().unwrap_or_default() > limit;
        match amphora.status {
            AmphoraStatus::PendingDelete => true,
            AmphoraStatus::Booting => older_than(amphora.created_at, self.boot_timeout * 2),
            AmphoraStatus::Ready => heard.is_none_or(|at| older_than(at, self.heartbeat_timeout)),
            _ => false,
        }
    }

    /// Builds one spare: its row and management port, then its instance; READY and
    /// watched once its agent answers. One that fails is removed.
    async fn build(&self) -> Result<(), FlowError> {
        let mut amphora = Amphora::new(uuid::Uuid::new_v4().to_string(), AmphoraStatus::Booting);
        let management = {
            let mut tx = self.db.begin().await?;
            tx.save_amphora(&amphora).await?;
            let port = management_port(&self.drivers, &self.networks, &mut tx, &amphora.id).await?;
            tx.commit().await?;
            port
        };
        let booted = async {
            let instance = self.drivers.compute.build(&amphora, &management).await?;
            amphora.compute_id = Some(instance.compute_id);
            amphora.lb_network_ip = Some(instance.lb_network_ip);
            amphora.cert_expiration = instance.cert_expiration;
            self.drivers.amphora.wait_reachable(&amphora).await?;
            let mut tx = self.db.begin().await?;
            if !tx.spare_booted(&amphora).await? {
                return Err(FlowError::Other(
                    "taken out of the pool while booting".into(),
                ));
            }
            tx.watch_amphora(&amphora.id).await?;
            tx.commit().await?;
            Ok(())
        }
        .await;
        if booted.is_err() {
            let mut tx = self.db.begin().await?;
            if tx.retire_spare(&amphora.id, AmphoraStatus::Booting).await? {
                tx.commit().await?;
                self.destroy(&amphora).await?;
            }
        } else {
            tracing::info!(amphora = %amphora.id, "spare amphora ready");
        }
        booted
    }

    /// Removes a spare once it is taken out of the pool; false when it was not a
    /// spare any more (taken by a load balancer, or by another housekeeping process).
    async fn remove(&self, amphora: &Amphora) -> Result<bool, FlowError> {
        if amphora.status != AmphoraStatus::PendingDelete {
            let mut tx = self.db.begin().await?;
            if !tx.retire_spare(&amphora.id, amphora.status).await? {
                return Ok(false);
            }
            tx.commit().await?;
        }
        tracing::info!(amphora = %amphora.id, status = %amphora.status, "removing a spare amphora");
        self.destroy(amphora).await?;
        Ok(true)
    }

    async fn destroy(&self, amphora: &Amphora) -> Result<(), FlowError> {
        delete_instance(&self.drivers, amphora).await?;
        let mut tx = self.db.begin().await?;
        forget_amphora(&mut tx, &amphora.id).await?;
        tx.commit().await?;
        Ok(())
    }
}
