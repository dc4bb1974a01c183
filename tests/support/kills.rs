//! `kill -9` at every step: runs a switchback command (`advance`, `revert`) until it exits on
//! its own, killing it once each step starts for the first time and wherever the caller asks.
//! Where a kill lands inside the step varies from kill to kill (at once, or a few
//! milliseconds in: before its first statement, during one, between two): the re-run must end
//! the same wherever it lands.

use super::TestDb;
use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

/// How far into a step each kill lands, in turn.
const DELAYS_MS: [u64; 4] = [0, 1, 3, 8];

/// Runs `args` (with `--progress json`) until it exits on its own, killing it when a step
/// starts that is not in `seen` yet (then added) and when `also` says so of an event; waits
/// for each killed runner's session to go before the next run. Returns the kills; panics
/// with what the last run printed when it fails.
pub async fn run_killed_at_every_step(
    db: &TestDb,
    args: &[&str],
    seen: &mut HashSet<String>,
    mut also: impl FnMut(&serde_json::Value) -> bool,
) -> usize {
    let mut kills = 0;
    loop {
        let log = tempfile::NamedTempFile::new().unwrap();
        let mut child = super::command(db)
            .args(args)
            .args(["--progress", "json"])
            .stdout(Stdio::piped())
            .stderr(log.reopen().unwrap())
            .spawn()
            .unwrap();
        let mut killed = false;
        for line in BufReader::new(child.stdout.take().unwrap()).lines() {
            let event: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
            let step = event["step"].as_str().unwrap_or_default();
            let first_start = event["event"] == "step_started" && seen.insert(step.to_owned());
            if also(&event) || first_start {
                std::thread::sleep(Duration::from_millis(DELAYS_MS[kills % DELAYS_MS.len()]));
                child.kill().unwrap();
                killed = true;
                break;
            }
        }
        let status = child.wait().unwrap();
        if !killed {
            let said = std::fs::read_to_string(log.path()).unwrap();
            assert!(
                status.success(),
                "{args:?} failed after {kills} kills (at the start of {seen:?}): {said}"
            );
            return kills;
        }
        kills += 1;
        super::wait_for_runner_to_go(db).await;
    }
}
