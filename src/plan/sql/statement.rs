//! Raw statements (the `sql` change kind): parsed one by one, each with the lock it takes,
//! the work it does to the table (catalog-only, scan, rewrite), whether it may run in a
//! transaction, and the hazards a running application would meet.

use super::expr::VOLATILE_FUNCTIONS;
use super::parse_error;
use crate::pg::lock::LockMode;
use crate::pg::quote;
use crate::plan::diagnostic::Code;
use pg_query::protobuf::{
    AlterTableCmd, AlterTableType, ColumnDef, ConstrType, Constraint, ObjectType, ReindexStmt,
    TypeName, VacuumStmt,
};
use pg_query::{NodeEnum, ParserOptions};
use serde::Serialize;

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
    /// The index (quoted, qualified as the statement qualifies its table) a named CREATE
    /// INDEX CONCURRENTLY builds: a re-run after a kill skips it once valid and rebuilds an
    /// INVALID leftover, as `add_index` does, instead of failing on the name.
    pub builds_index: Option<String>,
    /// The index a DROP INDEX CONCURRENTLY of one index without IF EXISTS removes: a re-run
    /// after a kill skips it once the index is gone (the statement may have finished after
    /// its runner died, which a pooler in front lets it do), instead of failing on the name.
    pub drops_index: Option<String>,
}

/// Something a raw statement does that a change kind does safely, or should not do at all:
/// what a lint rule over statements found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hazard {
    pub code: Code,
    pub why: &'static str,
}

/// Splits and checks raw SQL, classifying each statement; `judge` names its hazards (the
/// lint rules over statements, which live above this module).
pub fn parse_statements(
    text: &str,
    judge: impl Fn(&NodeEnum, &str) -> Vec<Hazard>,
) -> Result<Vec<RawStatement>, String> {
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
            // Parsed again alone: the relations of this statement only.
            let alone = pg_query::parse(&statement_text, ParserOptions::DEFAULT).ok();
            let node = raw.stmt.as_ref().and_then(|s| s.node.as_ref());
            let mut statement = classify(statement_text, node);
            if let Some(node) = node {
                statement.hazards = judge(node, &statement.text);
            }
            statement.tables = alone.map(|p| p.tables()).unwrap_or_default();
            statement
        })
        .collect())
}

/// The index a single `CREATE INDEX CONCURRENTLY` statement builds, quoted as
/// `Statement::builds_index` has it; None for any other SQL.
pub fn index_built(sql: &str) -> Option<String> {
    let parsed = pg_query::parse(sql, ParserOptions::DEFAULT).ok()?;
    let [raw] = parsed.protobuf.stmts.as_slice() else {
        return None;
    };
    let node = raw.stmt.as_ref().and_then(|s| s.node.as_ref());
    classify(sql.to_owned(), node).builds_index
}

/// Whether `sql` calls one of the volatile functions: a name token directly followed by `(`.
/// (libpg_query's node walker does not descend into column definitions, so the tokens are
/// read instead.)
pub fn calls_volatile_function(sql: &str) -> bool {
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

/// The lock, the work and whether it may run in a transaction, as the parse tree tells.
pub fn classify(text: String, node: Option<&NodeEnum>) -> RawStatement {
    let mut s = RawStatement {
        lock: LockMode::AccessExclusive,
        work: Work::Instant,
        transactional: true,
        hazards: Vec::new(),
        tables: Vec::new(),
        builds_index: None,
        drops_index: None,
        text,
    };
    match node {
        Some(NodeEnum::IndexStmt(index)) if index.concurrent => {
            (s.lock, s.work, s.transactional) = (LockMode::ShareUpdateExclusive, Work::Scan, false);
            let schema = index
                .relation
                .as_ref()
                .map_or("", |r| r.schemaname.as_str());
            s.builds_index = match (schema, index.idxname.as_str()) {
                (_, "") => None,
                ("", name) => Some(quote::ident(name)),
                (schema, name) => Some(quote::qualified(schema, name)),
            };
        }
        Some(NodeEnum::IndexStmt(_)) => (s.lock, s.work) = (LockMode::Share, Work::Scan),
        Some(NodeEnum::DropStmt(drop)) if drop.concurrent => {
            (s.lock, s.transactional) = (LockMode::ShareUpdateExclusive, false);
            let name: Vec<&str> = match (drop.missing_ok, drop.objects.as_slice()) {
                (false, [object]) => match object.node.as_ref() {
                    Some(NodeEnum::List(list)) => list
                        .items
                        .iter()
                        .filter_map(|n| match n.node.as_ref() {
                            Some(NodeEnum::String(s)) => Some(s.sval.as_str()),
                            _ => None,
                        })
                        .collect(),
                    _ => Vec::new(),
                },
                _ => Vec::new(),
            };
            s.drops_index = match name.as_slice() {
                [name] => Some(quote::ident(name)),
                [schema, name] => Some(quote::qualified(schema, name)),
                _ => None,
            };
        }
        Some(NodeEnum::ReindexStmt(reindex)) if reindex_concurrently(reindex) => {
            (s.lock, s.work, s.transactional) = (LockMode::ShareUpdateExclusive, Work::Scan, false);
        }
        Some(NodeEnum::ReindexStmt(_)) => (s.lock, s.work) = (LockMode::Share, Work::Scan),
        Some(alter @ NodeEnum::AlterTableStmt(_)) => {
            for (kind, cmd) in alter_commands(alter) {
                match kind {
                    AlterTableType::AtSetNotNull => s.work = at_least_scan(s.work),
                    AlterTableType::AtAlterColumnType => s.work = Work::Rewrite,
                    AlterTableType::AtAddColumn if adds_volatile_default(cmd, &s.text) => {
                        s.work = Work::Rewrite;
                    }
                    AlterTableType::AtValidateConstraint => {
                        (s.lock, s.work) = (LockMode::ShareUpdateExclusive, Work::Scan);
                    }
                    AlterTableType::AtAddConstraint => {
                        if matches!(constraint(cmd), Some(c) if c.contype == ConstrType::ConstrForeign as i32)
                        {
                            s.lock = LockMode::ShareRowExclusive;
                        }
                        if adds_validating_constraint(cmd) {
                            s.work = at_least_scan(s.work);
                        }
                    }
                    _ => {}
                }
            }
        }
        Some(NodeEnum::VacuumStmt(vacuum)) => {
            s.transactional = false;
            if vacuum_full(vacuum) {
                s.work = Work::Rewrite;
            } else {
                (s.lock, s.work) = (LockMode::ShareUpdateExclusive, Work::Scan);
            }
        }
        Some(NodeEnum::ClusterStmt(_)) => s.work = Work::Rewrite,
        Some(NodeEnum::InsertStmt(_) | NodeEnum::UpdateStmt(_) | NodeEnum::DeleteStmt(_)) => {
            (s.lock, s.work) = (LockMode::RowExclusive, Work::Scan);
        }
        Some(NodeEnum::SelectStmt(_)) => s.lock = LockMode::AccessShare,
        _ => {}
    }
    s
}

/// A scan, unless an earlier subcommand of the statement already rewrites the table.
fn at_least_scan(work: Work) -> Work {
    match work {
        Work::Instant => Work::Scan,
        heavier => heavier,
    }
}

/// The subcommands of an ALTER TABLE (none for any other statement), with their kinds.
pub fn alter_commands(
    statement: &NodeEnum,
) -> impl Iterator<Item = (AlterTableType, &AlterTableCmd)> {
    let cmds = match statement {
        NodeEnum::AlterTableStmt(alter) => alter.cmds.as_slice(),
        _ => &[],
    };
    cmds.iter().filter_map(|c| match c.node.as_ref() {
        Some(NodeEnum::AlterTableCmd(cmd)) => AlterTableType::try_from(cmd.subtype)
            .ok()
            .map(|kind| (kind, cmd.as_ref())),
        _ => None,
    })
}

fn constraint(cmd: &AlterTableCmd) -> Option<&Constraint> {
    match cmd.def.as_ref().and_then(|d| d.node.as_ref()) {
        Some(NodeEnum::Constraint(c)) => Some(c),
        _ => None,
    }
}

/// ADD CONSTRAINT that reads every row under its lock: a CHECK or FOREIGN KEY without NOT
/// VALID, or a UNIQUE or PRIMARY KEY that builds its index (rather than USING INDEX).
pub fn adds_validating_constraint(cmd: &AlterTableCmd) -> bool {
    let Some(c) = constraint(cmd) else {
        return false;
    };
    let validating_kind = matches!(
        ConstrType::try_from(c.contype),
        Ok(ConstrType::ConstrCheck
            | ConstrType::ConstrForeign
            | ConstrType::ConstrPrimary
            | ConstrType::ConstrUnique)
    );
    validating_kind && !c.skip_validation && c.indexname.is_empty()
}

/// ADD COLUMN whose default calls a volatile function, so every row gets its own value: a
/// rewrite. (`text` is the statement's, read by tokens; see [`calls_volatile_function`].)
pub fn adds_volatile_default(cmd: &AlterTableCmd, text: &str) -> bool {
    let has_default = matches!(
        cmd.def.as_ref().and_then(|d| d.node.as_ref()),
        Some(NodeEnum::ColumnDef(def)) if def.constraints.iter().any(|c| matches!(c.node.as_ref(), Some(NodeEnum::Constraint(c)) if c.contype == ConstrType::ConstrDefault as i32))
    );
    has_default && calls_volatile_function(text)
}

pub fn vacuum_full(vacuum: &VacuumStmt) -> bool {
    vacuum
        .options
        .iter()
        .any(|o| matches!(o.node.as_ref(), Some(NodeEnum::DefElem(d)) if d.defname == "full"))
}

pub fn reindex_concurrently(reindex: &ReindexStmt) -> bool {
    reindex.params.iter().any(
        |o| matches!(o.node.as_ref(), Some(NodeEnum::DefElem(d)) if d.defname == "concurrently"),
    )
}

/// The table a statement changes, for the statements that change one: ALTER TABLE, CREATE
/// INDEX, a RENAME. (Other tables it names, like a foreign key's target, are not it.)
/// The table whose row type `sql` changes (a column added, dropped or retyped), so that a
/// prepared `SELECT *` or `RETURNING *` on it must be prepared again.
pub fn reshapes_rows(sql: &str) -> Option<String> {
    // A step shown before the catalog is read names a type it will read (`<type of "c">`).
    let mut sql = sql.to_owned();
    while let Some(start) = sql.find("<type of ") {
        let end = sql[start..].find('>').map_or(sql.len(), |e| start + e + 1);
        sql.replace_range(start..end, "text");
    }
    let parsed = pg_query::parse(&sql, ParserOptions::DEFAULT).ok()?;
    parsed.protobuf.stmts.iter().find_map(|raw| {
        let node = raw.stmt.as_ref()?.node.as_ref()?;
        alter_commands(node)
            .any(|(kind, _)| {
                matches!(
                    kind,
                    AlterTableType::AtAddColumn
                        | AlterTableType::AtDropColumn
                        | AlterTableType::AtAlterColumnType
                )
            })
            .then(|| target_table(node).map(str::to_owned))
            .flatten()
    })
}

/// The table (unqualified) of `definition`, one CREATE INDEX statement as `pg_get_indexdef`
/// writes it, or why it is not one.
pub fn index_table(definition: &str) -> Result<String, String> {
    let parsed = pg_query::parse(definition, ParserOptions::DEFAULT).map_err(parse_error)?;
    match parsed.protobuf.stmts.as_slice() {
        [one] => match one.stmt.as_ref().and_then(|s| s.node.as_ref()) {
            Some(NodeEnum::IndexStmt(index)) => index
                .relation
                .as_ref()
                .map(|r| r.relname.clone())
                .ok_or_else(|| "the index names no table".to_owned()),
            _ => Err(format!("`{definition}` is not a CREATE INDEX statement")),
        },
        _ => Err(format!("`{definition}` is not one CREATE INDEX statement")),
    }
}

pub fn target_table(statement: &NodeEnum) -> Option<&str> {
    let relation = match statement {
        NodeEnum::AlterTableStmt(a) => a.relation.as_ref(),
        NodeEnum::IndexStmt(i) => i.relation.as_ref(),
        NodeEnum::RenameStmt(r) if r.rename_type != ObjectType::ObjectIndex as i32 => {
            r.relation.as_ref()
        }
        NodeEnum::CreateStmt(c) => c.relation.as_ref(),
        _ => None,
    };
    relation.map(|r| r.relname.as_str())
}

/// The column definitions a statement writes: CREATE TABLE's, ADD COLUMN's, and ALTER COLUMN
/// TYPE's (whose definition holds only the type).
pub fn column_defs(statement: &NodeEnum) -> Vec<&ColumnDef> {
    let mut defs = Vec::new();
    if let NodeEnum::CreateStmt(create) = statement {
        for element in &create.table_elts {
            if let Some(NodeEnum::ColumnDef(def)) = element.node.as_ref() {
                defs.push(def.as_ref());
            }
        }
    }
    for (kind, cmd) in alter_commands(statement) {
        if matches!(
            kind,
            AlterTableType::AtAddColumn | AlterTableType::AtAlterColumnType
        ) {
            if let Some(NodeEnum::ColumnDef(def)) = cmd.def.as_ref().and_then(|d| d.node.as_ref()) {
                defs.push(def.as_ref());
            }
        }
    }
    defs
}

/// A type's name as the catalog knows it (`int4` for `int`, `bpchar` for `char(3)`); the
/// serial pseudo-types keep their names.
pub fn type_name_base(type_name: &TypeName) -> String {
    match type_name.names.last().and_then(|n| n.node.as_ref()) {
        Some(NodeEnum::String(s)) => s.sval.clone(),
        _ => String::new(),
    }
}

/// The constraints written on a column definition, with their kinds.
pub fn column_constraints(def: &ColumnDef) -> impl Iterator<Item = (ConstrType, &Constraint)> {
    def.constraints
        .iter()
        .filter_map(|c| match c.node.as_ref() {
            Some(NodeEnum::Constraint(c)) => ConstrType::try_from(c.contype)
                .ok()
                .map(|k| (k, c.as_ref())),
            _ => None,
        })
}

/// The primary key columns a CREATE TABLE or ADD COLUMN declares, with their types.
pub fn primary_key_columns(statement: &NodeEnum) -> Vec<(String, String)> {
    let defs = column_defs(statement);
    let type_of = |name: &str| {
        defs.iter()
            .find(|d| d.colname == name)
            .and_then(|d| d.type_name.as_ref())
            .map(type_name_base)
            .unwrap_or_default()
    };
    let mut keys: Vec<(String, String)> = defs
        .iter()
        .filter(|d| column_constraints(d).any(|(k, _)| k == ConstrType::ConstrPrimary))
        .map(|d| (d.colname.clone(), type_of(&d.colname)))
        .collect();
    if let NodeEnum::CreateStmt(create) = statement {
        for c in &create.table_elts {
            if let Some(NodeEnum::Constraint(c)) = c.node.as_ref() {
                if c.contype == ConstrType::ConstrPrimary as i32 {
                    for key in &c.keys {
                        if let Some(NodeEnum::String(s)) = key.node.as_ref() {
                            keys.push((s.sval.clone(), type_of(&s.sval)));
                        }
                    }
                }
            }
        }
    }
    keys
}
