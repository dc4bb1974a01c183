//! E602: SET NOT NULL in a `sql` change.

use crate::plan::diagnostic::Rule;
use crate::plan::sql::alter_commands;
use pg_query::protobuf::AlterTableType;
use pg_query::NodeEnum;

pub const RULE: Rule = Rule::error("E602", "SET NOT NULL without a validated CHECK")
    .why("ALTER COLUMN ... SET NOT NULL scans the whole table under ACCESS EXCLUSIVE unless a validated CHECK (col IS NOT NULL) already proves it: reads and writes stop for the scan.")
    .instead("Use a `set_not_null` change: a NOT VALID CHECK, VALIDATE, then SET NOT NULL without a scan.")
    .squawk("adding-not-nullable-field")
    .allowable();

pub fn check(statement: &NodeEnum, _text: &str) -> Option<&'static str> {
    alter_commands(statement)
        .any(|(kind, _)| kind == AlterTableType::AtSetNotNull)
        .then_some("SET NOT NULL scans the table under ACCESS EXCLUSIVE; use a set_not_null change")
}

#[cfg(test)]
mod tests {
    use crate::plan::lint::testing::{assert_clean, findings};

    #[test]
    fn fires() {
        assert_eq!(
            findings("changes:\n  - sql: { up: \"ALTER TABLE users ALTER COLUMN a SET NOT NULL\" }\n"),
            [
                "p.yaml:2:16: error[E602]: `ALTER TABLE users ALTER COLUMN a SET NOT NULL`: SET NOT NULL scans the table under ACCESS EXCLUSIVE; use a set_not_null change (at changes[0].sql.up)",
            ]
        );
    }

    #[test]
    fn the_safe_way_is_clean() {
        assert_clean("changes:\n  - set_not_null: { table: users, column: a, fill: 0 }\n");
    }
}
