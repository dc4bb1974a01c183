//! Command-line definitions and dispatch. Each command lives in its own module and returns
//! an `Outcome`; this module alone turns outcomes and errors into exit codes.

mod abort;
mod advance;
mod archive;
mod backfill;
mod control;
mod database;
mod demo;
mod history;
mod import;
mod plan;
mod revert;
mod status;
mod validate;

use clap::{Parser, Subcommand};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use switchback::render::{diagnostics, Style};

#[derive(Debug, Parser)]
#[command(
    name = "switchback",
    version,
    about = "Zero-downtime schema changes for PostgreSQL"
)]
struct Cli {
    /// Schema holding switchback's own objects (ledger tables, trigger functions).
    #[arg(
        long,
        global = true,
        default_value = "switchback",
        value_name = "SCHEMA"
    )]
    state_schema: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show the steps plans expand into: SQL, locks and what they block, stage by stage.
    Plan(plan::Args),
    /// Check plan files and folders (YAML, identifiers, SQL, conflicts, dependencies).
    Validate(validate::Args),
    /// Run each plan's next stage against the database: expand, or (after the deploy) contract.
    Advance(advance::Args),
    /// Run backfills left by `advance --detach`, with one or more workers.
    Backfill(backfill::Args),
    /// Undo a plan's expand stage exactly; refused once contract has started.
    Abort(abort::Args),
    /// Show every plan's stage, steps and backfill progress.
    Status(status::Args),
    /// Stop a plan's backfill before its next batch, from any machine.
    Pause(control::PauseArgs),
    /// Let a paused plan's backfill go on.
    Resume(control::Target),
    /// Change a running backfill's batch size, rate cap or target batch time.
    Throttle(control::ThrottleArgs),
    /// The event log: step transitions, control actions and errors, with who and when.
    History(history::Args),
    /// What contract kept instead of destroying, its size and retention; `purge` drops it.
    Archive(archive::Args),
    /// Take a completed plan back, its data from the archive: run once to put the old shape
    /// back (expand), again after the rollback deploy (contract).
    Revert(revert::Args),
    /// Turn SQL migrations (Drizzle, Prisma, golang-migrate, dbmate, goose, plain files) into
    /// plans that do the same without blocking the application.
    Import(import::Args),
    /// Run the whole story on a throwaway PostgreSQL with a concurrent writer.
    Demo(demo::Args),
}

/// How a command ended, as far as the exit code is concerned.
pub enum Outcome {
    /// Exit 0.
    Done,
    /// Exit 1: findings, a lint error, a failed step.
    Failed,
    /// Exit 3: a gate not yet passable (a dependency not completed).
    Blocked,
}

/// Failures that are not about the plans: unreadable files, a closed output.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error(transparent)]
    Library(#[from] switchback::Error),
    #[error("failed to write output: {0}")]
    Output(#[from] std::io::Error),
    /// The demo's throwaway cluster could not start.
    #[error(transparent)]
    Cluster(#[from] switchback::pg::cluster::ClusterError),
    /// Arguments clap accepts but the command cannot use.
    #[error("{0}")]
    Usage(String),
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // --help and --version are not errors.
            let _ = error.print();
            return if error.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let result = match cli.command {
        Command::Plan(args) => plan::run(args, &cli.state_schema),
        Command::Validate(args) => validate::run(args, &cli.state_schema),
        Command::Advance(args) => advance::run(args, &cli.state_schema),
        Command::Backfill(args) => backfill::run(args, &cli.state_schema),
        Command::Abort(args) => abort::run(args, &cli.state_schema),
        Command::Status(args) => status::run(args, &cli.state_schema),
        Command::Pause(args) => control::pause(args, &cli.state_schema),
        Command::Resume(args) => control::resume(args, &cli.state_schema),
        Command::Throttle(args) => control::throttle(args, &cli.state_schema),
        Command::History(args) => history::run(args, &cli.state_schema),
        Command::Archive(args) => archive::run(args, &cli.state_schema),
        Command::Revert(args) => revert::run(args, &cli.state_schema),
        Command::Demo(args) => demo::run(args, &cli.state_schema),
        Command::Import(args) => import::run(args),
    };
    match result {
        Ok(Outcome::Done) => ExitCode::SUCCESS,
        Ok(Outcome::Failed) => ExitCode::from(1),
        Ok(Outcome::Blocked) => ExitCode::from(3),
        Err(Failure::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(error) => {
            tracing::debug!(?error, "command failed");
            eprintln!("switchback: {error}");
            ExitCode::from(exit_code(&error))
        }
    }
}

/// The one place errors become exit codes: 1 a step or check failed, 2 usage or I/O,
/// 3 blocked (another runner, a lock that was not granted within the budget).
fn exit_code(error: &Failure) -> u8 {
    use switchback::Error;
    match error {
        Failure::Output(_) | Failure::Usage(_) | Failure::Cluster(_) => 2,
        Failure::Library(e) => match e {
            Error::Read { .. }
            | Error::NoPlans(_)
            | Error::Migrations { .. }
            | Error::Connect { .. }
            | Error::ConnInfo(_) => 2,
            Error::PlanBusy { .. }
            | Error::LockBudget { .. }
            | Error::BackfillElsewhere { .. }
            | Error::InUse { .. } => 3,
            Error::Sql { .. }
            | Error::PlanEdited { .. }
            | Error::Verification { .. }
            | Error::Violation { .. }
            | Error::Refused(_) => 1,
        },
    }
}

/// Styling for text written to stdout: colored on a terminal unless NO_COLOR is set.
fn stdout_style() -> Style {
    Style {
        color: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    }
}

fn stderr_style() -> Style {
    Style {
        color: std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    }
}

fn write_stdout(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// The plan id a command's PLAN argument names: the id itself, or a plan file (its name
/// without `.yaml`, `.yml` or `.sql`). Only those extensions are taken off: a revert's id
/// (`20261124_slim.revert`) is an id, not a file name.
fn plan_id(plan: &str) -> String {
    let name = std::path::Path::new(plan)
        .file_name()
        .map_or(plan.into(), |n| n.to_string_lossy());
    [".yaml", ".yml", ".sql"]
        .iter()
        .find_map(|ext| name.strip_suffix(ext))
        .unwrap_or(&name)
        .to_owned()
}

/// Loads and checks the plans under `paths`, printing findings to stderr; None when any is an
/// error (the command then exits 1).
fn load_plans(
    paths: &[std::path::PathBuf],
) -> Result<Option<switchback::plan::folder::PlanSet>, Failure> {
    let set = switchback::plan::folder::load(paths)?;
    if !set.diagnostics.is_empty() {
        write_stderr(&diagnostics::text(
            &set.diagnostics,
            diagnostics::Files::plans(set.files),
            stderr_style(),
        ));
    }
    Ok((!set.has_errors()).then_some(set))
}

fn write_stderr(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::plan_id;

    #[test]
    fn a_plan_argument_is_an_id_or_a_file() {
        assert_eq!(plan_id("20261124_slim"), "20261124_slim");
        assert_eq!(plan_id("20261124_slim.revert"), "20261124_slim.revert");
        assert_eq!(plan_id("plans/20261124_slim.yaml"), "20261124_slim");
        assert_eq!(plan_id("20261124_slim.yml"), "20261124_slim");
        assert_eq!(plan_id("db/migrate/20261124_slim.sql"), "20261124_slim");
    }
}
