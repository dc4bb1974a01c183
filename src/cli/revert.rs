//! `switchback revert PLAN`: takes a completed plan back with a plan of its own, written from
//! what its contract archived. Run it once to put the old shape and its data back while the
//! newer application runs, deploy the rollback, then run it again to remove the newer shape.

use crate::cli::advance::RunArgs;
use crate::cli::database::block_on;
use crate::cli::{Failure, Outcome};
use std::io::Write;
use switchback::exec::{self, Executor};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The completed plan's id, or its file (the id is the file stem).
    #[arg(value_name = "PLAN")]
    plan: String,
    /// Print the reverse plan (YAML) and change nothing.
    #[arg(long)]
    print: bool,
    #[command(flatten)]
    run: RunArgs,
}

pub fn run(args: Args, state_schema: &str) -> Result<Outcome, Failure> {
    let id = crate::cli::plan_id(&args.plan);
    let reporter = args.run.reporter();
    let options = args.run.options(state_schema, "switchback revert")?;
    block_on(async {
        let mut executor =
            Executor::connect(&args.run.connection.info()?, options, reporter.as_ref()).await?;
        let reverse = executor.revert_plan(&id).await?;
        if args.print {
            std::io::stdout().write_all(reverse.text.as_bytes())?;
            return Ok(Outcome::Done);
        }
        Ok(match executor.advance(&reverse).await? {
            exec::Outcome::Waiting { .. } => Outcome::Blocked,
            _ => Outcome::Done,
        })
    })
}
