//! Release managers steer a running backfill from another process: pause holds the cursor,
//! resume moves it again, throttle sets the rate, a paused plan stays paused across a restart
//! of its runner, and history and status say who did what.

mod support;

use std::time::{Duration, Instant};
use support::runner::Runner;
use support::{plan_file, switchback, text, TestDb};

async fn setup(db: &TestDb, rows: i64) {
    db.client()
        .await
        .batch_execute(&format!("CREATE TABLE users (id bigint PRIMARY KEY, email text); INSERT INTO users SELECT g, NULL FROM generate_series(1, {rows}) g; ANALYZE users;"))
        .await
        .unwrap();
}

async fn rows_done(db: &TestDb) -> i64 {
    db.client()
        .await
        .query_one(
            "SELECT rows_done FROM switchback.jobs WHERE step = 'users.backfill'",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

fn ok(out: std::process::Output) -> String {
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    text(&out.stdout)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_holds_the_cursor_and_resume_moves_it() {
    let db = TestDb::new().await;
    setup(&db, 200_000).await;
    let (_dir, plan) = plan_file("20261122_pause", "changes:\n  - set_not_null: { table: users, column: email, fill: \"'x'\" }\nbackfill: { workers: 2, batch_size: 1000, max_rows_per_second: 20000 }\n");
    let runner = Runner::start(&db, &plan, &[]);
    runner.wait_for("batch", 2);
    assert_eq!(
        ok(switchback(
            &db,
            &["pause", "20261122_pause", "--reason", "peak traffic"]
        )),
        "20261122_pause: paused; no batch runs until `switchback resume`\n"
    );
    let paused = runner.wait_for("paused", 1);
    assert_eq!(paused["reason"], "peak traffic");
    let held = rows_done(&db).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(rows_done(&db).await, held, "no batch ran while paused");

    let status: serde_json::Value =
        serde_json::from_str(&ok(switchback(&db, &["status", "--format", "json"]))).unwrap();
    let plan_status = &status["plans"][0];
    assert_eq!(plan_status["control"]["pause_reason"], "peak traffic");
    assert!(plan_status["control"]["paused_by"]
        .as_str()
        .unwrap()
        .contains('@'));
    assert_eq!(plan_status["jobs"][0]["state"], "paused");

    ok(switchback(&db, &["resume", "20261122_pause"]));
    // Both sessions obeyed the pause; it was reported once, and so is the resume. Each
    // session reads the control row itself, so the helper's first batch may be reported
    // before the lead's "resumed": what else came in the next five batches is looked at.
    let (mut seen, mut batches) = (Vec::new(), 0);
    while batches < 5 {
        let event = runner.next_event().expect("the run goes on");
        match event["event"].as_str().unwrap() {
            "batch" => batches += 1,
            other => seen.push(other.to_owned()),
        }
    }
    assert_eq!(seen, ["resumed"]);
    assert!(rows_done(&db).await > held, "the cursor moves again");
    ok(switchback(
        &db,
        &["throttle", "20261122_pause", "--max-rows-per-second", "0"],
    ));
    runner.finish();

    let history = ok(switchback(&db, &["history", "20261122_pause"]));
    let kinds: Vec<&str> = history
        .lines()
        .map(|l| l.splitn(4, "  ").last().unwrap())
        .collect();
    for expected in [
        "paused: peak traffic",
        "resumed",
        "throttled: max 0 rows/s",
        "stage expanded",
    ] {
        assert!(
            kinds.iter().any(|k| k.ends_with(expected)),
            "{expected} missing from\n{history}"
        );
    }
    let json: serde_json::Value =
        serde_json::from_str(&ok(switchback(&db, &["history", "--format", "json"]))).unwrap();
    let pause = json["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "paused")
        .unwrap();
    assert_eq!(
        (pause["plan"].as_str(), pause["detail"].as_str()),
        (Some("20261122_pause"), Some("peak traffic"))
    );
    assert!(
        pause["actor"].as_str().unwrap().contains('@')
            && pause["at"].as_str().unwrap().ends_with('Z')
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttle_holds_the_rate_within_twenty_percent() {
    let db = TestDb::new().await;
    setup(&db, 400_000).await;
    let (_dir, plan) = plan_file("20261122_throttle", "changes:\n  - set_not_null: { table: users, column: email, fill: \"'x'\" }\nbackfill: { batch_size: 1000 }\n");
    let runner = Runner::start(&db, &plan, &[]);
    runner.wait_for("batch", 1);
    ok(switchback(
        &db,
        &[
            "throttle",
            "20261122_throttle",
            "--max-rows-per-second",
            "10000",
        ],
    ));
    runner.wait_for("batch", 3);
    let (start, t0) = (rows_done(&db).await, Instant::now());
    tokio::time::sleep(Duration::from_secs(10)).await;
    let rate = (rows_done(&db).await - start) as f64 / t0.elapsed().as_secs_f64();
    eprintln!("throttle accuracy: {rate:.0} rows/s measured over 10s against a cap of 10000");
    assert!(
        (8_000.0..=12_000.0).contains(&rate),
        "measured {rate:.0} rows/s against a cap of 10000"
    );
    ok(switchback(
        &db,
        &[
            "throttle",
            "20261122_throttle",
            "--max-rows-per-second",
            "0",
            "--batch-size",
            "20000",
        ],
    ));
    runner.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_plan_stays_paused_when_its_runner_is_restarted() {
    let db = TestDb::new().await;
    setup(&db, 100_000).await;
    let (_dir, plan) = plan_file("20261122_restart", "changes:\n  - set_not_null: { table: users, column: email, fill: \"'x'\" }\nbackfill: { batch_size: 1000, max_rows_per_second: 20000 }\n");
    let mut first = Runner::start(&db, &plan, &[]);
    first.wait_for("batch", 1);
    ok(switchback(
        &db,
        &["pause", "20261122_restart", "--reason", "investigating"],
    ));
    first.wait_for("paused", 1);
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    support::wait_for_runner_to_go(&db).await;
    let held = rows_done(&db).await;

    let second = Runner::start(&db, &plan, &[]);
    let paused = second.wait_for("paused", 1);
    assert_eq!(
        paused["reason"], "investigating",
        "the new runner finds the plan paused"
    );
    assert_eq!(rows_done(&db).await, held);
    ok(switchback(&db, &["resume", "20261122_restart"]));
    second.wait_for("resumed", 1);
    ok(switchback(
        &db,
        &["throttle", "20261122_restart", "--max-rows-per-second", "0"],
    ));
    second.finish();
    assert_eq!(support::null_emails(&db).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steering_a_plan_that_has_not_started_is_refused() {
    let db = TestDb::new().await;
    setup(&db, 10).await;
    let (_dir, plan) = plan_file(
        "20261122_other",
        "changes:\n  - set_not_null: { table: users, column: email, fill: \"'x'\" }\n",
    );
    ok(switchback(&db, &["advance", &plan]));
    let out = switchback(&db, &["pause", "20261122_missing"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr)
            .contains("failed to find plan 20261122_missing in the ledger: it has not started"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        switchback(&db, &["throttle", "20261122_other"])
            .status
            .code(),
        Some(1),
        "throttle needs a setting"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_watch_refreshes_until_stopped() {
    use std::io::{BufRead, BufReader};
    let db = TestDb::new().await;
    setup(&db, 100).await;
    let (_dir, plan) = plan_file(
        "20261122_watch",
        "changes:\n  - set_not_null: { table: users, column: email, fill: \"'x'\" }\n",
    );
    ok(switchback(&db, &["advance", &plan]));
    let mut watch = std::process::Command::new(env!("CARGO_BIN_EXE_switchback"))
        .args([
            "status",
            "--watch",
            "--interval",
            "100ms",
            "--format",
            "json",
        ])
        .env("DATABASE_URL", &db.url)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(watch.stdout.take().unwrap()).lines();
    let first: serde_json::Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(first["plans"][0]["stage"], "expanded");
    assert!(first["plans"][0]["control"].get("paused_by").is_none());
    ok(switchback(
        &db,
        &["pause", "20261122_watch", "--reason", "watching"],
    ));
    let refreshed = lines
        .take(100)
        .map(|l| serde_json::from_str::<serde_json::Value>(&l.unwrap()).unwrap())
        .find(|doc| doc["plans"][0]["control"]["pause_reason"] == "watching");
    watch.kill().unwrap();
    watch.wait().unwrap();
    assert!(refreshed.is_some(), "a later refresh shows the pause");
}

/// `max_rows_per_second` caps what a backfill writes. The verification pass after it writes
/// no row and is not capped: with a cap that holds the backfill of 4,000 rows to about 2 s,
/// the verification of the same rows takes a fraction of that (capped, it took as long).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_cap_holds_the_backfill_and_not_the_verification() {
    let db = TestDb::new().await;
    setup(&db, 4_000).await;
    let (_dir, plan) = plan_file("20261124_capped", "changes:\n  - add_column: { table: users, column: { name: email_id, type: text }, backfill: \"'e' || id\" }\nbackfill: { batch_size: 500, max_rows_per_second: 2000 }\n");
    ok(switchback(&db, &["advance", &plan, "--progress", "plain"]));
    let seconds = |step: &'static str| {
        let db = &db;
        async move {
            db.client()
                .await
                .query_one(
                    "SELECT extract(epoch FROM finished_at - started_at)::float8, rows_done FROM switchback.jobs WHERE step = $1",
                    &[&step],
                )
                .await
                .unwrap()
        }
    };
    let (backfill, verify) = (
        seconds("users.backfill").await,
        seconds("users.verify").await,
    );
    let (backfill, verify): ((f64, i64), (f64, i64)) = (
        (backfill.get(0), backfill.get(1)),
        (verify.get(0), verify.get(1)),
    );
    // A block walk counts the backfill's rows from the blocks' estimate, the verification's exactly.
    assert!(
        backfill.1 >= 4_000 && verify.1 == 4_000,
        "{backfill:?} {verify:?}"
    );
    assert!(
        backfill.0 >= 1.5,
        "the cap holds the backfill: {backfill:?}"
    );
    assert!(
        verify.0 * 4.0 < backfill.0,
        "the verification is not capped: {verify:?} against the backfill's {backfill:?}"
    );
}

/// Backfill batches each worker committed after batch `after`, by worker name.
async fn batches_by_worker(db: &TestDb, after: i64) -> Vec<(String, i64)> {
    db.client()
        .await
        .query(
            "SELECT worker, count(*) FROM switchback.batches WHERE id > $1 AND step = 'users.backfill' GROUP BY worker ORDER BY worker",
            &[&after],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

async fn last_batch(db: &TestDb) -> i64 {
    db.client()
        .await
        .query_one("SELECT coalesce(max(id), 0) FROM switchback.batches", &[])
        .await
        .unwrap()
        .get(0)
}

/// Polls until `done` holds for the batches committed after batch `after`, for at most 60 s.
async fn until_batches(db: &TestDb, after: i64, done: impl Fn(&[(String, i64)]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let seen = batches_by_worker(db, after).await;
        if done(&seen) {
            return;
        }
        assert!(Instant::now() < deadline, "batches since {after}: {seen:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `throttle --workers` changes how many sessions a running `advance` backfills with: helpers
/// join between batches, a helper let go gives its range back at once (no lease to wait out),
/// and one let go can be seated again; every row is written once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttle_adds_and_lets_go_sessions_between_batches() {
    let db = TestDb::new().await;
    setup(&db, 200_000).await;
    let (_dir, plan) = plan_file("20261124_crew", "changes:\n  - set_not_null: { table: users, column: email, fill: \"'x'\" }\nbackfill: { batch_size: 1000, max_rows_per_second: 20000 }\n");
    let runner = Runner::start(&db, &plan, &[]);
    runner.wait_for("batch", 2);
    let helper = |seen: &[(String, i64)]| seen.iter().any(|(w, _)| w.contains(":advance:"));
    assert!(
        !helper(&batches_by_worker(&db, 0).await),
        "one session to start with"
    );

    let since = last_batch(&db).await;
    ok(switchback(
        &db,
        &["throttle", "20261124_crew", "--workers", "3"],
    ));
    assert_eq!(runner.wait_for("sessions", 1)["sessions"], 3);
    until_batches(&db, since, |seen| seen.len() == 3).await;

    // Paused, no session claims a range: what the helpers held is free only if they gave it
    // back (the state of a range whose lease ran out stays claimed until someone claims it).
    ok(switchback(&db, &["pause", "20261124_crew"]));
    runner.wait_for("paused", 1);
    ok(switchback(
        &db,
        &["throttle", "20261124_crew", "--workers", "1"],
    ));
    assert_eq!(runner.wait_for("sessions", 1)["sessions"], 1);
    let client = db.client().await;
    let held_by_helpers = "SELECT count(*) FROM switchback.ranges WHERE state = 'claimed' AND worker LIKE '%:advance:%'";
    let deadline = Instant::now() + Duration::from_secs(8);
    while client
        .query_one(held_by_helpers, &[])
        .await
        .unwrap()
        .get::<_, i64>(0)
        > 0
    {
        assert!(Instant::now() < deadline, "the helpers still hold ranges");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    ok(switchback(&db, &["resume", "20261124_crew"]));
    let since = last_batch(&db).await;
    until_batches(&db, since, |seen| seen.iter().any(|(_, n)| *n >= 5)).await;
    let seen = batches_by_worker(&db, since).await;
    assert!(
        !helper(&seen),
        "only the lead works after the helpers left: {seen:?}"
    );
    let status: serde_json::Value =
        serde_json::from_str(&ok(switchback(&db, &["status", "--format", "json"]))).unwrap();
    assert_eq!(status["plans"][0]["control"]["workers"], 1);

    let since = last_batch(&db).await;
    ok(switchback(
        &db,
        &["throttle", "20261124_crew", "--workers", "2"],
    ));
    until_batches(&db, since, helper).await;
    ok(switchback(
        &db,
        &["throttle", "20261124_crew", "--max-rows-per-second", "0"],
    ));
    runner.finish();

    let row = client
        .query_one(
            "SELECT (SELECT count(*) FROM users WHERE email IS DISTINCT FROM 'x'),
                    (SELECT sum(rows)::bigint FROM switchback.batches WHERE step = 'users.backfill')",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (row.get::<_, i64>(0), row.get::<_, i64>(1)),
        (0, 200_000),
        "(rows not filled, rows the batches wrote)"
    );
    let history = ok(switchback(&db, &["history", "20261124_crew"]));
    assert!(history.contains("throttled: 3 sessions"), "{history}");
}
