//! The application's own triggers and the backfill: an `updated_at`/version trigger and an
//! audit trigger fire for every write the application makes, while the plan runs too, and for
//! none of the rows the backfill fills, nor for abort's putting back of a fill; a fill of a
//! foreign key's column keeps the key's checks; `validate --database-url` says which before
//! anything runs; the batches that write have their dirty pages written out as they go, and
//! they and the index copies compress the whole pages they write to the WAL. (A role that may
//! not leave them out: tests/reach.rs.)

mod support;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use support::{plan_file, switchback, text, TestDb};

const TABLES: &str = "
CREATE TABLE users (id bigint PRIMARY KEY, name text, version int NOT NULL DEFAULT 1,
                    updated_at timestamptz NOT NULL DEFAULT '2020-01-01 00:00:00+00');
INSERT INTO users (id, name) SELECT g, 'n' || g FROM generate_series(1, 30000) g;
CREATE TABLE audit (id bigint NOT NULL);
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN NEW.updated_at := clock_timestamp(); NEW.version := OLD.version + 1; RETURN NEW; END $$;
CREATE TRIGGER touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch();
CREATE FUNCTION log_row() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN INSERT INTO audit VALUES (NEW.id); RETURN NULL; END $$;
CREATE TRIGGER audit AFTER UPDATE ON users FOR EACH ROW EXECUTE FUNCTION log_row();
CREATE TRIGGER on_insert AFTER INSERT ON users FOR EACH ROW EXECUTE FUNCTION log_row();
ANALYZE users;";

const PLAN: &str = "changes:\n  - rename_column: { table: users, from: name, to: full_name }\nbackfill: { batch_size: 1000, max_rows_per_second: 20000 }\n";

/// The test's role may set session_replication_role: a superuser may; a managed-like role
/// (`SWITCHBACK_TEST_SERVER=managed`) is granted it, as the README tells operators to.
async fn may_run_quiet(db: &TestDb) {
    let client = db.client().await;
    let row = client
        .query_one(
            "SELECT rolsuper, current_user::text, current_setting('server_version_num')::int FROM pg_roles WHERE rolname = current_user",
            &[],
        )
        .await
        .unwrap();
    let (superuser, role, version): (bool, String, i32) = (row.get(0), row.get(1), row.get(2));
    assert!(
        superuser || version >= 150000,
        "PostgreSQL 14 has no grant for it"
    );
    if !superuser {
        let admin = db.admin().await;
        let grant = format!("GRANT SET ON PARAMETER session_replication_role TO \"{role}\"");
        // This file's tests run at once, and the first two grants of a parameter race to
        // create its row in pg_parameter_acl: the loser's grant goes through when tried again.
        if let Err(e) = admin.batch_execute(&grant).await {
            assert_eq!(
                e.code(),
                Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION),
                "{e}"
            );
            admin.batch_execute(&grant).await.unwrap();
        }
    }
}

/// The tables and triggers, then `more` SQL, for a role that may run its batches quiet.
async fn setup(db: &TestDb, more: &str) -> tokio_postgres::Client {
    may_run_quiet(db).await;
    let client = db.client().await;
    client
        .batch_execute(&format!("{TABLES}\n{more}"))
        .await
        .unwrap();
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backfill_fills_rows_without_firing_the_applications_triggers() {
    let db = TestDb::new().await;
    let client = setup(&db, "").await;
    let (_dir, plan) = plan_file("20261124_quiet", PLAN);

    let out = switchback(&db, &["validate", "--database-url", &db.url, &plan]);
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{said}{}", text(&out.stderr));
    assert!(
        said.contains("note[N718]: the backfill's batches leave out `users`'s audit, touch:"),
        "{said}"
    );

    // The old application updates rows throughout the expand stage.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (stop, writer) = (stop.clone(), db.client().await);
        tokio::spawn(async move {
            let mut touched = BTreeSet::new();
            let mut id: i64 = 1;
            while !stop.load(Ordering::Relaxed) {
                writer
                    .execute("UPDATE users SET name = name || '!' WHERE id = $1", &[&id])
                    .await
                    .unwrap();
                touched.insert(id);
                id = (id + 997) % 30000 + 1;
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            touched
        })
    };
    let out = switchback(&db, &["advance", &plan, "--progress", "json"]);
    stop.store(true, Ordering::Relaxed);
    let touched = writer.await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let events: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let told = events
        .iter()
        .find(|e| e["event"] == "triggers")
        .expect("a triggers event");
    assert_eq!(
        (&told["skipped"], &told["fired"]),
        (
            &serde_json::json!(["audit", "touch"]),
            &serde_json::json!([])
        )
    );
    assert!(touched.len() > 20, "the writer ran: {}", touched.len());

    let ids = |sql: &'static str| {
        let client = &client;
        async move {
            client
                .query(sql, &[])
                .await
                .unwrap()
                .iter()
                .map(|r| r.get::<_, i64>(0))
                .collect::<BTreeSet<i64>>()
        }
    };
    // (rows only the application wrote, rows it wrote that show nothing, rows it did not)
    let against_writer = |found: BTreeSet<i64>| {
        (
            found.intersection(&touched).count(),
            touched.difference(&found).count(),
            found.difference(&touched).count(),
        )
    };
    let moved =
        ids("SELECT id FROM users WHERE version > 1 OR updated_at <> '2020-01-01 00:00:00+00'")
            .await;
    assert_eq!(
        against_writer(moved),
        (touched.len(), 0, 0),
        "only the application's writes moved updated_at and version"
    );
    let audited = ids("SELECT DISTINCT id FROM audit").await;
    assert_eq!(against_writer(audited), (touched.len(), 0, 0));
    assert_eq!(
        ids("SELECT id FROM users WHERE full_name IS DISTINCT FROM name").await,
        BTreeSet::new(),
        "the backfill filled every row"
    );
}

/// A foreign key's checks are triggers too: a fill of a column a foreign key takes part in
/// runs with them, so a fill value the key refuses stops the backfill instead of landing for
/// good behind a key that says it holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fill_of_a_foreign_key_column_keeps_the_keys_checks() {
    let db = TestDb::new().await;
    let client = setup(
        &db,
        "CREATE TABLE orgs (id bigint PRIMARY KEY); INSERT INTO orgs VALUES (1);
         ALTER TABLE users ADD COLUMN org_id bigint REFERENCES orgs;
         UPDATE users SET org_id = 1 WHERE id % 2 = 0;",
    )
    .await;
    let (_dir, plan) = plan_file(
        "20261124_org",
        "changes:\n  - set_not_null: { table: users, column: org_id, fill: \"999\" }\n",
    );
    let out = switchback(&db, &["validate", "--database-url", &db.url, &plan]);
    let said = text(&out.stdout);
    assert!(
        said.contains("warning[W719]: the backfill's batches fire `users`'s audit, touch on every row they write: the columns they write take part in foreign key users_org_id_fkey, whose checks must run"),
        "{said}"
    );
    let out = switchback(&db, &["advance", &plan, "--progress", "plain"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains("users_org_id_fkey"),
        "{}",
        text(&out.stderr)
    );
    let orphans: i64 = client
        .query_one("SELECT count(*) FROM users WHERE org_id = 999", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(orphans, 0);
}

/// Abort puts back what a fill overwrote without firing the application's triggers either:
/// every row is as it was before the plan, its `updated_at` and version included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_puts_a_fill_back_without_firing_them() {
    let db = TestDb::new().await;
    let client = setup(
        &db,
        "ALTER TABLE users DISABLE TRIGGER USER; UPDATE users SET name = NULL WHERE id % 3 = 0;
         ALTER TABLE users ENABLE TRIGGER USER;",
    )
    .await;
    let digest = || support::data_digest(&client, "users", "id, name, version, updated_at");
    let before = digest().await;
    let (_dir, plan) = plan_file(
        "20261124_named",
        "changes:\n  - set_not_null: { table: users, column: name, fill: \"'unnamed'\" }\n",
    );
    let out = switchback(&db, &["advance", &plan, "--progress", "plain"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let filled: i64 = client
        .query_one("SELECT count(*) FROM users WHERE name = 'unnamed'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(filled, 10000);
    let out = switchback(&db, &["abort", "20261124_named", "--progress", "plain"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(digest().await, before, "every row as before the plan");
    let audited: i64 = client
        .query_one("SELECT count(*) FROM audit", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(audited, 0);
}

/// What the WAL compression of the batches and index copies should be: lz4 for a role that may set it on a
/// server that has it (a superuser here; a managed-like role is not granted it), else the
/// server's own.
async fn expected_compression(client: &tokio_postgres::Client) -> &'static str {
    let row = client
        .query_one(
            "SELECT rolsuper, current_setting('server_version_num')::int FROM pg_roles WHERE rolname = current_user",
            &[],
        )
        .await
        .unwrap();
    let (superuser, version): (bool, i32) = (row.get(0), row.get(1));
    match superuser && version >= 150000 {
        true => "lz4",
        false => "off",
    }
}

/// What an `ENABLE ALWAYS` statement trigger on users saw, the table's setup and a plan
/// advanced first: per (in a batch, backend_flush_after, wal_compression), how many
/// statements. It fires for the batches whatever their role.
const SEE: &str = "CREATE TABLE seen (batch text, flush_after text, compression text);
     CREATE FUNCTION see() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
       INSERT INTO seen VALUES (current_setting('switchback.backfill', true),
                                current_setting('backend_flush_after'),
                                current_setting('wal_compression'));
       RETURN NULL; END $$;
     CREATE TRIGGER see AFTER UPDATE ON users FOR EACH STATEMENT EXECUTE FUNCTION see();
     ALTER TABLE users ENABLE ALWAYS TRIGGER see;";

/// Advances `name`, then runs an application statement, and returns what `SEE` saw.
async fn seen(
    db: &TestDb,
    client: &tokio_postgres::Client,
    name: &str,
) -> Vec<(String, String, String, i64)> {
    let (_dir, plan) = plan_file(name, PLAN);
    let out = switchback(db, &["advance", &plan]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    client
        .batch_execute("UPDATE users SET full_name = 'x' WHERE id = 1")
        .await
        .unwrap();
    let rows = client
        .query(
            "SELECT coalesce(batch, ''), flush_after, compression, count(*) FROM seen GROUP BY 1, 2, 3 ORDER BY 1",
            &[],
        )
        .await
        .unwrap();
    rows.iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect()
}

/// The batches that write have the kernel write out the pages they dirty as they go
/// (`backend_flush_after`), so the other sessions' commits do not wait behind a burst of
/// them, and compress the whole pages they write to the WAL; the application's own
/// statements keep the server's settings.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_batches_write_out_what_they_dirty_as_they_go() {
    let db = TestDb::new().await;
    let client = setup(&db, SEE).await;
    let compress = expected_compression(&client).await;
    let seen = seen(&db, &client, "20261124_write_back").await;
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(
        (seen[0].0.as_str(), seen[0].1.as_str(), seen[0].2.as_str()),
        ("", "0", "off"),
        "the application's statement: {seen:?}"
    );
    assert_eq!(
        (seen[1].0.as_str(), seen[1].1.as_str(), seen[1].2.as_str()),
        ("on", "256kB", compress),
        "the batches: {seen:?}"
    );
    assert!(seen[1].3 > 1, "every batch, not one: {seen:?}");
}

/// A database whose WAL is already compressed keeps its method for the batches too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_compresses_its_wal_keeps_its_method() {
    let db = TestDb::new().await;
    db.admin()
        .await
        .batch_execute("DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET wal_compression = pglz', current_database()); END $$")
        .await
        .unwrap();
    let client = setup(&db, SEE).await;
    let seen = seen(&db, &client, "20261125_compressed").await;
    let compressions: Vec<&str> = seen.iter().map(|s| s.2.as_str()).collect();
    assert_eq!(compressions, ["pglz", "pglz"], "{seen:?}");
}

/// The index copies compress the whole pages they write to the WAL too, where the batches
/// do: seen from an event trigger at the end of each CREATE INDEX.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_index_copies_compress_their_wal() {
    let db = TestDb::new().await;
    let client = setup(
        &db,
        "CREATE INDEX users_name ON users (name);
         CREATE TABLE built (compression text);",
    )
    .await;
    db.admin()
        .await
        .batch_execute(
            "CREATE FUNCTION note_build() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN
               INSERT INTO built VALUES (current_setting('wal_compression')); END $$;
             CREATE EVENT TRIGGER note_build ON ddl_command_end WHEN TAG IN ('CREATE INDEX')
               EXECUTE FUNCTION note_build();",
        )
        .await
        .unwrap();
    let compress = expected_compression(&client).await;
    let (_dir, plan) = plan_file("20261125_index_copy", PLAN);
    let out = switchback(&db, &["advance", &plan]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let built: Vec<String> = client
        .query("SELECT compression FROM built", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(built, [compress], "one copy, of users_name");
}
