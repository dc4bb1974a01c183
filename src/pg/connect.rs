//! Every connection switchback opens goes through here: libpq's parameters and environment
//! (`pg::conninfo`), TLS by sslmode (`pg::tls`), `application_name` as a startup parameter
//! (a pooler passes it on; a `SET` would not survive transaction pooling), and errors that
//! say what failed without ever showing a password.

use crate::error::Error;
use crate::pg::conninfo::{ConnInfo, PasswordSource, ProcessEnv, SslMode};
use crate::pg::query::Query;
use crate::pg::tls;
use tokio_postgres::config::SslMode as WireSsl;
use tokio_postgres::{Client, Config, NoTls};

/// The connection parameters from `text` (a URL or `key=value` string; None for the
/// environment alone), as libpq would read them. Warnings (a `.pgpass` with loose
/// permissions) go to the log, as libpq prints them.
pub fn resolve(text: Option<&str>) -> Result<ConnInfo, Error> {
    let (info, warnings) =
        ConnInfo::resolve(text, &ProcessEnv).map_err(|e| Error::ConnInfo(e.to_string()))?;
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    Ok(info)
}

/// Opens a connection; its I/O runs on a spawned task until the client is dropped.
/// `application` is the session's application_name unless the parameters name one.
pub async fn connect(info: &ConnInfo, application: &str) -> Result<Client, Error> {
    let mut config = Config::new();
    for (host, port) in info.hosts.iter().zip(&info.ports) {
        if ConnInfo::is_socket(host) {
            config.host_path(host);
        } else {
            config.host(host);
        }
        config.port(*port);
    }
    config
        .user(&info.user)
        .dbname(&info.dbname)
        .application_name(info.application_name.as_deref().unwrap_or(application));
    if let Some(password) = &info.password {
        config.password(password);
    }
    if let Some(timeout) = info.connect_timeout {
        config.connect_timeout(timeout);
    }
    if let Some(options) = &info.options {
        config.options(options);
    }
    // libpq never asks for TLS over a Unix socket, whatever the sslmode.
    let mode = if info.hosts.iter().all(|h| ConnInfo::is_socket(h)) {
        SslMode::Disable
    } else {
        info.sslmode
    };
    let failed = |reason: String| Error::Connect {
        target: info.to_string(),
        reason,
    };
    let result = match mode {
        SslMode::Disable => attempt(&mut config, WireSsl::Disable, None).await,
        // allow: plain first, TLS only when the server refuses a plain connection.
        SslMode::Allow => match attempt(&mut config, WireSsl::Disable, None).await {
            Err(e) if rejected_by_hba(&e) => {
                let tls = tls::connector(info).map_err(failed)?;
                attempt(&mut config, WireSsl::Require, Some(tls)).await
            }
            other => other,
        },
        // prefer: TLS when the server offers it, plain when pg_hba.conf refuses TLS.
        SslMode::Prefer => {
            let tls = tls::connector(info).map_err(failed)?;
            match attempt(&mut config, WireSsl::Prefer, Some(tls)).await {
                Err(e) if rejected_by_hba(&e) => attempt(&mut config, WireSsl::Disable, None).await,
                other => other,
            }
        }
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
            let tls = tls::connector(info).map_err(failed)?;
            attempt(&mut config, WireSsl::Require, Some(tls)).await
        }
    };
    result.map_err(|(error, rejected)| failed(explain(info, mode, &error, rejected)))
}

type Attempt = Result<Client, (tokio_postgres::Error, Option<tls::Rejected>)>;

async fn attempt(
    config: &mut Config,
    ssl: WireSsl,
    tls: Option<(tokio_postgres_rustls::MakeRustlsConnect, tls::Seen)>,
) -> Attempt {
    config.ssl_mode(ssl);
    match tls {
        None => {
            let (client, connection) = config.connect(NoTls).await.map_err(|e| (e, None))?;
            tokio::spawn(async move {
                if let Err(error) = connection.await {
                    tracing::debug!(%error, "connection closed");
                }
            });
            Ok(client)
        }
        Some((connector, seen)) => match config.connect(connector).await {
            Ok((client, connection)) => {
                tokio::spawn(async move {
                    if let Err(error) = connection.await {
                        tracing::debug!(%error, "connection closed");
                    }
                });
                Ok(client)
            }
            Err(e) => Err((e, seen.lock().unwrap_or_else(|p| p.into_inner()).take())),
        },
    }
}

/// pg_hba.conf had no line for this connection (SQLSTATE 28000), which is how a server says
/// it wants (or refuses) TLS.
fn rejected_by_hba(error: &(tokio_postgres::Error, Option<tls::Rejected>)) -> bool {
    error
        .0
        .as_db_error()
        .is_some_and(|db| db.code().code() == "28000")
}

/// Why a connection failed, in the words of what the user set.
fn explain(
    info: &ConnInfo,
    mode: SslMode,
    error: &tokio_postgres::Error,
    rejected: Option<tls::Rejected>,
) -> String {
    if let Some(cert) = rejected {
        return format!(
            "the server's certificate ({}, issued by {}) did not verify: {} (sslmode={})",
            cert.subject,
            cert.issuer,
            cert.reason,
            mode.as_str()
        );
    }
    let Some(db) = error.as_db_error() else {
        let text = error.to_string();
        if text.contains("password missing") {
            return "the server asks for a password and none was given (in the connection string, PGPASSWORD, or the password file)".into();
        }
        if text.contains("server does not support TLS") {
            return format!(
                "the server does not accept TLS connections, and sslmode={} requires TLS",
                mode.as_str()
            );
        }
        return text;
    };
    let mut text = format!("{} (SQLSTATE {})", db.message(), db.code().code());
    match db.code().code() {
        "28000" if db.message().contains("no encryption") => text.push_str(&format!(
            "; the server accepts only TLS connections: use sslmode=require or stronger (it was {})",
            mode.as_str()
        )),
        "28P01" => match &info.password_source {
            PasswordSource::PassFile(path) => text.push_str(&format!(
                "; the password came from the password file {}",
                path.display()
            )),
            PasswordSource::None => {
                text.push_str("; no password was given (PGPASSWORD, the URL, or ~/.pgpass)")
            }
            _ => {}
        },
        _ => {}
    }
    text
}

/// The oldest server switchback runs against: its sync trigger is installed with
/// `CREATE OR REPLACE TRIGGER` (PostgreSQL 14), so a re-run after a crash replaces it.
pub const OLDEST_SERVER: i32 = 140_000;

/// The server's `server_version_num`, refused below `OLDEST_SERVER` before anything runs.
pub async fn server_version(client: &Client) -> Result<i32, Error> {
    let row = client
        .fetch_one(
            "SELECT current_setting('server_version_num')::int4, current_setting('server_version')",
            &[],
        )
        .await
        .map_err(Error::sql("read the server's version"))?;
    let (number, text): (i32, String) = (row.get(0), row.get(1));
    if number < OLDEST_SERVER {
        return Err(Error::Refused(format!(
            "work with PostgreSQL {text}: switchback needs PostgreSQL 14 or later (its sync trigger uses CREATE OR REPLACE TRIGGER)"
        )));
    }
    Ok(number)
}

/// Whether the session reaches PostgreSQL through a pooler or proxy, where session state (a
/// `SET`, an advisory lock) does not outlive a transaction: a description of what gave it
/// away, or None for a direct connection. Two signs: the server's port is not the one that
/// was dialed, and a session setting is gone by the next statement.
pub async fn pooler(client: &Client, info: &ConnInfo) -> Result<Option<String>, Error> {
    let token = format!("{:016x}", fastrand::u64(..));
    let row = client
        .fetch_one(
            "SELECT inet_server_port(), pg_backend_pid(), set_config('switchback.session_probe', $1, false)",
            &[&token],
        )
        .await
        .map_err(Error::sql("probe the connection"))?;
    let (server_port, pid): (Option<i32>, i32) = (row.get(0), row.get(1));
    let host = &info.hosts[0];
    let dialed = info.ports[0];
    let socket = ConnInfo::is_socket(host);
    match (socket, server_port) {
        (false, Some(port)) if port != i32::from(dialed) => {
            return Ok(Some(format!(
                "connections to {host}:{dialed} arrive at the server's port {port}"
            )))
        }
        (false, None) => {
            return Ok(Some(format!(
                "connections to {host}:{dialed} arrive at the server over a Unix socket"
            )))
        }
        (true, Some(port)) => {
            return Ok(Some(format!(
                "connections to the socket in {host} arrive at the server's TCP port {port}"
            )))
        }
        _ => {}
    }
    let row = client
        .fetch_one(
            "SELECT current_setting('switchback.session_probe', true), pg_backend_pid()",
            &[],
        )
        .await
        .map_err(Error::sql("probe the connection"))?;
    let (kept, again): (Option<String>, i32) = (row.get(0), row.get(1));
    if kept.as_deref() != Some(token.as_str()) || again != pid {
        return Ok(Some(
            "a session setting did not survive to the next statement".into(),
        ));
    }
    Ok(None)
}
