//! `drop_not_null`: catalog-only, so it runs in the expand stage (the old application keeps
//! writing non-NULL values, which stays valid).

use crate::pg::lock::LockMode;
use crate::plan::change::{valid_if_clean, Attribute, ChangeKind, Footprint};
use crate::plan::check::{Checker, Ident};
use crate::plan::expand::Expansion;
use crate::plan::source::FieldPath;
use crate::plan::sql::Work;
use crate::plan::step::Phase;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    table: String,
    column: String,
}

#[derive(Debug, Clone)]
pub struct DropNotNull {
    pub table: Ident,
    pub column: Ident,
}

impl ChangeKind for DropNotNull {
    type Raw = Raw;

    fn check(raw: Raw, at: &FieldPath, cx: &mut Checker) -> Option<Self> {
        let before = cx.error_count();
        let table = cx.ident(&at.key("table"), &raw.table);
        let column = cx.ident(&at.key("column"), &raw.column);
        valid_if_clean(cx, before, || Some(DropNotNull { table, column }))
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
        x.step("drop_not_null", Phase::Expand, format!("drop NOT NULL from {col}"), Some(&self.table))
            .sql(format!("ALTER TABLE {table} ALTER COLUMN {col} DROP NOT NULL"), LockMode::AccessExclusive, &table, Work::Instant);
    }
}
