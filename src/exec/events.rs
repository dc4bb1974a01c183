//! What the engine tells the outside world while it works. Reporters subscribe; the engine
//! never prints.

use crate::error::Blocker;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A plan starts running a stage (`expand`, `contract`, or `abort`).
    Stage {
        plan: String,
        stage: String,
    },
    /// A change written with `IF [NOT] EXISTS` will not run: the catalog said no when the plan
    /// first ran (or, with `--dry-run`, says no now).
    Skipped {
        plan: String,
        change: usize,
        kind: String,
        why: String,
    },
    StepStarted {
        plan: String,
        step: String,
        title: String,
    },
    StepDone {
        plan: String,
        step: String,
        seconds: f64,
    },
    /// A statement could not get its lock in time and will be retried.
    LockRetry {
        plan: String,
        step: String,
        attempt: u32,
        wait_ms: u64,
        blockers: Vec<Blocker>,
    },
    /// A CONCURRENTLY statement waits for these sessions' transactions to end (it blocks no
    /// application statement meanwhile); reported when the set changes.
    WaitingForSessions {
        plan: String,
        step: String,
        seconds: f64,
        blockers: Vec<Blocker>,
    },
    /// A backfill or verification batch committed.
    Batch {
        plan: String,
        step: String,
        rows_done: i64,
        rows_estimated: i64,
        rows_per_second: f64,
        batch_size: i64,
        batch_ms: f64,
    },
    /// A release manager paused the plan; no batch runs until it is resumed.
    Paused {
        plan: String,
        step: String,
        by: String,
        reason: String,
    },
    Resumed {
        plan: String,
        step: String,
    },
    /// The backfill waits: replica lag over the limit, or unknown.
    Throttled {
        plan: String,
        step: String,
        reason: String,
    },
    Unthrottled {
        plan: String,
        step: String,
    },
    /// What the job's batches do about the application's own triggers and rules on its
    /// table: those they leave out, those they fire on every row they write, and why.
    Triggers {
        plan: String,
        step: String,
        skipped: Vec<String>,
        fired: Vec<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        why: Option<String>,
    },
    /// The process works the job with this many sessions from now on (`throttle --workers`).
    Sessions {
        plan: String,
        step: String,
        sessions: u16,
    },
    /// `advance --detach` left a backfill to `switchback backfill` workers.
    Detached {
        plan: String,
        step: String,
    },
    /// The verification pass found every row consistent.
    Verified {
        plan: String,
        step: String,
        rows: i64,
    },
    /// The expand stage is done: deploy the new application, then advance again.
    Gate {
        plan: String,
    },
    Completed {
        plan: String,
    },
    /// Whether the application still uses what contract removes cannot be checked here
    /// (pg_stat_statements is missing or unreadable), and why.
    UseUnchecked {
        plan: String,
        why: String,
    },
    /// Nothing has used what contract removes since `since` (pg_stat_statements); `hidden`
    /// statements of other roles could not be read.
    Unused {
        plan: String,
        since: Option<String>,
        hidden: usize,
    },
    /// Statements that use what contract removes ran since the last check older than the
    /// window; contract waits until a whole window passes without them.
    WaitingUntilUnused {
        plan: String,
        statements: Vec<String>,
        window: String,
    },
    /// `--force`: contract starts although statements may still use what it removes.
    ContractForced {
        plan: String,
        reason: String,
        statements: usize,
    },
    /// The migration's own tool now has it as applied (`record:` of an imported plan).
    Recorded {
        plan: String,
        tool: String,
        table: String,
    },
    Waiting {
        plan: String,
        dependency: String,
    },
    Undo {
        plan: String,
        step: String,
    },
    Aborted {
        plan: String,
    },
    /// `--dry-run`: a step that would run.
    DryRun {
        plan: String,
        step: String,
        title: String,
        statements: Vec<String>,
    },
}

pub trait Reporter: Send + Sync {
    fn report(&self, event: &Event);
}

/// Discards events (library users that only want the outcome).
pub struct Silent;

impl Reporter for Silent {
    fn report(&self, _: &Event) {}
}
