//! E601: ADD CONSTRAINT that checks every row under its lock, in a `sql` change.

use crate::plan::diagnostic::Rule;
use crate::plan::sql::{adds_validating_constraint, alter_commands};
use pg_query::protobuf::AlterTableType;
use pg_query::NodeEnum;

pub const RULE: Rule = Rule::error("E601", "ADD CONSTRAINT that validates under lock")
    .why("ADD CONSTRAINT with CHECK, FOREIGN KEY, UNIQUE or PRIMARY KEY reads every row while holding a lock that blocks writes (ACCESS EXCLUSIVE for CHECK, SHARE ROW EXCLUSIVE on both tables for a foreign key).")
    .instead("Use `add_check` or `add_foreign_key` (NOT VALID, then VALIDATE under a lock that lets writes through) or `add_unique` (a concurrent unique index, then ADD CONSTRAINT ... USING INDEX).")
    .squawk("constraint-missing-not-valid, adding-foreign-key-constraint, disallowed-unique-constraint, adding-primary-key-constraint")
    .allowable();

pub fn check(statement: &NodeEnum, _text: &str) -> Option<&'static str> {
    alter_commands(statement)
        .any(|(kind, cmd)| kind == AlterTableType::AtAddConstraint && adds_validating_constraint(cmd))
        .then_some("ADD CONSTRAINT checks every row while holding its lock; add it NOT VALID and VALIDATE it later (add_check, add_foreign_key, add_unique)")
}

#[cfg(test)]
mod tests {
    use crate::plan::lint::testing::{assert_clean, findings};

    #[test]
    fn fires() {
        assert_eq!(
            findings("changes:\n  - sql: { up: \"ALTER TABLE users ADD CONSTRAINT c CHECK (a > 0)\" }\n"),
            [
                "p.yaml:2:16: error[E601]: `ALTER TABLE users ADD CONSTRAINT c CHECK (a > 0)`: ADD CONSTRAINT checks every row while holding its lock; add it NOT VALID and VALIDATE it later (add_check, add_foreign_key, add_unique) (at changes[0].sql.up)",
            ]
        );
    }

    #[test]
    fn the_safe_way_is_clean() {
        assert_clean("changes:\n  - sql: { up: \"ALTER TABLE users ADD CONSTRAINT c CHECK (a > 0) NOT VALID\" }\n");
    }

    #[test]
    fn using_index_is_clean() {
        assert_clean("changes:\n  - sql: { up: \"ALTER TABLE users ADD CONSTRAINT u UNIQUE USING INDEX users_a_key\" }\n");
    }
}
