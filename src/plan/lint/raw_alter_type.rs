//! E603: ALTER COLUMN TYPE in a `sql` change.

use crate::plan::diagnostic::Rule;
use crate::plan::sql::alter_commands;
use pg_query::protobuf::AlterTableType;
use pg_query::NodeEnum;

pub const RULE: Rule = Rule::error("E603", "ALTER COLUMN TYPE that may rewrite")
    .why("ALTER COLUMN ... TYPE rewrites the table and its indexes under ACCESS EXCLUSIVE unless the cast is binary-compatible (varchar widening, varchar to text). When the cast needs no rewrite, say so with `allow: [E603]` and a reason; a `change_type` change finds that out from pg_cast by itself.")
    .instead("Use a `change_type` change: in place when the cast needs no rewrite, otherwise a shadow column kept in sync by a trigger and backfilled in batches.")
    .squawk("changing-column-type")
    .allowable();

pub fn check(statement: &NodeEnum, _text: &str) -> Option<&'static str> {
    alter_commands(statement)
        .any(|(kind, _)| kind == AlterTableType::AtAlterColumnType)
        .then_some("ALTER COLUMN TYPE may rewrite the table under ACCESS EXCLUSIVE; use a change_type change")
}

#[cfg(test)]
mod tests {
    use crate::plan::lint::testing::{assert_clean, findings};

    #[test]
    fn fires() {
        assert_eq!(
            findings("changes:\n  - sql: { up: \"ALTER TABLE users ALTER COLUMN a TYPE bigint\" }\n"),
            [
                "p.yaml:2:16: error[E603]: `ALTER TABLE users ALTER COLUMN a TYPE bigint`: ALTER COLUMN TYPE may rewrite the table under ACCESS EXCLUSIVE; use a change_type change (at changes[0].sql.up)",
            ]
        );
    }

    #[test]
    fn the_safe_way_is_clean() {
        assert_clean(
            "changes:\n  - sql: { up: \"ALTER TABLE users ALTER COLUMN a SET STATISTICS 500\" }\n",
        );
    }
}
