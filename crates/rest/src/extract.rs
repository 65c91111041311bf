//! Extractors that fail the way Qdrant's do: the JSON error envelope with
//! `Format error in JSON body: …` (400), `Deserialize error in query
//! parameters: …` / `… in path parameters: …` (400), `Validation error in …`
//! (422), and 413 for bodies over `service.max_request_size_mb`.
//!
//! They accept any `Content-Type`: Qdrant insists on `application/json`, but
//! every client sends it anyway and `curl -d` users are spared a puzzle.

use axum::extract::{FromRequest, FromRequestParts, Request};
use http::header;
use http::request::Parts;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::RestError;
use crate::state::AppState;

/// A JSON body, read up to the configured size limit.
#[derive(Debug)]
pub(crate) struct Json<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for Json<T> {
    type Rejection = RestError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, RestError> {
        let limit = state
            .options
            .max_request_size_mb
            .saturating_mul(1024 * 1024);
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if let Some(length) = declared
            && length > limit as u64
        {
            // Refused before a byte of the body is read.
            return Err(RestError::PayloadTooLarge(format!(
                "JSON payload ({length} bytes) is larger than allowed (limit: {limit} bytes)."
            )));
        }
        let bytes = Limited::new(req.into_body(), limit)
            .collect()
            .await
            .map_err(|err| {
                if err.downcast_ref::<LengthLimitError>().is_some() {
                    RestError::PayloadTooLarge(format!(
                        "JSON payload has exceeded limit ({limit} bytes)."
                    ))
                } else {
                    RestError::Format(format!(
                        "Format error in JSON body: cannot read the body: {err}"
                    ))
                }
            })?
            .to_bytes();
        serde_json::from_slice(&bytes)
            .map(Json)
            .map_err(|err| RestError::Format(format!("Format error in JSON body: {err}")))
    }
}

/// Query parameters.
#[derive(Debug)]
pub(crate) struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = RestError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, RestError> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|q| Query(q.0))
            .map_err(|rejection| {
                let text = rejection.body_text();
                let detail = text
                    .strip_prefix("Failed to deserialize query string: ")
                    .unwrap_or(&text);
                RestError::Format(format!("Deserialize error in query parameters: {detail}"))
            })
    }
}

/// Path parameters, percent-decoded.
#[derive(Debug)]
pub(crate) struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = RestError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, RestError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|rejection| {
                RestError::Format(format!(
                    "Deserialize error in path parameters: {}",
                    rejection.body_text()
                ))
            })
    }
}

/// Query parameters of point and index writes (`wait`, `ordering`, `timeout`).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct UpdateParams {
    /// Wait until the change is applied (and durable). Default false.
    #[serde(default)]
    pub wait: Option<bool>,
    /// `weak` | `medium` | `strong`: meaningful only in a cluster; accepted.
    #[serde(default)]
    #[allow(dead_code)]
    pub ordering: Option<WriteOrdering>,
    #[serde(default)]
    pub timeout: Option<u64>,
}

impl UpdateParams {
    pub(crate) fn wait(&self) -> bool {
        self.wait.unwrap_or(false)
    }

    pub(crate) fn validate(&self) -> Result<(), RestError> {
        validate_timeout(self.timeout)
    }
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum WriteOrdering {
    Weak,
    Medium,
    Strong,
}

/// Query parameters of reads (`consistency`, `timeout`). A single node has
/// one replica, so every consistency level reads the same data.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ReadParams {
    #[serde(default)]
    #[allow(dead_code)]
    pub consistency: Option<String>,
    #[serde(default)]
    pub timeout: Option<u64>,
}

impl ReadParams {
    pub(crate) fn validate(&self) -> Result<(), RestError> {
        validate_timeout(self.timeout)
    }
}

/// Query parameters of collection-level changes (`timeout`).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct TimeoutParams {
    #[serde(default)]
    pub timeout: Option<u64>,
}

impl TimeoutParams {
    pub(crate) fn validate(&self) -> Result<(), RestError> {
        validate_timeout(self.timeout)
    }
}

fn validate_timeout(timeout: Option<u64>) -> Result<(), RestError> {
    match timeout {
        Some(0) => Err(RestError::Validation(
            "Validation error in query parameters: [timeout: value 0 invalid, must be 1 or larger]"
                .into(),
        )),
        _ => Ok(()),
    }
}
