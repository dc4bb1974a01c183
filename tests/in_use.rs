//! Contract only when nothing uses what it removes: with pg_stat_statements loaded in the
//! test cluster and a copy of the old application still writing the column a rename removes,
//! `advance` refuses contract (exit 3) naming the statement, `validate --database-url` and
//! `status` say the same, `--force` overrides and is recorded, and once only the new
//! application runs, contract waits out the window and completes. Without the extension it
//! says it cannot check and goes on.

mod support;

use std::time::{Duration, Instant};
use support::app::App;
use support::writer::NEW;
use support::{plan_file, succeeded, switchback, text, TestDb};

const ROWS: i64 = 2_000;

const PLAN: &str = "changes:
  - rename_column: { table: users, from: name, to: full_name }
";

const OLD_APP: &[&str] = &["UPDATE users SET name = 'o{n}' WHERE id = {id}"];
const NEW_APP: &[&str] = &["UPDATE users SET full_name = 'n{n}' WHERE id = {id}"];

/// A database with `users`, and pg_stat_statements created in it when `extension`.
async fn database(extension: bool) -> TestDb {
    let db = TestDb::new().await;
    if extension {
        db.admin()
            .await
            .batch_execute("CREATE EXTENSION pg_stat_statements")
            .await
            .unwrap_or_else(|e| {
                panic!("the test cluster must load pg_stat_statements (shared_preload_libraries): {e:?}")
            });
    }
    db.client()
        .await
        .batch_execute(&format!(
            "CREATE TABLE users (id bigint PRIMARY KEY, name text);
             INSERT INTO users SELECT g, 'u' || g FROM generate_series(1, {ROWS}) g;"
        ))
        .await
        .unwrap();
    db
}

fn advance(db: &TestDb, plan: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["advance", plan, "--progress", "plain", "--unused-for", "2s"];
    args.extend_from_slice(extra);
    switchback(db, &args)
}

/// `validate --database-url` of the plans in `folder`, as JSON.
fn validate(db: &TestDb, folder: &std::path::Path) -> serde_json::Value {
    let folder = folder.display().to_string();
    let out = switchback(
        db,
        &[
            "validate",
            &folder,
            "--database-url",
            &db.url,
            "--format",
            "json",
        ],
    );
    serde_json::from_str(&text(&out.stdout))
        .unwrap_or_else(|_| panic!("not JSON: {}{}", text(&out.stdout), text(&out.stderr)))
}

async fn has_column(db: &TestDb, column: &str) -> bool {
    db.client()
        .await
        .query_one(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' AND column_name = $1",
            &[&column],
        )
        .await
        .unwrap()
        .get::<_, i64>(0)
        == 1
}

async fn stage(db: &TestDb) -> String {
    let out = switchback(db, &["status", "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    status["plans"][0]["stage"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn contract_refuses_while_the_old_application_runs_and_waits_once_it_is_gone() {
    let db = database(true).await;
    let (dir, plan) = plan_file("20261123_rename", PLAN);
    let app = App::start(&db.url, ROWS, OLD_APP, NEW_APP, 2).await;
    app.run_for(20).await;
    succeeded(advance(&db, &plan, &[]));
    app.run_for(50).await;

    // The old application still writes `name`: contract is refused before it starts.
    let out = advance(&db, &plan, &[]);
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(3), "{said}");
    assert!(
        said.contains("UPDATE users SET name = $1 WHERE id = $2"),
        "{said}"
    );
    assert!(said.contains("`users`.`name`"), "{said}");
    assert!(
        said.contains("call(s)") && said.contains("last seen"),
        "{said}"
    );
    assert!(said.contains("--force"), "{said}");
    assert!(has_column(&db, "name").await, "contract ran: {said}");
    assert_eq!(stage(&db).await, "expanded");

    // validate --database-url and status say the same without changing anything.
    let report = validate(&db, dir.path());
    let still_used: Vec<&serde_json::Value> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] == "W716")
        .collect();
    assert_eq!(still_used.len(), 1, "{report:#}");
    assert!(
        still_used[0]["message"]
            .as_str()
            .unwrap()
            .contains("UPDATE users SET name"),
        "{report:#}"
    );
    let status = succeeded(switchback(&db, &["status"]));
    assert!(
        status.contains("contract: 1 statement(s) used what it removes")
            && status.contains("UPDATE users SET name = $1"),
        "{status}"
    );

    // The new application alone: contract is refused while the old statement was seen within
    // the window, then waits the window out and runs.
    app.set_phase(NEW);
    app.run_for(50).await;
    let started = Instant::now();
    let done = loop {
        let out = advance(&db, &plan, &[]);
        let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
        match out.status.code() {
            Some(0) => break said,
            Some(3) if said.contains("UPDATE users SET name") => {}
            other => panic!("exit {other:?}: {said}"),
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "contract never started: {said}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        done.contains("no statement has used what contract removes since"),
        "{done}"
    );
    assert!(!has_column(&db, "name").await);
    assert_eq!(stage(&db).await, "completed");
    let report = app.stop().await;
    // The old application's statements fail only once contract removed the column.
    assert!(
        report
            .errors
            .iter()
            .all(|e| e.contains("column \"name\"") || e.contains("full_name")),
        "{:?}",
        &report.errors[..report.errors.len().min(5)]
    );
}

#[tokio::test]
async fn force_overrides_with_a_reason_that_is_recorded() {
    let db = database(true).await;
    let (_dir, plan) = plan_file("20261123_forced", PLAN);
    let app = App::start(&db.url, ROWS, OLD_APP, NEW_APP, 1).await;
    app.run_for(20).await;
    succeeded(advance(&db, &plan, &[]));
    app.run_for(20).await;
    let said = succeeded(advance(
        &db,
        &plan,
        &["--force", "old workers drained by hand, ticket OPS-42"],
    ));
    assert!(
        said.contains("contract forced over 1 statement(s)") && said.contains("OPS-42"),
        "{said}"
    );
    app.stop().await;
    assert!(!has_column(&db, "name").await);
    let history = succeeded(switchback(&db, &["history", "20261123_forced"]));
    assert!(
        history.contains("contract forced")
            && history.contains("OPS-42")
            && history.contains("UPDATE users SET name"),
        "{history}"
    );
}

#[tokio::test]
async fn without_the_extension_it_says_it_cannot_check_and_goes_on() {
    let db = database(false).await;
    let (dir, plan) = plan_file("20261123_unchecked", PLAN);
    succeeded(advance(&db, &plan, &[]));
    let report = validate(&db, dir.path());
    assert!(
        report["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["code"] == "N717"
                && d["message"]
                    .as_str()
                    .unwrap()
                    .contains("pg_stat_statements")),
        "{report:#}"
    );
    let status = succeeded(switchback(&db, &["status"]));
    assert!(status.contains("contract: cannot check"), "{status}");
    let said = succeeded(advance(&db, &plan, &[]));
    assert!(
        said.contains("cannot check whether the application still uses what contract removes"),
        "{said}"
    );
    assert!(!has_column(&db, "name").await);
}
