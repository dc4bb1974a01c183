//! `switchback backfill [PLAN] [--workers N]`: runs backfills left by `advance --detach`.
//! Any number of these processes, on one machine or many, share a job: each worker claims a
//! key range with a lease, and a worker that dies has its range taken over when the lease
//! runs out.

use crate::cli::database::{block_on, duration, Connection};
use crate::cli::{write_stdout, Failure, Outcome};
use crate::report::{reporter, Progress};
use std::time::Duration;
use switchback::exec::{worker_name, Executor, Options};
use switchback::ledger::{Ledger, Stage};
use switchback::pg::connect;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this plan (its id); by default every plan with a detached backfill.
    plan: Option<String>,
    #[command(flatten)]
    connection: Connection,
    /// Sessions in this process (`throttle --workers` changes it while it runs).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=switchback::plan::MAX_WORKERS as i64))]
    workers: u16,
    /// How long a worker's claim on a range lasts without a heartbeat.
    #[arg(long, value_parser = duration, default_value = "10s", value_name = "DURATION")]
    lease: Duration,
    /// A replica whose replay lag the backfill respects; may be given several times.
    #[arg(long = "replica-url", value_name = "URL")]
    replica_urls: Vec<String>,
    #[arg(long, value_enum, default_value = "auto")]
    progress: Progress,
}

pub fn run(args: Args, state_schema: &str) -> Result<Outcome, Failure> {
    let reporter = reporter(args.progress);
    let options = Options {
        state_schema: state_schema.to_owned(),
        replicas: args
            .replica_urls
            .iter()
            .map(|url| connect::resolve(Some(url)))
            .collect::<Result<_, _>>()?,
        application: "switchback backfill".into(),
        ..Options::default()
    };
    let info = args.connection.info()?;
    let worked = block_on(async {
        let plans = match &args.plan {
            Some(id) => vec![id.clone()],
            None => {
                let client = connect::connect(&info, "switchback backfill").await?;
                let ledger = Ledger::new(
                    state_schema,
                    switchback::exec::actor("switchback backfill", &info.user),
                );
                ledger
                    .plans(&client)
                    .await?
                    .into_iter()
                    .filter(|p| p.stage == Stage::Expanding)
                    .map(|p| p.id)
                    .collect()
            }
        };
        let mut worked = 0;
        for id in plans {
            let mut executor = Executor::connect(&info, options.clone(), reporter.as_ref()).await?;
            worked = worked.max(
                executor
                    .work_on_backfills(&id, &worker_name(), args.workers, args.lease)
                    .await?,
            );
        }
        Ok(worked)
    })?;
    write_stdout(&format!(
        "{}\n",
        if worked == 0 {
            "no backfill to run"
        } else {
            "every backfill is done; run `switchback advance` to verify and reach the gate"
        }
    ))?;
    Ok(Outcome::Done)
}
