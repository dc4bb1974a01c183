//! Whether the application still uses what a plan's contract stage removes, from
//! pg_stat_statements. The view has call counts but no times, so the ledger keeps samples of
//! the counts of the statements that name a removed table or column: one when the expand
//! stage finishes, and one per check `advance` makes at the gate. A statement whose count
//! differs from the sample taken at least `window` ago ran since; the newest sample that saw
//! a different count says when it was last seen. `validate` and `status` compare without
//! writing a sample.

use super::Ledger;
use crate::error::Error;
use crate::pg::facts::Facts;
use crate::pg::query::Query;
use crate::pg::statements::{self, Statement};
use crate::plan::sql::usage;
use crate::plan::Plan;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::time::Duration;

/// How long nothing may have used what contract removes before it starts, unless told.
pub const DEFAULT_UNUSED_FOR: Duration = Duration::from_secs(60);

/// Whether a check keeps its reading as a sample: `advance` does, at the gate and at each
/// check before contract; `validate` and `status` only read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sample {
    Keep,
    Peek,
}

/// What a check of pg_stat_statements found.
#[derive(Debug, Clone)]
pub enum UseCheck {
    /// It cannot be read here, and why.
    Unchecked(String),
    Checked(Usage),
}

/// The statements that used what contract removes, since the sample compared with.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Usage {
    /// When the counts were read (the server's clock).
    pub at: DateTime<Utc>,
    /// When the sample compared with was taken; None when there was none yet, and then every
    /// statement pg_stat_statements holds counts (since it was last reset).
    pub since: Option<DateTime<Utc>>,
    pub statements: Vec<StatementUse>,
    /// Statements of other roles whose text this role may not read (it lacks
    /// pg_read_all_stats): they may use what contract removes, unseen.
    pub hidden: usize,
}

/// One statement that used what contract removes.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StatementUse {
    pub text: String,
    pub role: String,
    /// Calls since `Usage::since`.
    pub calls: i64,
    /// What it uses: "`users`.`name` (renamed to `full_name`)".
    pub uses: Vec<String>,
    /// It ran after this sample was taken (the newest that saw another count), and by `at`.
    pub ran_after: Option<DateTime<Utc>>,
}

impl Usage {
    /// The statements seen running within `window` before `at`: still in use, beyond doubt.
    /// The others ran at some point since `since`, which may be long ago.
    pub fn running_within(&self, window: Duration) -> Vec<&StatementUse> {
        let cutoff = self.at - chrono::Duration::from_std(window).unwrap_or_default();
        self.statements
            .iter()
            .filter(|s| s.ran_after.is_some_and(|after| after >= cutoff))
            .collect()
    }

    /// Whether nothing has used what contract removes since a sample at least `window` old.
    pub fn unused_for(&self, window: Duration) -> bool {
        let cutoff = self.at - chrono::Duration::from_std(window).unwrap_or_default();
        self.statements.is_empty() && self.since.is_some_and(|since| since <= cutoff)
    }

    /// One line for a statement: its text, who ran it, how often and when, what it uses.
    pub fn describe(&self, statement: &StatementUse) -> String {
        let since = self
            .since
            .map_or("since pg_stat_statements was reset".into(), |s| {
                format!("since {}", clock(s))
            });
        let seen = statement.ran_after.map_or(String::new(), |after| {
            format!(
                ", last seen between {} and {}",
                clock(after),
                clock(self.at)
            )
        });
        format!(
            "`{}` (role {}, {} call(s) {since}{seen}) uses {}",
            statement
                .text
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
            statement.role,
            statement.calls,
            statement.uses.join(", ")
        )
    }
}

/// The server's clock as the checks print it: `HH:MM:SS UTC`.
pub fn clock(at: DateTime<Utc>) -> String {
    at.format("%H:%M:%S UTC").to_string()
}

/// One sample: calls by statement key.
struct Counts {
    at: DateTime<Utc>,
    calls: BTreeMap<String, i64>,
}

/// pg_stat_statements' key within one database: the statement and the role.
fn key(statement: &Statement) -> String {
    format!("{}:{}", statement.queryid, statement.role)
}

impl Ledger {
    /// Reads pg_stat_statements and compares the statements that use what `plan`'s contract
    /// removes (leaving out the changes its facts skip) with the newest sample taken at least
    /// `window` ago (or the oldest, when all are younger). `Keep` keeps this reading as a
    /// sample, and forgets the samples older than the one compared with, except the first.
    /// None when the contract removes nothing.
    pub async fn statement_use(
        &self,
        client: &impl Query,
        plan: &Plan,
        facts: &Facts,
        window: Duration,
        sample: Sample,
    ) -> Result<Option<UseCheck>, Error> {
        let removed = plan.removed(|i| facts.is_skipped(i));
        if removed.is_empty() {
            return Ok(None);
        }
        let read = match statements::read(client).await? {
            Ok(read) => read,
            Err(why) => return Ok(Some(UseCheck::Unchecked(why))),
        };
        let hidden = read.statements.iter().filter(|s| s.text.is_none()).count();
        let using: Vec<(&Statement, Vec<usize>)> = read
            .statements
            .iter()
            .filter_map(|s| {
                let uses = usage::uses(s.text.as_deref()?, plan.schema.as_str(), &removed);
                (!uses.is_empty()).then_some((s, uses))
            })
            .collect();
        let samples = self.samples(client, &plan.id).await?;
        let cutoff = read.at - chrono::Duration::from_std(window).unwrap_or_default();
        let reference = samples
            .iter()
            .rev()
            .find(|s| s.at <= cutoff)
            .or(samples.first());
        let mut found = Vec::new();
        for (statement, uses) in &using {
            let key = key(statement);
            let before = reference.map(|r| r.calls.get(&key).copied());
            let calls = match before {
                None | Some(None) => statement.calls,
                Some(Some(before)) if before == statement.calls => continue,
                Some(Some(before)) if statement.calls > before => statement.calls - before,
                // Fewer calls than before: the counts were reset, and it ran again since.
                Some(Some(_)) => statement.calls,
            };
            found.push(StatementUse {
                text: statement.text.clone().unwrap_or_default(),
                role: statement.role.clone(),
                calls,
                uses: uses.iter().map(|&i| removed[i].describe()).collect(),
                ran_after: samples
                    .iter()
                    .rev()
                    .find(|s| s.calls.get(&key) != Some(&statement.calls))
                    .map(|s| s.at),
            });
        }
        found.sort_by(|a, b| b.ran_after.cmp(&a.ran_after).then(b.calls.cmp(&a.calls)));
        if sample == Sample::Keep {
            let calls: BTreeMap<String, i64> =
                using.iter().map(|(s, _)| (key(s), s.calls)).collect();
            self.keep_sample(client, &plan.id, read.at, &calls, &samples, reference)
                .await?;
        }
        Ok(Some(UseCheck::Checked(Usage {
            at: read.at,
            since: reference.map(|r| r.at),
            statements: found,
            hidden,
        })))
    }

    async fn samples(&self, client: &impl Query, plan: &str) -> Result<Vec<Counts>, Error> {
        let rows = client
            .fetch(
                &format!(
                    "SELECT taken_at, calls FROM {} WHERE plan_id = $1 ORDER BY taken_at",
                    self.table("usage_samples")
                ),
                &[&plan],
            )
            .await
            .map_err(Error::sql("read the samples of pg_stat_statements"))?;
        Ok(rows
            .iter()
            .map(|row| Counts {
                at: row.get(0),
                calls: serde_json::from_value(row.get(1)).unwrap_or_default(),
            })
            .collect())
    }

    async fn keep_sample(
        &self,
        client: &impl Query,
        plan: &str,
        at: DateTime<Utc>,
        calls: &BTreeMap<String, i64>,
        samples: &[Counts],
        reference: Option<&Counts>,
    ) -> Result<(), Error> {
        let calls = serde_json::to_value(calls).unwrap_or_default();
        client
            .exec(
                &format!(
                    "INSERT INTO {} (plan_id, taken_at, calls) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    self.table("usage_samples")
                ),
                &[&plan, &at, &calls],
            )
            .await
            .map_err(Error::sql("keep a sample of pg_stat_statements"))?;
        if let (Some(first), Some(reference)) = (samples.first(), reference) {
            client
                .exec(
                    &format!(
                        "DELETE FROM {} WHERE plan_id = $1 AND taken_at > $2 AND taken_at < $3",
                        self.table("usage_samples")
                    ),
                    &[&plan, &first.at, &reference.at],
                )
                .await
                .map_err(Error::sql("forget old samples of pg_stat_statements"))?;
        }
        Ok(())
    }
}

impl Ledger {
    /// Records that contract was started over statements still using what it removes.
    pub async fn record_forced_contract(
        &self,
        client: &impl Query,
        plan: &str,
        reason: &str,
        statements: &[StatementUse],
    ) -> Result<(), Error> {
        let texts: Vec<&str> = statements.iter().map(|s| s.text.as_str()).collect();
        let detail = format!(
            "{reason} ({} statement(s) still in use: {})",
            statements.len(),
            texts.join("; ")
        );
        self.event(client, plan, None, "contract forced", &detail)
            .await
    }
}
