//! The SQL the planner writes for the work a plan's changes share on a table: the
//! dual-write trigger's function, the backfill's batch UPDATE and the verification's test of
//! a row.

use super::SyncRule;
use crate::pg::quote;
use crate::plan::step::Assignment;

pub(super) fn columns_list(assignments: &[&Assignment]) -> String {
    assignments
        .iter()
        .map(|a| quote::ident(&a.column))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Rows the verification counts as wrong: any assignment's check fails.
pub(crate) fn verify_predicate(assignments: &[&Assignment]) -> String {
    assignments
        .iter()
        .map(|a| format!("({})", a.verify))
        .collect::<Vec<_>>()
        .join("\n     OR ")
}

/// What stands for a batch's key range in rendered plans.
pub(super) const BATCH_RANGE: &str = "<key range of the batch>";

/// Whether the batch UPDATE changes only some rows of its range: every assignment has a
/// condition (a fill of NULLs, say), so the UPDATE keeps to the rows that meet one.
pub(crate) fn backfill_filters(assignments: &[&Assignment]) -> bool {
    !assignments.is_empty() && assignments.iter().all(|a| a.when.is_some())
}

/// One UPDATE per batch for all of a table's assignments, so the table is walked once.
pub(crate) fn backfill_update(table: &str, assignments: &[&Assignment], range: &str) -> String {
    let single = assignments.len() == 1;
    let sets = assignments
        .iter()
        .map(|a| match &a.when {
            Some(when) if !single => format!(
                "{col} = CASE WHEN {when} THEN {value} ELSE {col} END",
                col = quote::ident(&a.column),
                value = a.value
            ),
            _ => format!("{} = {}", quote::ident(&a.column), a.value),
        })
        .collect::<Vec<_>>()
        .join(",\n      ");
    let filter = match backfill_filters(assignments) {
        true => {
            let whens: Vec<&str> = assignments
                .iter()
                .filter_map(|a| a.when.as_deref())
                .collect();
            format!("\n    AND ({})", whens.join(" OR "))
        }
        false => String::new(),
    };
    format!("UPDATE {table}\n  SET {sets}\n  WHERE {range}{filter}")
}

pub(super) fn trigger_function(function: &str, rules: &[(usize, SyncRule)]) -> String {
    let mut body = String::new();
    for (change, rule) in rules {
        body.push_str(&format!("  -- changes[{change}]\n"));
        body.push_str(&rule_body(rule));
    }
    format!("CREATE OR REPLACE FUNCTION {function}() RETURNS trigger\nLANGUAGE plpgsql AS $sync$\nBEGIN\n{body}  RETURN NEW;\nEND\n$sync$")
}

fn rule_body(rule: &SyncRule) -> String {
    match rule {
        // A write to other columns of a row the backfill has not reached yet sets the new
        // column too (what the backfill would): the write may move the row behind the
        // backfill's block cursor.
        SyncRule::Pair {
            old,
            new,
            up,
            down,
            default,
        } => {
            let (o, n) = (
                format!("NEW.{}", old.quoted()),
                format!("NEW.{}", new.quoted()),
            );
            let (oo, on) = (
                format!("OLD.{}", old.quoted()),
                format!("OLD.{}", new.quoted()),
            );
            let both_null = default
                .as_ref()
                .map(|d| format!("    ELSIF {o} IS NULL AND {n} IS NULL THEN\n      {o} := {d};\n      {n} := {up};\n"))
                .unwrap_or_default();
            format!(
                "  IF TG_OP = 'INSERT' THEN\n    IF {n} IS NULL AND {o} IS NOT NULL THEN\n      {n} := {up};\n    ELSIF {o} IS NULL AND {n} IS NOT NULL THEN\n      {o} := {down};\n{both_null}    END IF;\n  ELSIF {o} IS DISTINCT FROM {oo} AND {n} IS NOT DISTINCT FROM {on} THEN\n    {n} := {up};\n  ELSIF {n} IS DISTINCT FROM {on} AND {o} IS NOT DISTINCT FROM {oo} THEN\n    {o} := {down};\n  ELSIF {n} IS NULL AND {on} IS NULL AND {o} IS NOT NULL AND {o} IS NOT DISTINCT FROM {oo} THEN\n    {n} := {up};\n  END IF;\n"
            )
        }
        SyncRule::Computed { column, value } => {
            let (c, oc) = (
                format!("NEW.{}", column.quoted()),
                format!("OLD.{}", column.quoted()),
            );
            format!("  IF (TG_OP = 'INSERT' AND {c} IS NULL) OR (TG_OP = 'UPDATE' AND {c} IS NOT DISTINCT FROM {oc}) THEN\n    {c} := {value};\n  END IF;\n")
        }
        // Only writes that write NULL are filled; a NULL the write left alone waits for the
        // backfill, which records its key so abort can put it back.
        SyncRule::Fill { column, value } => {
            let (c, oc) = (
                format!("NEW.{}", column.quoted()),
                format!("OLD.{}", column.quoted()),
            );
            format!("  IF {c} IS NULL THEN\n    IF TG_OP = 'INSERT' THEN\n      {c} := {value};\n    ELSIF {oc} IS NOT NULL THEN\n      {c} := {value};\n    END IF;\n  END IF;\n")
        }
        SyncRule::CheckFill {
            check,
            column,
            value,
        } => {
            format!(
                "  IF ({check}) IS FALSE THEN\n    NEW.{} := {value};\n  END IF;\n",
                column.quoted()
            )
        }
    }
}
