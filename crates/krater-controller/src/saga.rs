//! The saga engine: runs one claimed job to its end.
//!
//! The first run plans the flow and stores the plan with the job. Tasks run in order;
//! each one's database effects commit together with the job's progress, so a worker
//! that dies resumes at the first task whose effects did not commit. A task failing
//! for good (a permanent error, or a retryable one after `task_attempts`) turns the
//! flow to its reverts, which run from that task down to the first and are recorded
//! the same way; then the objects go to ERROR. A job claimed more than
//! `max_job_attempts` times (its tasks keep killing their workers) is reverted without
//! running its tasks again.

use crate::failpoint::Moment;
use crate::plan::{flow_name, plan, spares_taken, spares_wanted, Facts, Step};
use crate::tasks;
use crate::tasks::Context;
use crate::{finalize, FlowError, WorkerSettings};
use krater_db::{DbError, Job, JobState};
use krater_domain::flow::Flow;
use tokio_util::sync::CancellationToken;

/// How a run of a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Every task ran.
    Done,
    /// The flow reverted; its objects are in ERROR.
    Reverted,
    /// The worker is stopping: the job was given back between two tasks.
    Released,
    /// Another worker holds the job now; this one wrote nothing more.
    LeaseLost,
}

/// One job being run, with the signals that end a run early.
pub(crate) struct Run<'a> {
    pub ctx: &'a Context,
    pub settings: &'a WorkerSettings,
    pub job: &'a Job,
    /// The worker is stopping.
    pub stop: &'a CancellationToken,
    /// The lease keeper found the lease taken.
    pub lost: &'a CancellationToken,
}

impl Run<'_> {
    pub(crate) async fn run(&self) -> Result<Outcome, FlowError> {
        match self.drive().await {
            Err(FlowError::Db(DbError::LeaseLost { .. })) => Ok(Outcome::LeaseLost),
            other => other,
        }
    }

    async fn drive(&self) -> Result<Outcome, FlowError> {
        let settings = &self.settings;
        let steps = self.steps().await?;
        let job = self.job;
        if job.reverting {
            if job.attempts > settings.max_job_attempts + 1 {
                // The reverts themselves keep killing workers: end without them.
                return self.end_reverted().await;
            }
            return self.revert(&steps[..job.next_task.min(steps.len())]).await;
        }
        if job.attempts > settings.max_job_attempts {
            let error = format!(
                "gave up after {} attempts to run the flow",
                settings.max_job_attempts
            );
            let upto = (job.next_task + 1).min(steps.len());
            return self.start_revert(&steps[..upto], &error).await;
        }
        let flow = flow_name(&job.flow);
        for (index, step) in steps.iter().enumerate().skip(job.next_task) {
            if self.lost.is_cancelled() {
                return Ok(Outcome::LeaseLost);
            }
            if self.stop.is_cancelled() {
                let mut tx = self.ctx.write().await?;
                tx.release_job(&self.ctx.lease).await?;
                tx.commit().await?;
                return Ok(Outcome::Released);
            }
            let failpoint = format!("{flow}.{}", step.name());
            let result = if settings.failpoints.fire(&failpoint, Moment::Before) {
                Err(FlowError::Failpoint(failpoint.clone()))
            } else {
                self.execute(step).await
            };
            match result {
                Ok(mut tx) => {
                    if index + 1 == steps.len() {
                        tx.finish_job(&self.ctx.lease, JobState::Done, None).await?;
                    } else {
                        tx.record_progress(&self.ctx.lease, index + 1, false, settings.lease)
                            .await?;
                    }
                    settings.failpoints.fire(&failpoint, Moment::After);
                    tx.commit().await?;
                }
                Err(err @ FlowError::Db(DbError::LeaseLost { .. })) => return Err(err),
                Err(err) => {
                    tracing::error!(job = %job.id(), task = step.name(), error = %err, "flow failed; reverting");
                    return self.start_revert(&steps[..=index], &err.to_string()).await;
                }
            }
        }
        Ok(Outcome::Done)
    }

    /// The stored plan, or a new one stored now.
    async fn steps(&self) -> Result<Vec<Step>, FlowError> {
        if let Some(text) = &self.job.plan {
            return serde_json::from_str(text)
                .map_err(|e| FlowError::Other(format!("stored plan is corrupt: {e}")));
        }
        let gone = || FlowError::Other(format!("load balancer {} is gone", self.ctx.lb_id));
        // Asked before the write transaction: a dead amphora takes a while to answer.
        let vip_holder = match &self.job.flow {
            Flow::FailoverLoadBalancer { .. } => {
                let graph = self
                    .ctx
                    .db
                    .read()
                    .await?
                    .load_balancer_graph(&self.ctx.lb_id)
                    .await?;
                tasks::vip_holder(self.ctx, &graph).await
            }
            _ => None,
        };
        // One transaction: the spares the plan takes are claimed with it.
        let mut tx = self.ctx.write().await?;
        let lb = tx.load_balancer(&self.ctx.lb_id).await?.ok_or_else(gone)?;
        let amphorae = tx.amphorae_of(&self.ctx.lb_id).await?;
        let wanted = spares_wanted(&self.job.flow, &lb);
        let spares = if wanted > 0 {
            tx.ready_spares(self.settings.spare_heard_within, wanted)
                .await?
        } else {
            Vec::new()
        };
        let facts = Facts {
            amphorae: &amphorae,
            spares: &spares,
            vip_holder: vip_holder.as_deref(),
        };
        let steps = plan(&self.job.flow, &lb, &facts);
        for (spare, role) in spares_taken(&steps, &spares) {
            if !tx.claim_spare(&spare, &self.ctx.lb_id, role).await? {
                return Err(FlowError::Other(format!("spare amphora {spare} was taken")));
            }
            tracing::info!(lb = %self.ctx.lb_id, amphora = %spare, %role, "spare amphora taken");
        }
        let text = serde_json::to_string(&steps).map_err(|e| FlowError::Other(e.to_string()))?;
        tx.store_plan(&self.ctx.lease, &text).await?;
        tx.commit().await?;
        Ok(steps)
    }

    /// Runs a task, retrying what may pass on a second try.
    async fn execute(&self, step: &Step) -> Result<krater_db::Tx, FlowError> {
        let settings = &self.settings;
        let mut attempt = 1;
        loop {
            match step.execute(self.ctx).await {
                Ok(tx) => return Ok(tx),
                Err(err) if err.is_retryable() && attempt < settings.task_attempts => {
                    tracing::warn!(task = step.name(), attempt, error = %err, "task failed; retrying");
                    attempt += 1;
                    tokio::time::sleep(settings.retry_delay).await;
                }
                Err(err) => return Err(err),
            }
        }
    }

    async fn start_revert(&self, done: &[Step], error: &str) -> Result<Outcome, FlowError> {
        let mut tx = self.ctx.write().await?;
        tx.start_revert(&self.ctx.lease, done.len(), error, self.settings.lease)
            .await?;
        tx.commit().await?;
        self.revert(done).await
    }

    /// Undoes `done` from its last task down, recording each revert, then ends.
    async fn revert(&self, done: &[Step]) -> Result<Outcome, FlowError> {
        let settings = &self.settings;
        for (index, step) in done.iter().enumerate().rev() {
            if self.lost.is_cancelled() {
                return Ok(Outcome::LeaseLost);
            }
            let mut attempt = 1;
            let mut tx = loop {
                match step.revert(self.ctx).await {
                    Ok(tx) => break tx,
                    Err(err @ FlowError::Db(DbError::LeaseLost { .. })) => return Err(err),
                    Err(err) if attempt < settings.task_attempts => {
                        tracing::warn!(task = step.name(), attempt, error = %err, "revert failed; retrying");
                        attempt += 1;
                        tokio::time::sleep(settings.retry_delay).await;
                    }
                    Err(err) => {
                        // What it left is for `krater cleanup`; the objects still end in ERROR.
                        tracing::error!(task = step.name(), error = %err, "revert failed; going on");
                        break self.ctx.write().await?;
                    }
                }
            };
            tx.record_progress(&self.ctx.lease, index, true, settings.lease)
                .await?;
            tx.commit().await?;
        }
        self.end_reverted().await
    }

    async fn end_reverted(&self) -> Result<Outcome, FlowError> {
        let mut tx = self.ctx.write().await?;
        finalize::mark_error(&mut tx, &self.job.flow).await?;
        tx.finish_job(&self.ctx.lease, JobState::Reverted, None)
            .await?;
        tx.commit().await?;
        tracing::info!(job = %self.job.id(), lb = %self.ctx.lb_id, "flow reverted");
        Ok(Outcome::Reverted)
    }
}
