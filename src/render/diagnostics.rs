//! Findings as text (`file:line:col: error[CODE]: message` and a help line), JSON, or GitHub
//! Actions workflow commands that annotate the pull request's diff.

use crate::plan::diagnostic::{Diagnostic, Severity};
use crate::render::Style;
use serde::Serialize;

pub fn text(diagnostics: &[Diagnostic], files: usize, style: Style) -> String {
    let mut out = String::new();
    for d in diagnostics {
        let line = d.to_string();
        let severity = format!("{}[{}]", d.severity, d.code);
        let painted = match d.severity {
            Severity::Error => style.red(&severity),
            Severity::Warning => style.yellow(&severity),
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

fn summary(diagnostics: &[Diagnostic], files: usize) -> String {
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    format!(
        "{}, {} in {}",
        plural(errors, "error"),
        plural(warnings, "warning"),
        plural(files, "plan file")
    )
}

#[derive(Serialize)]
struct Report<'a> {
    version: u32,
    files: usize,
    errors: usize,
    warnings: usize,
    diagnostics: &'a [Diagnostic],
}

pub fn json(diagnostics: &[Diagnostic], files: usize) -> String {
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let report = Report {
        version: 1,
        files,
        errors,
        warnings: diagnostics.len() - errors,
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
