//! The gRPC status of every failure, each kind mapped in one place
//! (spec `auth.md` §6 and §6.1). Messages are the errors' display texts, as
//! on REST.

use osprey_auth::{AuthError, Forbidden, GrpcCode};
use osprey_engine::EngineError;
use tonic::{Code, Status};

/// The status of an engine error (§6.1): the code by kind, the display text
/// as message.
pub(crate) fn engine_status(err: &EngineError) -> Status {
    // Exhaustive on purpose, no `_ =>`: a new variant must be given a code here.
    let code = match err {
        EngineError::BadInput(_) => Code::InvalidArgument,
        EngineError::BadRequest(_) => Code::InvalidArgument,
        EngineError::AlreadyExists(_) => Code::AlreadyExists,
        EngineError::NotFound(_) => Code::NotFound,
        EngineError::Forbidden(_) => Code::PermissionDenied,
        EngineError::Timeout(_) => Code::DeadlineExceeded,
        EngineError::Corrupted { .. } => Code::Internal,
        EngineError::Service(_) => Code::Internal,
    };
    if code == Code::Internal {
        tracing::error!("rpc failed: {err}");
    }
    Status::new(code, bounded_message(err.to_string()))
}

/// Most bytes of an error message sent as `grpc-message`: clients refuse
/// response metadata over 16 KiB and drop the whole answer, so a message that
/// quotes a large input is cut rather than turned into a broken stream.
const MAX_MESSAGE_BYTES: usize = 4096;

fn bounded_message(mut message: String) -> String {
    if message.len() > MAX_MESSAGE_BYTES {
        let mut cut = MAX_MESSAGE_BYTES;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
        message.push_str("...");
    }
    message
}

/// An authentication failure (§6): UNAUTHENTICATED, or PERMISSION_DENIED for
/// a bad signature, an expired token and a missing `value_exists` collection.
pub(crate) fn auth_status(err: &AuthError) -> Status {
    let code = match err.grpc_code() {
        GrpcCode::Unauthenticated => Code::Unauthenticated,
        GrpcCode::PermissionDenied => Code::PermissionDenied,
    };
    Status::new(code, err.message())
}

/// An authorization failure: PERMISSION_DENIED, `Forbidden: <reason>`.
pub(crate) fn forbidden_status(forbidden: &Forbidden) -> Status {
    Status::permission_denied(forbidden.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pins the §6.1 codes and the client-visible texts, which clients match on.
    #[test]
    fn engine_errors_map_to_qdrant_codes() {
        let cases = [
            (
                EngineError::BadInput("x".into()),
                Code::InvalidArgument,
                "Wrong input: x",
            ),
            (
                EngineError::BadRequest("x".into()),
                Code::InvalidArgument,
                "Bad request: x",
            ),
            (
                EngineError::NotFound("Collection `c` doesn't exist!".into()),
                Code::NotFound,
                "Not found: Collection `c` doesn't exist!",
            ),
            (
                EngineError::Forbidden("x".into()),
                Code::PermissionDenied,
                "Forbidden: x",
            ),
            (
                EngineError::Timeout("x".into()),
                Code::DeadlineExceeded,
                "Timeout error: x",
            ),
            (
                EngineError::Service("x".into()),
                Code::Internal,
                "Service internal error: x",
            ),
        ];
        for (err, code, message) in cases {
            let status = engine_status(&err);
            assert_eq!(status.code(), code, "{err:?}");
            assert_eq!(status.message(), message);
        }
    }

    /// Prevents drift from §6: Qdrant answers a bad signature and an expired
    /// token with PERMISSION_DENIED, everything else with UNAUTHENTICATED.
    #[test]
    fn auth_errors_map_to_spec_codes() {
        let cases = [
            (AuthError::MissingCredential, Code::Unauthenticated),
            (AuthError::InvalidCredential, Code::Unauthenticated),
            (AuthError::InvalidSignature, Code::PermissionDenied),
            (AuthError::ExpiredSignature, Code::PermissionDenied),
            (
                AuthError::StatefulValidationFailed {
                    collection_missing: false,
                },
                Code::Unauthenticated,
            ),
            (
                AuthError::StatefulValidationFailed {
                    collection_missing: true,
                },
                Code::PermissionDenied,
            ),
        ];
        for (err, code) in cases {
            let status = auth_status(&err);
            assert_eq!(status.code(), code, "{err:?}");
            assert_eq!(status.message(), err.message());
        }
        assert_eq!(
            auth_status(&AuthError::MissingCredential).message(),
            "Must provide an API key or an Authorization bearer token"
        );
    }
}
