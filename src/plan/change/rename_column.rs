//! `rename_column`: the new name arrives as a second column kept equal to the old one by a
//! two-way trigger, so the old application (writing `from`) and the new one (writing `to`)
//! run side by side. The old column's NOT NULL, CHECKs, foreign keys and indexes are rebuilt
//! on the new one without blocking writes; contract drops the old column.

use crate::pg::lock::LockMode;
use crate::plan::change::{valid_if_clean, ChangeKind, Footprint};
use crate::plan::check::{Checker, Ident};
use crate::plan::diagnostic::Code;
use crate::plan::expand::{Assignment, Expansion, SyncRule};
use crate::plan::source::FieldPath;
use crate::plan::sql::Work;
use crate::plan::step::{Phase, Step};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    table: String,
    from: String,
    to: String,
}

#[derive(Debug, Clone)]
pub struct RenameColumn {
    pub table: Ident,
    pub from: Ident,
    pub to: Ident,
}

impl ChangeKind for RenameColumn {
    type Raw = Raw;

    fn check(raw: Raw, at: &FieldPath, cx: &mut Checker) -> Option<Self> {
        let before = cx.error_count();
        let table = cx.ident(&at.key("table"), &raw.table);
        let from = cx.ident(&at.key("from"), &raw.from);
        let to = cx.ident(&at.key("to"), &raw.to);
        if from == to {
            cx.report(Code::NoOpChange, &at.key("to"), format!("`from` and `to` are both `{to}`"), None);
        }
        valid_if_clean(cx, before, || Some(RenameColumn { table, from, to }))
    }

    fn footprint(&self) -> Footprint {
        Footprint {
            table: Some(self.table.clone()),
            uses: vec![self.from.clone()],
            reads: vec![self.from.clone()],
            writes: vec![self.to.clone()],
            creates: vec![self.to.clone()],
            removes: vec![(self.from.clone(), format!("renamed to `{}`", self.to))],
            ..Footprint::default()
        }
    }

    fn expand(&self, x: &mut Expansion) {
        let table = x.table(&self.table);
        let (from, to) = (self.from.quoted(), self.to.quoted());
        let t = Some(&self.table);
        x.step("add_column", Phase::Expand, format!("add column {to} beside {from}"), t)
            .sql(format!("ALTER TABLE {table} ADD COLUMN {to} <type of {from}>"), LockMode::AccessExclusive, &table, Work::Instant)
            .sql(format!("ALTER TABLE {table} ALTER COLUMN {from} DROP DEFAULT"), LockMode::AccessExclusive, &table, Work::Instant)
            .when(format!("{from} has a default (the trigger supplies it while both columns exist)"));
        x.sync(
            &self.table,
            SyncRule::Pair {
                old: self.from.clone(),
                new: self.to.clone(),
                up: format!("NEW.{from}"),
                down: format!("NEW.{to}"),
                default: Some(format!("<default of {from}>")),
            },
        );
        let differs = format!("{to} IS DISTINCT FROM {from}");
        x.backfill(
            &self.table,
            Assignment {
                column: self.to.clone(),
                value: from.clone(),
                when: Some(differs.clone()),
                verify: differs,
            },
        );
        copy_column_objects(x, &self.table, &self.from, &self.to);
        let nn = crate::pg::quote::ident(&x.helper_name("nn", &self.table, &self.to));
        let step = x
            .step("drop_old_column", Phase::Contract, format!("drop {from}; {to} takes over its constraints and default"), t)
            .sql(format!("ALTER TABLE {table} DROP COLUMN {from}"), LockMode::AccessExclusive, &table, Work::Instant);
        finish_column_objects(step, &table, &self.from, &self.to, &nn);
    }
}

/// Validate-phase steps that rebuild `from`'s NOT NULL, CHECKs, foreign keys and indexes on
/// `to` (shared with change_type, which does the same for its shadow column). The catalog
/// supplies the list at run time.
pub(crate) fn copy_column_objects(x: &mut Expansion, table_name: &Ident, from: &Ident, to: &Ident) {
    let table = x.table(table_name);
    let (f, t) = (from.quoted(), to.quoted());
    let nn = crate::pg::quote::ident(&x.helper_name("nn", table_name, to));
    let on = Some(table_name);
    x.step("copy_indexes", Phase::Validate, format!("rebuild the indexes of {f} on {t} concurrently"), on)
        .outside_transaction()
        .sql(format!("CREATE [UNIQUE] INDEX CONCURRENTLY <index name with {t}> ON {table} (<the index's columns with {t} for {f}>)"), LockMode::ShareUpdateExclusive, &table, Work::Scan)
        .when(format!("for each index on {f}; an INVALID leftover of an earlier attempt is dropped first"));
    x.step("copy_constraints", Phase::Validate, format!("copy the constraints of {f} onto {t} as NOT VALID"), on)
        .sql(format!("ALTER TABLE {table} ADD CONSTRAINT {nn} CHECK ({t} IS NOT NULL) NOT VALID"), LockMode::AccessExclusive, &table, Work::Instant)
        .when(format!("{f} is NOT NULL"))
        .sql(format!("ALTER TABLE {table} ADD CONSTRAINT <name with {t}> CHECK (<the check with {t} for {f}>) NOT VALID"), LockMode::AccessExclusive, &table, Work::Instant)
        .when(format!("for each CHECK constraint on {f}"))
        .sql(format!("ALTER TABLE {table} ADD CONSTRAINT <name with {t}> FOREIGN KEY ({t}) REFERENCES <the same target> NOT VALID"), LockMode::ShareRowExclusive, &table, Work::Instant)
        .when(format!("for each foreign key on {f}"));
    x.step("validate_constraints", Phase::Validate, format!("validate the constraints copied onto {t}"), on)
        .sql(format!("ALTER TABLE {table} VALIDATE CONSTRAINT <each copied constraint>"), LockMode::ShareUpdateExclusive, &table, Work::Scan);
}

/// Contract statements that turn the copies into the real thing, in the transaction that
/// drops `from`, so the table is never without its NOT NULL or key in between.
pub(crate) fn finish_column_objects(step: &mut Step, table: &str, from: &Ident, to: &Ident, nn: &str) {
    let (f, t) = (from.quoted(), to.quoted());
    step.sql(format!("ALTER TABLE {table} ALTER COLUMN {t} SET NOT NULL"), LockMode::AccessExclusive, table, Work::Instant)
        .when(format!("{f} was NOT NULL (the validated CHECK spares the scan)"))
        .sql(format!("ALTER TABLE {table} DROP CONSTRAINT {nn}"), LockMode::AccessExclusive, table, Work::Instant)
        .when(format!("{f} was NOT NULL"))
        .sql(format!("ALTER TABLE {table} ALTER COLUMN {t} SET DEFAULT <default of {f}>"), LockMode::AccessExclusive, table, Work::Instant)
        .when(format!("{f} had a default"))
        .sql(format!("ALTER TABLE {table} ADD CONSTRAINT <constraint name> {{UNIQUE | PRIMARY KEY}} USING INDEX <copied index>"), LockMode::AccessExclusive, table, Work::Instant)
        .when(format!("for each UNIQUE or PRIMARY KEY constraint {f} had"));
}
