//! The `osprey` binary: a Qdrant-compatible vector database with authentication on by
//! default.
//!
//! - `cli`: the command line (`osprey [serve]`, Qdrant's flags);
//! - `settings`: Qdrant-style layered configuration;
//! - `bootstrap`: secure by default (the one-time admin key);
//! - `server`: startup wiring and graceful shutdown;
//! - `keys_cli`: `osprey keys ...`, the key plane's command line against a running server;
//! - `memory`: the allocator policy that returns freed memory to the system.

mod bootstrap;
mod cli;
mod keys_cli;
mod memory;
mod server;
mod settings;
mod tls;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    memory::configure_allocator();
    let result = match Cli::parse().into_command() {
        Command::Serve(args) => server::run(args),
        Command::Keys(args) => keys_cli::run_blocking(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // Also printed when logging was never set up (e.g. a bad config file).
            eprintln!("osprey: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
