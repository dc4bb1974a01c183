//! Connection parameters read the way libpq reads them: a URL or a `key=value` string, then
//! the `PG*` environment for what it leaves out, then libpq's defaults and `~/.pgpass`, so a
//! `psql` that works means a `switchback` that works. Pure: the environment is passed in.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    const ALL: [SslMode; 6] = [
        SslMode::Disable,
        SslMode::Allow,
        SslMode::Prefer,
        SslMode::Require,
        SslMode::VerifyCa,
        SslMode::VerifyFull,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// What the server's certificate is checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCert {
    File(PathBuf),
    /// The operating system's trusted roots (`sslrootcert=system`).
    System,
}

/// Where the password came from, so an authentication failure can say so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    None,
    Given,
    Environment,
    PassFile(PathBuf),
}

#[derive(Clone, PartialEq, Eq)]
pub struct ConnInfo {
    /// Host names, addresses, or Unix-socket directories (starting with `/`).
    pub hosts: Vec<String>,
    /// One per host.
    pub ports: Vec<u16>,
    pub user: String,
    pub password: Option<String>,
    pub dbname: String,
    pub sslmode: SslMode,
    pub sslrootcert: Option<RootCert>,
    pub sslcert: Option<PathBuf>,
    pub sslkey: Option<PathBuf>,
    pub application_name: Option<String>,
    pub connect_timeout: Option<Duration>,
    pub options: Option<String>,
    pub password_source: PasswordSource,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnInfoError {
    #[error("invalid connection string: {0}")]
    Syntax(String),
    #[error("unknown connection parameter \"{0}\"")]
    UnknownKeyword(String),
    #[error("invalid value for {name}: {message}")]
    Value { name: String, message: String },
    #[error("connection service files are not supported (\"{0}\"); give the parameters in the connection string or the PG* variables")]
    Service(String),
}

/// The process's view of the world, passed in so parsing stays testable.
pub trait Env {
    fn var(&self, name: &str) -> Option<String>;
    fn home(&self) -> Option<PathBuf>;
    fn os_user(&self) -> Option<String>;
    /// The file's text and whether group or others may read it.
    fn read_file(&self, path: &Path) -> Option<(String, bool)>;
    fn exists(&self, path: &Path) -> bool;
}

/// The real environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }

    fn home(&self) -> Option<PathBuf> {
        self.var("HOME").map(PathBuf::from)
    }

    fn os_user(&self) -> Option<String> {
        self.var("USER").or_else(|| self.var("LOGNAME"))
    }

    fn read_file(&self, path: &Path) -> Option<(String, bool)> {
        use std::os::unix::fs::PermissionsExt;
        let open = std::fs::metadata(path).ok()?.permissions().mode() & 0o077 != 0;
        Some((std::fs::read_to_string(path).ok()?, open))
    }

    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }
}

/// Keywords libpq knows that switchback accepts and leaves to their defaults.
const IGNORED: &[&str] = &[
    "hostaddr",
    "target_session_attrs",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
    "sslcompression",
    "sslcrl",
    "sslcrldir",
    "sslsni",
    "gssencmode",
    "krbsrvname",
    "channel_binding",
    "client_encoding",
    "load_balance_hosts",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "requiressl",
];

/// Keywords acted on, with the environment variable that fills each.
const KEYWORDS: &[(&str, Option<&str>)] = &[
    ("host", Some("PGHOST")),
    ("port", Some("PGPORT")),
    ("user", Some("PGUSER")),
    ("password", Some("PGPASSWORD")),
    ("dbname", Some("PGDATABASE")),
    ("sslmode", Some("PGSSLMODE")),
    ("sslrootcert", Some("PGSSLROOTCERT")),
    ("sslcert", Some("PGSSLCERT")),
    ("sslkey", Some("PGSSLKEY")),
    ("application_name", Some("PGAPPNAME")),
    ("connect_timeout", Some("PGCONNECT_TIMEOUT")),
    ("options", Some("PGOPTIONS")),
    ("fallback_application_name", None),
];

/// A value and where it was set: the keyword or the environment variable, for messages.
struct Set {
    value: String,
    from: String,
}

impl ConnInfo {
    /// `text` is what the user gave (`--database-url`, `DATABASE_URL`), or None for the
    /// environment and defaults alone, like `psql` without arguments. Also returns libpq's
    /// warnings (a password file others can read).
    pub fn resolve(
        text: Option<&str>,
        env: &dyn Env,
    ) -> Result<(ConnInfo, Vec<String>), ConnInfoError> {
        let given = match text.map(str::trim).filter(|t| !t.is_empty()) {
            Some(t) if t.starts_with("postgres://") || t.starts_with("postgresql://") => {
                syntax::parse_url(t)?
            }
            Some(t) => syntax::parse_keywords(t)?,
            None => Vec::new(),
        };
        let mut values: Vec<(&str, Set)> = Vec::new();
        for (key, value) in given {
            if key == "service" {
                return Err(ConnInfoError::Service(value));
            }
            if IGNORED.contains(&key.as_str()) {
                continue;
            }
            let Some((known, _)) = KEYWORDS.iter().find(|(k, _)| *k == key) else {
                return Err(ConnInfoError::UnknownKeyword(key));
            };
            values.retain(|(k, _)| k != known);
            values.push((
                known,
                Set {
                    value,
                    from: key.clone(),
                },
            ));
        }
        for (key, var) in KEYWORDS {
            if let Some(var) = var {
                if !values.iter().any(|(k, _)| k == key) {
                    if let Some(value) = env.var(var) {
                        values.push((
                            key,
                            Set {
                                value,
                                from: (*var).to_owned(),
                            },
                        ));
                    }
                }
            }
        }
        let get = |key: &str| values.iter().find(|(k, _)| *k == key).map(|(_, s)| s);
        let mut warnings = Vec::new();

        let ports = match get("port") {
            Some(set) => set
                .value
                .split(',')
                .map(|p| match p.trim() {
                    "" => Ok(5432),
                    p => p
                        .parse::<u16>()
                        .ok()
                        .filter(|p| *p > 0)
                        .ok_or_else(|| invalid(set, "a port is a number from 1 to 65535")),
                })
                .collect::<Result<Vec<u16>, _>>()?,
            None => vec![5432],
        };
        let mut hosts: Vec<String> = match get("host") {
            Some(set) => set.value.split(',').map(|h| h.trim().to_owned()).collect(),
            None => vec![String::new()],
        };
        for host in &mut hosts {
            if host.is_empty() {
                *host = default_host(ports[0], env);
            }
        }
        let ports = match (ports.len(), hosts.len()) {
            (1, n) => vec![ports[0]; n],
            (p, h) if p == h => ports,
            (p, h) => {
                return Err(ConnInfoError::Value {
                    name: "port".into(),
                    message: format!("{p} ports for {h} hosts; give one port, or one per host"),
                })
            }
        };
        let user = match get("user") {
            Some(set) => set.value.clone(),
            None => env.os_user().unwrap_or_else(|| "postgres".into()),
        };
        let dbname = get("dbname").map_or_else(|| user.clone(), |s| s.value.clone());
        let explicit_mode = match get("sslmode") {
            Some(set) => Some(
                SslMode::ALL
                    .into_iter()
                    .find(|m| m.as_str() == set.value)
                    .ok_or_else(|| {
                        invalid(set, "it is not one of disable, allow, prefer, require, verify-ca, verify-full")
                    })?,
            ),
            None => None,
        };
        let mut sslrootcert = get("sslrootcert").map(|s| match s.value.as_str() {
            "system" => RootCert::System,
            path => RootCert::File(PathBuf::from(path)),
        });
        let sslmode = match (explicit_mode, &sslrootcert) {
            (None, Some(RootCert::System)) => SslMode::VerifyFull,
            (Some(mode), Some(RootCert::System)) if mode != SslMode::VerifyFull => {
                return Err(ConnInfoError::Value {
                    name: "sslrootcert".into(),
                    message: format!(
                        "sslrootcert=system requires sslmode verify-full (it was {})",
                        mode.as_str()
                    ),
                })
            }
            // libpq verifies the chain under `require` when a root certificate was named.
            (Some(SslMode::Require), Some(RootCert::File(_))) => SslMode::VerifyCa,
            (mode, _) => mode.unwrap_or(SslMode::Prefer),
        };
        let home_file = |name: &str| env.home().map(|h| h.join(".postgresql").join(name));
        if sslrootcert.is_none() && matches!(sslmode, SslMode::VerifyCa | SslMode::VerifyFull) {
            sslrootcert = home_file("root.crt").map(RootCert::File);
        }
        let client_file = |key: &str, default: &str| {
            get(key)
                .map(|s| PathBuf::from(&s.value))
                .or_else(|| home_file(default).filter(|p| env.exists(p)))
        };
        let connect_timeout = match get("connect_timeout") {
            Some(set) => {
                let seconds: i64 = set
                    .value
                    .trim()
                    .parse()
                    .map_err(|_| invalid(set, "it is a whole number of seconds"))?;
                // libpq waits at least 2 seconds; 0 or less means no limit.
                (seconds > 0).then(|| Duration::from_secs(seconds.max(2) as u64))
            }
            None => None,
        };
        let application_name = get("application_name")
            .or_else(|| get("fallback_application_name"))
            .map(|s| s.value.clone());
        let (mut password, mut password_source) = match get("password") {
            Some(set) if set.from == "PGPASSWORD" => {
                (Some(set.value.clone()), PasswordSource::Environment)
            }
            Some(set) => (Some(set.value.clone()), PasswordSource::Given),
            None => (None, PasswordSource::None),
        };
        if password.is_none() {
            let file = env
                .var("PGPASSFILE")
                .map(PathBuf::from)
                .or_else(|| env.home().map(|h| h.join(".pgpass")));
            if let Some((file, (text, open))) =
                file.and_then(|f| env.read_file(&f).map(|read| (f, read)))
            {
                if open {
                    warnings.push(format!("password file \"{}\" has group or world access; permissions should be u=rw (0600) or less", file.display()));
                } else if let Some(found) =
                    passfile::pgpass(&text, &hosts[0], ports[0], &dbname, &user)
                {
                    password = Some(found);
                    password_source = PasswordSource::PassFile(file);
                }
            }
        }
        let info = ConnInfo {
            hosts,
            ports,
            user,
            password,
            dbname,
            sslmode,
            sslrootcert,
            sslcert: client_file("sslcert", "postgresql.crt"),
            sslkey: client_file("sslkey", "postgresql.key"),
            application_name,
            connect_timeout,
            options: get("options").map(|s| s.value.clone()),
            password_source,
        };
        Ok((info, warnings))
    }

    /// Same server and credentials, another database.
    pub fn with_dbname(&self, dbname: &str) -> ConnInfo {
        ConnInfo {
            dbname: dbname.to_owned(),
            ..self.clone()
        }
    }

    /// Whether `host` names a Unix-socket directory.
    pub fn is_socket(host: &str) -> bool {
        host.starts_with('/')
    }
}

fn invalid(set: &Set, message: &str) -> ConnInfoError {
    ConnInfoError::Value {
        name: format!("{}=\"{}\"", set.from, set.value),
        message: message.to_owned(),
    }
}

/// libpq's default: the socket directory where a server listens, else localhost.
fn default_host(port: u16, env: &dyn Env) -> String {
    ["/var/run/postgresql", "/tmp"]
        .into_iter()
        .find(|dir| env.exists(&Path::new(dir).join(format!(".s.PGSQL.{port}"))))
        .map_or_else(|| "localhost".to_owned(), str::to_owned)
}

impl fmt::Debug for ConnInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnInfo")
            .field("hosts", &self.hosts)
            .field("ports", &self.ports)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("dbname", &self.dbname)
            .field("sslmode", &self.sslmode)
            .field("sslrootcert", &self.sslrootcert)
            .field("application_name", &self.application_name)
            .finish_non_exhaustive()
    }
}

/// A URL without the password: what messages and logs show.
impl fmt::Display for ConnInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let encode = |text: &str| {
            text.bytes()
                .map(|b| match b {
                    b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                        (b as char).to_string()
                    }
                    b => format!("%{b:02X}"),
                })
                .collect::<String>()
        };
        let hosts: Vec<String> = self
            .hosts
            .iter()
            .zip(&self.ports)
            .map(|(h, p)| match h.contains(':') {
                true => format!("[{h}]:{p}"),
                false => format!("{}:{p}", encode(h)),
            })
            .collect();
        write!(
            f,
            "postgresql://{}@{}/{}",
            encode(&self.user),
            hosts.join(","),
            encode(&self.dbname)
        )?;
        if self.sslmode != SslMode::Prefer {
            write!(f, "?sslmode={}", self.sslmode.as_str())?;
            match &self.sslrootcert {
                Some(RootCert::File(path)) => write!(f, "&sslrootcert={}", path.display())?,
                Some(RootCert::System) => write!(f, "&sslrootcert=system")?,
                None => {}
            }
        }
        Ok(())
    }
}

mod passfile;
mod syntax;
#[cfg(test)]
mod tests;
