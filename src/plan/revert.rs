//! The reverse of a completed plan, for `switchback revert`: a plan file of its own, written
//! from the plan's text and what its contract archived, that the normal engine runs as an
//! expand/contract (the same lock discipline, resumable, abortable). Each change kind says
//! how it is taken back (`ChangeKind::reverse`); this module puts them together, last change
//! first, and says why a plan cannot be reverted exactly.

use crate::pg::facts::{ColumnFacts, Facts};
use crate::plan::archive::Archive;
use crate::plan::check::Ident;
use crate::plan::Plan;
use serde_yaml::{Mapping, Value};

/// What contract kept of one change, as the ledger recorded it.
#[derive(Debug, Clone, Copy)]
pub struct Kept<'a> {
    /// The quoted, schema-qualified relation that keeps it.
    pub kept_in: &'a str,
    /// Its definition, read from the catalog just before contract removed it.
    pub definition: &'a serde_json::Value,
}

/// Why a change cannot be taken back exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Irreversible {
    /// switchback has no reverse for the kind (yet).
    NotYet,
    /// It cannot be, and why: "its `down` is not written".
    Because(String),
}

/// What the plan's first run found: the facts it read, in the plan's schema.
#[derive(Debug, Clone, Copy)]
pub struct Before<'a> {
    pub facts: &'a Facts,
    pub schema: &'a str,
}

impl Before<'_> {
    /// `table` of the plan's schema, quoted and qualified.
    pub fn table(&self, table: &Ident) -> String {
        crate::pg::quote::qualified(self.schema, table.as_str())
    }
}

/// What a completed change left for its revert: the archive its contract kept, or why none.
#[derive(Debug, Clone, Copy)]
pub enum Left<'a> {
    Kept(Kept<'a>),
    /// Its archive was purged (when, by whom).
    Purged(&'a str),
    /// `archive: false`: contract destroyed it for good.
    Off,
    /// No archive was recorded (contract had nothing to keep of it, or kept it elsewhere).
    Missing,
}

impl<'a> Left<'a> {
    /// The archive of `what` ("`users`.`nickname`"), or why the change cannot be reverted
    /// without it.
    pub fn kept(self, what: &str) -> Result<Kept<'a>, Irreversible> {
        Err(Irreversible::Because(match self {
            Left::Kept(kept) => return Ok(kept),
            Left::Purged(when) => {
                format!("the archive of {what} was purged ({when}); its values are gone")
            }
            Left::Off => format!("contract destroyed {what} for good (archive: false)"),
            Left::Missing => format!("no archive of {what} was recorded"),
        }))
    }
}

/// The id of the plan that reverts `plan`.
pub fn id(plan: &str) -> String {
    format!("{plan}.revert")
}

/// The reverse plan's text: the changes of `plan` taken back, last first, from the `facts`
/// its first run read (changes it skipped are left alone) and what contract kept of each
/// change (`kept`: None when no archive was recorded). Err lists every change that cannot
/// be reverted, with why.
pub fn text<'a>(
    plan: &Plan,
    facts: &Facts,
    kept: impl Fn(usize) -> Option<Left<'a>>,
) -> Result<String, Vec<String>> {
    let mut changes = Vec::new();
    let mut refusals = Vec::new();
    for (index, change) in plan.changes.iter().enumerate().rev() {
        if facts.is_skipped(index) {
            continue;
        }
        let at = format!("changes[{index}] ({})", change.kind());
        let left = kept(index).unwrap_or_else(|| match change.archives() {
            Some((own, _)) if Archive::over(own, plan.archive) == Archive::Off => Left::Off,
            _ => Left::Missing,
        });
        let before = Before {
            facts,
            schema: plan.schema.as_str(),
        };
        match change.reverse(left, &before) {
            Ok(reverse) => changes.extend(reverse),
            Err(Irreversible::NotYet) => refusals.push(format!(
                "{at}: switchback cannot revert a `{}` change yet",
                change.kind()
            )),
            Err(Irreversible::Because(why)) => refusals.push(format!("{at}: {why}")),
        }
    }
    if !refusals.is_empty() {
        return Err(refusals);
    }
    let mut document = Mapping::new();
    document.insert(
        "description".into(),
        format!("revert of {}: what its contract removed put back", plan.id).into(),
    );
    document.insert("schema".into(), plan.schema.as_str().into());
    document.insert(
        "lock_timeout".into(),
        crate::plan::duration::format(plan.lock_timeout).into(),
    );
    if plan.index_workers != crate::plan::DEFAULT_INDEX_WORKERS {
        document.insert("index_workers".into(), plan.index_workers.into());
    }
    document.insert("changes".into(), Value::Sequence(changes));
    let yaml = serde_yaml::to_string(&Value::Mapping(document))
        .map_err(|e| vec![format!("write the reverse plan: {e}")])?;
    Ok(format!(
        "# Written by `switchback revert {}` from the plan and its archives.\n{yaml}",
        plan.id
    ))
}

/// One entry of a `changes:` list: `{kind: {field: value, ...}}`.
pub fn change(kind: &str, fields: &[(&str, Value)]) -> Value {
    let mut inner = Mapping::new();
    for (key, value) in fields {
        inner.insert((*key).into(), value.clone());
    }
    let mut outer = Mapping::new();
    outer.insert(kind.into(), Value::Mapping(inner));
    Value::Mapping(outer)
}

/// What `facts` read of `table`.`column` before the plan first ran.
fn column_before<'f>(
    facts: &'f Facts,
    table: &Ident,
    column: &Ident,
) -> Result<&'f ColumnFacts, Irreversible> {
    facts
        .column(table.as_str(), column.as_str())
        .ok_or_else(|| {
            Irreversible::Because(format!(
                "the plan's first run did not record `{table}`.`{column}` as it was"
            ))
        })
}

/// The change that gives `table`.`column` back the default it had before the plan.
pub fn default_back(
    facts: &Facts,
    table: &Ident,
    column: &Ident,
) -> Result<Vec<Value>, Irreversible> {
    let before = column_before(facts, table, column)?;
    let at = [
        ("table", table.as_str().into()),
        ("column", column.as_str().into()),
    ];
    Ok(vec![match &before.default {
        Some(default) => change(
            "set_default",
            &[
                at[0].clone(),
                at[1].clone(),
                ("default", default.as_str().into()),
            ],
        ),
        None => change("drop_default", &at),
    }])
}

/// Whether `table`.`column` was NOT NULL before the plan.
pub fn was_not_null(facts: &Facts, table: &Ident, column: &Ident) -> Result<bool, Irreversible> {
    Ok(column_before(facts, table, column)?.not_null)
}

/// The type `table`.`column` had before the plan.
pub fn type_before(facts: &Facts, table: &Ident, column: &Ident) -> Result<String, Irreversible> {
    Ok(column_before(facts, table, column)?.sql_type.clone())
}

/// A `sql` change that drops the constraint `name` (quoted) of `table` (quoted, qualified);
/// its `down` puts it back with `restore`, statements in the safe order.
pub fn drop_constraint(table: &str, name: &str, restore: &[String]) -> Value {
    let down: String = restore.iter().map(|s| format!("{s};\n")).collect();
    change(
        "sql",
        &[
            (
                "up",
                format!("ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name};").into(),
            ),
            ("down", down.trim_end().into()),
        ],
    )
}

/// `sql` run only while `table` (quoted, qualified) has no constraint `name`: a statement of
/// a `down` that abort, run again after a crash, must not repeat.
pub fn unless_constraint(table: &str, name: &str, sql: &str) -> String {
    use crate::pg::quote::literal;
    format!(
        "DO $unless$ BEGIN IF NOT EXISTS (SELECT FROM pg_constraint WHERE conrelid = to_regclass({}) AND conname = {}) THEN EXECUTE {}; END IF; END $unless$",
        literal(table),
        literal(name),
        literal(sql)
    )
}

/// `definition` built CONCURRENTLY, or why it cannot be. A partitioned table's index
/// (`... ON ONLY <table> ...`) gives the plain table's statement: the kinds that build it
/// turn it into the partitioned recipe when the table is partitioned as they run.
pub fn concurrent_build(definition: &str) -> Result<String, String> {
    for head in ["CREATE UNIQUE INDEX ", "CREATE INDEX "] {
        if let Some(rest) = definition.strip_prefix(head) {
            let rest = rest.replacen(" ON ONLY ", " ON ", 1);
            return Ok(format!("{head}CONCURRENTLY {rest}"));
        }
    }
    Err(format!("`{definition}` is not a CREATE INDEX statement"))
}
