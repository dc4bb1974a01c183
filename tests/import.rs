//! `switchback import` end to end on real PostgreSQL: migrations as Prisma and golang-migrate
//! write them are imported, the plans run through expand and contract on a table with rows,
//! and the result is compared with the same SQL applied directly: the same catalog, and the
//! data the SQL as written would have lost is still there.

mod support;

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

/// Imports `folder` and advances its plans until every one has completed contract.
fn import_and_run(db: &TestDb, folder: &str) -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    let imported = switchback(
        db,
        &["import", &format!("{FIXTURES}/{folder}"), "--out", dir],
    );
    assert_eq!(
        imported.status.code(),
        Some(0),
        "{}{}",
        text(&imported.stdout),
        text(&imported.stderr)
    );
    // Each advance moves every plan one stage (expand, then contract); a plan waits for the
    // one it depends on.
    for _ in 0..6 {
        let out = switchback(db, &["advance", dir, "--progress", "plain"]);
        assert!(
            matches!(out.status.code(), Some(0 | 3)),
            "{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }
    out
}

#[tokio::test]
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
    assert_eq!(
        switchback(&db, &["import", &first, "--out", dir])
            .status
            .code(),
        Some(0)
    );
    for _ in 0..2 {
        let out = switchback(&db, &["advance", dir, "--progress", "plain"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    client
        .batch_execute("INSERT INTO \"User\" (email, name) SELECT 'u' || g || '@example.org', 'name ' || g FROM generate_series(1, 500) g")
        .await
        .unwrap();
    drop(out);
    let _plans = import_and_run(&db, "prisma");

    assert_eq!(
        catalog(&client, "\"User\"").await,
        catalog(&direct_client, "\"User\"").await
    );
    // Run as written, the DROP COLUMN would have lost every name.
    let kept: i64 = client
        .query_one(
            "SELECT count(*) FROM \"User\" WHERE \"fullName\" = 'name ' || id",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(kept, 500);
}

#[tokio::test]
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
    let _plans = import_and_run(&db, "golang-migrate");

    assert_eq!(
        catalog(&client, "orders").await,
        catalog(&direct_client, "orders").await
    );
    let filled: i64 = client
        .query_one("SELECT count(*) FROM orders WHERE status = 'new'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(filled, 2000);
}
