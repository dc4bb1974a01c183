//! `add_unique`: the unique index is built CONCURRENTLY at expand; contract turns it into a
//! UNIQUE constraint with ADD CONSTRAINT ... USING INDEX, which needs no scan.

use crate::pg::catalog::PartitionKey;
use crate::pg::facts::Partition;
use crate::pg::lock::LockMode;
use crate::pg::quote;
use crate::plan::change::{partitions, valid_if_clean, ChangeKind, Footprint, OnPartitioned};
use crate::plan::check::{Checker, Ident};
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
    expecting = "a mapping with table, name and columns"
)]
pub struct Raw {
    table: String,
    name: String,
    columns: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct AddUnique {
    pub table: Ident,
    pub name: Ident,
    pub columns: Vec<Ident>,
    at: FieldPath,
}

impl ChangeKind for AddUnique {
    type Raw = Raw;

    fn check(raw: Raw, at: &FieldPath, cx: &mut Checker) -> Option<Self> {
        let before = cx.error_count();
        let table = cx.ident(&at.key("table"), &raw.table);
        let name = cx.ident(&at.key("name"), &raw.name);
        let columns = cx.idents(&at.key("columns"), &raw.columns);
        valid_if_clean(cx, before, || {
            Some(AddUnique {
                table,
                name,
                columns,
                at: at.clone(),
            })
        })
    }

    fn footprint(&self) -> Footprint {
        Footprint {
            table: Some(self.table.clone()),
            uses: self.columns.clone(),
            names: vec![(self.name.clone(), self.at.key("name"))],
            ..Footprint::default()
        }
    }

    fn expand(&self, x: &mut Expansion) {
        let columns =
            quote::ident_list(&self.columns.iter().map(Ident::as_str).collect::<Vec<_>>());
        build_and_attach(x, &self.table, self.name.as_str(), &columns, Phase::Expand);
    }

    fn on_partitioned_table(&self, key: &PartitionKey) -> OnPartitioned {
        OnPartitioned::unique(key, &self.columns, "the unique index is built CONCURRENTLY on each partition; contract makes each a UNIQUE constraint, which the parent's constraint then adopts without a scan")
    }

    /// The constraint dropped, its index with it; taken back, the index is built
    /// concurrently and the constraint attached to it (on a partitioned table, each
    /// partition's, then the parent's adopting them). Each statement is safe to run again.
    fn reverse(&self, _: Left, before: &Before) -> Result<Vec<serde_yaml::Value>, Irreversible> {
        let (table, name) = (before.table(&self.table), self.name.quoted());
        let columns =
            quote::ident_list(&self.columns.iter().map(Ident::as_str).collect::<Vec<_>>());
        let Some(parts) = before.facts.partitions(self.table.as_str()) else {
            return Ok(vec![revert::drop_constraint(
                &table,
                &name,
                &[
                    format!("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {table} ({columns})"),
                    revert::unless_constraint(
                        &table,
                        self.name.as_str(),
                        &format!("ALTER TABLE {table} ADD CONSTRAINT {name} UNIQUE USING INDEX {name}"),
                    ),
                ],
            )]);
        };
        let children = partitions::children(parts, self.name.as_str());
        let mut restore: Vec<String> = children
            .iter()
            .map(|c| {
                format!(
                    "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS {} ON {} ({columns})",
                    c.name, c.table
                )
            })
            .collect();
        for (partition, c) in parts.iter().zip(&children) {
            restore.push(revert::unless_constraint(
                &c.table,
                &quote::object_name(&[self.name.as_str(), &partition.name]),
                &format!(
                    "ALTER TABLE {} ADD CONSTRAINT {} UNIQUE USING INDEX {}",
                    c.table, c.name, c.name
                ),
            ));
        }
        restore.push(revert::unless_constraint(
            &table,
            self.name.as_str(),
            &format!("ALTER TABLE {table} ADD CONSTRAINT {name} UNIQUE ({columns})"),
        ));
        Ok(vec![revert::drop_constraint(&table, &name, &restore)])
    }

    fn check_live(&self, walk: &mut Walk, at: &FieldPath) {
        if walk.columns(
            &self.table,
            &self.columns,
            &at.key("table"),
            &at.key("columns"),
        ) {
            walk.no_constraint(&self.table, &self.name, &at.key("name"));
            walk.no_relation(&self.name, &at.key("name"));
        }
        walk.model.relations.insert(self.name.to_string());
        walk.add_constraint(&self.table, &self.name);
        walk.add_unique_set(&self.table, &self.columns);
    }
}

/// The unique index `name` over `columns` (quoted, comma-separated), built CONCURRENTLY in
/// the `build` phase, and its attachment as a UNIQUE constraint at contract. `add_column` of
/// a `unique` column uses it too.
pub(super) fn build_and_attach(
    x: &mut Expansion,
    on: &Ident,
    name: &str,
    columns: &str,
    build: Phase,
) {
    let table = x.table(on);
    let index = quote::ident(name);
    let qualified_index = quote::qualified(x.plan.schema.as_str(), name);
    if let Some(partitions) = x.partitions(on) {
        return on_partitions(x, on, name, columns, build, partitions);
    }
    x.step(
        "create_unique_index",
        build,
        format!("build unique index {index} concurrently"),
        Some(on),
    )
    .outside_transaction()
    .index_build(
        format!("CREATE UNIQUE INDEX CONCURRENTLY {index} ON {table} ({columns})"),
        &qualified_index,
        &table,
    )
    .undo(
        format!("DROP INDEX CONCURRENTLY IF EXISTS {qualified_index}"),
        LockMode::ShareUpdateExclusive,
        &table,
    );
    x.step(
        "attach_unique",
        Phase::Contract,
        format!("attach {index} as a UNIQUE constraint"),
        Some(on),
    )
    .sql(
        format!("ALTER TABLE {table} ADD CONSTRAINT {index} UNIQUE USING INDEX {index}"),
        LockMode::AccessExclusive,
        &table,
        Work::Instant,
    );
}

/// On a partitioned table, where ADD CONSTRAINT ... USING INDEX is refused on the parent:
/// each partition's unique index is built CONCURRENTLY (uniqueness holds across partitions
/// from then on, the key being part of the index) and becomes that partition's constraint at
/// contract; the parent's ADD CONSTRAINT then adopts them all without building anything.
fn on_partitions(
    x: &mut Expansion,
    on: &Ident,
    name: &str,
    columns: &str,
    build: Phase,
    partitions: &[Partition],
) {
    let table = x.table(on);
    let index = quote::ident(name);
    let step = x
        .step(
            "create_unique_index",
            build,
            format!("build unique index {index} concurrently on each partition"),
            Some(on),
        )
        .outside_transaction();
    let child_index = |c: &partitions::Child| {
        format!(
            "CREATE UNIQUE INDEX CONCURRENTLY {} ON {} ({columns})",
            c.name, c.table
        )
    };
    partitions::build_each(step, &table, name, child_index, partitions.into());
    // Statement by statement, so that a partition detached since expand is skipped.
    let step = x
        .step(
            "attach_unique",
            Phase::Contract,
            format!("attach {index} as a UNIQUE constraint on each partition, then on the parent"),
            Some(on),
        )
        .outside_transaction();
    partitions::attach_constraints(
        step,
        &table,
        name,
        false,
        &format!("UNIQUE ({columns})"),
        partitions.into(),
        &format!("detach them until the plan is complete (attaching one back builds its unique index), or build on each a unique index on ({columns}) made a UNIQUE constraint"),
    );
}
