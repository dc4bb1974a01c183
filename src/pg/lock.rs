//! Table-level lock modes, ordered from weakest to strongest, with what each one blocks for
//! the application. The planner tags every statement with the lock it takes so reviewers see
//! what a step costs before it runs.

use serde::Serialize;
use std::fmt;

/// PostgreSQL's table lock modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LockMode {
    AccessShare,
    RowShare,
    RowExclusive,
    ShareUpdateExclusive,
    Share,
    ShareRowExclusive,
    Exclusive,
    AccessExclusive,
}

impl LockMode {
    pub const ALL: [LockMode; 8] = [
        LockMode::AccessShare,
        LockMode::RowShare,
        LockMode::RowExclusive,
        LockMode::ShareUpdateExclusive,
        LockMode::Share,
        LockMode::ShareRowExclusive,
        LockMode::Exclusive,
        LockMode::AccessExclusive,
    ];

    /// The name PostgreSQL's documentation and `pg_locks` use (`AccessExclusiveLock`).
    pub fn sql_name(self) -> &'static str {
        match self {
            LockMode::AccessShare => "ACCESS SHARE",
            LockMode::RowShare => "ROW SHARE",
            LockMode::RowExclusive => "ROW EXCLUSIVE",
            LockMode::ShareUpdateExclusive => "SHARE UPDATE EXCLUSIVE",
            LockMode::Share => "SHARE",
            LockMode::ShareRowExclusive => "SHARE ROW EXCLUSIVE",
            LockMode::Exclusive => "EXCLUSIVE",
            LockMode::AccessExclusive => "ACCESS EXCLUSIVE",
        }
    }

    /// The snake_case spelling used in plan files (`lock: access_exclusive`).
    pub fn plan_name(self) -> &'static str {
        match self {
            LockMode::AccessShare => "access_share",
            LockMode::RowShare => "row_share",
            LockMode::RowExclusive => "row_exclusive",
            LockMode::ShareUpdateExclusive => "share_update_exclusive",
            LockMode::Share => "share",
            LockMode::ShareRowExclusive => "share_row_exclusive",
            LockMode::Exclusive => "exclusive",
            LockMode::AccessExclusive => "access_exclusive",
        }
    }

    pub fn from_plan_name(name: &str) -> Option<LockMode> {
        LockMode::ALL.into_iter().find(|m| m.plan_name() == name)
    }

    /// What an application notices while this lock is held or queued for.
    pub fn blocks(self) -> &'static str {
        match self {
            LockMode::AccessShare => "only ACCESS EXCLUSIVE (DDL that rewrites or drops)",
            LockMode::RowShare => "EXCLUSIVE and ACCESS EXCLUSIVE",
            LockMode::RowExclusive => "SHARE and stronger (plain CREATE INDEX, most DDL)",
            LockMode::ShareUpdateExclusive => {
                "other DDL, VACUUM and concurrent index builds; not reads or writes"
            }
            LockMode::Share => "writes",
            LockMode::ShareRowExclusive => "writes and other DDL",
            LockMode::Exclusive => "writes and SELECT ... FOR UPDATE; plain reads continue",
            LockMode::AccessExclusive => "reads and writes",
        }
    }

    /// Whether holding this lock stops the application's INSERT/UPDATE/DELETE.
    pub fn blocks_writes(self) -> bool {
        self >= LockMode::Share
    }
}

impl fmt::Display for LockMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.sql_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_names_round_trip() {
        for mode in LockMode::ALL {
            assert_eq!(LockMode::from_plan_name(mode.plan_name()), Some(mode));
        }
        assert_eq!(LockMode::from_plan_name("exclusive_access"), None);
    }

    #[test]
    fn only_share_and_stronger_block_writes() {
        assert!(!LockMode::ShareUpdateExclusive.blocks_writes());
        assert!(LockMode::Share.blocks_writes());
        assert!(LockMode::AccessExclusive.blocks_writes());
    }
}
