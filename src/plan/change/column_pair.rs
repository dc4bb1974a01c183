//! A column pair: two columns of one table kept in step by a trigger while the old and new
//! application run side by side (`rename_column`'s old and new name, `change_type`'s column
//! and its shadow). What both kinds do to the pair: the default moves into the trigger, the
//! old column's NOT NULL, CHECKs, foreign keys and indexes are rebuilt on the new one without
//! blocking writes, and contract swaps them in the transaction that drops the old column.

use crate::pg::catalog::PartitionKey;
use crate::pg::facts::{ColumnFacts, IncomingForeignKey, IndexFacts, Partition};
use crate::pg::lock::LockMode;
use crate::pg::quote;
use crate::plan::change::{partitions, OnPartitioned};
use crate::plan::check::Ident;
use crate::plan::expand::Expansion;
use crate::plan::sql::{self, Work};
use crate::plan::step::{Phase, Step};

/// The column's default, which the trigger supplies while the pair exists.
pub(super) fn default_of(column: &Ident, facts: Option<&ColumnFacts>) -> Option<String> {
    match facts {
        Some(f) => f.default.clone(),
        None => Some(format!("<default of {}>", column.quoted())),
    }
}

/// Neither column of a pair may carry a DEFAULT: an INSERT cannot tell "omitted" from "set to
/// the default", so the trigger supplies it instead. The default goes only once the trigger
/// is there (a sync-phase step runs after the table's trigger step): in between, an insert
/// relying on it would get NULL. Abort puts it back.
pub(super) fn move_default_to_trigger(
    x: &mut Expansion,
    table_name: &Ident,
    column: &Ident,
    facts: Option<&ColumnFacts>,
) {
    let table = x.table(table_name);
    let c = column.quoted();
    let drop = format!("ALTER TABLE {table} ALTER COLUMN {c} DROP DEFAULT");
    let title = format!("hand the default of {c} to the trigger");
    match facts {
        None => {
            x.step("move_default", Phase::Sync, title, Some(table_name))
                .sql(drop, LockMode::AccessExclusive, &table, Work::Instant)
                .when(format!(
                    "{c} has a default (the trigger supplies it while both columns exist)"
                ));
        }
        Some(ColumnFacts {
            default: Some(default),
            ..
        }) => {
            x.step("move_default", Phase::Sync, title, Some(table_name))
                .sql(drop, LockMode::AccessExclusive, &table, Work::Instant)
                .undo(
                    format!("ALTER TABLE {table} ALTER COLUMN {c} SET DEFAULT {default}"),
                    LockMode::AccessExclusive,
                    &table,
                );
        }
        Some(_) => {}
    }
}

/// Why the pair cannot run on a partitioned table with `key`: PostgreSQL neither drops nor
/// retypes a partition key column.
pub(super) fn key_refuses(key: &PartitionKey, column: &Ident) -> OnPartitioned {
    if key.0.iter().flatten().any(|k| k == column.as_str()) {
        return OnPartitioned::Refused(format!(
            "{} is in its partition key, which PostgreSQL can neither drop nor retype",
            column.quoted()
        ));
    }
    OnPartitioned::Runs("the second column is added on the parent, the trigger on the parent fires for every partition and the backfill walks the parent's key; the column's indexes are copied ON ONLY the parent, then CONCURRENTLY on each partition and attached (a unique or primary key constraint's on each partition only, adopted by the parent's constraint at contract); its NOT NULL and CHECKs are copied NOT VALID on the parent and validated, its foreign keys NOT VALID on each partition, validated partition by partition and adopted by the parent's")
}

/// What of the column's objects switchback cannot carry over to the other column of a pair
/// yet: a foreign key that references it from a partitioned table whose partitions are not
/// all plain tables (or that has none), which it adds back partition by partition.
pub fn refuses_incoming(facts: &ColumnFacts) -> Option<String> {
    let column = quote::ident(&facts.column);
    facts
        .incoming
        .iter()
        .find(|fk| fk.from_partitioned && fk.partitions.is_empty())
        .map(|fk| {
            format!(
                "{} of the partitioned table {} references {column}: switchback adds such a key back partition by partition, and {} has no partitions, or one that is partitioned itself or foreign",
                quote::ident(&fk.name),
                fk.table,
                fk.table
            )
        })
}

/// The deterministic name of the copy of `original` (an index or constraint) made for `to`.
fn copy_name(original: &str) -> String {
    crate::pg::quote::object_name(&["sb", original])
}

/// Validate-phase steps that rebuild `from`'s NOT NULL, CHECKs, foreign keys and indexes on
/// `to` (shared with change_type, which does the same for its shadow column).
pub(super) fn copy_column_objects(x: &mut Expansion, table_name: &Ident, from: &Ident, to: &Ident) {
    let table = x.table(table_name);
    let (f, t) = (from.quoted(), to.quoted());
    let nn = crate::pg::quote::ident(&x.helper_name("nn", table_name, to));
    let on = Some(table_name);
    let schema = x.schema().to_owned();
    let Some(facts) = x.column_facts(table_name, from) else {
        x.step("copy_indexes", Phase::Validate, format!("rebuild the indexes of {f} on {t} concurrently"), on)
            .outside_transaction()
            .index_build(format!("CREATE [UNIQUE] INDEX CONCURRENTLY <index name with {t}> ON {table} (<the index's columns with {t} for {f}>)"), "<each copy>", &table)
            .when(format!("for each index on {f}"));
        x.step("copy_constraints", Phase::Validate, format!("copy the constraints of {f} onto {t} as NOT VALID"), on)
            .sql(format!("ALTER TABLE {table} ADD CONSTRAINT {nn} CHECK ({t} IS NOT NULL) NOT VALID"), LockMode::AccessExclusive, &table, Work::Instant)
            .when(format!("{f} is NOT NULL"))
            .sql(format!("ALTER TABLE {table} ADD CONSTRAINT <name with {t}> CHECK (<the check with {t} for {f}>) NOT VALID"), LockMode::AccessExclusive, &table, Work::Instant)
            .when(format!("for each CHECK constraint on {f}"))
            .sql(format!("ALTER TABLE {table} ADD CONSTRAINT <name with {t}> FOREIGN KEY ({t}) REFERENCES <the same target> NOT VALID"), LockMode::ShareRowExclusive, &table, Work::Instant)
            .when(format!("for each foreign key on {f}"));
        x.step(
            "validate_constraints",
            Phase::Validate,
            format!("validate the constraints copied onto {t}"),
            on,
        )
        .sql(
            format!("ALTER TABLE {table} VALIDATE CONSTRAINT <each copied constraint>"),
            LockMode::ShareUpdateExclusive,
            &table,
            Work::Scan,
        );
        return;
    };
    let partitions = x.partitions(table_name);
    if !facts.indexes.is_empty() {
        let step = x
            .step(
                "copy_indexes",
                Phase::Validate,
                format!("rebuild the indexes of {f} on {t} concurrently"),
                on,
            )
            .outside_transaction();
        step.nothing_to_undo();
        for index in &facts.indexes {
            let copy = quote::qualified(&schema, &copy_name(&index.name));
            let sql = copied_index_sql(&index.definition, from, to, &copy_name(&index.name));
            let Some(partitions) = partitions else {
                step.index_build(sql, &copy, &table).undo(
                    format!("DROP INDEX CONCURRENTLY IF EXISTS {copy}"),
                    LockMode::ShareUpdateExclusive,
                    &table,
                );
                continue;
            };
            partitions::build_like(
                step,
                &sql,
                &table,
                &schema,
                &copy_name(&index.name),
                partitions.into(),
                index.constraint.is_none(),
            );
        }
    }
    let mut copies: Vec<(String, String, LockMode)> = Vec::new();
    if facts.not_null {
        copies.push((
            nn.clone(),
            format!("CHECK ({t} IS NOT NULL)"),
            LockMode::AccessExclusive,
        ));
    }
    for check in &facts.checks {
        let definition =
            sql::rename_identifier(&check.definition, from.as_str(), to.as_str(), None, None)
                .unwrap_or_else(|_| check.definition.clone());
        copies.push((
            quote::ident(&copy_name(&check.name)),
            strip_not_valid(&definition),
            LockMode::AccessExclusive,
        ));
    }
    // On a partitioned table, PostgreSQL refuses a NOT VALID foreign key on the parent (before
    // 18): each partition gets its own, validated, and the parent's then adopts them.
    let mut partition_fks: Vec<(String, String)> = Vec::new();
    for fk in &facts.foreign_keys {
        let definition = sql::rename_identifier(
            &fk.definition,
            from.as_str(),
            to.as_str(),
            None,
            Some("REFERENCES"),
        )
        .unwrap_or_else(|_| fk.definition.clone());
        let copy = quote::ident(&copy_name(&fk.name));
        match partitions {
            Some(_) => partition_fks.push((copy, strip_not_valid(&definition))),
            None => copies.push((
                copy,
                strip_not_valid(&definition),
                LockMode::ShareRowExclusive,
            )),
        }
    }
    if copies.is_empty() && partition_fks.is_empty() {
        return;
    }
    let step = x.step(
        "copy_constraints",
        Phase::Validate,
        format!("copy the constraints of {f} onto {t} as NOT VALID"),
        on,
    );
    for (name, definition, mode) in &copies {
        step.sql(
            format!("ALTER TABLE {table} ADD CONSTRAINT {name} {definition} NOT VALID"),
            *mode,
            &table,
            Work::Instant,
        )
        .undo(
            format!("ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}"),
            LockMode::AccessExclusive,
            &table,
        );
    }
    let fks: Vec<partitions::ForeignKey> = partition_fks
        .iter()
        .map(|(name, definition)| partitions::ForeignKey {
            table: &table,
            name,
            definition,
            target: None,
            partitions: partitions.unwrap_or_default(),
        })
        .collect();
    for fk in &fks {
        fk.add_not_valid(step);
    }
    let step = x.step(
        "validate_constraints",
        Phase::Validate,
        format!("validate the constraints copied onto {t}"),
        on,
    );
    step.nothing_to_undo();
    for (name, ..) in &copies {
        step.sql(
            format!("ALTER TABLE {table} VALIDATE CONSTRAINT {name}"),
            LockMode::ShareUpdateExclusive,
            &table,
            Work::Scan,
        );
    }
    if fks.is_empty() {
        return;
    }
    // Partition by partition, each VALIDATE in a transaction of its own; then the parent's
    // foreign keys adopt them.
    step.outside_transaction();
    for fk in &fks {
        fk.validate(step);
    }
    let step = x.step(
        "attach_foreign_keys",
        Phase::Validate,
        format!("add the foreign keys copied onto {t} on the parent, adopting each partition's"),
        on,
    );
    for fk in &fks {
        fk.adopt(step);
    }
}

fn strip_not_valid(definition: &str) -> String {
    definition
        .trim_end()
        .trim_end_matches("NOT VALID")
        .trim_end()
        .to_owned()
}

/// `CREATE [UNIQUE] INDEX CONCURRENTLY "copy" ON ...` from the original's definition, with
/// `from` replaced by `to` in its columns, expressions and predicate.
fn copied_index_sql(definition: &str, from: &Ident, to: &Ident, copy: &str) -> String {
    let renamed =
        sql::rename_identifier(definition, from.as_str(), to.as_str(), Some("USING"), None)
            .unwrap_or_else(|_| definition.to_owned());
    let unique = if renamed.starts_with("CREATE UNIQUE") {
        "UNIQUE "
    } else {
        ""
    };
    let on = renamed
        .find(" ON ")
        .map_or(renamed.as_str(), |at| &renamed[at + 4..]);
    format!(
        "CREATE {unique}INDEX CONCURRENTLY {} ON {on}",
        quote::ident(copy)
    )
}

/// Contract statements that turn the copies into the real thing, in the transaction that
/// drops `from`, so the table is never without its NOT NULL or key in between. The copies
/// take the originals' names, as a plain RENAME COLUMN would have left them.
#[allow(clippy::too_many_arguments)]
pub(super) fn finish_column_objects(
    step: &mut Step,
    table: &str,
    schema: &str,
    from: &Ident,
    to: &Ident,
    nn: &str,
    facts: Option<&ColumnFacts>,
    partitions: Option<&[Partition]>,
) {
    let (f, t) = (from.quoted(), to.quoted());
    let Some(facts) = facts else {
        step.sql(format!("ALTER TABLE {table} ALTER COLUMN {t} SET NOT NULL"), LockMode::AccessExclusive, table, Work::Instant)
            .when(format!("{f} was NOT NULL (the validated CHECK spares the scan)"))
            .sql(format!("ALTER TABLE {table} DROP CONSTRAINT {nn}"), LockMode::AccessExclusive, table, Work::Instant)
            .when(format!("{f} was NOT NULL"))
            .sql(format!("ALTER TABLE {table} ALTER COLUMN {t} SET DEFAULT <default of {f}>"), LockMode::AccessExclusive, table, Work::Instant)
            .when(format!("{f} had a default"))
            .sql(format!("ALTER TABLE {table} ADD CONSTRAINT <constraint name> {{UNIQUE | PRIMARY KEY}} USING INDEX <copied index>"), LockMode::AccessExclusive, table, Work::Instant)
            .when(format!("for each UNIQUE or PRIMARY KEY constraint {f} had"));
        return;
    };
    let instant = |step: &mut Step, sql: String| {
        step.sql(sql, LockMode::AccessExclusive, table, Work::Instant);
    };
    if facts.not_null {
        step.set_not_null_from_check(table, &t, nn);
    }
    if let Some(default) = &facts.default {
        instant(
            step,
            format!("ALTER TABLE {table} ALTER COLUMN {t} SET DEFAULT {default}"),
        );
    }
    for index in &facts.indexes {
        let copy = quote::ident(&copy_name(&index.name));
        match (&index.constraint, partitions) {
            (Some(constraint), Some(partitions)) => {
                adopt_partition_constraints(step, table, index, constraint, from, to, partitions)
            }
            (Some(constraint), None) => {
                let kind = if index.primary {
                    "PRIMARY KEY"
                } else {
                    "UNIQUE"
                };
                instant(
                    step,
                    format!(
                        "ALTER TABLE {table} ADD CONSTRAINT {} {kind} USING INDEX {copy}",
                        quote::ident(constraint)
                    ),
                );
            }
            (None, _) => instant(
                step,
                format!(
                    "ALTER INDEX {} RENAME TO {}",
                    quote::qualified(schema, &copy_name(&index.name)),
                    quote::ident(&index.name)
                ),
            ),
        }
    }
    for constraint in facts.checks.iter().chain(&facts.foreign_keys) {
        instant(
            step,
            format!(
                "ALTER TABLE {table} RENAME CONSTRAINT {} TO {}",
                quote::ident(&copy_name(&constraint.name)),
                quote::ident(&constraint.name)
            ),
        );
    }
    // A partition's foreign key keeps its name when the parent's is renamed (a CHECK's
    // follows): each takes the original's name, as the parent's statement would have left it.
    for (fk, partition) in facts
        .foreign_keys
        .iter()
        .flat_map(|fk| partitions.unwrap_or_default().iter().map(move |p| (fk, p)))
    {
        let on = quote::qualified(&partition.schema, &partition.name);
        let rename = format!(
            "ALTER TABLE {on} RENAME CONSTRAINT {} TO {}",
            quote::ident(&copy_name(&fk.name)),
            quote::ident(&fk.name)
        );
        step.sql(
            partitions::when_attached(&on, table, &rename),
            LockMode::AccessExclusive,
            &on,
            Work::Instant,
        );
    }
    if let Some(sequence) = &facts.owned_sequence {
        instant(
            step,
            format!("ALTER SEQUENCE {sequence} OWNED BY {table}.{t}"),
        );
    }
    // Referencing tables get their foreign keys back, toward the new column, at once; they
    // are enforced for new writes from here and validated in a step of their own. A
    // partitioned one's on each partition: PostgreSQL refuses NOT VALID on its parent before
    // 18; the parent's adopts them once they are validated.
    for fk in &facts.incoming {
        let (name, definition) = (quote::ident(&fk.name), incoming_definition(fk, from, to));
        if fk.from_partitioned {
            incoming_key(fk, &name, &definition, table).add_not_valid(step);
            continue;
        }
        step.sql(
            format!(
                "ALTER TABLE {} ADD CONSTRAINT {name} {definition} NOT VALID",
                fk.table
            ),
            LockMode::ShareRowExclusive,
            &fk.table,
            Work::Instant,
        )
        .also_locks(LockMode::ShareRowExclusive, table);
    }
}

/// An incoming foreign key's definition toward `to` instead of `from`, without NOT VALID.
fn incoming_definition(fk: &IncomingForeignKey, from: &Ident, to: &Ident) -> String {
    let definition = sql::rename_identifier(
        &fk.definition,
        from.as_str(),
        to.as_str(),
        Some("REFERENCES"),
        None,
    )
    .unwrap_or_else(|_| fk.definition.clone());
    strip_not_valid(&definition)
}

/// The partitioned recipe for an incoming foreign key from a partitioned table, `name`
/// (quoted) and `definition` referencing `target`.
fn incoming_key<'a>(
    fk: &'a IncomingForeignKey,
    name: &'a str,
    definition: &'a str,
    target: &'a str,
) -> partitions::ForeignKey<'a> {
    partitions::ForeignKey {
        table: &fk.table,
        name,
        definition,
        target: Some(target),
        partitions: &fk.partitions,
    }
}

/// On a partitioned table, where ADD CONSTRAINT ... USING INDEX is refused on the parent:
/// each partition's copy becomes its own constraint (a partition's primary key takes the name
/// PostgreSQL gives it, `<partition>_pkey`; a partition detached since expand is left alone),
/// then the parent's ADD CONSTRAINT adopts them all without building or scanning.
fn adopt_partition_constraints(
    step: &mut Step,
    table: &str,
    index: &IndexFacts,
    constraint: &str,
    from: &Ident,
    to: &Ident,
    partitions: &[Partition],
) {
    let kind = if index.primary {
        "PRIMARY KEY"
    } else {
        "UNIQUE"
    };
    let children = partitions::children(partitions, &copy_name(&index.name));
    for (partition, child) in partitions.iter().zip(&children) {
        let name = partitions::own_constraint(partition, child, index.primary);
        let alter = format!(
            "ALTER TABLE {} ADD CONSTRAINT {name} {kind} USING INDEX {}",
            child.table, child.name
        );
        step.sql(
            partitions::when_attached(&child.table, table, &alter),
            LockMode::AccessExclusive,
            &child.table,
            Work::Instant,
        );
    }
    let alter = format!(
        "ALTER TABLE {table} ADD CONSTRAINT {} {kind} {}",
        quote::ident(constraint),
        constraint_columns(&index.definition, from, to)
    );
    let hint = format!("detach them until the plan is complete, or build on each a unique index like {} and make it a {kind} constraint", quote::ident(&index.name));
    step.sql(
        partitions::adopt(table, partitions, "ACCESS EXCLUSIVE", &alter, &hint),
        LockMode::AccessExclusive,
        table,
        Work::Instant,
    );
}

/// A constraint's column list from the definition of the index behind it, with `from`
/// replaced by `to`: `... USING btree (a, b) INCLUDE (c) NULLS NOT DISTINCT` gives
/// `NULLS NOT DISTINCT (a, b) INCLUDE (c)`, in the order ADD CONSTRAINT takes them.
fn constraint_columns(definition: &str, from: &Ident, to: &Ident) -> String {
    let renamed =
        sql::rename_identifier(definition, from.as_str(), to.as_str(), Some("USING"), None)
            .unwrap_or_else(|_| definition.to_owned());
    let on = renamed.find(" ON ").map_or(0, |at| at + 4);
    let method = renamed[on..].find(" USING ").map_or(on, |at| on + at + 7);
    let columns = renamed[method..]
        .split_once(' ')
        .map_or(&renamed[method..], |(_, rest)| rest);
    match columns.split_once(" NULLS NOT DISTINCT") {
        Some((list, rest)) => format!("NULLS NOT DISTINCT {list}{rest}"),
        None => columns.to_owned(),
    }
}

/// Contract statements, before the old column is dropped: foreign keys that reference it
/// would block the DROP; `finish_column_objects` adds them back in the same transaction.
pub(super) fn release_incoming_foreign_keys(step: &mut Step, facts: Option<&ColumnFacts>) {
    for fk in facts.iter().flat_map(|f| &f.incoming) {
        step.sql(
            format!(
                "ALTER TABLE {} DROP CONSTRAINT {}",
                fk.table,
                quote::ident(&fk.name)
            ),
            LockMode::AccessExclusive,
            &fk.table,
            Work::Instant,
        );
    }
    // A serial column's sequence would go with it; `finish_column_objects` hands it over.
    if let Some(sequence) = facts.and_then(|f| f.owned_sequence.as_ref()) {
        step.sql(
            format!("ALTER SEQUENCE {sequence} OWNED BY NONE"),
            LockMode::AccessExclusive,
            sequence,
            Work::Instant,
        );
    }
}

/// Contract steps after the swap: VALIDATE each foreign key added back NOT VALID, under a
/// lock that lets reads and writes through; a partitioned table's partition by partition,
/// then its parent's key adopting them without a scan.
pub(super) fn validate_incoming_foreign_keys(
    x: &mut Expansion,
    table: &str,
    from: &Ident,
    to: &Ident,
    facts: Option<&ColumnFacts>,
) {
    let Some(facts) = facts.filter(|f| !f.incoming.is_empty()) else {
        return;
    };
    // No table of its own: the step must not be merged into the trigger-dropping transaction.
    let step = x.step(
        "validate_incoming_foreign_keys",
        Phase::Contract,
        "validate the foreign keys that reference the new column".into(),
        None,
    );
    let keys: Vec<(&IncomingForeignKey, String, String)> = facts
        .incoming
        .iter()
        .map(|fk| {
            (
                fk,
                quote::ident(&fk.name),
                incoming_definition(fk, from, to),
            )
        })
        .collect();
    let partitioned = || keys.iter().filter(|(fk, ..)| fk.from_partitioned);
    for (fk, name, _) in &keys {
        if fk.from_partitioned {
            continue;
        }
        step.sql(
            format!("ALTER TABLE {} VALIDATE CONSTRAINT {name}", fk.table),
            LockMode::ShareUpdateExclusive,
            &fk.table,
            Work::Scan,
        )
        .also_locks(LockMode::RowShare, table);
    }
    if partitioned().next().is_none() {
        return;
    }
    // Statement by statement, so that a partition detached meanwhile is skipped.
    step.outside_transaction();
    for (fk, name, definition) in partitioned() {
        incoming_key(fk, name, definition, table).validate(step);
    }
    let step = x.step(
        "attach_incoming_foreign_keys",
        Phase::Contract,
        "add the foreign keys that reference the new column on their partitioned tables, adopting each partition's".into(),
        None,
    );
    for (fk, name, definition) in partitioned() {
        incoming_key(fk, name, definition, table).adopt(step);
    }
}
