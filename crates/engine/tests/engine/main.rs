//! Engine integration tests: one binary, one module per theme.

mod durability;
mod payload_index;
mod payload_selection;
mod quantization;
mod snapshots;
mod typed_vectors;
mod restriction;
mod shard_keys;
mod row_files;
mod vector_index;
