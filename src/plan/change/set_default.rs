//! `set_default`: catalog-only; affects rows inserted from then on.

use crate::pg::catalog::PartitionKey;
use crate::pg::lock::LockMode;
use crate::plan::change::{
    valid_if_clean, Attribute, ChangeKind, ColumnNeed, Footprint, OnPartitioned,
};
use crate::plan::check::{Checker, Ident, SqlText};
use crate::plan::diagnostic::Code;
use crate::plan::expand::Expansion;
use crate::plan::live::Walk;
use crate::plan::revert::{self, Before, Irreversible, Left};
use crate::plan::source::FieldPath;
use crate::plan::sql::{Expr, Work};
use crate::plan::step::Phase;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with table, column and default"
)]
pub struct Raw {
    table: String,
    column: String,
    default: SqlText,
}

#[derive(Debug, Clone)]
pub struct SetDefault {
    pub table: Ident,
    pub column: Ident,
    pub default: Expr,
}

impl ChangeKind for SetDefault {
    type Raw = Raw;

    fn check(raw: Raw, at: &FieldPath, cx: &mut Checker) -> Option<Self> {
        let before = cx.error_count();
        let table = cx.ident(&at.key("table"), &raw.table);
        let column = cx.ident(&at.key("column"), &raw.column);
        let default = cx.expr(&at.key("default"), &raw.default);
        if default.as_ref().is_some_and(|d| !d.columns.is_empty()) {
            cx.report(
                Code::BadExpression,
                &at.key("default"),
                "a column default cannot refer to columns".into(),
                None,
            );
        }
        valid_if_clean(cx, before, || {
            Some(SetDefault {
                table,
                column,
                default: default?,
            })
        })
    }

    fn footprint(&self) -> Footprint {
        Footprint {
            table: Some(self.table.clone()),
            uses: vec![self.column.clone()],
            alters: vec![(self.column.clone(), Attribute::Default)],
            ..Footprint::default()
        }
    }

    fn expand(&self, x: &mut Expansion) {
        let table = x.table(&self.table);
        let col = self.column.quoted();
        let facts = x.column_facts(&self.table, &self.column);
        let step = x
            .step(
                "set_default",
                Phase::Expand,
                format!("set the default of {col}"),
                Some(&self.table),
            )
            .sql(
                format!(
                    "ALTER TABLE {table} ALTER COLUMN {col} SET DEFAULT {}",
                    self.default.text
                ),
                LockMode::AccessExclusive,
                &table,
                Work::Instant,
            );
        if let Some(facts) = facts {
            let undo = match &facts.default {
                Some(old) => format!("ALTER TABLE {table} ALTER COLUMN {col} SET DEFAULT {old}"),
                None => format!("ALTER TABLE {table} ALTER COLUMN {col} DROP DEFAULT"),
            };
            step.undo(undo, LockMode::AccessExclusive, &table);
        }
    }

    fn catalog_columns(&self) -> Vec<ColumnNeed> {
        vec![ColumnNeed::settings(&self.table, &self.column)]
    }

    fn on_partitioned_table(&self, _key: &PartitionKey) -> OnPartitioned {
        OnPartitioned::Runs("the default is set on the parent; every partition takes it")
    }

    /// The default the plan's first run found, put back.
    fn reverse(&self, _: Left, before: &Before) -> Result<Vec<serde_yaml::Value>, Irreversible> {
        revert::default_back(before.facts, &self.table, &self.column)
    }

    fn check_live(&self, walk: &mut Walk, at: &FieldPath) {
        walk.existing_column(&self.table, &self.column, at);
    }
}
