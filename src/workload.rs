//! A realistic `users` table and an application writer that measures its own statement
//! latency, for `switchback demo` and the benchmark. The writer plays the old application
//! (writes `name`) or the new one (writes `full_name`) as told.

use crate::error::Error;
use crate::pg::query::Query;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use tokio_postgres::Client;

/// Creates `users(id, name, email, created_at)` with `rows` rows; one email in twenty is
/// NULL, as in a table that never required one.
pub async fn create_users(client: &Client, table: &str, rows: i64) -> Result<(), Error> {
    client
        .batch_execute(&format!(
            "CREATE TABLE {table} (id bigserial PRIMARY KEY, name text NOT NULL, email text, created_at timestamptz NOT NULL DEFAULT now());
             INSERT INTO {table} (name, email, created_at)
               SELECT 'user ' || g, CASE WHEN g % 20 = 0 THEN NULL ELSE 'user' || g || '@example.org' END,
                      now() - g * interval '1 minute'
                 FROM generate_series(1, {rows}) g;
             CREATE INDEX ON {table} (name);"
        ))
        .await
        .map_err(Error::sql(format!("create the {table} table")))?;
    // Its own statement: VACUUM refuses to run inside the implicit transaction above.
    client
        .batch_execute(&format!("VACUUM ANALYZE {table}"))
        .await
        .map_err(Error::sql(format!("vacuum the {table} table")))
}

/// Which application the writer plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum App {
    Old = 0,
    New = 1,
}

/// Latency figures of a writer's statements.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Latency {
    pub statements: usize,
    pub errors: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// When the slowest statement started, in seconds since the writer started.
    pub max_at_s: f64,
    #[serde(skip)]
    pub first_error: Option<String>,
    /// Each statement's start (since the writer started) and duration, for `between`.
    #[serde(skip)]
    samples: Vec<(Duration, Duration)>,
}

impl Latency {
    /// From each statement's start (since the writer started) and duration.
    fn from(
        samples: Vec<(Duration, Duration)>,
        errors: usize,
        first_error: Option<String>,
    ) -> Latency {
        let max_at_s = samples
            .iter()
            .max_by_key(|(_, took)| *took)
            .map_or(0.0, |(at, _)| at.as_secs_f64());
        let mut sorted: Vec<Duration> = samples.iter().map(|(_, took)| *took).collect();
        sorted.sort();
        let at = |p: f64| {
            sorted
                .get(((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1)))
                .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        };
        Latency {
            statements: sorted.len(),
            errors,
            p50_ms: at(0.5),
            p99_ms: at(0.99),
            max_ms: at(1.0),
            max_at_s,
            first_error,
            samples,
        }
    }

    /// The figures of the statements that started between `from` and `to` (since the writer
    /// started): where in a run the slow ones fell. Errors are not split.
    pub fn between(&self, from: Duration, to: Duration) -> Latency {
        let within = self
            .samples
            .iter()
            .filter(|(at, _)| (from..to).contains(at))
            .copied()
            .collect();
        Latency::from(within, 0, None)
    }
}

pub struct Writer {
    app: Arc<AtomicU8>,
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Latency>,
}

impl Writer {
    /// Starts inserting and updating rows of `table` (ids 1..=rows) as `app`, pausing
    /// `pause` between statements so it behaves like traffic rather than a bulk load.
    pub fn start(client: Client, table: &str, rows: i64, app: App, pause: Duration) -> Writer {
        let shared = Arc::new(AtomicU8::new(app as u8));
        let stop = Arc::new(AtomicBool::new(false));
        let (current, stopping, table) = (shared.clone(), stop.clone(), table.to_owned());
        let handle = tokio::spawn(async move {
            let (mut samples, mut errors, mut first_error) = (Vec::new(), 0, None);
            let mut n = 0u64;
            let began = Instant::now();
            while !stopping.load(Ordering::Relaxed) {
                n += 1;
                let new_app = current.load(Ordering::Relaxed) == App::New as u8;
                let column = if new_app { "full_name" } else { "name" };
                let value = format!("writer {n}");
                let id = 1 + fastrand::i64(0..rows.max(1));
                let started = Instant::now();
                let result = if n % 4 == 0 {
                    // The old application sometimes leaves email empty; the new one requires it.
                    let email = (new_app || n % 3 != 0).then(|| format!("w{n}@example.org"));
                    client
                        .exec(
                            &format!("INSERT INTO {table} ({column}, email) VALUES ($1, $2)"),
                            &[&value, &email],
                        )
                        .await
                } else {
                    client
                        .exec(
                            &format!("UPDATE {table} SET {column} = $1 WHERE id = $2"),
                            &[&value, &id],
                        )
                        .await
                };
                samples.push((started - began, started.elapsed()));
                if let Err(e) = result {
                    errors += 1;
                    first_error.get_or_insert_with(|| {
                        e.as_db_error()
                            .map_or_else(|| e.to_string(), |d| d.message().to_owned())
                    });
                }
                tokio::time::sleep(pause).await;
            }
            Latency::from(samples, errors, first_error)
        });
        Writer {
            app: shared,
            stop,
            handle,
        }
    }

    pub fn play(&self, app: App) {
        self.app.store(app as u8, Ordering::Relaxed);
    }

    pub async fn stop(self) -> Latency {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.await.unwrap_or_default()
    }
}
