//! Plan files: reading them (YAML through serde, positions through the source map), checking
//! them, and the validated model the planner expands into steps.

pub mod allow;
pub mod archive;
pub mod change;
pub mod check;
pub mod diagnostic;
pub mod duration;
pub mod expand;
pub mod explain;
pub mod folder;
mod lint;
pub mod live;
mod load;
pub mod migration;
pub mod record;
pub mod revert;
mod semantics;
pub mod source;
pub mod sql;
pub mod step;

use crate::plan::change::Change;
use crate::plan::check::Ident;
use crate::plan::diagnostic::Position;
use std::path::PathBuf;
use std::time::Duration;

pub use load::{check_text, load_file};

/// A plan another plan must see completed first.
#[derive(Debug, Clone)]
pub struct Dependency {
    pub id: String,
    pub position: Option<Position>,
    pub field: String,
}

/// Starting values for a plan's backfills; `throttle` changes them while it runs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BackfillSettings {
    /// Sessions `advance` runs each backfill and verification with, side by side.
    pub workers: u16,
    pub batch_size: u64,
    #[serde(serialize_with = "serialize_duration")]
    pub target_batch_time: Duration,
    /// 0 means unlimited.
    pub max_rows_per_second: u64,
    #[serde(serialize_with = "serialize_duration")]
    pub max_replica_lag: Duration,
}

impl Default for BackfillSettings {
    fn default() -> Self {
        BackfillSettings {
            workers: DEFAULT_WORKERS,
            batch_size: 10_000,
            target_batch_time: Duration::from_millis(50),
            max_rows_per_second: 0,
            max_replica_lag: Duration::from_secs(10),
        }
    }
}

/// One session per backfill unless the plan asks for more.
pub const DEFAULT_WORKERS: u16 = 1;

/// The most sessions a plan may ask `advance` to backfill with.
pub const MAX_WORKERS: u16 = 64;

pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(2);

/// No parallel workers for the indexes switchback builds: a build takes one core, as a
/// backfill worker does, and leaves the others to the application. On a 2-core server,
/// PostgreSQL's default of two workers took both cores for the whole build, tripling the
/// application's p99 latency for its duration (README, Benchmark).
pub const DEFAULT_INDEX_WORKERS: u32 = 0;

/// PostgreSQL's upper bound for `max_parallel_maintenance_workers`.
pub const MAX_INDEX_WORKERS: u32 = 1024;

pub(crate) fn serialize_duration<S: serde::Serializer>(
    d: &Duration,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.serialize_str(&duration::format(*d))
}

/// A checked plan file.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The file stem: `20261122_users_full_name`.
    pub id: String,
    pub file: PathBuf,
    pub description: Option<String>,
    pub depends_on: Vec<Dependency>,
    pub schema: Ident,
    pub changes: Vec<Change>,
    pub backfill: BackfillSettings,
    pub lock_timeout: Duration,
    /// `max_parallel_maintenance_workers` for every index the plan's steps build.
    pub index_workers: u32,
    /// FNV-1a of the file's bytes; a plan whose file changed after it started is refused.
    pub checksum: String,
    /// The file's text, as checked and checksummed: what the ledger keeps.
    pub text: String,
    /// (later, earlier): change `later` uses something change `earlier` creates.
    pub change_dependencies: Vec<(usize, usize)>,
    /// Lint rules the plan silences, and where.
    pub allows: Vec<allow::Allow>,
    /// The row the migration's own tool keeps for it, written when the plan completes.
    pub record: Option<record::Record>,
    /// Whether contract keeps what it removes, unless a change says otherwise.
    pub archive: archive::Archive,
}

impl Plan {
    /// The tables and columns its contract stage drops or renames away, leaving out the
    /// changes an `if_exists` skipped (`skipped` says whether change `i` was).
    pub fn removed(&self, skipped: impl Fn(usize) -> bool) -> Vec<sql::usage::Removed> {
        let mut removed = Vec::new();
        for (index, change) in self.changes.iter().enumerate() {
            if skipped(index) {
                continue;
            }
            let footprint = change.footprint();
            if let Some((table, how)) = &footprint.removes_table {
                removed.push(sql::usage::Removed {
                    table: table.to_string(),
                    column: None,
                    how: how.clone(),
                });
            }
            if let Some(table) = &footprint.table {
                removed.extend(
                    footprint
                        .removes
                        .iter()
                        .map(|(column, how)| sql::usage::Removed {
                            table: table.to_string(),
                            column: Some(column.to_string()),
                            how: how.clone(),
                        }),
                );
            }
        }
        removed
    }
}
