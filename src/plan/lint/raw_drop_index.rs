//! E620: DROP INDEX without CONCURRENTLY (squawk: require-concurrent-index-deletion).

use crate::plan::diagnostic::Rule;
use pg_query::protobuf::ObjectType;
use pg_query::NodeEnum;

pub const RULE: Rule = Rule::error("E620", "DROP INDEX without CONCURRENTLY")
    .why("DROP INDEX without CONCURRENTLY takes ACCESS EXCLUSIVE on the table: it waits behind every running query on it, and every read and write queues behind it.")
    .instead("Use a `drop_index` change (DROP INDEX CONCURRENTLY at contract), or write DROP INDEX CONCURRENTLY outside a transaction.")
    .squawk("require-concurrent-index-deletion")
    .allowable();

pub fn check(statement: &NodeEnum, _text: &str) -> Option<&'static str> {
    matches!(statement, NodeEnum::DropStmt(d) if d.remove_type == ObjectType::ObjectIndex as i32 && !d.concurrent)
        .then_some("DROP INDEX without CONCURRENTLY takes ACCESS EXCLUSIVE on the table; use a drop_index change")
}

#[cfg(test)]
mod tests {
    use crate::plan::lint::testing::{assert_clean, findings};

    #[test]
    fn fires() {
        assert_eq!(
            findings("changes:\n  - sql: { up: \"DROP INDEX users_a_idx\" }\n"),
            [
                "p.yaml:2:16: error[E620]: `DROP INDEX users_a_idx`: DROP INDEX without CONCURRENTLY takes ACCESS EXCLUSIVE on the table; use a drop_index change (at changes[0].sql.up)",
            ]
        );
    }

    #[test]
    fn the_safe_way_is_clean() {
        assert_clean("changes:\n  - sql: { up: \"DROP INDEX CONCURRENTLY users_a_idx\" }\n");
    }
}
