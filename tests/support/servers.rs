//! Servers set up the way managed PostgreSQL is: TLS only (`hostssl` lines in pg_hba.conf,
//! certificates made now with openssl), a migration role that is no superuser, and
//! optionally PgBouncer in transaction mode in front. `SWITCHBACK_TEST_SERVER` picks one
//! for a whole test binary (`managed`: verify-full, direct; `pooled`: sslmode=require
//! through PgBouncer); tests of these pieces build their own.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use switchback::pg::cluster::TempCluster;

pub const ROLE: &str = "migrator";
/// Debian's package installs it outside a normal user's PATH.
const PGBOUNCER: &str = "/usr/sbin/pgbouncer";

/// PgBouncer, installed from Debian's package first when it is missing and the tests run as
/// root (as `.ci/run` would), so `cargo test` on a fresh machine needs no step before it.
fn pgbouncer() -> &'static str {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        if std::path::Path::new(PGBOUNCER).is_file() {
            return;
        }
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
        assert!(
            root,
            "PgBouncer is not installed: install Debian's `pgbouncer` package (apt-get install pgbouncer)"
        );
        eprintln!("installing Debian's pgbouncer package for the pooler tests");
        let installed = Command::new("sh")
            .args(["-c", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends pgbouncer >/dev/null"])
            .status()
            .is_ok_and(|s| s.success());
        assert!(installed, "failed to install pgbouncer with apt-get");
    });
    PGBOUNCER
}
pub const PASSWORD: &str = "migrator-pw";

/// A certificate authority; server certificates it signed for 127.0.0.1 and localhost
/// (`server`) and for another host only (`elsewhere`); a client certificate for the role
/// `certuser`; and a second authority that signed nothing the server shows.
pub struct Certs {
    pub dir: tempfile::TempDir,
}

impl Certs {
    pub fn make() -> Certs {
        let dir = tempfile::Builder::new()
            .prefix("switchback-certs-")
            .tempdir()
            .unwrap();
        let d = dir.path().display().to_string();
        let script = format!(
            r#"set -e
cd '{d}'
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj '/CN=switchback test CA' -keyout ca.key -out ca.crt 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj '/CN=some other CA' -keyout other.key -out other.crt 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj '/CN=localhost' -keyout server.key -out server.csr 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > server.ext
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile server.ext -out server.crt 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj '/CN=db.example.com' -keyout elsewhere.key -out elsewhere.csr 2>/dev/null
printf 'subjectAltName=DNS:db.example.com\n' > elsewhere.ext
openssl x509 -req -in elsewhere.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile elsewhere.ext -out elsewhere.crt 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj '/CN=certuser' -keyout client.key -out client.csr 2>/dev/null
printf 'extendedKeyUsage=clientAuth\n' > client.ext
openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile client.ext -out client.crt 2>/dev/null
chmod 600 server.key elsewhere.key client.key
"#
        );
        let out = Command::new("sh").args(["-c", &script]).output().unwrap();
        assert!(
            out.status.success(),
            "openssl: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Certs { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// A cluster that accepts only TLS: `postgres` is trusted (the tests' administrator), every
/// other role gives a password unless `extra_hba` (lines put first) says otherwise. It shows
/// the certificate `cert` (`server` or `elsewhere`).
pub fn tls_cluster(certs: &Certs, extra_hba: &str, cert: &str) -> TempCluster {
    let mut cluster = TempCluster::create().unwrap();
    let data = cluster.data_path();
    for (from, to) in [
        (format!("{cert}.crt"), "server.crt"),
        (format!("{cert}.key"), "server.key"),
        ("ca.crt".to_owned(), "ca.crt"),
    ] {
        std::fs::copy(certs.path(&from), data.join(to)).unwrap();
    }
    std::fs::write(
        data.join("pg_hba.conf"),
        format!(
            "{extra_hba}hostssl all postgres 127.0.0.1/32 trust\nhostssl all all 127.0.0.1/32 scram-sha-256\nhostssl replication postgres 127.0.0.1/32 trust\n"
        ),
    )
    .unwrap();
    cluster.give_to_server(&data).unwrap();
    cluster
        .launch(&[
            "ssl=on",
            "ssl_cert_file=server.crt",
            "ssl_key_file=server.key",
            "ssl_ca_file=ca.crt",
        ])
        .unwrap();
    cluster
}

/// The administrator's URL of a TLS cluster.
pub fn admin_url(cluster: &TempCluster, certs: &Certs, database: &str) -> String {
    format!(
        "postgresql://postgres@127.0.0.1:{}/{database}?sslmode=verify-full&sslrootcert={}",
        cluster.port(),
        certs.path("ca.crt").display()
    )
}

/// Creates the migration role: no superuser, no CREATEDB, and the statement_timeout a
/// managed service may set on it (`0` for none).
pub async fn create_role(admin: &tokio_postgres::Client, statement_timeout: &str) {
    admin
        .batch_execute(&format!(
            "CREATE ROLE {ROLE} LOGIN PASSWORD '{PASSWORD}' NOSUPERUSER NOCREATEDB NOCREATEROLE;
             ALTER ROLE {ROLE} SET statement_timeout = '{statement_timeout}';"
        ))
        .await
        .unwrap();
}

/// What an administrator does for a new database the migration role works in: the database
/// and its `public` schema belong to someone else; the role may create in `public` and
/// gets a `switchback` schema made for it.
pub async fn grant(admin_in_db: &tokio_postgres::Client) {
    admin_in_db
        .batch_execute(&format!(
            "REVOKE CREATE ON SCHEMA public FROM PUBLIC;
             GRANT USAGE, CREATE ON SCHEMA public TO {ROLE};
             CREATE SCHEMA switchback;
             GRANT USAGE, CREATE ON SCHEMA switchback TO {ROLE};
             CREATE SCHEMA switchback_archive;
             GRANT USAGE, CREATE ON SCHEMA switchback_archive TO {ROLE};"
        ))
        .await
        .unwrap();
}

/// PgBouncer in transaction mode in front of `server_port`, TLS on both sides, any database
/// name passed through. Stopped when dropped.
pub struct Bouncer {
    pub port: u16,
    dir: Option<tempfile::TempDir>,
    pid: u32,
}

impl Bouncer {
    pub fn start(server_port: u16, certs: &Certs, as_postgres: bool) -> Bouncer {
        let dir = tempfile::Builder::new()
            .prefix("switchback-bouncer-")
            .tempdir()
            .unwrap();
        let d = dir.path();
        for name in ["server.crt", "server.key"] {
            std::fs::copy(certs.path(name), d.join(name)).unwrap();
        }
        std::fs::write(
            d.join("userlist.txt"),
            format!("\"{ROLE}\" \"{PASSWORD}\"\n"),
        )
        .unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let ini = format!(
            "[databases]\n* = host=127.0.0.1 port={server_port}\n\n[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\npool_mode = transaction\nauth_type = scram-sha-256\nauth_file = {d}/userlist.txt\npidfile = {d}/pgbouncer.pid\nlogfile = {d}/pgbouncer.log\nignore_startup_parameters = extra_float_digits\ndefault_pool_size = 4\nmax_client_conn = 500\nclient_tls_sslmode = require\nclient_tls_key_file = {d}/server.key\nclient_tls_cert_file = {d}/server.crt\nserver_tls_sslmode = require\n",
            d = d.display()
        );
        std::fs::write(d.join("pgbouncer.ini"), ini).unwrap();
        let ini = d.join("pgbouncer.ini").display().to_string();
        let mut command = if as_postgres {
            Command::new("chown")
                .args(["-R", "postgres:postgres", &d.display().to_string()])
                .status()
                .unwrap();
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", pgbouncer(), "-d", &ini]);
            c
        } else {
            let mut c = Command::new(pgbouncer());
            c.args(["-d", &ini]);
            c
        };
        let out = command.output().expect("pgbouncer is installed");
        assert!(
            out.status.success(),
            "pgbouncer: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // `-d` returns before it listens: wait for the pid file and the port.
        let pid_file = d.join("pgbouncer.pid");
        let started = std::time::Instant::now();
        let pid = loop {
            let ready = std::fs::read_to_string(&pid_file)
                .ok()
                .and_then(|p| p.trim().parse::<u32>().ok())
                .filter(|_| std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
            if let Some(pid) = ready {
                break pid;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(20),
                "pgbouncer did not start: {}",
                std::fs::read_to_string(d.join("pgbouncer.log")).unwrap_or_default()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        Bouncer {
            port,
            dir: Some(dir),
            pid,
        }
    }

    pub fn log(&self) -> String {
        self.dir
            .as_ref()
            .and_then(|d| std::fs::read_to_string(d.path().join("pgbouncer.log")).ok())
            .unwrap_or_default()
    }

    /// Leaves PgBouncer running until the current process exits (test binaries never drop
    /// their statics).
    pub fn stop_when_process_exits(mut self) {
        let script = format!(
            "while kill -0 {} 2>/dev/null; do sleep 0.5; done; kill -INT {}",
            std::process::id(),
            self.pid
        );
        Command::new("setsid")
            .args(["sh", "-c", &script])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map(drop)
            .unwrap();
        if let Some(dir) = self.dir.take() {
            let _ = dir.keep();
        }
        self.pid = 0;
    }
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        if self.pid == 0 {
            return;
        }
        let _ = Command::new("kill")
            .args(["-INT", &self.pid.to_string()])
            .status();
    }
}
