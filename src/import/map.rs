//! Statements to changes. The builder sees a migration's statements in order and keeps the
//! changes it has made so far, so a later statement can complete an earlier change (the
//! `UPDATE` and `SET NOT NULL` of a column just added) instead of becoming a change of its own.

use super::deparse;
use super::{Entry, Schema};
use crate::plan::diagnostic::{Code, Diagnostic, Position};
use crate::plan::migration::statements::{finding, Statement};
use crate::plan::sql::{alter_commands, column_constraints};
use pg_query::protobuf::{
    AlterTableType, ColumnDef, ConstrType, Constraint, DropBehavior, Node, ObjectType, RangeVar,
    SortByDir, SortByNulls, TransactionStmtKind,
};
use pg_query::NodeEnum;
use serde_yaml::{Mapping, Value};
use std::path::{Path, PathBuf};

pub struct Builder<'a> {
    file: PathBuf,
    schema: &'a mut Schema,
    entries: Vec<Entry>,
    findings: Vec<Diagnostic>,
    /// Columns dropped by this migration: (table, column, type if known, entry index).
    dropped: Vec<(String, String, Option<String>, usize)>,
    /// The last entry, when it is an `UPDATE t SET c = v WHERE c IS NULL` that a following
    /// `SET NOT NULL` of `t`.`c` takes as its fill: (table, column, v).
    pending_fill: Option<(String, String, String)>,
}

fn s(text: &str) -> Value {
    Value::String(text.to_owned())
}

fn map(pairs: &[(&str, Value)]) -> Mapping {
    pairs.iter().map(|(k, v)| (s(k), v.clone())).collect()
}

/// The strings of a name list (`schema`, `table`), as the parser gives them.
pub(super) fn names(nodes: &[Node]) -> Vec<String> {
    nodes
        .iter()
        .filter_map(|n| match n.node.as_ref() {
            Some(NodeEnum::String(s)) => Some(s.sval.clone()),
            _ => None,
        })
        .collect()
}

fn list(items: &[String]) -> Value {
    Value::Sequence(items.iter().map(|i| s(i)).collect())
}

/// The table a statement names, when it is in the default schema (switchback's plans name
/// tables without a schema).
fn in_default_schema(relation: Option<&RangeVar>) -> Option<String> {
    let r = relation?;
    matches!(r.schemaname.as_str(), "" | "public").then(|| r.relname.clone())
}

impl<'a> Builder<'a> {
    pub fn new(file: &Path, schema: &'a mut Schema) -> Self {
        Builder {
            file: file.to_path_buf(),
            schema,
            entries: Vec::new(),
            findings: Vec::new(),
            dropped: Vec::new(),
            pending_fill: None,
        }
    }

    pub fn finish(mut self) -> (Vec<Entry>, Vec<Diagnostic>) {
        self.keep_pending_update();
        (self.entries, self.findings)
    }

    /// An UPDATE no SET NOT NULL took as its fill runs as written.
    fn keep_pending_update(&mut self) {
        if self.pending_fill.take().is_some() {
            let why = "a data change runs as written, in one transaction";
            let e = self.entries.last_mut().expect("the UPDATE's entry");
            e.note = Some(format!("kept as raw SQL: {why}"));
            let at = e.at;
            self.note(at, Code::KeptAsSql, format!("kept as raw SQL: {why}"));
        }
    }

    fn push(&mut self, at: Position, kind: &'static str, fields: Mapping) -> usize {
        self.keep_pending_update();
        self.entries.push(Entry {
            file: self.file.clone(),
            at,
            kind,
            fields,
            note: None,
        });
        self.entries.len() - 1
    }

    /// A statement kept as written, with why; the plan's checks judge it.
    fn raw(&mut self, st: &Statement, why: &str) {
        let i = self.push(st.at, "sql", map(&[("up", s(&st.text))]));
        self.entries[i].note = Some(format!("kept as raw SQL: {why}"));
        self.note(st.at, Code::KeptAsSql, format!("kept as raw SQL: {why}"));
    }

    fn cascade_left_out(&mut self, at: Position, what: &str) {
        self.note(at, Code::CascadeLeftOut, format!("CASCADE left out: the plan drops {what} alone; validate --database-url lists what depends on it, and contract stops at a dependent rather than drop it unseen"));
    }

    fn note(&mut self, at: Position, code: Code, message: String) {
        self.findings
            .push(finding(&self.file, at, code, message, None));
    }

    pub fn statement(&mut self, st: &Statement) {
        match &st.node {
            NodeEnum::CreateStmt(_) => self.create_table(st),
            NodeEnum::AlterTableStmt(a) => match in_default_schema(a.relation.as_ref()) {
                // ALTER TABLE IF EXISTS skips the whole statement when the table is missing;
                // a DROP COLUMN IF EXISTS says the same, as a table without the column.
                Some(_)
                    if a.missing_ok
                        && !alter_commands(&st.node).all(|(k, _)| k == AlterTableType::AtDropColumn) =>
                {
                    self.raw(st, "ALTER TABLE IF EXISTS runs only when the table is there, which no change kind but drop_column's if_exists can say")
                }
                Some(t) => self.alter_table(st, &t, a.missing_ok),
                None => self.raw(st, "the table is outside the default schema"),
            },
            NodeEnum::RenameStmt(r) => self.rename(st, r),
            NodeEnum::IndexStmt(_) => self.index(st),
            NodeEnum::DropStmt(_) => self.drop(st),
            NodeEnum::UpdateStmt(_) => self.update(st),
            NodeEnum::TransactionStmt(t)
                if matches!(
                    TransactionStmtKind::try_from(t.kind),
                    Ok(TransactionStmtKind::TransStmtBegin
                        | TransactionStmtKind::TransStmtStart
                        | TransactionStmtKind::TransStmtCommit)
                ) =>
            {
                self.note(
                    st.at,
                    Code::LeftOut,
                    "left out: switchback runs each step in a transaction of its own".into(),
                );
            }
            NodeEnum::VariableSetStmt(v)
                if matches!(v.name.as_str(), "lock_timeout" | "statement_timeout") =>
            {
                self.note(
                    st.at,
                    Code::LeftOut,
                    format!(
                        "left out: switchback sets {} for every step (the plan's `lock_timeout:`)",
                        v.name
                    ),
                );
            }
            _ => self.raw(st, "no change kind does this; it runs at expand as written"),
        }
    }

    fn column(&mut self, table: &str, def: &ColumnDef) -> Option<Mapping> {
        let type_text = deparse::type_name(def.type_name.as_ref()?)?;
        self.schema
            .types
            .insert((table.to_owned(), def.colname.clone()), type_text.clone());
        let mut column = map(&[("name", s(&def.colname)), ("type", s(&type_text))]);
        for (kind, c) in column_constraints(def) {
            match kind {
                ConstrType::ConstrNotnull | ConstrType::ConstrPrimary => {
                    column.insert(s("nullable"), Value::Bool(false));
                }
                ConstrType::ConstrNull => {}
                ConstrType::ConstrDefault => {
                    column.insert(s("default"), s(&deparse::expr(c.raw_expr.as_deref()?)?));
                }
                ConstrType::ConstrUnique if c.keys.is_empty() => {
                    column.insert(s("unique"), Value::Bool(true));
                }
                ConstrType::ConstrCheck => {
                    column.insert(s("check"), s(&deparse::expr(c.raw_expr.as_deref()?)?));
                }
                ConstrType::ConstrForeign => {
                    let target = in_default_schema(c.pktable.as_ref())?;
                    let columns = names(&c.pk_attrs);
                    let mut reference = map(&[
                        ("table", s(&target)),
                        ("column", s(columns.first().map_or("id", String::as_str))),
                    ]);
                    if let Some(action) = on_delete(&c.fk_del_action) {
                        reference.insert(s("on_delete"), s(action));
                    }
                    column.insert(s("references"), Value::Mapping(reference));
                }
                // Identity, generated, collation and the rest have no field in a plan.
                _ => return None,
            }
        }
        Some(column)
    }

    fn create_table(&mut self, st: &Statement) {
        let NodeEnum::CreateStmt(c) = &st.node else {
            return;
        };
        let Some(name) = in_default_schema(c.relation.as_ref()) else {
            return self.raw(st, "the table is outside the default schema");
        };
        if c.partspec.is_some() || !c.inh_relations.is_empty() || c.partbound.is_some() {
            return self.raw(st, "a partitioned or inheriting table is created as written; it takes no lock the application waits for");
        }
        let mut columns = Vec::new();
        let mut primary_key = Vec::new();
        let mut later = Vec::new();
        for element in &c.table_elts {
            match element.node.as_ref() {
                Some(NodeEnum::ColumnDef(def)) => match self.column(&name, def) {
                    Some(column) => {
                        if column_constraints(def).any(|(k, _)| k == ConstrType::ConstrPrimary) {
                            primary_key.push(def.colname.clone());
                        }
                        columns.push(Value::Mapping(column));
                    }
                    None => return self.raw(st, "a column has what a plan's column cannot say (identity, generated, collation); a new table takes no lock the application waits for"),
                },
                Some(NodeEnum::Constraint(k)) if k.contype == ConstrType::ConstrPrimary as i32 => {
                    primary_key.extend(names(&k.keys));
                }
                Some(NodeEnum::Constraint(k)) => later.push(k.as_ref().clone()),
                _ => return self.raw(st, "the table is defined with LIKE or another clause a plan cannot say"),
            }
        }
        let mut fields = map(&[("name", s(&name)), ("columns", Value::Sequence(columns))]);
        if !primary_key.is_empty() {
            fields.insert(s("primary_key"), list(&primary_key));
        }
        if c.if_not_exists {
            fields.insert(s("if_not_exists"), Value::Bool(true));
        }
        self.push(st.at, "create_table", fields);
        for k in later {
            if !self.constraint(st, &name, &k) {
                return self.raw(st, "a table constraint has no change kind");
            }
        }
    }

    /// A table constraint as its own change; false when no kind says it.
    fn constraint(&mut self, st: &Statement, table: &str, c: &Constraint) -> bool {
        let keys = names(&c.keys);
        match ConstrType::try_from(c.contype) {
            Ok(ConstrType::ConstrCheck) => {
                let Some(check) = c.raw_expr.as_deref().and_then(deparse::expr) else {
                    return false;
                };
                let name = or_default(&c.conname, || format!("{table}_check"));
                self.push(
                    st.at,
                    "add_check",
                    map(&[
                        ("table", s(table)),
                        ("name", s(&name)),
                        ("check", s(&check)),
                    ]),
                );
            }
            Ok(ConstrType::ConstrForeign) => {
                let columns = names(&c.fk_attrs);
                let Some(target) = in_default_schema(c.pktable.as_ref()) else {
                    return false;
                };
                let name = or_default(&c.conname, || format!("{table}_{}_fkey", columns.join("_")));
                let mut fields = map(&[
                    ("table", s(table)),
                    ("name", s(&name)),
                    ("columns", list(&columns)),
                    (
                        "references",
                        Value::Mapping(map(&[
                            ("table", s(&target)),
                            ("columns", list(&names(&c.pk_attrs))),
                        ])),
                    ),
                ]);
                if let Some(action) = on_delete(&c.fk_del_action) {
                    fields.insert(s("on_delete"), s(action));
                }
                self.push(st.at, "add_foreign_key", fields);
            }
            Ok(ConstrType::ConstrUnique) if c.indexname.is_empty() => {
                let name = or_default(&c.conname, || format!("{table}_{}_key", keys.join("_")));
                self.push(
                    st.at,
                    "add_unique",
                    map(&[
                        ("table", s(table)),
                        ("name", s(&name)),
                        ("columns", list(&keys)),
                    ]),
                );
            }
            _ => return false,
        }
        true
    }

    /// `table_if_exists`: the statement is ALTER TABLE IF EXISTS (then every subcommand is a
    /// DROP COLUMN).
    fn alter_table(&mut self, st: &Statement, table: &str, table_if_exists: bool) {
        let commands: Vec<_> = alter_commands(&st.node).collect();
        let before = self.entries.len();
        for (kind, cmd) in &commands {
            let column = cmd.name.as_str();
            let mapped = match kind {
                AlterTableType::AtAddColumn => match cmd.def.as_ref().and_then(|d| d.node.as_ref())
                {
                    Some(NodeEnum::ColumnDef(def)) => {
                        self.add_column(st, table, def, cmd.missing_ok)
                    }
                    _ => false,
                },
                AlterTableType::AtDropColumn => {
                    let known = self
                        .schema
                        .types
                        .get(&(table.to_owned(), column.to_owned()))
                        .cloned();
                    if cmd.behavior == DropBehavior::DropCascade as i32 {
                        self.cascade_left_out(st.at, &format!("column `{table}`.`{column}`"));
                    }
                    let mut fields = map(&[("table", s(table)), ("column", s(column))]);
                    if cmd.missing_ok || table_if_exists {
                        // Conditional: not a half of a rename, which would run regardless.
                        fields.insert(s("if_exists"), Value::Bool(true));
                        self.push(st.at, "drop_column", fields);
                    } else {
                        let i = self.push(st.at, "drop_column", fields);
                        self.dropped
                            .push((table.to_owned(), column.to_owned(), known, i));
                    }
                    true
                }
                AlterTableType::AtSetNotNull => {
                    self.set_not_null(st, table, column);
                    true
                }
                AlterTableType::AtDropNotNull => {
                    self.push(
                        st.at,
                        "drop_not_null",
                        map(&[("table", s(table)), ("column", s(column))]),
                    );
                    true
                }
                AlterTableType::AtColumnDefault => {
                    match cmd.def.as_deref().and_then(deparse::expr) {
                        Some(default) => self.push(
                            st.at,
                            "set_default",
                            map(&[
                                ("table", s(table)),
                                ("column", s(column)),
                                ("default", s(&default)),
                            ]),
                        ),
                        None => self.push(
                            st.at,
                            "drop_default",
                            map(&[("table", s(table)), ("column", s(column))]),
                        ),
                    };
                    true
                }
                AlterTableType::AtAlterColumnType => self.change_type(st, table, column, cmd),
                AlterTableType::AtAddConstraint => {
                    match cmd.def.as_ref().and_then(|d| d.node.as_ref()) {
                        Some(NodeEnum::Constraint(c)) => self.constraint(st, table, c),
                        _ => false,
                    }
                }
                _ => false,
            };
            if !mapped {
                // One subcommand without a kind keeps the whole statement as written.
                self.entries.truncate(before);
                self.dropped.retain(|(_, _, _, i)| *i < before);
                return self.raw(st, "a part of this ALTER TABLE has no change kind");
            }
        }
    }

    fn add_column(
        &mut self,
        st: &Statement,
        table: &str,
        def: &ColumnDef,
        if_not_exists: bool,
    ) -> bool {
        let Some(column) = self.column(table, def) else {
            return false;
        };

        // A DROP of a column of the same type earlier in this migration: a rename, most likely
        // (Prisma writes renames this way), which must keep the data.
        let added_type = column
            .get(s("type"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        // A conditional ADD is never the second half of a rename, which would run regardless.
        let candidate = self.dropped.iter().position(|(t, _, known, _)| {
            !if_not_exists
                && t == table
                && (known.is_none() || known.as_deref() == added_type.as_deref())
        });
        if let Some(k) = candidate {
            let (_, from, known, index) = self.dropped.remove(k);
            let not_null = column.get(s("nullable")) == Some(&Value::Bool(false));
            let entry = &mut self.entries[index];
            entry.kind = "rename_column";
            entry.fields = map(&[
                ("table", s(table)),
                ("from", s(&from)),
                ("to", s(&def.colname)),
            ]);
            entry.note = Some(format!(
                "probable rename: DROP COLUMN {from} and ADD COLUMN {} in one migration",
                def.colname
            ));
            let types = match known {
                Some(t) => format!("both {t}"),
                None => "the dropped column's type is not in these migrations".into(),
            };
            let at = entry.at;
            self.note(at, Code::ProbableRename, format!("DROP COLUMN {from} and ADD COLUMN {} on {table} ({types}) look like a rename: the plan renames the column, keeping its data; if the data should go, replace the rename_column with drop_column and add_column", def.colname));
            if not_null {
                self.push(
                    st.at,
                    "set_not_null",
                    map(&[("table", s(table)), ("column", s(&def.colname))]),
                );
            }
            return true;
        }
        // A volatile default stays the column's default: add_column fills the existing rows
        // with it in batches and the old application's new rows by trigger, and sets it as the
        // DEFAULT at contract, as the migration leaves it.
        let mut fields = map(&[("table", s(table))]);
        let condition = if_not_exists.then(|| (s("if_not_exists"), Value::Bool(true)));
        fields.insert(s("column"), Value::Mapping(column));
        fields.extend(condition);
        self.push(st.at, "add_column", fields);
        true
    }

    /// The add_column change of this migration for `table`.`column`, if there is one.
    fn added(&mut self, table: &str, column: &str) -> Option<&mut Entry> {
        self.entries.iter_mut().rev().find(|e| {
            e.kind == "add_column"
                && e.fields.get(s("table")).and_then(Value::as_str) == Some(table)
                && e.fields
                    .get(s("column"))
                    .and_then(|c| c.get("name"))
                    .and_then(Value::as_str)
                    == Some(column)
        })
    }

    fn set_not_null(&mut self, st: &Statement, table: &str, column: &str) {
        if let Some(entry) = self.added(table, column) {
            if let Some(Value::Mapping(c)) = entry.fields.get_mut(s("column")) {
                c.insert(s("nullable"), Value::Bool(false));
            }
            return;
        }
        // An UPDATE ... WHERE column IS NULL just before is the fill.
        let fill = match self.pending_fill.take() {
            Some((t, c, value)) if t == table && c == column => {
                self.entries.pop();
                Some(s(&value))
            }
            other => {
                self.pending_fill = other;
                None
            }
        };
        let mut fields = map(&[("table", s(table)), ("column", s(column))]);
        if let Some(fill) = fill {
            fields.insert(s("fill"), fill);
        }
        self.push(st.at, "set_not_null", fields);
    }

    fn update(&mut self, st: &Statement) {
        let NodeEnum::UpdateStmt(u) = &st.node else {
            return;
        };
        let target = match (
            in_default_schema(u.relation.as_ref()),
            u.target_list.as_slice(),
            u.from_clause.is_empty(),
        ) {
            (Some(t), [one], true) => match one.node.as_ref() {
                Some(NodeEnum::ResTarget(r)) => r
                    .val
                    .as_deref()
                    .and_then(deparse::expr)
                    .map(|e| (t, r.name.clone(), e)),
                _ => None,
            },
            _ => None,
        };
        let Some((table, column, value)) = target else {
            return self.raw(st, "a data change runs as written, in one transaction");
        };
        let where_is_null = u.where_clause.as_deref().and_then(deparse::expr);
        let fills_nulls = where_is_null.as_deref() == Some(&format!("{column} IS NULL"));
        if u.where_clause.is_none() || fills_nulls {
            if let Some(entry) = self.added(&table, &column) {
                entry.fields.insert(s("backfill"), s(&value));
                return;
            }
        }
        if fills_nulls {
            self.push(st.at, "sql", map(&[("up", s(&st.text))]));
            self.pending_fill = Some((table, column, value));
            return;
        }
        self.raw(st, "a data change runs as written, in one transaction")
    }

    fn change_type(
        &mut self,
        st: &Statement,
        table: &str,
        column: &str,
        cmd: &pg_query::protobuf::AlterTableCmd,
    ) -> bool {
        let Some(NodeEnum::ColumnDef(def)) = cmd.def.as_ref().and_then(|d| d.node.as_ref()) else {
            return false;
        };
        let Some(new_type) = def.type_name.as_ref().and_then(deparse::type_name) else {
            return false;
        };
        let mut fields = map(&[
            ("table", s(table)),
            ("column", s(column)),
            ("type", s(&new_type)),
        ]);
        if let Some(using) = def.raw_default.as_deref().and_then(deparse::expr) {
            fields.insert(s("up"), s(&using));
        }
        let key = (table.to_owned(), column.to_owned());
        if let Some(old) = self.schema.types.get(&key) {
            fields.insert(s("down"), s(&format!("{}::{old}", quote(column))));
        }
        self.schema.types.insert(key, new_type);
        self.push(st.at, "change_type", fields);
        true
    }

    fn rename(&mut self, st: &Statement, r: &pg_query::protobuf::RenameStmt) {
        let Some(t) = in_default_schema(r.relation.as_ref()) else {
            return self.raw(st, "the table is outside the default schema");
        };
        match ObjectType::try_from(r.rename_type) {
            Ok(ObjectType::ObjectColumn) => {
                if let Some(ty) = self.schema.types.remove(&(t.clone(), r.subname.clone())) {
                    self.schema.types.insert((t.clone(), r.newname.clone()), ty);
                }
                self.push(
                    st.at,
                    "rename_column",
                    map(&[
                        ("table", s(&t)),
                        ("from", s(&r.subname)),
                        ("to", s(&r.newname)),
                    ]),
                );
            }
            Ok(ObjectType::ObjectTable) => {
                self.push(
                    st.at,
                    "rename_table",
                    map(&[("from", s(&t)), ("to", s(&r.newname))]),
                );
            }
            _ => self.raw(
                st,
                "renaming an index or a constraint is instant and breaks no query",
            ),
        }
    }

    fn index(&mut self, st: &Statement) {
        let NodeEnum::IndexStmt(i) = &st.node else {
            return;
        };
        let Some(t) = in_default_schema(i.relation.as_ref()) else {
            return self.raw(st, "the table is outside the default schema");
        };
        let mut columns = Vec::new();
        for p in &i.index_params {
            match p.node.as_ref() {
                Some(NodeEnum::IndexElem(e))
                    if !e.name.is_empty()
                        && e.opclass.is_empty()
                        && e.collation.is_empty()
                        && e.ordering == SortByDir::SortbyDefault as i32
                        && e.nulls_ordering == SortByNulls::SortbyNullsDefault as i32 =>
                {
                    columns.push(e.name.clone())
                }
                _ => return self.raw(st, "an index over expressions, or with an operator class, collation or order, has no add_index field; write it CONCURRENTLY"),
            }
        }
        if !i.index_including_params.is_empty() {
            return self.raw(
                st,
                "an index with INCLUDE has no add_index field; write it CONCURRENTLY",
            );
        }
        let name = or_default(&i.idxname, || format!("{t}_{}_idx", columns.join("_")));
        let mut fields = map(&[
            ("table", s(&t)),
            ("name", s(&name)),
            ("columns", list(&columns)),
        ]);
        if i.unique {
            fields.insert(s("unique"), Value::Bool(true));
        }
        if let Some(predicate) = i.where_clause.as_deref().and_then(deparse::expr) {
            fields.insert(s("where"), s(&predicate));
        }
        if !matches!(i.access_method.as_str(), "" | "btree") {
            fields.insert(s("method"), s(&i.access_method));
        }
        if i.if_not_exists {
            fields.insert(s("if_not_exists"), Value::Bool(true));
        }
        self.push(st.at, "add_index", fields);
    }

    fn drop(&mut self, st: &Statement) {
        let NodeEnum::DropStmt(d) = &st.node else {
            return;
        };
        let kind = match ObjectType::try_from(d.remove_type) {
            Ok(ObjectType::ObjectTable) => "drop_table",
            Ok(ObjectType::ObjectIndex) => "drop_index",
            _ => return self.raw(st, "no change kind drops this object"),
        };
        let cascade = d.behavior == DropBehavior::DropCascade as i32;
        for object in &d.objects {
            let Some(NodeEnum::List(l)) = object.node.as_ref() else {
                return self.raw(st, "no change kind drops this object");
            };
            let parts = names(&l.items);
            match parts.as_slice() {
                [name] | [_, name] if parts.len() == 1 || parts[0] == "public" => {
                    let mut fields = map(&[("name", s(name))]);
                    if d.missing_ok {
                        fields.insert(s("if_exists"), Value::Bool(true));
                    }
                    self.push(st.at, kind, fields);
                    if cascade {
                        self.cascade_left_out(st.at, &format!("`{name}`"));
                    }
                }
                _ => return self.raw(st, "the object is outside the default schema"),
            }
        }
    }
}

fn or_default(name: &str, default: impl FnOnce() -> String) -> String {
    if name.is_empty() {
        default()
    } else {
        name.to_owned()
    }
}

fn on_delete(action: &str) -> Option<&'static str> {
    match action {
        "r" => Some("restrict"),
        "c" => Some("cascade"),
        "n" => Some("set_null"),
        "d" => Some("set_default"),
        _ => None,
    }
}

/// An identifier as an expression writes it: quoted unless lower-case and plain.
fn quote(name: &str) -> String {
    let plain = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if plain {
        name.to_owned()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}
