//! The controller worker: claims jobs from the job table and runs their flows.
//!
//! A flow ([`krater_domain::flow::Flow`]) is planned into typed tasks ([`Step`], in
//! `plan.rs`), each with an execute and a revert (`tasks.rs`), run by the saga engine
//! (`saga.rs`): progress commits with each task's database effects, every write is
//! fenced by the job's lease, a failure reverts the flow and leaves its objects in
//! ERROR, never in PENDING_*. A worker renews the leases of its jobs while it runs them,
//! so a short lease lets another worker resume a dead worker's job within seconds.
//! Failpoints (`failpoint.rs`) let tests fail a task or end the process at one.

pub mod failpoint;
mod finalize;
mod plan;
mod saga;
pub mod spares;
mod tasks;

pub use failpoint::Failpoints;
pub use krater_render::VrrpOptions;
pub use plan::Step;

use krater_db::{Db, DbError, Job, JobState, Lease};
use krater_drivers::{AmphoraDriver, ComputeDriver, LocalNetworks, NetworkDriver};
use saga::Outcome;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

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
    /// How long a claimed job stays ours without a renewal; renewed every third of it.
    pub lease: Duration,
    /// How often an idle worker looks for jobs when nobody wakes it.
    pub poll_interval: Duration,
    /// Attempts of one task before the flow reverts.
    pub task_attempts: u32,
    /// Pause between two attempts of a task.
    pub retry_delay: Duration,
    /// Claims of one job before it is reverted without running its tasks again.
    pub max_job_attempts: i64,
    /// keepalived's timings in ACTIVE_STANDBY amphorae.
    pub vrrp: VrrpOptions,
    /// A spare amphora not heard from for this long (the health manager's
    /// `heartbeat_timeout`) is not taken.
    pub spare_heard_within: Duration,
    pub failpoints: Failpoints,
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
    #[error("failpoint {0}")]
    Failpoint(String),
    #[error("{0}")]
    Other(String),
}

impl FlowError {
    /// Whether trying the task again may succeed.
    fn is_retryable(&self) -> bool {
        match self {
            FlowError::Db(DbError::LeaseLost { .. }) => false,
            FlowError::Db(_) => true,
            FlowError::Driver(err) => err.is_retryable(),
            FlowError::Render(_) | FlowError::Failpoint(_) | FlowError::Other(_) => false,
        }
    }
}

/// Runs flows from the job table.
#[derive(Clone)]
pub struct Worker {
    db: Db,
    settings: WorkerSettings,
    /// Drivers by provider name.
    providers: Arc<HashMap<String, Drivers>>,
    networks: Arc<LocalNetworks>,
    /// Identifies this worker in job leases (and logs).
    owner: String,
}

impl Worker {
    pub fn new(
        db: Db,
        settings: WorkerSettings,
        providers: HashMap<String, Drivers>,
        networks: Arc<LocalNetworks>,
    ) -> Self {
        Self {
            db,
            settings,
            providers: Arc::new(providers),
            networks,
            owner: format!("worker-{}-{}", std::process::id(), uuid::Uuid::new_v4()),
        }
    }

    /// Works until `stop` is cancelled: `concurrency` loops that each claim and run
    /// jobs. A job running when `stop` comes finishes its current task and is given
    /// back for the next worker.
    pub async fn run(self, concurrency: usize, stop: CancellationToken) {
        let mut loops = tokio::task::JoinSet::new();
        for _ in 0..concurrency {
            let worker = self.clone();
            let stop = stop.clone();
            loops.spawn(async move { worker.work_loop(stop).await });
        }
        while loops.join_next().await.is_some() {}
    }

    async fn work_loop(&self, stop: CancellationToken) {
        while !stop.is_cancelled() {
            match self.run_one(&stop).await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(err) => tracing::error!(error = %err, "worker could not claim a job"),
            }
            tokio::select! {
                _ = self.db.watch_jobs() => {}
                _ = tokio::time::sleep(self.settings.poll_interval) => {}
                _ = stop.cancelled() => {}
            }
        }
    }

    /// Claims one job and runs it until it ends or is given back. Returns false when
    /// there was none.
    pub async fn run_one(&self, stop: &CancellationToken) -> Result<bool, DbError> {
        let mut tx = self.db.begin().await?;
        let job = tx.claim_job(&self.owner, self.settings.lease).await?;
        tx.commit().await?;
        let Some(job) = job else {
            return Ok(false);
        };
        let lost = CancellationToken::new();
        let renewal = self.keep_lease(job.lease.clone(), lost.clone());
        let result = self.run_job(&job, stop, &lost).await;
        renewal.abort();
        match result {
            Ok(outcome) => {
                tracing::info!(job = %job.id(), owner = %self.owner, ?outcome, "job ended here")
            }
            Err(err) => {
                tracing::error!(job = %job.id(), error = %err, "job could not be recorded; its lease will expire and it will be resumed")
            }
        }
        Ok(true)
    }

    /// Renews the lease in the background while the job runs; cancels `lost` when
    /// another worker holds the job.
    fn keep_lease(&self, lease: Lease, lost: CancellationToken) -> tokio::task::JoinHandle<()> {
        let db = self.db.clone();
        let duration = self.settings.lease;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(duration / 3).await;
                let renewed = async {
                    let mut tx = db.begin().await?;
                    tx.renew_lease(&lease, duration).await?;
                    tx.commit().await
                }
                .await;
                match renewed {
                    Ok(()) => {}
                    Err(DbError::LeaseLost { .. }) => {
                        tracing::warn!(job = %lease.job_id, "job lease lost to another worker; stopping it here");
                        lost.cancel();
                        return;
                    }
                    Err(err) => {
                        tracing::warn!(job = %lease.job_id, error = %err, "could not renew job lease")
                    }
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

    async fn run_job(
        &self,
        job: &Job,
        stop: &CancellationToken,
        lost: &CancellationToken,
    ) -> Result<Outcome, FlowError> {
        let lb_id = job.flow.lb_id().to_string();
        let provider = {
            let mut tx = self.db.begin().await?;
            tx.load_balancer(&lb_id).await?.map(|lb| lb.provider)
        };
        let Some(provider) = provider else {
            tracing::warn!(job = %job.id(), lb = %lb_id, "load balancer is gone; closing job");
            let mut tx = self.db.begin().await?;
            tx.fence(&job.lease).await?;
            tx.finish_job(&job.lease, JobState::Done, Some("load balancer is gone"))
                .await?;
            tx.commit().await?;
            return Ok(Outcome::Done);
        };
        let ctx = tasks::Context {
            db: self.db.clone(),
            drivers: self.drivers_for(&provider),
            networks: self.networks.clone(),
            lb_id: lb_id.clone(),
            lease: job.lease.clone(),
            vrrp: self.settings.vrrp.clone(),
        };
        tracing::info!(job = %job.id(), lb = %lb_id, flow = ?job.flow, resume_at = job.next_task,
            reverting = job.reverting, attempt = job.attempts, "running flow");
        saga::Run {
            ctx: &ctx,
            settings: &self.settings,
            job,
            stop,
            lost,
        }
        .run()
        .await
    }
}
