//! Errors of the library that are not findings about a plan. Findings are `Diagnostic`s;
//! the CLI maps both to exit codes in one place.

use std::path::PathBuf;

/// A session that holds a lock switchback waited for.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Blocker {
    pub pid: i32,
    pub user: String,
    pub state: String,
    pub transaction_seconds: f64,
    pub query: String,
}

impl std::fmt::Display for Blocker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "pid {} (user {}, {}, transaction open {:.1}s): {}",
            self.pid,
            self.user,
            self.state,
            self.transaction_seconds,
            self.query.trim()
        )
    }
}

fn list(blockers: &[Blocker]) -> String {
    if blockers.is_empty() {
        return "no blocking session was found when the last attempt gave up".into();
    }
    blockers
        .iter()
        .map(|b| format!("\n  blocked by {b}"))
        .collect()
}

fn list_lines(lines: &[String]) -> String {
    lines.iter().map(|l| format!("\n  {l}")).collect()
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("failed to read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to find plan files in {}: it has no .yaml or .yml file", .0.display())]
    NoPlans(PathBuf),
    /// A migration folder whose layout is not what its tool writes (a journal that does not
    /// parse, a file it names that is missing).
    #[error("failed to read the migrations in {}: {reason}", path.display())]
    Migrations { path: PathBuf, reason: String },
    /// `target` is the connection without its password; `reason` says what failed in the
    /// words of the parameters the user set (sslmode, sslrootcert, the password file).
    #[error("failed to connect to {target}: {reason}")]
    Connect { target: String, reason: String },
    /// What is wrong with the connection string or the PG* environment.
    #[error("failed to read the connection parameters: {0}")]
    ConnInfo(String),
    #[error("failed to {context}: {}", describe(.source))]
    Sql {
        context: String,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error("failed to take a lock for {step} within the retry budget ({attempts} attempts over {seconds:.1}s){}", list(.blockers))]
    LockBudget {
        step: String,
        attempts: u32,
        seconds: f64,
        blockers: Vec<Blocker>,
    },
    #[error("failed to start plan {plan}: another switchback ({holder}) is running it; use --wait to queue behind it (if that runner died, its lease runs out in {expires_in:.0}s)")]
    PlanBusy {
        plan: String,
        holder: String,
        expires_in: f64,
    },
    #[error("failed to run plan {plan}: its file changed after it started (checksum {recorded} in the ledger, {current} now); restore the file, or abort the plan and start a new one")]
    PlanEdited {
        plan: String,
        recorded: String,
        current: String,
    },
    #[error("failed to verify the backfill of {table}: {mismatches} row(s) differ; first keys: {}", .samples.join(", "))]
    Verification {
        table: String,
        mismatches: i64,
        samples: Vec<String>,
    },
    #[error("failed to advance plan {plan}: its backfill {step} is running in `switchback backfill` workers ({percent:.0}% done); use --wait to wait for it")]
    BackfillElsewhere {
        plan: String,
        step: String,
        percent: f64,
    },
    #[error("failed to run step {step}: {cause}; rows that break it (first {}): {}", .rows.len(), .rows.join(", "))]
    Violation {
        step: String,
        cause: String,
        rows: Vec<String>,
    },
    #[error("failed to start the contract of plan {plan}: the application still runs statements that use what it removes{}\ndeploy the application that no longer uses them and advance again: contract starts once none has run for {window} (or, knowing why, advance --force REASON)", list_lines(.statements))]
    InUse {
        plan: String,
        window: String,
        statements: Vec<String>,
    },
    #[error("failed to {0}")]
    Refused(String),
}

impl Error {
    pub fn sql(context: impl Into<String>) -> impl FnOnce(tokio_postgres::Error) -> Error {
        let context = context.into();
        move |source| Error::Sql { context, source }
    }

    /// The SQLSTATE of a database error, if this is one.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            Error::Sql { source, .. } => source.as_db_error().map(|e| e.code().code()),
            _ => None,
        }
    }
}

/// A database error as an operator wants to read it: message, detail and SQLSTATE.
fn describe(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => {
            let mut text = format!("{} (SQLSTATE {})", db.message(), db.code().code());
            if let Some(detail) = db.detail() {
                text.push_str(&format!("; {detail}"));
            }
            if let Some(hint) = db.hint() {
                text.push_str(&format!("; hint: {hint}"));
            }
            text
        }
        None => error.to_string(),
    }
}
