//! What `status` shows: each plan's stage and steps, and for each backfill its progress,
//! rate and ETA, all read from the ledger (so it works from any machine).

use crate::error::Error;
use crate::ledger::{Control, Ledger};
use crate::pg::query::Query;
use serde::Serialize;
use tokio_postgres::Client;

#[derive(Debug, Clone, Serialize)]
pub struct PlanStatus {
    pub id: String,
    pub stage: String,
    pub updated_at: String,
    /// Pause state and live setting overrides set by release managers.
    pub control: Control,
    pub steps: Vec<StepStatus>,
    pub jobs: Vec<JobStatus>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepStatus {
    pub name: String,
    pub stage: String,
    pub status: String,
    pub attempts: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct JobStatus {
    pub step: String,
    pub relation: String,
    pub state: String,
    pub rows_done: i64,
    pub rows_estimated: i64,
    pub percent: f64,
    pub rows_per_second: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eta_seconds: Option<f64>,
    pub batch_size: i32,
    pub target_batch_ms: i32,
    pub max_rows_per_second: i64,
    /// Why the job waits (`throttled: replica lag 12.3s > 10s on ...`), while it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Workers holding a range of the job, with their last heartbeat.
    pub workers: Vec<WorkerStatus>,
}

#[derive(Debug, Clone, Serialize)]
pub struct WorkerStatus {
    pub name: String,
    pub last_heartbeat: String,
}

/// Recent progress and live workers of one job, from the batch log and the ranges.
struct Activity {
    /// Rows per second over the last RECENT seconds, when batches ran in them.
    recent_rate: Option<f64>,
    workers: Vec<WorkerStatus>,
}

const RECENT: f64 = 30.0;

async fn activity(
    client: &Client,
    ledger: &Ledger,
    plan: &str,
    step: &str,
) -> Result<Activity, Error> {
    let recent: Option<f64> = client
        .fetch_one(
            &format!("SELECT sum(rows)::float8 / {RECENT} FROM {} WHERE plan_id = $1 AND step = $2 AND at > now() - interval '{RECENT} seconds'", ledger.table("batches")),
            &[&plan, &step],
        )
        .await
        .map_err(Error::sql("read recent batches"))?
        .get(0);
    let workers = client
        .fetch(
            &format!(
                "SELECT worker, to_char(max(heartbeat_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') FROM {}
                  WHERE plan_id = $1 AND step = $2 AND state = 'claimed' AND lease_until > now() GROUP BY worker ORDER BY worker",
                ledger.table("ranges")
            ),
            &[&plan, &step],
        )
        .await
        .map_err(Error::sql("read the job's workers"))?
        .iter()
        .map(|r| WorkerStatus { name: r.get(0), last_heartbeat: r.get(1) })
        .collect();
    Ok(Activity {
        recent_rate: recent,
        workers,
    })
}

/// Status of every plan in the ledger, or of `only`.
pub async fn read(
    client: &Client,
    ledger: &Ledger,
    only: Option<&str>,
) -> Result<Vec<PlanStatus>, Error> {
    if !ledger.exists(client).await? {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for plan in ledger.plans(client).await? {
        if only.is_some_and(|id| id != plan.id) {
            continue;
        }
        let control = ledger.control(client, &plan.id).await?;
        let steps = ledger
            .steps(client, &plan.id)
            .await?
            .into_iter()
            .map(|s| StepStatus {
                name: s.name,
                stage: s.stage,
                status: s.status,
                attempts: s.attempts,
                last_error: s.last_error,
            })
            .collect();
        let mut jobs = Vec::new();
        for j in ledger.jobs(client, &plan.id).await? {
            let seen = activity(client, ledger, &plan.id, &j.step).await?;
            let seconds = (j.updated_at - j.started_at).num_milliseconds() as f64 / 1000.0;
            let average = if seconds > 0.0 {
                j.rows_done as f64 / seconds
            } else {
                0.0
            };
            let rate = if j.state == "done" {
                average
            } else {
                seen.recent_rate.unwrap_or(0.0)
            };
            let total = j.rows_estimated.max(j.rows_done);
            let remaining = (total - j.rows_done).max(0) as f64;
            let state = match j.state.as_str() {
                "running" | "throttled" if control.paused() => "paused".to_owned(),
                "running" if j.detached && seen.workers.is_empty() => {
                    "waiting for workers".to_owned()
                }
                _ => j.state.clone(),
            };
            jobs.push(JobStatus {
                percent: if total > 0 {
                    100.0 * j.rows_done as f64 / total as f64
                } else {
                    100.0
                },
                eta_seconds: (state == "running" && rate > 0.0).then(|| remaining / rate),
                rows_per_second: rate,
                note: j.note,
                step: j.step,
                relation: j.relation,
                state,
                rows_done: j.rows_done,
                rows_estimated: total,
                batch_size: control.batch_size.unwrap_or(j.batch_size),
                target_batch_ms: control.target_batch_ms.unwrap_or(j.target_batch_ms),
                max_rows_per_second: control.max_rows_per_second.unwrap_or(j.max_rows_per_second),
                workers: seen.workers,
            });
        }
        out.push(PlanStatus {
            id: plan.id,
            stage: plan.stage.as_str().to_owned(),
            updated_at: plan.updated_at.to_rfc3339(),
            control,
            steps,
            jobs,
        });
    }
    Ok(out)
}
