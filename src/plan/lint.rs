//! Lint rules that judge a plan as a whole rather than one change: set_not_null without a
//! fill for a column nothing in the plan fills (W610), a drop of something the plan still
//! reads (E612), a foreign key toward columns the plan creates without a unique
//! index (E613), and one plan backfilling many tables (W618). Rules about one change live
//! in that change's file; rules about raw SQL in `sql.rs`.

use crate::plan::change::Change;
use crate::plan::check::{Checker, Ident};
use crate::plan::diagnostic::Code;
use crate::plan::source::FieldPath;
use crate::plan::Plan;
use std::collections::BTreeSet;

/// From this many tables up, one plan's backfills are better split into several plans.
const MANY_TABLES: usize = 3;

pub fn check(changes: &[(Change, FieldPath)], cx: &mut Checker) {
    nulls_without_fill(changes, cx);
    drops_still_read(changes, cx);
    foreign_key_targets(changes, cx);
}

/// W618, once the plan's steps are known.
pub fn check_backfills(plan: &Plan, cx: &mut Checker) {
    let steps = plan.steps("switchback", None);
    let tables: BTreeSet<&str> = steps
        .steps
        .iter()
        .filter_map(|s| s.job.as_ref())
        .map(|j| j.table.as_str())
        .collect();
    if tables.len() >= MANY_TABLES {
        let names: Vec<String> = tables.iter().map(|t| format!("`{t}`")).collect();
        cx.report_key(
            Code::ManyTablesBackfilled,
            &FieldPath::root().key("changes"),
            format!(
                "this plan backfills {} tables ({}); its contract waits for the slowest and one failure holds back all",
                tables.len(),
                names.join(", ")
            ),
            Some("split it into one plan per table".into()),
        );
    }
}

/// W610: a set_not_null without `fill`, unless an earlier change of the plan fills the
/// column (add_column's backfill, say).
fn nulls_without_fill(changes: &[(Change, FieldPath)], cx: &mut Checker) {
    for (index, (change, at)) in changes.iter().enumerate() {
        let Change::SetNotNull(c) = change else {
            continue;
        };
        let filled = changes[..index].iter().any(|(other, _)| {
            let f = other.footprint();
            f.table.as_ref() == Some(&c.table) && f.writes.contains(&c.column)
        });
        if c.fill.is_none() && !filled {
            cx.report_key(Code::NotNullWithoutFill, at, format!("set_not_null on `{}`.`{}` without `fill`: one NULL left by the application makes VALIDATE fail at the end of expand", c.table, c.column), Some("add `fill:` with the value NULLs should get; `validate --database-url` counts the NULLs there are now".into()));
        }
    }
}

/// E612: drop_column or drop_table of something an earlier change of the plan reads. (A
/// later change using it is E300/E304.)
fn drops_still_read(changes: &[(Change, FieldPath)], cx: &mut Checker) {
    for (index, (change, at)) in changes.iter().enumerate() {
        let (table, column) = match change {
            Change::DropColumn(d) => (&d.table, Some(&d.column)),
            Change::DropTable(d) => (&d.name, None),
            _ => continue,
        };
        for (earlier, (other, _)) in changes[..index].iter().enumerate() {
            let f = other.footprint();
            let reads = match column {
                Some(column) => {
                    f.table.as_ref() == Some(table)
                        && f.uses
                            .iter()
                            .chain(&f.reads)
                            .chain(&f.writes)
                            .chain(f.alters.iter().map(|(c, _)| c))
                            .any(|c| c == column)
                }
                None => {
                    f.table.as_ref() == Some(table)
                        || f.other_tables.contains(table)
                        || f.creates_table.as_ref() == Some(table)
                }
            };
            if reads {
                let what = match column {
                    Some(c) => format!("column `{c}` of `{table}`"),
                    None => format!("table `{table}`"),
                };
                cx.report_key(
                    Code::DropStillRead,
                    at,
                    format!("this change drops {what}, which changes[{earlier}] ({}) still uses until contract", other.kind()),
                    Some("drop it in a later plan, once nothing reads it".into()),
                );
            }
        }
    }
}

/// E613 where the plan itself creates the referenced table: its primary key, a unique
/// column or an add_unique of the plan must cover exactly the referenced columns. Tables
/// the plan does not create are checked against the live catalog.
fn foreign_key_targets(changes: &[(Change, FieldPath)], cx: &mut Checker) {
    let mut unique_sets: Vec<(&Ident, BTreeSet<&Ident>)> = Vec::new();
    let mut created: Vec<&Ident> = Vec::new();
    for (change, _) in changes {
        match change {
            Change::CreateTable(t) => {
                created.push(&t.name);
                if !t.primary_key.is_empty() {
                    unique_sets.push((&t.name, t.primary_key.iter().collect()));
                }
                for c in t.columns.iter().filter(|c| c.unique) {
                    unique_sets.push((&t.name, BTreeSet::from([&c.name])));
                }
            }
            Change::AddUnique(u) => unique_sets.push((&u.table, u.columns.iter().collect())),
            Change::AddIndex(i) if i.unique && i.predicate.is_none() => {
                unique_sets.push((&i.table, i.columns.iter().collect()));
            }
            _ => {}
        }
    }
    for (change, at) in changes {
        let targets: Vec<(&Ident, BTreeSet<&Ident>, FieldPath)> = match change {
            Change::AddForeignKey(fk) => vec![(
                &fk.target_table,
                fk.target_columns.iter().collect(),
                at.key("references"),
            )],
            Change::AddColumn(a) => a
                .column
                .references
                .iter()
                .map(|r| {
                    (
                        &r.table,
                        BTreeSet::from([&r.column]),
                        at.key("column").key("references"),
                    )
                })
                .collect(),
            Change::CreateTable(t) => t
                .columns
                .iter()
                .enumerate()
                .filter_map(|(i, c)| {
                    c.references.as_ref().map(|r| {
                        (
                            &r.table,
                            BTreeSet::from([&r.column]),
                            at.key("columns").index(i).key("references"),
                        )
                    })
                })
                .collect(),
            _ => continue,
        };
        for (table, columns, field) in targets {
            let covered = unique_sets
                .iter()
                .any(|(t, set)| *t == table && *set == columns);
            if created.contains(&table) && !covered {
                let list: Vec<String> = columns.iter().map(|c| format!("`{c}`")).collect();
                cx.report(
                    Code::ForeignKeyWithoutUniqueTarget,
                    &field,
                    format!("`{table}` ({}) has no primary key or unique index over exactly these columns", list.join(", ")),
                    Some("reference the table's primary key, or add a unique constraint on these columns first".into()),
                );
            }
        }
    }
}
