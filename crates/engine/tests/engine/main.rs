//! Engine integration tests: one binary, one module per theme.

mod durability;
mod snapshots;
mod restriction;
