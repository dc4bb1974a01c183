//! switchback's own tables in the target database (schema `switchback` by default): plans
//! with their checksum, definition and catalog facts; step states; backfill jobs with their
//! ranges and batch log; the values fills overwrote; the runners holding plans; samples of
//! pg_stat_statements for plans at the gate; what contract archived; and an event log. `Ledger` is the whole contract: nobody else names these tables or writes their SQL,
//! and the states they hold are enums everywhere else. One file per concern; the schema is
//! versioned so later releases can migrate it in place. Beside it, `record` keeps the
//! migration tools' own ledgers true for imported plans.

mod archives;
mod events;
mod fills;
mod jobs;
mod migrations;
mod plans;
mod ranges;
pub mod record;
mod runners;
mod state;
mod steps;
mod usage;

pub use archives::ArchiveRow;
pub use events::EventRow;
pub use jobs::{Activity, JobRow, NewJob, Walk};
pub use plans::{Control, ControlChange, PlanRow};
pub use ranges::{BatchRecord, Claim, Mismatches, RangeLease};
pub use runners::Holder;
use state::RangeState;
pub use state::{JobState, Stage, StepStatus};
pub use steps::StepRow;
pub use usage::{clock as usage_clock, Sample, StatementUse, Usage, UseCheck, DEFAULT_UNUSED_FOR};

use crate::error::Error;
use crate::pg::query::Query;
use crate::pg::quote;

#[derive(Debug, Clone)]
pub struct Ledger {
    /// Quoted.
    schema: String,
    /// As the catalog spells it.
    name: String,
    actor: String,
}

impl Ledger {
    /// `actor` is recorded with every event: OS user@host as role (application).
    pub fn new(schema: &str, actor: String) -> Ledger {
        Ledger {
            schema: quote::ident(schema),
            name: schema.to_owned(),
            actor,
        }
    }

    /// One of the ledger's tables, quoted and qualified; for the ledger's own SQL only.
    /// SQL true once the server session that `alias` (a row with `backend_pid` and
    /// `backend_start`) recorded is gone. A session of another role shows a NULL
    /// backend_start: counted as alive. A row that recorded none (behind a pooler) is never
    /// gone: only its lease running out frees it.
    fn session_gone(alias: &str) -> String {
        format!(
            "({alias}.backend_pid IS NOT NULL AND NOT EXISTS (
               SELECT 1 FROM pg_stat_activity a
                WHERE a.pid = {alias}.backend_pid
                  AND (a.backend_start = {alias}.backend_start OR a.backend_start IS NULL)))"
        )
    }

    fn table(&self, name: &str) -> String {
        format!("{}.{}", self.schema, quote::ident(name))
    }

    /// Whether the ledger has been created in this database (read-only commands and
    /// `--dry-run` must not create it).
    pub async fn exists(&self, client: &impl Query) -> Result<bool, Error> {
        Ok(client
            .fetch_one(
                "SELECT to_regclass($1) IS NOT NULL",
                &[&self.table("plans")],
            )
            .await
            .map_err(Error::sql("look for the ledger"))?
            .get(0))
    }
}
