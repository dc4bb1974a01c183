//! Reading `pg_stat_statements`: the statements this database has run, with their call counts,
//! for the check that contract removes nothing the application still uses. The extension is
//! optional; where it cannot be read, the reason is returned in words the operator can act on.

use crate::error::Error;
use crate::pg::query::Query;
use crate::pg::quote;
use chrono::{DateTime, Utc};

/// One statement as pg_stat_statements counts it in this database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// pg_stat_statements' own key within a database: the normalized statement and the role.
    pub queryid: i64,
    pub role: String,
    pub calls: i64,
    /// The normalized text (constants as `$1`); None when this role may not read another
    /// role's statements (`<insufficient privilege>`, without pg_read_all_stats).
    pub text: Option<String>,
}

/// What pg_stat_statements showed at one moment.
#[derive(Debug, Clone)]
pub struct Statements {
    /// The server's clock when it was read.
    pub at: DateTime<Utc>,
    pub statements: Vec<Statement>,
}

/// The top-level statements of the current database, or why they cannot be read.
/// Statements run inside functions and triggers (`track = all`) are left out: switchback's
/// own sync trigger names the old columns, and the application never wrote it.
pub async fn read(client: &impl Query) -> Result<Result<Statements, String>, Error> {
    let schema = client
        .fetch_opt(
            "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
              WHERE e.extname = 'pg_stat_statements'",
            &[],
        )
        .await
        .map_err(Error::sql("look for the pg_stat_statements extension"))?;
    let Some(schema) = schema.map(|r| r.get::<_, String>(0)) else {
        return Ok(Err(
            "the pg_stat_statements extension is not installed in this database (CREATE EXTENSION pg_stat_statements, with the library in shared_preload_libraries)".into(),
        ));
    };
    // to_jsonb reads `toplevel` where the extension's version has it (1.9, PostgreSQL 14)
    // and finds no such key in an older version left un-updated.
    let sql = format!(
        "SELECT s.queryid, coalesce(r.rolname, s.userid::text), s.calls,
                CASE WHEN s.queryid IS NULL THEN NULL ELSE s.query END, clock_timestamp()
           FROM {}.pg_stat_statements s LEFT JOIN pg_roles r ON r.oid = s.userid
          WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
            AND coalesce((to_jsonb(s) ->> 'toplevel')::boolean, true)",
        quote::ident(&schema)
    );
    let rows = match client.fetch(&sql, &[]).await {
        Ok(rows) => rows,
        // 55000: the library is not in shared_preload_libraries; 42501: no SELECT on the view.
        Err(e) if matches!(e.code().map(|c| c.code()), Some("55000" | "42501")) => {
            let message = e
                .as_db_error()
                .map_or(e.to_string(), |d| d.message().into());
            return Ok(Err(format!("pg_stat_statements cannot be read: {message}")));
        }
        Err(e) => return Err(Error::sql("read pg_stat_statements")(e)),
    };
    let at = match rows.first() {
        Some(row) => row.get(4),
        None => client
            .fetch_one("SELECT clock_timestamp()", &[])
            .await
            .map_err(Error::sql("read the server's clock"))?
            .get(0),
    };
    let statements = rows
        .iter()
        .map(|row| Statement {
            queryid: row.get::<_, Option<i64>>(0).unwrap_or(0),
            role: row.get(1),
            calls: row.get(2),
            text: row.get(3),
        })
        .collect();
    Ok(Ok(Statements { at, statements }))
}
