//! `add_column`: a new column that the old application never writes. Existing rows get their
//! value from a batched backfill, the old application's new rows from the dual-write trigger;
//! NOT NULL, CHECK, FOREIGN KEY and UNIQUE arrive without a lock that blocks writes.

use crate::pg::catalog::PartitionKey;
use crate::pg::lock::LockMode;
use crate::pg::quote;
use crate::plan::change::column::{Column, RawColumn};
use crate::plan::change::{
    add_unique, valid_if_clean, ChangeKind, Condition, Footprint, Object, OnPartitioned,
};
use crate::plan::check::{Checker, Ident, SqlText};
use crate::plan::diagnostic::Code;
use crate::plan::expand::{Expansion, SyncRule};
use crate::plan::live::Walk;
use crate::plan::revert::{self, Before, Irreversible, Left};
use crate::plan::source::FieldPath;
use crate::plan::sql::{Expr, Work};
use crate::plan::step::{check_offenders, foreign_key_offenders, Assignment, Phase, Records};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with table, column and optionally backfill, if_not_exists"
)]
pub struct Raw {
    table: String,
    column: RawColumn,
    backfill: Option<SqlText>,
    #[serde(default)]
    if_not_exists: bool,
}

#[derive(Debug, Clone)]
pub struct AddColumn {
    pub table: Ident,
    pub column: Column,
    pub backfill: Option<Expr>,
    /// ADD COLUMN IF NOT EXISTS: skipped when the table has a column of that name.
    pub if_not_exists: bool,
    at: FieldPath,
}

impl AddColumn {
    /// The value existing rows get: the backfill expression, or a volatile default, which as
    /// a plain DEFAULT would make PostgreSQL rewrite the whole table under ACCESS EXCLUSIVE.
    fn computed_value(&self) -> Option<&Expr> {
        self.backfill
            .as_ref()
            .or(self.column.default.as_ref().filter(|d| d.is_volatile()))
    }
}

impl ChangeKind for AddColumn {
    type Raw = Raw;

    fn check(raw: Raw, at: &FieldPath, cx: &mut Checker) -> Option<Self> {
        let before = cx.error_count();
        let table = cx.ident(&at.key("table"), &raw.table);
        let column = Column::check(raw.column, &at.key("column"), cx);
        let backfill = raw.backfill.and_then(|b| cx.expr(&at.key("backfill"), &b));
        if let Some(column) = &column {
            if !column.nullable && column.default.is_none() && backfill.is_none() {
                cx.report(
                    Code::NotNullWithoutValue,
                    &at.key("column").key("nullable"),
                    format!("column `{}` is NOT NULL but has neither `default` nor `backfill`, so existing rows would have no value", column.name),
                    Some("add `default:` or `backfill:`, or add the column nullable and use set_not_null with `fill` later".into()),
                );
            }
            if backfill
                .as_ref()
                .is_some_and(|b| b.reads(column.name.as_str()))
            {
                cx.report(
                    Code::BadExpression,
                    &at.key("backfill"),
                    format!("`backfill` reads the column `{}` it fills", column.name),
                    None,
                );
            }
        }
        valid_if_clean(cx, before, || {
            Some(AddColumn {
                table,
                column: column?,
                backfill,
                if_not_exists: raw.if_not_exists,
                at: at.clone(),
            })
        })
    }

    fn footprint(&self) -> Footprint {
        let name = &self.column.name;
        let names = self
            .column
            .constraint_names(&self.table, &self.at.key("column"));
        let computed = self.computed_value();
        Footprint {
            table: Some(self.table.clone()),
            reads: computed
                .map(|e| {
                    e.column_names()
                        .map(|c| Ident::trusted(c.to_owned()))
                        .collect()
                })
                .unwrap_or_default(),
            writes: computed.map(|_| vec![name.clone()]).unwrap_or_default(),
            creates: vec![name.clone()],
            other_tables: self
                .column
                .references
                .iter()
                .map(|r| r.table.clone())
                .collect(),
            names,
            ..Footprint::default()
        }
    }

    fn expand(&self, x: &mut Expansion) {
        let table = x.table(&self.table);
        let col = &self.column;
        let name = col.name.quoted();
        let title = format!("add column {name} to {}", self.table.quoted());
        match self.computed_value() {
            None => {
                // A constant default and NOT NULL are catalog-only since PostgreSQL 11.
                let mut sql = format!("ALTER TABLE {table} ADD COLUMN {name} {}", col.sql_type);
                if let Some(d) = &col.default {
                    sql.push_str(&format!(" DEFAULT {}", d.text));
                }
                if !col.nullable {
                    sql.push_str(" NOT NULL");
                }
                x.step("add_column", Phase::Expand, title, Some(&self.table))
                    .sql(sql, LockMode::AccessExclusive, &table, Work::Instant)
                    .undo(
                        format!("ALTER TABLE {table} DROP COLUMN IF EXISTS {name}"),
                        LockMode::AccessExclusive,
                        &table,
                    );
            }
            Some(value) => {
                x.step("add_column", Phase::Expand, title, Some(&self.table))
                    .sql(
                        format!("ALTER TABLE {table} ADD COLUMN {name} {}", col.sql_type),
                        LockMode::AccessExclusive,
                        &table,
                        Work::Instant,
                    )
                    .undo(
                        format!("ALTER TABLE {table} DROP COLUMN IF EXISTS {name}"),
                        LockMode::AccessExclusive,
                        &table,
                    );
                x.sync(
                    &self.table,
                    SyncRule::Computed {
                        column: col.name.clone(),
                        value: value.over_record("NEW", &[]),
                    },
                );
                x.backfill(
                    &self.table,
                    Assignment {
                        column: col.name.to_string(),
                        value: value.text.clone(),
                        when: Some(format!("{name} IS NULL")),
                        verify: format!("{name} IS NULL AND ({}) IS NOT NULL", value.text),
                        records: Records::Nothing,
                    },
                );
                if !col.nullable {
                    let helper = quote::ident(&x.helper_name("nn", &self.table, &col.name));
                    x.step("add_not_null_check", Phase::Validate, format!("add CHECK ({name} IS NOT NULL) NOT VALID"), Some(&self.table))
                        .sql(format!("ALTER TABLE {table} ADD CONSTRAINT {helper} CHECK ({name} IS NOT NULL) NOT VALID"), LockMode::AccessExclusive, &table, Work::Instant)
                        .undo(format!("ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {helper}"), LockMode::AccessExclusive, &table);
                    x.step(
                        "validate_not_null_check",
                        Phase::Validate,
                        format!("validate CHECK ({name} IS NOT NULL)"),
                        Some(&self.table),
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
                        format!("make {name} NOT NULL (backed by the validated CHECK)"),
                        Some(&self.table),
                    )
                    .set_not_null_from_check(&table, &name, &helper);
                }
                if let Some(d) = &col.default {
                    x.step(
                        "set_default",
                        Phase::Contract,
                        format!("set the default of {name}"),
                        Some(&self.table),
                    )
                    .sql(
                        format!(
                            "ALTER TABLE {table} ALTER COLUMN {name} SET DEFAULT {}",
                            d.text
                        ),
                        LockMode::AccessExclusive,
                        &table,
                        Work::Instant,
                    );
                }
            }
        }
        if let Some(check) = &col.check {
            let constraint = quote::ident(&col.check_name(&self.table));
            x.step(
                "add_check",
                Phase::Validate,
                format!("add CHECK {constraint} NOT VALID"),
                Some(&self.table),
            )
            .sql(
                format!(
                    "ALTER TABLE {table} ADD CONSTRAINT {constraint} CHECK ({}) NOT VALID",
                    check.text
                ),
                LockMode::AccessExclusive,
                &table,
                Work::Instant,
            )
            .undo(
                format!("ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {constraint}"),
                LockMode::AccessExclusive,
                &table,
            );
            x.step(
                "validate_check",
                Phase::Validate,
                format!("validate CHECK {constraint}"),
                Some(&self.table),
            )
            .sql(
                format!("ALTER TABLE {table} VALIDATE CONSTRAINT {constraint}"),
                LockMode::ShareUpdateExclusive,
                &table,
                Work::Scan,
            )
            .nothing_to_undo()
            .offenders(check_offenders(&table, &check.text));
        }
        if let (Some(reference), Some(references)) =
            (&col.references, col.references_sql(&x.plan.schema))
        {
            let target = x.table(&reference.table);
            let constraint = quote::ident(&col.foreign_key_name(&self.table));
            x.step("add_foreign_key", Phase::Validate, format!("add FOREIGN KEY {constraint} NOT VALID"), Some(&self.table))
                .sql(format!("ALTER TABLE {table} ADD CONSTRAINT {constraint} FOREIGN KEY ({name}) {references} NOT VALID"), LockMode::ShareRowExclusive, &table, Work::Instant)
                .also_locks(LockMode::ShareRowExclusive, &target)
                .undo(format!("ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {constraint}"), LockMode::AccessExclusive, &table);
            x.step(
                "validate_foreign_key",
                Phase::Validate,
                format!("validate FOREIGN KEY {constraint}"),
                Some(&self.table),
            )
            .sql(
                format!("ALTER TABLE {table} VALIDATE CONSTRAINT {constraint}"),
                LockMode::ShareUpdateExclusive,
                &table,
                Work::Scan,
            )
            .also_locks(LockMode::RowShare, &target)
            .nothing_to_undo()
            .offenders(foreign_key_offenders(
                &table,
                &[col.name.as_str()],
                &target,
                &[reference.column.as_str()],
            ));
        }
        if col.unique {
            let index = col.unique_name(&self.table);
            add_unique::build_and_attach(x, &self.table, &index, &name, Phase::Validate);
        }
    }

    fn on_partitioned_table(&self, key: &PartitionKey) -> OnPartitioned {
        if self.column.unique {
            let name = self.column.name.as_str();
            if let Some(why) = key.refuses_unique(&[name]) {
                return OnPartitioned::Refused(why);
            }
        }
        // The column's foreign key would be added NOT VALID on the parent, which PostgreSQL
        // refuses before 18; add_foreign_key's partition-by-partition recipe does it instead.
        if self.column.references.is_some() {
            return OnPartitioned::Refused(
                "a new column's `references` would need a NOT VALID foreign key on the parent; add the column without it, then an `add_foreign_key` change, which runs partition by partition".into(),
            );
        }
        OnPartitioned::Runs("the column is added on the parent and so on every partition; the trigger on the parent fires for every partition, and the backfill walks the parent's key")
    }

    fn condition(&self) -> Option<Condition> {
        self.if_not_exists.then(|| {
            Condition::if_not_exists(Object::Column {
                table: self.table.clone(),
                column: self.column.name.clone(),
            })
        })
    }

    /// Its values are kept: the reverse drops the column with the revert plan's archive.
    fn reverse(&self, _: Left, _: &Before) -> Result<Vec<serde_yaml::Value>, Irreversible> {
        Ok(vec![revert::change(
            "drop_column",
            &[
                ("table", self.table.as_str().into()),
                ("column", self.column.name.as_str().into()),
            ],
        )])
    }

    fn check_live(&self, walk: &mut Walk, at: &FieldPath) {
        let name = self.column.name.as_str();
        if walk.table(&self.table, &at.key("table")) {
            walk.no_column(&self.table, name, &at.key("column").key("name"));
        }
        walk.references(&self.column, &at.key("column"));
        walk.add_column(&self.table, name, &self.column.sql_type);
    }
}
