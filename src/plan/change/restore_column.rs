//! `restore_column`: the reverse of an archived `drop_column`, written by `switchback revert`
//! from the definition contract recorded. Expand adds the column back (its default with it:
//! rows inserted since the drop get it, as they would have), puts back the archived values
//! key by key in batches, then rebuilds its indexes concurrently and its constraints NOT
//! VALID + VALIDATE (on a partitioned table by the partitioned recipes: indexes as
//! `add_index`, unique constraints as `add_unique`, foreign keys as `add_foreign_key`);
//! contract makes it NOT NULL again, backed by the validated CHECK.

use crate::pg::catalog::PartitionKey;
use crate::pg::facts::Partition;
use crate::pg::lock::LockMode;
use crate::pg::quote;
use crate::plan::archive;
use crate::plan::change::{partitions, valid_if_clean, ChangeKind, Footprint, OnPartitioned};
use crate::plan::check::{Checker, Ident, SqlText};
use crate::plan::diagnostic::Code;
use crate::plan::expand::Expansion;
use crate::plan::live::Walk;
use crate::plan::revert;
use crate::plan::source::FieldPath;
use crate::plan::sql::{Expr, Work};
use crate::plan::step::{check_offenders, ArchiveCopy, Job, JobKind, Phase};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with table, column, type, from and optionally not_null, default, indexes, constraints"
)]
pub struct Raw {
    table: String,
    column: String,
    #[serde(rename = "type")]
    sql_type: String,
    from: String,
    #[serde(default)]
    not_null: bool,
    default: Option<SqlText>,
    #[serde(default)]
    indexes: Vec<RawIndex>,
    #[serde(default)]
    constraints: Vec<RawConstraint>,
}

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with name, definition and optionally partitions"
)]
pub struct RawIndex {
    name: String,
    definition: String,
    /// Each partition's index, by partition name.
    #[serde(default)]
    partitions: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with name, type, definition and optionally index, partitions"
)]
pub struct RawConstraint {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    definition: String,
    index: Option<String>,
    /// Each partition's index (and so its constraint), by partition name.
    #[serde(default)]
    partitions: BTreeMap<String, String>,
}

/// An index as `pg_get_indexdef` wrote it.
#[derive(Debug, Clone)]
pub struct Index {
    pub name: Ident,
    /// `CREATE [UNIQUE] INDEX CONCURRENTLY name ON ...`
    pub build: String,
    /// On a partitioned table, each partition's index by partition name, as it was named; a
    /// partition not named gets `<name>_<partition>`.
    pub partitions: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub enum Constraint {
    /// CHECK or FOREIGN KEY: added NOT VALID, then validated.
    Validated { name: Ident, definition: String },
    /// UNIQUE or PRIMARY KEY: its index built concurrently, then attached.
    UsingIndex {
        name: Ident,
        primary: bool,
        /// `UNIQUE (a, b)`, as the parent's constraint adopts its partitions'.
        definition: String,
        index: Index,
    },
}

#[derive(Debug, Clone)]
pub struct RestoreColumn {
    pub table: Ident,
    pub column: Ident,
    pub sql_type: String,
    /// The archive table: quoted, schema-qualified.
    pub from: String,
    pub not_null: bool,
    pub default: Option<Expr>,
    pub indexes: Vec<Index>,
    pub constraints: Vec<Constraint>,
}

impl ChangeKind for RestoreColumn {
    type Raw = Raw;

    fn check(raw: Raw, at: &FieldPath, cx: &mut Checker) -> Option<Self> {
        let before = cx.error_count();
        let table = cx.ident(&at.key("table"), &raw.table);
        let column = cx.ident(&at.key("column"), &raw.column);
        let sql_type = cx.sql_type(&at.key("type"), &raw.sql_type);
        let default = raw.default.and_then(|d| cx.expr(&at.key("default"), &d));
        archive::check_relation(&raw.from, &at.key("from"), cx);
        let mut indexes = Vec::new();
        for (i, index) in raw.indexes.iter().enumerate() {
            let at = at.key("indexes").index(i);
            let name = cx.ident(&at.key("name"), &index.name);
            indexes.push(match revert::concurrent_build(&index.definition) {
                Ok(build) => Some(Index {
                    name,
                    build,
                    partitions: index.partitions.clone(),
                }),
                Err(why) => {
                    cx.report(Code::BadValue, &at.key("definition"), why, None);
                    None
                }
            });
        }
        let mut constraints = Vec::new();
        for (i, c) in raw.constraints.iter().enumerate() {
            let at = at.key("constraints").index(i);
            let name = cx.ident(&at.key("name"), &c.name);
            match (c.kind.as_str(), &c.index) {
                ("c" | "f", _) => constraints.push(Some(Constraint::Validated {
                    name,
                    definition: c.definition.clone(),
                })),
                ("u" | "p", Some(definition)) => {
                    let built = match revert::concurrent_build(definition) {
                        Ok(build) => Some(build),
                        Err(why) => {
                            cx.report(Code::BadValue, &at.key("index"), why, None);
                            None
                        }
                    };
                    constraints.push(built.map(|build| Constraint::UsingIndex {
                        index: Index {
                            name: name.clone(),
                            build,
                            partitions: c.partitions.clone(),
                        },
                        name,
                        primary: c.kind == "p",
                        definition: c.definition.clone(),
                    }));
                }
                (kind, _) => cx.report(
                    Code::BadValue,
                    &at.key("type"),
                    format!(
                        "switchback cannot put back a constraint of type `{kind}` ({}) without a lock that blocks writes",
                        c.definition
                    ),
                    None,
                ),
            }
        }
        valid_if_clean(cx, before, || {
            Some(RestoreColumn {
                table,
                column,
                sql_type: sql_type?,
                from: raw.from,
                not_null: raw.not_null,
                default,
                indexes: indexes.into_iter().collect::<Option<_>>()?,
                constraints: constraints.into_iter().collect::<Option<_>>()?,
            })
        })
    }

    fn footprint(&self) -> Footprint {
        Footprint {
            table: Some(self.table.clone()),
            creates: vec![self.column.clone()],
            writes: vec![self.column.clone()],
            ..Footprint::default()
        }
    }

    fn expand(&self, x: &mut Expansion) {
        let table = x.table(&self.table);
        let col = self.column.quoted();
        let add = format!("ALTER TABLE {table} ADD COLUMN {col} {}", self.sql_type);
        let step = x.step(
            "add_column",
            Phase::Expand,
            format!("add column {col} back to {}", self.table.quoted()),
            Some(&self.table),
        );
        // A constant default is catalog-only, and gives the rows inserted since the drop the
        // value they would have had; a volatile one would rewrite the table, so it applies
        // only to rows inserted from now on.
        match &self.default {
            Some(d) if !d.is_volatile() => step.sql(
                format!("{add} DEFAULT {}", d.text),
                LockMode::AccessExclusive,
                &table,
                Work::Instant,
            ),
            Some(d) => step
                .sql(add, LockMode::AccessExclusive, &table, Work::Instant)
                .sql(
                    format!(
                        "ALTER TABLE {table} ALTER COLUMN {col} SET DEFAULT {}",
                        d.text
                    ),
                    LockMode::AccessExclusive,
                    &table,
                    Work::Instant,
                ),
            None => step.sql(add, LockMode::AccessExclusive, &table, Work::Instant),
        }
        .undo(
            format!("ALTER TABLE {table} DROP COLUMN IF EXISTS {col}"),
            LockMode::AccessExclusive,
            &table,
        );
        let key = x.table_key(&self.table);
        let restore = x
            .step(
                "restore",
                Phase::Backfill,
                format!("put back the values of {col} from {}", self.from),
                Some(&self.table),
            )
            .outside_transaction()
            .sql(
                format!(
                    "UPDATE {table} SET {col} = <archived value> FROM {} WHERE <key> = <archived key> AND <key range>",
                    self.from
                ),
                LockMode::RowExclusive,
                &table,
                Work::Batched,
            )
            .nothing_to_undo();
        restore.job = Some(Job {
            kind: JobKind::Restore,
            table: self.table.to_string(),
            relation: table.clone(),
            assignments: Vec::new(),
            key,
            copy: Some(ArchiveCopy {
                archive: self.from.clone(),
                column: self.column.to_string(),
                beside: None,
                only: None,
            }),
        });
        if self.not_null {
            let helper = quote::ident(&x.helper_name("nn", &self.table, &self.column));
            let check = format!("{col} IS NOT NULL");
            validated(
                x,
                &self.table,
                "not_null",
                &helper,
                &format!("CHECK ({check})"),
            );
            x.step(
                "set_not_null",
                Phase::Contract,
                format!("make {col} NOT NULL again (backed by the validated CHECK)"),
                Some(&self.table),
            )
            .set_not_null_from_check(&table, &col, &helper);
        }
        let schema = x.schema().to_owned();
        let partitions = x.partitions(&self.table);
        // On a partitioned table, an index backing a constraint is built on each partition
        // only: the parent's constraint adopts them.
        let build = |x: &mut Expansion, step: String, index: &Index, with_parent: bool| {
            let step = x
                .step(
                    &step,
                    Phase::Validate,
                    format!("build index {} concurrently", index.name.quoted()),
                    Some(&self.table),
                )
                .outside_transaction();
            partitions::build_index_from(
                step,
                &index.build,
                &table,
                &schema,
                index.name.as_str(),
                partitions.map(|list| partitions::Parts::named(list, &index.partitions)),
                with_parent,
            );
        };
        for (i, index) in self.indexes.iter().enumerate() {
            build(x, format!("index_{i}"), index, true);
        }
        for (i, constraint) in self.constraints.iter().enumerate() {
            match (constraint, partitions) {
                (Constraint::Validated { name, definition }, Some(partitions))
                    if definition.starts_with("FOREIGN KEY") =>
                {
                    foreign_key(x, &self.table, i, name, definition, partitions);
                }
                (Constraint::Validated { name, definition }, _) => {
                    validated(x, &self.table, &i.to_string(), &name.quoted(), definition);
                }
                (
                    Constraint::UsingIndex {
                        name,
                        primary,
                        definition,
                        index,
                    },
                    partitions,
                ) => {
                    build(x, format!("constraint_{i}_index"), index, false);
                    let kind = if *primary { "PRIMARY KEY" } else { "UNIQUE" };
                    let step = x.step(
                        &format!("constraint_{i}"),
                        Phase::Validate,
                        format!("add {kind} {} using its index", name.quoted()),
                        Some(&self.table),
                    );
                    let Some(partitions) = partitions else {
                        let name = name.quoted();
                        step.sql(
                            format!("ALTER TABLE {table} ADD CONSTRAINT {name} {kind} USING INDEX {name}"),
                            LockMode::AccessExclusive,
                            &table,
                            Work::Instant,
                        )
                        .undo(
                            format!("ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}"),
                            LockMode::AccessExclusive,
                            &table,
                        );
                        continue;
                    };
                    step.outside_transaction();
                    let parts = partitions::Parts::named(partitions, &index.partitions);
                    partitions::attach_constraints(
                        step,
                        &table,
                        name.as_str(),
                        *primary,
                        definition,
                        parts,
                        "detach them until the revert is complete, or abort it",
                    );
                    // The parent's constraint takes the partitions' it adopted with it; a
                    // partition's not adopted yet holds the index its build's undo drops.
                    step.undo(
                        format!(
                            "ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {}",
                            name.quoted()
                        ),
                        LockMode::AccessExclusive,
                        &table,
                    );
                    let children = parts.children(name.as_str());
                    for (partition, child) in partitions.iter().zip(&children) {
                        step.undo(
                            format!(
                                "ALTER TABLE {} DROP CONSTRAINT IF EXISTS {}",
                                child.table,
                                partitions::own_constraint(partition, child, *primary)
                            ),
                            LockMode::AccessExclusive,
                            &child.table,
                        );
                    }
                }
            }
        }
    }

    fn on_partitioned_table(&self, _key: &PartitionKey) -> OnPartitioned {
        OnPartitioned::Runs("the column is added back on the parent and its values restored walking the parent's key; its indexes are made ON ONLY the parent, built CONCURRENTLY on each partition and attached, its unique constraints built on each partition and adopted by the parent's, its foreign keys added NOT VALID on each partition, validated and adopted by the parent's")
    }

    fn check_live(&self, walk: &mut Walk, at: &FieldPath) {
        if walk.table(&self.table, &at.key("table")) {
            walk.no_column(&self.table, self.column.as_str(), &at.key("column"));
        }
        walk.add_column(&self.table, self.column.as_str(), &self.sql_type);
    }
}

/// A foreign key `definition` named `name` on the partitioned `subject`, by the partitioned
/// recipe: NOT VALID on each partition, validated partition by partition, then the parent's
/// adopting them.
pub(crate) fn foreign_key(
    x: &mut Expansion,
    subject: &Ident,
    i: usize,
    name: &Ident,
    definition: &str,
    partitions: &[Partition],
) {
    let table = x.table(subject);
    let name = name.quoted();
    let fk = partitions::ForeignKey {
        table: &table,
        name: &name,
        definition,
        target: None,
        partitions,
    };
    let step = x.step(
        &format!("constraint_{i}"),
        Phase::Validate,
        format!("add {definition} NOT VALID on each partition"),
        Some(subject),
    );
    fk.add_not_valid(step);
    let step = x
        .step(
            &format!("validate_{i}"),
            Phase::Validate,
            format!("validate {name} partition by partition"),
            Some(subject),
        )
        .outside_transaction();
    step.nothing_to_undo();
    fk.validate(step);
    let step = x.step(
        &format!("attach_{i}"),
        Phase::Validate,
        format!("add {name} on the parent, adopting each partition's"),
        Some(subject),
    );
    fk.adopt(step);
}

/// A CHECK or FOREIGN KEY `definition` named `name` (quoted) on `subject`: added NOT VALID,
/// then validated in a later transaction (naming the rows a CHECK finds wrong, if it fails).
pub(crate) fn validated(
    x: &mut Expansion,
    subject: &Ident,
    tag: &str,
    name: &str,
    definition: &str,
) {
    let table = &x.table(subject);
    x.step(
        &format!("constraint_{tag}"),
        Phase::Validate,
        format!("add {definition} NOT VALID"),
        Some(subject),
    )
    .sql(
        format!("ALTER TABLE {table} ADD CONSTRAINT {name} {definition} NOT VALID"),
        LockMode::ShareRowExclusive,
        table,
        Work::Instant,
    )
    .undo(
        format!("ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}"),
        LockMode::AccessExclusive,
        table,
    );
    let step = x
        .step(
            &format!("validate_{tag}"),
            Phase::Validate,
            format!("validate {name}"),
            Some(subject),
        )
        .sql(
            format!("ALTER TABLE {table} VALIDATE CONSTRAINT {name}"),
            LockMode::ShareUpdateExclusive,
            table,
            Work::Scan,
        )
        .nothing_to_undo();
    if let Some(check) = definition
        .strip_prefix("CHECK ")
        .map(|c| c.trim_end_matches(" NOT VALID"))
    {
        step.offenders(check_offenders(table, check));
    }
}
