//! The second pass from raw serde values to the validated model. A `Checker` collects every
//! finding of one file with its position, so a plan with five problems reports five lines
//! rather than stopping at the first.

use crate::pg::quote::MAX_IDENT_BYTES;
use crate::plan::diagnostic::{Code, Diagnostic, Position};
use crate::plan::lint;
use crate::plan::source::{FieldPath, SourceMap};
use crate::plan::sql::{self, Expr, RawStatement};
use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde::Deserialize;
use std::fmt;
use std::path::Path;

/// A validated identifier: non-empty, at most 63 bytes, no control characters. Always
/// quoted when written into SQL, so it names exactly what the plan says.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ident(String);

impl Ident {
    /// An identifier switchback made itself (helper objects), already known to be valid.
    pub(crate) fn trusted(name: String) -> Ident {
        Ident(name)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The identifier quoted for SQL.
    pub fn quoted(&self) -> String {
        crate::pg::quote::ident(&self.0)
    }
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A SQL fragment in a plan file. YAML turns `fill: 0` or `default: false` into numbers and
/// booleans; SQL wants their text, so any scalar is accepted here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlText(pub String);

impl<'de> Deserialize<'de> for SqlText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;
        impl Visitor<'_> for ScalarVisitor {
            type Value = SqlText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a SQL fragment (a string, number or boolean)")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SqlText, E> {
                Ok(SqlText(v.to_owned()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<SqlText, E> {
                Ok(SqlText(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<SqlText, E> {
                Ok(SqlText(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<SqlText, E> {
                Ok(SqlText(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<SqlText, E> {
                Ok(SqlText(v.to_string()))
            }
        }
        deserializer.deserialize_any(ScalarVisitor)
    }
}

pub struct Checker<'a> {
    file: &'a Path,
    source: &'a SourceMap,
    pub diagnostics: Vec<Diagnostic>,
}

impl<'a> Checker<'a> {
    pub fn new(file: &'a Path, source: &'a SourceMap) -> Self {
        Checker {
            file,
            source,
            diagnostics: Vec::new(),
        }
    }

    pub fn error_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    pub fn position(&self, at: &FieldPath) -> Option<Position> {
        self.source.value(at)
    }

    /// Reports a finding at the value of `at`.
    pub fn report(&mut self, code: Code, at: &FieldPath, message: String, help: Option<String>) {
        let position = self.source.value(at);
        self.push(code, position, at, message, help);
    }

    /// Reports a finding at the key of `at` (unknown or misplaced keys).
    pub fn report_key(
        &mut self,
        code: Code,
        at: &FieldPath,
        message: String,
        help: Option<String>,
    ) {
        let position = self.source.key(at);
        self.push(code, position, at, message, help);
    }

    pub fn push(
        &mut self,
        code: Code,
        position: Option<Position>,
        at: &FieldPath,
        message: String,
        help: Option<String>,
    ) {
        self.diagnostics.push(Diagnostic {
            code,
            severity: code.severity(),
            file: self.file.to_path_buf(),
            position,
            field: at.to_string(),
            message,
            help,
        });
    }

    /// Deserializes one raw struct, turning serde's first complaint into a positioned finding.
    pub fn deserialize<T: DeserializeOwned>(
        &mut self,
        at: &FieldPath,
        value: serde_yaml::Value,
    ) -> Option<T> {
        match serde_path_to_error::deserialize(value) {
            Ok(v) => Some(v),
            Err(error) => {
                let path = at.join_serde(error.path());
                let message = error.into_inner().to_string();
                self.report_serde(&path, message);
                None
            }
        }
    }

    fn report_serde(&mut self, at: &FieldPath, message: String) {
        // serde's messages are stable ("unknown field `x`, expected one of `a`, `b`"); the
        // code is chosen from their opening words and the suggestion from the listed names.
        // serde_path_to_error's path already ends at the offending key.
        let expected = |rest: &str| {
            rest.split_once("expected ")
                .map_or("", |(_, e)| e)
                .to_owned()
        };
        let suggestion = |rest: &str| {
            let written = backticked(rest).into_iter().next().unwrap_or_default();
            let help = did_you_mean(&written, &backticked(&expected(rest)));
            (
                written,
                help.unwrap_or_else(|| format!("expected {}", expected(rest))),
            )
        };
        if let Some(rest) = message.strip_prefix("unknown field ") {
            let (unknown, help) = suggestion(rest);
            self.report_key(
                Code::UnknownKey,
                at,
                format!("unknown key `{unknown}`"),
                Some(help),
            );
        } else if let Some(rest) = message.strip_prefix("missing field ") {
            let missing = backticked(rest).into_iter().next().unwrap_or_default();
            self.report_key(
                Code::MissingKey,
                at,
                format!("missing key `{missing}`"),
                None,
            );
        } else if let Some(rest) = message.strip_prefix("unknown variant ") {
            let (unknown, help) = suggestion(rest);
            self.report(
                Code::BadValue,
                at,
                format!("`{unknown}` is not allowed here"),
                Some(help),
            );
        } else {
            self.report(Code::WrongType, at, in_plain_words(&message), None);
        }
    }

    /// Checks an identifier; a bad one is reported and still returned so checking goes on.
    pub fn ident(&mut self, at: &FieldPath, name: &str) -> Ident {
        if name.is_empty() {
            self.report(Code::BadIdentifier, at, "identifier is empty".into(), None);
        } else if name.len() > MAX_IDENT_BYTES {
            self.report(
                Code::IdentifierTooLong,
                at,
                format!(
                    "identifier `{name}` is {} bytes long; PostgreSQL allows at most 63",
                    name.len()
                ),
                Some("PostgreSQL would silently cut it, so switchback refuses it".into()),
            );
        } else if name.chars().any(char::is_control) {
            self.report(
                Code::BadIdentifier,
                at,
                format!("identifier {name:?} contains a control character"),
                None,
            );
        } else if name.trim() != name {
            self.report(
                Code::BadIdentifier,
                at,
                format!("identifier {name:?} starts or ends with white space"),
                None,
            );
        } else {
            lint::identifier(name, at, self);
        }
        Ident(name.to_owned())
    }

    pub fn idents(&mut self, at: &FieldPath, names: &[String]) -> Vec<Ident> {
        if names.is_empty() {
            self.report(Code::BadValue, at, "the list is empty".into(), None);
        }
        let idents: Vec<Ident> = names
            .iter()
            .enumerate()
            .map(|(i, n)| self.ident(&at.index(i), n))
            .collect();
        for (i, name) in idents.iter().enumerate() {
            if idents[..i].contains(name) {
                self.report(
                    Code::BadValue,
                    &at.index(i),
                    format!("`{name}` is listed twice"),
                    None,
                );
            }
        }
        idents
    }

    pub fn expr(&mut self, at: &FieldPath, text: &SqlText) -> Option<Expr> {
        Expr::parse(&text.0)
            .map_err(|e| {
                self.report(
                    Code::BadExpression,
                    at,
                    format!("invalid SQL expression: {e}"),
                    None,
                )
            })
            .ok()
    }

    /// Checks a column type, and warns about types with a better alternative.
    pub fn sql_type(&mut self, at: &FieldPath, text: &str) -> Option<String> {
        let checked = sql::parse_type(text)
            .map_err(|e| self.report(Code::BadType, at, format!("invalid SQL type: {e}"), None))
            .ok()?;
        if let Some(base) = sql::type_base_name(&checked) {
            lint::column_type(&checked, &base, at, self);
        }
        Some(checked)
    }

    pub fn statements(&mut self, at: &FieldPath, text: &str) -> Option<Vec<RawStatement>> {
        sql::parse_statements(text, lint::statement)
            .map_err(|e| self.report(Code::BadStatement, at, format!("invalid SQL: {e}"), None))
            .ok()
    }
}

/// serde's message about a value of the wrong type, with Rust's type names said as the plan's
/// author would: "expected u32" is "expected a whole number, 0 or more".
fn in_plain_words(message: &str) -> String {
    let mut message = message.replace("expected struct ", "expected ");
    for (rust, plain) in [
        ("u8", "a whole number, 0 or more"),
        ("u16", "a whole number, 0 or more"),
        ("u32", "a whole number, 0 or more"),
        ("u64", "a whole number, 0 or more"),
        ("usize", "a whole number, 0 or more"),
        ("i32", "a whole number"),
        ("i64", "a whole number"),
        ("f64", "a number"),
    ] {
        if let Some(head) = message.strip_suffix(&format!("expected {rust}")) {
            message = format!("{head}expected {plain}");
        }
    }
    message
}

/// The names written between backticks in `text`.
fn backticked(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// "did you mean `x`?" when a known name is close to what was written.
pub fn did_you_mean(written: &str, known: &[impl AsRef<str>]) -> Option<String> {
    // `exclusive_access` for `access_exclusive`: the same words in another order.
    let words = |s: &str| {
        let mut w: Vec<String> = s.split('_').map(str::to_owned).collect();
        w.sort();
        w
    };
    if let Some(k) = known
        .iter()
        .find(|k| k.as_ref() != written && words(k.as_ref()) == words(written))
    {
        return Some(format!("did you mean `{}`?", k.as_ref()));
    }
    known
        .iter()
        .map(|k| (strsim::jaro_winkler(written, k.as_ref()), k.as_ref()))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| format!("did you mean `{k}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(
            did_you_mean("fil", &["table", "column", "fill"]).as_deref(),
            Some("did you mean `fill`?")
        );
        assert_eq!(
            did_you_mean("rename_colum", &["rename_column", "rename_table"]).as_deref(),
            Some("did you mean `rename_column`?")
        );
        assert_eq!(did_you_mean("zzz", &["table", "column"]), None);
    }

    #[test]
    fn reads_backticked_names() {
        assert_eq!(backticked("`a`, expected one of `b`, `c`"), ["a", "b", "c"]);
    }
}
