//! switchback: zero-downtime schema changes for PostgreSQL.
//!
//! A plan file declares changes (rename a column, add NOT NULL, ...). The planner expands
//! each into steps of an expand stage (additive DDL, a dual-write trigger, a batched backfill,
//! validation) and a contract stage (removing the old shape), with a deploy of the
//! application between them. This crate never prints: it returns values, findings and
//! rendered text; the `switchback` binary decides what reaches the terminal.

pub mod error;
pub mod exec;
pub mod graph;
pub mod import;
pub mod inspect;
pub mod ledger;
pub mod pg;
pub mod plan;
pub mod render;
pub mod workload;

pub use error::Error;
