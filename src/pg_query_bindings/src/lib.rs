//! The part of bindgen's builder API that pg_query's build script calls
//! (`Builder::default().header(..).generate()?.write_to_file(..)`), answered with bindings
//! generated once from libpg_query's header, so building switchback needs no libclang.
//! pg_query is the only crate in the tree that uses bindgen.

use std::fmt;
use std::path::Path;

/// libpg_query's bindings as bindgen 0.66 generates them for pg_query 18.1.0.
const PG_QUERY: &str = include_str!("pg_query.rs");

#[derive(Debug, Default)]
pub struct Builder {
    header: Option<String>,
}

impl Builder {
    pub fn header<T: Into<String>>(mut self, header: T) -> Builder {
        self.header = Some(header.into());
        self
    }

    /// The kept bindings, when the header is libpg_query's.
    pub fn generate(self) -> Result<Bindings, BindgenError> {
        match self.header.as_deref() {
            Some(h) if h.ends_with("pg_query.h") => Ok(Bindings),
            other => Err(BindgenError(format!(
                "only libpg_query's pg_query.h has pregenerated bindings (asked for {other:?})"
            ))),
        }
    }
}

pub struct Bindings;

impl Bindings {
    pub fn write_to_file<P: AsRef<Path>>(&self, path: P) -> std::io::Result<()> {
        std::fs::write(path, PG_QUERY)
    }
}

#[derive(Debug)]
pub struct BindgenError(String);

impl fmt::Display for BindgenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BindgenError {}
