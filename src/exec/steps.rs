//! Running one step: in one transaction with its ledger record where PostgreSQL allows it,
//! statement by statement where it does not (CONCURRENTLY), or as a backfill job; lock
//! timeouts retried within the budget; a VALIDATE that fails names the rows that break it.

use super::{backfill, worker_name, Event, Executor};
use crate::error::Error;
use crate::ledger::{JobState, StepStatus};
use crate::pg::catalog;
use crate::pg::ddl::{self, DdlPolicy, Retrier};
use crate::pg::query::Query;
use crate::pg::session;
use crate::plan::step::{Job, Statement, Step};
use crate::plan::Plan;
use std::time::{Duration, Instant};

/// How often a CONCURRENTLY statement's waits are looked at.
const WAIT_POLL: Duration = Duration::from_secs(2);

/// What one attempt of a step runs: statements and the ledger's record of them, in one
/// transaction.
struct Attempt<'a> {
    setup: &'a str,
    statements: &'a [String],
    after: &'a str,
}

impl Executor<'_> {
    pub(super) async fn run_step(&mut self, plan: &Plan, step: &Step) -> Result<(), Error> {
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

    /// Runs a backfill, verification, archive copy or restore inline, with as many sessions
    /// side by side as the job takes (`Job::sessions`, or `throttle --workers` while it runs); a backfill left to workers by
    /// `--detach` is waited for (`--wait`) or refused with exit 3 while they work.
    async fn run_job(&mut self, plan: &Plan, step: &Step, job: &Job) -> Result<(), Error> {
        backfill::prepare(self, plan, step, job, false).await?;
        let row = self
            .ledger
            .job(&self.client, &plan.id, &step.name)
            .await?
            .expect("the job was prepared");
        if !row.detached {
            let name = format!("{}:advance", worker_name());
            let workers = plan.backfill.workers;
            return backfill::crew::run(
                self,
                plan,
                step,
                job,
                &name,
                workers,
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

    /// After a failed attempt: the error itself when the retrier gives up (not a lock
    /// timeout, or the budget spent), else the retry reported (with who held the lock) and
    /// its wait waited out.
    pub(super) async fn back_off(
        &self,
        plan: &Plan,
        step: &Step,
        retrier: &mut Retrier<'_>,
        error: Error,
    ) -> Result<(), Error> {
        let retry = retrier.after_failure(error, &self.side).await?;
        self.reporter.report(&Event::LockRetry {
            plan: plan.id.clone(),
            step: step.name.clone(),
            attempt: retry.attempt,
            wait_ms: retry.wait.as_millis() as u64,
            blockers: retry.blockers.clone(),
        });
        tokio::time::sleep(retry.wait).await;
        Ok(())
    }

    /// One transaction: the statements, then the ledger's record of the step. `undo` marks
    /// the step undone instead of done, and keeps the dual-write trigger out of the way.
    pub(super) async fn run_in_transaction(
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
        // What the step archives is recorded first, its definition read from the catalog
        // before the step's DDL changes it, and commits with it.
        let mut statements = statements.to_vec();
        if !undo {
            for (at, archived) in step.archived.iter().enumerate() {
                statements.insert(at, self.ledger.record_archive_sql(&plan.id, archived));
            }
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
            Attempt {
                setup: &setup,
                statements: &statements,
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
        policy: &DdlPolicy,
        attempt: Attempt<'_>,
    ) -> Result<(), Error> {
        let mut retrier = step_retrier(step, policy);
        loop {
            let result = ddl::in_transaction(
                &mut self.client,
                attempt.setup,
                attempt.statements,
                attempt.after,
            )
            .await;
            let Err(source) = result else {
                return Ok(());
            };
            self.back_off(plan, step, &mut retrier, step_error(plan, step, source))
                .await?;
        }
    }

    /// A step whose statements run one by one (CONCURRENTLY refuses a transaction), checking
    /// the catalog first so a re-run finishes or repairs an interrupted build. A re-run starts
    /// after the statements the ledger says committed.
    async fn run_outside_transaction(&mut self, plan: &Plan, step: &Step) -> Result<(), Error> {
        let policy = self.policy(plan);
        let done = self
            .ledger
            .statements_done(&self.client, &plan.id, &step.name, false)
            .await?;
        for (at, statement) in step.statements.iter().enumerate().skip(done) {
            if let Some(condition) = &statement.only_if {
                let holds: bool = self
                    .client
                    .fetch_one(&format!("SELECT {condition}"), &[])
                    .await
                    .map_err(Error::sql(format!(
                        "check a condition of step {}",
                        step.name
                    )))?
                    .get(0);
                if !holds {
                    continue;
                }
            }
            if !self.still_to_run(plan, step, &policy, statement).await? {
                continue;
            }
            self.run_alone(plan, step, &policy, &statement.sql, false, Some(at + 1))
                .await?;
        }
        self.ledger
            .finish_step(&self.client, &plan.id, &step.name, StepStatus::Done)
            .await
    }

    /// Whether a CONCURRENTLY statement is still to run, as the catalog tells: a build not
    /// once its index is valid, a drop not once its index is gone (a crash after the
    /// statement, before the ledger heard of it, or a statement that finished after its
    /// runner died). An INVALID leftover of an interrupted build is dropped first.
    pub(super) async fn still_to_run(
        &mut self,
        plan: &Plan,
        step: &Step,
        policy: &DdlPolicy,
        statement: &Statement,
    ) -> Result<bool, Error> {
        if let Some(index) = &statement.drops_index {
            return Ok(catalog::index_valid(&self.client, index).await?.is_some());
        }
        let Some(index) = &statement.builds_index else {
            return Ok(true);
        };
        match catalog::index_valid(&self.client, index).await? {
            Some(true) => Ok(false),
            Some(false) => {
                let drop = format!("DROP INDEX CONCURRENTLY IF EXISTS {index}");
                self.run_alone(plan, step, policy, &drop, false, None)
                    .await?;
                Ok(true)
            }
            None => Ok(true),
        }
    }

    /// One statement of a step that runs statement by statement. One that may run in a
    /// transaction gets its own, with `SET LOCAL` settings (and, for `undo`, the setting that
    /// keeps the dual-write trigger from re-filling the values abort puts back); one that may
    /// not (CONCURRENTLY) runs bare, with the same settings for the session around it on a
    /// direct connection only: behind a pooler a session `SET` would land on some other
    /// client's session, so the role's settings apply there.
    ///
    /// `position` is the statement's place in the step's list (of its undo's when `undo`),
    /// recorded in the ledger as it commits: in its transaction, or right after a bare one
    /// (a crash between the two repeats that statement alone).
    pub(super) async fn run_alone(
        &mut self,
        plan: &Plan,
        step: &Step,
        policy: &DdlPolicy,
        sql: &str,
        undo: bool,
        position: Option<usize>,
    ) -> Result<(), Error> {
        let record = position
            .map(|n| {
                self.ledger
                    .statements_done_sql(&plan.id, &step.name, undo, n)
            })
            .unwrap_or_default();
        if !ddl::refuses_transaction(sql) {
            let mut setup = ddl::transaction_settings(policy, true);
            if undo {
                setup.push_str("; SET LOCAL switchback.backfill = 'on'");
            }
            let statements = [sql.to_owned()];
            let attempt = Attempt {
                setup: &setup,
                statements: &statements,
                after: &record,
            };
            return self.with_retries(plan, step, policy, attempt).await;
        }
        // No lock_timeout here: such a statement takes SHARE UPDATE EXCLUSIVE, which no
        // application statement waits for, and then waits for every transaction older than
        // itself, on any table, to end. A lock_timeout counts that wait, so any transaction
        // open longer than it would cancel the build (and leave its index INVALID). It waits
        // instead, naming the sessions it waits for.
        let direct = self.pooled.is_none();
        // An index build writes the whole index to the WAL page by page (`pg::session`).
        let compress = direct && session::may_compress(&mut self.client).await?;
        if direct {
            let mut settings = format!(
                "SET lock_timeout = 0; SET statement_timeout = 0; SET max_parallel_maintenance_workers = {}",
                policy.index_workers
            );
            if compress {
                settings.push_str("; ");
                settings.push_str(session::COMPRESS_SESSION);
            }
            self.client
                .batch_execute(&settings)
                .await
                .map_err(Error::sql("set the session's settings"))?;
            // Without a lock_timeout, a runner killed while its statement waits would leave the
            // statement waiting, to finish whenever its blockers end: the server checks every
            // second that the runner is still there. (Only some platforms can; elsewhere the
            // re-run copes with a statement that finished late, as behind a pooler.)
            if let Err(error) = self
                .client
                .batch_execute("SET client_connection_check_interval = '1s'")
                .await
            {
                tracing::debug!(%error, "the server cannot watch for a dead runner");
            }
        }
        let result = self.run_bare(plan, step, policy, sql).await;
        if direct {
            let mut reset = "RESET lock_timeout; RESET statement_timeout; RESET max_parallel_maintenance_workers; RESET client_connection_check_interval".to_owned();
            if compress {
                reset.push_str("; RESET wal_compression");
            }
            self.client
                .batch_execute(&reset)
                .await
                .map_err(Error::sql("reset the session's settings"))?;
        }
        result?;
        if !record.is_empty() {
            self.client
                .batch_execute(&record)
                .await
                .map_err(Error::sql(format!(
                    "record a statement of step {}",
                    step.name
                )))?;
        }
        Ok(())
    }

    /// A statement that refuses a transaction, reporting the sessions it waits for while it
    /// runs. Behind a pooler the role's lock_timeout applies: a build it cancels left an
    /// INVALID index, dropped before the retry.
    async fn run_bare(
        &mut self,
        plan: &Plan,
        step: &Step,
        policy: &DdlPolicy,
        sql: &str,
    ) -> Result<(), Error> {
        let builds = crate::plan::sql::index_built(sql);
        let mut retrier = step_retrier(step, policy);
        loop {
            let result = tokio::select! {
                result = self.client.batch_execute(sql) => result,
                never = watch_waits(&self.side, self.reporter, plan, step, sql) => match never {},
            };
            let Err(source) = result else {
                return Ok(());
            };
            self.back_off(plan, step, &mut retrier, step_error(plan, step, source))
                .await?;
            if let Some(index) = &builds {
                if catalog::index_valid(&self.client, index).await? == Some(false) {
                    self.client
                        .batch_execute(&format!("DROP INDEX CONCURRENTLY IF EXISTS {index}"))
                        .await
                        .map_err(Error::sql(format!(
                            "drop the INVALID index {index} a cancelled build left"
                        )))?;
                }
            }
        }
    }
}

/// Retries of a step's statements, named by the relation its strongest lock is on.
fn step_retrier<'a>(step: &'a Step, policy: &'a DdlPolicy) -> Retrier<'a> {
    let relation = step.strongest_lock().map_or("", |l| l.relation.as_str());
    Retrier::new(policy, &step.name, relation)
}

fn step_error(plan: &Plan, step: &Step, source: tokio_postgres::Error) -> Error {
    Error::Sql {
        context: format!("run step {} of plan {}", step.name, plan.id),
        source,
    }
}

/// Reports, every time the set changes, the sessions the statement `sql` waits for; never
/// ends (the statement it watches does).
async fn watch_waits(
    side: &tokio_postgres::Client,
    reporter: &dyn super::Reporter,
    plan: &Plan,
    step: &Step,
    sql: &str,
) -> std::convert::Infallible {
    let started = Instant::now();
    let mut reported: Vec<i32> = Vec::new();
    loop {
        tokio::time::sleep(WAIT_POLL).await;
        let Ok(blockers) = catalog::blocking(side, sql).await else {
            continue;
        };
        let pids: Vec<i32> = blockers.iter().map(|b| b.pid).collect();
        if !pids.is_empty() && pids != reported {
            reporter.report(&Event::WaitingForSessions {
                plan: plan.id.clone(),
                step: step.name.clone(),
                seconds: started.elapsed().as_secs_f64(),
                blockers,
            });
        }
        reported = pids;
    }
}
