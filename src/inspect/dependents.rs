//! Objects that depend on a column or table a plan renames, retypes or drops: views, rules,
//! policies, triggers and other tables' foreign keys (from pg_depend), and functions whose
//! body mentions the names (PostgreSQL does not track what a function body uses).

use crate::error::Error;
use crate::pg::query::Query;
use crate::pg::quote;

/// Each dependent object, described ("view public.active_users", "trigger audit on table users").
/// Other tables' foreign keys count only when the column or table is dropped: a rename or a
/// type change carries them over.
pub async fn objects(
    client: &impl Query,
    schema: &str,
    table: &str,
    column: Option<&str>,
    dropped: bool,
) -> Result<Vec<String>, Error> {
    let relation = quote::qualified(schema, table);
    let rows = client
        .fetch(
            "SELECT DISTINCT CASE WHEN d.classid = 'pg_rewrite'::regclass THEN
                        (SELECT CASE c.relkind WHEN 'v' THEN 'view ' WHEN 'm' THEN 'materialized view ' ELSE 'rule on ' END || r.ev_class::regclass::text
                           FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class WHERE r.oid = d.objid)
                    ELSE pg_describe_object(d.classid, d.objid, d.objsubid) END
               FROM pg_depend d
              WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = to_regclass($1) AND d.deptype = 'n'
                AND ($2::text IS NULL OR d.refobjsubid = (SELECT attnum FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = $2))
                AND (d.classid IN ('pg_rewrite'::regclass, 'pg_policy'::regclass)
                     OR (d.classid = 'pg_trigger'::regclass
                         AND (SELECT tgname NOT LIKE 'sb\\_%' FROM pg_trigger WHERE oid = d.objid))
                     OR ($3 AND d.classid = 'pg_constraint'::regclass
                         AND (SELECT conrelid <> to_regclass($1) FROM pg_constraint WHERE oid = d.objid)))
              ORDER BY 1",
            &[&relation, &column, &dropped],
        )
        .await
        .map_err(Error::sql(format!("read what depends on {relation}")))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Functions outside the system schemas (and switchback's own) whose body names the table,
/// and the column when one is given.
pub async fn functions(
    client: &impl Query,
    state_schema: &str,
    table: &str,
    column: Option<&str>,
) -> Result<Vec<String>, Error> {
    let word = |name: &str| format!("\\m{}\\M", regex_escape(name));
    let column = column.map(word);
    let rows = client
        .fetch(
            "SELECT p.oid::regprocedure::text
               FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
              WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', $1) AND n.nspname NOT LIKE 'pg\\_%'
                AND p.prosrc ~* $2 AND ($3::text IS NULL OR p.prosrc ~* $3)
              ORDER BY 1",
            &[&state_schema, &word(table), &column],
        )
        .await
        .map_err(Error::sql(format!("search function bodies for {table}")))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.^$|?*+()[]{}".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
