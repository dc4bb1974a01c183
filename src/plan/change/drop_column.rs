//! `drop_column`: nothing at expand (the old application still reads the column); at
//! contract, once the application that no longer uses it is deployed, its values are copied
//! with the table's key into an archive table (batched, resumable), then it is dropped
//! (catalog-only) with its definition recorded. `archive: false` drops it for good.

use crate::pg::catalog::PartitionKey;
use crate::pg::lock::LockMode;
use crate::plan::archive::Archive;
use crate::plan::change::{
    valid_if_clean, ChangeKind, Condition, Footprint, Object, OnPartitioned,
};
use crate::plan::check::{Checker, Ident, SqlText};
use crate::plan::expand::Expansion;
use crate::plan::live::Walk;
use crate::plan::revert::{self, Before, Irreversible, Left};
use crate::plan::source::FieldPath;
use crate::plan::sql::Work;
use crate::plan::step::Phase;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with table, column and optionally if_exists, archive"
)]
pub struct Raw {
    table: String,
    column: String,
    #[serde(default)]
    if_exists: bool,
    archive: Option<SqlText>,
}

#[derive(Debug, Clone)]
pub struct DropColumn {
    pub table: Ident,
    pub column: Ident,
    /// DROP COLUMN IF EXISTS: skipped when the column is not there.
    pub if_exists: bool,
    /// The change's own `archive:`; None: the plan's.
    pub archive: Option<Archive>,
}

impl ChangeKind for DropColumn {
    type Raw = Raw;

    fn check(raw: Raw, at: &FieldPath, cx: &mut Checker) -> Option<Self> {
        let before = cx.error_count();
        let table = cx.ident(&at.key("table"), &raw.table);
        let column = cx.ident(&at.key("column"), &raw.column);
        let archive = Archive::check_own(raw.archive.as_ref(), &at.key("archive"), cx);
        valid_if_clean(cx, before, || {
            Some(DropColumn {
                table,
                column,
                if_exists: raw.if_exists,
                archive: archive?,
            })
        })
    }

    fn footprint(&self) -> Footprint {
        Footprint {
            table: Some(self.table.clone()),
            uses: vec![self.column.clone()],
            removes: vec![(self.column.clone(), "dropped".into())],
            ..Footprint::default()
        }
    }

    fn expand(&self, x: &mut Expansion) {
        let table = x.table(&self.table);
        let col = self.column.quoted();
        // Also in the statement: the column may go between the first run and contract.
        let if_exists = if self.if_exists { "IF EXISTS " } else { "" };
        let archive = match x.archive(self.archive) {
            Archive::Keep(keep) => Some(x.archive_column(
                &self.table,
                &self.column,
                keep,
                None,
                None,
                format!("copy column {col} with the table's key"),
            )),
            Archive::Off => None,
        };
        let title = match &archive {
            Some(a) => format!("drop column {col} (its values kept in {})", a.kept_in),
            None => format!("drop column {col}"),
        };
        x.step("drop_column", Phase::Contract, title, Some(&self.table))
            .sql(
                format!("ALTER TABLE {table} DROP COLUMN {if_exists}{col}"),
                LockMode::AccessExclusive,
                &table,
                Work::Instant,
            )
            .archived
            .extend(archive);
    }

    fn archives(&self) -> Option<(Option<Archive>, String)> {
        Some((self.archive, format!("`{}`.`{}`", self.table, self.column)))
    }

    fn on_partitioned_table(&self, _key: &PartitionKey) -> OnPartitioned {
        OnPartitioned::Runs(
            "the column's values are copied into the archive walking the partitioned key, then it is dropped on the parent at contract, and so from every partition",
        )
    }

    fn condition(&self) -> Option<Condition> {
        self.if_exists.then(|| {
            Condition::if_exists(Object::Column {
                table: self.table.clone(),
                column: self.column.clone(),
            })
        })
    }

    /// The column back with its definition, its values from the archive.
    fn reverse(&self, left: Left, _: &Before) -> Result<Vec<serde_yaml::Value>, Irreversible> {
        let kept = left.kept(&format!("`{}`.`{}`", self.table, self.column))?;
        let definition = kept.definition;
        let yaml = |key: &str| serde_yaml::to_value(&definition[key]).unwrap_or_default();
        let Some(sql_type) = definition["type"].as_str() else {
            return Err(Irreversible::Because(format!(
                "the archive of `{}`.`{}` records no type",
                self.table, self.column
            )));
        };
        let mut fields = vec![
            ("table", self.table.as_str().into()),
            ("column", self.column.as_str().into()),
            ("type", sql_type.into()),
            ("from", kept.kept_in.into()),
            ("not_null", yaml("not_null")),
        ];
        if let Some(default) = definition["default"].as_str() {
            fields.push(("default", default.into()));
        }
        fields.push(("indexes", yaml("indexes")));
        fields.push(("constraints", yaml("constraints")));
        Ok(vec![revert::change("restore_column", &fields)])
    }

    fn check_live(&self, walk: &mut Walk, at: &FieldPath) {
        if walk.existing_column(&self.table, &self.column, at) {
            walk.dependents(&self.table, &self.column, "dropped", at.key("column"));
        }
        walk.drop_column(&self.table, &self.column);
    }
}
