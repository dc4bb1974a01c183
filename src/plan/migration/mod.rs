//! SQL migration files as the tools that write them lay them out: plain `.sql` files,
//! Drizzle's folder (`meta/_journal.json` orders `NNNN_name.sql`), Prisma's
//! `migrations/<timestamp>_<name>/migration.sql`, golang-migrate's `*.up.sql`/`*.down.sql`
//! pairs, and files holding both parts behind sql-migrate's, dbmate's or goose's markers.
//!
//! A [`Migration`] keeps its up and down parts as byte ranges of their files, so every
//! statement read from them ([`statements`]) keeps its file:line:col. How the tool runs a
//! part (one transaction, one multi-statement query, or statement by statement) decides
//! what `CONCURRENTLY` and `BEGIN` do in it, so it is read here too.

mod formats;
mod lint;
pub mod statements;

use crate::plan::diagnostic::Position;
use crate::plan::record::Entry;
use std::ops::Range;
use std::path::{Path, PathBuf};

pub use formats::{find, is_migration_path};
pub use lint::lint;
pub use statements::{read, Statement};

/// The tool whose layout a migration follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A `.sql` file with no markers: run by psql or a hand-written runner.
    Plain,
    Drizzle,
    Prisma,
    /// golang-migrate: `NNN_name.up.sql` beside `NNN_name.down.sql`.
    UpDownFiles,
    /// sql-migrate: `-- +migrate Up` / `-- +migrate Down`.
    SqlMigrate,
    /// dbmate: `-- migrate:up` / `-- migrate:down`.
    Dbmate,
    /// goose: `-- +goose Up` / `-- +goose Down`.
    Goose,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Plain => "plain SQL",
            Format::Drizzle => "Drizzle",
            Format::Prisma => "Prisma",
            Format::UpDownFiles => "golang-migrate",
            Format::SqlMigrate => "sql-migrate",
            Format::Dbmate => "dbmate",
            Format::Goose => "goose",
        }
    }
}

/// How the tool runs a migration's up part, which decides whether its statements share one
/// transaction (where `CONCURRENTLY` fails and a `BEGIN` nests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transaction {
    /// The tool wraps the part in BEGIN/COMMIT.
    Wrapped,
    /// The tool sends the whole part as one query string: PostgreSQL runs a multi-statement
    /// query as one implicit transaction.
    OneQuery,
    /// Statement by statement in autocommit, unless the file says BEGIN itself.
    Autocommit,
}

/// One part (up or down) of a migration: a byte range of a file.
#[derive(Debug, Clone)]
pub struct Part {
    pub file: PathBuf,
    /// The whole file, so positions count from its first line.
    pub text: String,
    pub range: Range<usize>,
}

impl Part {
    pub fn whole(file: &Path, text: String) -> Part {
        Part {
            file: file.to_path_buf(),
            range: 0..text.len(),
            text,
        }
    }

    pub fn sql(&self) -> &str {
        &self.text[self.range.clone()]
    }

    /// The 1-based line and column (in characters) of byte `offset` of the file.
    pub fn position(&self, offset: usize) -> Position {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Position {
            line,
            column: before[line_start..].chars().count() + 1,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Migration {
    /// The name the tool knows it by: Drizzle's tag, Prisma's folder, the file's stem.
    pub name: String,
    pub format: Format,
    pub up: Part,
    pub down: Option<Part>,
    pub transaction: Transaction,
    /// Drizzle's journal time (`when`, milliseconds), which its ledger records.
    pub created_at_ms: Option<i64>,
}

impl Migration {
    /// Why the up part's statements share one transaction, when they do.
    pub fn transaction_reason(&self) -> Option<String> {
        match self.transaction {
            Transaction::Wrapped => Some(format!(
                "{} runs each migration in a transaction",
                self.format.name()
            )),
            Transaction::OneQuery => Some(format!(
                "{} sends the file as one query, which PostgreSQL runs as one transaction",
                self.format.name()
            )),
            Transaction::Autocommit => None,
        }
    }

    /// The row the migration's tool keeps once it has run the migration, computed the way
    /// the tool computes it; `None` for plain files, which no tool records.
    pub fn record(&self) -> Option<Entry> {
        let version = || {
            let digits: String = self.name.chars().take_while(char::is_ascii_digit).collect();
            (!digits.is_empty()).then_some(digits)
        };
        // Drizzle and Prisma hash the file exactly as read.
        let sha256 = || {
            use sha2::Digest;
            let digest = sha2::Sha256::digest(self.up.text.as_bytes());
            digest
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        };
        match self.format {
            Format::Plain => None,
            Format::Drizzle => Some(Entry::Drizzle {
                hash: sha256(),
                created_at: self.created_at_ms?,
            }),
            Format::Prisma => Some(Entry::Prisma {
                name: self.name.clone(),
                checksum: sha256(),
            }),
            Format::UpDownFiles => Some(Entry::GolangMigrate {
                version: version()?.parse().ok()?,
            }),
            Format::Goose => Some(Entry::Goose {
                version: version()?.parse().ok()?,
            }),
            Format::Dbmate => Some(Entry::Dbmate {
                version: version()?,
            }),
            Format::SqlMigrate => Some(Entry::SqlMigrate {
                id: self.up.file.file_name()?.to_string_lossy().into_owned(),
            }),
        }
    }
}
