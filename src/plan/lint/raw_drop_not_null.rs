//! W623: DROP NOT NULL in raw SQL (squawk: ban-drop-not-null).

use crate::plan::diagnostic::Rule;
use crate::plan::sql::alter_commands;
use pg_query::protobuf::AlterTableType;
use pg_query::NodeEnum;

pub const RULE: Rule = Rule::warning("W623", "raw DROP NOT NULL")
    .why("Once the column may be NULL, a new application can write NULLs that the old application, still running until its rollout ends, does not expect.")
    .instead("Use a `drop_not_null` change and deploy code that reads NULL safely before code that writes it.")
    .squawk("ban-drop-not-null")
    .allowable();

pub fn check(statement: &NodeEnum, _text: &str) -> Option<&'static str> {
    alter_commands(statement)
        .any(|(kind, _)| kind == AlterTableType::AtDropNotNull)
        .then_some("after DROP NOT NULL the old application may read NULLs it does not expect; use a drop_not_null change")
}

#[cfg(test)]
mod tests {
    use crate::plan::lint::testing::{assert_clean, findings};

    #[test]
    fn fires() {
        assert_eq!(
            findings("changes:\n  - sql: { up: \"ALTER TABLE users ALTER COLUMN a DROP NOT NULL\" }\n"),
            [
                "p.yaml:2:16: warning[W623]: `ALTER TABLE users ALTER COLUMN a DROP NOT NULL`: after DROP NOT NULL the old application may read NULLs it does not expect; use a drop_not_null change (at changes[0].sql.up)",
            ]
        );
    }

    #[test]
    fn the_safe_way_is_clean() {
        assert_clean("changes:\n  - drop_not_null: { table: users, column: a }\n");
    }
}
