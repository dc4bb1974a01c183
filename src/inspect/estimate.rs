//! Probes that read rows: NULLs a set_not_null would trip over, and a backfill's duration
//! estimated from one timed sample batch in a transaction that is rolled back.

use crate::error::Error;
use crate::pg::catalog;
use crate::pg::facts::TableKey;
use crate::pg::query::Query;
use crate::pg::quote;
use crate::plan::BackfillSettings;
use std::time::{Duration, Instant};
use tokio_postgres::Client;

/// Tables estimated above this many rows get their NULLs counted from a sample.
const EXACT_COUNT_ROWS: i64 = 1_000_000;
/// Rows the NULL-count sample reads, about.
const SAMPLE_ROWS: f64 = 100_000.0;

/// NULLs in `column`: exact, or (on large tables) scaled from a TABLESAMPLE, with a flag
/// saying which.
pub async fn nulls(client: &Client, relation: &str, column: &str) -> Result<(i64, bool), Error> {
    let context = || format!("count the NULLs of {relation}.{}", quote::ident(column));
    let rows = catalog::estimated_rows(client, relation).await?;
    let column = quote::ident(column);
    if rows <= EXACT_COUNT_ROWS {
        let count: i64 = client
            .fetch_one(
                &format!("SELECT count(*) FROM {relation} WHERE {column} IS NULL"),
                &[],
            )
            .await
            .map_err(Error::sql(context()))?
            .get(0);
        return Ok((count, true));
    }
    let percent = (SAMPLE_ROWS / rows as f64 * 100.0).clamp(0.01, 100.0);
    let row = client
        .fetch_one(
            &format!("SELECT count(*) FILTER (WHERE {column} IS NULL), count(*) FROM {relation} TABLESAMPLE SYSTEM ({percent})"),
            &[],
        )
        .await
        .map_err(Error::sql(context()))?;
    let (null, seen): (i64, i64) = (row.get(0), row.get(1));
    let scaled = if seen == 0 {
        0
    } else {
        (null as f64 * rows as f64 / seen as f64).round() as i64
    };
    Ok((scaled, false))
}

/// What one sample batch said about a table's backfill.
#[derive(Debug, Clone, Copy)]
pub struct BackfillEstimate {
    pub rows: i64,
    pub sample_rows: u64,
    pub sample_time: Duration,
    pub total: Duration,
}

/// Commit and bookkeeping a real batch pays that the rolled-back sample does not (the
/// ledger's cursor and counters, the WAL flush at commit).
const PER_BATCH_OVERHEAD: Duration = Duration::from_millis(3);

/// Times an UPDATE of the first `batch_size` rows of `key`'s table, in key order, rewriting one column to
/// itself (a new row version, as a backfill writes), inside a transaction that is rolled
/// back. `workers` sessions share the batches, each on a core of its own at best;
/// `max_rows_per_second` (0 = none) caps the rate of them all together.
pub async fn backfill(
    client: &mut Client,
    schema: &str,
    key: &TableKey,
    settings: &BackfillSettings,
    lock_timeout: Duration,
) -> Result<BackfillEstimate, Error> {
    let (batch_size, max_rows_per_second) = (settings.batch_size, settings.max_rows_per_second);
    let relation = quote::qualified(schema, &key.table);
    let context = || format!("time a sample batch of {relation}");
    let rows = catalog::estimated_rows(&*client, &relation).await?;
    let keys = quote::ident_list(
        &key.columns
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
    );
    // A column no index covers, so the sample's row versions are as HOT-eligible as the
    // backfill's; the key itself when every column is indexed.
    let column: String = client
        .fetch_one(
            "SELECT coalesce((SELECT attname::text FROM pg_attribute a
                               WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
                                 AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = a.attrelid AND a.attnum = ANY (i.indkey))
                               ORDER BY attnum LIMIT 1), $2)",
            &[&relation, &key.columns[0].name],
        )
        .await
        .map_err(Error::sql(context()))?
        .get(0);
    let column = quote::ident(&column);
    let txn = client.transaction().await.map_err(Error::sql(context()))?;
    txn.batch_execute(&format!(
        "SET TRANSACTION READ WRITE; SET LOCAL lock_timeout = '{}ms'; SET LOCAL statement_timeout = '60s'",
        lock_timeout.as_millis()
    ))
    .await
    .map_err(Error::sql(context()))?;
    // A key range, as the backfill's batches are; its upper end is found before timing.
    let offset = (batch_size.max(1) as i64).min(rows.max(1)) - 1;
    let bound = format!("(SELECT {keys} FROM {relation} ORDER BY {keys} OFFSET {offset} LIMIT 1)");
    let first: Option<String> = txn
        .fetch_opt(
            &format!(
                "SELECT row({keys})::text FROM {relation} ORDER BY {keys} OFFSET {offset} LIMIT 1"
            ),
            &[],
        )
        .await
        .map_err(Error::sql(context()))?
        .map(|r| r.get(0));
    let range = if first.is_some() {
        format!("WHERE ({keys}) <= {bound}")
    } else {
        String::new()
    };
    let started = Instant::now();
    let updated = txn
        .exec(
            &format!("UPDATE {relation} SET {column} = {column} {range}"),
            &[],
        )
        .await
        .map_err(Error::sql(context()))?;
    let sample_time = started.elapsed();
    txn.rollback().await.map_err(Error::sql(context()))?;
    let total = if updated == 0 {
        Duration::ZERO
    } else {
        let batches = (rows.max(0) as f64 / updated as f64).ceil();
        let per_batch = sample_time + PER_BATCH_OVERHEAD;
        let measured = per_batch.mul_f64(batches / f64::from(settings.workers.max(1)));
        let capped = if max_rows_per_second > 0 {
            Duration::from_secs_f64(rows.max(0) as f64 / max_rows_per_second as f64)
        } else {
            Duration::ZERO
        };
        measured.max(capped)
    };
    Ok(BackfillEstimate {
        rows,
        sample_rows: updated,
        sample_time,
        total,
    })
}
