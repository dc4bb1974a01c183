//! The statements of a migration part, each parsed alone with PostgreSQL's grammar and kept
//! with its file:line:col and the `switchback:allow` comments written above it:
//!
//! ```sql
//! -- switchback:allow E600 the table is created empty in this migration
//! CREATE INDEX orders_user_idx ON orders (user_id);
//! -- switchback:allow-file W626 our runner sets lock_timeout for every migration
//! ```
//!
//! The reason after the codes is required, as `reason:` is in plans.

use super::Part;
use crate::plan::diagnostic::{Code, Diagnostic, Position};
use pg_query::protobuf::{ScanToken, Token};
use pg_query::{NodeEnum, ParserOptions};
use std::ops::Range;
use std::path::Path;

#[derive(Debug, Clone)]
pub struct Statement {
    pub node: NodeEnum,
    /// As written, from its first token to before its `;`.
    pub text: String,
    pub at: Position,
    /// The `switchback:allow` comments above the statement.
    pub allows: Vec<Allow>,
}

/// One `switchback:allow` comment: the codes it silences for the next statement, or with
/// `allow-file` for the whole part.
#[derive(Debug, Clone)]
pub struct Allow {
    pub codes: Vec<Code>,
    pub at: Position,
    pub file_wide: bool,
}

/// A finding about a SQL file at a position.
pub fn finding(
    file: &Path,
    at: Position,
    code: Code,
    message: String,
    help: Option<String>,
) -> Diagnostic {
    Diagnostic {
        code,
        severity: code.severity(),
        file: file.to_path_buf(),
        position: Some(at),
        field: String::new(),
        message,
        help,
    }
}

/// The statements of `part`; a statement that does not parse is a finding (E204) at its
/// first token, and the others are still read.
pub fn read(part: &Part) -> (Vec<Statement>, Vec<Diagnostic>) {
    let sql = part.sql();
    let mut findings = Vec::new();
    let ranges = match split(sql) {
        Ok(ranges) => ranges,
        Err(message) => {
            findings.push(finding(
                &part.file,
                part.position(part.range.start),
                Code::BadStatement,
                format!("invalid SQL: {message}"),
                None,
            ));
            return (Vec::new(), findings);
        }
    };
    let mut statements = Vec::new();
    for range in ranges {
        let slice = &sql[range.clone()];
        let base = part.range.start + range.start;
        // libpg_query hands back no token array for blank text (and the crate trips on it).
        if slice.trim().is_empty() {
            continue;
        }
        let Ok(tokens) = pg_query::scan_tokens(slice) else {
            continue;
        };
        // A range from the parser's split may start with the previous statement's `;`.
        let Some(first) = tokens
            .iter()
            .find(|t| !is_comment(t) && t.token != Token::Ascii59 as i32)
        else {
            continue;
        };
        let first = first.start as usize;
        let mut allows = Vec::new();
        for comment in tokens
            .iter()
            .filter(|t| is_comment(t) && (t.start as usize) < first)
        {
            let text = &slice[comment.start as usize..comment.end as usize];
            let at = part.position(base + comment.start as usize);
            match allow(text, at) {
                Some(Ok(a)) => allows.push(a),
                Some(Err(message)) => findings.push(finding(
                    &part.file,
                    at,
                    Code::BadAllow,
                    message,
                    Some(
                        "write `-- switchback:allow E600 <why the rule does not apply here>`"
                            .into(),
                    ),
                )),
                None => {}
            }
        }
        let text = slice[first..].trim_end().to_owned();
        let at = part.position(base + first);
        match pg_query::parse(&text, ParserOptions::DEFAULT) {
            Ok(parsed) => {
                let node = parsed
                    .protobuf
                    .stmts
                    .into_iter()
                    .next()
                    .and_then(|s| s.stmt)
                    .and_then(|s| s.node);
                if let Some(node) = node {
                    statements.push(Statement {
                        node,
                        text,
                        at,
                        allows,
                    });
                }
            }
            Err(e) => findings.push(finding(
                &part.file,
                at,
                Code::BadStatement,
                format!("invalid SQL: {}", crate::plan::sql::parse_error(e)),
                None,
            )),
        }
    }
    (statements, findings)
}

fn is_comment(token: &ScanToken) -> bool {
    matches!(
        Token::try_from(token.token),
        Ok(Token::SqlComment | Token::CComment)
    )
}

/// The byte ranges of `sql`'s statements, each with the comments before it. PostgreSQL's
/// parser splits exactly (a function body with `BEGIN ATOMIC ... END` holds semicolons);
/// where a statement does not parse, the scanner splits at each `;` instead, so the
/// statement in error is found and the others are still read.
fn split(sql: &str) -> Result<Vec<Range<usize>>, String> {
    if sql.trim().is_empty() {
        return Ok(Vec::new());
    }
    let offset = |s: &str| s.as_ptr() as usize - sql.as_ptr() as usize;
    if let Ok(slices) = pg_query::split_with_parser(sql) {
        let mut ranges = Vec::new();
        let mut from = 0;
        for slice in slices {
            let end = offset(slice) + slice.len();
            ranges.push(from..end);
            from = end;
        }
        return Ok(ranges);
    }
    let tokens = pg_query::scan_tokens(sql).map_err(|e| match e {
        pg_query::Error::Scan(m) => m,
        other => other.to_string(),
    })?;
    let mut ranges = Vec::new();
    let mut from = 0;
    for token in tokens.iter().filter(|t| t.token == Token::Ascii59 as i32) {
        ranges.push(from..token.start as usize);
        from = token.end as usize;
    }
    ranges.push(from..sql.len());
    Ok(ranges)
}

/// A `switchback:allow` comment, or None for any other comment.
fn allow(comment: &str, at: Position) -> Option<Result<Allow, String>> {
    let body = comment
        .trim_start_matches("--")
        .trim_start_matches("/*")
        .trim_end_matches("*/")
        .trim();
    let (file_wide, rest) = if let Some(rest) = body.strip_prefix("switchback:allow-file") {
        (true, rest)
    } else {
        (false, body.strip_prefix("switchback:allow")?)
    };
    let mut codes = Vec::new();
    let mut words = rest
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .peekable();
    while let Some(code) = words.peek().and_then(|w| Code::parse(w)) {
        if !code.is_lint_rule() {
            return Some(Err(format!(
                "{code} is not a lint rule; only lint rules can be allowed"
            )));
        }
        codes.push(code);
        words.next();
    }
    if codes.is_empty() {
        return Some(Err("`switchback:allow` names no finding code".into()));
    }
    if words.next().is_none() {
        return Some(Err(
            "`switchback:allow` needs a reason after the codes, saying why the rule does not apply"
                .into(),
        ));
    }
    Some(Ok(Allow {
        codes,
        at,
        file_wide,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_keep_their_positions_and_allows() {
        let text = "-- header\nCREATE TABLE a (id bigint);\n--> statement-breakpoint\n-- switchback:allow E600 a is empty here\n  CREATE INDEX i ON a (id);\nSELEC 1;\nSELECT 2";
        let part = Part::whole(Path::new("m.sql"), text.into());
        let (statements, findings) = read(&part);
        let found: Vec<_> = statements
            .iter()
            .map(|s| (s.text.as_str(), s.at.line, s.at.column, s.allows.len()))
            .collect();
        assert_eq!(
            found,
            [
                ("CREATE TABLE a (id bigint)", 2, 1, 0),
                ("CREATE INDEX i ON a (id)", 5, 3, 1),
                ("SELECT 2", 7, 1, 0)
            ]
        );
        assert_eq!(statements[1].allows[0].codes, [Code::RawCreateIndex]);
        let findings: Vec<String> = findings.iter().map(|d| d.to_string()).collect();
        assert_eq!(
            findings,
            ["m.sql:6:1: error[E204]: invalid SQL: syntax error at or near \"SELEC\""]
        );
    }

    #[test]
    fn blank_and_comment_only_parts_have_no_statements() {
        for text in ["", "\n  \n", "-- nothing yet\n", "/* */;\n;"] {
            let (statements, findings) = read(&Part::whole(Path::new("m.sql"), text.into()));
            assert!(statements.is_empty() && findings.is_empty(), "{text:?}");
        }
    }

    #[test]
    fn an_allow_needs_codes_and_a_reason() {
        let at = Position { line: 1, column: 1 };
        assert!(allow("-- a comment", at).is_none());
        assert!(allow("-- switchback:allow", at).unwrap().is_err());
        assert!(allow("-- switchback:allow E600", at).unwrap().is_err());
        assert!(allow("-- switchback:allow E204 why", at).unwrap().is_err());
        let a = allow(
            "/* switchback:allow-file E600, W626 runner sets them */",
            at,
        )
        .unwrap()
        .unwrap();
        assert!(a.file_wide);
        assert_eq!(a.codes.len(), 2);
    }
}
