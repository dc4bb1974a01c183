//! Who runs each plan: a lease row per plan instead of a session advisory lock. A transaction
//! pooler hands one server session to many clients, so a session lock neither keeps a second
//! runner out nor goes away with the runner; a row does both. The holder renews the lease
//! while it lives. On a direct connection it also records its server session, so a runner
//! killed with `kill -9` is replaced at once (its session is gone from pg_stat_activity)
//! rather than when the lease runs out.

use super::Ledger;
use crate::error::Error;
use crate::pg::query::Query;
use std::time::Duration;

/// The runner that holds a plan, as the busy error names it.
#[derive(Debug, Clone, PartialEq)]
pub struct Holder {
    pub holder: String,
    /// Seconds until the lease runs out unless renewed.
    pub expires_in: f64,
}

impl Ledger {
    /// Takes plan `id` for `holder` unless a live runner has it: its lease has not run out
    /// and (when it recorded one) its server session still exists. `direct` records this
    /// session, which only means something without a pooler in between. Returns the other
    /// runner when it is busy.
    pub async fn take_runner(
        &self,
        client: &impl Query,
        id: &str,
        holder: &str,
        lease: Duration,
        direct: bool,
    ) -> Result<Option<Holder>, Error> {
        let runners = self.table("runners");
        let lease_ms = lease.as_millis() as i64;
        let taken = client
            .fetch_opt(
                &format!(
                    "INSERT INTO {runners} AS r (plan_id, holder, backend_pid, backend_start, lease_until)
                     SELECT $1, $2, a.pid, a.backend_start, now() + $3 * interval '1 millisecond'
                       FROM (SELECT 1) one
                       LEFT JOIN pg_stat_activity a ON $4 AND a.pid = pg_backend_pid()
                     ON CONFLICT (plan_id) DO UPDATE
                        SET holder = excluded.holder, backend_pid = excluded.backend_pid,
                            backend_start = excluded.backend_start, lease_until = excluded.lease_until,
                            taken_at = now()
                      WHERE r.lease_until < now()
                         OR r.holder = excluded.holder
                         OR {}
                     RETURNING holder",
                    Ledger::session_gone("r")
                ),
                &[&id, &holder, &lease_ms, &direct],
            )
            .await
            .map_err(Error::sql(format!("take plan {id}")))?;
        if taken.is_some() {
            return Ok(None);
        }
        let row = client
            .fetch_opt(
                &format!("SELECT holder, extract(epoch FROM lease_until - now())::float8 FROM {runners} WHERE plan_id = $1"),
                &[&id],
            )
            .await
            .map_err(Error::sql(format!("find who runs plan {id}")))?;
        Ok(Some(row.map_or(
            Holder {
                holder: "another switchback".into(),
                expires_in: 0.0,
            },
            |r| Holder {
                holder: r.get(0),
                expires_in: r.get::<_, f64>(1).max(0.0),
            },
        )))
    }

    /// Extends `holder`'s lease; false when it is no longer the holder (its lease ran out
    /// and another runner took the plan).
    pub async fn renew_runner(
        &self,
        client: &impl Query,
        id: &str,
        holder: &str,
        lease: Duration,
    ) -> Result<bool, Error> {
        let renewed = client
            .exec(
                &format!("UPDATE {} SET lease_until = now() + $3 * interval '1 millisecond' WHERE plan_id = $1 AND holder = $2", self.table("runners")),
                &[&id, &holder, &(lease.as_millis() as i64)],
            )
            .await
            .map_err(Error::sql(format!("renew the lease on plan {id}")))?;
        Ok(renewed == 1)
    }

    pub async fn release_runner(
        &self,
        client: &impl Query,
        id: &str,
        holder: &str,
    ) -> Result<(), Error> {
        client
            .exec(
                &format!(
                    "DELETE FROM {} WHERE plan_id = $1 AND holder = $2",
                    self.table("runners")
                ),
                &[&id, &holder],
            )
            .await
            .map_err(Error::sql(format!("release plan {id}")))?;
        Ok(())
    }
}
