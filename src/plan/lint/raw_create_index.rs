//! E600: CREATE INDEX without CONCURRENTLY in a `sql` change.

use crate::plan::diagnostic::Rule;
use pg_query::NodeEnum;

pub const RULE: Rule = Rule::error("E600", "CREATE INDEX without CONCURRENTLY")
    .why("CREATE INDEX without CONCURRENTLY holds a SHARE lock for the whole build: every INSERT, UPDATE and DELETE on the table waits, for minutes on a large table.")
    .instead("Use an `add_index` change (CREATE INDEX CONCURRENTLY, with an invalid leftover detected and rebuilt).")
    .squawk("require-concurrent-index-creation")
    .allowable();

pub fn check(statement: &NodeEnum, _text: &str) -> Option<&'static str> {
    matches!(statement, NodeEnum::IndexStmt(index) if !index.concurrent).then_some(
        "CREATE INDEX without CONCURRENTLY blocks writes while it builds; use an add_index change",
    )
}

#[cfg(test)]
mod tests {
    use crate::plan::lint::testing::{assert_clean, findings};

    #[test]
    fn fires() {
        assert_eq!(
            findings("changes:\n  - sql: { up: \"CREATE INDEX i ON users (a)\" }\n"),
            [
                "p.yaml:2:16: error[E600]: `CREATE INDEX i ON users (a)`: CREATE INDEX without CONCURRENTLY blocks writes while it builds; use an add_index change (at changes[0].sql.up)",
            ]
        );
    }

    #[test]
    fn the_safe_way_is_clean() {
        assert_clean("changes:\n  - sql: { up: \"CREATE INDEX CONCURRENTLY i ON users (a)\" }\n");
    }
}
