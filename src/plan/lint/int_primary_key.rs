//! W617: a new table's primary key of a 32-bit (or smaller) integer type.

use crate::plan::change::Change;
use crate::plan::check::Checker;
use crate::plan::diagnostic::{Code, Rule};
use crate::plan::source::FieldPath;
use crate::plan::sql;
use pg_query::NodeEnum;

pub const RULE: Rule = Rule::warning("W617", "32-bit integer primary key")
    .why("A 32-bit integer key runs out at 2,147,483,647; changing it later means rewriting the table and every referencing foreign key.")
    .instead("Use bigint (or bigserial, or an identity column of type bigint) for primary keys.")
    .squawk("prefer-big-int, prefer-bigint-over-int, prefer-bigint-over-smallint, prefer-identity")
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

/// The same, for the primary keys a raw statement declares (squawk: prefer-big-int,
/// prefer-bigint-over-int, prefer-identity for serial keys).
pub fn in_statement(statement: &NodeEnum, _text: &str) -> Option<&'static str> {
    sql::primary_key_columns(statement)
        .iter()
        .any(|(_, base)| SMALL_INTEGERS.contains(&base.as_str()))
        .then_some("a 32-bit integer primary key runs out at 2,147,483,647 rows; use bigint (or bigserial, or a bigint identity)")
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

    #[test]
    fn fires_in_sql() {
        let fires = "m.sql:1:1: warning[W617]: a 32-bit integer primary key runs out at 2,147,483,647 rows; use bigint (or bigserial, or a bigint identity)";
        assert_eq!(
            crate::plan::lint::testing::sql_findings("CREATE TABLE t (id serial PRIMARY KEY);"),
            [fires]
        );
        assert_eq!(
            crate::plan::lint::testing::sql_findings("CREATE TABLE t (id int, PRIMARY KEY (id));"),
            [fires]
        );
        assert_eq!(
            crate::plan::lint::testing::sql_findings(
                "CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY);"
            ),
            Vec::<String>::new()
        );
    }
}
