//! `validate --database-url`: checks plans against the live catalog without changing
//! anything. Names a change needs exist (or are free), backfilled tables have a key,
//! set_not_null without fill meets no NULLs, nothing depends on what is renamed, retyped or
//! dropped; the role has the grants the statements need; notes say whether a type change
//! rewrites, how long each backfill should take, which plans the ledger already holds and
//! whether a pooler is in between.
//!
//! It only reads; the one exception is the timed sample batch, run in its own transaction
//! and rolled back.

mod dependents;
mod estimate;

use crate::error::Error;
use crate::ledger::{Ledger, Stage, UseCheck};
use crate::pg::conninfo::ConnInfo;
use crate::pg::facts::{Facts, SkippedChange};
use crate::pg::model::Model;
use crate::pg::{cast, catalog, connect, ddl, privileges, quote};
use crate::plan::allow;
use crate::plan::change::{refuses_incoming, Decision};
use crate::plan::check::Checker;
use crate::plan::diagnostic::{self, Code, Diagnostic};
use crate::plan::folder::PlanSet;
use crate::plan::live::{Probe, Walk};
use crate::plan::source::{FieldPath, SourceMap};
use crate::plan::step::{relation_uses, JobKind, Step};
use crate::plan::Plan;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use tokio_postgres::Client;

/// Every finding the live catalog gives about `set`'s plans, in run order. It only reads
/// (the one write, a sample batch, is rolled back), and sets nothing on the session: behind
/// a transaction pooler a session setting would land on another client's session.
pub async fn check(
    client: &mut Client,
    info: &ConnInfo,
    set: &PlanSet,
    state_schema: &str,
) -> Result<Vec<Diagnostic>, Error> {
    connect::server_version(client).await?;
    let pooled = connect::pooler(client, info).await?;
    let ledger_problem = privileges::ledger(&*client, state_schema).await?;
    let ledger = Ledger::new(state_schema, "validate".into());
    let recorded: HashMap<String, (String, Stage)> = if ledger.exists(&*client).await? {
        ledger
            .plans(&*client)
            .await?
            .into_iter()
            .map(|p| (p.id, (p.checksum, p.stage)))
            .collect()
    } else {
        HashMap::new()
    };
    let mut models: BTreeMap<String, Model> = BTreeMap::new();
    let mut findings = Vec::new();
    for plan in &set.plans {
        let source = SourceMap::build(&plan.text);
        let mut cx = Checker::new(&plan.file, &source);
        if let Some((checksum, stage)) = recorded.get(&plan.id) {
            ledger_state(plan, checksum, *stage, &mut cx);
            if *stage == Stage::Expanded && *checksum == plan.checksum {
                still_used(&*client, &ledger, plan, &mut cx).await?;
            }
        } else {
            let decided = conditions(&*client, plan, &mut cx).await?;
            let allowed = reach(
                &*client,
                plan,
                &decided,
                state_schema,
                &pooled,
                &ledger_problem,
                &mut cx,
            )
            .await?;
            partitioned_tables(&*client, plan, &decided, &mut cx).await?;
            let schema = plan.schema.as_str();
            if !models.contains_key(schema) {
                models.insert(schema.to_owned(), Model::read(&*client, schema).await?);
            }
            let model = models.get_mut(schema).expect("model was just read");
            let probes = walk(plan, &decided, state_schema, model, &mut cx);
            // Probes read the tables; without the grants they could only fail.
            if allowed {
                run_probes(client, plan, state_schema, probes, &mut cx).await?;
            }
        }
        let mut plan_findings = cx.diagnostics;
        allow::apply(&mut plan_findings, &plan.allows, None);
        findings.extend(plan_findings);
    }
    diagnostic::sort(&mut findings);
    Ok(findings)
}

fn at_of(plan: &Plan, index: usize) -> FieldPath {
    FieldPath::root()
        .key("changes")
        .index(index)
        .key(plan.changes[index].kind())
}

/// The changes written with `IF [NOT] EXISTS` that would not run, decided as `advance`
/// decides them at the plan's first run (as facts, which the steps are expanded with).
async fn conditions(client: &Client, plan: &Plan, cx: &mut Checker<'_>) -> Result<Facts, Error> {
    let mut decided = Facts::default();
    let schema = plan.schema.as_str();
    for (index, change) in plan.changes.iter().enumerate() {
        let Some(condition) = change.condition() else {
            continue;
        };
        let presence = catalog::presence(client, schema, condition.named()).await?;
        match condition.decide(presence, schema) {
            Decision::Runs => {}
            Decision::Skipped(why) => {
                let note = format!("skipped: {why}");
                cx.report_key(Code::Skipped, &at_of(plan, index), note, None);
                decided.skipped.push(SkippedChange { change: index, why });
            }
            Decision::Refused(why) => {
                cx.report_key(Code::AlreadyExists, &at_of(plan, index), why, None)
            }
        }
    }
    Ok(decided)
}

/// What each change does to a partitioned table, or why it cannot: the same verdict
/// `advance` reaches before its first statement.
async fn partitioned_tables(
    client: &Client,
    plan: &Plan,
    decided: &Facts,
    cx: &mut Checker<'_>,
) -> Result<(), Error> {
    for (index, change) in plan.changes.iter().enumerate() {
        let Some(table) = change.footprint().subject().cloned() else {
            continue;
        };
        if decided.is_skipped(index) {
            continue;
        }
        let partitioning =
            catalog::partitioning(client, plan.schema.as_str(), table.as_str()).await?;
        let at = at_of(plan, index);
        let mut verdict = change.on_partitioned(&partitioning);
        if verdict.is_ok() {
            // The column's objects decide too (a foreign key from a partitioned table): read
            // as `advance` reads them. A missing column is reported by the other checks.
            for need in change.catalog_columns().into_iter().filter(|n| n.moves) {
                let read = catalog::column_facts(
                    client,
                    plan.schema.as_str(),
                    need.table.as_str(),
                    need.column.as_str(),
                    false,
                )
                .await;
                if let Some(why) = read.ok().as_ref().and_then(refuses_incoming) {
                    verdict = Err(why);
                }
            }
        }
        match verdict {
            Ok(None) => {}
            Ok(Some(note)) => cx.report_key(Code::Partitioned, &at, note, None),
            Err(why) => cx.report_key(
                Code::PartitionedTable,
                &at,
                why,
                Some(
                    "run the change on each partition, or see `switchback validate --explain E709`"
                        .into(),
                ),
            ),
        }
    }
    Ok(())
}

/// What the connection and the role allow: the grants the plan's statements need, and a
/// pooler that would keep a CONCURRENTLY build from running without the role's timeout.
/// False when a table grant is missing.
async fn reach(
    client: &Client,
    plan: &Plan,
    decided: &Facts,
    state_schema: &str,
    pooled: &Option<String>,
    ledger_problem: &Option<String>,
    cx: &mut Checker<'_>,
) -> Result<bool, Error> {
    let root = FieldPath::root();
    let steps = plan.steps(state_schema, Some(decided)).steps;
    if let Some(problem) = ledger_problem {
        cx.report(Code::MissingPrivilege, &root, problem.clone(), None);
    }
    let mut problems = privileges::missing(client, &relation_uses(steps.iter())).await?;
    if steps.iter().any(Step::archives) {
        problems.extend(privileges::archive(client, crate::plan::archive::SCHEMA).await?);
    }
    let allowed = problems.is_empty();
    problems.extend(crate::ledger::record::problem(client, plan).await?);
    for problem in problems {
        cx.report(Code::MissingPrivilege, &root, problem, None);
    }
    if let Some(why) = pooled {
        let statements = steps
            .iter()
            .flat_map(|s| &s.statements)
            .map(|s| s.sql.as_str());
        match ddl::timeout_outside_transaction(client, statements).await? {
            Some((statement, timeout)) => cx.report(
                Code::PoolerTimeout,
                &root,
                format!("`{statement}` must run outside a transaction, and the role's statement_timeout ({timeout}) would cancel it; a pooler or proxy is in between ({why}), so no session setting can lift it"),
                Some("connect directly or through a session-mode pool, or ALTER ROLE ... SET statement_timeout = 0".into()),
            ),
            None => {
                let statements = steps
                    .iter()
                    .flat_map(|s| &s.statements)
                    .map(|s| s.sql.as_str());
                let workers =
                    ddl::index_workers_outside_transaction(client, statements, plan.index_workers)
                        .await?;
                let (message, help) = match workers {
                    Some(role) => (
                        format!("a pooler or proxy is in between ({why}); switchback keeps no session state through it, so its CREATE INDEX CONCURRENTLY builds get the role's max_parallel_maintenance_workers ({role}) instead of the plan's index_workers ({})", plan.index_workers),
                        Some(format!("ALTER ROLE ... SET max_parallel_maintenance_workers = {} to build as the plan says", plan.index_workers)),
                    ),
                    None => (
                        format!("a pooler or proxy is in between ({why}); switchback keeps no session state through it"),
                        None,
                    ),
                };
                cx.report(Code::Pooler, &root, message, help);
            }
        }
    }
    Ok(allowed)
}

/// For a plan at the gate: the statements pg_stat_statements shows using what its contract
/// removes, compared as `advance` compares them (without keeping a sample: validate only
/// reads).
async fn still_used(
    client: &Client,
    ledger: &Ledger,
    plan: &Plan,
    cx: &mut Checker<'_>,
) -> Result<(), Error> {
    let Some(row) = ledger.plan(client, &plan.id).await? else {
        return Ok(());
    };
    let check = ledger
        .statement_use(
            client,
            plan,
            &row.facts,
            crate::ledger::DEFAULT_UNUSED_FOR,
            crate::ledger::Sample::Peek,
        )
        .await?;
    let root = FieldPath::root();
    let usage = match check {
        None => return Ok(()),
        Some(UseCheck::Unchecked(why)) => {
            cx.report(Code::UseUnchecked, &root, why, None);
            return Ok(());
        }
        Some(UseCheck::Checked(usage)) => usage,
    };
    for statement in &usage.statements {
        cx.report(
            Code::StillUsed,
            &root,
            usage.describe(statement),
            Some("contract waits until none has run for a while, and refuses while one runs; deploy the application that no longer uses it".into()),
        );
    }
    if usage.hidden > 0 {
        cx.report(
            Code::UseUnchecked,
            &root,
            format!(
                "{} statement(s) of other roles could not be read (this role lacks pg_read_all_stats)",
                usage.hidden
            ),
            None,
        );
    }
    Ok(())
}

fn ledger_state(plan: &Plan, checksum: &str, stage: Stage, cx: &mut Checker) {
    let root = FieldPath::root();
    if checksum != plan.checksum {
        cx.report(
            Code::EditedAppliedPlan,
            &root,
            format!(
                "plan `{}` is {} in the ledger, and its file changed since it started",
                plan.id,
                stage.as_str()
            ),
            Some("restore the file as it was and put further changes in a new plan".into()),
        );
    } else {
        cx.report(
            Code::PlanState,
            &root,
            format!(
                "plan `{}` is {} in the ledger; its catalog checks are skipped",
                plan.id,
                stage.as_str()
            ),
            None,
        );
    }
}

/// A probe for a table's backfill: it must have a key, its duration is estimated, and what
/// its batches do about the table's own triggers is said.
struct Backfill {
    table: String,
    /// The columns its batches write.
    written: Vec<String>,
    at: FieldPath,
}

enum Work {
    Probe(Probe),
    Backfill(Backfill),
    /// Contract copies a column into the archive by the table's key: the key must exist.
    ArchiveKey {
        table: String,
        column: String,
        at: FieldPath,
    },
}

/// Checks names change by change, moving the model forward, and returns the slower probes.
fn walk(
    plan: &Plan,
    decided: &Facts,
    state_schema: &str,
    model: &mut Model,
    cx: &mut Checker,
) -> Vec<Work> {
    let at_of = |index: usize| at_of(plan, index);
    let live_before: BTreeSet<String> = model
        .tables
        .iter()
        .filter(|(_, t)| t.live)
        .map(|(n, _)| n.clone())
        .collect();
    let mut walk = Walk {
        model,
        cx,
        schema: plan.schema.as_str(),
        opaque: BTreeSet::new(),
        probes: Vec::new(),
        missing: BTreeSet::new(),
    };
    for (index, change) in plan.changes.iter().enumerate() {
        if !decided.is_skipped(index) {
            change.check_live(&mut walk, &at_of(index));
        }
    }
    let mut work: Vec<Work> = walk.probes.drain(..).map(Work::Probe).collect();
    let steps = plan.steps(state_schema, Some(decided));
    let mut seen = BTreeSet::new();
    for step in &steps.steps {
        if let (Some(job), Some(&first)) = (step.job.as_ref(), step.changes.first()) {
            if let (JobKind::Archive, Some(copy)) = (job.kind, &job.copy) {
                if live_before.contains(&job.table) && !walk.opaque.contains(&job.table) {
                    work.push(Work::ArchiveKey {
                        table: job.table.clone(),
                        column: copy.column.clone(),
                        at: at_of(first).key("table"),
                    });
                }
            }
        }
        // The estimate times a backfill's UPDATE; an archive copy is not one.
        let (Some(job), Some(&first)) = (
            step.job.as_ref().filter(|j| j.kind == JobKind::Backfill),
            step.changes.first(),
        ) else {
            continue;
        };
        if live_before.contains(&job.table)
            && !walk.opaque.contains(&job.table)
            && seen.insert(job.table.clone())
        {
            work.push(Work::Backfill(Backfill {
                table: job.table.clone(),
                written: job.written(),
                at: at_of(first).key("table"),
            }));
        }
    }
    work
}

async fn run_probes(
    client: &mut Client,
    plan: &Plan,
    state_schema: &str,
    work: Vec<Work>,
    cx: &mut Checker<'_>,
) -> Result<(), Error> {
    let schema = plan.schema.as_str();
    for item in work {
        match item {
            Work::Probe(Probe::Nulls { table, column, at }) => {
                let relation = quote::qualified(schema, &table);
                let (count, exact) = estimate::nulls(client, &relation, &column).await?;
                if count > 0 {
                    let how = if exact { "" } else { "about " };
                    cx.report(Code::NullsPresent, &at, format!("column `{column}` of `{table}` holds {how}{count} NULL{} now; VALIDATE would fail at the end of expand", if count == 1 { "" } else { "s" }), Some("add `fill:` with the value they should get".into()));
                }
            }
            Work::Probe(Probe::TypeChange {
                table,
                column,
                new_type,
                at,
            }) => {
                let change =
                    cast::type_change(&*client, schema, &table, &column, &new_type).await?;
                let what = if change.rewrites {
                    "needs a rewrite: a shadow column, kept in sync by a trigger and backfilled in batches"
                } else {
                    "needs no rewrite: done in place under a short lock"
                };
                cx.report(
                    Code::Rewrite,
                    &at,
                    format!(
                        "`{table}`.`{column}` from {} to {} {what} ({})",
                        change.from, change.to, change.reason
                    ),
                    None,
                );
            }
            Work::Probe(Probe::Dependents {
                table,
                column,
                how,
                at,
            }) => {
                let what = match &column {
                    Some(c) => format!("column `{c}` of `{table}`"),
                    None => format!("table `{table}`"),
                };
                let objects = dependents::objects(
                    &*client,
                    schema,
                    &table,
                    column.as_deref(),
                    how == "dropped",
                )
                .await?;
                if !objects.is_empty() {
                    cx.report(
                        Code::DependentObjects,
                        &at,
                        format!(
                            "{what} is {how} by this plan, but {} depend{} on it: {}",
                            plural(objects.len(), "object"),
                            if objects.len() == 1 { "s" } else { "" },
                            objects.join(", ")
                        ),
                        Some("change or drop them in an earlier plan".into()),
                    );
                }
                let functions =
                    dependents::functions(&*client, state_schema, &table, column.as_deref())
                        .await?;
                if !functions.is_empty() {
                    cx.report(
                        Code::FunctionMentions,
                        &at,
                        format!(
                            "{what} is {how} by this plan, and the body of {} mentions it: {}",
                            plural(functions.len(), "function"),
                            functions.join(", ")
                        ),
                        Some(
                            "read them; update them first if they use the old name or type".into(),
                        ),
                    );
                }
            }
            Work::ArchiveKey { table, column, at } => {
                if let Err(Error::Refused(_)) =
                    crate::pg::catalog::table_key(&*client, schema, &table).await
                {
                    cx.report(Code::NoBackfillKey, &at, format!("contract would copy `{table}`.`{column}` into the archive by the table's key, and `{table}` has no primary key and no unique index over NOT NULL columns"), Some("add one (add_unique over NOT NULL columns) in an earlier plan, or write `archive: false` on the change to drop it for good".into()));
                }
            }
            Work::Backfill(Backfill { table, written, at }) => {
                let key = match crate::pg::catalog::table_key(&*client, schema, &table).await {
                    Err(Error::Refused(_)) => {
                        cx.report(Code::NoBackfillKey, &at, format!("`{table}` has no primary key and no unique index over NOT NULL columns, so its backfill cannot page through it by key"), Some("add a primary key or add_unique over NOT NULL columns in an earlier plan".into()));
                        continue;
                    }
                    key => key?,
                };
                let e = estimate::backfill(client, schema, &key, &plan.backfill, plan.lock_timeout)
                    .await?;
                let sessions = match plan.backfill.workers {
                    1 => String::new(),
                    n => format!(" with {n} sessions side by side, each given a core"),
                };
                cx.report(
                    Code::BackfillEstimate,
                    &at,
                    format!(
                        "`{table}` has about {} rows; a sample batch updated {} in {}, so the backfill should take about {}{sessions}",
                        e.rows,
                        e.sample_rows,
                        rough(e.sample_time),
                        rough(e.total)
                    ),
                    None,
                );
                let relation = quote::qualified(schema, &table);
                let hooks = crate::pg::hooks::for_batches(client, &relation, &written).await?;
                let always = match hooks.fired.as_slice() {
                    [] => String::new(),
                    fired => format!("; {} (ENABLE ALWAYS) fire on every row", fired.join(", ")),
                };
                match &hooks.why {
                    None if !hooks.skipped.is_empty() => cx.report(Code::TriggersLeftOut, &at, format!("the backfill's batches leave out `{table}`'s {}: they fire for the application's writes, not for the rows the backfill fills{always}", hooks.skipped.join(", ")), None),
                    None => {}
                    Some(why) => cx.report(Code::TriggersFired, &at, format!("the backfill's batches fire `{table}`'s {} on every row they write: {why}", hooks.fired.join(", ")), None),
                }
            }
        }
    }
    Ok(())
}

/// `850ms`, `4.5s`, `12m30s`: an estimate's precision, not a timer's.
fn rough(d: std::time::Duration) -> String {
    let seconds = d.as_secs_f64();
    if seconds < 1.0 {
        format!("{}ms", d.as_millis())
    } else if seconds < 60.0 {
        format!("{seconds:.1}s")
    } else {
        let whole = seconds.round() as u64;
        format!("{}m{:02}s", whole / 60, whole % 60)
    }
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}
