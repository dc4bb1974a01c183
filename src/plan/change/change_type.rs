//! `change_type`: a new type for a column without rewriting the table under ACCESS
//! EXCLUSIVE. A shadow column of the new type is kept in step with the old one by a two-way
//! trigger (`up` converts old to new, `down` new to old), backfilled, given copies of the
//! column's constraints and indexes, and renamed into place at contract. Casts that need no
//! rewrite (varchar widening, varchar to text; see `pg::cast`) are found in the catalog when
//! the plan first runs and done in place with one short lock instead.

use crate::pg::catalog::PartitionKey;
use crate::pg::facts::TableKey;
use crate::pg::lock::LockMode;
use crate::pg::quote;
use crate::plan::archive::{self, Archive};
use crate::plan::change::column_pair::{
    copy_column_objects, default_of, finish_column_objects, key_refuses, move_default_to_trigger,
    release_incoming_foreign_keys, validate_incoming_foreign_keys,
};
use crate::plan::change::{
    valid_if_clean, Attribute, ChangeKind, ColumnNeed, Footprint, OnPartitioned,
};
use crate::plan::check::{Checker, Ident, SqlText};
use crate::plan::expand::{Expansion, SyncRule};
use crate::plan::live::{Probe, Walk};
use crate::plan::revert::{self, Before, Irreversible, Left};
use crate::plan::source::FieldPath;
use crate::plan::sql::{self, Expr, Work};
use crate::plan::step::{Archived, Assignment, Phase, Records};
use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with table, column, type and optionally up, down, archive, restore_from"
)]
pub struct Raw {
    table: String,
    column: String,
    #[serde(rename = "type")]
    sql_type: String,
    up: Option<SqlText>,
    down: Option<SqlText>,
    archive: Option<SqlText>,
    restore_from: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ChangeType {
    pub table: Ident,
    pub column: Ident,
    pub sql_type: String,
    /// Old value to new, over the table's columns; `column::type` when not given.
    pub up: Option<Expr>,
    /// New value to old, where the column's name means its new value; a cast back when not
    /// given.
    pub down: Option<Expr>,
    /// The change's own `archive:` for the old values `down` cannot give back; None: the
    /// plan's.
    pub archive: Option<Archive>,
    /// Written by `switchback revert`: the archive of the change this one takes back, whose
    /// old values the backfill puts back on the rows not written since.
    pub restore_from: Option<String>,
}

impl ChangeType {
    fn shadow(&self) -> Ident {
        Ident::trusted(quote::object_name(&["sb_new", self.column.as_str()]))
    }

    fn up_sql(&self) -> String {
        match &self.up {
            Some(up) => up.text.clone(),
            None => format!("{}::{}", self.column.quoted(), self.sql_type),
        }
    }

    fn lossy_values(&self) -> String {
        format!(
            "the values of `{}`.`{}` its new type cannot give back",
            self.table, self.column
        )
    }

    /// Contract's copy, before the old column goes, of the rows whose old value `down` of
    /// the new one would not give back (with the new value beside it, so a revert can tell
    /// a row written since); returns what the drop records.
    fn archive_lossy(&self, x: &mut Expansion, old_type: &str, keep: Duration) -> Archived {
        let table = x.table(&self.table);
        let (col, shadow) = (self.column.quoted(), self.shadow());
        let sh = shadow.quoted();
        let down = match &self.down {
            Some(down) => down.over_record(&table, &[(self.column.as_str(), shadow.as_str())]),
            None => format!("{sh}::{old_type}"),
        };
        x.archive_column(
            &self.table,
            &self.column,
            keep,
            Some(&shadow),
            Some(format!("{col} IS DISTINCT FROM ({down})")),
            format!("copy the values of {col} that {sh} cannot give back, with the table's key,"),
        )
    }

    /// What the backfill gives the shadow of a row: the old value the archive `from` kept of
    /// it, when the row still holds the value it had then, or else `up`. Column references
    /// inside the archive's subqueries are qualified with `table`, so none means the archive.
    fn restored(&self, table: &str, from: &str, key: Option<&TableKey>, up: &str) -> String {
        let (col, beside) = (self.column.quoted(), self.shadow().quoted());
        let matches = match key {
            // A key column's archive is keyed by its old value: its new one, beside it, matches.
            Some(key) => key
                .columns
                .iter()
                .filter(|k| k.name != self.column.as_str())
                .map(|k| {
                    let k = quote::ident(&k.name);
                    format!("a.{k} = {table}.{k}")
                })
                .collect::<Vec<_>>()
                .join(" AND "),
            None => "<key> = <archived key>".into(),
        };
        let matches = match matches.is_empty() {
            true => format!("a.{beside} IS NOT DISTINCT FROM {table}.{col}"),
            false => format!("{matches} AND a.{beside} IS NOT DISTINCT FROM {table}.{col}"),
        };
        format!("CASE WHEN EXISTS (SELECT FROM {from} a WHERE {matches}) THEN (SELECT a.{col} FROM {from} a WHERE {matches}) ELSE ({up}) END")
    }
}

impl ChangeKind for ChangeType {
    type Raw = Raw;

    fn check(raw: Raw, at: &FieldPath, cx: &mut Checker) -> Option<Self> {
        let before = cx.error_count();
        let table = cx.ident(&at.key("table"), &raw.table);
        let column = cx.ident(&at.key("column"), &raw.column);
        let sql_type = cx.sql_type(&at.key("type"), &raw.sql_type);
        let up = raw.up.and_then(|u| cx.expr(&at.key("up"), &u));
        let down = raw.down.and_then(|d| cx.expr(&at.key("down"), &d));
        let archive = Archive::check_own(raw.archive.as_ref(), &at.key("archive"), cx);
        if let Some(from) = &raw.restore_from {
            archive::check_relation(from, &at.key("restore_from"), cx);
        }
        valid_if_clean(cx, before, || {
            Some(ChangeType {
                table,
                column,
                sql_type: sql_type?,
                up,
                down,
                archive: archive?,
                restore_from: raw.restore_from,
            })
        })
    }

    fn footprint(&self) -> Footprint {
        let column = &self.column;
        let mut reads: Vec<Ident> = self
            .up
            .iter()
            .flat_map(|u| u.column_names())
            .map(|c| Ident::trusted(c.to_owned()))
            .collect();
        reads.push(column.clone());
        Footprint {
            table: Some(self.table.clone()),
            uses: vec![column.clone()],
            reads,
            // `down` writes the old column for the new application's writes.
            writes: vec![column.clone()],
            alters: vec![
                (column.clone(), Attribute::Type),
                (column.clone(), Attribute::Nullability),
                (column.clone(), Attribute::Default),
            ],
            ..Footprint::default()
        }
    }

    fn catalog_columns(&self) -> Vec<ColumnNeed> {
        vec![ColumnNeed {
            moves: true,
            new_type: Some(self.sql_type.clone()),
            ..ColumnNeed::settings(&self.table, &self.column)
        }]
    }

    fn expand(&self, x: &mut Expansion) {
        let table = x.table(&self.table);
        let col = self.column.quoted();
        let t = Some(&self.table);
        let facts = x.column_facts(&self.table, &self.column);
        let old_type = facts.map_or(format!("<type of {col}>"), |f| f.sql_type.clone());
        let rewrites = x.cast_facts(&self.table, &self.column).map(|c| c.rewrites);
        if rewrites == Some(false) && self.up.is_none() {
            // Binary-coercible with a wider modifier: a catalog change under a short lock.
            // Undoing it narrows the type back, which PostgreSQL checks row by row.
            x.step("alter_type", Phase::Expand, format!("change {col} to {} in place (no rewrite)", self.sql_type), t)
                .sql(format!("ALTER TABLE {table} ALTER COLUMN {col} TYPE {}", self.sql_type), LockMode::AccessExclusive, &table, Work::Instant)
                .undo(format!("ALTER TABLE {table} ALTER COLUMN {col} TYPE {old_type} USING {col}::{old_type}"), LockMode::AccessExclusive, &table);
            return;
        }
        let shadow = self.shadow();
        let sh = shadow.quoted();
        let step = x
            .step(
                "add_shadow_column",
                Phase::Expand,
                format!("add {sh} of type {} beside {col}", self.sql_type),
                t,
            )
            .sql(
                format!("ALTER TABLE {table} ADD COLUMN {sh} {}", self.sql_type),
                LockMode::AccessExclusive,
                &table,
                Work::Instant,
            )
            .undo(
                format!("ALTER TABLE {table} DROP COLUMN IF EXISTS {sh}"),
                LockMode::AccessExclusive,
                &table,
            );
        if rewrites.is_none() {
            step.when(format!("the cast from <type of {col}> to {} rewrites the table, or `up` is given; otherwise the change is one in-place ALTER COLUMN {col} TYPE {} and no other step runs", self.sql_type, self.sql_type));
        }
        move_default_to_trigger(x, &self.table, &self.column, facts);
        let up_over_new = match &self.up {
            Some(up) => up.over_record("NEW", &[]),
            None => format!("NEW.{col}::{}", self.sql_type),
        };
        let down_over_new = match &self.down {
            Some(down) => down.over_record("NEW", &[(self.column.as_str(), shadow.as_str())]),
            None => format!("NEW.{sh}::{old_type}"),
        };
        x.sync(
            &self.table,
            SyncRule::Pair {
                old: self.column.clone(),
                new: shadow.clone(),
                up: up_over_new,
                down: down_over_new,
                default: default_of(&self.column, facts),
            },
        );
        let up = match &self.restore_from {
            Some(from) => self.restored(
                &table,
                from,
                x.table_key(&self.table).as_ref(),
                &self.up_sql(),
            ),
            None => self.up_sql(),
        };
        let differs = format!("{sh} IS DISTINCT FROM ({up})");
        x.backfill(
            &self.table,
            Assignment {
                column: shadow.to_string(),
                value: up,
                when: Some(differs.clone()),
                verify: differs,
                records: Records::Nothing,
            },
        );
        copy_column_objects(x, &self.table, &self.column, &shadow);
        let archived = match x.archive(self.archive) {
            Archive::Keep(keep) => Some(self.archive_lossy(x, &old_type, keep)),
            Archive::Off => None,
        };
        let nn = quote::ident(&x.helper_name("nn", &self.table, &shadow));
        let schema = x.schema().to_owned();
        let partitions = x.partitions(&self.table).map(<[_]>::to_vec);
        let step = x.step(
            "swap_columns",
            Phase::Contract,
            format!("drop the old {col} and rename {sh} into its place"),
            t,
        );
        step.archived.extend(archived);
        release_incoming_foreign_keys(step, facts);
        step.sql(
            format!("ALTER TABLE {table} DROP COLUMN {col}"),
            LockMode::AccessExclusive,
            &table,
            Work::Instant,
        )
        .sql(
            format!("ALTER TABLE {table} RENAME COLUMN {sh} TO {col}"),
            LockMode::AccessExclusive,
            &table,
            Work::Instant,
        );
        finish_column_objects(
            step,
            &table,
            &schema,
            &self.column,
            &self.column,
            &nn,
            facts,
            partitions.as_deref(),
        );
        // A serial key widened to bigint wants its sequence to count that far too.
        let sequence = facts.and_then(|f| f.owned_sequence.as_ref());
        if let Some(sequence) =
            sequence.filter(|_| sql::type_base_name(&self.sql_type).as_deref() == Some("int8"))
        {
            step.sql(
                format!("ALTER SEQUENCE {sequence} AS bigint"),
                LockMode::AccessExclusive,
                sequence,
                Work::Instant,
            );
        }
        validate_incoming_foreign_keys(x, &table, &self.column, &self.column, facts);
    }

    fn on_partitioned_table(&self, key: &PartitionKey) -> OnPartitioned {
        key_refuses(key, &self.column)
    }

    fn archives(&self) -> Option<(Option<Archive>, String)> {
        Some((self.archive, self.lossy_values()))
    }

    /// The type back, through a change_type of its own (`up` and `down` swapped), whose
    /// backfill puts back from the archive the old values `down` could not give.
    fn reverse(&self, left: Left, before: &Before) -> Result<Vec<serde_yaml::Value>, Irreversible> {
        let old_type = revert::type_before(before.facts, &self.table, &self.column)?;
        let in_place = self.up.is_none()
            && before
                .facts
                .cast(self.table.as_str(), self.column.as_str())
                .is_some_and(|c| !c.rewrites);
        let mut fields = vec![
            ("table", self.table.as_str().into()),
            ("column", self.column.as_str().into()),
            ("type", old_type.into()),
        ];
        if let Some(down) = &self.down {
            fields.push(("up", down.text.as_str().into()));
        }
        if let Some(up) = &self.up {
            fields.push(("down", up.text.as_str().into()));
        }
        if !in_place {
            let kept = left.kept(&self.lossy_values())?;
            fields.push(("restore_from", kept.kept_in.into()));
        }
        Ok(vec![revert::change("change_type", &fields)])
    }

    fn check_live(&self, walk: &mut Walk, at: &FieldPath) {
        if walk.existing_column(&self.table, &self.column, at) {
            let new_type = self.sql_type.clone();
            walk.live_column_probe(&self.table, &self.column, |table, column| {
                Probe::TypeChange {
                    table,
                    column,
                    new_type,
                    at: at.key("type"),
                }
            });
            walk.dependents(&self.table, &self.column, "retyped", at.key("column"));
        }
        walk.retype(&self.table, &self.column, &self.sql_type);
    }
}
