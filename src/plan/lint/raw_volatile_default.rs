//! E604: ADD COLUMN with a volatile default, a serial, an identity or a stored generated
//! column in raw SQL: each gives every row its own value, a rewrite (squawk:
//! adding-field-with-default, adding-serial-primary-key-field).

use crate::plan::diagnostic::Rule;
use crate::plan::sql::{adds_volatile_default, alter_commands, column_constraints, type_name_base};
use pg_query::protobuf::{AlterTableType, ColumnDef, ConstrType, TypeName};
use pg_query::NodeEnum;

pub const RULE: Rule = Rule::error("E604", "ADD COLUMN with a volatile default")
    .why("ADD COLUMN with a volatile default (random(), gen_random_uuid(), clock_timestamp(), nextval(), a serial type, an identity or a stored generated column) rewrites the whole table under ACCESS EXCLUSIVE; only a constant default is stored in the catalog.")
    .instead("Use `add_column` with `backfill:` the expression: a trigger computes it for new rows and a batched backfill fills existing ones.")
    .squawk("adding-field-with-default, adding-serial-primary-key-field")
    .allowable();

pub fn check(statement: &NodeEnum, text: &str) -> Option<&'static str> {
    alter_commands(statement)
        .any(|(kind, cmd)| {
            let def = match cmd.def.as_ref().and_then(|d| d.node.as_ref()) {
                Some(NodeEnum::ColumnDef(def)) => Some(def.as_ref()),
                _ => None,
            };
            kind == AlterTableType::AtAddColumn
                && (adds_volatile_default(cmd, text) || def.is_some_and(numbers_each_row))
        })
        .then_some("ADD COLUMN with a volatile default rewrites the table under ACCESS EXCLUSIVE; use add_column with `backfill:`")
}

pub fn is_serial(type_name: &TypeName) -> bool {
    matches!(
        type_name_base(type_name).as_str(),
        "serial" | "serial2" | "serial4" | "serial8" | "smallserial" | "bigserial"
    )
}

/// A serial, an identity or a stored generated column: a value computed for every row.
fn numbers_each_row(def: &ColumnDef) -> bool {
    def.type_name.as_ref().is_some_and(is_serial)
        || column_constraints(def)
            .any(|(k, _)| matches!(k, ConstrType::ConstrIdentity | ConstrType::ConstrGenerated))
}

#[cfg(test)]
mod tests {
    use crate::plan::lint::testing::{assert_clean, findings};

    #[test]
    fn fires() {
        assert_eq!(
            findings("changes:\n  - sql: { up: \"ALTER TABLE users ADD COLUMN u uuid DEFAULT gen_random_uuid()\" }\n"),
            [
                "p.yaml:2:16: error[E604]: `ALTER TABLE users ADD COLUMN u uuid DEFAULT gen_random_uuid()`: ADD COLUMN with a volatile default rewrites the table under ACCESS EXCLUSIVE; use add_column with `backfill:` (at changes[0].sql.up)",
            ]
        );
    }

    #[test]
    fn serial_and_identity_fire_too() {
        for column in [
            "id bigserial PRIMARY KEY",
            "id bigint GENERATED ALWAYS AS IDENTITY",
        ] {
            let found = findings(&format!(
                "changes:\n  - sql: {{ up: \"ALTER TABLE users ADD COLUMN {column}\" }}\n"
            ));
            assert!(found.iter().any(|f| f.contains("error[E604]")), "{found:?}");
        }
    }

    #[test]
    fn the_safe_way_is_clean() {
        assert_clean(
            "changes:\n  - sql: { up: \"ALTER TABLE users ADD COLUMN u int DEFAULT 0\" }\n",
        );
    }
}
