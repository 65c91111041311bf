//! Router tests: requests through the whole middleware stack against a real
//! storage in a temporary directory.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, to_bytes};
use http::{HeaderMap, Method, Request, StatusCode, header};
use osprey_auth::{AuthConfig, Authenticator, Interface};
use osprey_engine::{Storage, StorageConfig};
use serde_json::{Value, json};
use tempfile::TempDir;
use tower::ServiceExt;

use crate::{RestContext, RestOptions, router};

const ADMIN: &str = "admin-key-of-at-least-thirty-two-bytes!";
const READ_ONLY: &str = "read-only-key";

struct Server {
    app: Router,
    _dir: TempDir,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn error(&self) -> String {
        let body = self.json();
        assert!(body["time"].is_f64(), "{body}");
        body["status"]["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error in {body}"))
            .to_owned()
    }

    fn content_type(&self) -> &str {
        self.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

fn server_with(auth: AuthConfig, options: RestOptions) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(StorageConfig {
        storage_path: dir.path().join("storage"),
        snapshots_path: dir.path().join("snapshots"),
    })
    .unwrap();
    let auth = Arc::new(Authenticator::new(auth));
    Server {
        app: router(RestContext {
            storage,
            auth,
            keys: None,
            options,
        }),
        _dir: dir,
    }
}

fn secured() -> Server {
    server_with(
        AuthConfig {
            api_key: Some(ADMIN.into()),
            read_only_api_key: Some(READ_ONLY.into()),
            jwt_rbac: true,
            ..AuthConfig::default()
        },
        RestOptions {
            max_request_size_mb: 1,
            enable_cors: true,
            commit: Some("0123abc".into()),
            ..RestOptions::default()
        },
    )
}

impl Server {
    async fn send(
        &self,
        method: Method,
        uri: &str,
        key: Option<&str>,
        body: Option<Body>,
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(key) = key {
            req = req.header("api-key", key);
        }
        let body = match body {
            Some(body) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                body
            }
            None => Body::empty(),
        };
        let response = self
            .app
            .clone()
            .oneshot(req.body(body).unwrap())
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

    async fn admin(&self, method: Method, uri: &str, body: Option<Value>) -> Reply {
        self.send(
            method,
            uri,
            Some(ADMIN),
            body.map(|b| Body::from(b.to_string())),
        )
        .await
    }

    async fn create_collection(&self, name: &str, dim: usize) {
        let reply = self
            .admin(
                Method::PUT,
                &format!("/collections/{name}"),
                Some(json!({"vectors": {"size": dim, "distance": "Cosine"}})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    }

    async fn upsert(&self, name: &str, points: Value) {
        let reply = self
            .admin(
                Method::PUT,
                &format!("/collections/{name}/points?wait=true"),
                Some(json!({ "points": points })),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    }
}

fn jwt(claims: Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(ADMIN.as_bytes()),
    )
    .unwrap()
}

// ---- the open endpoints ---------------------------------------------------

/// `GET /` is what the Python client calls on construction: a bare object,
/// reachable without credentials, with a semver version.
#[tokio::test]
async fn root_is_bare_and_open() {
    let server = secured();
    let reply = server.send(Method::GET, "/", None, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.json(),
        json!({"title": "qdrant - vector search engine", "version": "1.18.3", "commit": "0123abc"})
    );
    // A wrong key is not even looked at on whitelisted routes.
    let reply = server.send(Method::GET, "/", Some("wrong"), None).await;
    assert_eq!(reply.status, StatusCode::OK);

    let no_commit = server_with(AuthConfig::default(), RestOptions::default());
    let reply = no_commit.send(Method::GET, "/", None, None).await;
    assert_eq!(
        reply.json(),
        json!({"title": "qdrant - vector search engine", "version": "1.18.3"})
    );
}

#[tokio::test]
async fn health_probes_are_plain_text_and_open() {
    let server = secured();
    for (path, text) in [
        ("/healthz", "healthz check passed"),
        ("/livez", "healthz check passed"),
        ("/readyz", "all shards are ready"),
        ("/readyz/", "all shards are ready"),
    ] {
        let reply = server.send(Method::GET, path, None, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        assert_eq!(reply.text(), text, "{path}");
        assert!(reply.content_type().starts_with("text/plain"), "{path}");
    }
}

// ---- authentication -------------------------------------------------------

/// Prevents the 1.18.2 dashboard bypass: only the matched route decides the
/// whitelist, so paths that merely start with an open prefix, or resolve to
/// nothing, need credentials before anything else is said about them.
#[tokio::test]
async fn unmatched_paths_need_credentials() {
    let server = secured();
    for path in [
        "/nope",
        "/healthz/../collections",
        "/healthz%2F..%2Fcollections",
        "/healthz/%2e%2e/collections",
        "/readyz/x",
        "/livez%2Fcollections",
        // The console is not mounted here (`RestOptions::console` is None).
        "/dashboard",
        "/dashboard/../collections",
        "/collections/c/points/1/extra",
    ] {
        let reply = server.send(Method::GET, path, None, None).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(
            reply.text(),
            "Must provide an API key or an Authorization bearer token",
            "{path}"
        );
        assert!(reply.content_type().starts_with("text/plain"), "{path}");
    }
    // With a valid key, an unknown path is a plain 404.
    let reply = server.send(Method::GET, "/nope", Some(ADMIN), None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(reply.body.is_empty());
    // A known path with another method is 405, but only after authentication.
    let reply = server.send(Method::DELETE, "/aliases", None, None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let reply = server
        .send(Method::DELETE, "/aliases", Some(ADMIN), None)
        .await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
}

/// With the console mounted (`service.enable_static_content`), its page and
/// assets open without credentials, whatever key is sent (spec §5), and carry
/// `X-Frame-Options: DENY` (spec §13). Any other path under `/dashboard`
/// matches no route, so the 1.18.2 bypass stays closed: credentials first,
/// then a plain 404.
#[tokio::test]
async fn the_console_is_open_only_on_its_own_routes() {
    let server = server_with(
        AuthConfig {
            api_key: Some(ADMIN.into()),
            ..AuthConfig::default()
        },
        RestOptions {
            console: Some(crate::ConsoleOptions {
                grpc_port: Some(6334),
            }),
            ..RestOptions::default()
        },
    );
    for (path, content_type) in [
        ("/dashboard", "text/html; charset=utf-8"),
        ("/dashboard/", "text/html; charset=utf-8"),
        ("//dashboard//", "text/html; charset=utf-8"),
        ("/dashboard/console.js", "text/javascript; charset=utf-8"),
        ("/dashboard/console.css", "text/css; charset=utf-8"),
        ("/dashboard/favicon.svg", "image/svg+xml"),
    ] {
        for key in [None, Some("wrong"), Some(ADMIN)] {
            let reply = server.send(Method::GET, path, key, None).await;
            assert_eq!(reply.status, StatusCode::OK, "{path} {key:?}");
            assert_eq!(reply.content_type(), content_type, "{path}");
            assert_eq!(reply.headers[header::X_FRAME_OPTIONS], "DENY", "{path}");
            let csp = reply.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
            assert!(csp.contains("default-src 'none'"), "{path}: {csp}");
        }
    }
    let page = server.send(Method::GET, "/dashboard", None, None).await;
    assert!(page.text().contains(r#"<meta name="osprey-grpc-port" content="6334">"#));

    for path in [
        "/dashboard/../collections",
        "/dashboard%2F..%2Fcollections",
        "/dashboard/%2e%2e/collections",
        "/dashboard/console.js/../../collections",
        "/dashboard/console.js%2F..%2F..%2Fcollections",
        "/dashboard/nope.js",
        "/dashboard/index.html",
        "/dashboardx",
    ] {
        let reply = server.send(Method::GET, path, None, None).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(
            reply.text(),
            "Must provide an API key or an Authorization bearer token",
            "{path}"
        );
        let reply = server.send(Method::GET, path, Some("wrong"), None).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{path}");
        let reply = server.send(Method::GET, path, Some(ADMIN), None).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        assert!(reply.body.is_empty(), "{path}");
    }
    // The console's routes open nothing else: the API still needs a key.
    let reply = server.send(Method::GET, "/collections", None, None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn authentication_failures_are_plain_text() {
    let server = secured();
    let reply = server
        .send(Method::GET, "/collections", Some("wrong"), None)
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.text(), "Invalid API key or JWT");

    let other_secret = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"access": "m"}),
        &jsonwebtoken::EncodingKey::from_secret(b"another-secret-of-thirty-two-bytes!!"),
    )
    .unwrap();
    let reply = server
        .send(Method::GET, "/collections", Some(&other_secret), None)
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.text(), "InvalidSignature");

    // `Authorization: Bearer` works too.
    let req = Request::builder()
        .uri("/collections")
        .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
        .body(Body::empty())
        .unwrap();
    let response = server.app.clone().oneshot(req).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

// ---- access ---------------------------------------------------------------

#[tokio::test]
async fn forbidden_is_json_with_the_reason() {
    let server = secured();
    let reply = server
        .send(
            Method::PUT,
            "/collections/c",
            Some(READ_ONLY),
            Some(Body::from(r#"{"vectors":{"size":2,"distance":"Dot"}}"#)),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.error(), "Forbidden: Global manage access is required");

    // The access check runs before the body is read: a read-only key sending
    // garbage to a write route is refused, not told about its JSON.
    let reply = server
        .send(
            Method::PUT,
            "/collections/c/points",
            Some(READ_ONLY),
            Some(Body::from("{")),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
}

/// A collection-scoped token learns nothing about collections outside its
/// list: 403 whether they exist or not, and filtered listings.
#[tokio::test]
async fn collection_tokens_see_only_their_collections() {
    let server = secured();
    for name in ["a", "b"] {
        server.create_collection(name, 2).await;
    }
    server
        .upsert("a", json!([{"id": 1, "vector": [1.0, 0.0]}]))
        .await;
    let alias = server
        .admin(
            Method::POST,
            "/collections/aliases",
            Some(json!({"actions": [
                {"create_alias": {"collection_name": "a", "alias_name": "a1"}},
                {"create_alias": {"collection_name": "b", "alias_name": "b1"}}
            ]})),
        )
        .await;
    assert_eq!(alias.status, StatusCode::OK, "{}", alias.text());
    let token = jwt(
        json!({"access": [{"collection": "a", "access": "r"}, {"collection": "b1", "access": "r"}]}),
    );

    let listing = server
        .send(Method::GET, "/collections", Some(&token), None)
        .await;
    assert_eq!(
        listing.json()["result"],
        json!({"collections": [{"name": "a"}]})
    );
    let aliases = server
        .send(Method::GET, "/aliases", Some(&token), None)
        .await;
    assert_eq!(aliases.json()["result"], json!({"aliases": []}));
    let aliases = server
        .send(Method::GET, "/collections/a/aliases", Some(&token), None)
        .await;
    assert_eq!(aliases.json()["result"], json!({"aliases": []}));

    for path in [
        "/collections/b/exists",
        "/collections/missing/exists",
        "/collections/missing/points/1",
    ] {
        let reply = server.send(Method::GET, path, Some(&token), None).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{path}");
        assert!(
            reply
                .error()
                .starts_with("Forbidden: Access to collection "),
            "{path}"
        );
    }
    let reply = server
        .send(Method::GET, "/collections/a/points/1", Some(&token), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());

    let write = server
        .send(
            Method::PUT,
            "/collections/a/points",
            Some(&token),
            Some(Body::from(r#"{"points":[{"id":2,"vector":[0.0,1.0]}]}"#)),
        )
        .await;
    assert_eq!(
        write.error(),
        "Forbidden: Write access to collection a is required"
    );

    // `lookup_from` is checked after parsing, before the engine runs.
    let query = server
        .send(
            Method::POST,
            "/collections/a/points/query",
            Some(&token),
            Some(Body::from(
                r#"{"query": 1, "lookup_from": {"collection": "b"}}"#,
            )),
        )
        .await;
    assert_eq!(query.status, StatusCode::FORBIDDEN);
    assert_eq!(
        query.error(),
        "Forbidden: Access to collection b is required"
    );

    let metrics = server
        .send(Method::GET, "/metrics", Some(&token), None)
        .await;
    assert_eq!(metrics.error(), "Forbidden: Global access is required");
}

#[tokio::test]
async fn value_exists_is_checked_on_every_request() {
    let server = secured();
    server.create_collection("users", 2).await;
    server
        .upsert(
            "users",
            json!([{"id": 1, "vector": [1.0, 0.0], "payload": {"user": "ann"}}]),
        )
        .await;
    let claim = |user: &str, collection: &str| {
        jwt(json!({"access": "r", "value_exists": {
            "collection": collection,
            "matches": [{"key": "user", "value": user}]
        }}))
    };
    let reply = server
        .send(
            Method::GET,
            "/collections",
            Some(&claim("ann", "users")),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let reply = server
        .send(
            Method::GET,
            "/collections",
            Some(&claim("bob", "users")),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.text(), "Invalid JWT, stateful validation failed");
    let reply = server
        .send(
            Method::GET,
            "/collections",
            Some(&claim("ann", "gone")),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.text(), "Invalid JWT, stateful validation failed");
}

// ---- envelopes and errors -------------------------------------------------

#[tokio::test]
async fn envelopes_and_error_statuses() {
    let server = secured();
    let created = server
        .admin(
            Method::PUT,
            "/collections/docs",
            Some(json!({"vectors": {"size": 3, "distance": "Dot"}})),
        )
        .await;
    let body = created.json();
    assert_eq!(body["result"], json!(true));
    assert_eq!(body["status"], json!("ok"));
    assert!(body["time"].is_f64());
    assert_eq!(created.content_type(), "application/json");

    let missing = server.admin(Method::GET, "/collections/nope", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(
        missing.error(),
        "Not found: Collection `nope` doesn't exist!"
    );

    let malformed = server
        .send(
            Method::PUT,
            "/collections/docs/points",
            Some(ADMIN),
            Some(Body::from("{\"points\": [")),
        )
        .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert!(
        malformed.error().starts_with("Format error in JSON body: "),
        "{}",
        malformed.text()
    );

    let dimension = server
        .admin(
            Method::PUT,
            "/collections/docs/points?wait=true",
            Some(json!({"points": [{"id": 1, "vector": [1.0, 2.0]}]})),
        )
        .await;
    assert_eq!(
        dimension.status,
        StatusCode::BAD_REQUEST,
        "{}",
        dimension.text()
    );
    assert!(dimension.error().contains("dim"), "{}", dimension.text());

    let bad_wait = server
        .admin(
            Method::PUT,
            "/collections/docs/points?wait=maybe",
            Some(json!({"points": []})),
        )
        .await;
    assert_eq!(bad_wait.status, StatusCode::BAD_REQUEST);
    assert!(
        bad_wait
            .error()
            .starts_with("Deserialize error in query parameters: "),
        "{}",
        bad_wait.text()
    );

    let bad_timeout = server
        .admin(
            Method::PUT,
            "/collections/docs/points?timeout=0",
            Some(json!({"points": []})),
        )
        .await;
    assert_eq!(bad_timeout.status, StatusCode::UNPROCESSABLE_ENTITY);

    let bad_id = server
        .admin(Method::GET, "/collections/docs/points/not-an-id", None)
        .await;
    assert_eq!(bad_id.status, StatusCode::BAD_REQUEST);

    let unsupported = server
        .admin(Method::GET, "/stacktrace", None)
        .await;
    assert_eq!(unsupported.status, StatusCode::NOT_IMPLEMENTED);
    assert_eq!(
        unsupported.error(),
        "Not implemented: GET /stacktrace is not supported by this server yet"
    );
}

#[tokio::test]
async fn writes_wait_or_acknowledge() {
    let server = secured();
    server.create_collection("c", 2).await;
    let body = json!({"points": [{"id": 1, "vector": [1.0, 0.0]}]});
    let acknowledged = server
        .admin(Method::PUT, "/collections/c/points", Some(body.clone()))
        .await;
    assert_eq!(
        acknowledged.json()["result"]["status"],
        json!("acknowledged")
    );
    let completed = server
        .admin(Method::PUT, "/collections/c/points?wait=true", Some(body))
        .await;
    assert_eq!(completed.json()["result"]["status"], json!("completed"));
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let server = secured();
    server.create_collection("c", 2).await;
    let big = format!(
        "{{\"points\": [], \"pad\": \"{}\"}}",
        "x".repeat(1024 * 1024 + 10)
    );

    // A declared length over the limit is refused before reading.
    let req = Request::builder()
        .method(Method::PUT)
        .uri("/collections/c/points")
        .header("api-key", ADMIN)
        .header(header::CONTENT_LENGTH, big.len())
        .body(Body::from(big.clone()))
        .unwrap();
    let response = server.app.clone().oneshot(req).await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value =
        serde_json::from_slice(&to_bytes(response.into_body(), usize::MAX).await.unwrap()).unwrap();
    let message = body["status"]["error"].as_str().unwrap();
    assert!(
        message.contains("is larger than allowed (limit: 1048576 bytes)"),
        "{message}"
    );

    // Without a length (chunked), the limit holds while reading.
    let reply = server
        .send(
            Method::PUT,
            "/collections/c/points",
            Some(ADMIN),
            Some(Body::from(big)),
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        reply.text()
    );
    assert!(reply.error().contains("exceeded limit"), "{}", reply.text());
}

// ---- routing --------------------------------------------------------------

/// Every REST row of the table of access is routed, and every registered
/// route has a row: a route without a rule would be an open door (or, as the
/// middleware fails closed, a broken endpoint).
#[test]
fn every_table_row_is_routed_and_every_route_has_a_rule() {
    let (_, table) = crate::routes::build();
    let mut rows = 0;
    for rule in osprey_auth::rules()
        .iter()
        .filter(|r| r.interface == Interface::Rest)
    {
        if rule.exposure == "static-ui" {
            // `/dashboard` is the console's (crate osprey-console), mounted
            // only with `RestOptions::console` and kept out of the route
            // table; `the_console_is_open_only_on_its_own_routes` covers it.
            continue;
        }
        rows += 1;
        let method: Method = rule.method.parse().unwrap();
        assert!(
            table
                .lookup(&crate::routes::axum_path(rule.path), &method)
                .is_some(),
            "{} {} is not routed",
            rule.method,
            rule.path
        );
    }
    assert_eq!(rows, 99);
    assert_eq!(table.all().len(), rows);
    for route in table.all() {
        assert!(
            route.rule.is_some(),
            "{} {} has no access rule",
            route.method,
            route.template
        );
    }
    let plain: Vec<_> = table
        .all()
        .iter()
        .filter(|r| r.plain_text_errors)
        .map(|r| r.template)
        .collect();
    // Five downloads or streams and three multipart uploads.
    assert_eq!(plain.len(), 8, "{plain:?}");
}

/// Concrete paths for every row reach their route through the real router
/// (not the 404 fallback, not a 405): literal segments beat parameters, and
/// the renamed `{shard}` parameter still matches.
#[tokio::test]
async fn every_table_row_reaches_its_route() {
    let server = secured();
    for rule in osprey_auth::rules()
        .iter()
        .filter(|r| r.interface == Interface::Rest)
    {
        if rule.exposure == "static-ui" {
            continue;
        }
        let path = rule
            .path
            .replace("{collection_name}", "c")
            .replace("{id}", "1")
            .replace("{vector_name}", "v")
            .replace("{field_name}", "f")
            .replace("{snapshot_name}", "s.snapshot")
            .replace("{shard_id}", "0")
            .replace("{shard}", "0")
            .replace("{peer_id}", "1")
            .replace("{key}", "k");
        let method: Method = rule.method.parse().unwrap();
        let reply = server
            .send(method, &path, Some(ADMIN), Some(Body::from("{}")))
            .await;
        assert_ne!(
            reply.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{} {path}",
            rule.method
        );
        assert!(
            !(reply.status == StatusCode::NOT_FOUND && reply.body.is_empty()),
            "{} {path} fell through to the fallback",
            rule.method
        );
    }
}

#[tokio::test]
async fn literal_segments_beat_parameters() {
    let server = secured();
    server.create_collection("c", 2).await;
    server
        .upsert("c", json!([{"id": 5, "vector": [1.0, 0.0], "payload": {"k": "v"}}, {"id": 6, "vector": [0.0, 1.0]}]))
        .await;

    let scroll = server
        .admin(
            Method::POST,
            "/collections/c/points/scroll",
            Some(json!({"limit": 10})),
        )
        .await;
    assert_eq!(scroll.status, StatusCode::OK, "{}", scroll.text());
    assert_eq!(
        scroll.json()["result"]["points"].as_array().unwrap().len(),
        2
    );

    let count = server
        .admin(Method::POST, "/collections/c/points/count", Some(json!({})))
        .await;
    assert_eq!(count.json()["result"], json!({"count": 2}));

    let point = server
        .admin(Method::GET, "/collections/c/points/5", None)
        .await;
    assert_eq!(point.status, StatusCode::OK, "{}", point.text());
    assert_eq!(point.json()["result"]["id"], json!(5));
    assert_eq!(point.json()["result"]["payload"], json!({"k": "v"}));

    let search = server
        .admin(
            Method::POST,
            "/collections/c/points/search",
            Some(json!({"vector": [1.0, 0.0], "limit": 1})),
        )
        .await;
    assert_eq!(
        search.json()["result"][0]["id"],
        json!(5),
        "{}",
        search.text()
    );

    let aliases = server
        .admin(
            Method::POST,
            "/collections/aliases",
            Some(json!({"actions": [{"create_alias": {"collection_name": "c", "alias_name": "cc"}}]})),
        )
        .await;
    assert_eq!(aliases.status, StatusCode::OK, "{}", aliases.text());
    // The alias works wherever a collection name does.
    let via_alias = server
        .admin(Method::GET, "/collections/cc/points/6", None)
        .await;
    assert_eq!(via_alias.status, StatusCode::OK, "{}", via_alias.text());
    let listed = server
        .admin(Method::GET, "/collections/c/aliases", None)
        .await;
    assert_eq!(
        listed.json()["result"],
        json!({"aliases": [{"alias_name": "cc", "collection_name": "c"}]})
    );
}

#[tokio::test]
async fn paths_are_normalised_before_routing() {
    let server = secured();
    server.create_collection("c", 2).await;
    for path in [
        "/collections/",
        "//collections",
        "/collections//",
        "/collections/c/",
        "//collections//c",
    ] {
        let reply = server.admin(Method::GET, path, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.text());
    }
    let reply = server.send(Method::GET, "//healthz/", None, None).await;
    assert_eq!(reply.text(), "healthz check passed");
}

#[tokio::test]
async fn cors_preflight_needs_no_credentials() {
    let server = secured();
    let req = Request::builder()
        .method(Method::OPTIONS)
        .uri("/collections/c/points/search")
        .header(header::ORIGIN, "http://example.test")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            "api-key, content-type",
        )
        .body(Body::empty())
        .unwrap();
    let response = server.app.clone().oneshot(req).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers();
    assert_eq!(
        headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "http://example.test"
    );
    assert_eq!(
        headers[header::ACCESS_CONTROL_ALLOW_HEADERS],
        "api-key, content-type"
    );

    // Actual requests still need a key, and carry the CORS headers.
    let req = Request::builder()
        .uri("/collections")
        .header(header::ORIGIN, "http://example.test")
        .body(Body::empty())
        .unwrap();
    let response = server.app.clone().oneshot(req).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "http://example.test"
    );

    // Disabled CORS: no preflight answer, so the OPTIONS request needs a key.
    let closed = server_with(
        AuthConfig {
            api_key: Some(ADMIN.into()),
            ..AuthConfig::default()
        },
        RestOptions {
            enable_cors: false,
            ..RestOptions::default()
        },
    );
    let req = Request::builder()
        .method(Method::OPTIONS)
        .uri("/collections")
        .header(header::ORIGIN, "http://example.test")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
        .body(Body::empty())
        .unwrap();
    let response = closed.app.clone().oneshot(req).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

// ---- service endpoints ----------------------------------------------------

#[tokio::test]
async fn cluster_telemetry_and_metrics() {
    let server = secured();
    server.create_collection("c", 2).await;
    server
        .upsert(
            "c",
            json!([{"id": 1, "vector": [1.0, 0.0]}, {"id": 2, "vector": [0.0, 1.0]}]),
        )
        .await;

    let cluster = server
        .send(Method::GET, "/cluster", Some(READ_ONLY), None)
        .await
        .json()["result"]
        .clone();
    assert_eq!(cluster["status"], json!("enabled"));
    let peer = cluster["peer_id"].as_u64().unwrap();
    assert_eq!(cluster["raft_info"]["leader"], json!(peer));
    assert_eq!(cluster["raft_info"]["is_voter"], json!(true));
    assert!(cluster["peers"][peer.to_string()]["uri"].is_string());

    let info = server
        .admin(Method::GET, "/collections/c/cluster", None)
        .await
        .json()["result"]
        .clone();
    assert_eq!(
        info,
        json!({
            "peer_id": peer,
            "shard_count": 1,
            "local_shards": [{"shard_id": 0, "points_count": 2, "state": "Active"}],
            "remote_shards": [],
            "shard_transfers": [],
        })
    );

    let telemetry = server.admin(Method::GET, "/telemetry", None).await.json()["result"].clone();
    assert_eq!(telemetry["app"]["version"], json!("1.18.3"));
    assert_eq!(telemetry["collections"]["number_of_collections"], json!(1));
    assert_eq!(telemetry["collections"]["collections"][0]["id"], json!("c"));
    assert_eq!(
        telemetry["collections"]["collections"][0]["shards"][0]["local"]["num_points"],
        json!(2)
    );
    assert!(telemetry["requests"]["rest"]["responses"]["PUT /collections/{collection_name}"]["200"]["count"]
        .is_u64());

    let scoped = jwt(json!({"access": [{"collection": "other", "access": "rw"}]}));
    let filtered = server
        .send(Method::GET, "/telemetry", Some(&scoped), None)
        .await
        .json()["result"]
        .clone();
    assert_eq!(filtered["collections"]["number_of_collections"], json!(0));
    assert!(filtered.get("requests").is_none());

    let _ = server
        .send(Method::GET, "/collections", Some("wrong"), None)
        .await;
    let metrics = server
        .send(Method::GET, "/metrics", Some(READ_ONLY), None)
        .await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(metrics.content_type().starts_with("text/plain"));
    let text = metrics.text();
    for line in [
        "collections_total 1",
        "collection_points{collection=\"c\"} 2",
        "rest_responses_total{method=\"PUT\",endpoint=\"/collections/{collection_name}\",status=\"200\"} 1",
        "rest_responses_total{method=\"GET\",endpoint=\"/collections\",status=\"401\"} 1",
        "rest_requests_refused_total{reason=\"authentication\"} 1",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
}

/// `/collections/aliases` is a literal route for POST only: with the other
/// methods it is a collection named `aliases`, as in Qdrant.
#[tokio::test]
async fn a_collection_may_be_called_aliases() {
    let server = secured();
    let created = server
        .admin(
            Method::PUT,
            "/collections/aliases",
            Some(json!({"vectors": {"size": 2, "distance": "Dot"}})),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text());
    let info = server
        .admin(Method::GET, "/collections/aliases", None)
        .await;
    assert_eq!(info.status, StatusCode::OK, "{}", info.text());
    let exists = server
        .admin(Method::GET, "/collections/aliases/exists", None)
        .await;
    assert_eq!(exists.json()["result"], json!({"exists": true}));
    let count = server
        .admin(
            Method::POST,
            "/collections/aliases/points/count",
            Some(json!({})),
        )
        .await;
    assert_eq!(count.json()["result"], json!({"count": 0}));
    // The access rule is the collection route's, with `aliases` as collection.
    let token = jwt(json!({"access": [{"collection": "other", "access": "rw"}]}));
    let denied = server
        .send(Method::GET, "/collections/aliases", Some(&token), None)
        .await;
    assert_eq!(
        denied.error(),
        "Forbidden: Access to collection aliases is required"
    );
    let deleted = server
        .admin(Method::DELETE, "/collections/aliases", None)
        .await;
    assert_eq!(deleted.json()["result"], json!(true));
}
