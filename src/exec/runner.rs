//! One runner per plan, and what it checks before its first statement. The hold is a lease
//! row in the ledger (it holds across the sessions a transaction pooler shares), renewed on a
//! connection of its own so a long statement never lets it lapse. Admission refuses what
//! would fail half-way: a missing grant, or a pooler that keeps a CONCURRENTLY build from
//! running without the role's statement_timeout.

use super::Executor;
use crate::error::Error;
use crate::pg::{connect, ddl, privileges};
use crate::plan::step::Step;
use crate::plan::Plan;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A held plan: the task renewing the lease, and whether it was lost.
pub(super) struct Lease {
    renewer: tokio::task::JoinHandle<()>,
    lost: Arc<AtomicBool>,
}

impl Executor<'_> {
    /// Takes plan `id` for this runner (creating the ledger first), or waits for or names
    /// the runner that has it; then renews the lease on a connection of its own, so a long
    /// statement on the main connection never lets it lapse.
    pub(super) async fn lock_plan(&mut self, id: &str) -> Result<(), Error> {
        self.ledger.ensure(&mut self.client).await?;
        // Connected before the plan is taken, so a failure here leaves no lease behind.
        let client = connect::connect(&self.info, &self.options.application).await?;
        let lease = self.options.runner_lease;
        let direct = self.pooled.is_none();
        while let Some(other) = self
            .ledger
            .take_runner(&self.client, id, &self.runner, lease, direct)
            .await?
        {
            if !self.options.wait {
                return Err(Error::PlanBusy {
                    plan: id.to_owned(),
                    holder: other.holder,
                    expires_in: other.expires_in,
                });
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let lost = Arc::new(AtomicBool::new(false));
        let (ledger, plan, runner, flag) = (
            self.ledger.clone(),
            id.to_owned(),
            self.runner.clone(),
            lost.clone(),
        );
        let renewer = tokio::spawn(async move {
            loop {
                tokio::time::sleep(lease / 3).await;
                match ledger.renew_runner(&client, &plan, &runner, lease).await {
                    Ok(true) => {}
                    Ok(false) => {
                        flag.store(true, Ordering::SeqCst);
                        return;
                    }
                    // Tried again at the next tick; the lease outlasts two missed renewals.
                    Err(error) => tracing::warn!(%error, "failed to renew the plan's lease"),
                }
            }
        });
        self.lease = Some(Lease { renewer, lost });
        Ok(())
    }

    pub(super) async fn unlock_plan(&mut self, id: &str) {
        if let Some(lease) = self.lease.take() {
            lease.renewer.abort();
        }
        let _ = self
            .ledger
            .release_runner(&self.client, id, &self.runner)
            .await;
    }

    /// Refuses to go on once another runner has taken the plan over (this one's lease ran
    /// out, say while the network was down).
    pub(super) fn check_lease(&self, id: &str) -> Result<(), Error> {
        match &self.lease {
            Some(lease) if lease.lost.load(Ordering::SeqCst) => Err(Error::Refused(format!(
                "go on with plan {id}: this runner's lease ran out and another runner took the plan over"
            ))),
            _ => Ok(()),
        }
    }

    /// Before the first statement of a stage: what would fail half-way is refused now. A
    /// privilege the role lacks (on the archive schema too, when contract keeps something); and, behind a transaction pooler where no SET lasts, a
    /// role-level statement_timeout that would cancel a CONCURRENTLY build part-way (such a
    /// statement cannot run in a transaction, so it gets only the session's settings).
    /// `archives`: whether any step of the plan (of either stage) keeps something in the
    /// archive schema, whose privileges are then checked from the first stage on.
    pub(super) async fn admit(
        &self,
        plan: &Plan,
        steps: &[&Step],
        archives: bool,
    ) -> Result<(), Error> {
        let mut problems = privileges::missing(
            &self.client,
            &crate::plan::step::relation_uses(steps.iter().copied()),
        )
        .await?;
        if archives {
            problems.extend(privileges::archive(&self.client, crate::plan::archive::SCHEMA).await?);
        }
        problems.extend(crate::ledger::record::problem(&self.client, plan).await?);
        if !problems.is_empty() {
            return Err(Error::Refused(format!(
                "run plan {}: {}",
                plan.id,
                problems.join("; ")
            )));
        }
        let Some(why) = &self.pooled else {
            return Ok(());
        };
        let statements = steps
            .iter()
            .flat_map(|s| &s.statements)
            .map(|s| s.sql.as_str());
        match ddl::timeout_outside_transaction(&self.client, statements).await? {
            None => Ok(()),
            Some((statement, timeout)) => Err(Error::Refused(format!(
                "run plan {}: `{statement}` must run outside a transaction, and the role's statement_timeout ({timeout}) would cancel it; through this connection no session setting lasts, because a pooler or proxy is in between ({why}). Connect directly or through a session-mode pool, or set statement_timeout to 0 for the role (ALTER ROLE {} SET statement_timeout = 0)",
                plan.id,
                crate::pg::quote::ident(&self.info.user),
            ))),
        }
    }
}
