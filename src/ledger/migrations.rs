//! The ledger's own schema, versioned: each migration upgrades it by one version, applied in
//! order under an advisory lock so two first runs do not race.

use super::Ledger;
use crate::error::Error;
use crate::pg::query::Query;

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
    r#"
-- Version 7: a job that walks its table by block (ctid ranges) rather than by key: the
-- table's file and its length in blocks when the job began. A rewrite (VACUUM FULL, CLUSTER,
-- pg_repack) gives the table a new file, and the job starts over.
ALTER TABLE {s}.jobs ADD COLUMN filenode bigint, ADD COLUMN end_block bigint;
"#,
    r#"
-- Version 8: samples of pg_stat_statements' call counts for the statements that use what a
-- plan's contract removes (pg_stat_statements keeps no times), to tell whether the old
-- application still runs.
CREATE TABLE {s}.usage_samples (
    plan_id text NOT NULL,
    taken_at timestamptz NOT NULL,
    calls jsonb NOT NULL,
    PRIMARY KEY (plan_id, taken_at)
);
"#,
    r#"
-- Version 9: what contract kept instead of destroying (a table moved into the archive
-- schema, a column's values copied there), with its definition and until when it is kept.
CREATE TABLE {s}.archives (
    plan_id text NOT NULL,
    change integer NOT NULL,
    kind text NOT NULL,
    object text NOT NULL,
    kept_in text NOT NULL,
    definition jsonb NOT NULL,
    archived_at timestamptz NOT NULL DEFAULT now(),
    keep_until timestamptz NOT NULL,
    purged_at timestamptz,
    purged_by text,
    PRIMARY KEY (plan_id, change)
);
"#,
    r#"
-- Version 10: the server session that claimed each range (on a direct connection), so that a
-- worker killed with `kill -9` gives its range up at once (its session is gone from
-- pg_stat_activity) rather than when the lease runs out.
ALTER TABLE {s}.ranges ADD COLUMN backend_pid integer, ADD COLUMN backend_start timestamptz;
"#,
    r#"
-- Version 11: how many statements of a step that runs statement by statement (and of its
-- undo, on abort) have committed, so a re-run after a crash starts at the next one instead of
-- repeating what a `DROP INDEX CONCURRENTLY` without IF EXISTS, say, cannot run twice.
ALTER TABLE {s}.steps
    ADD COLUMN statements_done integer NOT NULL DEFAULT 0,
    ADD COLUMN undo_statements_done integer NOT NULL DEFAULT 0;
"#,
    r#"
-- Version 12: how many sessions each process backfilling the plan works with, set by
-- `throttle --workers` while it runs.
ALTER TABLE {s}.plans ADD COLUMN workers integer;
"#,
];

impl Ledger {
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
}
