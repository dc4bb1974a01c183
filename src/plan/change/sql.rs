//! `sql`: the escape hatch. Raw statements, parsed at validate time, run in the expand stage
//! with the same lock discipline as every other step; `down` is what abort runs. Statements
//! that block the application are reported, naming the change kind that does the same safely.

use crate::pg::lock::LockMode;
use crate::plan::change::{valid_if_clean, ChangeKind, Footprint};
use crate::plan::check::{did_you_mean, Checker};
use crate::plan::diagnostic::Code;
use crate::plan::expand::Expansion;
use crate::plan::source::FieldPath;
use crate::plan::sql::RawStatement;
use crate::plan::step::Phase;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
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
                let help = did_you_mean(&name, &names).unwrap_or_else(|| format!("expected one of {}", names.join(", ")));
                cx.report(Code::BadValue, &at.key("lock"), format!("`{name}` is not a lock mode"), Some(help));
            }
            mode
        });
        for statement in up.iter().flatten() {
            if let Some(why) = &statement.blocking {
                cx.report(Code::NotZeroDowntime, &at.key("up"), format!("`{}`: {why}", statement.text), None);
            }
        }
        valid_if_clean(cx, before, || Some(Sql { up: up?, down, lock }))
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
            if !statement.transactional {
                step.outside_transaction();
            }
        }
    }
}
