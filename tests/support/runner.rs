//! A running `switchback advance` whose JSON events arrive on a channel, so a test can act
//! at a precise point of the run instead of sleeping.

use crate::support::TestDb;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

/// A running `advance` whose JSON events arrive on a channel.
pub struct Runner {
    pub child: Child,
    events: Receiver<serde_json::Value>,
}

impl Runner {
    pub fn start(db: &TestDb, plan: &str, extra: &[&str]) -> Runner {
        let mut child = crate::support::command(db)
            .args(["advance", plan, "--progress", "json"])
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (send, events) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(serde_json::from_str(&line).unwrap()).is_err() {
                    break;
                }
            }
        });
        Runner { child, events }
    }

    /// Waits for the `n`th event of `kind` from now on.
    pub fn wait_for(&self, kind: &str, n: usize) -> serde_json::Value {
        let mut seen = 0;
        loop {
            let event = self
                .events
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("no {kind} event"));
            if event["event"] == kind {
                seen += 1;
                if seen == n {
                    return event;
                }
            }
        }
    }

    /// The next event, or None once the run ended.
    pub fn next_event(&self) -> Option<serde_json::Value> {
        self.events.recv_timeout(Duration::from_secs(60)).ok()
    }

    /// Kills the run with SIGKILL.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    pub fn finish(mut self) {
        assert!(self.child.wait().unwrap().success());
    }
}
