//! The application's own triggers and rules that an UPDATE of a table fires, and whether
//! switchback's batches may leave them out. A backfill writes what no application wrote: an
//! `updated_at` trigger would stamp every row with the backfill's time, a version trigger
//! would make every edit the application has in flight look stale, an audit trigger would log
//! every row. Batches run with `session_replication_role = replica` where the role may set
//! it, which fires only what is marked `ENABLE ALWAYS` or `ENABLE REPLICA`. The dual-write
//! trigger's own `WHEN` clause skips the batches either way.

use crate::error::Error;
use crate::pg::query::Query;
use crate::pg::session;
use tokio_postgres::Client;

/// What keeps a transaction's writes from here on out of the triggers and rules that are
/// not `ENABLE ALWAYS`, once `Hooks::quiet` says the role may.
pub const QUIET: &str = "SET LOCAL session_replication_role = replica";

/// `sql` run quietly when `quiet`, with the transaction's later statements as before (DDL
/// among them fires event triggers, which the setting would leave out as well).
pub fn quietly(sql: String, quiet: bool) -> String {
    match quiet {
        true => format!("{QUIET}; {sql}; SET LOCAL session_replication_role = origin"),
        false => sql,
    }
}

/// When a trigger or rule fires (`pg_trigger.tgenabled`, `pg_rewrite.ev_enabled`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fires {
    /// The default: in ordinary sessions, not under `session_replication_role = replica`.
    Origin,
    /// `ENABLE ALWAYS`: in every session.
    Always,
    /// `ENABLE REPLICA`: only under `session_replication_role = replica`.
    Replica,
}

/// What a table's batches do about its application's triggers and rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hooks {
    /// The batches run with `session_replication_role = replica`.
    pub quiet: bool,
    /// Triggers and rules an UPDATE by the application fires that the batches do not.
    pub skipped: Vec<String>,
    /// Triggers and rules the batches fire, on every row they write.
    pub fired: Vec<String>,
    /// Why the batches cannot run quiet, when something fires that would not then.
    pub why: Option<String>,
}

/// How the batches that write `columns` of `relation` (quoted and qualified; a partitioned
/// table's partitions included) treat its triggers and rules, for the role of `client`.
pub async fn for_batches(
    client: &mut Client,
    relation: &str,
    columns: &[String],
) -> Result<Hooks, Error> {
    let hooks = on_update(&*client, relation).await?;
    let named = |wanted: &[Fires]| -> Vec<String> {
        hooks
            .iter()
            .filter(|(_, fires)| wanted.contains(fires))
            .map(|(name, _)| name.clone())
            .collect()
    };
    let replica_only = named(&[Fires::Replica]);
    // A foreign key's checks are triggers too: a column one takes part in (a fill of an
    // existing column) is written with them, or a fill could break the key for good.
    let keys = foreign_keys(&*client, relation, columns).await?;
    let may = may_run_quiet(client).await?;
    if may && replica_only.is_empty() && keys.is_empty() {
        return Ok(Hooks {
            quiet: true,
            skipped: named(&[Fires::Origin]),
            fired: named(&[Fires::Always]),
            why: None,
        });
    }
    let fired = named(&[Fires::Origin, Fires::Always]);
    let why = (!fired.is_empty()).then(|| {
        if !keys.is_empty() {
            format!("the columns they write take part in foreign key {}, whose checks must run", keys.join(", "))
        } else if !may {
            "the role may not set session_replication_role (a superuser may, or one granted `SET ON PARAMETER session_replication_role`, PostgreSQL 15 and later)".to_owned()
        } else {
            format!(
                "{} fire only under session_replication_role = replica (ENABLE REPLICA), so the batches cannot use it",
                replica_only.join(", ")
            )
        }
    });
    Ok(Hooks {
        quiet: false,
        skipped: replica_only,
        fired,
        why,
    })
}

/// The enabled triggers (not PostgreSQL's own for foreign keys, not switchback's) and rules
/// an UPDATE of the table or of one of its partitions fires, by name.
async fn on_update(client: &impl Query, relation: &str) -> Result<Vec<(String, Fires)>, Error> {
    let rows = client
        .fetch(
            // tgtype bit 16: fires on UPDATE; ev_type '2': an ON UPDATE rule.
            // pg_partition_tree has no row for a table that is not partitioned.
            "WITH tree AS (SELECT to_regclass($1) AS relid UNION SELECT relid FROM pg_partition_tree(to_regclass($1)))
             SELECT DISTINCT t.tgname::text, t.tgenabled::text FROM pg_trigger t JOIN tree ON t.tgrelid = tree.relid
              WHERE NOT t.tgisinternal AND t.tgenabled <> 'D' AND t.tgtype & 16 <> 0
                AND t.tgname NOT LIKE 'zz\\_switchback\\_%'
             UNION
             SELECT DISTINCT 'rule ' || r.rulename::text, r.ev_enabled::text FROM pg_rewrite r JOIN tree ON r.ev_class = tree.relid
              WHERE r.ev_type = '2' AND r.ev_enabled <> 'D'
             ORDER BY 1",
            &[&relation],
        )
        .await
        .map_err(Error::sql(format!("read the triggers on {relation}")))?;
    Ok(rows
        .iter()
        .map(|r| {
            let fires = match r.get::<_, String>(1).as_str() {
                "A" => Fires::Always,
                "R" => Fires::Replica,
                _ => Fires::Origin,
            };
            (r.get(0), fires)
        })
        .collect())
}

/// The foreign keys from or to the table (or its partitions) that one of `columns` takes
/// part in, by name.
async fn foreign_keys(
    client: &impl Query,
    relation: &str,
    columns: &[String],
) -> Result<Vec<String>, Error> {
    let rows = client
        .fetch(
            "WITH tree AS (SELECT to_regclass($1) AS relid UNION SELECT relid FROM pg_partition_tree(to_regclass($1))),
                  mine AS (SELECT a.attrelid, a.attnum FROM pg_attribute a JOIN tree ON a.attrelid = tree.relid
                            WHERE a.attname = ANY ($2::text[]))
             SELECT DISTINCT c.conname::text FROM pg_constraint c
              WHERE c.contype = 'f'
                AND (EXISTS (SELECT 1 FROM mine WHERE mine.attrelid = c.conrelid AND mine.attnum = ANY (c.conkey))
                  OR EXISTS (SELECT 1 FROM mine WHERE mine.attrelid = c.confrelid AND mine.attnum = ANY (c.confkey)))
              ORDER BY 1",
            &[&relation, &columns],
        )
        .await
        .map_err(Error::sql(format!("read the foreign keys on {relation}")))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Whether the session may set `session_replication_role`: tried in a transaction that is
/// rolled back, which holds for a superuser, a role granted `SET` on it, and the admin role of
/// a managed service that allows it by its own means.
async fn may_run_quiet(client: &mut Client) -> Result<bool, Error> {
    session::accepts(client, QUIET, &[session::INSUFFICIENT_PRIVILEGE]).await
}
