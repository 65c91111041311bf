//! Qdrant's response envelope: `{"result": …, "status": "ok", "time": s}` on
//! success and `{"status": {"error": "…"}, "time": s}` on failure.
//!
//! `time` is the seconds since the request entered the server. The outermost
//! middleware opens a task-local scope with the start instant, so every
//! response built inside the request's task (handlers and middleware alike)
//! reports it without threading a timer through each handler.

use std::time::Instant;

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

tokio::task_local! {
    static REQUEST_START: Instant;
}

/// Runs `fut` with `start` as the request's start instant.
pub(crate) async fn with_request_start<F: Future>(start: Instant, fut: F) -> F::Output {
    REQUEST_START.scope(start, fut).await
}

/// Seconds since the request started; 0 outside a request scope.
pub(crate) fn elapsed_secs() -> f64 {
    REQUEST_START
        .try_with(|start| start.elapsed().as_secs_f64())
        .unwrap_or(0.0)
}

/// A successful answer: serialised into the `result` member of the envelope.
#[derive(Debug)]
pub(crate) struct ApiOk<T>(pub T);

#[derive(Serialize)]
struct OkBody<'a, T> {
    result: &'a T,
    status: &'static str,
    time: f64,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    status: ErrorStatus<'a>,
    time: f64,
}

#[derive(Serialize)]
struct ErrorStatus<'a> {
    error: &'a str,
}

impl<T: Serialize> IntoResponse for ApiOk<T> {
    fn into_response(self) -> Response {
        let body = OkBody {
            result: &self.0,
            status: "ok",
            time: elapsed_secs(),
        };
        match serde_json::to_vec(&body) {
            Ok(bytes) => json_response(StatusCode::OK, bytes),
            Err(err) => {
                tracing::error!("cannot serialise a response: {err}");
                error_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &format!("Service internal error: cannot serialise the response: {err}"),
                )
            }
        }
    }
}

/// The error envelope with `status` and `message`.
pub(crate) fn error_response(status: StatusCode, message: &str) -> Response {
    let body = ErrorBody {
        status: ErrorStatus { error: message },
        time: elapsed_secs(),
    };
    // Serialising a struct of a string and a float cannot fail.
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    json_response(status, bytes)
}

/// A bare JSON value without the envelope (`GET /`).
pub(crate) fn bare_json<T: Serialize>(value: &T) -> Response {
    json_response(
        StatusCode::OK,
        serde_json::to_vec(value).unwrap_or_default(),
    )
}

/// A `text/plain` body: health probes and authentication failures.
pub(crate) fn plain_text(status: StatusCode, text: impl Into<String>) -> Response {
    let mut response = (status, text.into()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn json_response(status: StatusCode, bytes: Vec<u8>) -> Response {
    let mut response = (status, bytes).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
