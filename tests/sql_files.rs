//! `switchback validate` on SQL migration files as each tool writes them (the fixtures in
//! `tests/fixtures/migrations`), in every output format. No database is needed.

use std::process::{Command, Output};

fn switchback(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_switchback"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("GITHUB_ACTIONS")
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

const FIXTURES: &str = "tests/fixtures/migrations";

#[test]
fn prisma_folder_findings_at_their_lines() {
    let out = switchback(&["validate", &format!("{FIXTURES}/prisma")]);
    assert_eq!(out.status.code(), Some(1));
    let f = format!("{FIXTURES}/prisma");
    assert_eq!(
        stdout(&out),
        format!(
            "{f}/20261120093000_init/migration.sql:2:1: warning[W617]: a 32-bit integer primary key runs out at 2,147,483,647 rows; use bigint (or bigserial, or a bigint identity)\n\
             {f}/20261121101500_full_name/migration.sql:9:1: error[E606]: DROP COLUMN at expand removes what the running application still reads; use a drop_column change, which runs at contract\n\
             {f}/20261121101500_full_name/migration.sql:9:1: error[E619]: ADD COLUMN NOT NULL without a default fails on a table with rows and breaks the running application's INSERTs; use add_column with `default:` or `backfill:`\n\
             {f}/20261121101500_full_name/migration.sql:9:1: warning[W626]: this statement waits for a lock that blocks writes, and no `SET lock_timeout` comes before it: while it waits, every query on the table queues behind it\n\
             {f}/20261121101500_full_name/migration.sql:13:1: error[E600]: CREATE INDEX without CONCURRENTLY blocks writes while it builds; use an add_index change\n\
             {f}/20261121101500_full_name/migration.sql:13:1: warning[W626]: this statement scans or rewrites the table under a lock that blocks writes, and no `SET statement_timeout` comes before it\n\
             3 errors, 3 warnings in 2 SQL files\n"
        )
    );
}

/// Which codes fire where, per tool: the tool's transaction decides E624/E625, a table created
/// in the same migration takes no lock findings, and an allow comment silences its statement.
#[test]
fn each_tools_layout_and_transaction() {
    let codes = |folder: &str| -> Vec<String> {
        let out = switchback(&[
            "validate",
            &format!("{FIXTURES}/{folder}"),
            "--format",
            "json",
        ]);
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        report["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                let file = d["file"].as_str().unwrap().rsplit('/').next().unwrap();
                format!("{file}:{}:{}", d["line"], d["code"].as_str().unwrap())
            })
            .collect()
    };
    assert_eq!(
        codes("drizzle"),
        [
            "0000_init.sql:1:W616",
            "0000_init.sql:1:W617",
            "0001_rename_email.sql:1:E605",
            "0001_rename_email.sql:1:W626",
            "0001_rename_email.sql:2:E619",
            "0001_rename_email.sql:3:E600",
            "0001_rename_email.sql:3:W626",
        ]
    );
    // golang-migrate sends the file as one query: CONCURRENTLY fails in it.
    assert_eq!(
        codes("golang-migrate"),
        [
            "000001_orders_status.up.sql:1:W626",
            "000001_orders_status.up.sql:3:E602",
            "000001_orders_status.up.sql:3:W626",
            "000001_orders_status.up.sql:4:E625",
        ]
    );
    // dbmate with transaction:false and both timeouts set: the type change, and the
    // CONCURRENTLY build, which dbmate still sends in one query with the other statements.
    assert_eq!(
        codes("dbmate"),
        [
            "20261122120000_orders_amount.sql:4:E603",
            "20261122120000_orders_amount.sql:5:E625"
        ]
    );
    // goose wraps the migration: its BEGIN nests; the allowed E603 stays silent.
    assert_eq!(
        codes("goose"),
        [
            "20261122130000_accounts.sql:3:E624",
            "20261122130000_accounts.sql:4:W626",
            "20261122130000_accounts.sql:6:W626",
        ]
    );
    assert_eq!(
        codes("sql-migrate"),
        [
            "20261122140000_audit.sql:4:E606",
            "20261122140000_audit.sql:4:W626",
        ]
    );
}

#[test]
fn plans_and_sql_files_together_and_github_annotations() {
    let out = switchback(&[
        "validate",
        "plans/",
        &format!("{FIXTURES}/dbmate/20261122120000_orders_amount.sql"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let plans = std::fs::read_dir(format!("{}/plans", env!("CARGO_MANIFEST_DIR")))
        .unwrap()
        .count();
    assert!(
        stdout(&out).ends_with(&format!(
            "2 errors, 0 warnings in {plans} plan files and 1 SQL file\n"
        )),
        "{}",
        stdout(&out)
    );
    let github = switchback(&[
        "validate",
        &format!("{FIXTURES}/dbmate"),
        "--format",
        "github",
    ]);
    assert_eq!(
        stdout(&github),
        format!("::error file={FIXTURES}/dbmate/20261122120000_orders_amount.sql,line=4,col=1,title=E603 ALTER COLUMN TYPE that may rewrite::ALTER COLUMN TYPE may rewrite the table under ACCESS EXCLUSIVE; use a change_type change\n::error file={FIXTURES}/dbmate/20261122120000_orders_amount.sql,line=5,col=1,title=E625 CONCURRENTLY inside a transaction::this statement cannot run inside a transaction block, and dbmate sends the file as one query, which PostgreSQL runs as one transaction\n")
    );
}

#[test]
fn bad_sql_and_bad_allows_are_findings_at_their_position() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("0001_x.sql");
    std::fs::write(
        &file,
        "SET lock_timeout = '1s';\n-- switchback:allow E600\nCREATE INDEX CONCURRENTLY i ON t (a);\nALTER TABLE t ADD COLUMN b int NOT NULL DEFAULT 0;\nALTR TABLE t DROP COLUMN c;\nSELECT 1;\n",
    )
    .unwrap();
    let out = switchback(&["validate", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let f = file.display();
    assert_eq!(
        stdout(&out),
        format!(
            "{f}:2:1: error[E307]: `switchback:allow` needs a reason after the codes, saying why the rule does not apply\n  \
             help: write `-- switchback:allow E600 <why the rule does not apply here>`\n\
             {f}:5:1: error[E204]: invalid SQL: syntax error at or near \"ALTR\"\n\
             2 errors, 0 warnings in 1 SQL file\n"
        )
    );
}

#[test]
fn a_drizzle_journal_naming_a_missing_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("meta")).unwrap();
    std::fs::write(
        dir.path().join("meta/_journal.json"),
        r#"{"version":"7","dialect":"postgresql","entries":[{"idx":0,"version":"7","when":1,"tag":"0000_gone","breakpoints":true}]}"#,
    )
    .unwrap();
    let out = switchback(&["validate", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        format!(
            "switchback: failed to read the migrations in {}: meta/_journal.json names 0000_gone.sql, which is missing\n",
            dir.path().display()
        )
    );
}

#[test]
fn import_check_reports_in_the_sql_files_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("plans");
    let drizzle = switchback(&[
        "import",
        &format!("{FIXTURES}/drizzle"),
        "--check",
        "--out",
        out.to_str().unwrap(),
    ]);
    // `age integer NOT NULL` has no value for the rows there are: no safe rewrite.
    assert_eq!(drizzle.status.code(), Some(1));
    assert!(stdout(&drizzle).contains(&format!("{FIXTURES}/drizzle/0001_rename_email.sql:2:1: error[E303]: column `age` is NOT NULL but has neither `default` nor `backfill`")), "{}", stdout(&drizzle));
    assert!(!out.exists(), "--check wrote plans");

    let prisma = switchback(&[
        "import",
        &format!("{FIXTURES}/prisma"),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(prisma.status.code(), Some(0), "{}", stdout(&prisma));
    assert!(stdout(&prisma).contains("warning[W800]: DROP COLUMN name and ADD COLUMN fullName on User (both text) look like a rename"));
    let written = std::fs::read_to_string(out.join("20261121101500_full_name.yaml")).unwrap();
    assert!(written.contains("depends_on: [20261120093000_init]"));
    assert!(written.contains(&format!(
        "  # from {FIXTURES}/prisma/20261121101500_full_name/migration.sql:9\n  # probable rename"
    )));
    // The written plans validate clean of errors.
    let validate = switchback(&["validate", out.to_str().unwrap()]);
    assert_eq!(validate.status.code(), Some(0), "{}", stdout(&validate));
}
