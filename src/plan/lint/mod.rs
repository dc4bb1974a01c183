//! Lint rules: one file per rule, the way squawk keeps them. A rule's file holds all of it:
//! its code and explanation (`RULE`, the text of `--explain` and `docs/rules.md`), its logic,
//! and tests that make it fire and show the safe way clean. A rule judges a plan that could
//! run, so `allow:` with a reason may silence it.
//!
//! A rule reads one of six things, and is called from the one place that sees it:
//! - an identifier the plan writes ([`identifier`], from the checker);
//! - a column type ([`column_type`], from the checker);
//! - a raw statement, of a `sql` change or of a SQL migration file ([`statement`]);
//! - a SQL migration file's statements together ([`sql_file`], from `plan::migration`);
//! - the plan's validated changes ([`changes`]);
//! - the plan's steps ([`steps`]).
//!
//! Adding a rule: its file here, its `mod` line and a call below, and its row in the `codes!`
//! table of `diagnostic.rs`.

pub(super) mod archive_off;
pub(super) mod case_folding;
pub(super) mod char_type;
pub(super) mod concurrent_in_transaction;
pub(super) mod drop_still_read;
pub(super) mod foreign_key_without_unique_target;
pub(super) mod int_primary_key;
pub(super) mod json_type;
pub(super) mod many_tables_backfilled;
pub(super) mod missing_timeouts;
pub(super) mod not_null_without_fill;
pub(super) mod raw_alter_type;
pub(super) mod raw_create_index;
pub(super) mod raw_domain_constraint;
pub(super) mod raw_drop;
pub(super) mod raw_drop_index;
pub(super) mod raw_drop_not_null;
pub(super) mod raw_lock_table;
pub(super) mod raw_reindex;
pub(super) mod raw_rename;
pub(super) mod raw_required_column;
pub(super) mod raw_rewrite;
pub(super) mod raw_set_not_null;
pub(super) mod raw_truncate;
pub(super) mod raw_validating_constraint;
pub(super) mod raw_volatile_default;
pub(super) mod timestamp_without_time_zone;
pub(super) mod transaction_nesting;
pub(super) mod type_change_without_down;

use crate::plan::change::Change;
use crate::plan::check::Checker;
use crate::plan::diagnostic::Code;
use crate::plan::migration::Statement;
use crate::plan::source::FieldPath;
use crate::plan::sql::{Hazard, RawStatement};
use crate::plan::Plan;
use pg_query::NodeEnum;

/// A rule over one raw statement: why the statement hurts the running application, if it does.
type StatementRule = fn(&NodeEnum, &str) -> Option<&'static str>;

/// The rules over raw statements; `unsafe: true` on a `sql` change allows all of them.
const STATEMENT_RULES: &[(Code, StatementRule)] = &[
    (Code::RawCreateIndex, raw_create_index::check),
    (
        Code::RawValidatingConstraint,
        raw_validating_constraint::check,
    ),
    (Code::RawSetNotNull, raw_set_not_null::check),
    (Code::RawAlterType, raw_alter_type::check),
    (Code::RawVolatileDefault, raw_volatile_default::check),
    (Code::RawRename, raw_rename::check),
    (Code::RawDrop, raw_drop::check),
    (Code::RawRewrite, raw_rewrite::check),
    (Code::RawLockTable, raw_lock_table::check),
    (Code::RawTruncate, raw_truncate::check),
    (Code::RawRequiredColumn, raw_required_column::check),
    (Code::RawDropIndex, raw_drop_index::check),
    (Code::RawReindex, raw_reindex::check),
    (Code::RawDomainConstraint, raw_domain_constraint::check),
    (Code::RawDropNotNull, raw_drop_not_null::check),
];

/// The rules over the column types a raw statement writes: about the schema's design, not
/// the lock, so they fire on a table created in the same migration too.
const TYPE_RULES: &[(Code, StatementRule)] = &[
    (Code::CharType, char_type::in_statement),
    (Code::JsonType, json_type::in_statement),
    (
        Code::TimestampWithoutTimeZone,
        timestamp_without_time_zone::in_statement,
    ),
    (Code::IntPrimaryKey, int_primary_key::in_statement),
];

/// A SQL migration file's up part, as the rules over a whole file see it.
pub struct SqlFile<'a> {
    pub statements: &'a [Statement],
    /// Each statement's lock, work and whether it may run in a transaction.
    pub classified: &'a [RawStatement],
    /// Whether each statement changes a table created earlier in the same migration, which
    /// is empty and unseen by the application: its locks hurt no one.
    pub on_new_table: &'a [bool],
    /// Whether each statement comes after a BEGIN of the file and before its COMMIT.
    pub inside_begin: &'a [bool],
    /// Why the tool runs the statements in one transaction, when it does.
    pub transaction: Option<&'a str>,
}

/// A rule over a whole file: the statements (by index) it fires on, with why.
type FileRule = fn(&SqlFile) -> Vec<(usize, String)>;

const FILE_RULES: &[(Code, FileRule)] = &[
    (Code::TransactionNesting, transaction_nesting::check),
    (
        Code::ConcurrentInTransaction,
        concurrent_in_transaction::check,
    ),
    (Code::MissingTimeouts, missing_timeouts::check),
];

pub fn identifier(name: &str, at: &FieldPath, cx: &mut Checker) {
    case_folding::check(name, at, cx);
}

/// `base` is the type's name as the catalog knows it (`bpchar` for `char(2)`).
pub fn column_type(type_text: &str, base: &str, at: &FieldPath, cx: &mut Checker) {
    char_type::check(type_text, base, at, cx);
    json_type::check(type_text, base, at, cx);
    timestamp_without_time_zone::check(type_text, base, at, cx);
}

/// What in one raw statement (its parse tree and its text) a running application would meet,
/// and what its column types get wrong.
pub fn statement(node: &NodeEnum, text: &str) -> Vec<Hazard> {
    STATEMENT_RULES
        .iter()
        .chain(TYPE_RULES)
        .filter_map(|(code, rule)| rule(node, text).map(|why| Hazard { code: *code, why }))
        .collect()
}

/// What the rules over a whole SQL migration file find, by statement index.
pub fn sql_file(file: &SqlFile) -> Vec<(usize, Code, String)> {
    FILE_RULES
        .iter()
        .flat_map(|(code, rule)| rule(file).into_iter().map(|(i, why)| (i, *code, why)))
        .collect()
}

/// Whether a statement writes a column of one of these types (by the catalog's names).
fn writes_type(statement: &NodeEnum, bases: &[&str]) -> bool {
    crate::plan::sql::column_defs(statement).iter().any(|def| {
        def.type_name
            .as_ref()
            .is_some_and(|t| bases.contains(&crate::plan::sql::type_name_base(t).as_str()))
    })
}

pub fn is_statement_rule(code: Code) -> bool {
    STATEMENT_RULES.iter().any(|(c, _)| *c == code)
}

pub fn statement_rules() -> impl Iterator<Item = Code> {
    STATEMENT_RULES.iter().map(|(c, _)| *c)
}

pub fn changes(changes: &[(Change, FieldPath)], cx: &mut Checker) {
    not_null_without_fill::check(changes, cx);
    type_change_without_down::check(changes, cx);
    drop_still_read::check(changes, cx);
    foreign_key_without_unique_target::check(changes, cx);
    int_primary_key::check(changes, cx);
}

pub fn steps(plan: &Plan, cx: &mut Checker) {
    many_tables_backfilled::check(plan, cx);
    archive_off::check(plan, cx);
}

/// What the rules' tests read: a plan file's findings, one line each.
#[cfg(test)]
pub(crate) mod testing {
    use crate::plan::load::check_text;
    use crate::plan::migration::{Format, Migration, Part, Transaction};
    use std::path::Path;

    /// The findings of `yaml` as a file `p.yaml`, each as
    /// `file:line:col: severity[CODE]: message (at field)` plus ` [help: ...]`; a plan with an
    /// error must yield no plan, and one without must yield one.
    pub fn findings(yaml: &str) -> Vec<String> {
        let (plan, diagnostics) = check_text(Path::new("p.yaml"), yaml);
        let lines: Vec<String> = diagnostics
            .iter()
            .map(|d| match &d.help {
                Some(help) => format!("{d} [help: {help}]"),
                None => d.to_string(),
            })
            .collect();
        let has_error = diagnostics.iter().any(|d| d.is_error());
        assert_eq!(plan.is_none(), has_error, "{lines:#?}");
        lines
    }

    pub fn assert_clean(yaml: &str) {
        assert_eq!(findings(yaml), Vec::<String>::new());
    }

    fn lint_sql(sql: &str, format: Format, transaction: Transaction) -> Vec<String> {
        let migration = Migration {
            name: "m".into(),
            format,
            up: Part::whole(Path::new("m.sql"), sql.into()),
            down: None,
            transaction,
            created_at_ms: None,
        };
        crate::plan::migration::lint(&migration)
            .iter()
            .map(|d| d.to_string())
            .collect()
    }

    /// The findings of `sql` as a plain migration file `m.sql`, without W626 (which fires on
    /// almost every file that alters a table).
    pub fn sql_findings(sql: &str) -> Vec<String> {
        lint_sql(sql, Format::Plain, Transaction::Autocommit)
            .into_iter()
            .filter(|f| !f.contains("[W626]"))
            .collect()
    }

    /// The same, as a Drizzle migration (which runs in a transaction).
    pub fn sql_findings_in_transaction(sql: &str) -> Vec<String> {
        lint_sql(sql, Format::Drizzle, Transaction::Wrapped)
            .into_iter()
            .filter(|f| !f.contains("[W626]"))
            .collect()
    }

    pub fn sql_findings_with_timeouts_rule(sql: &str) -> Vec<String> {
        lint_sql(sql, Format::Plain, Transaction::Autocommit)
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::diagnostic::Code;
    use std::path::Path;

    /// Every lint rule that can fire offline has its file here, with a test that makes it fire.
    #[test]
    fn every_rule_has_its_file_and_a_test_that_fires_it() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/plan/lint");
        let files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
            .collect();
        for code in Code::ALL.iter().filter(|c| c.is_lint_rule()) {
            let live = code.as_str()[1..] >= *"700";
            let file = files.iter().find(|f| {
                f.contains(&format!(
                    "pub const RULE: Rule = Rule::{}(\"{code}\"",
                    code.severity()
                ))
            });
            match file {
                Some(file) => assert!(
                    file.contains(&format!("[{code}]: ")),
                    "no test of {code} makes it fire"
                ),
                None => assert!(live, "{code} has no file in src/plan/lint"),
            }
        }
    }
}
