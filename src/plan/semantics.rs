//! Checks across the changes of one plan, in order: a column used after an earlier change
//! drops or renames it, two changes fighting over one column, duplicate object names. Also
//! finds which change needs a column or table another change creates: those become edges.

use crate::plan::change::{Attribute, Change};
use crate::plan::check::{Checker, Ident};
use crate::plan::diagnostic::Code;
use crate::plan::source::FieldPath;
use std::collections::HashMap;

type Column = (Ident, Ident);

#[derive(Default)]
struct Seen {
    removed_columns: HashMap<Column, (usize, String)>,
    removed_tables: HashMap<Ident, (usize, String)>,
    written: HashMap<Column, usize>,
    altered: HashMap<(Column, AttributeKey), usize>,
    created_columns: HashMap<Column, usize>,
    created_tables: HashMap<Ident, usize>,
    names: HashMap<Ident, usize>,
}

#[derive(PartialEq, Eq, Hash, Clone, Copy)]
struct AttributeKey(u8);

fn key(a: Attribute) -> AttributeKey {
    AttributeKey(a as u8)
}

fn attribute_name(a: Attribute) -> &'static str {
    match a {
        Attribute::Type => "type",
        Attribute::Nullability => "NOT NULL",
        Attribute::Default => "default",
    }
}

/// An index or constraint made on a column another change of the plan moves away: a
/// change_type's shadow and a rename's new column take over the objects the column had when
/// the plan first ran (read before any step), so one made by this plan would stay on the old
/// column and go with it at contract. A later change using a renamed or dropped column is
/// E300's; this covers a type change in either order and an object made before the move.
fn objects_on_moved_columns(changes: &[(Change, FieldPath)], cx: &mut Checker) {
    let footprints: Vec<_> = changes.iter().map(|(c, _)| c.footprint()).collect();
    for (index, (f, (_, at))) in footprints.iter().zip(changes).enumerate() {
        let Some(table) = f.table.as_ref().filter(|_| !f.names.is_empty()) else {
            continue;
        };
        for (by, other) in footprints.iter().enumerate() {
            if by == index || other.table.as_ref() != Some(table) {
                continue;
            }
            let retyped = other
                .alters
                .iter()
                .filter(|(_, a)| *a == Attribute::Type)
                .map(|(c, _)| (c, "changes its type".to_owned()));
            let removed = other
                .removes
                .iter()
                .filter(|_| by > index)
                .map(|(c, how)| (c, format!("has it {how}")));
            for (column, how) in retyped.chain(removed) {
                if f.uses.contains(column) {
                    cx.report_key(
                        Code::ColumnConflict,
                        at,
                        format!("this change makes an index or constraint on column `{column}` of `{table}`, and changes[{by}] {how}: the new column takes over only the objects the column had before the plan, so this one would be dropped with the old column at contract"),
                        Some("put this change in a plan that depends on this one".into()),
                    );
                }
            }
        }
    }
}

/// Reports conflicts to `cx` and returns (later, earlier) pairs of dependent changes.
pub fn check(changes: &[(Change, FieldPath)], cx: &mut Checker) -> Vec<(usize, usize)> {
    objects_on_moved_columns(changes, cx);
    let mut seen = Seen::default();
    let mut dependencies = Vec::new();
    for (index, (change, at)) in changes.iter().enumerate() {
        let f = change.footprint();
        let mut depends = |earlier: usize| {
            if !dependencies.contains(&(index, earlier)) {
                dependencies.push((index, earlier));
            }
        };
        let tables = f.table.iter().chain(&f.other_tables);
        for table in tables {
            if let Some((by, how)) = seen.removed_tables.get(table) {
                cx.report_key(
                    Code::TableGone,
                    at,
                    format!("table `{table}` is {how} by changes[{by}]"),
                    Some("refer to the table by the name it has after that change".into()),
                );
            }
            if let Some(&by) = seen.created_tables.get(table) {
                depends(by);
            }
        }
        if let Some(table) = &f.table {
            let column = |c: &Ident| (table.clone(), c.clone());
            let touched = f
                .uses
                .iter()
                .chain(&f.reads)
                .chain(&f.writes)
                .chain(f.alters.iter().map(|(c, _)| c));
            let mut reported = Vec::new();
            for c in touched {
                if reported.contains(c) {
                    continue;
                }
                if let Some((by, how)) = seen.removed_columns.get(&column(c)) {
                    reported.push(c.clone());
                    cx.report_key(
                        Code::UseAfterDrop,
                        at,
                        format!("column `{c}` of `{table}` is {how} by changes[{by}]"),
                        Some(
                            "a later change must use the column's new name, or run in a later plan"
                                .into(),
                        ),
                    );
                }
                if let Some(&by) = seen.created_columns.get(&column(c)) {
                    depends(by);
                }
            }
            for c in &f.writes {
                if let Some(&by) = seen.written.get(&column(c)) {
                    cx.report_key(Code::ColumnConflict, at, format!("column `{c}` of `{table}` is also written by changes[{by}]"), Some("one backfill pass cannot give a column two values; split the changes into two plans".into()));
                }
            }
            for c in &f.reads {
                if let Some(&by) = seen.written.get(&column(c)) {
                    if !f.writes.contains(c) {
                        cx.report_key(Code::ColumnConflict, at, format!("this change computes from column `{c}` of `{table}`, which changes[{by}] fills in the same backfill pass"), Some("one UPDATE cannot read its own result; move this change to a later plan".into()));
                    }
                }
            }
            for (c, attribute) in &f.alters {
                if let Some(&by) = seen.altered.get(&(column(c), key(*attribute))) {
                    cx.report_key(
                        Code::ColumnConflict,
                        at,
                        format!(
                            "changes[{by}] also changes the {} of column `{c}` of `{table}`",
                            attribute_name(*attribute)
                        ),
                        None,
                    );
                }
            }
            for c in &f.writes {
                seen.written.insert(column(c), index);
            }
            for (c, attribute) in &f.alters {
                seen.altered.insert((column(c), key(*attribute)), index);
            }
            for c in &f.creates {
                seen.created_columns.insert(column(c), index);
                seen.removed_columns.remove(&column(c));
            }
            for (c, how) in &f.removes {
                seen.removed_columns.insert(column(c), (index, how.clone()));
            }
        }
        for (name, name_at) in &f.names {
            if let Some(&by) = seen.names.get(name) {
                cx.report(
                    Code::DuplicateName,
                    name_at,
                    format!("changes[{by}] already creates an index or constraint named `{name}`"),
                    None,
                );
            }
            seen.names.insert(name.clone(), index);
        }
        if let Some(table) = &f.creates_table {
            seen.created_tables.insert(table.clone(), index);
            seen.removed_tables.remove(table);
        }
        if let Some((table, how)) = &f.removes_table {
            seen.removed_tables
                .insert(table.clone(), (index, how.clone()));
        }
    }
    dependencies
}
