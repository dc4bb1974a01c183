//! `advance`: one plan moved one stage. Admission decides what may run (dependencies, an
//! edited plan, the stage, grants and the pooler) before anything changes; the plan's first
//! run is recorded with the facts it read and the exact text whose checksum was taken; then
//! the stage's steps run in graph order. The steps are expanded once per run.

use super::{backfill, ordered_steps, Event, Executor, Outcome};
use crate::error::Error;
use crate::ledger::{Stage as LedgerStage, StepStatus};
use crate::pg::catalog::{self, Partitioning};
use crate::pg::facts::{CastFacts, Facts, IndexDefinition, PartitionedTable, SkippedChange};
use crate::plan::change::{refuses_incoming, Decision};
use crate::plan::revert;
use crate::plan::step::{JobKind, Stage, Step};
use crate::plan::Plan;
use std::collections::HashMap;

/// What admission found: the stage to run, its steps, and what the ledger knows of them.
struct Admitted {
    run_stage: Stage,
    steps: Vec<Step>,
    facts: Facts,
    /// Empty when the plan has not started.
    statuses: HashMap<String, StepStatus>,
    /// Where the ledger has the plan; a plan not yet recorded is expanding.
    stage: LedgerStage,
}

impl Executor<'_> {
    /// Moves `plan` one stage: expand (stopping at the gate), or contract.
    pub async fn advance(&mut self, plan: &Plan) -> Result<Outcome, Error> {
        if !self.options.dry_run {
            self.lock_plan(&plan.id).await?;
        }
        let result = match self.admit_stage(plan).await {
            Ok(Ok(admitted)) if self.options.dry_run => Ok(self.dry_run(plan, &admitted)),
            Ok(Ok(admitted)) => self.run_stage(plan, admitted).await,
            Ok(Err(outcome)) => Ok(outcome),
            Err(error) => Err(error),
        };
        if !self.options.dry_run {
            self.unlock_plan(&plan.id).await;
        }
        result
    }

    /// What may run now, or the outcome that ends the call before anything changes.
    async fn admit_stage(&mut self, plan: &Plan) -> Result<Result<Admitted, Outcome>, Error> {
        let ledger_exists = self.ledger.exists(&self.client).await?;
        let row = match ledger_exists {
            true => self.ledger.plan(&self.client, &plan.id).await?,
            false => None,
        };
        for dependency in &plan.depends_on {
            let done = ledger_exists
                && self
                    .ledger
                    .plan(&self.client, &dependency.id)
                    .await?
                    .is_some_and(|d| d.stage == LedgerStage::Completed);
            if !done {
                self.reporter.report(&Event::Waiting {
                    plan: plan.id.clone(),
                    dependency: dependency.id.clone(),
                });
                return Ok(Err(Outcome::Waiting {
                    dependency: dependency.id.clone(),
                }));
            }
        }
        let (facts, steps, stage) = match row {
            Some(row) if row.checksum != plan.checksum => {
                return Err(Error::PlanEdited {
                    plan: plan.id.clone(),
                    recorded: row.checksum,
                    current: plan.checksum.clone(),
                });
            }
            Some(row) => {
                let steps = ordered_steps(plan, &self.options.state_schema, &row.facts)?;
                (row.facts, steps, row.stage)
            }
            None => {
                let (facts, steps) = self.read_facts(plan).await?;
                (facts, steps, LedgerStage::Expanding)
            }
        };
        let run_stage = match stage {
            LedgerStage::Expanding => Stage::Expand,
            LedgerStage::Expanded | LedgerStage::Contracting => Stage::Contract,
            LedgerStage::Completed => {
                let reverse = revert::id(&plan.id);
                return match self.ledger.plan(&self.client, &reverse).await? {
                    Some(r) if r.stage != LedgerStage::Aborted => Err(Error::Refused(format!(
                        "advance plan {}: `switchback revert {}` takes it back ({reverse} is {}); to apply its changes again, give the plan a new id",
                        plan.id,
                        plan.id,
                        r.stage.as_str()
                    ))),
                    _ => Ok(Err(Outcome::AlreadyCompleted)),
                };
            }
            LedgerStage::Aborting | LedgerStage::Aborted => {
                return Err(Error::Refused(format!("advance plan {}: it was aborted; run `switchback abort {}` to finish the abort, or start a new plan", plan.id, plan.id)));
            }
        };
        let statuses = match ledger_exists && !self.options.dry_run {
            true => self.ledger.step_statuses(&self.client, &plan.id).await?,
            false => HashMap::new(),
        };
        let admitted = Admitted {
            run_stage,
            steps,
            facts,
            statuses,
            stage,
        };
        if !self.options.dry_run {
            let archives = admitted.steps.iter().any(Step::archives);
            self.admit(plan, &admitted.pending().collect::<Vec<_>>(), archives)
                .await?;
        }
        Ok(Ok(admitted))
    }

    async fn read_facts(&self, plan: &Plan) -> Result<(Facts, Vec<Step>), Error> {
        let mut facts = Facts::default();
        // Read once per table, however many changes touch it.
        let mut partitionings: HashMap<String, Partitioning> = HashMap::new();
        for (index, change) in plan.changes.iter().enumerate() {
            if let Some(condition) = change.condition() {
                let schema = plan.schema.as_str();
                let presence = catalog::presence(&self.client, schema, condition.named()).await?;
                match condition.decide(presence, schema) {
                    Decision::Runs => {}
                    Decision::Skipped(why) => {
                        facts.skipped.push(SkippedChange { change: index, why });
                        continue;
                    }
                    Decision::Refused(why) => {
                        return Err(Error::Refused(format!(
                            "plan {}: changes[{index}] ({}): {why}",
                            plan.id,
                            change.kind()
                        )));
                    }
                }
            }
            // Partitioned tables first: what cannot run on one is refused before any step.
            if let Some(table) = change.footprint().subject() {
                if !partitionings.contains_key(table.as_str()) {
                    let read =
                        catalog::partitioning(&self.client, plan.schema.as_str(), table.as_str())
                            .await?;
                    partitionings.insert(table.to_string(), read);
                }
                let partitioning = &partitionings[table.as_str()];
                if let Err(why) = change.on_partitioned(partitioning) {
                    return Err(Error::Refused(format!(
                        "plan {}: changes[{index}] ({}): {why}",
                        plan.id,
                        change.kind()
                    )));
                }
                if let Partitioning::Flat { partitions, .. } = partitioning {
                    if facts.partitions(table.as_str()).is_none() {
                        facts.partitioned.push(PartitionedTable {
                            table: table.to_string(),
                            partitions: partitions.clone(),
                        });
                    }
                }
            }

            for index in change.catalog_indexes() {
                let schema = plan.schema.as_str();
                if let Some(definition) =
                    catalog::index_definition(&self.client, schema, index.as_str()).await?
                {
                    let partitions =
                        catalog::partition_index_names(&self.client, schema, index.as_str())
                            .await?;
                    facts.indexes.push(IndexDefinition {
                        name: index.to_string(),
                        definition,
                        partitions,
                    });
                }
            }
            for need in change.catalog_columns() {
                let (schema, table, column) = (
                    plan.schema.as_str(),
                    need.table.as_str(),
                    need.column.as_str(),
                );
                let read =
                    catalog::column_facts(&self.client, schema, table, column, need.moves).await?;
                let refused = need.moves.then(|| refuses_incoming(&read)).flatten();
                if let Some(why) = refused {
                    return Err(Error::Refused(format!(
                        "plan {}: changes[{index}] ({}): {why}",
                        plan.id,
                        change.kind()
                    )));
                }
                facts.columns.push(read);
                if let Some(to) = need.new_type {
                    let change =
                        crate::pg::cast::type_change(&self.client, schema, table, column, &to)
                            .await?;
                    facts.casts.push(CastFacts {
                        table: table.to_owned(),
                        column: column.to_owned(),
                        to,
                        rewrites: change.rewrites,
                    });
                }
            }
        }
        // The key is needed only by the backfills these facts leave (an in-place type change
        // has none): read once per table, handed to the jobs and kept with the facts.
        let mut steps = ordered_steps(plan, &self.options.state_schema, &facts)?;
        for job in steps.iter_mut().filter_map(|s| s.job.as_mut()) {
            if facts.key(&job.table).is_none() {
                let key = catalog::table_key(&self.client, plan.schema.as_str(), &job.table)
                    .await
                    .map_err(|error| match (&job.copy, error) {
                        (Some(copy), Error::Refused(_)) => Error::Refused(format!(
                            "plan {}: contract would copy `{}`.`{}` into the archive by the table's key, and it has no primary key or unique index over NOT NULL columns; add one (add_unique) first, or write `archive: false` on the change to drop it for good",
                            plan.id, job.table, copy.column
                        )),
                        (_, error) => error,
                    })?;
                facts.keys.push(key);
            }
            job.key = facts.key(&job.table).cloned();
        }
        // Expanded again with the keys: a step's SQL may name them (a revert's restore).
        let steps = match steps.iter().any(|s| s.job.is_some()) {
            true => ordered_steps(plan, &self.options.state_schema, &facts)?,
            false => steps,
        };
        Ok((facts, steps))
    }

    /// Says which conditional changes will not run, as decided when the plan first ran.
    fn report_skipped(&self, plan: &Plan, facts: &Facts) {
        for skipped in &facts.skipped {
            self.reporter.report(&Event::Skipped {
                plan: plan.id.clone(),
                change: skipped.change,
                kind: plan.changes[skipped.change].kind().to_owned(),
                why: skipped.why.clone(),
            });
        }
    }

    fn dry_run(&self, plan: &Plan, admitted: &Admitted) -> Outcome {
        if admitted.statuses.is_empty() {
            self.report_skipped(plan, &admitted.facts);
        }
        for step in admitted.pending() {
            self.reporter.report(&Event::DryRun {
                plan: plan.id.clone(),
                step: step.name.clone(),
                title: step.title.clone(),
                statements: step.statements.iter().map(|s| s.sql.clone()).collect(),
            });
        }
        Outcome::DryRun
    }

    /// Records the plan's first run, then runs the stage's pending steps in order.
    async fn run_stage(&mut self, plan: &Plan, admitted: Admitted) -> Result<Outcome, Error> {
        let Admitted {
            run_stage,
            steps,
            facts,
            statuses,
            stage,
        } = admitted;
        if statuses.is_empty() {
            let names: Vec<(String, String)> = steps
                .iter()
                .map(|s| (s.name.clone(), s.stage.as_str().to_owned()))
                .collect();
            self.ledger
                .insert_plan(
                    &mut self.client,
                    &plan.id,
                    &plan.checksum,
                    &plan.text,
                    &facts,
                    &names,
                )
                .await?;
            self.report_skipped(plan, &facts);
        }
        // Once a contract step has run there is no going back: a re-run after a crash
        // finishes it whatever the application does.
        if stage == LedgerStage::Expanded {
            self.await_unused(plan, &facts).await?;
        }
        if run_stage == Stage::Contract {
            self.ledger
                .set_stage(&self.client, &plan.id, LedgerStage::Contracting)
                .await?;
        }
        self.reporter.report(&Event::Stage {
            plan: plan.id.clone(),
            stage: run_stage.as_str().to_owned(),
        });
        for step in steps.iter().filter(|s| s.stage == run_stage) {
            if statuses.get(&step.name) == Some(&StepStatus::Done) {
                continue;
            }
            if let Some(job) = step
                .job
                .as_ref()
                .filter(|j| self.options.detach && j.kind == JobKind::Backfill)
            {
                self.ledger
                    .start_step(&self.client, &plan.id, &step.name)
                    .await?;
                backfill::prepare(self, plan, step, job, true).await?;
                self.reporter.report(&Event::Detached {
                    plan: plan.id.clone(),
                    step: step.name.clone(),
                });
                return Ok(Outcome::Detached {
                    step: step.name.clone(),
                });
            }
            self.run_step(plan, step).await?;
        }
        let (stage, event, outcome) = match run_stage {
            Stage::Expand => (
                LedgerStage::Expanded,
                Event::Gate {
                    plan: plan.id.clone(),
                },
                Outcome::AtGate,
            ),
            Stage::Contract => (
                LedgerStage::Completed,
                Event::Completed {
                    plan: plan.id.clone(),
                },
                Outcome::Completed,
            ),
        };
        if stage == LedgerStage::Expanded {
            self.sample_at_gate(plan, &facts).await?;
        }
        if stage == LedgerStage::Completed && plan.record.is_some() {
            self.complete_and_record(plan).await?;
        } else {
            self.ledger.set_stage(&self.client, &plan.id, stage).await?;
        }
        self.reporter.report(&event);
        Ok(outcome)
    }

    /// Marks the plan completed and writes its row in the migration tool's table in one
    /// transaction: after a crash, either both say it ran or neither does.
    async fn complete_and_record(&mut self, plan: &Plan) -> Result<(), Error> {
        let txn = self
            .client
            .transaction()
            .await
            .map_err(Error::sql("open a transaction"))?;
        txn.batch_execute(&format!(
            "SET LOCAL lock_timeout = '{}ms'",
            plan.lock_timeout.as_millis()
        ))
        .await
        .map_err(Error::sql("set lock_timeout"))?;
        let written = crate::ledger::record::write(&txn, plan).await?;
        self.ledger
            .set_stage(&txn, &plan.id, LedgerStage::Completed)
            .await?;
        txn.commit()
            .await
            .map_err(Error::sql("commit the plan's completion"))?;
        if let (true, Some(record)) = (written, &plan.record) {
            let schema = record.schema.as_ref().unwrap_or(&plan.schema);
            self.reporter.report(&Event::Recorded {
                plan: plan.id.clone(),
                tool: record.entry.tool().to_owned(),
                table: crate::pg::quote::qualified(schema.as_str(), record.table.as_str()),
            });
        }
        Ok(())
    }
}

impl Admitted {
    /// The stage's steps not done yet.
    fn pending(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(|s| {
            s.stage == self.run_stage && self.statuses.get(&s.name) != Some(&StepStatus::Done)
        })
    }
}
