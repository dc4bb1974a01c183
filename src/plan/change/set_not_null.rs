//! `set_not_null`: NOT NULL without the full-table scan under ACCESS EXCLUSIVE that a plain
//! SET NOT NULL does. Existing NULLs are filled in batches (when `fill` is given), the old
//! application's NULL writes are filled by the trigger, a CHECK (c IS NOT NULL) is added
//! NOT VALID and validated, and contract's SET NOT NULL then trusts that CHECK.

use crate::pg::catalog::PartitionKey;
use crate::pg::lock::LockMode;
use crate::pg::quote;
use crate::plan::change::{valid_if_clean, Attribute, ChangeKind, Footprint, OnPartitioned};
use crate::plan::check::{Checker, Ident, SqlText};
use crate::plan::expand::{Expansion, SyncRule};
use crate::plan::live::{Probe, Walk};
use crate::plan::revert::{self, Before, Irreversible, Left};
use crate::plan::source::FieldPath;
use crate::plan::sql::{Expr, Work};
use crate::plan::step::{Assignment, Phase, Records};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with table, column and optionally fill"
)]
pub struct Raw {
    table: String,
    column: String,
    fill: Option<SqlText>,
}

#[derive(Debug, Clone)]
pub struct SetNotNull {
    pub table: Ident,
    pub column: Ident,
    pub fill: Option<Expr>,
}

impl ChangeKind for SetNotNull {
    type Raw = Raw;

    fn check(raw: Raw, at: &FieldPath, cx: &mut Checker) -> Option<Self> {
        let before = cx.error_count();
        let table = cx.ident(&at.key("table"), &raw.table);
        let column = cx.ident(&at.key("column"), &raw.column);
        let fill = raw.fill.and_then(|f| cx.expr(&at.key("fill"), &f));
        valid_if_clean(cx, before, || {
            Some(SetNotNull {
                table,
                column,
                fill,
            })
        })
    }

    fn footprint(&self) -> Footprint {
        Footprint {
            table: Some(self.table.clone()),
            uses: vec![self.column.clone()],
            reads: self
                .fill
                .iter()
                .flat_map(|f| f.column_names())
                .map(|c| Ident::trusted(c.to_owned()))
                .collect(),
            writes: self.fill.iter().map(|_| self.column.clone()).collect(),
            alters: vec![(self.column.clone(), Attribute::Nullability)],
            ..Footprint::default()
        }
    }

    fn expand(&self, x: &mut Expansion) {
        let table = x.table(&self.table);
        let col = self.column.quoted();
        let helper = quote::ident(&x.helper_name("nn", &self.table, &self.column));
        let t = Some(&self.table);
        if let Some(fill) = &self.fill {
            x.sync(
                &self.table,
                SyncRule::Fill {
                    column: self.column.clone(),
                    value: fill.over_record("NEW", &[]),
                },
            );
            x.backfill(
                &self.table,
                Assignment {
                    column: self.column.to_string(),
                    value: fill.text.clone(),
                    when: Some(format!("{col} IS NULL")),
                    verify: format!("{col} IS NULL"),
                    records: Records::Nulls,
                },
            );
        }
        x.step(
            "add_not_null_check",
            Phase::Validate,
            format!("add CHECK ({col} IS NOT NULL) NOT VALID"),
            t,
        )
        .sql(
            format!(
                "ALTER TABLE {table} ADD CONSTRAINT {helper} CHECK ({col} IS NOT NULL) NOT VALID"
            ),
            LockMode::AccessExclusive,
            &table,
            Work::Instant,
        )
        .undo(
            format!("ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {helper}"),
            LockMode::AccessExclusive,
            &table,
        );
        x.step(
            "validate_not_null_check",
            Phase::Validate,
            format!("validate CHECK ({col} IS NOT NULL)"),
            t,
        )
        .sql(
            format!("ALTER TABLE {table} VALIDATE CONSTRAINT {helper}"),
            LockMode::ShareUpdateExclusive,
            &table,
            Work::Scan,
        )
        .nothing_to_undo();
        x.step(
            "set_not_null",
            Phase::Contract,
            format!("make {col} NOT NULL (backed by the validated CHECK)"),
            t,
        )
        .set_not_null_from_check(&table, &col, &helper);
    }

    fn on_partitioned_table(&self, _key: &PartitionKey) -> OnPartitioned {
        OnPartitioned::Runs("the trigger on the parent fires for every partition, the backfill walks the parent's key, and a validated CHECK spares SET NOT NULL its scan on each partition")
    }

    fn reverse(&self, _: Left, _: &Before) -> Result<Vec<serde_yaml::Value>, Irreversible> {
        if self.fill.is_some() {
            return Err(Irreversible::Because(format!(
                "its `fill` overwrote the NULLs of `{}`.`{}`, and which rows it filled is not kept once the plan completed",
                self.table, self.column
            )));
        }
        Ok(vec![revert::change(
            "drop_not_null",
            &[
                ("table", self.table.as_str().into()),
                ("column", self.column.as_str().into()),
            ],
        )])
    }

    fn check_live(&self, walk: &mut Walk, at: &FieldPath) {
        if walk.column(
            &self.table,
            &self.column,
            &at.key("table"),
            &at.key("column"),
        ) && self.fill.is_none()
        {
            walk.live_column_probe(&self.table, &self.column, |table, column| Probe::Nulls {
                table,
                column,
                at: at.key("column"),
            });
        }
    }
}
