//! Lock discipline and runner safety: a conflicting lock makes advance retry and give up
//! with exit 3 naming the blocking session while other sessions keep working; a CONCURRENTLY
//! build waits out an old transaction on another table, naming it, instead of failing on
//! lock_timeout; one runner per plan; an edited plan is refused; --dry-run changes nothing;
//! status reports progress.

mod support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};
use support::runner::Runner;
use support::{catalog, plan_file, switchback, text, TestDb};

async fn users(db: &TestDb, rows: i64) {
    db.client()
        .await
        .batch_execute(&format!(
            "CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL, email text);
             INSERT INTO users SELECT g, 'user ' || g, NULL FROM generate_series(1, {rows}) g; ANALYZE users;"
        ))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_blocked_lock_is_retried_then_reported_with_the_blocking_session() {
    let db = TestDb::new().await;
    users(&db, 1000).await;
    let blocker = db.client().await;
    blocker
        .batch_execute("BEGIN; SELECT count(*) FROM users;")
        .await
        .unwrap();
    let blocker_pid: i32 = blocker
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);

    let (_dir, plan) = plan_file("20261122_blocked", "changes:\n  - rename_column: { table: users, from: name, to: full_name }\nlock_timeout: 200ms\n");
    let (run_db, plan_path) = (db.clone(), plan.clone());
    let run = tokio::task::spawn_blocking(move || {
        switchback(
            &run_db,
            &[
                "advance",
                &plan_path,
                "--progress",
                "plain",
                "--lock-retry-budget",
                "3s",
            ],
        )
    });

    // A third session reads and writes throughout; it may queue behind switchback's lock
    // request, but never for much longer than lock_timeout.
    let third = db.client().await;
    let mut latencies = Vec::new();
    while !run.is_finished() {
        let started = Instant::now();
        third
            .query_one("SELECT name FROM users WHERE id = 1", &[])
            .await
            .unwrap();
        third
            .execute("UPDATE users SET email = 'x' WHERE id = 2", &[])
            .await
            .unwrap();
        latencies.push(started.elapsed());
    }
    let out = run.await.unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("blocked by pid {blocker_pid} ")),
        "{stderr}"
    );
    assert!(
        stderr.contains("lock not granted (attempt 1)"),
        "it retried: {stderr}"
    );
    let worst = latencies.iter().max().copied().unwrap_or_default();
    assert!(latencies.len() > 10, "the third session kept working");
    assert!(
        worst < Duration::from_millis(600),
        "a reader/writer waited {worst:?} with lock_timeout 200ms"
    );

    blocker.batch_execute("COMMIT").await.unwrap();
    let out = switchback(&db, &["advance", &plan, "--progress", "plain"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

/// Opens, in `session`, a transaction that holds a snapshot while touching only a table of
/// its own: a CONCURRENTLY build must wait for it all the same.
async fn hold_an_old_snapshot(session: &tokio_postgres::Client) {
    session
        .batch_execute("CREATE TABLE reports (id int)")
        .await
        .unwrap();
    session
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM reports;")
        .await
        .unwrap();
}

/// `users` has exactly one index besides its key, and it is valid.
async fn assert_one_valid_index(client: &tokio_postgres::Client) {
    let index: (bool, i64) = client
        .query_one(
            "SELECT bool_and(i.indisvalid), count(*) FROM pg_index i WHERE i.indrelid = 'users'::regclass AND NOT i.indisprimary",
            &[],
        )
        .await
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    assert_eq!(index, (true, 1), "one index, valid");
}

/// A CONCURRENTLY build waits for every transaction older than itself, on any table. A
/// lock_timeout would cancel it (and leave its index INVALID) whenever one is open longer than
/// that, so it runs without one: it blocks no application statement while it waits, and says
/// for whom it waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concurrent_build_waits_out_an_old_transaction_and_names_it() {
    let db = TestDb::new().await;
    users(&db, 1000).await;
    let old = db.client().await;
    hold_an_old_snapshot(&old).await;
    let old_pid: i32 = old
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);

    let (_dir, plan) = plan_file("20261124_old_transaction", "changes:\n  - add_index: { table: users, name: users_name_idx, columns: [name] }\nlock_timeout: 200ms\n");
    let runner = Runner::start(&db, &plan, &["--lock-retry-budget", "1s"]);
    // Reported after the first look at its waits (2s): past lock_timeout and the retry budget.
    let waiting = runner.wait_for("waiting_for_sessions", 1);
    let pids: Vec<i64> = waiting["blockers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["pid"].as_i64().unwrap())
        .collect();
    assert_eq!(pids, [i64::from(old_pid)], "{waiting}");
    assert!(waiting["seconds"].as_f64().unwrap() >= 1.0, "{waiting}");
    // The application goes on meanwhile.
    let app = db.client().await;
    app.batch_execute("SET statement_timeout = '5s'; UPDATE users SET name = 'moved' WHERE id = 1; INSERT INTO users VALUES (1001, 'new', NULL)")
        .await
        .unwrap();

    old.batch_execute("COMMIT").await.unwrap();
    runner.finish();
    assert_one_valid_index(&app).await;
}

/// With a role whose `lock_timeout` is set: on a direct connection the build lifts it and waits
/// as above; behind a transaction pooler, where no session setting reaches it, the role's
/// timeout cancels the build, which leaves its index INVALID, and each retry drops that index
/// before building again, until the old transaction ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_cancelled_by_the_roles_lock_timeout_is_retried_cleanly() {
    let db = TestDb::new().await;
    users(&db, 1000).await;
    let old = db.client().await;
    let (role, database): (String, String) = old
        .query_one("SELECT current_user::text, current_database()::text", &[])
        .await
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    // Before any session of the pooler reaches this database, so every one has it.
    db.admin()
        .await
        .batch_execute(&format!(
            "ALTER ROLE \"{role}\" IN DATABASE \"{database}\" SET lock_timeout = '300ms'"
        ))
        .await
        .unwrap();
    hold_an_old_snapshot(&old).await;

    let (_dir, plan) = plan_file(
        "20261124_role_timeout",
        "changes:\n  - add_index: { table: users, name: users_name_idx, columns: [name] }\n",
    );
    let runner = Runner::start(&db, &plan, &["--lock-retry-budget", "60s"]);
    let pooled = db.url != db.direct;
    let (kind, nth) = match pooled {
        true => ("lock_retry", 2),
        false => ("waiting_for_sessions", 1),
    };
    let event = runner.wait_for(kind, nth);
    if pooled {
        assert_eq!(event["attempt"], 2, "{event}");
    }
    old.batch_execute("COMMIT").await.unwrap();
    runner.finish();
    assert_one_valid_index(&old).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_runners_of_one_plan_exactly_one_runs() {
    let db = TestDb::new().await;
    users(&db, 20_000).await;
    let (_dir, plan) = plan_file("20261122_two", "changes:\n  - set_not_null: { table: users, column: email, fill: \"'x'\" }\nbackfill: { batch_size: 500, max_rows_per_second: 10000 }\n");
    let mut first = support::command(&db)
        .args(["advance", &plan, "--progress", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(first.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        if line.unwrap().contains("\"event\":\"batch\"") {
            break;
        }
    }
    let second = switchback(&db, &["advance", &plan, "--progress", "plain"]);
    assert_eq!(second.status.code(), Some(3));
    assert!(
        text(&second.stderr).contains("another switchback ("),
        "{}",
        text(&second.stderr)
    );
    for line in lines {
        line.unwrap();
    }
    assert!(first.wait().unwrap().success());
    let attempts: i32 = db
        .client()
        .await
        .query_one(
            "SELECT attempts FROM switchback.steps WHERE name = 'users.backfill'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(attempts, 1, "the second runner never started a step");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_edited_after_it_started_is_refused() {
    let db = TestDb::new().await;
    users(&db, 100).await;
    let (_dir, plan) = plan_file(
        "20261122_edited",
        "changes:\n  - rename_column: { table: users, from: name, to: full_name }\n",
    );
    assert_eq!(switchback(&db, &["advance", &plan]).status.code(), Some(0));
    std::fs::write(
        &plan,
        "changes:\n  - rename_column: { table: users, from: name, to: display_name }\n",
    )
    .unwrap();
    let out = switchback(&db, &["advance", &plan]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr)
            .contains("failed to run plan 20261122_edited: its file changed after it started"),
        "{}",
        text(&out.stderr)
    );
    let stage: String = db
        .client()
        .await
        .query_one("SELECT stage FROM switchback.plans", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(stage, "expanded", "nothing of the edited plan ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_changes_nothing() {
    let db = TestDb::new().await;
    users(&db, 100).await;
    let client = db.client().await;
    let before = catalog(&client, "users").await;
    let (_dir, plan) = plan_file(
        "20261122_dry",
        "changes:\n  - rename_column: { table: users, from: name, to: full_name }\n",
    );
    let out = switchback(&db, &["advance", &plan, "--dry-run", "--progress", "plain"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("would run 0.add_column")
            && stderr.contains("ALTER TABLE \"public\".\"users\" ADD COLUMN \"full_name\" text;"),
        "{stderr}"
    );
    assert_eq!(catalog(&client, "users").await, before);
    let ledger: bool = client
        .query_one("SELECT to_regclass('switchback.plans') IS NULL", &[])
        .await
        .unwrap()
        .get(0);
    assert!(ledger, "no ledger was created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_reports_stages_steps_and_backfill_progress() {
    let db = TestDb::new().await;
    users(&db, 3000).await;
    let (_dir, plan) = plan_file("20261122_status", "changes:\n  - set_not_null: { table: users, column: email, fill: \"'x'\" }\nbackfill: { batch_size: 1000 }\n");
    assert_eq!(switchback(&db, &["advance", &plan]).status.code(), Some(0));
    let out = switchback(&db, &["status", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let plan = &json["plans"][0];
    assert_eq!(plan["id"], "20261122_status");
    assert_eq!(plan["stage"], "expanded");
    let steps: Vec<(&str, &str)> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["status"].as_str().unwrap()))
        .collect();
    assert!(
        steps.contains(&("users.backfill", "done"))
            && steps.contains(&("0.set_not_null", "pending")),
        "{steps:?}"
    );
    let backfill = plan["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["step"] == "users.backfill")
        .unwrap();
    assert_eq!(backfill["rows_done"], 3000);
    assert_eq!(backfill["percent"], 100.0);
    assert_eq!(backfill["state"], "done");
    let text_out = text(&switchback(&db, &["status"]).stdout);
    assert!(
        text_out.contains("20261122_status  expanded")
            && text_out.contains("users.backfill \"public\".\"users\": 3000/3000 rows (100.0%)"),
        "{text_out}"
    );
}
