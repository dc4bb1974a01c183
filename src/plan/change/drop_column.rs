//! `drop_column`: nothing at expand (the old application still reads the column); dropped at
//! contract, once the application that no longer uses it is deployed. Catalog-only.

use crate::pg::catalog::PartitionKey;
use crate::pg::lock::LockMode;
use crate::plan::change::{
    valid_if_clean, ChangeKind, Condition, Footprint, Object, OnPartitioned,
};
use crate::plan::check::{Checker, Ident};
use crate::plan::expand::Expansion;
use crate::plan::live::Walk;
use crate::plan::source::FieldPath;
use crate::plan::sql::Work;
use crate::plan::step::Phase;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with table, column and optionally if_exists"
)]
pub struct Raw {
    table: String,
    column: String,
    #[serde(default)]
    if_exists: bool,
}

#[derive(Debug, Clone)]
pub struct DropColumn {
    pub table: Ident,
    pub column: Ident,
    /// DROP COLUMN IF EXISTS: skipped when the column is not there.
    pub if_exists: bool,
}

impl ChangeKind for DropColumn {
    type Raw = Raw;

    fn check(raw: Raw, at: &FieldPath, cx: &mut Checker) -> Option<Self> {
        let before = cx.error_count();
        let table = cx.ident(&at.key("table"), &raw.table);
        let column = cx.ident(&at.key("column"), &raw.column);
        valid_if_clean(cx, before, || {
            Some(DropColumn {
                table,
                column,
                if_exists: raw.if_exists,
            })
        })
    }

    fn footprint(&self) -> Footprint {
        Footprint {
            table: Some(self.table.clone()),
            uses: vec![self.column.clone()],
            removes: vec![(self.column.clone(), "dropped".into())],
            ..Footprint::default()
        }
    }

    fn expand(&self, x: &mut Expansion) {
        let table = x.table(&self.table);
        let col = self.column.quoted();
        // Also in the statement: the column may go between the first run and contract.
        let if_exists = if self.if_exists { "IF EXISTS " } else { "" };
        x.step(
            "drop_column",
            Phase::Contract,
            format!("drop column {col}"),
            Some(&self.table),
        )
        .sql(
            format!("ALTER TABLE {table} DROP COLUMN {if_exists}{col}"),
            LockMode::AccessExclusive,
            &table,
            Work::Instant,
        );
    }

    fn on_partitioned_table(&self, _key: &PartitionKey) -> OnPartitioned {
        OnPartitioned::Runs(
            "the column is dropped on the parent at contract, and so from every partition",
        )
    }

    fn condition(&self) -> Option<Condition> {
        self.if_exists.then(|| {
            Condition::if_exists(Object::Column {
                table: self.table.clone(),
                column: self.column.clone(),
            })
        })
    }

    fn check_live(&self, walk: &mut Walk, at: &FieldPath) {
        if walk.existing_column(&self.table, &self.column, at) {
            walk.dependents(&self.table, &self.column, "dropped", at.key("column"));
        }
        walk.drop_column(&self.table, &self.column);
    }
}
