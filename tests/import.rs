//! `switchback import` end to end on real PostgreSQL: migrations as Prisma, golang-migrate
//! and a re-runnable hand-written file write them are imported, the plans run through expand
//! and contract on tables with rows while the old and then the new application write, and
//! the result is compared with the same SQL applied directly: the same catalog, no
//! application statement failed or waited long, and the data the SQL as written would have
//! lost is still there.

mod support;

use support::app::App;
use support::runner::Runner;
use support::writer::{MIXED, NEW};
use support::{catalog, switchback, text, TestDb};
use tokio_postgres::Client;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/migrations");

/// Runs every statement of the SQL files one by one, as psql would in autocommit.
async fn apply_directly(client: &Client, files: &[&str]) {
    for file in files {
        let sql = std::fs::read_to_string(format!("{FIXTURES}/{file}")).unwrap();
        for statement in sql.split(";\n").filter(|s| !s.trim().is_empty()) {
            client.batch_execute(statement).await.unwrap();
        }
    }
}

/// Advances the plans in `dir` through expand with `app` as the old application, deploys
/// the new one (both side by side, then the new alone), and advances through contract; then
/// until every plan has completed (a migration imported as two plans runs the second once
/// the first has completed).
async fn advance_with_app(db: &TestDb, dir: &str, app: &App) {
    let advance = || async {
        let out = run_async(db, &["advance", dir, "--progress", "plain"]).await;
        // 3: a plan waits for the one it depends on.
        assert!(
            matches!(out.status.code(), Some(0 | 3)),
            "stdout:\n{}\nstderr:\n{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    };
    app.run_for(30).await;
    advance().await;
    app.set_phase(MIXED);
    app.run_for(200).await;
    app.set_phase(NEW);
    app.run_for(50).await;
    advance().await;
    app.run_for(50).await;
    advance().await;
    advance().await;
    let client = db.client().await;
    let unfinished: i64 = client
        .query_one(
            "SELECT count(*) FROM switchback.plans WHERE stage <> 'completed'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(unfinished, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn prisma_rename_keeps_the_data_and_ends_in_the_same_catalog() {
    let direct = TestDb::new().await;
    let direct_client = direct.client().await;
    apply_directly(
        &direct_client,
        &[
            "prisma/20261120093000_init/migration.sql",
            "prisma/20261121101500_full_name/migration.sql",
        ],
    )
    .await;

    let db = TestDb::new().await;
    let client = db.client().await;
    // The first migration alone, then rows, then the rename: as on a live database.
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    let first = format!("{FIXTURES}/prisma/20261120093000_init/migration.sql");
    assert_ok(&switchback(&db, &["import", &first, "--out", dir]));
    for _ in 0..2 {
        assert_ok(&switchback(&db, &["advance", dir, "--progress", "plain"]));
    }
    client
        .batch_execute("INSERT INTO \"User\" (email, name) SELECT 'u' || g || '@example.org', 'name ' || g FROM generate_series(1, 500) g")
        .await
        .unwrap();
    drop(out);
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    let folder = format!("{FIXTURES}/prisma");
    assert_ok(&switchback(&db, &["import", &folder, "--out", dir]));
    // The application Prisma generated before the migration, then the one after it.
    let app = App::start(
        &db.url,
        500,
        &[
            "INSERT INTO \"User\" (email, name) VALUES ('app{n}@example.org', 'app')",
            "UPDATE \"User\" SET name = 'name ' || id WHERE id = {id}",
            "SELECT id, email, name FROM \"User\" WHERE id = {id}",
        ],
        &[
            "INSERT INTO \"User\" (email, \"fullName\") VALUES ('app{n}@example.org', 'app')",
            "UPDATE \"User\" SET \"fullName\" = 'name ' || id WHERE id = {id}",
            "SELECT id, email, \"fullName\" FROM \"User\" WHERE \"fullName\" = 'name ' || {id}",
        ],
        3,
    )
    .await;
    advance_with_app(&db, dir, &app).await;
    assert_app_fine(&app.stop().await);

    assert_eq!(
        catalog(&client, "\"User\"").await,
        catalog(&direct_client, "\"User\"").await
    );
    // Run as written, the DROP COLUMN would have lost every name.
    let kept: i64 = client
        .query_one(
            "SELECT count(*) FROM \"User\" WHERE id <= 500 AND \"fullName\" = 'name ' || id",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(kept, 500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn golang_migrate_add_column_backfills_and_ends_in_the_same_catalog() {
    let schema = "CREATE TABLE orders (id bigserial PRIMARY KEY, amount integer NOT NULL);
                  INSERT INTO orders (amount) SELECT g FROM generate_series(1, 2000) g;";
    let direct = TestDb::new().await;
    let direct_client = direct.client().await;
    direct_client.batch_execute(schema).await.unwrap();
    apply_directly(
        &direct_client,
        &["golang-migrate/000001_orders_status.up.sql"],
    )
    .await;

    let db = TestDb::new().await;
    let client = db.client().await;
    client.batch_execute(schema).await.unwrap();
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    let folder = format!("{FIXTURES}/golang-migrate");
    assert_ok(&switchback(&db, &["import", &folder, "--out", dir]));
    let app = App::start(
        &db.url,
        2000,
        &[
            "INSERT INTO orders (amount) VALUES ({n})",
            "UPDATE orders SET amount = amount + 1 WHERE id = {id}",
            "SELECT id, amount FROM orders WHERE id = {id}",
        ],
        &[
            "INSERT INTO orders (amount, status) VALUES ({n}, 'paid')",
            "UPDATE orders SET status = 'shipped' WHERE id = {id} AND status = 'paid'",
            "SELECT id, status FROM orders WHERE status = 'new' AND id = {id}",
        ],
        3,
    )
    .await;
    advance_with_app(&db, dir, &app).await;
    assert_app_fine(&app.stop().await);

    assert_eq!(
        catalog(&client, "orders").await,
        catalog(&direct_client, "orders").await
    );
    let filled: i64 = client
        .query_one(
            "SELECT count(*) FROM orders WHERE id <= 2000 AND status = 'new'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(filled, 2000);
}

/// The database before the re-runnable migration: some of its objects are there already
/// (`audit_log` with rows and a column the migration does not know, `users`.`nickname` with
/// values, `scratch`), the others are not.
const BEFORE_RERUNNABLE: &str = "
    CREATE TABLE users (id bigserial PRIMARY KEY, name text NOT NULL, nickname text);
    INSERT INTO users (name, nickname) SELECT 'user ' || g, 'nick ' || g FROM generate_series(1, 20000) g;
    CREATE TABLE audit_log (id bigserial PRIMARY KEY, user_id bigint NOT NULL, action text NOT NULL,
                            at timestamptz NOT NULL DEFAULT now());
    INSERT INTO audit_log (user_id, action) SELECT g, 'signup' FROM generate_series(1, 500) g;
    CREATE TABLE scratch (id int);";

const RERUNNABLE: &str = "rerunnable/20261123090000_profiles.sql";

/// The application before the migration, and the one that uses `locale` after expand.
const OLD_APP: &[&str] = &[
    "INSERT INTO users (name) VALUES ('app {n}')",
    "UPDATE users SET nickname = 'app {n}' WHERE id = {id}",
    "SELECT id, name, nickname FROM users WHERE id = {id}",
    "INSERT INTO audit_log (user_id, action) VALUES ({id}, 'login')",
];
const NEW_APP: &[&str] = &[
    "INSERT INTO users (name, locale) VALUES ('app {n}', 'fr')",
    "UPDATE users SET locale = 'de' WHERE id = {id}",
    "SELECT id, locale, ref FROM users WHERE id = {id}",
    "SELECT count(*) FROM audit_log WHERE user_id = {id}",
];

/// What a test compares: the catalog of every table the migration names, and which exist.
async fn rerunnable_catalog(client: &Client) -> Vec<String> {
    let mut out = Vec::new();
    for table in ["users", "audit_log", "scratch"] {
        let exists: bool = client
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
            .await
            .unwrap()
            .get(0);
        out.push(format!("{table} exists={exists}"));
        if exists {
            out.extend(catalog(client, table).await);
        }
    }
    out
}

/// Rows that were there before the migration and are no longer as they were: the nicknames
/// and the audit log the skipped changes must leave alone.
async fn rows_lost(client: &Client) -> i64 {
    client
        .query_one(
            "SELECT (SELECT count(*) FROM generate_series(1, 500) g
                      WHERE NOT EXISTS (SELECT FROM audit_log WHERE id = g AND action = 'signup'))
                  + (SELECT count(*) FROM users WHERE id <= 20000
                      AND nickname IS DISTINCT FROM 'nick ' || id AND nickname NOT LIKE 'app %')",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

async fn run_async(db: &TestDb, args: &[&str]) -> std::process::Output {
    let (db, owned): (TestDb, Vec<String>) =
        (db.clone(), args.iter().map(|a| a.to_string()).collect());
    tokio::task::spawn_blocking(move || {
        let owned: Vec<&str> = owned.iter().map(String::as_str).collect();
        switchback(&db, &owned)
    })
    .await
    .unwrap()
}

fn assert_ok(out: &std::process::Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

fn assert_app_fine(report: &support::app::Report) {
    assert!(
        report.errors.is_empty(),
        "application errors: {:#?}",
        &report.errors[..report.errors.len().min(5)]
    );
    assert!(report.statements > 100, "the application hardly ran");
    assert!(
        report.max_latency() < std::time::Duration::from_millis(1500),
        "an application statement waited {:?}: {}",
        report.slowest.0,
        report.slowest.1
    );
}

/// `IF [NOT] EXISTS` is carried into the plan: validate names the changes that will not run,
/// advance skips them (the decision kept with the plan, so a run killed after `ref` was added
/// does not decide again and leave it half made), and the end is the catalog the SQL gives
/// when applied directly, with the old and new application writing throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn if_not_exists_skips_what_is_there_and_ends_in_the_same_catalog() {
    let direct = TestDb::new().await;
    let direct_client = direct.client().await;
    direct_client
        .batch_execute(BEFORE_RERUNNABLE)
        .await
        .unwrap();
    apply_directly(&direct_client, &[RERUNNABLE]).await;

    let db = TestDb::new().await;
    let client = db.client().await;
    client.batch_execute(BEFORE_RERUNNABLE).await.unwrap();
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    let file = format!("{FIXTURES}/{RERUNNABLE}");
    assert_ok(&switchback(&db, &["import", &file, "--out", dir]));

    let validated = switchback(&db, &["validate", dir, "--database-url", &db.url]);
    let said = text(&validated.stdout) + &text(&validated.stderr);
    assert_eq!(validated.status.code(), Some(0), "{said}");
    for skipped in [
        "note[N715]: skipped: `audit_log` exists already (if_not_exists) (at changes[0].create_table)",
        "note[N715]: skipped: column `users`.`nickname` exists already (if_not_exists) (at changes[2].add_column)",
        "note[N715]: skipped: column `users`.`legacy_flag` does not exist (if_exists) (at changes[5].drop_column)",
        "note[N715]: skipped: `users_legacy_idx` does not exist (if_exists) (at changes[6].drop_index)",
    ] {
        assert!(said.contains(skipped), "missing {skipped:?} in:\n{said}");
    }
    assert_eq!(said.matches("N715").count(), 4, "{said}");

    let app = App::start(&db.url, 20000, OLD_APP, NEW_APP, 3).await;
    app.run_for(30).await;
    // Killed mid-expand, once `ref` exists but before its backfill and NOT NULL are done.
    let runner = Runner::start(&db, dir, &[]);
    let mut skipped = Vec::new();
    loop {
        let event = runner
            .next_event()
            .expect("the run ended before its backfill");
        if event["event"] == "skipped" {
            skipped.push(event["change"].as_u64().unwrap());
        }
        if event["event"] == "batch" {
            break;
        }
    }
    assert_eq!(skipped, [0, 2, 5, 6]);
    runner.kill();
    support::wait_for_runner_to_go(&db).await;
    app.run_for(50).await;
    let rerun = run_async(&db, &["advance", dir, "--progress", "plain"]).await;
    assert_ok(&rerun);
    assert!(
        !text(&rerun.stderr).contains("skipped"),
        "a re-run decided again: {}",
        text(&rerun.stderr)
    );
    app.set_phase(MIXED);
    app.run_for(200).await;
    app.set_phase(NEW);
    app.run_for(50).await;
    assert_ok(&run_async(&db, &["advance", dir, "--progress", "plain"]).await);
    app.run_for(50).await;
    let report = app.stop().await;
    assert_app_fine(&report);

    assert_eq!(
        rerunnable_catalog(&client).await,
        rerunnable_catalog(&direct_client).await
    );
    assert_eq!(rows_lost(&client).await, 0);
    let unfilled: i64 = client
        .query_one(
            "SELECT count(*) FROM users WHERE ref IS NULL OR locale IS NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(unfilled, 0);
    let recorded: i64 = client
        .query_one(
            "SELECT count(*) FROM switchback.events WHERE kind LIKE 'changes[%] skipped'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(recorded, 4);
}

/// An abort after expand takes back what ran and leaves alone what the conditions skipped:
/// the `audit_log` that was there before keeps its rows and shape, `nickname` its values.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn abort_leaves_what_if_not_exists_skipped_alone() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client.batch_execute(BEFORE_RERUNNABLE).await.unwrap();
    let before = rerunnable_catalog(&client).await;
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    let file = format!("{FIXTURES}/{RERUNNABLE}");
    assert_ok(&switchback(&db, &["import", &file, "--out", dir]));
    let app = App::start(&db.url, 20000, OLD_APP, &[], 3).await;
    app.run_for(30).await;
    assert_ok(&run_async(&db, &["advance", dir, "--progress", "plain"]).await);
    let expanded = rerunnable_catalog(&client).await;
    assert_ne!(expanded, before, "expand changed nothing");
    let plan = "20261123090000_profiles";
    assert_ok(&run_async(&db, &["abort", plan]).await);
    app.run_for(50).await;
    assert_app_fine(&app.stop().await);
    assert_eq!(rerunnable_catalog(&client).await, before);
    assert_eq!(rows_lost(&client).await, 0);
}

/// An INVALID index of the name (a failed concurrent build) is refused before anything runs:
/// PostgreSQL's IF NOT EXISTS would keep it and call the index made.
#[tokio::test]
async fn if_not_exists_refuses_an_invalid_index_of_the_name() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .batch_execute(
            "CREATE TABLE t (id bigint PRIMARY KEY, code int);
             INSERT INTO t VALUES (1, 7), (2, 7);",
        )
        .await
        .unwrap();
    // Duplicates make the unique build fail, leaving the INVALID index behind.
    assert!(client
        .batch_execute("CREATE UNIQUE INDEX CONCURRENTLY t_code_idx ON t (code)")
        .await
        .is_err());
    let (_dir, plan) = support::plan_file(
        "20261123_t_code",
        "changes:\n  - add_column: { table: t, column: { name: note, type: text } }\n  - add_index: { table: t, name: t_code_idx, columns: [code], if_not_exists: true }\n",
    );
    let validated = switchback(&db, &["validate", &plan, "--database-url", &db.url]);
    let said = text(&validated.stdout) + &text(&validated.stderr);
    assert_eq!(validated.status.code(), Some(1), "{said}");
    assert!(
        said.contains(
            "error[E701]: `t_code_idx` is an INVALID index, left by a failed concurrent build"
        ),
        "{said}"
    );
    let out = switchback(&db, &["advance", &plan, "--progress", "plain"]);
    let said = text(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{said}");
    assert!(said.contains("`t_code_idx` is an INVALID index"), "{said}");
    // Refused before the first statement: the column the plan adds first is not there.
    let added: bool = client
        .query_one(
            "SELECT EXISTS (SELECT FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'note')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!added);
}

/// A migration of one tool's format, end to end: the database before it, the tables to
/// compare, and the application around it.
struct ToolCase {
    /// Under tests/fixtures/migrations.
    file: &'static str,
    before: &'static str,
    tables: &'static [&'static str],
    rows: i64,
    old: &'static [&'static str],
    new: &'static [&'static str],
}

/// The up part of a migration file, statement by statement, as the tool would run it:
/// everything before its down marker, without the BEGIN and COMMIT the runner owns.
fn up_statements(file: &str) -> Vec<String> {
    let text = std::fs::read_to_string(format!("{FIXTURES}/{file}")).unwrap();
    let up = ["-- +goose Down", "-- +migrate Down", "-- migrate:down"]
        .iter()
        .filter_map(|marker| text.find(marker))
        .min()
        .map_or(text.as_str(), |end| &text[..end]);
    up.split(";\n")
        .map(|s| {
            s.lines()
                .filter(|l| !l.trim_start().starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .filter(|s| !matches!(s.trim(), "" | "BEGIN" | "COMMIT"))
        .collect()
}

async fn tables_catalog(client: &Client, tables: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for table in tables {
        let exists: bool = client
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[table])
            .await
            .unwrap()
            .get(0);
        out.push(format!("{table} exists={exists}"));
        if exists {
            out.extend(catalog(client, table).await);
        }
    }
    out
}

async fn tool_end_to_end(case: ToolCase) {
    let direct = TestDb::new().await;
    let direct_client = direct.client().await;
    direct_client.batch_execute(case.before).await.unwrap();
    for statement in up_statements(case.file) {
        direct_client.batch_execute(&statement).await.unwrap();
    }

    let db = TestDb::new().await;
    let client = db.client().await;
    client.batch_execute(case.before).await.unwrap();
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    let file = format!("{FIXTURES}/{}", case.file);
    assert_ok(&switchback(&db, &["import", &file, "--out", dir]));
    let app = App::start(&db.url, case.rows, case.old, case.new, 3).await;
    advance_with_app(&db, dir, &app).await;
    assert_app_fine(&app.stop().await);
    assert_eq!(
        tables_catalog(&client, case.tables).await,
        tables_catalog(&direct_client, case.tables).await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn goose_migration_runs_with_the_application_and_ends_in_the_same_catalog() {
    tool_end_to_end(ToolCase {
        file: "goose/20261122130000_accounts.sql",
        before: "CREATE TABLE accounts (id bigserial PRIMARY KEY, name text NOT NULL);
                 INSERT INTO accounts (name) SELECT 'account ' || g FROM generate_series(1, 2000) g;",
        tables: &["accounts"],
        rows: 2000,
        old: &[
            "INSERT INTO accounts (name) VALUES ('a{n}')",
            "UPDATE accounts SET name = 'b{n}' WHERE id = {id}",
            "SELECT id, name FROM accounts WHERE id = {id}",
        ],
        new: &[
            "INSERT INTO accounts (name, plan) VALUES ('c{n}', 'pro')",
            "UPDATE accounts SET plan = 'team' WHERE id = {id}",
            "SELECT id, name, plan FROM accounts WHERE id = {id}",
        ],
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sql_migrate_migration_runs_with_the_application_and_ends_in_the_same_catalog() {
    tool_end_to_end(ToolCase {
        file: "sql-migrate/20261122140000_audit.sql",
        before: "CREATE TABLE audit_log (id bigserial PRIMARY KEY, message text);
                 INSERT INTO audit_log (message) SELECT 'entry ' || g FROM generate_series(1, 500) g;",
        tables: &["audit", "audit_log"],
        rows: 500,
        old: &[
            "INSERT INTO audit_log (message) VALUES ('m{n}')",
            "SELECT message FROM audit_log WHERE id = {id}",
        ],
        new: &[
            "INSERT INTO audit (payload) VALUES ('{\"n\": {n}}')",
            "SELECT count(*) FROM audit WHERE at > now() - interval '1 minute'",
        ],
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dbmate_migration_runs_with_the_application_and_ends_in_the_same_catalog() {
    tool_end_to_end(ToolCase {
        file: "dbmate/20261122120000_orders_amount.sql",
        before: "CREATE TABLE orders (id bigserial PRIMARY KEY, amount integer NOT NULL);
                 INSERT INTO orders (amount) SELECT g FROM generate_series(1, 2000) g;",
        tables: &["orders"],
        rows: 2000,
        old: &[
            "INSERT INTO orders (amount) VALUES ({n})",
            "UPDATE orders SET amount = amount + 1 WHERE id = {id}",
            "SELECT id, amount FROM orders WHERE id = {id}",
        ],
        new: &[
            "INSERT INTO orders (amount) VALUES ({n})",
            "SELECT id, amount FROM orders WHERE amount > {id} ORDER BY amount LIMIT 1",
        ],
    })
    .await;
}
