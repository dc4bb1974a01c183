//! Edges of the executor: composite keys, tables with no key, a verification that finds
//! differences, abort after contract, and a renamed column's foreign key.

mod support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use support::{catalog, plan_file, switchback, text, TestDb};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_pages_through_a_composite_key() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .batch_execute(
            "CREATE TABLE items (tenant int, id text, label text, PRIMARY KEY (tenant, id));
             INSERT INTO items SELECT t, 'item-' || i, CASE WHEN i % 3 = 0 THEN NULL ELSE 'l' END FROM generate_series(1, 7) t, generate_series(1, 700) i;",
        )
        .await
        .unwrap();
    let (_dir, plan) = plan_file("20261122_items", "changes:\n  - set_not_null: { table: items, column: label, fill: \"'none'\" }\nbackfill: { batch_size: 100 }\n");
    let out = switchback(&db, &["advance", &plan, "--progress", "plain"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let row = client.query_one("SELECT count(*) FILTER (WHERE label IS NULL), count(*) FILTER (WHERE label = 'none') FROM items", &[]).await.unwrap();
    assert_eq!((row.get::<_, i64>(0), row.get::<_, i64>(1)), (0, 7 * 233));
    let batches: i64 = client
        .query_one(
            "SELECT batches FROM switchback.jobs WHERE step = 'items.backfill'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        batches >= 3,
        "paged in several batches (growing from 100), not one statement: {batches}"
    );
    let fills: i64 = client
        .query_one("SELECT count(*) FROM switchback.fills", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(fills, 7 * 233, "every filled key is recorded once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_without_a_usable_key_is_refused_before_anything_changes() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client.batch_execute("CREATE TABLE logs (at timestamptz, message text); INSERT INTO logs VALUES (now(), NULL)").await.unwrap();
    let before = catalog(&client, "logs").await;
    let (_dir, plan) = plan_file(
        "20261122_logs",
        "changes:\n  - set_not_null: { table: logs, column: message, fill: \"''\" }\n",
    );
    let out = switchback(&db, &["advance", &plan]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("failed to backfill \"public\".\"logs\": it has no primary key and no unique index over NOT NULL columns"), "{}", text(&out.stderr));
    assert_eq!(catalog(&client, "logs").await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verification_reports_rows_that_differ_and_contract_cannot_start() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .batch_execute("CREATE TABLE users (id bigint PRIMARY KEY, name text); INSERT INTO users SELECT g, 'u' || g FROM generate_series(1, 30000) g; CREATE INDEX ON users (name);")
        .await
        .unwrap();
    let (_dir, plan) = plan_file("20261122_verify", "changes:\n  - rename_column: { table: users, from: name, to: full_name }\nbackfill: { batch_size: 1000 }\n");
    // Stop the run once the backfill is over, then break two rows behind the trigger's back
    // (a session that sets switchback.backfill is ignored by it).
    let mut child = support::command(&db)
        .args(["advance", &plan, "--progress", "json"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        if line.unwrap().contains("\"step\":\"0.copy_indexes\"") {
            child.kill().unwrap();
            break;
        }
    }
    child.wait().unwrap();
    support::wait_for_runner_to_go(&db).await;
    client.batch_execute("SET switchback.backfill = 'on'; UPDATE users SET name = 'changed' WHERE id IN (7, 20001); RESET switchback.backfill").await.unwrap();
    let out = switchback(&db, &["advance", &plan, "--progress", "plain"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("failed to verify the backfill of \"public\".\"users\": 2 row(s) differ; first keys: (7), (20001)"), "{stderr}");
    let stage: String = client
        .query_one("SELECT stage FROM switchback.plans", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(stage, "expanding", "the gate is not passed");
    // Once the rows are put right, the verification starts over and passes.
    client
        .batch_execute("UPDATE users SET full_name = name WHERE id IN (7, 20001)")
        .await
        .unwrap();
    let out = switchback(&db, &["advance", &plan, "--progress", "plain"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_is_refused_once_contract_has_started() {
    let db = TestDb::new().await;
    db.client().await.batch_execute("CREATE TABLE users (id bigint PRIMARY KEY, name text); INSERT INTO users VALUES (1, 'a')").await.unwrap();
    let (_dir, plan) = plan_file(
        "20261122_forward",
        "changes:\n  - rename_column: { table: users, from: name, to: full_name }\n",
    );
    assert_eq!(switchback(&db, &["advance", &plan]).status.code(), Some(0));
    assert_eq!(switchback(&db, &["advance", &plan]).status.code(), Some(0));
    let out = switchback(&db, &["abort", "20261122_forward"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("its contract stage has started, and the old shape is gone"),
        "{}",
        text(&out.stderr)
    );
    let again = switchback(&db, &["advance", &plan]);
    assert_eq!(
        again.status.code(),
        Some(0),
        "a completed plan is left alone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_column_keeps_its_foreign_key_and_unique_constraint() {
    let setup = "CREATE TABLE accounts (id bigint PRIMARY KEY);
                 INSERT INTO accounts SELECT generate_series(1, 10);
                 CREATE TABLE users (id bigint PRIMARY KEY, account bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
                                     CONSTRAINT users_account_key UNIQUE (account));
                 INSERT INTO users SELECT g, g FROM generate_series(1, 10) g;";
    let plain = TestDb::new().await;
    let plain_client = plain.client().await;
    plain_client.batch_execute(setup).await.unwrap();
    plain_client
        .batch_execute("ALTER TABLE users RENAME COLUMN account TO account_id")
        .await
        .unwrap();

    let db = TestDb::new().await;
    let client = db.client().await;
    client.batch_execute(setup).await.unwrap();
    let (_dir, plan) = plan_file(
        "20261122_fk",
        "changes:\n  - rename_column: { table: users, from: account, to: account_id }\n",
    );
    assert_eq!(switchback(&db, &["advance", &plan]).status.code(), Some(0));
    let expanded = catalog(&client, "users").await;
    assert!(expanded.contains(&"constraint sb_users_account_fkey FOREIGN KEY (account_id) REFERENCES accounts(id) ON DELETE CASCADE validated=t".to_owned()), "{expanded:#?}");
    let out = switchback(&db, &["advance", &plan]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        catalog(&client, "users").await,
        catalog(&plain_client, "users").await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_moves_each_plan_one_stage_in_order_honouring_depends_on() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client.batch_execute("CREATE TABLE users (id bigint PRIMARY KEY, name text, email text); INSERT INTO users VALUES (1, 'a', NULL)").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("20261101_rename.yaml"),
        "changes:\n  - rename_column: { table: users, from: name, to: full_name }\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("20261102_email.yaml"), "depends_on: [20261101_rename]\nchanges:\n  - set_not_null: { table: users, column: email, fill: \"'x'\" }\n").unwrap();
    let folder = dir.path().to_str().unwrap();
    let stages = || async {
        client
            .query("SELECT id, stage FROM switchback.plans ORDER BY id", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| format!("{} {}", r.get::<_, String>(0), r.get::<_, String>(1)))
            .collect::<Vec<_>>()
    };

    let first = switchback(&db, &["advance", folder, "--progress", "plain"]);
    assert_eq!(
        first.status.code(),
        Some(3),
        "the second plan waits: {}",
        text(&first.stderr)
    );
    assert!(text(&first.stderr)
        .contains("20261102_email: waiting for plan 20261101_rename to complete"));
    assert_eq!(stages().await, ["20261101_rename expanded"]);

    let second = switchback(&db, &["advance", folder, "--progress", "plain"]);
    assert_eq!(second.status.code(), Some(0), "{}", text(&second.stderr));
    assert_eq!(
        stages().await,
        ["20261101_rename completed", "20261102_email expanded"],
        "one stage each"
    );

    assert_eq!(switchback(&db, &["advance", folder]).status.code(), Some(0));
    assert_eq!(
        stages().await,
        ["20261101_rename completed", "20261102_email completed"]
    );
}

/// Every index a plan builds gets the plan's `index_workers` as PostgreSQL's parallel
/// maintenance workers (0 unless the plan says): a `CREATE INDEX CONCURRENTLY`, which runs
/// outside a transaction, and one inside a step's transaction. The index's expression calls a
/// function that fails unless it sees the expected setting while the index is built. The
/// role's own setting in this database is 5, so a build that got no setting from switchback fails too.
/// Behind a transaction pooler a session `SET` cannot reach the CONCURRENTLY build, which gets
/// the role's setting instead (README).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_builds_get_the_plans_parallel_workers() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .batch_execute(
            "DO $$ BEGIN EXECUTE format('ALTER ROLE CURRENT_USER IN DATABASE %I SET max_parallel_maintenance_workers = 5', current_database()); END $$;
             CREATE TABLE t (id int PRIMARY KEY, v text);
             INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 100) g;
             CREATE FUNCTION workers_seen(expected int, v text) RETURNS text IMMUTABLE LANGUAGE plpgsql AS $$
             BEGIN
               IF current_setting('max_parallel_maintenance_workers')::int <> expected THEN
                 RAISE EXCEPTION 'index built with max_parallel_maintenance_workers = %', current_setting('max_parallel_maintenance_workers');
               END IF;
               RETURN v;
             END $$;",
        )
        .await
        .unwrap();
    let pooled = db.url != db.direct;
    let concurrent = |plan: u32| if pooled { 5 } else { plan };
    let sql = |name: &str, concurrently: u32, inside: u32| {
        format!(
            "  - sql:\n      up: CREATE INDEX CONCURRENTLY {name}_c ON t (workers_seen({concurrently}, v))\n      down: DROP INDEX CONCURRENTLY IF EXISTS {name}_c\n  - sql:\n      up: CREATE TABLE {name} AS SELECT v FROM t; CREATE INDEX {name}_i ON {name} (workers_seen({inside}, v))\n      down: DROP TABLE {name}\n      unsafe: true\n      reason: the table is new\n"
        )
    };
    let (_a, default) = plan_file(
        "20261124_default",
        &format!("changes:\n{}", sql("a", concurrent(0), 0)),
    );
    let out = switchback(&db, &["advance", &default, "--progress", "plain"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let (_b, three) = plan_file(
        "20261124_three",
        &format!("index_workers: 3\nchanges:\n{}", sql("b", concurrent(3), 3)),
    );
    let out = switchback(&db, &["advance", &three, "--progress", "plain"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // The function's check is live: a build that sees another setting fails.
    let (_c, wrong) = plan_file("20261124_wrong", &format!("changes:\n{}", sql("c", 7, 7)));
    let out = switchback(&db, &["advance", &wrong, "--progress", "plain"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(&format!(
            "index built with max_parallel_maintenance_workers = {}",
            concurrent(0)
        )),
        "{}",
        text(&out.stderr)
    );
}
