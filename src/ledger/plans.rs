//! Plans in the ledger: each one's checksum, definition, catalog facts and stage, and the
//! control row release managers write (pause, resume, throttle) and backfills read.

use super::{Ledger, Stage};
use crate::error::Error;
use crate::pg::facts::Facts;
use crate::pg::query::Query;
use tokio_postgres::Row;

#[derive(Debug, Clone)]
pub struct PlanRow {
    pub id: String,
    pub checksum: String,
    pub definition: String,
    pub facts: Facts,
    pub stage: Stage,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// What release managers set on a running plan; read before every batch.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Control {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pause_reason: Option<String>,
    /// Overrides of the plan file's backfill settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_batch_ms: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_rows_per_second: Option<i64>,
    /// Sessions each process backfilling the plan works with (`backfill.workers`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workers: Option<i32>,
}

impl Control {
    pub fn paused(&self) -> bool {
        self.paused_by.is_some()
    }
}

/// A change a release manager makes to a running plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlChange {
    Pause {
        reason: String,
    },
    Resume,
    Throttle {
        batch_size: Option<i32>,
        target_batch_ms: Option<i32>,
        max_rows_per_second: Option<i64>,
        workers: Option<i32>,
    },
}

impl ControlChange {
    /// The command that makes this change.
    pub fn command(&self) -> &'static str {
        match self {
            ControlChange::Pause { .. } => "pause",
            ControlChange::Resume => "resume",
            ControlChange::Throttle { .. } => "throttle",
        }
    }
}

const PLAN_COLUMNS: &str = "SELECT id, checksum, definition, facts, stage, updated_at";

fn plan_row(r: &Row) -> Result<PlanRow, Error> {
    let id: String = r.get(0);
    let facts: serde_json::Value = r.get(3);
    Ok(PlanRow {
        facts: serde_json::from_value(facts)
            .map_err(|e| Error::Refused(format!("read the facts of plan {id}: {e}")))?,
        checksum: r.get(1),
        definition: r.get(2),
        stage: Stage::parse(r.get(4)),
        updated_at: r.get(5),
        id,
    })
}

impl Ledger {
    pub async fn plan(&self, client: &impl Query, id: &str) -> Result<Option<PlanRow>, Error> {
        client
            .fetch_opt(
                &format!("{PLAN_COLUMNS} FROM {} WHERE id = $1", self.table("plans")),
                &[&id],
            )
            .await
            .map_err(Error::sql(format!("read plan {id} from the ledger")))?
            .map(|r| plan_row(&r))
            .transpose()
    }

    pub async fn plans(&self, client: &impl Query) -> Result<Vec<PlanRow>, Error> {
        client
            .fetch(
                &format!("{PLAN_COLUMNS} FROM {} ORDER BY id", self.table("plans")),
                &[],
            )
            .await
            .map_err(Error::sql("list plans in the ledger"))?
            .iter()
            .map(plan_row)
            .collect()
    }

    /// Records a plan's first run with its steps, all pending.
    pub async fn insert_plan(
        &self,
        client: &mut tokio_postgres::Client,
        id: &str,
        checksum: &str,
        definition: &str,
        facts: &Facts,
        steps: &[(String, String)],
    ) -> Result<(), Error> {
        let txn = client
            .transaction()
            .await
            .map_err(Error::sql("open a transaction"))?;
        let skipped = facts.skipped.clone();
        let facts = serde_json::to_value(facts).expect("facts serialize");
        txn.exec(
            &format!("INSERT INTO {} (id, checksum, definition, facts, stage) VALUES ($1, $2, $3, $4, 'expanding')", self.table("plans")),
            &[&id, &checksum, &definition, &facts],
        )
        .await
        .map_err(Error::sql(format!("record plan {id} in the ledger")))?;
        for (name, stage) in steps {
            txn.exec(
                &format!(
                    "INSERT INTO {} (plan_id, name, stage) VALUES ($1, $2, $3)",
                    self.table("steps")
                ),
                &[&id, name, stage],
            )
            .await
            .map_err(Error::sql("record the plan's steps"))?;
        }
        self.event(&txn, id, None, "plan started", "").await?;
        for s in &skipped {
            let kind = format!("changes[{}] skipped", s.change);
            self.event(&txn, id, None, &kind, &s.why).await?;
        }
        txn.commit()
            .await
            .map_err(Error::sql("commit the plan's first ledger rows"))
    }

    /// Clears an aborted plan's rows, so that a plan of the same id can start afresh (a
    /// revert started again after its abort); its events stay, for `history`. Nothing
    /// happens unless the plan is aborted.
    pub async fn forget_aborted(
        &self,
        client: &mut tokio_postgres::Client,
        id: &str,
    ) -> Result<(), Error> {
        let txn = client
            .transaction()
            .await
            .map_err(Error::sql("open a transaction"))?;
        let aborted = txn
            .fetch_opt(
                &format!(
                    "SELECT FROM {} WHERE id = $1 AND stage = 'aborted' FOR UPDATE",
                    self.table("plans")
                ),
                &[&id],
            )
            .await
            .map_err(Error::sql(format!("read plan {id} from the ledger")))?;
        if aborted.is_none() {
            return Ok(());
        }
        self.forget_work(&txn, id).await?;
        for table in ["runners", "usage_samples", "archives", "steps"] {
            txn.exec(
                &format!("DELETE FROM {} WHERE plan_id = $1", self.table(table)),
                &[&id],
            )
            .await
            .map_err(Error::sql(format!("clear the {table} of plan {id}")))?;
        }
        txn.exec(
            &format!("DELETE FROM {} WHERE id = $1", self.table("plans")),
            &[&id],
        )
        .await
        .map_err(Error::sql(format!("clear plan {id}")))?;
        self.event(&txn, id, None, "aborted run cleared", "started again")
            .await?;
        txn.commit()
            .await
            .map_err(Error::sql("commit the aborted plan's clearing"))
    }

    pub async fn set_stage(
        &self,
        client: &impl Query,
        id: &str,
        stage: Stage,
    ) -> Result<(), Error> {
        client
            .exec(
                &format!(
                    "UPDATE {} SET stage = $2, updated_at = now() WHERE id = $1",
                    self.table("plans")
                ),
                &[&id, &stage.as_str()],
            )
            .await
            .map_err(Error::sql(format!("set plan {id} to {}", stage.as_str())))?;
        self.event(client, id, None, &format!("stage {}", stage.as_str()), "")
            .await
    }

    pub async fn control(&self, client: &impl Query, plan: &str) -> Result<Control, Error> {
        let row = client
            .fetch_opt(
                &format!("SELECT paused_by, pause_reason, batch_size, target_batch_ms, max_rows_per_second, workers FROM {} WHERE id = $1", self.table("plans")),
                &[&plan],
            )
            .await
            .map_err(Error::sql(format!("read the controls of plan {plan}")))?;
        Ok(row.map_or_else(Control::default, |r| Control {
            paused_by: r.get(0),
            pause_reason: r.get(1),
            batch_size: r.get(2),
            target_batch_ms: r.get(3),
            max_rows_per_second: r.get(4),
            workers: r.get(5),
        }))
    }

    /// Applies a release manager's change and records who made it.
    pub async fn change_control(
        &self,
        client: &impl Query,
        plan: &str,
        change: &ControlChange,
    ) -> Result<(), Error> {
        let plans = self.table("plans");
        let (sql, kind, detail) = match change {
            ControlChange::Pause { reason } => (
                format!("UPDATE {plans} SET paused_by = $2, pause_reason = $3, paused_at = now() WHERE id = $1"),
                "paused",
                reason.clone(),
            ),
            ControlChange::Resume => (format!("UPDATE {plans} SET paused_by = NULL, pause_reason = NULL, paused_at = NULL WHERE id = $1"), "resumed", String::new()),
            ControlChange::Throttle { batch_size, target_batch_ms, max_rows_per_second, workers } => {
                let mut sets = Vec::new();
                let mut said = Vec::new();
                if let Some(n) = batch_size {
                    sets.push(format!("batch_size = {n}"));
                    said.push(format!("batch size {n}"));
                }
                if let Some(ms) = target_batch_ms {
                    sets.push(format!("target_batch_ms = {ms}"));
                    said.push(format!("target batch time {ms}ms"));
                }
                if let Some(rate) = max_rows_per_second {
                    sets.push(format!("max_rows_per_second = {rate}"));
                    said.push(format!("max {rate} rows/s"));
                }
                if let Some(n) = workers {
                    sets.push(format!("workers = {n}"));
                    said.push(format!("{n} sessions"));
                }
                (format!("UPDATE {plans} SET {} WHERE id = $1", sets.join(", ")), "throttled", said.join(", "))
            }
        };
        let pause = matches!(change, ControlChange::Pause { .. });
        let params: &[&dyn crate::pg::query::Param] = if pause {
            &[&plan, &self.actor, &detail]
        } else {
            &[&plan]
        };
        let updated = client
            .exec(&sql, params)
            .await
            .map_err(Error::sql(format!("change the controls of plan {plan}")))?;
        if updated == 0 {
            return Err(Error::Refused(format!(
                "find plan {plan} in the ledger: it has not started"
            )));
        }
        self.event(client, plan, None, kind, &detail).await
    }
}
