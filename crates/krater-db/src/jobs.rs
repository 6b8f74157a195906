//! The job table: the only path from the API to the controller worker.
//!
//! A job is a [`Flow`], its plan (the controller's typed tasks, stored as JSON once
//! planned) and its progress (`next_task`, and whether it is reverting). A worker claims
//! an open job by taking its lease: a new random token. Every later write of the worker
//! names that token ([`Lease`]) and fails with [`DbError::LeaseLost`] once another worker
//! holds the job, so a worker that stalled past its lease writes nothing. The jobs of
//! one load balancer are numbered (`seq`) and claimed strictly in that order; jobs of
//! different load balancers run in parallel. On PostgreSQL a claim takes the row with
//! `FOR UPDATE SKIP LOCKED` and a queued job is announced with NOTIFY.

use crate::rows::Val;
use crate::{fmt_ts, precise_now, Backend, DbError, Result, Tx, JOBS_CHANNEL};
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

/// A worker's hold on a job: every write it makes for the job names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub job_id: String,
    pub token: String,
}

/// A claimed job.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub lease: Lease,
    pub flow: Flow,
    /// The controller's plan (JSON), once a worker planned the flow.
    pub plan: Option<String>,
    /// While executing: the first task not known to have finished. While reverting:
    /// one past the last task whose revert has not run yet.
    pub next_task: usize,
    pub reverting: bool,
    /// Why the flow reverts, once it does.
    pub error: Option<String>,
    /// How many times the job was claimed (1 on the first run).
    pub attempts: i64,
}

impl Job {
    pub fn id(&self) -> &str {
        &self.lease.job_id
    }
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
        Flow::FailoverAmphora { lb_id, amphora_id } => (
            "failover_amphora",
            lb_id,
            serde_json::json!([amphora_id]).to_string(),
            false,
        ),
        Flow::FailoverLoadBalancer { lb_id } => {
            ("failover_load_balancer", lb_id, "[]".into(), false)
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
        "failover_amphora" => {
            let text: String = row.try_get("objects")?;
            let ids: Vec<String> = serde_json::from_str(&text).map_err(|_| corrupt("objects"))?;
            let [amphora_id] = <[String; 1]>::try_from(ids).map_err(|_| corrupt("amphora"))?;
            Flow::FailoverAmphora { lb_id, amphora_id }
        }
        "failover_load_balancer" => Flow::FailoverLoadBalancer { lb_id },
        other => return Err(corrupt(other)),
    })
}

fn lease_expiry(lease: Duration) -> String {
    let lease = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(5));
    fmt_ts(precise_now() + lease)
}

fn now_val() -> Val {
    Val::Text(Some(fmt_ts(precise_now())))
}

fn index(value: usize) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl Tx {
    /// Queues a flow behind the open jobs of its load balancer; workers see it when
    /// the transaction commits. The caller holds the load balancer's lock (every API
    /// write does), so two jobs of one load balancer never take the same number.
    pub async fn enqueue(&mut self, flow: &Flow) -> Result<String> {
        let id = uuid::Uuid::new_v4().to_string();
        let (kind, lb_id, objects, cascade) = encode(flow);
        sqlx::query(
            "INSERT INTO job (id, kind, load_balancer_id, objects, cascade_delete, state, \
             next_task, attempts, created_at, seq) VALUES ($1, $2, $3, $4, $5, $6, 0, 0, $7, \
             (SELECT COALESCE(MAX(seq), 0) + 1 FROM job WHERE load_balancer_id = $3))",
        )
        .bind(&id)
        .bind(kind)
        .bind(lb_id)
        .bind(objects)
        .bind(i64::from(cascade))
        .bind(JobState::Open.as_str())
        .bind(fmt_ts(precise_now()))
        .execute(self.conn())
        .await?;
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_notify($1, '')")
                .bind(JOBS_CHANNEL)
                .execute(self.conn())
                .await?;
        }
        self.enqueued = true;
        Ok(id)
    }

    /// Claims, for `owner`, the oldest open job whose lease is free or expired and that
    /// no earlier open job of the same load balancer waits before.
    pub async fn claim_job(&mut self, owner: &str, lease: Duration) -> Result<Option<Job>> {
        let now = fmt_ts(precise_now());
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let candidate = sqlx::query(&format!(
            "SELECT id FROM job WHERE state = 'OPEN' \
             AND (lease_expires_at IS NULL OR lease_expires_at < $1) \
             AND NOT EXISTS (SELECT 1 FROM job AS earlier \
                 WHERE earlier.load_balancer_id = job.load_balancer_id \
                 AND earlier.state = 'OPEN' AND earlier.seq < job.seq) \
             ORDER BY created_at, id LIMIT 1{lock}"
        ))
        .bind(&now)
        .fetch_optional(self.conn())
        .await?;
        let Some(candidate) = candidate else {
            return Ok(None);
        };
        let id: String = candidate.try_get("id")?;
        let token = uuid::Uuid::new_v4().to_string();
        let claimed = sqlx::query(
            "UPDATE job SET lease_owner = $1, lease_token = $2, lease_expires_at = $3, \
             attempts = attempts + 1, updated_at = $4 WHERE id = $5 AND state = 'OPEN' \
             AND (lease_expires_at IS NULL OR lease_expires_at < $4)",
        )
        .bind(owner)
        .bind(&token)
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
            plan: row.try_get("plan")?,
            next_task: usize::try_from(next_task)
                .map_err(|_| DbError::Corrupt("next_task".into()))?,
            reverting: row.try_get::<i64, _>("reverting")? != 0,
            error: row.try_get("error")?,
            attempts: row.try_get("attempts")?,
            lease: Lease { job_id: id, token },
        }))
    }

    /// Runs `UPDATE job SET <set> WHERE <lease holds>`; the lease's job id and token
    /// are bound after `binds`. Fails with `LeaseLost` when no row matched.
    async fn update_leased(&mut self, set: &str, binds: Vec<Val>, lease: &Lease) -> Result<()> {
        let n = binds.len();
        let sql = format!(
            "UPDATE job SET {set} WHERE id = ${} AND lease_token = ${} AND state = 'OPEN'",
            n + 1,
            n + 2
        );
        let mut query = sqlx::query(&sql);
        for bind in binds {
            query = match bind {
                Val::Text(t) => query.bind(t),
                Val::Int(i) => query.bind(i),
            };
        }
        let done = query
            .bind(&lease.job_id)
            .bind(&lease.token)
            .execute(self.conn())
            .await?;
        if done.rows_affected() == 1 {
            Ok(())
        } else {
            Err(DbError::LeaseLost {
                job_id: lease.job_id.clone(),
            })
        }
    }

    /// Proves the lease still holds, as the first statement of a worker's write
    /// transaction. On PostgreSQL it also locks the job's row until the commit, so a
    /// claim by another worker waits for it: the writes of the transaction and a
    /// takeover can never interleave.
    pub async fn fence(&mut self, lease: &Lease) -> Result<()> {
        self.update_leased("updated_at = $1", vec![now_val()], lease)
            .await
    }

    /// Stores the flow's plan (the controller's tasks with their parameters).
    pub async fn store_plan(&mut self, lease: &Lease, plan: &str) -> Result<()> {
        self.update_leased("plan = $1", vec![Val::Text(Some(plan.into()))], lease)
            .await
    }

    /// Records the progress of the flow (see [`Job::next_task`]) and renews the lease.
    pub async fn record_progress(
        &mut self,
        lease: &Lease,
        next_task: usize,
        reverting: bool,
        duration: Duration,
    ) -> Result<()> {
        self.update_leased(
            "next_task = $1, reverting = $2, lease_expires_at = $3, updated_at = $4",
            vec![
                Val::Int(Some(index(next_task))),
                Val::Int(Some(i64::from(reverting))),
                Val::Text(Some(lease_expiry(duration))),
                now_val(),
            ],
            lease,
        )
        .await
    }

    /// Turns the flow to its reverts: the tasks before `upto` are undone from the last
    /// one down; `error` is why, kept for the job's end.
    pub async fn start_revert(
        &mut self,
        lease: &Lease,
        upto: usize,
        error: &str,
        duration: Duration,
    ) -> Result<()> {
        self.update_leased(
            "next_task = $1, reverting = 1, error = $2, lease_expires_at = $3, updated_at = $4",
            vec![
                Val::Int(Some(index(upto))),
                Val::Text(Some(error.into())),
                Val::Text(Some(lease_expiry(duration))),
                now_val(),
            ],
            lease,
        )
        .await
    }

    /// Extends the lease of a job its owner is still working on.
    pub async fn renew_lease(&mut self, lease: &Lease, duration: Duration) -> Result<()> {
        self.update_leased(
            "lease_expires_at = $1",
            vec![Val::Text(Some(lease_expiry(duration)))],
            lease,
        )
        .await
    }

    /// Closes a job for good; `error` (when given) replaces the stored one.
    pub async fn finish_job(
        &mut self,
        lease: &Lease,
        state: JobState,
        error: Option<&str>,
    ) -> Result<()> {
        self.update_leased(
            "state = $1, error = COALESCE($2, error), lease_owner = NULL, lease_token = NULL, \
             lease_expires_at = NULL, updated_at = $3",
            vec![
                Val::Text(Some(state.as_str().into())),
                Val::Text(error.map(str::to_string)),
                now_val(),
            ],
            lease,
        )
        .await
    }

    /// Gives a job back (a worker stopping): the next claim takes it at once, and this
    /// claim does not count as an attempt.
    pub async fn release_job(&mut self, lease: &Lease) -> Result<()> {
        self.update_leased(
            "lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL, \
             attempts = attempts - 1",
            vec![],
            lease,
        )
        .await
    }

    /// Number of jobs not finished yet.
    pub async fn open_jobs(&mut self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM job WHERE state = 'OPEN'")
            .fetch_one(self.conn())
            .await?;
        Ok(row.try_get("n")?)
    }

    /// The flows of the jobs not finished yet, oldest first.
    pub async fn open_flows(&mut self) -> Result<Vec<Flow>> {
        let rows = sqlx::query("SELECT * FROM job WHERE state = 'OPEN' ORDER BY created_at, seq")
            .fetch_all(self.conn())
            .await?;
        rows.iter().map(decode).collect()
    }
}
