//! What every command that talks to a database shares: the connection flag and a runtime.

use crate::cli::Failure;
use std::future::Future;
use std::time::Duration;
use switchback::pg::conninfo::ConnInfo;

#[derive(Debug, clap::Args)]
pub struct Connection {
    /// PostgreSQL connection string (URL or key=value, as libpq takes it); DATABASE_URL when
    /// absent, and libpq's PG* variables and ~/.pgpass for what neither gives. Its password is
    /// never printed.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_name = "URL")]
    pub database_url: Option<String>,
}

impl Connection {
    /// The connection parameters, as libpq would read them.
    pub fn info(&self) -> Result<ConnInfo, Failure> {
        Ok(switchback::pg::connect::resolve(
            self.database_url.as_deref(),
        )?)
    }
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// What the commands that read the ledger (`status`, `history`) take.
#[derive(Debug, clap::Args)]
pub struct LedgerQuery {
    /// Only this plan (its id).
    pub plan: Option<String>,
    #[command(flatten)]
    pub connection: Connection,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

/// Runs one command's async body on a fresh runtime.
pub fn block_on<T>(future: impl Future<Output = Result<T, Failure>>) -> Result<T, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(Failure::Output)?
        .block_on(future)
}

/// clap's parser for `1m`, `500ms`.
pub fn duration(text: &str) -> Result<Duration, String> {
    switchback::plan::duration::parse(text)
}
