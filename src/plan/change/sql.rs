//! `sql`: the escape hatch. Raw statements, parsed at validate time, run in the expand stage
//! with the same lock discipline as every other step; `down` is what abort runs. Statements
//! that block the application are lint errors (E600-E609) naming the change kind that does the
//! same safely; `unsafe: true` with a `reason:` runs them anyway (see `plan::allow`).

use crate::pg::lock::LockMode;
use crate::plan::change::{valid_if_clean, ChangeKind, Footprint};
use crate::plan::check::{did_you_mean, Checker};
use crate::plan::diagnostic::Code;
use crate::plan::expand::Expansion;
use crate::plan::live::Walk;
use crate::plan::revert::{self, Before, Irreversible, Left};
use crate::plan::source::FieldPath;
use crate::plan::sql::{RawStatement, Work};
use crate::plan::step::Phase;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with up and optionally down, lock"
)]
pub struct Raw {
    up: String,
    down: Option<String>,
    /// The strongest lock the statements take, when the author knows better than the parser.
    lock: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Sql {
    pub up: Vec<RawStatement>,
    pub down: Option<Vec<RawStatement>>,
    pub lock: Option<LockMode>,
}

impl ChangeKind for Sql {
    type Raw = Raw;

    fn check(raw: Raw, at: &FieldPath, cx: &mut Checker) -> Option<Self> {
        let before = cx.error_count();
        let up = cx.statements(&at.key("up"), &raw.up);
        let down = raw.down.and_then(|d| cx.statements(&at.key("down"), &d));
        let lock = raw.lock.and_then(|name| {
            let mode = LockMode::from_plan_name(&name);
            if mode.is_none() {
                let names: Vec<&str> = LockMode::ALL.iter().map(|m| m.plan_name()).collect();
                let help = did_you_mean(&name, &names)
                    .unwrap_or_else(|| format!("expected one of {}", names.join(", ")));
                cx.report(
                    Code::BadValue,
                    &at.key("lock"),
                    format!("`{name}` is not a lock mode"),
                    Some(help),
                );
            }
            mode
        });
        // Hazards are lint errors: `allow:` may silence them, so they do not make the
        // change invalid here; the plan is refused later if one stays.
        let hazards: Vec<(String, &str, Code)> = up
            .iter()
            .flatten()
            .flat_map(|s| s.hazards.iter().map(|h| (s.text.clone(), h.why, h.code)))
            .collect();
        let checked = valid_if_clean(cx, before, || {
            Some(Sql {
                up: up?,
                down,
                lock,
            })
        });
        for (text, why, code) in hazards {
            cx.report(code, &at.key("up"), format!("`{text}`: {why}"), None);
        }
        checked
    }

    fn footprint(&self) -> Footprint {
        Footprint::default()
    }

    fn expand(&self, x: &mut Expansion) {
        let step = x.step("sql", Phase::Expand, "run raw SQL".into(), None);
        for statement in &self.up {
            let mode = self.lock.unwrap_or(statement.lock);
            let relation = match statement.tables.as_slice() {
                [] => "(no table)".to_owned(),
                tables => tables.join(", "),
            };
            step.sql(statement.text.clone(), mode, &relation, statement.work);
            if let Some(index) = &statement.builds_index {
                step.builds(index);
            }
            if let Some(index) = &statement.drops_index {
                step.drops(index);
            }
            if !statement.transactional {
                step.outside_transaction();
            }
        }
        for (i, statement) in self.down.iter().flatten().enumerate() {
            let relation = statement
                .tables
                .first()
                .cloned()
                .unwrap_or_else(|| "(no table)".to_owned());
            step.undo(
                statement.text.clone(),
                self.lock.unwrap_or(statement.lock),
                &relation,
            );
            step.undo_resumes(
                statement.builds_index.as_ref(),
                statement.drops_index.as_ref(),
            );
            // A VALIDATE (a scan under a lock that lets writes through) after another
            // statement would hold that one's lock through its scan: each statement in a
            // transaction of its own then, as for a CONCURRENTLY build.
            let validates =
                statement.lock == LockMode::ShareUpdateExclusive && statement.work == Work::Scan;
            step.undo_alone |= !statement.transactional || (i > 0 && validates);
        }
    }

    fn reverse(&self, _: Left, _: &Before) -> Result<Vec<serde_yaml::Value>, Irreversible> {
        let text = |statements: &[RawStatement]| {
            statements
                .iter()
                .map(|s| format!("{};", s.text))
                .collect::<Vec<_>>()
                .join("\n")
        };
        let Some(down) = &self.down else {
            return Err(Irreversible::Because("its `down` is not written".into()));
        };
        Ok(vec![revert::change(
            "sql",
            &[("up", text(down).into()), ("down", text(&self.up).into())],
        )])
    }

    fn check_live(&self, walk: &mut Walk, _at: &FieldPath) {
        // Raw SQL may reshape the tables it names: from here on their shape is unknown.
        for statement in &self.up {
            walk.opaque.extend(
                statement
                    .tables
                    .iter()
                    .map(|t| t.rsplit('.').next().unwrap_or(t).to_owned()),
            );
        }
    }
}
