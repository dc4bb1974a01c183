//! Every lint rule: a plan that triggers it (exact code, position and message) and the
//! nearest safe plan, which must come out clean; and `allow:` / `unsafe:` silencing them.

mod support;

use support::findings::assert_findings;

macro_rules! case {
    ($name:ident, $yaml:expr, [$($expected:expr),* $(,)?]) => {
        #[test]
        fn $name() {
            assert_findings(&[("p.yaml", $yaml.as_bytes())], &[$($expected),*]);
        }
    };
}

case!(allow_for_the_whole_plan, "allow: [W618]\nreason: one release\nchanges:\n  - set_not_null: { table: a, column: x, fill: 0 }\n  - set_not_null: { table: b, column: x, fill: 0 }\n  - set_not_null: { table: c, column: x, fill: 0 }\n", [
]);
case!(allow_is_per_change, "changes:\n  - set_not_null: { table: users, column: email, allow: [W610], reason: no NULLs since 2025 }\n  - set_not_null: { table: users, column: name }\n", [
    "p.yaml:3:5: warning[W610]: set_not_null on `users`.`name` without `fill`: one NULL left by the application makes VALIDATE fail at the end of expand (at changes[1].set_not_null) [help: add `fill:` with the value NULLs should get; `validate --database-url` counts the NULLs there are now]",
]);
case!(allow_needs_a_reason, "changes:\n  - sql:\n      up: \"CREATE INDEX i ON users (a)\"\n      allow: [E600]\n", [
    "p.yaml:4:7: error[E307]: `allow` needs a `reason:` beside it (at changes[0].sql.allow) [help: say why the rule does not apply here, for whoever reads the plan next]",
]);
case!(allow_only_lint_rules, "changes:\n  - set_not_null: { table: users, column: email, allow: [E300, X1, W610], reason: checked by hand }\n", [
    "p.yaml:2:58: error[E307]: E300 is not a lint rule; only lint rules can be allowed (at changes[0].set_not_null.allow[0]) [help: see `switchback validate --explain all`]",
    "p.yaml:2:64: error[E307]: `X1` is not a finding code (at changes[0].set_not_null.allow[1]) [help: write codes like W610]",
]);
case!(allow_silences, "changes:\n  - sql:\n      up: \"CREATE INDEX i ON users (a)\"\n      allow: [E600]\n      reason: the table has 12 rows and no writers\n", [
]);
case!(allow_that_is_not_needed, "changes:\n  - set_not_null: { table: users, column: email, fill: 0, allow: [W610], reason: none left }\n", [
    "p.yaml:2:67: warning[W501]: W610 is allowed here but does not fire (at changes[0].set_not_null.allow[0]) [help: remove it from `allow`]",
]);
case!(change_type_without_down, "changes:\n  - change_type: { table: users, column: id, type: bigint }\n", [
    "p.yaml:2:5: warning[W611]: change_type of `users`.`id` without `down`: if the cast needs a shadow column, the new application's writes cannot reach the old column, and an abort loses them (at changes[0].change_type) [help: add `down:` converting the new type back to the old one]",
]);
case!(
    change_type_without_down_safe,
    "changes:\n  - change_type: { table: users, column: id, type: bigint, down: \"id::int\" }\n",
    []
);
case!(char_type, "changes:\n  - add_column: { table: users, column: { name: country, type: char(2) } }\n", [
    "p.yaml:2:64: warning[W614]: type `char(2)` pads values with spaces and is no faster than text (at changes[0].add_column.column.type) [help: use text or varchar(n)]",
]);
case!(
    char_type_safe,
    "changes:\n  - add_column: { table: users, column: { name: country, type: varchar(2) } }\n",
    []
);
case!(drop_still_read, "changes:\n  - add_column: { table: users, column: { name: full, type: text }, backfill: \"first || last\" }\n  - drop_column: { table: users, column: first }\n", [
    "p.yaml:3:5: error[E612]: this change drops column `first` of `users`, which changes[0] (add_column) still uses until contract (at changes[1].drop_column) [help: drop it in a later plan, once nothing reads it]",
]);
case!(drop_still_read_safe, "changes:\n  - add_column: { table: users, column: { name: full, type: text }, backfill: \"first || last\" }\n  - drop_column: { table: users, column: middle }\n", [
]);
case!(fk_without_unique, "changes:\n  - create_table: { name: teams, columns: [ { name: id, type: bigint }, { name: code, type: text } ], primary_key: [id] }\n  - add_column: { table: users, column: { name: team, type: text, references: { table: teams, column: code } } }\n", [
    "p.yaml:3:79: error[E613]: `teams` (`code`) has no primary key or unique index over exactly these columns (at changes[1].add_column.column.references) [help: reference the table's primary key, or add a unique constraint on these columns first]",
]);
case!(fk_without_unique_safe, "changes:\n  - create_table: { name: teams, columns: [ { name: id, type: bigint }, { name: code, type: text, unique: true } ], primary_key: [id] }\n  - add_column: { table: users, column: { name: team, type: text, references: { table: teams, column: code } } }\n", [
]);
case!(int_primary_key, "changes:\n  - create_table: { name: teams, columns: [ { name: id, type: integer } ], primary_key: [id] }\n", [
    "p.yaml:2:90: warning[W617]: primary key column `id` is a 32-bit `int4`; it runs out at 2,147,483,647 rows (at changes[0].create_table.primary_key[0]) [help: use bigint (or bigserial)]",
]);
case!(int_primary_key_safe, "changes:\n  - create_table: { name: teams, columns: [ { name: id, type: bigint } ], primary_key: [id] }\n", [
]);
case!(json_type, "changes:\n  - add_column: { table: users, column: { name: prefs, type: json } }\n", [
    "p.yaml:2:62: warning[W615]: type `json` re-parses the text on every access and cannot be GIN-indexed (at changes[0].add_column.column.type) [help: use jsonb]",
]);
case!(
    json_type_safe,
    "changes:\n  - add_column: { table: users, column: { name: prefs, type: jsonb } }\n",
    []
);
case!(many_tables, "changes:\n  - set_not_null: { table: a, column: x, fill: 0 }\n  - set_not_null: { table: b, column: x, fill: 0 }\n  - set_not_null: { table: c, column: x, fill: 0 }\n", [
    "p.yaml:1:1: warning[W618]: this plan backfills 3 tables (`a`, `b`, `c`); its contract waits for the slowest and one failure holds back all (at changes) [help: split it into one plan per table]",
]);
case!(many_tables_safe, "changes:\n  - set_not_null: { table: a, column: x, fill: 0 }\n  - set_not_null: { table: b, column: x, fill: 0 }\n  - set_not_null: { table: a, column: y, fill: 0 }\n", [
]);
case!(raw_alter_type, "changes:\n  - sql: { up: \"ALTER TABLE users ALTER COLUMN a TYPE bigint\" }\n", [
    "p.yaml:2:16: error[E603]: `ALTER TABLE users ALTER COLUMN a TYPE bigint`: ALTER COLUMN TYPE may rewrite the table under ACCESS EXCLUSIVE; use a change_type change (at changes[0].sql.up)",
]);
case!(
    raw_alter_type_safe,
    "changes:\n  - sql: { up: \"ALTER TABLE users ALTER COLUMN a SET STATISTICS 500\" }\n",
    []
);
case!(raw_create_index, "changes:\n  - sql: { up: \"CREATE INDEX i ON users (a)\" }\n", [
    "p.yaml:2:16: error[E600]: `CREATE INDEX i ON users (a)`: CREATE INDEX without CONCURRENTLY blocks writes while it builds; use an add_index change (at changes[0].sql.up)",
]);
case!(
    raw_create_index_safe,
    "changes:\n  - sql: { up: \"CREATE INDEX CONCURRENTLY i ON users (a)\" }\n",
    []
);
case!(raw_drop, "changes:\n  - sql: { up: \"ALTER TABLE users DROP COLUMN a\" }\n", [
    "p.yaml:2:16: error[E606]: `ALTER TABLE users DROP COLUMN a`: DROP COLUMN at expand removes what the running application still reads; use a drop_column change, which runs at contract (at changes[0].sql.up)",
]);
case!(
    raw_drop_safe,
    "changes:\n  - sql: { up: \"DROP INDEX CONCURRENTLY users_a_idx\" }\n",
    []
);
case!(raw_lock_table, "changes:\n  - sql: { up: \"LOCK TABLE users IN EXCLUSIVE MODE\" }\n", [
    "p.yaml:2:16: error[E608]: `LOCK TABLE users IN EXCLUSIVE MODE`: LOCK TABLE holds its lock until the step's transaction ends (at changes[0].sql.up)",
]);
case!(
    raw_lock_table_safe,
    "changes:\n  - sql: { up: \"SELECT 1 FROM users LIMIT 1\" }\n",
    []
);
case!(raw_rename, "changes:\n  - sql: { up: \"ALTER TABLE users RENAME COLUMN a TO b\" }\n", [
    "p.yaml:2:16: error[E605]: `ALTER TABLE users RENAME COLUMN a TO b`: a rename breaks the running application at once; use rename_column or rename_table (at changes[0].sql.up)",
]);
case!(
    raw_rename_safe,
    "changes:\n  - sql: { up: \"ALTER INDEX users_a_idx RENAME TO users_b_idx\" }\n",
    []
);
case!(raw_rewrite, "changes:\n  - sql: { up: \"VACUUM FULL users\" }\n", [
    "p.yaml:2:16: error[E607]: `VACUUM FULL users`: VACUUM FULL rewrites the table under ACCESS EXCLUSIVE; use pg_repack or let autovacuum work (at changes[0].sql.up)",
]);
case!(
    raw_rewrite_safe,
    "changes:\n  - sql: { up: \"VACUUM (ANALYZE) users\" }\n",
    []
);
case!(raw_set_not_null, "changes:\n  - sql: { up: \"ALTER TABLE users ALTER COLUMN a SET NOT NULL\" }\n", [
    "p.yaml:2:16: error[E602]: `ALTER TABLE users ALTER COLUMN a SET NOT NULL`: SET NOT NULL scans the table under ACCESS EXCLUSIVE; use a set_not_null change (at changes[0].sql.up)",
]);
case!(
    raw_set_not_null_safe,
    "changes:\n  - sql: { up: \"ALTER TABLE users ALTER COLUMN a DROP NOT NULL\" }\n",
    []
);
case!(raw_truncate, "changes:\n  - sql: { up: \"TRUNCATE users CASCADE\" }\n", [
    "p.yaml:2:16: error[E609]: `TRUNCATE users CASCADE`: TRUNCATE ... CASCADE takes ACCESS EXCLUSIVE and empties this table and every table that references it (at changes[0].sql.up)",
]);
case!(
    raw_truncate_safe,
    "changes:\n  - sql: { up: \"DELETE FROM users WHERE id < 0\" }\n",
    []
);
case!(raw_validating_constraint, "changes:\n  - sql: { up: \"ALTER TABLE users ADD CONSTRAINT c CHECK (a > 0)\" }\n", [
    "p.yaml:2:16: error[E601]: `ALTER TABLE users ADD CONSTRAINT c CHECK (a > 0)`: ADD CONSTRAINT checks every row while holding its lock; add it NOT VALID and VALIDATE it later (add_check, add_foreign_key, add_unique) (at changes[0].sql.up)",
]);
case!(
    raw_validating_constraint_safe,
    "changes:\n  - sql: { up: \"ALTER TABLE users ADD CONSTRAINT c CHECK (a > 0) NOT VALID\" }\n",
    []
);
case!(raw_volatile_default, "changes:\n  - sql: { up: \"ALTER TABLE users ADD COLUMN u uuid DEFAULT gen_random_uuid()\" }\n", [
    "p.yaml:2:16: error[E604]: `ALTER TABLE users ADD COLUMN u uuid DEFAULT gen_random_uuid()`: ADD COLUMN with a volatile default rewrites the table under ACCESS EXCLUSIVE; use add_column with `backfill:` (at changes[0].sql.up)",
]);
case!(
    raw_volatile_default_safe,
    "changes:\n  - sql: { up: \"ALTER TABLE users ADD COLUMN u int DEFAULT 0\" }\n",
    []
);
case!(set_not_null_without_fill, "changes:\n  - set_not_null: { table: users, column: email }\n", [
    "p.yaml:2:5: warning[W610]: set_not_null on `users`.`email` without `fill`: one NULL left by the application makes VALIDATE fail at the end of expand (at changes[0].set_not_null) [help: add `fill:` with the value NULLs should get; `validate --database-url` counts the NULLs there are now]",
]);
case!(set_not_null_of_a_column_the_plan_backfills, "changes:\n  - add_column: { table: users, column: { name: domain, type: text }, backfill: \"split_part(email, '@', 2)\" }\n  - set_not_null: { table: users, column: domain }\n", []);
case!(
    set_not_null_without_fill_safe,
    "changes:\n  - set_not_null: { table: users, column: email, fill: \"'unknown'\" }\n",
    []
);
case!(timestamp_type, "changes:\n  - add_column: { table: users, column: { name: seen_at, type: timestamp without time zone } }\n", [
    "p.yaml:2:64: warning[W616]: type `timestamp without time zone` stores a wall-clock time without its zone (at changes[0].add_column.column.type) [help: use timestamptz]",
]);
case!(timestamp_type_safe, "changes:\n  - add_column: { table: users, column: { name: seen_at, type: timestamp with time zone } }\n", [
]);
case!(unsafe_needs_a_reason, "changes:\n  - sql: { up: \"TRUNCATE users\", unsafe: true }\n", [
    "p.yaml:2:34: error[E307]: `unsafe` needs a `reason:` beside it (at changes[0].sql.unsafe) [help: say why the rule does not apply here, for whoever reads the plan next]",
]);
case!(unsafe_only_on_sql, "changes:\n  - set_not_null: { table: users, column: email, fill: 0, unsafe: true }\n", [
    "p.yaml:2:59: error[E102]: unknown key `unsafe` (at changes[0].set_not_null.unsafe) [help: expected one of `table`, `column`, `fill`]",
]);
case!(unsafe_silences_raw_rules, "changes:\n  - sql:\n      up: \"VACUUM FULL users; LOCK TABLE users\"\n      unsafe: true\n      reason: run in the maintenance window\n", [
]);
case!(upper_case, "changes:\n  - drop_not_null: { table: Users, column: email }\n", [
    "p.yaml:2:29: warning[W500]: identifier `Users` has upper-case letters; switchback quotes identifiers, so this names \"Users\", not users (at changes[0].drop_not_null.table) [help: write names as PostgreSQL stores them: lower-case unless created quoted]",
]);

#[test]
fn every_lint_rule_has_a_case_here() {
    let source = include_str!("lint_rules.rs");
    for code in switchback::plan::diagnostic::Code::ALL {
        let offline = code.as_str()[1..] < *"700";
        if code.is_lint_rule() && offline {
            assert!(
                source.contains(&format!("[{code}]: ")),
                "no case triggers {code}"
            );
        }
    }
}

#[test]
fn docs_rules_md_is_generated_from_the_code() {
    let docs =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/rules.md")).unwrap();
    assert!(
        docs == switchback::plan::rules::markdown(),
        "docs/rules.md is stale: run `cargo run -- validate --explain all > docs/rules.md`"
    );
}
