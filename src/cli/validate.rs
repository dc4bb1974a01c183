//! `switchback validate PATH...`: every check that needs no database, for CI.

use crate::cli::plan::cycle_finding;
use crate::cli::{stdout_style, write_stdout, Failure, Outcome};
use std::path::PathBuf;
use switchback::plan::diagnostic;
use switchback::plan::folder;
use switchback::render::diagnostics;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    /// GitHub Actions workflow commands; chosen by default when GITHUB_ACTIONS=true.
    Github,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Plan files or folders of plans.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Count warnings as errors for the exit code.
    #[arg(long)]
    deny_warnings: bool,
}

pub fn run(args: Args, state_schema: &str) -> Result<Outcome, Failure> {
    let mut set = folder::load(&args.paths)?;
    if let Err(cycle) = switchback::graph::build(&set.plans, state_schema) {
        set.diagnostics.push(cycle_finding(&cycle));
        diagnostic::sort(&mut set.diagnostics);
    }
    let format = args.format.unwrap_or(
        if std::env::var("GITHUB_ACTIONS").as_deref() == Ok("true") {
            Format::Github
        } else {
            Format::Text
        },
    );
    let output = match format {
        Format::Text => diagnostics::text(&set.diagnostics, set.files, stdout_style()),
        Format::Json => diagnostics::json(&set.diagnostics, set.files),
        Format::Github => diagnostics::github(&set.diagnostics),
    };
    write_stdout(&output)?;
    let failed = set.has_errors() || (args.deny_warnings && !set.diagnostics.is_empty());
    Ok(if failed {
        Outcome::Failed
    } else {
        Outcome::Done
    })
}
