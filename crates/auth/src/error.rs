//! Authentication failures and how they look on the wire (spec/auth.md §6).
//!
//! The mapping to HTTP status and gRPC code lives here, in one exhaustive
//! `match` each, so a new variant forces a decision about both.

use std::fmt;

/// Body text of a request that carries no credential at all.
const MISSING_CREDENTIAL: &str = "Must provide an API key or an Authorization bearer token";
/// Body text of a credential that is neither a key nor a usable JWT.
const INVALID_CREDENTIAL: &str = "Invalid API key or JWT";
/// jsonwebtoken's display text for a bad signature; Qdrant sends it verbatim.
const INVALID_SIGNATURE: &str = "InvalidSignature";
/// jsonwebtoken's display text for an expired token; Qdrant sends it verbatim.
const EXPIRED_SIGNATURE: &str = "ExpiredSignature";
/// Body text of a failed `value_exists` check.
const STATEFUL_VALIDATION_FAILED: &str = "Invalid JWT, stateful validation failed";

/// Why a request could not be authenticated.
///
/// Every variant is rendered by the middleware (REST: plain-text body, no JSON
/// envelope; gRPC: status message) with [`AuthError::message`],
/// [`AuthError::http_status`] and [`AuthError::grpc_code`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// Neither an `api-key` header nor `Authorization: Bearer …` was sent.
    #[error("{}", MISSING_CREDENTIAL)]
    MissingCredential,
    /// Not a configured key, and not a JWT we can use (JWT off, malformed,
    /// wrong algorithm, claims that do not parse).
    #[error("{}", INVALID_CREDENTIAL)]
    InvalidCredential,
    /// An HS256 JWT whose signature verifies with none of the admin keys.
    #[error("{}", INVALID_SIGNATURE)]
    InvalidSignature,
    /// A correctly signed JWT whose `exp` lies more than 30 s in the past.
    #[error("{}", EXPIRED_SIGNATURE)]
    ExpiredSignature,
    /// A signed JWT whose `access` list is semantically invalid; carries the
    /// validator's message (e.g. `… Collection name should be unique`).
    #[error("{0}")]
    InvalidClaims(String),
    /// The token's `value_exists` check failed. Raised by the front end, which
    /// runs the lookup: `collection_missing` selects 403 over 401, as in Qdrant.
    /// Other storage errors of that lookup keep their own status (§6.1) and are
    /// not expressed here.
    #[error("{}", STATEFUL_VALIDATION_FAILED)]
    StatefulValidationFailed {
        /// The `value_exists` collection does not exist (403 instead of 401).
        collection_missing: bool,
    },
}

/// The two gRPC status codes an authentication failure can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GrpcCode {
    /// `UNAUTHENTICATED` (16).
    Unauthenticated,
    /// `PERMISSION_DENIED` (7).
    PermissionDenied,
}

impl GrpcCode {
    /// The numeric code of the gRPC status.
    pub fn as_i32(self) -> i32 {
        match self {
            GrpcCode::Unauthenticated => 16,
            GrpcCode::PermissionDenied => 7,
        }
    }
}

impl AuthError {
    /// HTTP status for the REST front end: 401 or 403.
    pub fn http_status(&self) -> u16 {
        match self.grpc_code() {
            GrpcCode::Unauthenticated => 401,
            GrpcCode::PermissionDenied => 403,
        }
    }

    /// gRPC status code for the gRPC front end.
    pub fn grpc_code(&self) -> GrpcCode {
        match self {
            AuthError::MissingCredential
            | AuthError::InvalidCredential
            | AuthError::InvalidClaims(_) => GrpcCode::Unauthenticated,
            // Qdrant's quirk, kept on purpose: a bad signature or an expired
            // token is "forbidden", not "unauthenticated".
            AuthError::InvalidSignature | AuthError::ExpiredSignature => GrpcCode::PermissionDenied,
            AuthError::StatefulValidationFailed { collection_missing } => {
                if *collection_missing {
                    GrpcCode::PermissionDenied
                } else {
                    GrpcCode::Unauthenticated
                }
            }
        }
    }

    /// The exact text clients receive (REST body, gRPC status message).
    pub fn message(&self) -> String {
        self.to_string()
    }
}

/// An authenticated principal was refused an operation: REST 403 with the
/// JSON envelope, gRPC `PERMISSION_DENIED`, message `Forbidden: <reason>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forbidden(String);

impl Forbidden {
    pub(crate) fn new(reason: impl Into<String>) -> Self {
        Forbidden(reason.into())
    }

    /// `Forbidden: Payload restriction on collection <c> forbids this
    /// operation`: what the front ends answer when a payload-restricted key
    /// would write or touch a point outside its restriction (spec §15).
    pub fn payload_restriction(collection: &str) -> Self {
        Forbidden(crate::principal::payload_restriction_reason(collection))
    }

    /// The reason alone, without the `Forbidden: ` prefix.
    pub fn reason(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Forbidden {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Forbidden: {}", self.0)
    }
}

impl std::error::Error for Forbidden {}

#[cfg(test)]
mod tests {
    use super::*;

    /// Prevents drift of the wire texts and codes of spec §6, which clients
    /// match on: each variant's (status, gRPC code, message) is pinned.
    #[test]
    fn wire_mapping_is_exactly_section_6() {
        let cases = [
            (
                AuthError::MissingCredential,
                401,
                GrpcCode::Unauthenticated,
                "Must provide an API key or an Authorization bearer token",
            ),
            (
                AuthError::InvalidCredential,
                401,
                GrpcCode::Unauthenticated,
                "Invalid API key or JWT",
            ),
            (
                AuthError::InvalidSignature,
                403,
                GrpcCode::PermissionDenied,
                "InvalidSignature",
            ),
            (
                AuthError::ExpiredSignature,
                403,
                GrpcCode::PermissionDenied,
                "ExpiredSignature",
            ),
            (
                AuthError::InvalidClaims(
                    "access[0].access.collection: Collection name should be unique".into(),
                ),
                401,
                GrpcCode::Unauthenticated,
                "access[0].access.collection: Collection name should be unique",
            ),
            (
                AuthError::StatefulValidationFailed {
                    collection_missing: false,
                },
                401,
                GrpcCode::Unauthenticated,
                "Invalid JWT, stateful validation failed",
            ),
            (
                AuthError::StatefulValidationFailed {
                    collection_missing: true,
                },
                403,
                GrpcCode::PermissionDenied,
                "Invalid JWT, stateful validation failed",
            ),
        ];
        for (error, status, code, message) in cases {
            assert_eq!(error.http_status(), status, "{error:?}");
            assert_eq!(error.grpc_code(), code, "{error:?}");
            assert_eq!(error.message(), message, "{error:?}");
        }
        assert_eq!(GrpcCode::Unauthenticated.as_i32(), 16);
        assert_eq!(GrpcCode::PermissionDenied.as_i32(), 7);
    }

    /// Prevents a missing or doubled `Forbidden: ` prefix in handler errors.
    #[test]
    fn forbidden_displays_with_prefix() {
        let f = Forbidden::new("Global access is required");
        assert_eq!(f.to_string(), "Forbidden: Global access is required");
        assert_eq!(f.reason(), "Global access is required");
    }
}
