//! `switchback abort PLAN`: undoes a plan's expand stage exactly, before contract starts.

use crate::cli::database::{block_on, duration, Connection};
use crate::cli::{Failure, Outcome};
use crate::report::{reporter, Progress};
use std::time::Duration;
use switchback::exec::{Executor, Options};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The plan's id, or its file (the id is the file stem).
    #[arg(value_name = "PLAN")]
    plan: String,
    #[command(flatten)]
    connection: Connection,
    #[arg(long, value_parser = duration, default_value = "1m", value_name = "DURATION")]
    lock_retry_budget: Duration,
    /// How long this runner's hold on the plan lasts unless renewed (every third of it). A
    /// runner that dies on a direct connection is replaced at once; behind a pooler its
    /// hold runs out after this.
    #[arg(long, env = "SWITCHBACK_RUNNER_LEASE", value_parser = duration, default_value = "30s", value_name = "DURATION")]
    runner_lease: Duration,
    #[arg(long, value_enum, default_value = "auto")]
    progress: Progress,
}

pub fn run(args: Args, state_schema: &str) -> Result<Outcome, Failure> {
    let id = crate::cli::plan_id(&args.plan);
    let reporter = reporter(args.progress);
    let options = Options {
        state_schema: state_schema.to_owned(),
        lock_retry_budget: args.lock_retry_budget,
        application: "switchback abort".into(),
        runner_lease: args.runner_lease,
        ..Options::default()
    };
    block_on(async {
        let mut executor =
            Executor::connect(&args.connection.info()?, options, reporter.as_ref()).await?;
        executor.abort(&id).await?;
        Ok(Outcome::Done)
    })
}
