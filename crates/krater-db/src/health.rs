//! What the health manager reads and writes besides statuses: when each amphora was
//! last heard from, which amphorae are stale, and the claim that makes exactly one of
//! several health managers fail a stale amphora over.
//!
//! An amphora is watched from the moment it is ready (`watch_amphora`, by the flow
//! that booted it), so one that never sends a heartbeat goes stale too.

use crate::rows::get_ts;
use crate::{fmt_ts, precise_now, DbError, Result, Table, Tx};
use krater_domain::flow::Flow;
use krater_domain::status::Transition;
use krater_domain::{AmphoraStatus, Timestamp};
use sqlx::Row;

/// What one health manager did with the datagrams it received since it started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeartbeatCounts {
    pub accepted: u64,
    /// From outside the management network, dropped unread.
    pub foreign_source: u64,
    pub bad_signature: u64,
    /// Truncated, not zlib, not JSON, not a heartbeat.
    pub malformed: u64,
    /// Over the datagram or the decompressed size limit.
    pub too_large: u64,
    pub replayed: u64,
    /// Sent outside the time window, or not stamped.
    pub stale: u64,
}

/// A health manager's row: its name (host and address), since when and until when
/// it counted, and the counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthManagerReport {
    pub id: String,
    pub started_at: Timestamp,
    pub updated_at: Timestamp,
    pub counts: HeartbeatCounts,
}

const COUNT_COLUMNS: [&str; 7] = [
    "accepted",
    "foreign_source",
    "bad_signature",
    "malformed",
    "too_large",
    "replayed",
    "stale",
];

/// An amphora not heard from in time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleAmphora {
    pub amphora_id: String,
    pub load_balancer_id: String,
    pub status: AmphoraStatus,
}

impl HeartbeatCounts {
    fn values(&self) -> [u64; 7] {
        [
            self.accepted,
            self.foreign_source,
            self.bad_signature,
            self.malformed,
            self.too_large,
            self.replayed,
            self.stale,
        ]
    }
}

impl Tx {
    /// Stores a health manager's counts (its row replaced).
    pub async fn report_health_manager(&mut self, report: &HealthManagerReport) -> Result<()> {
        let columns = COUNT_COLUMNS.join(", ");
        let binds: Vec<String> = (4..4 + COUNT_COLUMNS.len())
            .map(|i| format!("${i}"))
            .collect();
        let updates: Vec<String> = ["started_at", "updated_at"]
            .iter()
            .chain(COUNT_COLUMNS.iter())
            .map(|c| format!("{c} = excluded.{c}"))
            .collect();
        let sql = format!(
            "INSERT INTO health_manager (id, started_at, updated_at, {columns}) \
             VALUES ($1, $2, $3, {}) ON CONFLICT (id) DO UPDATE SET {}",
            binds.join(", "),
            updates.join(", ")
        );
        let mut query = sqlx::query(&sql)
            .bind(&report.id)
            .bind(fmt_ts(report.started_at))
            .bind(fmt_ts(report.updated_at));
        for value in report.counts.values() {
            query = query.bind(i64::try_from(value).unwrap_or(i64::MAX));
        }
        query.execute(self.conn()).await?;
        Ok(())
    }

    /// Every health manager's last report, by name.
    pub async fn health_managers(&mut self) -> Result<Vec<HealthManagerReport>> {
        let rows = sqlx::query("SELECT * FROM health_manager ORDER BY id")
            .fetch_all(self.conn())
            .await?;
        rows.iter()
            .map(|row| {
                let count = |column: &str| -> Result<u64> {
                    Ok(u64::try_from(row.try_get::<i64, _>(column)?).unwrap_or(0))
                };
                Ok(HealthManagerReport {
                    id: row.try_get("id")?,
                    started_at: get_ts(row, "started_at")?,
                    updated_at: get_ts(row, "updated_at")?,
                    counts: HeartbeatCounts {
                        accepted: count("accepted")?,
                        foreign_source: count("foreign_source")?,
                        bad_signature: count("bad_signature")?,
                        malformed: count("malformed")?,
                        too_large: count("too_large")?,
                        replayed: count("replayed")?,
                        stale: count("stale")?,
                    },
                })
            })
            .collect()
    }

    /// Starts watching an amphora that is ready: it is stale once `heartbeat_timeout`
    /// passes without a heartbeat. Watching one already watched changes nothing.
    pub async fn watch_amphora(&mut self, amphora_id: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO amphora_health (amphora_id, last_update, busy) VALUES ($1, $2, 0) \
             ON CONFLICT (amphora_id) DO NOTHING",
        )
        .bind(amphora_id)
        .bind(fmt_ts(precise_now()))
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Records that an amphora was heard from now (several health managers may record
    /// one heartbeat: the latest time stays); one whose failover the storm guard
    /// stopped is watched again (FAILOVER_STOPPED → ALLOCATED).
    pub async fn record_heartbeat(&mut self, amphora_id: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO amphora_health (amphora_id, last_update, busy) VALUES ($1, $2, 0) \
             ON CONFLICT (amphora_id) DO UPDATE SET last_update = CASE \
             WHEN excluded.last_update > amphora_health.last_update THEN excluded.last_update \
             ELSE amphora_health.last_update END",
        )
        .bind(amphora_id)
        .bind(fmt_ts(precise_now()))
        .execute(self.conn())
        .await?;
        self.end_failover_stop(amphora_id).await
    }

    /// A FAILOVER_STOPPED amphora is ALLOCATED again.
    async fn end_failover_stop(&mut self, amphora_id: &str) -> Result<()> {
        sqlx::query(
            "UPDATE amphora SET status = 'ALLOCATED', updated_at = $1 \
             WHERE id = $2 AND status = 'FAILOVER_STOPPED'",
        )
        .bind(fmt_ts(krater_domain::now()))
        .bind(amphora_id)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// When an amphora was last heard from (or started being watched).
    pub async fn last_heartbeat(&mut self, amphora_id: &str) -> Result<Option<Timestamp>> {
        let rows = self
            .fetch(
                "SELECT last_update FROM amphora_health WHERE amphora_id = $1",
                &[amphora_id],
            )
            .await?;
        rows.first().map(|r| get_ts(r, "last_update")).transpose()
    }

    /// Stops watching an amphora (it is being removed).
    pub async fn forget_amphora_health(&mut self, amphora_id: &str) -> Result<()> {
        sqlx::query("DELETE FROM amphora_health WHERE amphora_id = $1")
            .bind(amphora_id)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// The watched amphorae of load balancers (ALLOCATED, or FAILOVER_STOPPED by the
    /// storm guard) not heard from for `silence` and not being failed over, the
    /// longest silent first, with when each was last heard from.
    pub async fn silent_amphorae(
        &mut self,
        silence: std::time::Duration,
    ) -> Result<Vec<(StaleAmphora, Timestamp)>> {
        let silence = chrono::Duration::from_std(silence).unwrap_or(chrono::Duration::MAX);
        let cutoff = precise_now()
            .checked_sub_signed(silence)
            .unwrap_or(chrono::NaiveDateTime::MIN);
        let rows = sqlx::query(
            "SELECT a.id, a.load_balancer_id, a.status, h.last_update FROM amphora a \
             JOIN amphora_health h ON h.amphora_id = a.id \
             WHERE a.status IN ('ALLOCATED', 'FAILOVER_STOPPED') \
             AND a.load_balancer_id IS NOT NULL AND h.busy = 0 AND h.last_update < $1 \
             ORDER BY h.last_update, a.id",
        )
        .bind(fmt_ts(cutoff))
        .fetch_all(self.conn())
        .await?;
        rows.iter()
            .map(|row| {
                let status: String = row.try_get("status")?;
                let amphora = StaleAmphora {
                    amphora_id: row.try_get("id")?,
                    load_balancer_id: row.try_get("load_balancer_id")?,
                    status: status
                        .parse()
                        .map_err(|_| DbError::Corrupt(format!("amphora status {status}")))?,
                };
                Ok((amphora, get_ts(row, "last_update")?))
            })
            .collect()
    }

    /// How many failovers the health managers started that have not replaced their
    /// amphora yet.
    pub async fn failovers_in_flight(&mut self) -> Result<u64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM amphora_health h JOIN amphora a ON a.id = h.amphora_id \
             WHERE h.busy = 1 AND a.status IN ('ALLOCATED', 'FAILOVER_STOPPED')",
        )
        .fetch_one(self.conn())
        .await?;
        Ok(u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or(0))
    }

    /// Starts the failover of a stale amphora, or returns false when its load balancer
    /// is busy with another flow (PENDING_*: that flow owns its amphorae) or another
    /// health manager claimed it first. Its load balancer goes PENDING_UPDATE (from
    /// ACTIVE or ERROR), its health row busy, and the flow is queued, all in this
    /// transaction.
    pub async fn claim_failover(&mut self, stale: &StaleAmphora) -> Result<bool> {
        let claimed =
            sqlx::query("UPDATE amphora_health SET busy = 1 WHERE amphora_id = $1 AND busy = 0")
                .bind(&stale.amphora_id)
                .execute(self.conn())
                .await?
                .rows_affected();
        if claimed == 0 {
            return Ok(false);
        }
        match self
            .test_and_set_status(
                Table::LoadBalancer,
                &stale.load_balancer_id,
                Transition::Failover,
            )
            .await
        {
            Ok(()) => {}
            Err(DbError::Immutable { .. }) | Err(DbError::NotFound { .. }) => {
                sqlx::query("UPDATE amphora_health SET busy = 0 WHERE amphora_id = $1")
                    .bind(&stale.amphora_id)
                    .execute(self.conn())
                    .await?;
                return Ok(false);
            }
            Err(err) => return Err(err),
        }
        self.enqueue(&Flow::FailoverAmphora {
            lb_id: stale.load_balancer_id.clone(),
            amphora_id: stale.amphora_id.clone(),
        })
        .await?;
        Ok(true)
    }

    /// The end of a storm for an amphora still silent: it is watched again from now,
    /// and failed over only if it stays silent a whole timeout more (the others of the
    /// storm may just be coming back).
    pub async fn watch_again(&mut self, amphora_id: &str) -> Result<()> {
        sqlx::query("UPDATE amphora_health SET last_update = $1 WHERE amphora_id = $2")
            .bind(fmt_ts(precise_now()))
            .bind(amphora_id)
            .execute(self.conn())
            .await?;
        self.end_failover_stop(amphora_id).await
    }

    /// The storm guard: these stale amphorae are not failed over but marked
    /// FAILOVER_STOPPED (shown so in the amphora API) until they are heard from again.
    pub async fn stop_failover(&mut self, amphora_id: &str) -> Result<()> {
        sqlx::query(
            "UPDATE amphora SET status = 'FAILOVER_STOPPED', updated_at = $1 \
             WHERE id = $2 AND status = 'ALLOCATED'",
        )
        .bind(fmt_ts(krater_domain::now()))
        .bind(amphora_id)
        .execute(self.conn())
        .await?;
        Ok(())
    }
}
