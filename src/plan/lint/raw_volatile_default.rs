//! E604: ADD COLUMN with a volatile default in a `sql` change.

use crate::plan::diagnostic::Rule;
use crate::plan::sql::{adds_volatile_default, alter_commands};
use pg_query::protobuf::AlterTableType;
use pg_query::NodeEnum;

pub const RULE: Rule = Rule::error("E604", "ADD COLUMN with a volatile default")
    .why("ADD COLUMN with a volatile default (random(), gen_random_uuid(), clock_timestamp(), nextval()) rewrites the whole table under ACCESS EXCLUSIVE; only a constant default is stored in the catalog.")
    .instead("Use `add_column` with `backfill:` the expression: a trigger computes it for new rows and a batched backfill fills existing ones.")
    .allowable();

pub fn check(statement: &NodeEnum, text: &str) -> Option<&'static str> {
    alter_commands(statement)
        .any(|(kind, cmd)| kind == AlterTableType::AtAddColumn && adds_volatile_default(cmd, text))
        .then_some("ADD COLUMN with a volatile default rewrites the table under ACCESS EXCLUSIVE; use add_column with `backfill:`")
}

#[cfg(test)]
mod tests {
    use crate::plan::lint::testing::{assert_clean, findings};

    #[test]
    fn fires() {
        assert_eq!(
            findings("changes:\n  - sql: { up: \"ALTER TABLE users ADD COLUMN u uuid DEFAULT gen_random_uuid()\" }\n"),
            [
                "p.yaml:2:16: error[E604]: `ALTER TABLE users ADD COLUMN u uuid DEFAULT gen_random_uuid()`: ADD COLUMN with a volatile default rewrites the table under ACCESS EXCLUSIVE; use add_column with `backfill:` (at changes[0].sql.up)",
            ]
        );
    }

    #[test]
    fn the_safe_way_is_clean() {
        assert_clean(
            "changes:\n  - sql: { up: \"ALTER TABLE users ADD COLUMN u int DEFAULT 0\" }\n",
        );
    }
}
