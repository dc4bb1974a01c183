//! The `switchback` binary: parses arguments, runs one command, maps the outcome to an exit
//! code. Everything else lives in the library.

mod cli;
mod report;

use std::process::ExitCode;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("SWITCHBACK_LOG"))
        .with_writer(std::io::stderr)
        .init();
    cli::main()
}
