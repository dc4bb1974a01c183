//! E621: REINDEX without CONCURRENTLY (squawk: require-concurrent-reindex).

use crate::plan::diagnostic::Rule;
use crate::plan::sql::reindex_concurrently;
use pg_query::NodeEnum;

pub const RULE: Rule = Rule::error("E621", "REINDEX without CONCURRENTLY")
    .why("REINDEX without CONCURRENTLY blocks every write to the table while it rebuilds, and reads that would use the index.")
    .instead("Write REINDEX (CONCURRENTLY) outside a transaction (PostgreSQL 12 and later).")
    .squawk("require-concurrent-reindex")
    .allowable();

pub fn check(statement: &NodeEnum, _text: &str) -> Option<&'static str> {
    matches!(statement, NodeEnum::ReindexStmt(r) if !reindex_concurrently(r)).then_some(
        "REINDEX without CONCURRENTLY blocks writes while it rebuilds; use REINDEX CONCURRENTLY",
    )
}

#[cfg(test)]
mod tests {
    use crate::plan::lint::testing::{assert_clean, findings};

    #[test]
    fn fires() {
        assert_eq!(
            findings("changes:\n  - sql: { up: \"REINDEX INDEX users_a_idx\" }\n"),
            [
                "p.yaml:2:16: error[E621]: `REINDEX INDEX users_a_idx`: REINDEX without CONCURRENTLY blocks writes while it rebuilds; use REINDEX CONCURRENTLY (at changes[0].sql.up)",
            ]
        );
    }

    #[test]
    fn the_safe_way_is_clean() {
        assert_clean("changes:\n  - sql: { up: \"REINDEX INDEX CONCURRENTLY users_a_idx\" }\n");
    }
}
