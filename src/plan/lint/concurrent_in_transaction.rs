//! E625: CREATE/DROP INDEX CONCURRENTLY, REINDEX CONCURRENTLY or VACUUM where the migration
//! runs its statements in one transaction (squawk:
//! ban-concurrent-index-creation-in-transaction). SQL migration files only.

use super::SqlFile;
use crate::plan::diagnostic::Rule;

pub const RULE: Rule = Rule::error("E625", "CONCURRENTLY inside a transaction")
    .why("CREATE INDEX CONCURRENTLY, DROP INDEX CONCURRENTLY, REINDEX CONCURRENTLY and VACUUM cannot run inside a transaction block: the migration fails there, after the statements before it ran. Tools that send a whole file as one query (Prisma, golang-migrate) run it in one implicit transaction too.")
    .instead("Put the statement in a migration of its own that the tool runs outside a transaction (dbmate `transaction:false`, goose `NO TRANSACTION`, sql-migrate `notransaction`), or use an `add_index` change.")
    .squawk("ban-concurrent-index-creation-in-transaction")
    .allowable();

pub fn check(file: &SqlFile) -> Vec<(usize, String)> {
    let mut findings = Vec::new();
    for (i, raw) in file.classified.iter().enumerate() {
        if raw.transactional {
            continue;
        }
        let why = if file.inside_begin[i] {
            Some("it is between BEGIN and COMMIT".to_owned())
        } else {
            file.transaction.map(str::to_owned)
        };
        if let Some(why) = why {
            findings.push((
                i,
                format!("this statement cannot run inside a transaction block, and {why}"),
            ));
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use crate::plan::lint::testing::{sql_findings, sql_findings_in_transaction};

    #[test]
    fn fires() {
        assert_eq!(
            sql_findings_in_transaction("CREATE INDEX CONCURRENTLY i ON t (a);"),
            ["m.sql:1:1: error[E625]: this statement cannot run inside a transaction block, and Drizzle runs each migration in a transaction"]
        );
        assert_eq!(
            sql_findings("BEGIN;\nDROP INDEX CONCURRENTLY i;\nCOMMIT;"),
            ["m.sql:2:1: error[E625]: this statement cannot run inside a transaction block, and it is between BEGIN and COMMIT"]
        );
    }

    #[test]
    fn the_safe_way_is_clean() {
        assert_eq!(
            sql_findings("CREATE INDEX CONCURRENTLY i ON t (a);"),
            Vec::<String>::new()
        );
    }
}
