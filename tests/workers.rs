//! Detached backfills and workers: `advance --detach` leaves the backfill to
//! `switchback backfill` processes that share the job by claiming key ranges with a lease.
//! Three workers, one killed with -9 midway, on a fill of NULLs (walked by key): the job
//! completes, the batch log shows every key covered exactly once, and the result verifies. A
//! backfill walked by block starts over when the table is rewritten under it. A plan's
//! `backfill.workers` has `advance` itself run that many sessions side by side, and
//! `throttle --workers` gives a running `switchback backfill` process more.

mod support;

use std::process::{Child, Command, Stdio};
use support::runner::Runner;
use support::writer::{Writer, MIXED};
use support::{plan_file, switchback, text, wait_for_runner_to_go, TestDb};

const ROWS: i64 = 300_000;

fn worker(db: &TestDb, plan: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_switchback"))
        .args(["backfill", plan, "--lease", "2s", "--progress", "plain"])
        .env("DATABASE_URL", &db.url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// `advance --detach`, which must succeed: what it said.
fn detach(db: &TestDb, plan: &str) -> String {
    let out = switchback(db, &["advance", plan, "--detach", "--progress", "plain"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    text(&out.stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_one_killed_cover_every_key_exactly_once() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .batch_execute(&format!("CREATE TABLE users (id bigint PRIMARY KEY, email text); INSERT INTO users SELECT g, NULL FROM generate_series(1, {ROWS}) g; ANALYZE users;"))
        .await
        .unwrap();
    let (_dir, plan) = plan_file("20261122_workers", "changes:\n  - set_not_null: { table: users, column: email, fill: \"'x'\" }\nbackfill: { batch_size: 500, target_batch_time: 1ms, max_rows_per_second: 40000 }\n");

    assert!(detach(&db, &plan).contains("users.backfill: left to workers"));
    let early = switchback(&db, &["advance", &plan]);
    assert_eq!(early.status.code(), Some(3), "{}", text(&early.stderr));
    assert!(text(&early.stderr).contains("is running in `switchback backfill` workers"));
    let status: String = client
        .query_one(
            "SELECT status FROM switchback.steps WHERE name = 'users.backfill'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        status, "running",
        "waiting for workers is not a failure of the step"
    );
    let ranges: i64 = client
        .query_one("SELECT count(*) FROM switchback.ranges", &[])
        .await
        .unwrap()
        .get(0);
    assert!(ranges >= 10, "the job is split into ranges: {ranges}");

    let status = |db: &TestDb| {
        serde_json::from_slice::<serde_json::Value>(
            &switchback(db, &["status", "--format", "json"]).stdout,
        )
        .unwrap()
    };
    let job = status(&db)["plans"][0]["jobs"][0].clone();
    assert_eq!(
        (
            job["state"].as_str(),
            job["workers"].as_array().map(Vec::len)
        ),
        (Some("waiting for workers"), Some(0))
    );

    let mut workers = [
        worker(&db, "20261122_workers"),
        worker(&db, "20261122_workers"),
        worker(&db, "20261122_workers"),
    ];
    // Kill the second worker just after it commits a batch in the middle of a range it holds.
    let victim = format!("%:{}", workers[1].id());
    let orphaned: i32 = loop {
        let row = client
            .query_opt(
                "SELECT b.range_no FROM switchback.batches b JOIN switchback.ranges r USING (plan_id, step, range_no)
                  WHERE b.worker LIKE $1 AND r.state = 'claimed' AND r.worker = b.worker
                    AND (r.upper IS NULL OR r.upper[1]::bigint - b.last_key[1]::bigint > 2000)
                    AND (SELECT count(*) FROM switchback.batches) >= 30
                  ORDER BY b.id DESC LIMIT 1",
                &[&victim],
            )
            .await
            .unwrap();
        if let Some(row) = row {
            break row.get(0);
        }
        let state: String = client
            .query_one("SELECT state FROM switchback.jobs", &[])
            .await
            .unwrap()
            .get(0);
        assert_ne!(
            state, "done",
            "the job finished before the second worker could be killed mid-range"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    };
    let job = status(&db)["plans"][0]["jobs"][0].clone();
    assert_eq!(job["state"], "running");
    assert!(
        job["rows_per_second"].as_f64().unwrap() > 0.0,
        "recent rate: {job}"
    );
    let alive = job["workers"].as_array().unwrap();
    assert!(alive.len() >= 2, "{job}");
    for w in alive {
        assert!(
            w["name"].as_str().unwrap().contains(':')
                && w["last_heartbeat"].as_str().unwrap().ends_with('Z'),
            "{w}"
        );
    }
    workers[1].kill().unwrap();
    workers[1].wait().unwrap();
    assert!(workers[0].wait().unwrap().success());
    assert!(workers[2].wait().unwrap().success());

    // Every range's batches follow each other without gap or overlap, from its lower bound
    // to its end, and the ranges tile the whole key space.
    let bounds: Vec<(i32, Option<i64>, Option<i64>, String)> = client
        .query("SELECT range_no, lower[1]::bigint, upper[1]::bigint, state FROM switchback.ranges ORDER BY range_no", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    for pair in bounds.windows(2) {
        assert_eq!(
            pair[0].2, pair[1].1,
            "ranges {} and {} meet",
            pair[0].0, pair[1].0
        );
    }
    assert_eq!((bounds[0].1, bounds.last().unwrap().2), (None, None));
    let mut covered = 0i64;
    let mut workers_seen = std::collections::BTreeSet::new();
    for (range_no, lower, upper, state) in &bounds {
        assert_eq!(state, "done");
        let batches: Vec<(Option<i64>, i64, i64, String)> = client
            .query("SELECT after_key[1]::bigint, last_key[1]::bigint, rows, worker FROM switchback.batches WHERE range_no = $1 ORDER BY last_key[1]::bigint", &[range_no])
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect();
        let mut after = *lower;
        for (from, last, rows, name) in &batches {
            assert_eq!(
                *from, after,
                "range {range_no}: a batch starts where the previous one ended"
            );
            let expected = last - from.unwrap_or(0);
            assert_eq!(*rows, expected, "range {range_no}: rows ({from:?}, {last}]");
            covered += rows;
            after = Some(*last);
            workers_seen.insert(name.clone());
        }
        assert!(
            upper.is_none_or(|u| after == Some(u)),
            "range {range_no} ends at its upper bound"
        );
        if *range_no == orphaned {
            let names: std::collections::BTreeSet<&String> = batches.iter().map(|b| &b.3).collect();
            assert!(names.len() > 1, "range {range_no}, orphaned by the killed worker, was finished by another: {names:?}");
        }
    }
    assert_eq!(covered, ROWS, "every key exactly once");
    assert_eq!(
        workers_seen.len(),
        3,
        "all three workers did batches: {workers_seen:?}"
    );

    let row = client.query_one("SELECT count(*) FILTER (WHERE email IS NULL), (SELECT count(*) FROM switchback.fills) FROM users", &[]).await.unwrap();
    assert_eq!((row.get::<_, i64>(0), row.get::<_, i64>(1)), (0, ROWS));
    let done = switchback(&db, &["advance", &plan, "--progress", "plain"]);
    assert_eq!(done.status.code(), Some(0), "{}", text(&done.stderr));
    assert!(
        text(&done.stderr).contains("users.verify: 300000 rows verified"),
        "{}",
        text(&done.stderr)
    );
}

/// A job walks a plain table by block. VACUUM FULL moves every row (the ones the backfill
/// has not reached yet land in blocks it has passed), so a worker that sees the table's new
/// file starts the job over, and no row is left out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_rewritten_under_a_worker_is_walked_again_from_the_start() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .batch_execute("CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL); INSERT INTO users SELECT g, 'U' || g || '@Example.org' FROM generate_series(1, 100000) g; ANALYZE users;")
        .await
        .unwrap();
    let (_dir, plan) = plan_file("20261123_rewrite", "changes:\n  - add_column: { table: users, column: { name: email_lower, type: text }, backfill: lower(email) }\nbackfill: { batch_size: 500, target_batch_time: 1ms, max_rows_per_second: 20000 }\n");
    detach(&db, &plan);
    let mut running = worker(&db, "20261123_rewrite");
    loop {
        let (batches, state): (i64, String) = client
            .query_one("SELECT batches, state FROM switchback.jobs", &[])
            .await
            .map(|r| (r.get(0), r.get(1)))
            .unwrap();
        assert_ne!(
            state, "done",
            "the job finished before the table could be rewritten"
        );
        if batches >= 5 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    client.batch_execute("VACUUM FULL users").await.unwrap();
    assert!(running.wait().unwrap().success());

    let row = client
        .query_one(
            "SELECT j.filenode = pg_relation_filenode('users')::bigint, (SELECT count(*) FROM users WHERE email_lower IS DISTINCT FROM lower(email)) FROM switchback.jobs j",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (row.get::<_, bool>(0), row.get::<_, i64>(1)),
        (true, 0),
        "the job started over on the table's new file and set every row"
    );
    let done = switchback(&db, &["advance", &plan, "--progress", "plain"]);
    assert_eq!(done.status.code(), Some(0), "{}", text(&done.stderr));
    assert!(
        text(&done.stderr).contains("users.verify: 100000 rows verified"),
        "{}",
        text(&done.stderr)
    );
}

/// `backfill: { workers: 3 }`: `advance` runs the backfill and the verification with three
/// sessions at once, the old and new application writing throughout. Killed mid-backfill, the
/// re-run finishes with three sessions again, and every row holds what was last written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn advance_runs_the_plans_workers_side_by_side() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .batch_execute(&format!("CREATE TABLE users (id bigserial PRIMARY KEY, name text NOT NULL, email text); INSERT INTO users (name, email) SELECT 'user ' || g, NULL FROM generate_series(1, {ROWS}) g; ANALYZE users;"))
        .await
        .unwrap();
    let (_dir, plan) = plan_file("20261124_side_by_side", "changes:\n  - rename_column: { table: users, from: name, to: full_name }\nbackfill: { workers: 3, batch_size: 500, target_batch_time: 1ms }\n");
    let writer = Writer::start(&db.url, ROWS, Some("full_name")).await;

    let runner = Runner::start(&db, &plan, &[]);
    runner.wait_for("batch", 20);
    runner.kill();
    wait_for_runner_to_go(&db).await;
    // `full_name` exists from the first step on: the new application joins.
    writer.set_phase(MIXED);
    let killed_at: i64 = client
        .query_one("SELECT max(id) FROM switchback.batches", &[])
        .await
        .unwrap()
        .get(0);
    let done = switchback(&db, &["advance", &plan, "--progress", "plain"]);
    assert_eq!(done.status.code(), Some(0), "{}", text(&done.stderr));
    writer.run_for(50).await;
    let report = writer.stop().await;
    assert_eq!(report.errors, Vec::<String>::new());
    let verified = text(&done.stderr).matches("rows verified").count();
    assert_eq!(
        verified,
        1,
        "one line for the verification: {}",
        text(&done.stderr)
    );

    // Each job of the re-run: three workers, each busy while the others were.
    for step in ["users.backfill", "users.verify"] {
        let spans: Vec<(String, f64, f64)> = client
            .query(
                "SELECT worker, extract(epoch FROM min(at))::float8, extract(epoch FROM max(at))::float8
                   FROM switchback.batches WHERE step = $1 AND id > $2 GROUP BY worker",
                &[&step, &killed_at],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        assert_eq!(spans.len(), 3, "{step}: {spans:?}");
        let (last_start, first_end) = spans
            .iter()
            .fold((f64::MIN, f64::MAX), |(s, e), w| (s.max(w.1), e.min(w.2)));
        assert!(
            last_start <= first_end,
            "{step}: the workers ran at the same time: {spans:?}"
        );
    }
    let wrong: i64 = client
        .query_one(
            "SELECT count(*) FROM users WHERE full_name IS DISTINCT FROM name",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(wrong, 0);
    for (id, value) in report.names.iter().take(500) {
        let row = client
            .query_one("SELECT full_name FROM users WHERE id = $1", &[id])
            .await
            .unwrap();
        assert_eq!(&row.get::<_, String>(0), value, "row {id}");
    }
}

/// `throttle --workers` reaches a `switchback backfill` process too, whatever its own
/// `--workers`: started with one session, it takes a second between batches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_process_takes_the_sessions_throttle_gives_it() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .batch_execute("CREATE TABLE users (id bigint PRIMARY KEY, email text); INSERT INTO users SELECT g, NULL FROM generate_series(1, 100000) g; ANALYZE users;")
        .await
        .unwrap();
    let (_dir, plan) = plan_file("20261124_grow", "changes:\n  - set_not_null: { table: users, column: email, fill: \"'x'\" }\nbackfill: { batch_size: 500, max_rows_per_second: 10000 }\n");
    detach(&db, &plan);
    let mut running = worker(&db, "20261124_grow");
    let batches_of = |name: String| {
        let client = &client;
        async move {
            client
                .query_one(
                    "SELECT count(*) FROM switchback.batches WHERE worker LIKE $1",
                    &[&name],
                )
                .await
                .unwrap()
                .get::<_, i64>(0)
        }
    };
    let (lead, helper) = (
        format!("%:{}", running.id()),
        format!("%:{}:1", running.id()),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while batches_of(lead.clone()).await < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "no batch from the worker"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        batches_of(helper.clone()).await,
        0,
        "one session to start with"
    );
    let throttle = switchback(&db, &["throttle", "20261124_grow", "--workers", "2"]);
    assert_eq!(
        throttle.status.code(),
        Some(0),
        "{}",
        text(&throttle.stderr)
    );
    while batches_of(helper.clone()).await == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no batch from a second session"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    switchback(
        &db,
        &["throttle", "20261124_grow", "--max-rows-per-second", "0"],
    );
    assert!(running.wait().unwrap().success());
    let done = switchback(&db, &["advance", &plan, "--progress", "plain"]);
    assert_eq!(done.status.code(), Some(0), "{}", text(&done.stderr));
}
