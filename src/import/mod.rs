//! `switchback import`: SQL migrations (as `plan::migration` reads them) become plan files.
//! Each statement is mapped onto the change kind that does the same without blocking the
//! application; statements that belong together become one change (`ADD COLUMN`, `UPDATE`
//! and `SET NOT NULL` are one `add_column` with `backfill:`), a `DROP COLUMN` beside an
//! `ADD COLUMN` of the same type is imported as the rename it probably is, and what has no
//! safe equivalent stays a `sql` change, which the plan's own checks then judge. Every change
//! says where it came from; every finding is placed in the SQL file. A down part, where
//! the migration has one, is compared with the plan's own undo.

mod deparse;
mod down;
mod map;

use crate::plan::diagnostic::{self, Code, Diagnostic, Position};
use crate::plan::migration::{self, Migration};
use serde_yaml::{Mapping, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// One imported migration: its plan file's text and what the import found.
#[derive(Debug)]
pub struct ImportedPlan {
    /// The plan's id and file stem: the migration's name.
    pub id: String,
    pub text: String,
    /// Findings placed in the SQL files: parse errors, probable renames, values to write,
    /// statements kept as raw SQL, and what the plan's own checks say about the result.
    pub findings: Vec<Diagnostic>,
    /// Whether every statement found a change the plan checks accept.
    pub valid: bool,
}

/// One change of the plan being built, with the statement it came from.
struct Entry {
    file: PathBuf,
    at: Position,
    kind: &'static str,
    fields: Mapping,
    /// Why it is what it is, as a comment above it (a raw statement's reason).
    note: Option<String>,
}

/// The column types the migrations declare, so a later type change can write its `down`
/// and a DROP + ADD pair can be compared.
#[derive(Default)]
struct Schema {
    types: HashMap<(String, String), String>,
}

/// Imports `migrations` in order; each plan depends on the one before it.
pub fn import(migrations: &[Migration], out_dir: &Path) -> Vec<ImportedPlan> {
    let mut schema = Schema::default();
    let mut previous: Option<String> = None;
    let mut plans = Vec::new();
    for m in migrations {
        let (statements, mut findings) = migration::read(&m.up);
        let mut builder = map::Builder::new(&m.up.file, &mut schema);
        for s in &statements {
            builder.statement(s);
        }
        let (entries, found) = builder.finish();
        findings.extend(found);
        if let Some(down) = &m.down {
            let (statements, found) = migration::read(down);
            findings.extend(found);
            findings.extend(down::compare(&entries, &statements, &down.file));
        }
        // The second part, when there is one, sorts after the first and completes the
        // migration: it carries the record.
        let (first, then) = split_after_type_changes(entries);
        let second = format!("{}_2", m.name);
        let mut parts = vec![Part {
            id: &m.name,
            record: then.is_empty(),
            entries: &first,
        }];
        if !then.is_empty() {
            parts.push(Part {
                id: &second,
                record: true,
                entries: &then,
            });
        }
        for part in parts {
            let found = std::mem::take(&mut findings);
            let plan = import_part(m, part, found, previous.as_deref(), out_dir);
            previous = Some(plan.id.clone());
            plans.push(plan);
        }
    }
    plans
}

/// The changes of a migration that make an index or constraint over a column another of its
/// changes retypes go to a second plan, after the first has completed: the type change's new
/// column takes over only the objects the column had when its plan first ran (E301).
fn split_after_type_changes(entries: Vec<Entry>) -> (Vec<Entry>, Vec<Entry>) {
    let field = |e: &Entry, key: &str| e.fields.get(key).and_then(Value::as_str).map(str::to_owned);
    let retyped: Vec<(String, String)> = entries
        .iter()
        .filter(|e| e.kind == "change_type")
        .filter_map(|e| Some((field(e, "table")?, field(e, "column")?)))
        .collect();
    entries.into_iter().partition(|e| {
        let over = e.fields.get("columns").and_then(Value::as_sequence);
        let table = field(e, "table");
        !(matches!(e.kind, "add_index" | "add_unique" | "add_foreign_key")
            && over.is_some_and(|columns| {
                columns.iter().filter_map(Value::as_str).any(|c| {
                    retyped
                        .iter()
                        .any(|(t, r)| Some(t) == table.as_ref() && r == c)
                })
            }))
    })
}

/// One plan of a migration: all of it, or one of the two parts a type change splits it in.
struct Part<'a> {
    id: &'a str,
    /// Whether completing this plan completes the migration, for the tool's own table.
    record: bool,
    entries: &'a [Entry],
}

fn import_part(
    m: &Migration,
    part: Part,
    mut findings: Vec<Diagnostic>,
    previous: Option<&str>,
    out_dir: &Path,
) -> ImportedPlan {
    let entries = part.entries;
    let id = part.id.to_owned();
    let plan_path = out_dir.join(format!("{id}.yaml"));
    let mut text = render(m, &part, previous, false);
    let (mut plan, mut checked) = crate::plan::check_text(&plan_path, &text);
    // Upper-case names came from the SQL quoted, so the case is the one the catalog has.
    if checked.iter().any(|d| d.code == Code::CaseFolding) {
        text = render(m, &part, previous, true);
        (plan, checked) = crate::plan::check_text(&plan_path, &text);
    }
    for d in checked {
        findings.push(place(d, entries));
    }
    if entries.is_empty() {
        findings.push(Diagnostic {
            code: Code::EmptyPlan,
            severity: Code::EmptyPlan.severity(),
            file: m.up.file.clone(),
            position: None,
            field: String::new(),
            message: "the migration has no statement to import".into(),
            help: None,
        });
    }
    diagnostic::sort(&mut findings);
    let valid = plan.is_some() && !findings.iter().any(Diagnostic::is_error);
    ImportedPlan {
        id,
        text,
        findings,
        valid,
    }
}

/// A finding of the plan's checks, moved to the SQL statement its change came from.
fn place(mut d: Diagnostic, entries: &[Entry]) -> Diagnostic {
    let index = d
        .field
        .strip_prefix("changes[")
        .and_then(|rest| rest.split(']').next())
        .and_then(|i| i.parse::<usize>().ok());
    if let Some(entry) = index.and_then(|i| entries.get(i)) {
        d.message = format!("{} (in the imported plan, at {})", d.message, d.field);
        d.file = entry.file.clone();
        d.position = Some(entry.at);
        d.field = String::new();
    }
    d
}

fn render(m: &Migration, part: &Part, previous: Option<&str>, quoted_names: bool) -> String {
    let entries = part.entries;
    let mut out = format!(
        "# Imported by `switchback import` from {} ({}).\n",
        m.up.file.display(),
        m.format.name()
    );
    let mut description = format!("{} migration {}", m.format.name(), m.name);
    if part.id != m.name {
        description.push_str(": its indexes and constraints over the columns it retypes, once the new types are in place");
    }
    out.push_str(&yaml_line("description", &Value::String(description)));
    if let Some(previous) = previous {
        out.push_str(&format!("depends_on: [{}]\n", yaml_scalar(previous)));
    }
    if let Some(entry) = m.record().filter(|_| part.record) {
        let mut header = Mapping::new();
        header.insert(
            Value::String("record".into()),
            Value::Mapping(entry.to_yaml()),
        );
        out.push_str(&format!(
            "# Written to {}'s own table when the plan completes, so its migrate skips it.\n",
            m.format.name()
        ));
        out.push_str(
            &serde_yaml::to_string(&Value::Mapping(header)).expect("a mapping serializes"),
        );
    }
    if quoted_names {
        out.push_str("allow: [W500]\nreason: the migration created these names quoted, so their case is the catalog's\n");
    }
    out.push_str("changes:\n");
    for entry in entries {
        out.push_str(&format!(
            "  # from {}:{}\n",
            entry.file.display(),
            entry.at.line
        ));
        if let Some(note) = &entry.note {
            for line in note.lines() {
                out.push_str(&format!("  # {line}\n"));
            }
        }
        let mut change = Mapping::new();
        change.insert(
            Value::String(entry.kind.into()),
            Value::Mapping(entry.fields.clone()),
        );
        let body = serde_yaml::to_string(&Value::Mapping(change)).expect("a mapping serializes");
        for (i, line) in body.lines().enumerate() {
            out.push_str(if i == 0 { "  - " } else { "    " });
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

fn yaml_scalar(text: &str) -> String {
    serde_yaml::to_string(&Value::String(text.into()))
        .expect("a string serializes")
        .trim_end()
        .to_owned()
}

fn yaml_line(key: &str, value: &Value) -> String {
    let mut m = Mapping::new();
    m.insert(Value::String(key.into()), value.clone());
    serde_yaml::to_string(&Value::Mapping(m)).expect("a mapping serializes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::migration::{Format, Part, Transaction};

    fn imported(sql: &str) -> ImportedPlan {
        let m = Migration {
            name: "0001_x".into(),
            format: Format::Plain,
            up: Part::whole(Path::new("m.sql"), sql.into()),
            down: None,
            transaction: Transaction::Autocommit,
            created_at_ms: None,
        };
        import(&[m], Path::new("out")).remove(0)
    }

    fn changes(plan: &ImportedPlan) -> String {
        plan.text
            .lines()
            .skip_while(|l| *l != "changes:")
            .skip(1)
            .filter(|l| !l.trim_start().starts_with("# from"))
            .map(|l| format!("{l}\n"))
            .collect()
    }

    #[test]
    fn joins_add_column_update_and_set_not_null() {
        let plan = imported("ALTER TABLE orders ADD COLUMN status varchar(20);\nUPDATE orders SET status = 'new';\nALTER TABLE orders ALTER COLUMN status SET NOT NULL;\n");
        assert_eq!(
            changes(&plan),
            "  - add_column:\n      table: orders\n      column:\n        name: status\n        type: varchar(20)\n        nullable: false\n      backfill: '''new'''\n"
        );
        assert!(plan.valid, "{:#?}", plan.findings);
    }

    #[test]
    fn an_update_of_the_nulls_before_set_not_null_is_its_fill() {
        let plan = imported("UPDATE orders SET status = 'pending' WHERE status IS NULL;\nALTER TABLE orders ALTER COLUMN status SET NOT NULL;\n");
        assert_eq!(
            changes(&plan),
            "  - set_not_null:\n      table: orders\n      column: status\n      fill: '''pending'''\n"
        );
        // Without the SET NOT NULL of its column after it, the UPDATE runs as written.
        let plan = imported("UPDATE orders SET status = 'pending' WHERE status IS NULL;\nALTER TABLE orders ALTER COLUMN amount SET NOT NULL;\n");
        let text = changes(&plan);
        assert!(
            text.starts_with("  # kept as raw SQL: a data change runs as written, in one transaction\n  - sql:\n"),
            "{text}"
        );
        assert!(
            text.contains("  - set_not_null:\n      table: orders\n      column: amount\n"),
            "{text}"
        );
        assert!(plan.findings.iter().any(|d| d.code == Code::KeptAsSql));
    }

    #[test]
    fn a_drop_and_add_of_one_type_is_a_probable_rename() {
        let plan = imported("CREATE TABLE \"User\" (id bigint PRIMARY KEY, name text);\nALTER TABLE \"User\" DROP COLUMN \"name\",\nADD COLUMN \"fullName\" TEXT NOT NULL;\n");
        let text = changes(&plan);
        assert!(
            text.contains(
                "  - rename_column:\n      table: User\n      from: name\n      to: fullName\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("  - set_not_null:\n      table: User\n      column: fullName\n"),
            "{text}"
        );
        assert!(!text.contains("drop_column"), "{text}");
        let rename = plan
            .findings
            .iter()
            .find(|d| d.code == Code::ProbableRename)
            .expect("a probable rename finding");
        assert_eq!(rename.position, Some(Position { line: 2, column: 1 }));
    }

    #[test]
    fn if_not_exists_and_if_exists_are_carried_as_conditions() {
        let plan = imported(concat!(
            "CREATE TABLE IF NOT EXISTS \"audit\" (id bigint PRIMARY KEY);\n",
            "CREATE INDEX IF NOT EXISTS \"audit_id_idx\" ON \"audit\" (id);\n",
            "ALTER TABLE \"users\" ADD COLUMN IF NOT EXISTS \"nick\" text;\n",
            "ALTER TABLE \"users\" DROP COLUMN IF EXISTS \"legacy\";\n",
            "ALTER TABLE IF EXISTS \"users\" DROP COLUMN \"old\";\n",
            "DROP INDEX IF EXISTS \"users_legacy_idx\";\n",
            "DROP TABLE IF EXISTS \"scratch\";\n",
        ));
        assert_eq!(
            changes(&plan),
            concat!(
                "  - create_table:\n      name: audit\n      columns:\n      - name: id\n        type: bigint\n        nullable: false\n      primary_key:\n      - id\n      if_not_exists: true\n",
                "  - add_index:\n      table: audit\n      name: audit_id_idx\n      columns:\n      - id\n      if_not_exists: true\n",
                "  - add_column:\n      table: users\n      column:\n        name: nick\n        type: text\n      if_not_exists: true\n",
                "  - drop_column:\n      table: users\n      column: legacy\n      if_exists: true\n",
                "  - drop_column:\n      table: users\n      column: old\n      if_exists: true\n",
                "  - drop_index:\n      name: users_legacy_idx\n      if_exists: true\n",
                "  - drop_table:\n      name: scratch\n      if_exists: true\n",
            )
        );
        assert!(plan.valid, "{:#?}", plan.findings);
        // A conditional DROP and ADD is no rename: each runs on its own condition.
        let plan = imported("ALTER TABLE \"User\" DROP COLUMN IF EXISTS \"name\", ADD COLUMN IF NOT EXISTS \"fullName\" text;\n");
        assert!(!changes(&plan).contains("rename_column"), "{}", plan.text);
        // ALTER TABLE IF EXISTS with more than drops has no kind that says it.
        let plan = imported("ALTER TABLE IF EXISTS \"users\" ADD COLUMN \"nick\" text;\n");
        assert!(changes(&plan).contains("  - sql:\n"), "{}", plan.text);
    }

    #[test]
    fn an_index_over_a_retyped_column_goes_to_a_second_plan() {
        let m = Migration {
            name: "0001_x".into(),
            format: Format::Plain,
            up: Part::whole(Path::new("m.sql"), "ALTER TABLE orders ALTER COLUMN amount TYPE bigint;\nCREATE INDEX CONCURRENTLY orders_amount_idx ON orders (amount);\nCREATE INDEX orders_note_idx ON orders (note);\n".into()),
            down: None,
            transaction: Transaction::Autocommit,
            created_at_ms: None,
        };
        let plans = import(&[m], Path::new("out"));
        let ids: Vec<&str> = plans.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["0001_x", "0001_x_2"]);
        assert!(plans.iter().all(|p| p.valid), "{plans:#?}");
        let first = changes(&plans[0]);
        assert!(
            first.contains("change_type") && first.contains("orders_note_idx"),
            "{first}"
        );
        assert!(!first.contains("orders_amount_idx"), "{first}");
        assert!(
            plans[1].text.contains("depends_on: [0001_x]\n"),
            "{}",
            plans[1].text
        );
        assert!(changes(&plans[1]).contains("name: orders_amount_idx"));
    }

    #[test]
    fn cascade_is_reported_not_carried() {
        let plan = imported("DROP TABLE \"scratch\" CASCADE;\nALTER TABLE \"users\" DROP COLUMN \"legacy\" CASCADE;\n");
        let text = changes(&plan);
        assert!(
            text.contains("  - drop_table:\n      name: scratch\n"),
            "{text}"
        );
        assert!(
            text.contains("  - drop_column:\n      table: users\n      column: legacy\n"),
            "{text}"
        );
        let lines: Vec<usize> = plan
            .findings
            .iter()
            .filter(|d| d.code == Code::CascadeLeftOut)
            .filter_map(|d| d.position.map(|p| p.line))
            .collect();
        assert_eq!(lines, [1, 2]);
        let plan = imported("DROP TABLE \"scratch\";\n");
        assert!(plan.findings.iter().all(|d| d.code != Code::CascadeLeftOut));
    }

    #[test]
    fn unsafe_statements_without_a_kind_stay_sql_with_the_verdict() {
        let plan = imported("TRUNCATE orders;\n");
        assert!(changes(&plan).contains("  - sql:\n      up: TRUNCATE orders\n"));
        assert!(!plan.valid);
        let codes: Vec<Code> = plan.findings.iter().map(|d| d.code).collect();
        assert!(codes.contains(&Code::RawTruncate), "{codes:?}");
        assert_eq!(
            plan.findings
                .iter()
                .find(|d| d.code == Code::RawTruncate)
                .unwrap()
                .position,
            Some(Position { line: 1, column: 1 })
        );
    }

    #[test]
    fn type_change_down_from_the_type_the_migrations_declared() {
        let plan = imported("CREATE TABLE t (id bigint PRIMARY KEY, amount integer NOT NULL);\nALTER TABLE t ALTER COLUMN amount TYPE bigint USING amount::bigint;\n");
        assert!(
            changes(&plan).contains("  - change_type:\n      table: t\n      column: amount\n      type: bigint\n      up: amount::bigint\n      down: amount::int\n"),
            "{}",
            plan.text
        );
    }
}
