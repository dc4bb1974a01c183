//! The batch loop behind backfill and verification steps. A job's table is split into ranges
//! when the job is created, of blocks (`blocks.rs`: a plain table) or of key values (`key.rs`:
//! a partitioned table, or a fill of NULLs); workers (the inline `advance`, or any number of
//! `switchback backfill` processes) claim ranges with a lease and page through them. Each
//! batch's UPDATE, its range's cursor move and the batch's log line commit in one short
//! transaction, and only while the worker still holds the lease: a worker that lost its range
//! (it stalled, another took over) rolls its batch back, so no batch is done twice or
//! skipped. Batch size adapts towards the target batch time, the rate cap is shared by the
//! job's live workers, and pause, throttle and replica lag are obeyed before every batch.
//! The dual-write trigger skips these sessions (its WHEN clause reads
//! `switchback.backfill`), so batches pay no PL/pgSQL call per row.

mod blocks;
pub(super) mod crew;
mod key;
mod pace;

use crate::error::Error;
use crate::exec::{Event, Executor};
use crate::ledger::{
    BatchRecord, Claim, JobRow, JobState, Mismatches, NewJob, RangeLease, StepStatus, Walk,
};
use crate::pg::catalog;
use crate::pg::ddl::{self, DdlPolicy, Retrier};
use crate::pg::facts::TableKey;
use crate::pg::hooks;
use crate::pg::query::Query;
use crate::pg::session;
use crate::plan::expand::{backfill_filters, backfill_update, verify_predicate};
use crate::plan::step::{ArchiveCopy, Job, JobKind, Records, Step};
use crate::plan::Plan;
use crew::Seat;
use key::Key;
use pace::Pace;
use std::time::{Duration, Instant};

const MIN_BATCH: i64 = 100;
const MAX_BATCH: i64 = 200_000;
/// Ranges hold about this many batches, so several workers find work on a mid-sized table.
const BATCHES_PER_RANGE: i64 = 20;
const MAX_RANGES: i64 = 256;
/// The batch length an archive copy aims at, at least: its batches lock no row of the table,
/// so only the length of its transactions (which hold back vacuum) bounds them.
const ARCHIVE_BATCH_MS: i32 = 500;
/// How often a paused, throttled or idle worker looks again.
const POLL: Duration = Duration::from_millis(200);
/// How long a worker's claim on a range lasts without a heartbeat (every batch renews it).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(10);

fn table_key(job: &Job) -> Result<&TableKey, Error> {
    job.key.as_ref().ok_or_else(|| {
        Error::Refused(format!(
            "backfill {}: the plan's facts name no key for it",
            job.relation
        ))
    })
}

/// Creates the job's row and its ranges, once. A verification that failed before starts
/// over: the data may have been fixed. So does a job walking blocks whose table was
/// rewritten since (its rows moved).
pub(super) async fn prepare(
    ex: &mut Executor<'_>,
    plan: &Plan,
    step: &Step,
    job: &Job,
    detached: bool,
) -> Result<(), Error> {
    if let Some(row) = ex.ledger.job(&ex.client, &plan.id, &step.name).await? {
        if job.kind == JobKind::Verify && row.state == JobState::Failed {
            ex.ledger
                .restart_job(&ex.client, &plan.id, &step.name)
                .await?;
        }
        let Walk::Blocks { filenode, .. } = row.walk else {
            return Ok(());
        };
        if row.state == JobState::Done
            || blocks::filenode(&ex.client, &job.relation).await? == filenode
        {
            return Ok(());
        }
        tracing::warn!(step = %step.name, table = %job.relation, "the table was rewritten (VACUUM FULL, CLUSTER or pg_repack) while the job ran: it starts over");
    }
    let key = Key::new(table_key(job)?);
    if let Some(copy) = job.copy.as_ref().filter(|_| job.kind == JobKind::Archive) {
        archive_table(ex, plan, job, copy, &key).await?;
    }
    let estimated = catalog::estimated_rows(&ex.client, &job.relation).await?;
    let layout = blocks::layout(&ex.client, &job.relation, estimated).await?;
    let settings = &plan.backfill;
    let batch_size = (settings.batch_size as i64).clamp(MIN_BATCH, MAX_BATCH);
    let range_rows = (batch_size * BATCHES_PER_RANGE)
        .max(estimated / MAX_RANGES)
        .max(1);
    let ranges = ((estimated + range_rows - 1) / range_rows).clamp(1, MAX_RANGES);
    // A fill of NULLs leaves alone the NULLs a write does not write, and such a write may
    // move the row behind a block cursor: that backfill walks the key, which rows keep.
    let fills_nulls = job.kind == JobKind::Backfill
        && job.assignments.iter().any(|a| a.records == Records::Nulls);
    // An archive copy or a restore has no trigger to catch a row an UPDATE moves behind a
    // block cursor: it walks the key.
    let by_key = matches!(job.kind, JobKind::Archive | JobKind::Restore);
    let layout = layout.filter(|_| !fills_nulls && !by_key);
    let (walk, splits) = match &layout {
        Some(layout) => (
            Walk::Blocks {
                filenode: layout.filenode,
                end: layout.blocks,
            },
            blocks::splits(layout.blocks, ranges),
        ),
        // Split keys every `range_rows` rows, read from the key's index. An archive copy or a
        // restore runs inline, never on workers: one range spares that read.
        None if estimated > range_rows && !by_key => (Walk::Key, ex.client
            .fetch(
                &format!("SELECT ARRAY[{text}] FROM (SELECT {list}, row_number() OVER (ORDER BY {list}) AS n FROM {rel}) s WHERE n % {range_rows} = 0 ORDER BY {list}", text = key.as_text, list = key.list, rel = job.relation),
                &[],
            )
            .await
            .map_err(Error::sql(format!("split the keys of {}", job.relation)))?
            .iter()
            .map(|r| r.get(0))
            .collect()),
        None => (Walk::Key, Vec::new()),
    };
    let new = NewJob {
        plan: &plan.id,
        step: &step.name,
        relation: &job.relation,
        // Blocks times the statistics' rows per block: the estimate the batches size from.
        rows_estimated: layout.as_ref().map_or(estimated, |l| {
            (l.blocks as f64 * l.rows_per_block).round() as i64
        }),
        batch_size: batch_size as i32,
        target_batch_ms: settings.target_batch_time.as_millis().min(i32::MAX as u128) as i32,
        max_rows_per_second: settings.max_rows_per_second.min(i64::MAX as u64) as i64,
        detached,
        walk,
    };
    ex.ledger.create_job(&mut ex.client, &new, splits).await
}

/// Creates a column's archive table, once: empty and typed like the table (its key comes when
/// the copy is done, in `finish`). In one transaction, so a crash leaves it whole or absent.
async fn archive_table(
    ex: &mut Executor<'_>,
    plan: &Plan,
    job: &Job,
    copy: &ArchiveCopy,
    key: &Key,
) -> Result<(), Error> {
    if catalog::relation_exists(&ex.client, &copy.archive).await? {
        return Ok(());
    }
    let statements = [
        crate::pg::archive::ensure_schema(crate::plan::archive::SCHEMA),
        crate::pg::archive::column_table(
            &copy.archive,
            &job.relation,
            &key.list,
            &copy.columns(table_key(job)?),
        ),
    ];
    archive_ddl(
        ex,
        plan,
        format!("create the archive table {}", copy.archive),
        &statements,
    )
    .await
}

/// An archive table's DDL, in one transaction under the plan's lock_timeout; no statement
/// timeout, as giving it its key reads the whole copy.
async fn archive_ddl(
    ex: &mut Executor<'_>,
    plan: &Plan,
    what: String,
    statements: &[String],
) -> Result<(), Error> {
    let settings = ddl::transaction_settings(&ex.policy(plan), true);
    ddl::in_transaction(&mut ex.client, &settings, statements, "")
        .await
        .map_err(Error::sql(what))
}

/// Why a worker stopped working on a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Leave {
    /// No range is left and the job is finished.
    Done,
    /// The crew has one session too many (`throttle --workers`); its range was given back.
    LetGo,
}

/// Works on the job until no range is left, then finishes it (idempotently: several workers
/// may get there). The `seat` names this worker in the ledger; the crew's lead reports pauses
/// and throttling, which every worker obeys, once for all of them.
async fn work(
    ex: &mut Executor<'_>,
    plan: &Plan,
    step: &Step,
    job: &Job,
    seat: Seat<'_>,
    lease: Duration,
) -> Result<Leave, Error> {
    // A backfill or a restore writes the table; the application's triggers are not for it.
    let quiet = match job.kind {
        JobKind::Backfill | JobKind::Restore => {
            let hooks = hooks::for_batches(&mut ex.client, &job.relation, &job.written()).await?;
            if seat.lead() && !(hooks.skipped.is_empty() && hooks.fired.is_empty()) {
                ex.reporter.report(&Event::Triggers {
                    plan: plan.id.clone(),
                    step: step.name.clone(),
                    skipped: hooks.skipped,
                    fired: hooks.fired,
                    why: hooks.why,
                });
            }
            hooks.quiet
        }
        JobKind::Verify | JobKind::Archive => false,
    };
    let taken = session::for_batches(&mut ex.client, job.kind != JobKind::Verify).await?;
    let policy = ex.policy(plan);
    let w = Worker {
        plan,
        step,
        job,
        settings: batch_settings(&policy, quiet, &taken),
        key: Key::new(table_key(job)?),
        policy,
        lease: RangeLease {
            plan: &plan.id,
            step: &step.name,
            worker: &seat.name,
            ttl: lease,
            direct: ex.pooled.is_none(),
        },
    };
    let run_started = Instant::now();
    // The job's rate, all its workers together: the rows done since this worker started.
    let mut done_before: Option<i64> = None;
    let mut batch_size: Option<i64> = None;
    let mut pace = Pace::default();
    let mut set_batch_size: Option<i32> = None;
    let mut paused = false;
    let mut waiting: Option<String> = None;
    let mut held: Option<Claim> = None;
    loop {
        let row = ex
            .ledger
            .job(&ex.client, &plan.id, &step.name)
            .await?
            .expect("the job was prepared");
        if row.state == JobState::Done {
            break;
        }
        // Release managers steer through the plan's control row: obeyed before every batch.
        // Not pipelined with the read above: outside a transaction, a pooler may hand a
        // server back to its pool at the first reply while the second is still under way.
        let steer = ex.ledger.control(&ex.client, &plan.id).await?;
        if steer.paused() != paused {
            paused = steer.paused();
            let event = match paused {
                true => Event::Paused {
                    plan: plan.id.clone(),
                    step: step.name.clone(),
                    by: steer.paused_by.clone().unwrap_or_default(),
                    reason: steer.pause_reason.clone().unwrap_or_default(),
                },
                false => Event::Resumed {
                    plan: plan.id.clone(),
                    step: step.name.clone(),
                },
            };
            if seat.lead() {
                ex.reporter.report(&event);
            }
        }
        if seat.lead() {
            let sessions = job.sessions(steer.workers.map_or(seat.start, |n| n as u16));
            if *seat.wanted.borrow() != sessions {
                seat.wanted.send_replace(sessions);
                ex.reporter.report(&Event::Sessions {
                    plan: plan.id.clone(),
                    step: step.name.clone(),
                    sessions,
                });
            }
        } else if seat.let_go() {
            if let Some(range) = &held {
                ex.ledger.release_range(&ex.client, &w.lease, range).await?;
            }
            return Ok(Leave::LetGo);
        }
        if job.kind != JobKind::Verify && !paused {
            let verdict = ex
                .lag
                .check(&ex.client, plan.backfill.max_replica_lag.as_secs_f64())
                .await;
            if verdict != waiting {
                ex.ledger
                    .set_job_wait(&ex.client, &plan.id, &step.name, verdict.as_deref())
                    .await?;
                let event = match &verdict {
                    Some(reason) => Event::Throttled {
                        plan: plan.id.clone(),
                        step: step.name.clone(),
                        reason: reason.clone(),
                    },
                    None => Event::Unthrottled {
                        plan: plan.id.clone(),
                        step: step.name.clone(),
                    },
                };
                if seat.lead() {
                    ex.reporter.report(&event);
                }
                waiting = verdict;
            }
        }
        if paused || waiting.is_some() {
            if let Some(range) = &held {
                if !ex.ledger.renew_range(&ex.client, &w.lease, range).await? {
                    held = None;
                }
            }
            tokio::time::sleep(POLL).await;
            continue;
        }
        let range = match held.take() {
            Some(range) => range,
            None => match ex.ledger.claim_range(&ex.client, &w.lease).await? {
                Some(range) => range,
                None => match ex
                    .ledger
                    .range_progress(&ex.client, &plan.id, &step.name)
                    .await?
                {
                    (0, _) => break,
                    _ => {
                        // Other workers hold the rest; one of them may die and free a range.
                        tokio::time::sleep(POLL).await;
                        continue;
                    }
                },
            },
        };
        if steer.batch_size != set_batch_size {
            set_batch_size = steer.batch_size;
            batch_size = steer.batch_size.map(i64::from);
        }
        let mut target_batch_ms = steer.target_batch_ms.unwrap_or(row.target_batch_ms);
        if job.kind == JobKind::Archive {
            // A copy only reads the table: no writer waits for its batches to commit.
            target_batch_ms = target_batch_ms.max(ARCHIVE_BATCH_MS);
        }
        let max_rows_per_second = steer.max_rows_per_second.unwrap_or(row.max_rows_per_second);
        let size = batch_size
            .unwrap_or(row.batch_size as i64)
            .clamp(MIN_BATCH, MAX_BATCH);
        let started = Instant::now();
        let Some(batch) = next_batch(ex, &w, &row, &range, size).await? else {
            ex.ledger.finish_range(&ex.client, &w.lease, &range).await?;
            continue;
        };
        let mut retrier = Retrier::new(&w.policy, &step.name, &job.relation);
        let outcome = loop {
            match commit_batch(ex, &w, row.walk, &range, &batch).await {
                Ok(outcome) => break outcome,
                Err(error) => {
                    ex.back_off(plan, step, &mut retrier, error).await?;
                }
            }
        };
        let rows = match outcome {
            Outcome::Committed { rows } => rows,
            // The lease ran out and another worker took the range; it goes on from the cursor.
            Outcome::Lost => continue,
            Outcome::Rewritten => {
                prepare(ex, plan, step, job, row.detached).await?;
                continue;
            }
        };
        let elapsed = started.elapsed();
        let done = row.rows_done + rows;
        let rows_this_run = done - *done_before.get_or_insert(row.rows_done);
        ex.reporter.report(&Event::Batch {
            plan: plan.id.clone(),
            step: step.name.clone(),
            rows_done: done,
            rows_estimated: row.rows_estimated.max(done),
            rows_per_second: rows_this_run as f64 / run_started.elapsed().as_secs_f64().max(1e-6),
            batch_size: size,
            batch_ms: elapsed.as_secs_f64() * 1000.0,
        });
        let ends_range = batch.ends_range;
        let range = Claim {
            cursor: Some(batch.last),
            ..range
        };
        if ends_range {
            ex.ledger.finish_range(&ex.client, &w.lease, &range).await?;
        } else {
            held = Some(range);
        }
        let target = Duration::from_millis(target_batch_ms.max(1) as u64);
        batch_size = Some(pace.next_size(size, elapsed, target, ends_range));
        // The cap bounds what the job writes; the verification pass writes no row, and
        // capping it made a 1M-row pass at 80k rows/s take 12.6 s instead of 0.2 s.
        if max_rows_per_second > 0 && w.job.kind != JobKind::Verify {
            // The cap is the job's: each live worker takes its share.
            let workers = ex
                .ledger
                .range_progress(&ex.client, &plan.id, &step.name)
                .await?
                .1
                .max(1);
            let floor =
                Duration::from_secs_f64(rows as f64 * workers as f64 / max_rows_per_second as f64);
            if let Some(rest) = floor.checked_sub(elapsed) {
                tokio::time::sleep(rest).await;
            }
        }
    }
    finish(ex, plan, step, job).await?;
    Ok(Leave::Done)
}

/// What stays the same for every batch of one `work` call.
struct Worker<'a> {
    plan: &'a Plan,
    step: &'a Step,
    job: &'a Job,
    /// What each batch's transaction sets first (`batch_settings`).
    settings: String,
    key: Key,
    policy: DdlPolicy,
    lease: RangeLease<'a>,
}

impl Worker<'_> {
    /// What a batch's failed statement was doing, for its error.
    fn context(&self) -> String {
        format!(
            "run a batch of step {} of plan {}",
            self.step.name, self.plan.id
        )
    }
}

/// One batch: the rows it covers, and where it leaves its range's cursor.
struct Batch {
    window: String,
    last: Vec<String>,
    /// Its rows, when they were counted to find the batch (a key walk).
    counted: Option<i64>,
    /// Its rows as the statistics put them (a block walk).
    estimate: i64,
    /// It reaches the end of its range.
    ends_range: bool,
}

/// What became of a batch.
enum Outcome {
    Committed {
        rows: i64,
    },
    /// The worker no longer held the range: nothing was committed.
    Lost,
    /// The table's file changed under a block walk: nothing was committed, the job starts over.
    Rewritten,
}

/// The range's next batch of about `size` rows, or None when the range is done. A key walk
/// reads the batch's last key (and so its rows) from the key's index; a block walk takes the
/// blocks that hold about `size` rows.
async fn next_batch(
    ex: &Executor<'_>,
    w: &Worker<'_>,
    job: &JobRow,
    range: &Claim,
    size: i64,
) -> Result<Option<Batch>, Error> {
    let rel = &w.job.relation;
    let Walk::Blocks { end, .. } = job.walk else {
        let key = &w.key;
        let window = key.between(range.cursor.as_deref(), range.upper.as_deref());
        let bounds = ex
            .client
            .fetch_opt(
                // The window runs over the inner LIMITed rows: the batch's size and last key.
                &format!(
                    "SELECT ARRAY[{text}], count(*) OVER () FROM (SELECT {list} FROM {rel} WHERE {window} ORDER BY {list} LIMIT {size}) s ORDER BY {desc} LIMIT 1",
                    text = key.as_text,
                    list = key.list,
                    desc = key.descending
                ),
                &[],
            )
            .await
            .map_err(Error::sql(format!("find the next batch of {rel}")))?;
        return Ok(bounds.map(|bounds| {
            let last: Vec<String> = bounds.get(0);
            let rows: i64 = bounds.get(1);
            Batch {
                window: key.between(range.cursor.as_deref(), Some(&last)),
                last,
                counted: Some(rows),
                estimate: rows,
                ends_range: rows < size,
            }
        }));
    };
    let from = range
        .cursor
        .as_deref()
        .map(blocks::parse)
        .transpose()?
        .unwrap_or(0);
    let upper = range
        .upper
        .as_deref()
        .map(blocks::parse)
        .transpose()?
        .unwrap_or(end);
    if from >= upper {
        return Ok(None);
    }
    // The job's estimate was set from the blocks and the statistics' rows per block.
    let rows_per_block = job.rows_estimated.max(1) as f64 / end.max(1) as f64;
    let length = ((size as f64 / rows_per_block).round() as i64).max(1);
    let to = (from + length).min(upper);
    Ok(Some(Batch {
        window: blocks::window(from, to),
        last: vec![to.to_string()],
        counted: None,
        estimate: ((to - from) as f64 * rows_per_block).round() as i64,
        ends_range: to == upper,
    }))
}

/// The `SET LOCAL`s that open every batch's transaction: the same for all of one session's
/// batches of a job, so built once. synchronous_commit off: the batch need not wait for its
/// WAL to reach the disk, as the range's cursor commits with the rows. A crash loses the last
/// batches and their cursor together, so they run again; the step's own record commits
/// durably, after them. `quiet` leaves the application's triggers out (`pg::hooks`); `taken`
/// are the server's settings the session may take (`pg::session`).
fn batch_settings(policy: &DdlPolicy, quiet: bool, taken: &[&str]) -> String {
    let mut settings = format!(
        "SET LOCAL switchback.backfill = 'on'; SET LOCAL synchronous_commit = off; SET LOCAL lock_timeout = '{}ms'; SET LOCAL statement_timeout = 0",
        policy.lock_timeout.as_millis()
    );
    for setting in quiet.then_some(hooks::QUIET).iter().chain(taken) {
        settings.push_str("; ");
        settings.push_str(setting);
    }
    settings
}

/// One batch in one short transaction: the fills' record and the UPDATE (backfill) or the
/// count of rows that differ (verification), the range's cursor (only while this worker
/// holds the range), the job's counters and the batch's log line.
///
/// The statements are pipelined: each goes out without waiting for the one before, in the
/// order they run, so the batch waits on the server four times (BEGIN, the statements, the
/// record, COMMIT) instead of eight; a statement's error aborts the transaction, and so the
/// ones after it. Only inside the transaction, which BEGIN has opened before: a pooler in
/// transaction mode keeps the same server for all of it. Whether the worker still held the
/// range is known after the batch's statement ran, and a batch that finds it lost rolls back.
async fn commit_batch(
    ex: &mut Executor<'_>,
    w: &Worker<'_>,
    walk: Walk,
    range: &Claim,
    b: &Batch,
) -> Result<Outcome, Error> {
    let txn = ex
        .client
        .transaction()
        .await
        .map_err(Error::sql(w.context()))?;
    let (ledger, rel) = (&ex.ledger, &w.job.relation);
    let settings = async {
        txn.batch_execute(&w.settings)
            .await
            .map_err(Error::sql(w.context()))
    };
    let held = ledger.advance_range(&txn, &w.lease, range, &b.last);
    let work = async {
        if w.job.kind == JobKind::Backfill {
            // Before the UPDATE, and waited for: it reads the values the UPDATE overwrites.
            ledger
                .record_fills(&txn, &w.plan.id, w.job, table_key(w.job)?, &b.window)
                .await?;
        }
        // The file is read after the statement, sent after it: the statement holds the
        // table's lock by then, so no rewrite can come in between.
        let rewritten = async {
            match walk {
                Walk::Blocks { filenode, .. } => Ok(blocks::filenode(&txn, rel).await? != filenode),
                Walk::Key => Ok(false),
            }
        };
        tokio::try_join!(batch_statement(&txn, w, b), rewritten)
    };
    let ((), held, ((rows, changed, mismatches), rewritten)) =
        tokio::try_join!(settings, held, work)?;
    if !held || rewritten {
        txn.rollback().await.map_err(Error::sql(w.context()))?;
        return Ok(match held {
            false => Outcome::Lost,
            true => Outcome::Rewritten,
        });
    }
    let record = BatchRecord {
        range,
        last: &b.last,
        rows,
        changed,
        mismatches: mismatches.as_ref(),
    };
    ledger.record_batch(&txn, &w.lease, &record).await?;
    txn.commit().await.map_err(Error::sql(w.context()))?;
    Ok(Outcome::Committed { rows })
}

/// The batch's own statement: its rows, the rows it changed, and what a verification found.
/// It is sent as soon as it is polled, a single statement, so it keeps its place in a
/// pipeline.
async fn batch_statement(
    txn: &impl Query,
    w: &Worker<'_>,
    b: &Batch,
) -> Result<(i64, i64, Option<Mismatches>), Error> {
    let assignments: Vec<&_> = w.job.assignments.iter().collect();
    let (rel, window) = (&w.job.relation, &b.window);
    Ok(match w.job.kind {
        JobKind::Backfill => {
            let changed = txn
                .exec(&backfill_update(rel, &assignments, window), &[])
                .await
                .map_err(Error::sql(w.context()))? as i64;
            // A filtered UPDATE changes only some of the rows it walks.
            let rows = b.counted.unwrap_or(match backfill_filters(&assignments) {
                true => b.estimate.max(changed),
                false => changed,
            });
            (rows, changed, None)
        }
        JobKind::Archive => {
            let copy = w.job.copy.as_ref().ok_or_else(|| {
                Error::Refused(format!("archive {rel}: the step names no archive table"))
            })?;
            let (list, columns) = (&w.key.list, copy.columns(table_key(w.job)?));
            let only = copy
                .only
                .as_ref()
                .map(|only| format!(" AND ({only})"))
                .unwrap_or_default();
            let copied = txn
                .exec(
                    &format!(
                        // No key is copied twice: a batch's rows and its range's cursor
                        // commit together, and ranges do not overlap.
                        "INSERT INTO {into} ({list}, {columns}) SELECT {list}, {columns} FROM {rel} WHERE {window}{only}",
                        into = copy.archive
                    ),
                    &[],
                )
                .await
                .map_err(Error::sql(w.context()))? as i64;
            (b.counted.unwrap_or(copied), copied, None)
        }
        JobKind::Restore => {
            let copy = w.job.copy.as_ref().ok_or_else(|| {
                Error::Refused(format!("restore {rel}: the step names no archive table"))
            })?;
            let key: Vec<String> = table_key(w.job)?
                .columns
                .iter()
                .map(|c| c.name.clone())
                .collect();
            let restored = txn
                .exec(
                    &crate::pg::archive::restore_batch(
                        rel,
                        &copy.archive,
                        &key,
                        &copy.column,
                        window,
                    ),
                    &[],
                )
                .await
                .map_err(Error::sql(w.context()))? as i64;
            (b.counted.unwrap_or(restored), restored, None)
        }
        JobKind::Verify => {
            let wrong = verify_predicate(&assignments);
            let counts = txn
                .fetch_one(
                    &format!("SELECT count(*), count(*) FILTER (WHERE {wrong}) FROM {rel} WHERE {window}"),
                    &[],
                )
                .await
                .map_err(Error::sql(w.context()))?;
            let mismatches = Mismatches {
                count: counts.get(1),
                samples_sql: format!("SELECT ROW({list})::text FROM {rel} WHERE {window} AND ({wrong}) ORDER BY {list}", list = w.key.list),
            };
            (counts.get(0), 0, Some(mismatches))
        }
    })
}

/// Marks the job and its step done, or fails a verification that found differences.
async fn finish(ex: &mut Executor<'_>, plan: &Plan, step: &Step, job: &Job) -> Result<(), Error> {
    let row = ex
        .ledger
        .job(&ex.client, &plan.id, &step.name)
        .await?
        .expect("the job was prepared");
    if let Some(copy) = job.copy.as_ref().filter(|_| job.kind == JobKind::Archive) {
        let key = Key::new(table_key(job)?);
        archive_ddl(
            ex,
            plan,
            format!("give the archive table {} its key", copy.archive),
            &[crate::pg::archive::column_table_key(
                &copy.archive,
                &key.list,
            )],
        )
        .await?;
    }
    if job.kind == JobKind::Verify && row.mismatches > 0 {
        ex.ledger
            .finish_job(&ex.client, &plan.id, &step.name, JobState::Failed)
            .await?;
        return Err(Error::Verification {
            table: job.relation.clone(),
            mismatches: row.mismatches,
            samples: row.samples,
        });
    }
    let first = ex
        .ledger
        .finish_job(&ex.client, &plan.id, &step.name, JobState::Done)
        .await?;
    if job.kind == JobKind::Verify && first {
        ex.reporter.report(&Event::Verified {
            plan: plan.id.clone(),
            step: step.name.clone(),
            rows: row.rows_done,
        });
    }
    ex.ledger
        .finish_step(&ex.client, &plan.id, &step.name, StepStatus::Done)
        .await
}
