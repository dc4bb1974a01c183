//! switchback's own tables in the target database (schema `switchback` by default): plans
//! with their checksum, definition and catalog facts; step states; backfill jobs with their
//! cursor and live settings; the keys whose NULLs a fill replaced; and an event log. The
//! schema is versioned so later releases can migrate it in place.

mod runners;

pub use runners::Holder;

use crate::error::Error;
use crate::pg::facts::Facts;
use crate::pg::query::Query;
use crate::pg::quote;

/// Each entry upgrades the ledger by one version; `{s}` is the quoted state schema.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE {s}.plans (
    id text PRIMARY KEY,
    checksum text NOT NULL,
    definition text NOT NULL,
    facts jsonb NOT NULL,
    stage text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE {s}.steps (
    plan_id text NOT NULL REFERENCES {s}.plans (id),
    name text NOT NULL,
    stage text NOT NULL,
    status text NOT NULL DEFAULT 'pending',
    attempts integer NOT NULL DEFAULT 0,
    started_at timestamptz,
    finished_at timestamptz,
    last_error text,
    PRIMARY KEY (plan_id, name)
);
CREATE TABLE {s}.jobs (
    plan_id text NOT NULL,
    step text NOT NULL,
    relation text NOT NULL,
    cursor text[],
    rows_done bigint NOT NULL DEFAULT 0,
    rows_estimated bigint NOT NULL DEFAULT 0,
    rows_changed bigint NOT NULL DEFAULT 0,
    batches bigint NOT NULL DEFAULT 0,
    mismatches bigint NOT NULL DEFAULT 0,
    samples text[] NOT NULL DEFAULT '{}',
    batch_size integer NOT NULL,
    target_batch_ms integer NOT NULL,
    max_rows_per_second bigint NOT NULL,
    state text NOT NULL DEFAULT 'running',
    started_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    PRIMARY KEY (plan_id, step)
);
CREATE TABLE {s}.fills (
    plan_id text NOT NULL,
    column_name text NOT NULL,
    key text[] NOT NULL,
    PRIMARY KEY (plan_id, column_name, key)
);
CREATE TABLE {s}.events (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    plan_id text,
    step text,
    actor text NOT NULL,
    kind text NOT NULL,
    detail text NOT NULL DEFAULT ''
);
"#,
    r#"
-- Version 2: a control row per plan, written by pause/resume/throttle from any machine and
-- read by the backfill before every batch.
ALTER TABLE {s}.plans
    ADD COLUMN paused_by text,
    ADD COLUMN pause_reason text,
    ADD COLUMN paused_at timestamptz,
    ADD COLUMN batch_size integer,
    ADD COLUMN target_batch_ms integer,
    ADD COLUMN max_rows_per_second bigint;
"#,
    r#"
-- Version 3: why a job is waiting (replica lag), for status.
ALTER TABLE {s}.jobs ADD COLUMN note text;
"#,
    r#"
-- Version 4: a job's key space in ranges that workers claim with a lease, and a log of every
-- batch with the key interval it covered.
ALTER TABLE {s}.jobs ADD COLUMN detached boolean NOT NULL DEFAULT false;
CREATE TABLE {s}.ranges (
    plan_id text NOT NULL,
    step text NOT NULL,
    range_no integer NOT NULL,
    lower text[],
    upper text[],
    cursor text[],
    state text NOT NULL DEFAULT 'pending',
    worker text,
    lease_until timestamptz,
    heartbeat_at timestamptz,
    PRIMARY KEY (plan_id, step, range_no)
);
CREATE TABLE {s}.batches (
    id bigserial PRIMARY KEY,
    plan_id text NOT NULL,
    step text NOT NULL,
    range_no integer NOT NULL,
    worker text NOT NULL,
    after_key text[],
    last_key text[] NOT NULL,
    rows bigint NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
);
"#,
    r#"
-- Version 5: the values a backfill overwrote (add_check's fill), for abort to put back.
ALTER TABLE {s}.fills ADD COLUMN old_value text;
"#,
    r#"
-- Version 6: who runs each plan, as a lease that holds across pooled sessions (a session
-- advisory lock does not under transaction pooling).
CREATE TABLE {s}.runners (
    plan_id text PRIMARY KEY,
    holder text NOT NULL,
    backend_pid integer,
    backend_start timestamptz,
    lease_until timestamptz NOT NULL,
    taken_at timestamptz NOT NULL DEFAULT now()
);
"#,
];

/// Where a plan is between `advance` calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The expand stage has started and not finished.
    Expanding,
    /// At the gate: expand is done and verified; waiting for the deploy and the next advance.
    Expanded,
    Contracting,
    Completed,
    Aborting,
    Aborted,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Expanding => "expanding",
            Stage::Expanded => "expanded",
            Stage::Contracting => "contracting",
            Stage::Completed => "completed",
            Stage::Aborting => "aborting",
            Stage::Aborted => "aborted",
        }
    }

    fn parse(text: &str) -> Stage {
        match text {
            "expanded" => Stage::Expanded,
            "contracting" => Stage::Contracting,
            "completed" => Stage::Completed,
            "aborting" => Stage::Aborting,
            "aborted" => Stage::Aborted,
            _ => Stage::Expanding,
        }
    }
}

#[derive(Debug, Clone)]
pub struct PlanRow {
    pub id: String,
    pub checksum: String,
    pub definition: String,
    pub facts: Facts,
    pub stage: Stage,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone)]
pub struct StepRow {
    pub name: String,
    pub stage: String,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
}

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
    pub state: String,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    /// Why the job waits, while it does.
    pub note: Option<String>,
    /// Left to `switchback backfill` workers by `advance --detach`.
    pub detached: bool,
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

#[derive(Debug, Clone, serde::Serialize)]
pub struct EventRow {
    pub at: String,
    pub plan: Option<String>,
    pub step: Option<String>,
    pub actor: String,
    pub kind: String,
    pub detail: String,
}

#[derive(Debug, Clone)]
pub struct Ledger {
    /// Quoted.
    schema: String,
    /// As the catalog spells it.
    name: String,
    actor: String,
}

impl Ledger {
    /// `actor` is recorded with every event: OS user@host.
    pub fn new(schema: &str, actor: String) -> Ledger {
        Ledger {
            schema: quote::ident(schema),
            name: schema.to_owned(),
            actor,
        }
    }

    /// The quoted state schema.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    pub fn table(&self, name: &str) -> String {
        format!("{}.{}", self.schema, quote::ident(name))
    }

    /// Whether the ledger has been created in this database (read-only commands and
    /// `--dry-run` must not create it).
    pub async fn exists(&self, client: &impl Query) -> Result<bool, Error> {
        Ok(client
            .fetch_one(
                "SELECT to_regclass($1) IS NOT NULL",
                &[&self.table("plans")],
            )
            .await
            .map_err(Error::sql("look for the ledger"))?
            .get(0))
    }

    /// Creates or upgrades the ledger. An advisory lock keeps two first runs from racing.
    /// The schema is created only when missing: `CREATE SCHEMA IF NOT EXISTS` asks for CREATE
    /// on the database even when the schema exists, which a migration role given a schema
    /// by its administrator does not have.
    pub async fn ensure(&self, client: &mut tokio_postgres::Client) -> Result<(), Error> {
        let txn = client
            .transaction()
            .await
            .map_err(Error::sql("open a transaction"))?;
        txn.batch_execute("SELECT pg_advisory_xact_lock(hashtext('switchback ledger'))")
            .await
            .map_err(Error::sql("lock the ledger"))?;
        let missing = txn
            .fetch_opt(
                "SELECT 1 FROM pg_namespace WHERE nspname = $1",
                &[&self.name],
            )
            .await
            .map_err(Error::sql("look for the ledger schema"))?
            .is_none();
        if missing {
            txn.batch_execute(&format!("CREATE SCHEMA {}", self.schema))
                .await
                .map_err(Error::sql(format!(
                    "create the ledger schema {} (an administrator can create it and grant USAGE and CREATE on it instead)",
                    self.schema
                )))?;
        }
        txn.batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS {}.ledger_version (version integer NOT NULL)",
            self.schema
        ))
        .await
        .map_err(Error::sql("create the ledger's version table"))?;
        let version: i32 = txn
            .fetch_one(
                &format!(
                    "SELECT coalesce(max(version), 0) FROM {}.ledger_version",
                    self.schema
                ),
                &[],
            )
            .await
            .map_err(Error::sql("read the ledger version"))?
            .get(0);
        for (index, migration) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
            txn.batch_execute(&migration.replace("{s}", &self.schema))
                .await
                .map_err(Error::sql(format!(
                    "migrate the ledger to version {}",
                    index + 1
                )))?;
            txn.exec(
                &format!("INSERT INTO {}.ledger_version VALUES ($1)", self.schema),
                &[&(index as i32 + 1)],
            )
            .await
            .map_err(Error::sql("record the ledger version"))?;
        }
        txn.commit()
            .await
            .map_err(Error::sql("commit the ledger schema"))
    }

    pub async fn plan(&self, client: &impl Query, id: &str) -> Result<Option<PlanRow>, Error> {
        let row = client
            .fetch_opt(&format!("SELECT id, checksum, definition, facts, stage, updated_at FROM {} WHERE id = $1", self.table("plans")), &[&id])
            .await
            .map_err(Error::sql(format!("read plan {id} from the ledger")))?;
        row.map(|r| {
            let facts: serde_json::Value = r.get(3);
            Ok(PlanRow {
                id: r.get(0),
                checksum: r.get(1),
                definition: r.get(2),
                facts: serde_json::from_value(facts)
                    .map_err(|e| Error::Refused(format!("read the facts of plan {id}: {e}")))?,
                stage: Stage::parse(r.get(4)),
                updated_at: r.get(5),
            })
        })
        .transpose()
    }

    pub async fn plans(&self, client: &impl Query) -> Result<Vec<PlanRow>, Error> {
        let ids: Vec<String> = client
            .fetch(
                &format!("SELECT id FROM {} ORDER BY id", self.table("plans")),
                &[],
            )
            .await
            .map_err(Error::sql("list plans in the ledger"))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut plans = Vec::new();
        for id in ids {
            plans.extend(self.plan(client, &id).await?);
        }
        Ok(plans)
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
        txn.commit()
            .await
            .map_err(Error::sql("commit the plan's first ledger rows"))
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

    pub async fn steps(&self, client: &impl Query, plan: &str) -> Result<Vec<StepRow>, Error> {
        Ok(client
            .fetch(&format!("SELECT name, stage, status, attempts, last_error FROM {} WHERE plan_id = $1 ORDER BY started_at NULLS LAST, finished_at NULLS LAST, name", self.table("steps")), &[&plan])
            .await
            .map_err(Error::sql(format!("read the steps of plan {plan}")))?
            .iter()
            .map(|r| StepRow {
                name: r.get(0),
                stage: r.get(1),
                status: r.get(2),
                attempts: r.get(3),
                last_error: r.get(4),
            })
            .collect())
    }

    pub async fn start_step(
        &self,
        client: &impl Query,
        plan: &str,
        step: &str,
    ) -> Result<(), Error> {
        client
            .exec(
                &format!("UPDATE {} SET status = 'running', attempts = attempts + 1, started_at = now(), last_error = NULL WHERE plan_id = $1 AND name = $2", self.table("steps")),
                &[&plan, &step],
            )
            .await
            .map_err(Error::sql(format!("mark step {step} running")))?;
        self.event(client, plan, Some(step), "step started", "")
            .await
    }

    /// SQL that marks a step with `status`, for the end of the transaction doing the step's
    /// work, so the effect and its record commit together.
    pub fn finish_step_sql(&self, plan: &str, step: &str, status: &str) -> String {
        format!(
            "UPDATE {steps} SET status = {status}, finished_at = now() WHERE plan_id = {plan} AND name = {step};
             INSERT INTO {events} (plan_id, step, actor, kind) VALUES ({plan}, {step}, {actor}, {kind});",
            steps = self.table("steps"),
            events = self.table("events"),
            status = quote::literal(status),
            plan = quote::literal(plan),
            step = quote::literal(step),
            actor = quote::literal(&self.actor),
            kind = quote::literal(&format!("step {status}")),
        )
    }

    pub async fn fail_step(
        &self,
        client: &impl Query,
        plan: &str,
        step: &str,
        error: &str,
    ) -> Result<(), Error> {
        client
            .exec(&format!("UPDATE {} SET status = 'failed', last_error = $3 WHERE plan_id = $1 AND name = $2", self.table("steps")), &[&plan, &step, &error])
            .await
            .map_err(Error::sql(format!("mark step {step} failed")))?;
        self.event(client, plan, Some(step), "step failed", error)
            .await
    }

    pub async fn event(
        &self,
        client: &impl Query,
        plan: &str,
        step: Option<&str>,
        kind: &str,
        detail: &str,
    ) -> Result<(), Error> {
        client
            .exec(
                &format!("INSERT INTO {} (plan_id, step, actor, kind, detail) VALUES ($1, $2, $3, $4, $5)", self.table("events")),
                &[&plan, &step, &self.actor, &kind, &detail],
            )
            .await
            .map_err(Error::sql("record an event"))?;
        Ok(())
    }

    pub async fn control(&self, client: &impl Query, plan: &str) -> Result<Control, Error> {
        let row = client
            .fetch_opt(
                &format!("SELECT paused_by, pause_reason, batch_size, target_batch_ms, max_rows_per_second FROM {} WHERE id = $1", self.table("plans")),
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
            ControlChange::Throttle { batch_size, target_batch_ms, max_rows_per_second } => {
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

    /// The event log, oldest first.
    pub async fn history(
        &self,
        client: &impl Query,
        plan: Option<&str>,
    ) -> Result<Vec<EventRow>, Error> {
        Ok(client
            .fetch(
                &format!("SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), plan_id, step, actor, kind, detail FROM {} WHERE $1::text IS NULL OR plan_id = $1 ORDER BY id", self.table("events")),
                &[&plan],
            )
            .await
            .map_err(Error::sql("read the event log"))?
            .iter()
            .map(|r| EventRow { at: r.get(0), plan: r.get(1), step: r.get(2), actor: r.get(3), kind: r.get(4), detail: r.get(5) })
            .collect())
    }

    pub async fn job(
        &self,
        client: &impl Query,
        plan: &str,
        step: &str,
    ) -> Result<Option<JobRow>, Error> {
        Ok(client
            .fetch_opt(
                &format!(
                    "SELECT step, relation, cursor, rows_done, rows_estimated, rows_changed, batches, mismatches, samples,
                            batch_size, target_batch_ms, max_rows_per_second, state, started_at, updated_at, note, detached
                       FROM {} WHERE plan_id = $1 AND step = $2",
                    self.table("jobs")
                ),
                &[&plan, &step],
            )
            .await
            .map_err(Error::sql(format!("read job {step}")))?
            .map(|r| JobRow {
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
                state: r.get(12),
                started_at: r.get(13),
                updated_at: r.get(14),
                note: r.get(15),
                detached: r.get(16),
            }))
    }

    pub async fn jobs(&self, client: &impl Query, plan: &str) -> Result<Vec<JobRow>, Error> {
        let steps: Vec<String> = client
            .fetch(
                &format!(
                    "SELECT step FROM {} WHERE plan_id = $1 ORDER BY started_at",
                    self.table("jobs")
                ),
                &[&plan],
            )
            .await
            .map_err(Error::sql("list jobs"))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut jobs = Vec::new();
        for step in steps {
            jobs.extend(self.job(client, plan, &step).await?);
        }
        Ok(jobs)
    }

    /// Starts a verification over from the beginning.
    pub async fn restart_job(
        &self,
        client: &impl Query,
        plan: &str,
        step: &str,
    ) -> Result<(), Error> {
        client
            .exec(
                &format!("UPDATE {} SET cursor = NULL, rows_done = 0, rows_changed = 0, batches = 0, mismatches = 0, samples = '{{}}', state = 'running', started_at = now(), finished_at = NULL WHERE plan_id = $1 AND step = $2", self.table("jobs")),
                &[&plan, &step],
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
        client
            .exec(
                &format!("UPDATE {} SET state = CASE WHEN $3::text IS NULL THEN 'running' ELSE 'throttled' END, note = $3, updated_at = now() WHERE plan_id = $1 AND step = $2", self.table("jobs")),
                &[&plan, &step, &reason],
            )
            .await
            .map_err(Error::sql(format!("record why job {step} waits")))?;
        Ok(())
    }

    pub async fn set_job_state(
        &self,
        client: &impl Query,
        plan: &str,
        step: &str,
        state: &str,
    ) -> Result<(), Error> {
        client
            .exec(
                &format!("UPDATE {} SET state = $3, updated_at = now(), finished_at = CASE WHEN $3 IN ('done', 'failed') THEN now() END WHERE plan_id = $1 AND step = $2", self.table("jobs")),
                &[&plan, &step, &state],
            )
            .await
            .map_err(Error::sql(format!("set job {step} {state}")))?;
        Ok(())
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
