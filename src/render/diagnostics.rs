//! Findings as text (`file:line:col: error[CODE]: message` and a help line), JSON, or GitHub
//! Actions workflow commands that annotate the pull request's diff.

use crate::plan::diagnostic::{Diagnostic, Severity};
use crate::render::Style;
use serde::Serialize;

/// How many files were read: plan files and SQL migration files.
#[derive(Debug, Clone, Copy, Default)]
pub struct Files {
    pub plans: usize,
    pub sql: usize,
}

impl Files {
    pub fn plans(plans: usize) -> Files {
        Files { plans, sql: 0 }
    }
}

pub fn text(diagnostics: &[Diagnostic], files: Files, style: Style) -> String {
    let mut out = String::new();
    for d in diagnostics {
        let line = d.to_string();
        let severity = format!("{}[{}]", d.severity, d.code);
        let painted = match d.severity {
            Severity::Error => style.red(&severity),
            Severity::Warning => style.yellow(&severity),
            Severity::Note => style.cyan(&severity),
        };
        out.push_str(&line.replacen(&severity, &painted, 1));
        out.push('\n');
        if let Some(help) = &d.help {
            out.push_str(&format!("  {} {help}\n", style.cyan("help:")));
        }
    }
    out.push_str(&summary(diagnostics, files));
    out.push('\n');
    out
}

fn count(diagnostics: &[Diagnostic], severity: Severity) -> usize {
    diagnostics
        .iter()
        .filter(|d| d.severity == severity)
        .count()
}

fn summary(diagnostics: &[Diagnostic], files: Files) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let notes = match count(diagnostics, Severity::Note) {
        0 => String::new(),
        n => format!(", {}", plural(n, "note")),
    };
    let read = match (files.plans, files.sql) {
        (plans, 0) => plural(plans, "plan file"),
        (0, sql) => plural(sql, "SQL file"),
        (plans, sql) => format!(
            "{} and {}",
            plural(plans, "plan file"),
            plural(sql, "SQL file")
        ),
    };
    format!(
        "{}, {}{notes} in {read}",
        plural(count(diagnostics, Severity::Error), "error"),
        plural(count(diagnostics, Severity::Warning), "warning"),
    )
}

#[derive(Serialize)]
struct Report<'a> {
    version: u32,
    files: usize,
    errors: usize,
    warnings: usize,
    notes: usize,
    diagnostics: &'a [Diagnostic],
}

pub fn json(diagnostics: &[Diagnostic], files: Files) -> String {
    let report = Report {
        version: 1,
        files: files.plans + files.sql,
        errors: count(diagnostics, Severity::Error),
        warnings: count(diagnostics, Severity::Warning),
        notes: count(diagnostics, Severity::Note),
        diagnostics,
    };
    let mut out = serde_json::to_string_pretty(&report).expect("findings serialize to JSON");
    out.push('\n');
    out
}

/// `::error file=F,line=L,col=C,title=T::message` per finding, escaped as GitHub requires.
pub fn github(diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diagnostics {
        let command = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "notice",
        };
        let mut properties = vec![format!(
            "file={}",
            escape_property(&d.file.display().to_string())
        )];
        if let Some(p) = d.position {
            properties.push(format!("line={}", p.line));
            properties.push(format!("col={}", p.column));
        }
        properties.push(format!(
            "title={}",
            escape_property(&format!("{} {}", d.code, d.code.title()))
        ));
        let mut message = d.message.clone();
        if !d.field.is_empty() {
            message.push_str(&format!(" (at {})", d.field));
        }
        if let Some(help) = &d.help {
            message.push_str(&format!("\nhelp: {help}"));
        }
        out.push_str(&format!(
            "::{command} {}::{}\n",
            properties.join(","),
            escape_data(&message)
        ));
    }
    out
}

fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}
