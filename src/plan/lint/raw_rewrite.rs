//! E607: VACUUM FULL or CLUSTER in a `sql` change.

use crate::plan::diagnostic::Rule;
use crate::plan::sql::vacuum_full;
use pg_query::NodeEnum;

pub const RULE: Rule = Rule::error("E607", "VACUUM FULL or CLUSTER")
    .why("VACUUM FULL and CLUSTER write a new copy of the table under ACCESS EXCLUSIVE: nothing reads or writes it until they finish.")
    .instead("Use pg_repack or pg_squeeze to rebuild without the long lock, or let autovacuum reclaim space.")
    .allowable();

pub fn check(statement: &NodeEnum, _text: &str) -> Option<&'static str> {
    match statement {
        NodeEnum::VacuumStmt(vacuum) if vacuum_full(vacuum) => Some("VACUUM FULL rewrites the table under ACCESS EXCLUSIVE; use pg_repack or let autovacuum work"),
        NodeEnum::ClusterStmt(_) => {
            Some("CLUSTER rewrites the table under ACCESS EXCLUSIVE; use pg_repack")
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::lint::testing::{assert_clean, findings};

    #[test]
    fn fires() {
        assert_eq!(
            findings("changes:\n  - sql: { up: \"VACUUM FULL users\" }\n"),
            [
                "p.yaml:2:16: error[E607]: `VACUUM FULL users`: VACUUM FULL rewrites the table under ACCESS EXCLUSIVE; use pg_repack or let autovacuum work (at changes[0].sql.up)",
            ]
        );
    }

    #[test]
    fn the_safe_way_is_clean() {
        assert_clean("changes:\n  - sql: { up: \"VACUUM (ANALYZE) users\" }\n");
    }

    #[test]
    fn cluster_fires_too() {
        assert_eq!(
            findings("changes:\n  - sql: { up: \"CLUSTER users USING users_pkey\" }\n"),
            [
                "p.yaml:2:16: error[E607]: `CLUSTER users USING users_pkey`: CLUSTER rewrites the table under ACCESS EXCLUSIVE; use pg_repack (at changes[0].sql.up)",
            ]
        );
    }
}
