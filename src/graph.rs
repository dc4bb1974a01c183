//! The step graph of one or more plans: every step, plus a gate (the deploy between a plan's
//! stages) and a done marker per plan. Built with petgraph, ordered deterministically, and
//! drawn as Graphviz dot or Mermaid.

use crate::pg::facts::Facts;
use crate::plan::expand::PlanSteps;
use crate::plan::step::{Stage, Step};
use crate::plan::Plan;
use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use petgraph::Direction;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

#[derive(Debug, Clone)]
pub enum Node {
    Step(Box<Step>),
    /// The deploy between a plan's expand and contract stages.
    Gate {
        plan: String,
    },
    /// The plan has run both stages.
    Done {
        plan: String,
    },
}

impl Node {
    pub fn id(&self) -> String {
        match self {
            Node::Step(step) => step.id.clone(),
            Node::Gate { plan } => format!("{plan}/gate"),
            Node::Done { plan } => format!("{plan}/done"),
        }
    }

    pub fn label(&self) -> String {
        match self {
            Node::Step(step) => format!("{}: {}", step.phase, step.title),
            Node::Gate { .. } => "gate: deploy the new application".into(),
            Node::Done { .. } => "done".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    /// One change's steps in phase order, or a change using what another created.
    Step,
    /// Into or out of a plan's gate or done marker.
    Gate,
    /// `depends_on`: the plan runs after the other one is done.
    DependsOn,
    /// File-name order: the plan's expand stage follows the previous plan's.
    FolderOrder,
}

#[derive(Debug)]
pub struct StepGraph {
    pub graph: DiGraph<Node, Edge>,
    /// Every node in a valid run order.
    pub order: Vec<NodeIndex>,
}

/// Steps that form a cycle, by id; the planner should never build one, but a graph with one
/// must not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle(pub Vec<String>);

struct PlanNodes {
    gate: NodeIndex,
    done: NodeIndex,
    /// Expand-stage steps nothing in their stage precedes (or the gate when there are none).
    entries: Vec<NodeIndex>,
}

/// Builds the graph of `plans`, which must be in run order (as `folder::load` returns them).
pub fn build(plans: &[Plan], state_schema: &str) -> Result<StepGraph, Cycle> {
    build_with(plans, state_schema, |_| None)
}

/// Builds the graph with each plan's catalog facts (as the executor does).
pub fn build_with<'f>(
    plans: &[Plan],
    state_schema: &str,
    facts: impl Fn(&Plan) -> Option<&'f Facts>,
) -> Result<StepGraph, Cycle> {
    let mut graph = DiGraph::new();
    let mut built: Vec<(String, PlanNodes)> = Vec::new();
    for plan in plans {
        let nodes = add_plan(&mut graph, plan, plan.steps(state_schema, facts(plan)));
        for dependency in &plan.depends_on {
            if let Some((_, other)) = built.iter().find(|(id, _)| id == &dependency.id) {
                for &entry in &nodes.entries {
                    graph.add_edge(other.done, entry, Edge::DependsOn);
                }
            }
        }
        if let Some((_, previous)) = built.last() {
            for &entry in &nodes.entries {
                graph.add_edge(previous.gate, entry, Edge::FolderOrder);
            }
        }
        built.push((plan.id.clone(), nodes));
    }
    let order = run_order(&graph)?;
    Ok(StepGraph { graph, order })
}

fn add_plan(graph: &mut DiGraph<Node, Edge>, plan: &Plan, steps: PlanSteps) -> PlanNodes {
    let indices: Vec<NodeIndex> = steps
        .steps
        .iter()
        .map(|s| graph.add_node(Node::Step(Box::new(s.clone()))))
        .collect();
    for &(from, to) in &steps.edges {
        graph.add_edge(indices[from], indices[to], Edge::Step);
    }
    let gate = graph.add_node(Node::Gate {
        plan: plan.id.clone(),
    });
    let done = graph.add_node(Node::Done {
        plan: plan.id.clone(),
    });
    let stage_of = |i: usize| steps.steps[i].stage;
    let has_edge = |i: usize, outgoing: bool| {
        steps.edges.iter().any(|&(from, to)| {
            let (this, other) = if outgoing { (from, to) } else { (to, from) };
            this == i && stage_of(other) == stage_of(i)
        })
    };
    let mut entries = Vec::new();
    let mut contract_steps = false;
    for (i, &node) in indices.iter().enumerate() {
        match stage_of(i) {
            Stage::Expand => {
                if !has_edge(i, true) {
                    graph.add_edge(node, gate, Edge::Gate);
                }
                if !has_edge(i, false) {
                    entries.push(node);
                }
            }
            Stage::Contract => {
                contract_steps = true;
                if !has_edge(i, false) {
                    graph.add_edge(gate, node, Edge::Gate);
                }
                if !has_edge(i, true) {
                    graph.add_edge(node, done, Edge::Gate);
                }
            }
        }
    }
    if !contract_steps {
        graph.add_edge(gate, done, Edge::Gate);
    }
    if entries.is_empty() {
        entries.push(gate);
    }
    PlanNodes {
        gate,
        done,
        entries,
    }
}

/// Kahn's algorithm, taking the earliest-added ready node first so the order follows plan
/// order and, within a plan, the order changes are written in.
fn run_order(graph: &DiGraph<Node, Edge>) -> Result<Vec<NodeIndex>, Cycle> {
    let mut waiting: Vec<usize> = graph
        .node_indices()
        .map(|n| graph.edges_directed(n, Direction::Incoming).count())
        .collect();
    let mut ready: BinaryHeap<Reverse<NodeIndex>> = graph
        .node_indices()
        .filter(|n| waiting[n.index()] == 0)
        .map(Reverse)
        .collect();
    let mut order = Vec::with_capacity(graph.node_count());
    while let Some(Reverse(node)) = ready.pop() {
        order.push(node);
        for edge in graph.edges_directed(node, Direction::Outgoing) {
            let target = edge.target();
            waiting[target.index()] -= 1;
            if waiting[target.index()] == 0 {
                ready.push(Reverse(target));
            }
        }
    }
    if order.len() == graph.node_count() {
        return Ok(order);
    }
    let cycle = tarjan_scc(graph)
        .into_iter()
        .find(|component| component.len() > 1)
        .unwrap_or_default();
    let mut ids: Vec<String> = cycle.iter().map(|n| graph[*n].id()).collect();
    ids.sort();
    Err(Cycle(ids))
}

impl StepGraph {
    /// The steps in run order.
    pub fn steps(&self) -> impl Iterator<Item = &Step> {
        self.order.iter().filter_map(|n| match &self.graph[*n] {
            Node::Step(step) => Some(step.as_ref()),
            _ => None,
        })
    }

    /// Ids of the nodes a node waits for.
    pub fn predecessors(&self, node: NodeIndex) -> Vec<String> {
        let mut ids: Vec<String> = self
            .graph
            .neighbors_directed(node, Direction::Incoming)
            .map(|n| self.graph[n].id())
            .collect();
        ids.sort();
        ids
    }

    /// Graphviz dot: one cluster per plan and stage, the gate between them.
    pub fn to_dot(&self) -> String {
        let mut out = String::from(
            "digraph switchback {\n  rankdir=TB;\n  node [shape=box, fontname=\"Helvetica\"];\n",
        );
        for plan in self.plan_ids() {
            out.push_str(&format!(
                "  subgraph \"cluster_{}\" {{\n    label=\"{}\";\n",
                escape_dot(&plan),
                escape_dot(&plan)
            ));
            for &n in &self.order {
                let node = &self.graph[n];
                if plan_of(node) != plan {
                    continue;
                }
                let shape = match node {
                    Node::Step(_) => "",
                    Node::Gate { .. } => ", shape=hexagon, style=filled, fillcolor=\"#ffe9a8\"",
                    Node::Done { .. } => ", shape=oval",
                };
                out.push_str(&format!(
                    "    \"{}\" [label=\"{}\"{shape}];\n",
                    escape_dot(&node.id()),
                    escape_dot(&node.label())
                ));
            }
            out.push_str("  }\n");
        }
        for edge in self.graph.edge_references() {
            let style = match edge.weight() {
                Edge::Step => "",
                Edge::Gate => " [style=bold]",
                Edge::DependsOn => " [style=dashed, label=\"depends_on\"]",
                Edge::FolderOrder => " [style=dotted]",
            };
            out.push_str(&format!(
                "  \"{}\" -> \"{}\"{style};\n",
                escape_dot(&self.graph[edge.source()].id()),
                escape_dot(&self.graph[edge.target()].id())
            ));
        }
        out.push_str("}\n");
        out
    }

    /// A Mermaid flowchart, which GitHub renders in pull-request comments.
    pub fn to_mermaid(&self) -> String {
        let mut out = String::from("flowchart TD\n");
        let key = |n: NodeIndex| format!("n{}", n.index());
        for plan in self.plan_ids() {
            out.push_str(&format!(
                "  subgraph {}[\"{}\"]\n",
                mermaid_id(&plan),
                escape_mermaid(&plan)
            ));
            for &n in &self.order {
                let node = &self.graph[n];
                if plan_of(node) != plan {
                    continue;
                }
                let label = escape_mermaid(&node.label());
                let shape = match node {
                    Node::Step(_) => format!("[\"{label}\"]"),
                    Node::Gate { .. } => format!("{{{{\"{label}\"}}}}"),
                    Node::Done { .. } => format!("([\"{label}\"])"),
                };
                out.push_str(&format!("    {}{shape}\n", key(n)));
            }
            out.push_str("  end\n");
        }
        for edge in self.graph.edge_references() {
            let arrow = match edge.weight() {
                Edge::Step | Edge::Gate => "-->",
                Edge::DependsOn => "-. depends_on .->",
                Edge::FolderOrder => "-.->",
            };
            out.push_str(&format!(
                "  {} {arrow} {}\n",
                key(edge.source()),
                key(edge.target())
            ));
        }
        out
    }

    fn plan_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = Vec::new();
        for &n in &self.order {
            let plan = plan_of(&self.graph[n]);
            if !ids.iter().any(|p| p == plan) {
                ids.push(plan.to_owned());
            }
        }
        ids
    }
}

fn plan_of(node: &Node) -> &str {
    match node {
        Node::Step(step) => &step.plan,
        Node::Gate { plan } | Node::Done { plan } => plan,
    }
}

fn escape_dot(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

fn escape_mermaid(text: &str) -> String {
    text.replace('"', "#quot;")
}

fn mermaid_id(plan: &str) -> String {
    let cleaned: String = plan
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("plan_{cleaned}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cycle_is_reported_with_its_steps() {
        let mut graph = DiGraph::new();
        let node = |plan: &str| Node::Gate { plan: plan.into() };
        let a = graph.add_node(node("a"));
        let b = graph.add_node(node("b"));
        let c = graph.add_node(node("c"));
        let d = graph.add_node(node("d"));
        graph.add_edge(d, a, Edge::Step);
        graph.add_edge(a, b, Edge::Step);
        graph.add_edge(b, c, Edge::Step);
        graph.add_edge(c, a, Edge::Step);
        assert_eq!(
            run_order(&graph).unwrap_err(),
            Cycle(vec!["a/gate".into(), "b/gate".into(), "c/gate".into()])
        );
    }

    #[test]
    fn ready_nodes_run_in_the_order_they_were_added() {
        let mut graph = DiGraph::new();
        let node = |plan: &str| Node::Gate { plan: plan.into() };
        let a = graph.add_node(node("a"));
        let b = graph.add_node(node("b"));
        let c = graph.add_node(node("c"));
        graph.add_edge(c, a, Edge::Step);
        assert_eq!(run_order(&graph).unwrap(), vec![b, c, a]);
    }
}
