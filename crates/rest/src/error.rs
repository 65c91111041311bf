//! Every failure a REST handler can answer, and the one place where each is
//! given its HTTP status (spec/auth.md §6.1).
//!
//! Authentication failures are not here: they are answered by the middleware
//! in plain text (see `access.rs`), never with this JSON envelope.

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use osprey_auth::Forbidden;
use osprey_engine::EngineError;

use crate::envelope::error_response;

/// What a handler or an extractor can fail with. Rendered as the Qdrant error
/// envelope `{"status": {"error": msg}, "time": s}`.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RestError {
    /// The engine refused or failed the operation.
    #[error("{0}")]
    Engine(#[from] EngineError),
    /// The principal may not do this (`Forbidden: <reason>`).
    #[error("{0}")]
    Forbidden(#[from] Forbidden),
    /// Path, query or body could not be parsed. The message is complete
    /// (`Format error in JSON body: …`, `Deserialize error in query parameters: …`).
    #[error("{0}")]
    Format(String),
    /// Parsed, but a value is out of range (`Validation error in …`).
    #[error("{0}")]
    Validation(String),
    /// The JSON body is larger than `service.max_request_size_mb`.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// A route of Qdrant's API that this server does not serve yet.
    #[error("Not implemented: {method} {template} is not supported by this server yet")]
    NotSupported {
        method: &'static str,
        template: &'static str,
    },
    /// A failure of the front end itself (a panicked engine task).
    #[error("Service internal error: {0}")]
    Internal(String),
}

impl RestError {
    /// The HTTP status of each error.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            RestError::Engine(err) => engine_status(err),
            RestError::Forbidden(_) => StatusCode::FORBIDDEN,
            RestError::Format(_) => StatusCode::BAD_REQUEST,
            RestError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            RestError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            // Qdrant itself never answers 501, but no status of its vocabulary
            // says "this server lacks the feature": 400 would blame the
            // client, 404 would suggest a wrong path. Clients treat any non-2xx
            // alike, and retry policies do not retry 501.
            RestError::NotSupported { .. } => StatusCode::NOT_IMPLEMENTED,
            RestError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The HTTP status of an engine error (spec/auth.md §6.1). The message is the
/// error's display text.
pub(crate) fn engine_status(err: &EngineError) -> StatusCode {
    // No wildcard arm: a new engine error must be given its status here.
    match err {
        EngineError::BadInput(_) => StatusCode::BAD_REQUEST,
        EngineError::BadRequest(_) => StatusCode::BAD_REQUEST,
        EngineError::AlreadyExists(_) => StatusCode::CONFLICT,
        EngineError::NotFound(_) => StatusCode::NOT_FOUND,
        EngineError::Forbidden(_) => StatusCode::FORBIDDEN,
        EngineError::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
        EngineError::Corrupted { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        EngineError::Service(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() && status != StatusCode::NOT_IMPLEMENTED {
            tracing::error!("request failed: {self}");
        }
        error_response(status, &self.to_string())
    }
}

pub(crate) type RestResult<T> = Result<T, RestError>;

#[cfg(test)]
mod tests {
    use super::*;

    /// Pins the §6.1 mapping and the client-visible texts, which clients match on.
    #[test]
    fn engine_errors_map_to_qdrant_statuses() {
        let cases = [
            (EngineError::BadInput("x".into()), 400, "Wrong input: x"),
            (EngineError::BadRequest("x".into()), 400, "Bad request: x"),
            (
                EngineError::NotFound("Collection `c` doesn't exist!".into()),
                404,
                "Not found: Collection `c` doesn't exist!",
            ),
            (EngineError::Forbidden("x".into()), 403, "Forbidden: x"),
            (EngineError::Timeout("x".into()), 408, "Timeout error: x"),
            (
                EngineError::Service("x".into()),
                500,
                "Service internal error: x",
            ),
        ];
        for (err, status, message) in cases {
            let rest = RestError::from(err);
            assert_eq!(rest.status().as_u16(), status);
            assert_eq!(rest.to_string(), message);
        }
    }
}
