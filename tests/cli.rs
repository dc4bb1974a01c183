//! The built binary on `plans/`: every output format, exit codes, and errors on stderr.

use std::path::Path;
use std::process::{Command, Output};

fn switchback(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_switchback"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("GITHUB_ACTIONS")
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

#[test]
fn plan_text_shows_both_stages_and_the_gate() {
    let out = switchback(&["plan", "plans/"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(!text.contains('\x1b'), "no color when piped");
    let plans = std::fs::read_dir("plans").unwrap().count();
    assert_eq!(text.matches("\nplan ").count() + 1, plans);
    assert_eq!(text.matches("── gate: deploy").count(), plans);
    assert!(text.contains("lock SHARE UPDATE EXCLUSIVE on \"public\".\"orders\" · scans the table"));
}

#[test]
fn plan_json_is_the_documented_shape() {
    let out = switchback(&["plan", "plans/", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["version"], 1);
    let plans = json["plans"].as_array().unwrap();
    let multi = plans
        .iter()
        .find(|p| p["id"] == "20261122_users_full_name")
        .unwrap();
    assert_eq!(multi["lock_timeout"], "2s");
    assert_eq!(multi["backfill"]["target_batch_time"], "100ms");
    assert_eq!(multi["changes"][0]["kind"], "rename_column");
    let backfill = multi["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["phase"] == "backfill")
        .unwrap();
    assert_eq!(backfill["name"], "users.backfill");
    assert_eq!(backfill["stage"], "expand");
    assert_eq!(backfill["transactional"], false);
    assert_eq!(backfill["changes"], serde_json::json!([0, 1, 2]));
    assert_eq!(backfill["statements"][0]["work"], "batched");
    assert_eq!(
        backfill["statements"][0]["locks"][0]["mode"],
        "row_exclusive"
    );
    assert_eq!(
        backfill["statements"][0]["locks"][0]["blocks_writes"],
        false
    );
    assert_eq!(
        backfill["after"],
        serde_json::json!([
            "20261122_users_full_name/0.move_default",
            "20261122_users_full_name/users.sync"
        ])
    );
}

#[test]
fn plan_sql_is_a_reviewable_script() {
    let out = switchback(&[
        "plan",
        "plans/20261106_orders_status_not_null.yaml",
        "--format",
        "sql",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let sql = stdout(&out);
    assert!(sql.contains("-- ---- expand stage ----"));
    assert!(sql.contains("BEGIN;\nSET LOCAL lock_timeout = '2s';\nALTER TABLE \"public\".\"orders\" ADD CONSTRAINT \"sb_nn_orders_status\" CHECK (\"status\" IS NOT NULL) NOT VALID;\nCOMMIT;"));
    assert!(sql.contains("-- in batches of 5000 rows, each its own transaction:"));
    assert!(sql.find("-- ---- gate").unwrap() < sql.find("SET NOT NULL").unwrap());
}

#[test]
fn plan_dot_and_mermaid_draw_the_graph() {
    let dot = stdout(&switchback(&["plan", "plans/", "--format", "dot"]));
    assert!(dot.starts_with("digraph switchback {"));
    assert!(dot.contains(
        "\"20261122_users_full_name/users.sync\" -> \"20261122_users_full_name/users.backfill\";"
    ));
    assert!(dot.contains("[style=dashed, label=\"depends_on\"]"));
    assert!(dot.trim_end().ends_with('}'));
    let mermaid = stdout(&switchback(&["plan", "plans/", "--format", "mermaid"]));
    assert!(mermaid.starts_with("flowchart TD\n"));
    assert!(mermaid.contains("-. depends_on .->"));
    assert_eq!(
        mermaid.matches("  subgraph ").count(),
        std::fs::read_dir("plans").unwrap().count()
    );
}

#[test]
fn validate_plans_is_clean_in_every_format() {
    let text = switchback(&["validate", "plans/"]);
    assert_eq!(text.status.code(), Some(0));
    assert_eq!(
        stdout(&text),
        format!(
            "0 errors, 0 warnings in {} plan files\n",
            std::fs::read_dir("plans").unwrap().count()
        )
    );
    let json = switchback(&["validate", "plans/", "--format", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(
        (
            report["errors"].as_u64(),
            report["diagnostics"].as_array().map(Vec::len)
        ),
        (Some(0), Some(0))
    );
    let github = switchback(&["validate", "plans/", "--format", "github"]);
    assert_eq!(
        (github.status.code(), stdout(&github)),
        (Some(0), String::new())
    );
}

fn bad_plan_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.yaml"), "changes:\n  - set_not_null: { table: users, column: email, fil: x }\n  - drop_column: { table: Users, column: a }\n").unwrap();
    dir
}

#[test]
fn validate_reports_findings_with_exit_1() {
    let dir = bad_plan_dir();
    let path = dir.path().join("bad.yaml");
    let path = path.to_str().unwrap();
    let out = switchback(&["validate", path]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout(&out),
        format!("{path}:2:50: error[E102]: unknown key `fil` (at changes[0].set_not_null.fil)\n  help: did you mean `fill`?\n{path}:3:27: warning[W500]: identifier `Users` has upper-case letters; switchback quotes identifiers, so this names \"Users\", not users (at changes[1].drop_column.table)\n  help: write names as PostgreSQL stores them: lower-case unless created quoted\n1 error, 1 warning in 1 plan file\n")
    );
    let github = switchback(&["validate", path, "--format", "github"]);
    assert_eq!(
        stdout(&github).lines().next().unwrap(),
        format!("::error file={path},line=2,col=50,title=E102 unknown key::unknown key `fil` (at changes[0].set_not_null.fil)%0Ahelp: did you mean `fill`?")
    );
    let plan = switchback(&["plan", path]);
    assert_eq!(plan.status.code(), Some(1));
    assert!(stdout(&plan).is_empty() && stderr(&plan).contains("error[E102]"));
}

#[test]
fn github_format_is_chosen_inside_github_actions() {
    let dir = bad_plan_dir();
    let out = Command::new(env!("CARGO_BIN_EXE_switchback"))
        .args(["validate", dir.path().to_str().unwrap()])
        .env("GITHUB_ACTIONS", "true")
        .output()
        .unwrap();
    assert!(stdout(&out).starts_with("::error file="));
}

#[test]
fn warnings_fail_only_when_denied() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("w.yaml"),
        "changes:\n  - drop_column: { table: Users, column: a }\n",
    )
    .unwrap();
    let path = dir.path().to_str().unwrap();
    assert_eq!(switchback(&["validate", path]).status.code(), Some(0));
    assert_eq!(
        switchback(&["validate", path, "--deny-warnings"])
            .status
            .code(),
        Some(1)
    );
}

#[test]
fn usage_and_io_errors_exit_2() {
    let missing = switchback(&["validate", "plans/does-not-exist.yaml"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).starts_with("switchback: failed to read plans/does-not-exist.yaml: "));
    let empty = tempfile::tempdir().unwrap();
    let no_plans = switchback(&["validate", empty.path().to_str().unwrap()]);
    assert_eq!(no_plans.status.code(), Some(2));
    assert!(stderr(&no_plans).contains("failed to find plan files in"));
    assert_eq!(
        switchback(&["plan", "plans/", "--format", "yaml"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(switchback(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(switchback(&["--help"]).status.code(), Some(0));
    assert!(Path::new(env!("CARGO_BIN_EXE_switchback")).exists());
}

/// One plan with an error, a warning and a lint rule, run from its own folder so the paths
/// in the output are stable, in all three formats.
fn validate_in_every_format() -> [String; 3] {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("plans")).unwrap();
    std::fs::write(
        dir.path().join("plans/001_users.yaml"),
        "changes:\n  - set_not_null: { table: users, column: email }\n  - sql: { up: \"CREATE INDEX users_name_idx ON users (name)\" }\n  - add_column: { table: users, column: { name: prefs, type: json } }\n",
    )
    .unwrap();
    ["text", "json", "github"].map(|format| {
        let out = Command::new(env!("CARGO_BIN_EXE_switchback"))
            .args(["validate", "plans", "--format", format])
            .current_dir(dir.path())
            .env_remove("GITHUB_ACTIONS")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{format}");
        stdout(&out)
    })
}

#[test]
fn validate_formats_snapshot() {
    let [text, json, github] = validate_in_every_format();
    insta::assert_snapshot!("validate_text", text);
    insta::assert_snapshot!("validate_json", json);
    insta::assert_snapshot!("validate_github", github);
}

#[test]
fn explain_documents_codes() {
    let out = switchback(&["validate", "--explain", "E600"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).starts_with("E600 (error): CREATE INDEX without CONCURRENTLY\n\n"));
    assert!(stdout(&out).contains("Instead: Use an `add_index` change"));
    let unknown = switchback(&["validate", "--explain", "E999"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(stderr(&unknown).contains("failed to explain `E999`: no such code"));
}

#[test]
fn demo_without_postgresql_says_how_to_get_it() {
    let out = Command::new(env!("CARGO_BIN_EXE_switchback"))
        .arg("demo")
        .env("SWITCHBACK_PG_BIN", "/nonexistent/postgresql/bin")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("failed to find PostgreSQL's initdb and pg_ctl in /nonexistent/postgresql/bin (SWITCHBACK_PG_BIN); install PostgreSQL's server (Debian and Ubuntu: `apt-get install postgresql`"),
        "{stderr}"
    );
}
