//! SQL fragments from plan files, checked with PostgreSQL's own grammar (libpg_query) so a
//! typo fails at `validate` time instead of halfway through a migration. Fragments are kept
//! as written; what the parse tree tells us (column references, called functions, the lock a
//! raw statement takes) is kept beside the text. Expressions, raw statements and types each
//! have their file.

mod expr;
mod statement;
mod types;
pub mod usage;

pub use expr::{rename_identifier, Expr};
pub use statement::{
    adds_validating_constraint, adds_volatile_default, alter_commands, classify,
    column_constraints, column_defs, index_built, index_table, parse_statements,
    primary_key_columns, reindex_concurrently, reshapes_rows, target_table, type_name_base,
    vacuum_full, Hazard, RawStatement, Work,
};
pub use types::{parse_type, type_base_name};

pub(crate) fn parse_error(error: pg_query::Error) -> String {
    match error {
        pg_query::Error::Parse(message) => message,
        pg_query::Error::Conversion(_) => "SQL text cannot contain a NUL byte".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pg::lock::LockMode;

    #[test]
    fn expressions_report_columns_and_functions() {
        let e = Expr::parse("lower(\"Email\") || name").unwrap();
        let names: Vec<_> = e.columns.iter().map(|(c, _)| c.as_str()).collect();
        assert_eq!(names, ["Email", "name"]);
        assert_eq!(e.functions, ["lower"]);
        assert!(!e.is_volatile());
        assert!(Expr::parse("gen_random_uuid()").unwrap().is_volatile());
    }

    #[test]
    fn rewrites_columns_over_a_record() {
        let e = Expr::parse("  lower(email) || \"Full \"\"x\"\"\" || amount::text ").unwrap();
        assert_eq!(
            e.over_record("NEW", &[("amount", "sb_new_amount")]),
            "lower(NEW.\"email\") || NEW.\"Full \"\"x\"\"\" || NEW.\"sb_new_amount\"::text"
        );
        assert_eq!(
            Expr::parse("'n/a'").unwrap().over_record("NEW", &[]),
            "'n/a'"
        );
    }

    #[test]
    fn renames_identifier_tokens_only() {
        let def = "CREATE INDEX users_name_idx ON public.users USING btree (name, lower(name)) WHERE (name <> 'name'::text)";
        assert_eq!(
            rename_identifier(def, "name", "full_name", Some("USING"), None).unwrap(),
            "CREATE INDEX users_name_idx ON public.users USING btree (\"full_name\", lower(\"full_name\")) WHERE (\"full_name\" <> 'name'::text)"
        );
        let fk = "FOREIGN KEY (account) REFERENCES accounts(account)";
        assert_eq!(
            rename_identifier(fk, "account", "acct", None, Some("REFERENCES")).unwrap(),
            "FOREIGN KEY (\"acct\") REFERENCES accounts(account)"
        );
        assert_eq!(
            rename_identifier("CHECK ((\"Name\" <> ''::text))", "Name", "n", None, None).unwrap(),
            "CHECK ((\"n\" <> ''::text))"
        );
        // A column named like a type or a function is renamed only where it is the column.
        assert_eq!(
            rename_identifier(
                "CHECK ((text <> ''::text) AND text(1) IS NOT NULL)",
                "text",
                "body",
                None,
                None
            )
            .unwrap(),
            "CHECK ((\"body\" <> ''::text) AND text(1) IS NOT NULL)"
        );
    }

    #[test]
    fn rejects_what_is_not_one_expression() {
        for bad in [
            "",
            "1, 2",
            "1 FROM users",
            "x WHERE true",
            "1; DROP TABLE users",
            "(1",
            "a AS b",
        ] {
            assert!(Expr::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn types() {
        for good in [
            "int",
            "varchar(20)",
            "timestamp with time zone",
            "numeric(10,2)",
            "text[]",
            "\"MyType\"",
        ] {
            assert!(parse_type(good).is_ok(), "{good}");
        }
        for bad in ["", "int int", "varchar(", "1"] {
            assert!(parse_type(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn classifies_raw_statements() {
        let parse = |sql| parse_statements(sql, |_, _| Vec::new()).unwrap();
        let s = parse("CREATE INDEX i ON t (a); CREATE INDEX CONCURRENTLY j ON t (b); ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID");
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].text, "CREATE INDEX i ON t (a)");
        assert_eq!((s[0].lock, s[0].work), (LockMode::Share, Work::Scan));
        assert_eq!(
            (s[1].lock, s[1].transactional),
            (LockMode::ShareUpdateExclusive, false)
        );
        assert_eq!(s[2].work, Work::Instant);
        let builds = |sql| parse(sql)[0].builds_index.clone();
        assert_eq!(
            builds("CREATE INDEX CONCURRENTLY \"J\" ON t (b)").as_deref(),
            Some("\"J\"")
        );
        assert_eq!(
            builds("CREATE INDEX CONCURRENTLY IF NOT EXISTS j ON app.t (b)").as_deref(),
            Some("\"app\".\"j\"")
        );
        assert_eq!(builds("CREATE INDEX CONCURRENTLY ON t (b)"), None);
        assert_eq!(s[0].builds_index, None);
        assert_eq!(
            index_built("CREATE UNIQUE INDEX CONCURRENTLY k ON app.t (b)").as_deref(),
            Some("\"app\".\"k\"")
        );
        assert_eq!(index_built("CREATE INDEX k ON t (b)"), None);
        assert_eq!(index_built("VACUUM t"), None);
        let drops = |sql| parse(sql)[0].drops_index.clone();
        assert_eq!(
            drops("DROP INDEX CONCURRENTLY app.\"J\"").as_deref(),
            Some("\"app\".\"J\"")
        );
        assert_eq!(drops("DROP INDEX CONCURRENTLY j").as_deref(), Some("\"j\""));
        // IF EXISTS runs twice as it is; a plain DROP INDEX runs in a transaction.
        assert_eq!(drops("DROP INDEX CONCURRENTLY IF EXISTS j"), None);
        assert_eq!(drops("DROP INDEX j"), None);
        let work = |sql| parse(sql)[0].work;
        assert_eq!(
            work("ALTER TABLE t ALTER COLUMN a SET NOT NULL"),
            Work::Scan
        );
        assert_eq!(
            work("ALTER TABLE t ALTER COLUMN a TYPE bigint, ALTER COLUMN b SET NOT NULL"),
            Work::Rewrite
        );
        assert_eq!(
            work("ALTER TABLE t ADD COLUMN u uuid DEFAULT gen_random_uuid()"),
            Work::Rewrite
        );
        assert_eq!(
            work("ALTER TABLE t ADD COLUMN u int DEFAULT 0"),
            Work::Instant
        );
        assert_eq!(work("VACUUM FULL t"), Work::Rewrite);
        assert_eq!(
            parse("ALTER TABLE t ADD FOREIGN KEY (a) REFERENCES u NOT VALID")[0].lock,
            LockMode::ShareRowExclusive
        );
        assert_eq!(type_base_name("char(3)").as_deref(), Some("bpchar"));
        assert_eq!(
            type_base_name("timestamp without time zone").as_deref(),
            Some("timestamp")
        );
        assert_eq!(
            type_base_name("timestamptz").as_deref(),
            Some("timestamptz")
        );
        assert_eq!(type_base_name("int").as_deref(), Some("int4"));
        assert_eq!(type_base_name("json").as_deref(), Some("json"));
        assert!(parse_statements("SELEC 1", |_, _| Vec::new()).is_err());
    }
}
