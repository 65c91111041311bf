//! Conversions between the protobuf messages of `qdrant_client::qdrant` and
//! the engine's types, one module per direction:
//!
//! - [`from_proto`]: requests, proto -> engine. Every error is an
//!   `INVALID_ARGUMENT` status, raised before the access check runs (spec
//!   `auth.md` §4: validation, then access, then existence).
//! - [`to_proto`]: answers, engine -> proto. Infallible.
//!
//! How each type is converted (decided per type):
//! - Value types the engine models precisely (point ids, payload values,
//!   vectors, filters and every condition, selectors, search params, order
//!   by) are built field by field, so the compiler notices when either side
//!   changes; their round trips are property-tested (`tests.rs`).
//! - Parts the engine keeps as Qdrant REST JSON (`serde_json::Value`:
//!   optimizer, WAL, quantization and strict-mode configs, payload index
//!   parameters, shard keys, formulas, RRF and relevance-feedback
//!   parameters) are written as that same REST JSON, so REST and gRPC reach
//!   the engine in one shape and the engine stays the one place that
//!   interprets them.
//!
//! The protos are those of qdrant-client 1.20, a superset of Qdrant 1.18.3's.
//! Fields and enum values that only 1.19+ clients send are refused with
//! [`newer`]; a 1.18 client never sets them.

pub(crate) mod from_proto;
pub(crate) mod to_proto;

#[cfg(test)]
mod tests;

use tonic::Status;

/// The result of decoding a request.
pub(crate) type Decoded<T> = Result<T, Status>;

/// A request that cannot be decoded: `INVALID_ARGUMENT`.
pub(crate) fn invalid(message: impl Into<String>) -> Status {
    Status::invalid_argument(message)
}

/// A field (or enum value) that Qdrant added after 1.18: a 1.18 server
/// would not know it, so rather than ignore what the client asked for, the
/// request is refused with `INVALID_ARGUMENT`.
pub(crate) fn newer(field: &str) -> Status {
    Status::invalid_argument(format!(
        "{field} is not supported: it was added after Qdrant 1.18, and this server speaks the Qdrant 1.18.3 API"
    ))
}
