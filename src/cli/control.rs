//! `pause`, `resume` and `throttle`: release managers steer a plan's backfill from any machine
//! that reaches the database. Each writes the plan's control row and an event naming who; the
//! running backfill obeys before its next batch.

use crate::cli::database::{block_on, duration, Connection};
use crate::cli::{write_stdout, Failure, Outcome};
use std::time::Duration;
use switchback::ledger::{ControlChange, Ledger};
use switchback::pg::connect;

#[derive(Debug, clap::Args)]
pub struct Target {
    /// The plan's id, or its file (the id is the file stem).
    #[arg(value_name = "PLAN")]
    plan: String,
    #[command(flatten)]
    connection: Connection,
}

#[derive(Debug, clap::Args)]
pub struct PauseArgs {
    #[command(flatten)]
    target: Target,
    /// Why, for whoever looks at `status` or `history`.
    #[arg(long, default_value = "")]
    reason: String,
}

#[derive(Debug, clap::Args)]
pub struct ThrottleArgs {
    #[command(flatten)]
    target: Target,
    /// Rows per batch from the next batch on (it then adapts to the target batch time).
    #[arg(long, value_parser = clap::value_parser!(i32).range(1..))]
    batch_size: Option<i32>,
    /// 0 removes the cap.
    #[arg(long)]
    max_rows_per_second: Option<i64>,
    #[arg(long, value_parser = duration, value_name = "DURATION")]
    target_batch_time: Option<Duration>,
    /// Sessions each process backfilling the plan works with, added or let go between batches.
    #[arg(long, value_parser = clap::value_parser!(i32).range(1..=switchback::plan::MAX_WORKERS as i64))]
    workers: Option<i32>,
}

pub fn pause(args: PauseArgs, state_schema: &str) -> Result<Outcome, Failure> {
    let reason = if args.reason.is_empty() {
        "no reason given".to_owned()
    } else {
        args.reason
    };
    apply(&args.target, state_schema, ControlChange::Pause { reason })
}

pub fn resume(args: Target, state_schema: &str) -> Result<Outcome, Failure> {
    apply(&args, state_schema, ControlChange::Resume)
}

pub fn throttle(args: ThrottleArgs, state_schema: &str) -> Result<Outcome, Failure> {
    if args.batch_size.is_none()
        && args.max_rows_per_second.is_none()
        && args.target_batch_time.is_none()
        && args.workers.is_none()
    {
        return Err(switchback::Error::Refused(
            "throttle: give --batch-size, --max-rows-per-second, --target-batch-time or --workers"
                .into(),
        )
        .into());
    }
    let change = ControlChange::Throttle {
        batch_size: args.batch_size,
        target_batch_ms: args
            .target_batch_time
            .map(|d| d.as_millis().clamp(1, i32::MAX as u128) as i32),
        max_rows_per_second: args.max_rows_per_second.map(|r| r.max(0)),
        workers: args.workers,
    };
    apply(&args.target, state_schema, change)
}

fn apply(target: &Target, state_schema: &str, change: ControlChange) -> Result<Outcome, Failure> {
    let id = crate::cli::plan_id(&target.plan);
    block_on(async {
        let info = target.connection.info()?;
        let application = format!("switchback {}", change.command());
        let client = connect::connect(&info, &application).await?;
        Ledger::new(
            state_schema,
            switchback::exec::actor(&application, &info.user),
        )
        .change_control(&client, &id, &change)
        .await?;
        Ok(())
    })?;
    let done = match change {
        ControlChange::Pause { .. } => "paused; no batch runs until `switchback resume`",
        ControlChange::Resume => "resumed",
        ControlChange::Throttle { .. } => {
            "throttled; the backfill uses the new settings from its next batch"
        }
    };
    write_stdout(&format!("{id}: {done}\n"))?;
    Ok(Outcome::Done)
}
