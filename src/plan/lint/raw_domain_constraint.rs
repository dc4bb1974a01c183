//! E622: ALTER DOMAIN ... ADD CONSTRAINT that validates (squawk:
//! ban-alter-domain-with-add-constraint).

use crate::plan::diagnostic::Rule;
use pg_query::NodeEnum;

pub const RULE: Rule = Rule::error("E622", "ALTER DOMAIN ADD CONSTRAINT that validates")
    .why("ALTER DOMAIN ... ADD CONSTRAINT checks every column of every table that uses the domain, each under a lock that blocks writes.")
    .instead("Add it NOT VALID and VALIDATE CONSTRAINT later, or put a CHECK on the columns with `add_check`.")
    .squawk("ban-alter-domain-with-add-constraint")
    .allowable();

pub fn check(statement: &NodeEnum, _text: &str) -> Option<&'static str> {
    let NodeEnum::AlterDomainStmt(alter) = statement else {
        return None;
    };
    let validates = matches!(
        alter.def.as_ref().and_then(|d| d.node.as_ref()),
        Some(NodeEnum::Constraint(c)) if !c.skip_validation
    );
    (alter.subtype == "C" && validates).then_some(
        "ALTER DOMAIN ADD CONSTRAINT checks every table using the domain under lock; add it NOT VALID, then VALIDATE",
    )
}

#[cfg(test)]
mod tests {
    use crate::plan::lint::testing::{assert_clean, findings};

    #[test]
    fn fires() {
        assert_eq!(
            findings("changes:\n  - sql: { up: \"ALTER DOMAIN email ADD CONSTRAINT at CHECK (VALUE LIKE '%@%')\" }\n"),
            [
                "p.yaml:2:16: error[E622]: `ALTER DOMAIN email ADD CONSTRAINT at CHECK (VALUE LIKE '%@%')`: ALTER DOMAIN ADD CONSTRAINT checks every table using the domain under lock; add it NOT VALID, then VALIDATE (at changes[0].sql.up)",
            ]
        );
    }

    #[test]
    fn the_safe_way_is_clean() {
        assert_clean("changes:\n  - sql: { up: \"ALTER DOMAIN email ADD CONSTRAINT at CHECK (VALUE LIKE '%@%') NOT VALID\" }\n");
    }
}
