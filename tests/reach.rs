//! The databases teams run: TLS-only servers with certificates made now (verify-full passes
//! with the right CA, fails with another and names the certificate), libpq's environment
//! and password file, client certificates, PgBouncer in transaction mode with other clients
//! on the pool, and a migration role that is no superuser (missing grants named before the
//! first statement, a role-level statement_timeout of 1s that long steps survive).

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use support::app::App;
use support::servers::{self, Bouncer, Certs};
use support::{catalog, connect, plan_file, text, TestDb};
use switchback::pg::cluster::TempCluster;
use tokio_postgres::Client;

const USERS: &str = "CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL, email text);
    INSERT INTO users SELECT g, 'user ' || g, CASE WHEN g % 10 = 0 THEN NULL ELSE 'u' || g || '@example.org' END FROM generate_series(1, 20000) g;";

const RENAME: &str = "changes:\n  - rename_column: { table: users, from: name, to: full_name }\n  - add_index: { table: users, name: users_email_idx, columns: [email] }\nbackfill: { batch_size: 2000 }\n";

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// The binary with only `env` to find its database (no DATABASE_URL).
fn run(env: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchback"));
    command
        .args(args)
        .env_remove("DATABASE_URL")
        .env("NO_COLOR", "1");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().unwrap()
}

fn url_env(url: &str) -> [(&str, &str); 2] {
    [("DATABASE_URL", url), ("SWITCHBACK_RUNNER_LEASE", "3s")]
}

/// A TLS-only cluster, a database `app` owned by the administrator with `users` in it, and
/// the URL pieces to reach it.
async fn tls_server(certs: &Certs, extra_hba: &str, cert: &str) -> TempCluster {
    let cluster = servers::tls_cluster(certs, extra_hba, cert);
    let admin = connect(
        &servers::admin_url(&cluster, certs, "postgres")
            .replace("sslmode=verify-full", "sslmode=require"),
    )
    .await;
    admin.batch_execute("CREATE DATABASE app").await.unwrap();
    cluster
}

fn verify_full(cluster: &TempCluster, user: &str, root: &std::path::Path) -> String {
    format!(
        "postgresql://{user}@127.0.0.1:{}/app?sslmode=verify-full&sslrootcert={}",
        cluster.port(),
        root.display()
    )
}

async fn relations(client: &Client) -> Vec<String> {
    client
        .query("SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') ORDER BY 1", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_passes_with_the_right_ca_and_names_the_certificate_it_refuses() {
    let certs = Certs::make();
    let cluster = tls_server(&certs, "", "server").await;
    let good = verify_full(&cluster, "postgres", &certs.path("ca.crt"));
    let admin = connect(&good).await;
    admin.batch_execute(USERS).await.unwrap();
    let tls: bool = admin
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(tls, "verify-full connected over TLS");
    let before = (relations(&admin).await, catalog(&admin, "users").await);
    let (_dir, plan) = plan_file("20261123_tls", RENAME);

    let other = verify_full(&cluster, "postgres", &certs.path("other.crt"));
    let out = run(&url_env(&other), &["advance", &plan, "--progress", "plain"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("the server's certificate (CN=localhost, issued by CN=switchback test CA) did not verify: it is not signed by a certificate authority in sslrootcert")
            && stderr.contains("other.crt"),
        "{stderr}"
    );
    let missing = verify_full(&cluster, "postgres", &certs.path("nowhere.crt"));
    let out = run(&url_env(&missing), &["advance", &plan]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("sslrootcert file \"")
            && text(&out.stderr).contains("nowhere.crt\" does not exist"),
        "{}",
        text(&out.stderr)
    );
    let plain = good.replace("sslmode=verify-full", "sslmode=disable");
    let out = run(&url_env(&plain), &["advance", &plan]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("the server accepts only TLS connections: use sslmode=require or stronger (it was disable)"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        (relations(&admin).await, catalog(&admin, "users").await),
        before,
        "nothing changed before the certificate was accepted"
    );

    let out = run(&url_env(&good), &["advance", &plan, "--progress", "plain"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // require encrypts without verifying; prefer (the default) uses TLS when offered; allow
    // tries without TLS first and uses it when pg_hba.conf turns that down.
    for mode in ["require", "prefer", "allow"] {
        let url = format!(
            "postgresql://postgres@127.0.0.1:{}/app?sslmode={mode}",
            cluster.port()
        );
        let out = run(&url_env(&url), &["advance", &plan, "--progress", "plain"]);
        assert_eq!(out.status.code(), Some(0), "{mode}: {}", text(&out.stderr));
    }
    let stage: String = admin
        .query_one("SELECT stage FROM switchback.plans", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(stage, "completed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_checks_the_host_name_and_verify_ca_does_not() {
    let certs = Certs::make();
    let cluster = tls_server(&certs, "", "elsewhere").await;
    let full = verify_full(&cluster, "postgres", &certs.path("ca.crt"));
    let out = run(&url_env(&full), &["status"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("(CN=db.example.com, issued by CN=switchback test CA) did not verify: it is not valid for host 127.0.0.1 (it names DNS:db.example.com)"),
        "{}",
        text(&out.stderr)
    );
    let ca = full.replace("verify-full", "verify-ca");
    let out = run(&url_env(&ca), &["status"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sslrootcert_system_uses_the_system_roots() {
    let certs = Certs::make();
    let cluster = tls_server(&certs, "", "server").await;
    let url = format!(
        "postgresql://postgres@127.0.0.1:{}/app?sslrootcert=system",
        cluster.port()
    );
    // The system roots come from SSL_CERT_FILE when it is set, as OpenSSL reads them.
    for (roots, code) in [("ca.crt", 0), ("other.crt", 2)] {
        let file = certs.path(roots).display().to_string();
        let out = run(
            &[
                ("DATABASE_URL", url.as_str()),
                ("SSL_CERT_FILE", file.as_str()),
            ],
            &["status"],
        );
        assert_eq!(
            out.status.code(),
            Some(code),
            "{roots}: {}",
            text(&out.stderr)
        );
        if code == 2 {
            assert!(
                text(&out.stderr).contains("not signed by a certificate authority in the system's trusted roots (sslrootcert=system)"),
                "{}",
                text(&out.stderr)
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_logs_in() {
    let certs = Certs::make();
    let cluster = tls_server(&certs, "hostssl all certuser 127.0.0.1/32 cert\n", "server").await;
    let admin = connect(&verify_full(&cluster, "postgres", &certs.path("ca.crt"))).await;
    admin
        .batch_execute("CREATE ROLE certuser LOGIN")
        .await
        .unwrap();
    let base = verify_full(&cluster, "certuser", &certs.path("ca.crt"));
    let out = run(&url_env(&base), &["status"]);
    assert_eq!(out.status.code(), Some(2), "no certificate, no entry");
    assert!(
        text(&out.stderr).contains("certificate"),
        "{}",
        text(&out.stderr)
    );
    let with_cert = format!(
        "{base}&sslcert={}&sslkey={}",
        certs.path("client.crt").display(),
        certs.path("client.key").display()
    );
    let out = run(&url_env(&with_cert), &["status"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pg_environment_and_the_password_file_are_enough() {
    let certs = Certs::make();
    let cluster = tls_server(&certs, "", "server").await;
    let admin_app = connect(&verify_full(&cluster, "postgres", &certs.path("ca.crt"))).await;
    servers::create_role(&admin_app, "0").await;
    servers::grant(&admin_app).await;
    let owner = connect(&format!(
        "{}&password={}",
        verify_full(&cluster, servers::ROLE, &certs.path("ca.crt")),
        servers::PASSWORD
    ))
    .await;
    owner.batch_execute(USERS).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let passfile = dir.path().join("pgpass");
    let write_passfile = |password: &str, mode: u32| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(
            &passfile,
            format!("# test\n127.0.0.1:*:app:{}:{password}\n", servers::ROLE),
        )
        .unwrap();
        std::fs::set_permissions(&passfile, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    let port = cluster.port().to_string();
    let root = certs.path("ca.crt").display().to_string();
    let passfile_text = passfile.display().to_string();
    let env = [
        ("PGHOST", "127.0.0.1"),
        ("PGPORT", port.as_str()),
        ("PGUSER", servers::ROLE),
        ("PGDATABASE", "app"),
        ("PGSSLMODE", "verify-full"),
        ("PGSSLROOTCERT", root.as_str()),
        ("PGPASSFILE", passfile_text.as_str()),
        ("PGAPPNAME", "deploy-bot"),
        ("SWITCHBACK_RUNNER_LEASE", "3s"),
    ];
    let (_plans, plan) = plan_file(
        "20261123_env",
        "changes:\n  - set_not_null: { table: users, column: email, fill: \"'none'\" }\nbackfill: { batch_size: 500, max_rows_per_second: 20000 }\n",
    );

    write_passfile("wrong-password", 0o600);
    let out = run(&env, &["advance", &plan]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("password authentication failed")
            && stderr.contains(&format!(
                "the password came from the password file {passfile_text}"
            ))
            && !stderr.contains("wrong-password"),
        "{stderr}"
    );
    write_passfile(servers::PASSWORD, 0o644);
    let out = run(&env, &["advance", &plan]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("has group or world access; permissions should be u=rw (0600) or less")
            && !stderr.contains(servers::PASSWORD),
        "{stderr}"
    );

    write_passfile(servers::PASSWORD, 0o600);
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchback"))
        .args(["advance", &plan, "--progress", "json"])
        .env_remove("DATABASE_URL")
        .envs(env)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        if line.unwrap().contains("\"event\":\"batch\"") {
            break;
        }
    }
    let sessions: Vec<(String, String)> = owner
        .query("SELECT usename::text, application_name FROM pg_stat_activity WHERE application_name = 'deploy-bot'", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert!(!sessions.is_empty(), "PGAPPNAME names the sessions");
    assert!(sessions.iter().all(|(user, _)| user == servers::ROLE));
    let mut all = String::new();
    for line in lines {
        all.push_str(&line.unwrap());
    }
    assert!(child.wait().unwrap().success(), "{all}");
    let history = text(&run(&env, &["history", "--format", "json"]).stdout);
    assert!(
        history.contains(&format!(" as {} (switchback advance)", servers::ROLE)),
        "{history}"
    );
    assert!(!history.contains(servers::PASSWORD));
}

/// A TLS cluster with the migration role (statement_timeout as given) and PgBouncer in
/// transaction mode in front; `app` has `users` owned by the role.
async fn pooled(certs: &Certs, timeout: &str) -> (TempCluster, Bouncer, TestDb) {
    let cluster = tls_server(certs, "", "server").await;
    let admin_app = connect(&verify_full(&cluster, "postgres", &certs.path("ca.crt"))).await;
    servers::create_role(
        &connect(&servers::admin_url(&cluster, certs, "postgres")).await,
        timeout,
    )
    .await;
    servers::grant(&admin_app).await;
    let bouncer = Bouncer::start(cluster.port(), certs, cluster.runs_as_postgres());
    let role = format!("{}:{}", servers::ROLE, servers::PASSWORD);
    let db = TestDb {
        url: format!(
            "postgresql://{role}@127.0.0.1:{}/app?sslmode=require",
            bouncer.port
        ),
        direct: format!(
            "{}&password={}",
            verify_full(&cluster, servers::ROLE, &certs.path("ca.crt")),
            servers::PASSWORD
        ),
    };
    db.client().await.batch_execute(USERS).await.unwrap();
    (cluster, bouncer, db)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn through_pgbouncer_in_transaction_mode_with_other_clients_on_the_pool() {
    let certs = Certs::make();
    let (_cluster, bouncer, db) = pooled(&certs, "0").await;
    // Other clients share the pool's four server sessions throughout.
    let app = App::start(
        &db.url,
        20_000,
        &[
            "UPDATE users SET name = 'renamed {n}' WHERE id = {id}",
            "SELECT name, email FROM users WHERE id = {id}",
            "INSERT INTO users (id, name) VALUES (100000 + {n}, 'new {n}') ON CONFLICT DO NOTHING",
        ],
        &["SELECT full_name FROM users WHERE id = {id}"],
        6,
    )
    .await;
    app.run_for(200).await;

    let validate = support::switchback(
        &db,
        &[
            "validate",
            "--database-url",
            &db.url,
            "--format",
            "json",
            &plan_file("20261123_pool", RENAME).1,
        ],
    );
    assert_eq!(
        validate.status.code(),
        Some(0),
        "{}",
        text(&validate.stdout)
    );
    assert!(
        text(&validate.stdout).contains("N713"),
        "{}",
        text(&validate.stdout)
    );
    // The index copy runs CONCURRENTLY, where no session SET reaches through the pool.
    assert!(
        text(&validate.stdout).contains("get the role's max_parallel_maintenance_workers (2) instead of the plan's index_workers (0)"),
        "{}",
        text(&validate.stdout)
    );

    let (_dir, plan) = plan_file(
        "20261123_pool",
        &RENAME.replace(
            "batch_size: 2000",
            "batch_size: 500, max_rows_per_second: 20000",
        ),
    );
    let first = support::runner::Runner::start(&db, &plan, &[]);
    first.wait_for("batch", 1);
    let second = support::switchback(&db, &["advance", &plan, "--progress", "plain"]);
    assert_eq!(second.status.code(), Some(3), "{}", text(&second.stderr));
    assert!(
        text(&second.stderr).contains("another switchback ("),
        "{}",
        text(&second.stderr)
    );
    first.wait_for("gate", 1);
    first.finish();
    app.set_phase(support::writer::NEW);
    app.run_for(200).await;
    let contract = support::switchback(&db, &["advance", &plan, "--progress", "plain"]);
    assert_eq!(
        contract.status.code(),
        Some(0),
        "{}",
        text(&contract.stderr)
    );
    let report = app.stop().await;
    assert!(
        report.errors.is_empty(),
        "{:?}",
        &report.errors[..report.errors.len().min(5)]
    );

    let client = db.client().await;
    let columns: Vec<String> = catalog(&client, "users").await;
    assert!(
        columns
            .iter()
            .any(|c| c.starts_with("column full_name text not_null=t")),
        "{columns:?}"
    );
    assert!(
        columns
            .iter()
            .any(|c| c.contains("users_email_idx") && c.ends_with("valid=t")),
        "{columns:?}"
    );

    // Nothing switchback set leaked into the pool: every server session (four concurrent
    // transactions take all four) still has the defaults.
    let mut sessions = Vec::new();
    for _ in 0..4 {
        let c = connect(&db.url).await;
        c.batch_execute("BEGIN").await.unwrap();
        sessions.push(c);
    }
    for c in &sessions {
        let messages = c
            .simple_query("SELECT current_setting('lock_timeout') || ' ' || current_setting('statement_timeout') || ' ' || coalesce(current_setting('switchback.backfill', true), '') || ' ' || current_setting('default_transaction_read_only')")
            .await
            .unwrap();
        let value = messages
            .iter()
            .find_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_owned),
                _ => None,
            })
            .unwrap();
        assert_eq!(value, "0 0  off", "a server session kept a setting");
    }
    assert!(
        !bouncer.log().contains("prepared statement"),
        "{}",
        bouncer.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_pooler_a_role_timeout_is_refused_before_anything_changes() {
    let certs = Certs::make();
    let (_cluster, _bouncer, db) = pooled(&certs, "1s").await;
    let client = db.client().await;
    let before = (relations(&client).await, catalog(&client, "users").await);
    let (_dir, plan) = plan_file("20261123_timeout", RENAME);
    let out = support::switchback(&db, &["validate", "--database-url", &db.url, &plan]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("error[E708]")
            && text(&out.stdout).contains("role's statement_timeout (1s) would cancel it"),
        "{}",
        text(&out.stdout)
    );
    let out = support::switchback(&db, &["advance", &plan, "--progress", "plain"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("`CREATE INDEX CONCURRENTLY \"users_email_idx\"")
            && stderr.contains("a pooler or proxy is in between (connections to 127.0.0.1:")
            && stderr.contains("Connect directly or through a session-mode pool"),
        "{stderr}"
    );
    let after = (relations(&client).await, catalog(&client, "users").await);
    assert_eq!(after.1, before.1, "the table was not touched");
    assert!(
        after
            .0
            .iter()
            .all(|r| before.0.contains(r) || r.starts_with("switchback.")),
        "only switchback's own ledger appeared: {:?}",
        after.0
    );
}

/// A login role on the tests' own cluster, owning nothing yet.
async fn plain_role(admin: &Client, settings: &str) -> String {
    let role = format!(
        "lp_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    );
    admin
        .batch_execute(&format!(
            "CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB; {}",
            settings.replace("{role}", &role)
        ))
        .await
        .unwrap();
    role
}

fn as_role(db: &TestDb, role: &str) -> TestDb {
    let url = db.url.replacen("postgres@", &format!("{role}@"), 1);
    TestDb {
        url: url.clone(),
        direct: url,
    }
}

/// A plain cluster of the test's own (trust on 127.0.0.1), whatever the harness's server
/// is, since these tests make roles of their own: the superuser's database `postgres`.
fn own_cluster() -> (TempCluster, TestDb) {
    let cluster = TempCluster::start().unwrap();
    let url = cluster.url("postgres");
    let db = TestDb {
        url: url.clone(),
        direct: url,
    };
    (cluster, db)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_grants_are_named_before_the_first_statement() {
    let (_cluster, db) = own_cluster();
    let admin = db.client().await;
    // As PostgreSQL 15 and later (and managed services) have it on every major.
    admin
        .batch_execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        .await
        .unwrap();
    admin.batch_execute(USERS).await.unwrap();
    let role = plain_role(&admin, "").await;
    let user = as_role(&db, &role);
    let (_dir, plan) = plan_file("20261123_grants", RENAME);
    let before = (relations(&admin).await, catalog(&admin, "users").await);

    let out = support::switchback(&user, &["validate", "--database-url", &user.url, &plan]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains(&format!(
            "error[E707]: role {role} may not create the ledger schema switchback"
        )) && stdout.contains(&format!(
            "error[E707]: role {role} does not own \"public\".\"users\" (its owner is postgres)"
        )),
        "{stdout}{}",
        text(&out.stderr)
    );
    admin
        .batch_execute(&format!(
            "CREATE SCHEMA switchback; GRANT USAGE, CREATE ON SCHEMA switchback TO {role}"
        ))
        .await
        .unwrap();
    let out = support::switchback(&user, &["advance", &plan, "--progress", "plain"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("role {role} does not own \"public\".\"users\" (its owner is postgres), and only the owner may alter it")),
        "{stderr}"
    );
    let after = (relations(&admin).await, catalog(&admin, "users").await);
    assert_eq!(after.1, before.1, "the table was not touched");

    admin
        .batch_execute(&format!("ALTER TABLE users OWNER TO {role}"))
        .await
        .unwrap();
    // An index is a new relation in the table's schema: PostgreSQL asks for CREATE there.
    let out = support::switchback(&user, &["advance", &plan, "--progress", "plain"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains(&format!("role {role} may not create tables, views or indexes in schema public (the plan creates one for \"public\".\"users\"); GRANT CREATE ON SCHEMA public TO {role}")),
        "{}",
        text(&out.stderr)
    );
    admin
        .batch_execute(&format!("GRANT CREATE ON SCHEMA public TO {role}"))
        .await
        .unwrap();
    let out = support::switchback(&user, &["advance", &plan, "--progress", "plain"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = support::switchback(&user, &["advance", &plan, "--progress", "plain"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

/// Contract keeps what it drops in the archive schema: a role that may neither use it nor
/// create it is told so before the plan's first stage, and nothing changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_archive_schema_is_named_before_the_first_statement() {
    let (_cluster, db) = own_cluster();
    let admin = db.client().await;
    admin.batch_execute(USERS).await.unwrap();
    let role = plain_role(
        &admin,
        "ALTER TABLE users OWNER TO {role}; CREATE SCHEMA switchback AUTHORIZATION {role};",
    )
    .await;
    let user = as_role(&db, &role);
    let (_dir, plan) = plan_file(
        "20261123_archive_grant",
        "changes:\n  - drop_column: { table: users, column: email }\n",
    );
    let before = catalog(&admin, "users").await;
    let out = support::switchback(&user, &["validate", "--database-url", &user.url, &plan]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let missing = format!(
        "role {role} may not create the archive schema switchback_archive in database postgres"
    );
    assert!(
        text(&out.stdout).contains(&missing),
        "{}",
        text(&out.stdout)
    );
    let out = support::switchback(&user, &["advance", &plan, "--progress", "plain"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(&missing),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(catalog(&admin, "users").await, before);
    admin
        .batch_execute(&format!(
            "CREATE SCHEMA switchback_archive; GRANT USAGE, CREATE ON SCHEMA switchback_archive TO {role}"
        ))
        .await
        .unwrap();
    for _ in 0..2 {
        let out = support::switchback(&user, &["advance", &plan, "--progress", "plain"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    let kept: i64 = admin
        .query_one(
            "SELECT count(*) FROM switchback_archive.users_email_20261123_archive_grant",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(kept > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_second_statement_timeout_does_not_cancel_long_steps() {
    let (_cluster, db) = own_cluster();
    let admin = db.client().await;
    // Each call takes a millisecond, so every full pass over 3,000 rows takes seconds.
    admin
        .batch_execute(
            "CREATE FUNCTION slow_true(bigint) RETURNS boolean IMMUTABLE LANGUAGE plpgsql AS 'BEGIN PERFORM pg_sleep(0.001); RETURN true; END';
             CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL, email text);
             INSERT INTO users SELECT g, 'user ' || g, NULL FROM generate_series(1, 3000) g;",
        )
        .await
        .unwrap();
    let role = plain_role(
        &admin,
        "ALTER ROLE {role} SET statement_timeout = '1s'; ALTER ROLE {role} SET idle_in_transaction_session_timeout = '1s'; ALTER TABLE users OWNER TO {role}; GRANT CREATE ON DATABASE postgres TO {role}; GRANT CREATE ON SCHEMA public TO {role};",
    )
    .await;
    let user = as_role(&db, &role);
    let (_dir, plan) = plan_file(
        "20261123_slow",
        "changes:\n  - add_index: { table: users, name: users_slow_idx, columns: [name], where: \"slow_true(id)\" }\n  - add_check: { table: users, name: users_slow_check, check: \"slow_true(id)\" }\n  - set_not_null: { table: users, column: email, fill: \"'none'\" }\n",
    );
    for stage in ["expand", "contract"] {
        let out = support::switchback(&user, &["advance", &plan, "--progress", "plain"]);
        assert_eq!(out.status.code(), Some(0), "{stage}: {}", text(&out.stderr));
    }
    let valid: (bool, bool) = {
        let row = admin
            .query_one(
                "SELECT (SELECT indisvalid FROM pg_index WHERE indexrelid = 'users_slow_idx'::regclass),
                        (SELECT convalidated FROM pg_constraint WHERE conname = 'users_slow_check')",
                &[],
            )
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!(valid, (true, true));
    let took: f64 = admin
        .query_one(
            "SELECT extract(epoch FROM max(finished_at - started_at))::float8 FROM switchback.steps WHERE name LIKE '%index%' OR name LIKE '%check%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        took > 1.0,
        "a step ran longer than the role's timeout ({took:.1}s)"
    );
}

/// A role that may not set session_replication_role cannot keep the table's own triggers
/// out of the backfill: `validate` warns before anything runs and `advance` says so as the
/// backfill starts (the triggers then fire on every row it writes); granted `SET` on it
/// (PostgreSQL 15 and later), the role's batches leave them out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_that_may_not_leave_triggers_out_is_warned_first() {
    let (_cluster, db) = own_cluster();
    let admin = db.client().await;
    admin
        .batch_execute(&format!(
            "{USERS}
             ALTER TABLE users ADD COLUMN version int NOT NULL DEFAULT 1;
             CREATE FUNCTION bump() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN NEW.version := OLD.version + 1; RETURN NEW; END';
             CREATE TRIGGER bump BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION bump();"
        ))
        .await
        .unwrap();
    let role = plain_role(
        &admin,
        "ALTER TABLE users OWNER TO {role}; ALTER FUNCTION bump() OWNER TO {role}; CREATE SCHEMA switchback AUTHORIZATION {role};",
    )
    .await;
    let user = as_role(&db, &role);
    let (_dir, plan) = plan_file(
        "20261124_bumped",
        "changes:\n  - set_not_null: { table: users, column: email, fill: \"'none'\" }\n",
    );
    let validate =
        |plan: &str| support::switchback(&user, &["validate", "--database-url", &user.url, plan]);
    let out = validate(&plan);
    assert!(
        text(&out.stdout).contains("warning[W719]: the backfill's batches fire `users`'s bump on every row they write: the role may not set session_replication_role"),
        "{}",
        text(&out.stdout)
    );
    let out = support::switchback(&user, &["advance", &plan, "--progress", "plain"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("users.backfill: warning: the batches fire bump on every row they write: the role may not set session_replication_role"),
        "{}",
        text(&out.stderr)
    );
    let bumped: i64 = admin
        .query_one("SELECT count(*) FROM users WHERE version > 1", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(bumped, 2000, "the fill's 2,000 rows each fired the trigger");

    let version: i32 = admin
        .query_one("SELECT current_setting('server_version_num')::int", &[])
        .await
        .unwrap()
        .get(0);
    if version >= 150000 {
        admin
            .batch_execute(&format!(
                "GRANT SET ON PARAMETER session_replication_role TO {role}"
            ))
            .await
            .unwrap();
        // A plan the ledger has not seen yet: a started one skips the catalog checks.
        let (_dir, next) = plan_file(
            "20261124_bumped_next",
            "changes:\n  - add_column: { table: users, column: { name: nick, type: text }, backfill: name }\n",
        );
        let out = validate(&next);
        assert!(
            text(&out.stdout)
                .contains("note[N718]: the backfill's batches leave out `users`'s bump"),
            "{}",
            text(&out.stdout)
        );
    }
}
