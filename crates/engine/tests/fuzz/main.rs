//! Fuzzing on the stable toolchain: proptest properties over the engine's
//! input decoders and on-disk readers, bounded so that a plain `cargo test`
//! stays quick. Each theme is a module (one binary, one link step).
//!
//! - `decoders`: random JSON trees, shaped like real filters, queries, prefetch
//!   trees and update bodies, through every public request decoder.
//! - `reads`: decoded random read requests run against live collections.
//! - `payload_path`: key path parsing, printing, and reading / setting /
//!   deleting payload values.
//! - `wal`: valid write-ahead logs, damaged on disk, then reopened and read.
//! - `storage`: a whole storage directory with one file damaged, then reopened.
//! - `writes`: decoded random writes applied to live collections, then a
//!   restart: what was acknowledged comes back unchanged.
//!
//! The properties are "never panics" plus, where the contract allows it, "never
//! accepts different data": a damaged log or checkpoint must be refused or read
//! as a prefix of what was written, never as something else.
//!
//! # Running it longer
//!
//! The default case counts (1000 for the decoders, 2048 for key paths, 768
//! reads, 256 damaged logs, 96 damaged storages, 64 write sequences) keep
//! `cargo test -p osprey-engine --test fuzz` well under a minute on two cores.
//! `PROPTEST_CASES` replaces every default; the storage, log and write
//! properties cost tens of milliseconds a case (they fsync), the others well
//! under one. For example:
//!
//! ```text
//! PROPTEST_CASES=50000 cargo test -p osprey-engine --test fuzz -- decoders payload_path reads
//! PROPTEST_CASES=3000  cargo test -p osprey-engine --test fuzz -- wal storage writes
//! ```
//!
//! `PROPTEST_MAX_SHRINK_ITERS` and the other `PROPTEST_*` variables work as
//! usual. A failure prints its shrunk input; nothing is written into the source
//! tree (no regression files), so turn a real finding into a small named test.
//! Findings not fixed yet are such tests, marked `#[ignore]` with the reason;
//! `cargo test -p osprey-engine --test fuzz -- --ignored` runs them.

mod damage;
mod decoders;
mod json;
mod payload_path;
mod reads;
mod storage;
mod wal;
mod writes;

use proptest::test_runner::Config;

/// A proptest configuration with `default_cases` cases unless `PROPTEST_CASES`
/// is set, which then wins for every property of this binary.
pub fn config(default_cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_cases);
    Config {
        cases,
        // Some properties set aside rare inputs (too deep, or a known issue);
        // long runs must not stop on the default limit of 1024.
        max_global_rejects: (cases / 2).max(1024),
        // Shrunk inputs are printed on failure; no regression file is written
        // next to the sources.
        failure_persistence: None,
        ..Config::default()
    }
}
