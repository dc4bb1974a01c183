//! Test harness: a real PostgreSQL for every test that touches a database. Uses
//! DATABASE_URL when set; otherwise one throwaway cluster per test binary, stopped when the
//! binary exits. Each test gets its own fresh database. `SWITCHBACK_TEST_SERVER=managed`
//! makes that cluster accept only TLS and gives switchback a least-privilege role over
//! `sslmode=verify-full`; `pooled` also puts PgBouncer in transaction mode in front, reached
//! with `sslmode=require` (see `servers`).
#![allow(dead_code)]

pub mod app;
pub mod findings;
pub mod kills;
pub mod runner;
pub mod servers;
pub mod tools;
pub mod writer;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use switchback::pg::cluster::TempCluster;
use tokio_postgres::Client;

/// Where the tests' databases live and how switchback reaches them.
#[derive(Debug, Clone)]
struct Server {
    /// A superuser's URL of the maintenance database.
    admin: String,
    /// How switchback and the application reach a database named `{db}`, and how the
    /// tests' own checks reach it directly (as the same role).
    url: String,
    direct: String,
    /// The administrator sets each new database up for a least-privilege role.
    least_privilege: bool,
}

static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();
static NEXT: AtomicUsize = AtomicUsize::new(0);

fn server() -> Server {
    SERVER
        .get_or_init(|| {
            let kind = std::env::var("SWITCHBACK_TEST_SERVER").unwrap_or_default();
            match (kind.as_str(), std::env::var("DATABASE_URL")) {
                ("", Ok(url)) if !url.is_empty() => Ok(Server {
                    admin: url.clone(),
                    url: with_database(&url, "{db}"),
                    direct: with_database(&url, "{db}"),
                    least_privilege: false,
                }),
                ("", _) => {
                    let cluster = TempCluster::start().map_err(|e| e.to_string())?;
                    let url = cluster.url("postgres");
                    cluster
                        .stop_when_process_exits()
                        .map_err(|e| e.to_string())?;
                    Ok(Server {
                        admin: url.clone(),
                        url: with_database(&url, "{db}"),
                        direct: with_database(&url, "{db}"),
                        least_privilege: false,
                    })
                }
                ("managed" | "pooled", _) => Ok(managed(kind == "pooled")),
                (other, _) => Err(format!(
                    "SWITCHBACK_TEST_SERVER={other}: expected managed or pooled"
                )),
            }
        })
        .clone()
        .unwrap_or_else(|e| panic!("no PostgreSQL for the tests: {e}"))
}

/// A TLS-only cluster with the least-privilege role, optionally behind PgBouncer; kept
/// running until the test binary exits.
fn managed(pooled: bool) -> Server {
    let certs = servers::Certs::make();
    let cluster = servers::tls_cluster(&certs, "", "server");
    let admin = servers::admin_url(&cluster, &certs, "postgres");
    std::thread::scope(|s| {
        s.spawn(|| {
            tokio::runtime::Runtime::new().unwrap().block_on(async {
                // Behind a transaction pooler a role-level statement_timeout makes switchback
                // refuse CONCURRENTLY steps (no session setting lasts to lift it): the
                // `reach` tests check that refusal; here the pooled role has none.
                let timeout = if pooled { "0" } else { "1s" };
                servers::create_role(&connect(&admin).await, timeout).await;
            })
        });
    });
    let root = certs.path("ca.crt").display().to_string();
    let role = format!("{}:{}", servers::ROLE, servers::PASSWORD);
    let direct = format!(
        "postgresql://{role}@127.0.0.1:{}/{{db}}?sslmode=verify-full&sslrootcert={root}",
        cluster.port()
    );
    let url = if pooled {
        let bouncer = servers::Bouncer::start(cluster.port(), &certs, cluster.runs_as_postgres());
        let port = bouncer.port;
        bouncer.stop_when_process_exits();
        format!("postgresql://{role}@127.0.0.1:{port}/{{db}}?sslmode=require")
    } else {
        direct.clone()
    };
    cluster.stop_when_process_exits().unwrap();
    let _ = certs.dir.keep();
    Server {
        admin,
        url,
        direct,
        least_privilege: true,
    }
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

/// A connection through switchback's own connection layer (TLS, libpq's parameters).
pub async fn connect(url: &str) -> Client {
    let info = switchback::pg::connect::resolve(Some(url)).unwrap();
    switchback::pg::connect::connect(&info, "switchback tests")
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"))
}

/// A fresh database for one test.
#[derive(Debug, Clone)]
pub struct TestDb {
    /// What switchback and the application use (through the pooler, if there is one).
    pub url: String,
    /// The same role, straight to the server: the tests' own checks and fixtures.
    pub direct: String,
}

impl TestDb {
    pub async fn new() -> TestDb {
        let server = server();
        let name = format!(
            "sb_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let admin = connect(&server.admin).await;
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .await
            .unwrap();
        if server.least_privilege {
            servers::grant(&connect(&with_database(&server.admin, &name)).await).await;
        }
        TestDb {
            url: server.url.replace("{db}", &name),
            direct: server.direct.replace("{db}", &name),
        }
    }

    /// The administrator's session in this database: what only a superuser may do, such as
    /// creating an extension that is not trusted.
    pub async fn admin(&self) -> Client {
        let base = self.direct.split('?').next().unwrap_or_default();
        let name = base.rsplit('/').next().unwrap_or_default();
        connect(&with_database(&server().admin, name)).await
    }

    /// A direct session for fixtures and checks. The role's statement_timeout is lifted here
    /// only, so a large fixture does not trip it; switchback's own sessions keep it.
    pub async fn client(&self) -> Client {
        let client = connect(&self.direct).await;
        client
            .batch_execute("SET statement_timeout = 0")
            .await
            .unwrap();
        client
    }
}

/// Waits until no live runner holds a plan's lease. After `kill -9` the dead runner's backend
/// lives on until PostgreSQL notices the closed connection (at once when idle, after its
/// current statement when busy); behind a pooler its lease must run out. A new runner
/// started before that rightly exits 3.
pub async fn wait_for_runner_to_go(db: &TestDb) {
    let client = db.client().await;
    let started = std::time::Instant::now();
    loop {
        let held: i64 = client
            .query_one(
                "SELECT CASE WHEN to_regclass('switchback.runners') IS NULL THEN 0 ELSE
                   (xpath('/row/c/text()', query_to_xml('SELECT count(*) AS c FROM switchback.runners r WHERE lease_until > now() AND (backend_pid IS NULL OR EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = r.backend_pid AND a.backend_start = r.backend_start))', false, true, '')))[1]::text::bigint END",
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

/// Whether a session's statement `LIKE` the pattern waits for a lock (another transaction's,
/// or the end of older ones for a CONCURRENTLY build).
pub async fn waits_for_lock(client: &Client, like: &str) -> bool {
    client
        .query_one(
            "SELECT EXISTS (SELECT FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1)",
            &[&like],
        )
        .await
        .unwrap()
        .get(0)
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
    command(db).args(args).output().unwrap()
}

/// The built binary pointed at this database. Runner leases are short, so a test that kills
/// a runner behind a pooler (where its lease is all that marks it) waits seconds, not 30.
pub fn command(db: &TestDb) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_switchback"));
    command
        .env("DATABASE_URL", &db.url)
        .env("NO_COLOR", "1")
        .env("SWITCHBACK_RUNNER_LEASE", "3s");
    command
}

/// What a command that must succeed said, stdout then stderr; its exit and both when not.
pub fn succeeded(out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\n{}{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    format!("{}{}", text(&out.stdout), text(&out.stderr))
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
        // NOT NULL is the column's `not_null`; PostgreSQL 18 also lists it as a named constraint.
        "SELECT format('constraint %s %s validated=%s', conname, pg_get_constraintdef(oid), convalidated) FROM pg_constraint WHERE conrelid = $1::text::regclass AND contype <> 'n' ORDER BY conname",
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
