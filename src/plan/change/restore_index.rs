//! `restore_index`: the reverse of `drop_index`, written by `switchback revert` from the
//! definition the plan's first run recorded. Expand builds the index CONCURRENTLY; on a
//! partitioned table by PostgreSQL's recipe (the parent's `ON ONLY`, each partition's
//! CONCURRENTLY, attached one by one), which a single statement cannot do, each partition's
//! under the name it had (`partitions`, recorded too). Abort drops it.

use crate::pg::catalog::PartitionKey;
use crate::plan::change::{partitions, valid_if_clean, ChangeKind, Footprint, OnPartitioned};
use crate::plan::check::{Checker, Ident};
use crate::plan::diagnostic::Code;
use crate::plan::expand::Expansion;
use crate::plan::live::Walk;
use crate::plan::revert;
use crate::plan::source::FieldPath;
use crate::plan::sql;
use crate::plan::step::Phase;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with name, definition and optionally partitions"
)]
pub struct Raw {
    name: String,
    definition: String,
    /// Each partition's index, by partition name.
    #[serde(default)]
    partitions: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct RestoreIndex {
    pub name: Ident,
    /// The table the definition names, in the plan's schema.
    pub table: Ident,
    /// `CREATE [UNIQUE] INDEX CONCURRENTLY name ON table ...`
    pub build: String,
    /// Each partition's index, by partition name; a partition not named gets
    /// `<name>_<partition>`.
    pub partitions: BTreeMap<String, String>,
}

impl ChangeKind for RestoreIndex {
    type Raw = Raw;

    fn check(raw: Raw, at: &FieldPath, cx: &mut Checker) -> Option<Self> {
        let before = cx.error_count();
        let name = cx.ident(&at.key("name"), &raw.name);
        let partitions = raw
            .partitions
            .into_iter()
            .map(|(partition, index)| {
                let at = at.key("partitions").key(&partition);
                let index = cx.ident(&at, &index).as_str().to_owned();
                (partition, index)
            })
            .collect();
        let parsed = sql::index_table(&raw.definition)
            .and_then(|table| Ok((table, revert::concurrent_build(&raw.definition)?)));
        let (table, build) = match parsed {
            Ok((table, build)) => (Some(cx.ident(&at.key("definition"), &table)), Some(build)),
            Err(why) => {
                cx.report(Code::BadValue, &at.key("definition"), why, None);
                (None, None)
            }
        };
        valid_if_clean(cx, before, || {
            Some(RestoreIndex {
                name,
                table: table?,
                build: build?,
                partitions,
            })
        })
    }

    fn footprint(&self) -> Footprint {
        Footprint {
            table: Some(self.table.clone()),
            ..Footprint::default()
        }
    }

    fn expand(&self, x: &mut Expansion) {
        let table = x.table(&self.table);
        let schema = x.schema().to_owned();
        let partitions = x.partitions(&self.table);
        let step = x
            .step(
                "build_index",
                Phase::Expand,
                format!("build index {} concurrently", self.name.quoted()),
                Some(&self.table),
            )
            .outside_transaction();
        partitions::build_index_from(
            step,
            &self.build,
            &table,
            &schema,
            self.name.as_str(),
            partitions.map(|list| partitions::Parts::named(list, &self.partitions)),
            true,
        );
    }

    fn on_partitioned_table(&self, _key: &PartitionKey) -> OnPartitioned {
        OnPartitioned::Runs("the index is made ON ONLY the parent, built CONCURRENTLY on each partition and attached, so the parent's becomes valid")
    }

    fn check_live(&self, walk: &mut Walk, at: &FieldPath) {
        walk.table(&self.table, &at.key("definition"));
        walk.no_relation(&self.name, &at.key("name"));
        walk.model.relations.insert(self.name.to_string());
    }
}
