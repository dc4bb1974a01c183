//! W627: `archive: false` on a change that removes data: contract then destroys it for good.

use crate::plan::archive::Archive;
use crate::plan::check::Checker;
use crate::plan::diagnostic::{Code, Rule};
use crate::plan::source::FieldPath;
use crate::plan::Plan;

pub const RULE: Rule = Rule::warning("W627", "contract destroys data for good")
    .why("With `archive: false`, contract drops the table or column for good: once it ran, neither `abort` nor a revert can bring the data back, and the only way back is a restore of the whole database, which loses every other write since.")
    .instead("Leave `archive:` out (contract keeps what it removes in the archive schema for 7 days) or give a retention (`archive: 30d`); purge it with `switchback archive --purge` once sure.")
    .allowable();

pub fn check(plan: &Plan, cx: &mut Checker) {
    let changes = FieldPath::root().key("changes");
    for (index, change) in plan.changes.iter().enumerate() {
        let Some((own, what)) = change.archives() else {
            continue;
        };
        if Archive::over(own, plan.archive) != Archive::Off {
            continue;
        }
        let at = match own {
            Some(_) => changes.index(index).key(change.kind()).key("archive"),
            None => FieldPath::root().key("archive"),
        };
        cx.report(
            Code::ArchiveOff,
            &at,
            format!(
                "contract destroys {what} for good (archive: false); nothing can bring it back"
            ),
            Some(
                "leave archive: out to keep it for 7 days, or give a retention such as 30d".into(),
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::lint::testing::{assert_clean, findings};

    #[test]
    fn fires() {
        assert_eq!(
            findings("changes:\n  - drop_column: { table: users, column: nickname, archive: false }\n"),
            [
                "p.yaml:2:61: warning[W627]: contract destroys `users`.`nickname` for good (archive: false); nothing can bring it back (at changes[0].drop_column.archive) [help: leave archive: out to keep it for 7 days, or give a retention such as 30d]",
            ]
        );
        assert_eq!(
            findings("archive: false\nchanges:\n  - drop_table: { name: audit }\n"),
            [
                "p.yaml:1:10: warning[W627]: contract destroys table `audit` for good (archive: false); nothing can bring it back (at archive) [help: leave archive: out to keep it for 7 days, or give a retention such as 30d]",
            ]
        );
    }

    #[test]
    fn the_safe_way_is_clean() {
        assert_clean("changes:\n  - drop_column: { table: users, column: nickname }\n");
        assert_clean("archive: false\nchanges:\n  - drop_table: { name: audit, archive: 30d }\n");
    }
}
