//! Scalar expressions from plan files (`fill`, `up`, `down`, `backfill`, `check`): one
//! expression each, with the columns it reads and the functions it calls, and rewritten over
//! a trigger's record or after renames.

use super::parse_error;
use pg_query::{NodeEnum, NodeRef, ParserOptions};

/// A scalar SQL expression over the columns of one table (`lower(email)`, `'n/a'`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expr {
    pub text: String,
    /// Unqualified column names the expression reads, with their byte offset in `text`.
    pub columns: Vec<(String, usize)>,
    /// Names of the functions it calls, lower-case, without schema.
    pub functions: Vec<String>,
}

/// Functions whose result changes from row to row: as a column default they would force
/// PostgreSQL to rewrite the table, so switchback backfills them instead.
pub(super) const VOLATILE_FUNCTIONS: &[&str] = &[
    "random",
    "gen_random_uuid",
    "uuid_generate_v1",
    "uuid_generate_v1mc",
    "uuid_generate_v4",
    "uuidv4",
    "uuidv7",
    "clock_timestamp",
    "timeofday",
    "nextval",
    "txid_current",
];

impl Expr {
    pub fn parse(text: &str) -> Result<Expr, String> {
        // Offsets of column references are kept relative to the trimmed text we store.
        let text = text.trim();
        if text.is_empty() {
            return Err("the expression is empty".into());
        }
        let parsed = pg_query::parse(text, ParserOptions::PLPGSQL_EXPR).map_err(parse_error)?;
        let select = match parsed.protobuf.stmts.as_slice() {
            [raw] => match raw.stmt.as_ref().and_then(|s| s.node.as_ref()) {
                Some(NodeEnum::SelectStmt(select)) => select,
                _ => return Err(not_single_expression(text)),
            },
            _ => return Err(not_single_expression(text)),
        };
        let single_target = select.target_list.len() == 1
            && matches!(
                select.target_list[0].node.as_ref(),
                Some(NodeEnum::ResTarget(t)) if t.name.is_empty()
            );
        let has_clauses = !select.from_clause.is_empty()
            || select.where_clause.is_some()
            || !select.group_clause.is_empty()
            || select.having_clause.is_some()
            || !select.window_clause.is_empty()
            || !select.sort_clause.is_empty()
            || select.limit_count.is_some()
            || select.limit_offset.is_some()
            || !select.locking_clause.is_empty()
            || !select.distinct_clause.is_empty();
        if !single_target || has_clauses {
            return Err(not_single_expression(text));
        }
        let mut columns = Vec::new();
        let mut functions = Vec::new();
        for (node, ..) in parsed.protobuf.nodes() {
            match node {
                NodeRef::ColumnRef(c) => {
                    if let [field] = c.fields.as_slice() {
                        if let Some(NodeEnum::String(s)) = field.node.as_ref() {
                            columns.push((s.sval.clone(), c.location.max(0) as usize));
                        }
                    }
                }
                NodeRef::FuncCall(f) => {
                    if let Some(NodeEnum::String(s)) =
                        f.funcname.last().and_then(|n| n.node.as_ref())
                    {
                        functions.push(s.sval.to_lowercase());
                    }
                }
                _ => {}
            }
        }
        columns.sort_by_key(|(_, at)| *at);
        Ok(Expr {
            text: text.to_owned(),
            columns,
            functions,
        })
    }

    pub fn is_volatile(&self) -> bool {
        self.functions
            .iter()
            .any(|f| VOLATILE_FUNCTIONS.contains(&f.as_str()))
    }

    pub fn reads(&self, column: &str) -> bool {
        self.columns.iter().any(|(c, _)| c == column)
    }

    pub fn column_names(&self) -> impl Iterator<Item = &str> {
        self.columns.iter().map(|(c, _)| c.as_str())
    }

    /// The expression with every column reference written as a field of `record` (`NEW`),
    /// after applying `renames` (old name -> new name). Used for trigger bodies, where a
    /// plan's `lower(email)` must read `lower(NEW."email")`.
    pub fn over_record(&self, record: &str, renames: &[(&str, &str)]) -> String {
        let mut out = String::with_capacity(self.text.len() + 16);
        let mut copied = 0;
        for (name, at) in &self.columns {
            let len = identifier_len(&self.text[*at..]);
            out.push_str(&self.text[copied..*at]);
            let target = renames
                .iter()
                .find(|(from, _)| from == name)
                .map_or(name.as_str(), |(_, to)| *to);
            out.push_str(&format!("{record}.{}", crate::pg::quote::ident(target)));
            copied = at + len;
        }
        out.push_str(&self.text[copied..]);
        out
    }
}

/// `sql` with every column reference naming `from` replaced by `to` (quoted). Renaming starts
/// after the first `after` keyword and stops at the first `stop_at` keyword, when given. Used
/// to move an index or constraint definition read from the catalog onto another column.
///
/// A token counts as a column reference when it is an identifier or a non-reserved keyword
/// (`name`, `status`) and is not a type after `::`, a function name before `(`, or part of a
/// qualified name.
pub fn rename_identifier(
    sql: &str,
    from: &str,
    to: &str,
    after: Option<&str>,
    stop_at: Option<&str>,
) -> Result<String, String> {
    use pg_query::protobuf::{KeywordKind, Token};
    let tokens = pg_query::scan(sql).map_err(parse_error)?.tokens;
    let text_of =
        |t: &pg_query::protobuf::ScanToken| &sql[t.start.max(0) as usize..t.end.max(0) as usize];
    let mut out = String::with_capacity(sql.len() + 16);
    let mut copied = 0;
    let mut started = after.is_none();
    for (i, token) in tokens.iter().enumerate() {
        let text = text_of(token);
        if !started {
            started = after.is_some_and(|a| text.eq_ignore_ascii_case(a));
            continue;
        }
        if stop_at.is_some_and(|stop| text.eq_ignore_ascii_case(stop)) {
            break;
        }
        let is_name = token.token == Token::Ident as i32
            || (token.keyword_kind != KeywordKind::NoKeyword as i32
                && token.keyword_kind != KeywordKind::ReservedKeyword as i32);
        let before = i.checked_sub(1).map(|j| tokens[j].token);
        let next = tokens.get(i + 1).map(|t| t.token);
        let is_column = is_name
            && before != Some(Token::Typecast as i32)
            && before != Some(Token::Ascii46 as i32)
            && next != Some(Token::Ascii46 as i32)
            && next != Some(Token::Ascii40 as i32);
        let name = match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
            Some(quoted) => quoted.replace("\"\"", "\""),
            None => text.to_lowercase(),
        };
        if is_column && name == from {
            out.push_str(&sql[copied..token.start as usize]);
            out.push_str(&crate::pg::quote::ident(to));
            copied = token.end as usize;
        }
    }
    out.push_str(&sql[copied..]);
    Ok(out)
}

/// Length in bytes of the identifier token at the start of `text` (quoted or bare).
fn identifier_len(text: &str) -> usize {
    let mut chars = text.char_indices().peekable();
    if text.starts_with('"') {
        chars.next();
        while let Some((i, c)) = chars.next() {
            if c == '"' {
                if matches!(chars.peek(), Some((_, '"'))) {
                    chars.next();
                } else {
                    return i + 1;
                }
            }
        }
        return text.len();
    }
    text.char_indices()
        .find(|(_, c)| !(c.is_alphanumeric() || *c == '_' || *c == '$'))
        .map_or(text.len(), |(i, _)| i)
}

fn not_single_expression(text: &str) -> String {
    format!("`{}` is not a single SQL expression", text.trim())
}
