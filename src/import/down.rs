//! The migration's down part against the imported plan's own undo. switchback does not run
//! the down part: until contract, `abort` undoes the plan exactly. But a team's down part
//! says what they believe the migration does, so where the two disagree one of them is
//! wrong: an undo the down part forgets (an index left behind), a down statement that
//! undoes nothing the up part did, or a down part that re-creates what the up part dropped
//! (empty: the data is gone once contract has run).

use super::map::names;
use super::Entry;
use crate::plan::diagnostic::{Code, Diagnostic};
use crate::plan::migration::statements::{finding, Statement};
use crate::plan::sql::alter_commands;
use pg_query::protobuf::{AlterTableType, ConstrType, ObjectType};
use pg_query::NodeEnum;
use serde_yaml::{Mapping, Value};
use std::path::Path;

/// One schema effect, as both sides are reduced to them.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Effect {
    CreateTable(String),
    DropTable(String),
    AddColumn(String, String),
    DropColumn(String, String),
    RenameColumn(String, String, String),
    RenameTable(String, String),
    CreateIndex(String),
    /// The index, and its table and columns when known (a dropped table or column takes it).
    DropIndex(String, Option<(String, Vec<String>)>),
    AddConstraint(String, String),
    DropConstraint(String, String),
    SetNotNull(String, String),
    DropNotNull(String, String),
    /// SET DEFAULT or DROP DEFAULT: either can undo the other.
    Default(String, String),
    ChangeType(String, String),
}

impl Effect {
    /// How the effect reads in a message.
    fn describe(&self) -> String {
        match self {
            Effect::CreateTable(t) => format!("create table `{t}`"),
            Effect::DropTable(t) => format!("drop table `{t}`"),
            Effect::AddColumn(t, c) => format!("add column `{t}`.`{c}`"),
            Effect::DropColumn(t, c) => format!("drop column `{t}`.`{c}`"),
            Effect::RenameColumn(t, a, b) => format!("rename column `{t}`.`{a}` to `{b}`"),
            Effect::RenameTable(a, b) => format!("rename table `{a}` to `{b}`"),
            Effect::CreateIndex(i) => format!("create index `{i}`"),
            Effect::DropIndex(i, _) => format!("drop index `{i}`"),
            Effect::AddConstraint(t, n) => format!("add constraint `{n}` on `{t}`"),
            Effect::DropConstraint(t, n) => format!("drop constraint `{n}` on `{t}`"),
            Effect::SetNotNull(t, c) => format!("set `{t}`.`{c}` NOT NULL"),
            Effect::DropNotNull(t, c) => format!("drop NOT NULL of `{t}`.`{c}`"),
            Effect::Default(t, c) => format!("change the default of `{t}`.`{c}`"),
            Effect::ChangeType(t, c) => format!("change the type of `{t}`.`{c}`"),
        }
    }

    /// Whether `self`, expected of the down part, is done by `done`: itself, or implied by
    /// dropping the table or column it belongs to.
    fn done_by(&self, done: &Effect) -> bool {
        if self == done {
            return true;
        }
        let on_column = |t: &str, c: &str| match done {
            Effect::DropTable(d) => d == t,
            Effect::DropColumn(dt, dc) => dt == t && dc == c,
            _ => false,
        };
        match (self, done) {
            (Effect::DropIndex(a, _), Effect::DropIndex(b, _)) => a == b,
            (Effect::DropIndex(_, Some((t, columns))), _) => {
                columns.iter().any(|c| on_column(t, c))
            }
            (Effect::DropConstraint(t, _), Effect::DropTable(d)) => t == d,
            (
                Effect::DropColumn(t, c)
                | Effect::DropNotNull(t, c)
                | Effect::SetNotNull(t, c)
                | Effect::Default(t, c)
                | Effect::ChangeType(t, c),
                _,
            ) => on_column(t, c),
            _ => false,
        }
    }
}

fn field<'a>(fields: &'a Mapping, key: &str) -> &'a str {
    fields.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// What undoes one change of the imported plan; nothing for raw SQL, which cannot be read.
fn undo(entry: &Entry) -> Option<Effect> {
    let f = &entry.fields;
    let table = || field(f, "table").to_owned();
    let column = || field(f, "column").to_owned();
    Some(match entry.kind {
        "create_table" => Effect::DropTable(field(f, "name").into()),
        "drop_table" => Effect::CreateTable(field(f, "name").into()),
        "add_column" => {
            let name = f
                .get("column")
                .and_then(Value::as_mapping)
                .map(|c| field(c, "name"));
            Effect::DropColumn(table(), name.unwrap_or_default().into())
        }
        "drop_column" => Effect::AddColumn(table(), column()),
        "rename_column" => {
            Effect::RenameColumn(table(), field(f, "to").into(), field(f, "from").into())
        }
        "rename_table" => Effect::RenameTable(field(f, "to").into(), field(f, "from").into()),
        "add_index" => {
            let columns = f
                .get("columns")
                .and_then(Value::as_sequence)
                .map(|s| s.iter().filter_map(|c| c.as_str().map(str::to_owned)))
                .map(Iterator::collect)
                .unwrap_or_default();
            Effect::DropIndex(field(f, "name").into(), Some((table(), columns)))
        }
        "drop_index" => Effect::CreateIndex(field(f, "name").into()),
        "add_check" | "add_foreign_key" | "add_unique" => {
            Effect::DropConstraint(table(), field(f, "name").into())
        }
        "set_not_null" => Effect::DropNotNull(table(), column()),
        "drop_not_null" => Effect::SetNotNull(table(), column()),
        "set_default" | "drop_default" => Effect::Default(table(), column()),
        "change_type" => Effect::ChangeType(table(), column()),
        _ => return None,
    })
}

/// What one statement of the down part does.
fn effects(node: &NodeEnum) -> Vec<Effect> {
    match node {
        NodeEnum::CreateStmt(c) => c
            .relation
            .as_ref()
            .map(|r| vec![Effect::CreateTable(r.relname.clone())])
            .unwrap_or_default(),
        NodeEnum::IndexStmt(i) => vec![Effect::CreateIndex(i.idxname.clone())],
        NodeEnum::DropStmt(d) => {
            let objects = d.objects.iter().filter_map(|o| match o.node.as_ref() {
                Some(NodeEnum::List(l)) => names(&l.items).pop(),
                _ => None,
            });
            match ObjectType::try_from(d.remove_type) {
                Ok(ObjectType::ObjectTable) => objects.map(Effect::DropTable).collect(),
                Ok(ObjectType::ObjectIndex) => {
                    objects.map(|i| Effect::DropIndex(i, None)).collect()
                }
                _ => Vec::new(),
            }
        }
        NodeEnum::RenameStmt(r) => {
            let table = r
                .relation
                .as_ref()
                .map(|r| r.relname.clone())
                .unwrap_or_default();
            match ObjectType::try_from(r.rename_type) {
                Ok(ObjectType::ObjectColumn) => {
                    vec![Effect::RenameColumn(
                        table,
                        r.subname.clone(),
                        r.newname.clone(),
                    )]
                }
                Ok(ObjectType::ObjectTable) => vec![Effect::RenameTable(table, r.newname.clone())],
                _ => Vec::new(),
            }
        }
        NodeEnum::AlterTableStmt(a) => {
            let table = a
                .relation
                .as_ref()
                .map(|r| r.relname.clone())
                .unwrap_or_default();
            alter_commands(node)
                .filter_map(|(kind, cmd)| {
                    let (t, c) = (table.clone(), cmd.name.clone());
                    Some(match kind {
                        AlterTableType::AtAddColumn => match cmd.def.as_ref()?.node.as_ref()? {
                            NodeEnum::ColumnDef(d) => Effect::AddColumn(t, d.colname.clone()),
                            _ => return None,
                        },
                        AlterTableType::AtDropColumn => Effect::DropColumn(t, c),
                        AlterTableType::AtSetNotNull => Effect::SetNotNull(t, c),
                        AlterTableType::AtDropNotNull => Effect::DropNotNull(t, c),
                        AlterTableType::AtColumnDefault => Effect::Default(t, c),
                        AlterTableType::AtAlterColumnType => Effect::ChangeType(t, c),
                        AlterTableType::AtDropConstraint => Effect::DropConstraint(t, c),
                        AlterTableType::AtAddConstraint => match cmd.def.as_ref()?.node.as_ref()? {
                            NodeEnum::Constraint(k)
                                if ConstrType::try_from(k.contype)
                                    != Ok(ConstrType::ConstrNotnull) =>
                            {
                                Effect::AddConstraint(t, k.conname.clone())
                            }
                            _ => return None,
                        },
                        _ => return None,
                    })
                })
                .collect()
        }
        _ => Vec::new(),
    }
}

/// Findings where the down part and the plan's undo differ.
pub fn compare(entries: &[Entry], down: &[Statement], down_file: &Path) -> Vec<Diagnostic> {
    let done: Vec<(Effect, &Statement)> = down
        .iter()
        .flat_map(|s| effects(&s.node).into_iter().map(move |e| (e, s)))
        .collect();
    let mut findings = Vec::new();
    let mut used = vec![false; done.len()];
    for entry in entries {
        let Some(expected) = undo(entry) else {
            continue;
        };
        let matched: Vec<usize> = (0..done.len())
            .filter(|&i| expected.done_by(&done[i].0))
            .collect();
        for &i in &matched {
            used[i] = true;
        }
        if matched.is_empty() {
            findings.push(finding(
                &entry.file,
                entry.at,
                Code::DownDiffers,
                format!(
                    "the down part does not {}; switchback's abort does, until contract",
                    expected.describe()
                ),
                None,
            ));
        } else if let Effect::CreateTable(_) | Effect::AddColumn(..) = expected {
            let i = matched[0];
            findings.push(finding(
                down_file,
                done[i].1.at,
                Code::DownLosesData,
                format!(
                    "the down part would {} again, empty: the values are gone once contract has run",
                    expected.describe()
                ),
                Some("before contract, `switchback abort` puts them back".into()),
            ));
        }
    }
    for (i, (effect, statement)) in done.iter().enumerate() {
        if !used[i] {
            findings.push(finding(
                down_file,
                statement.at,
                Code::DownDiffers,
                format!(
                    "the down part would {}, which undoes nothing the up part does",
                    effect.describe()
                ),
                None,
            ));
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use crate::import::import;
    use crate::plan::diagnostic::Code;
    use crate::plan::migration::{Format, Migration, Part, Transaction};
    use std::path::Path;

    fn compared(up: &str, down: &str) -> Vec<String> {
        let m = Migration {
            name: "1_x".into(),
            format: Format::UpDownFiles,
            up: Part::whole(Path::new("1_x.up.sql"), up.into()),
            down: Some(Part::whole(Path::new("1_x.down.sql"), down.into())),
            transaction: Transaction::OneQuery,
            created_at_ms: None,
        };
        let plan = import(&[m], Path::new("out")).remove(0);
        plan.findings
            .iter()
            .filter(|d| matches!(d.code, Code::DownDiffers | Code::DownLosesData))
            .map(|d| {
                let line = d.position.map_or(0, |p| p.line);
                format!(
                    "{}:{line} {} {}",
                    d.file.display(),
                    d.code.as_str(),
                    d.message
                )
            })
            .collect()
    }

    #[test]
    fn a_down_part_that_undoes_the_plan_is_silent() {
        let up = "CREATE TABLE t (id bigint PRIMARY KEY, a int);\nCREATE INDEX t_a_idx ON t (a);\nALTER TABLE u ADD COLUMN x int;\nCREATE INDEX u_x_idx ON u (x);\nALTER TABLE u RENAME COLUMN b TO c;\n";
        let down =
            "ALTER TABLE u RENAME COLUMN c TO b;\nALTER TABLE u DROP COLUMN x;\nDROP TABLE t;\n";
        assert_eq!(compared(up, down), Vec::<String>::new());
    }

    #[test]
    fn forgotten_undos_extra_statements_and_empty_re_creations_are_reported() {
        let up = "ALTER TABLE u ADD CONSTRAINT u_x_check CHECK (x > 0) NOT VALID;\nALTER TABLE v DROP COLUMN old;\n";
        let down = "ALTER TABLE v ADD COLUMN old text;\nDROP INDEX other_idx;\n";
        assert_eq!(
            compared(up, down),
            [
                "1_x.down.sql:1 N804 the down part would add column `v`.`old` again, empty: the values are gone once contract has run",
                "1_x.down.sql:2 W803 the down part would drop index `other_idx`, which undoes nothing the up part does",
                "1_x.up.sql:1 W803 the down part does not drop constraint `u_x_check` on `u`; switchback's abort does, until contract",
            ]
        );
    }
}
