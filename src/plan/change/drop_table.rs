//! `drop_table`: nothing at expand; dropped at contract, once no deployed code uses it.

use crate::pg::catalog::PartitionKey;
use crate::pg::lock::LockMode;
use crate::plan::change::{
    valid_if_clean, ChangeKind, Condition, Footprint, Object, OnPartitioned,
};
use crate::plan::check::{Checker, Ident};
use crate::plan::expand::Expansion;
use crate::plan::live::{Probe, Walk};
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
pub struct DropTable {
    pub name: Ident,
    /// DROP TABLE IF EXISTS: skipped when the table is not there.
    pub if_exists: bool,
}

impl ChangeKind for DropTable {
    type Raw = Raw;

    fn check(raw: Raw, at: &FieldPath, cx: &mut Checker) -> Option<Self> {
        let before = cx.error_count();
        let name = cx.ident(&at.key("name"), &raw.name);
        valid_if_clean(cx, before, || {
            Some(DropTable {
                name,
                if_exists: raw.if_exists,
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
    }

    fn on_partitioned_table(&self, _key: &PartitionKey) -> OnPartitioned {
        OnPartitioned::Runs(
            "contract drops it with its partitions; a partition detached before then is left as a table of its own",
        )
    }

    fn condition(&self) -> Option<Condition> {
        self.if_exists
            .then(|| Condition::if_exists(Object::Relation(self.name.clone())))
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
