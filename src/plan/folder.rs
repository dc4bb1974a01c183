//! Plans together: the files named on the command line (folders read in file-name order),
//! checks across them (unique ids, `depends_on` names a plan that exists, no cycles) and the
//! order they run in.

use crate::error::Error;
use crate::plan::check::did_you_mean;
use crate::plan::diagnostic::{self, Code, Diagnostic};
use crate::plan::{load_file, Plan};
use petgraph::algo::tarjan_scc;
use petgraph::graph::DiGraph;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// Every plan that checked clean, in run order, and every finding.
#[derive(Debug, Default)]
pub struct PlanSet {
    pub plans: Vec<Plan>,
    pub diagnostics: Vec<Diagnostic>,
    /// Plan files read, valid or not.
    pub files: usize,
}

impl PlanSet {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// The plan files a path names: itself, or the `.yaml`/`.yml` files directly in a folder.
pub fn plan_files(path: &Path) -> Result<Vec<PathBuf>, Error> {
    let read_error = |source| Error::Read {
        path: path.to_path_buf(),
        source,
    };
    if !std::fs::metadata(path).map_err(read_error)?.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).map_err(read_error)? {
        let file = entry.map_err(read_error)?.path();
        let is_plan = matches!(
            file.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        );
        if is_plan && file.is_file() {
            files.push(file);
        }
    }
    if files.is_empty() {
        return Err(Error::NoPlans(path.to_path_buf()));
    }
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok(files)
}

/// Loads and checks every plan under `paths`.
pub fn load(paths: &[PathBuf]) -> Result<PlanSet, Error> {
    let mut set = PlanSet::default();
    let mut ids: HashMap<String, PathBuf> = HashMap::new();
    for path in paths {
        for file in plan_files(path)? {
            set.files += 1;
            let (plan, mut findings) = load_file(&file)?;
            let id = file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            if let Some(first) = ids.get(&id) {
                findings.push(file_finding(
                    &file,
                    Code::DuplicatePlanId,
                    format!("plan id `{id}` is also the id of {}", first.display()),
                ));
                set.diagnostics.extend(findings);
                continue;
            }
            ids.insert(id, file.clone());
            set.diagnostics.extend(findings);
            set.plans.extend(plan);
        }
    }
    let mut known: BTreeSet<String> = ids.keys().cloned().collect();
    for path in paths.iter().filter(|p| !p.is_dir()) {
        let folder = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        // Plans beside a file given alone may be named in its depends_on without being given.
        if let Ok(files) = plan_files(folder) {
            known.extend(
                files
                    .iter()
                    .filter_map(|f| f.file_stem())
                    .map(|s| s.to_string_lossy().into_owned()),
            );
        }
    }
    check_dependencies(&mut set, &known);
    order(&mut set);
    diagnostic::sort(&mut set.diagnostics);
    Ok(set)
}

fn file_finding(file: &Path, code: Code, message: String) -> Diagnostic {
    Diagnostic {
        code,
        severity: code.severity(),
        file: file.to_path_buf(),
        position: None,
        field: String::new(),
        message,
        help: None,
    }
}

fn check_dependencies(set: &mut PlanSet, ids: &BTreeSet<String>) {
    let known: Vec<&str> = ids.iter().map(String::as_str).collect();
    let mut unknown = BTreeSet::new();
    for plan in &set.plans {
        for dependency in &plan.depends_on {
            if !ids.contains(&dependency.id) {
                set.diagnostics.push(Diagnostic {
                    code: Code::UnknownDependency,
                    severity: Code::UnknownDependency.severity(),
                    file: plan.file.clone(),
                    position: dependency.position,
                    field: dependency.field.clone(),
                    message: format!(
                        "`depends_on` names `{}`, which is not among the plans given",
                        dependency.id
                    ),
                    help: did_you_mean(&dependency.id, &known),
                });
                unknown.insert(plan.id.clone());
            } else if dependency.id == plan.id {
                set.diagnostics.push(Diagnostic {
                    code: Code::DependencyCycle,
                    severity: Code::DependencyCycle.severity(),
                    file: plan.file.clone(),
                    position: dependency.position,
                    field: dependency.field.clone(),
                    message: "a plan cannot depend on itself".into(),
                    help: None,
                });
                unknown.insert(plan.id.clone());
            }
        }
    }
    // A plan with a broken dependency cannot run; leaving it in would only add noise below.
    set.plans.retain(|p| !unknown.contains(&p.id));

    let mut graph = DiGraph::<usize, ()>::new();
    let nodes: Vec<_> = (0..set.plans.len()).map(|i| graph.add_node(i)).collect();
    let index: HashMap<&str, usize> = set
        .plans
        .iter()
        .enumerate()
        .map(|(i, p)| (p.id.as_str(), i))
        .collect();
    for (i, plan) in set.plans.iter().enumerate() {
        for dependency in &plan.depends_on {
            if let Some(&d) = index.get(dependency.id.as_str()) {
                graph.add_edge(nodes[d], nodes[i], ());
            }
        }
    }
    let mut in_cycles = BTreeSet::new();
    for component in tarjan_scc(&graph) {
        if component.len() < 2 {
            continue;
        }
        let mut members: Vec<usize> = component.iter().map(|n| graph[*n]).collect();
        members.sort_unstable();
        let names: Vec<&str> = members.iter().map(|&i| set.plans[i].id.as_str()).collect();
        let first = &set.plans[members[0]];
        set.diagnostics.push(file_finding(
            &first.file,
            Code::DependencyCycle,
            format!(
                "plans depend on each other in a cycle: {} -> {}",
                names.join(" -> "),
                names[0]
            ),
        ));
        in_cycles.extend(members.iter().map(|&i| set.plans[i].id.clone()));
    }
    set.plans.retain(|p| !in_cycles.contains(&p.id));
}

/// Puts the plans in run order: file-name order, except that a plan runs after the plans it
/// depends on.
fn order(set: &mut PlanSet) {
    let mut remaining: Vec<Plan> = std::mem::take(&mut set.plans);
    remaining.sort_by(|a, b| a.file.file_name().cmp(&b.file.file_name()));
    let mut ordered: Vec<Plan> = Vec::with_capacity(remaining.len());
    while !remaining.is_empty() {
        let ready = remaining
            .iter()
            .position(|p| {
                p.depends_on.iter().all(|d| {
                    ordered.iter().any(|o| o.id == d.id) || !remaining.iter().any(|r| r.id == d.id)
                })
            })
            .unwrap_or(0);
        ordered.push(remaining.remove(ready));
    }
    set.plans = ordered;
}
