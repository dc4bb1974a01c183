//! The schema as the live catalog has it, read once, then changed in memory by each checked
//! change, so a plan that adds a column and indexes it in the next change checks clean before
//! anything ran.

use crate::error::Error;
use crate::pg::query::Query;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone)]
pub struct Column {
    pub sql_type: String,
    /// Exists in the database now (rather than added by an earlier change).
    pub live: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Table {
    pub columns: BTreeMap<String, Column>,
    pub constraints: BTreeSet<String>,
    /// Column sets with a valid unique index and no predicate or expression.
    pub unique_sets: Vec<BTreeSet<String>>,
    /// Has a primary key, or a unique index over NOT NULL columns, for backfill batches.
    pub has_key: bool,
    /// Exists in the database now (rather than created by an earlier change).
    pub live: bool,
}

#[derive(Debug, Default)]
pub struct Model {
    pub tables: BTreeMap<String, Table>,
    /// Every relation name of the schema: tables, views, indexes, sequences.
    pub relations: BTreeSet<String>,
}

impl Model {
    pub async fn read(client: &impl Query, schema: &str) -> Result<Model, Error> {
        let context = || format!("read the catalog of schema {schema}");
        let mut model = Model::default();
        for row in client
            .fetch(
                "SELECT c.relname::text, c.relkind IN ('r', 'p')
                   FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE n.nspname = $1",
                &[&schema],
            )
            .await
            .map_err(Error::sql(context()))?
        {
            let name: String = row.get(0);
            if row.get(1) {
                let table = Table {
                    live: true,
                    ..Table::default()
                };
                model.tables.insert(name.clone(), table);
            }
            model.relations.insert(name);
        }
        for row in client
            .fetch(
                "SELECT c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod)
                   FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
                   JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped",
                &[&schema],
            )
            .await
            .map_err(Error::sql(context()))?
        {
            if let Some(table) = model.tables.get_mut(row.get::<_, &str>(0)) {
                table.columns.insert(row.get(1), Column {
                        sql_type: row.get(2),
                        live: true,
                    },);
            }
        }
        for row in client
            .fetch(
                "SELECT c.relname::text, con.conname::text
                   FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
                   JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE n.nspname = $1",
                &[&schema],
            )
            .await
            .map_err(Error::sql(context()))?
        {
            if let Some(table) = model.tables.get_mut(row.get::<_, &str>(0)) {
                table.constraints.insert(row.get(1));
            }
        }
        for row in client
            .fetch(
                "SELECT c.relname::text, array_agg(a.attname::text), bool_and(a.attnotnull) OR bool_or(i.indisprimary)
                   FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
                   JOIN pg_namespace n ON n.oid = c.relnamespace
                   CROSS JOIN LATERAL unnest(i.indkey) k(attnum)
                   JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                  WHERE n.nspname = $1 AND i.indisunique AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL
                  GROUP BY c.relname, i.indexrelid",
                &[&schema],
            )
            .await
            .map_err(Error::sql(context()))?
        {
            if let Some(table) = model.tables.get_mut(row.get::<_, &str>(0)) {
                let columns: Vec<String> = row.get(1);
                table.unique_sets.push(columns.into_iter().collect());
                table.has_key |= row.get::<_, bool>(2);
            }
        }
        Ok(model)
    }

    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.get(name)
    }

    pub fn table_mut(&mut self, name: &str) -> Option<&mut Table> {
        self.tables.get_mut(name)
    }
}
