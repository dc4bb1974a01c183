//! The executor: moves plans through their stages against a live database. One runner per
//! plan (a lease row in the ledger, which holds through a transaction pooler), a checksum that refuses edited plans, every step's effect and its
//! ledger row committed together where PostgreSQL allows it, and catalog checks that let a
//! re-run finish what a crash interrupted. The engine never prints: it emits `Event`s.

mod abort;
mod advance;
pub mod archive;
mod backfill;
pub mod events;
mod in_use;
mod lag;
mod revert;
mod runner;
pub mod status;
mod steps;

use crate::error::Error;
use crate::graph;
use crate::ledger::{JobState, Ledger, PlanRow};
use crate::pg::connect;
use crate::pg::conninfo::ConnInfo;
use crate::pg::ddl::DdlPolicy;
use crate::pg::facts::Facts;
use crate::plan::step::{JobKind, Step};
use crate::plan::Plan;
pub use events::{Event, Reporter};
use std::path::Path;
use std::time::Duration;
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
    /// How long nothing may have used what contract removes (pg_stat_statements) before
    /// contract starts.
    pub unused_for: Duration,
    /// Start contract even over statements still using what it removes; the reason is
    /// recorded.
    pub force: Option<String>,
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
            unused_for: crate::ledger::DEFAULT_UNUSED_FOR,
            force: None,
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

/// The plan's steps in run order, from the facts its first run read.
fn ordered_steps(plan: &Plan, state_schema: &str, facts: &Facts) -> Result<Vec<Step>, Error> {
    let graph = graph::build_with(std::slice::from_ref(plan), state_schema, |_| Some(facts))
        .map_err(|cycle| {
            Error::Refused(format!(
                "order the steps of plan {}: they form a cycle ({})",
                plan.id,
                cycle.0.join(", ")
            ))
        })?;
    Ok(graph.steps().cloned().collect())
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

    fn policy(&self, plan: &Plan) -> DdlPolicy {
        DdlPolicy {
            lock_timeout: plan.lock_timeout,
            budget: self.options.lock_retry_budget,
            index_workers: plan.index_workers,
        }
    }

    /// Works on every unfinished backfill of plan `id` as a `switchback backfill` process,
    /// until none is left: with `workers` sessions side by side (or as many as `throttle
    /// --workers` says), this executor's named `worker` and reporting for all. Returns how many
    /// jobs it found.
    pub async fn work_on_backfills(
        &mut self,
        id: &str,
        worker: &str,
        workers: u16,
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
                    backfill::crew::run(self, &plan, step, job, worker, workers, lease).await?;
                }
                _ => {}
            }
        }
        Ok(found)
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }
}
