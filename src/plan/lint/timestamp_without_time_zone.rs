//! W616: a timestamp without time zone column.

use crate::plan::check::Checker;
use crate::plan::diagnostic::{Code, Rule};
use crate::plan::source::FieldPath;
use pg_query::NodeEnum;

pub const RULE: Rule = Rule::warning("W616", "timestamp without time zone")
    .why("timestamp without time zone stores a wall-clock time with no zone: values written by servers in other zones, or across a DST change, cannot be compared.")
    .instead("Use timestamptz (timestamp with time zone).")
    .squawk("prefer-timestamptz")
    .allowable();

/// Called for every column type the plan writes, with its base name as the catalog knows it.
pub fn check(type_text: &str, base: &str, at: &FieldPath, cx: &mut Checker) {
    if base == "timestamp" {
        cx.report(
            Code::TimestampWithoutTimeZone,
            at,
            format!("type `{type_text}` stores a wall-clock time without its zone"),
            Some("use timestamptz".into()),
        );
    }
}

/// The same, for the column types a raw statement writes.
pub fn in_statement(statement: &NodeEnum, _text: &str) -> Option<&'static str> {
    super::writes_type(statement, &["timestamp"])
        .then_some("a timestamp column stores a wall-clock time without its zone; use timestamptz")
}

#[cfg(test)]
mod tests {
    use crate::plan::lint::testing::{assert_clean, findings};

    #[test]
    fn fires() {
        assert_eq!(
            findings("changes:\n  - add_column: { table: users, column: { name: seen_at, type: timestamp without time zone } }\n"),
            [
                "p.yaml:2:64: warning[W616]: type `timestamp without time zone` stores a wall-clock time without its zone (at changes[0].add_column.column.type) [help: use timestamptz]",
            ]
        );
    }

    #[test]
    fn the_safe_way_is_clean() {
        assert_clean("changes:\n  - add_column: { table: users, column: { name: seen_at, type: timestamp with time zone } }\n");
    }

    #[test]
    fn fires_in_sql() {
        assert_eq!(
            crate::plan::lint::testing::sql_findings("CREATE TABLE t (id bigint PRIMARY KEY, at timestamp);"),
            ["m.sql:1:1: warning[W616]: a timestamp column stores a wall-clock time without its zone; use timestamptz"]
        );
    }
}
