//! Archive instead of destroy: with the application writing, contract copies a dropped
//! column's values with the key into the archive schema before the column goes, and moves a
//! dropped table there (its foreign keys to other tables dropped and recorded); `archive`
//! lists them with size and retention and purges exactly what it names; a run killed during
//! the copy ends, re-run, with the same archive; `archive: false` destroys, as before.

mod support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use support::app::App;
use support::writer::NEW;
use support::{plan_file, succeeded, switchback, text, TestDb};

const ROWS: i64 = 20_000;

const USERS: &str = "
CREATE TABLE users (id bigserial PRIMARY KEY, name text NOT NULL, nickname text DEFAULT 'none' CHECK (nickname <> ''));
CREATE INDEX users_nickname ON users (nickname);
INSERT INTO users (name, nickname) SELECT 'u' || g, CASE WHEN g % 7 = 0 THEN NULL ELSE 'nick' || g END FROM generate_series(1, 20000) g;
CREATE TABLE orders (id bigserial PRIMARY KEY, user_id bigint NOT NULL REFERENCES users (id), total numeric(10,2));
INSERT INTO orders (user_id, total) SELECT g, g / 100.0 FROM generate_series(1, 5000) g;
";

const OLD_APP: &[&str] = &[
    "UPDATE users SET nickname = 'o{n}' WHERE id = {id}",
    "INSERT INTO users (name, nickname) VALUES ('old{n}', 'o{n}')",
    "INSERT INTO orders (user_id, total) VALUES ({id}, 1.5)",
];
const NEW_APP: &[&str] = &[
    "UPDATE users SET name = 'n{n}' WHERE id = {id}",
    "INSERT INTO users (name) VALUES ('new{n}')",
];

async fn database() -> TestDb {
    let db = TestDb::new().await;
    db.client().await.batch_execute(USERS).await.unwrap();
    db
}

fn advance(db: &TestDb, plan: &str) -> String {
    succeeded(switchback(db, &["advance", plan, "--progress", "plain"]))
}

/// `(key, value)` rows of a query, in key order, as text.
async fn rows(db: &TestDb, sql: &str) -> Vec<(i64, Option<String>)> {
    db.client()
        .await
        .query(sql, &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

fn archives(db: &TestDb) -> Vec<serde_json::Value> {
    let out = switchback(db, &["archive", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{}{}", text(&out.stdout), text(&out.stderr)));
    json["archives"].as_array().unwrap().clone()
}

async fn exists(db: &TestDb, relation: &str) -> bool {
    db.client()
        .await
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&relation])
        .await
        .unwrap()
        .get(0)
}

/// The relation an archive keeps its data in, for `object`.
fn kept_in(archives: &[serde_json::Value], object: &str) -> String {
    archives
        .iter()
        .find(|a| a["object"] == object)
        .unwrap_or_else(|| panic!("no archive of {object}: {archives:#?}"))["kept_in"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contract_keeps_a_dropped_column_and_a_dropped_table_and_purge_drops_exactly_them() {
    let db = database().await;
    let (_dir, plan) = plan_file(
        "20261123_drops",
        "changes:\n  - drop_column: { table: users, column: nickname }\n  - drop_table: { name: orders, archive: 30d }\n",
    );
    let app = App::start(&db.url, ROWS, OLD_APP, NEW_APP, 3).await;
    app.run_for(50).await;
    advance(&db, &plan);
    app.run_for(50).await;
    // The new application is deployed; what contract removes is what the old one left.
    app.set_phase(NEW);
    app.run_for(50).await;
    let nicknames = rows(&db, "SELECT id, nickname FROM users ORDER BY id").await;
    let orders = rows(&db, "SELECT id, total::text FROM orders ORDER BY id").await;
    let said = advance(&db, &plan);
    app.run_for(50).await;
    let report = app.stop().await;
    assert!(
        report.errors.is_empty(),
        "{:?}",
        &report.errors[..report.errors.len().min(5)]
    );
    let columns: i64 = db
        .client()
        .await
        .query_one("SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'nickname'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(columns, 0, "{said}");
    assert!(!exists(&db, "public.orders").await, "{said}");

    let kept = archives(&db);
    assert_eq!(kept.len(), 2, "{kept:#?}");
    let column = kept_in(&kept, "public.users.nickname");
    let table = kept_in(&kept, "public.orders");
    assert!(column.starts_with("\"switchback_archive\"."), "{column}");
    // Every row that existed before contract, with its value, key by key.
    let last = nicknames.last().unwrap().0;
    let archived = rows(
        &db,
        &format!("SELECT id, nickname FROM {column} WHERE id <= {last} ORDER BY id"),
    )
    .await;
    // The new application's rows hold the default it cannot write; one whose INSERT commits
    // out of key order, around the snapshot or behind the copy's cursor, may be on one side
    // only, with that same default.
    let written = |r: &&(i64, Option<String>)| r.1.as_deref() != Some("none");
    let missing: Vec<_> = nicknames
        .iter()
        .filter(written)
        .filter(|r| !archived.contains(r))
        .take(5)
        .collect();
    let extra: Vec<_> = archived
        .iter()
        .filter(written)
        .filter(|r| !nicknames.contains(r))
        .take(5)
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, extra {extra:?}"
    );
    assert_eq!(
        rows(
            &db,
            &format!("SELECT id, total::text FROM {table} ORDER BY id")
        )
        .await,
        orders
    );
    // The definitions are recorded; the archived table no longer constrains `users`.
    let definition = &kept.iter().find(|a| a["kind"] == "column").unwrap()["definition"];
    assert_eq!(definition["type"], "text");
    assert_eq!(definition["default"], "'none'::text");
    assert!(
        definition["indexes"].to_string().contains("users_nickname"),
        "{definition}"
    );
    assert!(
        definition["constraints"].to_string().contains("CHECK"),
        "{definition}"
    );
    let orders_definition = &kept.iter().find(|a| a["kind"] == "table").unwrap()["definition"];
    assert!(
        orders_definition["foreign_keys"]
            .to_string()
            .contains("REFERENCES users(id)"),
        "{orders_definition}"
    );
    db.client()
        .await
        .batch_execute("DELETE FROM users WHERE id = 1")
        .await
        .expect("a user referenced only by archived orders can be deleted");

    // Listed with sizes and retention; status shows them; a purge drops exactly what it names.
    let list = succeeded(switchback(&db, &["archive"]));
    assert!(
        list.contains("column public.users.nickname") && list.contains("kept until"),
        "{list}"
    );
    assert!(succeeded(switchback(&db, &["status"]))
        .contains("archive: 20261123_drops  table public.orders"));
    let refused = switchback(&db, &["archive", "purge", "users.nick"]);
    assert_ne!(refused.status.code(), Some(0));
    assert!(
        text(&refused.stderr).contains("`users.nick`"),
        "{}",
        text(&refused.stderr)
    );
    assert!(exists(&db, &column).await && exists(&db, &table).await);
    let purged = succeeded(switchback(&db, &["archive", "purge", "users.nickname"]));
    assert!(purged.contains("purged public.users.nickname"), "{purged}");
    assert!(
        !exists(&db, &column).await,
        "the column's archive is still there"
    );
    assert!(exists(&db, &table).await, "the table's archive went too");
    assert_eq!(
        succeeded(switchback(&db, &["archive", "purge", "--expired"])),
        "nothing to purge\n"
    );
    let after = archives(&db);
    assert!(after
        .iter()
        .any(|a| a["object"] == "public.users.nickname" && !a["purged_at"].is_null()));
    assert!(after
        .iter()
        .any(|a| a["object"] == "public.orders" && a["purged_at"].is_null()));
    let history = succeeded(switchback(&db, &["history", "20261123_drops"]));
    assert!(history.contains("archive purged"), "{history}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_during_the_archive_copy_ends_with_the_same_archive() {
    let db = database().await;
    let (_dir, plan) = plan_file(
        "20261123_killed",
        "backfill: { batch_size: 500 }\nchanges:\n  - drop_column: { table: users, column: nickname }\n",
    );
    advance(&db, &plan);
    let nicknames = rows(&db, "SELECT id, nickname FROM users ORDER BY id").await;
    let mut child = support::command(&db)
        .args(["advance", &plan, "--progress", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut batches = 0;
    let mut killed = false;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let event: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        batches += usize::from(event["event"] == "batch" && event["step"] == "0.archive");
        if batches == 5 {
            child.kill().unwrap();
            killed = true;
            break;
        }
    }
    child.wait().unwrap();
    assert!(killed, "the copy finished before the kill point");
    support::wait_for_runner_to_go(&db).await;
    // Named after the table, column and plan; the ledger records it with the drop.
    let column = "\"switchback_archive\".\"users_nickname_20261123_killed\"";
    let copied: i64 = db
        .client()
        .await
        .query_one(&format!("SELECT count(*) FROM {column}"), &[])
        .await
        .unwrap()
        .get(0);
    assert!(
        copied > 0 && copied < ROWS,
        "{copied} rows copied when killed"
    );
    advance(&db, &plan);
    assert_eq!(
        rows(
            &db,
            &format!("SELECT id, nickname FROM {column} ORDER BY id")
        )
        .await,
        nicknames
    );
    assert_eq!(kept_in(&archives(&db), "public.users.nickname"), column);
    let keyed: String = db
        .client()
        .await
        .query_one(
            &format!("SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = '{column}'::regclass AND indisprimary"),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        keyed.contains("UNIQUE INDEX") && keyed.ends_with("(id)"),
        "{keyed}"
    );
}

#[tokio::test]
async fn a_table_a_view_depends_on_is_refused_at_contract_and_left_in_place() {
    let db = database().await;
    db.client()
        .await
        .batch_execute("CREATE VIEW big_orders AS SELECT id FROM orders WHERE total > 10")
        .await
        .unwrap();
    let (_dir, plan) = plan_file(
        "20261123_view",
        "changes:\n  - drop_table: { name: orders }\n",
    );
    advance(&db, &plan);
    let out = switchback(&db, &["advance", &plan, "--progress", "plain"]);
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("big_orders") && said.contains("cannot archive table"),
        "{said}"
    );
    assert!(exists(&db, "public.orders").await);
    let fks: i64 = db
        .client()
        .await
        .query_one("SELECT count(*) FROM pg_constraint WHERE conrelid = 'public.orders'::regclass AND contype = 'f'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(fks, 1, "the failed step dropped the foreign key");
    assert!(archives(&db).is_empty());
}

#[tokio::test]
async fn archive_false_drops_for_good() {
    let db = database().await;
    let (_dir, plan) = plan_file(
        "20261123_gone",
        "archive: false\nchanges:\n  - drop_column: { table: users, column: nickname }\n",
    );
    advance(&db, &plan);
    advance(&db, &plan);
    assert!(archives(&db).is_empty());
    // Nothing kept: no relation in the archive schema (which a managed database's
    // administrator may have created beforehand).
    let kept: i64 = db
        .client()
        .await
        .query_one("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'switchback_archive'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(kept, 0);
    assert_eq!(
        succeeded(switchback(&db, &["archive"])),
        "nothing is kept in the archive\n"
    );
}

#[tokio::test]
async fn a_table_without_a_key_is_refused_before_anything_runs() {
    let db = TestDb::new().await;
    db.client()
        .await
        .batch_execute(
            "CREATE TABLE notes (body text, tag text); INSERT INTO notes VALUES ('a', 'x')",
        )
        .await
        .unwrap();
    let (_dir, plan) = plan_file(
        "20261123_keyless",
        "changes:\n  - drop_column: { table: notes, column: tag }\n",
    );
    // validate --database-url says so first, at the change.
    let out = switchback(&db, &["validate", &plan, "--database-url", &db.url]);
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("error[E702]")
            && said.contains("`notes`.`tag`")
            && said.contains("archive: false"),
        "{said}"
    );
    let out = switchback(&db, &["advance", &plan, "--progress", "plain"]);
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("`notes`.`tag`") && said.contains("archive: false"),
        "{said}"
    );
    let status = succeeded(switchback(&db, &["status"]));
    assert!(status.contains("no plans have run"), "{status}");
}
