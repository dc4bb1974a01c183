//! The check before contract: nothing the application runs may still use what contract
//! removes. The commonest contract accident is running it while a copy of the old application
//! still runs; pg_stat_statements shows its statements. A statement seen running within the
//! window refuses contract at once, naming it; one that ran since the last sample older than
//! the window, but not since, is waited out: contract starts once a whole window has passed
//! without any of them. `--force` with a reason overrides, and is recorded.

use super::{Event, Executor};
use crate::error::Error;
use crate::ledger::{usage_clock, Sample, UseCheck};
use crate::pg::facts::Facts;
use crate::plan::Plan;
use std::time::Duration;

impl Executor<'_> {
    /// Keeps the counts as the expand stage finishes: what contract compares with.
    pub(super) async fn sample_at_gate(&self, plan: &Plan, facts: &Facts) -> Result<(), Error> {
        let check = self
            .ledger
            .statement_use(
                &self.client,
                plan,
                facts,
                self.options.unused_for,
                Sample::Keep,
            )
            .await?;
        if let Some(UseCheck::Unchecked(why)) = check {
            self.reporter.report(&Event::UseUnchecked {
                plan: plan.id.clone(),
                why,
            });
        }
        Ok(())
    }

    /// Returns when contract may start: nothing has used what it removes for a whole window,
    /// pg_stat_statements cannot tell, or `--force` says so. Refuses while a statement that
    /// uses it runs.
    pub(super) async fn await_unused(&mut self, plan: &Plan, facts: &Facts) -> Result<(), Error> {
        let window = self.options.unused_for;
        let poll = (window / 4).clamp(Duration::from_millis(200), Duration::from_secs(5));
        let mut waiting = false;
        loop {
            self.check_lease(&plan.id)?;
            let check = self
                .ledger
                .statement_use(&self.client, plan, facts, window, Sample::Keep)
                .await?;
            let usage = match check {
                None => return Ok(()),
                Some(UseCheck::Unchecked(why)) => {
                    self.reporter.report(&Event::UseUnchecked {
                        plan: plan.id.clone(),
                        why,
                    });
                    return Ok(());
                }
                Some(UseCheck::Checked(usage)) => usage,
            };
            if let Some(reason) = &self.options.force {
                self.ledger
                    .record_forced_contract(&self.client, &plan.id, reason, &usage.statements)
                    .await?;
                self.reporter.report(&Event::ContractForced {
                    plan: plan.id.clone(),
                    reason: reason.clone(),
                    statements: usage.statements.len(),
                });
                return Ok(());
            }
            if usage.unused_for(window) {
                self.reporter.report(&Event::Unused {
                    plan: plan.id.clone(),
                    since: usage.since.map(usage_clock),
                    hidden: usage.hidden,
                });
                return Ok(());
            }
            let running = usage.running_within(window);
            if !running.is_empty() {
                return Err(Error::InUse {
                    plan: plan.id.clone(),
                    window: crate::plan::duration::format(window),
                    statements: running.iter().map(|s| usage.describe(s)).collect(),
                });
            }
            if !waiting {
                waiting = true;
                self.reporter.report(&Event::WaitingUntilUnused {
                    plan: plan.id.clone(),
                    statements: usage.statements.iter().map(|s| usage.describe(s)).collect(),
                    window: crate::plan::duration::format(window),
                });
            }
            tokio::time::sleep(poll).await;
        }
    }
}
