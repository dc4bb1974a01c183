//! `drop_not_null`: catalog-only, so it runs in the expand stage (the old application keeps
//! writing non-NULL values, which stays valid).

use crate::pg::catalog::PartitionKey;
use crate::pg::lock::LockMode;
use crate::pg::quote;
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
pub struct DropNotNull {
    pub table: Ident,
    pub column: Ident,
}

impl ChangeKind for DropNotNull {
    type Raw = RawTableColumn;

    fn check(raw: RawTableColumn, at: &FieldPath, cx: &mut Checker) -> Option<Self> {
        raw.check(at, cx)
            .map(|(table, column)| DropNotNull { table, column })
    }

    fn footprint(&self) -> Footprint {
        Footprint {
            table: Some(self.table.clone()),
            uses: vec![self.column.clone()],
            alters: vec![(self.column.clone(), Attribute::Nullability)],
            ..Footprint::default()
        }
    }

    fn expand(&self, x: &mut Expansion) {
        let table = x.table(&self.table);
        let col = self.column.quoted();
        let helper = quote::ident(&x.helper_name("nn", &self.table, &self.column));
        let was_not_null = x
            .column_facts(&self.table, &self.column)
            .map(|f| f.not_null);
        // Outside a transaction so that abort's undo runs statement by statement: the VALIDATE
        // scan must not happen under the ACCESS EXCLUSIVE lock of the CHECK's ADD.
        let step = x
            .step(
                "drop_not_null",
                Phase::Expand,
                format!("drop NOT NULL from {col}"),
                Some(&self.table),
            )
            .outside_transaction()
            .sql(
                format!("ALTER TABLE {table} ALTER COLUMN {col} DROP NOT NULL"),
                LockMode::AccessExclusive,
                &table,
                Work::Instant,
            );
        match was_not_null {
            Some(true) => {
                step.undo(format!("ALTER TABLE {table} ADD CONSTRAINT {helper} CHECK ({col} IS NOT NULL) NOT VALID"), LockMode::AccessExclusive, &table)
                    .undo(format!("ALTER TABLE {table} VALIDATE CONSTRAINT {helper}"), LockMode::ShareUpdateExclusive, &table)
                    .undo(format!("ALTER TABLE {table} ALTER COLUMN {col} SET NOT NULL"), LockMode::AccessExclusive, &table)
                    .undo(format!("ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {helper}"), LockMode::AccessExclusive, &table);
            }
            Some(false) => {
                step.nothing_to_undo();
            }
            None => {}
        }
    }

    fn catalog_columns(&self) -> Vec<ColumnNeed> {
        vec![ColumnNeed::settings(&self.table, &self.column)]
    }

    fn on_partitioned_table(&self, _key: &PartitionKey) -> OnPartitioned {
        OnPartitioned::Runs("NOT NULL is dropped on the parent and on every partition")
    }

    /// NULLs written since make the reverse's VALIDATE fail, naming the rows: not exact.
    fn reverse(&self, _: Left, before: &Before) -> Result<Vec<serde_yaml::Value>, Irreversible> {
        if !revert::was_not_null(before.facts, &self.table, &self.column)? {
            return Ok(Vec::new());
        }
        Ok(vec![revert::change(
            "set_not_null",
            &[
                ("table", self.table.as_str().into()),
                ("column", self.column.as_str().into()),
            ],
        )])
    }

    fn check_live(&self, walk: &mut Walk, at: &FieldPath) {
        walk.existing_column(&self.table, &self.column, at);
    }
}
