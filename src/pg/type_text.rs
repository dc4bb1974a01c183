//! Type text as PostgreSQL's grammar reads it: the modifiers written after a type name, for
//! the catalog lookups that decide whether a type change rewrites the table.

use pg_query::{NodeEnum, ParserOptions};

/// The modifiers of a column type as written: `["10", "2"]` for `numeric(10,2)`.
pub fn type_modifiers(text: &str) -> Vec<String> {
    let Ok(parsed) = pg_query::parse(&format!("SELECT NULL::{text}"), ParserOptions::DEFAULT)
    else {
        return Vec::new();
    };
    let target =
        parsed
            .protobuf
            .stmts
            .first()
            .and_then(|s| match s.stmt.as_ref()?.node.as_ref()? {
                NodeEnum::SelectStmt(select) => select.target_list.first()?.node.clone(),
                _ => None,
            });
    let Some(NodeEnum::ResTarget(target)) = target else {
        return Vec::new();
    };
    match target.val.and_then(|v| v.node) {
        Some(NodeEnum::TypeCast(cast)) => cast
            .type_name
            .as_ref()
            .map(modifier_texts)
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

fn modifier_texts(type_name: &pg_query::protobuf::TypeName) -> Vec<String> {
    type_name
        .typmods
        .iter()
        .filter_map(|m| match m.node.as_ref() {
            Some(NodeEnum::AConst(c)) => match c.val.as_ref() {
                Some(pg_query::protobuf::a_const::Val::Ival(i)) => Some(i.ival.to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::type_modifiers;

    #[test]
    fn modifiers_as_written() {
        assert_eq!(type_modifiers("numeric(10, 2)"), ["10", "2"]);
        assert!(type_modifiers("text").is_empty());
    }
}
