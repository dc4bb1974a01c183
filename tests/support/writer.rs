//! A concurrent writer playing the application around a migration of `users(id, name,
//! email)`: the old version writes `name`, the new one writes the renamed column (when there
//! is one), side by side between the stages. It remembers the value it last wrote to each
//! row, so a test can check afterwards that no write was lost.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchback::pg::query::Query;
use tokio::task::JoinHandle;

/// Which application versions are deployed.
pub const OLD: u8 = 0;
pub const MIXED: u8 = 1;
pub const NEW: u8 = 2;

#[derive(Debug, Default)]
pub struct Report {
    /// id -> the name the application last wrote (through either column).
    pub names: HashMap<i64, String>,
    /// Rows the old application inserted or updated with a NULL email.
    pub null_emails: Vec<i64>,
    /// Rows whose email the writer set (so a restored NULL is not expected there).
    pub email_written: std::collections::HashSet<i64>,
    pub copied: Vec<String>,
    pub counts: HashMap<&'static str, usize>,
    pub errors: Vec<String>,
    pub latencies: Vec<Duration>,
}

impl Report {
    pub fn max_latency(&self) -> Duration {
        self.latencies.iter().copied().max().unwrap_or_default()
    }

    pub fn percentile(&self, p: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        sorted
            .get(((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    }
}

pub struct Writer {
    pub phase: Arc<AtomicU8>,
    /// Statements run so far, to wait for work in a phase without sleeping blindly.
    pub statements: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Report>,
}

impl Writer {
    /// Starts writing to the rows 1..=rows of `users`; `renamed` is the new name of `name`.
    pub async fn start(url: &str, rows: i64, renamed: Option<&'static str>) -> Writer {
        let client = crate::support::connect(url).await;
        let phase = Arc::new(AtomicU8::new(OLD));
        let stop = Arc::new(AtomicBool::new(false));
        let statements = Arc::new(AtomicUsize::new(0));
        let (p, s, counter) = (phase.clone(), stop.clone(), statements.clone());
        let handle = tokio::spawn(async move {
            let mut report = Report::default();
            let mut ids: Vec<i64> = (1..=rows).collect();
            let mut n = 0u64;
            while !s.load(Ordering::SeqCst) {
                n += 1;
                let phase = p.load(Ordering::SeqCst);
                let new_app = match phase {
                    OLD => false,
                    NEW => true,
                    _ => fastrand::bool(),
                };
                let column = if new_app {
                    renamed.unwrap_or("name")
                } else {
                    "name"
                };
                let value = format!("w{n}");
                let id = ids[fastrand::usize(..ids.len())];
                let started = Instant::now();
                let (kind, result) = match fastrand::u8(..7) {
                    0 | 1 => {
                        let email = if !new_app && fastrand::u8(..3) == 0 {
                            None
                        } else {
                            Some(format!("{value}@example.org"))
                        };
                        let sql = format!(
                            "INSERT INTO users ({column}, email) VALUES ($1, $2) RETURNING id"
                        );
                        let r = client.fetch_one(&sql, &[&value, &email]).await.map(|row| {
                            let id: i64 = row.get(0);
                            ids.push(id);
                            report.names.insert(id, value.clone());
                            match email {
                                None => report.null_emails.push(id),
                                Some(_) => {
                                    report.email_written.insert(id);
                                }
                            }
                        });
                        (
                            if new_app { "insert new" } else { "insert old" },
                            r.map(|_| ()),
                        )
                    }
                    2 | 3 => {
                        let r = client
                            .exec(
                                &format!("UPDATE users SET {column} = $1 WHERE id = $2"),
                                &[&value, &id],
                            )
                            .await;
                        if r.is_ok() {
                            report.names.insert(id, value.clone());
                        }
                        (
                            if new_app { "update new" } else { "update old" },
                            r.map(|_| ()),
                        )
                    }
                    4 if phase == MIXED && renamed.is_some() => {
                        let sql = format!(
                            "UPDATE users SET name = $1, {} = $1 WHERE id = $2",
                            renamed.unwrap_or("name")
                        );
                        let r = client.exec(&sql, &[&value, &id]).await;
                        if r.is_ok() {
                            report.names.insert(id, value.clone());
                        }
                        ("update both", r.map(|_| ()))
                    }
                    5 if phase != NEW => {
                        let r = copy_row(&client, &value).await;
                        if r.is_ok() {
                            report.copied.push(value.clone());
                        }
                        ("copy old", r)
                    }
                    _ => {
                        let email = format!("{value}@example.org");
                        report.email_written.insert(id);
                        (
                            "update neither",
                            client
                                .exec("UPDATE users SET email = $1 WHERE id = $2", &[&email, &id])
                                .await
                                .map(|_| ()),
                        )
                    }
                };
                report.latencies.push(started.elapsed());
                counter.fetch_add(1, Ordering::SeqCst);
                *report.counts.entry(kind).or_default() += 1;
                if let Err(e) = result {
                    report.errors.push(format!("{kind}: {e:?}"));
                }
            }
            report
        });
        Writer {
            phase,
            statements,
            stop,
            handle,
        }
    }

    /// Waits until the writer has run `more` statements since the call.
    pub async fn run_for(&self, more: usize) {
        let target = self.statements.load(Ordering::SeqCst) + more;
        while self.statements.load(Ordering::SeqCst) < target {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    pub fn set_phase(&self, phase: u8) {
        self.phase.store(phase, Ordering::SeqCst);
    }

    pub async fn stop(self) -> Report {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.await.unwrap()
    }
}

/// COPY as the old application: the trigger treats it as an INSERT.
async fn copy_row(
    client: &tokio_postgres::Client,
    name: &str,
) -> Result<(), tokio_postgres::Error> {
    use futures_util::SinkExt;
    // COPY goes through a named statement: inside a transaction, so that behind a
    // transaction pooler its prepare, run and close all reach the same server session.
    client.batch_execute("BEGIN").await?;
    let copied = async {
        let statement = client
            .prepare("COPY users (name, email) FROM STDIN")
            .await?;
        let mut sink = Box::pin(client.copy_in(&statement).await?);
        sink.send(bytes::Bytes::from(format!("{name}\t\\N\n")))
            .await?;
        sink.as_mut().finish().await?;
        drop(statement);
        Ok(())
    }
    .await;
    client
        .batch_execute(if copied.is_ok() { "COMMIT" } else { "ROLLBACK" })
        .await?;
    copied
}
