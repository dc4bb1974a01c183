//! E619: ADD COLUMN ... NOT NULL without a DEFAULT (squawk: adding-required-field,
//! adding-not-nullable-field).

use crate::plan::diagnostic::Rule;
use crate::plan::sql::{alter_commands, column_constraints, column_defs};
use pg_query::protobuf::{AlterTableType, ConstrType};
use pg_query::NodeEnum;

pub const RULE: Rule = Rule::error("E619", "ADD COLUMN NOT NULL without a default")
    .why("ADD COLUMN ... NOT NULL without a DEFAULT fails on a table that has rows, and once the column exists every INSERT of the running application, which does not name it, fails.")
    .instead("Use `add_column` with a `default:` or a `backfill:` expression and `not_null: true`: the column is filled in batches and becomes NOT NULL without a scan under lock.")
    .squawk("adding-required-field")
    .allowable();

pub fn check(statement: &NodeEnum, _text: &str) -> Option<&'static str> {
    let adds = alter_commands(statement).any(|(kind, _)| kind == AlterTableType::AtAddColumn);
    let required = column_defs(statement).into_iter().any(|def| {
        let kinds: Vec<ConstrType> = column_constraints(def).map(|(k, _)| k).collect();
        let fills_itself = kinds.iter().any(|k| {
            matches!(
                k,
                ConstrType::ConstrDefault
                    | ConstrType::ConstrIdentity
                    | ConstrType::ConstrGenerated
            )
        }) || def
            .type_name
            .as_ref()
            .is_some_and(super::raw_volatile_default::is_serial);
        (kinds.contains(&ConstrType::ConstrNotnull) || kinds.contains(&ConstrType::ConstrPrimary))
            && !fills_itself
    });
    (adds && required).then_some(
        "ADD COLUMN NOT NULL without a default fails on a table with rows and breaks the running application's INSERTs; use add_column with `default:` or `backfill:`",
    )
}

#[cfg(test)]
mod tests {
    use crate::plan::lint::testing::{assert_clean, findings, sql_findings};

    #[test]
    fn fires() {
        assert_eq!(
            findings("changes:\n  - sql: { up: \"ALTER TABLE users ADD COLUMN age int NOT NULL\" }\n"),
            [
                "p.yaml:2:16: error[E619]: `ALTER TABLE users ADD COLUMN age int NOT NULL`: ADD COLUMN NOT NULL without a default fails on a table with rows and breaks the running application's INSERTs; use add_column with `default:` or `backfill:` (at changes[0].sql.up)",
            ]
        );
    }

    #[test]
    fn the_safe_way_is_clean() {
        assert_clean(
            "changes:\n  - sql: { up: \"ALTER TABLE users ADD COLUMN age int NOT NULL DEFAULT 0\" }\n",
        );
        assert_eq!(
            sql_findings("CREATE TABLE t (id bigint PRIMARY KEY);\nALTER TABLE t ADD COLUMN a int NOT NULL;\n"),
            Vec::<String>::new(),
            "a table created in the same migration is empty"
        );
    }
}
