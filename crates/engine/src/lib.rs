//! Osprey's storage engine: collections, points, payloads, filters, the
//! write-ahead log and search. Nothing here knows about HTTP or gRPC.

mod collection;
pub mod cluster_ops;
mod dense;
pub mod config;
mod distance;
mod error;
mod facet;
pub mod filter;
pub mod geo;
mod hnsw;
pub mod limits;
mod log_record;
pub mod operations;
mod payload_index;
mod quantization;
pub mod payload_path;
pub mod requests;
mod restriction;
mod search;
mod segment;
mod shard_key;
mod snapshot;
mod storage;
mod vector_file;
mod vector_index;
mod view;
pub mod types;
pub mod wal;

pub use collection::{Collection, CollectionInfo, CreateShardKey, PayloadIndexInfo};
pub use error::{EngineError, Result};
pub use snapshot::{Recovery, Skipped, SnapshotDescription, upload_file_name};
pub use restriction::PayloadRestriction;
pub use shard_key::ShardKey;
pub use view::CollectionView;
pub use storage::{AliasDescription, AliasOperation, ChangeAliasesOperation, Storage, StorageConfig};
pub use types::{Payload, PointId};
