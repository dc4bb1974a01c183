//! Plans as text (both stages, the gate between them, every step with its SQL and locks),
//! JSON (a documented, stable shape) and a reviewable SQL script.

use crate::graph::StepGraph;
use crate::plan::duration;
use crate::plan::sql::Work;
use crate::plan::step::{Stage, Step};
use crate::plan::{BackfillSettings, Plan};
use crate::render::Style;
use serde::Serialize;

const GATE: &str =
    "gate: deploy the application that uses the new shape, then run `switchback advance` again";

fn work_text(work: Work) -> &'static str {
    match work {
        Work::Instant => "catalog only",
        Work::Scan => "scans the table",
        Work::Rewrite => "rewrites the table",
        Work::Batched => "in short batches",
    }
}

/// ", 3 sessions side by side" when the plan's `backfill.workers` runs the step's job.
fn side_by_side(step: &Step, backfill: &BackfillSettings) -> String {
    match step
        .job
        .as_ref()
        .map_or(1, |job| job.sessions(backfill.workers))
    {
        1 => String::new(),
        n => format!(", {n} sessions side by side"),
    }
}

fn steps_of<'g>(
    graph: &'g StepGraph,
    plan: &'g Plan,
    stage: Stage,
) -> impl Iterator<Item = &'g Step> {
    graph
        .steps()
        .filter(move |s| s.plan == plan.id && s.stage == stage)
}

pub fn text(plans: &[Plan], graph: &StepGraph, style: Style) -> String {
    let mut out = String::new();
    for (i, plan) in plans.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&style.bold(&format!("plan {}", plan.id)));
        if let Some(description) = &plan.description {
            out.push_str(&format!(" — {description}"));
        }
        out.push('\n');
        let mut facts = vec![
            format!("schema {}", plan.schema.quoted()),
            format!("lock_timeout {}", duration::format(plan.lock_timeout)),
        ];
        if plan.index_workers != crate::plan::DEFAULT_INDEX_WORKERS {
            facts.push(format!("index_workers {}", plan.index_workers));
        }
        if !plan.depends_on.is_empty() {
            facts.push(format!(
                "after {}",
                plan.depends_on
                    .iter()
                    .map(|d| d.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        out.push_str(&style.dim(&format!("  {}\n", facts.join(" · "))));
        let mut number = 0;
        for stage in [Stage::Expand, Stage::Contract] {
            let steps: Vec<&Step> = steps_of(graph, plan, stage).collect();
            if stage == Stage::Contract {
                out.push_str(&format!("\n{}\n", style.yellow(&format!("── {GATE} ──"))));
            }
            let heading = match stage {
                Stage::Expand => "expand stage (deploy N: the old application keeps working)",
                Stage::Contract => "contract stage (deploy N+1: removes the old shape)",
            };
            out.push_str(&format!("\n{}\n", style.bold(heading)));
            if steps.is_empty() {
                out.push_str("  (nothing to do)\n");
            }
            for step in steps {
                number += 1;
                step_text(&mut out, number, step, plan, style);
            }
        }
    }
    out
}

fn step_text(out: &mut String, number: usize, step: &Step, plan: &Plan, style: Style) {
    let backfill = &plan.backfill;
    let changes = step
        .changes
        .iter()
        .map(|c| format!("changes[{c}]"))
        .collect::<Vec<_>>()
        .join(", ");
    out.push_str(&format!(
        "  {:>2}. {} {}\n",
        number,
        style.bold(&format!("[{}] {}", step.phase, step.title)),
        style.dim(&format!("({changes})"))
    ));
    for &c in &step.changes {
        if let Some(condition) = plan.changes[c].condition() {
            let when = condition.describe();
            out.push_str(&style.dim(&format!("      changes[{c}] runs {when}\n")));
        }
    }
    if !step.transactional {
        let why = if step.statements.iter().any(|s| s.work == Work::Batched) {
            format!(
                "runs in batches of {} rows (adapting to {} a batch), each its own transaction{}",
                backfill.batch_size,
                duration::format(backfill.target_batch_time),
                side_by_side(step, backfill)
            )
        } else {
            "runs outside a transaction; a re-run checks the catalog first".to_owned()
        };
        out.push_str(&style.dim(&format!("      {why}\n")));
    }
    for statement in &step.statements {
        if let Some(when) = &statement.when {
            out.push_str(&style.dim(&format!("      when {when}:\n")));
        }
        if let Some(index) = &statement.builds_index {
            out.push_str(&style.dim(&format!(
                "      (a re-run skips a valid {index} and rebuilds an INVALID leftover)\n"
            )));
        }
        if let Some(index) = &statement.drops_index {
            out.push_str(&style.dim(&format!("      (a re-run skips it once {index} is gone)\n")));
        }
        for line in statement.sql.lines() {
            out.push_str(&format!("      {}\n", style.cyan(line)));
        }
        if let Some(table) = crate::plan::sql::reshapes_rows(&statement.sql) {
            out.push_str(&style.dim(&format!(
                "        rows of {table} change shape: prepared `SELECT *` / `RETURNING *` on it fail in psycopg 3 and named node-postgres statements until prepared again (docs/drivers.md)\n"
            )));
        }
        for lock in &statement.locks {
            let blocks = format!("blocks {}", lock.mode.blocks());
            let blocks = if lock.mode.blocks_writes() {
                style.red(&blocks)
            } else {
                blocks
            };
            out.push_str(&format!(
                "        {} {} on {} · {} · {}\n",
                style.dim("lock"),
                lock.mode,
                lock.relation,
                work_text(statement.work),
                blocks
            ));
        }
    }
}

#[derive(Serialize)]
struct JsonPlans<'a> {
    version: u32,
    plans: Vec<JsonPlan<'a>>,
}

#[derive(Serialize)]
struct JsonPlan<'a> {
    id: &'a str,
    file: String,
    description: Option<&'a str>,
    schema: &'a str,
    checksum: &'a str,
    depends_on: Vec<&'a str>,
    lock_timeout: String,
    index_workers: u32,
    backfill: &'a BackfillSettings,
    changes: Vec<JsonChange>,
    steps: Vec<JsonStep<'a>>,
}

#[derive(Serialize)]
struct JsonChange {
    index: usize,
    kind: &'static str,
    /// When a change written with `if_exists` / `if_not_exists` runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    runs: Option<String>,
}

#[derive(Serialize)]
struct JsonStep<'a> {
    #[serde(flatten)]
    step: &'a Step,
    /// Ids of the steps, gates (`plan/gate`) and plans (`plan/done`) this step waits for.
    after: Vec<String>,
}

pub fn json(plans: &[Plan], graph: &StepGraph) -> String {
    let plans = plans
        .iter()
        .map(|plan| JsonPlan {
            id: &plan.id,
            file: plan.file.display().to_string(),
            description: plan.description.as_deref(),
            schema: plan.schema.as_str(),
            checksum: &plan.checksum,
            depends_on: plan.depends_on.iter().map(|d| d.id.as_str()).collect(),
            lock_timeout: duration::format(plan.lock_timeout),
            index_workers: plan.index_workers,
            backfill: &plan.backfill,
            changes: plan
                .changes
                .iter()
                .enumerate()
                .map(|(index, c)| JsonChange {
                    index,
                    kind: c.kind(),
                    runs: c.condition().map(|k| k.describe()),
                })
                .collect(),
            steps: graph
                .order
                .iter()
                .filter_map(|&n| match &graph.graph[n] {
                    crate::graph::Node::Step(step) if step.plan == plan.id => Some(JsonStep {
                        step,
                        after: graph.predecessors(n),
                    }),
                    _ => None,
                })
                .collect(),
        })
        .collect();
    let mut out = serde_json::to_string_pretty(&JsonPlans { version: 1, plans })
        .expect("plans serialize to JSON");
    out.push('\n');
    out
}

pub fn sql(plans: &[Plan], graph: &StepGraph) -> String {
    let mut out = String::from(
        "-- Generated by switchback for review; run it with `switchback advance`, which adds\n\
         -- retries, checkpoints and batching. <Angle brackets> are read from the catalog at\n\
         -- run time; a statement under `-- when ...` runs only when that holds.\n",
    );
    for plan in plans {
        out.push_str(&format!("\n-- ==== plan {} ====\n", plan.id));
        if let Some(description) = &plan.description {
            out.push_str(&format!("-- {description}\n"));
        }
        for stage in [Stage::Expand, Stage::Contract] {
            if stage == Stage::Contract {
                out.push_str(&format!("\n-- ---- {GATE} ----\n"));
            }
            out.push_str(&format!("\n-- ---- {} stage ----\n", stage.as_str()));
            for step in steps_of(graph, plan, stage) {
                out.push_str(&format!("\n-- step {}: {}\n", step.id, step.title));
                if step.transactional {
                    out.push_str(&format!(
                        "BEGIN;\nSET LOCAL lock_timeout = '{}';\n",
                        duration::format(plan.lock_timeout)
                    ));
                } else if step.statements.iter().any(|s| s.work == Work::Batched) {
                    out.push_str(&format!(
                        "-- in batches of {} rows, each its own transaction{}:\n",
                        plan.backfill.batch_size,
                        side_by_side(step, &plan.backfill)
                    ));
                } else {
                    out.push_str("-- outside a transaction:\n");
                    if step.statements.iter().any(|s| s.builds_index.is_some()) {
                        out.push_str(&format!(
                            "SET max_parallel_maintenance_workers = {};\n",
                            plan.index_workers
                        ));
                    }
                }
                for statement in &step.statements {
                    if let Some(when) = &statement.when {
                        out.push_str(&format!("-- when {when}:\n"));
                    }
                    out.push_str(&format!("{};\n", statement.sql));
                }
                if step.transactional {
                    out.push_str("COMMIT;\n");
                }
            }
        }
    }
    out
}
