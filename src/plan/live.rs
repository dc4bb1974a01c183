//! The live-catalog walk of `validate --database-url`: a model of the schema moved forward
//! change by change. Each change kind says, in its own file (`ChangeKind::check_live`), what
//! it needs from the catalog (a table or column that must exist, a name that must be free, a
//! unique index a foreign key can use) and what it leaves there for the changes after it,
//! with the helpers here. Checks that need more than names (NULL counts, type casts,
//! dependent objects, backfill timings) are collected as probes and run afterwards.

use crate::pg::model::{Column, Model};
use crate::plan::change::column::Column as ColumnDefinition;
use crate::plan::check::{did_you_mean, Checker, Ident};
use crate::plan::diagnostic::Code;
use crate::plan::source::FieldPath;
use std::collections::BTreeSet;

/// A slower check on an object that exists in the database now.
#[derive(Debug, Clone)]
pub enum Probe {
    /// set_not_null without fill: how many NULLs there are.
    Nulls {
        table: String,
        column: String,
        at: FieldPath,
    },
    /// change_type: whether the cast rewrites.
    TypeChange {
        table: String,
        column: String,
        new_type: String,
        at: FieldPath,
    },
    /// Objects that would break or block when the column (or the table) is renamed,
    /// retyped or dropped.
    Dependents {
        table: String,
        column: Option<String>,
        how: &'static str,
        at: FieldPath,
    },
}

pub struct Walk<'a, 'c> {
    pub model: &'a mut Model,
    pub cx: &'a mut Checker<'c>,
    pub schema: &'a str,
    /// Tables raw `sql` changes touched: their shape is unknown from here on.
    pub opaque: BTreeSet<String>,
    pub probes: Vec<Probe>,
    /// Tables already reported missing, so each is reported once.
    pub missing: BTreeSet<String>,
}

impl Walk<'_, '_> {
    /// The column a change names with `table:` and `column:` must exist (E700 otherwise).
    pub(crate) fn existing_column(
        &mut self,
        table: &Ident,
        column: &Ident,
        at: &FieldPath,
    ) -> bool {
        self.column(table, column, &at.key("table"), &at.key("column"))
    }

    /// change_type: the column has the new type from here on, and is no longer the one in
    /// the database.
    pub(crate) fn retype(&mut self, table: &Ident, column: &Ident, sql_type: &str) {
        if let Some(c) = self
            .model
            .table_mut(table.as_str())
            .and_then(|t| t.columns.get_mut(column.as_str()))
        {
            c.sql_type = sql_type.to_owned();
            c.live = false;
        }
    }

    /// Queues a probe for what depends on a column that exists now and that the change
    /// renames, retypes or drops (`how`).
    pub(crate) fn dependents(
        &mut self,
        table: &Ident,
        column: &Ident,
        how: &'static str,
        at: FieldPath,
    ) {
        self.live_column_probe(table, column, |table, column| Probe::Dependents {
            table,
            column: Some(column),
            how,
            at,
        });
    }

    pub(crate) fn opaque(&self, table: &Ident) -> bool {
        self.opaque.contains(table.as_str())
    }

    /// Whether `table` exists (or is opaque); reports E700 when it does not.
    pub(crate) fn table(&mut self, table: &Ident, at: &FieldPath) -> bool {
        if self.opaque(table) {
            return false;
        }
        if self.model.table(table.as_str()).is_some() {
            return true;
        }
        if !self.missing.insert(table.to_string()) {
            return false;
        }
        let names: Vec<&String> = self.model.tables.keys().collect();
        let help = did_you_mean(table.as_str(), &names);
        self.cx.report(
            Code::Missing,
            at,
            format!("table `{table}` does not exist in schema `{}`", self.schema),
            help,
        );
        false
    }

    /// Whether `column` of `table` exists; reports E700 for it, or for the table.
    pub(crate) fn column(
        &mut self,
        table: &Ident,
        column: &Ident,
        table_at: &FieldPath,
        at: &FieldPath,
    ) -> bool {
        if !self.table(table, table_at) {
            return false;
        }
        let Some(t) = self.model.table(table.as_str()) else {
            return false;
        };
        if t.columns.contains_key(column.as_str()) {
            return true;
        }
        let names: Vec<&String> = t.columns.keys().collect();
        let help = did_you_mean(column.as_str(), &names);
        self.cx.report(
            Code::Missing,
            at,
            format!("column `{column}` of `{table}` does not exist"),
            help,
        );
        false
    }

    pub(crate) fn columns(
        &mut self,
        table: &Ident,
        columns: &[Ident],
        table_at: &FieldPath,
        columns_at: &FieldPath,
    ) -> bool {
        if !self.table(table, table_at) {
            return false;
        }
        let mut all = true;
        for (i, column) in columns.iter().enumerate() {
            all &= self.column(table, column, table_at, &columns_at.index(i));
        }
        all
    }

    pub(crate) fn no_column(&mut self, table: &Ident, column: &str, at: &FieldPath) {
        if self
            .model
            .table(table.as_str())
            .is_some_and(|t| t.columns.contains_key(column))
        {
            self.cx.report(
                Code::AlreadyExists,
                at,
                format!("column `{column}` of `{table}` already exists"),
                None,
            );
        }
    }

    pub(crate) fn no_relation(&mut self, name: &Ident, at: &FieldPath) {
        if self.model.relations.contains(name.as_str()) {
            self.cx.report(
                Code::AlreadyExists,
                at,
                format!(
                    "a table, view or index named `{name}` already exists in schema `{}`",
                    self.schema
                ),
                None,
            );
        }
    }

    pub(crate) fn no_constraint(&mut self, table: &Ident, name: &Ident, at: &FieldPath) {
        if self
            .model
            .table(table.as_str())
            .is_some_and(|t| t.constraints.contains(name.as_str()))
        {
            self.cx.report(
                Code::AlreadyExists,
                at,
                format!("constraint `{name}` already exists on `{table}`"),
                None,
            );
        }
    }

    pub(crate) fn references(&mut self, column: &ColumnDefinition, at: &FieldPath) {
        let Some(r) = &column.references else {
            return;
        };
        let at = at.key("references");
        if self.column(&r.table, &r.column, &at.key("table"), &at.key("column")) {
            self.unique_target(&r.table, std::slice::from_ref(&r.column), &at);
        }
    }

    pub(crate) fn unique_target(&mut self, table: &Ident, columns: &[Ident], at: &FieldPath) {
        let wanted: BTreeSet<String> = columns.iter().map(Ident::to_string).collect();
        let covered = self
            .model
            .table(table.as_str())
            .is_some_and(|t| t.unique_sets.contains(&wanted));
        if !covered {
            let list: Vec<String> = columns.iter().map(|c| format!("`{c}`")).collect();
            self.cx.report(Code::ForeignKeyWithoutUniqueTarget, at, format!("`{table}` ({}) has no primary key or valid unique index over exactly these columns", list.join(", ")), Some("reference the table's primary key, or add_unique on these columns in an earlier plan".into()));
        }
    }

    pub(crate) fn live_column_probe(
        &mut self,
        table: &Ident,
        column: &Ident,
        probe: impl FnOnce(String, String) -> Probe,
    ) {
        let live = self
            .model
            .table(table.as_str())
            .and_then(|t| t.columns.get(column.as_str()))
            .is_some_and(|c| c.live);
        if live {
            self.probes
                .push(probe(table.to_string(), column.to_string()));
        }
    }

    pub(crate) fn column_type(&self, table: &Ident, column: &Ident) -> String {
        self.model
            .table(table.as_str())
            .and_then(|t| t.columns.get(column.as_str()))
            .map(|c| c.sql_type.clone())
            .unwrap_or_default()
    }

    pub(crate) fn add_column(&mut self, table: &Ident, column: &str, sql_type: &str) {
        if let Some(t) = self.model.table_mut(table.as_str()) {
            t.columns.insert(
                column.to_owned(),
                Column {
                    sql_type: sql_type.to_owned(),
                    live: false,
                },
            );
        }
    }

    pub(crate) fn drop_column(&mut self, table: &Ident, column: &Ident) {
        if let Some(t) = self.model.table_mut(table.as_str()) {
            t.columns.remove(column.as_str());
        }
    }

    pub(crate) fn add_constraint(&mut self, table: &Ident, name: &Ident) {
        if let Some(t) = self.model.table_mut(table.as_str()) {
            t.constraints.insert(name.to_string());
        }
    }

    pub(crate) fn add_unique_set(&mut self, table: &Ident, columns: &[Ident]) {
        if let Some(t) = self.model.table_mut(table.as_str()) {
            t.unique_sets
                .push(columns.iter().map(Ident::to_string).collect());
        }
    }
}
