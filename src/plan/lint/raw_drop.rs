//! E606: DROP COLUMN, DROP TABLE or DROP DATABASE in raw SQL (a `sql` change runs at
//! expand; a migration file runs while the old application is live).

use crate::plan::diagnostic::Rule;
use crate::plan::sql::alter_commands;
use pg_query::protobuf::{AlterTableType, ObjectType};
use pg_query::NodeEnum;

pub const RULE: Rule = Rule::error("E606", "raw DROP of a column, table or database")
    .why("A raw DROP COLUMN or DROP TABLE runs at expand, while the old application, which still reads the column or table, is live. It cannot be undone by abort.")
    .instead("Use `drop_column` or `drop_table`, which run at contract, after the application stopped using them.")
    .squawk("ban-drop-column, ban-drop-table, ban-drop-database")
    .allowable();

pub fn check(statement: &NodeEnum, _text: &str) -> Option<&'static str> {
    match statement {
        NodeEnum::DropStmt(drop)
            if ObjectType::try_from(drop.remove_type) == Ok(ObjectType::ObjectTable) =>
        {
            Some("DROP TABLE at expand removes what the running application still reads; use a drop_table change, which runs at contract")
        }
        NodeEnum::DropdbStmt(_) => Some("DROP DATABASE removes every table the application uses"),
        _ => alter_commands(statement)
            .any(|(kind, _)| kind == AlterTableType::AtDropColumn)
            .then_some("DROP COLUMN at expand removes what the running application still reads; use a drop_column change, which runs at contract"),
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::lint::testing::{assert_clean, findings};

    #[test]
    fn fires() {
        assert_eq!(
            findings("changes:\n  - sql: { up: \"ALTER TABLE users DROP COLUMN a\" }\n"),
            [
                "p.yaml:2:16: error[E606]: `ALTER TABLE users DROP COLUMN a`: DROP COLUMN at expand removes what the running application still reads; use a drop_column change, which runs at contract (at changes[0].sql.up)",
            ]
        );
    }

    #[test]
    fn the_safe_way_is_clean() {
        assert_clean("changes:\n  - sql: { up: \"DROP INDEX CONCURRENTLY users_a_idx\" }\n");
    }

    #[test]
    fn drop_database_fires_too() {
        let found = findings("changes:\n  - sql: { up: \"DROP DATABASE app\" }\n");
        assert!(
            found[0].contains("error[E606]: `DROP DATABASE app`"),
            "{found:?}"
        );
    }

    #[test]
    fn drop_table_fires_too() {
        assert_eq!(
            findings("changes:\n  - sql: { up: \"DROP TABLE users\" }\n"),
            [
                "p.yaml:2:16: error[E606]: `DROP TABLE users`: DROP TABLE at expand removes what the running application still reads; use a drop_table change, which runs at contract (at changes[0].sql.up)",
            ]
        );
    }
}
