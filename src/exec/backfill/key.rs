//! SQL fragments over a table's backfill key (one column or several): the row comparisons
//! that bound a range and page through it, with key values carried as text between batches.

use crate::pg::facts::TableKey;
use crate::pg::quote;

/// SQL fragments over the table's key.
pub(super) struct Key {
    pub list: String,
    pub descending: String,
    pub as_text: String,
    types: Vec<String>,
}

impl Key {
    pub fn new(key: &TableKey) -> Key {
        let names: Vec<String> = key.columns.iter().map(|c| quote::ident(&c.name)).collect();
        Key {
            list: names.join(", "),
            descending: names
                .iter()
                .map(|n| format!("{n} DESC"))
                .collect::<Vec<_>>()
                .join(", "),
            as_text: names
                .iter()
                .map(|n| format!("{n}::text"))
                .collect::<Vec<_>>()
                .join(", "),
            types: key.columns.iter().map(|c| c.sql_type.clone()).collect(),
        }
    }

    /// `ROW('5'::bigint, 'x'::text)` for key values read back as text.
    pub fn literal(&self, values: &[String]) -> String {
        let parts: Vec<String> = values
            .iter()
            .zip(&self.types)
            .map(|(v, t)| format!("{}::{t}", quote::literal(v)))
            .collect();
        format!("ROW({})", parts.join(", "))
    }

    /// Rows after `after` and up to `upto` (either unbounded when None).
    pub fn between(&self, after: Option<&[String]>, upto: Option<&[String]>) -> String {
        let row = format!("ROW({})", self.list);
        let mut parts = Vec::new();
        if let Some(after) = after {
            parts.push(format!("{row} > {}", self.literal(after)));
        }
        if let Some(upto) = upto {
            parts.push(format!("{row} <= {}", self.literal(upto)));
        }
        if parts.is_empty() {
            "true".to_owned()
        } else {
            parts.join(" AND ")
        }
    }
}
