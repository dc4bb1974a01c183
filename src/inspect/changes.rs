//! What each change kind needs from the catalog (a table or column that must exist, a name
//! that must be free, a unique index a foreign key can use) and what it leaves there for the
//! changes after it. Checks that need more than names (NULL counts, type casts, dependent
//! objects, backfill timings) are collected as probes and run afterwards.

use crate::inspect::model::{Column, Model, Table};
use crate::plan::change::column::Column as ColumnDefinition;
use crate::plan::change::Change;
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
    pub fn change(&mut self, change: &Change, at: &FieldPath) {
        match change {
            Change::AddColumn(c) => {
                let name = c.column.name.as_str();
                if self.table(&c.table, &at.key("table")) {
                    self.no_column(&c.table, name, &at.key("column").key("name"));
                }
                self.references(&c.column, &at.key("column"));
                self.add_column(&c.table, name, &c.column.sql_type);
            }
            Change::RenameColumn(c) => {
                if self.column(&c.table, &c.from, &at.key("table"), &at.key("from")) {
                    self.no_column(&c.table, c.to.as_str(), &at.key("to"));
                    self.live_column_probe(&c.table, &c.from, |table, column| Probe::Dependents {
                        table,
                        column: Some(column),
                        how: "renamed",
                        at: at.key("from"),
                    });
                }
                let sql_type = self.column_type(&c.table, &c.from);
                self.drop_column(&c.table, &c.from);
                self.add_column(&c.table, c.to.as_str(), &sql_type);
            }
            Change::SetNotNull(c) => {
                if self.column(&c.table, &c.column, &at.key("table"), &at.key("column"))
                    && c.fill.is_none()
                {
                    self.live_column_probe(&c.table, &c.column, |table, column| Probe::Nulls {
                        table,
                        column,
                        at: at.key("column"),
                    });
                }
            }
            Change::DropNotNull(c) => {
                self.column(&c.table, &c.column, &at.key("table"), &at.key("column"));
            }
            Change::SetDefault(c) => {
                self.column(&c.table, &c.column, &at.key("table"), &at.key("column"));
            }
            Change::DropDefault(c) => {
                self.column(&c.table, &c.column, &at.key("table"), &at.key("column"));
            }
            Change::ChangeType(c) => {
                if self.column(&c.table, &c.column, &at.key("table"), &at.key("column")) {
                    let new_type = c.sql_type.clone();
                    self.live_column_probe(&c.table, &c.column, |table, column| {
                        Probe::TypeChange {
                            table,
                            column,
                            new_type,
                            at: at.key("type"),
                        }
                    });
                    self.live_column_probe(&c.table, &c.column, |table, column| {
                        Probe::Dependents {
                            table,
                            column: Some(column),
                            how: "retyped",
                            at: at.key("column"),
                        }
                    });
                }
                if let Some(column) = self
                    .model
                    .table_mut(c.table.as_str())
                    .and_then(|t| t.columns.get_mut(c.column.as_str()))
                {
                    column.sql_type = c.sql_type.clone();
                    column.live = false;
                }
            }
            Change::DropColumn(c) => {
                if self.column(&c.table, &c.column, &at.key("table"), &at.key("column")) {
                    self.live_column_probe(&c.table, &c.column, |table, column| {
                        Probe::Dependents {
                            table,
                            column: Some(column),
                            how: "dropped",
                            at: at.key("column"),
                        }
                    });
                }
                self.drop_column(&c.table, &c.column);
            }
            Change::AddIndex(c) => {
                self.columns(&c.table, &c.columns, &at.key("table"), &at.key("columns"));
                self.no_relation(&c.name, &at.key("name"));
                self.model.relations.insert(c.name.to_string());
                if c.unique && c.predicate.is_none() {
                    self.add_unique_set(&c.table, &c.columns);
                }
            }
            Change::DropIndex(c) => {
                if !self.model.relations.contains(c.name.as_str()) && self.opaque.is_empty() {
                    let names: Vec<&String> = self.model.relations.iter().collect();
                    let help = did_you_mean(c.name.as_str(), &names);
                    self.cx.report(
                        Code::Missing,
                        &at.key("name"),
                        format!(
                            "index `{}` does not exist in schema `{}`",
                            c.name, self.schema
                        ),
                        help,
                    );
                }
                self.model.relations.remove(c.name.as_str());
            }
            Change::AddCheck(c) => {
                if self.table(&c.table, &at.key("table")) {
                    self.no_constraint(&c.table, &c.name, &at.key("name"));
                    for column in c.check.column_names() {
                        self.column(
                            &c.table,
                            &Ident::trusted(column.to_owned()),
                            &at.key("table"),
                            &at.key("check"),
                        );
                    }
                    if let Some(fill) = &c.fill {
                        self.column(
                            &c.table,
                            &fill.column,
                            &at.key("table"),
                            &at.key("fill").key("column"),
                        );
                    }
                }
                self.add_constraint(&c.table, &c.name);
            }
            Change::AddForeignKey(c) => {
                if self.columns(&c.table, &c.columns, &at.key("table"), &at.key("columns")) {
                    self.no_constraint(&c.table, &c.name, &at.key("name"));
                }
                let target = at.key("references");
                if self.columns(
                    &c.target_table,
                    &c.target_columns,
                    &target.key("table"),
                    &target.key("columns"),
                ) {
                    self.unique_target(&c.target_table, &c.target_columns, &target);
                }
                self.add_constraint(&c.table, &c.name);
            }
            Change::AddUnique(c) => {
                if self.columns(&c.table, &c.columns, &at.key("table"), &at.key("columns")) {
                    self.no_constraint(&c.table, &c.name, &at.key("name"));
                    self.no_relation(&c.name, &at.key("name"));
                }
                self.model.relations.insert(c.name.to_string());
                self.add_constraint(&c.table, &c.name);
                self.add_unique_set(&c.table, &c.columns);
            }
            Change::CreateTable(c) => {
                self.no_relation(&c.name, &at.key("name"));
                for (i, column) in c.columns.iter().enumerate() {
                    self.references(column, &at.key("columns").index(i));
                }
                let mut table = Table {
                    has_key: !c.primary_key.is_empty(),
                    ..Table::default()
                };
                for column in &c.columns {
                    table.columns.insert(
                        column.name.to_string(),
                        Column {
                            sql_type: column.sql_type.clone(),
                            live: false,
                        },
                    );
                }
                if !c.primary_key.is_empty() {
                    table
                        .unique_sets
                        .push(c.primary_key.iter().map(Ident::to_string).collect());
                }
                self.model.relations.insert(c.name.to_string());
                self.model.tables.insert(c.name.to_string(), table);
            }
            Change::DropTable(c) => {
                if self.table(&c.name, &at.key("name"))
                    && self.model.table(c.name.as_str()).is_some_and(|t| t.live)
                {
                    self.probes.push(Probe::Dependents {
                        table: c.name.to_string(),
                        column: None,
                        how: "dropped",
                        at: at.key("name"),
                    });
                }
                self.model.tables.remove(c.name.as_str());
                self.model.relations.remove(c.name.as_str());
            }
            Change::RenameTable(c) => {
                if self.table(&c.from, &at.key("from")) {
                    self.no_relation(&c.to, &at.key("to"));
                }
                if let Some(table) = self.model.tables.remove(c.from.as_str()) {
                    self.model.tables.insert(c.to.to_string(), table);
                }
                // The old name lives on as a view until contract.
                self.model.relations.insert(c.to.to_string());
            }
            Change::Sql(c) => {
                for statement in &c.up {
                    self.opaque.extend(
                        statement
                            .tables
                            .iter()
                            .map(|t| t.rsplit('.').next().unwrap_or(t).to_owned()),
                    );
                }
            }
        }
    }

    fn opaque(&self, table: &Ident) -> bool {
        self.opaque.contains(table.as_str())
    }

    /// Whether `table` exists (or is opaque); reports E700 when it does not.
    fn table(&mut self, table: &Ident, at: &FieldPath) -> bool {
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
    fn column(
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

    fn columns(
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

    fn no_column(&mut self, table: &Ident, column: &str, at: &FieldPath) {
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

    fn no_relation(&mut self, name: &Ident, at: &FieldPath) {
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

    fn no_constraint(&mut self, table: &Ident, name: &Ident, at: &FieldPath) {
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

    fn references(&mut self, column: &ColumnDefinition, at: &FieldPath) {
        let Some(r) = &column.references else {
            return;
        };
        let at = at.key("references");
        if self.column(&r.table, &r.column, &at.key("table"), &at.key("column")) {
            self.unique_target(&r.table, std::slice::from_ref(&r.column), &at);
        }
    }

    fn unique_target(&mut self, table: &Ident, columns: &[Ident], at: &FieldPath) {
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

    fn live_column_probe(
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

    fn column_type(&self, table: &Ident, column: &Ident) -> String {
        self.model
            .table(table.as_str())
            .and_then(|t| t.columns.get(column.as_str()))
            .map(|c| c.sql_type.clone())
            .unwrap_or_default()
    }

    fn add_column(&mut self, table: &Ident, column: &str, sql_type: &str) {
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

    fn drop_column(&mut self, table: &Ident, column: &Ident) {
        if let Some(t) = self.model.table_mut(table.as_str()) {
            t.columns.remove(column.as_str());
        }
    }

    fn add_constraint(&mut self, table: &Ident, name: &Ident) {
        if let Some(t) = self.model.table_mut(table.as_str()) {
            t.constraints.insert(name.to_string());
        }
    }

    fn add_unique_set(&mut self, table: &Ident, columns: &[Ident]) {
        if let Some(t) = self.model.table_mut(table.as_str()) {
            t.unique_sets
                .push(columns.iter().map(Ident::to_string).collect());
        }
    }
}
