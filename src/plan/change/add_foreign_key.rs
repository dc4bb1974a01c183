//! `add_foreign_key`: added NOT VALID (a brief SHARE ROW EXCLUSIVE on both tables, no scan),
//! then VALIDATEd under SHARE UPDATE EXCLUSIVE, which lets reads and writes through.

use crate::pg::catalog::PartitionKey;
use crate::pg::facts::Partition;
use crate::pg::lock::LockMode;
use crate::pg::quote;
use crate::plan::change::column::OnDelete;
use crate::plan::change::{partitions, valid_if_clean, ChangeKind, Footprint, OnPartitioned};
use crate::plan::check::{Checker, Ident};
use crate::plan::diagnostic::Code;
use crate::plan::expand::Expansion;
use crate::plan::live::Walk;
use crate::plan::revert::{self, Before, Irreversible, Left};
use crate::plan::source::FieldPath;
use crate::plan::sql::Work;
use crate::plan::step::{foreign_key_offenders, Phase};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with table, name, columns, references and optionally on_delete"
)]
pub struct Raw {
    table: String,
    name: String,
    columns: Vec<String>,
    references: RawTarget,
    on_delete: Option<OnDelete>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping with table and columns")]
pub struct RawTarget {
    table: String,
    columns: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct AddForeignKey {
    pub table: Ident,
    pub name: Ident,
    pub columns: Vec<Ident>,
    pub target_table: Ident,
    pub target_columns: Vec<Ident>,
    pub on_delete: Option<OnDelete>,
    at: FieldPath,
}

impl AddForeignKey {
    /// `FOREIGN KEY (...) REFERENCES target (...) [ON DELETE ...]`, `target` quoted.
    fn definition(&self, target: &str) -> String {
        let names =
            |ids: &[Ident]| quote::ident_list(&ids.iter().map(Ident::as_str).collect::<Vec<_>>());
        let on_delete = self
            .on_delete
            .map(|a| format!(" ON DELETE {}", a.sql()))
            .unwrap_or_default();
        format!(
            "FOREIGN KEY ({}) REFERENCES {target} ({}){on_delete}",
            names(&self.columns),
            names(&self.target_columns)
        )
    }
}

impl ChangeKind for AddForeignKey {
    type Raw = Raw;

    fn check(raw: Raw, at: &FieldPath, cx: &mut Checker) -> Option<Self> {
        let before = cx.error_count();
        let table = cx.ident(&at.key("table"), &raw.table);
        let name = cx.ident(&at.key("name"), &raw.name);
        let columns = cx.idents(&at.key("columns"), &raw.columns);
        let target = at.key("references");
        let target_table = cx.ident(&target.key("table"), &raw.references.table);
        let target_columns = cx.idents(&target.key("columns"), &raw.references.columns);
        if !columns.is_empty()
            && !target_columns.is_empty()
            && columns.len() != target_columns.len()
        {
            cx.report(
                Code::BadValue,
                &target.key("columns"),
                format!(
                    "the foreign key has {} column(s) but references {}",
                    columns.len(),
                    target_columns.len()
                ),
                None,
            );
        }
        valid_if_clean(cx, before, || {
            Some(AddForeignKey {
                table,
                name,
                columns,
                target_table,
                target_columns,
                on_delete: raw.on_delete,
                at: at.clone(),
            })
        })
    }

    fn footprint(&self) -> Footprint {
        Footprint {
            table: Some(self.table.clone()),
            uses: self.columns.clone(),
            other_tables: vec![self.target_table.clone()],
            names: vec![(self.name.clone(), self.at.key("name"))],
            ..Footprint::default()
        }
    }

    fn expand(&self, x: &mut Expansion) {
        let table = x.table(&self.table);
        let target = x.table(&self.target_table);
        let constraint = self.name.quoted();
        let definition = self.definition(&target);
        let offenders = foreign_key_offenders(
            &table,
            &ids(&self.columns),
            &target,
            &ids(&self.target_columns),
        );
        if let Some(partitions) = x.partitions(&self.table) {
            return self.on_partitions(x, partitions, &definition, offenders);
        }
        let t = Some(&self.table);
        x.step(
            "add_foreign_key",
            Phase::Expand,
            format!("add FOREIGN KEY {constraint} NOT VALID"),
            t,
        )
        .sql(
            format!("ALTER TABLE {table} ADD CONSTRAINT {constraint} {definition} NOT VALID"),
            LockMode::ShareRowExclusive,
            &table,
            Work::Instant,
        )
        .also_locks(LockMode::ShareRowExclusive, &target)
        .undo(
            format!("ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {constraint}"),
            LockMode::AccessExclusive,
            &table,
        );
        x.step(
            "validate_foreign_key",
            Phase::Validate,
            format!("validate FOREIGN KEY {constraint}"),
            t,
        )
        .sql(
            format!("ALTER TABLE {table} VALIDATE CONSTRAINT {constraint}"),
            LockMode::ShareUpdateExclusive,
            &table,
            Work::Scan,
        )
        .also_locks(LockMode::RowShare, &target)
        .nothing_to_undo()
        .offenders(offenders);
    }

    fn on_partitioned_table(&self, _key: &PartitionKey) -> OnPartitioned {
        OnPartitioned::Runs("the foreign key is added NOT VALID on each partition and validated partition by partition under a lock that lets writes through; the parent's foreign key then adopts them without a scan")
    }

    /// The constraint dropped; taken back, it is added NOT VALID and validated again.
    /// The key dropped; taken back, NOT VALID then validated (on a partitioned table, on each
    /// partition, then the parent's adopting them). Each statement is safe to run again.
    fn reverse(&self, _: Left, before: &Before) -> Result<Vec<serde_yaml::Value>, Irreversible> {
        let (table, name) = (before.table(&self.table), self.name.quoted());
        let definition = self.definition(&before.table(&self.target_table));
        let add = |on: &str, valid: &str| {
            revert::unless_constraint(
                on,
                self.name.as_str(),
                &format!("ALTER TABLE {on} ADD CONSTRAINT {name} {definition}{valid}"),
            )
        };
        let Some(parts) = before.facts.partitions(self.table.as_str()) else {
            return Ok(vec![revert::drop_constraint(
                &table,
                &name,
                &[
                    add(&table, " NOT VALID"),
                    format!("ALTER TABLE {table} VALIDATE CONSTRAINT {name}"),
                ],
            )]);
        };
        let on: Vec<String> = parts
            .iter()
            .map(|p| quote::qualified(&p.schema, &p.name))
            .collect();
        let mut restore: Vec<String> = on.iter().map(|p| add(p, " NOT VALID")).collect();
        restore.extend(
            on.iter()
                .map(|p| format!("ALTER TABLE {p} VALIDATE CONSTRAINT {name}")),
        );
        restore.push(add(&table, ""));
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
        }
        let target = at.key("references");
        if walk.columns(
            &self.target_table,
            &self.target_columns,
            &target.key("table"),
            &target.key("columns"),
        ) {
            walk.unique_target(&self.target_table, &self.target_columns, &target);
        }
        walk.add_constraint(&self.table, &self.name);
    }
}

impl AddForeignKey {
    /// By the partitioned recipe (`partitions::ForeignKey`): NOT VALID on each partition,
    /// validated partition by partition, adopted by the parent's.
    fn on_partitions(
        &self,
        x: &mut Expansion,
        partitions: &[Partition],
        definition: &str,
        offenders: String,
    ) {
        let table = x.table(&self.table);
        let target = x.table(&self.target_table);
        let constraint = self.name.quoted();
        let fk = partitions::ForeignKey {
            table: &table,
            name: &constraint,
            definition,
            target: Some(&target),
            partitions,
        };
        let t = Some(&self.table);
        fk.add_not_valid(x.step(
            "add_foreign_key",
            Phase::Expand,
            format!("add FOREIGN KEY {constraint} NOT VALID on each partition"),
            t,
        ));
        let step = x
            .step(
                "validate_foreign_key",
                Phase::Validate,
                format!("validate FOREIGN KEY {constraint} partition by partition"),
                t,
            )
            .outside_transaction();
        fk.validate(step);
        step.nothing_to_undo().offenders(offenders);
        fk.adopt(x.step(
            "attach_foreign_key",
            Phase::Validate,
            format!("add FOREIGN KEY {constraint} on the parent, adopting each partition's"),
            t,
        ));
    }
}

fn ids(names: &[Ident]) -> Vec<&str> {
    names.iter().map(Ident::as_str).collect()
}
