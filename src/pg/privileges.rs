//! What the connected role lacks for the statements a plan runs, found before the first of
//! them: a managed database's migration role is no superuser, and a grant that is missing
//! half-way through expand is worse than one named up front.

use crate::error::Error;
use crate::pg::query::Query;

/// A relation a statement works on, and whether the statement creates a relation in its
/// schema (a table, a view, or an index on it).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Use {
    /// Quoted and schema-qualified, as the planner writes it.
    pub relation: String,
    pub creates: bool,
}

/// Every privilege the role lacks for `uses`, each as a sentence with the grant that fixes
/// it. ALTER, CREATE INDEX and CREATE TRIGGER need the table's owner (or a member of its
/// role); a new table, view or index needs CREATE on its schema.
pub async fn missing(client: &impl Query, uses: &[Use]) -> Result<Vec<String>, Error> {
    let mut problems = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for u in uses {
        if !seen.insert(u) {
            continue;
        }
        let row = client
            .fetch_opt(
                "WITH target AS (SELECT to_regclass($1) AS oid, parse_ident($1) AS parts)
                 SELECT c.oid IS NOT NULL,
                        coalesce(pg_has_role(c.relowner, 'USAGE'), true),
                        coalesce(pg_get_userbyid(c.relowner)::text, ''),
                        n.nspname::text,
                        n.oid IS NOT NULL AND has_schema_privilege(n.oid, 'CREATE'),
                        current_user::text
                   FROM target t
                   LEFT JOIN pg_class c ON c.oid = t.oid
                   LEFT JOIN pg_namespace n
                     ON n.nspname = CASE WHEN array_length(t.parts, 1) > 1 THEN t.parts[1] ELSE current_schema() END",
                &[&u.relation],
            )
            .await;
        // A name the parser cannot read (raw `sql` lists several tables) is not checked here.
        let Ok(Some(row)) = row else { continue };
        let (exists, owns, owner, schema, may_create, user): (
            bool,
            bool,
            String,
            Option<String>,
            bool,
            String,
        ) = (
            row.get(0),
            row.get(1),
            row.get(2),
            row.get(3),
            row.get(4),
            row.get(5),
        );
        if exists && !owns {
            problems.push(format!(
                "role {user} does not own {} (its owner is {owner}), and only the owner may alter it; run as {owner}, or GRANT {owner} TO {user}",
                u.relation
            ));
        }
        if u.creates && !may_create {
            let schema = schema.unwrap_or_else(|| "its schema".into());
            let problem = format!(
                "role {user} may not create tables, views or indexes in schema {schema} (the plan creates one for {}); GRANT CREATE ON SCHEMA {schema} TO {user}",
                u.relation
            );
            if !problems
                .iter()
                .any(|p: &String| p.starts_with(&problem[..problem.find(" (").unwrap_or(0)]))
            {
                problems.push(problem);
            }
        }
    }
    Ok(problems)
}

/// Whether `sql` creates a relation in the schema of the one it locks: a table, the view
/// rename_table leaves, or an index (PostgreSQL asks for CREATE on the schema for each).
pub fn creates(sql: &str) -> bool {
    let upper = sql.trim_start().to_ascii_uppercase();
    [
        "CREATE TABLE",
        "CREATE VIEW",
        "CREATE OR REPLACE VIEW",
        "CREATE INDEX",
        "CREATE UNIQUE INDEX",
    ]
    .iter()
    .any(|p| upper.starts_with(p))
}

/// What the ledger needs: USAGE and CREATE on its schema when it exists, CREATE on the
/// database when it does not. None when all is there.
pub async fn ledger(client: &impl Query, schema: &str) -> Result<Option<String>, Error> {
    schema_access(client, schema, "ledger").await
}

/// What the archive needs, as the ledger: USAGE and CREATE on its schema, or CREATE on the
/// database to create it.
pub async fn archive(client: &impl Query, schema: &str) -> Result<Option<String>, Error> {
    schema_access(client, schema, "archive").await
}

/// `schema`, switchback's `what` schema: usable, or creatable.
async fn schema_access(
    client: &impl Query,
    schema: &str,
    what: &str,
) -> Result<Option<String>, Error> {
    let row = client
        .fetch_one(
            "SELECT n.oid IS NOT NULL,
                    coalesce(has_schema_privilege(n.oid, 'USAGE') AND has_schema_privilege(n.oid, 'CREATE'), false),
                    has_database_privilege(current_database(), 'CREATE'),
                    -- to_regclass itself fails on a schema the role may not use.
                    CASE WHEN has_schema_privilege(n.oid, 'USAGE')
                         THEN to_regclass(quote_ident($1) || '.plans') IS NOT NULL
                         ELSE false END,
                    current_user::text, current_database()::text
               FROM (SELECT 1) one LEFT JOIN pg_namespace n ON n.nspname = $1",
            &[&schema],
        )
        .await
        .map_err(Error::sql(format!("read the privileges on the {what} schema")))?;
    let (exists, usable, may_create_schema, ready, user, database): (
        bool,
        bool,
        bool,
        bool,
        String,
        String,
    ) = (
        row.get(0),
        row.get(1),
        row.get(2),
        row.get(3),
        row.get(4),
        row.get(5),
    );
    Ok(match (exists, usable || ready, may_create_schema) {
        (true, true, _) | (false, _, true) => None,
        (true, false, _) => Some(format!(
            "role {user} cannot use the {what} schema {schema}; GRANT USAGE, CREATE ON SCHEMA {schema} TO {user}"
        )),
        (false, _, false) => Some(format!(
            "role {user} may not create the {what} schema {schema} in database {database}; an administrator can run CREATE SCHEMA {schema} and GRANT USAGE, CREATE ON SCHEMA {schema} TO {user}, or GRANT CREATE ON DATABASE {database} TO {user}"
        )),
    })
}
