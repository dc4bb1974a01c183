//! Bad plan files: each case asserts the exact code, position and message of every finding,
//! and that no plan comes out of a file with errors.

mod support;

use std::path::Path;
use support::findings::{assert_findings, findings};
use switchback::plan::folder;

macro_rules! case {
    ($name:ident, $yaml:expr, [$($expected:expr),* $(,)?]) => {
        #[test]
        fn $name() {
            assert_findings(&[("p.yaml", $yaml.as_bytes())], &[$($expected),*]);
        }
    };
}

const DROP_A: &str = "  - drop_column: { table: users, column: a }\n";

// --- YAML and structure -----------------------------------------------------------------

case!(
    yaml_unclosed_flow_mapping,
    "changes:\n  - rename_column: { table: users, from: name\n",
    ["p.yaml:3:1: error[E100]: invalid YAML: did not find expected ',' or '}'",]
);
case!(
    yaml_bad_indentation,
    "changes:\n  - drop_column:\n      table: users\n     column: a\n",
    ["p.yaml:4:6: error[E100]: invalid YAML: did not find expected key",]
);
case!(
    yaml_tab_indentation,
    "changes:\n\t- drop_column: { table: users, column: a }\n",
    ["p.yaml:2:1: error[E100]: invalid YAML: found character that cannot start any token",]
);
case!(
    empty_file,
    "",
    ["p.yaml: error[E106]: plan file is empty [help: a plan needs a `changes:` list]"]
);
case!(
    only_a_comment,
    "# nothing yet\n",
    ["p.yaml: error[E106]: plan file is empty [help: a plan needs a `changes:` list]"]
);
case!(
    top_level_list,
    "- drop_column: { table: users, column: a }\n",
    ["p.yaml:1:1: error[E101]: a plan file is a mapping with a `changes:` list",]
);
case!(
    top_level_scalar,
    "hello\n",
    ["p.yaml:1:1: error[E101]: a plan file is a mapping with a `changes:` list"]
);
case!(
    missing_changes,
    "description: nothing\n",
    ["p.yaml:1:1: error[E103]: missing key `changes`"]
);
case!(
    changes_not_a_list,
    "changes: drop everything\n",
    ["p.yaml:1:10: error[E101]: `changes` must be a list (at changes)",]
);
case!(
    changes_empty,
    "changes: []\n",
    ["p.yaml:1:10: error[E106]: `changes` is empty (at changes)"]
);
case!(unknown_top_level_key, &format!("descripton: x\nchanges:\n{DROP_A}"), [
    "p.yaml:1:1: error[E102]: unknown key `descripton` (at descripton) [help: did you mean `description`?]",
]);
case!(unknown_change_kind_close, "changes:\n  - rename_colum: { table: users, from: a, to: b }\n", [
    "p.yaml:2:5: error[E104]: unknown change kind `rename_colum` (at changes[0].rename_colum) [help: did you mean `rename_column`?]",
]);
case!(unknown_change_kind_far, "changes:\n  - frobnicate: { table: users }\n", [
    "p.yaml:2:5: error[E104]: unknown change kind `frobnicate` (at changes[0].frobnicate) [help: the change kinds are add_column, rename_column, set_not_null, drop_not_null, change_type, set_default, drop_default, drop_column, add_index, drop_index, add_check, add_foreign_key, add_unique, create_table, drop_table, rename_table, sql]",
]);
case!(change_with_two_kinds, "changes:\n  - drop_column: { table: users, column: a }\n    drop_index: { name: x }\n", [
    "p.yaml:2:5: error[E105]: a change has exactly one kind, found 2 keys (`drop_column`, `drop_index`) (at changes[0]) [help: start each change with its own `- `]",
]);
case!(change_is_a_scalar, "changes:\n  - drop_column\n", [
    "p.yaml:2:5: error[E105]: a change is a mapping with one key naming its kind, like `- rename_column: { table: users, from: name, to: full_name }` (at changes[0])",
]);
case!(change_kind_without_fields, "changes:\n  - drop_index:\n", [
    "p.yaml:3:1: error[E101]: `drop_index` takes a mapping of its fields (at changes[0].drop_index) [help: write `drop_index: { ... }` with its fields inside]",
]);
case!(unknown_field_with_suggestion, "changes:\n  - set_not_null: { table: users, column: email, fil: \"'x'\" }\n", [
    "p.yaml:2:50: error[E102]: unknown key `fil` (at changes[0].set_not_null.fil) [help: did you mean `fill`?]",
]);
case!(unknown_nested_field, "changes:\n  - add_column: { table: users, column: { name: a, type: int, nulable: false } }\n", [
    "p.yaml:2:63: error[E102]: unknown key `nulable` (at changes[0].add_column.column.nulable) [help: did you mean `nullable`?]",
]);
case!(
    missing_field,
    "changes:\n  - rename_column:\n      table: users\n      from: name\n",
    ["p.yaml:2:5: error[E103]: missing key `to` (at changes[0].rename_column)",]
);
case!(string_where_list_expected, "changes:\n  - add_index: { table: users, name: i, columns: a }\n", [
    "p.yaml:2:50: error[E101]: invalid type: string \"a\", expected a sequence (at changes[0].add_index.columns)",
]);
// Shapes are described as the YAML they expect, never by our type names.
case!(string_where_a_mapping_is_expected, "changes:\n  - add_foreign_key: { table: a, name: fk, columns: [b], references: users }\n  - add_column: { table: users, column: x }\n", [
    "p.yaml:2:70: error[E101]: invalid type: string \"users\", expected a mapping with table and columns (at changes[0].add_foreign_key.references)",
    "p.yaml:3:41: error[E101]: invalid type: string \"x\", expected a mapping with name, type and optionally nullable, default, check, references, unique (at changes[1].add_column.column)",
]);
case!(bare_fill_needs_a_check_on_one_column, "changes:\n  - add_check: { table: users, name: c, check: \"a < b\", fill: 0 }\n", [
    "p.yaml:2:63: error[E108]: a bare fill value needs a check that reads one column; this one reads a, b (at changes[0].add_check.fill) [help: write the column to fill: `fill: { column: ..., value: ... }`]",
]);
case!(fill_mapping_keys_are_checked, "changes:\n  - add_check: { table: users, name: c, check: \"a < 3\", fill: { column: a, valu: 0 } }\n", [
    "p.yaml:2:76: error[E102]: unknown key `valu` (at changes[0].add_check.fill.valu) [help: did you mean `value`?]",
]);
case!(string_where_boolean_expected, "changes:\n  - add_index: { table: users, name: i, columns: [a], unique: \"yes\" }\n", [
    "p.yaml:2:63: error[E101]: invalid type: string \"yes\", expected a boolean (at changes[0].add_index.unique)",
]);
case!(unknown_index_method, "changes:\n  - add_index: { table: users, name: i, columns: [a], method: btre }\n", [
    "p.yaml:2:63: error[E108]: `btre` is not allowed here (at changes[0].add_index.method) [help: did you mean `btree`?]",
]);
case!(unknown_on_delete_action, "changes:\n  - add_foreign_key: { table: o, name: f, columns: [u], references: { table: users, columns: [id] }, on_delete: cascad }\n", [
    "p.yaml:2:113: error[E108]: `cascad` is not allowed here (at changes[0].add_foreign_key.on_delete) [help: did you mean `cascade`?]",
]);
case!(duration_without_unit, &format!("lock_timeout: 2\nchanges:\n{DROP_A}"), [
    "p.yaml:1:15: error[E107]: `2` is not a duration; write a number with a unit: 200ms, 2s, 1m, 1h, 7d (at lock_timeout)",
]);
case!(duration_unknown_unit, &format!("lock_timeout: 2w\nchanges:\n{DROP_A}"), [
    "p.yaml:1:15: error[E107]: `2w` is not a duration; write a number with a unit: 200ms, 2s, 1m, 1h, 7d (at lock_timeout)",
]);
case!(
    zero_lock_timeout,
    &format!("lock_timeout: 0s\nchanges:\n{DROP_A}"),
    ["p.yaml:1:15: error[E108]: `0s` must be more than zero (at lock_timeout)",]
);
case!(
    negative_batch_size,
    &format!("backfill: {{ batch_size: -5 }}\nchanges:\n{DROP_A}"),
    ["p.yaml:1:25: error[E101]: invalid value: integer `-5`, expected a whole number, 0 or more (at backfill.batch_size)",]
);
case!(
    index_workers_past_postgresqls_limit,
    &format!("index_workers: 2000\nchanges:\n{DROP_A}"),
    ["p.yaml:1:16: error[E108]: `index_workers` is at most 1024, PostgreSQL's limit for max_parallel_maintenance_workers (at index_workers)",]
);
case!(
    index_workers_not_a_number,
    &format!("index_workers: all\nchanges:\n{DROP_A}"),
    ["p.yaml:1:16: error[E101]: invalid type: string \"all\", expected a whole number, 0 or more (at index_workers)",]
);
case!(
    zero_batch_size,
    &format!("backfill: {{ batch_size: 0 }}\nchanges:\n{DROP_A}"),
    ["p.yaml:1:25: error[E108]: `batch_size` must be at least 1 (at backfill.batch_size)",]
);
case!(
    zero_backfill_workers,
    &format!("backfill: {{ workers: 0 }}\nchanges:\n{DROP_A}"),
    ["p.yaml:1:22: error[E108]: `workers: 0` must be from 1 to 64 (at backfill.workers)",]
);
case!(
    too_many_backfill_workers,
    &format!("backfill:\n  workers: 65\nchanges:\n{DROP_A}"),
    ["p.yaml:2:12: error[E108]: `workers: 65` must be from 1 to 64 (at backfill.workers)",]
);
case!(unknown_backfill_setting, &format!("backfill: {{ batch: 10 }}\nchanges:\n{DROP_A}"), [
    "p.yaml:1:13: error[E102]: unknown key `batch` (at backfill.batch) [help: did you mean `batch_size`?]",
]);
case!(every_bad_change_is_reported, "changes:\n  - drop_column: { table: users }\n  - drop_column: { table: users, column: a }\n  - rename_table: { from: a, to: a }\n", [
    "p.yaml:2:5: error[E103]: missing key `column` (at changes[0].drop_column)",
    "p.yaml:4:34: error[E306]: `from` and `to` are both `a` (at changes[2].rename_table.to)",
]);

#[test]
fn binary_junk_is_not_text() {
    let junk: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 | 0x80)
        .collect();
    assert_findings(
        &[("p.yaml", &junk)],
        &["p.yaml: error[E109]: plan file is not UTF-8 text"],
    );
}

#[test]
fn ten_megabyte_file_is_refused_without_reading_it() {
    let big = format!(
        "description: \"{}\"\nchanges: []\n",
        "x".repeat(10 * 1024 * 1024)
    );
    assert_findings(
        &[("p.yaml", big.as_bytes())],
        &["p.yaml: error[E110]: plan file is 10485788 bytes; plans are at most 1048576 bytes"],
    );
}

#[test]
fn yaml_bomb_of_anchors_is_refused() {
    let mut yaml = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x]\n");
    for i in 1..9 {
        let prev = format!("*a{}", i - 1);
        yaml.push_str(&format!("a{i}: &a{i} [{}]\n", vec![prev; 9].join(", ")));
    }
    yaml.push_str("changes: *a8\n");
    assert_findings(
        &[("p.yaml", yaml.as_bytes())],
        &["p.yaml: error[E100]: invalid YAML: repetition limit exceeded"],
    );
}

#[test]
fn deeply_nested_yaml_is_refused() {
    let yaml = format!("changes: {}{}\n", "[".repeat(10_000), "]".repeat(10_000));
    let (lines, plans) = findings(&[("p.yaml", yaml.as_bytes())]);
    assert_eq!(plans, 0);
    assert_eq!(lines.len(), 1);
    assert!(
        lines[0].starts_with("p.yaml:1:")
            && lines[0].contains("error[E100]: invalid YAML: recursion limit exceeded"),
        "{lines:?}"
    );
}

// --- identifiers ------------------------------------------------------------------------

case!(
    empty_identifier,
    "changes:\n  - drop_column: { table: \"\", column: a }\n",
    ["p.yaml:2:27: error[E200]: identifier is empty (at changes[0].drop_column.table)",]
);
case!(identifier_too_long, &format!("changes:\n  - drop_column: {{ table: users, column: {} }}\n", "c".repeat(64)), [
    &format!("p.yaml:2:42: error[E201]: identifier `{}` is 64 bytes long; PostgreSQL allows at most 63 (at changes[0].drop_column.column) [help: PostgreSQL would silently cut it, so switchback refuses it]", "c".repeat(64)),
]);
case!(identifier_with_control_character, "changes:\n  - drop_column: { table: \"us\\ters\", column: a }\n", [
    "p.yaml:2:27: error[E200]: identifier \"us\\ters\" contains a control character (at changes[0].drop_column.table)",
]);
case!(identifier_with_outer_space, "changes:\n  - drop_column: { table: \" users\", column: a }\n", [
    "p.yaml:2:27: error[E200]: identifier \" users\" starts or ends with white space (at changes[0].drop_column.table)",
]);
case!(upper_case_identifier_warns, "changes:\n  - drop_column: { table: Users, column: a }\n", [
    "p.yaml:2:27: warning[W500]: identifier `Users` has upper-case letters; switchback quotes identifiers, so this names \"Users\", not users (at changes[0].drop_column.table) [help: write names as PostgreSQL stores them: lower-case unless created quoted]",
]);

// --- SQL fragments ----------------------------------------------------------------------

case!(fill_that_does_not_parse, "changes:\n  - set_not_null: { table: users, column: email, fill: \"lower(\" }\n", [
    "p.yaml:2:56: error[E202]: invalid SQL expression: syntax error at end of input (at changes[0].set_not_null.fill)",
]);
case!(fill_with_two_expressions, "changes:\n  - set_not_null: { table: users, column: email, fill: \"1, 2\" }\n", [
    "p.yaml:2:56: error[E202]: invalid SQL expression: `1, 2` is not a single SQL expression (at changes[0].set_not_null.fill)",
]);
case!(fill_smuggling_a_from_clause, "changes:\n  - set_not_null: { table: users, column: email, fill: \"email FROM pg_authid\" }\n", [
    "p.yaml:2:56: error[E202]: invalid SQL expression: `email FROM pg_authid` is not a single SQL expression (at changes[0].set_not_null.fill)",
]);
case!(fill_smuggling_a_statement, "changes:\n  - set_not_null: { table: users, column: email, fill: \"1; DROP TABLE users\" }\n", [
    "p.yaml:2:56: error[E202]: invalid SQL expression: syntax error at or near \";\" (at changes[0].set_not_null.fill)",
]);
case!(type_that_does_not_parse, "changes:\n  - add_column: { table: users, column: { name: a, type: \"int int\" } }\n", [
    "p.yaml:2:58: error[E203]: invalid SQL type: syntax error at or near \"int\" (at changes[0].add_column.column.type)",
]);
case!(raw_sql_that_does_not_parse, "changes:\n  - sql: { up: \"SELEC 1\" }\n", [
    "p.yaml:2:16: error[E204]: invalid SQL: syntax error at or near \"SELEC\" (at changes[0].sql.up)",
]);
case!(default_that_reads_a_column, "changes:\n  - set_default: { table: users, column: a, default: \"b + 1\" }\n", [
    "p.yaml:2:54: error[E202]: a column default cannot refer to columns (at changes[0].set_default.default)",
]);
case!(unknown_lock_mode, "changes:\n  - sql: { up: \"SELECT 1\", lock: exclusive_access }\n", [
    "p.yaml:2:34: error[E108]: `exclusive_access` is not a lock mode (at changes[0].sql.lock) [help: did you mean `access_exclusive`?]",
]);

// --- conflicts inside a plan ------------------------------------------------------------

case!(column_used_after_rename, "changes:\n  - rename_column: { table: users, from: name, to: full_name }\n  - set_not_null: { table: users, column: name, fill: \"''\" }\n", [
    "p.yaml:3:5: error[E300]: column `name` of `users` is renamed to `full_name` by changes[0] (at changes[1].set_not_null) [help: a later change must use the column's new name, or run in a later plan]",
]);
case!(column_used_after_drop, "changes:\n  - drop_column: { table: users, column: a }\n  - add_index: { table: users, name: i, columns: [a] }\n", [
    "p.yaml:3:5: error[E300]: column `a` of `users` is dropped by changes[0] (at changes[1].add_index) [help: a later change must use the column's new name, or run in a later plan]",
]);
case!(two_changes_fill_one_column, "changes:\n  - set_not_null: { table: users, column: email, fill: \"'a'\" }\n  - add_check: { table: users, name: c, check: \"email <> ''\", fill: { column: email, value: \"'b'\" } }\n", [
    "p.yaml:3:5: error[E301]: column `email` of `users` is also written by changes[0] (at changes[1].add_check) [help: one backfill pass cannot give a column two values; split the changes into two plans]",
]);
case!(two_changes_set_one_default, "changes:\n  - set_default: { table: users, column: a, default: 1 }\n  - drop_default: { table: users, column: a }\n", [
    "p.yaml:3:5: error[E301]: changes[0] also changes the default of column `a` of `users` (at changes[1].drop_default)",
]);
case!(backfill_reading_a_column_filled_in_the_same_pass, "changes:\n  - set_not_null: { table: users, column: email, fill: \"'x'\" }\n  - add_column: { table: users, column: { name: domain, type: text }, backfill: \"split_part(email, '@', 2)\" }\n", [
    "p.yaml:3:5: error[E301]: this change computes from column `email` of `users`, which changes[0] fills in the same backfill pass (at changes[1].add_column) [help: one UPDATE cannot read its own result; move this change to a later plan]",
]);
case!(index_on_a_column_retyped_in_the_same_plan, "changes:\n  - add_index: { table: orders, name: i, columns: [amount] }\n  - change_type: { table: orders, column: amount, type: bigint, down: \"amount::int\" }\n", [
    "p.yaml:2:5: error[E301]: this change makes an index or constraint on column `amount` of `orders`, and changes[1] changes its type: the new column takes over only the objects the column had before the plan, so this one would be dropped with the old column at contract (at changes[0].add_index) [help: put this change in a plan that depends on this one]",
]);
case!(unique_on_a_column_renamed_later_in_the_plan, "changes:\n  - add_unique: { table: users, name: u, columns: [name] }\n  - rename_column: { table: users, from: name, to: full_name }\n", [
    "p.yaml:2:5: error[E301]: this change makes an index or constraint on column `name` of `users`, and changes[1] has it renamed to `full_name`: the new column takes over only the objects the column had before the plan, so this one would be dropped with the old column at contract (at changes[0].add_unique) [help: put this change in a plan that depends on this one]",
]);
case!(duplicate_index_name, "changes:\n  - add_index: { table: users, name: i, columns: [a] }\n  - add_unique: { table: users, name: i, columns: [b] }\n", [
    "p.yaml:3:39: error[E302]: changes[0] already creates an index or constraint named `i` (at changes[1].add_unique.name)",
]);
case!(not_null_column_without_value, "changes:\n  - add_column: { table: users, column: { name: a, type: int, nullable: false } }\n", [
    "p.yaml:2:73: error[E303]: column `a` is NOT NULL but has neither `default` nor `backfill`, so existing rows would have no value (at changes[0].add_column.column.nullable) [help: add `default:` or `backfill:`, or add the column nullable and use set_not_null with `fill` later]",
]);
case!(table_used_after_drop, "changes:\n  - drop_table: { name: audit }\n  - drop_column: { table: audit, column: a }\n", [
    "p.yaml:3:5: error[E304]: table `audit` is dropped by changes[0] (at changes[1].drop_column) [help: refer to the table by the name it has after that change]",
]);
case!(table_used_by_old_name_after_rename, "changes:\n  - rename_table: { from: orders, to: purchases }\n  - drop_column: { table: orders, column: a }\n", [
    "p.yaml:3:5: error[E304]: table `orders` is renamed to `purchases` by changes[0] (at changes[1].drop_column) [help: refer to the table by the name it has after that change]",
]);
case!(table_with_duplicate_column_and_missing_key, "changes:\n  - create_table: { name: t, columns: [{ name: a, type: int }, { name: a, type: int }], primary_key: [id] }\n", [
    "p.yaml:2:72: error[E305]: column `a` is defined twice (at changes[0].create_table.columns[1].name)",
    "p.yaml:2:103: error[E305]: primary key column `id` is not among the table's columns (at changes[0].create_table.primary_key[0])",
]);
case!(
    table_without_columns,
    "changes:\n  - create_table: { name: t, columns: [] }\n",
    ["p.yaml:2:39: error[E305]: table `t` has no columns (at changes[0].create_table.columns)",]
);
case!(
    rename_to_the_same_name,
    "changes:\n  - rename_column: { table: users, from: a, to: a }\n",
    ["p.yaml:2:49: error[E306]: `from` and `to` are both `a` (at changes[0].rename_column.to)",]
);
case!(foreign_key_column_count_mismatch, "changes:\n  - add_foreign_key: { table: o, name: f, columns: [a, b], references: { table: users, columns: [id] } }\n", [
    "p.yaml:2:97: error[E108]: the foreign key has 2 column(s) but references 1 (at changes[0].add_foreign_key.references.columns)",
]);

// --- across plans -----------------------------------------------------------------------

const OK_PLAN: &[u8] = b"changes:\n  - drop_column: { table: users, column: a }\n";

#[test]
fn duplicate_plan_id() {
    assert_findings(
        &[("a.yaml", OK_PLAN), ("a.yml", OK_PLAN)],
        &["a.yml: error[E400]: plan id `a` is also the id of a.yaml"],
    );
}

#[test]
fn unknown_dependency_with_suggestion() {
    let b = b"depends_on: [20261101_create_user]\nchanges:\n  - drop_column: { table: users, column: a }\n";
    assert_findings(
        &[("20261101_create_users.yaml", OK_PLAN), ("b.yaml", b)],
        &["b.yaml:1:14: error[E401]: `depends_on` names `20261101_create_user`, which is not among the plans given (at depends_on[0]) [help: did you mean `20261101_create_users`?]"],
    );
}

#[test]
fn plan_depending_on_itself() {
    let a = b"depends_on: [a]\nchanges:\n  - drop_column: { table: users, column: a }\n";
    assert_findings(
        &[("a.yaml", a)],
        &["a.yaml:1:14: error[E402]: a plan cannot depend on itself (at depends_on[0])"],
    );
}

#[test]
fn dependency_cycle() {
    let a = b"depends_on: [c]\nchanges:\n  - drop_column: { table: users, column: a }\n";
    let b = b"depends_on: [a]\nchanges:\n  - drop_column: { table: users, column: b }\n";
    let c = b"depends_on: [b]\nchanges:\n  - drop_column: { table: users, column: c }\n";
    let (lines, plans) = findings(&[("a.yaml", a), ("b.yaml", b), ("c.yaml", c)]);
    assert_eq!(
        lines,
        ["a.yaml: error[E402]: plans depend on each other in a cycle: a -> b -> c -> a"]
    );
    assert_eq!(plans, 0, "plans in a cycle cannot run");
}

#[test]
fn the_example_plans_are_clean() {
    let set = folder::load(&[Path::new(env!("CARGO_MANIFEST_DIR")).join("plans")]).unwrap();
    assert_eq!(set.diagnostics, []);
    assert_eq!(set.plans.len(), set.files);
    let kinds: std::collections::BTreeSet<&str> = set
        .plans
        .iter()
        .flat_map(|p| p.changes.iter().map(|c| c.kind()))
        .collect();
    assert_eq!(
        kinds.len(),
        switchback::plan::change::catalogue().count(),
        "plans/ has an example of every change kind"
    );
}

#[test]
fn random_mutations_of_the_example_plans_never_panic() {
    let mut rng = fastrand::Rng::with_seed(20261122);
    let pieces = [
        ":", " ", "\n", "-", "{", "}", "[", "]", "'", "\"", "&a", "*a", "!!", "#", "\t", ",", "é",
        "\u{0}", "$", ";", "(", ")", "::",
    ];
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("plans");
    let mut checked = 0;
    for file in folder::plan_files(&folder).unwrap() {
        let original = std::fs::read_to_string(&file).unwrap();
        for _ in 0..150 {
            let mut text: Vec<char> = original.chars().collect();
            for _ in 0..rng.usize(1..6) {
                let at = rng.usize(..=text.len());
                match rng.u8(..3) {
                    0 if at < text.len() => {
                        text.remove(at);
                    }
                    1 => text
                        .splice(at..at, pieces[rng.usize(..pieces.len())].chars())
                        .for_each(drop),
                    _ if at < text.len() => {
                        text[at] = pieces[rng.usize(..pieces.len())].chars().next().unwrap()
                    }
                    _ => {}
                }
            }
            let mutated: String = text.into_iter().collect();
            let (plan, findings) = switchback::plan::check_text(Path::new("p.yaml"), &mutated);
            assert!(
                plan.is_some() || findings.iter().any(|d| d.is_error()),
                "no plan and no error for:\n{mutated}"
            );
            if let Some(plan) = plan {
                let _ = plan.steps("switchback", None);
            }
            checked += 1;
        }
    }
    assert!(checked >= 3000);
}

/// A fill written as a bare value fills the one column its check reads: the same steps as
/// the mapping.
#[test]
fn a_bare_fill_is_the_mapping_with_the_checked_column() {
    let steps = |fill: &str| {
        let yaml = format!("changes:\n  - add_check: {{ table: users, name: c, check: \"score >= 0\", fill: {fill} }}\n");
        let (plan, findings) = switchback::plan::check_text(Path::new("p.yaml"), &yaml);
        assert!(findings.is_empty(), "{findings:?}");
        let steps = plan.unwrap().steps("switchback", None).steps;
        steps
            .iter()
            .flat_map(|s| s.statements.iter().map(|x| x.sql.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(steps("0"), steps("{ column: score, value: 0 }"));
    assert!(
        steps("0").iter().any(|s| s.contains("\"score\" = 0")),
        "{:?}",
        steps("0")
    );
}
