//! What contract kept instead of destroying: one row per archived table or column, written in
//! the transaction of the contract step that archives it, and marked when purged.

use super::Ledger;
use crate::error::Error;
use crate::pg::query::Query;
use crate::pg::quote;
use crate::plan::step::Archived;
use chrono::{DateTime, Utc};

/// One archive as the ledger keeps it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ArchiveRow {
    pub plan: String,
    pub change: i32,
    /// `table` or `column`.
    pub kind: String,
    /// What the plan removed: `public.users.nickname`.
    pub object: String,
    /// The relation that keeps it.
    pub kept_in: String,
    pub definition: serde_json::Value,
    pub archived_at: DateTime<Utc>,
    pub keep_until: DateTime<Utc>,
    pub purged_at: Option<DateTime<Utc>>,
    pub purged_by: Option<String>,
}

impl ArchiveRow {
    /// Whether its retention has run out at `now`.
    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        self.keep_until <= now
    }
}

impl Ledger {
    /// The statement, run first in the archiving step's transaction, that records `archived`
    /// with its definition read from the catalog before the step's DDL.
    pub fn record_archive_sql(&self, plan: &str, archived: &Archived) -> String {
        format!(
            "INSERT INTO {archives} (plan_id, change, kind, object, kept_in, definition, keep_until)
             VALUES ({plan}, {change}, {kind}, {object}, {kept_in}, {definition}, now() + {keep})
             ON CONFLICT (plan_id, change) DO NOTHING",
            archives = self.table("archives"),
            plan = quote::literal(plan),
            change = archived.change,
            kind = quote::literal(archived.kind.as_str()),
            object = quote::literal(&archived.object),
            kept_in = quote::literal(&archived.kept_in),
            definition = archived.definition_sql,
            keep = quote::literal(&format!("{} seconds", archived.keep.as_secs())) + "::interval",
        )
    }

    /// Every archive, purged ones included, oldest first; or those of `plan`.
    pub async fn archives(
        &self,
        client: &impl Query,
        plan: Option<&str>,
    ) -> Result<Vec<ArchiveRow>, Error> {
        let rows = client
            .fetch(
                &format!(
                    "SELECT plan_id, change, kind, object, kept_in, definition, archived_at, keep_until, purged_at, purged_by
                       FROM {} WHERE $1::text IS NULL OR plan_id = $1 ORDER BY archived_at, plan_id, change",
                    self.table("archives")
                ),
                &[&plan],
            )
            .await
            .map_err(Error::sql("read the archives"))?;
        Ok(rows
            .iter()
            .map(|r| ArchiveRow {
                plan: r.get(0),
                change: r.get(1),
                kind: r.get(2),
                object: r.get(3),
                kept_in: r.get(4),
                definition: r.get(5),
                archived_at: r.get(6),
                keep_until: r.get(7),
                purged_at: r.get(8),
                purged_by: r.get(9),
            })
            .collect())
    }

    /// Drops what `archive` keeps and marks it purged, in one transaction; the statement
    /// that drops it is the caller's (`drop`), run first.
    pub async fn purge_archive(
        &self,
        client: &mut tokio_postgres::Client,
        archive: &ArchiveRow,
        drop: &str,
    ) -> Result<(), Error> {
        let context = || format!("purge {} (kept in {})", archive.object, archive.kept_in);
        let txn = client.transaction().await.map_err(Error::sql(context()))?;
        txn.batch_execute(drop)
            .await
            .map_err(Error::sql(context()))?;
        txn.exec(
            &format!(
                "UPDATE {} SET purged_at = now(), purged_by = $3 WHERE plan_id = $1 AND change = $2",
                self.table("archives")
            ),
            &[&archive.plan, &archive.change, &self.actor],
        )
        .await
        .map_err(Error::sql(context()))?;
        self.event(
            &txn,
            &archive.plan,
            None,
            "archive purged",
            &format!("{} (kept in {})", archive.object, archive.kept_in),
        )
        .await?;
        txn.commit().await.map_err(Error::sql(context()))
    }
}
