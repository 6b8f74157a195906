//! The controller worker: claims jobs from the job table and runs their flows.
//!
//! A flow ([`krater_domain::flow::Flow`]) becomes an ordered list of [`Task`]s. Each
//! task is idempotent; the worker records every finished one, so a worker that dies
//! leaves a job that the next claim resumes at its first unfinished task. A task that
//! still fails after its retries makes the worker revert the flow: the objects of the
//! change go to ERROR and nothing is left in PENDING_*.

mod finalize;
mod tasks;

pub use tasks::Task;

use krater_db::{Db, DbError, Job, JobState};
use krater_drivers::{AmphoraDriver, ComputeDriver, LocalNetworks, NetworkDriver};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// The drivers one provider uses.
#[derive(Clone)]
pub struct Drivers {
    pub compute: Arc<dyn ComputeDriver>,
    pub network: Arc<dyn NetworkDriver>,
    pub amphora: Arc<dyn AmphoraDriver>,
}

impl Drivers {
    /// Drivers that do nothing: provider `noop_driver`.
    pub fn noop() -> Self {
        Self {
            compute: Arc::new(krater_drivers::NoopCompute),
            network: Arc::new(krater_drivers::NoopNetwork),
            amphora: Arc::new(krater_drivers::NoopAmphora),
        }
    }
}

/// How a worker behaves.
#[derive(Clone, Debug)]
pub struct WorkerSettings {
    /// How long a claimed job stays ours without a renewal.
    pub lease: Duration,
    /// How often an idle worker looks for jobs when nobody wakes it.
    pub poll_interval: Duration,
    /// Attempts of one task before the flow reverts.
    pub task_attempts: u32,
    /// Pause between two attempts of a task.
    pub retry_delay: Duration,
}

/// A failure inside a flow.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("driver: {0}")]
    Driver(#[from] krater_drivers::DriverError),
    #[error("render: {0}")]
    Render(#[from] krater_render::RenderError),
    #[error("{0}")]
    Other(String),
}

/// Runs flows from the job table.
#[derive(Clone)]
pub struct Worker {
    db: Db,
    settings: WorkerSettings,
    /// Drivers by provider name.
    providers: Arc<HashMap<String, Drivers>>,
    networks: Arc<LocalNetworks>,
    waker: Arc<Notify>,
    /// Identifies this worker in job leases.
    owner: String,
}

impl Worker {
    pub fn new(
        db: Db,
        settings: WorkerSettings,
        providers: HashMap<String, Drivers>,
        networks: Arc<LocalNetworks>,
        waker: Arc<Notify>,
    ) -> Self {
        Self {
            db,
            settings,
            providers: Arc::new(providers),
            networks,
            waker,
            owner: format!("worker-{}", uuid::Uuid::new_v4()),
        }
    }

    /// Works until the process ends: `concurrency` loops that each claim and run jobs
    /// (none at all when it is 0).
    pub async fn run(self, concurrency: usize) {
        if concurrency == 0 {
            return std::future::pending().await;
        }
        let mut loops = tokio::task::JoinSet::new();
        for _ in 0..concurrency {
            let worker = self.clone();
            loops.spawn(async move { worker.work_loop().await });
        }
        while loops.join_next().await.is_some() {}
    }

    async fn work_loop(&self) {
        loop {
            match self.run_one().await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(err) => tracing::error!(error = %err, "worker could not claim a job"),
            }
            tokio::select! {
                _ = self.waker.notified() => {}
                _ = tokio::time::sleep(self.settings.poll_interval) => {}
            }
        }
    }

    /// Claims one job and runs it to its end. Returns false when there was none.
    pub async fn run_one(&self) -> Result<bool, DbError> {
        let mut tx = self.db.begin().await?;
        let job = tx.claim_job(&self.owner, self.settings.lease).await?;
        tx.commit().await?;
        let Some(job) = job else {
            return Ok(false);
        };
        let renewal = self.keep_lease(&job.id);
        let result = self.run_job(&job).await;
        renewal.abort();
        if let Err(err) = result {
            tracing::error!(job = %job.id, error = %err, "job could not be recorded; its lease will expire and it will be resumed");
        }
        Ok(true)
    }

    /// Renews the lease of a job in the background while it runs.
    fn keep_lease(&self, job_id: &str) -> tokio::task::JoinHandle<()> {
        let db = self.db.clone();
        let owner = self.owner.clone();
        let lease = self.settings.lease;
        let job_id = job_id.to_string();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(lease / 3).await;
                let renewed = async {
                    let mut tx = db.begin().await?;
                    tx.renew_lease(&job_id, &owner, lease).await?;
                    tx.commit().await
                }
                .await;
                if let Err(err) = renewed {
                    tracing::warn!(job = %job_id, error = %err, "could not renew job lease");
                }
            }
        })
    }

    fn drivers_for(&self, provider: &str) -> Drivers {
        self.providers
            .get(provider)
            .cloned()
            .unwrap_or_else(Drivers::noop)
    }

    async fn run_job(&self, job: &Job) -> Result<(), DbError> {
        let lb_id = job.flow.lb_id().to_string();
        let provider = {
            let mut tx = self.db.begin().await?;
            match tx.load_balancer(&lb_id).await? {
                Some(lb) => lb.provider,
                None => {
                    tracing::warn!(job = %job.id, lb = %lb_id, "load balancer is gone; closing job");
                    tx.finish_job(&job.id, JobState::Done, Some("load balancer is gone"))
                        .await?;
                    return tx.commit().await;
                }
            }
        };
        let ctx = tasks::Context {
            db: self.db.clone(),
            drivers: self.drivers_for(&provider),
            networks: self.networks.clone(),
            lb_id: lb_id.clone(),
        };
        let tasks = Task::plan(&job.flow);
        tracing::info!(job = %job.id, lb = %lb_id, flow = ?job.flow, resume_at = job.next_task, "running flow");
        for (index, task) in tasks.iter().enumerate().skip(job.next_task) {
            if let Err(err) = self.run_task(&ctx, *task).await {
                tracing::error!(job = %job.id, lb = %lb_id, ?task, error = %err, "flow failed; reverting");
                if let Err(revert_err) = finalize::revert(&ctx, &job.flow).await {
                    tracing::error!(job = %job.id, error = %revert_err, "revert failed");
                    return Err(match revert_err {
                        FlowError::Db(e) => e,
                        other => DbError::Corrupt(other.to_string()),
                    });
                }
                let mut tx = self.db.begin().await?;
                tx.finish_job(&job.id, JobState::Reverted, Some(&err.to_string()))
                    .await?;
                return tx.commit().await;
            }
            let mut tx = self.db.begin().await?;
            tx.record_progress(&job.id, &self.owner, index + 1, self.settings.lease)
                .await?;
            tx.commit().await?;
        }
        let mut tx = self.db.begin().await?;
        tx.finish_job(&job.id, JobState::Done, None).await?;
        tx.commit().await?;
        tracing::info!(job = %job.id, lb = %lb_id, "flow done");
        Ok(())
    }

    async fn run_task(&self, ctx: &tasks::Context, task: Task) -> Result<(), FlowError> {
        let mut attempt = 1;
        loop {
            match task.execute(ctx).await {
                Ok(()) => return Ok(()),
                Err(err) if attempt < self.settings.task_attempts => {
                    tracing::warn!(?task, attempt, error = %err, "task failed; retrying");
                    attempt += 1;
                    tokio::time::sleep(self.settings.retry_delay).await;
                }
                Err(err) => return Err(err),
            }
        }
    }
}
