//! `archive:`: what contract would destroy is kept instead, in the archive schema, for a
//! retention period (`archive: 7d` unless the plan or the change says otherwise; `archive:
//! false` opts out, with a lint warning). Retention is enforced only by an explicit purge.

use crate::plan::check::{Checker, SqlText};
use crate::plan::diagnostic::Code;
use crate::plan::duration;
use crate::plan::source::FieldPath;
use std::time::Duration;

/// The schema archived tables and columns are kept in.
pub const SCHEMA: &str = "switchback_archive";

/// How long an archive is kept when neither the plan nor the change says.
pub const DEFAULT_KEEP: Duration = Duration::from_secs(7 * 24 * 3600);

/// Whether contract keeps what it removes, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Archive {
    Keep(Duration),
    /// Destroyed for good: `archive: false`.
    Off,
}

impl Default for Archive {
    fn default() -> Self {
        Archive::Keep(DEFAULT_KEEP)
    }
}

impl Archive {
    /// Reads `archive:` as written at `at`: a retention (`7d`, `12h`) or `false`.
    pub fn check(raw: &SqlText, at: &FieldPath, cx: &mut Checker) -> Option<Archive> {
        let text = raw.0.trim();
        if text == "false" {
            return Some(Archive::Off);
        }
        let why = match duration::parse(text) {
            Ok(d) if !d.is_zero() => return Some(Archive::Keep(d)),
            Ok(_) => format!("`{text}` keeps nothing; write `archive: false` to destroy for good"),
            Err(_) if text == "true" => {
                "`archive: true` says no retention; write how long to keep it (`7d`, the default) or `false`".into()
            }
            Err(_) => format!(
                "`{text}` is neither a retention nor false; write how long to keep what contract removes (`7d`, `12h`) or `false`"
            ),
        };
        cx.report(Code::BadValue, at, why, None);
        None
    }

    /// A change's own `archive:`: Some(None) when not written (the plan's applies), None when
    /// written wrong (reported).
    pub fn check_own(
        raw: Option<&SqlText>,
        at: &FieldPath,
        cx: &mut Checker,
    ) -> Option<Option<Archive>> {
        match raw {
            None => Some(None),
            Some(a) => Archive::check(a, at, cx).map(Some),
        }
    }

    /// The change's own setting over the plan's.
    pub fn over(own: Option<Archive>, plan: Archive) -> Archive {
        own.unwrap_or(plan)
    }
}

/// Reports at `at` a relation that is not a quoted table of the archive schema (a reverse
/// plan's `from`, as `switchback revert` writes it).
pub fn check_relation(relation: &str, at: &FieldPath, cx: &mut Checker) {
    let prefix = format!("{}.", crate::pg::quote::ident(SCHEMA));
    let named = relation
        .strip_prefix(&prefix)
        .is_some_and(|n| n.len() > 2 && n.starts_with('"') && n.ends_with('"'));
    if !named {
        cx.report(
            Code::BadValue,
            at,
            format!("`{relation}` is not a table of the archive schema {SCHEMA}"),
            None,
        );
    }
}
