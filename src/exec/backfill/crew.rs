//! The sessions one process works a job with: its own executor (the lead) and a helper per
//! further session, each on a connection of its own. How many follows the plan's control row
//! while the job runs (`throttle --workers`): the lead reads it before every batch and tells
//! the crew, which connects helpers or lets them go, each between two of its batches.

use super::{work, Leave};
use crate::error::Error;
use crate::exec::Executor;
use crate::plan::step::{Job, Step};
use crate::plan::Plan;
use futures_util::stream::{FuturesUnordered, StreamExt};
use std::collections::BTreeSet;
use std::time::Duration;
use tokio::sync::watch;

/// Which of a process's sessions a worker is.
pub(super) struct Seat<'a> {
    /// The worker's name in the ledger's range and batch rows.
    pub name: String,
    /// 0 for the lead, which reports pauses and throttling once for the whole crew.
    pub n: u16,
    /// The sessions the job takes when the control row sets none.
    pub start: u16,
    /// The sessions the crew should have: the lead writes it, a helper whose `n` it no
    /// longer reaches gives its range back and leaves.
    pub wanted: &'a watch::Sender<u16>,
}

impl Seat<'_> {
    pub fn lead(&self) -> bool {
        self.n == 0
    }

    /// Whether this helper is one session too many.
    pub fn let_go(&self) -> bool {
        !self.lead() && self.n >= *self.wanted.borrow()
    }
}

/// Works the job with `start` sessions (`Job::sessions` of it), or as many as the control row
/// says from the next batch on, until the job is done. The lead is `ex`, named `name`; helper
/// `n` is `name:n`. The first failure ends the crew: each batch commits with its cursor or not
/// at all, so a session stopped between batches or within one loses nothing.
pub(crate) async fn run(
    ex: &mut Executor<'_>,
    plan: &Plan,
    step: &Step,
    job: &Job,
    name: &str,
    start: u16,
    lease: Duration,
) -> Result<(), Error> {
    let start = job.sessions(start);
    let (wanted, mut told) = watch::channel(start);
    let (info, options, reporter) = (ex.info.clone(), ex.options.clone(), ex.reporter);
    let lead = work(
        ex,
        plan,
        step,
        job,
        Seat {
            name: name.to_owned(),
            n: 0,
            start,
            wanted: &wanted,
        },
        lease,
    );
    tokio::pin!(lead);
    // Helpers are seated once each; one let go is unseated, so that it can be seated again.
    let mut helpers = FuturesUnordered::new();
    let mut seated = BTreeSet::new();
    loop {
        for n in 1..*told.borrow_and_update() {
            if !seated.insert(n) {
                continue;
            }
            let (info, options, wanted) = (&info, options.clone(), &wanted);
            helpers.push(async move {
                let mut helper = Executor::connect(info, options, reporter).await?;
                let seat = Seat {
                    name: format!("{name}:{n}"),
                    n,
                    start,
                    wanted,
                };
                let leave = work(&mut helper, plan, step, job, seat, lease).await?;
                Ok::<_, Error>((n, leave))
            });
        }
        tokio::select! {
            done = &mut lead => {
                done?;
                while let Some(helper) = helpers.next().await {
                    helper?;
                }
                return Ok(());
            }
            Some(left) = helpers.next() => {
                // A helper let go may be wanted again; one that saw the job done is not.
                if let (n, Leave::LetGo) = left? {
                    seated.remove(&n);
                }
            }
            Ok(()) = told.changed() => {}
        }
    }
}
