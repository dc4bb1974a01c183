//! Steps in the ledger: each step's status, attempts and last error. A step's record commits
//! with its effect where PostgreSQL allows it (`finish_step_sql` ends the step's own
//! transaction), so a re-run after a crash knows exactly what is done.

use super::{Ledger, StepStatus};
use crate::error::Error;
use crate::pg::query::Query;
use crate::pg::quote;
use std::collections::HashMap;

#[derive(Debug, Clone)]
pub struct StepRow {
    pub name: String,
    pub stage: String,
    pub status: StepStatus,
    pub attempts: i32,
    pub last_error: Option<String>,
}

impl Ledger {
    pub async fn steps(&self, client: &impl Query, plan: &str) -> Result<Vec<StepRow>, Error> {
        client
            .fetch(&format!("SELECT name, stage, status, attempts, last_error FROM {} WHERE plan_id = $1 ORDER BY started_at NULLS LAST, finished_at NULLS LAST, name", self.table("steps")), &[&plan])
            .await
            .map_err(Error::sql(format!("read the steps of plan {plan}")))?
            .iter()
            .map(|r| {
                Ok(StepRow {
                    name: r.get(0),
                    stage: r.get(1),
                    status: StepStatus::parse(r.get(2))?,
                    attempts: r.get(3),
                    last_error: r.get(4),
                })
            })
            .collect()
    }

    /// Each step's status by name.
    pub async fn step_statuses(
        &self,
        client: &impl Query,
        plan: &str,
    ) -> Result<HashMap<String, StepStatus>, Error> {
        Ok(self
            .steps(client, plan)
            .await?
            .into_iter()
            .map(|s| (s.name, s.status))
            .collect())
    }

    pub async fn start_step(
        &self,
        client: &impl Query,
        plan: &str,
        step: &str,
    ) -> Result<(), Error> {
        client
            .exec(
                &format!("UPDATE {} SET status = $3, attempts = attempts + 1, started_at = now(), last_error = NULL WHERE plan_id = $1 AND name = $2", self.table("steps")),
                &[&plan, &step, &StepStatus::Running.as_str()],
            )
            .await
            .map_err(Error::sql(format!("mark step {step} running")))?;
        self.event(client, plan, Some(step), "step started", "")
            .await
    }

    /// SQL that marks a step with `status`, for the end of the transaction doing the step's
    /// work, so the effect and its record commit together.
    pub fn finish_step_sql(&self, plan: &str, step: &str, status: StepStatus) -> String {
        format!(
            "UPDATE {steps} SET status = {status}, finished_at = now() WHERE plan_id = {plan} AND name = {step};
             INSERT INTO {events} (plan_id, step, actor, kind) VALUES ({plan}, {step}, {actor}, {kind});",
            steps = self.table("steps"),
            events = self.table("events"),
            status = quote::literal(status.as_str()),
            plan = quote::literal(plan),
            step = quote::literal(step),
            actor = quote::literal(&self.actor),
            kind = quote::literal(&format!("step {status}")),
        )
    }

    /// How many statements of a step that runs statement by statement have committed (of its
    /// undo when `undo`): a re-run starts after them.
    pub async fn statements_done(
        &self,
        client: &impl Query,
        plan: &str,
        step: &str,
        undo: bool,
    ) -> Result<usize, Error> {
        let done: i32 = client
            .fetch_one(
                &format!(
                    "SELECT {} FROM {} WHERE plan_id = $1 AND name = $2",
                    statements_column(undo),
                    self.table("steps")
                ),
                &[&plan, &step],
            )
            .await
            .map_err(Error::sql(format!("read the progress of step {step}")))?
            .get(0);
        Ok(usize::try_from(done).unwrap_or(0))
    }

    /// SQL that records `done` statements of the step committed, for the transaction of the
    /// last of them, so the statement and its record commit together.
    pub fn statements_done_sql(&self, plan: &str, step: &str, undo: bool, done: usize) -> String {
        format!(
            "UPDATE {} SET {} = {done} WHERE plan_id = {} AND name = {}",
            self.table("steps"),
            statements_column(undo),
            quote::literal(plan),
            quote::literal(step),
        )
    }

    /// Marks a step with `status` on its own (its effect committed already).
    pub async fn finish_step(
        &self,
        client: &impl Query,
        plan: &str,
        step: &str,
        status: StepStatus,
    ) -> Result<(), Error> {
        client
            .exec(
                &format!(
                    "WITH done AS (UPDATE {} SET status = $3, finished_at = now() WHERE plan_id = $1 AND name = $2)
                     INSERT INTO {} (plan_id, step, actor, kind) VALUES ($1, $2, $4, $5)",
                    self.table("steps"),
                    self.table("events")
                ),
                &[&plan, &step, &status.as_str(), &self.actor, &format!("step {status}")],
            )
            .await
            .map_err(Error::sql(format!("record step {step}")))?;
        Ok(())
    }

    pub async fn fail_step(
        &self,
        client: &impl Query,
        plan: &str,
        step: &str,
        error: &str,
    ) -> Result<(), Error> {
        client
            .exec(
                &format!(
                    "UPDATE {} SET status = $4, last_error = $3 WHERE plan_id = $1 AND name = $2",
                    self.table("steps")
                ),
                &[&plan, &step, &error, &StepStatus::Failed.as_str()],
            )
            .await
            .map_err(Error::sql(format!("mark step {step} failed")))?;
        self.event(client, plan, Some(step), "step failed", error)
            .await
    }
}

/// The column counting a step's committed statements, or its undo's.
fn statements_column(undo: bool) -> &'static str {
    match undo {
        true => "undo_statements_done",
        false => "statements_done",
    }
}
