//! Replica replay lag, looked at before every batch so a backfill never outruns the replicas.
//! Each replica given by URL is asked directly (how long ago it replayed its last transaction,
//! while it has received WAL it has not replayed); without one, the primary's
//! `pg_stat_replication.replay_lag` is used. Lag that cannot be read counts as too much.
//!
//! A reading under the limit stands for a second: reading `pg_stat_replication` took 0.6 ms,
//! over 1% of a 50 ms batch when done before each one, and a replica URL costs a round trip
//! per replica. A second is little against a limit counted in seconds, which the lag can only
//! overrun by what one second of batches writes. A reading over the limit is never reused: a
//! waiting backfill goes on as soon as the lag is back under it.

use crate::pg::connect;
use crate::pg::conninfo::ConnInfo;
use crate::pg::query::Query;
use std::time::{Duration, Instant};
use tokio_postgres::Client;

/// How long a reading under the limit stands.
const FRESH: Duration = Duration::from_secs(1);

/// The worst replay lag read, in seconds, and where (None: no replica has lag to report).
type Worst = Option<(f64, String)>;

pub struct LagProbe {
    replicas: Vec<(ConnInfo, Option<Client>)>,
    application: String,
    /// The last reading and when it was taken.
    last: Option<(Instant, Worst)>,
}

impl LagProbe {
    pub fn new(replicas: &[ConnInfo], application: &str) -> LagProbe {
        LagProbe {
            replicas: replicas.iter().map(|info| (info.clone(), None)).collect(),
            application: application.to_owned(),
            last: None,
        }
    }

    /// Why the backfill must wait (the worst lag is over `max_seconds`, or unknown), or None.
    pub async fn check(&mut self, primary: &Client, max_seconds: f64) -> Option<String> {
        let under = |worst: &Worst| worst.as_ref().is_none_or(|(s, _)| *s <= max_seconds);
        let fresh = self
            .last
            .as_ref()
            .filter(|(at, worst)| at.elapsed() < FRESH && under(worst));
        let worst = match fresh {
            Some((_, worst)) => worst.clone(),
            None => {
                self.last = None;
                let worst = match self.read(primary).await {
                    Ok(worst) => worst,
                    Err(reason) => return Some(reason),
                };
                self.last = Some((Instant::now(), worst.clone()));
                worst
            }
        };
        match worst {
            Some((seconds, name)) if seconds > max_seconds => Some(format!(
                "throttled: replica lag {seconds:.1}s > {max_seconds:.0}s on {name}"
            )),
            _ => None,
        }
    }

    /// The worst lag now, or why it cannot be told.
    async fn read(&mut self, primary: &Client) -> Result<Worst, String> {
        let mut worst: Worst = None;
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
                    return Err(format!(
                        "throttled: replica lag is hidden from role {role} ({hidden} replica(s) in pg_stat_replication); grant it pg_monitor (GRANT pg_monitor TO {}), or pass --replica-url for each replica; waiting",
                        crate::pg::quote::ident(&role)
                    ))
                }
                Ok((_, Some(seconds), _)) => worst = Some((seconds, "a replica".into())),
                Ok(_) => {}
                Err(e) => {
                    return Err(format!(
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
                return Err(format!("throttled: cannot reach replica {name}; waiting"));
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
                    return Err(format!(
                        "throttled: cannot read replica lag from {name} ({e}); waiting"
                    ));
                }
            }
        }
        Ok(worst)
    }
}
