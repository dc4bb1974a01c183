//! Linting a SQL migration: the rules over raw statements and over whole files, at the
//! statements' file:line:col, minus what `switchback:allow` comments silence.

use super::{read, Migration, Statement, Transaction};
use crate::plan::diagnostic::{self, Code, Diagnostic};
use crate::plan::lint::{self, SqlFile};
use crate::plan::migration::statements::finding;
use crate::plan::sql::{self, target_table, RawStatement};
use pg_query::protobuf::TransactionStmtKind;
use pg_query::NodeEnum;
use std::collections::HashSet;

/// Every finding about `migration`: syntax errors in both parts, lint rules in its up part.
pub fn lint(migration: &Migration) -> Vec<Diagnostic> {
    let (statements, mut findings) = read(&migration.up);
    if let Some(down) = &migration.down {
        findings.extend(read(down).1);
    }
    let on_new_table = on_new_table(&statements);
    let classified: Vec<RawStatement> = statements
        .iter()
        .map(|s| sql::classify(s.text.clone(), Some(&s.node)))
        .collect();
    let inside_begin = inside_begin(&statements);
    // One statement sent as one query is no transaction block.
    let transaction = match migration.transaction {
        Transaction::OneQuery if statements.len() < 2 => None,
        _ => migration.transaction_reason(),
    };
    let mut fired: Vec<(usize, Code, String)> = Vec::new();
    for (i, statement) in statements.iter().enumerate() {
        for hazard in lint::statement(&statement.node, &statement.text) {
            if !(on_new_table[i] && lint::is_statement_rule(hazard.code)) {
                fired.push((i, hazard.code, hazard.why.to_owned()));
            }
        }
    }
    fired.extend(lint::sql_file(&SqlFile {
        statements: &statements,
        classified: &classified,
        on_new_table: &on_new_table,
        inside_begin: &inside_begin,
        transaction: transaction.as_deref(),
    }));

    let allows: Vec<_> = statements
        .iter()
        .enumerate()
        .flat_map(|(i, s)| s.allows.iter().map(move |a| (i, a)))
        .collect();
    let mut used = vec![false; allows.len()];
    for (i, code, why) in fired {
        let silencer = allows
            .iter()
            .position(|(at, a)| (a.file_wide || *at == i) && a.codes.contains(&code));
        match silencer {
            Some(k) => used[k] = true,
            None => findings.push(finding(
                &migration.up.file,
                statements[i].at,
                code,
                why,
                None,
            )),
        }
    }
    for ((_, allow), used) in allows.iter().zip(used) {
        if !used {
            let codes: Vec<&str> = allow.codes.iter().map(|c| c.as_str()).collect();
            findings.push(finding(
                &migration.up.file,
                allow.at,
                Code::UnneededAllow,
                format!(
                    "{} allowed here but no statement it covers needs it",
                    codes.join(", ")
                ),
                Some("remove the comment".into()),
            ));
        }
    }
    diagnostic::sort(&mut findings);
    findings
}

/// For each statement, whether the table it changes was created earlier in the migration.
fn on_new_table(statements: &[Statement]) -> Vec<bool> {
    let mut created = HashSet::new();
    statements
        .iter()
        .map(|s| {
            let new = !matches!(s.node, NodeEnum::CreateStmt(_))
                && target_table(&s.node).is_some_and(|t| created.contains(t));
            if let NodeEnum::CreateStmt(c) = &s.node {
                created.extend(c.relation.as_ref().map(|r| r.relname.as_str()));
            }
            new
        })
        .collect()
}

/// For each statement, whether it comes between a BEGIN of the file and its COMMIT.
fn inside_begin(statements: &[Statement]) -> Vec<bool> {
    let mut open = false;
    statements
        .iter()
        .map(|s| {
            let inside = open;
            if let NodeEnum::TransactionStmt(t) = &s.node {
                match TransactionStmtKind::try_from(t.kind) {
                    Ok(
                        TransactionStmtKind::TransStmtBegin | TransactionStmtKind::TransStmtStart,
                    ) => open = true,
                    Ok(
                        TransactionStmtKind::TransStmtCommit
                        | TransactionStmtKind::TransStmtRollback,
                    ) => open = false,
                    _ => {}
                }
            }
            inside
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::plan::lint::testing::sql_findings;

    #[test]
    fn allows_silence_and_unneeded_ones_are_said() {
        let sql = "-- switchback:allow E600 built before the table has users\nCREATE INDEX i ON t (a);\n-- switchback:allow E605 nothing reads it yet\nCREATE INDEX j ON t (b);\n";
        assert_eq!(
            sql_findings(sql),
            [
                "m.sql:3:1: warning[W501]: E605 allowed here but no statement it covers needs it",
                "m.sql:4:1: error[E600]: CREATE INDEX without CONCURRENTLY blocks writes while it builds; use an add_index change",
            ]
        );
    }

    #[test]
    fn a_table_created_in_the_migration_takes_no_lock_findings() {
        let sql = "CREATE TABLE t (id bigint PRIMARY KEY, at timestamptz);\nCREATE INDEX i ON t (at);\nALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (id) REFERENCES u (id);\nCREATE INDEX k ON u (a);";
        assert_eq!(
            sql_findings(sql),
            ["m.sql:4:1: error[E600]: CREATE INDEX without CONCURRENTLY blocks writes while it builds; use an add_index change"]
        );
    }
}
