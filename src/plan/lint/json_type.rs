//! W615: a json column where jsonb is meant.

use crate::plan::check::Checker;
use crate::plan::diagnostic::{Code, Rule};
use crate::plan::source::FieldPath;
use pg_query::NodeEnum;

pub const RULE: Rule = Rule::warning("W615", "json instead of jsonb")
    .why("json stores the text as written: every access re-parses it, it cannot be indexed with GIN and duplicate keys survive.")
    .instead("Use jsonb.")
    .allowable();

/// Called for every column type the plan writes, with its base name as the catalog knows it.
pub fn check(type_text: &str, base: &str, at: &FieldPath, cx: &mut Checker) {
    if base == "json" {
        cx.report(
            Code::JsonType,
            at,
            format!(
                "type `{type_text}` re-parses the text on every access and cannot be GIN-indexed"
            ),
            Some("use jsonb".into()),
        );
    }
}

/// The same, for the column types a raw statement writes.
pub fn in_statement(statement: &NodeEnum, _text: &str) -> Option<&'static str> {
    super::writes_type(statement, &["json"]).then_some(
        "a json column re-parses the text on every access and cannot be GIN-indexed; use jsonb",
    )
}

#[cfg(test)]
mod tests {
    use crate::plan::lint::testing::{assert_clean, findings};

    #[test]
    fn fires() {
        assert_eq!(
            findings("changes:\n  - add_column: { table: users, column: { name: prefs, type: json } }\n"),
            [
                "p.yaml:2:62: warning[W615]: type `json` re-parses the text on every access and cannot be GIN-indexed (at changes[0].add_column.column.type) [help: use jsonb]",
            ]
        );
    }

    #[test]
    fn the_safe_way_is_clean() {
        assert_clean(
            "changes:\n  - add_column: { table: users, column: { name: prefs, type: jsonb } }\n",
        );
    }

    #[test]
    fn fires_in_sql() {
        assert_eq!(
            crate::plan::lint::testing::sql_findings("ALTER TABLE t ADD COLUMN prefs json;"),
            ["m.sql:1:1: warning[W615]: a json column re-parses the text on every access and cannot be GIN-indexed; use jsonb"]
        );
    }
}
