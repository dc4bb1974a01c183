//! The change catalogue. Each kind lives in its own file behind `ChangeKind`: its raw serde
//! shape, the checks that turn it into a validated change, what it touches (its footprint,
//! used for the plan-level checks and cross-change edges) and the steps it expands into. A
//! new kind is its file, its `mod` line and its line in `change_kinds!`.

pub mod column;
mod column_pair;
pub use column_pair::refuses_incoming;
mod partitions;

use crate::pg::catalog::{Named, PartitionKey, Partitioning, Presence};
use crate::pg::quote;
use crate::plan::archive::Archive;
use crate::plan::check::{Checker, Ident};
use crate::plan::expand::Expansion;
use crate::plan::live::Walk;
use crate::plan::revert::{Before, Irreversible, Left};
use crate::plan::source::FieldPath;
use serde::de::DeserializeOwned;

pub trait ChangeKind: Sized {
    /// The plan file's shape of this change, read by serde with unknown keys refused.
    type Raw: DeserializeOwned;

    /// Checks the raw change; reports every problem to `cx` and returns None if any.
    fn check(raw: Self::Raw, at: &FieldPath, cx: &mut Checker) -> Option<Self>;

    /// What the change touches.
    fn footprint(&self) -> Footprint;

    /// Adds the change's steps, and its part of the table's shared trigger and backfill.
    fn expand(&self, x: &mut Expansion);

    /// Columns whose catalog facts the change needs before it first runs.
    fn catalog_columns(&self) -> Vec<ColumnNeed> {
        Vec::new()
    }

    /// Indexes whose definitions are kept with the plan's facts when it first runs (for a
    /// revert to rebuild what it drops).
    fn catalog_indexes(&self) -> Vec<Ident> {
        Vec::new()
    }

    /// Checks the change against the live catalog's model (`validate --database-url`): names
    /// it needs exist, names it creates are free; queues slower probes; then moves the model
    /// to the schema after the change, for the changes after it. No default: every kind says.
    fn check_live(&self, walk: &mut Walk, at: &FieldPath);

    /// What the change does when its table is partitioned (with `key`), for `validate` to
    /// say; anything but `Runs` is refused before the plan's first statement.
    fn on_partitioned_table(&self, _key: &PartitionKey) -> OnPartitioned {
        OnPartitioned::NotYet
    }

    /// The change's `if_exists` / `if_not_exists`, when it has one.
    fn condition(&self) -> Option<Condition> {
        None
    }

    /// For a change whose contract destroys data: its own `archive:` setting (None: the
    /// plan's) and what it destroys, in words.
    fn archives(&self) -> Option<(Option<Archive>, String)> {
        None
    }

    /// The changes that take this one back once its plan completed (`switchback revert`),
    /// as a plan file writes them, from what contract archived of it (`left`) and what the
    /// plan's first run found (`before`).
    fn reverse(
        &self,
        _left: Left,
        _before: &Before,
    ) -> Result<Vec<serde_yaml::Value>, Irreversible> {
        Err(Irreversible::NotYet)
    }
}

/// A change written with `IF [NOT] EXISTS`: it runs only when its object exists, or only
/// when it does not, as PostgreSQL would decide the statement. Decided once, against the
/// catalog before the plan's first statement, and kept with the plan's facts, so a re-run
/// after a crash and an abort see that decision, not the objects the plan has made since
/// (an aborted `create_table` whose table was there before must leave that table alone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub object: Object,
    /// True for `if_exists`, false for `if_not_exists`.
    pub runs_if_present: bool,
}

/// Whether a conditional change runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Runs,
    /// It does not, and why: "`audit_log` exists already (if_not_exists)".
    Skipped(String),
    /// Neither running nor skipping would do what the migration meant.
    Refused(String),
}

/// What a condition looks for in the plan's schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Object {
    /// Any relation of that name: a table, index, view or sequence takes the name, as in
    /// PostgreSQL's own `IF NOT EXISTS`.
    Relation(Ident),
    Column {
        table: Ident,
        column: Ident,
    },
}

impl Condition {
    pub fn if_exists(object: Object) -> Condition {
        Condition {
            object,
            runs_if_present: true,
        }
    }

    pub fn if_not_exists(object: Object) -> Condition {
        Condition {
            object,
            runs_if_present: false,
        }
    }

    /// The object as the catalog query names it.
    pub fn named(&self) -> Named<'_> {
        match &self.object {
            Object::Relation(name) => Named::Relation(name.as_str()),
            Object::Column { table, column } => Named::Column {
                table: table.as_str(),
                column: column.as_str(),
            },
        }
    }

    /// What `advance` (at the plan's first run) and `validate --database-url` make of what the
    /// catalog holds. An INVALID index of the name is refused: PostgreSQL's IF NOT EXISTS
    /// would keep the broken leftover of a failed concurrent build and call the index made.
    pub fn decide(&self, presence: Presence, schema: &str) -> Decision {
        match (&self.object, presence) {
            (Object::Relation(name), Presence::InvalidIndex) if !self.runs_if_present => {
                Decision::Refused(format!(
                    "`{name}` is an INVALID index, left by a failed concurrent build, and `if_not_exists` would keep it as it is; drop it (DROP INDEX CONCURRENTLY {}) and run again",
                    quote::qualified(schema, name.as_str())
                ))
            }
            (_, presence) if (presence != Presence::Missing) == self.runs_if_present => {
                Decision::Runs
            }
            _ => Decision::Skipped(self.skipped()),
        }
    }

    fn object_text(&self) -> String {
        match &self.object {
            Object::Relation(name) => format!("`{name}`"),
            Object::Column { table, column } => format!("column `{table}`.`{column}`"),
        }
    }

    fn field(&self) -> &'static str {
        if self.runs_if_present {
            "if_exists"
        } else {
            "if_not_exists"
        }
    }

    /// When the change runs, for `plan`: "only if `x` does not exist when the plan first runs".
    pub fn describe(&self) -> String {
        let state = if self.runs_if_present {
            "exists"
        } else {
            "does not exist"
        };
        format!(
            "only if {} {state} when the plan first runs ({})",
            self.object_text(),
            self.field()
        )
    }

    /// Why the change is skipped, given that the object's presence made it so.
    fn skipped(&self) -> String {
        let state = if self.runs_if_present {
            "does not exist"
        } else {
            "exists already"
        };
        format!("{} {state} ({})", self.object_text(), self.field())
    }
}

/// A change's verdict on a partitioned table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnPartitioned {
    /// It runs there; how, for validate's note.
    Runs(&'static str),
    /// It cannot run on this table, and why.
    Refused(String),
    /// switchback does not run this kind on a partitioned table.
    NotYet,
}

impl OnPartitioned {
    /// `how`, unless a unique index over `columns` cannot exist on a table with `key`.
    pub fn unique(key: &PartitionKey, columns: &[Ident], how: &'static str) -> OnPartitioned {
        let columns: Vec<&str> = columns.iter().map(Ident::as_str).collect();
        match key.refuses_unique(&columns) {
            Some(why) => OnPartitioned::Refused(why),
            None => OnPartitioned::Runs(how),
        }
    }
}

/// A column whose catalog facts a change needs.
#[derive(Debug, Clone)]
pub struct ColumnNeed {
    pub table: Ident,
    pub column: Ident,
    /// The change moves the column's objects to another column (rename_column, a shadow
    /// column); objects switchback cannot carry over (views, incoming foreign keys) refuse
    /// the plan before it starts. False when only the current default or nullability is needed
    /// (to undo a change on abort).
    pub moves: bool,
    /// change_type's new type: whether the cast rewrites is read too.
    pub new_type: Option<String>,
}

impl ColumnNeed {
    pub fn settings(table: &Ident, column: &Ident) -> ColumnNeed {
        ColumnNeed {
            table: table.clone(),
            column: column.clone(),
            moves: false,
            new_type: None,
        }
    }
}

/// Which property of a column a change redefines; two changes redefining the same one fight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attribute {
    Type,
    Nullability,
    Default,
}

/// What one change touches, for the checks across the changes of a plan.
#[derive(Debug, Default)]
pub struct Footprint {
    /// The table whose columns the lists below name.
    pub table: Option<Ident>,
    /// Columns that must exist when the change runs.
    pub uses: Vec<Ident>,
    /// Columns whose values the change's trigger or backfill computes from.
    pub reads: Vec<Ident>,
    /// Columns whose stored values the change writes.
    pub writes: Vec<Ident>,
    pub alters: Vec<(Ident, Attribute)>,
    pub creates: Vec<Ident>,
    /// Columns gone once the change is complete, with how ("dropped", "renamed to `x`").
    pub removes: Vec<(Ident, String)>,
    /// Other tables that must exist (foreign key targets).
    pub other_tables: Vec<Ident>,
    pub creates_table: Option<Ident>,
    pub removes_table: Option<(Ident, String)>,
    /// Index and constraint names the change creates, with the field that names each.
    pub names: Vec<(Ident, FieldPath)>,
}

impl Change {
    /// What `validate` and `advance` say of this change when its table is partitioned: Ok(None)
    /// for a plain table, Ok(Some(note)) for what will happen, Err(why) when it cannot run.
    pub fn on_partitioned(&self, partitioning: &Partitioning) -> Result<Option<String>, String> {
        let Some(table) = self.footprint().subject().cloned() else {
            return Ok(None);
        };
        match partitioning {
            Partitioning::None => Ok(None),
            Partitioning::Unsupported(why) => Err(format!(
                "`{table}` is partitioned and {why}; switchback supports one level of plain partitions"
            )),
            Partitioning::Flat { partitions, key } => match self.on_partitioned_table(key) {
                OnPartitioned::Runs(how) => Ok(Some(format!(
                    "`{table}` is partitioned ({} partition{}): {how}",
                    partitions.len(),
                    if partitions.len() == 1 { "" } else { "s" }
                ))),
                OnPartitioned::Refused(why) => Err(format!("`{table}` is partitioned, and {why}")),
                OnPartitioned::NotYet => Err(format!(
                    "`{table}` is partitioned, and switchback does not run {} on a partitioned table yet",
                    self.kind()
                )),
            },
        }
    }
}

impl Footprint {
    /// The existing table the change alters or removes, if any.
    pub fn subject(&self) -> Option<&Ident> {
        self.table
            .as_ref()
            .or(self.removes_table.as_ref().map(|(t, _)| t))
    }
}

// Declared here, not inside `change_kinds!`, so rustfmt and every other tool sees them.
pub mod add_check;
pub mod add_column;
pub mod add_foreign_key;
pub mod add_index;
pub mod add_unique;
pub mod change_type;
pub mod create_table;
pub mod drop_column;
pub mod drop_default;
pub mod drop_index;
pub mod drop_not_null;
pub mod drop_table;
pub mod rename_column;
pub mod rename_table;
pub mod restore_column;
pub mod restore_index;
pub mod restore_table;
pub mod set_default;
pub mod set_not_null;
pub mod sql;

macro_rules! change_kinds {
    ($($module:ident => $kind:ident),* $(,)?) => {
        /// One validated entry of a plan's `changes:` list.
        #[derive(Debug, Clone)]
        pub enum Change { $($kind($module::$kind),)* }

        /// The change kinds' names as plan files write them.
        pub const KINDS: &[&str] = &[$(stringify!($module),)*];

        impl Change {
            pub fn kind(&self) -> &'static str {
                match self { $(Change::$kind(_) => stringify!($module),)* }
            }

            pub fn footprint(&self) -> Footprint {
                match self { $(Change::$kind(c) => c.footprint(),)* }
            }

            pub fn expand(&self, x: &mut Expansion) {
                match self { $(Change::$kind(c) => c.expand(x),)* }
            }

            pub fn catalog_columns(&self) -> Vec<ColumnNeed> {
                match self { $(Change::$kind(c) => c.catalog_columns(),)* }
            }

            pub fn catalog_indexes(&self) -> Vec<Ident> {
                match self { $(Change::$kind(c) => c.catalog_indexes(),)* }
            }

            pub fn check_live(&self, walk: &mut Walk, at: &FieldPath) {
                match self { $(Change::$kind(c) => c.check_live(walk, at),)* }
            }

            fn on_partitioned_table(&self, key: &PartitionKey) -> OnPartitioned {
                match self { $(Change::$kind(c) => c.on_partitioned_table(key),)* }
            }

            pub fn condition(&self) -> Option<Condition> {
                match self { $(Change::$kind(c) => c.condition(),)* }
            }

            pub fn archives(&self) -> Option<(Option<Archive>, String)> {
                match self { $(Change::$kind(c) => c.archives(),)* }
            }

            pub fn reverse(&self, left: Left, before: &Before) -> Result<Vec<serde_yaml::Value>, Irreversible> {
                match self { $(Change::$kind(c) => c.reverse(left, before),)* }
            }

            /// Reads a change of kind `kind`; None when the kind is unknown, Some(None) when
            /// the change is invalid (already reported).
            pub(crate) fn check(
                kind: &str,
                value: serde_yaml::Value,
                at: &FieldPath,
                cx: &mut Checker,
            ) -> Option<Option<Change>> {
                match kind {
                    $(stringify!($module) => Some(
                        cx.deserialize::<<$module::$kind as ChangeKind>::Raw>(at, value)
                            .and_then(|raw| $module::$kind::check(raw, at, cx))
                            .map(Change::$kind),
                    ),)*
                    _ => None,
                }
            }
        }
    };
}

change_kinds! {
    add_column => AddColumn,
    rename_column => RenameColumn,
    set_not_null => SetNotNull,
    drop_not_null => DropNotNull,
    change_type => ChangeType,
    set_default => SetDefault,
    drop_default => DropDefault,
    drop_column => DropColumn,
    add_index => AddIndex,
    drop_index => DropIndex,
    add_check => AddCheck,
    add_foreign_key => AddForeignKey,
    add_unique => AddUnique,
    create_table => CreateTable,
    drop_table => DropTable,
    rename_table => RenameTable,
    restore_column => RestoreColumn,
    restore_index => RestoreIndex,
    restore_table => RestoreTable,
    sql => Sql,
}

/// Kinds `switchback revert` writes into a reverse plan, from what contract archived: valid in
/// any plan file, but not part of the catalogue people write from.
pub const WRITTEN_BY_REVERT: &[&str] = &["restore_column", "restore_index", "restore_table"];

/// The kinds people write plans with.
pub fn catalogue() -> impl Iterator<Item = &'static str> {
    KINDS
        .iter()
        .copied()
        .filter(|k| !WRITTEN_BY_REVERT.contains(k))
}

/// The `{ table, column }` mapping that drop_not_null and drop_default share.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping with table and column")]
pub struct RawTableColumn {
    table: String,
    column: String,
}

impl RawTableColumn {
    /// The checked table and column; None when either is invalid (already reported).
    pub(crate) fn check(self, at: &FieldPath, cx: &mut Checker) -> Option<(Ident, Ident)> {
        let before = cx.error_count();
        let table = cx.ident(&at.key("table"), &self.table);
        let column = cx.ident(&at.key("column"), &self.column);
        valid_if_clean(cx, before, || Some((table, column)))
    }
}

/// Finishes a `check`: the change is valid when no error was reported while checking it.
pub(crate) fn valid_if_clean<T>(
    cx: &Checker,
    errors_before: usize,
    value: impl FnOnce() -> Option<T>,
) -> Option<T> {
    if cx.error_count() > errors_before {
        None
    } else {
        value()
    }
}
