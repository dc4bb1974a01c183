//! `drop_table`: nothing at expand; at contract, once no deployed code uses it, moved into
//! the archive schema (catalog-only, its partitions with it, its foreign keys to other tables
//! dropped and recorded), or dropped for good with `archive: false`.

use crate::pg::catalog::PartitionKey;
use crate::pg::lock::LockMode;
use crate::pg::{self, quote};
use crate::plan::archive::{self, Archive};
use crate::plan::change::{
    valid_if_clean, ChangeKind, Condition, Footprint, Object, OnPartitioned,
};
use crate::plan::check::{Checker, Ident, SqlText};
use crate::plan::expand::Expansion;
use crate::plan::live::{Probe, Walk};
use crate::plan::revert::{self, Before, Irreversible, Left};
use crate::plan::source::FieldPath;
use crate::plan::sql::Work;
use crate::plan::step::{Archived, ArchivedKind, Phase};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with name and optionally if_exists, archive"
)]
pub struct Raw {
    name: String,
    #[serde(default)]
    if_exists: bool,
    archive: Option<SqlText>,
}

#[derive(Debug, Clone)]
pub struct DropTable {
    pub name: Ident,
    /// DROP TABLE IF EXISTS: skipped when the table is not there.
    pub if_exists: bool,
    /// The change's own `archive:`; None: the plan's.
    pub archive: Option<Archive>,
}

impl ChangeKind for DropTable {
    type Raw = Raw;

    fn check(raw: Raw, at: &FieldPath, cx: &mut Checker) -> Option<Self> {
        let before = cx.error_count();
        let name = cx.ident(&at.key("name"), &raw.name);
        let archive = Archive::check_own(raw.archive.as_ref(), &at.key("archive"), cx);
        valid_if_clean(cx, before, || {
            Some(DropTable {
                name,
                if_exists: raw.if_exists,
                archive: archive?,
            })
        })
    }

    fn footprint(&self) -> Footprint {
        Footprint {
            removes_table: Some((self.name.clone(), "dropped".into())),
            ..Footprint::default()
        }
    }

    fn expand(&self, x: &mut Expansion) {
        let table = x.table(&self.name);
        let Archive::Keep(keep) = x.archive(self.archive) else {
            x.step(
                "drop_table",
                Phase::Contract,
                format!("drop table {}", self.name.quoted()),
                Some(&self.name),
            )
            .sql(
                format!(
                    "DROP TABLE {}{table}",
                    if self.if_exists { "IF EXISTS " } else { "" }
                ),
                LockMode::AccessExclusive,
                &table,
                Work::Instant,
            );
            return;
        };
        let name = x.archived_name(&[self.name.as_str()]);
        let kept_in = quote::qualified(archive::SCHEMA, &name);
        let object = format!("{}.{}", x.schema(), self.name.as_str());
        let schema = x.schema().to_owned();
        let change = x.current_change();
        let step = x.step(
            "drop_table",
            Phase::Contract,
            format!(
                "move table {} into the archive as {kept_in}",
                self.name.quoted()
            ),
            Some(&self.name),
        );
        step.sql_without_lock(pg::archive::ensure_schema(archive::SCHEMA))
            .sql(
                pg::archive::refuse_dependents(&table),
                LockMode::AccessShare,
                &table,
                Work::Instant,
            )
            .sql(
                pg::archive::drop_outgoing_foreign_keys(&table),
                LockMode::AccessExclusive,
                &table,
                Work::Instant,
            );
        for sql in pg::archive::move_table(&schema, &table, &name, archive::SCHEMA, &[]) {
            step.sql(sql, LockMode::AccessExclusive, &table, Work::Instant);
        }
        step.archived.push(Archived {
            change,
            kind: ArchivedKind::Table,
            object,
            kept_in,
            keep,
            definition_sql: pg::archive::table_definition(&table),
        });
    }

    fn archives(&self) -> Option<(Option<Archive>, String)> {
        Some((self.archive, format!("table `{}`", self.name)))
    }

    fn on_partitioned_table(&self, _key: &PartitionKey) -> OnPartitioned {
        OnPartitioned::Runs(
            "contract moves it with its partitions into the archive (drops them with archive: false); a partition detached before then is left as a table of its own",
        )
    }

    fn condition(&self) -> Option<Condition> {
        self.if_exists
            .then(|| Condition::if_exists(Object::Relation(self.name.clone())))
    }

    /// The table back from the archive, with the foreign keys it had (and, for a partitioned
    /// one, the partitions its first run found, to put them back on).
    fn reverse(&self, left: Left, before: &Before) -> Result<Vec<serde_yaml::Value>, Irreversible> {
        let kept = left.kept(&format!("table `{}`", self.name))?;
        let foreign_keys =
            serde_yaml::to_value(&kept.definition["foreign_keys"]).unwrap_or_default();
        let mut fields = vec![
            ("name", self.name.as_str().into()),
            ("from", kept.kept_in.into()),
            ("foreign_keys", foreign_keys),
        ];
        if let Some(partitions) = before.facts.partitions(self.name.as_str()) {
            fields.push((
                "partitions",
                serde_yaml::to_value(partitions).unwrap_or_default(),
            ));
        }
        Ok(vec![revert::change("restore_table", &fields)])
    }

    fn check_live(&self, walk: &mut Walk, at: &FieldPath) {
        if walk.table(&self.name, &at.key("name"))
            && walk.model.table(self.name.as_str()).is_some_and(|t| t.live)
        {
            walk.probes.push(Probe::Dependents {
                table: self.name.to_string(),
                column: None,
                how: "dropped",
                at: at.key("name"),
            });
        }
        walk.model.tables.remove(self.name.as_str());
        walk.model.relations.remove(self.name.as_str());
    }
}
