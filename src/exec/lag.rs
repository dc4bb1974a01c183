//! Replica replay lag, read before every batch so a backfill never outruns the replicas. Each
//! replica given by URL is asked directly (how long ago it replayed its last transaction,
//! while it has received WAL it has not replayed); without one, the primary's
//! `pg_stat_replication.replay_lag` is used. Lag that cannot be read counts as too much.

use crate::pg::connect;
use crate::pg::conninfo::ConnInfo;
use crate::pg::query::Query;
use tokio_postgres::Client;

pub struct LagProbe {
    replicas: Vec<(ConnInfo, Option<Client>)>,
    application: String,
}

impl LagProbe {
    pub fn new(replicas: &[ConnInfo], application: &str) -> LagProbe {
        LagProbe {
            replicas: replicas.iter().map(|info| (info.clone(), None)).collect(),
            application: application.to_owned(),
        }
    }

    /// Why the backfill must wait (the worst lag is over `max_seconds`, or unknown), or None.
    pub async fn check(&mut self, primary: &Client, max_seconds: f64) -> Option<String> {
        let mut worst: Option<(f64, String)> = None;
        if self.replicas.is_empty() {
            // A role without pg_read_all_stats sees each replica's row with every column but
            // the pid NULL: that is "cannot tell", never "no lag".
            let lag = primary
                .fetch_one(
                    "SELECT count(*) FILTER (WHERE state IS NULL), max(extract(epoch FROM replay_lag))::float8, current_user::text FROM pg_stat_replication",
                    &[],
                )
                .await
                .map(|r| (r.get::<_, i64>(0), r.get::<_, Option<f64>>(1), r.get::<_, String>(2)));
            match lag {
                Ok((hidden, _, role)) if hidden > 0 => {
                    return Some(format!(
                        "throttled: replica lag is hidden from role {role} ({hidden} replica(s) in pg_stat_replication); grant it pg_monitor (GRANT pg_monitor TO {}), or pass --replica-url for each replica; waiting",
                        crate::pg::quote::ident(&role)
                    ))
                }
                Ok((_, Some(seconds), _)) => worst = Some((seconds, "a replica".into())),
                Ok(_) => {}
                Err(e) => {
                    return Some(format!(
                    "throttled: cannot read replica lag from pg_stat_replication ({e}); waiting"
                ))
                }
            }
        }
        for (info, client) in &mut self.replicas {
            if client.is_none() {
                *client = connect::connect(info, &self.application).await.ok();
            }
            let name = info.to_string();
            let Some(replica) = client.as_ref() else {
                return Some(format!("throttled: cannot reach replica {name}; waiting"));
            };
            let lag = replica
                .fetch_one(
                    "SELECT CASE WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0
                                 ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0) END::float8",
                    &[],
                )
                .await;
            match lag {
                Ok(row) => {
                    let seconds: f64 = row.get(0);
                    if worst.as_ref().is_none_or(|(w, _)| seconds > *w) {
                        worst = Some((seconds, name));
                    }
                }
                Err(e) => {
                    *client = None;
                    return Some(format!(
                        "throttled: cannot read replica lag from {name} ({e}); waiting"
                    ));
                }
            }
        }
        match worst {
            Some((seconds, name)) if seconds > max_seconds => Some(format!(
                "throttled: replica lag {seconds:.1}s > {max_seconds:.0}s on {name}"
            )),
            _ => None,
        }
    }
}
