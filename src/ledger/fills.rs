//! The values fills overwrite: a backfill that fills NULLs (set_not_null) or values that break
//! a check (add_check) records each row's key, and the old value where there was one, in the
//! batch's transaction before it writes; abort puts them back on rows that still hold the
//! filled value.

use super::Ledger;
use crate::error::Error;
use crate::pg::facts::TableKey;
use crate::pg::query::Query;
use crate::pg::quote;
use crate::plan::step::{Job, Records};

/// The key's columns as text, in key order.
fn key_text(key: &TableKey) -> String {
    key.columns
        .iter()
        .map(|c| format!("{}::text", quote::ident(&c.name)))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Ledger {
    /// Records the rows of `window` (a condition over the job's table) that `job`'s fills are
    /// about to overwrite. Run in the batch's transaction, before its UPDATE.
    pub async fn record_fills(
        &self,
        txn: &impl Query,
        plan: &str,
        job: &Job,
        key: &TableKey,
        window: &str,
    ) -> Result<(), Error> {
        for a in &job.assignments {
            let (old_value, rows) = match &a.records {
                Records::Nothing => continue,
                Records::Nulls => (
                    "NULL".to_owned(),
                    format!("{} IS NULL", quote::ident(&a.column)),
                ),
                Records::OldValues { .. } => (
                    format!("{}::text", quote::ident(&a.column)),
                    a.when.clone().unwrap_or_else(|| "true".into()),
                ),
            };
            txn.exec(
                &format!(
                    "INSERT INTO {fills} (plan_id, column_name, key, old_value) SELECT $1, $2, ARRAY[{text}], {old_value} FROM {rel} WHERE {window} AND ({rows}) ON CONFLICT DO NOTHING",
                    fills = self.table("fills"),
                    text = key_text(key),
                    rel = job.relation,
                ),
                &[&plan, &a.column],
            )
            .await
            .map_err(Error::sql(format!("record the values the fill of {} overwrites", a.column)))?;
        }
        Ok(())
    }

    /// Statements that put back what `job`'s fills overwrote (NULLs, or the recorded old
    /// values), on rows that still hold the filled value. For abort.
    pub fn restore_fills_sql(&self, plan: &str, job: &Job) -> Result<Vec<String>, Error> {
        let recorded: Vec<_> = job
            .assignments
            .iter()
            .filter(|a| a.records != Records::Nothing)
            .collect();
        if recorded.is_empty() {
            return Ok(Vec::new());
        }
        let key = job.key.as_ref().ok_or_else(|| {
            Error::Refused(format!(
                "put back the values filled in {}: the plan's facts name no key for it",
                job.relation
            ))
        })?;
        // The recorded text is cast to the key's type, so the key's index finds each row.
        let row = key
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                format!(
                    "t.{} = f.key[{}]::{}",
                    quote::ident(&c.name),
                    i + 1,
                    c.sql_type
                )
            })
            .collect::<Vec<_>>()
            .join(" AND ");
        Ok(recorded
            .into_iter()
            .map(|a| {
                let column = quote::ident(&a.column);
                let old = match &a.records {
                    Records::OldValues { sql_type } => format!("f.old_value::{sql_type}"),
                    Records::Nulls | Records::Nothing => "NULL".to_owned(),
                };
                format!(
                    "UPDATE {table} AS t SET {column} = {old}\n  FROM {fills} AS f\n  WHERE f.plan_id = {plan} AND f.column_name = {name} AND {row}\n    AND t.{column} IS NOT DISTINCT FROM ({value})",
                    table = job.relation,
                    fills = self.table("fills"),
                    plan = quote::literal(plan),
                    name = quote::literal(&a.column),
                    value = a.value
                )
            })
            .collect())
    }
}
