//! `record:` in a plan's header: the row an ORM or migration tool keeps for the migration
//! the plan was imported from. When the plan completes, the executor writes that row exactly
//! as the tool would, so the tool's own `migrate` does not run the migration a second time.
//! Each tool's bookkeeping table, its default name and the fields that identify one
//! migration are described here; the SQL that reads and writes the tables is in
//! `exec::record`.

use crate::plan::check::{Checker, Ident, SqlText};
use crate::plan::diagnostic::Code;
use crate::plan::source::FieldPath;
use serde::Deserialize;

/// The tools whose bookkeeping switchback keeps, as `tool:` spells them.
pub const TOOLS: &[&str] = &[
    "drizzle",
    "prisma",
    "golang-migrate",
    "goose",
    "dbmate",
    "sql-migrate",
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRecord {
    tool: String,
    /// `table` or `schema.table`, when the tool was configured with another table.
    table: Option<String>,
    hash: Option<String>,
    created_at: Option<SqlText>,
    name: Option<String>,
    checksum: Option<String>,
    version: Option<SqlText>,
    id: Option<String>,
}

/// One migration as its tool identifies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// `__drizzle_migrations`: the SHA-256 of the file and the journal's `when`, which
    /// Drizzle's migrator compares with each folder's time.
    Drizzle { hash: String, created_at: i64 },
    /// `_prisma_migrations`: the folder name and the SHA-256 of `migration.sql`.
    Prisma { name: String, checksum: String },
    /// `schema_migrations (version, dirty)`: one row, the version last applied.
    GolangMigrate { version: i64 },
    /// `goose_db_version`: one row per applied version.
    Goose { version: i64 },
    /// dbmate's `schema_migrations (version)`: one row per applied version.
    Dbmate { version: String },
    /// `gorp_migrations`: one row per applied file name.
    SqlMigrate { id: String },
}

/// Where and what to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub entry: Entry,
    /// The bookkeeping table's schema; `None` is the plan's schema (the tool's connection's).
    pub schema: Option<Ident>,
    pub table: Ident,
}

impl Entry {
    pub fn tool(&self) -> &'static str {
        match self {
            Entry::Drizzle { .. } => "drizzle",
            Entry::Prisma { .. } => "prisma",
            Entry::GolangMigrate { .. } => "golang-migrate",
            Entry::Goose { .. } => "goose",
            Entry::Dbmate { .. } => "dbmate",
            Entry::SqlMigrate { .. } => "sql-migrate",
        }
    }

    /// The table the tool keeps by default, and its schema when that is not the
    /// connection's own (Drizzle keeps its table in `drizzle`).
    pub fn default_table(&self) -> (Option<&'static str>, &'static str) {
        match self {
            Entry::Drizzle { .. } => (Some("drizzle"), "__drizzle_migrations"),
            Entry::Prisma { .. } => (None, "_prisma_migrations"),
            Entry::GolangMigrate { .. } | Entry::Dbmate { .. } => (None, "schema_migrations"),
            Entry::Goose { .. } => (None, "goose_db_version"),
            Entry::SqlMigrate { .. } => (None, "gorp_migrations"),
        }
    }

    /// What identifies the migration, for messages: `version 20240101120000`.
    pub fn describe(&self) -> String {
        match self {
            Entry::Drizzle { created_at, .. } => format!("created_at {created_at}"),
            Entry::Prisma { name, .. } => format!("migration {name}"),
            Entry::GolangMigrate { version } | Entry::Goose { version } => {
                format!("version {version}")
            }
            Entry::Dbmate { version } => format!("version {version}"),
            Entry::SqlMigrate { id } => format!("id {id}"),
        }
    }

    /// The plan header's `record:` mapping for this entry (what `import` writes).
    pub fn to_yaml(&self) -> serde_yaml::Mapping {
        let mut m = serde_yaml::Mapping::new();
        let mut put = |k: &str, v: serde_yaml::Value| {
            m.insert(serde_yaml::Value::String(k.into()), v);
        };
        put("tool", self.tool().into());
        match self {
            Entry::Drizzle { hash, created_at } => {
                put("hash", hash.as_str().into());
                put("created_at", (*created_at).into());
            }
            Entry::Prisma { name, checksum } => {
                put("name", name.as_str().into());
                put("checksum", checksum.as_str().into());
            }
            Entry::GolangMigrate { version } | Entry::Goose { version } => {
                put("version", (*version).into());
            }
            Entry::Dbmate { version } => put("version", version.as_str().into()),
            Entry::SqlMigrate { id } => put("id", id.as_str().into()),
        }
        m
    }
}

impl RawRecord {
    pub(crate) fn check(self, at: &FieldPath, cx: &mut Checker) -> Option<Record> {
        let fields: &[&str] = match self.tool.as_str() {
            "drizzle" => &["hash", "created_at"],
            "prisma" => &["name", "checksum"],
            "golang-migrate" | "goose" | "dbmate" => &["version"],
            "sql-migrate" => &["id"],
            other => {
                let help = crate::plan::check::did_you_mean(other, TOOLS)
                    .unwrap_or_else(|| format!("the tools are {}", TOOLS.join(", ")));
                cx.report(
                    Code::BadValue,
                    &at.key("tool"),
                    format!("switchback does not keep the bookkeeping of `{other}`"),
                    Some(help),
                );
                return None;
            }
        };
        let given = [
            ("hash", self.hash.is_some()),
            ("created_at", self.created_at.is_some()),
            ("name", self.name.is_some()),
            ("checksum", self.checksum.is_some()),
            ("version", self.version.is_some()),
            ("id", self.id.is_some()),
        ];
        let mut ok = true;
        for (field, present) in given {
            if present && !fields.contains(&field) {
                cx.report_key(
                    Code::UnknownKey,
                    &at.key(field),
                    format!("`{field}` is not a field of a {} record", self.tool),
                    Some(format!("a {} record has {}", self.tool, fields.join(", "))),
                );
                ok = false;
            } else if !present && fields.contains(&field) {
                cx.report(
                    Code::MissingKey,
                    at,
                    format!("a {} record needs `{field}`", self.tool),
                    None,
                );
                ok = false;
            }
        }
        let sha256 = |cx: &mut Checker, field: &str, value: &str| {
            let valid = value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit());
            if !valid {
                cx.report(
                    Code::BadValue,
                    &at.key(field),
                    format!("`{field}` is a SHA-256 in hex (64 characters), found `{value}`"),
                    None,
                );
            }
            valid
        };
        let number = |cx: &mut Checker, field: &str, value: &SqlText| match value.0.parse::<i64>() {
            Ok(n) if n >= 0 => Some(n),
            _ => {
                cx.report(
                    Code::BadValue,
                    &at.key(field),
                    format!("`{field}` is a whole number, found `{}`", value.0),
                    None,
                );
                None
            }
        };
        if !ok {
            return None;
        }
        let entry = match self.tool.as_str() {
            "drizzle" => {
                let hash = self.hash?;
                let created_at = number(cx, "created_at", &self.created_at?);
                let valid = sha256(cx, "hash", &hash);
                Entry::Drizzle {
                    hash,
                    created_at: created_at.filter(|_| valid)?,
                }
            }
            "prisma" => {
                let checksum = self.checksum?;
                sha256(cx, "checksum", &checksum).then_some(())?;
                Entry::Prisma {
                    name: self.name?,
                    checksum,
                }
            }
            "golang-migrate" => Entry::GolangMigrate {
                version: number(cx, "version", &self.version?)?,
            },
            "goose" => Entry::Goose {
                version: number(cx, "version", &self.version?)?,
            },
            "dbmate" => Entry::Dbmate {
                version: self.version?.0,
            },
            _ => Entry::SqlMigrate { id: self.id? },
        };
        let (default_schema, default_table) = entry.default_table();
        let table_at = at.key("table");
        let (schema, table) = match self.table.as_deref().map(|t| t.split_once('.')) {
            None => (
                default_schema.map(|s| Ident::trusted(s.into())),
                Ident::trusted(default_table.into()),
            ),
            Some(None) => (None, cx.ident(&table_at, self.table.as_deref()?)),
            Some(Some((schema, table))) => (
                Some(cx.ident(&table_at, schema)),
                cx.ident(&table_at, table),
            ),
        };
        Some(Record {
            entry,
            schema,
            table,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::check_text;
    use std::path::Path;

    fn checked(record: &str) -> (Option<Record>, Vec<String>) {
        let text = format!("record:\n{record}changes:\n  - add_index: {{ table: t, name: t_a_idx, columns: [a] }}\n");
        let (plan, findings) = check_text(Path::new("p.yaml"), &text);
        (
            plan.and_then(|p| p.record),
            findings.iter().map(ToString::to_string).collect(),
        )
    }

    #[test]
    fn each_tools_fields_and_table() {
        let hash = "ab".repeat(32);
        let (record, findings) = checked(&format!(
            "  tool: drizzle\n  hash: {hash}\n  created_at: 1763800000000\n"
        ));
        assert_eq!(findings, Vec::<String>::new());
        let record = record.unwrap();
        assert_eq!(
            record.entry,
            Entry::Drizzle {
                hash,
                created_at: 1763800000000
            }
        );
        assert_eq!(record.schema.unwrap().as_str(), "drizzle");
        assert_eq!(record.table.as_str(), "__drizzle_migrations");

        let (record, _) =
            checked("  tool: goose\n  version: 20261123090000\n  table: ops.goose_versions\n");
        let record = record.unwrap();
        assert_eq!(
            record.entry,
            Entry::Goose {
                version: 20261123090000
            }
        );
        assert_eq!(record.schema.unwrap().as_str(), "ops");
        assert_eq!(record.table.as_str(), "goose_versions");
    }

    #[test]
    fn a_wrong_record_is_a_finding_at_its_field() {
        let (record, findings) =
            checked("  tool: prisma\n  name: 1_init\n  checksum: abc\n  version: 3\n");
        assert!(record.is_none());
        assert_eq!(
            findings,
            [
                "p.yaml:5:3: error[E102]: `version` is not a field of a prisma record (at record.version)",
            ]
        );
        let (_, findings) = checked("  tool: flyway\n  version: 3\n");
        assert!(
            findings[0].contains("switchback does not keep the bookkeeping of `flyway`"),
            "{findings:?}"
        );
        let (_, findings) = checked("  tool: prisma\n  name: 1_init\n  checksum: abc\n");
        assert!(
            findings[0].contains("`checksum` is a SHA-256 in hex (64 characters), found `abc`"),
            "{findings:?}"
        );
    }
}
