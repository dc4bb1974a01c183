//! `drop_index`: DROP INDEX CONCURRENTLY at contract, once no deployed query needs it; a
//! partitioned table's index, which PostgreSQL cannot drop concurrently, by a plain DROP INDEX
//! (catalog only, a brief ACCESS EXCLUSIVE lock).

use crate::pg::lock::LockMode;
use crate::pg::quote;
use crate::plan::change::{valid_if_clean, ChangeKind, Condition, Footprint, Object};
use crate::plan::check::did_you_mean;
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
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with name and optionally if_exists"
)]
pub struct Raw {
    name: String,
    #[serde(default)]
    if_exists: bool,
}

#[derive(Debug, Clone)]
pub struct DropIndex {
    pub name: Ident,
    /// DROP INDEX IF EXISTS: skipped when the index is not there.
    pub if_exists: bool,
}

impl ChangeKind for DropIndex {
    type Raw = Raw;

    fn check(raw: Raw, at: &FieldPath, cx: &mut Checker) -> Option<Self> {
        let before = cx.error_count();
        let name = cx.ident(&at.key("name"), &raw.name);
        valid_if_clean(cx, before, || {
            Some(DropIndex {
                name,
                if_exists: raw.if_exists,
            })
        })
    }

    fn footprint(&self) -> Footprint {
        Footprint::default()
    }

    fn expand(&self, x: &mut Expansion) {
        let index = quote::qualified(x.plan.schema.as_str(), self.name.as_str());
        let table = format!("<table of {index}>");
        // Which kind of index it is, the catalog says when the step runs: the plan names only
        // the index.
        let partitioned = format!(
            "EXISTS (SELECT FROM pg_class WHERE oid = to_regclass({}) AND relkind = 'I')",
            quote::literal(&index)
        );
        x.step(
            "drop_index",
            Phase::Contract,
            format!("drop index {} concurrently", self.name.quoted()),
            None,
        )
        .outside_transaction()
        .sql(
            format!("DROP INDEX CONCURRENTLY IF EXISTS {index}"),
            LockMode::ShareUpdateExclusive,
            &table,
            Work::Instant,
        )
        .when("it is a plain table's index")
        .only_if(format!("NOT {partitioned}"))
        // A partitioned table's index cannot be dropped CONCURRENTLY, nor its partitions'
        // indexes apart from it: one DROP, catalog only, under the lock_timeout's retries.
        .sql(
            format!("DROP INDEX IF EXISTS {index}"),
            LockMode::AccessExclusive,
            &table,
            Work::Instant,
        )
        .when("it is a partitioned table's index, which PostgreSQL cannot drop concurrently")
        .only_if(partitioned);
    }

    fn condition(&self) -> Option<Condition> {
        self.if_exists
            .then(|| Condition::if_exists(Object::Relation(self.name.clone())))
    }

    fn catalog_indexes(&self) -> Vec<Ident> {
        vec![self.name.clone()]
    }

    /// The index rebuilt concurrently from the definition its plan's first run read (by the
    /// partitioned recipe on a partitioned table, each partition's under the name it had).
    fn reverse(&self, _: Left, before: &Before) -> Result<Vec<serde_yaml::Value>, Irreversible> {
        let definition = before.facts.index(self.name.as_str()).ok_or_else(|| {
            Irreversible::Because(format!(
                "the plan's first run did not record the definition of index `{}`",
                self.name
            ))
        })?;
        let mut fields = vec![
            ("name", self.name.as_str().into()),
            ("definition", definition.definition.as_str().into()),
        ];
        if !definition.partitions.is_empty() {
            let names: serde_yaml::Mapping = definition
                .partitions
                .iter()
                .map(|(partition, index)| (partition.as_str().into(), index.as_str().into()))
                .collect();
            fields.push(("partitions", names.into()));
        }
        Ok(vec![revert::change("restore_index", &fields)])
    }

    fn check_live(&self, walk: &mut Walk, at: &FieldPath) {
        if !walk.model.relations.contains(self.name.as_str()) && walk.opaque.is_empty() {
            let names: Vec<&String> = walk.model.relations.iter().collect();
            let help = did_you_mean(self.name.as_str(), &names);
            walk.cx.report(
                Code::Missing,
                &at.key("name"),
                format!(
                    "index `{}` does not exist in schema `{}`",
                    self.name, walk.schema
                ),
                help,
            );
        }
        walk.model.relations.remove(self.name.as_str());
    }
}
