//! `osprey-bench`: upload, index-wait and query benchmark for any Qdrant-compatible
//! server. See `docs/bench.md` for what each figure means.
//!
//! Module map: `cli` (flags) → `run` (the sequence of a run) over `dataset` (synthetic
//! or file vectors), `truth` (brute-force top-k and its cache), `server` (REST and gRPC
//! calls), `procfs` (server CPU, memory and disk writes), `stats` (percentiles) →
//! `report` (JSON and table).

mod cli;
mod dataset;
mod procfs;
mod report;
mod rng;
mod run;
mod server;
mod stats;
mod truth;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Args::parse();
    let json_path = args.json.clone();
    let report = match run::run(args) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("osprey-bench: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    print!("\n{}", report.table());
    if let Some(path) = json_path {
        let written = serde_json::to_vec_pretty(&report)
            .map_err(std::io::Error::other)
            .and_then(|bytes| std::fs::write(&path, bytes));
        if let Err(e) = written {
            eprintln!("osprey-bench: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        eprintln!("report written to {}", path.display());
    }
    if !report.green.reached {
        // The figures are written, but the run did not complete: say so in the status.
        eprintln!(
            "osprey-bench: the collection did not turn green within --green-timeout; \
             no query phase was run"
        );
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
