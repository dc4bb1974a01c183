//! `switchback history [PLAN]`: the event log — step transitions, control actions and errors,
//! each with its time and actor, oldest first.

use crate::cli::database::{block_on, Format, LedgerQuery};
use crate::cli::{write_stdout, Failure, Outcome};
use switchback::ledger::Ledger;
use switchback::pg::connect;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    query: LedgerQuery,
}

pub fn run(args: Args, state_schema: &str) -> Result<Outcome, Failure> {
    let events = block_on(async {
        let info = args.query.connection.info()?;
        let client = connect::connect(&info, "switchback history").await?;
        let ledger = Ledger::new(
            state_schema,
            switchback::exec::actor("switchback history", &info.user),
        );
        Ok(if ledger.exists(&client).await? {
            ledger.history(&client, args.query.plan.as_deref()).await?
        } else {
            Vec::new()
        })
    })?;
    let output = match args.query.format {
        Format::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&serde_json::json!({ "version": 1, "events": events }))
                .expect("events serialize")
        ),
        Format::Text => events
            .iter()
            .map(|e| {
                let mut line = format!(
                    "{}  {}  {}",
                    e.at,
                    e.plan.as_deref().unwrap_or("-"),
                    e.actor
                );
                if let Some(step) = &e.step {
                    line.push_str(&format!("  {step}"));
                }
                line.push_str(&format!("  {}", e.kind));
                if !e.detail.is_empty() {
                    line.push_str(&format!(": {}", e.detail));
                }
                line + "\n"
            })
            .collect(),
    };
    write_stdout(&output)?;
    Ok(Outcome::Done)
}
