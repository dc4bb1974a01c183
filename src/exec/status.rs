//! What `status` shows: each plan's stage and steps, and for each backfill its progress,
//! rate and ETA, all read from the ledger (so it works from any machine).

use crate::error::Error;
use crate::ledger::{self, Control, JobState, Ledger, UseCheck};
use serde::Serialize;
use std::time::Duration;
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
    /// At the gate: whether the application still uses what contract removes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contract: Option<ContractCheck>,
    /// What its contract kept in the archive schema.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub archives: Vec<super::archive::Archive>,
}

/// What pg_stat_statements says of what a plan at the gate would remove.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "check", rename_all = "snake_case")]
pub enum ContractCheck {
    /// It cannot be read, and why.
    Unchecked { why: String },
    Checked {
        /// The statements that used it since the last check a window ago, one line each.
        statements: Vec<String>,
        since: Option<String>,
        /// Statements of other roles this role may not read.
        hidden: usize,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct StepStatus {
    pub name: String,
    pub stage: String,
    pub status: ledger::StepStatus,
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

/// The window `rows_per_second` is measured over while a job runs.
const RECENT: Duration = Duration::from_secs(30);

/// For a plan at the gate, what `advance` would find before contract (without keeping a
/// sample: status only reads).
async fn contract_check(
    client: &Client,
    ledger: &Ledger,
    row: &ledger::PlanRow,
) -> Result<Option<ContractCheck>, Error> {
    let plan = super::stored_plan(row)?;
    let check = ledger
        .statement_use(
            client,
            &plan,
            &row.facts,
            ledger::DEFAULT_UNUSED_FOR,
            ledger::Sample::Peek,
        )
        .await?;
    Ok(check.map(|check| match check {
        UseCheck::Unchecked(why) => ContractCheck::Unchecked { why },
        UseCheck::Checked(usage) => ContractCheck::Checked {
            statements: usage.statements.iter().map(|s| usage.describe(s)).collect(),
            since: usage.since.map(ledger::usage_clock),
            hidden: usage.hidden,
        },
    }))
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
            let seen = ledger.activity(client, &plan.id, &j.step, RECENT).await?;
            let seconds = (j.updated_at - j.started_at).num_milliseconds() as f64 / 1000.0;
            let average = if seconds > 0.0 {
                j.rows_done as f64 / seconds
            } else {
                0.0
            };
            let rate = if j.state == JobState::Done {
                average
            } else {
                seen.recent_rate.unwrap_or(0.0)
            };
            let total = j.rows_estimated.max(j.rows_done);
            let remaining = (total - j.rows_done).max(0) as f64;
            // What people watch: the stored state, or why a running job makes no progress.
            let state = match j.state {
                JobState::Running | JobState::Throttled if control.paused() => "paused",
                JobState::Running if j.detached && seen.workers.is_empty() => "waiting for workers",
                other => other.as_str(),
            }
            .to_owned();
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
                workers: seen
                    .workers
                    .into_iter()
                    .map(|(name, last_heartbeat)| WorkerStatus {
                        name,
                        last_heartbeat,
                    })
                    .collect(),
            });
        }
        let contract = match plan.stage {
            ledger::Stage::Expanded => contract_check(client, ledger, &plan).await?,
            _ => None,
        };
        let archives = super::archive::list(client, ledger, Some(&plan.id)).await?;
        out.push(PlanStatus {
            contract,
            archives,
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
