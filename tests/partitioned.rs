//! Partitioned tables against real PostgreSQL, on a range-partitioned table (three partitions
//! and a default) with the application writing: `add_index` through expand -> contract,
//! expand -> abort and a `kill -9` in the middle of a partition's build; every other kind
//! that runs on a partitioned table through expand -> contract (the catalog plain DDL would
//! leave, and the data), expand -> abort (the catalog it started from) and, for the recipes
//! with the most steps, `kill -9` at every step with a re-run each time; and the kinds
//! switchback does not run on a partitioned table yet refused by `validate --database-url`
//! and by `advance` before the first statement, with nothing changed; and `revert` of a plan
//! on it, run through, aborted then run again, and killed at every step.

mod support;

use std::collections::HashSet;
use std::process::Stdio;
use std::time::{Duration, Instant};
use support::app::App;
use support::kills;
use support::{catalog, plan_file, succeeded, switchback, text, TestDb};
use tokio_postgres::Client;

const ROWS: i64 = 20_000;

const SCHEMA: &str = "
CREATE TABLE events (id bigint NOT NULL, at date NOT NULL, kind text DEFAULT 'click', note text, n int,
  src text NOT NULL DEFAULT 'web', PRIMARY KEY (id, at))
  PARTITION BY RANGE (at);
CREATE TABLE sources (name text PRIMARY KEY);
INSERT INTO sources VALUES ('web'), ('app');
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE events_default PARTITION OF events DEFAULT;
INSERT INTO events (id, at, kind, note, n) SELECT g, date '2024-01-01' + (g % 1300), 'k' || (g % 50),
  CASE WHEN g % 3 = 0 THEN NULL ELSE 'n' || g END, g
  FROM generate_series(1, 20000) g;
CREATE INDEX events_n_idx ON events (n);
CREATE UNIQUE INDEX events_n_at_uidx ON events (n, at);
ANALYZE events;
";

const TABLES: [&str; 5] = [
    "events",
    "events_2024",
    "events_2025",
    "events_2026",
    "events_default",
];

/// The old application: inserts into every partition (the default one too), updates and
/// reads by the column being indexed.
const OLD: &[&str] = &[
    "INSERT INTO events (id, at, kind) VALUES ({n} + 100000000, date '2024-01-01' + ({n} % 1400)::int, 'k{n}')",
    "UPDATE events SET note = 'u' WHERE id = {id}",
    "SELECT count(*) FROM events WHERE kind = 'k{id}'",
];

const ADD_INDEX: &str =
    "changes:\n  - add_index: { table: events, name: events_kind_idx, columns: [kind] }\n";

async fn setup() -> (TestDb, Client) {
    let db = TestDb::new().await;
    let client = db.client().await;
    client.batch_execute(SCHEMA).await.unwrap();
    (db, client)
}

async fn setup_case(case: &Case) -> (TestDb, Client) {
    let (db, client) = setup().await;
    client.batch_execute(case.before).await.unwrap();
    (db, client)
}

/// The name `rename_table` gives `events`.
const RENAMED: &str = "happenings";

/// The schema's relations (name and kind), then the catalog of each table of `TABLES` and of
/// `RENAMED` that exists.
async fn catalogs(client: &Client) -> Vec<String> {
    let mut all: Vec<String> = client
        .query(
            "SELECT format('relation %s %s', relname, relkind) FROM pg_class
              WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p', 'v') ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for table in TABLES.iter().chain([&RENAMED, &"event_refs", &"sources"]) {
        let exists: bool = client
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[table])
            .await
            .unwrap()
            .get(0);
        if exists {
            all.extend(catalog(client, table).await);
        }
    }
    all
}

fn advance(db: &TestDb, plan: &str) {
    let out = switchback(db, &["advance", plan, "--progress", "plain"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

/// Each partition's index on `kind`, as (partition, valid, attached to `events_kind_idx`).
async fn partition_indexes(client: &Client) -> Vec<(String, bool, bool)> {
    client
        .query(
            "SELECT t.relname::text, x.indisvalid,
                    EXISTS (SELECT FROM pg_inherits h WHERE h.inhrelid = x.indexrelid
                             AND h.inhparent = 'events_kind_idx'::regclass)
               FROM pg_inherits p JOIN pg_class t ON t.oid = p.inhrelid
               JOIN pg_index x ON x.indrelid = t.oid
              WHERE p.inhparent = 'events'::regclass AND pg_get_indexdef(x.indexrelid) LIKE '%(kind)'
              ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

async fn parent_index_valid(client: &Client) -> Option<bool> {
    client
        .query_opt(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass('events_kind_idx')",
            &[],
        )
        .await
        .unwrap()
        .map(|r| r.get(0))
}

fn every_partition_indexed() -> Vec<(String, bool, bool)> {
    TABLES[1..]
        .iter()
        .map(|t| (t.to_string(), true, true))
        .collect()
}

fn assert_app_fine(report: &support::app::Report) {
    assert!(
        report.errors.is_empty(),
        "{:?}",
        &report.errors[..report.errors.len().min(5)]
    );
    assert!(report.statements > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_index_expand_then_contract_with_the_application_writing() {
    let (db, client) = setup().await;
    let (_dir, plan) = plan_file("20261123_events_kind", ADD_INDEX);
    let out = switchback(&db, &["validate", &plan, "--database-url", &db.url]);
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{said}{}", text(&out.stderr));
    assert!(
        said.contains("note[N714]: `events` is partitioned (4 partitions): the index is built ON ONLY the parent, then CONCURRENTLY on each partition and attached"),
        "{said}"
    );
    let app = App::start(&db.url, ROWS, OLD, &[], 2).await;
    app.run_for(200).await;
    advance(&db, &plan);
    assert_eq!(parent_index_valid(&client).await, Some(true));
    assert_eq!(partition_indexes(&client).await, every_partition_indexed());
    app.run_for(200).await;
    advance(&db, &plan);
    let report = app.stop().await;
    assert_app_fine(&report);
    // The planner uses the new index through the parent.
    let plan_text: Vec<String> = client
        .query(
            "EXPLAIN (COSTS OFF) SELECT * FROM events WHERE kind = 'k7'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        plan_text.iter().any(|l| l.contains("events_kind_idx")),
        "{plan_text:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_index_expand_then_abort_leaves_the_catalog_as_it_was() {
    let (db, client) = setup().await;
    let before = catalogs(&client).await;
    let (_dir, plan) = plan_file("20261123_events_kind", ADD_INDEX);
    let app = App::start(&db.url, ROWS, OLD, &[], 2).await;
    advance(&db, &plan);
    assert_eq!(partition_indexes(&client).await, every_partition_indexed());
    let out = switchback(&db, &["abort", &plan]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report = app.stop().await;
    assert_app_fine(&report);
    assert_eq!(catalogs(&client).await, before);
}

/// `kill -9` while one partition's index is being built (a transaction holding a write lock
/// on that partition keeps the build waiting, so the kill lands inside it): the re-run ends
/// with the same catalog as an uninterrupted run, and abort afterwards still removes it all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_in_the_middle_of_a_partition_build() {
    let (db, client) = setup().await;
    let before = catalogs(&client).await;
    let (_dir, plan) = plan_file("20261123_events_kind", ADD_INDEX);
    let holder = db.client().await;
    holder
        .batch_execute("BEGIN; UPDATE events_2025 SET note = 'held' WHERE id = 400")
        .await
        .unwrap();
    let mut child = support::command(&db)
        .args(["advance", &plan, "--progress", "plain"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        if support::waits_for_lock(&client, "CREATE INDEX CONCURRENTLY%events_2025%").await {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the build of events_2025's index never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // By now events_2024's index is built and attached; the parent's is not valid yet.
    assert_eq!(parent_index_valid(&client).await, Some(false));
    child.kill().unwrap();
    child.wait().unwrap();
    holder.batch_execute("ROLLBACK").await.unwrap();
    support::wait_for_runner_to_go(&db).await;
    advance(&db, &plan);
    assert_eq!(parent_index_valid(&client).await, Some(true));
    assert_eq!(partition_indexes(&client).await, every_partition_indexed());
    let (reference_db, reference) = setup().await;
    advance(&reference_db, &plan);
    assert_eq!(catalogs(&client).await, catalogs(&reference).await);
    let out = switchback(&db, &["abort", &plan]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(catalogs(&client).await, before);
}

/// What does not run on a partitioned table yet is said by `validate --database-url` and
/// refused by `advance` before its first statement: the catalog is untouched, and the plan
/// is not recorded as started.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsupported_kinds_are_refused_before_anything_runs() {
    let (db, client) = setup().await;
    // A foreign key that references the column of a pair from a sub-partitioned table is not
    // carried over yet.
    client
        .batch_execute("CREATE TABLE event_refs (event_id bigint, event_at date, CONSTRAINT event_refs_fkey FOREIGN KEY (event_id, event_at) REFERENCES events (id, at)) PARTITION BY RANGE (event_at);
            CREATE TABLE event_refs_all PARTITION OF event_refs DEFAULT PARTITION BY LIST (event_id);
            CREATE TABLE event_refs_any PARTITION OF event_refs_all DEFAULT")
        .await
        .unwrap();
    let before = catalogs(&client).await;
    let yaml = "changes:\n  - add_index: { table: events, name: events_note_idx, columns: [note] }\n  - rename_column: { table: events, from: id, to: event_id }\n";
    let (_dir, plan) = plan_file("20261123_events_source", yaml);
    let out = switchback(&db, &["validate", &plan, "--database-url", &db.url]);
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said}{}", text(&out.stderr));
    let why = "\"event_refs_fkey\" of the partitioned table event_refs references \"id\": switchback adds such a key back partition by partition, and event_refs has no partitions, or one that is partitioned itself or foreign";
    assert!(
        said.contains(&format!(":3:5: error[E709]: {why}")),
        "{said}"
    );
    let out = switchback(&db, &["advance", &plan]);
    let err = text(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    assert!(err.contains(why), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // Not even the first change's index was started.
    assert_eq!(catalogs(&client).await, before);
    let recorded: i64 = client
        .query_one(
            "SELECT CASE WHEN to_regclass('switchback.plans') IS NULL THEN 0 ELSE
               (xpath('/row/c/text()', query_to_xml('SELECT count(*) AS c FROM switchback.plans', false, true, '')))[1]::text::bigint END",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(recorded, 0);

    // A partition key column: refused, saying why, by validate and by advance.
    let yaml = "changes:\n  - rename_column: { table: events, from: at, to: happened_at }\n";
    let says = "`events` is partitioned, and \"at\" is in its partition key, which PostgreSQL can neither drop nor retype";
    let (_dir, plan) = plan_file("20261123_events_pair", yaml);
    let out = switchback(&db, &["validate", &plan, "--database-url", &db.url]);
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains(&format!("error[E709]: {says}")), "{said}");
    let out = switchback(&db, &["advance", &plan]);
    assert_ne!(out.status.code(), Some(0));
    assert!(text(&out.stderr).contains(says), "{}", text(&out.stderr));
    assert_eq!(catalogs(&client).await, before);

    // A unique index must cover the partition key, which only the first statement would
    // find out; it is refused up front too, saying which key column is missing.
    let yaml = "changes:\n  - add_index: { table: events, name: events_kind_key, columns: [kind], unique: true }\n";
    let (_dir, plan) = plan_file("20261123_events_unique", yaml);
    let out = switchback(&db, &["advance", &plan]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains("`events` is partitioned, and a unique index on it must include its partition key: the columns leave out `at`"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(catalogs(&client).await, before);
}

/// A kind on the partitioned table: its plan, the plain DDL whose catalog contract must end
/// in, and a query that must return 0 afterwards (rows with a wrong value).
struct Case {
    /// Run first, on the database switchback changes and on the plain DDL's.
    before: &'static str,
    plan: &'static str,
    /// Whether `validate --database-url` has a note on it (drop_index names no table).
    noted: bool,
    ddl: &'static str,
    wrong_rows: &'static str,
}

const CASES: &[Case] = &[
    Case {
        before: "",
        plan: "set_default: { table: events, column: note, default: \"'none'\" }",
        ddl: "ALTER TABLE events ALTER COLUMN note SET DEFAULT 'none'",
        wrong_rows: "SELECT 0::bigint",
        noted: true,
    },
    Case {
        before: "",
        plan: "drop_default: { table: events, column: kind }",
        ddl: "ALTER TABLE events ALTER COLUMN kind DROP DEFAULT",
        wrong_rows: "SELECT 0::bigint",
        noted: true,
    },
    Case {
        before: "",
        plan: "add_check: { table: events, name: events_n_positive, check: \"n > 0\" }",
        ddl: "ALTER TABLE events ADD CONSTRAINT events_n_positive CHECK (n > 0)",
        wrong_rows: "SELECT count(*) FROM events WHERE n <= 0",
        noted: true,
    },
    Case {
        before: "",
        plan: "set_not_null: { table: events, column: note, fill: \"'none'\" }",
        ddl: "UPDATE events SET note = 'none' WHERE note IS NULL; ALTER TABLE events ALTER COLUMN note SET NOT NULL",
        wrong_rows: "SELECT count(*) FROM events WHERE note IS NULL",
        noted: true,
    },
    Case {
        before: "",
        plan: "drop_not_null: { table: events, column: src }",
        ddl: "ALTER TABLE events ALTER COLUMN src DROP NOT NULL",
        wrong_rows: "SELECT 0::bigint",
        noted: true,
    },
    Case {
        before: "",
        plan: "add_column: { table: events, column: { name: kind_upper, type: text }, backfill: \"upper(kind)\" }",
        ddl: "ALTER TABLE events ADD COLUMN kind_upper text; UPDATE events SET kind_upper = upper(kind)",
        wrong_rows: "SELECT count(*) FROM events WHERE kind_upper IS DISTINCT FROM upper(kind)",
        noted: true,
    },
    Case {
        before: "",
        plan: "drop_column: { table: events, column: n }",
        ddl: "ALTER TABLE events DROP COLUMN n",
        wrong_rows: "SELECT 0::bigint",
        noted: true,
    },
    Case {
        before: "",
        plan: "rename_column: { table: events, from: note, to: remark }",
        ddl: "ALTER TABLE events RENAME COLUMN note TO remark",
        wrong_rows: "SELECT count(*) FROM events WHERE id <= 20000
                       AND remark IS DISTINCT FROM CASE WHEN id % 3 = 0 THEN NULL ELSE 'n' || id END
                       AND remark IS DISTINCT FROM 'u'",
        noted: true,
    },
    // A shadow column (int to bigint rewrites), with the index on the column copied ON ONLY
    // the parent and on each partition under switchback's names.
    Case {
        before: "",
        plan: "change_type: { table: events, column: n, type: bigint, up: \"n::bigint\", down: \"n::int\" }",
        ddl: "ALTER TABLE events ALTER COLUMN n TYPE bigint;
              ALTER INDEX events_2024_n_idx RENAME TO sb_events_n_idx_events_2024;
              ALTER INDEX events_2025_n_idx RENAME TO sb_events_n_idx_events_2025;
              ALTER INDEX events_2026_n_idx RENAME TO sb_events_n_idx_events_2026;
              ALTER INDEX events_default_n_idx RENAME TO sb_events_n_idx_events_default;
              ALTER INDEX events_2024_n_at_idx RENAME TO sb_events_n_at_uidx_events_2024;
              ALTER INDEX events_2025_n_at_idx RENAME TO sb_events_n_at_uidx_events_2025;
              ALTER INDEX events_2026_n_at_idx RENAME TO sb_events_n_at_uidx_events_2026;
              ALTER INDEX events_default_n_at_idx RENAME TO sb_events_n_at_uidx_events_default",
        wrong_rows: "SELECT count(*) FROM events WHERE id <= 20000 AND n IS DISTINCT FROM id",
        noted: true,
    },
    // The partitions' indexes carry switchback's names (`<index>_<partition>`) where
    // PostgreSQL would choose its own: the DDL renames them to compare the rest.
    Case {
        before: "",
        plan: "add_index: { table: events, name: events_n_at_key, columns: [n, at], unique: true }",
        ddl: "CREATE UNIQUE INDEX events_n_at_key ON events (n, at);
              ALTER INDEX events_2024_n_at_idx1 RENAME TO events_n_at_key_events_2024;
              ALTER INDEX events_2025_n_at_idx1 RENAME TO events_n_at_key_events_2025;
              ALTER INDEX events_2026_n_at_idx1 RENAME TO events_n_at_key_events_2026;
              ALTER INDEX events_default_n_at_idx1 RENAME TO events_n_at_key_events_default",
        wrong_rows: "SELECT count(*) FROM pg_index WHERE indexrelid = 'events_n_at_key'::regclass AND NOT indisvalid",
        noted: true,
    },
    Case {
        before: "",
        plan: "add_unique: { table: events, name: events_n_at_key, columns: [n, at] }",
        ddl: "ALTER TABLE events ADD CONSTRAINT events_n_at_key UNIQUE (n, at);
              ALTER INDEX events_2024_n_at_key RENAME TO events_n_at_key_events_2024;
              ALTER INDEX events_2025_n_at_key RENAME TO events_n_at_key_events_2025;
              ALTER INDEX events_2026_n_at_key RENAME TO events_n_at_key_events_2026;
              ALTER INDEX events_default_n_at_key RENAME TO events_n_at_key_events_default",
        wrong_rows: "SELECT 0::bigint",
        noted: true,
    },
    Case {
        before: "",
        plan: "add_foreign_key: { table: events, name: events_src_fkey, columns: [src], references: { table: sources, columns: [name] } }",
        ddl: "ALTER TABLE events ADD CONSTRAINT events_src_fkey FOREIGN KEY (src) REFERENCES sources (name)",
        wrong_rows: "SELECT count(*) FROM events WHERE src NOT IN (SELECT name FROM sources)",
        noted: true,
    },
    // The primary key (id, at): each partition's copy becomes its primary key in the contract
    // transaction, and the parent's adopts them; the foreign key that references it is added
    // back toward the new column in that transaction, and validated after.
    Case {
        before: "CREATE TABLE event_refs (event_id bigint, event_at date, CONSTRAINT event_refs_fkey FOREIGN KEY (event_id, event_at) REFERENCES events (id, at));
                 INSERT INTO event_refs SELECT id, at FROM events WHERE id % 10 = 0",
        plan: "rename_column: { table: events, from: id, to: event_id }",
        // The referencing key, added back NOT VALID and validated, as by hand: PostgreSQL's
        // VALIDATE marks the key valid but not its entries for each referenced partition.
        ddl: "ALTER TABLE event_refs DROP CONSTRAINT event_refs_fkey;
              ALTER TABLE events RENAME COLUMN id TO event_id;
              ALTER TABLE event_refs ADD CONSTRAINT event_refs_fkey FOREIGN KEY (event_id, event_at) REFERENCES events (event_id, at) NOT VALID;
              ALTER TABLE event_refs VALIDATE CONSTRAINT event_refs_fkey",
        wrong_rows: "SELECT count(*) FROM events WHERE n IS NOT NULL AND event_id IS DISTINCT FROM n",
        noted: true,
    },
    // A foreign key from the column: NOT VALID on each partition, validated, adopted by the
    // parent's; each takes the original's name at contract.
    Case {
        before: "ALTER TABLE events ADD CONSTRAINT events_src_fkey FOREIGN KEY (src) REFERENCES sources (name)",
        plan: "rename_column: { table: events, from: src, to: source }",
        ddl: "ALTER TABLE events RENAME COLUMN src TO source",
        wrong_rows: "SELECT count(*) FROM events WHERE source IS DISTINCT FROM 'web'",
        noted: true,
    },
    // A foreign key from the partitioned table that references the renamed column of a plain
    // one: added back NOT VALID on each partition at contract, validated partition by
    // partition, then adopted by the parent's.
    Case {
        before: "ALTER TABLE events ADD CONSTRAINT events_src_fkey FOREIGN KEY (src) REFERENCES sources (name)",
        plan: "rename_column: { table: sources, from: name, to: label }",
        ddl: "ALTER TABLE sources RENAME COLUMN name TO label",
        wrong_rows: "SELECT count(*) FROM events WHERE src NOT IN (SELECT label FROM sources)",
        noted: false,
    },
    Case {
        before: "",
        plan: "rename_table: { from: events, to: happenings }",
        ddl: "ALTER TABLE events RENAME TO happenings",
        wrong_rows: "SELECT 20000 - count(*) FROM happenings WHERE id <= 20000",
        noted: true,
    },
    Case {
        before: "",
        plan: "drop_table: { name: events }",
        ddl: "DROP TABLE events",
        wrong_rows: "SELECT count(*) FROM pg_class WHERE relname LIKE 'events%' AND relnamespace = 'public'::regnamespace",
        noted: true,
    },
    Case {
        before: "",
        plan: "drop_index: { name: events_n_idx }",
        ddl: "DROP INDEX events_n_idx",
        wrong_rows: "SELECT count(*) FROM pg_class WHERE relname LIKE 'events%n_idx'",
        noted: false,
    },
];

fn case_plan(case: &Case) -> String {
    format!("changes:\n  - {}\n", case.plan)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_supported_kind_expand_then_contract_with_the_application_writing() {
    for case in CASES {
        let (db, client) = setup_case(case).await;
        let (_dir, plan) = plan_file("20261123_partitioned", &case_plan(case));
        let out = switchback(&db, &["validate", &plan, "--database-url", &db.url]);
        let said = text(&out.stdout);
        assert_eq!(
            said.contains("note[N714]: `events` is partitioned (4 partitions): "),
            case.noted,
            "{}: {said}",
            case.plan
        );
        assert!(!said.contains("E709"), "{}: {said}", case.plan);
        let app = App::start(&db.url, ROWS, OLD, &[], 2).await;
        app.run_for(100).await;
        advance(&db, &plan);
        app.run_for(100).await;
        // Contract runs once the old application is gone (its inserts would lack the new
        // column's value, or a value the new NOT NULL requires).
        let report = app.stop().await;
        assert_app_fine(&report);
        advance(&db, &plan);
        ends_as_plain_ddl(&client, case).await;
    }
}

/// The data has no wrong row and the catalog is the one `case`'s plain DDL leaves.
async fn ends_as_plain_ddl(client: &Client, case: &Case) {
    let wrong: i64 = client.query_one(case.wrong_rows, &[]).await.unwrap().get(0);
    assert_eq!(wrong, 0, "{}", case.plan);
    let (_plain_db, plain) = setup_case(case).await;
    plain.batch_execute(case.ddl).await.unwrap();
    assert_eq!(
        catalogs(client).await,
        catalogs(&plain).await,
        "{}",
        case.plan
    );
}

/// The kinds whose partitioned recipes have the most steps to be killed between: the shadow
/// column with its indexes copied ON ONLY the parent and on each partition, the primary key
/// taken over partition by partition, a foreign key carried over to the new column, one from
/// the partitioned table carried over to a plain table's new column, a unique constraint from
/// per-partition indexes, a foreign key, and NOT NULL from a CHECK.
const KILLED: [&str; 7] = [
    "change_type",
    "rename_column: { table: events, from: id",
    "rename_column: { table: events, from: src",
    "rename_column: { table: sources",
    "add_unique",
    "add_foreign_key",
    "set_not_null",
];

/// `kill -9` as every step of expand and of contract starts (and a few milliseconds into it)
/// and at the second backfill batch, re-run each time: each recipe ends as an uninterrupted
/// run does, in the catalog plain DDL leaves and with the right data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_partitioned_recipes_killed_at_every_step_end_as_uninterrupted() {
    for case in CASES
        .iter()
        .filter(|c| KILLED.iter().any(|k| c.plan.starts_with(k)))
    {
        let (db, client) = setup_case(case).await;
        let (_dir, plan) = plan_file("20261123_partitioned", &case_plan(case));
        let mut seen = HashSet::new();
        let mut batches = 0;
        let mut kills = 0;
        for _stage in ["expand", "contract"] {
            let second_batch = |event: &serde_json::Value| {
                batches += usize::from(event["event"] == "batch");
                event["event"] == "batch" && batches == 2
            };
            kills +=
                kills::run_killed_at_every_step(&db, &["advance", &plan], &mut seen, second_batch)
                    .await;
        }
        assert!(
            seen.len() >= 2 && kills >= seen.len(),
            "{}: {kills} kills at {seen:?}",
            case.plan
        );
        ends_as_plain_ddl(&client, case).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_supported_kind_expand_then_abort() {
    for case in CASES {
        let (db, client) = setup_case(case).await;
        let before = catalogs(&client).await;
        let (_dir, plan) = plan_file("20261123_partitioned", &case_plan(case));
        let app = App::start(&db.url, ROWS, OLD, &[], 2).await;
        advance(&db, &plan);
        app.run_for(100).await;
        let out = switchback(&db, &["abort", &plan]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}",
            case.plan,
            text(&out.stderr)
        );
        let report = app.stop().await;
        assert_app_fine(&report);
        assert_eq!(catalogs(&client).await, before, "{}", case.plan);
    }
}

/// A partition attached after expand has no unique index of its own: the parent's ADD
/// CONSTRAINT would build one under a lock that blocks writes. Contract refuses instead,
/// naming the partition, with nothing changed; once it is detached, contract completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contract_refuses_a_partition_attached_since_expand() {
    let (db, client) = setup().await;
    let yaml =
        "changes:\n  - add_unique: { table: events, name: events_n_at_key, columns: [n, at] }\n";
    let (_dir, plan) = plan_file("20261123_events_unique", yaml);
    advance(&db, &plan);
    client
        .batch_execute("CREATE TABLE events_2030 PARTITION OF events FOR VALUES FROM ('2030-01-01') TO ('2031-01-01')")
        .await
        .unwrap();
    let parent_constraint = "SELECT count(*) FROM pg_constraint WHERE conname = 'events_n_at_key'";
    let out = switchback(&db, &["advance", &plan]);
    let err = text(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains(
            r#"partitions of "public"."events" attached since the plan started: events_2030"#
        ),
        "{err}"
    );
    assert!(
        err.contains("detach them until the plan is complete"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    let count: i64 = client
        .query_one(parent_constraint, &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 0);

    client
        .batch_execute("ALTER TABLE events DETACH PARTITION events_2030")
        .await
        .unwrap();
    advance(&db, &plan);
    let count: i64 = client
        .query_one(parent_constraint, &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 1);
    // Every partition's constraint is the parent's.
    let adopted: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_constraint c JOIN pg_constraint p ON p.oid = c.conparentid
              WHERE p.conname = 'events_n_at_key'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(adopted, 4);
}

/// Before the plan `revert` takes back: `src` has a foreign key, a CHECK, a unique constraint
/// and a partial index, and two values.
const BEFORE_REVERT: &str = "
ALTER TABLE events ADD CONSTRAINT events_src_fkey FOREIGN KEY (src) REFERENCES sources (name);
ALTER TABLE events ADD CONSTRAINT events_src_check CHECK (src <> '');
ALTER TABLE events ADD CONSTRAINT events_src_key UNIQUE (src, id, at);
CREATE INDEX events_src_idx ON events (src) WHERE src <> 'web';
UPDATE events SET src = 'app' WHERE id % 7 = 0;
CREATE TABLE numbers (n int PRIMARY KEY);
INSERT INTO numbers SELECT generate_series(1, 20000);
";

const SLIM: &str = "changes:
  - drop_column: { table: events, column: src }
  - drop_index: { name: events_n_idx }
  - add_unique: { table: events, name: events_n_at_key, columns: [n, at] }
  - add_foreign_key: { table: events, name: events_n_fkey, columns: [n], references: { table: numbers, columns: [n] } }
";

/// A database where `SLIM` has completed (the old application writing during its expand),
/// with its catalog and the values of `src` just before its contract dropped it.
async fn slimmed() -> (TestDb, Client, tempfile::TempDir, Vec<String>, String) {
    let (db, client) = setup().await;
    client.batch_execute(BEFORE_REVERT).await.unwrap();
    let (dir, plan) = plan_file("20261124_partitioned_slim", SLIM);
    let app = App::start(&db.url, ROWS, OLD, &[], 2).await;
    advance(&db, &plan);
    app.run_for(100).await;
    assert_app_fine(&app.stop().await);
    let values: String = client.query_one(SRC_VALUES, &[]).await.unwrap().get(0);
    advance(&db, &plan);
    let planned = catalogs(&client).await;
    (db, client, dir, planned, values)
}

const SRC_VALUES: &str =
    "SELECT string_agg(format('%s %s %s', id, at, src), ',' ORDER BY id, at) FROM events";

fn revert(db: &TestDb, stage: &str) {
    let out = switchback(
        db,
        &["revert", "20261124_partitioned_slim", "--progress", "plain"],
    );
    assert_eq!(out.status.code(), Some(0), "{stage}: {}", text(&out.stderr));
}

/// Every value of `src` is `before`'s, and the catalog the one the test started from.
async fn back_at_the_start(client: &Client, before: &str) {
    let after: String = client.query_one(SRC_VALUES, &[]).await.unwrap().get(0);
    assert!(before == after, "the restored values differ");
    let (_start_db, start) = setup().await;
    start.batch_execute(BEFORE_REVERT).await.unwrap();
    assert_eq!(catalogs(client).await, catalogs(&start).await);
}

/// `switchback revert` of a plan on the partitioned table: the dropped column comes back with
/// every value, its default, NOT NULL, CHECK, foreign key, unique constraint and index (the
/// partitioned recipes: each partition's own, then the parent's adopting or attaching them),
/// the dropped index is built again and the added unique constraint and foreign key dropped. The catalog ends
/// as it started, the partitions' indexes and constraints under the names PostgreSQL gave them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_plan_is_reverted_to_its_starting_catalog_and_data() {
    let (db, client, _dir, _, before) = slimmed().await;
    revert(&db, "expand");
    revert(&db, "contract");
    back_at_the_start(&client, &before).await;
}

/// The revert's expand on the partitioned table, aborted: every partition's index and
/// constraint it made is gone with the parent's, the unique constraint and the foreign key it
/// dropped are back (on each partition, adopted by the parent's), and the catalog is the
/// completed plan's. `revert` then starts again, and ends where an uninterrupted one does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_revert_aborted_leaves_the_plans_catalog_and_can_start_again() {
    let (db, client, _dir, planned, before) = slimmed().await;
    revert(&db, "expand");
    assert_ne!(catalogs(&client).await, planned);
    let out = switchback(&db, &["abort", "20261124_partitioned_slim.revert"]);
    assert_eq!(out.status.code(), Some(0), "abort: {}", text(&out.stderr));
    assert_eq!(catalogs(&client).await, planned);

    revert(&db, "expand again");
    revert(&db, "contract");
    back_at_the_start(&client, &before).await;
    let history = succeeded(switchback(
        &db,
        &["history", "20261124_partitioned_slim.revert"],
    ));
    assert!(history.contains("aborted run cleared"), "{history}");
}

/// The same revert with `kill -9` as every step of its expand and contract starts (and a few
/// milliseconds into it), and at its restore's second batch, re-run each time: it ends as an
/// uninterrupted one does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_revert_killed_at_every_step_ends_as_uninterrupted() {
    let (db, client, _dir, _, before) = slimmed().await;
    let mut seen = HashSet::new();
    let (mut kills, mut batches) = (0, 0);
    for _stage in ["expand", "contract"] {
        let second_batch = |event: &serde_json::Value| {
            batches += usize::from(event["event"] == "batch");
            event["event"] == "batch" && batches == 2
        };
        let args = ["revert", "20261124_partitioned_slim"];
        kills += kills::run_killed_at_every_step(&db, &args, &mut seen, second_batch).await;
    }
    assert!(
        seen.len() >= 10 && kills >= seen.len(),
        "{kills} kills at {seen:?}"
    );
    back_at_the_start(&client, &before).await;
}

/// `switchback revert` of a `drop_table` of the partitioned table with a foreign key to
/// another: the table comes back from the archive with its partitions, each into the schema
/// it lived in (one lives in `cold`), and the key on each partition, validated and adopted by
/// the parent's (PostgreSQL refuses it NOT VALID on the parent before 18). The catalog ends
/// as it started.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_partitioned_table_comes_back_with_its_foreign_keys() {
    let fk = "ALTER TABLE events ADD CONSTRAINT events_src_fkey FOREIGN KEY (src) REFERENCES sources (name)";
    let (db, client) = setup().await;
    // The administrator's: a least-privilege role may not create schemas.
    let role: String = client
        .query_one("SELECT current_user::text", &[])
        .await
        .unwrap()
        .get(0);
    db.admin()
        .await
        .batch_execute(&format!("CREATE SCHEMA cold AUTHORIZATION \"{role}\""))
        .await
        .unwrap();
    client
        .batch_execute(&format!(
            "CREATE TABLE cold.events_2023 PARTITION OF events FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
             INSERT INTO events (id, at, src) VALUES (-1, '2023-06-01', 'app');
             {fk}"
        ))
        .await
        .unwrap();
    let start = catalogs(&client).await;
    let cold = "SELECT format('%s %s', c.relname, c.relispartition) FROM pg_class c
                 WHERE c.relnamespace = 'cold'::regnamespace AND c.relkind = 'r'";
    let in_cold =
        |rows: Vec<tokio_postgres::Row>| -> Vec<String> { rows.iter().map(|r| r.get(0)).collect() };
    assert_eq!(
        in_cold(client.query(cold, &[]).await.unwrap()),
        ["events_2023 t"]
    );
    let values = "SELECT md5(string_agg(e::text, ',' ORDER BY id, at)) FROM events e";
    let before: String = client.query_one(values, &[]).await.unwrap().get(0);
    let (_dir, plan) = plan_file(
        "20261124_no_events",
        "changes:\n  - drop_table: { name: events }\n",
    );
    advance(&db, &plan);
    advance(&db, &plan);
    assert_ne!(catalogs(&client).await, start);
    for stage in ["expand", "contract"] {
        let out = switchback(
            &db,
            &["revert", "20261124_no_events", "--progress", "plain"],
        );
        assert_eq!(out.status.code(), Some(0), "{stage}: {}", text(&out.stderr));
    }
    assert_eq!(catalogs(&client).await, start);
    assert_eq!(
        in_cold(client.query(cold, &[]).await.unwrap()),
        ["events_2023 t"],
        "the partition from `cold` is back in `cold`"
    );
    let after: String = client.query_one(values, &[]).await.unwrap().get(0);
    assert_eq!(after, before);
}
