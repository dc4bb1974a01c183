//! E609: TRUNCATE in a `sql` change; CASCADE is named, because it empties other tables too.

use crate::plan::diagnostic::Rule;
use pg_query::protobuf::DropBehavior;
use pg_query::NodeEnum;

pub const RULE: Rule = Rule::error("E609", "TRUNCATE")
    .why("TRUNCATE takes ACCESS EXCLUSIVE and removes every row at once; with CASCADE it empties every table that references this one as well, which a reviewer rarely notices.")
    .instead("Delete rows in batches, or remove the statement; if emptying the table is intended, say so with `allow: [E609]` and a reason.")
    .squawk("ban-truncate-cascade")
    .allowable();

pub fn check(statement: &NodeEnum, _text: &str) -> Option<&'static str> {
    match statement {
        NodeEnum::TruncateStmt(t) if t.behavior == DropBehavior::DropCascade as i32 => Some("TRUNCATE ... CASCADE takes ACCESS EXCLUSIVE and empties this table and every table that references it"),
        NodeEnum::TruncateStmt(_) => Some("TRUNCATE takes ACCESS EXCLUSIVE and empties the table"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::lint::testing::{assert_clean, findings};

    #[test]
    fn fires() {
        assert_eq!(
            findings("changes:\n  - sql: { up: \"TRUNCATE users CASCADE\" }\n"),
            [
                "p.yaml:2:16: error[E609]: `TRUNCATE users CASCADE`: TRUNCATE ... CASCADE takes ACCESS EXCLUSIVE and empties this table and every table that references it (at changes[0].sql.up)",
            ]
        );
    }

    #[test]
    fn the_safe_way_is_clean() {
        assert_clean("changes:\n  - sql: { up: \"DELETE FROM users WHERE id < 0\" }\n");
    }

    #[test]
    fn without_cascade() {
        assert_eq!(
            findings("changes:\n  - sql: { up: \"TRUNCATE users\" }\n"),
            [
                "p.yaml:2:16: error[E609]: `TRUNCATE users`: TRUNCATE takes ACCESS EXCLUSIVE and empties the table (at changes[0].sql.up)",
            ]
        );
    }
}
