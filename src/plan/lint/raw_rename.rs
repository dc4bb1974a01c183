//! E605: RENAME of a column or table in a `sql` change (index renames are fine).

use crate::plan::diagnostic::Rule;
use pg_query::protobuf::ObjectType;
use pg_query::NodeEnum;

pub const RULE: Rule = Rule::error("E605", "raw RENAME of a column or table")
    .why("Renaming a column or table breaks every running application server at once: the old code still uses the old name.")
    .instead("Use `rename_column` (a new column kept in sync both ways until contract) or `rename_table` (an updatable view under the old name).")
    .squawk("renaming-column, renaming-table")
    .allowable();

pub fn check(statement: &NodeEnum, _text: &str) -> Option<&'static str> {
    let NodeEnum::RenameStmt(rename) = statement else {
        return None;
    };
    matches!(
        ObjectType::try_from(rename.rename_type),
        Ok(ObjectType::ObjectColumn | ObjectType::ObjectTable)
    )
    .then_some("a rename breaks the running application at once; use rename_column or rename_table")
}

#[cfg(test)]
mod tests {
    use crate::plan::lint::testing::{assert_clean, findings};

    #[test]
    fn fires() {
        assert_eq!(
            findings("changes:\n  - sql: { up: \"ALTER TABLE users RENAME COLUMN a TO b\" }\n"),
            [
                "p.yaml:2:16: error[E605]: `ALTER TABLE users RENAME COLUMN a TO b`: a rename breaks the running application at once; use rename_column or rename_table (at changes[0].sql.up)",
            ]
        );
    }

    #[test]
    fn the_safe_way_is_clean() {
        assert_clean(
            "changes:\n  - sql: { up: \"ALTER INDEX users_a_idx RENAME TO users_b_idx\" }\n",
        );
    }

    #[test]
    fn table_rename_fires_too() {
        assert_eq!(
            findings("changes:\n  - sql: { up: \"ALTER TABLE users RENAME TO people\" }\n"),
            [
                "p.yaml:2:16: error[E605]: `ALTER TABLE users RENAME TO people`: a rename breaks the running application at once; use rename_column or rename_table (at changes[0].sql.up)",
            ]
        );
    }
}
