//! E624: BEGIN and COMMIT that fight the transaction the migration runs in (squawk:
//! transaction-nesting, ban-uncommitted-transaction). SQL migration files only.

use super::SqlFile;
use crate::plan::diagnostic::Rule;
use pg_query::protobuf::TransactionStmtKind;
use pg_query::NodeEnum;

pub const RULE: Rule = Rule::error("E624", "BEGIN or COMMIT that nests or never ends")
    .why("Inside the transaction the migration tool opens, BEGIN only warns and the COMMIT after it ends the tool's transaction early: what follows runs outside it, and a failure leaves the migration half-applied. A BEGIN without COMMIT keeps its locks until the session ends.")
    .instead("Leave transactions to the tool (or to switchback, which runs each step in its own), or close every BEGIN in the same file.")
    .squawk("transaction-nesting, ban-uncommitted-transaction")
    .allowable();

pub fn check(file: &SqlFile) -> Vec<(usize, String)> {
    let mut findings = Vec::new();
    let mut open: Option<usize> = None;
    for (i, statement) in file.statements.iter().enumerate() {
        let NodeEnum::TransactionStmt(t) = &statement.node else {
            continue;
        };
        match TransactionStmtKind::try_from(t.kind) {
            Ok(TransactionStmtKind::TransStmtBegin | TransactionStmtKind::TransStmtStart) => {
                if let Some(begin) = open {
                    let line = file.statements[begin].at.line;
                    findings.push((i, format!("BEGIN inside the transaction opened at line {line}: PostgreSQL ignores it, and the first COMMIT ends both")));
                } else if let Some(reason) = file.transaction {
                    findings.push((i, format!("BEGIN inside the migration's own transaction ({reason}): PostgreSQL ignores it, and the COMMIT after it ends the tool's transaction early")));
                }
                open = open.or(Some(i));
            }
            Ok(TransactionStmtKind::TransStmtCommit | TransactionStmtKind::TransStmtRollback) => {
                let closes_own = open.take().is_some();
                match file.transaction {
                    Some(reason) if !closes_own => findings.push((i, format!("COMMIT or ROLLBACK ends the migration's own transaction ({reason}): the statements after it run outside it"))),
                    _ => {}
                }
            }
            _ => {}
        }
    }
    // Inside the tool's transaction, the tool's COMMIT ends an unclosed BEGIN too.
    if let (Some(begin), None) = (open, file.transaction) {
        findings.push((
            begin,
            "BEGIN without a COMMIT: the transaction stays open, holding its locks, until the session ends".into(),
        ));
    }
    findings
}

#[cfg(test)]
mod tests {
    use crate::plan::lint::testing::{sql_findings, sql_findings_in_transaction};

    #[test]
    fn fires() {
        assert_eq!(
            sql_findings_in_transaction("BEGIN;\nSELECT 1;\nCOMMIT;\n"),
            ["m.sql:1:1: error[E624]: BEGIN inside the migration's own transaction (Drizzle runs each migration in a transaction): PostgreSQL ignores it, and the COMMIT after it ends the tool's transaction early"]
        );
        assert_eq!(
            sql_findings("BEGIN;\nSELECT 1;\n"),
            ["m.sql:1:1: error[E624]: BEGIN without a COMMIT: the transaction stays open, holding its locks, until the session ends"]
        );
    }

    #[test]
    fn the_safe_way_is_clean() {
        assert_eq!(
            sql_findings("BEGIN;\nSELECT 1;\nCOMMIT;\n"),
            Vec::<String>::new()
        );
    }
}
