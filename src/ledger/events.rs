//! The event log: step transitions, stage changes and release managers' actions, each with
//! its time and actor.

use super::Ledger;
use crate::error::Error;
use crate::pg::query::Query;

#[derive(Debug, Clone, serde::Serialize)]
pub struct EventRow {
    pub at: String,
    pub plan: Option<String>,
    pub step: Option<String>,
    pub actor: String,
    pub kind: String,
    pub detail: String,
}

impl Ledger {
    pub(super) async fn event(
        &self,
        client: &impl Query,
        plan: &str,
        step: Option<&str>,
        kind: &str,
        detail: &str,
    ) -> Result<(), Error> {
        client
            .exec(
                &format!("INSERT INTO {} (plan_id, step, actor, kind, detail) VALUES ($1, $2, $3, $4, $5)", self.table("events")),
                &[&plan, &step, &self.actor, &kind, &detail],
            )
            .await
            .map_err(Error::sql("record an event"))?;
        Ok(())
    }

    /// The event log, oldest first.
    pub async fn history(
        &self,
        client: &impl Query,
        plan: Option<&str>,
    ) -> Result<Vec<EventRow>, Error> {
        Ok(client
            .fetch(
                &format!("SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), plan_id, step, actor, kind, detail FROM {} WHERE $1::text IS NULL OR plan_id = $1 ORDER BY id", self.table("events")),
                &[&plan],
            )
            .await
            .map_err(Error::sql("read the event log"))?
            .iter()
            .map(|r| EventRow { at: r.get(0), plan: r.get(1), step: r.get(2), actor: r.get(3), kind: r.get(4), detail: r.get(5) })
            .collect())
    }
}
