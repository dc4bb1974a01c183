//! Reading the catalog: the facts a plan needs before it first runs, the key a backfill
//! pages through, the state of an index, and who holds a lock switchback waits for.

use crate::error::{Blocker, Error};
use crate::pg::facts::{
    ColumnFacts, ConstraintFacts, IncomingForeignKey, IndexFacts, KeyColumn, Partition, TableKey,
};
use crate::pg::query::Query;
use crate::pg::quote;
use std::collections::BTreeMap;

/// The table's regclass text for `to_regclass`.
fn relation(schema: &str, table: &str) -> String {
    quote::qualified(schema, table)
}

/// Facts about one column. When the change `moves` the column's objects to another column,
/// refuses columns that views depend on, since the contract stage could not drop them
/// (foreign keys referencing the column are carried over).
pub async fn column_facts(
    client: &impl Query,
    schema: &str,
    table: &str,
    column: &str,
    moves: bool,
) -> Result<ColumnFacts, Error> {
    let rel = relation(schema, table);
    let row = client
        .fetch_opt(
            "SELECT format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid), a.attnum
               FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
              WHERE a.attrelid = to_regclass($1) AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped",
            &[&rel, &column],
        )
        .await
        .map_err(Error::sql(format!("read column {column} of {rel}")))?
        .ok_or_else(|| Error::Refused(format!("find column {} of table {rel}", quote::ident(column))))?;
    let attnum: i16 = row.get(3);
    let indexes = client
        .fetch(
            "SELECT c.relname, pg_get_indexdef(i.indexrelid), con.conname, i.indisprimary
               FROM pg_index i
               JOIN pg_class c ON c.oid = i.indexrelid
               LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.contype IN ('p', 'u') AND con.conrelid = i.indrelid
              WHERE i.indrelid = to_regclass($1)
                AND ($2 = ANY (i.indkey::int2[])
                     OR EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = i.indexrelid
                                AND d.refobjid = i.indrelid AND d.refobjsubid = $2))
                AND NOT EXISTS (SELECT 1 FROM pg_constraint x WHERE x.conindid = i.indexrelid AND x.contype = 'x')
              ORDER BY c.relname",
            &[&rel, &attnum],
        )
        .await
        .map_err(Error::sql(format!("read the indexes of {rel}")))?
        .iter()
        .map(|r| IndexFacts {
            name: r.get(0),
            definition: r.get(1),
            constraint: r.get(2),
            primary: r.get(3),
        })
        .collect();
    let constraints = |kind: &'static str| {
        let rel = rel.clone();
        async move {
            client
                .fetch(
                    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
                      WHERE conrelid = to_regclass($1) AND contype = $2::text::\"char\" AND $3 = ANY (conkey) ORDER BY conname",
                    &[&rel, &kind, &attnum],
                )
                .await
                .map_err(Error::sql(format!("read the constraints of {rel}")))
                .map(|rows| rows.iter().map(|r| ConstraintFacts { name: r.get(0), definition: r.get(1) }).collect::<Vec<_>>())
        }
    };
    let checks = constraints("c").await?;
    let foreign_keys = constraints("f").await?;
    // Only a change that moves the column's objects is stopped by views on it.
    if moves {
        let views: Vec<String> = client
            .fetch(
                "SELECT DISTINCT format('view %s', v.oid::regclass)
                   FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid JOIN pg_class v ON v.oid = r.ev_class
                  WHERE d.classid = 'pg_rewrite'::regclass AND d.refobjid = to_regclass($1) AND d.refobjsubid = $2::int2 AND v.oid <> d.refobjid",
                &[&rel, &attnum],
            )
            .await
            .map_err(Error::sql(format!("read what depends on {rel}")))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        if !views.is_empty() {
            return Err(Error::Refused(format!(
                "start: column {} of {rel} is used by {}; switchback cannot carry those over to the new column yet, so the contract stage could not drop the old one",
                quote::ident(column),
                views.join(", ")
            )));
        }
    }
    let incoming = client
        .fetch(
            // A partitioned table's key is listed once, not once per partition (conparentid).
            "SELECT con.conrelid::regclass::text, con.conname::text, pg_get_constraintdef(con.oid),
                    c.relkind = 'p', n.nspname::text, c.relname::text
               FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
               JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE con.contype = 'f' AND con.confrelid = to_regclass($1) AND $2 = ANY (con.confkey)
                AND con.conparentid = 0
              ORDER BY 1, 2",
            &[&rel, &attnum],
        )
        .await
        .map_err(Error::sql(format!(
            "read the foreign keys referencing {rel}"
        )))?
        .iter()
        .map(|r| {
            let fk = IncomingForeignKey {
                table: r.get(0),
                name: r.get(1),
                definition: r.get(2),
                from_partitioned: r.get(3),
                partitions: Vec::new(),
            };
            (fk, r.get::<_, String>(4), r.get::<_, String>(5))
        })
        .collect::<Vec<_>>();
    let mut incoming_keys = Vec::new();
    for (mut fk, schema, name) in incoming {
        if fk.from_partitioned {
            if let Partitioning::Flat { partitions, .. } =
                partitioning(client, &schema, &name).await?
            {
                fk.partitions = partitions;
            }
        }
        incoming_keys.push(fk);
    }
    let incoming = incoming_keys;
    let owned_sequence: Option<String> = client
        .fetch_one("SELECT pg_get_serial_sequence($1, $2)", &[&rel, &column])
        .await
        .map_err(Error::sql(format!("read the sequence of {rel}")))?
        .get(0);
    Ok(ColumnFacts {
        table: table.to_owned(),
        column: column.to_owned(),
        sql_type: row.get(0),
        not_null: row.get(1),
        default: row.get(2),
        indexes,
        checks,
        foreign_keys,
        incoming,
        owned_sequence,
    })
}

/// The key a backfill pages through: the primary key, else the first valid unique index
/// without expressions or predicate whose columns are all NOT NULL.
pub async fn table_key(client: &impl Query, schema: &str, table: &str) -> Result<TableKey, Error> {
    let rel = relation(schema, table);
    let exists: bool = client
        .fetch_one("SELECT to_regclass($1) IS NOT NULL", &[&rel])
        .await
        .map_err(Error::sql(format!("look up {rel}")))?
        .get(0);
    if !exists {
        return Err(Error::Refused(format!("find table {rel}")));
    }
    let rows = client
        .fetch(
            "WITH candidates AS (
                SELECT i.indexrelid, i.indkey, NOT i.indisprimary AS fallback, c.relname
                  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                 WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indisvalid AND i.indpred IS NULL
                   AND i.indexprs IS NULL
                   AND NOT EXISTS (SELECT 1 FROM unnest(i.indkey) k(attnum) JOIN pg_attribute a
                                     ON a.attrelid = i.indrelid AND a.attnum = k.attnum WHERE NOT a.attnotnull)
                 ORDER BY fallback, relname LIMIT 1)
             SELECT a.attname, format_type(a.atttypid, a.atttypmod)
               FROM candidates c, unnest(c.indkey) WITH ORDINALITY k(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = to_regclass($1) AND a.attnum = k.attnum
              ORDER BY k.ord",
            &[&rel],
        )
        .await
        .map_err(Error::sql(format!("read the key of {rel}")))?;
    if rows.is_empty() {
        return Err(Error::Refused(format!(
            "backfill {rel}: it has no primary key and no unique index over NOT NULL columns to page through; add one (add_unique) first"
        )));
    }
    Ok(TableKey {
        table: table.to_owned(),
        columns: rows
            .iter()
            .map(|r| KeyColumn {
                name: r.get(0),
                sql_type: r.get(1),
            })
            .collect(),
    })
}

/// How a table is partitioned, as `advance` reads it before the plan's first statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Partitioning {
    /// A plain table (or one that does not exist yet).
    None,
    /// A partitioned table whose partitions are all plain tables.
    Flat {
        partitions: Vec<Partition>,
        key: PartitionKey,
    },
    /// A partitioned table with a partition that is itself partitioned, or a foreign table:
    /// named, for the refusal.
    Unsupported(String),
}

pub async fn partitioning(
    client: &impl Query,
    schema: &str,
    table: &str,
) -> Result<Partitioning, Error> {
    let name = relation(schema, table);
    let context = || format!("read the partitions of {name}");
    // The key's columns in order; an expression (attnum 0) reads as NULL.
    let key = client
        .fetch_opt(
            "SELECT array_agg(a.attname::text ORDER BY k.n)
               FROM pg_partitioned_table p
              CROSS JOIN unnest(p.partattrs::int2[]) WITH ORDINALITY AS k(attnum, n)
               LEFT JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = k.attnum
              WHERE p.partrelid = to_regclass($1)",
            &[&name],
        )
        .await
        .map_err(Error::sql(context()))?;
    let Some(key) = key.and_then(|row| row.get::<_, Option<Vec<Option<String>>>>(0)) else {
        return Ok(Partitioning::None);
    };
    let rows = client
        .fetch(
            "SELECT n.nspname::text, c.relname::text, c.relkind::text
               FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
               JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE i.inhparent = to_regclass($1)
              ORDER BY n.nspname, c.relname",
            &[&name],
        )
        .await
        .map_err(Error::sql(context()))?;
    let mut partitions = Vec::new();
    for row in rows {
        let (schema, name, kind): (String, String, String) = (row.get(0), row.get(1), row.get(2));
        let what = match kind.as_str() {
            "r" => None,
            "p" => Some("is partitioned itself"),
            "f" => Some("is a foreign table"),
            _ => Some("is not a plain table"),
        };
        if let Some(what) = what {
            return Ok(Partitioning::Unsupported(format!(
                "its partition {} {what}",
                quote::qualified(&schema, &name)
            )));
        }
        partitions.push(Partition { schema, name });
    }
    Ok(Partitioning::Flat {
        partitions,
        key: PartitionKey(key),
    })
}

/// A partitioned table's key: its columns in order, None for an expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionKey(pub Vec<Option<String>>);

impl PartitionKey {
    /// Why a unique index over `columns` cannot exist on the table, if it cannot: PostgreSQL
    /// needs every key column among them, and no expression in the key.
    pub fn refuses_unique(&self, columns: &[&str]) -> Option<String> {
        if self.0.iter().any(Option::is_none) {
            return Some("its partition key has an expression, and PostgreSQL allows no unique index on such a table".into());
        }
        let missing: Vec<String> = self
            .0
            .iter()
            .flatten()
            .filter(|k| !columns.contains(&k.as_str()))
            .map(|k| format!("`{k}`"))
            .collect();
        (!missing.is_empty()).then(|| {
            format!(
                "a unique index on it must include its partition key: the columns leave out {}",
                missing.join(", ")
            )
        })
    }
}

/// An object a change's `IF [NOT] EXISTS` looks for.
#[derive(Debug, Clone, Copy)]
pub enum Named<'a> {
    /// A relation of any kind, as `IF NOT EXISTS` looks: a view or index takes the name too.
    Relation(&'a str),
    Column {
        table: &'a str,
        column: &'a str,
    },
}

/// Whether a named object is in the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    Missing,
    Present,
    /// An INVALID index: the leftover of a failed concurrent build.
    InvalidIndex,
}

/// The definition of the index `schema`.`name`, as `pg_get_indexdef` writes it; None when
/// there is no such index.
pub async fn index_definition(
    client: &impl Query,
    schema: &str,
    name: &str,
) -> Result<Option<String>, Error> {
    let relation = quote::qualified(schema, name);
    Ok(client
        .fetch_one(
            "SELECT pg_get_indexdef(i.indexrelid) FROM (SELECT to_regclass($1) AS oid) r LEFT JOIN pg_index i ON i.indexrelid = r.oid",
            &[&relation],
        )
        .await
        .map_err(Error::sql(format!("read the definition of index {relation}")))?
        .get(0))
}

/// The partitions' indexes attached to the index `schema`.`name` (on a partitioned table),
/// by partition name: the names PostgreSQL (or the plan that built them) gave them.
pub async fn partition_index_names(
    client: &impl Query,
    schema: &str,
    name: &str,
) -> Result<BTreeMap<String, String>, Error> {
    let relation = quote::qualified(schema, name);
    let row = client
        .fetch_one(
            &format!(
                "SELECT coalesce({}, '{{}}')",
                partition_indexes("to_regclass($1)")
            ),
            &[&relation],
        )
        .await
        .map_err(Error::sql(format!(
            "read the partitions' indexes of {relation}"
        )))?;
    Ok(serde_json::from_value(row.get(0)).unwrap_or_default())
}

/// A `jsonb` expression: `{partition: index}` for each partition's index attached to the
/// partitioned index whose oid is `parent`, NULL when it has none. An archived column's
/// definition records it with each index too.
pub fn partition_indexes(parent: &str) -> String {
    format!(
        "(SELECT jsonb_object_agg(t.relname, p.relname) FROM pg_inherits h \
         JOIN pg_class p ON p.oid = h.inhrelid JOIN pg_index x ON x.indexrelid = p.oid \
         JOIN pg_class t ON t.oid = x.indrelid WHERE h.inhparent = {parent})"
    )
}

pub async fn presence(
    client: &impl Query,
    schema: &str,
    object: Named<'_>,
) -> Result<Presence, Error> {
    let row = match object {
        Named::Relation(name) => client
            .fetch_opt(
                "SELECT coalesce(i.indisvalid, true)
                   FROM pg_class c
                   JOIN pg_namespace n ON n.oid = c.relnamespace
                   LEFT JOIN pg_index i ON i.indexrelid = c.oid
                  WHERE n.nspname = $1 AND c.relname = $2",
                &[&schema, &name],
            )
            .await
            .map_err(Error::sql(format!("look for {schema}.{name}")))?,
        Named::Column { table, column } => client
            .fetch_opt(
                "SELECT true FROM pg_attribute a
                   JOIN pg_class c ON c.oid = a.attrelid
                   JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE n.nspname = $1 AND c.relname = $2 AND a.attname = $3
                    AND a.attnum > 0 AND NOT a.attisdropped",
                &[&schema, &table, &column],
            )
            .await
            .map_err(Error::sql(format!(
                "look for column {column} of {schema}.{table}"
            )))?,
    };
    Ok(match row.map(|r| r.get::<_, bool>(0)) {
        None => Presence::Missing,
        Some(true) => Presence::Present,
        Some(false) => Presence::InvalidIndex,
    })
}

/// Whether `relation` (quoted, qualified) exists.
pub async fn relation_exists(client: &impl Query, relation: &str) -> Result<bool, Error> {
    Ok(client
        .fetch_one("SELECT to_regclass($1) IS NOT NULL", &[&relation])
        .await
        .map_err(Error::sql(format!("look for {relation}")))?
        .get(0))
}

/// None when the index does not exist, else whether it is valid.
pub async fn index_valid(client: &impl Query, index: &str) -> Result<Option<bool>, Error> {
    Ok(client
        .fetch_opt(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1)",
            &[&index],
        )
        .await
        .map_err(Error::sql(format!("read the state of index {index}")))?
        .map(|r| r.get(0)))
}

/// Sessions holding a granted lock on `relation` (quoted, qualified), other than ours.
pub async fn blockers(client: &impl Query, relation: &str) -> Result<Vec<Blocker>, Error> {
    Ok(client
        .fetch(
            "SELECT DISTINCT a.pid, coalesce(a.usename, ''), coalesce(a.state, ''),
                    coalesce(extract(epoch FROM now() - a.xact_start), 0)::float8, left(coalesce(a.query, ''), 300)
               FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
              WHERE l.locktype = 'relation' AND l.relation = to_regclass($1) AND l.granted AND l.pid <> pg_backend_pid()
              ORDER BY 1",
            &[&relation],
        )
        .await
        .map_err(Error::sql(format!("read the sessions locking {relation}")))?
        .iter()
        .map(blocker)
        .collect())
}

/// A session from `pid, user, state, transaction seconds, query`.
fn blocker(row: &tokio_postgres::Row) -> Blocker {
    Blocker {
        pid: row.get(0),
        user: row.get(1),
        state: row.get(2),
        transaction_seconds: row.get(3),
        query: row.get(4),
    }
}

/// The sessions the session running `sql` waits for: the holders of the locks it asked for,
/// or, for a CONCURRENTLY statement waiting for older transactions to end, those
/// transactions. The session is found by its statement's text, which behind a pooler is all
/// there is to find it by.
pub async fn blocking(client: &impl Query, sql: &str) -> Result<Vec<Blocker>, Error> {
    Ok(client
        .fetch(
            "SELECT a.pid, coalesce(a.usename, a.backend_type, ''), coalesce(a.state, ''),
                    coalesce(extract(epoch FROM now() - a.xact_start), 0)::float8, left(coalesce(a.query, ''), 300)
               FROM pg_stat_activity a
              WHERE a.pid = ANY (pg_blocking_pids((SELECT w.pid FROM pg_stat_activity w
                                                    WHERE left(w.query, 1000) = left($1, 1000) AND w.pid <> pg_backend_pid()
                                                    LIMIT 1)))
              ORDER BY 1",
            &[&sql],
        )
        .await
        .map_err(Error::sql("read the sessions a statement waits for"))?
        .iter()
        .map(blocker)
        .collect())
}

/// How many rows a table has: the planner's estimate, or a count when the table was never
/// analyzed (PostgreSQL then reports -1).
pub async fn estimated_rows(client: &impl Query, relation: &str) -> Result<i64, Error> {
    let estimate: f32 = client
        .fetch_one(
            "SELECT coalesce((SELECT reltuples FROM pg_class WHERE oid = to_regclass($1)), -1)",
            &[&relation],
        )
        .await
        .map_err(Error::sql(format!("estimate the rows of {relation}")))?
        .get(0);
    if estimate >= 0.0 {
        return Ok(estimate as i64);
    }
    Ok(client
        .fetch_one(&format!("SELECT count(*) FROM {relation}"), &[])
        .await
        .map_err(Error::sql(format!("count the rows of {relation}")))?
        .get(0))
}
