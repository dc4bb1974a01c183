//! Finding the migrations a path names, and which tool wrote them.

use super::{Format, Migration, Part, Transaction};
use crate::error::Error;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Whether `path` holds SQL migrations rather than plans: a `.sql` file, or a folder with a
/// Drizzle journal, Prisma's `*/migration.sql`, or `.sql` files and no plan file.
pub fn is_migration_path(path: &Path) -> bool {
    if !path.is_dir() {
        return is_sql(path);
    }
    if path.join("meta/_journal.json").is_file() || !prisma_folders(path).is_empty() {
        return true;
    }
    let files = files_in(path);
    let plans = files
        .iter()
        .any(|f| matches!(f.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")));
    !plans && files.iter().any(|f| is_sql(f))
}

/// Every migration under `paths`, in the order its tool applies them.
pub fn find(paths: &[PathBuf]) -> Result<Vec<Migration>, Error> {
    let mut migrations = Vec::new();
    for path in paths {
        let found = if path.is_dir() {
            folder(path)?
        } else {
            file(path)?.into_iter().collect()
        };
        migrations.extend(found);
    }
    Ok(migrations)
}

fn is_sql(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()) == Some("sql")
}

fn read(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    files
}

fn prisma_folders(dir: &Path) -> Vec<PathBuf> {
    files_in(dir)
        .into_iter()
        .filter(|d| d.join("migration.sql").is_file())
        .collect()
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn folder(dir: &Path) -> Result<Vec<Migration>, Error> {
    let journal = dir.join("meta/_journal.json");
    if journal.is_file() {
        return drizzle(dir, &journal);
    }
    let prisma = prisma_folders(dir);
    if !prisma.is_empty() {
        return prisma
            .iter()
            .map(|d| prisma_migration(&d.join("migration.sql")))
            .collect();
    }
    let mut migrations = Vec::new();
    for path in files_in(dir).iter().filter(|f| is_sql(f)) {
        migrations.extend(file(path)?);
    }
    if migrations.is_empty() {
        return Err(Error::Migrations {
            path: dir.to_path_buf(),
            reason: "it has no .sql file".into(),
        });
    }
    Ok(migrations)
}

/// One file named on its own: the tool is read from where it lies and what it says.
fn file(path: &Path) -> Result<Option<Migration>, Error> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let parent = path.parent().unwrap_or(Path::new("."));
    if parent.join("meta/_journal.json").is_file() {
        let all = drizzle(parent, &parent.join("meta/_journal.json"))?;
        return Ok(all.into_iter().find(|m| m.up.file == path));
    }
    if name == "migration.sql" {
        return prisma_migration(path).map(Some);
    }
    if let Some(base) = name.strip_suffix(".down.sql") {
        // Read with its up file, when there is one.
        if parent.join(format!("{base}.up.sql")).is_file() {
            return Ok(None);
        }
    }
    let text = read(path)?;
    if let Some(base) = name.strip_suffix(".up.sql") {
        let down_path = parent.join(format!("{base}.down.sql"));
        let down = match down_path.is_file() {
            true => Some(Part::whole(&down_path, read(&down_path)?)),
            false => None,
        };
        return Ok(Some(Migration {
            name: base.to_owned(),
            format: Format::UpDownFiles,
            up: Part::whole(path, text),
            down,
            transaction: Transaction::OneQuery,
            created_at_ms: None,
        }));
    }
    Ok(Some(marked(path, text)))
}

#[derive(Deserialize)]
struct Journal {
    entries: Vec<JournalEntry>,
}

#[derive(Deserialize)]
struct JournalEntry {
    tag: String,
    when: Option<i64>,
}

/// Drizzle: the journal lists the migrations in order; each is `<tag>.sql` beside `meta/`.
/// drizzle-orm's migrator applies every pending migration in one transaction.
fn drizzle(dir: &Path, journal: &Path) -> Result<Vec<Migration>, Error> {
    let bad = |reason: String| Error::Migrations {
        path: dir.to_path_buf(),
        reason,
    };
    let journal: Journal = serde_json::from_str(&read(journal)?)
        .map_err(|e| bad(format!("meta/_journal.json is not Drizzle's journal: {e}")))?;
    journal
        .entries
        .into_iter()
        .map(|entry| {
            let path = dir.join(format!("{}.sql", entry.tag));
            if !path.is_file() {
                return Err(bad(format!(
                    "meta/_journal.json names {}.sql, which is missing",
                    entry.tag
                )));
            }
            Ok(Migration {
                up: Part::whole(&path, read(&path)?),
                name: entry.tag,
                format: Format::Drizzle,
                down: None,
                transaction: Transaction::Wrapped,
                created_at_ms: entry.when,
            })
        })
        .collect()
}

/// Prisma: `<timestamp>_<name>/migration.sql`, sent to PostgreSQL as one query.
fn prisma_migration(path: &Path) -> Result<Migration, Error> {
    let name = path
        .parent()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(Migration {
        up: Part::whole(path, read(path)?),
        name,
        format: Format::Prisma,
        down: None,
        transaction: Transaction::OneQuery,
        created_at_ms: None,
    })
}

/// The up/down markers of the tools that keep both parts in one file.
struct Markers {
    format: Format,
    up: &'static str,
    down: &'static str,
    /// Words on the up line (or anywhere, for goose) that turn the transaction off.
    no_transaction: &'static str,
    /// How the part runs then: goose and sql-migrate send statement by statement; dbmate
    /// sends the part as one query, which PostgreSQL still runs as one transaction (dbmate's
    /// own run of `CREATE INDEX CONCURRENTLY` beside another statement fails so).
    without_transaction: Transaction,
}

const MARKERS: &[Markers] = &[
    Markers {
        format: Format::SqlMigrate,
        up: "+migrate up",
        down: "+migrate down",
        no_transaction: "notransaction",
        without_transaction: Transaction::Autocommit,
    },
    Markers {
        format: Format::Dbmate,
        up: "migrate:up",
        down: "migrate:down",
        no_transaction: "transaction:false",
        without_transaction: Transaction::OneQuery,
    },
    Markers {
        format: Format::Goose,
        up: "+goose up",
        down: "+goose down",
        no_transaction: "+goose no transaction",
        without_transaction: Transaction::Autocommit,
    },
];

/// A comment line's text after `--`, lower-cased, if the line is only a comment.
fn comment(line: &str) -> Option<String> {
    line.trim()
        .strip_prefix("--")
        .map(|c| c.trim().to_lowercase())
}

/// A single `.sql` file: with a tool's up/down markers, or plain.
fn marked(path: &Path, text: String) -> Migration {
    let mut lines = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        lines.push((offset, offset + line.len(), comment(line)));
        offset += line.len();
    }
    for markers in MARKERS {
        let at = |marker: &str| {
            lines
                .iter()
                .find(|(_, _, c)| c.as_deref().is_some_and(|c| c.starts_with(marker)))
        };
        let Some((up_start, up_end, up_line)) = at(markers.up) else {
            continue;
        };
        // Each part runs from its marker to the other's marker, or to the end of the file.
        let until = |from: usize, other: Option<usize>| {
            from..other.filter(|&o| o > from).unwrap_or(text.len())
        };
        let down = at(markers.down);
        let up_range = until(*up_end, down.map(|(start, _, _)| *start));
        let down_range = down.map(|(_, end, _)| until(*end, Some(*up_start)));
        let no_transaction = match markers.format {
            Format::Goose => lines.iter().any(|(_, _, c)| {
                c.as_deref()
                    .is_some_and(|c| c.starts_with(markers.no_transaction))
            }),
            _ => up_line
                .as_deref()
                .is_some_and(|c| c.contains(markers.no_transaction)),
        };
        let part = |range| Part {
            file: path.to_path_buf(),
            text: text.clone(),
            range,
        };
        return Migration {
            name: stem(path),
            format: markers.format,
            up: part(up_range),
            down: down_range.map(part),
            transaction: if no_transaction {
                markers.without_transaction
            } else {
                Transaction::Wrapped
            },
            created_at_ms: None,
        };
    }
    Migration {
        name: stem(path),
        format: Format::Plain,
        up: Part::whole(path, text),
        down: None,
        transaction: Transaction::Autocommit,
        created_at_ms: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_tools_markers() {
        let path = Path::new("m.sql");
        let m = marked(
            path,
            "-- +migrate Up\nCREATE TABLE a (id int);\n-- +migrate Down\nDROP TABLE a;\n".into(),
        );
        assert_eq!(m.format, Format::SqlMigrate);
        assert_eq!(m.up.sql(), "CREATE TABLE a (id int);\n");
        assert_eq!(m.down.as_ref().unwrap().sql(), "DROP TABLE a;\n");
        assert_eq!(m.transaction, Transaction::Wrapped);
        assert_eq!(m.up.position(m.up.range.start).line, 2);

        let m = marked(
            path,
            "-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY i ON a (id);\n\n-- migrate:down\nDROP INDEX i;\n".into(),
        );
        assert_eq!(m.format, Format::Dbmate);
        assert_eq!(m.transaction, Transaction::OneQuery);
        assert_eq!(m.up.sql(), "CREATE INDEX CONCURRENTLY i ON a (id);\n\n");

        let m = marked(
            path,
            "-- +goose NO TRANSACTION\n-- +goose Up\nSELECT 1;\n-- +goose Down\nSELECT 2;\n".into(),
        );
        assert_eq!(m.format, Format::Goose);
        assert_eq!(m.transaction, Transaction::Autocommit);
        assert_eq!(m.up.sql(), "SELECT 1;\n");

        let m = marked(path, "-- just a comment\nSELECT 1;\n".into());
        assert_eq!(m.format, Format::Plain);
        assert!(m.down.is_none());
    }

    #[test]
    fn counts_columns_in_characters() {
        let part = Part::whole(Path::new("m.sql"), "-- é\n  SELECT 1;".into());
        assert_eq!(
            part.position(part.text.find("SELECT").unwrap()),
            crate::plan::diagnostic::Position { line: 2, column: 3 }
        );
    }
}
