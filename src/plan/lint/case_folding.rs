//! W500: an identifier with upper-case letters. switchback quotes every name it writes, so
//! `userId` names the column "userId", not the `userid` an unquoted `userId` creates.

use crate::plan::check::Checker;
use crate::plan::diagnostic::{Code, Rule};
use crate::plan::source::FieldPath;

pub const RULE: Rule = Rule::warning("W500", "identifier with upper-case letters")
    .why("switchback quotes every identifier, so `userId` names the column \"userId\", not the `userid` PostgreSQL creates from an unquoted `userId`.")
    .instead("Write names as the catalog stores them, lower-case unless they were created quoted.")
    .allowable();

/// Called by the checker for every identifier the plan writes that is otherwise well formed.
pub fn check(name: &str, at: &FieldPath, cx: &mut Checker) {
    if name.chars().any(char::is_uppercase) {
        cx.report(
            Code::CaseFolding,
            at,
            format!("identifier `{name}` has upper-case letters; switchback quotes identifiers, so this names \"{name}\", not {}", name.to_lowercase()),
            Some("write names as PostgreSQL stores them: lower-case unless created quoted".into()),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::lint::testing::{assert_clean, findings};

    #[test]
    fn fires() {
        assert_eq!(
            findings("changes:\n  - drop_not_null: { table: Users, column: email }\n"),
            [
                "p.yaml:2:29: warning[W500]: identifier `Users` has upper-case letters; switchback quotes identifiers, so this names \"Users\", not users (at changes[0].drop_not_null.table) [help: write names as PostgreSQL stores them: lower-case unless created quoted]",
            ]
        );
    }

    #[test]
    fn lower_case_is_clean() {
        assert_clean("changes:\n  - drop_not_null: { table: users, column: email }\n");
    }
}
