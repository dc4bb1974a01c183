//! W610: set_not_null without `fill`, unless an earlier change of the plan fills the column
//! (add_column's backfill, say).

use crate::plan::change::Change;
use crate::plan::check::Checker;
use crate::plan::diagnostic::{Code, Rule};
use crate::plan::source::FieldPath;

pub const RULE: Rule = Rule::warning("W610", "set_not_null without fill")
    .why("A `set_not_null` without `fill` relies on the column having no NULLs. One NULL left by the old application makes VALIDATE fail at the end of expand. With `--database-url`, validate counts the NULLs (E703).")
    .instead("Add `fill:` with the value existing and new NULLs should get.")
    .allowable();

pub fn check(changes: &[(Change, FieldPath)], cx: &mut Checker) {
    for (index, (change, at)) in changes.iter().enumerate() {
        let Change::SetNotNull(c) = change else {
            continue;
        };
        let filled = changes[..index].iter().any(|(other, _)| {
            let f = other.footprint();
            f.table.as_ref() == Some(&c.table) && f.writes.contains(&c.column)
        });
        if c.fill.is_none() && !filled {
            cx.report_key(Code::NotNullWithoutFill, at, format!("set_not_null on `{}`.`{}` without `fill`: one NULL left by the application makes VALIDATE fail at the end of expand", c.table, c.column), Some("add `fill:` with the value NULLs should get; `validate --database-url` counts the NULLs there are now".into()));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::lint::testing::{assert_clean, findings};

    #[test]
    fn fires() {
        assert_eq!(
            findings("changes:\n  - set_not_null: { table: users, column: email }\n"),
            [
                "p.yaml:2:5: warning[W610]: set_not_null on `users`.`email` without `fill`: one NULL left by the application makes VALIDATE fail at the end of expand (at changes[0].set_not_null) [help: add `fill:` with the value NULLs should get; `validate --database-url` counts the NULLs there are now]",
            ]
        );
    }

    #[test]
    fn set_not_null_of_a_column_the_plan_backfills() {
        assert_clean("changes:\n  - add_column: { table: users, column: { name: domain, type: text }, backfill: \"split_part(email, '@', 2)\" }\n  - set_not_null: { table: users, column: domain }\n");
    }

    #[test]
    fn the_safe_way_is_clean() {
        assert_clean(
            "changes:\n  - set_not_null: { table: users, column: email, fill: \"'unknown'\" }\n",
        );
    }
}
