//! What each finding code means and what to do instead: the text behind
//! `switchback validate --explain CODE`, and the source of `docs/rules.md`.

use crate::plan::diagnostic::Code;

/// A code's explanation: why it matters, then the safe alternative.
pub struct Explanation {
    pub why: &'static str,
    pub instead: &'static str,
}

pub fn explain(code: Code) -> Explanation {
    let (why, instead) = match code {
        Code::YamlSyntax => ("The file is not valid YAML, so nothing in it can be checked.", "Fix the syntax at the position shown; the message is the YAML parser's."),
        Code::WrongType => ("A field holds the wrong kind of value (a list where a mapping belongs, a number where a name belongs).", "Write the value in the shape the plan format documents for that field."),
        Code::UnknownKey => ("A key the plan format does not know. Often a typo, which would otherwise silently drop a setting such as `fill`.", "Use the suggested key, or remove it."),
        Code::MissingKey => ("A required key is absent.", "Add the key named in the message."),
        Code::UnknownChangeKind => ("The change's kind is not one switchback knows.", "Use one of the kinds listed in the help line."),
        Code::BadChangeEntry => ("Each entry of `changes:` is a mapping with exactly one key, the change kind.", "Start each change with its own `- kind:` line."),
        Code::EmptyPlan => ("A plan with no changes does nothing and is most likely a mistake.", "Add changes, or delete the file."),
        Code::BadDuration => ("Durations are written with a unit: `200ms`, `2s`, `1m30s`.", "Write the duration with a unit."),
        Code::BadValue => ("The value is of the right type but not allowed (zero batch size, a lock mode that does not exist, a list naming something twice).", "Use a value the help line suggests."),
        Code::NotText => ("Plan files are UTF-8 text.", "Save the file as UTF-8."),
        Code::TooLarge => ("Plans are hand-written and small; a file over 1 MiB is a mistake, refused before it slows CI down.", "Split the work into several plans, or move data out of the plan."),
        Code::BadIdentifier => ("An identifier is empty, has control characters or starts or ends with white space.", "Write the name as PostgreSQL stores it."),
        Code::IdentifierTooLong => ("PostgreSQL cuts identifiers to 63 bytes without an error, so two long names can end up the same.", "Use a name of at most 63 bytes."),
        Code::BadExpression => ("A SQL expression (`backfill`, `fill`, `up`, `down`, `check`, `default`) does not parse as one scalar expression with PostgreSQL's grammar.", "Write a single expression over the table's columns; no FROM, WHERE or sub-statements."),
        Code::BadType => ("A column type does not parse with PostgreSQL's grammar.", "Write the type as in CREATE TABLE."),
        Code::BadStatement => ("Raw SQL of a `sql` change does not parse with PostgreSQL's grammar.", "Fix the statement at the position shown."),
        Code::UseAfterDrop => ("A change uses a column that an earlier change of the same plan drops or renames.", "Use the column's new name, or move the change to a later plan."),
        Code::ColumnConflict => ("Two changes of one plan write or redefine the same column; one backfill pass cannot give a column two values.", "Split the changes into two plans."),
        Code::DuplicateName => ("Two changes create an index or constraint with the same name.", "Give each object its own name."),
        Code::NotNullWithoutValue => ("A NOT NULL column is added without a default or backfill, so existing rows have no value for it.", "Give the column a `default` or a `backfill` expression."),
        Code::TableGone => ("A change uses a table that an earlier change of the same plan drops or renames.", "Use the table's new name, or move the change to a later plan."),
        Code::BadTableDefinition => ("A `create_table` definition is inconsistent (primary key naming a missing column, no columns).", "Fix the definition as the message says."),
        Code::NoOpChange => ("A change that would do nothing (renaming a column to its own name).", "Remove the change."),
        Code::BadAllow => ("An `allow:` list names something that is not a lint rule, or has no `reason:` beside it. Silencing a rule without saying why hides the decision from the next reader.", "List lint rule codes only, and add `reason: ...` to the same change."),
        Code::DuplicatePlanId => ("Two plan files have the same file name stem, which is the plan's id in the ledger.", "Rename one of the files."),
        Code::UnknownDependency => ("`depends_on` names a plan that is not among the plans given.", "Name an existing plan id (a file name without `.yaml`)."),
        Code::DependencyCycle => ("Plans depend on each other in a circle, so none can run first.", "Remove one of the `depends_on` entries."),
        Code::StepCycle => ("The steps of the plans need each other in a circle.", "Split the changes named into separate plans."),
        Code::CaseFolding => ("switchback quotes every identifier, so `userId` names the column \"userId\", not the `userid` PostgreSQL creates from an unquoted `userId`.", "Write names as the catalog stores them, lower-case unless they were created quoted."),
        Code::UnneededAllow => ("An `allow:` entry silences a rule that did not fire for that change. Left behind, it would silence a real finding later.", "Remove the entry."),
        Code::RawCreateIndex => ("CREATE INDEX without CONCURRENTLY holds a SHARE lock for the whole build: every INSERT, UPDATE and DELETE on the table waits, for minutes on a large table.", "Use an `add_index` change (CREATE INDEX CONCURRENTLY, with an invalid leftover detected and rebuilt)."),
        Code::RawValidatingConstraint => ("ADD CONSTRAINT with CHECK, FOREIGN KEY, UNIQUE or PRIMARY KEY reads every row while holding a lock that blocks writes (ACCESS EXCLUSIVE for CHECK, SHARE ROW EXCLUSIVE on both tables for a foreign key).", "Use `add_check` or `add_foreign_key` (NOT VALID, then VALIDATE under a lock that lets writes through) or `add_unique` (a concurrent unique index, then ADD CONSTRAINT ... USING INDEX)."),
        Code::RawSetNotNull => ("ALTER COLUMN ... SET NOT NULL scans the whole table under ACCESS EXCLUSIVE unless a validated CHECK (col IS NOT NULL) already proves it: reads and writes stop for the scan.", "Use a `set_not_null` change: a NOT VALID CHECK, VALIDATE, then SET NOT NULL without a scan."),
        Code::RawAlterType => ("ALTER COLUMN ... TYPE rewrites the table and its indexes under ACCESS EXCLUSIVE unless the cast is binary-compatible (varchar widening, varchar to text). When the cast needs no rewrite, say so with `allow: [E603]` and a reason; a `change_type` change finds that out from pg_cast by itself.", "Use a `change_type` change: in place when the cast needs no rewrite, otherwise a shadow column kept in sync by a trigger and backfilled in batches."),
        Code::RawVolatileDefault => ("ADD COLUMN with a volatile default (random(), gen_random_uuid(), clock_timestamp(), nextval()) rewrites the whole table under ACCESS EXCLUSIVE; only a constant default is stored in the catalog.", "Use `add_column` with `backfill:` the expression: a trigger computes it for new rows and a batched backfill fills existing ones."),
        Code::RawRename => ("Renaming a column or table breaks every running application server at once: the old code still uses the old name.", "Use `rename_column` (a new column kept in sync both ways until contract) or `rename_table` (an updatable view under the old name)."),
        Code::RawDrop => ("A raw DROP COLUMN or DROP TABLE runs at expand, while the old application, which still reads the column or table, is live. It cannot be undone by abort.", "Use `drop_column` or `drop_table`, which run at contract, after the application stopped using them."),
        Code::RawRewrite => ("VACUUM FULL and CLUSTER write a new copy of the table under ACCESS EXCLUSIVE: nothing reads or writes it until they finish.", "Use pg_repack or pg_squeeze to rebuild without the long lock, or let autovacuum reclaim space."),
        Code::RawLockTable => ("LOCK TABLE holds its lock until the step's transaction ends, and each queued statement behind it waits too.", "Let each statement take the lock it needs; switchback already bounds every lock with lock_timeout."),
        Code::RawTruncate => ("TRUNCATE takes ACCESS EXCLUSIVE and removes every row at once; with CASCADE it empties every table that references this one as well, which a reviewer rarely notices.", "Delete rows in batches, or remove the statement; if emptying the table is intended, say so with `allow: [E609]` and a reason."),
        Code::NotNullWithoutFill => ("A `set_not_null` without `fill` relies on the column having no NULLs. One NULL left by the old application makes VALIDATE fail at the end of expand. With `--database-url`, validate counts the NULLs (E703).", "Add `fill:` with the value existing and new NULLs should get."),
        Code::TypeChangeWithoutDown => ("A `change_type` that needs a shadow column and has no `down` expression cannot copy writes made by the new application back into the old column: an abort loses them, and the old application does not see them.", "Add `down:` converting the new type back to the old one."),
        Code::DropStillRead => ("A `drop_column` or `drop_table` removes something another change of the same plan still reads (its backfill, trigger or definition). The contract stage would drop it while the plan depends on it, and abort cannot bring it back.", "Drop it in a later plan, once no change and no version of the application reads it."),
        Code::ForeignKeyWithoutUniqueTarget => ("A foreign key must reference columns with a unique index or constraint; PostgreSQL refuses it otherwise, at the end of a long expand.", "Add a primary key, `add_unique` or unique index on the referenced columns first (an earlier plan or change)."),
        Code::CharType => ("char(n) pads values with spaces, compares them with the padding ignored and is no faster than text; its length limit is better as a CHECK that can change without a rewrite.", "Use text (or varchar(n)) and, if needed, a CHECK on length."),
        Code::JsonType => ("json stores the text as written: every access re-parses it, it cannot be indexed with GIN and duplicate keys survive.", "Use jsonb."),
        Code::TimestampWithoutTimeZone => ("timestamp without time zone stores a wall-clock time with no zone: values written by servers in other zones, or across a DST change, cannot be compared.", "Use timestamptz (timestamp with time zone)."),
        Code::IntPrimaryKey => ("A 32-bit integer key runs out at 2,147,483,647; changing it later means rewriting the table and every referencing foreign key.", "Use bigint (or bigserial, or an identity column of type bigint) for primary keys."),
        Code::ManyTablesBackfilled => ("One plan backfills three or more tables. Its contract stage waits for the slowest, a failure in one holds back all, and the combined write load is harder to throttle.", "Split the plan into one plan per table, ordered with `depends_on` if needed."),
        Code::Missing => ("With `--database-url`: a table, column, index or constraint the change needs does not exist in the database (and no earlier plan or change creates it).", "Check the name and the schema, or the order of the plans."),
        Code::AlreadyExists => ("With `--database-url`: an object the change creates already exists, so the expand stage would fail.", "Choose another name, or drop the change if it was already applied by hand."),
        Code::NoBackfillKey => ("With `--database-url`: a table to backfill has neither a primary key nor a unique index over NOT NULL columns, so batches cannot be walked by key.", "Add a primary key (through `add_unique` and a later ALTER) before this plan."),
        Code::NullsPresent => ("With `--database-url`: the column of a `set_not_null` without `fill` holds NULLs now, so VALIDATE would fail at the end of expand. On large tables the count comes from a sample.", "Add `fill:` or fix the rows first."),
        Code::DependentObjects => ("With `--database-url`: views, rules, policies or triggers depend on a column or table the plan renames, retypes or drops (or other tables' foreign keys, when it drops it: a rename or type change carries those over). They would break, or make the contract stage's DROP fail.", "Change or drop the dependent objects in an earlier plan, then run this one."),
        Code::FunctionMentions => ("With `--database-url`: the body of a function (PostgreSQL does not track what function bodies use) mentions a column or table the plan renames, retypes or drops.", "Read the function; update it in a plan before this one if it uses the old name."),
        Code::EditedAppliedPlan => ("With `--database-url`: the ledger holds this plan with another checksum. A plan that started must not change, or its remaining steps no longer match what ran.", "Restore the file as it was, and put further changes in a new plan."),
        Code::MissingPrivilege => ("With `--database-url`: the connected role lacks what a statement of the plan needs: ALTER TABLE, CREATE INDEX and CREATE TRIGGER need the table's owner; a new table or view needs CREATE on its schema; the ledger needs USAGE and CREATE on its schema (or CREATE on the database to make it). `advance` refuses before its first statement for the same reasons.", "Run the grant the finding names, or connect as the owner. The README lists every grant."),
        Code::PoolerTimeout => ("With `--database-url`: the connection reaches PostgreSQL through a pooler or proxy (no session setting lasts), the role has a statement_timeout, and the plan runs a statement that cannot be in a transaction (CREATE INDEX CONCURRENTLY). Only a session-level SET could lift the timeout for it; `advance` refuses before its first statement.", "Connect directly or through a session-mode pool for this plan, or ALTER ROLE ... SET statement_timeout = 0."),
        Code::Pooler => ("With `--database-url`: the connection reaches PostgreSQL through a pooler or proxy (the server's port is not the one dialed, or a session setting did not last). switchback uses no session state there: every statement is one unnamed round trip, settings are SET LOCAL, and the runner's hold on a plan is a lease row.", "Nothing to do."),
        Code::Rewrite => ("With `--database-url`: whether a type change can be done in place (no rewrite, per pg_cast and the type modifiers) or needs a shadow column and a backfill.", "Nothing to do; this is what the executor will do."),
        Code::BackfillEstimate => ("With `--database-url`: the table's row estimate and a backfill duration estimated from one timed sample batch run in a transaction that is rolled back.", "Plan the deploy window, or tune `backfill:` settings."),
        Code::PlanState => ("With `--database-url`: the plan is already applied, or in flight, according to the ledger.", "Nothing to do."),
    };
    Explanation { why, instead }
}

/// `--explain CODE`: the code, its severity and title, why it matters and what to do.
pub fn text(code: Code) -> String {
    let e = explain(code);
    format!(
        "{code} ({}): {}\n\n{}\n\nInstead: {}\n",
        code.severity(),
        code.title(),
        e.why,
        e.instead
    )
}

/// Every code as the Markdown of `docs/rules.md`.
pub fn markdown() -> String {
    let mut out = String::from(
        "# switchback validate: finding codes\n\n\
         Generated by `switchback validate --explain all`; a test keeps it in step with the code.\n\n\
         Codes are stable. E = error (exit 1), W = warning (exit 0 unless `--deny-warnings`),\n\
         N = note (never fails). Lint rules can be silenced for one change with\n\
         `allow: [CODE]` and a `reason:` in that change's mapping, or for a whole plan at the top\n\
         of the file; a `sql` change may say `unsafe: true` with a `reason:` to allow E600-E609.\n\n\
         | code | severity | lint rule | title |\n|---|---|---|---|\n",
    );
    for &code in Code::ALL {
        out.push_str(&format!(
            "| [{code}](#{}) | {} | {} | {} |\n",
            code.as_str().to_lowercase(),
            code.severity(),
            if code.is_lint_rule() { "yes" } else { "" },
            code.title()
        ));
    }
    for &code in Code::ALL {
        let e = explain(code);
        out.push_str(&format!(
            "\n## {code}\n\n**{}** ({})\n\n{}\n\nInstead: {}\n",
            code.title(),
            code.severity(),
            e.why,
            e.instead
        ));
    }
    out
}
