//! Osprey's gRPC front end: Qdrant 1.18.3's gRPC API on port 6334 (the
//! `qdrant.Qdrant`, `qdrant.Collections`, `qdrant.Points`,
//! `qdrant.Snapshots` and `qdrant.StorageRead` services, plus
//! `grpc.health.v1.Health` and server reflection), so the official clients
//! work unchanged with `prefer_grpc` or by default, and reflection-based
//! tools need no protos.
//!
//! A call passes, outermost first (spec `auth.md` §4):
//! 1. authentication (`auth.rs`): credential from `api-key` /
//!    `authorization: Bearer` metadata, the JWT `value_exists` check; the
//!    two health checks are open;
//! 2. the generated tonic service: gzip, message decoding;
//! 3. the handler (`services/`): decode into engine types
//!    (`conversions/from_proto`, INVALID_ARGUMENT), the access check of the
//!    rpc's row in the table of access on the collection the message names
//!    (PERMISSION_DENIED), the engine call REST makes too, and the answer
//!    (`conversions/to_proto`). Engine errors map to codes in `error.rs`.
//!
//! Rpcs whose operation the engine does not have yet (snapshots, shard keys,
//! cluster setup) answer UNIMPLEMENTED after their access check; see
//! `services/mod.rs`.

mod auth;
mod conversions;
mod error;
mod reflection;
mod server;
mod services;
mod storage_read;

pub use server::{GrpcContext, TlsIdentity, serve};
