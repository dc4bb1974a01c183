//! W618: one plan backfilling many tables, judged once the plan's steps are known.

use crate::plan::check::Checker;
use crate::plan::diagnostic::{Code, Rule};
use crate::plan::source::FieldPath;
use crate::plan::Plan;
use std::collections::BTreeSet;

pub const RULE: Rule = Rule::warning("W618", "one plan backfills many tables")
    .why("One plan backfills three or more tables. Its contract stage waits for the slowest, a failure in one holds back all, and the combined write load is harder to throttle.")
    .instead("Split the plan into one plan per table, ordered with `depends_on` if needed.")
    .allowable();

/// From this many tables up, one plan's backfills are better split into several plans.
const MANY_TABLES: usize = 3;

pub fn check(plan: &Plan, cx: &mut Checker) {
    let steps = plan.steps("switchback", None);
    let tables: BTreeSet<&str> = steps
        .steps
        .iter()
        .filter_map(|s| s.job.as_ref())
        .map(|j| j.table.as_str())
        .collect();
    if tables.len() >= MANY_TABLES {
        let names: Vec<String> = tables.iter().map(|t| format!("`{t}`")).collect();
        cx.report_key(
            Code::ManyTablesBackfilled,
            &FieldPath::root().key("changes"),
            format!(
                "this plan backfills {} tables ({}); its contract waits for the slowest and one failure holds back all",
                tables.len(),
                names.join(", ")
            ),
            Some("split it into one plan per table".into()),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::lint::testing::{assert_clean, findings};

    #[test]
    fn fires() {
        assert_eq!(
            findings("changes:\n  - set_not_null: { table: a, column: x, fill: 0 }\n  - set_not_null: { table: b, column: x, fill: 0 }\n  - set_not_null: { table: c, column: x, fill: 0 }\n"),
            [
                "p.yaml:1:1: warning[W618]: this plan backfills 3 tables (`a`, `b`, `c`); its contract waits for the slowest and one failure holds back all (at changes) [help: split it into one plan per table]",
            ]
        );
    }

    #[test]
    fn the_safe_way_is_clean() {
        assert_clean("changes:\n  - set_not_null: { table: a, column: x, fill: 0 }\n  - set_not_null: { table: b, column: x, fill: 0 }\n  - set_not_null: { table: a, column: y, fill: 0 }\n");
    }
}
