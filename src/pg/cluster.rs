//! A throwaway PostgreSQL cluster in a temporary folder on a free port, for the demo, the
//! benchmark and the tests. Uses `initdb`/`pg_ctl` from the folder `SWITCHBACK_PG_BIN`
//! names, else from PATH or `/usr/lib/postgresql/*/bin`; as root it runs them as the
//! `postgres` user, since PostgreSQL refuses to run as root.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("failed to find PostgreSQL's initdb and pg_ctl {0}; install PostgreSQL's server (Debian and Ubuntu: `apt-get install postgresql`; macOS: `brew install postgresql`), or set SWITCHBACK_PG_BIN to the folder holding initdb and pg_ctl (the tests can also use a running server through DATABASE_URL)")]
    NotInstalled(String),
    #[error("failed to run {command}: {detail}")]
    Command { command: String, detail: String },
    #[error("failed to prepare the cluster folder: {0}")]
    Io(#[from] std::io::Error),
}

pub struct TempCluster {
    bin: PathBuf,
    dir: Option<tempfile::TempDir>,
    port: u16,
    as_postgres: bool,
}

fn find_bin() -> Result<PathBuf, ClusterError> {
    if let Some(dir) = std::env::var_os("SWITCHBACK_PG_BIN").filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        return match dir.join("initdb").is_file() && dir.join("pg_ctl").is_file() {
            true => Ok(dir),
            false => Err(ClusterError::NotInstalled(format!(
                "in {} (SWITCHBACK_PG_BIN)",
                dir.display()
            ))),
        };
    }
    // Follow a PATH entry's symlink to the real folder: distributions often link only some
    // tools (initdb, pg_ctl) onto PATH, and a replica needs pg_basebackup from the same set.
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .find(|p| p.join("initdb").is_file() && p.join("pg_ctl").is_file())
            .and_then(|p| std::fs::canonicalize(p.join("initdb")).ok())
            .and_then(|initdb| initdb.parent().map(Path::to_path_buf))
    });
    on_path
        .or_else(|| {
            let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
                .ok()?
                .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
                .filter(|p| p.join("initdb").is_file())
                .collect();
            versions.sort_by_key(|p| {
                p.parent()
                    .and_then(|v| v.file_name())
                    .and_then(|v| v.to_str())
                    .and_then(|v| v.parse::<u32>().ok())
            });
            versions.pop()
        })
        .ok_or_else(|| {
            ClusterError::NotInstalled("on PATH or under /usr/lib/postgresql/*/bin".into())
        })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl TempCluster {
    /// Creates and starts a cluster with trust authentication for `postgres` on 127.0.0.1.
    pub fn start() -> Result<TempCluster, ClusterError> {
        let mut cluster = TempCluster::create()?;
        cluster.launch(&[])?;
        Ok(cluster)
    }

    /// Creates a cluster without starting it, so its configuration (pg_hba.conf,
    /// certificates) can be written first; `launch` starts it.
    pub fn create() -> Result<TempCluster, ClusterError> {
        let bin = find_bin()?;
        let as_postgres = is_root();
        let dir = tempfile::Builder::new()
            .prefix("switchback-pg-")
            .tempdir()?;
        let cluster = TempCluster {
            bin,
            dir: Some(dir),
            port: 0,
            as_postgres,
        };
        if as_postgres {
            cluster.run(
                "chown",
                &["-R", "postgres:postgres", &cluster.dir_str()],
                false,
            )?;
        }
        let data = cluster.data_dir();
        cluster.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            true,
        )?;
        Ok(cluster)
    }

    /// A streaming replica of this cluster (`pg_basebackup -R`), started on its own port.
    pub fn start_replica(&self) -> Result<TempCluster, ClusterError> {
        let dir = tempfile::Builder::new()
            .prefix("switchback-replica-")
            .tempdir()?;
        let mut replica = TempCluster {
            bin: self.bin.clone(),
            dir: Some(dir),
            port: 0,
            as_postgres: self.as_postgres,
        };
        if replica.as_postgres {
            replica.run(
                "chown",
                &["-R", "postgres:postgres", &replica.dir_str()],
                false,
            )?;
        }
        let port = self.port.to_string();
        let data = replica.data_dir();
        replica.run(
            "pg_basebackup",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "-D",
                &data,
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
                "--no-sync",
            ],
            true,
        )?;
        replica.launch(&[])?;
        Ok(replica)
    }

    /// Starts the server on a free port, with `settings` (`name=value`) on top of the
    /// defaults. A port can be taken between choosing it and binding it, so a few are tried.
    pub fn launch(&mut self, settings: &[&str]) -> Result<(), ClusterError> {
        let mut extra: String = settings.iter().map(|s| format!(" -c {s}")).collect();
        // pg_stat_statements, as most managed services load it: contract reads it to know
        // the old application is gone. Only where the build has it (contrib may be absent).
        if self.has_library("pg_stat_statements") {
            extra.push_str(" -c shared_preload_libraries=pg_stat_statements");
        }
        let data = self.data_dir();
        let mut last_error = None;
        for _ in 0..5 {
            self.port = free_port()?;
            let options = format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 -c shared_buffers=256MB -c max_wal_size=4GB{extra}",
                self.port,
                self.dir_str()
            );
            let log = format!("{}/server.log", self.dir_str());
            match self.run(
                "pg_ctl",
                &[
                    "-D", &data, "-l", &log, "-w", "-t", "60", "-o", &options, "start",
                ],
                true,
            ) {
                Ok(()) => return Ok(()),
                Err(e) => last_error = Some(e),
            }
        }
        self.port = 0;
        Err(last_error.expect("tried at least once"))
    }

    /// Whether the server's library folder (Debian's `lib/`, or `lib/postgresql/` of a
    /// `make install` layout) holds `name`.
    fn has_library(&self, name: &str) -> bool {
        let file = format!("{name}.so");
        let lib = self.bin.join("../lib");
        lib.join(&file).is_file() || lib.join("postgresql").join(&file).is_file()
    }

    /// `postgres://postgres@127.0.0.1:PORT/DATABASE`.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn dir(&self) -> &Path {
        self.dir
            .as_ref()
            .expect("cluster folder lives until drop")
            .path()
    }

    fn dir_str(&self) -> String {
        self.dir().display().to_string()
    }

    fn data_dir(&self) -> String {
        format!("{}/data", self.dir_str())
    }

    /// The data folder, where `pg_hba.conf` and server certificates go before `launch`.
    pub fn data_path(&self) -> PathBuf {
        PathBuf::from(self.data_dir())
    }

    /// Hands `path` to the user the server runs as (a key the server reads must be its own).
    pub fn give_to_server(&self, path: &Path) -> Result<(), ClusterError> {
        if self.as_postgres {
            self.run(
                "chown",
                &["-R", "postgres:postgres", &path.display().to_string()],
                false,
            )?;
        }
        Ok(())
    }

    /// Whether the server runs as the `postgres` user (the process runs as root).
    pub fn runs_as_postgres(&self) -> bool {
        self.as_postgres
    }

    /// Leaves the cluster running until the current process exits, then stops and removes
    /// it. Test binaries use this: they never drop their statics.
    pub fn stop_when_process_exits(mut self) -> Result<(), ClusterError> {
        let dir = self
            .dir
            .take()
            .expect("cluster folder lives until drop")
            .keep();
        let stop = self.command_line(
            "pg_ctl",
            &[
                "-D",
                &format!("{}/data", dir.display()),
                "-m",
                "immediate",
                "stop",
            ],
        );
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; {stop} >/dev/null 2>&1; rm -rf '{dir}'",
            pid = std::process::id(),
            dir = dir.display()
        );
        Command::new("setsid")
            .args(["sh", "-c", &script])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| ClusterError::Command {
                command: "setsid sh".into(),
                detail: e.to_string(),
            })?;
        Ok(())
    }

    fn command_line(&self, program: &str, args: &[&str]) -> String {
        let quoted: Vec<String> = args
            .iter()
            .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
            .collect();
        let program = self.bin.join(program).display().to_string();
        if self.as_postgres {
            format!("runuser -u postgres -- '{program}' {}", quoted.join(" "))
        } else {
            format!("'{program}' {}", quoted.join(" "))
        }
    }

    fn run(&self, program: &str, args: &[&str], postgres_binary: bool) -> Result<(), ClusterError> {
        let mut command = if !postgres_binary {
            let mut c = Command::new(program);
            c.args(args);
            c
        } else if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"])
                .arg(self.bin.join(program))
                .args(args);
            c
        } else {
            let mut c = Command::new(self.bin.join(program));
            c.args(args);
            c
        };
        let output = command.output().map_err(|e| ClusterError::Command {
            command: program.into(),
            detail: e.to_string(),
        })?;
        if output.status.success() {
            return Ok(());
        }
        let mut detail = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        if let Ok(log) = std::fs::read_to_string(self.dir().join("server.log")) {
            detail.push_str(&format!(
                "\nserver log:\n{}",
                log.lines()
                    .rev()
                    .take(10)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<Vec<_>>()
                    .join("\n")
            ));
        }
        Err(ClusterError::Command {
            command: program.into(),
            detail,
        })
    }
}

impl Drop for TempCluster {
    fn drop(&mut self) {
        if self.dir.is_some() && self.port != 0 {
            let _ = self.run(
                "pg_ctl",
                &["-D", &self.data_dir(), "-m", "immediate", "stop"],
                true,
            );
        }
    }
}
