//! The middleware that runs before routing, outermost first (spec/auth.md §4):
//! request counters and timing, CORS, path normalisation.

use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::header::{self, HeaderValue};
use http::{Method, StatusCode, Uri};

use crate::access::RouteTag;
use crate::envelope::with_request_start;
use crate::state::AppState;

/// Opens the request's timing scope (the envelope's `time`) and counts the
/// response under the route the access middleware tagged it with.
pub(crate) async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let response = with_request_start(start, next.run(req)).await;
    let route = response.extensions().get::<RouteTag>().and_then(|t| t.0);
    state
        .metrics
        .record(route, response.status(), start.elapsed());
    response
}

/// Permissive CORS, as Qdrant's `enable_cors`: any origin, method and header.
/// Preflight requests are answered here, before authentication, so browsers
/// can ask without credentials. The origin is echoed rather than `*`.
pub(crate) async fn cors(State(enabled): State<bool>, req: Request, next: Next) -> Response {
    if !enabled {
        return next.run(req).await;
    }
    let origin = req.headers().get(header::ORIGIN).cloned();
    let Some(origin) = origin else {
        return next.run(req).await;
    };
    let preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if preflight {
        let requested_method = req
            .headers()
            .get(header::ACCESS_CONTROL_REQUEST_METHOD)
            .cloned();
        let requested_headers = req
            .headers()
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .cloned();
        let mut response = StatusCode::OK.into_response();
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            requested_method.unwrap_or_else(|| {
                HeaderValue::from_static("GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS")
            }),
        );
        if let Some(requested_headers) = requested_headers {
            headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, requested_headers);
        }
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("3600"),
        );
        add_vary(headers);
        return response;
    }
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("*"),
    );
    add_vary(headers);
    response
}

fn add_vary(headers: &mut http::HeaderMap) {
    let vary = HeaderValue::from_static(
        "origin, access-control-request-method, access-control-request-headers",
    );
    headers.append(header::VARY, vary);
}

/// Merges runs of `/` and trims a trailing `/` before routing, so
/// `//collections/` routes as `/collections`. Dot segments and percent-encoded
/// bytes are left alone: `/healthz/../collections` matches no route.
pub(crate) async fn normalize_path(mut req: Request, next: Next) -> Response {
    if let Some(uri) = normalized_uri(req.uri()) {
        *req.uri_mut() = uri;
    }
    next.run(req).await
}

fn normalized_uri(uri: &Uri) -> Option<Uri> {
    let path = uri.path();
    let clean = normalize(path)?;
    let path_and_query = match uri.query() {
        Some(query) => format!("{clean}?{query}"),
        None => clean,
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(path_and_query.parse().ok()?);
    Uri::from_parts(parts).ok()
}

/// The normalised path, or `None` when it is already normal.
fn normalize(path: &str) -> Option<String> {
    let needs = path.contains("//") || (path.len() > 1 && path.ends_with('/'));
    if !needs {
        return None;
    }
    let mut out = String::with_capacity(path.len());
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        out.push('/');
        out.push_str(segment);
    }
    if out.is_empty() {
        out.push('/');
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_slashes_and_trims_the_trailing_one() {
        assert_eq!(normalize("/collections/"), Some("/collections".into()));
        assert_eq!(
            normalize("//collections//c///points"),
            Some("/collections/c/points".into())
        );
        assert_eq!(normalize("//"), Some("/".into()));
        assert_eq!(normalize("/"), None);
        assert_eq!(normalize("/collections"), None);
        // Dot segments and encoded separators stay: they must not reach a
        // whitelisted route by rewriting.
        assert_eq!(normalize("/healthz/../collections"), None);
        assert_eq!(
            normalize("/healthz%2F..%2Fcollections/"),
            Some("/healthz%2F..%2Fcollections".into())
        );
    }

    #[test]
    fn keeps_the_query() {
        let uri: Uri = "/collections/c/points//?wait=true".parse().unwrap();
        assert_eq!(
            normalized_uri(&uri).unwrap().to_string(),
            "/collections/c/points?wait=true"
        );
        let absolute: Uri = "http://h:6333//collections/".parse().unwrap();
        assert_eq!(
            normalized_uri(&absolute).unwrap().to_string(),
            "http://h:6333/collections"
        );
    }
}
