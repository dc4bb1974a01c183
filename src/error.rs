//! Errors of the library that are not findings about a plan: the file could not be read.
//! Findings are `Diagnostic`s; the CLI maps both to exit codes in one place.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("failed to read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to find plan files in {}: it has no .yaml or .yml file", .0.display())]
    NoPlans(PathBuf),
}
