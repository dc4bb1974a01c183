//! W626: a migration that takes a lock blocking writes on an existing table without
//! `SET lock_timeout` (and, where it scans or rewrites under that lock, `statement_timeout`)
//! first (squawk: require-timeout-settings). SQL migration files only: switchback sets both
//! for every step it runs.

use super::SqlFile;
use crate::plan::diagnostic::Rule;
use crate::plan::sql::Work;
use pg_query::NodeEnum;

pub const RULE: Rule = Rule::warning("W626", "no lock_timeout or statement_timeout")
    .why("A statement waiting for a lock that blocks writes makes every later query on the table wait behind it: without lock_timeout one long transaction turns a quick ALTER into an outage. Without statement_timeout a scan under such a lock runs as long as the table is big.")
    .instead("Start the migration with `SET lock_timeout = '2s';` and `SET statement_timeout = ...;` (and retry on timeout), or run the change through switchback, which bounds every lock and retries.")
    .squawk("require-timeout-settings")
    .allowable();

pub fn check(file: &SqlFile) -> Vec<(usize, String)> {
    let mut findings = Vec::new();
    let (mut lock_timeout, mut statement_timeout) = (false, false);
    let (mut said_lock, mut said_statement) = (false, false);
    for (i, statement) in file.statements.iter().enumerate() {
        let lower = statement.text.to_lowercase();
        match &statement.node {
            NodeEnum::VariableSetStmt(set) => {
                lock_timeout |= set.name == "lock_timeout";
                statement_timeout |= set.name == "statement_timeout";
            }
            _ if lower.contains("set_config") => {
                lock_timeout |= lower.contains("lock_timeout");
                statement_timeout |= lower.contains("statement_timeout");
            }
            _ => {}
        }
        let raw = &file.classified[i];
        let locks_existing_table = !file.on_new_table[i]
            && raw.lock.blocks_writes()
            && matches!(
                statement.node,
                NodeEnum::AlterTableStmt(_)
                    | NodeEnum::IndexStmt(_)
                    | NodeEnum::RenameStmt(_)
                    | NodeEnum::DropStmt(_)
                    | NodeEnum::TruncateStmt(_)
                    | NodeEnum::ReindexStmt(_)
                    | NodeEnum::AlterDomainStmt(_)
                    | NodeEnum::CreateTrigStmt(_)
            );
        if !locks_existing_table {
            continue;
        }
        if !lock_timeout && !said_lock {
            said_lock = true;
            findings.push((i, "this statement waits for a lock that blocks writes, and no `SET lock_timeout` comes before it: while it waits, every query on the table queues behind it".into()));
        }
        if raw.work != Work::Instant && !statement_timeout && !said_statement {
            said_statement = true;
            findings.push((i, "this statement scans or rewrites the table under a lock that blocks writes, and no `SET statement_timeout` comes before it".into()));
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use crate::plan::lint::testing::sql_findings_with_timeouts_rule;

    #[test]
    fn fires() {
        assert_eq!(
            sql_findings_with_timeouts_rule("ALTER TABLE t ADD COLUMN a text;\nALTER TABLE t ADD COLUMN b text;"),
            ["m.sql:1:1: warning[W626]: this statement waits for a lock that blocks writes, and no `SET lock_timeout` comes before it: while it waits, every query on the table queues behind it"]
        );
    }

    #[test]
    fn the_safe_way_is_clean() {
        assert_eq!(
            sql_findings_with_timeouts_rule(
                "SET lock_timeout = '2s';\nALTER TABLE t ADD COLUMN a text;"
            ),
            Vec::<String>::new()
        );
    }
}
