//! `restore_table`: the reverse of an archived `drop_table`, written by `switchback revert`.
//! Expand moves the table back from the archive schema under its name, its partitions (each
//! into the schema it lived in) and sequences with it (catalog-only), then puts back the
//! foreign keys it had to other tables NOT VALID + VALIDATE (a partitioned table's on each
//! partition, then adopted by its own); abort moves it into the archive again.

use crate::pg::facts::Partition;
use crate::pg::lock::LockMode;
use crate::pg::{self, quote};
use crate::plan::archive;
use crate::plan::change::restore_column::{foreign_key, validated};
use crate::plan::change::{valid_if_clean, ChangeKind, Footprint};
use crate::plan::check::{Checker, Ident};
use crate::plan::diagnostic::Code;
use crate::plan::expand::Expansion;
use crate::plan::live::Walk;
use crate::plan::source::FieldPath;
use crate::plan::sql::Work;
use crate::plan::step::Phase;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with name, from and optionally foreign_keys, partitions"
)]
pub struct Raw {
    name: String,
    from: String,
    #[serde(default)]
    foreign_keys: Vec<RawForeignKey>,
    #[serde(default)]
    partitions: Vec<Partition>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping with name and definition")]
pub struct RawForeignKey {
    name: String,
    definition: String,
}

#[derive(Debug, Clone)]
pub struct RestoreTable {
    pub name: Ident,
    /// The archived table's name within the archive schema.
    pub archived: String,
    /// Its foreign keys to other tables: (name, `FOREIGN KEY (...) REFERENCES ...`).
    pub foreign_keys: Vec<(Ident, String)>,
    /// Its partitions when it is partitioned, which come back with it, each to its schema:
    /// its foreign keys are put back on each, then adopted by its own.
    pub partitions: Vec<Partition>,
}

impl ChangeKind for RestoreTable {
    type Raw = Raw;

    fn check(raw: Raw, at: &FieldPath, cx: &mut Checker) -> Option<Self> {
        let before = cx.error_count();
        let name = cx.ident(&at.key("name"), &raw.name);
        let prefix = format!("{}.", quote::ident(archive::SCHEMA));
        let archived = raw
            .from
            .strip_prefix(&prefix)
            .and_then(|n| n.strip_prefix('"')?.strip_suffix('"'))
            .map(|n| n.replace("\"\"", "\""));
        archive::check_relation(&raw.from, &at.key("from"), cx);
        let foreign_keys: Vec<(Ident, String)> = raw
            .foreign_keys
            .iter()
            .enumerate()
            .map(|(i, fk)| {
                let at = at.key("foreign_keys").index(i);
                if !fk.definition.starts_with("FOREIGN KEY ") {
                    cx.report(
                        Code::BadValue,
                        &at.key("definition"),
                        format!("`{}` is not a foreign key", fk.definition),
                        None,
                    );
                }
                (cx.ident(&at.key("name"), &fk.name), fk.definition.clone())
            })
            .collect();
        valid_if_clean(cx, before, || {
            Some(RestoreTable {
                name,
                archived: archived?,
                foreign_keys,
                partitions: raw.partitions,
            })
        })
    }

    fn footprint(&self) -> Footprint {
        Footprint {
            creates_table: Some(self.name.clone()),
            ..Footprint::default()
        }
    }

    fn expand(&self, x: &mut Expansion) {
        let schema = x.schema().to_owned();
        let table = x.table(&self.name);
        let kept_in = quote::qualified(archive::SCHEMA, &self.archived);
        let step = x.step(
            "restore_table",
            Phase::Expand,
            format!("move table {} back from {kept_in}", self.name.quoted()),
            Some(&self.name),
        );
        for sql in pg::archive::move_table(
            archive::SCHEMA,
            &kept_in,
            self.name.as_str(),
            &schema,
            &self.partitions,
        ) {
            step.sql(sql, LockMode::AccessExclusive, &kept_in, Work::Instant);
        }
        for sql in pg::archive::move_table(&schema, &table, &self.archived, archive::SCHEMA, &[]) {
            step.undo(sql, LockMode::AccessExclusive, &table);
        }
        // PostgreSQL refuses NOT VALID on a partitioned table before 18: its partitions'.
        for (i, (name, definition)) in self.foreign_keys.iter().enumerate() {
            match self.partitions.as_slice() {
                [] => validated(x, &self.name, &i.to_string(), &name.quoted(), definition),
                partitions => foreign_key(x, &self.name, i, name, definition, partitions),
            }
        }
    }

    fn check_live(&self, walk: &mut Walk, at: &FieldPath) {
        walk.no_relation(&self.name, &at.key("name"));
        walk.model.relations.insert(self.name.to_string());
        // Its columns are not read before it is back: what uses it is not checked.
        walk.opaque.insert(self.name.to_string());
    }
}
