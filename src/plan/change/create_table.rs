//! `create_table`: a new, empty table; nothing else can be waiting on it, so every
//! constraint is created inline. Foreign keys briefly lock the tables they reference.

use crate::pg::lock::LockMode;
use crate::pg::model;
use crate::pg::quote;
use crate::plan::change::column::{Column, RawColumn};
use crate::plan::change::{valid_if_clean, ChangeKind, Condition, Footprint, Object};
use crate::plan::check::{Checker, Ident};
use crate::plan::diagnostic::Code;
use crate::plan::expand::Expansion;
use crate::plan::live::Walk;
use crate::plan::revert::{self, Before, Irreversible, Left};
use crate::plan::source::FieldPath;
use crate::plan::sql::Work;
use crate::plan::step::Phase;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with name, columns and optionally primary_key, if_not_exists"
)]
pub struct Raw {
    name: String,
    columns: Vec<RawColumn>,
    #[serde(default)]
    primary_key: Vec<String>,
    #[serde(default)]
    if_not_exists: bool,
}

#[derive(Debug, Clone)]
pub struct CreateTable {
    pub name: Ident,
    pub columns: Vec<Column>,
    pub primary_key: Vec<Ident>,
    /// CREATE TABLE IF NOT EXISTS: skipped when the name is taken.
    pub if_not_exists: bool,
    at: FieldPath,
}

impl ChangeKind for CreateTable {
    type Raw = Raw;

    fn check(raw: Raw, at: &FieldPath, cx: &mut Checker) -> Option<Self> {
        let before = cx.error_count();
        let name = cx.ident(&at.key("name"), &raw.name);
        if raw.columns.is_empty() {
            cx.report(
                Code::BadTableDefinition,
                &at.key("columns"),
                format!("table `{name}` has no columns"),
                None,
            );
        }
        let columns: Vec<Option<Column>> = raw
            .columns
            .into_iter()
            .enumerate()
            .map(|(i, c)| Column::check(c, &at.key("columns").index(i), cx))
            .collect();
        let known: Vec<&Ident> = columns.iter().flatten().map(|c| &c.name).collect();
        for (i, column) in known.iter().enumerate() {
            if known[..i].contains(column) {
                cx.report(
                    Code::BadTableDefinition,
                    &at.key("columns").index(i).key("name"),
                    format!("column `{column}` is defined twice"),
                    None,
                );
            }
        }
        let primary_key = if raw.primary_key.is_empty() {
            Vec::new()
        } else {
            cx.idents(&at.key("primary_key"), &raw.primary_key)
        };
        for (i, key) in primary_key.iter().enumerate() {
            if !known.contains(&key) {
                cx.report(
                    Code::BadTableDefinition,
                    &at.key("primary_key").index(i),
                    format!("primary key column `{key}` is not among the table's columns"),
                    None,
                );
            }
        }
        valid_if_clean(cx, before, || {
            Some(CreateTable {
                name,
                columns: columns.into_iter().collect::<Option<Vec<_>>>()?,
                primary_key,
                if_not_exists: raw.if_not_exists,
                at: at.clone(),
            })
        })
    }

    fn footprint(&self) -> Footprint {
        Footprint {
            creates_table: Some(self.name.clone()),
            other_tables: self
                .columns
                .iter()
                .filter_map(|c| c.references.as_ref())
                .map(|r| r.table.clone())
                .filter(|t| t != &self.name)
                .collect(),
            names: self
                .columns
                .iter()
                .enumerate()
                .flat_map(|(i, c)| c.constraint_names(&self.name, &self.at.key("columns").index(i)))
                .collect(),
            ..Footprint::default()
        }
    }

    fn expand(&self, x: &mut Expansion) {
        let table = x.table(&self.name);
        let mut lines: Vec<String> = self
            .columns
            .iter()
            .map(|c| c.inline_sql(&self.name, &x.plan.schema))
            .collect();
        if !self.primary_key.is_empty() {
            let columns = quote::ident_list(
                &self
                    .primary_key
                    .iter()
                    .map(Ident::as_str)
                    .collect::<Vec<_>>(),
            );
            lines.push(format!("PRIMARY KEY ({columns})"));
        }
        let targets: Vec<String> = self
            .columns
            .iter()
            .filter_map(|c| c.references.as_ref())
            .map(|r| x.table(&r.table))
            .collect();
        let step = x
            .step(
                "create_table",
                Phase::Expand,
                format!("create table {}", self.name.quoted()),
                Some(&self.name),
            )
            .sql(
                format!("CREATE TABLE {table} (\n  {}\n)", lines.join(",\n  ")),
                LockMode::AccessExclusive,
                &table,
                Work::Instant,
            )
            .undo(
                format!("DROP TABLE IF EXISTS {table}"),
                LockMode::AccessExclusive,
                &table,
            );
        for target in &targets {
            step.also_locks(LockMode::ShareRowExclusive, target);
        }
    }

    fn condition(&self) -> Option<Condition> {
        self.if_not_exists
            .then(|| Condition::if_not_exists(Object::Relation(self.name.clone())))
    }

    /// Its rows are kept: the reverse moves the table into the archive.
    fn reverse(&self, _: Left, _: &Before) -> Result<Vec<serde_yaml::Value>, Irreversible> {
        Ok(vec![revert::change(
            "drop_table",
            &[("name", self.name.as_str().into())],
        )])
    }

    fn check_live(&self, walk: &mut Walk, at: &FieldPath) {
        walk.no_relation(&self.name, &at.key("name"));
        for (i, column) in self.columns.iter().enumerate() {
            walk.references(column, &at.key("columns").index(i));
        }
        let mut table = model::Table {
            has_key: !self.primary_key.is_empty(),
            ..model::Table::default()
        };
        for column in &self.columns {
            table.columns.insert(
                column.name.to_string(),
                model::Column {
                    sql_type: column.sql_type.clone(),
                    live: false,
                },
            );
        }
        if !self.primary_key.is_empty() {
            table
                .unique_sets
                .push(self.primary_key.iter().map(Ident::to_string).collect());
        }
        walk.model.relations.insert(self.name.to_string());
        walk.model.tables.insert(self.name.to_string(), table);
    }
}
