//! `drop_column`: nothing at expand (the old application still reads the column); dropped at
//! contract, once the application that no longer uses it is deployed. Catalog-only.

use crate::pg::catalog::PartitionKey;
use crate::pg::lock::LockMode;
use crate::plan::change::{ChangeKind, Footprint, OnPartitioned, RawTableColumn};
use crate::plan::check::{Checker, Ident};
use crate::plan::expand::Expansion;
use crate::plan::live::Walk;
use crate::plan::source::FieldPath;
use crate::plan::sql::Work;
use crate::plan::step::Phase;

#[derive(Debug, Clone)]
pub struct DropColumn {
    pub table: Ident,
    pub column: Ident,
}

impl ChangeKind for DropColumn {
    type Raw = RawTableColumn;

    fn check(raw: RawTableColumn, at: &FieldPath, cx: &mut Checker) -> Option<Self> {
        raw.check(at, cx)
            .map(|(table, column)| DropColumn { table, column })
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
        x.step(
            "drop_column",
            Phase::Contract,
            format!("drop column {col}"),
            Some(&self.table),
        )
        .sql(
            format!("ALTER TABLE {table} DROP COLUMN {col}"),
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

    fn check_live(&self, walk: &mut Walk, at: &FieldPath) {
        if walk.existing_column(&self.table, &self.column, at) {
            walk.dependents(&self.table, &self.column, "dropped", at.key("column"));
        }
        walk.drop_column(&self.table, &self.column);
    }
}
