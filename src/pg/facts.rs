//! What the live catalog said about the objects a plan touches, read once when the plan first
//! runs and stored with it in the ledger. The planner turns placeholders into concrete SQL
//! from these facts; because a re-run after a crash uses the stored facts rather than the
//! half-changed catalog, it computes exactly the same steps.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    pub columns: Vec<ColumnFacts>,
    pub keys: Vec<TableKey>,
    /// Whether each change_type's cast rewrites, decided before the first step ran (after an
    /// in-place change the catalog could no longer tell).
    #[serde(default)]
    pub casts: Vec<CastFacts>,
    /// The partitioned tables the plan changes, with their partitions as they were when it
    /// first ran.
    #[serde(default)]
    pub partitioned: Vec<PartitionedTable>,
    /// Changes written with `IF [NOT] EXISTS` whose condition said no when the plan first
    /// ran: they have no steps, and abort leaves their objects alone.
    #[serde(default)]
    pub skipped: Vec<SkippedChange>,
    /// The indexes the plan drops, as `pg_get_indexdef` wrote them: what a revert rebuilds.
    #[serde(default)]
    pub indexes: Vec<IndexDefinition>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexDefinition {
    pub name: String,
    pub definition: String,
    /// On a partitioned table: each partition's index attached to it, by partition name, as
    /// PostgreSQL named them, so a revert builds them under the same names.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub partitions: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedChange {
    /// The change's index in the plan's `changes`.
    pub change: usize,
    /// What the catalog said: "`audit_log` exists already (if_not_exists)".
    pub why: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionedTable {
    pub table: String,
    pub partitions: Vec<Partition>,
}

/// A partition of a partitioned table: a plain table (one level of partitioning is what the
/// plans support; a sub-partitioned or foreign partition is refused before anything runs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partition {
    pub schema: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CastFacts {
    pub table: String,
    pub column: String,
    /// The new type as written in the plan.
    pub to: String,
    pub rewrites: bool,
}

impl Facts {
    pub fn index(&self, name: &str) -> Option<&IndexDefinition> {
        self.indexes.iter().find(|i| i.name == name)
    }

    pub fn column(&self, table: &str, column: &str) -> Option<&ColumnFacts> {
        self.columns
            .iter()
            .find(|c| c.table == table && c.column == column)
    }

    pub fn cast(&self, table: &str, column: &str) -> Option<&CastFacts> {
        self.casts
            .iter()
            .find(|c| c.table == table && c.column == column)
    }

    pub fn partitions(&self, table: &str) -> Option<&[Partition]> {
        self.partitioned
            .iter()
            .find(|p| p.table == table)
            .map(|p| p.partitions.as_slice())
    }

    pub fn is_skipped(&self, change: usize) -> bool {
        self.skipped.iter().any(|s| s.change == change)
    }

    pub fn key(&self, table: &str) -> Option<&TableKey> {
        self.keys.iter().find(|k| k.table == table)
    }
}

/// One column as it was before the plan started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnFacts {
    pub table: String,
    pub column: String,
    /// `format_type` of the column: `character varying(20)`.
    pub sql_type: String,
    pub not_null: bool,
    pub default: Option<String>,
    /// Indexes with the column among their keys, expressions or predicate.
    pub indexes: Vec<IndexFacts>,
    /// CHECK constraints that read the column.
    pub checks: Vec<ConstraintFacts>,
    /// Foreign keys from this table that include the column.
    pub foreign_keys: Vec<ConstraintFacts>,
    /// Foreign keys of other tables (or this one) that reference the column.
    #[serde(default)]
    pub incoming: Vec<IncomingForeignKey>,
    /// The sequence the column owns (a serial column), qualified as regclass prints it.
    #[serde(default)]
    pub owned_sequence: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncomingForeignKey {
    /// The referencing table as `regclass` prints it (schema-qualified when needed).
    pub table: String,
    pub name: String,
    /// `pg_get_constraintdef`: `FOREIGN KEY (team_id) REFERENCES teams(id)`.
    pub definition: String,
    /// Whether the referencing table is partitioned.
    #[serde(default)]
    pub from_partitioned: bool,
    /// Its partitions, when it is partitioned one level deep into plain tables.
    #[serde(default)]
    pub partitions: Vec<Partition>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexFacts {
    pub name: String,
    /// `pg_get_indexdef`: `CREATE UNIQUE INDEX users_email_key ON public.users USING btree (email)`.
    pub definition: String,
    /// The UNIQUE or PRIMARY KEY constraint the index backs, if any.
    pub constraint: Option<String>,
    pub primary: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConstraintFacts {
    pub name: String,
    /// `pg_get_constraintdef`: `CHECK ((length(name) > 0))`.
    pub definition: String,
}

/// The columns a backfill pages through: the primary key, or a unique index over NOT NULL
/// columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableKey {
    pub table: String,
    pub columns: Vec<KeyColumn>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyColumn {
    pub name: String,
    pub sql_type: String,
}
