//! The spares pool's rows: amphorae booted with no load balancer, BOOTING while
//! housekeeping builds one and READY once its agent answers, which a create or a
//! failover takes ([`Tx::claim_spare`]) instead of booting an amphora of its own.

use crate::rows::{amphora_from, get_opt_ts};
use crate::{fmt_ts, precise_now, Backend, Result, Tx};
use krater_domain::{Amphora, AmphoraRole, AmphoraStatus, Timestamp};
use sqlx::Row;
use std::time::Duration;

/// A spare: READY, or BOOTING (or PENDING_DELETE, being removed), with no load balancer.
const SPARE: &str =
    "a.load_balancer_id IS NULL AND a.status IN ('BOOTING', 'READY', 'PENDING_DELETE')";

impl Tx {
    /// Every spare, the oldest first, with when it was last heard from (None before
    /// its first heartbeat).
    pub async fn spares(&mut self) -> Result<Vec<(Amphora, Option<Timestamp>)>> {
        let rows = sqlx::query(&format!(
            "SELECT a.*, h.last_update AS heard FROM amphora a \
             LEFT JOIN amphora_health h ON h.amphora_id = a.id \
             WHERE {SPARE} ORDER BY a.created_at, a.id"
        ))
        .fetch_all(self.conn())
        .await?;
        rows.iter()
            .map(|row| Ok((amphora_from(row)?, get_opt_ts(row, "heard")?)))
            .collect()
    }

    /// Up to `limit` READY spares heard from within `heard_within`, the oldest first.
    /// On PostgreSQL the rows stay locked until the transaction ends and rows another
    /// transaction locked are skipped, so two planners never pick the same spare (on
    /// SQLite, write transactions run one at a time).
    pub async fn ready_spares(
        &mut self,
        heard_within: Duration,
        limit: usize,
    ) -> Result<Vec<String>> {
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE OF a SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let silence = chrono::Duration::from_std(heard_within).unwrap_or(chrono::Duration::MAX);
        let cutoff = precise_now()
            .checked_sub_signed(silence)
            .unwrap_or(chrono::NaiveDateTime::MIN);
        let rows = sqlx::query(&format!(
            "SELECT a.id FROM amphora a JOIN amphora_health h ON h.amphora_id = a.id \
             WHERE a.load_balancer_id IS NULL AND a.status = 'READY' AND h.last_update >= $1 \
             ORDER BY a.created_at, a.id LIMIT {limit}{lock}"
        ))
        .bind(fmt_ts(cutoff))
        .fetch_all(self.conn())
        .await?;
        rows.iter().map(|row| Ok(row.try_get("id")?)).collect()
    }

    /// Spare `booted` (BOOTING until now) is READY, with its instance's compute id,
    /// management address and certificate expiry. False when it is no longer a
    /// BOOTING spare (another housekeeping process took it for a crash's leftover).
    pub async fn spare_booted(&mut self, booted: &Amphora) -> Result<bool> {
        let updated = sqlx::query(
            "UPDATE amphora SET status = 'READY', compute_id = $1, lb_network_ip = $2,              cert_expiration = $3, updated_at = $4              WHERE id = $5 AND status = 'BOOTING' AND load_balancer_id IS NULL",
        )
        .bind(booted.compute_id.as_deref())
        .bind(booted.lb_network_ip.as_deref())
        .bind(booted.cert_expiration.map(fmt_ts))
        .bind(fmt_ts(krater_domain::now()))
        .bind(&booted.id)
        .execute(self.conn())
        .await?
        .rows_affected();
        Ok(updated == 1)
    }

    /// Gives READY spare `id` to load balancer `lb_id` in `role`: it is ALLOCATED,
    /// booted and watched already. False when it is no longer a READY spare.
    pub async fn claim_spare(&mut self, id: &str, lb_id: &str, role: AmphoraRole) -> Result<bool> {
        let claimed = sqlx::query(
            "UPDATE amphora SET load_balancer_id = $1, role = $2, vrrp_priority = $3, \
             status = 'ALLOCATED', updated_at = $4 \
             WHERE id = $5 AND status = 'READY' AND load_balancer_id IS NULL",
        )
        .bind(lb_id)
        .bind(role.as_str())
        .bind(role.vrrp_priority())
        .bind(fmt_ts(krater_domain::now()))
        .bind(id)
        .execute(self.conn())
        .await?
        .rows_affected();
        Ok(claimed == 1)
    }

    /// Takes spare `id` out of the pool to remove it (PENDING_DELETE), if it is still
    /// a spare in status `from`: two housekeeping processes never remove one twice,
    /// and a spare claimed meanwhile stays with its load balancer.
    pub async fn retire_spare(&mut self, id: &str, from: AmphoraStatus) -> Result<bool> {
        let retired = sqlx::query(
            "UPDATE amphora SET status = 'PENDING_DELETE', updated_at = $1 \
             WHERE id = $2 AND status = $3 AND load_balancer_id IS NULL",
        )
        .bind(fmt_ts(krater_domain::now()))
        .bind(id)
        .bind(from.as_str())
        .execute(self.conn())
        .await?
        .rows_affected();
        Ok(retired == 1)
    }
}
