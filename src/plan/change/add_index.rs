//! `add_index`: CREATE INDEX CONCURRENTLY, which builds without blocking writes. A failed or
//! interrupted build leaves an INVALID index behind; the step drops it and builds again.

use crate::pg::catalog::PartitionKey;
use crate::pg::lock::LockMode;
use crate::pg::quote;
use crate::plan::change::{
    partitions, valid_if_clean, ChangeKind, Condition, Footprint, Object, OnPartitioned,
};
use crate::plan::check::{Checker, Ident, SqlText};
use crate::plan::expand::Expansion;
use crate::plan::live::Walk;
use crate::plan::revert::{self, Before, Irreversible, Left};
use crate::plan::source::FieldPath;
use crate::plan::sql::Expr;
use crate::plan::step::Phase;
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IndexMethod {
    Btree,
    Hash,
    Gist,
    Spgist,
    Gin,
    Brin,
}

impl IndexMethod {
    fn sql(self) -> &'static str {
        match self {
            IndexMethod::Btree => "btree",
            IndexMethod::Hash => "hash",
            IndexMethod::Gist => "gist",
            IndexMethod::Spgist => "spgist",
            IndexMethod::Gin => "gin",
            IndexMethod::Brin => "brin",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with table, name, columns and optionally unique, where, method, if_not_exists"
)]
pub struct Raw {
    table: String,
    name: String,
    columns: Vec<String>,
    #[serde(default)]
    unique: bool,
    #[serde(rename = "where")]
    predicate: Option<SqlText>,
    method: Option<IndexMethod>,
    #[serde(default)]
    if_not_exists: bool,
}

#[derive(Debug, Clone)]
pub struct AddIndex {
    pub table: Ident,
    pub name: Ident,
    pub columns: Vec<Ident>,
    pub unique: bool,
    pub predicate: Option<Expr>,
    pub method: Option<IndexMethod>,
    /// CREATE INDEX IF NOT EXISTS: skipped when the name is taken (refused when it is an
    /// INVALID index, which PostgreSQL would keep as it is).
    pub if_not_exists: bool,
    at: FieldPath,
}

impl ChangeKind for AddIndex {
    type Raw = Raw;

    fn check(raw: Raw, at: &FieldPath, cx: &mut Checker) -> Option<Self> {
        let before = cx.error_count();
        let table = cx.ident(&at.key("table"), &raw.table);
        let name = cx.ident(&at.key("name"), &raw.name);
        let columns = cx.idents(&at.key("columns"), &raw.columns);
        let predicate = raw.predicate.and_then(|p| cx.expr(&at.key("where"), &p));
        valid_if_clean(cx, before, || {
            Some(AddIndex {
                table,
                name,
                columns,
                unique: raw.unique,
                predicate,
                method: raw.method,
                if_not_exists: raw.if_not_exists,
                at: at.clone(),
            })
        })
    }

    fn footprint(&self) -> Footprint {
        let mut uses = self.columns.clone();
        uses.extend(
            self.predicate
                .iter()
                .flat_map(|p| p.column_names())
                .map(|c| Ident::trusted(c.to_owned())),
        );
        Footprint {
            table: Some(self.table.clone()),
            uses,
            names: vec![(self.name.clone(), self.at.key("name"))],
            ..Footprint::default()
        }
    }

    fn expand(&self, x: &mut Expansion) {
        let table = x.table(&self.table);
        let index = self.name.quoted();
        let qualified_index = quote::qualified(x.plan.schema.as_str(), self.name.as_str());
        let unique = if self.unique { "UNIQUE " } else { "" };
        let method = self
            .method
            .map(|m| format!(" USING {}", m.sql()))
            .unwrap_or_default();
        let predicate = self
            .predicate
            .as_ref()
            .map(|p| format!(" WHERE {}", p.text))
            .unwrap_or_default();
        let columns =
            quote::ident_list(&self.columns.iter().map(Ident::as_str).collect::<Vec<_>>());
        let definition = |on: &str| format!("{on}{method} ({columns}){predicate}");
        let partitions = x.partitions(&self.table);
        let schema = x.plan.schema.to_string();
        let step = x
            .step(
                "create_index",
                Phase::Expand,
                format!("build index {index} concurrently"),
                Some(&self.table),
            )
            .outside_transaction();
        let Some(partitions) = partitions else {
            step.index_build(
                format!(
                    "CREATE {unique}INDEX CONCURRENTLY {index} {}",
                    definition(&format!("ON {table}"))
                ),
                &qualified_index,
                &table,
            )
            .undo(
                format!("DROP INDEX CONCURRENTLY IF EXISTS {qualified_index}"),
                LockMode::ShareUpdateExclusive,
                &table,
            );
            return;
        };
        // PostgreSQL cannot build a partitioned table's index CONCURRENTLY: its recipe instead.
        // A partition attached meanwhile gets its index from the ATTACH itself.
        partitions::build_index(
            step,
            &table,
            &schema,
            self.name.as_str(),
            format!(
                "CREATE {unique}INDEX IF NOT EXISTS {index} {}",
                definition(&format!("ON ONLY {table}"))
            ),
            |child| {
                format!(
                    "CREATE {unique}INDEX CONCURRENTLY {} {}",
                    child.name,
                    definition(&format!("ON {}", child.table))
                )
            },
            partitions.into(),
        );
    }

    fn on_partitioned_table(&self, key: &PartitionKey) -> OnPartitioned {
        const HOW: &str = "the index is built ON ONLY the parent, then CONCURRENTLY on each partition and attached; the parent's index is valid once all are";
        if self.unique {
            // Checked here: PostgreSQL would say so only at the first statement, too late
            // for a plan that already ran others.
            OnPartitioned::unique(key, &self.columns, HOW)
        } else {
            OnPartitioned::Runs(HOW)
        }
    }

    fn condition(&self) -> Option<Condition> {
        self.if_not_exists
            .then(|| Condition::if_not_exists(Object::Relation(self.name.clone())))
    }

    fn reverse(&self, _: Left, _: &Before) -> Result<Vec<serde_yaml::Value>, Irreversible> {
        Ok(vec![revert::change(
            "drop_index",
            &[("name", self.name.as_str().into())],
        )])
    }

    fn check_live(&self, walk: &mut Walk, at: &FieldPath) {
        walk.columns(
            &self.table,
            &self.columns,
            &at.key("table"),
            &at.key("columns"),
        );
        walk.no_relation(&self.name, &at.key("name"));
        walk.model.relations.insert(self.name.to_string());
        if self.unique && self.predicate.is_none() {
            walk.add_unique_set(&self.table, &self.columns);
        }
    }
}
