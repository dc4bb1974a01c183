//! What the kinds that run partition by partition share: the name of each partition's own
//! index or constraint, the index and foreign key recipes, the run-time test that a partition
//! is still attached, and the guard that stops the parent's statement when a partition was
//! attached since the plan started.
//!
//! PostgreSQL refuses part of the usual recipe on a partitioned table (CREATE INDEX
//! CONCURRENTLY, ADD CONSTRAINT ... USING INDEX, a NOT VALID foreign key before 18), but
//! allows each on a partition, and the parent's statement then adopts what every partition
//! already has (a matching index, a validated foreign key) without building or scanning.

use crate::pg::facts::Partition;
use crate::pg::lock::LockMode;
use crate::pg::quote;
use crate::plan::sql::Work;
use crate::plan::step::Step;
use std::collections::BTreeMap;

/// One partition and the object made on it for the parent's `object`.
pub(super) struct Child {
    /// The partition, quoted and qualified.
    pub table: String,
    /// The object's name on this partition, quoted.
    pub name: String,
    /// The same, qualified with the partition's schema.
    pub qualified: String,
}

/// Each partition with its own object for `object`: `<object>_<partition>`, shortened
/// deterministically past PostgreSQL's 63 bytes.
pub(super) fn children(partitions: &[Partition], object: &str) -> Vec<Child> {
    Parts::from(partitions).children(object)
}

/// A partitioned table's partitions, and the names their indexes take where the plan knows
/// them: a revert's, the names PostgreSQL had given them when the plan's first run recorded
/// them. Any other gets `<object>_<partition>`.
#[derive(Clone, Copy)]
pub(super) struct Parts<'a> {
    pub list: &'a [Partition],
    pub names: Option<&'a BTreeMap<String, String>>,
}

impl<'a> From<&'a [Partition]> for Parts<'a> {
    fn from(list: &'a [Partition]) -> Self {
        Parts { list, names: None }
    }
}

impl<'a> Parts<'a> {
    /// `list`, each partition's index named as `names` (by partition name) says.
    pub(super) fn named(list: &'a [Partition], names: &'a BTreeMap<String, String>) -> Self {
        Parts {
            list,
            names: Some(names),
        }
    }

    /// Each partition with its own object for `object`, under its known name or
    /// `<object>_<partition>`.
    pub(super) fn children(&self, object: &str) -> Vec<Child> {
        self.list
            .iter()
            .map(|p| {
                let name = self
                    .names
                    .and_then(|names| names.get(&p.name).cloned())
                    .unwrap_or_else(|| quote::object_name(&[object, &p.name]));
                Child {
                    table: quote::qualified(&p.schema, &p.name),
                    name: quote::ident(&name),
                    qualified: quote::qualified(&p.schema, &name),
                }
            })
            .collect()
    }
}

/// PostgreSQL's recipe for an index `name` (in `schema`) on the partitioned `table`, added to
/// `step` (which runs statement by statement): `parent`, the index `ON ONLY` the parent
/// (catalog only, invalid), then each partition's, `child` (CONCURRENTLY), attached one by
/// one; the parent's is valid once all are. Each statement is safe to run again after a
/// crash; a partition detached meanwhile is skipped. Undo drops the parent's index, which
/// takes the attached ones with it, then any partition's left unattached.
pub(super) fn build_index(
    step: &mut Step,
    table: &str,
    schema: &str,
    name: &str,
    parent: String,
    child: impl Fn(&Child) -> String,
    partitions: Parts<'_>,
) {
    let index = quote::qualified(schema, name);
    step.sql(parent, LockMode::Share, table, Work::Instant);
    let children = partitions.children(name);
    for c in &children {
        let attached = attached(&c.table, table);
        step.index_build(child(c), &c.qualified, &c.table)
            .only_if(attached.clone())
            .sql(
                format!("ALTER INDEX {index} ATTACH PARTITION {}", c.qualified),
                LockMode::ShareUpdateExclusive,
                &c.table,
                Work::Instant,
            )
            .only_if(attached);
    }
    step.undo(
        format!("DROP INDEX IF EXISTS {index}"),
        LockMode::AccessExclusive,
        table,
    );
    for c in &children {
        step.undo(
            format!("DROP INDEX CONCURRENTLY IF EXISTS {}", c.qualified),
            LockMode::ShareUpdateExclusive,
            &c.table,
        );
    }
}

/// The index `name` (in `schema`) that `build` makes on `table`, built in `step` (which runs
/// statement by statement): CONCURRENTLY on a plain table, resumable and dropped by undo; by
/// `build_like` on a partitioned one (`partitions`).
pub(super) fn build_index_from(
    step: &mut Step,
    build: &str,
    table: &str,
    schema: &str,
    name: &str,
    partitions: Option<Parts<'_>>,
    with_parent: bool,
) {
    if let Some(partitions) = partitions {
        return build_like(step, build, table, schema, name, partitions, with_parent);
    }
    let index = quote::qualified(schema, name);
    step.index_build(build.to_owned(), &index, table).undo(
        format!("DROP INDEX CONCURRENTLY IF EXISTS {index}"),
        LockMode::ShareUpdateExclusive,
        table,
    );
}

/// The index that `build` (`CREATE [UNIQUE] INDEX CONCURRENTLY <name> ON <table> USING ...`,
/// a definition as `pg_get_indexdef` writes it, made concurrent) makes on a plain table, made
/// on the partitioned `table` by PostgreSQL's recipe (`build_index`): the parent's `ON ONLY`
/// (catalog only, invalid), each partition's CONCURRENTLY, attached one by one. An index that
/// will back a constraint is built on the partitions only (`with_parent` false): the parent's
/// constraint adopts them, and an index already attached to a parent index could not be.
pub(super) fn build_like(
    step: &mut Step,
    build: &str,
    table: &str,
    schema: &str,
    name: &str,
    partitions: Parts<'_>,
    with_parent: bool,
) {
    let (head, on) = build.split_once(" ON ").unwrap_or((build, ""));
    let method_on = on.find(" USING ").map_or(on, |at| &on[at..]);
    let head = head.replacen(" CONCURRENTLY ", " IF NOT EXISTS ", 1);
    let unique = if head.starts_with("CREATE UNIQUE") {
        "UNIQUE "
    } else {
        ""
    };
    let child = |c: &Child| {
        format!(
            "CREATE {unique}INDEX CONCURRENTLY {} ON {}{method_on}",
            c.name, c.table
        )
    };
    if with_parent {
        let parent = format!("{head} ON ONLY {table}{method_on}");
        return build_index(step, table, schema, name, parent, child, partitions);
    }
    build_each(step, table, name, child, partitions);
}

/// A foreign key `name` (quoted), `definition` (`FOREIGN KEY (...) REFERENCES ...`) on the
/// partitioned `table`, in three parts for three steps. PostgreSQL refuses a NOT VALID
/// foreign key on a partitioned table before 18, but not on a partition; and the parent's
/// foreign key adopts each partition's validated one (same columns, same target) instead of
/// scanning. The constraint carries the same name on every partition, as the parent's
/// statement alone would have left it. `target`, the referenced table (quoted), when known,
/// is locked as PostgreSQL locks it.
pub(super) struct ForeignKey<'a> {
    pub table: &'a str,
    pub name: &'a str,
    pub definition: &'a str,
    pub target: Option<&'a str>,
    pub partitions: &'a [Partition],
}

impl ForeignKey<'_> {
    /// The key NOT VALID on each partition (the parent locked first, as the application's
    /// writes lock it), each dropped by undo.
    pub fn add_not_valid(&self, step: &mut Step) {
        let (table, name, definition) = (self.table, self.name, self.definition);
        step.sql(
            format!("LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE"),
            LockMode::ShareRowExclusive,
            table,
            Work::Instant,
        );
        for partition in self.partitions {
            let on = quote::qualified(&partition.schema, &partition.name);
            step.sql(
                format!("ALTER TABLE {on} ADD CONSTRAINT {name} {definition} NOT VALID"),
                LockMode::ShareRowExclusive,
                &on,
                Work::Instant,
            );
            if let Some(target) = self.target {
                step.also_locks(LockMode::ShareRowExclusive, target);
            }
            step.undo(
                format!("ALTER TABLE {on} DROP CONSTRAINT IF EXISTS {name}"),
                LockMode::AccessExclusive,
                &on,
            );
        }
    }

    /// VALIDATE on each partition still attached, under a lock that lets writes through; for
    /// a step that runs statement by statement.
    pub fn validate(&self, step: &mut Step) {
        for partition in self.partitions {
            let on = quote::qualified(&partition.schema, &partition.name);
            step.sql(
                format!("ALTER TABLE {on} VALIDATE CONSTRAINT {}", self.name),
                LockMode::ShareUpdateExclusive,
                &on,
                Work::Scan,
            );
            if let Some(target) = self.target {
                step.also_locks(LockMode::RowShare, target);
            }
            step.only_if(attached(&on, self.table));
        }
    }

    /// The parent's key, adopting each partition's without a scan; undo drops it, and the
    /// partitions' it adopted with it.
    pub fn adopt(&self, step: &mut Step) {
        let (table, name) = (self.table, self.name);
        step.sql(
            adopt(
                table,
                self.partitions,
                "SHARE ROW EXCLUSIVE",
                &format!("ALTER TABLE {table} ADD CONSTRAINT {name} {}", self.definition),
                "abort the plan and advance it again, so that every partition gets its own foreign key first",
            ),
            LockMode::ShareRowExclusive,
            table,
            Work::Instant,
        );
        // Adopting a partition's key replaces its triggers on the target: a brief ACCESS
        // EXCLUSIVE there, catalog only.
        if let Some(target) = self.target {
            step.also_locks(LockMode::AccessExclusive, target);
        }
        step.undo(
            format!("ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}"),
            LockMode::AccessExclusive,
            table,
        );
    }
}

/// Each partition's own index `name` (`<name>_<partition>`), built by `child` (a CREATE INDEX
/// CONCURRENTLY), with no index on the parent: for a step that runs statement by statement. A
/// re-run after a crash skips a valid one and rebuilds an INVALID leftover; a partition
/// detached meanwhile is skipped. Undo drops each.
pub(super) fn build_each(
    step: &mut Step,
    table: &str,
    name: &str,
    child: impl Fn(&Child) -> String,
    partitions: Parts<'_>,
) {
    for c in partitions.children(name) {
        step.index_build(child(&c), &c.qualified, &c.table)
            .only_if(attached(&c.table, table))
            .undo(
                format!("DROP INDEX CONCURRENTLY IF EXISTS {}", c.qualified),
                LockMode::ShareUpdateExclusive,
                &c.table,
            );
    }
}

/// Each partition's index `name` (as `build_each` names it) made that partition's UNIQUE or
/// PRIMARY KEY constraint (`primary`, named by `own_constraint`), then the parent's constraint `name`, `definition` (`UNIQUE
/// (a, b)`), adopting them all without building or scanning (`adopt`, failing with `hint` for
/// a partition attached since). For a step that runs statement by statement: a partition
/// detached meanwhile is skipped, and each statement once done.
pub(super) fn attach_constraints(
    step: &mut Step,
    table: &str,
    name: &str,
    primary: bool,
    definition: &str,
    partitions: Parts<'_>,
    hint: &str,
) {
    let kind = if primary { "PRIMARY KEY" } else { "UNIQUE" };
    for (partition, child) in partitions.list.iter().zip(partitions.children(name)) {
        let constraint = own_constraint(partition, &child, primary);
        let done = format!(
            "EXISTS (SELECT FROM pg_constraint WHERE conindid = to_regclass({}))",
            quote::literal(&child.qualified)
        );
        step.sql(
            format!(
                "ALTER TABLE {} ADD CONSTRAINT {constraint} {kind} USING INDEX {}",
                child.table, child.name
            ),
            LockMode::AccessExclusive,
            &child.table,
            Work::Instant,
        )
        .only_if(format!("{} AND NOT {done}", attached(&child.table, table)));
    }
    let alter = format!(
        "ALTER TABLE {table} ADD CONSTRAINT {} {definition}",
        quote::ident(name)
    );
    step.sql(
        adopt(table, partitions.list, "ACCESS EXCLUSIVE", &alter, hint),
        LockMode::AccessExclusive,
        table,
        Work::Instant,
    )
    .only_if(format!(
        "NOT EXISTS (SELECT FROM pg_constraint WHERE conrelid = to_regclass({}) AND conname = {})",
        quote::literal(table),
        quote::literal(name)
    ));
}

/// The name of `partition`'s own UNIQUE or PRIMARY KEY (`primary`) constraint on its index
/// `child`, quoted: a primary key takes the name PostgreSQL gives it, `<partition>_pkey`.
pub(super) fn own_constraint(partition: &Partition, child: &Child, primary: bool) -> String {
    match primary {
        true => quote::ident(&quote::object_name(&[&partition.name, "pkey"])),
        false => child.name.clone(),
    }
}

/// One statement running `sql` (on the partition `child`, quoted and qualified) only while
/// `child` is still a partition of `parent`: for a step that runs in one transaction, where
/// a statement cannot be skipped by the executor.
pub(super) fn when_attached(child: &str, parent: &str, sql: &str) -> String {
    format!(
        "DO $attached$ BEGIN IF {} THEN EXECUTE {}; END IF; END $attached$",
        attached(child, parent),
        quote::literal(sql)
    )
}

/// SQL true while `child` (quoted, qualified) is a partition of `parent`: a statement of a
/// step that runs statement by statement skips a partition detached meanwhile.
pub(super) fn attached(child: &str, parent: &str) -> String {
    format!(
        "EXISTS (SELECT FROM pg_inherits WHERE inhrelid = to_regclass({}) AND inhparent = to_regclass({}))",
        quote::literal(child),
        quote::literal(parent)
    )
}

/// One statement running `alter` (the parent's statement that adopts what each partition
/// has) once no partition was attached since the plan started: PostgreSQL would build or
/// scan, under a lock that blocks writes, for one that has nothing to adopt. It fails naming
/// them, with `hint`. The parent is locked (`mode`) first, as the application's writes lock
/// it before its partitions, so that no partition is attached between the check and `alter`.
pub(super) fn adopt(
    parent: &str,
    partitions: &[Partition],
    mode: &str,
    alter: &str,
    hint: &str,
) -> String {
    let known = partitions
        .iter()
        .map(|p| quote::literal(&quote::qualified(&p.schema, &p.name)))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "DO $adopt$
DECLARE
  attached text;
BEGIN
  LOCK TABLE {parent} IN {mode} MODE;
  SELECT string_agg(i.inhrelid::regclass::text, ', ' ORDER BY i.inhrelid::regclass::text) INTO attached
    FROM pg_inherits i
   WHERE i.inhparent = {parent_literal}::regclass
     AND i.inhrelid NOT IN (SELECT to_regclass(k) FROM unnest(ARRAY[{known}]::text[]) k WHERE to_regclass(k) IS NOT NULL);
  IF attached IS NOT NULL THEN
    RAISE EXCEPTION 'partitions of % attached since the plan started: %', {parent_literal}, attached
      USING HINT = {hint};
  END IF;
  EXECUTE {alter};
END
$adopt$",
        parent_literal = quote::literal(parent),
        hint = quote::literal(hint),
        alter = quote::literal(alter),
    )
}
