//! A job's key ranges as workers use them: claimed under a lease, renewed while a worker
//! waits, moved batch by batch in the batch's own transaction (and only while the worker still
//! holds the range), and finished. The batch's counters and log line go in the same
//! transaction, so no batch is lost or counted twice.

use super::{Ledger, RangeState};
use crate::error::Error;
use crate::pg::query::Query;
use std::time::Duration;

/// Which job's ranges, for which worker, and for how long each claim lasts unrenewed.
#[derive(Debug, Clone, Copy)]
pub struct RangeLease<'a> {
    pub plan: &'a str,
    pub step: &'a str,
    pub worker: &'a str,
    pub ttl: Duration,
    /// A direct connection (no pooler between): the claim records its server session, so a
    /// worker that dies gives its range up at once.
    pub direct: bool,
}

impl RangeLease<'_> {
    fn ttl_ms(&self) -> f64 {
        self.ttl.as_millis() as f64
    }
}

/// A range a worker holds: where to go on from, and where it ends (None: unbounded).
#[derive(Debug, Clone)]
pub struct Claim {
    pub range_no: i32,
    pub cursor: Option<Vec<String>>,
    pub upper: Option<Vec<String>>,
}

/// What a verification batch found wrong: how many rows, and SQL listing some of them.
#[derive(Debug, Clone)]
pub struct Mismatches {
    pub count: i64,
    pub samples_sql: String,
}

/// One committed batch, as the ledger records it.
#[derive(Debug, Clone)]
pub struct BatchRecord<'a> {
    pub range: &'a Claim,
    pub last: &'a [String],
    pub rows: i64,
    pub changed: i64,
    pub mismatches: Option<&'a Mismatches>,
}

/// How many differing rows a job keeps to show.
const SAMPLES: usize = 10;

impl Ledger {
    /// Claims the first range nobody holds: pending, or claimed by a worker whose lease ran
    /// out or whose server session is gone (its batches, which commit on that session, can
    /// no longer move the range).
    pub async fn claim_range(
        &self,
        client: &impl Query,
        lease: &RangeLease<'_>,
    ) -> Result<Option<Claim>, Error> {
        let ranges = self.table("ranges");
        let row = client
            .fetch_opt(
                &format!(
                    "UPDATE {ranges} r SET state = $5, worker = $3, lease_until = now() + $4 * interval '1 millisecond', heartbeat_at = now(),
                            backend_pid = a.pid, backend_start = a.backend_start
                       FROM (SELECT 1) one LEFT JOIN pg_stat_activity a ON $7 AND a.pid = pg_backend_pid()
                      WHERE (r.plan_id, r.step, r.range_no) = (
                            SELECT h.plan_id, h.step, h.range_no FROM {ranges} h
                             WHERE h.plan_id = $1 AND h.step = $2
                               AND (h.state = $6 OR (h.state = $5 AND (h.lease_until < now() OR {})))
                             ORDER BY range_no LIMIT 1 FOR UPDATE SKIP LOCKED)
                      RETURNING range_no, coalesce(cursor, lower), upper",
                    Ledger::session_gone("h")
                ),
                &[
                    &lease.plan,
                    &lease.step,
                    &lease.worker,
                    &lease.ttl_ms(),
                    &RangeState::Claimed.as_str(),
                    &RangeState::Pending.as_str(),
                    &lease.direct,
                ],
            )
            .await
            .map_err(Error::sql("claim a range"))?;
        Ok(row.map(|r| Claim {
            range_no: r.get(0),
            cursor: r.get(1),
            upper: r.get(2),
        }))
    }

    /// Renews the lease on a range the worker holds while it waits (paused, throttled);
    /// false when it no longer holds it.
    pub async fn renew_range(
        &self,
        client: &impl Query,
        lease: &RangeLease<'_>,
        range: &Claim,
    ) -> Result<bool, Error> {
        Ok(client
            .exec(
                &format!("UPDATE {} SET lease_until = now() + $5 * interval '1 millisecond', heartbeat_at = now() WHERE plan_id = $1 AND step = $2 AND range_no = $3 AND worker = $4 AND state = $6", self.table("ranges")),
                &[&lease.plan, &lease.step, &range.range_no, &lease.worker, &lease.ttl_ms(), &RangeState::Claimed.as_str()],
            )
            .await
            .map_err(Error::sql("renew a range's lease"))?
            == 1)
    }

    /// Ends this worker's claim on a range it has walked to its end.
    pub async fn finish_range(
        &self,
        client: &impl Query,
        lease: &RangeLease<'_>,
        range: &Claim,
    ) -> Result<(), Error> {
        self.end_claim(client, lease, range, RangeState::Done).await
    }

    /// Gives a range back, its cursor kept, for any worker to claim at once: a session let go
    /// between batches (`throttle --workers`) does not leave it until its lease runs out.
    pub async fn release_range(
        &self,
        client: &impl Query,
        lease: &RangeLease<'_>,
        range: &Claim,
    ) -> Result<(), Error> {
        self.end_claim(client, lease, range, RangeState::Pending)
            .await
    }

    /// A range this worker still holds becomes `state`; a pending one names no worker.
    async fn end_claim(
        &self,
        client: &impl Query,
        lease: &RangeLease<'_>,
        range: &Claim,
        state: RangeState,
    ) -> Result<(), Error> {
        client
            .exec(
                &format!("UPDATE {} SET state = $5, lease_until = NULL, worker = CASE WHEN $5 = $7 THEN NULL ELSE worker END
                           WHERE plan_id = $1 AND step = $2 AND range_no = $3 AND worker = $4 AND state = $6", self.table("ranges")),
                &[&lease.plan, &lease.step, &range.range_no, &lease.worker, &state.as_str(), &RangeState::Claimed.as_str(), &RangeState::Pending.as_str()],
            )
            .await
            .map_err(Error::sql(format!("mark a range {}", state.as_str())))?;
        Ok(())
    }

    /// (ranges not done, workers holding a live lease).
    pub async fn range_progress(
        &self,
        client: &impl Query,
        plan: &str,
        step: &str,
    ) -> Result<(i64, i64), Error> {
        let row = client
            .fetch_one(
                &format!("SELECT count(*) FILTER (WHERE state <> $3), count(DISTINCT worker) FILTER (WHERE state = $4 AND lease_until > now()) FROM {} WHERE plan_id = $1 AND step = $2", self.table("ranges")),
                &[&plan, &step, &RangeState::Done.as_str(), &RangeState::Claimed.as_str()],
            )
            .await
            .map_err(Error::sql("read the job's ranges"))?;
        Ok((row.get(0), row.get(1)))
    }

    /// Moves the range's cursor to the batch's last key, only while this worker holds the
    /// range; false (and the caller rolls back) when it no longer does. Run in the batch's
    /// transaction.
    pub async fn advance_range(
        &self,
        txn: &impl Query,
        lease: &RangeLease<'_>,
        range: &Claim,
        last: &[String],
    ) -> Result<bool, Error> {
        Ok(txn
            .exec(
                &format!("UPDATE {} SET cursor = $6, lease_until = now() + $5 * interval '1 millisecond', heartbeat_at = now() WHERE plan_id = $1 AND step = $2 AND range_no = $3 AND worker = $4 AND state = $7", self.table("ranges")),
                &[&lease.plan, &lease.step, &range.range_no, &lease.worker, &lease.ttl_ms(), &last, &RangeState::Claimed.as_str()],
            )
            .await
            .map_err(Error::sql("move the range's cursor"))?
            == 1)
    }

    /// The batch's counters and log line, in the batch's transaction: sent together
    /// (pipelined), so they cost the batch one round trip.
    pub async fn record_batch(
        &self,
        txn: &impl Query,
        lease: &RangeLease<'_>,
        batch: &BatchRecord<'_>,
    ) -> Result<(), Error> {
        let (mismatches, samples) = match batch.mismatches {
            Some(m) if m.count > 0 => (
                m.count,
                format!(
                    "(samples || ARRAY({} LIMIT {SAMPLES}))[1:{SAMPLES}]",
                    m.samples_sql
                ),
            ),
            _ => (0, "samples".to_owned()),
        };
        let (count_sql, log_sql) = (
            format!(
                "UPDATE {} SET rows_done = rows_done + $3, batches = batches + 1, rows_changed = rows_changed + $4,
                        mismatches = mismatches + $5, samples = {samples}, updated_at = now()
                  WHERE plan_id = $1 AND step = $2",
                self.table("jobs")
            ),
            format!("INSERT INTO {} (plan_id, step, range_no, worker, after_key, last_key, rows) VALUES ($1, $2, $3, $4, $5, $6, $7)", self.table("batches")),
        );
        let count = async {
            txn.exec(
                &count_sql,
                &[
                    &lease.plan,
                    &lease.step,
                    &batch.rows,
                    &batch.changed,
                    &mismatches,
                ],
            )
            .await
            .map_err(Error::sql("count the batch"))
        };
        let log = async {
            txn.exec(
                &log_sql,
                &[
                    &lease.plan,
                    &lease.step,
                    &batch.range.range_no,
                    &lease.worker,
                    &batch.range.cursor,
                    &batch.last,
                    &batch.rows,
                ],
            )
            .await
            .map_err(Error::sql("log the batch"))
        };
        tokio::try_join!(count, log)?;
        Ok(())
    }
}
