//! `switchback advance PLAN|DIR`: moves each plan one stage (expand, or contract).

use crate::cli::database::{block_on, duration, Connection};
use crate::cli::{load_plans, Failure, Outcome};
use crate::report::{reporter, Progress};
use std::path::PathBuf;
use std::time::Duration;
use switchback::exec::{self, Executor, Options};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Plan files or folders of plans; each plan moves at most one stage, in run order.
    #[arg(required = true, value_name = "PLAN")]
    plans: Vec<PathBuf>,
    #[command(flatten)]
    run: RunArgs,
}

/// How a plan's stage runs: shared by `advance` and `revert`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub connection: Connection,
    /// Print what would run and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Stop the expand stage at its backfill and leave it to `switchback backfill` workers;
    /// advance again once they are done.
    #[arg(long)]
    detach: bool,
    /// Wait for another runner of the same plan instead of exiting with code 3.
    #[arg(long)]
    wait: bool,
    /// How long one statement keeps retrying for its lock before giving up with exit code 3.
    #[arg(long, value_parser = duration, default_value = "1m", value_name = "DURATION")]
    lock_retry_budget: Duration,
    /// How long this runner's hold on the plan lasts unless renewed (every third of it). A
    /// runner that dies on a direct connection is replaced at once; behind a pooler its
    /// hold runs out after this.
    #[arg(long, env = "SWITCHBACK_RUNNER_LEASE", value_parser = duration, default_value = "30s", value_name = "DURATION")]
    runner_lease: Duration,
    /// Contract starts only when no statement that uses what it removes has run for this
    /// long (read from pg_stat_statements); one seen running refuses it with exit code 3.
    #[arg(long, env = "SWITCHBACK_UNUSED_FOR", value_parser = duration, default_value = "1m", value_name = "DURATION")]
    unused_for: Duration,
    /// Start contract even though pg_stat_statements shows statements that use what it
    /// removes; REASON is recorded in the plan's history.
    #[arg(long, value_name = "REASON")]
    force: Option<String>,
    #[arg(long, value_enum, default_value = "auto")]
    progress: Progress,
    /// A replica whose replay lag the backfill respects (the plan's max_replica_lag); may be
    /// given several times. Without one, the primary's pg_stat_replication is read.
    #[arg(long = "replica-url", value_name = "URL")]
    replica_urls: Vec<String>,
}

impl RunArgs {
    /// The executor's options, for the command named `application`.
    pub fn options(&self, state_schema: &str, application: &str) -> Result<Options, Failure> {
        Ok(Options {
            state_schema: state_schema.to_owned(),
            lock_retry_budget: self.lock_retry_budget,
            wait: self.wait,
            dry_run: self.dry_run,
            replicas: self
                .replica_urls
                .iter()
                .map(|url| switchback::pg::connect::resolve(Some(url)))
                .collect::<Result<_, _>>()?,
            detach: self.detach,
            application: application.into(),
            runner_lease: self.runner_lease,
            unused_for: self.unused_for,
            force: self.force.clone(),
        })
    }

    pub fn reporter(&self) -> Box<dyn switchback::exec::Reporter> {
        reporter(self.progress)
    }
}

pub fn run(args: Args, state_schema: &str) -> Result<Outcome, Failure> {
    let Some(set) = load_plans(&args.plans)? else {
        return Ok(Outcome::Failed);
    };
    let args = args.run;
    let reporter = args.reporter();
    let options = args.options(state_schema, "switchback advance")?;
    block_on(async {
        let mut executor =
            Executor::connect(&args.connection.info()?, options, reporter.as_ref()).await?;
        let mut blocked = false;
        for plan in &set.plans {
            blocked |= matches!(executor.advance(plan).await?, exec::Outcome::Waiting { .. });
        }
        Ok(if blocked {
            Outcome::Blocked
        } else {
            Outcome::Done
        })
    })
}
