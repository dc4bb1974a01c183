//! `add_check`: a CHECK constraint added NOT VALID (new writes are checked at once), existing
//! rows optionally fixed by a `fill` backfill, then VALIDATEd under a lock that lets reads and
//! writes through.

use crate::pg::catalog::PartitionKey;
use crate::pg::lock::LockMode;
use crate::plan::change::{valid_if_clean, ChangeKind, ColumnNeed, Footprint, OnPartitioned};
use crate::plan::check::{Checker, Ident, SqlText};
use crate::plan::diagnostic::Code;
use crate::plan::expand::{Expansion, SyncRule};
use crate::plan::live::Walk;
use crate::plan::revert::{self, Before, Irreversible, Left};
use crate::plan::source::FieldPath;
use crate::plan::sql::{Expr, Work};
use crate::plan::step::{check_offenders, Assignment, Phase, Records};
use serde::de::{self, value::MapAccessDeserializer, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::fmt;

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with table, name, check and optionally fill"
)]
pub struct Raw {
    table: String,
    name: String,
    check: SqlText,
    fill: Option<RawFill>,
}

/// Which column to overwrite on rows that break the check, and with what: a mapping, or a
/// bare value when the check reads one column (that column is the one filled).
#[derive(Debug)]
pub enum RawFill {
    Column { column: String, value: SqlText },
    Value(SqlText),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a mapping with column and value")]
struct RawFillMapping {
    column: String,
    value: SqlText,
}

impl<'de> Deserialize<'de> for RawFill {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FillVisitor;
        impl<'de> Visitor<'de> for FillVisitor {
            type Value = RawFill;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a value, or a mapping with column and value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawFill, A::Error> {
                let m = RawFillMapping::deserialize(MapAccessDeserializer::new(map))?;
                Ok(RawFill::Column {
                    column: m.column,
                    value: m.value,
                })
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawFill, E> {
                Ok(RawFill::Value(SqlText(v.to_owned())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawFill, E> {
                Ok(RawFill::Value(SqlText(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawFill, E> {
                Ok(RawFill::Value(SqlText(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawFill, E> {
                Ok(RawFill::Value(SqlText(v.to_string())))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<RawFill, E> {
                Ok(RawFill::Value(SqlText(v.to_string())))
            }
        }
        deserializer.deserialize_any(FillVisitor)
    }
}

#[derive(Debug, Clone)]
pub struct Fill {
    pub column: Ident,
    pub value: Expr,
}

#[derive(Debug, Clone)]
pub struct AddCheck {
    pub table: Ident,
    pub name: Ident,
    pub check: Expr,
    pub fill: Option<Fill>,
    at: FieldPath,
}

impl ChangeKind for AddCheck {
    type Raw = Raw;

    fn check(raw: Raw, at: &FieldPath, cx: &mut Checker) -> Option<Self> {
        let before = cx.error_count();
        let table = cx.ident(&at.key("table"), &raw.table);
        let name = cx.ident(&at.key("name"), &raw.name);
        let check = cx.expr(&at.key("check"), &raw.check);
        let fill = raw.fill.map(|f| {
            let at = at.key("fill");
            match f {
                RawFill::Column { column, value } => (
                    Some(cx.ident(&at.key("column"), &column)),
                    cx.expr(&at.key("value"), &value),
                ),
                RawFill::Value(value) => {
                    let read: Vec<&str> = check
                        .as_ref()
                        .map(|c| c.column_names().collect())
                        .unwrap_or_default();
                    let column = match read.as_slice() {
                        [one] => Some(Ident::trusted((*one).to_owned())),
                        _ => {
                            cx.report(
                                Code::BadValue,
                                &at,
                                format!(
                                    "a bare fill value needs a check that reads one column; this one reads {}",
                                    if read.is_empty() { "none".to_owned() } else { read.join(", ") }
                                ),
                                Some("write the column to fill: `fill: { column: ..., value: ... }`".into()),
                            );
                            None
                        }
                    };
                    (column, cx.expr(&at, &value))
                }
            }
        });
        valid_if_clean(cx, before, || {
            let fill = match fill {
                Some((column, value)) => Some(Fill {
                    column: column?,
                    value: value?,
                }),
                None => None,
            };
            Some(AddCheck {
                table,
                name,
                check: check?,
                fill,
                at: at.clone(),
            })
        })
    }

    /// The fill column's type, to put overwritten values back on abort.
    fn catalog_columns(&self) -> Vec<ColumnNeed> {
        self.fill
            .iter()
            .map(|f| ColumnNeed::settings(&self.table, &f.column))
            .collect()
    }

    fn footprint(&self) -> Footprint {
        let read = |e: &Expr| {
            e.column_names()
                .map(|c| Ident::trusted(c.to_owned()))
                .collect::<Vec<_>>()
        };
        let mut uses = read(&self.check);
        let mut reads = Vec::new();
        if let Some(fill) = &self.fill {
            uses.push(fill.column.clone());
            reads = read(&self.check);
            reads.extend(read(&fill.value));
        }
        Footprint {
            table: Some(self.table.clone()),
            uses,
            reads,
            writes: self.fill.iter().map(|f| f.column.clone()).collect(),
            names: vec![(self.name.clone(), self.at.key("name"))],
            ..Footprint::default()
        }
    }

    fn expand(&self, x: &mut Expansion) {
        let table = x.table(&self.table);
        let constraint = self.name.quoted();
        let t = Some(&self.table);
        if let Some(fill) = &self.fill {
            let breaks = format!("({}) IS FALSE", self.check.text);
            x.sync(
                &self.table,
                SyncRule::CheckFill {
                    check: self.check.over_record("NEW", &[]),
                    column: fill.column.clone(),
                    value: fill.value.over_record("NEW", &[]),
                },
            );
            let sql_type = x
                .column_facts(&self.table, &fill.column)
                .map_or(format!("<type of {}>", fill.column.quoted()), |f| {
                    f.sql_type.clone()
                });
            x.backfill(
                &self.table,
                Assignment {
                    column: fill.column.to_string(),
                    value: fill.value.text.clone(),
                    when: Some(breaks.clone()),
                    verify: breaks,
                    records: Records::OldValues { sql_type },
                },
            );
        }
        x.step(
            "add_check",
            Phase::Validate,
            format!("add CHECK {constraint} NOT VALID"),
            t,
        )
        .sql(
            format!(
                "ALTER TABLE {table} ADD CONSTRAINT {constraint} CHECK ({}) NOT VALID",
                self.check.text
            ),
            LockMode::AccessExclusive,
            &table,
            Work::Instant,
        )
        .undo(
            format!("ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {constraint}"),
            LockMode::AccessExclusive,
            &table,
        );
        x.step(
            "validate_check",
            Phase::Validate,
            format!("validate CHECK {constraint}"),
            t,
        )
        .sql(
            format!("ALTER TABLE {table} VALIDATE CONSTRAINT {constraint}"),
            LockMode::ShareUpdateExclusive,
            &table,
            Work::Scan,
        )
        .nothing_to_undo()
        .offenders(check_offenders(&table, &self.check.text));
    }

    fn on_partitioned_table(&self, _key: &PartitionKey) -> OnPartitioned {
        OnPartitioned::Runs("the CHECK is added NOT VALID on the parent (every partition inherits it), then validated partition by partition under a lock that lets writes through")
    }

    /// The constraint dropped; taken back, it is added NOT VALID and validated again.
    fn reverse(&self, _: Left, before: &Before) -> Result<Vec<serde_yaml::Value>, Irreversible> {
        if self.fill.is_some() {
            return Err(Irreversible::Because(format!(
                "its `fill` overwrote the values of `{}` that broke the check, and which is not kept once the plan completed",
                self.table
            )));
        }
        let (table, name) = (before.table(&self.table), self.name.quoted());
        Ok(vec![revert::drop_constraint(
            &table,
            &name,
            &[
                format!(
                    "ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({}) NOT VALID",
                    self.check.text
                ),
                format!("ALTER TABLE {table} VALIDATE CONSTRAINT {name}"),
            ],
        )])
    }

    fn check_live(&self, walk: &mut Walk, at: &FieldPath) {
        if walk.table(&self.table, &at.key("table")) {
            walk.no_constraint(&self.table, &self.name, &at.key("name"));
            for column in self.check.column_names() {
                walk.column(
                    &self.table,
                    &Ident::trusted(column.to_owned()),
                    &at.key("table"),
                    &at.key("check"),
                );
            }
            if let Some(fill) = &self.fill {
                walk.column(
                    &self.table,
                    &fill.column,
                    &at.key("table"),
                    &at.key("fill").key("column"),
                );
            }
        }
        walk.add_constraint(&self.table, &self.name);
    }
}
