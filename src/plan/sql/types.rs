//! Column types from plan files: checked with the grammar, written back as SQL text, and
//! reduced to the base name the type lint rules look at.

use super::parse_error;
use crate::pg::type_text::modifier_texts;
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

/// A parsed type name back as SQL text (`varchar(40)`, `bigint`), for catalog lookups.
pub(super) fn type_name_text(type_name: &pg_query::protobuf::TypeName) -> String {
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
