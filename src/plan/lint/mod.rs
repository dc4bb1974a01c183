//! Lint rules: one file per rule, the way squawk keeps them. A rule's file holds all of it:
//! its code and explanation (`RULE`, the text of `--explain` and `docs/rules.md`), its logic,
//! and tests that make it fire and show the safe way clean. A rule judges a plan that could
//! run, so `allow:` with a reason may silence it.
//!
//! A rule reads one of five things, and is called from the one place that sees it:
//! - an identifier the plan writes ([`identifier`], from the checker);
//! - a column type ([`column_type`], from the checker);
//! - a raw statement of a `sql` change ([`statement`], while the statement is parsed);
//! - the plan's validated changes ([`changes`]);
//! - the plan's steps ([`steps`]).
//!
//! Adding a rule: its file here, its `mod` line and a call below, and its row in the `codes!`
//! table of `diagnostic.rs`.

pub(super) mod case_folding;
pub(super) mod char_type;
pub(super) mod drop_still_read;
pub(super) mod foreign_key_without_unique_target;
pub(super) mod int_primary_key;
pub(super) mod json_type;
pub(super) mod many_tables_backfilled;
pub(super) mod not_null_without_fill;
pub(super) mod raw_alter_type;
pub(super) mod raw_create_index;
pub(super) mod raw_drop;
pub(super) mod raw_lock_table;
pub(super) mod raw_rename;
pub(super) mod raw_rewrite;
pub(super) mod raw_set_not_null;
pub(super) mod raw_truncate;
pub(super) mod raw_validating_constraint;
pub(super) mod raw_volatile_default;
pub(super) mod timestamp_without_time_zone;
pub(super) mod type_change_without_down;

use crate::plan::change::Change;
use crate::plan::check::Checker;
use crate::plan::diagnostic::Code;
use crate::plan::source::FieldPath;
use crate::plan::sql::Hazard;
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

/// What in one raw statement (its parse tree and its text) a running application would meet.
pub fn statement(node: &NodeEnum, text: &str) -> Vec<Hazard> {
    STATEMENT_RULES
        .iter()
        .filter_map(|(code, rule)| rule(node, text).map(|why| Hazard { code: *code, why }))
        .collect()
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
}

/// What the rules' tests read: a plan file's findings, one line each.
#[cfg(test)]
pub(crate) mod testing {
    use crate::plan::load::check_text;
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
