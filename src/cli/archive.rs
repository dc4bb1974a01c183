//! `switchback archive [PLAN]`: what contract kept instead of destroying (plan, object,
//! where, size, until when); `switchback archive purge --expired | NAME...` drops it for good.

use crate::cli::database::{block_on, Connection, Format};
use crate::cli::{write_stdout, Failure, Outcome};
use switchback::exec::archive::{self, Archive, Purge};
use switchback::ledger::Ledger;
use switchback::pg::connect;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    purge: Option<Action>,
    /// Only this plan's archives.
    plan: Option<String>,
    #[command(flatten)]
    connection: Connection,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Drop archives for good: those whose retention ran out, or those named (a plan id, what
    /// was removed such as users.nickname, or the archive table).
    Purge {
        #[arg(long, conflicts_with = "names", required_unless_present = "names")]
        expired: bool,
        #[arg(value_name = "NAME")]
        names: Vec<String>,
    },
}

pub fn run(args: Args, state_schema: &str) -> Result<Outcome, Failure> {
    let info = args.connection.info()?;
    let ledger = Ledger::new(
        state_schema,
        switchback::exec::actor("switchback archive", &info.user),
    );
    match args.purge {
        None => {
            let archives = block_on(async {
                let client = connect::connect(&info, "switchback archive").await?;
                Ok(archive::list(&client, &ledger, args.plan.as_deref()).await?)
            })?;
            write_stdout(&render(&archives, args.format))?;
        }
        Some(Action::Purge { expired, names }) => {
            let which = if expired {
                Purge::Expired
            } else {
                Purge::Named(names)
            };
            let purged = block_on(async {
                let mut client = connect::connect(&info, "switchback archive").await?;
                Ok(archive::purge(&mut client, &ledger, &which).await?)
            })?;
            let lines: String = match purged.is_empty() {
                true => "nothing to purge\n".into(),
                false => purged
                    .iter()
                    .map(|a| {
                        format!(
                            "purged {} (plan {}, kept in {})\n",
                            a.object, a.plan, a.kept_in
                        )
                    })
                    .collect(),
            };
            write_stdout(&lines)?;
        }
    }
    Ok(Outcome::Done)
}

fn render(archives: &[Archive], format: Format) -> String {
    match format {
        Format::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(
                &serde_json::json!({ "version": 1, "archives": archives })
            )
            .expect("archives serialize")
        ),
        Format::Text if archives.is_empty() => "nothing is kept in the archive\n".into(),
        Format::Text => archives.iter().map(line).collect(),
    }
}

/// One archive on one line: plan, what, where, size, retention.
pub fn line(a: &Archive) -> String {
    let row = &a.row;
    let state = match (&row.purged_at, a.expired) {
        (Some(at), _) => format!(
            "purged {} by {}",
            at.format("%Y-%m-%d %H:%M UTC"),
            row.purged_by.as_deref().unwrap_or("?")
        ),
        (None, true) => format!(
            "expired {} (purge with `switchback archive purge --expired`)",
            row.keep_until.format("%Y-%m-%d %H:%M UTC")
        ),
        (None, false) => format!("kept until {}", row.keep_until.format("%Y-%m-%d %H:%M UTC")),
    };
    let size = a.bytes.map_or(String::new(), |b| format!(", {}", bytes(b)));
    format!(
        "{}  {} {} -> {}{size}, {state}\n",
        row.plan, row.kind, row.object, row.kept_in
    )
}

fn bytes(n: i64) -> String {
    const UNITS: [&str; 4] = ["bytes", "kB", "MB", "GB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    match unit {
        0 => format!("{n} bytes"),
        _ => format!("{value:.1} {}", UNITS[unit]),
    }
}
