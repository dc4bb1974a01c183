//! A column definition as `add_column` and `create_table` write it, and the SQL of its parts.

use crate::pg::quote;
use crate::plan::change::valid_if_clean;
use crate::plan::check::{Checker, Ident, SqlText};
use crate::plan::diagnostic::Code;
use crate::plan::source::FieldPath;
use crate::plan::sql::Expr;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with name, type and optionally nullable, default, check, references, unique"
)]
pub struct RawColumn {
    name: String,
    #[serde(rename = "type")]
    sql_type: String,
    #[serde(default = "nullable_by_default")]
    nullable: bool,
    default: Option<SqlText>,
    check: Option<SqlText>,
    references: Option<RawReference>,
    #[serde(default)]
    unique: bool,
}

fn nullable_by_default() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with table, column and optionally on_delete"
)]
pub struct RawReference {
    table: String,
    column: String,
    on_delete: Option<OnDelete>,
}

/// The referential action of a foreign key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnDelete {
    NoAction,
    Restrict,
    Cascade,
    SetNull,
    SetDefault,
}

impl OnDelete {
    pub fn sql(self) -> &'static str {
        match self {
            OnDelete::NoAction => "NO ACTION",
            OnDelete::Restrict => "RESTRICT",
            OnDelete::Cascade => "CASCADE",
            OnDelete::SetNull => "SET NULL",
            OnDelete::SetDefault => "SET DEFAULT",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Reference {
    pub table: Ident,
    pub column: Ident,
    pub on_delete: Option<OnDelete>,
}

#[derive(Debug, Clone)]
pub struct Column {
    pub name: Ident,
    pub sql_type: String,
    pub nullable: bool,
    pub default: Option<Expr>,
    pub check: Option<Expr>,
    pub references: Option<Reference>,
    pub unique: bool,
}

impl Column {
    pub fn check(raw: RawColumn, at: &FieldPath, cx: &mut Checker) -> Option<Column> {
        let before = cx.error_count();
        let name = cx.ident(&at.key("name"), &raw.name);
        let sql_type = cx.sql_type(&at.key("type"), &raw.sql_type);
        let default = raw.default.and_then(|d| {
            let field = at.key("default");
            let expr = cx.expr(&field, &d)?;
            if !expr.columns.is_empty() {
                cx.report(
                    Code::BadExpression,
                    &field,
                    "a column default cannot refer to columns".into(),
                    Some("use `backfill:` to compute values from other columns".into()),
                );
            }
            Some(expr)
        });
        let check = raw.check.and_then(|c| cx.expr(&at.key("check"), &c));
        let references = raw.references.map(|r| {
            let at = at.key("references");
            Reference {
                table: cx.ident(&at.key("table"), &r.table),
                column: cx.ident(&at.key("column"), &r.column),
                on_delete: r.on_delete,
            }
        });
        valid_if_clean(cx, before, || {
            Some(Column {
                name,
                sql_type: sql_type?,
                nullable: raw.nullable,
                default,
                check,
                references,
                unique: raw.unique,
            })
        })
    }

    /// Constraint names PostgreSQL itself would pick, so switchback's match the catalog's habits.
    pub fn check_name(&self, table: &Ident) -> String {
        quote::object_name(&[table.as_str(), self.name.as_str(), "check"])
    }

    pub fn foreign_key_name(&self, table: &Ident) -> String {
        quote::object_name(&[table.as_str(), self.name.as_str(), "fkey"])
    }

    pub fn unique_name(&self, table: &Ident) -> String {
        quote::object_name(&[table.as_str(), self.name.as_str(), "key"])
    }

    /// The names this column's constraints will take, for duplicate-name checks.
    pub fn constraint_names(&self, table: &Ident, at: &FieldPath) -> Vec<(Ident, FieldPath)> {
        let mut names = Vec::new();
        if self.check.is_some() {
            names.push((Ident::trusted(self.check_name(table)), at.key("check")));
        }
        if self.references.is_some() {
            names.push((
                Ident::trusted(self.foreign_key_name(table)),
                at.key("references"),
            ));
        }
        if self.unique {
            names.push((Ident::trusted(self.unique_name(table)), at.key("unique")));
        }
        names
    }

    /// `REFERENCES "s"."t" ("c") ON DELETE ...`
    pub fn references_sql(&self, schema: &Ident) -> Option<String> {
        self.references.as_ref().map(|r| {
            let on_delete = r
                .on_delete
                .map(|a| format!(" ON DELETE {}", a.sql()))
                .unwrap_or_default();
            format!(
                "REFERENCES {} ({}){on_delete}",
                quote::qualified(schema.as_str(), r.table.as_str()),
                r.column.quoted()
            )
        })
    }

    /// The full inline definition, for a new (empty) table where nothing needs to be deferred.
    pub fn inline_sql(&self, table: &Ident, schema: &Ident) -> String {
        let mut sql = format!("{} {}", self.name.quoted(), self.sql_type);
        if !self.nullable {
            sql.push_str(" NOT NULL");
        }
        if let Some(d) = &self.default {
            sql.push_str(&format!(" DEFAULT {}", d.text));
        }
        if let Some(c) = &self.check {
            sql.push_str(&format!(
                " CONSTRAINT {} CHECK ({})",
                quote::ident(&self.check_name(table)),
                c.text
            ));
        }
        if let Some(r) = self.references_sql(schema) {
            sql.push_str(&format!(
                " CONSTRAINT {} {r}",
                quote::ident(&self.foreign_key_name(table))
            ));
        }
        if self.unique {
            sql.push_str(&format!(
                " CONSTRAINT {} UNIQUE",
                quote::ident(&self.unique_name(table))
            ));
        }
        sql
    }
}
