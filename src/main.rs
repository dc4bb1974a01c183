//! The `switchback` binary: parses arguments, runs one command, maps the outcome to an exit
//! code. Everything else lives in the library.

mod cli;
mod report;

use std::process::ExitCode;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            // Warnings show by default, as libpq prints them (a password file others can read).
            tracing_subscriber::EnvFilter::builder()
                .with_default_directive(tracing_subscriber::filter::LevelFilter::WARN.into())
                .with_env_var("SWITCHBACK_LOG")
                .from_env_lossy(),
        )
        .with_writer(std::io::stderr)
        .init();
    cli::main()
}
