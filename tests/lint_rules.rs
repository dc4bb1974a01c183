//! `allow:` and `unsafe:` silencing lint rules, and `docs/rules.md` kept in step with them.
//! (Each rule's own tests, a plan that fires it and the safe way, are beside it in
//! `src/plan/lint/`.)

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
case!(unsafe_needs_a_reason, "changes:\n  - sql: { up: \"TRUNCATE users\", unsafe: true }\n", [
    "p.yaml:2:34: error[E307]: `unsafe` needs a `reason:` beside it (at changes[0].sql.unsafe) [help: say why the rule does not apply here, for whoever reads the plan next]",
]);
case!(unsafe_only_on_sql, "changes:\n  - set_not_null: { table: users, column: email, fill: 0, unsafe: true }\n", [
    "p.yaml:2:59: error[E102]: unknown key `unsafe` (at changes[0].set_not_null.unsafe) [help: expected one of `table`, `column`, `fill`]",
]);
case!(unsafe_silences_raw_rules, "changes:\n  - sql:\n      up: \"VACUUM FULL users; LOCK TABLE users\"\n      unsafe: true\n      reason: run in the maintenance window\n", [
]);

#[test]
fn docs_rules_md_is_generated_from_the_code() {
    let docs =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/rules.md")).unwrap();
    assert!(
        docs == switchback::plan::explain::markdown(),
        "docs/rules.md is stale: run `cargo run -- validate --explain all > docs/rules.md`"
    );
}
