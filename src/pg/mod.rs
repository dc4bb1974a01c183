//! PostgreSQL-facing helpers shared by the planner and (later) the executor: identifier and
//! literal quoting, and the table-lock vocabulary every step is described in.

pub mod lock;
pub mod quote;
