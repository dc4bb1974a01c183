//! SQL fragments from plan files, checked with PostgreSQL's own grammar (libpg_query) so a
//! typo fails at `validate` time instead of halfway through a migration. Fragments are kept
//! as written; what the parse tree tells us (column references, called functions, the lock a
//! raw statement takes) is kept beside the text.

use crate::pg::lock::LockMode;
use crate::pg::type_text::modifier_texts;
use crate::plan::diagnostic::Code;
use pg_query::protobuf::{AlterTableStmt, AlterTableType, ConstrType, DropBehavior, ObjectType};
use pg_query::{NodeEnum, NodeRef, ParserOptions};
use serde::Serialize;

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
const VOLATILE_FUNCTIONS: &[&str] = &[
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

fn parse_error(error: pg_query::Error) -> String {
    match error {
        pg_query::Error::Parse(message) => message,
        pg_query::Error::Conversion(_) => "SQL text cannot contain a NUL byte".into(),
        other => other.to_string(),
    }
}

/// Checks a column type (`varchar(20)`, `timestamp with time zone`, `int[]`) and returns it
/// as written.
pub fn parse_type(text: &str) -> Result<String, String> {
    if text.trim().is_empty() {
        return Err("the type is empty".into());
    }
    // In type-name mode libpg_query returns the type's qualified name as a list; a parse
    // that succeeds with a statement means the grammar accepted the text as a type.
    let parsed = pg_query::parse(text, ParserOptions::TYPE_NAME).map_err(parse_error)?;
    if parsed.protobuf.stmts.is_empty() {
        return Err(format!("`{}` is not a type", text.trim()));
    }
    Ok(text.trim().to_owned())
}

/// What running a statement does to the table it touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Work {
    /// Catalog-only: done in milliseconds once the lock is granted.
    Instant,
    /// Reads every row (index build, VALIDATE).
    Scan,
    /// Writes a new copy of the table.
    Rewrite,
    /// Updates rows in many short transactions.
    Batched,
}

/// One raw statement of a `sql` change, with what the parser can tell about its cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawStatement {
    pub text: String,
    pub lock: LockMode,
    pub work: Work,
    /// False for statements PostgreSQL refuses inside a transaction block (CONCURRENTLY, VACUUM).
    pub transactional: bool,
    /// What in the statement hurts the running application, and the safe way, where it does.
    pub hazards: Vec<Hazard>,
    /// Relations the statement names, as written.
    pub tables: Vec<String>,
}

/// Something a raw statement does that a change kind does safely, or should not do at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hazard {
    pub code: Code,
    pub why: String,
    /// For ALTER COLUMN TYPE: (table, column, new type), so a live check can tell whether
    /// the cast really rewrites.
    pub type_change: Option<(String, String, String)>,
}

impl Hazard {
    fn new(code: Code, why: &str) -> Hazard {
        Hazard {
            code,
            why: why.to_owned(),
            type_change: None,
        }
    }
}

/// Splits and checks raw SQL, classifying each statement.
pub fn parse_statements(text: &str) -> Result<Vec<RawStatement>, String> {
    let parsed = pg_query::parse(text, ParserOptions::DEFAULT).map_err(parse_error)?;
    if parsed.protobuf.stmts.is_empty() {
        return Err("no SQL statement".into());
    }
    Ok(parsed
        .protobuf
        .stmts
        .iter()
        .map(|raw| {
            let start = raw.stmt_location.max(0) as usize;
            let end = if raw.stmt_len > 0 {
                start + raw.stmt_len as usize
            } else {
                text.len()
            };
            let statement_text = text.get(start..end).unwrap_or(text).trim().to_owned();
            // Parsed again alone: the relations and function calls of this statement only.
            let alone = pg_query::parse(&statement_text, ParserOptions::DEFAULT).ok();
            let calls_volatile = calls_volatile_function(&statement_text);
            let mut statement = classify(
                statement_text,
                raw.stmt.as_ref().and_then(|s| s.node.as_ref()),
                calls_volatile,
            );
            statement.tables = alone.map(|p| p.tables()).unwrap_or_default();
            statement
        })
        .collect())
}

/// Whether `sql` calls one of the volatile functions: a name token directly followed by `(`.
/// (libpg_query's node walker does not descend into column definitions, so the tokens are
/// read instead.)
fn calls_volatile_function(sql: &str) -> bool {
    let Ok(tokens) = pg_query::scan_tokens(sql) else {
        return false;
    };
    let text =
        |t: &pg_query::protobuf::ScanToken| sql.get(t.start as usize..t.end as usize).unwrap_or("");
    tokens.windows(2).any(|pair| {
        text(&pair[1]) == "("
            && VOLATILE_FUNCTIONS.contains(&text(&pair[0]).to_lowercase().as_str())
    })
}

fn classify(text: String, node: Option<&NodeEnum>, calls_volatile: bool) -> RawStatement {
    let mut s = RawStatement {
        text,
        lock: LockMode::AccessExclusive,
        work: Work::Instant,
        transactional: true,
        hazards: Vec::new(),
        tables: Vec::new(),
    };
    let mut hazard = |code, why: &str| s.hazards.push(Hazard::new(code, why));
    match node {
        Some(NodeEnum::IndexStmt(index)) if index.concurrent => {
            (s.lock, s.work, s.transactional) = (LockMode::ShareUpdateExclusive, Work::Scan, false);
        }
        Some(NodeEnum::IndexStmt(_)) => {
            hazard(Code::RawCreateIndex, "CREATE INDEX without CONCURRENTLY blocks writes while it builds; use an add_index change");
            (s.lock, s.work) = (LockMode::Share, Work::Scan);
        }
        Some(NodeEnum::AlterTableStmt(alter)) => classify_alter(&mut s, alter, calls_volatile),
        Some(NodeEnum::RenameStmt(rename)) => {
            if matches!(
                ObjectType::try_from(rename.rename_type),
                Ok(ObjectType::ObjectColumn | ObjectType::ObjectTable)
            ) {
                hazard(Code::RawRename, "a rename breaks the running application at once; use rename_column or rename_table");
            }
        }
        Some(NodeEnum::DropStmt(drop)) => {
            if matches!(
                ObjectType::try_from(drop.remove_type),
                Ok(ObjectType::ObjectTable)
            ) {
                hazard(Code::RawDrop, "DROP TABLE at expand removes what the running application still reads; use a drop_table change, which runs at contract");
            }
        }
        Some(NodeEnum::VacuumStmt(vacuum)) => {
            s.transactional = false;
            let full = vacuum.options.iter().any(
                |o| matches!(o.node.as_ref(), Some(NodeEnum::DefElem(d)) if d.defname == "full"),
            );
            if full {
                hazard(Code::RawRewrite, "VACUUM FULL rewrites the table under ACCESS EXCLUSIVE; use pg_repack or let autovacuum work");
                s.work = Work::Rewrite;
            } else {
                (s.lock, s.work) = (LockMode::ShareUpdateExclusive, Work::Scan);
            }
        }
        Some(NodeEnum::ClusterStmt(_)) => {
            hazard(
                Code::RawRewrite,
                "CLUSTER rewrites the table under ACCESS EXCLUSIVE; use pg_repack",
            );
            s.work = Work::Rewrite;
        }
        Some(NodeEnum::LockStmt(_)) => {
            hazard(
                Code::RawLockTable,
                "LOCK TABLE holds its lock until the step's transaction ends",
            );
        }
        Some(NodeEnum::TruncateStmt(truncate)) => {
            if truncate.behavior == DropBehavior::DropCascade as i32 {
                hazard(Code::RawTruncate, "TRUNCATE ... CASCADE takes ACCESS EXCLUSIVE and empties this table and every table that references it");
            } else {
                hazard(
                    Code::RawTruncate,
                    "TRUNCATE takes ACCESS EXCLUSIVE and empties the table",
                );
            }
        }
        Some(NodeEnum::InsertStmt(_) | NodeEnum::UpdateStmt(_) | NodeEnum::DeleteStmt(_)) => {
            (s.lock, s.work) = (LockMode::RowExclusive, Work::Scan);
        }
        Some(NodeEnum::SelectStmt(_)) => s.lock = LockMode::AccessShare,
        _ => {}
    }
    s
}

fn classify_alter(s: &mut RawStatement, alter: &AlterTableStmt, calls_volatile: bool) {
    let table = alter
        .relation
        .as_ref()
        .map(|r| r.relname.clone())
        .unwrap_or_default();
    for cmd in &alter.cmds {
        let Some(NodeEnum::AlterTableCmd(cmd)) = cmd.node.as_ref() else {
            continue;
        };
        let definition = cmd.def.as_ref().and_then(|d| d.node.as_ref());
        match AlterTableType::try_from(cmd.subtype) {
            Ok(AlterTableType::AtSetNotNull) => {
                s.work = Work::Scan;
                s.hazards.push(Hazard::new(Code::RawSetNotNull, "SET NOT NULL scans the table under ACCESS EXCLUSIVE; use a set_not_null change"));
            }
            Ok(AlterTableType::AtAlterColumnType) => {
                s.work = Work::Rewrite;
                let new_type = match definition {
                    Some(NodeEnum::ColumnDef(def)) => def.type_name.as_ref().map(type_name_text),
                    _ => None,
                };
                let mut hazard = Hazard::new(Code::RawAlterType, "ALTER COLUMN TYPE may rewrite the table under ACCESS EXCLUSIVE; use a change_type change");
                hazard.type_change = new_type.map(|t| (table.clone(), cmd.name.clone(), t));
                s.hazards.push(hazard);
            }
            Ok(AlterTableType::AtAddColumn) => {
                let has_default = matches!(definition, Some(NodeEnum::ColumnDef(def)) if def.constraints.iter().any(|c| matches!(c.node.as_ref(), Some(NodeEnum::Constraint(c)) if c.contype == ConstrType::ConstrDefault as i32)));
                if has_default && calls_volatile {
                    s.work = Work::Rewrite;
                    s.hazards.push(Hazard::new(Code::RawVolatileDefault, "ADD COLUMN with a volatile default rewrites the table under ACCESS EXCLUSIVE; use add_column with `backfill:`"));
                }
            }
            Ok(AlterTableType::AtDropColumn) => {
                s.hazards.push(Hazard::new(Code::RawDrop, "DROP COLUMN at expand removes what the running application still reads; use a drop_column change, which runs at contract"));
            }
            Ok(AlterTableType::AtValidateConstraint) => {
                (s.lock, s.work) = (LockMode::ShareUpdateExclusive, Work::Scan);
            }
            Ok(AlterTableType::AtAddConstraint) => {
                let Some(NodeEnum::Constraint(c)) = definition else {
                    continue;
                };
                let kind = ConstrType::try_from(c.contype).ok();
                if matches!(kind, Some(ConstrType::ConstrForeign)) {
                    s.lock = LockMode::ShareRowExclusive;
                }
                let validates = !c.skip_validation && c.indexname.is_empty();
                if validates
                    && matches!(
                        kind,
                        Some(
                            ConstrType::ConstrCheck
                                | ConstrType::ConstrForeign
                                | ConstrType::ConstrPrimary
                                | ConstrType::ConstrUnique
                        )
                    )
                {
                    s.work = Work::Scan;
                    s.hazards.push(Hazard::new(Code::RawValidatingConstraint, "ADD CONSTRAINT checks every row while holding its lock; add it NOT VALID and VALIDATE it later (add_check, add_foreign_key, add_unique)"));
                }
            }
            _ => {}
        }
    }
}

/// A parsed type name back as SQL text (`varchar(40)`, `bigint`), for catalog lookups.
fn type_name_text(type_name: &pg_query::protobuf::TypeName) -> String {
    let names: Vec<&str> = type_name
        .names
        .iter()
        .filter_map(|n| match n.node.as_ref() {
            Some(NodeEnum::String(s)) => Some(s.sval.as_str()),
            _ => None,
        })
        .filter(|n| *n != "pg_catalog")
        .collect();
    let modifiers = modifier_texts(type_name);
    let mut text = names.join(".");
    if !modifiers.is_empty() {
        text.push_str(&format!("({})", modifiers.join(",")));
    }
    if !type_name.array_bounds.is_empty() {
        text.push_str("[]");
    }
    text
}

/// The base name of a column type as PostgreSQL's grammar resolves it (`bpchar` for
/// `char(3)`, `timestamp` for `timestamp without time zone`, `int4` for `int`), for lint
/// rules about type choices.
pub fn type_base_name(text: &str) -> Option<String> {
    // In type-name mode the statement is the type's qualified name as a list of strings.
    let parsed = pg_query::parse(text, ParserOptions::TYPE_NAME).ok()?;
    let Some(NodeEnum::List(names)) = parsed.protobuf.stmts.first()?.stmt.as_ref()?.node.as_ref()
    else {
        return None;
    };
    match names.items.last()?.node.as_ref()? {
        NodeEnum::String(s) => Some(s.sval.to_lowercase()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions_report_columns_and_functions() {
        let e = Expr::parse("lower(\"Email\") || name").unwrap();
        let names: Vec<_> = e.columns.iter().map(|(c, _)| c.as_str()).collect();
        assert_eq!(names, ["Email", "name"]);
        assert_eq!(e.functions, ["lower"]);
        assert!(!e.is_volatile());
        assert!(Expr::parse("gen_random_uuid()").unwrap().is_volatile());
    }

    #[test]
    fn rewrites_columns_over_a_record() {
        let e = Expr::parse("  lower(email) || \"Full \"\"x\"\"\" || amount::text ").unwrap();
        assert_eq!(
            e.over_record("NEW", &[("amount", "sb_new_amount")]),
            "lower(NEW.\"email\") || NEW.\"Full \"\"x\"\"\" || NEW.\"sb_new_amount\"::text"
        );
        assert_eq!(
            Expr::parse("'n/a'").unwrap().over_record("NEW", &[]),
            "'n/a'"
        );
    }

    #[test]
    fn renames_identifier_tokens_only() {
        let def = "CREATE INDEX users_name_idx ON public.users USING btree (name, lower(name)) WHERE (name <> 'name'::text)";
        assert_eq!(
            rename_identifier(def, "name", "full_name", Some("USING"), None).unwrap(),
            "CREATE INDEX users_name_idx ON public.users USING btree (\"full_name\", lower(\"full_name\")) WHERE (\"full_name\" <> 'name'::text)"
        );
        let fk = "FOREIGN KEY (account) REFERENCES accounts(account)";
        assert_eq!(
            rename_identifier(fk, "account", "acct", None, Some("REFERENCES")).unwrap(),
            "FOREIGN KEY (\"acct\") REFERENCES accounts(account)"
        );
        assert_eq!(
            rename_identifier("CHECK ((\"Name\" <> ''::text))", "Name", "n", None, None).unwrap(),
            "CHECK ((\"n\" <> ''::text))"
        );
        // A column named like a type or a function is renamed only where it is the column.
        assert_eq!(
            rename_identifier(
                "CHECK ((text <> ''::text) AND text(1) IS NOT NULL)",
                "text",
                "body",
                None,
                None
            )
            .unwrap(),
            "CHECK ((\"body\" <> ''::text) AND text(1) IS NOT NULL)"
        );
    }

    #[test]
    fn rejects_what_is_not_one_expression() {
        for bad in [
            "",
            "1, 2",
            "1 FROM users",
            "x WHERE true",
            "1; DROP TABLE users",
            "(1",
            "a AS b",
        ] {
            assert!(Expr::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn types() {
        for good in [
            "int",
            "varchar(20)",
            "timestamp with time zone",
            "numeric(10,2)",
            "text[]",
            "\"MyType\"",
        ] {
            assert!(parse_type(good).is_ok(), "{good}");
        }
        for bad in ["", "int int", "varchar(", "1"] {
            assert!(parse_type(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn classifies_raw_statements() {
        let s = parse_statements("CREATE INDEX i ON t (a); CREATE INDEX CONCURRENTLY j ON t (b); ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID").unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].text, "CREATE INDEX i ON t (a)");
        assert_eq!(s[0].hazards[0].code, Code::RawCreateIndex);
        assert_eq!(
            (s[1].lock, s[1].transactional),
            (LockMode::ShareUpdateExclusive, false)
        );
        assert!(s[1].hazards.is_empty());
        assert!(s[2].hazards.is_empty());
        let codes = |sql: &str| -> Vec<Code> {
            parse_statements(sql).unwrap()[0]
                .hazards
                .iter()
                .map(|h| h.code)
                .collect()
        };
        assert_eq!(
            codes("ALTER TABLE t ALTER COLUMN a SET NOT NULL"),
            [Code::RawSetNotNull]
        );
        assert_eq!(
            codes("ALTER TABLE t ADD COLUMN u uuid DEFAULT gen_random_uuid()"),
            [Code::RawVolatileDefault]
        );
        assert!(codes("ALTER TABLE t ADD COLUMN u int DEFAULT 0").is_empty());
        assert_eq!(codes("ALTER TABLE t DROP COLUMN a"), [Code::RawDrop]);
        assert_eq!(codes("DROP TABLE t"), [Code::RawDrop]);
        assert!(codes("DROP INDEX CONCURRENTLY i").is_empty());
        assert_eq!(
            codes("ALTER TABLE t RENAME COLUMN a TO b"),
            [Code::RawRename]
        );
        assert_eq!(codes("ALTER TABLE t RENAME TO u"), [Code::RawRename]);
        assert!(codes("ALTER INDEX i RENAME TO j").is_empty());
        assert_eq!(codes("VACUUM FULL t"), [Code::RawRewrite]);
        assert_eq!(codes("CLUSTER t USING i"), [Code::RawRewrite]);
        assert_eq!(codes("LOCK TABLE t"), [Code::RawLockTable]);
        assert_eq!(codes("TRUNCATE t CASCADE"), [Code::RawTruncate]);
        let alter = &parse_statements("ALTER TABLE s.t ALTER COLUMN a TYPE varchar(40)").unwrap()
            [0]
        .hazards[0];
        assert_eq!(
            alter.type_change,
            Some(("t".into(), "a".into(), "varchar(40)".into()))
        );
        assert_eq!(type_base_name("char(3)").as_deref(), Some("bpchar"));
        assert_eq!(
            type_base_name("timestamp without time zone").as_deref(),
            Some("timestamp")
        );
        assert_eq!(
            type_base_name("timestamptz").as_deref(),
            Some("timestamptz")
        );
        assert_eq!(type_base_name("int").as_deref(), Some("int4"));
        assert_eq!(type_base_name("json").as_deref(), Some("json"));
        assert!(parse_statements("SELEC 1").is_err());
    }
}
