//! The lock-safe way to run DDL: each transaction sets a short `lock_timeout`, so a statement
//! never waits in the lock queue behind a long transaction (where it would block everyone
//! queued behind it); a lock timeout (SQLSTATE 55P03) is retried with exponential backoff
//! and jitter until a time budget is spent, and then reported with the sessions in the way.
//! Each transaction also bounds the parallel workers of any index it builds, so a build
//! leaves the application the cores the plan does not give it.

use crate::error::{Blocker, Error};
use crate::pg::catalog;
use crate::pg::query::Query;
use std::time::{Duration, Instant};
use tokio_postgres::Client;

pub const LOCK_NOT_AVAILABLE: &str = "55P03";

#[derive(Debug, Clone, Copy)]
pub struct DdlPolicy {
    pub lock_timeout: Duration,
    /// How long to keep retrying a statement that cannot get its lock.
    pub budget: Duration,
    /// `max_parallel_maintenance_workers` for an index the statement builds: the plan's
    /// `index_workers`.
    pub index_workers: u32,
}

/// A retry about to happen, for the reporter.
#[derive(Debug, Clone)]
pub struct Retry {
    pub attempt: u32,
    pub wait: Duration,
    pub blockers: Vec<Blocker>,
}

/// `SET LOCAL` lines for a transaction of this policy. Statements that scan get no
/// statement_timeout: a VALIDATE of a large table may legitimately take hours.
pub fn transaction_settings(policy: &DdlPolicy, scans: bool) -> String {
    let statement_timeout = if scans {
        "0".to_owned()
    } else {
        format!("{}ms", (policy.lock_timeout * 30).as_millis())
    };
    format!(
        "SET LOCAL lock_timeout = '{}ms'; SET LOCAL statement_timeout = '{statement_timeout}'; SET LOCAL max_parallel_maintenance_workers = {}",
        policy.lock_timeout.as_millis(),
        policy.index_workers
    )
}

/// Whether PostgreSQL refuses to run `sql` inside a transaction block (CONCURRENTLY,
/// VACUUM): such a statement runs on its own, and the session's settings are all it gets.
pub fn refuses_transaction(sql: &str) -> bool {
    let upper = sql.to_ascii_uppercase();
    let words: Vec<&str> = upper
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect();
    words.first() == Some(&"VACUUM") || words.contains(&"CONCURRENTLY")
}

/// The first of `statements` that must run outside a transaction, with the role's
/// statement_timeout, when that timeout is not 0: behind a transaction pooler no session
/// `SET` can lift it for that statement, so it would be cancelled part-way.
pub async fn timeout_outside_transaction<'a>(
    client: &impl Query,
    mut statements: impl Iterator<Item = &'a str>,
) -> Result<Option<(String, String)>, Error> {
    let Some(statement) = statements.find(|s| refuses_transaction(s)) else {
        return Ok(None);
    };
    let timeout: String = client
        .fetch_one("SELECT current_setting('statement_timeout')", &[])
        .await
        .map_err(Error::sql("read statement_timeout"))?
        .get(0);
    Ok((timeout != "0").then(|| {
        (
            statement.lines().next().unwrap_or_default().to_owned(),
            timeout,
        )
    }))
}

/// The role's `max_parallel_maintenance_workers`, when it is not `wanted` (the plan's
/// `index_workers`) and one of `statements` builds an index CONCURRENTLY: behind a transaction
/// pooler no session `SET` reaches that build, so it runs with the role's setting.
pub async fn index_workers_outside_transaction<'a>(
    client: &impl Query,
    mut statements: impl Iterator<Item = &'a str>,
    wanted: u32,
) -> Result<Option<String>, Error> {
    let builds = |sql: &str| {
        let upper = sql.to_ascii_uppercase();
        upper.trim_start().starts_with("CREATE")
            && upper.contains(" INDEX ")
            && refuses_transaction(sql)
    };
    if !statements.any(builds) {
        return Ok(None);
    }
    let workers: String = client
        .fetch_one(
            "SELECT current_setting('max_parallel_maintenance_workers')",
            &[],
        )
        .await
        .map_err(Error::sql("read max_parallel_maintenance_workers"))?
        .get(0);
    Ok((workers != wanted.to_string()).then_some(workers))
}

/// Runs `statements` and then `after` (the ledger's record of it) in one transaction.
pub async fn in_transaction(
    client: &mut Client,
    setup: &str,
    statements: &[String],
    after: &str,
) -> Result<(), tokio_postgres::Error> {
    let txn = client.transaction().await?;
    txn.batch_execute(setup).await?;
    for statement in statements {
        txn.batch_execute(statement).await?;
    }
    if !after.is_empty() {
        txn.batch_execute(after).await?;
    }
    txn.commit().await
}

/// Decides, after each failed attempt, whether a lock timeout may be retried within the
/// budget. The caller owns the loop, so attempts can borrow the connection mutably.
pub struct Retrier<'a> {
    policy: &'a DdlPolicy,
    step: &'a str,
    relation: &'a str,
    started: Instant,
    attempts: u32,
}

impl<'a> Retrier<'a> {
    pub fn new(policy: &'a DdlPolicy, step: &'a str, relation: &'a str) -> Self {
        Retrier {
            policy,
            step,
            relation,
            started: Instant::now(),
            attempts: 0,
        }
    }

    /// Returns the retry to make after `error`, or the error to give up with. `side` is a
    /// second connection, used to name the sessions holding the lock.
    pub async fn after_failure(&mut self, error: Error, side: &Client) -> Result<Retry, Error> {
        self.attempts += 1;
        if error.sqlstate() != Some(LOCK_NOT_AVAILABLE) {
            return Err(error);
        }
        let blockers = catalog::blockers(side, self.relation)
            .await
            .unwrap_or_default();
        let wait = backoff(self.attempts);
        if self.started.elapsed() + wait > self.policy.budget {
            tracing::debug!(%error, step = self.step, "lock retry budget spent");
            return Err(Error::LockBudget {
                step: self.step.to_owned(),
                attempts: self.attempts,
                seconds: self.started.elapsed().as_secs_f64(),
                blockers,
            });
        }
        Ok(Retry {
            attempt: self.attempts,
            wait,
            blockers,
        })
    }
}

/// 100ms doubling per attempt up to 5s, each wait drawn from 50%..150% of that, so several
/// runners retrying against the same blocker do not fall into step.
fn backoff(attempt: u32) -> Duration {
    let base = Duration::from_millis(100)
        .saturating_mul(1 << attempt.min(6))
        .min(Duration::from_secs(5));
    base.mul_f64(0.5 + fastrand::f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        for attempt in 1..20 {
            let wait = backoff(attempt);
            let base = Duration::from_millis(100)
                .saturating_mul(1 << attempt.min(6))
                .min(Duration::from_secs(5));
            assert!(
                wait >= base.mul_f64(0.5) && wait <= base.mul_f64(1.5),
                "{attempt}: {wait:?}"
            );
        }
        assert!(backoff(30) <= Duration::from_millis(7500));
    }

    #[test]
    fn scanning_statements_get_no_statement_timeout() {
        let policy = DdlPolicy {
            lock_timeout: Duration::from_secs(2),
            budget: Duration::from_secs(60),
            index_workers: 0,
        };
        assert_eq!(
            transaction_settings(&policy, false),
            "SET LOCAL lock_timeout = '2000ms'; SET LOCAL statement_timeout = '60000ms'; SET LOCAL max_parallel_maintenance_workers = 0"
        );
        assert!(transaction_settings(&policy, true).contains("statement_timeout = '0';"));
    }
}
