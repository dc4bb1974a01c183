//! The catalog side of archiving: the statements that move a dropped table into the archive
//! schema, and the SQL expressions that read, before contract's DDL, the definition of what
//! it removes (kept in the ledger, for a revert and for the operator). Relations are quoted,
//! schema-qualified names; they reach the catalog as `regclass` literals.

use crate::error::Error;
use crate::pg::catalog;
use crate::pg::facts::Partition;
use crate::pg::query::Query;
use crate::pg::quote;

/// Creates `schema` when it is missing. `CREATE SCHEMA IF NOT EXISTS` would need CREATE on
/// the database even when the schema is there, which a managed database's role may lack.
pub fn ensure_schema(schema: &str) -> String {
    format!(
        "DO $$ BEGIN IF to_regnamespace({lit}) IS NULL THEN CREATE SCHEMA {ident}; END IF; END $$",
        lit = quote::literal(&quote::ident(schema)),
        ident = quote::ident(schema)
    )
}

/// Refuses, as `DROP TABLE` without CASCADE would, a table that views, rules or other
/// tables' foreign keys depend on: moved into the archive, they would silently follow it.
pub fn refuse_dependents(relation: &str) -> String {
    let rel = quote::literal(relation);
    tidy(&format!(
        "DO $$ DECLARE what text; BEGIN
           SELECT string_agg(DISTINCT format('%s %s', CASE WHEN d.classid = 'pg_rewrite'::regclass THEN 'view or rule' ELSE 'foreign key of' END,
                                             CASE WHEN d.classid = 'pg_rewrite'::regclass THEN r.ev_class::regclass::text ELSE c.conrelid::regclass::text || ' (' || c.conname || ')' END), ', ')
             INTO what
             FROM pg_depend d
             LEFT JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND r.oid = d.objid
             LEFT JOIN pg_constraint c ON d.classid = 'pg_constraint'::regclass AND c.oid = d.objid
            WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = {rel}::regclass AND d.deptype = 'n'
              AND ((r.oid IS NOT NULL AND r.ev_class <> {rel}::regclass) OR (c.contype = 'f' AND c.conrelid <> {rel}::regclass));
           IF what IS NOT NULL THEN
             RAISE EXCEPTION 'cannot archive table %: % depend(s) on it; drop them first', {rel}, what USING ERRCODE = '2BP01';
           END IF;
         END $$"
    ))
}

/// Drops the foreign keys from `relation` to other tables: kept alive in the archive, they
/// would make deleting a referenced row fail or cascade into it.
pub fn drop_outgoing_foreign_keys(relation: &str) -> String {
    let rel = quote::literal(relation);
    tidy(&format!(
        "DO $$ DECLARE fk record; BEGIN
           FOR fk IN SELECT conname FROM pg_constraint WHERE conrelid = {rel}::regclass AND contype = 'f' AND confrelid <> conrelid ORDER BY conname LOOP
             EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', {rel}, fk.conname);
           END LOOP;
         END $$"
    ))
}

/// Moves `relation` (of `schema`) into `to` as `name`, its partitions with it: renamed
/// first, so it cannot meet an archived table of the same name. A partition named in `homes`
/// goes to its own schema there (a restore puts each back where it lived), any other to `to`.
/// Catalog-only.
pub fn move_table(
    schema: &str,
    relation: &str,
    name: &str,
    to: &str,
    homes: &[Partition],
) -> Vec<String> {
    let moved = quote::qualified(schema, name);
    let target = match homes {
        [] => quote::literal(to),
        homes => {
            let cases: String = homes
                .iter()
                .map(|p| {
                    format!(
                        " WHEN {} THEN {}",
                        quote::literal(&p.name),
                        quote::literal(&p.schema)
                    )
                })
                .collect();
            format!("CASE c.relname{cases} ELSE {} END", quote::literal(to))
        }
    };
    vec![
        format!("ALTER TABLE {relation} RENAME TO {}", quote::ident(name)),
        tidy(&format!(
            "DO $$ DECLARE p record; BEGIN
               FOR p IN SELECT c.oid::regclass AS rel, {target} AS home FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = {lit}::regclass LOOP
                 EXECUTE format('ALTER TABLE %s SET SCHEMA %I', p.rel, p.home);
               END LOOP;
             END $$",
            lit = quote::literal(&moved),
        )),
        format!("ALTER TABLE {moved} SET SCHEMA {}", quote::ident(to)),
    ]
}

/// A multi-line statement as the plan shows it: each line trimmed, the body indented.
fn tidy(sql: &str) -> String {
    let lines: Vec<&str> = sql.lines().map(str::trim).collect();
    let last = lines.len().saturating_sub(1);
    lines
        .iter()
        .enumerate()
        .map(|(i, line)| match i {
            0 => line.to_string(),
            i if i == last => format!("\n{line}"),
            _ => format!("\n  {line}"),
        })
        .collect()
}

/// The definition of a table moved into the archive, as `jsonb`: its name and the foreign
/// keys it had to other tables (dropped as it moves).
pub fn table_definition(relation: &str) -> String {
    let rel = quote::literal(relation);
    format!(
        "jsonb_build_object('relation', {rel}, 'foreign_keys', (SELECT coalesce(jsonb_agg(jsonb_build_object('name', conname, 'definition', pg_get_constraintdef(oid)) ORDER BY conname), '[]') FROM pg_constraint WHERE conrelid = {rel}::regclass AND contype = 'f' AND confrelid <> conrelid))"
    )
}

/// The definition of a dropped column, as `jsonb`: type, NOT NULL, default, and the
/// indexes and constraints PostgreSQL drops with it (everything that depends on the column,
/// expressions and predicates included), each with its name and its definition; a UNIQUE or
/// PRIMARY KEY constraint with its index's, which a revert builds first. On a partitioned
/// table, an index (or a constraint's index) also has `partitions`: each partition's index
/// attached to it, by partition name, which a revert builds under the same names.
pub fn column_definition(relation: &str, column: &str) -> String {
    // `{"partitions": {partition: index}}` for the partitioned index `parent`, else `{}`.
    let partition_indexes = |parent: &str| {
        format!(
            "jsonb_strip_nulls(jsonb_build_object('partitions', {}))",
            catalog::partition_indexes(parent)
        )
    };
    let (rel, col) = (quote::literal(relation), quote::literal(column));
    let depends = |class: &str| {
        format!("(SELECT objid FROM pg_depend WHERE classid = '{class}'::regclass AND refclassid = 'pg_class'::regclass AND refobjid = a.attrelid AND refobjsubid = a.attnum)")
    };
    format!(
        "(SELECT jsonb_build_object(
            'relation', {rel}, 'column', {col},
            'type', format_type(a.atttypid, a.atttypmod), 'not_null', a.attnotnull,
            'default', pg_get_expr(d.adbin, d.adrelid),
            'indexes', (SELECT coalesce(jsonb_agg(jsonb_build_object('name', i.relname, 'definition', pg_get_indexdef(i.oid)) || {index_partitions} ORDER BY i.relname), '[]') FROM pg_class i
                         WHERE i.oid IN {indexes} AND i.relkind IN ('i', 'I') AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.oid AND k.conrelid = a.attrelid)),
            'constraints', (SELECT coalesce(jsonb_agg(jsonb_build_object('name', c.conname, 'type', c.contype, 'definition', pg_get_constraintdef(c.oid),
                                                                          'index', CASE WHEN c.contype IN ('u', 'p') THEN pg_get_indexdef(c.conindid) END) || {constraint_partitions} ORDER BY c.conname), '[]')
                              FROM pg_constraint c WHERE c.conrelid = a.attrelid AND c.contype <> 'n' AND (a.attnum = ANY (c.conkey) OR c.oid IN {constraints})))
           FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
          WHERE a.attrelid = {rel}::regclass AND a.attname = {col} AND NOT a.attisdropped)",
        indexes = depends("pg_class"),
        constraints = depends("pg_constraint"),
        index_partitions = partition_indexes("i.oid"),
        constraint_partitions = partition_indexes("c.conindid"),
    )
}

/// Creates the archive table of a column, empty: the key's and the `columns`' (quoted
/// list) types come from the table itself. Its primary key comes once the copy is done (`column_table_key`): built
/// once, it costs a fraction of what checking it on every row of the copy would.
pub fn column_table(into: &str, relation: &str, key: &str, columns: &str) -> String {
    format!("CREATE TABLE {into} AS SELECT {key}, {columns} FROM {relation} WITH NO DATA")
}

/// Gives a column's archive table its primary key, the table's key, unless it has it.
pub fn column_table_key(into: &str, key: &str) -> String {
    let lit = quote::literal(into);
    tidy(&format!(
        "DO $$ BEGIN
           IF NOT EXISTS (SELECT 1 FROM pg_index WHERE indrelid = {lit}::regclass AND indisprimary) THEN
             EXECUTE format('ALTER TABLE %s ADD PRIMARY KEY (%s)', {lit}, {key_lit});
           END IF;
         END $$",
        key_lit = quote::literal(key)
    ))
}

/// One batch of a restore: the rows of `relation` in `window` (over its key, unqualified)
/// get `column` back from `archive`, matched on the key columns `key`. The window bounds
/// both sides (the archive's key columns have the table's names), so each batch joins two
/// short ranges; the archive's columns are renamed in the join, so the window's names in the
/// outer query can only mean the table's.
pub fn restore_batch(
    relation: &str,
    archive: &str,
    key: &[String],
    column: &str,
    window: &str,
) -> String {
    let col = quote::ident(column);
    let list = quote::ident_list(&key.iter().map(String::as_str).collect::<Vec<_>>());
    let renamed: Vec<String> = (0..key.len()).map(|i| format!("sb_key_{i}")).collect();
    let archived: Vec<String> = renamed.iter().map(|k| format!("a.{k}")).collect();
    format!(
        "UPDATE {relation} SET {col} = a.sb_value FROM (SELECT {list}, {col} FROM {archive} WHERE {window}) AS a ({}, sb_value) WHERE ({list}) = ({}) AND {col} IS DISTINCT FROM a.sb_value AND {window}",
        renamed.join(", "),
        archived.join(", ")
    )
}

/// Drops an archive for good: a moved table with its partitions, or a column's table.
pub fn purge(kept_in: &str) -> String {
    format!("DROP TABLE IF EXISTS {kept_in}")
}

/// Bytes `kept_in` takes on disk, with its indexes and partitions; None when it is gone.
pub async fn size(client: &impl Query, kept_in: &str) -> Result<Option<i64>, Error> {
    Ok(client
        .fetch_one(
            "SELECT CASE WHEN to_regclass($1) IS NOT NULL THEN
                    (SELECT sum(pg_total_relation_size(relid))::bigint FROM pg_partition_tree(to_regclass($1))) END",
            &[&kept_in],
        )
        .await
        .map_err(Error::sql(format!("read the size of {kept_in}")))?
        .get(0))
}
