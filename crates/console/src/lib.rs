//! The web console at `/dashboard`: database API keys for people.
//!
//! A small page (plain HTML, CSS and JavaScript in `assets/`, no framework and
//! no build step) that signs in with the server's root key and drives the key
//! plane's management API (`/api-keys`, spec/auth.md §15) and the collection
//! listing. The assets are compiled into the binary with `include_str!`, so
//! serving them needs no static folder, no `npm` step and no outside host.
//!
//! What the routes promise:
//! - Each asset is one registered route with a literal path ([`routes`]); no
//!   part of a request path is ever used to look anything up, so nothing from
//!   a request reaches the file system. A path under `/dashboard` that names
//!   no asset matches no route of this router: 404 when it is served alone;
//!   inside the REST server such a path falls through to the server's
//!   fallback, which asks for credentials first (spec §5: only matched routes
//!   are whitelisted, never a raw path prefix).
//! - Every answer carries `X-Frame-Options: DENY` (spec §13, the 1.9.7
//!   clickjacking fix), a Content-Security-Policy that allows only this
//!   origin (no inline script or style), `X-Content-Type-Options: nosniff`
//!   and `Referrer-Policy: no-referrer`. The page is `no-store`; the scripts
//!   and styles are `no-cache` with an `ETag`, so a new build is picked up at
//!   once and an unchanged one answers `304`.
//! - [`is_console_route`] tells the REST front end which matched route
//!   patterns are the console's, to whitelist them by pattern (spec §5). When
//!   the console is not mounted (`service.enable_static_content: false`)
//!   no such pattern exists, so nothing under `/dashboard` is whitelisted.
//!
//! The root key never leaves the browser tab's `sessionStorage`; the page
//! sends it to this same origin in the `api-key` header only.

#![warn(missing_docs)]

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::response::Response;
use axum::routing::get;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::StatusCode;

/// Where the console is mounted.
pub const MOUNT: &str = "/dashboard";

/// The policy the page runs under: scripts, styles, images and requests
/// from this origin only, nothing inline, no framing, no plugins, no form
/// posts anywhere (the page submits its forms with `fetch`).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// The marker in `index.html` that [`routes`] replaces with the gRPC port.
const GRPC_PORT_MARKER: &str = "__OSPREY_GRPC_PORT__";

const INDEX_HTML: &str = include_str!("../assets/index.html");
const CONSOLE_JS: &str = include_str!("../assets/console.js");
const CONSOLE_CSS: &str = include_str!("../assets/console.css");
const FAVICON_SVG: &str = include_str!("../assets/favicon.svg");

/// The asset routes, besides [`MOUNT`] itself (the page).
const ASSETS: [(&str, &str, &str); 3] = [
    (
        "/dashboard/console.js",
        "text/javascript; charset=utf-8",
        CONSOLE_JS,
    ),
    ("/dashboard/console.css", "text/css; charset=utf-8", CONSOLE_CSS),
    ("/dashboard/favicon.svg", "image/svg+xml", FAVICON_SVG),
];

/// What the page needs to know about the server it is served by.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsoleOptions {
    /// `service.grpc_port`, for the gRPC clients' snippets (Rust, Java, C#,
    /// Go); `None` when gRPC is off, and the page says so.
    pub grpc_port: Option<u16>,
}

/// One embedded file, ready to answer.
struct Asset {
    body: Bytes,
    content_type: &'static str,
    /// `None`: `no-store` (the page). `Some`: `no-cache` with this `ETag`.
    etag: Option<HeaderValue>,
}

/// The console as a stand-alone router (what the tests of this crate use).
pub fn router(options: &ConsoleOptions) -> Router {
    routes(options)
}

/// The console's routes, for merging into a router of any state type
/// (`Router<AppState>::merge(routes(&options))`): `GET` (and so `HEAD`) on
/// [`MOUNT`] and on each asset path. No other path is routed.
pub fn routes<S>(options: &ConsoleOptions) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let port = options.grpc_port.map(|p| p.to_string()).unwrap_or_default();
    let index = INDEX_HTML.replace(GRPC_PORT_MARKER, &port);
    let mut router = Router::new().route(
        MOUNT,
        serve(Asset {
            body: Bytes::from(index),
            content_type: "text/html; charset=utf-8",
            etag: None,
        }),
    );
    for (path, content_type, body) in ASSETS {
        router = router.route(
            path,
            serve(Asset {
                body: Bytes::from_static(body.as_bytes()),
                content_type,
                etag: Some(etag(body.as_bytes())),
            }),
        );
    }
    router
}

/// Whether a matched route pattern is one of the console's: exactly the
/// patterns [`routes`] registers, so a wildcard or a lookalike added
/// elsewhere is never taken for the console.
pub fn is_console_route(matched_pattern: &str) -> bool {
    matched_pattern == MOUNT || ASSETS.iter().any(|(path, _, _)| *path == matched_pattern)
}

fn serve<S>(asset: Asset) -> axum::routing::MethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    let asset = Arc::new(asset);
    get(move |headers: HeaderMap| {
        let asset = asset.clone();
        async move { asset.respond(&headers) }
    })
}

impl Asset {
    fn respond(&self, request: &HeaderMap) -> Response {
        let not_modified = self.etag.as_ref().is_some_and(|etag| {
            request
                .get(header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|list| {
                    list.split(',')
                        .map(str::trim)
                        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
                })
        });
        let mut response = if not_modified {
            Response::new(Body::empty())
        } else {
            Response::new(Body::from(self.body.clone()))
        };
        if not_modified {
            *response.status_mut() = StatusCode::NOT_MODIFIED;
        }
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        match &self.etag {
            Some(etag) => {
                headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
                headers.insert(header::ETAG, etag.clone());
            }
            None => {
                headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            }
        }
        add_security_headers(headers);
        response
    }
}

/// The headers every console answer carries.
fn add_security_headers(headers: &mut HeaderMap) {
    let pairs: [(HeaderName, &'static str); 6] = [
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
        (
            HeaderName::from_static("cross-origin-resource-policy"),
            "same-origin",
        ),
    ];
    for (name, value) in pairs {
        headers.insert(name, HeaderValue::from_static(value));
    }
}

/// A strong validator for an embedded file: FNV-1a over its bytes. Not a
/// security measure, only "did this build change the file".
fn etag(body: &[u8]) -> HeaderValue {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in body {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    HeaderValue::from_str(&format!("\"{hash:016x}-{}\"", body.len()))
        .expect("hex digits are a valid header value")
}

#[cfg(test)]
mod tests;
