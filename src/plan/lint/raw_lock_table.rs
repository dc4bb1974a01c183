//! E608: LOCK TABLE in a `sql` change.

use crate::plan::diagnostic::Rule;
use pg_query::NodeEnum;

pub const RULE: Rule = Rule::error("E608", "LOCK TABLE")
    .why("LOCK TABLE holds its lock until the step's transaction ends, and each queued statement behind it waits too.")
    .instead("Let each statement take the lock it needs; switchback already bounds every lock with lock_timeout.")
    .allowable();

pub fn check(statement: &NodeEnum, _text: &str) -> Option<&'static str> {
    matches!(statement, NodeEnum::LockStmt(_))
        .then_some("LOCK TABLE holds its lock until the step's transaction ends")
}

#[cfg(test)]
mod tests {
    use crate::plan::lint::testing::{assert_clean, findings};

    #[test]
    fn fires() {
        assert_eq!(
            findings("changes:\n  - sql: { up: \"LOCK TABLE users IN EXCLUSIVE MODE\" }\n"),
            [
                "p.yaml:2:16: error[E608]: `LOCK TABLE users IN EXCLUSIVE MODE`: LOCK TABLE holds its lock until the step's transaction ends (at changes[0].sql.up)",
            ]
        );
    }

    #[test]
    fn the_safe_way_is_clean() {
        assert_clean("changes:\n  - sql: { up: \"SELECT 1 FROM users LIMIT 1\" }\n");
    }
}
