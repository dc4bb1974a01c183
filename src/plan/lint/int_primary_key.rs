//! W617: a new table's primary key of a 32-bit (or smaller) integer type.

use crate::plan::change::Change;
use crate::plan::check::Checker;
use crate::plan::diagnostic::{Code, Rule};
use crate::plan::source::FieldPath;
use crate::plan::sql;

pub const RULE: Rule = Rule::warning("W617", "32-bit integer primary key")
    .why("A 32-bit integer key runs out at 2,147,483,647; changing it later means rewriting the table and every referencing foreign key.")
    .instead("Use bigint (or bigserial, or an identity column of type bigint) for primary keys.")
    .allowable();

/// Integer types (as the catalog names them) that run out within a busy table's lifetime.
const SMALL_INTEGERS: &[&str] = &[
    "int2",
    "int4",
    "serial",
    "serial4",
    "smallserial",
    "serial2",
];

pub fn check(changes: &[(Change, FieldPath)], cx: &mut Checker) {
    for (change, at) in changes {
        let Change::CreateTable(table) = change else {
            continue;
        };
        for (i, key) in table.primary_key.iter().enumerate() {
            let key_type = table
                .columns
                .iter()
                .find(|c| &c.name == key)
                .and_then(|c| sql::type_base_name(&c.sql_type));
            if let Some(base) = key_type.filter(|b| SMALL_INTEGERS.contains(&b.as_str())) {
                cx.report(Code::IntPrimaryKey, &at.key("primary_key").index(i), format!("primary key column `{key}` is a 32-bit `{base}`; it runs out at 2,147,483,647 rows"), Some("use bigint (or bigserial)".into()));
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
            findings("changes:\n  - create_table: { name: teams, columns: [ { name: id, type: integer } ], primary_key: [id] }\n"),
            [
                "p.yaml:2:90: warning[W617]: primary key column `id` is a 32-bit `int4`; it runs out at 2,147,483,647 rows (at changes[0].create_table.primary_key[0]) [help: use bigint (or bigserial)]",
            ]
        );
    }

    #[test]
    fn the_safe_way_is_clean() {
        assert_clean("changes:\n  - create_table: { name: teams, columns: [ { name: id, type: bigint } ], primary_key: [id] }\n");
    }
}
