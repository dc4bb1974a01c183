//! `switchback archive`: what contract kept instead of destroying, with its size and when
//! its retention runs out, and the purge that drops it for good. Retention is enforced only
//! by an explicit purge: nothing disappears on its own while an operator looks away.

use crate::error::Error;
use crate::ledger::{ArchiveRow, Ledger};
use crate::pg::query::Query;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// One archive with what the catalog says of it now.
#[derive(Debug, Clone, Serialize)]
pub struct Archive {
    #[serde(flatten)]
    pub row: ArchiveRow,
    /// Bytes on disk (with indexes and partitions); None once purged, or when it is gone.
    pub bytes: Option<i64>,
    pub expired: bool,
}

/// Which archives a purge drops.
#[derive(Debug, Clone)]
pub enum Purge {
    /// Those whose retention has run out.
    Expired,
    /// Those named: a plan id (all of its archives), what was removed (`public.users.nickname`
    /// or `users.nickname`), or the relation that keeps it.
    Named(Vec<String>),
}

/// Every archive (purged ones included), or those of `plan`.
pub async fn list(
    client: &impl Query,
    ledger: &Ledger,
    plan: Option<&str>,
) -> Result<Vec<Archive>, Error> {
    if !ledger.exists(client).await? {
        return Ok(Vec::new());
    }
    let now = server_now(client).await?;
    let mut out = Vec::new();
    for row in ledger.archives(client, plan).await? {
        let bytes = match row.purged_at {
            Some(_) => None,
            None => crate::pg::archive::size(client, &row.kept_in).await?,
        };
        out.push(Archive {
            expired: row.purged_at.is_none() && row.expired(now),
            row,
            bytes,
        });
    }
    Ok(out)
}

/// Drops what `which` names and marks it purged; returns what was purged. A name that
/// matches no unpurged archive is refused before anything is dropped.
pub async fn purge(
    client: &mut tokio_postgres::Client,
    ledger: &Ledger,
    which: &Purge,
) -> Result<Vec<ArchiveRow>, Error> {
    let kept: Vec<Archive> = list(&*client, ledger, None)
        .await?
        .into_iter()
        .filter(|a| a.row.purged_at.is_none())
        .collect();
    let chosen: Vec<&Archive> = match which {
        Purge::Expired => kept.iter().filter(|a| a.expired).collect(),
        Purge::Named(names) => {
            let unknown: Vec<&String> = names
                .iter()
                .filter(|n| !kept.iter().any(|a| matches(&a.row, n)))
                .collect();
            if !unknown.is_empty() {
                let list: Vec<String> = unknown.iter().map(|n| format!("`{n}`")).collect();
                return Err(Error::Refused(format!(
                    "purge: nothing kept in the archive is named {}; `switchback archive` lists what is",
                    list.join(", ")
                )));
            }
            kept.iter()
                .filter(|a| names.iter().any(|n| matches(&a.row, n)))
                .collect()
        }
    };
    let mut purged = Vec::new();
    for archive in chosen {
        ledger
            .purge_archive(
                client,
                &archive.row,
                &crate::pg::archive::purge(&archive.row.kept_in),
            )
            .await?;
        purged.push(archive.row.clone());
    }
    Ok(purged)
}

/// Whether `name` names this archive: its plan, what was removed (with or without the
/// schema), or the relation that keeps it (quoted or not).
fn matches(row: &ArchiveRow, name: &str) -> bool {
    let unquoted = row.kept_in.replace('"', "");
    let without_schema = row.object.split_once('.').map_or("", |(_, rest)| rest);
    [
        row.plan.as_str(),
        row.object.as_str(),
        without_schema,
        row.kept_in.as_str(),
        unquoted.as_str(),
        unquoted.rsplit('.').next().unwrap_or_default(),
    ]
    .contains(&name)
}

async fn server_now(client: &impl Query) -> Result<DateTime<Utc>, Error> {
    Ok(client
        .fetch_one("SELECT now()", &[])
        .await
        .map_err(Error::sql("read the server's clock"))?
        .get(0))
}
