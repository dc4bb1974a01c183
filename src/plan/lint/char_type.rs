//! W614: a char(n) column.

use crate::plan::check::Checker;
use crate::plan::diagnostic::{Code, Rule};
use crate::plan::source::FieldPath;
use pg_query::NodeEnum;

pub const RULE: Rule = Rule::warning("W614", "char(n) column")
    .why("char(n) pads values with spaces, compares them with the padding ignored and is no faster than text; its length limit is better as a CHECK that can change without a rewrite.")
    .instead("Use text (or varchar(n)) and, if needed, a CHECK on length.")
    .squawk("ban-char-field")
    .allowable();

/// Called for every column type the plan writes, with its base name as the catalog knows it.
pub fn check(type_text: &str, base: &str, at: &FieldPath, cx: &mut Checker) {
    if base == "bpchar" {
        cx.report(
            Code::CharType,
            at,
            format!("type `{type_text}` pads values with spaces and is no faster than text"),
            Some("use text or varchar(n)".into()),
        );
    }
}

/// The same, for the column types a raw statement writes.
pub fn in_statement(statement: &NodeEnum, _text: &str) -> Option<&'static str> {
    super::writes_type(statement, &["bpchar"])
        .then_some("a char(n) column pads values with spaces and is no faster than text; use text or varchar(n)")
}

#[cfg(test)]
mod tests {
    use crate::plan::lint::testing::{assert_clean, findings};

    #[test]
    fn fires() {
        assert_eq!(
            findings("changes:\n  - add_column: { table: users, column: { name: country, type: char(2) } }\n"),
            [
                "p.yaml:2:64: warning[W614]: type `char(2)` pads values with spaces and is no faster than text (at changes[0].add_column.column.type) [help: use text or varchar(n)]",
            ]
        );
    }

    #[test]
    fn the_safe_way_is_clean() {
        assert_clean("changes:\n  - add_column: { table: users, column: { name: country, type: varchar(2) } }\n");
    }

    #[test]
    fn fires_in_sql() {
        assert_eq!(
            crate::plan::lint::testing::sql_findings("CREATE TABLE t (id bigint PRIMARY KEY, code char(3));"),
            ["m.sql:1:1: warning[W614]: a char(n) column pads values with spaces and is no faster than text; use text or varchar(n)"]
        );
    }
}
