//! Ordering in the step graph: one shared backfill per table, edges between changes and
//! between plans, the gate between stages.

use switchback::graph::{build, Edge, Node, StepGraph};
use switchback::plan::folder;
use switchback::plan::step::{Phase, Stage};

fn graph_of(files: &[(&str, &str)]) -> (StepGraph, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let set = folder::load(&[dir.path().to_path_buf()]).unwrap();
    assert_eq!(set.diagnostics, []);
    (build(&set.plans, "switchback").unwrap(), dir)
}

fn ids(graph: &StepGraph) -> Vec<String> {
    graph.order.iter().map(|n| graph.graph[*n].id()).collect()
}

fn position(order: &[String], id: &str) -> usize {
    order
        .iter()
        .position(|s| s == id)
        .unwrap_or_else(|| panic!("{id} not in {order:#?}"))
}

fn has_edge(graph: &StepGraph, from: &str, to: &str, kind: Edge) -> bool {
    graph.graph.edge_indices().any(|e| {
        let (a, b) = graph.graph.edge_endpoints(e).unwrap();
        graph.graph[a].id() == from && graph.graph[b].id() == to && graph.graph[e] == kind
    })
}

const MULTI: &str = "changes:
  - rename_column: { table: users, from: name, to: full_name }
  - set_not_null: { table: users, column: email, fill: \"'x'\" }
  - set_not_null: { table: orders, column: status, fill: \"'new'\" }
  - add_column: { table: users, column: { name: year, type: int }, backfill: \"extract(year FROM created_at)::int\" }
";

#[test]
fn all_changes_on_one_table_share_one_backfill_and_one_trigger() {
    let (graph, _dir) = graph_of(&[("p.yaml", MULTI)]);
    let backfills: Vec<_> = graph
        .steps()
        .filter(|s| s.phase == Phase::Backfill)
        .collect();
    let tables: Vec<_> = backfills.iter().map(|s| s.table.clone().unwrap()).collect();
    assert_eq!(tables, ["users", "orders"]);
    assert_eq!(backfills[0].changes, [0, 1, 3]);
    assert_eq!(
        backfills[0].statements.len(),
        1,
        "one UPDATE walks the table once"
    );
    let update = &backfills[0].statements[0].sql;
    for column in ["\"full_name\" =", "\"email\" =", "\"year\" ="] {
        assert!(update.contains(column), "{update}");
    }
    let triggers = graph
        .steps()
        .filter(|s| s.phase == Phase::Sync && s.name.ends_with(".sync"));
    assert_eq!(triggers.count(), 2);
    let order = ids(&graph);
    assert!(
        position(&order, "p/users.sync") < position(&order, "p/0.move_default"),
        "a default is dropped only once the trigger supplies it"
    );
    assert!(position(&order, "p/users.sync") < position(&order, "p/users.backfill"));
    assert!(position(&order, "p/users.backfill") < position(&order, "p/users.verify"));
    assert!(
        position(&order, "p/0.add_column") < position(&order, "p/users.sync"),
        "the new column exists before the trigger writes it"
    );
    assert!(position(&order, "p/3.add_column") < position(&order, "p/users.sync"));
}

#[test]
fn the_gate_separates_expand_from_contract() {
    let (graph, _dir) = graph_of(&[("p.yaml", MULTI)]);
    let order = ids(&graph);
    let gate = position(&order, "p/gate");
    for step in graph.steps() {
        let at = position(&order, &step.id);
        match step.stage {
            Stage::Expand => assert!(at < gate, "{} after the gate", step.id),
            Stage::Contract => assert!(at > gate, "{} before the gate", step.id),
        }
    }
    let drop = graph.steps().find(|s| s.id == "p/users.drop_sync").unwrap();
    let sql: Vec<&str> = drop.statements.iter().map(|s| s.sql.as_str()).collect();
    let trigger = sql
        .iter()
        .position(|s| s.starts_with("DROP TRIGGER"))
        .unwrap();
    let column = sql
        .iter()
        .position(|s| s.ends_with("DROP COLUMN \"name\""))
        .unwrap();
    assert!(
        trigger < column && drop.transactional,
        "the trigger and the old column go in one transaction, trigger first"
    );
    assert!(graph.steps().all(|s| s.id != "p/0.drop_old_column"));
    assert_eq!(order.last().map(String::as_str), Some("p/done"));
}

#[test]
fn a_change_waits_for_the_change_that_creates_its_column() {
    let plan = "changes:
  - rename_column: { table: users, from: name, to: full_name }
  - add_index: { table: users, name: users_full_name_idx, columns: [full_name] }
";
    let (graph, _dir) = graph_of(&[("p.yaml", plan)]);
    assert!(
        has_edge(&graph, "p/users.verify", "p/1.create_index", Edge::Step),
        "the index is built once full_name is backfilled and verified"
    );
    let order = ids(&graph);
    assert!(position(&order, "p/users.verify") < position(&order, "p/1.create_index"));
}

#[test]
fn a_constraint_on_a_new_column_waits_for_its_verified_backfill() {
    let plan = "changes:
  - add_column: { table: t, column: { name: a, type: int }, backfill: \"1\" }
  - set_not_null: { table: t, column: a }
";
    let (graph, _dir) = graph_of(&[("p.yaml", plan)]);
    assert!(has_edge(
        &graph,
        "p/t.verify",
        "p/1.add_not_null_check",
        Edge::Step
    ));
    let order = ids(&graph);
    assert!(position(&order, "p/t.verify") < position(&order, "p/1.validate_not_null_check"));
}

#[test]
fn plans_follow_depends_on_and_folder_order() {
    let a = "changes:\n  - add_index: { table: t, name: i, columns: [a] }\n";
    let b = "changes:\n  - drop_column: { table: t, column: b }\n";
    let c = "depends_on: [a]\nchanges:\n  - set_default: { table: t, column: c, default: 1 }\n";
    let (graph, _dir) = graph_of(&[("a.yaml", a), ("b.yaml", b), ("c.yaml", c)]);
    assert!(has_edge(
        &graph,
        "a/done",
        "c/0.set_default",
        Edge::DependsOn
    ));
    assert!(
        has_edge(&graph, "a/gate", "b/gate", Edge::FolderOrder),
        "b has no expand step, so its gate follows a's"
    );
    assert!(has_edge(
        &graph,
        "b/gate",
        "c/0.set_default",
        Edge::FolderOrder
    ));
    let order = ids(&graph);
    assert!(position(&order, "a/done") < position(&order, "c/0.set_default"));
    assert!(position(&order, "a/0.create_index") < position(&order, "b/gate"));
}

#[test]
fn depends_on_reorders_plans_against_file_names() {
    let a = "depends_on: [b]\nchanges:\n  - drop_column: { table: t, column: a }\n";
    let b = "changes:\n  - drop_column: { table: t, column: b }\n";
    let (graph, _dir) = graph_of(&[("a.yaml", a), ("b.yaml", b)]);
    let order = ids(&graph);
    assert!(position(&order, "b/done") < position(&order, "a/gate"));
    let gates: Vec<&Node> = graph
        .order
        .iter()
        .map(|n| &graph.graph[*n])
        .filter(|n| matches!(n, Node::Gate { .. }))
        .collect();
    assert_eq!(
        gates.iter().map(|n| n.id()).collect::<Vec<_>>(),
        ["b/gate", "a/gate"]
    );
}
