//! What housekeeping removes from the database: rows of objects deleted long ago
//! (Octavia's `load_balancer_expiry_age` and `amphora_expiry_age`); and which
//! amphorae need a new server certificate, claimed one at a time (`cert_busy`) so
//! that two housekeeping processes never rotate one twice.

use crate::{fmt_ts, Result, Tx};
use krater_domain::Timestamp;
use std::time::Duration;

/// What one purge removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub load_balancers: u64,
    pub amphorae: u64,
}

impl Tx {
    /// Removes load balancers DELETED more than `lb_age` ago with their finished jobs,
    /// and amphorae DELETED more than `amphora_age` ago with their health and
    /// statistics rows. A load balancer with an open job stays (its flow still runs).
    pub async fn purge_deleted(
        &mut self,
        lb_age: Duration,
        amphora_age: Duration,
    ) -> Result<Purged> {
        let before = |age: Duration| {
            chrono::Duration::from_std(age)
                .ok()
                .and_then(|age| krater_domain::now().checked_sub_signed(age))
                .unwrap_or(chrono::NaiveDateTime::MIN)
        };
        let expired_lbs = "SELECT id FROM load_balancer WHERE provisioning_status = 'DELETED' \
                           AND COALESCE(updated_at, created_at) < $1 \
                           AND NOT EXISTS (SELECT 1 FROM job WHERE job.state = 'OPEN' \
                           AND job.load_balancer_id = load_balancer.id)";
        let cutoff = fmt_ts(before(lb_age));
        sqlx::query(&format!(
            "DELETE FROM job WHERE state <> 'OPEN' AND load_balancer_id IN ({expired_lbs})"
        ))
        .bind(&cutoff)
        .execute(self.conn())
        .await?;
        let load_balancers = sqlx::query(&format!(
            "DELETE FROM load_balancer WHERE id IN ({expired_lbs})"
        ))
        .bind(&cutoff)
        .execute(self.conn())
        .await?
        .rows_affected();

        let expired_amphorae = "SELECT id FROM amphora WHERE status = 'DELETED' \
                                AND COALESCE(updated_at, created_at) < $1";
        let amphora_cutoff = fmt_ts(before(amphora_age));
        for dependent in [
            "DELETE FROM amphora_health WHERE amphora_id IN",
            "DELETE FROM listener_statistics WHERE amphora_id IN",
        ] {
            sqlx::query(&format!("{dependent} ({expired_amphorae})"))
                .bind(&amphora_cutoff)
                .execute(self.conn())
                .await?;
        }
        let amphorae = sqlx::query(&format!(
            "DELETE FROM amphora WHERE id IN ({expired_amphorae})"
        ))
        .bind(&amphora_cutoff)
        .execute(self.conn())
        .await?
        .rows_affected();
        Ok(Purged {
            load_balancers,
            amphorae,
        })
    }

    /// The ids of the ALLOCATED amphorae and READY spares whose certificate expires
    /// within `within` and is not being rotated.
    pub async fn certificates_to_rotate(&mut self, within: Duration) -> Result<Vec<String>> {
        let before = chrono::Duration::from_std(within)
            .ok()
            .and_then(|within| krater_domain::now().checked_add_signed(within))
            .unwrap_or(chrono::NaiveDateTime::MAX);
        let rows = sqlx::query(
            "SELECT id FROM amphora WHERE status IN ('ALLOCATED', 'READY') AND cert_busy = 0 \
             AND cert_expiration IS NOT NULL AND cert_expiration < $1 ORDER BY cert_expiration, id",
        )
        .bind(fmt_ts(before))
        .fetch_all(self.conn())
        .await?;
        rows.iter()
            .map(|r| Ok(sqlx::Row::try_get(r, "id")?))
            .collect()
    }

    /// Marks an amphora's certificate as being rotated; false when another process
    /// took it first (or the amphora is gone).
    pub async fn claim_certificate_rotation(&mut self, amphora_id: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE amphora SET cert_busy = 1 WHERE id = $1 AND cert_busy = 0 \
             AND status IN ('ALLOCATED', 'READY')",
        )
        .bind(amphora_id)
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Ends a rotation: the new expiry when the amphora took the certificate (`None`:
    /// it did not; the next look tries again).
    pub async fn finish_certificate_rotation(
        &mut self,
        amphora_id: &str,
        expires_at: Option<Timestamp>,
    ) -> Result<()> {
        match expires_at {
            Some(expires_at) => {
                sqlx::query("UPDATE amphora SET cert_busy = 0, cert_expiration = $1 WHERE id = $2")
                    .bind(fmt_ts(expires_at))
                    .bind(amphora_id)
                    .execute(self.conn())
                    .await?
            }
            None => {
                sqlx::query("UPDATE amphora SET cert_busy = 0 WHERE id = $1")
                    .bind(amphora_id)
                    .execute(self.conn())
                    .await?
            }
        };
        Ok(())
    }
}
