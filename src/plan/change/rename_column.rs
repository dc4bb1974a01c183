//! `rename_column`: the new name arrives as a second column kept equal to the old one by a
//! two-way trigger, so the old application (writing `from`) and the new one (writing `to`)
//! run side by side. The old column's NOT NULL, CHECKs, foreign keys and indexes are rebuilt
//! on the new one without blocking writes; contract drops the old column.

use crate::pg::catalog::PartitionKey;
use crate::pg::lock::LockMode;
use crate::plan::change::column_pair::{
    copy_column_objects, default_of, finish_column_objects, key_refuses, move_default_to_trigger,
    release_incoming_foreign_keys, validate_incoming_foreign_keys,
};
use crate::plan::change::{valid_if_clean, ChangeKind, ColumnNeed, Footprint, OnPartitioned};
use crate::plan::check::{Checker, Ident};
use crate::plan::diagnostic::Code;
use crate::plan::expand::{Expansion, SyncRule};
use crate::plan::live::{Probe, Walk};
use crate::plan::revert::{self, Before, Irreversible, Left};
use crate::plan::source::FieldPath;
use crate::plan::sql::Work;
use crate::plan::step::{Assignment, Phase, Records};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping with table, from and to")]
pub struct Raw {
    table: String,
    from: String,
    to: String,
}

#[derive(Debug, Clone)]
pub struct RenameColumn {
    pub table: Ident,
    pub from: Ident,
    pub to: Ident,
}

impl ChangeKind for RenameColumn {
    type Raw = Raw;

    fn check(raw: Raw, at: &FieldPath, cx: &mut Checker) -> Option<Self> {
        let before = cx.error_count();
        let table = cx.ident(&at.key("table"), &raw.table);
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
        valid_if_clean(cx, before, || Some(RenameColumn { table, from, to }))
    }

    fn footprint(&self) -> Footprint {
        Footprint {
            table: Some(self.table.clone()),
            uses: vec![self.from.clone()],
            reads: vec![self.from.clone()],
            writes: vec![self.to.clone()],
            creates: vec![self.to.clone()],
            removes: vec![(self.from.clone(), format!("renamed to `{}`", self.to))],
            ..Footprint::default()
        }
    }

    fn catalog_columns(&self) -> Vec<ColumnNeed> {
        vec![ColumnNeed {
            moves: true,
            ..ColumnNeed::settings(&self.table, &self.from)
        }]
    }

    fn expand(&self, x: &mut Expansion) {
        let table = x.table(&self.table);
        let facts = x.column_facts(&self.table, &self.from);
        let (from, to) = (self.from.quoted(), self.to.quoted());
        let sql_type = facts.map_or(format!("<type of {from}>"), |f| f.sql_type.clone());
        x.step(
            "add_column",
            Phase::Expand,
            format!("add column {to} beside {from}"),
            Some(&self.table),
        )
        .sql(
            format!("ALTER TABLE {table} ADD COLUMN {to} {sql_type}"),
            LockMode::AccessExclusive,
            &table,
            Work::Instant,
        )
        .undo(
            format!("ALTER TABLE {table} DROP COLUMN IF EXISTS {to}"),
            LockMode::AccessExclusive,
            &table,
        );
        move_default_to_trigger(x, &self.table, &self.from, facts);
        x.sync(
            &self.table,
            SyncRule::Pair {
                old: self.from.clone(),
                new: self.to.clone(),
                up: format!("NEW.{from}"),
                down: format!("NEW.{to}"),
                default: default_of(&self.from, facts),
            },
        );
        let differs = format!("{to} IS DISTINCT FROM {from}");
        x.backfill(
            &self.table,
            Assignment {
                column: self.to.to_string(),
                value: from.clone(),
                when: Some(differs.clone()),
                verify: differs,
                records: Records::Nothing,
            },
        );
        copy_column_objects(x, &self.table, &self.from, &self.to);
        let nn = crate::pg::quote::ident(&x.helper_name("nn", &self.table, &self.to));
        let schema = x.schema().to_owned();
        let partitions = x.partitions(&self.table).map(<[_]>::to_vec);
        let step = x.step(
            "drop_old_column",
            Phase::Contract,
            format!("drop {from}; {to} takes over its constraints and default"),
            Some(&self.table),
        );
        release_incoming_foreign_keys(step, facts);
        step.sql(
            format!("ALTER TABLE {table} DROP COLUMN {from}"),
            LockMode::AccessExclusive,
            &table,
            Work::Instant,
        );
        finish_column_objects(
            step,
            &table,
            &schema,
            &self.from,
            &self.to,
            &nn,
            facts,
            partitions.as_deref(),
        );
        validate_incoming_foreign_keys(x, &table, &self.from, &self.to, facts);
    }

    fn on_partitioned_table(&self, key: &PartitionKey) -> OnPartitioned {
        key_refuses(key, &self.from)
    }

    fn reverse(&self, _: Left, _: &Before) -> Result<Vec<serde_yaml::Value>, Irreversible> {
        Ok(vec![revert::change(
            "rename_column",
            &[
                ("table", self.table.as_str().into()),
                ("from", self.to.as_str().into()),
                ("to", self.from.as_str().into()),
            ],
        )])
    }

    fn check_live(&self, walk: &mut Walk, at: &FieldPath) {
        if walk.column(&self.table, &self.from, &at.key("table"), &at.key("from")) {
            walk.no_column(&self.table, self.to.as_str(), &at.key("to"));
            walk.live_column_probe(&self.table, &self.from, |table, column| Probe::Dependents {
                table,
                column: Some(column),
                how: "renamed",
                at: at.key("from"),
            });
        }
        let sql_type = walk.column_type(&self.table, &self.from);
        walk.drop_column(&self.table, &self.from);
        walk.add_column(&self.table, self.to.as_str(), &sql_type);
    }
}
