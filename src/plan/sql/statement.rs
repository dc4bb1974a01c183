//! Raw statements (the `sql` change kind): parsed one by one, each with the lock it takes,
//! the work it does to the table (catalog-only, scan, rewrite), whether it may run in a
//! transaction, and the hazards a running application would meet.

use super::expr::VOLATILE_FUNCTIONS;
use super::parse_error;
use super::types::type_name_text;
use crate::pg::lock::LockMode;
use crate::plan::diagnostic::Code;
use pg_query::protobuf::{AlterTableStmt, AlterTableType, ConstrType, DropBehavior, ObjectType};
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
