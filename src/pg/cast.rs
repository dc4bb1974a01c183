//! Whether changing a column's type rewrites the table. PostgreSQL skips the rewrite when the
//! cast between the types is binary-coercible (`pg_cast.castmethod = 'b'`, or the same type)
//! and the new type modifier accepts every old value without a check: varchar(20) to
//! varchar(40) or text, numeric(10,2) to numeric(12,2), timestamp(0) to timestamp(3).

use crate::error::Error;
use crate::pg::query::Query;
use crate::pg::quote;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeChange {
    /// The column's type now, as `format_type` writes it.
    pub from: String,
    /// The new type, as `format_type` writes it.
    pub to: String,
    pub rewrites: bool,
    /// Why, in a few words.
    pub reason: String,
}

/// What changing `table`.`column` to `new_type` (a type checked by the plan parser) costs.
pub async fn type_change(
    client: &impl Query,
    schema: &str,
    table: &str,
    column: &str,
    new_type: &str,
) -> Result<TypeChange, Error> {
    let relation = quote::qualified(schema, table);
    let context = || {
        format!(
            "compare the type of {relation}.{} with {new_type}",
            quote::ident(column)
        )
    };
    let modifier = type_modifier(client, new_type).await?;
    let row = client
        .fetch_opt(
            "SELECT format_type(a.atttypid, a.atttypmod), a.atttypmod, format_type(t.oid, $4), t.typname::text,
                    a.atttypid = t.oid,
                    EXISTS (SELECT 1 FROM pg_cast c WHERE c.castsource = a.atttypid AND c.casttarget = t.oid AND c.castmethod = 'b')
               FROM pg_attribute a, pg_type t
              WHERE a.attrelid = to_regclass($1) AND a.attname = $2 AND NOT a.attisdropped
                AND t.oid = to_regtype($3)",
            &[&relation, &column, &new_type, &modifier],
        )
        .await
        .map_err(Error::sql(context()))?
        .ok_or_else(|| Error::Refused(format!("find column {} of {relation}, or type {new_type}", quote::ident(column))))?;
    let (from, old_modifier, to, base): (String, i32, String, String) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    let (same_type, binary): (bool, bool) = (row.get(4), row.get(5));
    let (rewrites, reason) = decide(same_type, binary, &base, old_modifier, modifier);
    Ok(TypeChange {
        from,
        to,
        rewrites,
        reason,
    })
}

/// The type modifier of `type_text` (`varchar(40)` gives 44, `text` gives -1): the
/// modifiers as written, passed through the type's own `typmodin` function.
async fn type_modifier(client: &impl Query, type_text: &str) -> Result<i32, Error> {
    let context = || format!("read the type modifier of {type_text}");
    let modifiers = crate::pg::type_text::type_modifiers(type_text);
    if modifiers.is_empty() {
        return Ok(-1);
    }
    let typmodin: Option<String> = client
        .fetch_opt(
            "SELECT typmodin::text FROM pg_type WHERE oid = to_regtype($1) AND typmodin <> 0",
            &[&type_text],
        )
        .await
        .map_err(Error::sql(context()))?
        .map(|r| r.get(0));
    let Some(typmodin) = typmodin else {
        return Ok(-1);
    };
    let literals: Vec<String> = modifiers.iter().map(|m| quote::literal(m)).collect();
    // `typmodin` is a function name read from pg_type, not from the plan.
    Ok(client
        .fetch_one(
            &format!(
                "SELECT {typmodin}(ARRAY[{}]::cstring[])",
                literals.join(", ")
            ),
            &[],
        )
        .await
        .map_err(Error::sql(context()))?
        .get(0))
}

fn decide(
    same_type: bool,
    binary_cast: bool,
    base: &str,
    old_modifier: i32,
    new_modifier: i32,
) -> (bool, String) {
    if !same_type && !binary_cast {
        return (true, "the cast is not binary-coercible".into());
    }
    if new_modifier == -1 {
        return (
            false,
            "binary-coercible, no length or precision limit".into(),
        );
    }
    let widens = old_modifier != -1
        && match base {
            "varchar" | "varbit" => same_type && new_modifier >= old_modifier,
            // numeric's modifier is ((precision << 16) | scale) + 4: the scale must stay.
            "numeric" => {
                let (old, new) = (old_modifier - 4, new_modifier - 4);
                same_type && (old & 0xffff) == (new & 0xffff) && (new >> 16) >= (old >> 16)
            }
            "timestamp" | "timestamptz" | "time" | "timetz" | "interval" => {
                same_type && new_modifier >= old_modifier
            }
            _ => false,
        };
    if widens {
        (false, "same type with a wider modifier".into())
    } else {
        (
            true,
            "the new length or precision must be checked or applied to every value".into(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::decide;

    #[test]
    fn decides_like_postgresql() {
        assert!(!decide(true, false, "varchar", 24, 44).0);
        assert!(decide(true, false, "varchar", 44, 24).0);
        assert!(!decide(false, true, "text", 24, -1).0);
        assert!(decide(false, false, "int8", -1, -1).0);
        let numeric = |p: i32, s: i32| ((p << 16) | s) + 4;
        assert!(!decide(true, false, "numeric", numeric(10, 2), numeric(12, 2)).0);
        assert!(decide(true, false, "numeric", numeric(10, 2), numeric(12, 3)).0);
        assert!(decide(true, false, "numeric", -1, numeric(12, 2)).0);
        assert!(decide(true, false, "bpchar", 7, 9).0);
    }
}
