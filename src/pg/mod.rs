//! PostgreSQL-facing pieces: quoting, lock modes, connections (libpq parameters, TLS,
//! pooler-safe statements), catalog introspection, the lock-safe DDL runner, and throwaway
//! clusters for demos and tests.

pub mod archive;
pub mod cast;
pub mod catalog;
pub mod cluster;
pub mod connect;
pub mod conninfo;
pub mod ddl;
pub mod facts;
pub mod hooks;
pub mod lock;
pub mod model;
pub mod privileges;
pub mod query;
pub mod quote;
pub mod session;
pub mod statements;
pub mod tls;
pub mod type_text;
