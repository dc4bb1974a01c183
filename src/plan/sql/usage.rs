//! Whether one of the application's statements (as pg_stat_statements keeps it, constants as
//! `$1`) reads or writes a table or column that a plan's contract stage removes. The text is
//! parsed with PostgreSQL's grammar and its tree walked as a whole, so a column in a CTE,
//! a RETURNING list, an ON CONFLICT target or a COPY column list counts as well as one in
//! the WHERE clause. Only statements an application runs (queries, DML, COPY, cursors) are
//! looked at: DDL is switchback's or a person's, not the old application's.

use serde_json::Value;

/// A table, or a column of one, that contract removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    pub table: String,
    /// None when the whole table goes (drop_table, the old name of rename_table).
    pub column: Option<String>,
    /// How: "dropped", "renamed to `full_name`".
    pub how: String,
}

impl Removed {
    /// "`users`.`name` (renamed to `full_name`)".
    pub fn describe(&self) -> String {
        match &self.column {
            Some(column) => format!("`{}`.`{column}` ({})", self.table, self.how),
            None => format!("table `{}` ({})", self.table, self.how),
        }
    }
}

/// The statement kinds an application runs; anything else is left alone.
const APPLICATION_STATEMENTS: &[&str] = &[
    "SelectStmt",
    "InsertStmt",
    "UpdateStmt",
    "DeleteStmt",
    "MergeStmt",
    "CopyStmt",
    "DeclareCursorStmt",
];

/// The indices of the entries of `removed` that `sql` reads or writes, with unqualified
/// table names taken to be in `schema`. Empty when the text is not an application
/// statement or does not parse.
pub fn uses(sql: &str, schema: &str, removed: &[Removed]) -> Vec<usize> {
    let Ok(parsed) = pg_query::parse(sql, pg_query::ParserOptions::DEFAULT) else {
        return Vec::new();
    };
    let Ok(tree) = serde_json::to_value(&parsed.protobuf) else {
        return Vec::new();
    };
    let statements = tree["stmts"].as_array().cloned().unwrap_or_default();
    let application = statements.iter().all(|s| {
        s["stmt"]["node"]
            .as_object()
            .and_then(|o| o.keys().next())
            .is_some_and(|kind| APPLICATION_STATEMENTS.contains(&kind.as_str()))
    });
    if statements.is_empty() || !application {
        return Vec::new();
    }
    let mut found = Found::default();
    found.walk(&tree);
    removed
        .iter()
        .enumerate()
        .filter(|(_, r)| found.uses(r, schema))
        .map(|(i, _)| i)
        .collect()
}

/// A relation as a statement names it.
#[derive(Debug, Default)]
struct Relation {
    schema: String,
    name: String,
    alias: String,
}

impl Relation {
    fn read(value: &Value) -> Relation {
        Relation {
            schema: text(&value["schemaname"]),
            name: text(&value["relname"]),
            alias: text(&value["alias"]["aliasname"]),
        }
    }

    fn is(&self, table: &str, schema: &str) -> bool {
        self.name == table && (self.schema.is_empty() || self.schema == schema)
    }

    /// Whether `qualifier` (of `qualifier.column`) names this relation.
    fn answers_to(&self, qualifier: &str) -> bool {
        match self.alias.as_str() {
            "" => self.name == qualifier,
            alias => alias == qualifier,
        }
    }
}

/// What the walk found in one statement.
#[derive(Debug, Default)]
struct Found {
    relations: Vec<Relation>,
    /// Column references, as their dotted parts (`["u", "name"]`); `*` is left out.
    columns: Vec<Vec<String>>,
    /// Columns written by name: (the relation's index, column).
    targets: Vec<(usize, String)>,
    /// INSERTs without a column list, which give a value to every column by position.
    positional: Vec<usize>,
}

impl Found {
    fn walk(&mut self, value: &Value) {
        match value {
            Value::Array(items) => items.iter().for_each(|item| self.walk(item)),
            Value::Object(map) => {
                for (key, inner) in map {
                    self.node(key, inner);
                    self.walk(inner);
                }
            }
            _ => {}
        }
    }

    fn relation(&mut self, value: &Value) -> Option<usize> {
        value.is_object().then(|| {
            self.relations.push(Relation::read(value));
            self.relations.len() - 1
        })
    }

    fn targets(&mut self, relation: Option<usize>, names: impl Iterator<Item = String>) {
        if let Some(relation) = relation {
            self.targets.extend(names.map(|n| (relation, n)));
        }
    }

    /// One node of the tree, by its kind. A statement's own target relation is a field, not a
    /// `RangeVar` node, so each statement kind names it here.
    fn node(&mut self, kind: &str, value: &Value) {
        match kind {
            "RangeVar" => {
                self.relation(value);
            }
            "ColumnRef" => {
                let parts: Option<Vec<String>> = items(&value["fields"])
                    .map(|f| f["node"]["String"]["sval"].as_str().map(str::to_owned))
                    .collect();
                self.columns.extend(parts);
            }
            "InsertStmt" => {
                let relation = self.relation(&value["relation"]);
                let columns: Vec<String> = res_target_names(&value["cols"]).collect();
                if columns.is_empty() && !value["select_stmt"].is_null() {
                    self.positional.extend(relation);
                }
                self.targets(relation, columns.into_iter());
                let conflict = &value["on_conflict_clause"];
                self.targets(relation, res_target_names(&conflict["target_list"]));
                let inferred = items(&conflict["infer"]["index_elems"])
                    .map(|e| text(&e["node"]["IndexElem"]["name"]))
                    .filter(|n| !n.is_empty());
                self.targets(relation, inferred);
            }
            "UpdateStmt" => {
                let relation = self.relation(&value["relation"]);
                self.targets(relation, res_target_names(&value["target_list"]));
            }
            "DeleteStmt" => {
                self.relation(&value["relation"]);
            }
            "MergeStmt" => {
                let relation = self.relation(&value["relation"]);
                for clause in items(&value["merge_when_clauses"]) {
                    let names = res_target_names(&clause["node"]["MergeWhenClause"]["target_list"]);
                    self.targets(relation, names);
                }
            }
            "CopyStmt" => {
                let relation = self.relation(&value["relation"]);
                let names = items(&value["attlist"]).map(|a| text(&a["node"]["String"]["sval"]));
                self.targets(relation, names);
            }
            _ => {}
        }
    }

    fn uses(&self, removed: &Removed, schema: &str) -> bool {
        let matching: Vec<usize> = (0..self.relations.len())
            .filter(|&i| self.relations[i].is(&removed.table, schema))
            .collect();
        let Some(column) = &removed.column else {
            return !matching.is_empty();
        };
        if matching.is_empty() {
            return false;
        }
        self.positional.iter().any(|r| matching.contains(r))
            || self
                .targets
                .iter()
                .any(|(r, name)| matching.contains(r) && name == column)
            || self.columns.iter().any(|parts| match parts.as_slice() {
                [name] => name == column,
                // EXCLUDED is the row an INSERT ... ON CONFLICT proposed for its table.
                [qualifier, name] => {
                    name == column
                        && (qualifier == "excluded"
                            || matching
                                .iter()
                                .any(|&r| self.relations[r].answers_to(qualifier)))
                }
                [.., table, name] => name == column && *table == removed.table,
                [] => false,
            })
    }
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

fn items(value: &Value) -> impl Iterator<Item = &Value> {
    value.as_array().into_iter().flatten()
}

/// The `name`s of a list of ResTarget nodes: the columns an INSERT, UPDATE or MERGE writes.
fn res_target_names(list: &Value) -> impl Iterator<Item = String> + '_ {
    items(list)
        .map(|t| text(&t["node"]["ResTarget"]["name"]))
        .filter(|n| !n.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn removed() -> Vec<Removed> {
        vec![
            Removed {
                table: "users".into(),
                column: Some("name".into()),
                how: "renamed to `full_name`".into(),
            },
            Removed {
                table: "legacy_log".into(),
                column: None,
                how: "dropped".into(),
            },
        ]
    }

    fn used(sql: &str) -> Vec<usize> {
        uses(sql, "public", &removed())
    }

    #[test]
    fn columns_read_or_written_anywhere_in_a_statement() {
        for sql in [
            "SELECT name FROM users WHERE id = $1",
            "SELECT u.name FROM users u JOIN orgs o ON o.id = u.org_id",
            "SELECT public.users.name FROM public.users",
            "UPDATE users SET name = $1 WHERE id = $2",
            "UPDATE users SET email = $1 WHERE id = $2 RETURNING name",
            "INSERT INTO users (id, name) VALUES ($1, $2)",
            "INSERT INTO users VALUES ($1, $2, $3)",
            "INSERT INTO users (id) VALUES ($1) ON CONFLICT (id) DO UPDATE SET name = excluded.name",
            "WITH changed AS (UPDATE users SET name = $1 RETURNING id) SELECT count(*) FROM changed",
            "SELECT id FROM users WHERE lower(name) = lower($1) ORDER BY id LIMIT $2",
            "MERGE INTO users u USING incoming i ON u.id = i.id WHEN MATCHED THEN UPDATE SET name = i.n",
            "COPY users (id, name) FROM STDIN",
            "DELETE FROM users WHERE name IS NULL",
            "SELECT id FROM orgs WHERE EXISTS (SELECT 1 FROM users WHERE users.name = orgs.owner)",
        ] {
            assert_eq!(used(sql), vec![0], "{sql}");
        }
    }

    #[test]
    fn a_removed_table_is_used_by_any_mention() {
        for sql in [
            "SELECT * FROM legacy_log",
            "INSERT INTO legacy_log (at) VALUES (now())",
            "SELECT count(*) FROM users u JOIN public.legacy_log l ON l.user_id = u.id",
        ] {
            assert_eq!(used(sql), vec![1], "{sql}");
        }
    }

    #[test]
    fn what_does_not_use_the_removed_column() {
        for sql in [
            // The new application, and the same name on another table.
            "SELECT full_name FROM users WHERE id = $1",
            "UPDATE users SET full_name = $1 WHERE id = $2",
            "SELECT o.name FROM orgs o JOIN users u ON u.org_id = o.id",
            "SELECT name FROM orgs",
            "SELECT name FROM other.users",
            // `*` still runs after contract; an alias is not a column.
            "SELECT * FROM users",
            "SELECT full_name AS name FROM users",
            "INSERT INTO users DEFAULT VALUES",
            // DDL and anything that is not the application's.
            "ALTER TABLE users DROP COLUMN name",
            "CREATE INDEX ON users (name)",
            "SELECT name FROM",
        ] {
            assert!(used(sql).is_empty(), "{sql}: {:?}", used(sql));
        }
    }
}
