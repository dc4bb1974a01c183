//! E612: drop_column or drop_table of something an earlier change of the plan still reads.
//! (A later change using it is E300/E304.)

use crate::plan::change::Change;
use crate::plan::check::Checker;
use crate::plan::diagnostic::{Code, Rule};
use crate::plan::source::FieldPath;

pub const RULE: Rule = Rule::error("E612", "dropped while the plan still reads it")
    .why("A `drop_column` or `drop_table` removes something another change of the same plan still reads (its backfill, trigger or definition). The contract stage would drop it while the plan depends on it, and abort cannot bring it back.")
    .instead("Drop it in a later plan, once no change and no version of the application reads it.")
    .allowable();

pub fn check(changes: &[(Change, FieldPath)], cx: &mut Checker) {
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

#[cfg(test)]
mod tests {
    use crate::plan::lint::testing::{assert_clean, findings};

    #[test]
    fn fires() {
        assert_eq!(
            findings("changes:\n  - add_column: { table: users, column: { name: full, type: text }, backfill: \"first || last\" }\n  - drop_column: { table: users, column: first }\n"),
            [
                "p.yaml:3:5: error[E612]: this change drops column `first` of `users`, which changes[0] (add_column) still uses until contract (at changes[1].drop_column) [help: drop it in a later plan, once nothing reads it]",
            ]
        );
    }

    #[test]
    fn the_safe_way_is_clean() {
        assert_clean("changes:\n  - add_column: { table: users, column: { name: full, type: text }, backfill: \"first || last\" }\n  - drop_column: { table: users, column: middle }\n");
    }
}
