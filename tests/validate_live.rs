//! `validate --database-url` against real PostgreSQL: each live check's failure and pass,
//! the backfill estimate against a real backfill, the ledger's view of applied plans, and
//! proof that validating changes nothing.

mod support;

use serde_json::Value;
use support::{catalog, switchback, text, TestDb};

const SCHEMA: &str = "
CREATE TABLE users (id bigint PRIMARY KEY, email text, name varchar(20), status text, first text, last text);
INSERT INTO users SELECT g, CASE WHEN g % 10 = 0 THEN NULL ELSE 'u' || g END, 'n' || g, 'a', 'f', 'l'
  FROM generate_series(1, 1000) g;
CREATE VIEW active_users AS SELECT id, name FROM users WHERE status = 'a';
CREATE FUNCTION first_names() RETURNS bigint LANGUAGE sql AS 'SELECT count(first) FROM users';
CREATE TABLE nokey (a int, b text);
INSERT INTO nokey VALUES (1, 'x');
CREATE TABLE teams (id bigint PRIMARY KEY, code text);
";

/// (code, field) of every finding, and the exit code, for plans written to a folder.
fn validate(db: &TestDb, plans: &[(&str, &str)]) -> (Vec<(String, String)>, Vec<Value>, i32) {
    let dir = tempfile::tempdir().unwrap();
    for (id, yaml) in plans {
        std::fs::write(dir.path().join(format!("{id}.yaml")), yaml).unwrap();
    }
    let folder = dir.path().display().to_string();
    let out = switchback(
        db,
        &[
            "validate",
            &folder,
            "--database-url",
            &db.url,
            "--format",
            "json",
        ],
    );
    let report: Value = serde_json::from_str(&text(&out.stdout))
        .unwrap_or_else(|_| panic!("not JSON: {}{}", text(&out.stdout), text(&out.stderr)));
    // N713 (a pooler is in between) depends on the server the suite runs against, not on
    // the plans; tests/reach.rs checks it.
    let findings: Vec<Value> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] != "N713")
        .cloned()
        .collect();
    let pairs = findings
        .iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap().to_owned(),
                d["field"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    (pairs, findings, out.status.code().unwrap())
}

fn pair(code: &str, field: &str) -> (String, String) {
    (code.to_owned(), field.to_owned())
}

#[tokio::test]
async fn each_live_check_fails_then_passes_once_fixed() {
    let db = TestDb::new().await;
    db.client().await.batch_execute(SCHEMA).await.unwrap();
    let failing = "changes:
  - set_not_null: { table: users, column: email }
  - drop_column: { table: users, column: status }
  - add_index: { table: users, name: users_pkey, columns: [email] }
  - add_index: { table: userz, name: i2, columns: [email] }
  - add_column: { table: nokey, column: { name: c, type: text }, backfill: b }
  - rename_column: { table: users, from: first, to: given }
  - add_foreign_key: { table: nokey, name: nokey_fk, columns: [b], references: { table: teams, columns: [code] } }
  - drop_index: { name: no_such_index }
  - add_column: { table: users, column: { name: nickname, type: text } }
  - add_column: { table: users, column: { name: nickname, type: text } }
";
    let (pairs, _, code) = validate(&db, &[("001_bad", failing)]);
    let errors_and_warnings: Vec<_> = pairs
        .iter()
        .filter(|(c, _)| !c.starts_with('N'))
        .cloned()
        .collect();
    assert_eq!(
        errors_and_warnings,
        [
            pair("W610", "changes[0].set_not_null"),
            pair("E703", "changes[0].set_not_null.column"),
            pair("E704", "changes[1].drop_column.column"),
            pair("E701", "changes[2].add_index.name"),
            pair("E700", "changes[3].add_index.table"),
            pair("E702", "changes[4].add_column.table"),
            pair("W705", "changes[5].rename_column.from"),
            pair("E613", "changes[6].add_foreign_key.references"),
            pair("E700", "changes[7].drop_index.name"),
            pair("E701", "changes[9].add_column.column.name"),
        ]
    );
    assert_eq!(code, 1);

    let passing = "changes:
  - set_not_null: { table: users, column: email, fill: \"''\" }
  - drop_column: { table: users, column: last }
  - add_index: { table: users, name: users_email_idx, columns: [email] }
  - add_unique: { table: teams, name: teams_code_key, columns: [code] }
  - add_foreign_key: { table: users, name: users_team_fk, columns: [name], references: { table: teams, columns: [code] } }
  - add_column: { table: users, column: { name: nickname, type: text } }
  - add_index: { table: users, name: users_nickname_idx, columns: [nickname] }
";
    let (pairs, findings, code) = validate(&db, &[("001_good", passing)]);
    assert!(
        pairs.iter().all(|(c, _)| c.starts_with('N')),
        "{findings:#?}"
    );
    assert_eq!(code, 0);
    // set_not_null with fill backfills users: the estimate note is there.
    assert!(
        pairs.contains(&pair("N711", "changes[0].set_not_null.table")),
        "{pairs:?}"
    );
}

#[tokio::test]
async fn type_changes_are_judged_by_pg_cast() {
    let db = TestDb::new().await;
    db.client().await.batch_execute(SCHEMA).await.unwrap();
    db.client()
        .await
        .batch_execute("DROP VIEW active_users")
        .await
        .unwrap();
    let plan = "changes:
  - change_type: { table: users, column: name, type: varchar(40), down: \"name::varchar(20)\" }
  - change_type: { table: users, column: email, type: \"varchar(10)\", down: email }
  - change_type: { table: users, column: id, type: integer, down: \"id::bigint\" }
";
    let (_, findings, code) = validate(&db, &[("001_types", plan)]);
    let notes: Vec<&str> = findings
        .iter()
        .filter(|d| d["code"] == "N710")
        .map(|d| d["message"].as_str().unwrap())
        .collect();
    assert_eq!(notes.len(), 3, "{findings:#?}");
    assert!(
        notes[0].contains("from character varying(20) to character varying(40) needs no rewrite"),
        "{}",
        notes[0]
    );
    assert!(
        notes[1].contains("from text to character varying(10) needs a rewrite"),
        "{}",
        notes[1]
    );
    assert!(
        notes[2].contains("from bigint to integer needs a rewrite"),
        "{}",
        notes[2]
    );
    assert_eq!(code, 0);
}

#[tokio::test]
async fn retyping_a_column_a_view_reads_names_the_view() {
    let db = TestDb::new().await;
    db.client().await.batch_execute(SCHEMA).await.unwrap();
    let plan =
        "changes:\n  - change_type: { table: users, column: name, type: text, down: name }\n";
    let (_, findings, code) = validate(&db, &[("001_view", plan)]);
    let e704 = findings.iter().find(|d| d["code"] == "E704").expect("E704");
    assert!(
        e704["message"]
            .as_str()
            .unwrap()
            .contains("view active_users"),
        "{e704}"
    );
    assert_eq!(code, 1);
}

/// Everything `validate` could have touched: the table's shape, its rows and the schema's
/// relations.
async fn snapshot(db: &TestDb) -> (Vec<String>, String, Vec<String>) {
    let client = db.client().await;
    let rows: String = client
        .query_one(
            "SELECT md5(string_agg(u::text, '|' ORDER BY id)) FROM users u",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let relations = client
        .query("SELECT n.nspname || '.' || c.relname || ' ' || c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') ORDER BY 1", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    (catalog(&client, "users").await, rows, relations)
}

#[tokio::test]
async fn validate_changes_nothing_and_estimates_the_backfill_within_a_factor_of_two() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .batch_execute(
            "CREATE TABLE users (id bigint PRIMARY KEY, email text, first text, last text);
             INSERT INTO users SELECT g, 'u' || g, 'f' || g, 'l' || g FROM generate_series(1, 500000) g;
             ANALYZE users;",
        )
        .await
        .unwrap();
    let plan = "changes:\n  - add_column: { table: users, column: { name: full_name, type: text }, backfill: \"first || ' ' || last\" }\n";
    let before = snapshot(&db).await;
    let (_, findings, code) = validate(&db, &[("001_full_name", plan)]);
    assert_eq!(code, 0, "{findings:#?}");
    assert_eq!(snapshot(&db).await, before, "validate changed the database");

    let message = findings
        .iter()
        .find(|d| d["code"] == "N711")
        .expect("an estimate")["message"]
        .as_str()
        .unwrap()
        .to_owned();
    let estimate = parse_rough(message.rsplit("about ").next().unwrap());

    // Four sessions share the batches: a quarter of the time, if the server has the cores.
    let (_, findings, _) = validate(
        &db,
        &[(
            "001_full_name",
            &format!("{plan}backfill: {{ workers: 4 }}\n"),
        )],
    );
    let shared = findings
        .iter()
        .find(|d| d["code"] == "N711")
        .expect("an estimate")["message"]
        .as_str()
        .unwrap();
    let (rest, sessions) = shared.rsplit_once(" with ").unwrap();
    assert_eq!(sessions, "4 sessions side by side, each given a core");
    let quarter = parse_rough(rest.rsplit("about ").next().unwrap());
    assert!(
        quarter < estimate / 2.0,
        "{quarter}s with four sessions against {estimate}s with one"
    );

    let (_dir, path) = support::plan_file("001_full_name", plan);
    let out = switchback(&db, &["advance", &path, "--progress", "plain"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let real: f64 = client
        .query_one("SELECT extract(epoch FROM finished_at - started_at)::float8 FROM switchback.jobs WHERE step LIKE '%.backfill'", &[])
        .await
        .unwrap()
        .get(0);
    let ratio = estimate / real;
    println!("estimate {estimate:.2}s, real backfill {real:.2}s, ratio {ratio:.2} ({message})");
    assert!(
        (0.5..=2.0).contains(&ratio),
        "estimate {estimate}s vs real {real}s"
    );
}

/// Seconds from `850ms`, `4.5s`, `2m05s`.
fn parse_rough(text: &str) -> f64 {
    if let Some(ms) = text.strip_suffix("ms") {
        return ms.parse::<f64>().unwrap() / 1000.0;
    }
    if let Some((m, s)) = text.split_once('m') {
        return m.parse::<f64>().unwrap() * 60.0 + s.trim_end_matches('s').parse::<f64>().unwrap();
    }
    text.trim_end_matches('s').parse().unwrap()
}

#[tokio::test]
async fn plans_in_the_ledger_are_reported_and_edited_ones_refused() {
    let db = TestDb::new().await;
    db.client().await.batch_execute(SCHEMA).await.unwrap();
    let plan =
        "changes:\n  - add_column: { table: users, column: { name: nickname, type: text } }\n";
    let (dir, path) = support::plan_file("001_nickname", plan);
    let out = switchback(&db, &["advance", &path, "--progress", "plain"]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let folder = dir.path().display().to_string();
    let out = switchback(&db, &["validate", &folder, "--database-url", &db.url]);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("note[N712]: plan `001_nickname` is expanded in the ledger"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("E701"),
        "an applied plan's objects are not 'already existing': {stdout}"
    );
    assert_eq!(out.status.code(), Some(0));

    std::fs::write(
        &path,
        format!("{plan}  - drop_not_null: {{ table: users, column: email }}\n"),
    )
    .unwrap();
    let out = switchback(&db, &["validate", &folder, "--database-url", &db.url]);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("error[E706]: plan `001_nickname` is expanded in the ledger, and its file changed since it started"), "{stdout}");
    assert_eq!(out.status.code(), Some(1));
}

#[tokio::test]
async fn later_plans_see_what_earlier_plans_create() {
    let db = TestDb::new().await;
    db.client().await.batch_execute(SCHEMA).await.unwrap();
    let create = "changes:\n  - create_table: { name: projects, columns: [ { name: id, type: bigint } ], primary_key: [id] }\n";
    let index = "changes:\n  - add_column: { table: projects, column: { name: title, type: text } }\n  - add_index: { table: projects, name: projects_title_idx, columns: [title] }\n";
    let (pairs, _, code) = validate(&db, &[("001_projects", create), ("002_title", index)]);
    assert_eq!(pairs, Vec::<(String, String)>::new());
    assert_eq!(code, 0);
}

#[tokio::test]
async fn allow_silences_a_live_rule_too() {
    let db = TestDb::new().await;
    db.client().await.batch_execute(SCHEMA).await.unwrap();
    let plan = "changes:\n  - drop_column:\n      table: users\n      column: status\n      allow: [E704]\n      reason: the view is dropped by the application team's own migration first\n";
    let (pairs, _, code) = validate(&db, &[("001_drop", plan)]);
    assert_eq!(pairs, Vec::<(String, String)>::new());
    assert_eq!(code, 0);
}
