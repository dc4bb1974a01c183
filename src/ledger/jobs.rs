//! Backfill and verification jobs in the ledger: one row per job with its counters and
//! starting settings, the key ranges workers claim, and the log of every batch. What a worker
//! does with a range is `ranges.rs`; this file is the job as a whole.

use super::{JobState, Ledger, RangeState};
use crate::error::Error;
use crate::pg::query::Query;
use std::time::Duration;
use tokio_postgres::Row;

#[derive(Debug, Clone)]
pub struct JobRow {
    pub step: String,
    pub relation: String,
    pub cursor: Option<Vec<String>>,
    pub rows_done: i64,
    pub rows_estimated: i64,
    pub rows_changed: i64,
    pub batches: i64,
    pub mismatches: i64,
    pub samples: Vec<String>,
    pub batch_size: i32,
    pub target_batch_ms: i32,
    pub max_rows_per_second: i64,
    pub state: JobState,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    /// Why the job waits, while it does.
    pub note: Option<String>,
    /// Left to `switchback backfill` workers by `advance --detach`.
    pub detached: bool,
    pub walk: Walk,
}

/// How a job pages through its table, fixed when the job is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Walk {
    /// By the table's key, in ranges of key values (a partitioned table).
    Key,
    /// By block, in `ctid` ranges: the table's file when the job began, and its length then
    /// (rows written later went through the trigger, so the job ends there).
    Blocks { filenode: i64, end: i64 },
}

/// A job as it is created: its settings at the start, and whether workers run it.
#[derive(Debug, Clone)]
pub struct NewJob<'a> {
    pub plan: &'a str,
    pub step: &'a str,
    pub relation: &'a str,
    pub rows_estimated: i64,
    pub batch_size: i32,
    pub target_batch_ms: i32,
    pub max_rows_per_second: i64,
    pub detached: bool,
    pub walk: Walk,
}

/// Recent progress and live workers of one job, from the batch log and the ranges.
#[derive(Debug, Clone)]
pub struct Activity {
    /// Rows per second over the recent window, when batches ran in it.
    pub recent_rate: Option<f64>,
    /// Workers holding a live lease on a range, with their last heartbeat (UTC, ISO 8601).
    pub workers: Vec<(String, String)>,
}

const JOB_COLUMNS: &str = "SELECT step, relation, cursor, rows_done, rows_estimated, rows_changed, batches, mismatches, samples,
        batch_size, target_batch_ms, max_rows_per_second, state, started_at, updated_at, note, detached, filenode, end_block";

fn job_row(r: &Row) -> Result<JobRow, Error> {
    Ok(JobRow {
        step: r.get(0),
        relation: r.get(1),
        cursor: r.get(2),
        rows_done: r.get(3),
        rows_estimated: r.get(4),
        rows_changed: r.get(5),
        batches: r.get(6),
        mismatches: r.get(7),
        samples: r.get(8),
        batch_size: r.get(9),
        target_batch_ms: r.get(10),
        max_rows_per_second: r.get(11),
        state: JobState::parse(r.get(12))?,
        started_at: r.get(13),
        updated_at: r.get(14),
        note: r.get(15),
        detached: r.get(16),
        walk: match (r.get(17), r.get(18)) {
            (Some(filenode), Some(end)) => Walk::Blocks { filenode, end },
            _ => Walk::Key,
        },
    })
}

impl Ledger {
    pub async fn job(
        &self,
        client: &impl Query,
        plan: &str,
        step: &str,
    ) -> Result<Option<JobRow>, Error> {
        client
            .fetch_opt(
                &format!(
                    "{JOB_COLUMNS} FROM {} WHERE plan_id = $1 AND step = $2",
                    self.table("jobs")
                ),
                &[&plan, &step],
            )
            .await
            .map_err(Error::sql(format!("read job {step}")))?
            .map(|r| job_row(&r))
            .transpose()
    }

    pub async fn jobs(&self, client: &impl Query, plan: &str) -> Result<Vec<JobRow>, Error> {
        client
            .fetch(
                &format!(
                    "{JOB_COLUMNS} FROM {} WHERE plan_id = $1 ORDER BY started_at",
                    self.table("jobs")
                ),
                &[&plan],
            )
            .await
            .map_err(Error::sql("list jobs"))?
            .iter()
            .map(job_row)
            .collect()
    }

    /// Creates a job and its ranges, split at `splits` (each the text of a key or a block
    /// number; the last range is open-ended), in one transaction. A job of the same step that
    /// is there already (its table was rewritten under it) is replaced.
    pub async fn create_job(
        &self,
        client: &mut tokio_postgres::Client,
        job: &NewJob<'_>,
        splits: Vec<Vec<String>>,
    ) -> Result<(), Error> {
        let context = || format!("start job {}", job.step);
        let txn = client.transaction().await.map_err(Error::sql(context()))?;
        for table in ["ranges", "jobs"] {
            txn.exec(
                &format!(
                    "DELETE FROM {} WHERE plan_id = $1 AND step = $2",
                    self.table(table)
                ),
                &[&job.plan, &job.step],
            )
            .await
            .map_err(Error::sql(context()))?;
        }
        let (filenode, end_block) = match job.walk {
            Walk::Key => (None, None),
            Walk::Blocks { filenode, end } => (Some(filenode), Some(end)),
        };
        txn.exec(
            &format!(
                "INSERT INTO {} (plan_id, step, relation, rows_estimated, batch_size, target_batch_ms, max_rows_per_second, detached, filenode, end_block) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                self.table("jobs")
            ),
            &[
                &job.plan,
                &job.step,
                &job.relation,
                &job.rows_estimated,
                &job.batch_size,
                &job.target_batch_ms,
                &job.max_rows_per_second,
                &job.detached,
                &filenode,
                &end_block,
            ],
        )
        .await
        .map_err(Error::sql(context()))?;
        let mut lower: Option<Vec<String>> = None;
        for (range_no, upper) in splits
            .into_iter()
            .map(Some)
            .chain(std::iter::once(None))
            .enumerate()
        {
            txn.exec(
                &format!("INSERT INTO {} (plan_id, step, range_no, lower, upper) VALUES ($1, $2, $3, $4, $5)", self.table("ranges")),
                &[&job.plan, &job.step, &(range_no as i32), &lower, &upper],
            )
            .await
            .map_err(Error::sql("record the job's ranges"))?;
            lower = upper;
        }
        txn.commit().await.map_err(Error::sql(context()))
    }

    /// Starts a job over from the beginning, its counters and its ranges in one statement (a
    /// crash between the two would leave a reset job whose ranges are all done).
    pub async fn restart_job(
        &self,
        client: &impl Query,
        plan: &str,
        step: &str,
    ) -> Result<(), Error> {
        client
            .exec(
                &format!(
                    "WITH ranges AS (UPDATE {} SET cursor = NULL, state = $3, worker = NULL, lease_until = NULL WHERE plan_id = $1 AND step = $2)
                     UPDATE {} SET cursor = NULL, rows_done = 0, rows_changed = 0, batches = 0, mismatches = 0, samples = '{{}}', state = $4, started_at = now(), finished_at = NULL WHERE plan_id = $1 AND step = $2",
                    self.table("ranges"),
                    self.table("jobs")
                ),
                &[&plan, &step, &RangeState::Pending.as_str(), &JobState::Running.as_str()],
            )
            .await
            .map_err(Error::sql(format!("restart job {step}")))?;
        Ok(())
    }

    /// Marks a job waiting for `reason` (Some) or running again (None).
    pub async fn set_job_wait(
        &self,
        client: &impl Query,
        plan: &str,
        step: &str,
        reason: Option<&str>,
    ) -> Result<(), Error> {
        let state = match reason {
            Some(_) => JobState::Throttled,
            None => JobState::Running,
        };
        client
            .exec(
                &format!("UPDATE {} SET state = $4, note = $3, updated_at = now() WHERE plan_id = $1 AND step = $2", self.table("jobs")),
                &[&plan, &step, &reason, &state.as_str()],
            )
            .await
            .map_err(Error::sql(format!("record why job {step} waits")))?;
        Ok(())
    }

    /// Ends a job: done, or failed (a verification that found differences). False when it
    /// already was: another of the job's workers got there first.
    pub async fn finish_job(
        &self,
        client: &impl Query,
        plan: &str,
        step: &str,
        state: JobState,
    ) -> Result<bool, Error> {
        let changed = client
            .exec(
                &format!("UPDATE {} SET state = $3, updated_at = now(), finished_at = now() WHERE plan_id = $1 AND step = $2 AND state <> $3", self.table("jobs")),
                &[&plan, &step, &state.as_str()],
            )
            .await
            .map_err(Error::sql(format!("set job {step} {state}")))?;
        Ok(changed > 0)
    }

    /// The job's rate over the last `recent`, and its live workers.
    pub async fn activity(
        &self,
        client: &impl Query,
        plan: &str,
        step: &str,
        recent: Duration,
    ) -> Result<Activity, Error> {
        let seconds = recent.as_secs_f64();
        let recent_rate: Option<f64> = client
            .fetch_one(
                &format!("SELECT sum(rows)::float8 / $3 FROM {} WHERE plan_id = $1 AND step = $2 AND at > now() - $3 * interval '1 second'", self.table("batches")),
                &[&plan, &step, &seconds],
            )
            .await
            .map_err(Error::sql("read recent batches"))?
            .get(0);
        let workers = client
            .fetch(
                &format!(
                    "SELECT worker, to_char(max(heartbeat_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') FROM {}
                      WHERE plan_id = $1 AND step = $2 AND state = $3 AND lease_until > now() GROUP BY worker ORDER BY worker",
                    self.table("ranges")
                ),
                &[&plan, &step, &RangeState::Claimed.as_str()],
            )
            .await
            .map_err(Error::sql("read the job's workers"))?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        Ok(Activity {
            recent_rate,
            workers,
        })
    }

    /// Drops a plan's recorded fills and job rows once abort has used them.
    pub async fn forget_work(&self, client: &impl Query, plan: &str) -> Result<(), Error> {
        for table in ["fills", "jobs", "ranges", "batches"] {
            client
                .exec(
                    &format!("DELETE FROM {} WHERE plan_id = $1", self.table(table)),
                    &[&plan],
                )
                .await
                .map_err(Error::sql(format!("clear the {table} of plan {plan}")))?;
        }
        Ok(())
    }
}
