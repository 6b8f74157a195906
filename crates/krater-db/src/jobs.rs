//! The job table: the only path from the API to the controller worker.
//!
//! A job is a [`Flow`] plus its progress (`next_task`). A worker claims an open job by
//! taking its lease; while it works it records every finished task and renews the
//! lease. A worker that dies leaves the lease to expire, and the next claim resumes the
//! flow at `next_task`. A claim is one conditional UPDATE, so two workers never own the
//! same job.

use crate::{fmt_ts, DbError, Result, Tx};
use krater_domain::flow::{Flow, ObjectKind, ObjectRef};
use sqlx::any::AnyRow;
use sqlx::Row;
use std::time::Duration;

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Waiting for a worker, or being worked on (see the lease).
    Open,
    /// Every task ran.
    Done,
    /// A task failed for good and the flow was reverted.
    Reverted,
}

impl JobState {
    fn as_str(self) -> &'static str {
        match self {
            JobState::Open => "OPEN",
            JobState::Done => "DONE",
            JobState::Reverted => "REVERTED",
        }
    }
}

/// A claimed job.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: String,
    pub flow: Flow,
    /// Index of the first task not known to have finished.
    pub next_task: usize,
    /// How many times the job was claimed (1 on the first run).
    pub attempts: i64,
}

fn encode(flow: &Flow) -> (&'static str, &str, String, bool) {
    let objects = |refs: &[ObjectRef]| {
        let list: Vec<String> = refs
            .iter()
            .map(|r| format!("{}:{}", r.kind.as_str(), r.id))
            .collect();
        serde_json::Value::from(list).to_string()
    };
    match flow {
        Flow::CreateLoadBalancer { lb_id } => ("create_load_balancer", lb_id, "[]".into(), false),
        Flow::UpdateLoadBalancer { lb_id } => ("update_load_balancer", lb_id, "[]".into(), false),
        Flow::DeleteLoadBalancer { lb_id, cascade } => {
            ("delete_load_balancer", lb_id, "[]".into(), *cascade)
        }
        Flow::ApplyChildren { lb_id, changed } => {
            ("apply_children", lb_id, objects(changed), false)
        }
    }
}

fn decode(row: &AnyRow) -> Result<Flow> {
    let kind: String = row.try_get("kind")?;
    let lb_id: String = row.try_get("load_balancer_id")?;
    let corrupt = |what: &str| DbError::Corrupt(format!("job {what}"));
    Ok(match kind.as_str() {
        "create_load_balancer" => Flow::CreateLoadBalancer { lb_id },
        "update_load_balancer" => Flow::UpdateLoadBalancer { lb_id },
        "delete_load_balancer" => Flow::DeleteLoadBalancer {
            lb_id,
            cascade: row.try_get::<i64, _>("cascade_delete")? != 0,
        },
        "apply_children" => {
            let text: String = row.try_get("objects")?;
            let list: Vec<String> = serde_json::from_str(&text).map_err(|_| corrupt("objects"))?;
            let changed = list
                .iter()
                .map(|item| {
                    let (kind, id) = item.split_once(':').ok_or_else(|| corrupt("object"))?;
                    let kind = ObjectKind::parse(kind).ok_or_else(|| corrupt("object kind"))?;
                    Ok(ObjectRef::new(kind, id))
                })
                .collect::<Result<_>>()?;
            Flow::ApplyChildren { lb_id, changed }
        }
        other => return Err(corrupt(other)),
    })
}

/// Leases need sub-second precision, unlike the timestamps users see.
fn precise_now() -> krater_domain::Timestamp {
    chrono::Utc::now().naive_utc()
}

fn lease_expiry(lease: Duration) -> String {
    let lease = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(30));
    fmt_ts(precise_now() + lease)
}

impl Tx {
    /// Queues a flow; it becomes visible to workers when the transaction commits.
    pub async fn enqueue(&mut self, flow: &Flow) -> Result<String> {
        let id = uuid::Uuid::new_v4().to_string();
        let (kind, lb_id, objects, cascade) = encode(flow);
        sqlx::query(
            "INSERT INTO job (id, kind, load_balancer_id, objects, cascade_delete, state, \
             next_task, attempts, created_at) VALUES ($1, $2, $3, $4, $5, $6, 0, 0, $7)",
        )
        .bind(&id)
        .bind(kind)
        .bind(lb_id)
        .bind(objects)
        .bind(i64::from(cascade))
        .bind(JobState::Open.as_str())
        .bind(fmt_ts(krater_domain::now()))
        .execute(self.conn())
        .await?;
        Ok(id)
    }

    /// Claims the oldest open job whose lease is free or expired, for `owner`.
    pub async fn claim_job(&mut self, owner: &str, lease: Duration) -> Result<Option<Job>> {
        let now = fmt_ts(precise_now());
        let candidate = sqlx::query(
            "SELECT id FROM job WHERE state = 'OPEN' \
             AND (lease_expires_at IS NULL OR lease_expires_at < $1) \
             ORDER BY created_at, id LIMIT 1",
        )
        .bind(&now)
        .fetch_optional(self.conn())
        .await?;
        let Some(candidate) = candidate else {
            return Ok(None);
        };
        let id: String = candidate.try_get("id")?;
        let claimed = sqlx::query(
            "UPDATE job SET lease_owner = $1, lease_expires_at = $2, attempts = attempts + 1, \
             updated_at = $3 WHERE id = $4 AND state = 'OPEN' \
             AND (lease_expires_at IS NULL OR lease_expires_at < $3)",
        )
        .bind(owner)
        .bind(lease_expiry(lease))
        .bind(&now)
        .bind(&id)
        .execute(self.conn())
        .await?;
        if claimed.rows_affected() == 0 {
            return Ok(None);
        }
        let row = sqlx::query("SELECT * FROM job WHERE id = $1")
            .bind(&id)
            .fetch_one(self.conn())
            .await?;
        let next_task: i64 = row.try_get("next_task")?;
        Ok(Some(Job {
            flow: decode(&row)?,
            next_task: usize::try_from(next_task)
                .map_err(|_| DbError::Corrupt("next_task".into()))?,
            attempts: row.try_get("attempts")?,
            id,
        }))
    }

    /// Records that tasks before `next_task` finished, and renews the lease.
    pub async fn record_progress(
        &mut self,
        job_id: &str,
        owner: &str,
        next_task: usize,
        lease: Duration,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE job SET next_task = $1, lease_expires_at = $2, updated_at = $3 \
             WHERE id = $4 AND lease_owner = $5",
        )
        .bind(i64::try_from(next_task).unwrap_or(i64::MAX))
        .bind(lease_expiry(lease))
        .bind(fmt_ts(krater_domain::now()))
        .bind(job_id)
        .bind(owner)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Extends the lease of a job its owner is still working on.
    pub async fn renew_lease(&mut self, job_id: &str, owner: &str, lease: Duration) -> Result<()> {
        sqlx::query("UPDATE job SET lease_expires_at = $1 WHERE id = $2 AND lease_owner = $3")
            .bind(lease_expiry(lease))
            .bind(job_id)
            .bind(owner)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Closes a job for good.
    pub async fn finish_job(
        &mut self,
        job_id: &str,
        state: JobState,
        error: Option<&str>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE job SET state = $1, error = $2, lease_owner = NULL, lease_expires_at = NULL, \
             updated_at = $3 WHERE id = $4",
        )
        .bind(state.as_str())
        .bind(error.map(str::to_string))
        .bind(fmt_ts(krater_domain::now()))
        .bind(job_id)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Number of jobs not finished yet.
    pub async fn open_jobs(&mut self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM job WHERE state = 'OPEN'")
            .fetch_one(self.conn())
            .await?;
        Ok(row.try_get("n")?)
    }
}
