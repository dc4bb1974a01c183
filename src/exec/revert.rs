//! Revert: a completed plan taken back by a plan of its own (`<plan>.revert`), written from
//! the plan's stored definition and what its contract archived, and run by `advance` like any
//! other: expand puts back the old shape and its data while the newer application runs;
//! after the rollback deploy, contract removes the newer shape. Refused before anything
//! changes, with every reason, when the result could not be exact.

use super::{stored_plan, Executor};
use crate::error::Error;
use crate::ledger::Stage as LedgerStage;
use crate::plan::revert::{self, Kept, Left};
use crate::plan::Plan;
use std::path::Path;

impl Executor<'_> {
    /// The plan that reverts the completed plan `id`: the ledger's, once a revert has started
    /// (so a re-run resumes the same steps), or written now.
    pub async fn revert_plan(&mut self, id: &str) -> Result<Plan, Error> {
        let refused = |why: String| Error::Refused(format!("revert plan {id}: {why}"));
        if !self.ledger.exists(&self.client).await? {
            return Err(refused(
                "it has not run (this database has no switchback ledger)".into(),
            ));
        }
        let reverse_id = revert::id(id);
        match self.ledger.plan(&self.client, &reverse_id).await? {
            // An aborted revert is written again from what is archived now.
            Some(aborted) if aborted.stage == LedgerStage::Aborted => {
                self.ledger
                    .forget_aborted(&mut self.client, &reverse_id)
                    .await?;
            }
            Some(started) => return stored_plan(&started),
            None => {}
        }
        let row = self
            .ledger
            .plan(&self.client, id)
            .await?
            .ok_or_else(|| refused("it has not run".into()))?;
        if row.stage != LedgerStage::Completed {
            return Err(refused(format!(
                "it is {}, not completed; `switchback abort {id}` undoes a plan whose contract has not started",
                row.stage.as_str()
            )));
        }
        let plan = stored_plan(&row)?;
        let mut reasons = Vec::new();
        for other in self.ledger.plans(&self.client).await? {
            if other.id == id || other.stage == LedgerStage::Aborted {
                continue;
            }
            let Ok(later) = stored_plan(&other) else {
                continue;
            };
            let reverted = self
                .ledger
                .plan(&self.client, &revert::id(&other.id))
                .await?
                .is_some_and(|r| r.stage == LedgerStage::Completed);
            if later.depends_on.iter().any(|d| d.id == id) && !reverted {
                reasons.push(format!(
                    "plan {} depends on it and is {}; revert that one first",
                    other.id,
                    other.stage.as_str()
                ));
            }
        }
        let archives = self.ledger.archives(&self.client, Some(id)).await?;
        let purged: Vec<String> = archives
            .iter()
            .map(|a| match (&a.purged_at, &a.purged_by) {
                (Some(at), by) => format!(
                    "{} by {}",
                    at.format("%Y-%m-%d %H:%M UTC"),
                    by.as_deref().unwrap_or("someone")
                ),
                (None, _) => String::new(),
            })
            .collect();
        let kept = |change: usize| {
            let i = archives.iter().position(|a| a.change as usize == change)?;
            Some(match archives[i].purged_at {
                Some(_) => Left::Purged(&purged[i]),
                None => Left::Kept(Kept {
                    kept_in: &archives[i].kept_in,
                    definition: &archives[i].definition,
                }),
            })
        };
        let text = revert::text(&plan, &row.facts, kept);
        let text = match text {
            Ok(text) if reasons.is_empty() => text,
            Ok(_) => return Err(refused(reasons.join("; "))),
            Err(more) => {
                reasons.extend(more);
                return Err(refused(reasons.join("; ")));
            }
        };
        let (reverse, findings) =
            crate::plan::check_text(Path::new(&format!("{reverse_id}.yaml")), &text);
        reverse.ok_or_else(|| {
            let findings: Vec<String> = findings.iter().map(ToString::to_string).collect();
            refused(format!(
                "its reverse plan does not check: {}",
                findings.join("; ")
            ))
        })
    }
}
