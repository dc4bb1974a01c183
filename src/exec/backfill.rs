//! The batch loop behind backfill and verification steps. A job's key space is split into
//! ranges when the job is created; workers (the inline `advance`, or any number of
//! `switchback backfill` processes) claim ranges with a lease and page through them by key
//! (composite keys included). Each batch's UPDATE, its range's cursor move and the batch's
//! log line commit in one short transaction, and only while the worker still holds the
//! lease: a worker that lost its range (it stalled, another took over) rolls its batch back,
//! so no key is done twice or skipped. Batch size adapts towards the target batch time, the
//! rate cap is shared by the job's live workers, and pause, throttle and replica lag are
//! obeyed before every batch. The dual-write trigger skips these sessions (its WHEN clause
//! reads `switchback.backfill`), so batches pay no PL/pgSQL call per row.

use crate::error::Error;
use crate::exec::{Event, Executor};
use crate::pg::ddl::{LockPolicy, Retrier};
use crate::pg::facts::TableKey;
use crate::pg::query::Query;
use crate::pg::{catalog, quote};
use crate::plan::expand::{backfill_update, verify_predicate};
use crate::plan::step::{Job, JobKind, Records, Step};
use crate::plan::Plan;
use std::time::{Duration, Instant};

const MIN_BATCH: i64 = 100;
const MAX_BATCH: i64 = 200_000;
/// Ranges hold about this many batches, so several workers find work on a mid-sized table.
const BATCHES_PER_RANGE: i64 = 20;
const MAX_RANGES: i64 = 256;
/// How often a paused, throttled or idle worker looks again.
const POLL: Duration = Duration::from_millis(200);
/// How long a worker's claim on a range lasts without a heartbeat (every batch renews it).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(10);

/// SQL fragments over the table's key.
struct Key {
    list: String,
    descending: String,
    as_text: String,
    types: Vec<String>,
}

impl Key {
    fn new(key: &TableKey) -> Key {
        let names: Vec<String> = key.columns.iter().map(|c| quote::ident(&c.name)).collect();
        Key {
            list: names.join(", "),
            descending: names
                .iter()
                .map(|n| format!("{n} DESC"))
                .collect::<Vec<_>>()
                .join(", "),
            as_text: names
                .iter()
                .map(|n| format!("{n}::text"))
                .collect::<Vec<_>>()
                .join(", "),
            types: key.columns.iter().map(|c| c.sql_type.clone()).collect(),
        }
    }

    /// `ROW('5'::bigint, 'x'::text)` for key values read back as text.
    fn literal(&self, values: &[String]) -> String {
        let parts: Vec<String> = values
            .iter()
            .zip(&self.types)
            .map(|(v, t)| format!("{}::{t}", quote::literal(v)))
            .collect();
        format!("ROW({})", parts.join(", "))
    }

    /// Rows after `after` and up to `upto` (either unbounded when None).
    fn between(&self, after: Option<&[String]>, upto: Option<&[String]>) -> String {
        let row = format!("ROW({})", self.list);
        let mut parts = Vec::new();
        if let Some(after) = after {
            parts.push(format!("{row} > {}", self.literal(after)));
        }
        if let Some(upto) = upto {
            parts.push(format!("{row} <= {}", self.literal(upto)));
        }
        if parts.is_empty() {
            "true".to_owned()
        } else {
            parts.join(" AND ")
        }
    }
}

fn text_array(values: Option<&[String]>) -> String {
    match values {
        Some(v) => format!(
            "ARRAY[{}]::text[]",
            v.iter()
                .map(|x| quote::literal(x))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        None => "NULL::text[]".to_owned(),
    }
}

fn table_key(job: &Job) -> Result<&TableKey, Error> {
    job.key.as_ref().ok_or_else(|| {
        Error::Refused(format!(
            "backfill {}: the plan's facts name no key for it",
            job.relation
        ))
    })
}

/// Creates the job's row and its ranges, once. A verification that failed before starts
/// over: the data may have been fixed.
pub(super) async fn prepare(
    ex: &mut Executor<'_>,
    plan: &Plan,
    step: &Step,
    job: &Job,
    detached: bool,
) -> Result<(), Error> {
    let (jobs, ranges) = (ex.ledger.table("jobs"), ex.ledger.table("ranges"));
    if let Some(row) = ex.ledger.job(&ex.client, &plan.id, &step.name).await? {
        if job.kind == JobKind::Verify && row.state == "failed" {
            ex.ledger
                .restart_job(&ex.client, &plan.id, &step.name)
                .await?;
            ex.client
                .exec(&format!("UPDATE {ranges} SET cursor = NULL, state = 'pending', worker = NULL, lease_until = NULL WHERE plan_id = $1 AND step = $2"), &[&plan.id, &step.name])
                .await
                .map_err(Error::sql("restart the verification's ranges"))?;
        }
        return Ok(());
    }
    let key = Key::new(table_key(job)?);
    let estimated = catalog::estimated_rows(&ex.client, &job.relation).await?;
    let settings = &plan.backfill;
    let batch_size = (settings.batch_size as i64).clamp(MIN_BATCH, MAX_BATCH);
    let range_rows = (batch_size * BATCHES_PER_RANGE)
        .max(estimated / MAX_RANGES)
        .max(1);
    // Split keys every `range_rows` rows, read from the key's index.
    let splits: Vec<Vec<String>> = if estimated > range_rows {
        ex.client
            .fetch(
                &format!("SELECT ARRAY[{text}] FROM (SELECT {list}, row_number() OVER (ORDER BY {list}) AS n FROM {rel}) s WHERE n % {range_rows} = 0 ORDER BY {list}", text = key.as_text, list = key.list, rel = job.relation),
                &[],
            )
            .await
            .map_err(Error::sql(format!("split the keys of {}", job.relation)))?
            .iter()
            .map(|r| r.get(0))
            .collect()
    } else {
        Vec::new()
    };
    let txn = ex
        .client
        .transaction()
        .await
        .map_err(Error::sql("open a transaction"))?;
    txn.exec(
        &format!(
            "INSERT INTO {jobs} (plan_id, step, relation, rows_estimated, batch_size, target_batch_ms, max_rows_per_second, detached) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ),
        &[
            &plan.id,
            &step.name,
            &job.relation,
            &estimated,
            &(batch_size as i32),
            &(settings.target_batch_time.as_millis().min(i32::MAX as u128) as i32),
            &(settings.max_rows_per_second.min(i64::MAX as u64) as i64),
            &detached,
        ],
    )
    .await
    .map_err(Error::sql(format!("start job {}", step.name)))?;
    let mut lower: Option<Vec<String>> = None;
    for (range_no, upper) in splits
        .into_iter()
        .map(Some)
        .chain(std::iter::once(None))
        .enumerate()
    {
        txn.exec(
            &format!("INSERT INTO {ranges} (plan_id, step, range_no, lower, upper) VALUES ($1, $2, $3, $4, $5)"),
            &[&plan.id, &step.name, &(range_no as i32), &lower, &upper],
        )
        .await
        .map_err(Error::sql("record the job's ranges"))?;
        lower = upper;
    }
    txn.commit()
        .await
        .map_err(Error::sql(format!("start job {}", step.name)))
}

/// A range a worker holds.
struct Range {
    no: i32,
    cursor: Option<Vec<String>>,
    upper: Option<Vec<String>>,
}

async fn claim(
    ex: &Executor<'_>,
    plan: &Plan,
    step: &Step,
    worker: &str,
    lease: Duration,
) -> Result<Option<Range>, Error> {
    let ranges = ex.ledger.table("ranges");
    let row = ex
        .client
        .fetch_opt(
            &format!(
                "UPDATE {ranges} r SET state = 'claimed', worker = $3, lease_until = now() + $4 * interval '1 millisecond', heartbeat_at = now()
                  WHERE (r.plan_id, r.step, r.range_no) = (
                        SELECT plan_id, step, range_no FROM {ranges}
                         WHERE plan_id = $1 AND step = $2 AND (state = 'pending' OR (state = 'claimed' AND lease_until < now()))
                         ORDER BY range_no LIMIT 1 FOR UPDATE SKIP LOCKED)
                  RETURNING range_no, coalesce(cursor, lower), upper"
            ),
            &[&plan.id, &step.name, &worker, &(lease.as_millis() as f64)],
        )
        .await
        .map_err(Error::sql("claim a range"))?;
    Ok(row.map(|r| Range {
        no: r.get(0),
        cursor: r.get(1),
        upper: r.get(2),
    }))
}

/// Renews the lease of a range the worker holds while it waits (paused, throttled).
async fn heartbeat(
    ex: &Executor<'_>,
    plan: &Plan,
    step: &Step,
    range: &Range,
    worker: &str,
    lease: Duration,
) -> Result<bool, Error> {
    Ok(ex
        .client
        .exec(
            &format!("UPDATE {} SET lease_until = now() + $5 * interval '1 millisecond', heartbeat_at = now() WHERE plan_id = $1 AND step = $2 AND range_no = $3 AND worker = $4 AND state = 'claimed'", ex.ledger.table("ranges")),
            &[&plan.id, &step.name, &range.no, &worker, &(lease.as_millis() as f64)],
        )
        .await
        .map_err(Error::sql("renew a range's lease"))?
        == 1)
}

async fn finish_range(
    ex: &Executor<'_>,
    plan: &Plan,
    step: &Step,
    range: &Range,
    worker: &str,
) -> Result<(), Error> {
    ex.client
        .exec(
            &format!("UPDATE {} SET state = 'done', lease_until = NULL WHERE plan_id = $1 AND step = $2 AND range_no = $3 AND worker = $4", ex.ledger.table("ranges")),
            &[&plan.id, &step.name, &range.no, &worker],
        )
        .await
        .map_err(Error::sql("finish a range"))?;
    Ok(())
}

/// (ranges not done, workers holding a live lease)
async fn progress(ex: &Executor<'_>, plan: &Plan, step: &Step) -> Result<(i64, i64), Error> {
    let row = ex
        .client
        .fetch_one(
            &format!("SELECT count(*) FILTER (WHERE state <> 'done'), count(DISTINCT worker) FILTER (WHERE state = 'claimed' AND lease_until > now()) FROM {} WHERE plan_id = $1 AND step = $2", ex.ledger.table("ranges")),
            &[&plan.id, &step.name],
        )
        .await
        .map_err(Error::sql("read the job's ranges"))?;
    Ok((row.get(0), row.get(1)))
}

/// Works on the job until no range is left, then finishes it (idempotently: several workers
/// may get there). `worker` names this worker in the ledger.
pub(super) async fn work(
    ex: &mut Executor<'_>,
    plan: &Plan,
    step: &Step,
    job: &Job,
    worker: &str,
    lease: Duration,
) -> Result<(), Error> {
    let key = Key::new(table_key(job)?);
    let policy = LockPolicy {
        lock_timeout: plan.lock_timeout,
        budget: ex.options.lock_retry_budget,
    };
    let assignments: Vec<&_> = job.assignments.iter().collect();
    let run_started = Instant::now();
    let mut rows_this_run = 0i64;
    let mut batch_size: Option<i64> = None;
    let mut set_batch_size: Option<i32> = None;
    let mut paused = false;
    let mut waiting: Option<String> = None;
    let mut held: Option<Range> = None;
    loop {
        let control = ex
            .ledger
            .job(&ex.client, &plan.id, &step.name)
            .await?
            .expect("the job was prepared");
        if control.state == "done" {
            break;
        }
        // Release managers steer through the plan's control row: obeyed before every batch.
        let steer = ex.ledger.control(&ex.client, &plan.id).await?;
        if steer.paused() != paused {
            paused = steer.paused();
            ex.reporter.report(&match paused {
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
            });
        }
        if job.kind == JobKind::Backfill && !paused {
            let verdict = ex
                .lag
                .check(&ex.client, plan.backfill.max_replica_lag.as_secs_f64())
                .await;
            if verdict != waiting {
                ex.ledger
                    .set_job_wait(&ex.client, &plan.id, &step.name, verdict.as_deref())
                    .await?;
                ex.reporter.report(&match &verdict {
                    Some(reason) => Event::Throttled {
                        plan: plan.id.clone(),
                        step: step.name.clone(),
                        reason: reason.clone(),
                    },
                    None => Event::Unthrottled {
                        plan: plan.id.clone(),
                        step: step.name.clone(),
                    },
                });
                waiting = verdict;
            }
        }
        if paused || waiting.is_some() {
            if let Some(range) = &held {
                if !heartbeat(ex, plan, step, range, worker, lease).await? {
                    held = None;
                }
            }
            tokio::time::sleep(POLL).await;
            continue;
        }
        let range = match held.take() {
            Some(range) => range,
            None => match claim(ex, plan, step, worker, lease).await? {
                Some(range) => range,
                None => match progress(ex, plan, step).await? {
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
        let target_batch_ms = steer.target_batch_ms.unwrap_or(control.target_batch_ms);
        let max_rows_per_second = steer
            .max_rows_per_second
            .unwrap_or(control.max_rows_per_second);
        let size = batch_size
            .unwrap_or(control.batch_size as i64)
            .clamp(MIN_BATCH, MAX_BATCH);
        let started = Instant::now();
        let window = key.between(range.cursor.as_deref(), range.upper.as_deref());
        let bounds = ex
            .client
            .fetch_opt(
                // The window runs over the inner LIMITed rows: the batch's size and last key.
                &format!(
                    "SELECT ARRAY[{text}], count(*) OVER () FROM (SELECT {list} FROM {rel} WHERE {window} ORDER BY {list} LIMIT {size}) s ORDER BY {desc} LIMIT 1",
                    text = key.as_text,
                    list = key.list,
                    rel = job.relation,
                    desc = key.descending
                ),
                &[],
            )
            .await
            .map_err(Error::sql(format!("find the next batch of {}", job.relation)))?;
        let Some(bounds) = bounds else {
            finish_range(ex, plan, step, &range, worker).await?;
            continue;
        };
        let last: Vec<String> = bounds.get(0);
        let rows: i64 = bounds.get(1);
        let batch = key.between(range.cursor.as_deref(), Some(&last));
        let statements = batch_statements(ex, plan, job, &key, &assignments, &batch);
        let mut retrier = Retrier::new(&policy, &step.name, &job.relation);
        let kept = loop {
            match commit_batch(
                ex,
                &policy,
                plan,
                step,
                job,
                &key,
                &assignments,
                &statements,
                &batch,
                &range,
                &last,
                rows,
                worker,
                lease,
            )
            .await
            {
                Ok(kept) => break kept,
                Err(error) => {
                    let retry = retrier.after_failure(error, &ex.side).await?;
                    ex.retry_event(plan, step, &retry);
                    tokio::time::sleep(retry.wait).await;
                }
            }
        };
        if !kept {
            // The lease ran out and another worker took the range; it goes on from the cursor.
            continue;
        }
        let elapsed = started.elapsed();
        rows_this_run += rows;
        let done = control.rows_done + rows;
        ex.reporter.report(&Event::Batch {
            plan: plan.id.clone(),
            step: step.name.clone(),
            rows_done: done,
            rows_estimated: control.rows_estimated.max(done),
            rows_per_second: rows_this_run as f64 / run_started.elapsed().as_secs_f64().max(1e-6),
            batch_size: size,
            batch_ms: elapsed.as_secs_f64() * 1000.0,
        });
        let range = Range {
            cursor: Some(last),
            ..range
        };
        if rows < size {
            finish_range(ex, plan, step, &range, worker).await?;
        } else {
            held = Some(range);
        }
        let target = Duration::from_millis(target_batch_ms.max(1) as u64);
        let scaled = (size as f64 * target.as_secs_f64() / elapsed.as_secs_f64().max(1e-3)) as i64;
        batch_size = Some(scaled.clamp(size / 2, size * 2).clamp(MIN_BATCH, MAX_BATCH));
        if max_rows_per_second > 0 {
            // The cap is the job's: each live worker takes its share.
            let workers = progress(ex, plan, step).await?.1.max(1);
            let floor =
                Duration::from_secs_f64(rows as f64 * workers as f64 / max_rows_per_second as f64);
            if let Some(rest) = floor.checked_sub(elapsed) {
                tokio::time::sleep(rest).await;
            }
        }
    }
    finish(ex, plan, step, job).await
}

fn batch_statements(
    ex: &Executor<'_>,
    plan: &Plan,
    job: &Job,
    key: &Key,
    assignments: &[&crate::plan::step::Assignment],
    batch: &str,
) -> Vec<String> {
    let mut statements = Vec::new();
    if job.kind == JobKind::Backfill {
        for a in assignments {
            let (old_value, rows) = match &a.records {
                Records::Nothing => continue,
                Records::Nulls => (
                    "NULL".to_owned(),
                    format!("{} IS NULL", quote::ident(&a.column)),
                ),
                Records::OldValues { .. } => (
                    format!("{}::text", quote::ident(&a.column)),
                    a.when.clone().unwrap_or_else(|| "true".into()),
                ),
            };
            statements.push(format!(
                "INSERT INTO {fills} (plan_id, column_name, key, old_value) SELECT {plan}, {column}, ARRAY[{text}], {old_value} FROM {rel} WHERE {batch} AND ({rows}) ON CONFLICT DO NOTHING",
                fills = ex.ledger.table("fills"),
                plan = quote::literal(&plan.id),
                column = quote::literal(&a.column),
                text = key.as_text,
                rel = job.relation,
            ));
        }
        statements.push(backfill_update(&job.relation, assignments, batch));
    }
    statements
}

/// One batch in one short transaction: its statements, the range's cursor (only while this
/// worker holds the range), the job's counters and the batch's log line. Returns false, with
/// nothing committed, when the range was lost.
#[allow(clippy::too_many_arguments)]
async fn commit_batch(
    ex: &mut Executor<'_>,
    policy: &LockPolicy,
    plan: &Plan,
    step: &Step,
    job: &Job,
    key: &Key,
    assignments: &[&crate::plan::step::Assignment],
    statements: &[String],
    batch: &str,
    range: &Range,
    last: &[String],
    rows: i64,
    worker: &str,
    lease: Duration,
) -> Result<bool, Error> {
    let context = || format!("run a batch of step {} of plan {}", step.name, plan.id);
    let (jobs, ranges, batches) = (
        ex.ledger.table("jobs"),
        ex.ledger.table("ranges"),
        ex.ledger.table("batches"),
    );
    let txn = ex
        .client
        .transaction()
        .await
        .map_err(Error::sql(context()))?;
    txn.batch_execute(&format!("SET LOCAL switchback.backfill = 'on'; SET LOCAL lock_timeout = '{}ms'; SET LOCAL statement_timeout = 0", policy.lock_timeout.as_millis()))
        .await
        .map_err(Error::sql(context()))?;
    let owned = txn
        .exec(
            &format!("UPDATE {ranges} SET cursor = {}, lease_until = now() + $5 * interval '1 millisecond', heartbeat_at = now() WHERE plan_id = $1 AND step = $2 AND range_no = $3 AND worker = $4 AND state = 'claimed'", text_array(Some(last))),
            &[&plan.id, &step.name, &range.no, &worker, &(lease.as_millis() as f64)],
        )
        .await
        .map_err(Error::sql(context()))?;
    if owned == 0 {
        txn.rollback().await.map_err(Error::sql(context()))?;
        return Ok(false);
    }
    let mut changed = 0;
    for statement in statements {
        changed = txn
            .exec(statement.as_str(), &[])
            .await
            .map_err(Error::sql(context()))?;
    }
    let (mismatches, samples) = match job.kind {
        JobKind::Verify => {
            let wrong = verify_predicate(assignments);
            (
                format!("(SELECT count(*) FROM {} WHERE {batch} AND ({wrong}))", job.relation),
                format!("(samples || ARRAY(SELECT ROW({list})::text FROM {rel} WHERE {batch} AND ({wrong}) ORDER BY {list} LIMIT 10))[1:10]", list = key.list, rel = job.relation),
            )
        }
        JobKind::Backfill => ("0".to_owned(), "samples".to_owned()),
    };
    txn.exec(
        &format!(
            "UPDATE {jobs} SET rows_done = rows_done + $3, batches = batches + 1, rows_changed = rows_changed + $4,
                    mismatches = mismatches + {mismatches}, samples = {samples}, updated_at = now()
              WHERE plan_id = $1 AND step = $2"
        ),
        &[&plan.id, &step.name, &rows, &(changed as i64)],
    )
    .await
    .map_err(Error::sql(context()))?;
    txn.exec(
        &format!("INSERT INTO {batches} (plan_id, step, range_no, worker, after_key, last_key, rows) VALUES ($1, $2, $3, $4, $5, $6, $7)"),
        &[&plan.id, &step.name, &range.no, &worker, &range.cursor, &last, &rows],
    )
    .await
    .map_err(Error::sql(context()))?;
    txn.commit().await.map_err(Error::sql(context()))?;
    Ok(true)
}

/// Marks the job and its step done, or fails a verification that found differences.
async fn finish(ex: &mut Executor<'_>, plan: &Plan, step: &Step, job: &Job) -> Result<(), Error> {
    let row = ex
        .ledger
        .job(&ex.client, &plan.id, &step.name)
        .await?
        .expect("the job was prepared");
    if job.kind == JobKind::Verify && row.mismatches > 0 {
        ex.ledger
            .set_job_state(&ex.client, &plan.id, &step.name, "failed")
            .await?;
        return Err(Error::Verification {
            table: job.relation.clone(),
            mismatches: row.mismatches,
            samples: row.samples,
        });
    }
    ex.ledger
        .set_job_state(&ex.client, &plan.id, &step.name, "done")
        .await?;
    if job.kind == JobKind::Verify {
        ex.reporter.report(&Event::Verified {
            plan: plan.id.clone(),
            step: step.name.clone(),
            rows: row.rows_done,
        });
    }
    ex.client
        .batch_execute(&ex.ledger.finish_step_sql(&plan.id, &step.name, "done"))
        .await
        .map_err(Error::sql(format!("record step {}", step.name)))
}
