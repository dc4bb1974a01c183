//! Abort: the expand stage undone exactly, step by step in reverse, from the definition and
//! facts the ledger stored (the file may be gone), including the values fills overwrote.
//! Refused once contract has started.

use super::{ordered_steps, stored_plan, Event, Executor};
use crate::error::Error;
use crate::ledger::{Stage as LedgerStage, StepStatus};
use crate::pg::hooks;
use crate::plan::step::{JobKind, Stage, Statement, Step};

impl Executor<'_> {
    /// Undoes the expand stage of plan `id` exactly, from the definition and facts in the
    /// ledger (the file may be gone). Refused once contract has started.
    pub async fn abort(&mut self, id: &str) -> Result<(), Error> {
        self.lock_plan(id).await?;
        let result = self.abort_locked(id).await;
        self.unlock_plan(id).await;
        result
    }

    async fn abort_locked(&mut self, id: &str) -> Result<(), Error> {
        let row = self
            .ledger
            .plan(&self.client, id)
            .await?
            .ok_or_else(|| Error::Refused(format!("abort plan {id}: it has not started")))?;
        match row.stage {
            LedgerStage::Contracting | LedgerStage::Completed => {
                return Err(Error::Refused(format!(
                    "abort plan {id}: its contract stage has started, and the old shape is gone; once it completes, `switchback revert {id}` takes it back from the archive"
                )));
            }
            LedgerStage::Aborted => return Ok(()),
            _ => {}
        }
        let plan = stored_plan(&row)?;
        let steps = ordered_steps(&plan, &self.options.state_schema, &row.facts)?;
        let statuses = self.ledger.step_statuses(&self.client, id).await?;
        let touched: Vec<Step> = steps
            .into_iter()
            .filter(|s| {
                s.stage == Stage::Expand
                    && statuses.get(&s.name).is_some_and(|status| status.has_run())
            })
            .collect();
        if let Some(step) = touched.iter().find(|s| s.undo.is_none()) {
            return Err(Error::Refused(format!(
                "abort plan {id}: step {} cannot be undone by this version of switchback",
                step.name
            )));
        }
        self.ledger
            .set_stage(&self.client, id, LedgerStage::Aborting)
            .await?;
        self.reporter.report(&Event::Stage {
            plan: id.to_owned(),
            stage: "abort".into(),
        });
        for step in touched.iter().rev() {
            self.reporter.report(&Event::Undo {
                plan: id.to_owned(),
                step: step.name.clone(),
            });
            // Each statement with what a re-run checks first, for the step's own.
            let mut undo: Vec<(String, Option<&Statement>)> = step
                .undo
                .iter()
                .flatten()
                .map(|s| (s.sql.clone(), Some(s)))
                .collect();
            // What a backfill's fills overwrote is in the ledger; it writes the restore.
            if let Some(job) = step.job.as_ref().filter(|j| j.kind == JobKind::Backfill) {
                let restore = self.ledger.restore_fills_sql(id, job)?;
                if !restore.is_empty() {
                    // Putting back what a fill overwrote is no application write either:
                    // an abort leaves each row as it was, its `updated_at` included.
                    let quiet = hooks::for_batches(&mut self.client, &job.relation, &job.written())
                        .await?
                        .quiet;
                    undo.extend(
                        restore
                            .into_iter()
                            .map(|sql| (hooks::quietly(sql, quiet), None)),
                    );
                }
            }
            if step.transactional && !step.undo_alone {
                let statements: Vec<String> = undo.into_iter().map(|(sql, _)| sql).collect();
                self.run_in_transaction(&plan, step, &statements, true)
                    .await?;
            } else {
                let policy = self.policy(&plan);
                // A re-run after a crash starts after the statements that committed, and
                // finishes or repairs a build the crash interrupted.
                let done = self
                    .ledger
                    .statements_done(&self.client, id, &step.name, true)
                    .await?;
                for (at, (sql, statement)) in undo.iter().enumerate().skip(done) {
                    if let Some(statement) = statement {
                        if !self.still_to_run(&plan, step, &policy, statement).await? {
                            continue;
                        }
                    }
                    self.run_alone(&plan, step, &policy, sql, true, Some(at + 1))
                        .await?;
                }
                self.ledger
                    .finish_step(&self.client, id, &step.name, StepStatus::Undone)
                    .await?;
            }
        }
        self.ledger.forget_work(&self.client, id).await?;
        self.ledger
            .set_stage(&self.client, id, LedgerStage::Aborted)
            .await?;
        self.reporter.report(&Event::Aborted {
            plan: id.to_owned(),
        });
        Ok(())
    }
}
