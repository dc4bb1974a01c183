//! What each finding code means and what to do instead: `switchback validate --explain CODE`
//! and `docs/rules.md`, read from each code's [`Rule`]. The explanations of lint rules live in
//! their own files (`plan::lint`); those of the other codes (the plan format, the plan's
//! meaning, the live catalog, notes) are here.

use crate::plan::diagnostic::{Code, Rule};

pub const YAML_SYNTAX: Rule = Rule::error("E100", "invalid YAML")
    .why("The file is not valid YAML, so nothing in it can be checked.")
    .instead("Fix the syntax at the position shown; the message is the YAML parser's.");
pub const WRONG_TYPE: Rule = Rule::error("E101", "wrong type")
    .why("A field holds the wrong kind of value (a list where a mapping belongs, a number where a name belongs).")
    .instead("Write the value in the shape the plan format documents for that field.");
pub const UNKNOWN_KEY: Rule = Rule::error("E102", "unknown key")
    .why("A key the plan format does not know. Often a typo, which would otherwise silently drop a setting such as `fill`.")
    .instead("Use the suggested key, or remove it.");
pub const MISSING_KEY: Rule = Rule::error("E103", "missing key")
    .why("A required key is absent.")
    .instead("Add the key named in the message.");
pub const UNKNOWN_CHANGE_KIND: Rule = Rule::error("E104", "unknown change kind")
    .why("The change's kind is not one switchback knows.")
    .instead("Use one of the kinds listed in the help line.");
pub const BAD_CHANGE_ENTRY: Rule = Rule::error("E105", "malformed change entry")
    .why("Each entry of `changes:` is a mapping with exactly one key, the change kind.")
    .instead("Start each change with its own `- kind:` line.");
pub const EMPTY_PLAN: Rule = Rule::error("E106", "plan has no changes")
    .why("A plan with no changes does nothing and is most likely a mistake.")
    .instead("Add changes, or delete the file.");
pub const BAD_DURATION: Rule = Rule::error("E107", "invalid duration")
    .why("Durations are written with a unit: `200ms`, `2s`, `1m30s`.")
    .instead("Write the duration with a unit.");
pub const BAD_VALUE: Rule = Rule::error("E108", "invalid value")
    .why("The value is of the right type but not allowed (zero batch size, a lock mode that does not exist, a list naming something twice).")
    .instead("Use a value the help line suggests.");
pub const NOT_TEXT: Rule = Rule::error("E109", "plan file is not UTF-8 text")
    .why("Plan files are UTF-8 text.")
    .instead("Save the file as UTF-8.");
pub const TOO_LARGE: Rule = Rule::error("E110", "plan file too large")
    .why("Plans are hand-written and small; a file over 1 MiB is a mistake, refused before it slows CI down.")
    .instead("Split the work into several plans, or move data out of the plan.");
pub const BAD_IDENTIFIER: Rule = Rule::error("E200", "invalid identifier")
    .why("An identifier is empty, has control characters or starts or ends with white space.")
    .instead("Write the name as PostgreSQL stores it.");
pub const IDENTIFIER_TOO_LONG: Rule = Rule::error("E201", "identifier too long")
    .why("PostgreSQL cuts identifiers to 63 bytes without an error, so two long names can end up the same.")
    .instead("Use a name of at most 63 bytes.");
pub const BAD_EXPRESSION: Rule = Rule::error("E202", "invalid SQL expression")
    .why("A SQL expression (`backfill`, `fill`, `up`, `down`, `check`, `default`) does not parse as one scalar expression with PostgreSQL's grammar.")
    .instead("Write a single expression over the table's columns; no FROM, WHERE or sub-statements.");
pub const BAD_TYPE: Rule = Rule::error("E203", "invalid SQL type")
    .why("A column type does not parse with PostgreSQL's grammar.")
    .instead("Write the type as in CREATE TABLE.");
pub const BAD_STATEMENT: Rule = Rule::error("E204", "invalid SQL statement")
    .why("Raw SQL of a `sql` change does not parse with PostgreSQL's grammar.")
    .instead("Fix the statement at the position shown.");
pub const USE_AFTER_DROP: Rule =
    Rule::error("E300", "column used after the plan drops or renames it")
        .why("A change uses a column that an earlier change of the same plan drops or renames.")
        .instead("Use the column's new name, or move the change to a later plan.");
pub const COLUMN_CONFLICT: Rule = Rule::error("E301", "two changes fight over one column")
    .why("Two changes of one plan write or redefine the same column; one backfill pass cannot give a column two values.")
    .instead("Split the changes into two plans.");
pub const DUPLICATE_NAME: Rule = Rule::error("E302", "duplicate object name")
    .why("Two changes create an index or constraint with the same name.")
    .instead("Give each object its own name.");
pub const NOT_NULL_WITHOUT_VALUE: Rule = Rule::error("E303", "NOT NULL column without a value for existing rows")
    .why("A NOT NULL column is added without a default or backfill, so existing rows have no value for it.")
    .instead("Give the column a `default` or a `backfill` expression.");
pub const TABLE_GONE: Rule = Rule::error("E304", "table used after the plan drops or renames it")
    .why("A change uses a table that an earlier change of the same plan drops or renames.")
    .instead("Use the table's new name, or move the change to a later plan.");
pub const BAD_TABLE_DEFINITION: Rule = Rule::error("E305", "invalid table definition")
    .why("A `create_table` definition is inconsistent (primary key naming a missing column, no columns).")
    .instead("Fix the definition as the message says.");
pub const NO_OP_CHANGE: Rule = Rule::error("E306", "change does nothing")
    .why("A change that would do nothing (renaming a column to its own name).")
    .instead("Remove the change.");
pub const BAD_ALLOW: Rule = Rule::error("E307", "invalid allow list")
    .why("An `allow:` list names something that is not a lint rule, or has no `reason:` beside it. Silencing a rule without saying why hides the decision from the next reader.")
    .instead("List lint rule codes only, and add `reason: ...` to the same change.");
pub const DUPLICATE_PLAN_ID: Rule = Rule::error("E400", "duplicate plan id")
    .why("Two plan files have the same file name stem, which is the plan's id in the ledger.")
    .instead("Rename one of the files.");
pub const UNKNOWN_DEPENDENCY: Rule = Rule::error("E401", "unknown dependency")
    .why("`depends_on` names a plan that is not among the plans given.")
    .instead("Name an existing plan id (a file name without `.yaml`).");
pub const DEPENDENCY_CYCLE: Rule = Rule::error("E402", "dependency cycle")
    .why("Plans depend on each other in a circle, so none can run first.")
    .instead("Remove one of the `depends_on` entries.");
pub const STEP_CYCLE: Rule = Rule::error("E403", "step graph cycle")
    .why("The steps of the plans need each other in a circle.")
    .instead("Split the changes named into separate plans.");
pub const UNNEEDED_ALLOW: Rule = Rule::warning("W501", "allow names a rule that did not fire")
    .why("An `allow:` entry silences a rule that did not fire for that change. Left behind, it would silence a real finding later.")
    .instead("Remove the entry.");
pub const MISSING: Rule = Rule::error("E700", "named object does not exist")
    .why("With `--database-url`: a table, column, index or constraint the change needs does not exist in the database (and no earlier plan or change creates it).")
    .instead("Check the name and the schema, or the order of the plans.")
    .allowable();
pub const ALREADY_EXISTS: Rule = Rule::error("E701", "object to create already exists")
    .why("With `--database-url`: an object the change creates already exists, so the expand stage would fail.")
    .instead("Choose another name, or drop the change if it was already applied by hand.")
    .allowable();
pub const NO_BACKFILL_KEY: Rule = Rule::error("E702", "table has no usable key for a backfill")
    .why("With `--database-url`: a table to backfill, or whose column contract copies into the archive (`drop_column`), has neither a primary key nor a unique index over NOT NULL columns, so batches cannot be walked by key.")
    .instead("Add a primary key (through `add_unique` and a later ALTER) before this plan; for a dropped column, `archive: false` drops it for good instead.")
    .allowable();
pub const NULLS_PRESENT: Rule = Rule::error("E703", "column still holds NULLs")
    .why("With `--database-url`: the column of a `set_not_null` without `fill` holds NULLs now, so VALIDATE would fail at the end of expand. On large tables the count comes from a sample.")
    .instead("Add `fill:` or fix the rows first.")
    .allowable();
pub const DEPENDENT_OBJECTS: Rule = Rule::error("E704", "other objects depend on what the plan changes")
    .why("With `--database-url`: views, rules, policies or triggers depend on a column or table the plan renames, retypes or drops (or other tables' foreign keys, when it drops it: a rename or type change carries those over). They would break, or make the contract stage's DROP fail.")
    .instead("Change or drop the dependent objects in an earlier plan, then run this one.")
    .allowable();
pub const FUNCTION_MENTIONS: Rule = Rule::warning("W705", "a function body mentions what the plan changes")
    .why("With `--database-url`: the body of a function (PostgreSQL does not track what function bodies use) mentions a column or table the plan renames, retypes or drops.")
    .instead("Read the function; update it in a plan before this one if it uses the old name.")
    .allowable();
pub const EDITED_APPLIED_PLAN: Rule = Rule::error("E706", "plan changed after it started")
    .why("With `--database-url`: the ledger holds this plan with another checksum. A plan that started must not change, or its remaining steps no longer match what ran.")
    .instead("Restore the file as it was, and put further changes in a new plan.");
pub const MISSING_PRIVILEGE: Rule = Rule::error("E707", "the role lacks a privilege the plan needs")
    .why("With `--database-url`: the connected role lacks what a statement of the plan needs: ALTER TABLE, CREATE INDEX and CREATE TRIGGER need the table's owner; a new table or view needs CREATE on its schema; the ledger needs USAGE and CREATE on its schema (or CREATE on the database to make it). `advance` refuses before its first statement for the same reasons.")
    .instead("Run the grant the finding names, or connect as the owner. The README lists every grant.");
pub const POOLER_TIMEOUT: Rule = Rule::error("E708", "a pooler keeps switchback from lifting statement_timeout")
    .why("With `--database-url`: the connection reaches PostgreSQL through a pooler or proxy (no session setting lasts), the role has a statement_timeout, and the plan runs a statement that cannot be in a transaction (CREATE INDEX CONCURRENTLY). Only a session-level SET could lift the timeout for it; `advance` refuses before its first statement.")
    .instead("Connect directly or through a session-mode pool for this plan, or ALTER ROLE ... SET statement_timeout = 0.");
pub const PARTITIONED_TABLE: Rule = Rule::error("E709", "change not supported on a partitioned table")
    .why("With `--database-url`: the change's table is partitioned, and switchback does not run this kind of change on a partitioned table yet, a column that rename_column or change_type moves is referenced by a foreign key from a partitioned table with a sub-partitioned or foreign partition (the key is added back partition by partition), the table has a sub-partitioned or foreign partition, or PostgreSQL forbids the result (a unique index that leaves out a partition key column, a partition key column dropped or retyped). The plan would stop half-way; `advance` refuses it before its first statement instead.")
    .instead("Run the change on each partition, or use a kind that supports partitioned tables (the README lists them and how each runs there); for a unique index, include the partition key's columns.");
pub const REWRITE: Rule = Rule::note("N710", "type change and rewrites")
    .why("With `--database-url`: whether a type change can be done in place (no rewrite, per pg_cast and the type modifiers) or needs a shadow column and a backfill.")
    .instead("Nothing to do; this is what the executor will do.");
pub const BACKFILL_ESTIMATE: Rule = Rule::note("N711", "backfill estimate")
    .why("With `--database-url`: the table's row estimate and a backfill duration estimated from one timed sample batch run in a transaction that is rolled back, shared between the plan's `backfill.workers` sessions as if each had a core of its own.")
    .instead("Plan the deploy window, or tune `backfill:` settings.");
pub const PLAN_STATE: Rule = Rule::note("N712", "plan state in the ledger")
    .why("With `--database-url`: the plan is already applied, or in flight, according to the ledger.")
    .instead("Nothing to do.");
pub const PARTITIONED: Rule = Rule::note("N714", "partitioned table")
    .why("With `--database-url`: the change's table is partitioned; the note says how the change runs there (an index: built ON ONLY the parent, then CONCURRENTLY on each partition and attached, after which the parent's index is valid; a unique constraint or foreign key: made on each partition, then on the parent, which adopts them without a scan).")
    .instead("Nothing to do. A partition attached while the plan runs gets an index from PostgreSQL as part of its `ATTACH PARTITION` (built there, under the attach's lock), but not a unique constraint or foreign key: the parent's statement refuses, naming it, until it is detached. One detached meanwhile is skipped by the steps that name it.");
pub const SKIPPED: Rule = Rule::note("N715", "change skipped by its IF [NOT] EXISTS")
    .why("With `--database-url`: a change written with `if_not_exists` finds its table, column or index already there, or one with `if_exists` finds it gone, so it will not run, as PostgreSQL would skip the statement. `advance` decides this once, before the plan's first statement, and keeps the decision with the plan: a re-run after a crash does not decide again, and an abort leaves the object that was already there alone. An INVALID index of the name (a failed concurrent build) is refused instead, as E701: skipping would keep the broken index.")
    .instead("Nothing to do, if the object there is the one the migration meant; if it is not, rename one of them.");
pub const POOLER: Rule = Rule::note("N713", "connection through a pooler or proxy")
    .why("With `--database-url`: the connection reaches PostgreSQL through a pooler or proxy (the server's port is not the one dialed, or a session setting did not last). switchback uses no session state there: every statement is one unnamed round trip, settings are SET LOCAL, and the runner's hold on a plan is a lease row. A CREATE INDEX CONCURRENTLY cannot run in a transaction, so it gets the role's max_parallel_maintenance_workers rather than the plan's `index_workers`; the note says so when the two differ.")
    .instead("Nothing to do; where the note names the role's max_parallel_maintenance_workers, ALTER ROLE ... SET it to the plan's index_workers to build as the plan says.");

pub const STILL_USED: Rule = Rule::warning("W716", "the application still uses what contract removes")
    .why("With `--database-url`, for a plan at the gate (expand done): pg_stat_statements shows a statement that reads or writes a table or column the plan's contract stage drops or renames away, run since the last check a minute or more before (or since the expand stage finished). Running contract now would break it: the commonest contract accident is running it before every copy of the old application is gone. `advance` waits until none of these statements has run for `--unused-for` (1m), and refuses, naming them, while one runs.")
    .instead("Deploy the application that no longer uses them and let the old copies drain; `advance --force REASON` overrides, and records the reason.");
pub const TRIGGERS_LEFT_OUT: Rule = Rule::note("N718", "the backfill leaves the table's triggers out")
    .why("With `--database-url`: the table has triggers or rules of its own that an UPDATE fires (an `updated_at` stamp, a version counter, an audit log). The backfill's batches run with `session_replication_role = replica`, which the role may set, so they fire for the application's writes and not for the rows the backfill writes: no row looks changed by the application because a new column was filled.")
    .instead("Nothing to do. A trigger that must also fire for the backfill's rows can be marked `ALTER TABLE ... ENABLE ALWAYS TRIGGER`.");
pub const TRIGGERS_FIRED: Rule = Rule::warning("W719", "the backfill fires the table's triggers on every row")
    .why("With `--database-url`: the table has triggers or rules of its own that an UPDATE fires, and the backfill's batches cannot leave them out: the role may not set `session_replication_role`, a trigger marked `ENABLE REPLICA` would fire instead, or a column the batches write takes part in a foreign key (whose checks are triggers and must run). Each batch's UPDATE then fires them on every row it writes: an `updated_at` trigger stamps every row with the backfill's time, a version counter makes the application's edits in flight look stale, an audit trigger logs every row. Triggers marked `ENABLE ALWAYS` fire in any case.")
    .instead("Grant the migration role `SET ON PARAMETER session_replication_role` (PostgreSQL 15 and later; a superuser may already), or run the plan as a role that may set it; otherwise make sure the triggers can take a write to every row.");
pub const USE_UNCHECKED: Rule = Rule::note("N717", "cannot check what the application uses")
    .why("With `--database-url`, for a plan at the gate: pg_stat_statements is not installed in this database or cannot be read, or some statements belong to roles whose text this role may not read (it lacks pg_read_all_stats). Contract cannot tell whether the old application still uses what it removes.")
    .instead("Load pg_stat_statements (shared_preload_libraries, CREATE EXTENSION pg_stat_statements) and grant pg_read_all_stats to the role switchback runs as; or make sure by other means that the old application is gone before contract.");

/// `--explain CODE`: the code, its severity and title, why it matters and what to do.
pub fn text(code: Code) -> String {
    let rule = code.rule();
    format!(
        "{code} ({}): {}\n\n{}\n\nInstead: {}\n{}",
        rule.severity,
        rule.title,
        rule.why,
        rule.instead,
        squawk_line(rule)
    )
}

fn squawk_line(rule: &Rule) -> String {
    match rule.squawk {
        "" => String::new(),
        names => format!("\nsquawk: {names}\n"),
    }
}

pub const PROBABLE_RENAME: Rule = Rule::warning("W800", "probable rename imported as a rename")
    .why("A migration that drops a column and adds one of the same type to the same table is how Prisma and other generators write a rename. Run as written it loses every value of the column.")
    .instead("`switchback import` writes a `rename_column`, which keeps the data; if the old values really should go, replace it with `drop_column` and `add_column`.");
pub const KEPT_AS_SQL: Rule = Rule::note("N801", "statement imported as raw SQL")
    .why("No change kind does what the statement does, so the imported plan runs it as written in a `sql` change; the plan's lint rules judge it like any other raw statement.")
    .instead("Nothing, when the lint rules are silent; otherwise rewrite the statement as the finding says.");
pub const LEFT_OUT: Rule = Rule::note("N802", "statement left out of the imported plan")
    .why("BEGIN, COMMIT and timeout settings belong to the runner: switchback runs each step in its own transaction and bounds every lock with the plan's `lock_timeout`.")
    .instead("Nothing; set `lock_timeout:` in the plan to change the bound.");
pub const CASCADE_LEFT_OUT: Rule = Rule::warning("W805", "CASCADE not carried into the imported plan")
    .why("The migration drops a table or column with CASCADE, which also drops, without a word, every view, foreign key and index that depends on it. The imported `drop_table` / `drop_column` drops only what it names: `validate --database-url` lists what depends on it (E704), and contract stops at the first dependent PostgreSQL will not drop alone, instead of losing it unseen.")
    .instead("Drop what depends on it with changes of its own before this one (`drop_index`, a `sql` change for a view or a foreign key), or check with `validate --database-url` that nothing does.");
pub const DOWN_DIFFERS: Rule = Rule::warning("W803", "down part differs from the plan's undo")
    .why("`switchback import` compares the migration's down part with what undoes the imported plan. switchback does not run the down part (until contract, `switchback abort` undoes the plan exactly), but the down part says what the team believes the migration does: an undo it forgets (an index or constraint left behind) or a statement that undoes nothing the up part did means one of the two is wrong.")
    .instead("Fix the down part, so that the tool's own rollback is right too, or check that the up part does what was meant.");
pub const DOWN_LOSES_DATA: Rule = Rule::note("N804", "down part re-creates what the up part dropped")
    .why("A down part that adds back a dropped column or table adds it empty: once contract has run, its values are gone, whatever the down part says.")
    .instead("Before contract, `switchback abort` puts the column or table back with its data; after contract, restore the values from a backup.");

/// squawk's safety rules that no switchback code carries, and why.
const SQUAWK_ELSEWHERE: &[(&str, &str)] = &[
    ("ban-create-domain-with-constraint", "a new domain is used by no column, so its CHECK locks nothing; adding a constraint to a domain in use later is E622"),
    ("prefer-text-field", "widening varchar(n) (or varchar to text) is catalog-only since PostgreSQL 9.2, and a narrowing is E603; W614 flags char(n), whose padding is the real trap"),
    ("prefer-robust-stmts", "switchback records each step it completes and re-runs only what did not finish, so a plan never needs IF NOT EXISTS to be retried; in a SQL file that runs outside a transaction, E625 and W626 cover the statements that fail half-way"),
];

/// Every code as the Markdown of `docs/rules.md`.
pub fn markdown() -> String {
    let mut out = String::from(
        "# switchback validate: finding codes\n\n\
         Generated by `switchback validate --explain all`; a test keeps it in step with the code.\n\n\
         Codes are stable. E = error (exit 1), W = warning (exit 0 unless `--deny-warnings`),\n\
         N = note (never fails). Lint rules can be silenced for one change with\n\
         `allow: [CODE]` and a `reason:` in that change's mapping, or for a whole plan at the top\n\
         of the file; a `sql` change may say `unsafe: true` with a `reason:` to allow E600-E609.\n\n\
         The same rules check SQL migration files (`validate file.sql`, or a Drizzle, Prisma,\n\
         golang-migrate, sql-migrate, dbmate or goose folder); there a comment\n\
         `-- switchback:allow E600 <reason>` above a statement silences a rule for it, and\n\
         `-- switchback:allow-file W626 <reason>` for the whole file. The squawk column names the\n\
         squawk rules each code covers.\n\n\
         | code | severity | lint rule | title | squawk |\n|---|---|---|---|---|\n",
    );
    for &code in Code::ALL {
        out.push_str(&format!(
            "| [{code}](#{}) | {} | {} | {} | {} |\n",
            code.as_str().to_lowercase(),
            code.severity(),
            if code.is_lint_rule() { "yes" } else { "" },
            code.title(),
            code.rule().squawk
        ));
    }
    out.push_str("\nsquawk rules no code carries:\n\n");
    for (name, why) in SQUAWK_ELSEWHERE {
        out.push_str(&format!("- `{name}`: {why}.\n"));
    }
    for &code in Code::ALL {
        let rule = code.rule();
        out.push_str(&format!(
            "\n## {code}\n\n**{}** ({})\n\n{}\n\nInstead: {}\n{}",
            rule.title,
            rule.severity,
            rule.why,
            rule.instead,
            squawk_line(rule)
        ));
    }
    out
}
