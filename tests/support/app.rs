//! An application around a migration, given as SQL: the old version's statements, the new
//! version's, and which versions run now. `{id}` in a statement becomes a random existing
//! key, `{n}` a counter, so each change kind's test says what its two versions do. Every
//! statement's latency is kept, to bound how long the migration made anyone wait.
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

use crate::support::writer::{NEW, OLD};

#[derive(Debug, Default)]
pub struct Report {
    pub errors: Vec<String>,
    pub latencies: Vec<Duration>,
    pub statements: usize,
    /// The statement that waited longest, and when it started after the app did.
    pub slowest: (Duration, String),
}

impl Report {
    pub fn max_latency(&self) -> Duration {
        self.latencies.iter().copied().max().unwrap_or_default()
    }
}

pub struct App {
    phase: Arc<AtomicU8>,
    /// Per session, the phase its last finished statement was chosen under: `run_for` waits
    /// until every session is past statements of an earlier phase, so none of the old
    /// version's is still in flight when contract starts.
    settled: Arc<Vec<AtomicU8>>,
    done: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    handles: Vec<JoinHandle<Report>>,
}

impl App {
    /// Starts `sessions` connections, each running the statements of the deployed versions
    /// in a loop, over keys 1..=rows.
    pub async fn start(
        url: &str,
        rows: i64,
        old: &'static [&'static str],
        new: &'static [&'static str],
        sessions: usize,
    ) -> App {
        let phase = Arc::new(AtomicU8::new(OLD));
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicUsize::new(0));
        let settled: Arc<Vec<AtomicU8>> =
            Arc::new((0..sessions).map(|_| AtomicU8::new(OLD)).collect());
        let mut handles = Vec::new();
        for session in 0..sessions {
            let client = crate::support::connect(url).await;
            let (phase, stop, done) = (phase.clone(), stop.clone(), done.clone());
            let settled = settled.clone();
            handles.push(tokio::spawn(async move {
                let mut report = Report::default();
                let mut n = session as u64 * 1_000_000;
                while !stop.load(Ordering::SeqCst) {
                    n += 1;
                    let chosen = phase.load(Ordering::SeqCst);
                    let statements = match chosen {
                        OLD => old,
                        NEW => new,
                        _ if fastrand::bool() => old,
                        _ => new,
                    };
                    if statements.is_empty() {
                        settled[session].store(chosen, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(1)).await;
                        continue;
                    }
                    let template = statements[fastrand::usize(..statements.len())];
                    let sql = template
                        .replace("{id}", &fastrand::i64(1..=rows).to_string())
                        .replace("{n}", &n.to_string());
                    let started = Instant::now();
                    let result = client.batch_execute(&sql).await;
                    let took = started.elapsed();
                    if took > report.slowest.0 {
                        report.slowest = (took, sql.clone());
                    }
                    report.latencies.push(took);
                    report.statements += 1;
                    settled[session].store(chosen, Ordering::SeqCst);
                    done.fetch_add(1, Ordering::SeqCst);
                    if let Err(e) = result {
                        // The server's message: a db error's Display says only "db error".
                        let why = e
                            .as_db_error()
                            .map_or(e.to_string(), |d| d.message().to_owned());
                        report.errors.push(format!("{sql}: {why}"));
                    }
                }
                report
            }));
        }
        App {
            phase,
            settled,
            done,
            stop,
            handles,
        }
    }

    pub fn set_phase(&self, phase: u8) {
        self.phase.store(phase, Ordering::SeqCst);
    }

    /// Waits until `more` statements ran since the call, and every session finished those
    /// it chose before the last `set_phase`.
    pub async fn run_for(&self, more: usize) {
        let target = self.done.load(Ordering::SeqCst) + more;
        let phase = self.phase.load(Ordering::SeqCst);
        while self.done.load(Ordering::SeqCst) < target
            || self
                .settled
                .iter()
                .any(|s| s.load(Ordering::SeqCst) != phase)
        {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    pub async fn stop(self) -> Report {
        self.stop.store(true, Ordering::SeqCst);
        let mut all = Report::default();
        for handle in self.handles {
            let report = handle.await.unwrap();
            all.errors.extend(report.errors);
            all.latencies.extend(report.latencies);
            all.statements += report.statements;
            if report.slowest.0 > all.slowest.0 {
                all.slowest = report.slowest;
            }
        }
        all
    }
}
