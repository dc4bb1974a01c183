//! `switchback import PATH... --out DIR`: SQL migrations (plain files, or the folders Drizzle,
//! Prisma, golang-migrate, sql-migrate, dbmate and goose write) become plan files, one per
//! migration. `--check` writes nothing and reports, with positions in the SQL files, exit 1
//! when a statement is unsafe and has no safe rewrite.

use crate::cli::validate::Format;
use crate::cli::{stdout_style, write_stdout, Failure, Outcome};
use std::path::PathBuf;
use switchback::plan::diagnostic::{self, Diagnostic};
use switchback::plan::migration;
use switchback::render::diagnostics;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// SQL migration files, or the folders a migration tool keeps them in.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Folder to write the plans into (created if missing); an existing plan of the same
    /// name is replaced.
    #[arg(long, value_name = "DIR", required_unless_present = "check")]
    out: Option<PathBuf>,
    /// Only report: write nothing, exit 1 when a statement has no safe rewrite.
    #[arg(long)]
    check: bool,
    #[arg(long, value_enum)]
    format: Option<Format>,
}

pub fn run(args: Args) -> Result<Outcome, Failure> {
    let migrations = migration::find(&args.paths)?;
    if migrations.is_empty() {
        return Err(Failure::Usage(
            "failed to import: no SQL migration found".into(),
        ));
    }
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("."));
    let plans = switchback::import::import(&migrations, &out);
    if !args.check {
        std::fs::create_dir_all(&out).map_err(|source| switchback::Error::Read {
            path: out.clone(),
            source,
        })?;
        for plan in &plans {
            let path = out.join(format!("{}.yaml", plan.id));
            std::fs::write(&path, &plan.text)
                .map_err(|source| switchback::Error::Read { path, source })?;
        }
    }
    let mut findings: Vec<Diagnostic> = plans.iter().flat_map(|p| p.findings.clone()).collect();
    diagnostic::sort(&mut findings);
    let files = diagnostics::Files {
        plans: 0,
        sql: migrations.len(),
    };
    let output = match args.format.unwrap_or_else(Format::from_environment) {
        Format::Text => {
            let mut text = diagnostics::text(&findings, files, stdout_style());
            let invalid = plans.iter().filter(|p| !p.valid).count();
            let verb = if args.check { "would write" } else { "wrote" };
            text.push_str(&format!(
                "{verb} {} plan{} to {}; {invalid} need{} changes before they run\n",
                plans.len(),
                if plans.len() == 1 { "" } else { "s" },
                out.display(),
                if invalid == 1 { "s" } else { "" }
            ));
            text
        }
        Format::Json => diagnostics::json(&findings, files),
        Format::Github => diagnostics::github(&findings),
    };
    write_stdout(&output)?;
    Ok(if plans.iter().all(|p| p.valid) {
        Outcome::Done
    } else {
        Outcome::Failed
    })
}
