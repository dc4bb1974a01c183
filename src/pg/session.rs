//! Settings a batch's transaction takes with `SET LOCAL`, and whether the server lets this
//! session take them. A setting that a role may not set, or that a server does not know,
//! must not fail the first batch of a long backfill: it is tried once per session, in a
//! transaction that is rolled back, and the batches go without it when refused.

use crate::error::Error;
use crate::pg::query::Query;
use tokio_postgres::Client;

/// Has the kernel start writing the pages this transaction's backend evicts every 256kB
/// (PostgreSQL's own default for the checkpointer), instead of leaving them in its page cache.
/// A backfill dirties the whole table. Left to the kernel, those pages pile up until its dirty
/// threshold or a checkpoint's fsync writes gigabytes at once, and every other session's
/// commit waits behind that burst for its WAL flush (at 10M rows the old application's worst
/// statement during the backfill went from 154–176 ms to 43–68 ms with this set). The pages
/// are written either way: this spreads them over the backfill.
pub const WRITE_BACK: &str = "SET LOCAL backend_flush_after = '256kB'";

/// Whether the session may run `set_local`: false when the server refuses it with one of the
/// SQLSTATEs in `refusals`; any other error is an error.
pub async fn accepts(
    client: &mut Client,
    set_local: &str,
    refusals: &[&str],
) -> Result<bool, Error> {
    let context = || format!("try {set_local}");
    let txn = client.transaction().await.map_err(Error::sql(context()))?;
    let accepted = match txn.batch_execute(set_local).await {
        Ok(()) => true,
        Err(e) if e.code().is_some_and(|c| refusals.contains(&c.code())) => {
            let reason = e.as_db_error().map_or("", |d| d.message());
            tracing::debug!(reason, "{set_local}: refused, going without it");
            false
        }
        Err(e) => return Err(Error::sql(context())(e)),
    };
    txn.rollback().await.map_err(Error::sql(context()))?;
    Ok(accepted)
}

/// Has PostgreSQL compress the whole pages this transaction writes to the WAL. The first
/// change to a page after a checkpoint writes the page whole, and a backfill changes every
/// page of the table. Measured on 1M rows, the expand stage wrote 508 MB with lz4 instead of
/// 585 MB: WAL that every standby replays, every archive keeps and the other sessions'
/// commits flush. Its cost in CPU did not show in the backfill's speed. An index build writes
/// nothing but whole pages; it runs outside a transaction and takes `COMPRESS_SESSION` (the
/// stage's WAL then 493 MB).
pub const COMPRESS: &str = "SET LOCAL wal_compression = lz4";

/// `COMPRESS` for the session, around a statement that cannot run in a transaction.
pub const COMPRESS_SESSION: &str = "SET wal_compression = lz4";

const UNDEFINED_OBJECT: &str = "42704";
pub const INSUFFICIENT_PRIVILEGE: &str = "42501";
const INVALID_PARAMETER_VALUE: &str = "22023";

/// The settings of `WRITE_BACK` and `COMPRESS` that this session's batches can take.
/// `WRITE_BACK` only for batches that `write` rows: the verification pass dirties pages too
/// (hint bits), but in bursts it moves through too fast to spread; measured, it made the
/// writer's p99 worse. A server built without the means to ask the kernel, or a service that
/// hides the setting, runs them without it. `COMPRESS` where `may_compress`.
pub async fn for_batches(client: &mut Client, write: bool) -> Result<Vec<&'static str>, Error> {
    let mut settings = Vec::new();
    if write
        && accepts(
            client,
            WRITE_BACK,
            &[
                UNDEFINED_OBJECT,
                INSUFFICIENT_PRIVILEGE,
                INVALID_PARAMETER_VALUE,
            ],
        )
        .await?
    {
        settings.push(WRITE_BACK);
    }
    if may_compress(client).await? {
        settings.push(COMPRESS);
    }
    Ok(settings)
}

/// Whether the session may take `COMPRESS`: a role that may set it (a superuser, or one
/// granted `SET ON PARAMETER wal_compression`) on a server with lz4 (PostgreSQL 15 and later,
/// built with it) whose WAL is not compressed already: a server or database that compresses
/// it keeps its own method.
pub async fn may_compress(client: &mut Client) -> Result<bool, Error> {
    let compressing: String = client
        .fetch_one("SELECT current_setting('wal_compression')", &[])
        .await
        .map_err(Error::sql("read wal_compression"))?
        .get(0);
    Ok(compressing == "off"
        && accepts(
            client,
            COMPRESS,
            &[INSUFFICIENT_PRIVILEGE, INVALID_PARAMETER_VALUE],
        )
        .await?)
}
