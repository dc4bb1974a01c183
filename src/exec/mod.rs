//! The executor: moves plans through their stages against a live database. One runner per
//! plan (a lease row in the ledger, which holds through a transaction pooler), a checksum that refuses edited plans, every step's effect and its
//! ledger row committed together where PostgreSQL allows it, and catalog checks that let a
//! re-run finish what a crash interrupted. The engine never prints: it emits `Event`s.

mod backfill;
pub mod events;
mod lag;
mod runner;
pub mod status;

use crate::error::Error;
use crate::graph;
use crate::ledger::{JobState, Ledger, PlanRow, Stage as LedgerStage, StepStatus};
use crate::pg::conninfo::ConnInfo;
use crate::pg::ddl::{self, LockPolicy, Retrier};
use crate::pg::facts::{CastFacts, Facts};
use crate::pg::query::Query;
use crate::pg::{catalog, connect};
use crate::plan::step::{Job, JobKind, Stage, Step};
use crate::plan::Plan;
pub use events::{Event, Reporter};
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio_postgres::Client;

#[derive(Debug, Clone)]
pub struct Options {
    pub state_schema: String,
    /// How long one statement may keep retrying for its lock.
    pub lock_retry_budget: Duration,
    /// Queue behind another runner of the same plan instead of failing.
    pub wait: bool,
    pub dry_run: bool,
    /// Replicas whose replay lag the backfill respects.
    pub replicas: Vec<ConnInfo>,
    /// Leave backfills to `switchback backfill` workers instead of running them inline.
    pub detach: bool,
    /// Recorded with every event and set as the sessions' application_name.
    pub application: String,
    /// How long a runner's hold on a plan lasts unless renewed (it is renewed every third of
    /// it): how long a runner that died behind a pooler keeps others out.
    pub runner_lease: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            state_schema: "switchback".into(),
            lock_retry_budget: Duration::from_secs(60),
            wait: false,
            dry_run: false,
            replicas: Vec::new(),
            detach: false,
            application: "switchback".into(),
            runner_lease: Duration::from_secs(30),
        }
    }
}

/// What one `advance` did to one plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The expand stage is done and verified; deploy, then advance again.
    AtGate,
    Completed,
    AlreadyCompleted,
    /// A plan in `depends_on` has not completed.
    Waiting {
        dependency: String,
    },
    /// `--dry-run`: nothing was changed.
    DryRun,
    /// `--detach`: the expand stage stopped at a backfill left to workers.
    Detached {
        step: String,
    },
}

pub struct Executor<'r> {
    client: Client,
    /// A second connection, for reading who blocks the first.
    side: Client,
    info: ConnInfo,
    /// Why the connection looks pooled (session state does not last), or None when direct.
    pooled: Option<String>,
    /// This runner's name in the ledger's lease rows.
    runner: String,
    /// The plan this runner holds, renewed in the background.
    lease: Option<runner::Lease>,
    ledger: Ledger,
    options: Options,
    reporter: &'r dyn Reporter,
    lag: lag::LagProbe,
}

/// What one attempt of a step runs.
enum Attempt<'a> {
    /// Statements and the ledger's record of them, in one transaction.
    Transaction {
        setup: &'a str,
        statements: &'a [String],
        after: &'a str,
    },
    /// One statement on its own (CONCURRENTLY refuses a transaction block).
    Autocommit(&'a str),
}

/// The plan as the ledger stored it when it first ran: abort and workers use it, so they work
/// even when the file has moved on or is gone.
fn stored_plan(row: &PlanRow) -> Result<Plan, Error> {
    let (plan, findings) =
        crate::plan::check_text(Path::new(&format!("{}.yaml", row.id)), &row.definition);
    plan.ok_or_else(|| {
        let first = findings
            .first()
            .map(ToString::to_string)
            .unwrap_or_default();
        Error::Refused(format!(
            "read plan {} from the ledger: its stored definition no longer checks: {first}",
            row.id
        ))
    })
}

/// user@host:pid, naming a worker in the ledger.
pub fn worker_name() -> String {
    format!("{}:{}", user_at_host(), std::process::id())
}

/// Who does something, as the ledger records it: OS user@host, the database role and the
/// application (`ana@deploy-1 as migrator (switchback pause)`).
pub fn actor(application: &str, role: &str) -> String {
    format!("{} as {role} ({application})", user_at_host())
}

/// OS user@host, recorded with every ledger event.
fn user_at_host() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into());
    format!("{user}@{host}")
}

impl<'r> Executor<'r> {
    pub async fn connect(
        info: &ConnInfo,
        options: Options,
        reporter: &'r dyn Reporter,
    ) -> Result<Executor<'r>, Error> {
        let client = connect::connect(info, &options.application).await?;
        let side = connect::connect(info, &options.application).await?;
        connect::server_version(&client).await?;
        let pooled = connect::pooler(&client, info).await?;
        if let Some(why) = &pooled {
            tracing::info!("a pooler or proxy is in between ({why}): no session state is used");
        }
        Ok(Executor {
            ledger: Ledger::new(
                &options.state_schema,
                actor(&options.application, &info.user),
            ),
            client,
            side,
            info: info.clone(),
            pooled,
            runner: format!("{} #{:06x}", worker_name(), fastrand::u32(..0x100_0000)),
            lease: None,
            lag: lag::LagProbe::new(&options.replicas, &options.application),
            options,
            reporter,
        })
    }

    fn policy(&self, plan: &Plan) -> LockPolicy {
        LockPolicy {
            lock_timeout: plan.lock_timeout,
            budget: self.options.lock_retry_budget,
        }
    }

    async fn ledger_exists(&self) -> Result<bool, Error> {
        self.ledger.exists(&self.client).await
    }

    /// Reads what the plan needs from the catalog before it first runs.
    async fn read_facts(&self, plan: &Plan) -> Result<Facts, Error> {
        let mut facts = Facts::default();
        for change in &plan.changes {
            for need in change.catalog_columns() {
                let (schema, table, column) = (
                    plan.schema.as_str(),
                    need.table.as_str(),
                    need.column.as_str(),
                );
                facts.columns.push(
                    catalog::column_facts(&self.client, schema, table, column, need.moves).await?,
                );
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
        // has none).
        let steps = plan.steps(&self.options.state_schema, Some(&facts));
        for job in steps.steps.iter().filter_map(|s| s.job.as_ref()) {
            if facts.key(&job.table).is_none() {
                facts.keys.push(
                    catalog::table_key(&self.client, plan.schema.as_str(), &job.table).await?,
                );
            }
        }
        Ok(facts)
    }

    /// Moves `plan` one stage: expand (stopping at the gate), or contract.
    pub async fn advance(&mut self, plan: &Plan) -> Result<Outcome, Error> {
        if !self.options.dry_run {
            self.lock_plan(&plan.id).await?;
        }
        let result = self.advance_locked(plan).await;
        if !self.options.dry_run {
            self.unlock_plan(&plan.id).await;
        }
        result
    }

    async fn advance_locked(&mut self, plan: &Plan) -> Result<Outcome, Error> {
        let dry_run = self.options.dry_run;
        let row = if self.ledger_exists().await? {
            self.ledger.plan(&self.client, &plan.id).await?
        } else {
            None
        };
        for dependency in &plan.depends_on {
            let done = match self.ledger_exists().await? {
                true => self
                    .ledger
                    .plan(&self.client, &dependency.id)
                    .await?
                    .is_some_and(|d| d.stage == LedgerStage::Completed),
                false => false,
            };
            if !done {
                self.reporter.report(&Event::Waiting {
                    plan: plan.id.clone(),
                    dependency: dependency.id.clone(),
                });
                return Ok(Outcome::Waiting {
                    dependency: dependency.id.clone(),
                });
            }
        }
        let (facts, stage) = match row {
            Some(row) if row.checksum != plan.checksum => {
                return Err(Error::PlanEdited {
                    plan: plan.id.clone(),
                    recorded: row.checksum,
                    current: plan.checksum.clone(),
                });
            }
            Some(row) => (row.facts, row.stage),
            None => (self.read_facts(plan).await?, LedgerStage::Expanding),
        };
        let graph = graph::build_with(
            std::slice::from_ref(plan),
            &self.options.state_schema,
            |_| Some(&facts),
        )
        .map_err(|cycle| {
            Error::Refused(format!(
                "order the steps of plan {}: they form a cycle ({})",
                plan.id,
                cycle.0.join(", ")
            ))
        })?;
        let steps: Vec<Step> = graph.steps().cloned().collect();
        let run_stage = match stage {
            LedgerStage::Expanding => Stage::Expand,
            LedgerStage::Expanded | LedgerStage::Contracting => Stage::Contract,
            LedgerStage::Completed => return Ok(Outcome::AlreadyCompleted),
            LedgerStage::Aborting | LedgerStage::Aborted => {
                return Err(Error::Refused(format!("advance plan {}: it was aborted; run `switchback abort {}` to finish the abort, or start a new plan", plan.id, plan.id)));
            }
        };
        let statuses: HashMap<String, StepStatus> = if dry_run || !self.ledger_exists().await? {
            HashMap::new()
        } else {
            self.ledger.step_statuses(&self.client, &plan.id).await?
        };
        if dry_run {
            for step in steps.iter().filter(|s| {
                s.stage == run_stage && statuses.get(&s.name) != Some(&StepStatus::Done)
            }) {
                self.reporter.report(&Event::DryRun {
                    plan: plan.id.clone(),
                    step: step.name.clone(),
                    title: step.title.clone(),
                    statements: step.statements.iter().map(|s| s.sql.clone()).collect(),
                });
            }
            return Ok(Outcome::DryRun);
        }
        let pending: Vec<&Step> = steps
            .iter()
            .filter(|s| s.stage == run_stage && statuses.get(&s.name) != Some(&StepStatus::Done))
            .collect();
        self.admit(plan, &pending).await?;
        if statuses.is_empty() {
            let names: Vec<(String, String)> = steps
                .iter()
                .map(|s| (s.name.clone(), s.stage.as_str().to_owned()))
                .collect();
            let definition = std::fs::read_to_string(&plan.file).map_err(|source| Error::Read {
                path: plan.file.clone(),
                source,
            })?;
            self.ledger
                .insert_plan(
                    &mut self.client,
                    &plan.id,
                    &plan.checksum,
                    &definition,
                    &facts,
                    &names,
                )
                .await?;
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
        Ok(match run_stage {
            Stage::Expand => {
                self.ledger
                    .set_stage(&self.client, &plan.id, LedgerStage::Expanded)
                    .await?;
                self.reporter.report(&Event::Gate {
                    plan: plan.id.clone(),
                });
                Outcome::AtGate
            }
            Stage::Contract => {
                self.ledger
                    .set_stage(&self.client, &plan.id, LedgerStage::Completed)
                    .await?;
                self.reporter.report(&Event::Completed {
                    plan: plan.id.clone(),
                });
                Outcome::Completed
            }
        })
    }

    async fn run_step(&mut self, plan: &Plan, step: &Step) -> Result<(), Error> {
        self.check_lease(&plan.id)?;
        self.ledger
            .start_step(&self.client, &plan.id, &step.name)
            .await?;
        self.reporter.report(&Event::StepStarted {
            plan: plan.id.clone(),
            step: step.name.clone(),
            title: step.title.clone(),
        });
        let started = Instant::now();
        let result = match &step.job {
            Some(job) => self.run_job(plan, step, job).await,
            None if step.transactional => {
                self.run_in_transaction(
                    plan,
                    step,
                    &step
                        .statements
                        .iter()
                        .map(|s| s.sql.clone())
                        .collect::<Vec<_>>(),
                    false,
                )
                .await
            }
            None => self.run_outside_transaction(plan, step).await,
        };
        match result {
            Ok(()) => {
                self.reporter.report(&Event::StepDone {
                    plan: plan.id.clone(),
                    step: step.name.clone(),
                    seconds: started.elapsed().as_secs_f64(),
                });
                Ok(())
            }
            // Workers still running a detached backfill is not a failure of the step.
            Err(error @ Error::BackfillElsewhere { .. }) => Err(error),
            Err(error) => {
                let error = self.name_offenders(step, error).await;
                let _ = self
                    .ledger
                    .fail_step(&self.side, &plan.id, &step.name, &error.to_string())
                    .await;
                Err(error)
            }
        }
    }

    /// A VALIDATE that failed on existing rows becomes an error listing (some of) them.
    async fn name_offenders(&self, step: &Step, error: Error) -> Error {
        const CHECK_VIOLATION: &str = "23514";
        const FOREIGN_KEY_VIOLATION: &str = "23503";
        let (Some(query), Some(CHECK_VIOLATION | FOREIGN_KEY_VIOLATION)) =
            (&step.offenders, error.sqlstate())
        else {
            return error;
        };
        match self.client.fetch(query.as_str(), &[]).await {
            Ok(rows) if !rows.is_empty() => Error::Violation {
                step: step.name.clone(),
                cause: error.to_string(),
                rows: rows.iter().map(|r| r.get(0)).collect(),
            },
            _ => error,
        }
    }

    /// Runs a backfill or verification inline, as one worker; a backfill left to workers by
    /// `--detach` is waited for (`--wait`) or refused with exit 3 while they work.
    async fn run_job(&mut self, plan: &Plan, step: &Step, job: &Job) -> Result<(), Error> {
        backfill::prepare(self, plan, step, job, false).await?;
        let row = self
            .ledger
            .job(&self.client, &plan.id, &step.name)
            .await?
            .expect("the job was prepared");
        if !row.detached {
            return backfill::work(
                self,
                plan,
                step,
                job,
                &format!("{}:advance", worker_name()),
                backfill::DEFAULT_LEASE,
            )
            .await;
        }
        loop {
            let row = self
                .ledger
                .job(&self.client, &plan.id, &step.name)
                .await?
                .expect("the job was prepared");
            if row.state == JobState::Done {
                return Ok(());
            }
            if !self.options.wait {
                let percent = if row.rows_estimated > 0 {
                    100.0 * row.rows_done as f64 / row.rows_estimated as f64
                } else {
                    0.0
                };
                return Err(Error::BackfillElsewhere {
                    plan: plan.id.clone(),
                    step: step.name.clone(),
                    percent,
                });
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Works as one `switchback backfill` worker on every unfinished backfill of plan `id`,
    /// until none is left. Returns how many jobs it found.
    pub async fn work_on_backfills(
        &mut self,
        id: &str,
        worker: &str,
        lease: Duration,
    ) -> Result<usize, Error> {
        let Some(row) = self.ledger.plan(&self.client, id).await? else {
            return Err(Error::Refused(format!(
                "find plan {id} in the ledger: it has not started"
            )));
        };
        let plan = stored_plan(&row)?;
        let steps = plan
            .steps(&self.options.state_schema, Some(&row.facts))
            .steps;
        let mut found = 0;
        for step in &steps {
            let Some(job) = step.job.as_ref().filter(|j| j.kind == JobKind::Backfill) else {
                continue;
            };
            match self.ledger.job(&self.client, id, &step.name).await? {
                Some(j) if j.state != JobState::Done => {
                    found += 1;
                    backfill::work(self, &plan, step, job, worker, lease).await?;
                }
                _ => {}
            }
        }
        Ok(found)
    }

    fn retry_event(&self, plan: &Plan, step: &Step, retry: &ddl::Retry) {
        self.reporter.report(&Event::LockRetry {
            plan: plan.id.clone(),
            step: step.name.clone(),
            attempt: retry.attempt,
            wait_ms: retry.wait.as_millis() as u64,
            blockers: retry.blockers.clone(),
        });
    }

    /// One transaction: the statements, then the ledger's record of the step. `undo` marks
    /// the step undone instead of done, and keeps the dual-write trigger out of the way.
    async fn run_in_transaction(
        &mut self,
        plan: &Plan,
        step: &Step,
        statements: &[String],
        undo: bool,
    ) -> Result<(), Error> {
        let policy = self.policy(plan);
        let scans = step
            .statements
            .iter()
            .any(|s| s.work != crate::plan::sql::Work::Instant);
        let mut setup = ddl::transaction_settings(&policy, scans);
        if undo {
            setup.push_str("; SET LOCAL switchback.backfill = 'on'");
        }
        let after = self.ledger.finish_step_sql(
            &plan.id,
            &step.name,
            if undo {
                StepStatus::Undone
            } else {
                StepStatus::Done
            },
        );
        self.with_retries(
            plan,
            step,
            &policy,
            Attempt::Transaction {
                setup: &setup,
                statements,
                after: &after,
            },
        )
        .await
    }

    /// Runs one attempt until it succeeds, retrying lock timeouts within the budget.
    async fn with_retries(
        &mut self,
        plan: &Plan,
        step: &Step,
        policy: &LockPolicy,
        attempt: Attempt<'_>,
    ) -> Result<(), Error> {
        let relation = step
            .strongest_lock()
            .map(|l| l.relation.clone())
            .unwrap_or_default();
        let mut retrier = Retrier::new(policy, &step.name, &relation);
        loop {
            let result = match &attempt {
                Attempt::Transaction {
                    setup,
                    statements,
                    after,
                } => ddl::in_transaction(&mut self.client, setup, statements, after).await,
                Attempt::Autocommit(sql) => self.client.batch_execute(sql).await,
            };
            let error = match result {
                Ok(()) => return Ok(()),
                Err(source) => Error::Sql {
                    context: format!("run step {} of plan {}", step.name, plan.id),
                    source,
                },
            };
            let retry = retrier.after_failure(error, &self.side).await?;
            self.retry_event(plan, step, &retry);
            tokio::time::sleep(retry.wait).await;
        }
    }

    /// A step whose statements run one by one (CONCURRENTLY refuses a transaction), checking
    /// the catalog first so a re-run finishes or repairs an interrupted build.
    async fn run_outside_transaction(&mut self, plan: &Plan, step: &Step) -> Result<(), Error> {
        let policy = self.policy(plan);
        for statement in &step.statements {
            if let Some(index) = &statement.builds_index {
                match catalog::index_valid(&self.client, index).await? {
                    Some(true) => continue,
                    Some(false) => {
                        let drop = format!("DROP INDEX CONCURRENTLY IF EXISTS {index}");
                        self.run_alone(plan, step, &policy, &drop, false).await?
                    }
                    None => {}
                }
            }
            self.run_alone(plan, step, &policy, &statement.sql, false)
                .await?;
        }
        self.ledger
            .finish_step(&self.client, &plan.id, &step.name, StepStatus::Done)
            .await
    }

    /// One statement of a step that runs statement by statement. One that may run in a
    /// transaction gets its own, with `SET LOCAL` timeouts (and, for `undo`, the setting that
    /// keeps the dual-write trigger from re-filling the values abort puts back); one that may
    /// not (CONCURRENTLY) runs bare, with session timeouts around it on a direct connection
    /// only: behind a pooler a session `SET` would land on some other client's session.
    async fn run_alone(
        &mut self,
        plan: &Plan,
        step: &Step,
        policy: &LockPolicy,
        sql: &str,
        undo: bool,
    ) -> Result<(), Error> {
        if !ddl::refuses_transaction(sql) {
            let mut setup = ddl::transaction_settings(policy, true);
            if undo {
                setup.push_str("; SET LOCAL switchback.backfill = 'on'");
            }
            let statements = [sql.to_owned()];
            let attempt = Attempt::Transaction {
                setup: &setup,
                statements: &statements,
                after: "",
            };
            return self.with_retries(plan, step, policy, attempt).await;
        }
        let direct = self.pooled.is_none();
        if direct {
            self.client
                .batch_execute(&format!(
                    "SET lock_timeout = '{}ms'; SET statement_timeout = 0",
                    policy.lock_timeout.as_millis()
                ))
                .await
                .map_err(Error::sql("set the session's lock_timeout"))?;
        }
        let result = self
            .with_retries(plan, step, policy, Attempt::Autocommit(sql))
            .await;
        if direct {
            self.client
                .batch_execute("RESET lock_timeout; RESET statement_timeout")
                .await
                .map_err(Error::sql("reset the session's timeouts"))?;
        }
        result
    }

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
                    "abort plan {id}: its contract stage has started, and contract is forward-only (the old shape is gone); write a new plan to change it back"
                )));
            }
            LedgerStage::Aborted => return Ok(()),
            _ => {}
        }
        let plan = stored_plan(&row)?;
        let graph = graph::build_with(
            std::slice::from_ref(&plan),
            &self.options.state_schema,
            |_| Some(&row.facts),
        )
        .map_err(|cycle| {
            Error::Refused(format!(
                "order the steps of plan {id}: {}",
                cycle.0.join(", ")
            ))
        })?;
        let statuses = self.ledger.step_statuses(&self.client, id).await?;
        let touched: Vec<Step> = graph
            .steps()
            .filter(|s| {
                s.stage == Stage::Expand
                    && statuses.get(&s.name).is_some_and(|status| status.has_run())
            })
            .cloned()
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
            let mut undo: Vec<String> = step.undo.iter().flatten().map(|s| s.sql.clone()).collect();
            // What a backfill's fills overwrote is in the ledger; it writes the restore.
            if let Some(job) = step.job.as_ref().filter(|j| j.kind == JobKind::Backfill) {
                undo.extend(self.ledger.restore_fills_sql(id, job)?);
            }
            if step.transactional {
                self.run_in_transaction(&plan, step, &undo, true).await?;
            } else {
                let policy = self.policy(&plan);
                for sql in &undo {
                    self.run_alone(&plan, step, &policy, sql, true).await?;
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

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }
}
