//! Steps: the units the executor runs. A step belongs to a phase (and through it to a stage),
//! carries its SQL, and says for every statement which lock it takes, what that lock blocks
//! and whether the statement scans or rewrites the table.

use crate::pg::facts::TableKey;
use crate::pg::lock::LockMode;
use crate::pg::{privileges, quote};
use crate::plan::sql::Work;
use serde::Serialize;
use std::fmt;

/// Where a step sits in the expand/contract sequence of its change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Additive DDL: new columns, NOT VALID constraints, concurrent indexes.
    Expand,
    /// Installs the dual-write trigger that keeps old and new shapes in step.
    Sync,
    /// Rewrites existing rows in batches.
    Backfill,
    /// VALIDATE CONSTRAINT, copied indexes, verification of the backfill.
    Validate,
    /// Removes the old shape; runs after the deploy gate.
    Contract,
}

impl Phase {
    pub fn stage(self) -> Stage {
        match self {
            Phase::Contract => Stage::Contract,
            _ => Stage::Expand,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Expand => "expand",
            Phase::Sync => "sync",
            Phase::Backfill => "backfill",
            Phase::Validate => "validate",
            Phase::Contract => "contract",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The steps one `advance` runs. A deploy of the application happens between the two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Expand,
    Contract,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Expand => "expand",
            Stage::Contract => "contract",
        }
    }
}

/// A table lock a statement takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lock {
    pub mode: LockMode,
    /// The quoted, schema-qualified relation.
    pub relation: String,
}

/// The relations the DDL statements of `steps` work on, for the privilege check before
/// they run (a backfill's batches need only the owner's UPDATE, which DDL implies).
pub fn relation_uses<'a>(steps: impl Iterator<Item = &'a Step>) -> Vec<privileges::Use> {
    steps
        .filter(|s| s.job.is_none())
        .flat_map(|s| &s.statements)
        .flat_map(|statement| {
            statement.locks.iter().map(|lock| privileges::Use {
                relation: lock.relation.clone(),
                creates: privileges::creates(&statement.sql),
            })
        })
        .collect()
}

impl Serialize for Lock {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("Lock", 4)?;
        s.serialize_field("mode", &self.mode)?;
        s.serialize_field("relation", &self.relation)?;
        s.serialize_field("blocks", self.mode.blocks())?;
        s.serialize_field("blocks_writes", &self.mode.blocks_writes())?;
        s.end()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Statement {
    /// SQL as it will run. Parts only the live catalog can supply are written `<like this>`.
    pub sql: String,
    pub locks: Vec<Lock>,
    pub work: Work,
    /// A condition read from the catalog at run time; the statement is skipped when false.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// The quoted, qualified index a CONCURRENTLY build creates: a re-run skips a valid one
    /// and drops an INVALID leftover before building again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub builds_index: Option<String>,
    /// The quoted index a DROP INDEX CONCURRENTLY removes: a re-run skips it once the index
    /// is gone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drops_index: Option<String>,
    /// A SQL condition checked just before the statement runs, in a step that runs statement
    /// by statement: the statement is skipped when it is false (a partition detached since
    /// the plan started).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub only_if: Option<String>,
}

/// One column a backfill sets, and on which rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub column: String,
    /// The new value, over the table's columns.
    pub value: String,
    /// Rows that need the assignment; None means every row.
    pub when: Option<String>,
    /// Rows that are wrong once the backfill is done; counted before contract may start.
    pub verify: String,
    /// What the backfill records of the values it overwrites, so abort can put them back.
    pub records: Records,
}

/// What a backfill records, per row it changes, in the ledger's `fills` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Records {
    /// A new column, or a copy: abort drops it, nothing to put back.
    Nothing,
    /// NULLs of an existing column are filled: their keys are recorded.
    Nulls,
    /// Values of an existing column are overwritten: keys and old values (as text, cast back
    /// to `sql_type`) are recorded.
    OldValues { sql_type: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    Backfill,
    Verify,
    /// Copies a column's values with the table's key into its archive table, before
    /// contract drops the column.
    Archive,
    /// Puts a column's archived values back, key by key (a revert's `restore_column`).
    Restore,
}

/// The archive table an archive job copies a column into, or a restore job reads it from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveCopy {
    /// The quoted, schema-qualified archive table.
    pub archive: String,
    /// The column copied (unquoted).
    pub column: String,
    /// A column copied beside it (unquoted): a shadow's value, to tell at revert whether
    /// the row was written since.
    pub beside: Option<String>,
    /// The rows copied, when not all: a SQL condition over the table's columns.
    pub only: Option<String>,
}

impl ArchiveCopy {
    /// The columns copied beside `key`, quoted: the column itself is one of the key's when
    /// a key column changes type.
    pub fn columns(&self, key: &TableKey) -> String {
        let in_key = key.columns.iter().any(|k| k.name == self.column);
        std::iter::once(&self.column)
            .filter(|_| !in_key)
            .chain(&self.beside)
            .map(|c| quote::ident(c))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// What a contract step keeps instead of destroying: the ledger records it in the step's
/// transaction, with its definition read from the catalog before the step's DDL runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Archived {
    /// The change whose contract removes it.
    #[serde(skip)]
    pub change: usize,
    pub kind: ArchivedKind,
    /// What the plan removed: `public.users.nickname`, `public.orders`.
    pub object: String,
    /// The quoted, schema-qualified relation that keeps it.
    pub kept_in: String,
    #[serde(serialize_with = "crate::plan::serialize_duration")]
    pub keep: std::time::Duration,
    /// A SQL expression, over the catalog as it is before the step's DDL, giving the
    /// removed object's definition as `jsonb`.
    #[serde(skip)]
    pub definition_sql: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ArchivedKind {
    Table,
    Column,
}

impl ArchivedKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ArchivedKind::Table => "table",
            ArchivedKind::Column => "column",
        }
    }
}

/// A batched pass over one table, run by the executor's batch loop instead of as SQL text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub kind: JobKind,
    /// The table's name within the plan's schema.
    pub table: String,
    /// The quoted, schema-qualified table.
    pub relation: String,
    pub assignments: Vec<Assignment>,
    /// The key the pass pages through; known once the plan's facts are.
    pub key: Option<TableKey>,
    /// An archive job's target, or a restore job's source.
    pub copy: Option<ArchiveCopy>,
}

impl Job {
    /// The columns the job's batches write: its assignments', or a restore's column.
    pub fn written(&self) -> Vec<String> {
        let restored = self.copy.iter().filter(|_| self.kind == JobKind::Restore);
        self.assignments
            .iter()
            .map(|a| a.column.clone())
            .chain(restored.map(|c| c.column.clone()))
            .collect()
    }

    /// The sessions a process runs the job with when it is given `workers` (the plan's
    /// `backfill.workers`, or `throttle --workers`): all of them for a backfill or a
    /// verification, one for an archive copy or a restore (each walks a single range).
    pub fn sessions(&self, workers: u16) -> u16 {
        match self.kind {
            JobKind::Backfill | JobKind::Verify => workers,
            JobKind::Archive | JobKind::Restore => 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// `plan/name`, unique across every plan.
    pub id: String,
    pub plan: String,
    /// Unique within the plan: `0.add_column`, `users.backfill`.
    pub name: String,
    pub title: String,
    pub phase: Phase,
    pub stage: Stage,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// Indices into the plan's `changes` of the changes this step serves.
    pub changes: Vec<usize>,
    /// Whether the statements run in one transaction with the step's ledger row. Steps that
    /// cannot (CONCURRENTLY, batched backfills) check the catalog first, so a re-run after a
    /// crash finishes or repairs them.
    pub transactional: bool,
    pub statements: Vec<Statement>,
    /// What abort runs to take the step back (all idempotent); None when it cannot be undone.
    #[serde(skip)]
    pub undo: Option<Vec<Statement>>,
    /// Whether abort runs `undo` statement by statement even though the step's own
    /// statements share a transaction: a raw `down` that builds an index CONCURRENTLY.
    #[serde(skip)]
    pub undo_alone: bool,
    #[serde(skip)]
    pub job: Option<Job>,
    /// A read-only query listing the rows that break the step's constraint, run when its
    /// VALIDATE fails, so the error names them.
    #[serde(skip)]
    pub offenders: Option<String>,
    /// What the step keeps in the archive schema, recorded with it in the ledger.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub archived: Vec<Archived>,
}

impl Step {
    pub fn new(plan: &str, name: String, title: String, phase: Phase) -> Step {
        Step {
            id: format!("{plan}/{name}"),
            plan: plan.to_owned(),
            name,
            title,
            phase,
            stage: phase.stage(),
            table: None,
            changes: Vec::new(),
            transactional: true,
            statements: Vec::new(),
            undo: None,
            undo_alone: false,
            job: None,
            offenders: None,
            archived: Vec::new(),
        }
    }

    /// Whether the step keeps something in the archive schema (records it, or copies to it).
    pub fn archives(&self) -> bool {
        !self.archived.is_empty()
            || self
                .job
                .as_ref()
                .is_some_and(|j| j.kind == JobKind::Archive)
    }

    /// Sets the query that lists the rows breaking the step's constraint (first ten).
    pub fn offenders(&mut self, query: String) -> &mut Self {
        self.offenders = Some(query);
        self
    }

    /// Adds a statement taking `mode` on `relation` (quoted), doing `work`.
    pub fn sql(
        &mut self,
        sql: impl Into<String>,
        mode: LockMode,
        relation: &str,
        work: Work,
    ) -> &mut Self {
        self.statements.push(Statement {
            sql: sql.into(),
            locks: vec![Lock {
                mode,
                relation: relation.to_owned(),
            }],
            work,
            when: None,
            builds_index: None,
            drops_index: None,
            only_if: None,
        });
        self
    }

    /// Adds `SET NOT NULL` on `column` (quoted) of `table`, then drops the validated
    /// `CHECK (column IS NOT NULL)` named `check` (quoted) that spared it the scan: both
    /// catalog-only under ACCESS EXCLUSIVE.
    pub fn set_not_null_from_check(&mut self, table: &str, column: &str, check: &str) -> &mut Self {
        self.sql(
            format!("ALTER TABLE {table} ALTER COLUMN {column} SET NOT NULL"),
            LockMode::AccessExclusive,
            table,
            Work::Instant,
        )
        .sql(
            format!("ALTER TABLE {table} DROP CONSTRAINT {check}"),
            LockMode::AccessExclusive,
            table,
            Work::Instant,
        )
    }

    /// Adds a CONCURRENTLY index build of `index` (quoted, qualified) on `relation`.
    pub fn index_build(
        &mut self,
        sql: impl Into<String>,
        index: &str,
        relation: &str,
    ) -> &mut Self {
        self.sql(sql, LockMode::ShareUpdateExclusive, relation, Work::Scan)
            .builds(index)
    }

    /// Marks the last statement as the CONCURRENTLY build of `index` (quoted, qualified): a
    /// re-run skips it once the index is valid and drops an INVALID leftover first.
    pub fn builds(&mut self, index: &str) -> &mut Self {
        if let Some(last) = self.statements.last_mut() {
            last.builds_index = Some(index.to_owned());
        }
        self
    }

    /// Adds an idempotent statement to what abort runs for this step.
    pub fn undo(&mut self, sql: impl Into<String>, mode: LockMode, relation: &str) -> &mut Self {
        self.undo.get_or_insert_with(Vec::new).push(Statement {
            sql: sql.into(),
            locks: vec![Lock {
                mode,
                relation: relation.to_owned(),
            }],
            work: Work::Instant,
            when: None,
            builds_index: None,
            drops_index: None,
            only_if: None,
        });
        self
    }

    /// Marks the last statement as the DROP INDEX CONCURRENTLY of `index` (quoted): a re-run
    /// skips it once the index is gone.
    pub fn drops(&mut self, index: &str) -> &mut Self {
        if let Some(last) = self.statements.last_mut() {
            last.drops_index = Some(index.to_owned());
        }
        self
    }

    /// Marks the last undo statement with the index it builds or drops CONCURRENTLY, so a
    /// re-run of abort resumes it as a re-run of the step resumes the step's own.
    pub fn undo_resumes(&mut self, builds: Option<&String>, drops: Option<&String>) -> &mut Self {
        if let Some(last) = self.undo.as_mut().and_then(|u| u.last_mut()) {
            last.builds_index = builds.cloned();
            last.drops_index = drops.cloned();
        }
        self
    }

    /// Marks a step whose effect needs no undo (VALIDATE, a verification pass).
    pub fn nothing_to_undo(&mut self) -> &mut Self {
        self.undo.get_or_insert_with(Vec::new);
        self
    }

    /// Adds a statement that locks no table (functions live outside the tables they serve).
    pub fn sql_without_lock(&mut self, sql: impl Into<String>) -> &mut Self {
        self.statements.push(Statement {
            sql: sql.into(),
            locks: Vec::new(),
            work: Work::Instant,
            when: None,
            builds_index: None,
            drops_index: None,
            only_if: None,
        });
        self
    }

    /// Adds a lock on a second relation to the last statement (foreign keys lock both ends).
    pub fn also_locks(&mut self, mode: LockMode, relation: &str) -> &mut Self {
        if let Some(last) = self.statements.last_mut() {
            last.locks.push(Lock {
                mode,
                relation: relation.to_owned(),
            });
        }
        self
    }

    /// Makes the last statement conditional on what the catalog says at run time.
    pub fn when(&mut self, condition: impl Into<String>) -> &mut Self {
        if let Some(last) = self.statements.last_mut() {
            last.when = Some(condition.into());
        }
        self
    }

    /// Skips the last statement at run time unless `condition` (SQL) holds; only for a step
    /// that runs statement by statement.
    pub fn only_if(&mut self, condition: impl Into<String>) -> &mut Self {
        debug_assert!(!self.transactional, "only_if needs outside_transaction");
        if let Some(last) = self.statements.last_mut() {
            last.only_if = Some(condition.into());
        }
        self
    }

    pub fn outside_transaction(&mut self) -> &mut Self {
        self.transactional = false;
        self
    }

    /// The strongest lock any statement of this step takes.
    pub fn strongest_lock(&self) -> Option<&Lock> {
        self.statements
            .iter()
            .flat_map(|s| &s.locks)
            .max_by_key(|l| l.mode)
    }
}

/// Rows of `table` whose `columns` reference no row of `target` (`target_columns`), as
/// `(team_id)=(99)`, for a failed foreign key VALIDATE. Rows with a NULL among the columns
/// pass a foreign key, so they are not listed.
pub fn foreign_key_offenders(
    table: &str,
    columns: &[&str],
    target: &str,
    target_columns: &[&str],
) -> String {
    let values: Vec<String> = columns
        .iter()
        .map(|c| format!("t.{}::text", quote::ident(c)))
        .collect();
    let not_null: Vec<String> = columns
        .iter()
        .map(|c| format!("t.{} IS NOT NULL", quote::ident(c)))
        .collect();
    let joins: Vec<String> = columns
        .iter()
        .zip(target_columns)
        .map(|(c, r)| format!("r.{} = t.{}", quote::ident(r), quote::ident(c)))
        .collect();
    format!(
        "SELECT format('(%s)=(%s)', {}, concat_ws(', ', {})) FROM {table} t WHERE {} AND NOT EXISTS (SELECT 1 FROM {target} r WHERE {}) LIMIT 10",
        quote::literal(&quote::ident_list(columns)),
        values.join(", "),
        not_null.join(" AND "),
        joins.join(" AND ")
    )
}

/// Rows of `table` for which `check` is false, as their text, for a failed CHECK VALIDATE.
pub fn check_offenders(table: &str, check: &str) -> String {
    format!("SELECT t::text FROM {table} t WHERE ({check}) IS FALSE LIMIT 10")
}
