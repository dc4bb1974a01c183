//! `add_check`: a CHECK constraint added NOT VALID (new writes are checked at once), existing
//! rows optionally fixed by a `fill` backfill, then VALIDATEd under a lock that lets reads and
//! writes through.

use crate::pg::lock::LockMode;
use crate::plan::change::{valid_if_clean, ChangeKind, ColumnNeed, Footprint};
use crate::plan::check::{Checker, Ident, SqlText};
use crate::plan::expand::{Expansion, SyncRule};
use crate::plan::source::FieldPath;
use crate::plan::sql::{Expr, Work};
use crate::plan::step::{check_offenders, Assignment, Phase, Records};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    table: String,
    name: String,
    check: SqlText,
    fill: Option<RawFill>,
}

/// Which column to overwrite on rows that break the check, and with what.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename = "a fill mapping")]
pub struct RawFill {
    column: String,
    value: SqlText,
}

#[derive(Debug, Clone)]
pub struct Fill {
    pub column: Ident,
    pub value: Expr,
}

#[derive(Debug, Clone)]
pub struct AddCheck {
    pub table: Ident,
    pub name: Ident,
    pub check: Expr,
    pub fill: Option<Fill>,
    at: FieldPath,
}

impl ChangeKind for AddCheck {
    type Raw = Raw;

    fn check(raw: Raw, at: &FieldPath, cx: &mut Checker) -> Option<Self> {
        let before = cx.error_count();
        let table = cx.ident(&at.key("table"), &raw.table);
        let name = cx.ident(&at.key("name"), &raw.name);
        let check = cx.expr(&at.key("check"), &raw.check);
        let fill = raw.fill.map(|f| {
            let at = at.key("fill");
            (
                cx.ident(&at.key("column"), &f.column),
                cx.expr(&at.key("value"), &f.value),
            )
        });
        valid_if_clean(cx, before, || {
            let fill = match fill {
                Some((column, value)) => Some(Fill {
                    column,
                    value: value?,
                }),
                None => None,
            };
            Some(AddCheck {
                table,
                name,
                check: check?,
                fill,
                at: at.clone(),
            })
        })
    }

    /// The fill column's type, to put overwritten values back on abort.
    fn catalog_columns(&self) -> Vec<ColumnNeed> {
        self.fill
            .iter()
            .map(|f| ColumnNeed::settings(&self.table, &f.column))
            .collect()
    }

    fn footprint(&self) -> Footprint {
        let read = |e: &Expr| {
            e.column_names()
                .map(|c| Ident::trusted(c.to_owned()))
                .collect::<Vec<_>>()
        };
        let mut uses = read(&self.check);
        let mut reads = Vec::new();
        if let Some(fill) = &self.fill {
            uses.push(fill.column.clone());
            reads = read(&self.check);
            reads.extend(read(&fill.value));
        }
        Footprint {
            table: Some(self.table.clone()),
            uses,
            reads,
            writes: self.fill.iter().map(|f| f.column.clone()).collect(),
            names: vec![(self.name.clone(), self.at.key("name"))],
            ..Footprint::default()
        }
    }

    fn expand(&self, x: &mut Expansion) {
        let table = x.table(&self.table);
        let constraint = self.name.quoted();
        let t = Some(&self.table);
        if let Some(fill) = &self.fill {
            let breaks = format!("({}) IS FALSE", self.check.text);
            x.sync(
                &self.table,
                SyncRule::CheckFill {
                    check: self.check.over_record("NEW", &[]),
                    column: fill.column.clone(),
                    value: fill.value.over_record("NEW", &[]),
                },
            );
            let sql_type = x
                .column_facts(&self.table, &fill.column)
                .map_or(format!("<type of {}>", fill.column.quoted()), |f| {
                    f.sql_type.clone()
                });
            x.backfill(
                &self.table,
                Assignment {
                    column: fill.column.to_string(),
                    value: fill.value.text.clone(),
                    when: Some(breaks.clone()),
                    verify: breaks,
                    records: Records::OldValues { sql_type },
                },
            );
        }
        x.step(
            "add_check",
            Phase::Validate,
            format!("add CHECK {constraint} NOT VALID"),
            t,
        )
        .sql(
            format!(
                "ALTER TABLE {table} ADD CONSTRAINT {constraint} CHECK ({}) NOT VALID",
                self.check.text
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
            t,
        )
        .sql(
            format!("ALTER TABLE {table} VALIDATE CONSTRAINT {constraint}"),
            LockMode::ShareUpdateExclusive,
            &table,
            Work::Scan,
        )
        .nothing_to_undo()
        .offenders(check_offenders(&table, &self.check.text));
    }
}
