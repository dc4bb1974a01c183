//! Measures, in one run on one throwaway cluster:
//! - the ceiling: a bulk `UPDATE users SET full_name = name` on a copy of the table, then
//!   the new column's copy of the `name` index, which the expand stage also builds;
//! - switchback's backfill of the same change (rename_column), with its trigger installed;
//! - a concurrent writer's statement latency with no migration, during a hand-written
//!   batched UPDATE loop of the same change (the control: what any backfill at that speed
//!   costs the server's other writers), then during switchback's whole expand stage, step by
//!   step;
//! - the contract stage of a `drop_column` (the archive copy of the column's values, then
//!   the drop) against its ceiling, a bulk `CREATE TABLE AS SELECT id, email` of the same.
//!
//! Prints one JSON object, with one run per table size:
//! `cargo run --release --example bench -- --rows 1000000,10000000`. `flat_ratio` is the
//! backfill's rows/s at the largest size over the smallest: a batch statement that slowed down
//! as its cursor moved deep into the table would show there; `flat_ratio_against_bulk` is the
//! same for the backfill's ratio to each size's bulk UPDATE.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use switchback::exec::{Event, Executor, Options, Reporter};
use switchback::pg::cluster::TempCluster;
use switchback::pg::connect;
use switchback::pg::query::Query;
use switchback::plan::folder;
use switchback::workload::{self, App, Writer};

/// The plan, with the backfill's sessions from `--workers`, the batch length from
/// `--batch-time`, the backfill's cap from
/// `--max-rows-per-second` and the index builds' parallel workers from `--index-workers`
/// (the plan's defaults when not given).
fn plan_text() -> String {
    let settings: Vec<String> = [
        ("--workers", "workers"),
        ("--batch-time", "target_batch_time"),
        ("--max-rows-per-second", "max_rows_per_second"),
    ]
    .into_iter()
    .filter_map(|(flag, key)| Some(format!("{key}: {}", argument(flag)?)))
    .collect();
    let backfill = match settings.is_empty() {
        true => String::new(),
        false => format!("backfill: {{ {} }}\n", settings.join(", ")),
    };
    let workers = argument("--index-workers")
        .map(|n| format!("index_workers: {n}\n"))
        .unwrap_or_default();
    format!("changes:\n  - rename_column: {{ table: users, from: name, to: full_name }}\n{backfill}{workers}lock_timeout: 2s\n")
}
const WRITER_PAUSE: Duration = Duration::from_millis(4);

/// Records when each step started and finished.
#[derive(Default)]
struct StepTimes(Mutex<HashMap<String, (Instant, Option<Instant>)>>);

impl Reporter for StepTimes {
    fn report(&self, event: &Event) {
        let mut times = self.0.lock().expect("lock");
        match event {
            Event::StepStarted { step, .. } => {
                times.insert(step.clone(), (Instant::now(), None));
            }
            Event::StepDone { step, .. } => {
                if let Some(entry) = times.get_mut(step) {
                    entry.1 = Some(Instant::now());
                }
            }
            _ => {}
        }
    }
}

/// Median wall time of validating 500 plans offline (the example plans, 25 times over,
/// each copy with its own id): reading, checking, linting and building the step graph.
fn validate_500_plans_ms() -> Result<f64, Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let mut examples: Vec<_> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/plans"))?
        .collect::<Result<Vec<_>, _>>()?;
    examples.sort_by_key(|e| e.file_name());
    let mut written = 0;
    for copy in 0.. {
        for example in &examples {
            if written == 500 {
                break;
            }
            // Copies depend on nothing, so every id they name exists.
            let text = std::fs::read_to_string(example.path())?;
            let text: String = text
                .lines()
                .filter(|l| !l.starts_with("depends_on"))
                .map(|l| format!("{l}\n"))
                .collect();
            let name = format!("{copy:03}_{}", example.file_name().to_string_lossy());
            std::fs::write(dir.path().join(name), text)?;
            written += 1;
        }
        if written == 500 {
            break;
        }
    }
    let mut times = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let set = folder::load(&[dir.path().to_path_buf()])?;
        switchback::graph::build(&set.plans, "switchback").map_err(|_| "step cycle")?;
        assert_eq!((set.plans.len(), set.diagnostics.len()), (500, 0));
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    Ok(times[2])
}

/// A position in the WAL, to report how much a stage wrote: the control loop's and the
/// expand stage's include the writer's statements, which run during them.
struct Wal(String);

impl Wal {
    async fn mark(client: &tokio_postgres::Client) -> Result<Wal, Box<dyn std::error::Error>> {
        let at = client
            .fetch_one("SELECT pg_current_wal_lsn()::text", &[])
            .await?;
        Ok(Wal(at.get(0)))
    }

    async fn megabytes(
        &self,
        client: &tokio_postgres::Client,
    ) -> Result<f64, Box<dyn std::error::Error>> {
        let since = client
            .fetch_one(
                "SELECT (pg_current_wal_lsn() - $1::text::pg_lsn)::float8 / 1e6",
                &[&self.0],
            )
            .await?;
        Ok(since.get(0))
    }
}

/// The value after `name` on the command line.
fn argument(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    let at = args.iter().position(|a| a == name)?;
    args.get(at + 1).cloned()
}

/// The table sizes to measure, from `--rows 1000000,10000000` (default 2,000,000).
fn rows_argument() -> Vec<i64> {
    argument("--rows")
        .map(|list| {
            list.split(',')
                .map(|n| n.replace('_', "").parse().expect("--rows takes numbers"))
                .collect()
        })
        .unwrap_or_else(|| vec![2_000_000])
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sizes = rows_argument();
    // Durable, as a production server is: every commit waits for its WAL to reach the disk.
    let mut cluster = TempCluster::create()?;
    cluster.launch(&["fsync=on", "synchronous_commit=on", "full_page_writes=on"])?;
    let mut runs = Vec::new();
    for (i, rows) in sizes.iter().enumerate() {
        // A database per size, so no run inherits another's bloat or ledger.
        let database = format!("bench_{i}");
        let admin =
            connect::connect(&connect::resolve(Some(&cluster.url("postgres")))?, "bench").await?;
        admin
            .batch_execute(&format!("CREATE DATABASE {database}"))
            .await?;
        let info = connect::resolve(Some(&cluster.url(&database)))?;
        let mut run = measure(&info, *rows).await?;
        run["archive"] = measure_archive(&info, *rows).await?;
        runs.push(run);
    }
    let rate = |run: &serde_json::Value| run["backfill"]["rows_per_second"].as_f64().unwrap_or(0.0);
    let flat_ratio = match (runs.first(), runs.last()) {
        (Some(first), Some(last)) => rate(last) / rate(first),
        _ => 0.0,
    };
    // The same over each size's bulk UPDATE: a server that is slower at one size (this
    // machine's disk varies by 10% from one minute to the next) slows both alike.
    let against_bulk =
        |run: &serde_json::Value| run["backfill_vs_bulk_ratio"].as_f64().unwrap_or(0.0);
    let flat_ratio_against_bulk = match (runs.first(), runs.last()) {
        (Some(first), Some(last)) => against_bulk(last) / against_bulk(first),
        _ => 0.0,
    };
    let validate_ms = validate_500_plans_ms()?;
    let report = serde_json::json!({
        "runs": runs,
        "flat_ratio": flat_ratio,
        "flat_ratio_against_bulk": flat_ratio_against_bulk,
        "validate_500_plans_offline_ms": validate_ms,
        "targets": {
            "backfill_rate_at_largest_within_10pct_of_smallest": flat_ratio >= 0.9,
            "validate_500_plans_under_1s": validate_ms < 1000.0,
        }
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

/// One size: the bulk UPDATE, then the expand stage with the writer running.
async fn measure(
    info: &switchback::pg::conninfo::ConnInfo,
    rows: i64,
) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    let client = connect::connect(info, "bench").await?;
    eprintln!("creating two tables of {rows} rows");
    workload::create_users(&client, "bulk_users", rows).await?;
    workload::create_users(&client, "users", rows).await?;

    eprintln!("bulk UPDATE (the ceiling)");
    // After a checkpoint, as the control loop and the expand stage start: the first change to
    // each page then writes the whole page to the WAL, as on a production table whose pages
    // predate the last checkpoint. Without it the ceiling wrote a quarter less WAL.
    client
        .batch_execute("ALTER TABLE bulk_users ADD COLUMN full_name text; CHECKPOINT")
        .await?;
    let wal = Wal::mark(&client).await?;
    let started = Instant::now();
    client
        .batch_execute("UPDATE bulk_users SET full_name = name")
        .await?;
    let bulk_seconds = started.elapsed().as_secs_f64();
    let bulk_wal_mb = wal.megabytes(&client).await?;
    // What a hand-written migration also waits for: the new column's copy of the `name` index,
    // built as switchback builds it (the plan's parallel workers), without the CONCURRENTLY
    // second scan (no writer runs here).
    let started = Instant::now();
    client
        .batch_execute(&format!(
            "SET max_parallel_maintenance_workers = {}; CREATE INDEX ON bulk_users (full_name)",
            argument("--index-workers").unwrap_or_else(|| "0".into())
        ))
        .await?;
    let bulk_index_seconds = started.elapsed().as_secs_f64();
    client
        .batch_execute("DROP TABLE bulk_users; CHECKPOINT")
        .await?;

    eprintln!("writer baseline, no migration");
    let writer = Writer::start(
        connect::connect(info, "bench: old application").await?,
        "users",
        rows,
        App::Old,
        WRITER_PAUSE,
    );
    tokio::time::sleep(Duration::from_secs(10)).await;
    let baseline = writer.stop().await;
    let control = measure_control(info, rows, rows as f64 / bulk_seconds, &baseline).await?;

    eprintln!("switchback expand stage with the writer running");
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("20261122_bench.yaml");
    std::fs::write(&path, plan_text())?;
    let set = folder::load(&[path])?;
    let plan = &set.plans[0];
    let times = StepTimes::default();
    let writer = Writer::start(
        connect::connect(info, "bench: old application").await?,
        "users",
        rows,
        App::Old,
        WRITER_PAUSE,
    );
    let writer_started = Instant::now();
    // The same instant on the wall clock, to find a step's slowest statement in the server's
    // log (a checkpoint's fsyncs, say).
    let writer_started_at = chrono::Utc::now();
    let wall = |since: Duration| {
        let at = writer_started_at
            + chrono::Duration::from_std(since).unwrap_or_else(|_| chrono::Duration::zero());
        at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    };
    let wal = Wal::mark(&client).await?;
    let started = Instant::now();
    let mut executor = Executor::connect(info, Options::default(), &times).await?;
    executor.advance(plan).await?;
    let expand_seconds = started.elapsed().as_secs_f64();
    let expand_wal_mb = wal.megabytes(&client).await?;
    let during = writer.stop().await;
    let (backfill_started, backfill_done) = times.0.lock().expect("lock")["users.backfill"];
    let backfill_seconds = backfill_done
        .expect("backfill finished")
        .duration_since(backfill_started)
        .as_secs_f64();
    let backfilled: i64 = client
        .fetch_one(
            "SELECT rows_done FROM switchback.jobs WHERE step = 'users.backfill'",
            &[],
        )
        .await?
        .get(0);
    // From one batch's start to the next's: what a writer that touches a row of the batch
    // in flight may wait, at most (the ledger records each batch at its transaction's start).
    let batch_ms: Vec<f64> = client
        .fetch_one(
            "SELECT percentile_disc(array[0.5, 0.99, 1]) WITHIN GROUP (ORDER BY ms)
               FROM (SELECT extract(epoch FROM lead(at) OVER (ORDER BY id) - at)::float8 * 1000 AS ms
                       FROM switchback.batches WHERE step = 'users.backfill') b",
            &[],
        )
        .await?
        .get(0);

    let bulk_rate = rows as f64 / bulk_seconds;
    let backfill_rate = backfilled as f64 / backfill_seconds;
    let lock_timeout_ms = plan.lock_timeout.as_millis() as f64;
    let expand_rate = rows as f64 / expand_seconds;
    // Where the expand stage's time went, step by step, in the order the steps started.
    let mut steps: Vec<(String, Instant, f64)> = times
        .0
        .lock()
        .expect("lock")
        .iter()
        .filter_map(|(name, (from, to))| {
            Some((
                name.clone(),
                *from,
                (*to)?.duration_since(*from).as_secs_f64(),
            ))
        })
        .collect();
    steps.sort_by_key(|(_, from, _)| *from);
    // The step under way when the writer's slowest statement started.
    let slowest_at = writer_started + Duration::from_secs_f64(during.max_at_s);
    let slowest_during = steps
        .iter()
        .rev()
        .find(|(_, from, _)| *from <= slowest_at)
        .map_or("before the first step".to_owned(), |(name, ..)| {
            name.clone()
        });
    // The writer's statements that started during each step.
    let steps: Vec<serde_json::Value> = steps
        .into_iter()
        .map(|(name, from, seconds)| {
            let since = from.saturating_duration_since(writer_started);
            let writer = during.between(since, since + Duration::from_secs_f64(seconds));
            let slowest = Duration::from_secs_f64(writer.max_at_s);
            serde_json::json!({
                "step": name,
                "started_at": wall(since),
                "seconds": seconds,
                "writer_statements": writer.statements,
                "writer_p99_ms": writer.p99_ms,
                "writer_max_ms": writer.max_ms,
                "writer_max_at": (writer.statements > 0).then(|| wall(slowest)),
            })
        })
        .collect();
    Ok(serde_json::json!({
        "rows": rows,
        "bulk_update": { "seconds": bulk_seconds, "rows_per_second": bulk_rate, "then_index_seconds": bulk_index_seconds, "wal_mb": bulk_wal_mb },
        "backfill": {
            "seconds": backfill_seconds,
            "rows": backfilled,
            "rows_per_second": backfill_rate,
            "batch_ms": { "p50": batch_ms[0], "p99": batch_ms[1], "max": batch_ms[2] },
        },
        "backfill_vs_bulk_ratio": backfill_rate / bulk_rate,
        "expand_stage_seconds": expand_seconds,
        "expand_wal_mb": expand_wal_mb,
        "expand_steps_seconds": steps,
        "expand_vs_bulk_ratio": expand_rate / bulk_rate,
        "expand_vs_bulk_then_index_ratio": (bulk_seconds + bulk_index_seconds) / expand_seconds,
        "control": control,
        "writer": {
            "baseline": baseline,
            "during_expand": during,
            "p99_ratio": during.p99_ms / baseline.p99_ms.max(1e-9),
            "slowest_statement_during_step": slowest_during,
        },
        "lock_timeout_ms": lock_timeout_ms,
        "targets": {
            "expand_stage_at_least_0_8x_bulk": expand_rate / bulk_rate >= 0.8,
            "writer_p99_at_most_1_5x_baseline": during.p99_ms <= 1.5 * baseline.p99_ms,
            "writer_max_at_most_100ms": during.max_ms <= 100.0,
        }
    }))
}

/// The control: a hand-written backfill of the same change on a fresh copy of the table, a
/// loop of `UPDATE ... WHERE id > $1 AND id <= $2` sized to 50 ms at the bulk UPDATE's rate
/// (switchback's default batch length), each its own transaction committed without waiting
/// for its flush (as switchback's batches are), with the same writer on that table. No
/// trigger, no ledger, no verification: the writer latency any backfill at this speed costs
/// on this server, to read switchback's against.
async fn measure_control(
    info: &switchback::pg::conninfo::ConnInfo,
    rows: i64,
    bulk_rate: f64,
    baseline: &workload::Latency,
) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    let client = connect::connect(info, "bench: control loop").await?;
    eprintln!("control: a batched UPDATE loop by key with the writer running");
    workload::create_users(&client, "loop_users", rows).await?;
    client
        .batch_execute("ALTER TABLE loop_users ADD COLUMN full_name text; CHECKPOINT")
        .await?;
    let batch = ((bulk_rate * 0.05) as i64).max(1);
    let writer = Writer::start(
        connect::connect(info, "bench: old application").await?,
        "loop_users",
        rows,
        App::Old,
        WRITER_PAUSE,
    );
    let wal = Wal::mark(&client).await?;
    let started = Instant::now();
    for from in (0..rows).step_by(batch as usize) {
        client
            .batch_execute(&format!(
                "BEGIN; SET LOCAL synchronous_commit = off; UPDATE loop_users SET full_name = name WHERE id > {from} AND id <= {}; COMMIT",
                from + batch
            ))
            .await?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let wal_mb = wal.megabytes(&client).await?;
    let during = writer.stop().await;
    client
        .batch_execute("DROP TABLE loop_users; CHECKPOINT")
        .await?;
    Ok(serde_json::json!({
        "batch_rows": batch,
        "seconds": seconds,
        "vs_bulk_ratio": rows as f64 / seconds / bulk_rate,
        "wal_mb": wal_mb,
        "writer": during,
        "p99_ratio": during.p99_ms / baseline.p99_ms.max(1e-9),
    }))
}

/// One size: a bulk copy of a column with its key (the ceiling), then the contract stage of
/// dropping that column on a table of its own, which copies it into the archive first.
async fn measure_archive(
    info: &switchback::pg::conninfo::ConnInfo,
    rows: i64,
) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    let client = connect::connect(info, "bench").await?;
    eprintln!("archive: a table of {rows} rows, bulk copy of a column (the ceiling)");
    workload::create_users(&client, "dropping", rows).await?;
    let started = Instant::now();
    client
        .batch_execute("CREATE TABLE bulk_copy AS SELECT id, email FROM dropping; ALTER TABLE bulk_copy ADD PRIMARY KEY (id)")
        .await?;
    let bulk_seconds = started.elapsed().as_secs_f64();
    client
        .batch_execute("DROP TABLE bulk_copy; CHECKPOINT")
        .await?;

    eprintln!("archive: contract of drop_column, the archive copy then the drop");
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("20261123_bench_drop.yaml");
    std::fs::write(
        &path,
        "changes:\n  - drop_column: { table: dropping, column: email }\n",
    )?;
    let set = folder::load(&[path])?;
    let plan = &set.plans[0];
    let times = StepTimes::default();
    let mut executor = Executor::connect(info, Options::default(), &times).await?;
    executor.advance(plan).await?;
    let started = Instant::now();
    executor.advance(plan).await?;
    let contract_seconds = started.elapsed().as_secs_f64();
    let (from, to) = times.0.lock().expect("lock")["0.archive"];
    let copy_seconds = to
        .expect("the archive copy finished")
        .duration_since(from)
        .as_secs_f64();

    eprintln!("revert: bulk UPDATE of the column back from the archive (the ceiling)");
    let archive = "\"switchback_archive\".\"dropping_email_20261123_bench_drop\"";
    let started = Instant::now();
    client
        .batch_execute(&format!("ALTER TABLE dropping ADD COLUMN bulk_email text; UPDATE dropping d SET bulk_email = a.email FROM {archive} a WHERE a.id = d.id"))
        .await?;
    let bulk_restore_seconds = started.elapsed().as_secs_f64();
    for statement in [
        "ALTER TABLE dropping DROP COLUMN bulk_email",
        "VACUUM dropping",
        "CHECKPOINT",
    ] {
        client.batch_execute(statement).await?;
    }
    eprintln!("revert: the expand stage of `switchback revert`, the column back with its values");
    let reverse = executor.revert_plan(&plan.id).await?;
    let started = Instant::now();
    executor.advance(&reverse).await?;
    let revert_seconds = started.elapsed().as_secs_f64();
    Ok(serde_json::json!({
        "bulk_copy_seconds": bulk_seconds,
        "archive_copy_seconds": copy_seconds,
        "contract_stage_seconds": contract_seconds,
        "contract_vs_bulk_copy_ratio": bulk_seconds / contract_seconds,
        "bulk_restore_seconds": bulk_restore_seconds,
        "revert_expand_seconds": revert_seconds,
        "revert_vs_bulk_restore_ratio": bulk_restore_seconds / revert_seconds,
    }))
}
