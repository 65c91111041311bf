//! The console's routes on their own: what each path answers, with which
//! headers, and what the embedded files may and may not contain.

use axum::body::{Body, to_bytes};
use http::{Method, Request, StatusCode, header};
use tower::ServiceExt;

use super::*;

struct Reply {
    status: StatusCode,
    headers: http::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: impl header::AsHeaderName) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }

    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }
}

async fn send(router: &Router, method: Method, path: &str, etag: Option<&str>) -> Reply {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(etag) = etag {
        request = request.header(header::IF_NONE_MATCH, etag);
    }
    let response = router
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

fn console() -> Router {
    router(&ConsoleOptions {
        grpc_port: Some(6334),
    })
}

/// Clickjacking (Qdrant 1.9.7) and content sniffing: every answer, the page
/// and each asset, and a 304 too, carries the protective headers.
fn assert_protected(reply: &Reply, what: &str) {
    assert_eq!(reply.header(header::X_FRAME_OPTIONS), "DENY", "{what}");
    assert_eq!(
        reply.header(header::CONTENT_SECURITY_POLICY),
        CONTENT_SECURITY_POLICY,
        "{what}"
    );
    assert_eq!(reply.header(header::X_CONTENT_TYPE_OPTIONS), "nosniff", "{what}");
    assert_eq!(reply.header(header::REFERRER_POLICY), "no-referrer", "{what}");
}

#[tokio::test]
async fn the_page_is_served_at_the_mount_and_never_stored() {
    let reply = send(&console(), Method::GET, "/dashboard", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header(header::CONTENT_TYPE), "text/html; charset=utf-8");
    assert_eq!(reply.header(header::CACHE_CONTROL), "no-store");
    assert!(reply.headers.get(header::ETAG).is_none());
    assert_protected(&reply, "/dashboard");
    let html = reply.text();
    assert!(html.starts_with("<!doctype html>"), "{html}");
    assert!(html.contains(r#"<meta name="osprey-grpc-port" content="6334">"#));
    assert!(!html.contains(GRPC_PORT_MARKER));
}

#[tokio::test]
async fn each_asset_has_its_type_and_revalidates() {
    let router = console();
    for (path, content_type, body) in ASSETS {
        let reply = send(&router, Method::GET, path, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        assert_eq!(reply.header(header::CONTENT_TYPE), content_type, "{path}");
        assert_eq!(reply.header(header::CACHE_CONTROL), "no-cache", "{path}");
        assert_eq!(reply.body, body.as_bytes(), "{path}");
        assert_protected(&reply, path);

        // The validator answers 304 with no body, in a list or weak.
        let etag = reply.header(header::ETAG).to_owned();
        assert!(etag.starts_with('"') && etag.ends_with('"'), "{path}: {etag}");
        for condition in [etag.clone(), format!("\"x\", W/{etag}")] {
            let again = send(&router, Method::GET, path, Some(&condition)).await;
            assert_eq!(again.status, StatusCode::NOT_MODIFIED, "{path} {condition}");
            assert!(again.body.is_empty());
            assert_protected(&again, path);
        }
        // Another build's validator gets the file.
        let stale = send(&router, Method::GET, path, Some("\"0-0\"")).await;
        assert_eq!(stale.status, StatusCode::OK, "{path}");
        assert_eq!(stale.body, body.as_bytes(), "{path}");

        // HEAD answers like GET, without a body.
        let head = send(&router, Method::HEAD, path, None).await;
        assert_eq!(head.status, StatusCode::OK, "{path}");
        assert!(head.body.is_empty(), "{path}");
        assert_eq!(head.header(header::CONTENT_TYPE), content_type, "{path}");
    }
}

/// Nothing but the listed files is served: no path is looked up anywhere,
/// so traversal attempts and lookalikes are plain 404s.
#[tokio::test]
async fn other_paths_are_not_found() {
    let router = console();
    for path in [
        "/dashboard/index.html",
        "/dashboard/nope.js",
        "/dashboard/console.js/x",
        "/dashboard/../Cargo.toml",
        "/dashboard/..%2FCargo.toml",
        "/dashboard/%2e%2e/src/lib.rs",
        "/dashboard/assets/console.js",
        "/dashboardx",
        "/dashboard.js",
        "/",
    ] {
        let reply = send(&router, Method::GET, path, None).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        assert!(reply.body.is_empty(), "{path}");
    }
    let reply = send(&router, Method::POST, "/dashboard", None).await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn the_grpc_port_is_left_empty_when_grpc_is_off() {
    let reply = send(
        &router(&ConsoleOptions { grpc_port: None }),
        Method::GET,
        "/dashboard",
        None,
    )
    .await;
    assert!(
        reply
            .text()
            .contains(r#"<meta name="osprey-grpc-port" content="">"#)
    );
}

/// The REST front end whitelists exactly these patterns (spec §5); a
/// wildcard under the prefix, or a lookalike, must not pass as the console.
#[test]
fn console_routes_are_exactly_the_registered_patterns() {
    for pattern in [
        "/dashboard",
        "/dashboard/console.js",
        "/dashboard/console.css",
        "/dashboard/favicon.svg",
    ] {
        assert!(is_console_route(pattern), "{pattern}");
    }
    for pattern in [
        "/dashboard/",
        "/dashboard/{*path}",
        "/dashboard/{asset}",
        "/dashboardx",
        "/dashboard/index.html",
        "/collections",
        "/",
        "",
    ] {
        assert!(!is_console_route(pattern), "{pattern}");
    }
}

/// The page loads nothing from any other host, and the only places it may
/// load from are the console's own routes.
#[test]
fn the_page_refers_only_to_its_own_routes() {
    assert!(!INDEX_HTML.contains("://"));
    assert!(!CONSOLE_CSS.contains("://"));
    assert!(!CONSOLE_CSS.contains("@import"));
    assert!(!CONSOLE_CSS.contains("url("));
    for attribute in ["src=\"", "href=\""] {
        for (at, _) in INDEX_HTML.match_indices(attribute) {
            let target = &INDEX_HTML[at + attribute.len()..];
            let target = &target[..target.find('"').unwrap()];
            let served = target == MOUNT || ASSETS.iter().any(|(path, _, _)| *path == target);
            // In-page anchors (the skip link) load nothing.
            assert!(served || target.starts_with('#'), "{attribute}{target}");
        }
    }
    // The CSP forbids inline code; the page must not rely on any.
    assert!(!INDEX_HTML.contains("<style"));
    assert!(!INDEX_HTML.contains("style=\""));
    for (at, _) in INDEX_HTML.match_indices(" on") {
        let name: String = INDEX_HTML[at + 3..]
            .chars()
            .take_while(char::is_ascii_lowercase)
            .collect();
        let after = &INDEX_HTML[at + 3 + name.len()..];
        assert!(
            name.is_empty() || !after.starts_with('='),
            "inline event handler on{name} in index.html"
        );
    }
    assert_eq!(INDEX_HTML.matches("<script").count(), 1);
    assert!(INDEX_HTML.contains(r#"<script src="/dashboard/console.js" defer></script>"#));
}

/// The rules the console's script keeps, checked on its text: server-provided
/// text is rendered as text (never parsed as HTML), code is never built from
/// strings, the root key goes to `sessionStorage` and nowhere that outlives
/// the tab, and every request goes to this origin.
#[test]
fn the_script_keeps_its_safety_rules() {
    for forbidden in [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "new Function",
        "localStorage",
        "document.cookie",
        "indexedDB",
        "http://",
        "https://",
    ] {
        assert!(!CONSOLE_JS.contains(forbidden), "console.js uses {forbidden}");
    }
    assert!(CONSOLE_JS.contains("sessionStorage"));
    // Nothing is logged (a log could hold the key); `console.` appears only
    // inside the TypeScript snippet's text, right after a quote.
    for (at, _) in CONSOLE_JS.match_indices("console.") {
        let before = CONSOLE_JS[..at].chars().last();
        let is_file_name = CONSOLE_JS[at..].starts_with("console.js");
        assert!(
            before == Some('\'') || is_file_name,
            "console.js calls the console at byte {at}"
        );
    }
    // Requests are made by one function, to paths of this origin.
    assert_eq!(CONSOLE_JS.matches("fetch(").count(), 1);
}
