//! Column types from plan files: checked with the grammar, written back as SQL text, and
//! reduced to the base name the type lint rules look at.

use super::parse_error;
use pg_query::{NodeEnum, ParserOptions};

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
