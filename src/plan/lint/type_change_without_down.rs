//! W611: change_type without `down`. Whether the cast needs a shadow column is known only
//! from the live catalog, so the rule speaks of the case where it does.

use crate::plan::change::Change;
use crate::plan::check::Checker;
use crate::plan::diagnostic::{Code, Rule};
use crate::plan::source::FieldPath;

pub const RULE: Rule = Rule::warning("W611", "change_type without down")
    .why("A `change_type` that needs a shadow column and has no `down` expression cannot copy writes made by the new application back into the old column: an abort loses them, and the old application does not see them.")
    .instead("Add `down:` converting the new type back to the old one.")
    .allowable();

pub fn check(changes: &[(Change, FieldPath)], cx: &mut Checker) {
    for (change, at) in changes {
        if let Change::ChangeType(c) = change {
            if c.down.is_none() {
                cx.report_key(Code::TypeChangeWithoutDown, at, format!("change_type of `{}`.`{}` without `down`: if the cast needs a shadow column, the new application's writes cannot reach the old column, and an abort loses them", c.table, c.column), Some("add `down:` converting the new type back to the old one".into()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::lint::testing::{assert_clean, findings};

    #[test]
    fn fires() {
        assert_eq!(
            findings("changes:\n  - change_type: { table: users, column: id, type: bigint }\n"),
            [
                "p.yaml:2:5: warning[W611]: change_type of `users`.`id` without `down`: if the cast needs a shadow column, the new application's writes cannot reach the old column, and an abort loses them (at changes[0].change_type) [help: add `down:` converting the new type back to the old one]",
            ]
        );
    }

    #[test]
    fn the_safe_way_is_clean() {
        assert_clean("changes:\n  - change_type: { table: users, column: id, type: bigint, down: \"id::int\" }\n");
    }
}
