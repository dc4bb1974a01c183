//! `switchback revert`: a completed plan (columns and a table dropped, a column renamed) taken
//! back with the application writing throughout, ending in the starting catalog and with the
//! starting data of every row that existed before contract; killed at the start of every
//! revert step and during the restore, re-run, same result; refused, with nothing changed,
//! when it could not be exact.

mod support;

use std::collections::HashSet;
use support::app::App;
use support::kills;
use support::writer::{NEW, OLD};
use support::{catalog, plan_file, succeeded, switchback, text, TestDb};

const ROWS: i64 = 20_000;

const SCHEMA: &str = "
CREATE TABLE users (id bigserial PRIMARY KEY, name text NOT NULL,
                    nickname text DEFAULT 'none' CONSTRAINT nickname_not_empty CHECK (nickname <> ''),
                    code text CONSTRAINT users_code_key UNIQUE, bio text);
CREATE INDEX users_nickname ON users (nickname) WHERE nickname IS NOT NULL;
CREATE INDEX users_recent ON users (id DESC);
INSERT INTO users (name, nickname, code, bio)
  SELECT 'u' || g, CASE WHEN g % 7 = 0 THEN NULL ELSE 'nick' || g END, CASE WHEN g % 3 = 0 THEN 'c' || g END,
         CASE WHEN g % 11 <> 0 THEN repeat(chr(97 + g % 26), g % 20) END
    FROM generate_series(1, 20000) g;
CREATE TABLE orders (id bigserial PRIMARY KEY, user_id bigint NOT NULL CONSTRAINT orders_user_fk REFERENCES users (id) ON DELETE CASCADE, total numeric(10,2));
INSERT INTO orders (user_id, total) SELECT g, g / 100.0 FROM generate_series(1, 5000) g;
";

const PLAN: &str = "backfill: { batch_size: 1000 }
changes:
  - drop_column: { table: users, column: nickname }
  - drop_column: { table: users, column: code }
  - drop_table: { name: orders }
  - rename_column: { table: users, from: name, to: full_name }
  - drop_index: { name: users_recent }
  - add_check: { table: users, name: id_positive, check: 'id > 0' }
  - add_unique: { table: users, name: users_id_key, columns: [id] }
";

/// Shortens `bio`: values longer than 10 characters lose their end.
const SHORTER_BIO: &str = "  - change_type: { table: users, column: bio, type: 'varchar(10)', up: 'left(bio, 10)', down: bio }\n";

/// Before the plan, and again once its revert is deployed.
const OLD_APP: &[&str] = &[
    "UPDATE users SET nickname = 'o{n}', name = 'o{n}' WHERE id = {id}",
    "INSERT INTO users (name, nickname) VALUES ('old{n}', 'o{n}')",
    "INSERT INTO orders (user_id, total) VALUES ({id}, 1.5)",
];
/// The application the plan is for: between its contract and the revert's.
const NEW_APP: &[&str] = &[
    "UPDATE users SET full_name = 'n{n}' WHERE id = {id}",
    "INSERT INTO users (full_name) VALUES ('new{n}')",
];

async fn database() -> TestDb {
    let db = TestDb::new().await;
    db.client().await.batch_execute(SCHEMA).await.unwrap();
    db
}

fn run(db: &TestDb, args: &[&str]) -> String {
    succeeded(switchback(db, &[args, &["--progress", "plain"]].concat()))
}

/// Both tables' catalogs: what the revert must give back.
async fn catalogs(db: &TestDb) -> Vec<String> {
    let client = db.client().await;
    let mut all = catalog(&client, "users").await;
    all.extend(catalog(&client, "orders").await);
    all
}

async fn rows(db: &TestDb, sql: &str) -> Vec<String> {
    db.client()
        .await
        .query(&format!("SELECT row(s.*)::text FROM ({sql}) s"), &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// The data contract removed, as it was just before it ran: kept to compare with the revert's.
/// The new application's rows, which hold the dropped columns' defaults, are left out: one
/// whose INSERT commits out of key order around the snapshot is on one side only (with those
/// same defaults); the test checks them on their own.
async fn removed_data(db: &TestDb, last_user: i64) -> (Vec<String>, Vec<String>) {
    (
        rows(
            db,
            &format!("SELECT id, nickname, code FROM users WHERE id <= {last_user} AND nickname IS DISTINCT FROM 'none' ORDER BY id"),
        )
        .await,
        rows(db, "SELECT id, user_id, total FROM orders ORDER BY id").await,
    )
}

/// Asserts `now` holds the rows `then` held, naming the first that differ (not all of them).
fn same_rows(now: &[String], then: &[String], context: &str) {
    let differ: Vec<_> = now
        .iter()
        .zip(then)
        .filter(|(a, b)| a != b)
        .take(5)
        .collect();
    assert!(
        differ.is_empty() && now.len() == then.len(),
        "{} rows against {}, first differences {differ:?}\n{context}",
        now.len(),
        then.len()
    );
}

async fn last_user(db: &TestDb) -> i64 {
    db.client()
        .await
        .query_one("SELECT max(id) FROM users", &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revert_puts_back_the_starting_catalog_and_data_with_the_application_writing() {
    let db = database().await;
    let before = catalogs(&db).await;
    let (_dir, plan) = plan_file("20261124_slim_users", PLAN);
    let app = App::start(&db.url, ROWS, OLD_APP, NEW_APP, 3).await;
    app.run_for(50).await;
    run(&db, &["advance", &plan]);
    app.set_phase(NEW);
    app.run_for(50).await;
    let last = last_user(&db).await;
    let removed = removed_data(&db, last).await;
    run(&db, &["advance", &plan]);
    app.run_for(50).await;
    let inserted_since = last_user(&db).await;
    assert!(
        inserted_since > last,
        "the new application inserted nothing"
    );

    // The reverse plan is a plan file like any other: printed, it validates.
    let printed = succeeded(switchback(
        &db,
        &["revert", "20261124_slim_users", "--print"],
    ));
    for kind in [
        "restore_column:",
        "restore_index:",
        "restore_table:",
        "rename_column:",
    ] {
        assert!(printed.contains(kind), "{kind}\n{printed}");
    }
    let (_reverse_dir, reverse) = plan_file("20261124_slim_users.revert", &printed);
    succeeded(switchback(&db, &["validate", &reverse]));

    // The revert's expand: the old shape and its data back, the new application unaware.
    let said = run(&db, &["revert", "20261124_slim_users"]);
    app.run_for(50).await;
    let now = removed_data(&db, last).await;
    same_rows(&now.0, &removed.0, &said);
    assert_eq!(now.1, removed.1, "{said}");
    // Rows inserted after contract get what the dropped columns' definitions give them.
    assert_eq!(
        rows(
            &db,
            &format!("SELECT DISTINCT nickname, code FROM users WHERE id > {inserted_since} OR nickname = 'none'")
        )
        .await,
        vec!["(none,)".to_owned()]
    );
    let unsynced = rows(
        &db,
        "SELECT id FROM users WHERE name IS DISTINCT FROM full_name",
    )
    .await;
    assert!(unsynced.is_empty(), "{unsynced:?}");
    let status = succeeded(switchback(&db, &["status", "20261124_slim_users.revert"]));
    assert!(status.contains("expanded"), "{status}");

    // The rollback is deployed; the revert's contract removes the newer shape.
    app.set_phase(OLD);
    app.run_for(50).await;
    let said = run(&db, &["revert", "20261124_slim_users"]);
    app.run_for(50).await;
    let report = app.stop().await;
    assert!(
        report.errors.is_empty(),
        "{:?}",
        &report.errors[..report.errors.len().min(5)]
    );
    assert_eq!(catalogs(&db).await, before, "{said}");
    run(&db, &["revert", "20261124_slim_users"]);
    let status = succeeded(switchback(&db, &["status", "20261124_slim_users.revert"]));
    assert!(status.contains("completed"), "{status}");
    // The plan's file, left in place, would claim a shape the database no longer has.
    let out = switchback(&db, &["advance", &plan]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("`switchback revert 20261124_slim_users` takes it back"),
        "{}",
        text(&out.stderr)
    );
}

/// Runs `revert` until it exits on its own, killing it at the start of every step it starts
/// for the first time, and once at the fifth batch of a restore; returns the kills, and
/// whether one was in a restore.
async fn revert_killed_at_every_step(
    db: &TestDb,
    id: &str,
    seen: &mut HashSet<String>,
) -> (usize, bool) {
    let mut restore_batches = 0;
    let at_fifth_restore_batch = |event: &serde_json::Value| {
        let restore = event["step"]
            .as_str()
            .is_some_and(|s| s.ends_with(".restore"));
        if event["event"] == "batch" && restore {
            restore_batches += 1;
            return restore_batches == 5;
        }
        false
    };
    let kills =
        kills::run_killed_at_every_step(db, &["revert", id], seen, at_fifth_restore_batch).await;
    (kills, restore_batches >= 5)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revert_killed_at_the_start_of_every_step_ends_the_same() {
    let db = database().await;
    let before = catalogs(&db).await;
    let (_dir, plan) = plan_file("20261124_killed", &format!("{PLAN}{SHORTER_BIO}"));
    let bios = rows(&db, "SELECT id, bio FROM users ORDER BY id").await;
    run(&db, &["advance", &plan]);
    let removed = removed_data(&db, ROWS).await;
    run(&db, &["advance", &plan]);
    let mut seen = HashSet::new();
    let (expand_kills, in_restore) =
        revert_killed_at_every_step(&db, "20261124_killed", &mut seen).await;
    assert_eq!(removed_data(&db, ROWS).await, removed);
    let (contract_kills, _) = revert_killed_at_every_step(&db, "20261124_killed", &mut seen).await;
    assert!(in_restore, "no kill during a restore: {seen:?}");
    assert!(
        expand_kills >= 10,
        "{expand_kills} kills in expand: {seen:?}"
    );
    assert!(
        contract_kills >= 1,
        "{contract_kills} kills in contract: {seen:?}"
    );
    eprintln!("killed {expand_kills} times in expand, {contract_kills} in contract: {seen:?}");
    assert_eq!(catalogs(&db).await, before);
    assert_eq!(removed_data(&db, ROWS).await, removed);
    let names = rows(&db, "SELECT count(*) FROM users WHERE name = 'u' || id").await;
    assert_eq!(names, vec![format!("({ROWS})")]);
    let now = rows(&db, "SELECT id, bio FROM users ORDER BY id").await;
    same_rows(&now, &bios, "bio");
}

/// Before the type change, and again once its revert is deployed: long bios, on even keys.
const OLD_BIO_APP: &[&str] = &[
    "UPDATE users SET bio = 'an old and long bio {n}' WHERE id = {id} * 2 - 2",
    "INSERT INTO users (name, bio) VALUES ('old{n}', 'a long bio for {n}')",
];
/// The application the type change is for: short bios, on even keys.
const NEW_BIO_APP: &[&str] = &[
    "UPDATE users SET bio = 'n{n}' WHERE id = {id} * 2 - 2",
    "INSERT INTO users (name, bio) VALUES ('new{n}', 'n{n}')",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_type_change_is_reverted_with_the_values_its_new_type_could_not_hold() {
    let db = database().await;
    let before = catalogs(&db).await;
    let odd = "SELECT id, bio FROM users WHERE id % 2 = 1 AND id <= 20000 ORDER BY id";
    let untouched = rows(&db, odd).await;
    let (_dir, plan) = plan_file("20261124_short_bio", &format!("changes:\n{SHORTER_BIO}"));
    let app = App::start(&db.url, ROWS / 2, OLD_BIO_APP, NEW_BIO_APP, 3).await;
    app.run_for(50).await;
    run(&db, &["advance", &plan]);
    app.set_phase(NEW);
    app.run_for(50).await;
    let said = run(&db, &["advance", &plan]);
    let archive = "\"switchback_archive\".\"users_bio_20261124_short_bio\"";
    // Exactly the rows whose value `down` cannot give back, the long ones.
    let kept = rows(
        &db,
        &format!("SELECT count(*), count(*) FILTER (WHERE length(bio) <= 10) FROM {archive}"),
    )
    .await;
    let long = rows(
        &db,
        "SELECT count(*) FROM users WHERE id % 2 = 1 AND id <= 20000 AND length(bio) = 10",
    )
    .await;
    assert!(kept[0].ends_with(",0)"), "{kept:?}\n{said}");
    app.run_for(300).await;

    let said = run(&db, &["revert", "20261124_short_bio"]);
    app.run_for(50).await;
    // The new application wrote some of the archived rows since: they keep what it wrote.
    let written_since = rows(&db, &format!("SELECT count(*) FROM {archive} a JOIN users u USING (id) WHERE u.bio IS DISTINCT FROM a.sb_new_bio")).await;
    assert_ne!(written_since, vec!["(0)".to_owned()], "{said}");
    let wrong = rows(&db, "SELECT id, bio, sb_new_bio FROM users WHERE sb_new_bio IS DISTINCT FROM bio AND bio IS DISTINCT FROM left(sb_new_bio, 10)").await;
    assert!(wrong.is_empty(), "{wrong:?}");
    // `bio` holds only short values until the revert's contract: the rollback, which writes
    // long ones, is deployed after it.
    let said = run(&db, &["revert", "20261124_short_bio"]);
    app.set_phase(OLD);
    app.run_for(50).await;
    let report = app.stop().await;
    assert!(
        report.errors.is_empty(),
        "{:?}",
        &report.errors[..report.errors.len().min(5)]
    );
    assert_eq!(catalogs(&db).await, before, "{said}");
    // Rows no version of the application wrote have their long values back, to the letter.
    same_rows(&rows(&db, odd).await, &untouched, "odd rows");
    assert!(
        long != vec!["(0)".to_owned()],
        "no odd row lost anything: {long:?}"
    );
}

/// What `revert` says when it refuses, checking that the database did not change.
async fn refused(db: &TestDb, id: &str) -> String {
    let before = catalogs(db).await;
    let out = switchback(db, &["revert", id, "--progress", "plain"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert_eq!(catalogs(db).await, before);
    let client = db.client().await;
    let ledger: bool = client
        .query_one("SELECT to_regclass('switchback.plans') IS NOT NULL", &[])
        .await
        .unwrap()
        .get(0);
    if ledger {
        let reverts: i64 = client
            .query_one(
                "SELECT count(*) FROM switchback.plans WHERE id LIKE '%.revert'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(reverts, 0, "a refused revert was recorded");
    }
    text(&out.stderr)
}

#[tokio::test]
async fn a_revert_that_could_not_be_exact_is_refused_with_every_reason() {
    let db = database().await;
    let (dir, plan) = plan_file(
        "20261124_first",
        "changes:\n  - drop_column: { table: users, column: nickname }\n  - drop_column: { table: users, column: code, archive: false }\n  - set_not_null: { table: orders, column: total, fill: '0' }\n",
    );
    let said = refused(&db, "20261124_first").await;
    assert!(said.contains("it has not run"), "{said}");
    run(&db, &["advance", &plan]);
    let said = refused(&db, "20261124_first").await;
    assert!(
        said.contains("not completed") && said.contains("switchback abort 20261124_first"),
        "{said}"
    );
    run(&db, &["advance", &plan]);
    let later = dir.path().join("20261124_second.yaml");
    std::fs::write(
        &later,
        "depends_on: [20261124_first]\nchanges:\n  - add_column: { table: users, column: { name: about, type: text } }\n",
    )
    .unwrap();
    let later = later.display().to_string();
    run(&db, &["advance", &later]);
    run(&db, &["advance", &later]);
    succeeded(switchback(&db, &["archive", "purge", "users.nickname"]));
    let said = refused(&db, "20261124_first").await;
    for reason in [
        "plan 20261124_second depends on it and is completed",
        "changes[0] (drop_column): the archive of `users`.`nickname` was purged",
        "changes[1] (drop_column): contract destroyed `users`.`code` for good (archive: false)",
        "changes[2] (set_not_null): its `fill` overwrote the NULLs of `orders`.`total`",
    ] {
        assert!(said.contains(reason), "{reason}\n{said}");
    }
}

/// A revert's expand, aborted: what it dropped (a unique constraint, a foreign key) comes back
/// by their `down`s, each statement in a transaction of its own (the index CONCURRENTLY, the
/// foreign key's VALIDATE apart from its NOT VALID add), what it built (an index) goes, and
/// the catalog is the completed plan's; `revert` then starts again and ends at the start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revert_aborted_in_its_expand_leaves_the_plans_shape_and_can_start_again() {
    let db = database().await;
    let start = catalogs(&db).await;
    let yaml = "changes:
  - add_unique: { table: users, name: users_id_key, columns: [id] }
  - add_foreign_key: { table: orders, name: orders_user_fk2, columns: [user_id], references: { table: users, columns: [id] } }
  - drop_index: { name: users_recent }
";
    let (_dir, plan) = plan_file("20261124_keys", yaml);
    run(&db, &["advance", &plan]);
    run(&db, &["advance", &plan]);
    let planned = catalogs(&db).await;
    assert_ne!(planned, start);
    run(&db, &["revert", "20261124_keys"]);
    assert_ne!(catalogs(&db).await, planned);
    run(&db, &["abort", "20261124_keys.revert"]);
    assert_eq!(catalogs(&db).await, planned);
    run(&db, &["revert", "20261124_keys"]);
    run(&db, &["revert", "20261124_keys"]);
    assert_eq!(catalogs(&db).await, start);
}
