//! rename_column and set_not_null end to end against real PostgreSQL, with a concurrent
//! writer playing the old and the new application throughout: expand -> contract and
//! expand -> abort, checking rows one by one and the catalog after each stage.

mod support;

use std::collections::HashMap;
use support::writer::{Writer, MIXED, NEW};
use support::{catalog, plan_file, switchback, text, TestDb};
use tokio_postgres::Client;

const ROWS: i64 = 20_000;

/// users(id, name NOT NULL DEFAULT, email) with an index and a CHECK on name; every tenth
/// email is NULL.
async fn users_table(client: &Client) {
    client
        .batch_execute(&format!(
            "CREATE TABLE users (id bigserial PRIMARY KEY, name text NOT NULL DEFAULT 'anonymous' CHECK (length(name) < 200),
                                 email text, created_at timestamptz NOT NULL DEFAULT now());
             CREATE INDEX users_name_idx ON users (name);
             INSERT INTO users (name, email)
               SELECT 'user ' || g, CASE WHEN g % 10 = 0 THEN NULL ELSE 'u' || g || '@example.org' END FROM generate_series(1, {ROWS}) g;
             ANALYZE users;"
        ))
        .await
        .unwrap();
}

fn advance(db: &TestDb, plan: &str) -> std::process::Output {
    switchback(db, &["advance", plan, "--progress", "plain"])
}

async fn advance_async(db: &TestDb, plan: &str) -> std::process::Output {
    let (db, plan) = (db.clone(), plan.to_owned());
    tokio::task::spawn_blocking(move || advance(&db, &plan))
        .await
        .unwrap()
}

async fn abort_async(db: &TestDb, plan: &str) -> std::process::Output {
    let (db, plan) = (db.clone(), plan.to_owned());
    tokio::task::spawn_blocking(move || switchback(&db, &["abort", &plan, "--progress", "plain"]))
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

/// The logical name of every row, read from `column`.
async fn names(client: &Client, column: &str) -> HashMap<i64, String> {
    client
        .query(&format!("SELECT id, {column} FROM users"), &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

/// Every row holds what the application last wrote; untouched rows kept their value.
fn assert_no_write_lost(actual: &HashMap<i64, String>, report: &support::writer::Report) {
    for id in 1..=ROWS {
        let expected = report
            .names
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("user {id}"));
        assert_eq!(actual.get(&id), Some(&expected), "row {id}");
    }
    for (id, name) in &report.names {
        assert_eq!(actual.get(id), Some(name), "row {id}");
    }
    let values: Vec<&String> = actual.values().collect();
    for copied in &report.copied {
        assert!(values.contains(&copied), "COPYed row {copied} is missing");
    }
}

/// The catalog a plain, blocking DDL would have produced on the same table.
async fn catalog_after(ddl: &str) -> Vec<String> {
    let db = TestDb::new().await;
    let client = db.client().await;
    users_table(&client).await;
    client.batch_execute(ddl).await.unwrap();
    catalog(&client, "users").await
}

async fn pair_differences(client: &Client) -> i64 {
    client
        .query_one(
            "SELECT count(*) FROM users WHERE full_name IS DISTINCT FROM name",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

const RENAME: &str = "changes:\n  - rename_column: { table: users, from: name, to: full_name }\nbackfill: { batch_size: 1000 }\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rename_column_expand_then_contract_under_writes() {
    let db = TestDb::new().await;
    let client = db.client().await;
    users_table(&client).await;
    let (_dir, plan) = plan_file("20261122_rename_name", RENAME);
    let writer = Writer::start(&db.url, ROWS, Some("full_name")).await;
    writer.run_for(50).await;

    assert_ok(&advance_async(&db, &plan).await);
    assert_eq!(
        pair_differences(&client).await,
        0,
        "after expand both columns agree"
    );
    let expanded = catalog(&client, "users").await;
    for expected in [
        "index CREATE INDEX sb_users_name_idx ON public.users USING btree (full_name) valid=t",
        "constraint sb_users_name_check CHECK ((length(full_name) < 200)) validated=t",
        "constraint sb_nn_users_full_name CHECK ((full_name IS NOT NULL)) validated=t",
        "column name text not_null=t default=",
        "trigger zz_switchback_20261122_rename_name",
    ] {
        assert!(
            expanded.iter().any(|l| l == expected),
            "{expected} missing from {expanded:#?}"
        );
    }

    writer.set_phase(MIXED);
    writer.run_for(300).await;
    assert_eq!(
        pair_differences(&client).await,
        0,
        "old and new application side by side stay in step"
    );

    writer.set_phase(NEW);
    assert_ok(&advance_async(&db, &plan).await);
    writer.run_for(100).await;
    let report = writer.stop().await;
    assert_eq!(report.errors, Vec::<String>::new());
    for kind in [
        "insert old",
        "update old",
        "insert new",
        "update new",
        "update both",
        "update neither",
        "copy old",
    ] {
        assert!(
            report.counts.get(kind).copied().unwrap_or(0) > 0,
            "the writer never ran {kind}: {:?}",
            report.counts
        );
    }
    assert_no_write_lost(&names(&client, "full_name").await, &report);
    assert_eq!(
        catalog(&client, "users").await,
        catalog_after("ALTER TABLE users RENAME COLUMN name TO full_name").await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rename_column_expand_then_abort_under_writes() {
    let db = TestDb::new().await;
    let client = db.client().await;
    users_table(&client).await;
    let original = catalog(&client, "users").await;
    let (_dir, plan) = plan_file("20261122_rename_name", RENAME);
    let writer = Writer::start(&db.url, ROWS, Some("full_name")).await;
    writer.run_for(50).await;
    assert_ok(&advance_async(&db, &plan).await);
    writer.run_for(200).await;
    assert_ok(&abort_async(&db, &plan).await);
    writer.run_for(100).await;
    let report = writer.stop().await;
    assert_eq!(report.errors, Vec::<String>::new());
    assert_eq!(
        catalog(&client, "users").await,
        original,
        "abort leaves the table as it was"
    );
    assert_no_write_lost(&names(&client, "name").await, &report);
    let leftovers: i64 = client
        .query_one("SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'switchback'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(leftovers, 0, "the trigger function is gone");
    let again = advance(&db, &plan);
    assert_eq!(
        again.status.code(),
        Some(1),
        "an aborted plan does not run again"
    );
    assert!(
        text(&again.stderr).contains("it was aborted"),
        "{}",
        text(&again.stderr)
    );
}

const NOT_NULL: &str = "changes:\n  - set_not_null: { table: users, column: email, fill: \"'unknown@example.com'\" }\nbackfill: { batch_size: 1000 }\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn set_not_null_with_fill_expand_then_contract_under_writes() {
    let db = TestDb::new().await;
    let client = db.client().await;
    users_table(&client).await;
    let (_dir, plan) = plan_file("20261122_email_not_null", NOT_NULL);
    let writer = Writer::start(&db.url, ROWS, None).await;
    writer.run_for(50).await;
    assert_ok(&advance_async(&db, &plan).await);
    let nulls: i64 = client
        .query_one("SELECT count(*) FROM users WHERE email IS NULL", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        nulls, 0,
        "existing NULLs are filled and the old application's NULL writes too"
    );
    writer.set_phase(MIXED);
    writer.run_for(200).await;
    writer.set_phase(NEW);
    assert_ok(&advance_async(&db, &plan).await);
    writer.run_for(100).await;
    let report = writer.stop().await;
    assert_eq!(report.errors, Vec::<String>::new());
    assert!(
        !report.null_emails.is_empty(),
        "the old application wrote NULLs during expand"
    );
    let filled: i64 = client
        .query_one(
            "SELECT count(*) FROM users WHERE id = ANY($1) AND email = 'unknown@example.com'",
            &[&report.null_emails],
        )
        .await
        .unwrap()
        .get(0);
    assert!(filled > 0);
    assert_no_write_lost(&names(&client, "name").await, &report);
    assert_eq!(catalog(&client, "users").await, catalog_after("UPDATE users SET email = 'x' WHERE email IS NULL; ALTER TABLE users ALTER COLUMN email SET NOT NULL").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn set_not_null_with_fill_expand_then_abort_restores_the_nulls() {
    let db = TestDb::new().await;
    let client = db.client().await;
    users_table(&client).await;
    let original = catalog(&client, "users").await;
    let (_dir, plan) = plan_file("20261122_email_not_null", NOT_NULL);
    let writer = Writer::start(&db.url, ROWS, None).await;
    writer.run_for(50).await;
    assert_ok(&advance_async(&db, &plan).await);
    // Rows the application changed after the backfill filled them keep the application's value.
    let changed_by_app: Vec<i64> = vec![20, 30, 40, 50, 60];
    client
        .execute(
            "UPDATE users SET email = 'app@example.org' WHERE id = ANY($1)",
            &[&changed_by_app],
        )
        .await
        .unwrap();
    writer.run_for(100).await;
    assert_ok(&abort_async(&db, &plan).await);
    let report = writer.stop().await;
    assert_eq!(report.errors, Vec::<String>::new());
    assert_eq!(catalog(&client, "users").await, original);
    let emails: HashMap<i64, Option<String>> = client
        .query("SELECT id, email FROM users WHERE id <= $1", &[&ROWS])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    for id in (10..=ROWS).step_by(10) {
        if changed_by_app.contains(&id) || report.email_written.contains(&id) {
            continue;
        }
        assert_eq!(
            emails[&id], None,
            "row {id} had a NULL email before the plan"
        );
    }
    let untouched: Vec<&i64> = changed_by_app
        .iter()
        .filter(|id| !report.email_written.contains(id))
        .collect();
    assert!(
        !untouched.is_empty(),
        "the writer overwrote every marked row"
    );
    for id in untouched {
        assert_eq!(
            emails[id].as_deref(),
            Some("app@example.org"),
            "row {id}: a value written by the application is kept"
        );
    }
    for id in (1..=ROWS).filter(|id| id % 10 != 0 && !report.email_written.contains(id)) {
        assert_eq!(emails[&id], Some(format!("u{id}@example.org")), "row {id}");
    }
    let fills: i64 = client
        .query_one("SELECT count(*) FROM switchback.fills", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(fills, 0, "the recorded keys are cleared once used");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn set_not_null_without_fill_stops_at_validation_when_nulls_remain() {
    let db = TestDb::new().await;
    let client = db.client().await;
    users_table(&client).await;
    let original = catalog(&client, "users").await;
    let (_dir, plan) = plan_file(
        "20261122_email_required",
        "changes:\n  - set_not_null: { table: users, column: email }\n",
    );
    let out = advance(&db, &plan);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("validate_not_null_check") && stderr.contains("is violated by some row"),
        "{stderr}"
    );
    assert_ok(&abort_async(&db, &plan).await);
    assert_eq!(catalog(&client, "users").await, original);
    client
        .execute("UPDATE users SET email = 'x' WHERE email IS NULL", &[])
        .await
        .unwrap();
    let (_dir, plan) = plan_file(
        "20261123_email_required",
        "changes:\n  - set_not_null: { table: users, column: email }\n",
    );
    assert_ok(&advance(&db, &plan));
    assert_ok(&advance(&db, &plan));
    let not_null: bool = client.query_one("SELECT attnotnull FROM pg_attribute WHERE attrelid = 'users'::regclass AND attname = 'email'", &[]).await.unwrap().get(0);
    assert!(not_null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_dual_write_trigger_follows_every_rule() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .batch_execute("CREATE TABLE users (id bigint PRIMARY KEY, name text DEFAULT 'anonymous', email text); INSERT INTO users VALUES (1, 'a', 'e'), (2, 'b', 'e'), (3, 'c', 'e'), (4, 'd', 'e'), (5, 'e', 'e')")
        .await
        .unwrap();
    let (_dir, plan) = plan_file("20261122_rename_name", RENAME);
    assert_ok(&advance(&db, &plan));
    let pair = |id: i64| {
        let client = &client;
        async move {
            let row = client
                .query_one("SELECT name, full_name FROM users WHERE id = $1", &[&id])
                .await
                .unwrap();
            (
                row.get::<_, Option<String>>(0),
                row.get::<_, Option<String>>(1),
            )
        }
    };
    let some = |s: &str| Some(s.to_owned());
    client
        .execute("INSERT INTO users (id, name) VALUES (10, 'old')", &[])
        .await
        .unwrap();
    assert_eq!(
        pair(10).await,
        (some("old"), some("old")),
        "INSERT setting the old column only"
    );
    client
        .execute("INSERT INTO users (id, full_name) VALUES (11, 'new')", &[])
        .await
        .unwrap();
    assert_eq!(
        pair(11).await,
        (some("new"), some("new")),
        "INSERT setting the new column only"
    );
    client
        .execute("INSERT INTO users (id, email) VALUES (12, 'e')", &[])
        .await
        .unwrap();
    assert_eq!(
        pair(12).await,
        (some("anonymous"), some("anonymous")),
        "INSERT setting neither gets the default in both"
    );
    client
        .execute("UPDATE users SET name = 'a2' WHERE id = 1", &[])
        .await
        .unwrap();
    assert_eq!(
        pair(1).await,
        (some("a2"), some("a2")),
        "UPDATE of the old column only"
    );
    client
        .execute("UPDATE users SET full_name = 'b2' WHERE id = 2", &[])
        .await
        .unwrap();
    assert_eq!(
        pair(2).await,
        (some("b2"), some("b2")),
        "UPDATE of the new column only"
    );
    client
        .execute(
            "UPDATE users SET name = 'c-old', full_name = 'c-new' WHERE id = 3",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        pair(3).await,
        (some("c-old"), some("c-new")),
        "UPDATE of both is kept as written"
    );
    client
        .execute("UPDATE users SET email = 'x' WHERE id = 4", &[])
        .await
        .unwrap();
    assert_eq!(
        pair(4).await,
        (some("d"), some("d")),
        "UPDATE of neither is kept as written"
    );
    client
        .execute("UPDATE users SET name = NULL WHERE id = 5", &[])
        .await
        .unwrap();
    assert_eq!(
        pair(5).await,
        (None, None),
        "an UPDATE to NULL is carried over too"
    );
    {
        use futures_util::SinkExt;
        let sink = client
            .copy_in("COPY users (id, name) FROM STDIN")
            .await
            .unwrap();
        let mut sink = Box::pin(sink);
        sink.send(bytes::Bytes::from_static(b"13\tcopied\n"))
            .await
            .unwrap();
        sink.as_mut().finish().await.unwrap();
    }
    assert_eq!(
        pair(13).await,
        (some("copied"), some("copied")),
        "COPY behaves as INSERT"
    );
    let default: Option<String> = client
        .query_one("SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef WHERE adrelid = 'users'::regclass AND adnum = (SELECT attnum FROM pg_attribute WHERE attrelid = 'users'::regclass AND attname = 'name')", &[])
        .await
        .map(|r| r.get(0))
        .ok();
    assert_eq!(
        default, None,
        "neither column of the pair carries a DEFAULT during the transition"
    );
}
