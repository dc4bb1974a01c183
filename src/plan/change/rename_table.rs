//! `rename_table`: the table takes its new name and a view with the old name takes its
//! place in the same transaction. A plain `SELECT *` view over one table is auto-updatable,
//! so the old application keeps reading and writing through it; contract drops the view.

use crate::pg::catalog::PartitionKey;
use crate::pg::lock::LockMode;
use crate::plan::change::{valid_if_clean, ChangeKind, Footprint, OnPartitioned};
use crate::plan::check::{Checker, Ident};
use crate::plan::diagnostic::Code;
use crate::plan::expand::Expansion;
use crate::plan::live::Walk;
use crate::plan::revert::{self, Before, Irreversible, Left};
use crate::plan::source::FieldPath;
use crate::plan::sql::Work;
use crate::plan::step::Phase;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping with from and to")]
pub struct Raw {
    from: String,
    to: String,
}

#[derive(Debug, Clone)]
pub struct RenameTable {
    pub from: Ident,
    pub to: Ident,
}

impl ChangeKind for RenameTable {
    type Raw = Raw;

    fn check(raw: Raw, at: &FieldPath, cx: &mut Checker) -> Option<Self> {
        let before = cx.error_count();
        let from = cx.ident(&at.key("from"), &raw.from);
        let to = cx.ident(&at.key("to"), &raw.to);
        if from == to {
            cx.report(
                Code::NoOpChange,
                &at.key("to"),
                format!("`from` and `to` are both `{to}`"),
                None,
            );
        }
        valid_if_clean(cx, before, || Some(RenameTable { from, to }))
    }

    fn footprint(&self) -> Footprint {
        Footprint {
            other_tables: vec![self.from.clone()],
            creates_table: Some(self.to.clone()),
            removes_table: Some((self.from.clone(), format!("renamed to `{}`", self.to))),
            ..Footprint::default()
        }
    }

    fn expand(&self, x: &mut Expansion) {
        let (from, to) = (x.table(&self.from), x.table(&self.to));
        x.step(
            "rename_table",
            Phase::Expand,
            format!(
                "rename {} to {} behind a view with the old name",
                self.from.quoted(),
                self.to.quoted()
            ),
            Some(&self.to),
        )
        .sql(
            format!("ALTER TABLE {from} RENAME TO {}", self.to.quoted()),
            LockMode::AccessExclusive,
            &from,
            Work::Instant,
        )
        .sql(
            format!("CREATE VIEW {from} AS SELECT * FROM {to}"),
            LockMode::AccessShare,
            &to,
            Work::Instant,
        )
        .undo(
            format!("DROP VIEW IF EXISTS {from}"),
            LockMode::AccessExclusive,
            &from,
        )
        .undo(
            format!(
                "ALTER TABLE IF EXISTS {to} RENAME TO {}",
                self.from.quoted()
            ),
            LockMode::AccessExclusive,
            &to,
        );
        x.step(
            "drop_view",
            Phase::Contract,
            format!("drop the compatibility view {}", self.from.quoted()),
            Some(&self.to),
        )
        .sql(
            format!("DROP VIEW IF EXISTS {from}"),
            LockMode::AccessExclusive,
            &from,
            Work::Instant,
        );
    }

    fn on_partitioned_table(&self, _key: &PartitionKey) -> OnPartitioned {
        // A view over a partitioned table is auto-updatable too: rows written through it are
        // routed to their partitions like rows written to the table.
        OnPartitioned::Runs(
            "the parent takes the new name (its partitions keep theirs) and a view with the old name stands in for it until contract",
        )
    }

    fn reverse(&self, _: Left, _: &Before) -> Result<Vec<serde_yaml::Value>, Irreversible> {
        Ok(vec![revert::change(
            "rename_table",
            &[
                ("from", self.to.as_str().into()),
                ("to", self.from.as_str().into()),
            ],
        )])
    }

    fn check_live(&self, walk: &mut Walk, at: &FieldPath) {
        if walk.table(&self.from, &at.key("from")) {
            walk.no_relation(&self.to, &at.key("to"));
        }
        if let Some(table) = walk.model.tables.remove(self.from.as_str()) {
            walk.model.tables.insert(self.to.to_string(), table);
        }
        // The old name lives on as a view until contract.
        walk.model.relations.insert(self.to.to_string());
    }
}
