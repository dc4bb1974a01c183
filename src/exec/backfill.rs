//! The batch loop behind backfill and verification steps: keyset pagination on the table's
//! key (composite keys included), one short transaction per batch in which the UPDATE and
//! the cursor move commit together, batch size adapted towards the target batch time, and
//! the rows-per-second cap honoured. The dual-write trigger skips this session (its WHEN
//! clause reads `switchback.backfill`), so batches pay no PL/pgSQL call per row.

use crate::error::Error;
use crate::exec::{Event, Executor};
use crate::pg::ddl::{LockPolicy, Retrier};
use crate::pg::{catalog, quote};
use crate::plan::expand::{backfill_update, verify_predicate};
use crate::plan::facts::TableKey;
use crate::plan::step::{Job, JobKind, Step};
use crate::plan::Plan;
use std::time::{Duration, Instant};

const MIN_BATCH: i64 = 100;
const MAX_BATCH: i64 = 200_000;
/// How often a paused or throttled job looks at its control row and the replicas again.
const PAUSED_POLL: Duration = Duration::from_millis(200);

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

    fn row(&self) -> String {
        format!("ROW({})", self.list)
    }
}

pub async fn run(ex: &mut Executor<'_>, plan: &Plan, step: &Step, job: &Job) -> Result<(), Error> {
    let table_key = job.key.as_ref().ok_or_else(|| {
        Error::Refused(format!(
            "backfill {}: the plan's facts name no key for it",
            job.relation
        ))
    })?;
    let key = Key::new(table_key);
    let policy = LockPolicy {
        lock_timeout: plan.lock_timeout,
        budget: ex.options.lock_retry_budget,
    };
    match ex.ledger.job(&ex.client, &plan.id, &step.name).await? {
        None => {
            let estimated = catalog::estimated_rows(&ex.client, &job.relation).await?;
            let settings = &plan.backfill;
            ex.ledger
                .start_job(
                    &ex.client,
                    &plan.id,
                    &step.name,
                    &job.relation,
                    estimated,
                    settings.batch_size.min(MAX_BATCH as u64) as i32,
                    settings.target_batch_time.as_millis().min(i32::MAX as u128) as i32,
                    settings.max_rows_per_second.min(i64::MAX as u64) as i64,
                )
                .await?
        }
        // A verification that found mismatches before starts over: the data may be fixed.
        Some(row) if job.kind == JobKind::Verify && row.state == "failed" => {
            ex.ledger
                .restart_job(&ex.client, &plan.id, &step.name)
                .await?
        }
        Some(_) => {}
    }
    let assignments: Vec<&_> = job.assignments.iter().collect();
    let run_started = Instant::now();
    let mut rows_this_run = 0i64;
    let mut batch_size: Option<i64> = None;
    let mut set_batch_size: Option<i32> = None;
    let mut paused = false;
    let mut waiting: Option<String> = None;
    loop {
        let control = ex
            .ledger
            .job(&ex.client, &plan.id, &step.name)
            .await?
            .expect("job row exists");
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
        if paused {
            tokio::time::sleep(PAUSED_POLL).await;
            continue;
        }
        if job.kind == JobKind::Backfill {
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
            if waiting.is_some() {
                tokio::time::sleep(PAUSED_POLL).await;
                continue;
            }
        }
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
        let lower = match &control.cursor {
            Some(cursor) => format!("{} > {}", key.row(), key.literal(cursor)),
            None => "true".to_owned(),
        };
        let started = Instant::now();
        let bounds = ex
            .client
            .query_opt(
                &format!(
                    // The window runs over the inner LIMITed rows: the batch's size and last key.
                    "SELECT ARRAY[{text}], count(*) OVER () FROM (SELECT {list} FROM {rel} WHERE {lower} ORDER BY {list} LIMIT {size}) s ORDER BY {desc} LIMIT 1",
                    text = key.as_text,
                    list = key.list,
                    rel = job.relation,
                    desc = key.descending
                ),
                &[],
            )
            .await
            .map_err(Error::sql(format!("find the next batch of {}", job.relation)))?;
        let Some(bounds) = bounds else { break };
        let last: Vec<String> = bounds.get(0);
        let rows: i64 = bounds.get(1);
        let range = format!("{lower} AND {} <= {}", key.row(), key.literal(&last));
        let mut statements = Vec::new();
        let (mismatches_sql, changed_sql) = match job.kind {
            JobKind::Backfill => {
                for a in assignments.iter().filter(|a| a.records_nulls) {
                    statements.push(format!(
                        "INSERT INTO {fills} (plan_id, column_name, key) SELECT {plan}, {column}, ARRAY[{text}] FROM {rel} WHERE {range} AND {col} IS NULL ON CONFLICT DO NOTHING",
                        fills = ex.ledger.table("fills"),
                        plan = quote::literal(&plan.id),
                        column = quote::literal(&a.column),
                        text = key.as_text,
                        rel = job.relation,
                        col = quote::ident(&a.column),
                    ));
                }
                statements.push(backfill_update(&job.relation, &assignments, &range));
                ("0".to_owned(), "rows_changed + <changed>".to_owned())
            }
            JobKind::Verify => (
                format!(
                    "(SELECT count(*) FROM {} WHERE {range} AND ({}))",
                    job.relation,
                    verify_predicate(&assignments)
                ),
                "rows_changed".to_owned(),
            ),
        };
        let samples = match job.kind {
            JobKind::Verify => format!(
                "(samples || ARRAY(SELECT ROW({})::text FROM {} WHERE {range} AND ({}) ORDER BY {} LIMIT 10))[1:10]",
                key.list,
                job.relation,
                verify_predicate(&assignments),
                key.list
            ),
            JobKind::Backfill => "samples".to_owned(),
        };
        let last_array = format!(
            "ARRAY[{}]::text[]",
            last.iter()
                .map(|v| quote::literal(v))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let mut retrier = Retrier::new(&policy, &step.name, &job.relation);
        loop {
            match batch(
                ex,
                &policy,
                &statements,
                &mismatches_sql,
                &samples,
                &changed_sql,
                &last_array,
                rows,
                plan,
                step,
            )
            .await
            {
                Ok(()) => break,
                Err(error) => {
                    let retry = retrier.after_failure(error, &ex.side).await?;
                    ex.retry_event(plan, step, &retry);
                    tokio::time::sleep(retry.wait).await;
                }
            }
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
        if rows < size {
            break;
        }
        let target = Duration::from_millis(target_batch_ms.max(1) as u64);
        let scaled = (size as f64 * target.as_secs_f64() / elapsed.as_secs_f64().max(1e-3)) as i64;
        batch_size = Some(scaled.clamp(size / 2, size * 2).clamp(MIN_BATCH, MAX_BATCH));
        if max_rows_per_second > 0 {
            let floor = Duration::from_secs_f64(rows as f64 / max_rows_per_second as f64);
            if let Some(rest) = floor.checked_sub(elapsed) {
                tokio::time::sleep(rest).await;
            }
        }
    }
    let row = ex
        .ledger
        .job(&ex.client, &plan.id, &step.name)
        .await?
        .expect("job row exists");
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

/// One batch: its statements and the cursor move, in one short transaction.
#[allow(clippy::too_many_arguments)]
async fn batch(
    ex: &mut Executor<'_>,
    policy: &LockPolicy,
    statements: &[String],
    mismatches: &str,
    samples: &str,
    changed: &str,
    last: &str,
    rows: i64,
    plan: &Plan,
    step: &Step,
) -> Result<(), Error> {
    let context = || format!("run a batch of step {} of plan {}", step.name, plan.id);
    let txn = ex
        .client
        .transaction()
        .await
        .map_err(Error::sql(context()))?;
    txn.batch_execute(&format!(
        "SET LOCAL switchback.backfill = 'on'; SET LOCAL lock_timeout = '{}ms'; SET LOCAL statement_timeout = 0",
        policy.lock_timeout.as_millis()
    ))
    .await
    .map_err(Error::sql(context()))?;
    let mut count = 0;
    for statement in statements {
        count = txn
            .execute(statement.as_str(), &[])
            .await
            .map_err(Error::sql(context()))?;
    }
    txn.execute(
        &format!(
            "UPDATE {} SET cursor = {last}, rows_done = rows_done + $3, batches = batches + 1, mismatches = mismatches + {mismatches},
                    samples = {samples}, rows_changed = {changed}, updated_at = now()
              WHERE plan_id = $1 AND step = $2",
            ex.ledger.table("jobs"),
            changed = changed.replace("<changed>", &count.to_string()),
        ),
        &[&plan.id, &step.name, &rows],
    )
    .await
    .map_err(Error::sql(context()))?;
    txn.commit().await.map_err(Error::sql(context()))
}
