//! Steps that fail on the data, and what the operator gets: a foreign key or CHECK whose
//! VALIDATE fails names the rows that break it; a unique index build that fails leaves an
//! INVALID index, which the next run drops and builds again (an `add_index`, or a raw
//! CREATE INDEX CONCURRENTLY).

mod support;

use support::{plan_file, switchback, text, TestDb};

const SCHEMA: &str = "
CREATE TABLE teams (id bigint PRIMARY KEY);
INSERT INTO teams SELECT generate_series(1, 5);
CREATE TABLE users (id bigint PRIMARY KEY, team_id bigint, score int, email text);
INSERT INTO users SELECT g, g % 5 + 1, g, 'u' || g FROM generate_series(1, 1000) g;
UPDATE users SET team_id = 77 WHERE id = 10;
UPDATE users SET team_id = 88 WHERE id = 20;
UPDATE users SET score = -3 WHERE id = 30;
UPDATE users SET email = 'dup' WHERE id IN (40, 41);
";

fn advance(db: &TestDb, plan: &str) -> std::process::Output {
    switchback(db, &["advance", plan, "--progress", "plain"])
}

#[tokio::test]
async fn a_failed_foreign_key_names_the_keys_that_reference_nothing() {
    let db = TestDb::new().await;
    db.client().await.batch_execute(SCHEMA).await.unwrap();
    let (_dir, plan) = plan_file("20261122_fk", "changes:\n  - add_foreign_key: { table: users, name: users_team_fk, columns: [team_id], references: { table: teams, columns: [id] } }\n");
    let out = advance(&db, &plan);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("failed to run step 0.validate_foreign_key:"),
        "{stderr}"
    );
    assert!(
        stderr.contains("rows that break it (first 2): (\"team_id\")=(77), (\"team_id\")=(88)"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_failed_check_names_the_rows_that_break_it() {
    let db = TestDb::new().await;
    db.client().await.batch_execute(SCHEMA).await.unwrap();
    let (_dir, plan) = plan_file("20261122_check", "changes:\n  - add_check: { table: users, name: users_score_nonneg, check: \"score >= 0\" }\n");
    let out = advance(&db, &plan);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("rows that break it (first 1): (30,1,-3,u30)"),
        "{stderr}"
    );
}

#[tokio::test]
async fn an_invalid_index_left_by_a_failed_build_is_dropped_and_built_again() {
    invalid_index_rebuilt(
        "add_index: { table: users, name: users_email_key, columns: [email], unique: true }",
    )
    .await;
}

/// A raw CREATE INDEX CONCURRENTLY resumes the same way, rather than failing on the name the
/// leftover holds (as it would for a runner killed mid-build, say by `revert`).
#[tokio::test]
async fn an_invalid_index_left_by_a_failed_sql_build_is_dropped_and_built_again() {
    invalid_index_rebuilt(
        "sql: { up: 'CREATE UNIQUE INDEX CONCURRENTLY users_email_key ON public.users (email);', down: 'DROP INDEX CONCURRENTLY IF EXISTS public.users_email_key;' }",
    )
    .await;
}

/// Runs `change`, a unique index build on users (email), which fails on the duplicate, fixes
/// the data, and runs it again.
async fn invalid_index_rebuilt(change: &str) {
    let db = TestDb::new().await;
    let client = db.client().await;
    client.batch_execute(SCHEMA).await.unwrap();
    let (_dir, plan) = plan_file("20261122_unique", &format!("changes:\n  - {change}\n"));
    let out = advance(&db, &plan);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("could not create unique index"),
        "{}",
        text(&out.stderr)
    );
    let state: Option<bool> = client
        .query_opt(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass('users_email_key')",
            &[],
        )
        .await
        .unwrap()
        .map(|r| r.get(0));
    assert_eq!(
        state,
        Some(false),
        "the failed build leaves an INVALID index"
    );
    let oid_before: u32 = client
        .query_one("SELECT 'users_email_key'::regclass::oid", &[])
        .await
        .unwrap()
        .get(0);

    client
        .batch_execute("UPDATE users SET email = 'u41' WHERE id = 41")
        .await
        .unwrap();
    let out = advance(&db, &plan);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let row = client
        .query_one("SELECT indisvalid, indexrelid::oid FROM pg_index WHERE indexrelid = to_regclass('users_email_key')", &[])
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0), "the rebuilt index is valid");
    assert_ne!(
        row.get::<_, u32>(1),
        oid_before,
        "the INVALID index was dropped and built anew"
    );
}
