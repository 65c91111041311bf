//! Black-box end-to-end tests: the real `osprey` binary driven over REST.
//!
//! One test binary with a module per theme, so the suite links once (this matters
//! on 2 cores). Each test starts its own server on free ports with a temporary
//! storage directory; see `harness`. The suite is the compatibility contract with
//! Qdrant 1.18's REST API and the acceptance test of issue 2.

mod harness;
mod oracle;

mod aliases;
mod bad_input;
mod collections;
mod crash;
mod durability;
mod points;
mod scroll;
mod search;
mod service;
mod startup_snapshots;
