//! `allow: [CODE]` with a `reason:` silences lint rules for one change (in the change's
//! mapping) or for a whole plan (at the top of the file); a `sql` change's `unsafe: true`
//! allows every raw-SQL rule. The reason is required: the next reader must learn why.

use crate::plan::check::Checker;
use crate::plan::diagnostic::{Code, Diagnostic};
use crate::plan::lint;
use crate::plan::source::FieldPath;
use serde_yaml::{Mapping, Value};

/// Rules silenced for the findings under one field path.
#[derive(Debug, Clone)]
pub struct Allow {
    /// `changes[2].sql`, or empty for the whole plan.
    scope: String,
    /// Each allowed code with the place that names it, for "this allow is not needed".
    codes: Vec<(Code, FieldPath)>,
    /// Set by `unsafe: true`: no single entry to point at when nothing needed it.
    unsafe_at: Option<FieldPath>,
}

impl Allow {
    /// Takes `allow`, `reason` (and for `sql`, `unsafe`) out of `mapping`, so the change's
    /// own fields can be read with unknown keys refused.
    pub fn take(
        mapping: &mut Mapping,
        at: &FieldPath,
        sql: bool,
        cx: &mut Checker,
    ) -> Option<Allow> {
        let allow = mapping.remove("allow");
        let reason = mapping.remove("reason");
        let unsafe_flag = if sql { mapping.remove("unsafe") } else { None };
        let mut codes = Vec::new();
        match allow {
            None => {}
            Some(Value::Sequence(entries)) => {
                for (i, entry) in entries.iter().enumerate() {
                    let entry_at = at.key("allow").index(i);
                    match entry.as_str().map(|t| (t, Code::parse(t))) {
                        Some((_, Some(code))) if code.is_lint_rule() => {
                            codes.push((code, entry_at))
                        }
                        Some((text, Some(_))) => cx.report(
                            Code::BadAllow,
                            &entry_at,
                            format!("{text} is not a lint rule; only lint rules can be allowed"),
                            Some("see `switchback validate --explain all`".into()),
                        ),
                        _ => cx.report(
                            Code::BadAllow,
                            &entry_at,
                            format!("`{}` is not a finding code", scalar_text(entry)),
                            Some("write codes like W610".into()),
                        ),
                    }
                }
            }
            Some(_) => cx.report(
                Code::BadAllow,
                &at.key("allow"),
                "`allow` is a list of codes, like `allow: [W610]`".into(),
                None,
            ),
        }
        let unsafe_at = match unsafe_flag {
            None | Some(Value::Bool(false)) => None,
            Some(Value::Bool(true)) => Some(at.key("unsafe")),
            Some(_) => {
                cx.report(
                    Code::WrongType,
                    &at.key("unsafe"),
                    "`unsafe` is true or false".into(),
                    None,
                );
                None
            }
        };
        if let Some(unsafe_at) = &unsafe_at {
            codes.extend(lint::statement_rules().map(|c| (c, unsafe_at.clone())));
        }
        let has_reason = matches!(&reason, Some(Value::String(r)) if !r.trim().is_empty());
        if reason.is_some() && !has_reason {
            cx.report(
                Code::BadAllow,
                &at.key("reason"),
                "`reason` is a sentence saying why the rule does not apply".into(),
                None,
            );
        } else if !has_reason && !codes.is_empty() {
            let key = if unsafe_at.is_some() {
                "unsafe"
            } else {
                "allow"
            };
            cx.report_key(
                Code::BadAllow,
                &at.key(key),
                format!("`{key}` needs a `reason:` beside it"),
                Some(
                    "say why the rule does not apply here, for whoever reads the plan next".into(),
                ),
            );
        }
        (!codes.is_empty()).then(|| Allow {
            scope: at.to_string(),
            codes,
            unsafe_at,
        })
    }

    fn covers(&self, finding: &Diagnostic) -> bool {
        let in_scope = self.scope.is_empty()
            || finding.field.strip_prefix(&self.scope).is_some_and(|rest| {
                rest.is_empty() || rest.starts_with('.') || rest.starts_with('[')
            });
        in_scope && self.codes.iter().any(|(c, _)| *c == finding.code)
    }
}

/// Removes the findings the plan allows. With `report_unneeded`, an allowed rule that had
/// nothing to silence (among `checked`, the rules this pass ran) becomes a W501 finding.
pub fn apply(
    findings: &mut Vec<Diagnostic>,
    allows: &[Allow],
    report_unneeded: Option<(&mut Checker, &dyn Fn(Code) -> bool)>,
) {
    let mut used: Vec<Vec<bool>> = allows.iter().map(|a| vec![false; a.codes.len()]).collect();
    findings.retain(|finding| {
        let mut allowed = false;
        for (allow, used) in allows.iter().zip(&mut used) {
            if allow.covers(finding) {
                allowed = true;
                for (i, (code, _)) in allow.codes.iter().enumerate() {
                    used[i] |= *code == finding.code;
                }
            }
        }
        !allowed
    });
    let Some((cx, checked)) = report_unneeded else {
        return;
    };
    for (allow, used) in allows.iter().zip(&used) {
        if let Some(unsafe_at) = &allow.unsafe_at {
            let any_raw = allow
                .codes
                .iter()
                .zip(used)
                .any(|((c, _), u)| *u && lint::is_statement_rule(*c));
            if !any_raw {
                cx.report(
                    Code::UnneededAllow,
                    unsafe_at,
                    "`unsafe: true` but no statement needs it".into(),
                    Some("remove `unsafe`".into()),
                );
            }
        }
        for ((code, at), used) in allow.codes.iter().zip(used) {
            if !used && checked(*code) && Some(at) != allow.unsafe_at.as_ref() {
                cx.report(
                    Code::UnneededAllow,
                    at,
                    format!("{code} is allowed here but does not fire"),
                    Some("remove it from `allow`".into()),
                );
            }
        }
    }
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => "(not a scalar)".into(),
    }
}
