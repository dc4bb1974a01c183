//! E613 where the plan itself creates the referenced table: its primary key, a unique column or
//! an add_unique of the plan must cover exactly the referenced columns. Tables the plan does
//! not create are checked against the live catalog.

use crate::plan::change::Change;
use crate::plan::check::{Checker, Ident};
use crate::plan::diagnostic::{Code, Rule};
use crate::plan::source::FieldPath;
use std::collections::BTreeSet;

pub const RULE: Rule = Rule::error("E613", "foreign key toward columns without a unique index")
    .why("A foreign key must reference columns with a unique index or constraint; PostgreSQL refuses it otherwise, at the end of a long expand.")
    .instead("Add a primary key, `add_unique` or unique index on the referenced columns first (an earlier plan or change).")
    .allowable();

pub fn check(changes: &[(Change, FieldPath)], cx: &mut Checker) {
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

#[cfg(test)]
mod tests {
    use crate::plan::lint::testing::{assert_clean, findings};

    #[test]
    fn fires() {
        assert_eq!(
            findings("changes:\n  - create_table: { name: teams, columns: [ { name: id, type: bigint }, { name: code, type: text } ], primary_key: [id] }\n  - add_column: { table: users, column: { name: team, type: text, references: { table: teams, column: code } } }\n"),
            [
                "p.yaml:3:79: error[E613]: `teams` (`code`) has no primary key or unique index over exactly these columns (at changes[1].add_column.column.references) [help: reference the table's primary key, or add a unique constraint on these columns first]",
            ]
        );
    }

    #[test]
    fn the_safe_way_is_clean() {
        assert_clean("changes:\n  - create_table: { name: teams, columns: [ { name: id, type: bigint }, { name: code, type: text, unique: true } ], primary_key: [id] }\n  - add_column: { table: users, column: { name: team, type: text, references: { table: teams, column: code } } }\n");
    }
}
