//! `switchback plan PLAN...`: what the plans will do, before anything runs.

use crate::cli::{
    load_plans, stderr_style, stdout_style, write_stderr, write_stdout, Failure, Outcome,
};
use std::path::PathBuf;
use switchback::plan::diagnostic::{Code, Diagnostic};
use switchback::render::{diagnostics, plan as render};

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Sql,
    Dot,
    Mermaid,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Plan files or folders of plans.
    #[arg(required = true, value_name = "PLAN")]
    plans: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

pub fn run(args: Args, state_schema: &str) -> Result<Outcome, Failure> {
    let Some(set) = load_plans(&args.plans)? else {
        return Ok(Outcome::Failed);
    };
    let graph = match switchback::graph::build(&set.plans, state_schema) {
        Ok(graph) => graph,
        Err(cycle) => {
            let finding = cycle_finding(&cycle);
            write_stderr(&diagnostics::text(
                &[finding],
                diagnostics::Files::plans(set.files),
                stderr_style(),
            ));
            return Ok(Outcome::Failed);
        }
    };
    let output = match args.format {
        Format::Text => render::text(&set.plans, &graph, stdout_style()),
        Format::Json => render::json(&set.plans, &graph),
        Format::Sql => render::sql(&set.plans, &graph),
        Format::Dot => graph.to_dot(),
        Format::Mermaid => graph.to_mermaid(),
    };
    write_stdout(&output)?;
    Ok(Outcome::Done)
}

pub fn cycle_finding(cycle: &switchback::graph::Cycle) -> Diagnostic {
    let plan = cycle
        .0
        .first()
        .and_then(|id| id.split('/').next())
        .unwrap_or_default();
    Diagnostic {
        code: Code::StepCycle,
        severity: Code::StepCycle.severity(),
        file: PathBuf::from(plan),
        position: None,
        field: String::new(),
        message: format!(
            "steps wait for each other in a cycle: {}",
            cycle.0.join(", ")
        ),
        help: Some(
            "split the plan so that what one change needs is complete before it starts".into(),
        ),
    }
}
