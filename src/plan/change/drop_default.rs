//! `drop_default`: catalog-only; affects rows inserted from then on.

use crate::pg::catalog::PartitionKey;
use crate::pg::lock::LockMode;
use crate::plan::change::{
    Attribute, ChangeKind, ColumnNeed, Footprint, OnPartitioned, RawTableColumn,
};
use crate::plan::check::{Checker, Ident};
use crate::plan::expand::Expansion;
use crate::plan::live::Walk;
use crate::plan::revert::{self, Before, Irreversible, Left};
use crate::plan::source::FieldPath;
use crate::plan::sql::Work;
use crate::plan::step::Phase;

#[derive(Debug, Clone)]
pub struct DropDefault {
    pub table: Ident,
    pub column: Ident,
}

impl ChangeKind for DropDefault {
    type Raw = RawTableColumn;

    fn check(raw: RawTableColumn, at: &FieldPath, cx: &mut Checker) -> Option<Self> {
        raw.check(at, cx)
            .map(|(table, column)| DropDefault { table, column })
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
        let old = x
            .column_facts(&self.table, &self.column)
            .map(|f| f.default.clone());
        let step = x
            .step(
                "drop_default",
                Phase::Expand,
                format!("drop the default of {col}"),
                Some(&self.table),
            )
            .sql(
                format!("ALTER TABLE {table} ALTER COLUMN {col} DROP DEFAULT"),
                LockMode::AccessExclusive,
                &table,
                Work::Instant,
            );
        match old {
            Some(Some(old)) => {
                step.undo(
                    format!("ALTER TABLE {table} ALTER COLUMN {col} SET DEFAULT {old}"),
                    LockMode::AccessExclusive,
                    &table,
                );
            }
            Some(None) => {
                step.nothing_to_undo();
            }
            None => {}
        }
    }

    fn catalog_columns(&self) -> Vec<ColumnNeed> {
        vec![ColumnNeed::settings(&self.table, &self.column)]
    }

    fn on_partitioned_table(&self, _key: &PartitionKey) -> OnPartitioned {
        OnPartitioned::Runs("the default is dropped on the parent and with it from every partition")
    }

    /// The default the plan's first run found, put back.
    fn reverse(&self, _: Left, before: &Before) -> Result<Vec<serde_yaml::Value>, Irreversible> {
        revert::default_back(before.facts, &self.table, &self.column)
    }

    fn check_live(&self, walk: &mut Walk, at: &FieldPath) {
        walk.existing_column(&self.table, &self.column, at);
    }
}
