//! Crash tests: `kill -9` the `switchback advance` process at points inside expand, inside
//! the backfill, inside a concurrent index build, inside verification and inside contract;
//! run it again; the schema and data must end exactly as after an uninterrupted run.

mod support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use support::{catalog, data_digest, plan_file, switchback, text, TestDb};

const ROWS: i64 = 40_000;
const PLAN: &str = "changes:
  - rename_column: { table: users, from: name, to: full_name }
  - set_not_null: { table: users, column: email, fill: \"'unknown@example.com'\" }
backfill: { batch_size: 500, max_rows_per_second: 20000 }
";

async fn setup(db: &TestDb) {
    db.client()
        .await
        .batch_execute(&format!(
            "CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL CHECK (name <> ''), email text, created_at timestamptz NOT NULL);
             CREATE INDEX users_name_idx ON users (name);
             INSERT INTO users SELECT g, 'user ' || g, CASE WHEN g % 7 = 0 THEN NULL ELSE 'u' || g || '@example.org' END,
                                      timestamptz '2026-01-01' + g * interval '1 second' FROM generate_series(1, {ROWS}) g;
             ANALYZE users;"
        ))
        .await
        .unwrap();
}

/// Runs advance with JSON events and kills it with SIGKILL once `should_kill` has seen
/// enough events. Returns whether it was killed (false: it finished first).
fn advance_and_kill(
    db: &TestDb,
    plan: &str,
    mut should_kill: impl FnMut(&serde_json::Value) -> bool,
) -> bool {
    let mut child = support::command(db)
        .args(["advance", plan, "--progress", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    for line in BufReader::new(stdout).lines() {
        let event: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        if should_kill(&event) {
            child.kill().unwrap();
            child.wait().unwrap();
            return true;
        }
    }
    child.wait().unwrap();
    false
}

fn advance_until_done(db: &TestDb, plan: &str) {
    let out = switchback(db, &["advance", plan, "--progress", "plain"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

/// An uninterrupted expand and contract on a fresh copy: the state every crashed run must
/// end in.
async fn reference() -> (Vec<String>, String) {
    let db = TestDb::new().await;
    setup(&db).await;
    let (_dir, plan) = plan_file("20261122_crash", PLAN);
    advance_until_done(&db, &plan);
    advance_until_done(&db, &plan);
    let client = db.client().await;
    (
        catalog(&client, "users").await,
        data_digest(&client, "users", "id, full_name, email, created_at").await,
    )
}

/// Decides, event by event, when to kill the running advance.
type KillPoint = Box<dyn FnMut(&serde_json::Value) -> bool + Send>;

fn is(event: &serde_json::Value, kind: &str, step: &str) -> bool {
    event["event"] == kind && (step.is_empty() || event["step"] == step || event["stage"] == step)
}

/// Kills once at `expand_kill` during expand (and, if given, once at `contract_kill` during
/// contract), finishing each stage with a plain re-run.
async fn crash_at(
    expand_kill: impl FnMut(&serde_json::Value) -> bool + Send + 'static,
    contract_kill: Option<KillPoint>,
) {
    let db = TestDb::new().await;
    setup(&db).await;
    let (_dir, plan) = plan_file("20261122_crash", PLAN);
    let (db_url, plan_path) = (db.clone(), plan.clone());
    let killed =
        tokio::task::spawn_blocking(move || advance_and_kill(&db_url, &plan_path, expand_kill))
            .await
            .unwrap();
    assert!(killed, "the run finished before the kill point");
    support::wait_for_runner_to_go(&db).await;
    advance_until_done(&db, &plan);
    if let Some(contract_kill) = contract_kill {
        let (db_url, plan_path) = (db.clone(), plan.clone());
        let killed = tokio::task::spawn_blocking(move || {
            advance_and_kill(&db_url, &plan_path, contract_kill)
        })
        .await
        .unwrap();
        assert!(killed, "the contract finished before the kill point");
        support::wait_for_runner_to_go(&db).await;
    }
    advance_until_done(&db, &plan);
    let client = db.client().await;
    let (expected_catalog, expected_data) = reference().await;
    assert_eq!(catalog(&client, "users").await, expected_catalog);
    assert_eq!(
        data_digest(&client, "users", "id, full_name, email, created_at").await,
        expected_data
    );
    let stage: String = client
        .query_one("SELECT stage FROM switchback.plans", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(stage, "completed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_as_expand_starts() {
    crash_at(|e| is(e, "step_started", "0.add_column"), None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_in_the_middle_of_the_backfill() {
    let mut batches = 0;
    crash_at(
        move |e| {
            batches += usize::from(is(e, "batch", "users.backfill"));
            batches == 5
        },
        None,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_while_building_an_index_concurrently() {
    crash_at(|e| is(e, "step_started", "0.copy_indexes"), None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_during_verification() {
    let mut batches = 0;
    crash_at(
        move |e| {
            batches += usize::from(is(e, "batch", "users.verify"));
            batches == 3
        },
        None,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_inside_contract() {
    crash_at(
        |e| is(e, "step_started", "1.add_not_null_check"),
        Some(Box::new(|e| is(e, "step_started", "users.drop_sync"))),
    )
    .await;
}

/// The killed run leaves its backfill range claimed under a lease. On a direct connection
/// the re-run takes it over at once, its holder's session being gone, and runs its next batch
/// before that lease would have run out; behind a pooler, where no session is recorded, it
/// waits for the lease.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rerun_takes_over_the_killed_runners_range_at_once() {
    let db = TestDb::new().await;
    setup(&db).await;
    let (_dir, plan) = plan_file("20261122_crash", PLAN);
    let (db_url, plan_path) = (db.clone(), plan.clone());
    let mut batches = 0;
    let killed = tokio::task::spawn_blocking(move || {
        advance_and_kill(&db_url, &plan_path, move |e| {
            batches += usize::from(is(e, "batch", "users.backfill"));
            batches == 3
        })
    })
    .await
    .unwrap();
    assert!(killed, "the run finished before the kill point");
    support::wait_for_runner_to_go(&db).await;
    let client = db.client().await;
    let dead = client
        .query_one(
            "SELECT range_no, worker, lease_until::text FROM switchback.ranges WHERE state = 'claimed'",
            &[],
        )
        .await
        .unwrap();
    let (range, worker, lease): (i32, String, String) = (dead.get(0), dead.get(1), dead.get(2));
    let (db_url, plan_path) = (db.clone(), plan.clone());
    let dead_worker = worker.clone();
    let taken_over = tokio::task::spawn_blocking(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut taken_over = None;
        advance_and_kill(&db_url, &plan_path, |e| {
            if taken_over.is_none() && is(e, "batch", "users.backfill") {
                taken_over = Some(runtime.block_on(async {
                    let row = db_url
                        .client()
                        .await
                        .query_one(
                            "SELECT worker <> $2 FROM switchback.ranges WHERE step = 'users.backfill' AND range_no = $1",
                            &[&range, &dead_worker],
                        )
                        .await
                        .unwrap();
                    row.get::<_, bool>(0)
                }));
            }
            false
        });
        taken_over.expect("the re-run ran no batch")
    })
    .await
    .unwrap();
    let pooled = db.url != db.direct;
    assert_eq!(
        taken_over, !pooled,
        "whether the re-run's first batch came after it took over range {range} of {worker}, whose lease ran until {lease} (pooled: {pooled})"
    );
    advance_until_done(&db, &plan);
    assert_eq!(support::null_emails(&db).await, 0);
}

/// Runs `args` until its session waits for a lock on a statement `LIKE` `waiting_on`,
/// then kills it, waits for its session to go, and releases the lock `holder` took.
async fn kill_while_waiting(
    db: &TestDb,
    args: &[&str],
    waiting_on: &str,
    holder: &tokio_postgres::Client,
) {
    let mut child = support::command(db)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = db.client().await;
    let started = std::time::Instant::now();
    loop {
        if support::waits_for_lock(&client, waiting_on).await {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "{args:?} exited before it reached {waiting_on}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // Its session ends with it (the server checks every second that the runner is still
    // there), so its statement cannot complete once the lock is released.
    support::wait_for_runner_to_go(db).await;
    holder.batch_execute("COMMIT").await.unwrap();
}

/// A `sql` change whose statements run one by one (it has a CONCURRENTLY) and whose first
/// cannot run twice (an INSERT of a key): killed while its second statement waits for a lock,
/// in `up` and then in `down`, the re-run starts after the statement that committed, and both
/// end done. The `down` is killed inside its index build, which leaves the index INVALID: the
/// re-run of abort drops it and builds it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_step_does_not_repeat_a_statement_that_committed() {
    let db = TestDb::new().await;
    setup(&db).await;
    let client = db.client().await;
    client
        .batch_execute(
            "CREATE TABLE orgs (id bigint PRIMARY KEY, name text);
             CREATE INDEX orgs_name_idx ON orgs (name);",
        )
        .await
        .unwrap();
    let (_dir, plan) = plan_file(
        "20261124_drops",
        "lock_timeout: 1s\nchanges:
  - sql:
      up: INSERT INTO users VALUES (0, 'zero', NULL, '2026-01-01'); DROP INDEX CONCURRENTLY orgs_name_idx
      down: INSERT INTO users VALUES (-1, 'undone', NULL, '2026-01-01'); CREATE INDEX CONCURRENTLY orgs_name_idx ON orgs (name)
",
    );
    let state = "SELECT format('%s %s', (SELECT array_agg(id ORDER BY id) FROM users WHERE id <= 0),
                                 (SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass('orgs_name_idx')))";
    let holder = db.client().await;
    holder
        .batch_execute("BEGIN; LOCK TABLE orgs IN SHARE MODE")
        .await
        .unwrap();
    // Behind a pooler the killed runner's statement carries on once the lock is released
    // (no session lock_timeout reaches it there): the re-run must cope with either.
    let pooled = db.url != db.direct;
    kill_while_waiting(&db, &["advance", &plan], "%orgs_name_idx%", &holder).await;
    let now: String = client.query_one(state, &[]).await.unwrap().get(0);
    assert!(now.starts_with("{0} "), "the INSERT committed: {now}");
    assert!(pooled || now == "{0} t", "the DROP did not: {now}");
    advance_until_done(&db, &plan);
    let now: String = client.query_one(state, &[]).await.unwrap().get(0);
    assert_eq!(now, "{0} ");

    // A writer's open transaction: the build has made its INVALID index and waits for it.
    holder
        .batch_execute("BEGIN; LOCK TABLE orgs IN ROW EXCLUSIVE MODE")
        .await
        .unwrap();
    kill_while_waiting(
        &db,
        &["abort", "20261124_drops"],
        "%orgs_name_idx%",
        &holder,
    )
    .await;
    let now: String = client.query_one(state, &[]).await.unwrap().get(0);
    assert!(now.starts_with("{-1,0} "), "the INSERT committed: {now}");
    assert!(pooled || now == "{-1,0} f", "the build did not: {now}");
    let out = switchback(&db, &["abort", "20261124_drops"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let now: String = client.query_one(state, &[]).await.unwrap().get(0);
    assert_eq!(now, "{-1,0} t");
}
