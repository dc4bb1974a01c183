//! The planner's workbench. Each change adds its own steps here and contributes to the work
//! it shares with the plan's other changes on the same table: ONE dual-write trigger and ONE
//! backfill pass per (plan, table). `finish` turns it all into steps and the edges between
//! them.

use crate::pg::facts::{ColumnFacts, Facts, Partition, TableKey};
use crate::pg::lock::LockMode;
use crate::pg::quote::{self, object_name};
use crate::plan::archive::{self, Archive};
use crate::plan::check::Ident;
use crate::plan::sql::Work;
use crate::plan::step::{
    ArchiveCopy, Archived, ArchivedKind, Assignment, Job, JobKind, Phase, Stage, Step,
};
use crate::plan::Plan;
use sql::{columns_list, trigger_function, BATCH_RANGE};

mod sql;

pub(crate) use sql::{backfill_filters, backfill_update, verify_predicate};

impl Plan {
    /// The plan's steps and the edges between them. `state_schema` holds switchback's own
    /// objects (trigger functions); `facts` turn catalog placeholders into concrete SQL.
    pub fn steps(&self, state_schema: &str, facts: Option<&Facts>) -> PlanSteps {
        let mut x = Expansion::new(self, state_schema, facts);
        for (index, change) in self.changes.iter().enumerate() {
            if facts.is_some_and(|f| f.is_skipped(index)) {
                continue;
            }
            x.set_current(index);
            change.expand(&mut x);
        }
        x.finish(&self.change_dependencies)
    }
}

/// How the dual-write trigger keeps one column in step for one change.
#[derive(Debug, Clone)]
pub enum SyncRule {
    /// Two columns holding one value in two shapes (rename_column, change_type). `up` and
    /// `down` are already written over `NEW`.
    Pair {
        old: Ident,
        new: Ident,
        up: String,
        down: String,
        /// Supplied when an INSERT leaves both columns NULL (neither carries a DEFAULT while
        /// the pair exists).
        default: Option<String>,
    },
    /// A new column computed from the others unless the writer sets it (add_column).
    Computed { column: Ident, value: String },
    /// A value put in place of NULL writes (set_not_null's fill).
    Fill { column: Ident, value: String },
    /// A value put in place of one that would break a check (add_check's fill).
    CheckFill {
        check: String,
        column: Ident,
        value: String,
    },
}

struct TableWork {
    table: Ident,
    sync: Vec<(usize, SyncRule)>,
    backfill: Vec<(usize, Assignment)>,
}

/// The steps of one plan and the edges between them (indices into `steps`, from -> to).
#[derive(Debug, Clone)]
pub struct PlanSteps {
    pub steps: Vec<Step>,
    pub edges: Vec<(usize, usize)>,
}

pub struct Expansion<'p> {
    pub plan: &'p Plan,
    state_schema: &'p str,
    /// What the catalog said when the plan first ran; None when planning offline.
    facts: Option<&'p Facts>,
    current: usize,
    own: Vec<(usize, Step)>,
    tables: Vec<TableWork>,
}

// Where a step sorts inside its phase when chaining one change's steps.
const FIRST: u8 = 0;
const MIDDLE: u8 = 1;
const LAST: u8 = 2;

impl<'p> Expansion<'p> {
    pub fn new(plan: &'p Plan, state_schema: &'p str, facts: Option<&'p Facts>) -> Self {
        Expansion {
            plan,
            state_schema,
            facts,
            current: 0,
            own: Vec::new(),
            tables: Vec::new(),
        }
    }

    /// The quoted, schema-qualified name of a table of this plan.
    pub fn table(&self, table: &Ident) -> String {
        quote::qualified(self.plan.schema.as_str(), table.as_str())
    }

    /// Adds a step of the current change; `name` is unique within the change.
    pub fn step(
        &mut self,
        name: &str,
        phase: Phase,
        title: String,
        table: Option<&Ident>,
    ) -> &mut Step {
        let mut step = Step::new(
            &self.plan.id,
            format!("{}.{name}", self.current),
            title,
            phase,
        );
        step.table = table.map(|t| t.to_string());
        step.changes = vec![self.current];
        self.own.push((self.current, step));
        &mut self.own.last_mut().expect("just pushed").1
    }

    pub fn sync(&mut self, table: &Ident, rule: SyncRule) {
        let current = self.current;
        self.table_work(table).sync.push((current, rule));
    }

    pub fn backfill(&mut self, table: &Ident, assignment: Assignment) {
        let current = self.current;
        self.table_work(table).backfill.push((current, assignment));
    }

    /// The catalog's facts about a column, when planning against a database.
    pub fn column_facts(&self, table: &Ident, column: &Ident) -> Option<&'p ColumnFacts> {
        self.facts
            .and_then(|f| f.column(table.as_str(), column.as_str()))
    }

    pub fn cast_facts(
        &self,
        table: &Ident,
        column: &Ident,
    ) -> Option<&'p crate::pg::facts::CastFacts> {
        self.facts
            .and_then(|f| f.cast(table.as_str(), column.as_str()))
    }

    /// The partitions of `table` when it is partitioned, when planning against a database.
    pub fn partitions(&self, table: &Ident) -> Option<&'p [Partition]> {
        self.facts.and_then(|f| f.partitions(table.as_str()))
    }

    /// Whether the plan is being expanded against catalog facts.
    pub fn has_facts(&self) -> bool {
        self.facts.is_some()
    }

    pub fn schema(&self) -> &str {
        self.plan.schema.as_str()
    }

    /// Whether contract keeps what a change removes: its own `archive:` over the plan's.
    pub fn archive(&self, own: Option<Archive>) -> Archive {
        Archive::over(own, self.plan.archive)
    }

    /// The name, in the archive schema, of what this plan's contract keeps of `parts`
    /// (a table, or a table and column): unique per plan.
    pub fn archived_name(&self, parts: &[&str]) -> String {
        let mut parts = parts.to_vec();
        parts.push(&self.plan.id);
        object_name(&parts)
    }

    /// Adds the contract step that copies `column` of `table` with the table's key into the
    /// archive (batched, walking the key), `beside` it another column and, when `only` is
    /// given, only the rows it holds for; returns what the step that removes the column
    /// records, with its definition.
    pub fn archive_column(
        &mut self,
        table: &Ident,
        column: &Ident,
        keep: std::time::Duration,
        beside: Option<&Ident>,
        only: Option<String>,
        title: String,
    ) -> Archived {
        let relation = self.table(table);
        let into = quote::qualified(
            archive::SCHEMA,
            &self.archived_name(&[table.as_str(), column.as_str()]),
        );
        let copy = ArchiveCopy {
            archive: into.clone(),
            column: column.to_string(),
            beside: beside.map(Ident::to_string),
            only,
        };
        let filter = copy
            .only
            .as_ref()
            .map(|only| format!(" AND {only}"))
            .unwrap_or_default();
        let columns = std::iter::once(column)
            .chain(beside)
            .map(Ident::quoted)
            .collect::<Vec<_>>()
            .join(", ");
        let key = self.table_key(table);
        let step = self
            .step("archive", Phase::Contract, format!("{title} into {into}"), Some(table))
            .outside_transaction()
            .sql(
                format!("INSERT INTO {into} SELECT <key>, {columns} FROM {relation} WHERE <key range>{filter}"),
                LockMode::AccessShare,
                &relation,
                Work::Batched,
            )
            .nothing_to_undo();
        step.job = Some(Job {
            kind: JobKind::Archive,
            table: table.to_string(),
            relation: relation.clone(),
            assignments: Vec::new(),
            key,
            copy: Some(copy),
        });
        Archived {
            change: self.current,
            kind: ArchivedKind::Column,
            object: format!("{}.{}.{}", self.schema(), table, column),
            kept_in: into,
            keep,
            definition_sql: crate::pg::archive::column_definition(&relation, column.as_str()),
        }
    }

    /// The key a batched pass over `table` walks, when planning against a database (read
    /// once, at the plan's first run, for every table with a job).
    pub fn table_key(&self, table: &Ident) -> Option<TableKey> {
        self.facts.and_then(|f| f.key(table.as_str())).cloned()
    }

    /// A deterministic name for a helper object (constraint, index, column) of this plan.
    pub fn helper_name(&self, kind: &str, table: &Ident, column: &Ident) -> String {
        object_name(&["sb", kind, table.as_str(), column.as_str()])
    }

    fn table_work(&mut self, table: &Ident) -> &mut TableWork {
        let at = match self.tables.iter().position(|t| &t.table == table) {
            Some(at) => at,
            None => {
                self.tables.push(TableWork {
                    table: table.clone(),
                    sync: Vec::new(),
                    backfill: Vec::new(),
                });
                self.tables.len() - 1
            }
        };
        &mut self.tables[at]
    }

    /// The index of the change being expanded.
    pub fn current_change(&self) -> usize {
        self.current
    }

    pub(crate) fn set_current(&mut self, change: usize) {
        self.current = change;
    }

    /// Builds the shared steps and links every change's steps in phase order.
    pub fn finish(self, dependencies: &[(usize, usize)]) -> PlanSteps {
        let change_count = self.plan.changes.len();
        // (step, rank within its change's chain, the changes it serves)
        let mut ranked: Vec<(Step, u8)> = Vec::new();
        for (_, step) in self.own {
            // A change's own sync-phase steps come after the table's trigger is installed;
            // a contract's archive copy comes before the trigger's drop, while the column
            // it copies is still there.
            let rank = match step.phase {
                Phase::Contract if step.job.is_some() => FIRST,
                Phase::Contract => MIDDLE,
                Phase::Sync => LAST,
                _ => FIRST,
            };
            ranked.push((step, rank));
        }
        for work in &self.tables {
            let key = self.facts.and_then(|f| f.key(work.table.as_str()));
            let mut shared = shared_steps(self.plan, self.state_schema, work, key);
            absorb_trigger_contracts(&mut shared, &mut ranked, work, self.plan.schema.as_str());
            ranked.extend(shared);
        }
        let steps: Vec<Step> = ranked.iter().map(|(s, _)| s.clone()).collect();

        let mut edges = Vec::new();
        let mut chains: Vec<Vec<usize>> = vec![Vec::new(); change_count];
        for (index, (step, _)) in ranked.iter().enumerate() {
            for &change in &step.changes {
                chains[change].push(index);
            }
        }
        for chain in &mut chains {
            chain.sort_by_key(|&i| (ranked[i].0.phase, ranked[i].1, i));
            for pair in chain.windows(2) {
                let (a, b) = (&steps[pair[0]], &steps[pair[1]]);
                if a.stage == b.stage {
                    edges.push((pair[0], pair[1]));
                }
            }
        }
        // A change waits until what it uses is complete: created, backfilled and verified.
        // (Sharing that backfill instead is refused earlier, as E301.)
        for &(later, earlier) in dependencies {
            let first_later = chains[later].first();
            let last_earlier = chains[earlier]
                .iter()
                .rev()
                .find(|&&i| steps[i].stage == Stage::Expand);
            if let (Some(&to), Some(&from)) = (first_later, last_earlier) {
                if steps[to].stage == Stage::Expand {
                    edges.push((from, to));
                }
            }
        }
        edges.sort_unstable();
        edges.dedup();
        PlanSteps { steps, edges }
    }
}

/// Moves the contract steps of the changes whose column the trigger keeps (rename_column and
/// change_type's pairs, add_column's computed column) into the step that drops the table's
/// trigger, so the trigger and what replaces it go in one transaction. Apart, the new
/// application's writes in between would reach only one column of a pair (a NOT NULL old
/// column would reject them, and a shadow about to be renamed into place would miss them),
/// and an INSERT relying on a computed column's DEFAULT would find neither the trigger nor
/// the DEFAULT.
fn absorb_trigger_contracts(
    shared: &mut [(Step, u8)],
    own: &mut Vec<(Step, u8)>,
    work: &TableWork,
    schema: &str,
) {
    let kept_by_trigger: Vec<usize> = work
        .sync
        .iter()
        .filter(|(_, r)| matches!(r, SyncRule::Pair { .. } | SyncRule::Computed { .. }))
        .map(|(c, _)| *c)
        .collect();
    let Some((drop, _)) = shared.iter_mut().find(|(s, _)| s.phase == Phase::Contract) else {
        return;
    };
    let (absorbed, kept): (Vec<_>, Vec<_>) = std::mem::take(own).into_iter().partition(|(s, _)| {
        s.phase == Phase::Contract
            && s.job.is_none()
            && s.table.as_deref() == Some(work.table.as_str())
            && s.changes.iter().all(|c| kept_by_trigger.contains(c))
    });
    *own = kept;
    let table = quote::qualified(schema, work.table.as_str());
    for (step, _) in absorbed {
        drop.title = format!("{}, then {}", drop.title, step.title);
        drop.archived.extend(step.archived);
        // Statements that open the step on other tables (dropping the foreign keys that
        // reference the column) go before the trigger's DROP: locks are then taken in the
        // order the application takes them, referencing table before referenced one, and the
        // two cannot deadlock.
        let mut statements = step.statements;
        let leading = statements
            .iter()
            .take_while(|s| s.locks.iter().all(|l| l.relation != table))
            .count();
        let rest = statements.split_off(leading);
        drop.statements.splice(0..0, statements);
        drop.statements.extend(rest);
    }
}

fn changes_of<T>(items: &[(usize, T)]) -> Vec<usize> {
    let mut changes: Vec<usize> = items.iter().map(|(c, _)| *c).collect();
    changes.dedup();
    changes
}

fn shared_steps(
    plan: &Plan,
    state_schema: &str,
    work: &TableWork,
    key: Option<&TableKey>,
) -> Vec<(Step, u8)> {
    let table = quote::qualified(plan.schema.as_str(), work.table.as_str());
    let mut out = Vec::new();
    if !work.sync.is_empty() {
        let function = quote::qualified(
            state_schema,
            &object_name(&["sync", &plan.id, work.table.as_str()]),
        );
        let trigger = quote::ident(&object_name(&["zz_switchback", &plan.id]));
        let changes = changes_of(&work.sync);
        let mut sync = Step::new(
            &plan.id,
            format!("{}.sync", work.table),
            format!("install the dual-write trigger on {}", work.table.quoted()),
            Phase::Sync,
        );
        sync.table = Some(work.table.to_string());
        sync.changes = changes.clone();
        // CREATE OR REPLACE TRIGGER (PostgreSQL 14+) takes SHARE ROW EXCLUSIVE, where
        // DROP TRIGGER + CREATE TRIGGER would need ACCESS EXCLUSIVE on a re-run.
        sync.sql_without_lock(trigger_function(&function, &work.sync))
            .sql(
                format!(
                    "CREATE OR REPLACE TRIGGER {trigger} BEFORE INSERT OR UPDATE ON {table} FOR EACH ROW\n  WHEN (current_setting('switchback.backfill', true) IS DISTINCT FROM 'on')\n  EXECUTE FUNCTION {function}()"
                ),
                LockMode::ShareRowExclusive,
                &table,
                Work::Instant,
            )
            // The table first: dropping a partitioned table's trigger drops its partitions'
            // copies, and without the parent's lock taken first it would lock a partition
            // before the parent, the reverse of the application's order: a deadlock.
            .undo(format!("LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"), LockMode::AccessExclusive, &table)
            .undo(format!("DROP TRIGGER IF EXISTS {trigger} ON {table}"), LockMode::AccessExclusive, &table)
            .undo(format!("DROP FUNCTION IF EXISTS {function}()"), LockMode::AccessExclusive, &table);
        out.push((sync, MIDDLE));

        let mut drop = Step::new(
            &plan.id,
            format!("{}.drop_sync", work.table),
            format!("drop the dual-write trigger on {}", work.table.quoted()),
            Phase::Contract,
        );
        drop.table = Some(work.table.to_string());
        drop.changes = changes;
        drop.sql(
            format!("LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"),
            LockMode::AccessExclusive,
            &table,
            Work::Instant,
        )
        .sql(
            format!("DROP TRIGGER IF EXISTS {trigger} ON {table}"),
            LockMode::AccessExclusive,
            &table,
            Work::Instant,
        )
        .sql_without_lock(format!("DROP FUNCTION IF EXISTS {function}()"));
        out.push((drop, FIRST));
    }
    if !work.backfill.is_empty() {
        let changes = changes_of(&work.backfill);
        let assignments: Vec<&Assignment> = work.backfill.iter().map(|(_, a)| a).collect();
        let mut backfill = Step::new(
            &plan.id,
            format!("{}.backfill", work.table),
            format!(
                "backfill {} ({})",
                work.table.quoted(),
                columns_list(&assignments)
            ),
            Phase::Backfill,
        );
        backfill.table = Some(work.table.to_string());
        backfill.changes = changes.clone();
        backfill
            .outside_transaction()
            .sql(
                backfill_update(&table, &assignments, BATCH_RANGE),
                LockMode::RowExclusive,
                &table,
                Work::Batched,
            )
            .nothing_to_undo();
        let job = |kind| Job {
            kind,
            table: work.table.to_string(),
            relation: table.clone(),
            assignments: assignments.iter().map(|a| (*a).clone()).collect(),
            key: key.cloned(),
            copy: None,
        };
        backfill.job = Some(job(JobKind::Backfill));
        out.push((backfill, MIDDLE));

        let mut verify = Step::new(
            &plan.id,
            format!("{}.verify", work.table),
            format!("verify the backfill of {}", work.table.quoted()),
            Phase::Validate,
        );
        verify.table = Some(work.table.to_string());
        verify.changes = changes;
        let wrong = verify_predicate(&assignments);
        verify.outside_transaction().sql(
            format!(
                "SELECT count(*) FROM {table}\n  WHERE <key range of the batch>\n    AND ({wrong})"
            ),
            LockMode::AccessShare,
            &table,
            Work::Batched,
        );
        verify.nothing_to_undo().job = Some(job(JobKind::Verify));
        out.push((verify, LAST));
    }
    out
}
