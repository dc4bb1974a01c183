//! Statements that work through a transaction pooler. tokio-postgres's `query`/`execute`
//! prepare a *named* statement in one round trip and run it in the next; a pooler in
//! transaction mode may hand those round trips to different server sessions
//! (`prepared statement "s122" does not exist`), and names collide between its clients. Every
//! statement switchback sends with parameters goes through this trait instead: one unnamed
//! Parse/Bind/Execute/Sync, so it lives and dies within one server round trip. The parameter
//! types are declared by the Rust values, so nothing is asked of the server first.

use futures_util::{pin_mut, TryStreamExt};
use std::future::Future;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Error, GenericClient, Row};

/// A value that can be sent as a parameter and knows its PostgreSQL type.
pub trait Param: Sync {
    fn pg_type(&self) -> Type;
    fn as_sql(&self) -> &(dyn ToSql + Sync);
}

/// The PostgreSQL type a Rust type is sent as.
pub trait Typed {
    const TYPE: Type;
}

impl<T: Typed + ToSql + Sync> Param for T {
    fn pg_type(&self) -> Type {
        T::TYPE
    }

    fn as_sql(&self) -> &(dyn ToSql + Sync) {
        self
    }
}

macro_rules! typed {
    ($($rust:ty => $pg:ident),* $(,)?) => {
        $(impl Typed for $rust { const TYPE: Type = Type::$pg; })*
    };
}

typed! {
    bool => BOOL,
    i16 => INT2,
    i32 => INT4,
    i64 => INT8,
    f64 => FLOAT8,
    String => TEXT,
    &str => TEXT,
    serde_json::Value => JSONB,
    chrono::DateTime<chrono::Utc> => TIMESTAMPTZ,
    Vec<String> => TEXT_ARRAY,
    Vec<&str> => TEXT_ARRAY,
    &[String] => TEXT_ARRAY,
    Vec<i64> => INT8_ARRAY,
}

impl<T: Typed> Typed for Option<T> {
    const TYPE: Type = T::TYPE;
}

impl<T: Typed> Typed for &T {
    const TYPE: Type = T::TYPE;
}

fn typed<'a>(params: &'a [&'a dyn Param]) -> Vec<(&'a (dyn ToSql + Sync), Type)> {
    params.iter().map(|p| (p.as_sql(), p.pg_type())).collect()
}

/// Unnamed-statement queries on a client or a transaction.
pub trait Query {
    /// All rows.
    fn fetch(
        &self,
        sql: &str,
        params: &[&dyn Param],
    ) -> impl Future<Output = Result<Vec<Row>, Error>> + Send;

    /// Exactly one row.
    fn fetch_one(
        &self,
        sql: &str,
        params: &[&dyn Param],
    ) -> impl Future<Output = Result<Row, Error>> + Send;

    /// At most one row.
    fn fetch_opt(
        &self,
        sql: &str,
        params: &[&dyn Param],
    ) -> impl Future<Output = Result<Option<Row>, Error>> + Send;

    /// Runs a statement; returns how many rows it wrote.
    fn exec(
        &self,
        sql: &str,
        params: &[&dyn Param],
    ) -> impl Future<Output = Result<u64, Error>> + Send;
}

impl<C: GenericClient + Sync> Query for C {
    async fn fetch(&self, sql: &str, params: &[&dyn Param]) -> Result<Vec<Row>, Error> {
        self.query_typed(sql, &typed(params)).await
    }

    async fn fetch_one(&self, sql: &str, params: &[&dyn Param]) -> Result<Row, Error> {
        self.query_typed_one(sql, &typed(params)).await
    }

    async fn fetch_opt(&self, sql: &str, params: &[&dyn Param]) -> Result<Option<Row>, Error> {
        self.query_typed_opt(sql, &typed(params)).await
    }

    async fn exec(&self, sql: &str, params: &[&dyn Param]) -> Result<u64, Error> {
        let stream = self.query_typed_raw(sql, typed(params)).await?;
        pin_mut!(stream);
        while stream.try_next().await?.is_some() {}
        Ok(stream.rows_affected().unwrap_or(0))
    }
}
