//! `switchback status [PLAN]`: every plan's stage and steps, and each backfill's progress,
//! rate and ETA, read from the ledger.

use crate::cli::database::{block_on, duration, Format, LedgerQuery};
use crate::cli::{write_stdout, Failure, Outcome};
use std::io::IsTerminal;
use std::time::Duration;
use switchback::exec::status::{self, ContractCheck, PlanStatus};
use switchback::ledger::Ledger;
use switchback::pg::connect;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    query: LedgerQuery,
    /// Refresh until interrupted: text redraws, JSON prints one document per line.
    #[arg(long)]
    watch: bool,
    /// How often --watch refreshes.
    #[arg(long, value_parser = duration, default_value = "2s", value_name = "DURATION")]
    interval: Duration,
}

pub fn run(args: Args, state_schema: &str) -> Result<Outcome, Failure> {
    let terminal = std::io::stdout().is_terminal();
    block_on(async {
        let info = args.query.connection.info()?;
        let client = connect::connect(&info, "switchback status").await?;
        let ledger = Ledger::new(
            state_schema,
            switchback::exec::actor("switchback status", &info.user),
        );
        loop {
            let plans = status::read(&client, &ledger, args.query.plan.as_deref()).await?;
            let output = match (args.query.format, args.watch) {
                (Format::Json, false) => format!(
                    "{}\n",
                    serde_json::to_string_pretty(&document(&plans)).expect("status serializes")
                ),
                (Format::Json, true) => format!(
                    "{}\n",
                    serde_json::to_string(&document(&plans)).expect("status serializes")
                ),
                // On a terminal each refresh redraws the screen; piped, refreshes follow each other.
                (Format::Text, true) if terminal => format!("\x1b[2J\x1b[H{}", text(&plans)),
                (Format::Text, true) => format!("{}\n", text(&plans)),
                (Format::Text, false) => text(&plans),
            };
            write_stdout(&output)?;
            if !args.watch {
                return Ok(Outcome::Done);
            }
            tokio::time::sleep(args.interval).await;
        }
    })
}

fn document(plans: &[PlanStatus]) -> serde_json::Value {
    serde_json::json!({ "version": 1, "plans": plans })
}

fn text(plans: &[PlanStatus]) -> String {
    if plans.is_empty() {
        return "no plans have run against this database\n".into();
    }
    let mut out = String::new();
    for plan in plans {
        out.push_str(&format!(
            "{}  {}  (updated {})\n",
            plan.id, plan.stage, plan.updated_at
        ));
        for step in &plan.steps {
            out.push_str(&format!(
                "  {:<9} {:<8} {}",
                step.stage, step.status, step.name
            ));
            if let Some(error) = &step.last_error {
                out.push_str(&format!("  — {error}"));
            }
            out.push('\n');
        }
        match &plan.contract {
            Some(ContractCheck::Unchecked { why }) => out.push_str(&format!(
                "  contract: cannot check whether the application still uses what it removes: {why}\n"
            )),
            Some(ContractCheck::Checked { statements, since, hidden }) => {
                if statements.is_empty() {
                    let since = since.as_deref().map_or(String::new(), |s| format!(" since {s}"));
                    out.push_str(&format!("  contract: no statement has used what it removes{since}\n"));
                } else {
                    out.push_str(&format!("  contract: {} statement(s) used what it removes; contract waits until none has run for a while, and refuses while one runs:\n", statements.len()));
                    for statement in statements {
                        out.push_str(&format!("    {statement}\n"));
                    }
                }
                if *hidden > 0 {
                    out.push_str(&format!("    ({hidden} statement(s) of other roles could not be read: grant pg_read_all_stats)\n"));
                }
            }
            None => {}
        }
        for archive in &plan.archives {
            out.push_str(&format!(
                "  archive: {}",
                crate::cli::archive::line(archive)
            ));
        }
        for job in &plan.jobs {
            let eta = job
                .eta_seconds
                .map_or(String::from("-"), |s| format!("{s:.0}s"));
            out.push_str(&format!(
                "  {} {}: {}/{} rows ({:.1}%), {:.0} rows/s, ETA {eta}, {}\n",
                job.step,
                job.relation,
                job.rows_done,
                job.rows_estimated,
                job.percent,
                job.rows_per_second,
                job.state
            ));
            if let Some(note) = &job.note {
                out.push_str(&format!("    {note}\n"));
            }
            for worker in &job.workers {
                out.push_str(&format!(
                    "    worker {} (last heartbeat {})\n",
                    worker.name, worker.last_heartbeat
                ));
            }
        }
    }
    out
}
