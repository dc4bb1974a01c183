//! `switchback validate PATH...`: every check that needs no database, for CI; with
//! `--database-url`, the checks against the live catalog too. SQL migration files and
//! folders (plain, Drizzle, Prisma, golang-migrate, sql-migrate, dbmate, goose) are linted
//! with the same rule codes. `--explain CODE` documents a finding code.

use crate::cli::database::block_on;
use crate::cli::plan::cycle_finding;
use crate::cli::{stdout_style, write_stdout, Failure, Outcome};
use std::path::PathBuf;
use switchback::plan::diagnostic::{self, Code, Severity};
use switchback::plan::{explain, folder, migration};
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
    /// Plan files or folders of plans; SQL migration files or folders (Drizzle, Prisma, ...).
    #[arg(required_unless_present = "explain", value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Also check against this database's catalog (read-only; one sample batch per
    /// backfilled table runs in a transaction that is rolled back). Not read from
    /// DATABASE_URL: CI opts in explicitly.
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// Explain a finding code (`W610`), or `all` for every code as Markdown.
    #[arg(long, value_name = "CODE", conflicts_with = "paths")]
    explain: Option<String>,
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Count warnings as errors for the exit code.
    #[arg(long)]
    deny_warnings: bool,
}

impl Format {
    /// GitHub annotations inside a GitHub Actions job, text elsewhere.
    pub fn from_environment() -> Format {
        if std::env::var("GITHUB_ACTIONS").as_deref() == Ok("true") {
            Format::Github
        } else {
            Format::Text
        }
    }
}

pub fn run(args: Args, state_schema: &str) -> Result<Outcome, Failure> {
    if let Some(code) = &args.explain {
        return explain(code);
    }
    let (sql_paths, plan_paths): (Vec<PathBuf>, Vec<PathBuf>) = args
        .paths
        .iter()
        .cloned()
        .partition(|p| migration::is_migration_path(p));
    let mut set = match plan_paths.is_empty() {
        true => folder::PlanSet::default(),
        false => folder::load(&plan_paths)?,
    };
    if let Err(cycle) = switchback::graph::build(&set.plans, state_schema) {
        set.diagnostics.push(cycle_finding(&cycle));
    }
    let migrations = migration::find(&sql_paths)?;
    let mut sql_files: Vec<&std::path::Path> = Vec::new();
    for m in &migrations {
        sql_files.push(&m.up.file);
        sql_files.extend(m.down.as_ref().map(|d| d.file.as_path()));
        set.diagnostics.extend(migration::lint(m));
    }
    sql_files.dedup();
    let files = diagnostics::Files {
        plans: set.files,
        sql: sql_files.len(),
    };
    if let Some(url) = &args.database_url {
        let live = block_on(async {
            let info = switchback::pg::connect::resolve(Some(url))?;
            let mut client = switchback::pg::connect::connect(&info, "switchback validate").await?;
            Ok(switchback::inspect::check(&mut client, &info, &set, state_schema).await?)
        })?;
        set.diagnostics.extend(live);
    }
    diagnostic::sort(&mut set.diagnostics);
    let output = match args.format.unwrap_or_else(Format::from_environment) {
        Format::Text => diagnostics::text(&set.diagnostics, files, stdout_style()),
        Format::Json => diagnostics::json(&set.diagnostics, files),
        Format::Github => diagnostics::github(&set.diagnostics),
    };
    write_stdout(&output)?;
    let warned = set
        .diagnostics
        .iter()
        .any(|d| d.severity == Severity::Warning);
    let failed = set.has_errors() || (args.deny_warnings && warned);
    Ok(if failed {
        Outcome::Failed
    } else {
        Outcome::Done
    })
}

fn explain(code: &str) -> Result<Outcome, Failure> {
    if code.eq_ignore_ascii_case("all") {
        write_stdout(&explain::markdown())?;
        return Ok(Outcome::Done);
    }
    match Code::parse(code) {
        Some(code) => {
            write_stdout(&explain::text(code))?;
            Ok(Outcome::Done)
        }
        None => Err(Failure::Usage(format!(
            "failed to explain `{code}`: no such code; `switchback validate --explain all` lists them"
        ))),
    }
}
