//! The reverse of a completed plan, for `switchback revert`: a plan file of its own, written
//! from the plan's text and what its contract archived, that the normal engine runs as an
//! expand/contract (the same lock discipline, resumable, abortable). Each change kind says
//! how it is taken back (`ChangeKind::reverse`); this module puts them together, last change
//! first, and says why a plan cannot be reverted exactly.

use crate::plan::archive::Archive;
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

/// What a completed change left for its revert: its archive, if contract kept one.
#[derive(Debug, Clone, Copy)]
pub enum Left<'a> {
    Nothing,
    Kept(Kept<'a>),
    /// Its archive was purged (when, by whom).
    Purged(&'a str),
}

/// The id of the plan that reverts `plan`.
pub fn id(plan: &str) -> String {
    format!("{plan}.revert")
}

/// The reverse plan's text: the changes of `plan` taken back, last first. `skipped` says
/// whether change `i` was skipped (its `if_exists` found nothing); `left` what contract kept
/// of it. Err lists every change that cannot be reverted, with why.
pub fn text<'a>(
    plan: &Plan,
    skipped: impl Fn(usize) -> bool,
    left: impl Fn(usize) -> Left<'a>,
) -> Result<String, Vec<String>> {
    let mut changes = Vec::new();
    let mut refusals = Vec::new();
    for (index, change) in plan.changes.iter().enumerate().rev() {
        if skipped(index) {
            continue;
        }
        let at = format!("changes[{index}] ({})", change.kind());
        let kept = match (change.archives(), left(index)) {
            (None, _) => None,
            (Some(_), Left::Kept(kept)) => Some(kept),
            (Some((_, what)), Left::Purged(when)) => {
                refusals.push(format!(
                    "{at}: the archive of {what} was purged ({when}); its values are gone"
                ));
                continue;
            }
            (Some((own, what)), Left::Nothing) => {
                refusals.push(match Archive::over(own, plan.archive) {
                    Archive::Off => {
                        format!("{at}: contract destroyed {what} for good (archive: false)")
                    }
                    Archive::Keep(_) => format!("{at}: no archive of {what} was recorded"),
                });
                continue;
            }
        };
        match change.reverse(kept) {
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
