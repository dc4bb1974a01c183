//! Test harness: a real PostgreSQL for every test that touches a database. Uses
//! DATABASE_URL when set; otherwise one throwaway cluster per test binary, stopped when the
//! binary exits. Each test gets its own fresh database.
#![allow(dead_code)]

pub mod app;
pub mod findings;
pub mod runner;
pub mod writer;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use switchback::pg::cluster::TempCluster;
use tokio_postgres::{Client, NoTls};

static SERVER: OnceLock<Result<String, String>> = OnceLock::new();
static NEXT: AtomicUsize = AtomicUsize::new(0);

/// The URL of the server's maintenance database.
fn server() -> String {
    SERVER
        .get_or_init(|| match std::env::var("DATABASE_URL") {
            Ok(url) if !url.is_empty() => Ok(url),
            _ => {
                let cluster = TempCluster::start().map_err(|e| e.to_string())?;
                let url = cluster.url("postgres");
                cluster
                    .stop_when_process_exits()
                    .map_err(|e| e.to_string())?;
                Ok(url)
            }
        })
        .clone()
        .unwrap_or_else(|e| panic!("no PostgreSQL for the tests: {e}"))
}

/// `url` pointing at `database` instead.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let (server, _) = base
        .rsplit_once('/')
        .filter(|(s, _)| s.contains("://") && !s.ends_with('/'))
        .unwrap_or((base, ""));
    match query {
        Some(q) => format!("{server}/{database}?{q}"),
        None => format!("{server}/{database}"),
    }
}

pub async fn connect(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    tokio::spawn(connection);
    client
}

/// A fresh database for one test.
pub struct TestDb {
    pub url: String,
}

impl TestDb {
    pub async fn new() -> TestDb {
        let server = server();
        let name = format!(
            "sb_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let admin = connect(&server).await;
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .await
            .unwrap();
        TestDb {
            url: with_database(&server, &name),
        }
    }

    pub async fn client(&self) -> Client {
        connect(&self.url).await
    }
}

/// Waits until no live session holds a plan's runner lease. After `kill -9` the dead runner's
/// backend lives on until PostgreSQL notices the closed connection (at once when idle, after
/// its current statement when busy); a new runner started before that rightly exits 3.
pub async fn wait_for_runner_to_go(db: &TestDb) {
    let client = db.client().await;
    let started = std::time::Instant::now();
    loop {
        let held: i64 = client
            .query_one(
                "SELECT CASE WHEN to_regclass('switchback.runners') IS NULL THEN 0 ELSE
                   (xpath('/row/c/text()', query_to_xml('SELECT count(*) AS c FROM switchback.runners r JOIN pg_stat_activity a ON a.pid = r.backend_pid AND a.backend_start = r.backend_start', false, true, '')))[1]::text::bigint END",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if held == 0 {
            return;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "the killed runner's session never went away"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Rows of `users` whose email is still NULL.
pub async fn null_emails(db: &TestDb) -> i64 {
    db.client()
        .await
        .query_one("SELECT count(*) FROM users WHERE email IS NULL", &[])
        .await
        .unwrap()
        .get(0)
}

/// Runs the built binary with `args`, DATABASE_URL set to this database.
pub fn switchback(db: &TestDb, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_switchback"))
        .args(args)
        .env("DATABASE_URL", &db.url)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Writes a plan file into a fresh folder and returns (folder, path).
pub fn plan_file(id: &str, yaml: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{id}.yaml"));
    std::fs::write(&path, yaml).unwrap();
    let path = path.display().to_string();
    (dir, path)
}

/// A description of a table that must match between runs: columns (type, NOT NULL, default),
/// constraints (definition, validated), indexes (definition, valid) and triggers.
pub async fn catalog(client: &Client, table: &str) -> Vec<String> {
    let queries = [
        "SELECT format('column %s %s not_null=%s default=%s', attname, format_type(atttypid, atttypmod), attnotnull, pg_get_expr(adbin, adrelid))
           FROM pg_attribute LEFT JOIN pg_attrdef ON adrelid = attrelid AND adnum = attnum
          WHERE attrelid = $1::text::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attname",
        "SELECT format('constraint %s %s validated=%s', conname, pg_get_constraintdef(oid), convalidated) FROM pg_constraint WHERE conrelid = $1::text::regclass ORDER BY conname",
        "SELECT format('index %s valid=%s', pg_get_indexdef(indexrelid), indisvalid) FROM pg_index WHERE indrelid = $1::text::regclass ORDER BY 1",
        "SELECT format('trigger %s', tgname) FROM pg_trigger WHERE tgrelid = $1::text::regclass AND NOT tgisinternal ORDER BY tgname",
    ];
    let mut out = Vec::new();
    for q in queries {
        for row in client.query(q, &[&table]).await.unwrap() {
            out.push(row.get(0));
        }
    }
    out
}

/// An md5 over the table's rows in key order, columns as listed.
pub async fn data_digest(client: &Client, table: &str, columns: &str) -> String {
    client
        .query_one(&format!("SELECT md5(coalesce(string_agg(row({columns})::text, '|' ORDER BY id), '')) FROM {table}"), &[])
        .await
        .unwrap()
        .get(0)
}
