//! Imported plans keep the migration tool's own bookkeeping true: once a plan completes, the
//! tool's table says the migration ran, exactly as the tool would have written it, so the
//! tool's `migrate` does not run it a second time. Drizzle's migrator and dbmate run for
//! real (from the npm registry); for Prisma, golang-migrate, goose and sql-migrate, whose
//! programs this machine cannot fetch, the tables are created with the tools' own DDL and
//! the rows compared with what the tools write.

mod support;

use sha2::Digest;
use support::app::App;
use support::writer::{MIXED, NEW};
use support::{catalog, switchback, text, tools, TestDb};
use tokio_postgres::Client;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/migrations");

/// goose's table as `version applied` lines, oldest first.
const GOOSE_VERSIONS: &str =
    "SELECT version_id || ' ' || is_applied FROM goose_db_version ORDER BY id";

fn sha256_of(path: &str) -> String {
    let digest = sha2::Sha256::digest(std::fs::read(path).unwrap());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn import(db: &TestDb, source: &str) -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    let imported = switchback(
        db,
        &["import", source, "--out", out.path().to_str().unwrap()],
    );
    assert_eq!(
        imported.status.code(),
        Some(0),
        "{}{}",
        text(&imported.stdout),
        text(&imported.stderr)
    );
    out
}

/// Advances one plan file one stage and returns what it printed.
fn advance(db: &TestDb, plan: &str) -> String {
    let out = switchback(db, &["advance", plan, "--progress", "plain"]);
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{said}");
    said
}

/// Drizzle's own migrator, as an application's deploy script runs it.
fn drizzle_migrate(url: &str, folder: &str) -> std::process::Output {
    let script = "const { drizzle } = require('drizzle-orm/node-postgres');
const { migrate } = require('drizzle-orm/node-postgres/migrator');
const { Pool } = require('pg');
(async () => {
  const pool = new Pool({ connectionString: process.argv[1] });
  try { await migrate(drizzle(pool), { migrationsFolder: process.argv[2] }); }
  finally { await pool.end(); }
})().catch((e) => { console.error(e.message, e.cause ? e.cause.message : ''); process.exit(1); });";
    tools::node()
        .args(["-e", script, url, folder])
        .output()
        .unwrap()
}

async fn rows(client: &Client, sql: &str) -> Vec<String> {
    client
        .query(sql, &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect()
}

#[tokio::test]
async fn drizzle_migrate_skips_what_switchback_completed_and_agrees_with_drizzle() {
    let folder = format!("{FIXTURES}/drizzle-app");
    // Drizzle applying its own migrations: the catalog and the bookkeeping to match.
    let direct = TestDb::new().await;
    let by_drizzle = drizzle_migrate(&direct.direct, &folder);
    assert!(by_drizzle.status.success(), "{}", text(&by_drizzle.stderr));
    let direct_client = direct.client().await;
    let bookkeeping =
        "SELECT hash || ' ' || created_at FROM drizzle.__drizzle_migrations ORDER BY id";

    let db = TestDb::new().await;
    let client = db.client().await;
    let plans = import(&db, &folder);
    let first = plans.path().join("0000_init.yaml");
    let second = plans.path().join("0001_full_name.yaml");
    advance(&db, first.to_str().unwrap());
    let said = advance(&db, first.to_str().unwrap());
    assert!(
        said.contains(
            "0000_init: recorded as applied in drizzle's table \"drizzle\".\"__drizzle_migrations\""
        ),
        "{said}"
    );
    client
        .batch_execute("INSERT INTO users (email, name) SELECT 'u' || g || '@example.org', 'name ' || g FROM generate_series(1, 300) g")
        .await
        .unwrap();

    // The rename runs with the old application writing, then both, then the new one.
    let app = App::start(
        &db.url,
        300,
        &[
            "SELECT id, email, name FROM users WHERE id = {id}",
            "UPDATE users SET name = 'name ' || id WHERE id = {id}",
            "INSERT INTO users (email, name) VALUES ('old{n}@example.org', 'old {n}')",
        ],
        &[
            "SELECT id, email, full_name, active FROM users WHERE id = {id}",
            "UPDATE users SET full_name = 'name ' || id, active = true WHERE id = {id}",
            "INSERT INTO users (email, full_name) VALUES ('new{n}@example.org', 'new {n}')",
        ],
        3,
    )
    .await;
    app.run_for(30).await;
    advance(&db, second.to_str().unwrap());
    app.set_phase(MIXED);
    app.run_for(60).await;
    app.set_phase(NEW);
    app.run_for(30).await;
    advance(&db, second.to_str().unwrap());
    app.run_for(30).await;
    let report = app.stop().await;
    assert!(report.errors.is_empty(), "{:#?}", report.errors);
    assert!(
        report.max_latency() < std::time::Duration::from_millis(1500),
        "an application statement waited {:?}: {}",
        report.slowest.0,
        report.slowest.1
    );

    let expected = vec![
        format!(
            "{} 1763800000000",
            sha256_of(&format!("{folder}/0000_init.sql"))
        ),
        format!(
            "{} 1763886400000",
            sha256_of(&format!("{folder}/0001_full_name.sql"))
        ),
    ];
    assert_eq!(rows(&client, bookkeeping).await, expected);
    assert_eq!(rows(&direct_client, bookkeeping).await, expected);
    assert_eq!(
        catalog(&client, "users").await,
        catalog(&direct_client, "users").await
    );
    let kept: i64 = client
        .query_one(
            "SELECT count(*) FROM users WHERE id <= 300 AND full_name = 'name ' || id",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(kept, 300);

    // Drizzle's migrator, run by the next deploy, finds nothing to do.
    let before = catalog(&client, "users").await;
    let again = drizzle_migrate(&db.direct, &folder);
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert_eq!(catalog(&client, "users").await, before);
    assert_eq!(rows(&client, bookkeeping).await, expected);

    // Without the record, it would have run the SQL again, and failed on the live table.
    client
        .batch_execute("DELETE FROM drizzle.__drizzle_migrations")
        .await
        .unwrap();
    let unrecorded = drizzle_migrate(&db.direct, &folder);
    assert!(!unrecorded.status.success());
    assert!(
        text(&unrecorded.stderr).contains("already exists"),
        "{}",
        text(&unrecorded.stderr)
    );
}

/// dbmate's URL for a test database: the local cluster has no TLS.
fn dbmate_url(db: &TestDb) -> String {
    format!("{}?sslmode=disable", db.direct)
}

fn dbmate_up(db: &TestDb, folder: &str) -> std::process::Output {
    tools::dbmate()
        .args(["--url", &dbmate_url(db), "--migrations-dir", folder])
        .args(["--no-dump-schema", "up"])
        .output()
        .unwrap()
}

#[tokio::test]
async fn dbmate_up_skips_what_switchback_completed() {
    let folder = format!("{FIXTURES}/dbmate-app");
    let schema = "CREATE TABLE orders (id bigserial PRIMARY KEY, amount integer NOT NULL);
                  INSERT INTO orders (amount) SELECT g FROM generate_series(1, 500) g;";
    let direct = TestDb::new().await;
    let direct_client = direct.client().await;
    direct_client.batch_execute(schema).await.unwrap();
    let by_dbmate = dbmate_up(&direct, &folder);
    assert!(by_dbmate.status.success(), "{}", text(&by_dbmate.stderr));

    let db = TestDb::new().await;
    let client = db.client().await;
    client.batch_execute(schema).await.unwrap();
    let plans = import(&db, &folder);
    let plan = plans.path().join("20261123110000_orders_note.yaml");
    advance(&db, plan.to_str().unwrap());
    advance(&db, plan.to_str().unwrap());

    let versions = "SELECT version::text FROM schema_migrations ORDER BY version";
    assert_eq!(rows(&client, versions).await, vec!["20261123110000"]);
    assert_eq!(
        rows(&client, versions).await,
        rows(&direct_client, versions).await
    );
    assert_eq!(
        catalog(&client, "orders").await,
        catalog(&direct_client, "orders").await
    );

    let up = dbmate_up(&db, &folder);
    let said = format!("{}{}", text(&up.stdout), text(&up.stderr));
    assert!(up.status.success(), "{said}");
    assert!(!said.contains("Applying"), "dbmate ran it again: {said}");
    // The control: without the row, dbmate would apply it again.
    client
        .batch_execute("DELETE FROM schema_migrations")
        .await
        .unwrap();
    let unrecorded = dbmate_up(&db, &folder);
    let said = format!("{}{}", text(&unrecorded.stdout), text(&unrecorded.stderr));
    assert!(said.contains("Applying"), "{said}");
}

/// One migration in each remaining tool's layout, creating a table of its own.
fn write_migration(dir: &std::path::Path, tool: &str) -> String {
    let create = |t: &str| format!("CREATE TABLE {t} (id bigint PRIMARY KEY, label text);\n");
    match tool {
        "prisma" => {
            let folder = dir.join("20261123080000_widgets");
            std::fs::create_dir_all(&folder).unwrap();
            std::fs::write(
                folder.join("migration.sql"),
                format!("-- CreateTable\n{}", create("\"Widget\"")),
            )
            .unwrap();
        }
        "golang-migrate" => {
            std::fs::write(dir.join("000002_widgets.up.sql"), create("widgets")).unwrap();
            std::fs::write(dir.join("000002_widgets.down.sql"), "DROP TABLE widgets;\n").unwrap();
        }
        "goose" => {
            let sql = format!(
                "-- +goose Up\n{}\n-- +goose Down\nDROP TABLE gadgets;\n",
                create("gadgets")
            );
            std::fs::write(dir.join("20261123090000_gadgets.sql"), sql).unwrap();
        }
        _ => {
            let sql = format!(
                "-- +migrate Up\n{}\n-- +migrate Down\nDROP TABLE gizmos;\n",
                create("gizmos")
            );
            std::fs::write(dir.join("20261123100000_gizmos.sql"), sql).unwrap();
        }
    }
    dir.display().to_string()
}

/// Imports the one migration in `dir` and runs it through expand and contract; a third
/// advance finds it completed and must not write the tool's row again.
fn import_and_complete(db: &TestDb, dir: &str) {
    let plans = import(db, dir);
    let plan = std::fs::read_dir(plans.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    for _ in 0..3 {
        advance(db, plan.to_str().unwrap());
    }
}

#[tokio::test]
async fn each_tools_table_gets_the_row_the_tool_writes() {
    let db = TestDb::new().await;
    let client = db.client().await;
    // Prisma's and sql-migrate's tables exist with a migration applied before; goose's and
    // golang-migrate's do not exist yet and are created as the tools create them.
    client
        .batch_execute(
            "CREATE TABLE _prisma_migrations (
                \"id\" VARCHAR(36) PRIMARY KEY NOT NULL,
                \"checksum\" VARCHAR(64) NOT NULL,
                \"finished_at\" TIMESTAMPTZ,
                \"migration_name\" VARCHAR(255) NOT NULL,
                \"logs\" TEXT,
                \"rolled_back_at\" TIMESTAMPTZ,
                \"started_at\" TIMESTAMPTZ NOT NULL DEFAULT now(),
                \"applied_steps_count\" INTEGER NOT NULL DEFAULT 0);
             INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, applied_steps_count)
                VALUES ('00000000-0000-0000-0000-000000000001', repeat('a', 64), now(), '20261101000000_init', 1);
             CREATE TABLE gorp_migrations (id text not null primary key, applied_at timestamp with time zone);
             INSERT INTO gorp_migrations VALUES ('20261101000000_init.sql', now());",
        )
        .await
        .unwrap();

    let dirs = tempfile::tempdir().unwrap();
    for tool in ["prisma", "golang-migrate", "goose", "sql-migrate"] {
        let dir = dirs.path().join(tool);
        std::fs::create_dir_all(&dir).unwrap();
        import_and_complete(&db, &write_migration(&dir, tool));
    }

    let checksum = sha256_of(&format!(
        "{}/prisma/20261123080000_widgets/migration.sql",
        dirs.path().display()
    ));
    assert_eq!(
        rows(&client, "SELECT migration_name || ' ' || checksum || ' ' || (finished_at IS NOT NULL) || ' ' || (rolled_back_at IS NULL) || ' ' || applied_steps_count || ' ' || length(id) FROM _prisma_migrations ORDER BY started_at, migration_name").await,
        vec![
            format!("20261101000000_init {} true true 1 36", "a".repeat(64)),
            format!("20261123080000_widgets {checksum} true true 1 36"),
        ]
    );
    assert_eq!(
        rows(
            &client,
            "SELECT version || ' ' || dirty FROM schema_migrations"
        )
        .await,
        vec!["2 false"]
    );
    assert_eq!(
        rows(&client, GOOSE_VERSIONS).await,
        vec!["0 true", "20261123090000 true"]
    );
    assert_eq!(
        rows(&client, "SELECT id FROM gorp_migrations ORDER BY id").await,
        vec!["20261101000000_init.sql", "20261123100000_gizmos.sql"]
    );
    // goose's table as goose's DDL makes it.
    assert_eq!(
        catalog(&client, "goose_db_version").await[..4],
        [
            "column id integer not_null=t default=",
            "column is_applied boolean not_null=t default=",
            "column tstamp timestamp without time zone not_null=t default=now()",
            "column version_id bigint not_null=t default=",
        ]
    );
}

#[tokio::test]
async fn a_table_that_is_not_the_tools_is_refused_before_anything_runs() {
    let db = TestDb::new().await;
    let client = db.client().await;
    // dbmate's schema_migrations, where golang-migrate keeps a table of the same name.
    client
        .batch_execute("create table schema_migrations (version varchar(128) primary key)")
        .await
        .unwrap();
    let dirs = tempfile::tempdir().unwrap();
    let dir = write_migration(dirs.path(), "golang-migrate");
    let plans = import(&db, &dir);
    let plan = plans.path().join("000002_widgets.yaml");

    let checked = switchback(
        &db,
        &[
            "validate",
            plan.to_str().unwrap(),
            "--database-url",
            &db.url,
        ],
    );
    let said = text(&checked.stdout) + &text(&checked.stderr);
    assert_eq!(checked.status.code(), Some(1), "{said}");
    assert!(said.contains("\"public\".\"schema_migrations\" is not golang-migrate's table: it has the columns (version), golang-migrate keeps (version, dirty)"), "{said}");

    let out = switchback(&db, &["advance", plan.to_str().unwrap()]);
    let said = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("is not golang-migrate's table"), "{said}");
    let created: bool = client
        .query_one("SELECT to_regclass('widgets') IS NOT NULL", &[])
        .await
        .unwrap()
        .get(0);
    assert!(
        !created,
        "the plan ran although its record could not be written"
    );

    // golang-migrate's own table, left dirty by a failed migration: also refused up front.
    client
        .batch_execute("DROP TABLE schema_migrations; CREATE TABLE schema_migrations (version bigint not null primary key, dirty boolean not null); INSERT INTO schema_migrations VALUES (1, true)")
        .await
        .unwrap();
    let out = switchback(&db, &["advance", plan.to_str().unwrap()]);
    let said = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("says version 1 is dirty"), "{said}");
}

#[tokio::test]
async fn a_role_that_may_only_create_tables_gets_the_tools_table_made() {
    let db = TestDb::new().await;
    let client = db.client().await;
    // As on managed PostgreSQL: CREATE on the schema, none on the database.
    let role = format!("tool_writer_{}", std::process::id());
    client
        .batch_execute(&format!(
            "CREATE ROLE {role} LOGIN; GRANT CREATE, USAGE ON SCHEMA public TO {role};
             CREATE SCHEMA switchback AUTHORIZATION {role};"
        ))
        .await
        .unwrap();
    let Some(rest) = db.url.strip_prefix("postgres://postgres@") else {
        return; // a DATABASE_URL of another shape: the harness's own role is used there
    };
    let as_role = TestDb {
        url: format!("postgres://{role}@{rest}"),
        direct: db.direct.clone(),
    };
    let dirs = tempfile::tempdir().unwrap();
    import_and_complete(&as_role, &write_migration(dirs.path(), "goose"));
    assert_eq!(
        rows(&client, GOOSE_VERSIONS).await,
        vec!["0 true", "20261123090000 true"]
    );
}
