//! Parse-tree pieces back to SQL text with libpg_query's deparser: an expression or a type is
//! wrapped in the smallest statement that holds it, deparsed, and unwrapped.

use pg_query::protobuf::{
    ColumnDef, CreateStmt, LimitOption, Node, OnCommitAction, RangeVar, ResTarget, SelectStmt,
    SetOperation, TypeName,
};
use pg_query::{DeparseOptions, NodeEnum};

fn node(n: NodeEnum) -> Node {
    Node { node: Some(n) }
}

/// An expression (a default, a `USING`, a `SET x = ...`, a CHECK, a WHERE) as SQL text.
pub fn expr(e: &Node) -> Option<String> {
    let select = SelectStmt {
        target_list: vec![node(NodeEnum::ResTarget(Box::new(ResTarget {
            val: Some(Box::new(e.clone())),
            ..Default::default()
        })))],
        // Protobuf's 0 is "undefined" for these enums; libpg_query asserts on it.
        limit_option: LimitOption::Default as i32,
        op: SetOperation::SetopNone as i32,
        ..Default::default()
    };
    let text = NodeEnum::SelectStmt(Box::new(select))
        .deparse(DeparseOptions::default())
        .ok()?;
    text.strip_prefix("SELECT ").map(str::to_owned)
}

/// A column type as SQL text (`varchar(200)`, `bigint`, `timestamp with time zone`).
pub fn type_name(t: &TypeName) -> Option<String> {
    let create = CreateStmt {
        relation: Some(RangeVar {
            relname: "t".into(),
            inh: true,
            relpersistence: "p".into(),
            ..Default::default()
        }),
        table_elts: vec![node(NodeEnum::ColumnDef(Box::new(ColumnDef {
            colname: "c".into(),
            type_name: Some(t.clone()),
            is_local: true,
            ..Default::default()
        })))],
        oncommit: OnCommitAction::OncommitNoop as i32,
        ..Default::default()
    };
    let text = NodeEnum::CreateStmt(create)
        .deparse(DeparseOptions::default())
        .ok()?;
    let inner = text.strip_prefix("CREATE TABLE t (c ")?.strip_suffix(')')?;
    Some(inner.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pg_query::ParserOptions;

    fn first_target(sql: &str) -> Node {
        let parsed = pg_query::parse(sql, ParserOptions::DEFAULT).unwrap();
        let Some(NodeEnum::SelectStmt(s)) =
            parsed.protobuf.stmts[0].stmt.as_ref().unwrap().node.clone()
        else {
            panic!()
        };
        let Some(NodeEnum::ResTarget(t)) = s.target_list[0].node.clone() else {
            panic!()
        };
        *t.val.unwrap()
    }

    #[test]
    fn round_trips() {
        assert_eq!(
            expr(&first_target("SELECT lower(\"Email\")::varchar(200)")).unwrap(),
            "lower(\"Email\")::varchar(200)"
        );
        let parsed = pg_query::parse(
            "CREATE TABLE x (a timestamp(3) with time zone, b numeric(10,2), c text[])",
            ParserOptions::DEFAULT,
        )
        .unwrap();
        let Some(NodeEnum::CreateStmt(c)) =
            parsed.protobuf.stmts[0].stmt.as_ref().unwrap().node.clone()
        else {
            panic!()
        };
        let types: Vec<String> = c
            .table_elts
            .iter()
            .map(|e| match e.node.as_ref() {
                Some(NodeEnum::ColumnDef(d)) => type_name(d.type_name.as_ref().unwrap()).unwrap(),
                _ => panic!(),
            })
            .collect();
        assert_eq!(
            types,
            ["timestamp (3) with time zone", "numeric(10, 2)", "text[]"]
        );
    }
}
