//! The table-driven access test of issue 3, item 9.
//!
//! Every `rest` row of `crates/auth/spec/access-table.tsv` (except the
//! `/dashboard` static row: the console crate serves it, only when
//! `RestOptions::console` mounts it, and not in this matrix) is sent through
//! the whole router with thirteen credentials, and the status and body are
//! compared with what spec/auth.md §6 and §8 say.
//!
//! The expected outcome comes from a model written here, from the spec's
//! tables, and never from `osprey_auth`'s own rule parser or `authorize`: the
//! table file is parsed again below, and the principal × requirement decision
//! is re-implemented, so a wrong implementation in the auth crate shows up as
//! a failing case rather than agreeing with itself.
//!
//! "Allowed" means any status other than 401 and 403 (a route not served yet
//! answers 501 after the check; whitelisted routes answer 200). "Denied" means
//! the exact status and the exact body: plain text for authentication
//! failures and for the handlers the table marks as plain text, otherwise the
//! JSON envelope with `status.error` = `Forbidden: <reason>`.
//!
//! Run with `--nocapture` to see the counts.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, to_bytes};
use http::{HeaderMap, Method, Request, StatusCode, header};
use osprey_auth::audit::{AuditConfig, AuditLog, Rotation};
use osprey_auth::{AuthConfig, Authenticator};
use osprey_engine::{Storage, StorageConfig};
use osprey_rest::{ClusterMode, LogControl, RestContext, RestOptions, router};

/// A log level kept in memory: `/logger` answers, and the test process's
/// own logging is left alone.
#[derive(Debug, Default)]
struct LevelInMemory(std::sync::Mutex<String>);

impl LogControl for LevelInMemory {
    fn level(&self) -> String {
        self.0.lock().unwrap().clone()
    }

    fn set_level(&self, level: &str) -> Result<(), String> {
        *self.0.lock().unwrap() = level.to_string();
        Ok(())
    }
}
use serde_json::{Value, json};
use tempfile::TempDir;
use tower::ServiceExt;

const ADMIN: &str = "matrix-admin-key-of-at-least-32-bytes!!";
const READ_ONLY: &str = "matrix-read-only-key";
const OTHER_SECRET: &str = "some-other-secret-of-at-least-32-bytes!";
/// The collection every path names; it exists, with points.
const C: &str = "c";
/// A second existing collection that no token names.
const D: &str = "d";
/// An alias of `c`, named by no token.
const ALIAS: &str = "c_alias";

const MISSING: &str = "Must provide an API key or an Authorization bearer token";
const INVALID: &str = "Invalid API key or JWT";

// ---------------------------------------------------------------------------
// The table, parsed independently of osprey_auth.
// ---------------------------------------------------------------------------

/// `required_access` of a row, as spec §8 names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Need {
    None,
    AnyAuth,
    GlobalRead,
    GlobalManage,
    /// `global_manage` whose notes say it is checked as collection-level
    /// write+manage+extras.
    CollManage,
    CollRead,
    CollReadExtras,
    CollWrite,
    CollWriteExtras,
}

#[derive(Debug, Clone)]
struct Row {
    method: String,
    template: String,
    operation: String,
    need: Need,
    /// Access refusals of this route's handler are plain text, not JSON.
    plain_text: bool,
    exposure: String,
}

/// Operations whose refusals Qdrant renders as plain text (spec §6 and §13:
/// five downloads/streams and the three multipart uploads). Written out here
/// and cross-checked with the notes column, so neither can drift alone.
const PLAIN_TEXT_OPS: [&str; 8] = [
    "get_snapshot",
    "stream_shard_snapshot",
    "get_shard_snapshot",
    "get_full_snapshot",
    "create_partial_snapshot",
    "recover_from_uploaded_snapshot",
    "recover_shard_from_uploaded_snapshot",
    "recover_partial_snapshot",
];

/// `global_manage` rows that Qdrant checks as collection-level
/// write+manage+extras (shard keys, collection cluster update, staging).
const COLL_MANAGE_OPS: [&str; 5] = [
    "create_shard_key",
    "delete_shard_key",
    "update_collection_cluster",
    "get_shard_wal",
    "get_shard_recovery_point",
];

fn table_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../auth/spec/access-table.tsv")
}

fn rest_rows() -> Vec<Row> {
    let text = std::fs::read_to_string(table_path()).expect("access table");
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "interface\tmethod\tpath_or_rpc\toperation\trequired_access\tnotes\texposure"
    );
    let mut rows = Vec::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), 7, "{line}");
        if f[0] != "rest" {
            continue;
        }
        let (operation, notes) = (f[3], f[5]);
        let plain_text = PLAIN_TEXT_OPS.contains(&operation);
        assert_eq!(
            plain_text,
            notes.contains("plain text"),
            "plain-text list and notes disagree on {operation}"
        );
        let coll_manage = COLL_MANAGE_OPS.contains(&operation);
        assert_eq!(
            coll_manage,
            notes.contains("checked as collection-level write+manage+extras"),
            "collection-manage list and notes disagree on {operation}"
        );
        let need = match f[4] {
            "none" => Need::None,
            "any_auth" => Need::AnyAuth,
            "global_read" => Need::GlobalRead,
            "global_manage" if coll_manage => Need::CollManage,
            "global_manage" => Need::GlobalManage,
            "coll_read" => Need::CollRead,
            "coll_read_extras" => Need::CollReadExtras,
            "coll_write" => Need::CollWrite,
            "coll_write_extras" => Need::CollWriteExtras,
            other => panic!("unknown required_access {other:?} in {line}"),
        };
        assert!(!coll_manage || f[4] == "global_manage", "{line}");
        rows.push(Row {
            method: f[1].to_owned(),
            template: f[2].to_owned(),
            operation: operation.to_owned(),
            need,
            plain_text,
            exposure: f[6].to_owned(),
        });
    }
    rows
}

// ---------------------------------------------------------------------------
// The model: spec §6 (authentication failures) and §8 (access levels).
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    R,
    Rw,
    Prw,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Principal {
    GlobalRead,
    GlobalManage,
    /// A collection-scoped token: `(name, mode)` entries.
    Collections(Vec<(&'static str, Mode)>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Cred {
    NoCredential,
    WrongKey,
    AdminKey,
    ReadOnlyKey,
    JwtM,
    JwtR,
    JwtCollRw,
    JwtCollR,
    JwtCollPrw,
    JwtOtherRw,
    JwtExpired,
    JwtOtherSecret,
    JwtAlgNone,
}

const CREDS: [Cred; 13] = [
    Cred::NoCredential,
    Cred::WrongKey,
    Cred::AdminKey,
    Cred::ReadOnlyKey,
    Cred::JwtM,
    Cred::JwtR,
    Cred::JwtCollRw,
    Cred::JwtCollR,
    Cred::JwtCollPrw,
    Cred::JwtOtherRw,
    Cred::JwtExpired,
    Cred::JwtOtherSecret,
    Cred::JwtAlgNone,
];

/// What a credential becomes (spec §2, §6, §7).
enum Authn {
    Principal(Principal),
    /// 401, plain text.
    Unauthenticated(&'static str),
    /// 403 from the middleware, plain text.
    Rejected(&'static str),
}

fn authn(cred: Cred) -> Authn {
    use Authn::*;
    match cred {
        Cred::NoCredential => Unauthenticated(MISSING),
        Cred::WrongKey | Cred::JwtAlgNone => Unauthenticated(INVALID),
        Cred::AdminKey | Cred::JwtM => Principal(self::Principal::GlobalManage),
        Cred::ReadOnlyKey | Cred::JwtR => Principal(self::Principal::GlobalRead),
        Cred::JwtCollRw => Principal(self::Principal::Collections(vec![(C, Mode::Rw)])),
        Cred::JwtCollR => Principal(self::Principal::Collections(vec![(C, Mode::R)])),
        Cred::JwtCollPrw => Principal(self::Principal::Collections(vec![(C, Mode::Prw)])),
        Cred::JwtOtherRw => Principal(self::Principal::Collections(vec![("other", Mode::Rw)])),
        Cred::JwtExpired => Rejected("ExpiredSignature"),
        Cred::JwtOtherSecret => Rejected("InvalidSignature"),
    }
}

/// The flags of spec §8 that an operation requires, and whether the check is
/// a "global" one (collection tokens refused outright).
struct Flags {
    global: bool,
    write: bool,
    manage: bool,
    extras: bool,
}

fn flags(need: Need) -> Option<Flags> {
    let f = |global, write, manage, extras| {
        Some(Flags {
            global,
            write,
            manage,
            extras,
        })
    };
    match need {
        Need::None | Need::AnyAuth => None,
        Need::GlobalRead => f(true, false, false, false),
        Need::GlobalManage => f(true, true, true, false),
        Need::CollManage => f(false, true, true, true),
        Need::CollRead => f(false, false, false, false),
        Need::CollReadExtras => f(false, false, false, true),
        Need::CollWrite => f(false, true, false, false),
        Need::CollWriteExtras => f(false, true, false, true),
    }
}

/// `Ok(())` = allowed, `Err(reason)` = 403 `Forbidden: <reason>`.
fn authorize(principal: &Principal, need: Need, collection: &str) -> Result<(), String> {
    let Some(flags) = flags(need) else {
        return Ok(());
    };
    match principal {
        Principal::GlobalManage => Ok(()),
        // Global principals ignore the extras flag.
        Principal::GlobalRead if flags.write || flags.manage => {
            Err("Global manage access is required".into())
        }
        Principal::GlobalRead => Ok(()),
        Principal::Collections(_) if flags.global => Err("Global access is required".into()),
        Principal::Collections(entries) => {
            let Some((_, mode)) = entries.iter().find(|(name, _)| *name == collection) else {
                return Err(format!("Access to collection {collection} is required"));
            };
            // Order: extras, write, manage (spec §6).
            if flags.extras && *mode == Mode::Prw {
                return Err(format!(
                    "Only points access is allowed for collection {collection}"
                ));
            }
            if flags.write && *mode == Mode::R {
                return Err(format!(
                    "Write access to collection {collection} is required"
                ));
            }
            if flags.manage {
                return Err("Manage access for this operation is required".into());
            }
            Ok(())
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Expect {
    /// Any status but 401/403 (200 exactly on whitelisted routes).
    Allowed,
    /// 401 with this plain-text body.
    Unauthenticated(&'static str),
    /// 403 from authentication, with this plain-text body.
    AuthRejected(&'static str),
    /// 403 `Forbidden: <reason>`: JSON envelope, or plain text on the
    /// routes the table marks.
    Forbidden(String),
}

fn expect(row: &Row, cred: Cred) -> Expect {
    if row.need == Need::None {
        // Whitelisted: credentials are not inspected at all.
        return Expect::Allowed;
    }
    match authn(cred) {
        Authn::Unauthenticated(m) => Expect::Unauthenticated(m),
        Authn::Rejected(m) => Expect::AuthRejected(m),
        Authn::Principal(p) => expect_for(row, &p, C),
    }
}

/// The route-level answer for an authenticated principal and the collection
/// named in the path.
fn expect_for(row: &Row, principal: &Principal, collection: &str) -> Expect {
    match authorize(principal, row.need, collection) {
        Ok(()) => Expect::Allowed,
        Err(reason) => Expect::Forbidden(reason),
    }
}

/// A JWT for a collection list.
fn scoped_jwt(entries: &[(&str, Mode)]) -> String {
    let list: Vec<Value> = entries
        .iter()
        .map(|(name, mode)| {
            let mode = match mode {
                Mode::R => "r",
                Mode::Rw => "rw",
                Mode::Prw => "prw",
            };
            json!({"collection": name, "access": mode})
        })
        .collect();
    jwt(json!({"access": list}))
}

// ---------------------------------------------------------------------------
// Credentials on the wire.
// ---------------------------------------------------------------------------

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn jwt_with(secret: &str, claims: Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn jwt(claims: Value) -> String {
    jwt_with(ADMIN, claims)
}

/// Base64url without padding (RFC 7515), enough to forge an unsigned token.
fn b64url(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

fn alg_none_token() -> String {
    let header = b64url(br#"{"alg":"none","typ":"JWT"}"#);
    let claims = b64url(br#"{"access":"m"}"#);
    format!("{header}.{claims}.")
}

fn credential(cred: Cred) -> Option<String> {
    Some(match cred {
        Cred::NoCredential => return None,
        Cred::WrongKey => "not-a-configured-key".into(),
        Cred::AdminKey => ADMIN.into(),
        Cred::ReadOnlyKey => READ_ONLY.into(),
        Cred::JwtM => jwt(json!({"access": "m"})),
        Cred::JwtR => jwt(json!({"access": "r"})),
        Cred::JwtCollRw => jwt(json!({"access": [{"collection": C, "access": "rw"}]})),
        Cred::JwtCollR => jwt(json!({"access": [{"collection": C, "access": "r"}]})),
        Cred::JwtCollPrw => jwt(json!({"access": [{"collection": C, "access": "prw"}]})),
        Cred::JwtOtherRw => jwt(json!({"access": [{"collection": "other", "access": "rw"}]})),
        Cred::JwtExpired => jwt(json!({"access": "m", "exp": now() - 3600})),
        Cred::JwtOtherSecret => jwt_with(OTHER_SECRET, json!({"access": "m"})),
        Cred::JwtAlgNone => alg_none_token(),
    })
}

// ---------------------------------------------------------------------------
// The server.
// ---------------------------------------------------------------------------

struct Server {
    app: Router,
    dir: TempDir,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    fn content_type(&self) -> &str {
        self.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// How the credential travels.
#[derive(Debug, Clone, Copy)]
enum Carrier {
    ApiKey,
    Bearer,
}

enum Payload {
    Empty,
    Json(Value),
    Multipart,
}

const BOUNDARY: &str = "matrixboundary";

struct Call {
    method: Method,
    uri: String,
    payload: Payload,
}

impl Server {
    fn new() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(StorageConfig {
            storage_path: dir.path().join("storage"),
            snapshots_path: dir.path().join("snapshots"),
        })
        .unwrap();
        // The audit log is on, so `POST /audit/logs` answers for real (with
        // it off, every allowed credential would get 400).
        let audit = AuditLog::open(AuditConfig {
            dir: dir.path().join("audit"),
            rotation: Rotation::Daily,
            max_log_files: 2,
            trust_forwarded_headers: false,
            log_api: true,
        })
        .unwrap();
        let auth = Arc::new(
            Authenticator::new(AuthConfig {
                api_key: Some(ADMIN.into()),
                read_only_api_key: Some(READ_ONLY.into()),
                jwt_rbac: true,
                ..AuthConfig::default()
            })
            .with_audit_log(audit),
        );
        let app = router(RestContext {
            storage,
            auth,
            keys: None,
            // Cluster mode on one peer: the router-only cluster routes
            // (metadata keys) answer there, as in a Qdrant cluster.
            options: RestOptions {
                cluster: Some(ClusterMode::default()),
                logger: Some(std::sync::Arc::new(LevelInMemory::default())),
                ..RestOptions::default()
            },
        });
        Server { app, dir }
    }

    /// A server with `c` (three points, a keyword index on `kw`, a sparse
    /// vector `sparse_v` besides the unnamed dense one), `d`
    /// (empty) and the alias `c_alias` -> `c`.
    async fn populated() -> Server {
        let server = Server::new();
        server
            .setup(
                Method::PUT,
                "/collections/c",
                json!({
                    "vectors": {"size": 2, "distance": "Cosine"},
                    "sparse_vectors": {"sparse_v": {}}
                }),
            )
            .await;
        server
            .setup(
                Method::PUT,
                "/collections/d",
                json!({"vectors": {"size": 2, "distance": "Cosine"}}),
            )
            .await;
        server
            .setup(
                Method::PUT,
                "/collections/c/points?wait=true",
                json!({"points": [
                    {"id": 1, "vector": [1.0, 0.0], "payload": {"kw": "a"}},
                    {"id": 2, "vector": [0.0, 1.0], "payload": {"kw": "b"}},
                    {"id": 3, "vector": [0.7, 0.7], "payload": {"kw": "a"}},
                ]}),
            )
            .await;
        server
            .setup(
                Method::PUT,
                "/collections/c/index?wait=true",
                json!({"field_name": "kw", "field_schema": "keyword"}),
            )
            .await;
        server
            .setup(
                Method::POST,
                "/collections/aliases",
                json!({"actions": [{"create_alias": {"collection_name": C, "alias_name": ALIAS}}]}),
            )
            .await;
        server
    }

    async fn setup(&self, method: Method, uri: &str, body: Value) {
        let call = Call {
            method,
            uri: uri.to_owned(),
            payload: Payload::Json(body),
        };
        let reply = self.send(&call, Some(ADMIN), Carrier::ApiKey).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "setup {uri}: {}",
            reply.text()
        );
    }

    async fn send(&self, call: &Call, credential: Option<&str>, carrier: Carrier) -> Reply {
        let mut headers = Vec::new();
        if let Some(credential) = credential {
            match carrier {
                Carrier::ApiKey => headers.push(("api-key", credential.to_owned())),
                Carrier::Bearer => {
                    headers.push(("authorization", format!("Bearer {credential}")));
                }
            }
        }
        self.send_raw(call, &headers).await
    }

    async fn send_raw(&self, call: &Call, headers: &[(&str, String)]) -> Reply {
        let mut req = Request::builder()
            .method(call.method.clone())
            .uri(&call.uri);
        for (name, value) in headers {
            req = req.header(*name, value);
        }
        let body = match &call.payload {
            Payload::Empty => Body::empty(),
            Payload::Json(value) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Body::from(value.to_string())
            }
            Payload::Multipart => {
                req = req.header(
                    header::CONTENT_TYPE,
                    format!("multipart/form-data; boundary={BOUNDARY}"),
                );
                Body::from(format!(
                    "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"snapshot\"; \
                     filename=\"c.snapshot\"\r\nContent-Type: application/octet-stream\r\n\r\n\
                     not really a snapshot\r\n--{BOUNDARY}--\r\n"
                ))
            }
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

    /// A snapshot location inside this server's snapshot directory (so a
    /// future implementation answers "not found", never a URL fetch or a
    /// path-confinement 403).
    fn snapshot_location(&self) -> String {
        format!(
            "file://{}/c/missing.snapshot",
            self.dir.path().join("snapshots").display()
        )
    }
}

/// The concrete request for a row: path parameters filled in, and a minimal
/// valid body for the operation.
fn call_for(row: &Row, server: &Server) -> Call {
    call_for_collection(row, server, C)
}

fn call_for_collection(row: &Row, server: &Server, collection: &str) -> Call {
    let uri = row
        .template
        .replace("{collection_name}", collection)
        .replace("{id}", "1")
        // Create a new (sparse) vector; delete the existing one.
        .replace(
            "{vector_name}",
            if row.operation == "delete_vector_name" {
                "sparse_v"
            } else {
                "extra"
            },
        )
        .replace("{field_name}", "kw")
        .replace("{snapshot_name}", "c-0.snapshot")
        .replace("{shard_id}", "0")
        .replace("{shard}", "0")
        .replace("{peer_id}", "2")
        .replace("{key}", "k");
    assert!(!uri.contains('{'), "unfilled parameter in {uri}");
    let method: Method = row.method.parse().unwrap();
    let search = json!({"vector": [1.0, 0.0], "limit": 2});
    let recommend = json!({"positive": [1], "limit": 2});
    let discover =
        json!({"target": [1.0, 0.0], "context": [{"positive": 1, "negative": 2}], "limit": 2});
    let query = json!({"query": [1.0, 0.0], "limit": 2});
    let groups = |mut base: Value| {
        base["group_by"] = json!("kw");
        base["group_size"] = json!(1);
        base
    };
    let location = json!({"location": server.snapshot_location()});
    use Payload::{Empty, Json, Multipart};
    let payload = match row.operation.as_str() {
        "root"
        | "telemetry"
        | "metrics"
        | "healthz"
        | "livez"
        | "readyz"
        | "get_collections"
        | "get_collection"
        | "collection_exists"
        | "get_optimizations"
        | "get_collection_aliases"
        | "get_collections_aliases"
        | "get_point" => Empty,
        "delete_collection" | "delete_vector_name" | "delete_field_index" => Empty,
        "create_collection" => Json(json!({"vectors": {"size": 2, "distance": "Cosine"}})),
        "update_collection" => Json(json!({"optimizers_config": {"indexing_threshold": 20000}})),
        "update_aliases" => Json(json!({"actions": [
            {"create_alias": {"collection_name": C, "alias_name": "c_alias_2"}}
        ]})),
        "get_points" => Json(json!({"ids": [1, 2]})),
        "upsert_points" => {
            Json(json!({"points": [{"id": 4, "vector": [0.5, 0.5], "payload": {"kw": "b"}}]}))
        }
        "delete_points" => Json(json!({"points": [3]})),
        "batch_update" => Json(json!({"operations": [
            {"upsert": {"points": [{"id": 5, "vector": [0.1, 0.9]}]}}
        ]})),
        "create_vector_name" => Json(json!({"sparse": {}})),
        "update_vectors" => Json(json!({"points": [{"id": 1, "vector": [0.9, 0.1]}]})),
        "delete_vectors" => Json(json!({"points": [2], "vector": [""]})),
        "set_payload" | "overwrite_payload" => Json(json!({"payload": {"kw": "z"}, "points": [1]})),
        "delete_payload" => Json(json!({"keys": ["kw"], "points": [1]})),
        "clear_payload" => Json(json!({"points": [2]})),
        "create_field_index" => Json(json!({"field_name": "kw2", "field_schema": "keyword"})),
        "scroll_points" => Json(json!({"limit": 10})),
        "count_points" => Json(json!({"exact": true})),
        "facet" => Json(json!({"key": "kw"})),
        "search_points" => Json(search.clone()),
        "search_batch_points" => Json(json!({"searches": [search.clone()]})),
        "search_point_groups" => Json(groups(search.clone())),
        "recommend_points" => Json(recommend.clone()),
        "recommend_batch_points" => Json(json!({"searches": [recommend.clone()]})),
        "recommend_point_groups" => Json(groups(recommend.clone())),
        "discover_points" => Json(discover.clone()),
        "discover_batch_points" => Json(json!({"searches": [discover.clone()]})),
        "query_points" => Json(query.clone()),
        "query_batch_points" => Json(json!({"searches": [query.clone()]})),
        "query_points_groups" => Json(groups(query.clone())),
        "search_matrix_pairs" | "search_matrix_offsets" => Json(json!({"sample": 3, "limit": 1})),
        "recover_from_uploaded_snapshot"
        | "recover_shard_from_uploaded_snapshot"
        | "recover_partial_snapshot" => Multipart,
        "recover_from_snapshot" | "recover_shard_from_snapshot" => Json(location.clone()),
        "list_snapshots"
        | "create_snapshot"
        | "delete_snapshot"
        | "get_snapshot"
        | "stream_shard_snapshot"
        | "list_shard_snapshots"
        | "create_shard_snapshot"
        | "delete_shard_snapshot"
        | "get_shard_snapshot"
        | "list_full_snapshots"
        | "create_full_snapshot"
        | "delete_full_snapshot"
        | "get_full_snapshot" => Empty,
        "create_shard_key" | "delete_shard_key" => Json(json!({"shard_key": "k1"})),
        "list_shard_keys"
        | "cluster_status"
        | "cluster_telemetry"
        | "recover_current_peer"
        | "remove_peer"
        | "collection_cluster_info"
        | "get_issues"
        | "clear_issues" => Empty,
        "update_collection_cluster" => Json(json!({"move_shard": {
            "shard_id": 0, "from_peer_id": 1, "to_peer_id": 2
        }})),
        "get_stacktrace" | "get_logger_config" => Empty,
        "update_logger_config" => Json(json!({"log_level": "INFO"})),
        "truncate_unapplied_wal" | "get_collection_memory" => Empty,
        "get_cluster_metadata_keys"
        | "get_cluster_metadata_key"
        | "delete_cluster_metadata_key" => Empty,
        "update_cluster_metadata_key" => Json(json!("value")),
        "get_debugger_config" | "get_slow_requests" => Empty,
        "update_debugger_config" => Json(json!({})),
        "get_audit_logs" => Json(json!({})),
        "local_shard_get_points" => Json(json!({"ids": [1]})),
        "local_shard_scroll" => Json(json!({"limit": 1})),
        "local_shard_count" => Json(json!({"exact": true})),
        "local_shard_cleanup" => Empty,
        "create_partial_snapshot" => Json(json!({})),
        "recover_partial_snapshot_from" => Json(json!({"peer_url": "http://127.0.0.1:9/"})),
        "get_partial_snapshot_manifest" | "get_shard_wal" | "get_shard_recovery_point" => Empty,
        "staging_operation" => Json(json!({})),
        other => panic!(
            "no request for {} {} ({other}): a new row needs a body here",
            row.method, row.template
        ),
    };
    Call {
        method,
        uri,
        payload,
    }
}

// ---------------------------------------------------------------------------
// Checking one reply.
// ---------------------------------------------------------------------------

/// `Err(description)` when the reply does not match the expectation.
fn check(row: &Row, expected: &Expect, reply: &Reply) -> Result<(), String> {
    let status = reply.status;
    let text = reply.text();
    let got = || format!("got {status} {:?}: {text}", reply.content_type());
    let plain = |code: StatusCode, body: &str| -> Result<(), String> {
        if status != code || text != body || !reply.content_type().starts_with("text/plain") {
            return Err(format!("expected {code} text/plain {body:?}, {}", got()));
        }
        Ok(())
    };
    match expected {
        Expect::Allowed => {
            if row.need == Need::None && status != StatusCode::OK {
                return Err(format!("expected 200 on a whitelisted route, {}", got()));
            }
            if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
                return Err(format!("expected to be allowed, {}", got()));
            }
            Ok(())
        }
        Expect::Unauthenticated(message) => plain(StatusCode::UNAUTHORIZED, message),
        Expect::AuthRejected(message) => plain(StatusCode::FORBIDDEN, message),
        Expect::Forbidden(reason) => {
            let message = format!("Forbidden: {reason}");
            if row.plain_text {
                return plain(StatusCode::FORBIDDEN, &message);
            }
            let body = reply.json();
            let ok = status == StatusCode::FORBIDDEN
                && reply.content_type().starts_with("application/json")
                && body.as_ref().is_some_and(|b| {
                    b["status"]["error"] == json!(message)
                        && b["time"].is_number()
                        && b.get("result").is_none()
                });
            if !ok {
                return Err(format!(
                    "expected 403 JSON {{\"status\":{{\"error\":{message:?}}},\"time\":..}}, {}",
                    got()
                ));
            }
            Ok(())
        }
    }
}

/// `POST /audit/logs` is served (issue 13): an allowed credential reads
/// entries in Qdrant's `{"result": {"entries": [...]}}` shape, newest first,
/// the newest being this very request's own access check.
fn check_audit_read(row: &Row, expected: &Expect, reply: &Reply) -> Result<(), String> {
    if row.operation != "get_audit_logs" || !matches!(expected, Expect::Allowed) {
        return Ok(());
    }
    let body = reply.json().unwrap_or(Value::Null);
    let entries = body["result"]["entries"].as_array();
    match entries.and_then(|e| e.first()) {
        Some(newest) if reply.status == StatusCode::OK && newest["method"] == "get_audit_logs" => Ok(()),
        _ => Err(format!("expected 200 with audit entries, got {}: {}", reply.status, reply.text())),
    }
}

/// The visible names a principal should get from the filtered listings.
fn visible(cred: Cred, names: &[&str]) -> Vec<String> {
    match authn(cred) {
        Authn::Principal(Principal::Collections(entries)) => names
            .iter()
            .filter(|n| entries.iter().any(|(e, _)| e == *n))
            .map(|n| (*n).to_owned())
            .collect(),
        _ => names.iter().map(|n| (*n).to_owned()).collect(),
    }
}

/// `any_auth` listings and `GET /collections/{c}/aliases` are filtered for
/// collection-scoped principals (spec §9). Checked when the route answers 200.
fn check_filtering(row: &Row, cred: Cred, reply: &Reply) -> Result<(), String> {
    let listing = [
        "get_collections",
        "get_collections_aliases",
        "get_collection_aliases",
        "telemetry",
        "cluster_telemetry",
    ];
    if reply.status != StatusCode::OK || !listing.contains(&row.operation.as_str()) {
        return Ok(());
    }
    let body = reply
        .json()
        .ok_or_else(|| format!("200 without JSON: {}", reply.text()))?;
    let scoped = matches!(authn(cred), Authn::Principal(Principal::Collections(_)));
    let strings = |v: &Value, key: &str| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x[key].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mismatch = |what: &str, got: &dyn std::fmt::Debug, want: &dyn std::fmt::Debug| {
        Err(format!("{what}: expected {want:?}, got {got:?}"))
    };
    match row.operation.as_str() {
        "get_collections" => {
            let got = strings(&body["result"]["collections"], "name");
            let want = visible(cred, &[C, D]);
            if got != want {
                return mismatch("listed collections", &got, &want);
            }
        }
        "get_collections_aliases" => {
            // Both the alias and its collection must be named by the token.
            let got = strings(&body["result"]["aliases"], "alias_name");
            let want: Vec<String> = if scoped { vec![] } else { vec![ALIAS.into()] };
            if got != want {
                return mismatch("listed aliases", &got, &want);
            }
        }
        "get_collection_aliases" => {
            let got = strings(&body["result"]["aliases"], "alias_name");
            let want: Vec<String> = if scoped { vec![] } else { vec![ALIAS.into()] };
            if got != want {
                return mismatch("aliases of c", &got, &want);
            }
        }
        "telemetry" | "cluster_telemetry" => {
            // `/telemetry` lists collections; `/cluster/telemetry` maps
            // each name to its shards (Qdrant's DistributedTelemetryData).
            let got: BTreeSet<String> = if row.operation == "telemetry" {
                strings(&body["result"]["collections"]["collections"], "id")
                    .into_iter()
                    .collect()
            } else {
                body["result"]["collections"]
                    .as_object()
                    .map(|m| m.keys().cloned().collect())
                    .unwrap_or_default()
            };
            let want: BTreeSet<String> = visible(cred, &[C, D]).into_iter().collect();
            if got != want {
                return mismatch("telemetry collections", &got, &want);
            }
            if scoped {
                for section in ["cluster", "requests", "memory"] {
                    if body["result"].get(section).is_some() {
                        return Err(format!(
                            "telemetry for a collection token carries `{section}`"
                        ));
                    }
                }
            }
        }
        _ => {}
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Known deviations from the spec (see `known_spec_deviations`).
// ---------------------------------------------------------------------------

/// `(operation, credential)` cases where the server is known to differ from
/// the spec. The main matrix skips them; `known_spec_deviations` asserts the
/// spec's answer for them, so it fails until the server is fixed. Add each
/// one with a `// KNOWN BUG:` comment giving the request, the spec's answer
/// and the server's. None is known: every case of the matrix matched the
/// spec when this test was written.
const KNOWN_BUGS: &[(&str, Cred)] = &[];

fn is_known_bug(row: &Row, cred: Cred) -> bool {
    KNOWN_BUGS
        .iter()
        .any(|(op, c)| *op == row.operation && *c == cred)
}

// ---------------------------------------------------------------------------
// The matrix.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn every_rest_row_with_every_credential() {
    let rows = rest_rows();
    let served: Vec<&Row> = rows.iter().filter(|r| r.exposure != "static-ui").collect();
    assert_eq!(rows.len() - served.len(), 1, "exactly one static-ui row");
    assert_eq!(served.len(), 99);

    let tokens: BTreeMap<Cred, Option<String>> =
        CREDS.iter().map(|&c| (c, credential(c))).collect();
    let mut failures = Vec::new();
    let mut cases = 0usize;
    let mut skipped = 0usize;
    let mut not_implemented = Vec::new();
    let mut admin_statuses: BTreeMap<u16, Vec<String>> = BTreeMap::new();
    let mut per_need: BTreeMap<Need, usize> = BTreeMap::new();
    let mut outcomes: BTreeMap<&'static str, usize> = BTreeMap::new();

    for row in &served {
        // A fresh server per row: writes and deletes by the allowed
        // credentials must not change what the next row sees.
        let server = Server::populated().await;
        let call = call_for(row, &server);
        *per_need.entry(row.need).or_default() += 1;
        for &cred in &CREDS {
            if is_known_bug(row, cred) {
                skipped += 1;
                continue;
            }
            cases += 1;
            let expected = expect(row, cred);
            *outcomes
                .entry(match &expected {
                    Expect::Allowed => "allowed",
                    Expect::Unauthenticated(_) => "401 plain text",
                    Expect::AuthRejected(_) => "403 plain text (authentication)",
                    Expect::Forbidden(_) if row.plain_text => "403 plain text (access)",
                    Expect::Forbidden(_) => "403 JSON envelope (access)",
                })
                .or_default() += 1;
            let reply = server
                .send(&call, tokens[&cred].as_deref(), Carrier::ApiKey)
                .await;
            let verdict = check(row, &expected, &reply)
                .and_then(|()| check_filtering(row, cred, &reply))
                .and_then(|()| check_audit_read(row, &expected, &reply));
            if let Err(why) = verdict {
                failures.push(format!(
                    "{} {} [{}] as {cred:?}: {why}",
                    row.method, call.uri, row.operation
                ));
            }
            if cred == Cred::AdminKey {
                if reply.status == StatusCode::NOT_IMPLEMENTED {
                    not_implemented.push(format!("{} {}", row.method, row.template));
                }
                admin_statuses
                    .entry(reply.status.as_u16())
                    .or_default()
                    .push(format!(
                        "{} {} [{}]",
                        row.method,
                        row.template,
                        reply.text().chars().take(120).collect::<String>()
                    ));
            }
        }
    }

    // The bodies are meant to be valid: with the admin key, a served route
    // must not answer a client-error about the request itself.
    // (Creating `c`, which setup made, answers 409, not checked here; the
    // multipart upload, whose file is deliberately not a snapshot, is the one expected 400.)
    for bad in [400u16, 422, 500] {
        if let Some(rows) = admin_statuses.get(&bad) {
            for r in rows {
                let exists = r.starts_with("PUT /collections/{collection_name} [")
                    && r.contains("Collection `c` already exists!");
                let not_a_snapshot = bad == 400
                    && (r.starts_with("POST /collections/{collection_name}/snapshots/upload [")
                        || r.starts_with("POST /collections/{collection_name}/shards/{shard_id}/snapshots/upload [")
                        || r.starts_with("POST /collections/{collection_name}/shards/{shard}/snapshot/partial/recover ["))
                    && r.contains("Snapshot is not a valid archive");
                // The server makes no outbound requests: fetching from a peer is a 400.
                let no_outbound = bad == 400 && r.contains("from another peer is not supported");
                // `c` uses automatic sharding and the cluster has one peer
                // (not 1 or 2): Qdrant's own 400s for these valid bodies.
                let one_peer_refusal = bad == 400
                    && (r.contains("does not use custom sharding")
                        || r.contains("does not exist for collection")
                        || r.contains("Peer 1 does not exist"));
                if !exists && !not_a_snapshot && !one_peer_refusal && !no_outbound {
                    failures.push(format!("admin key got {bad} (invalid test body?): {r}"));
                }
            }
        }
    }

    println!(
        "access matrix: {} REST rows exercised (static /dashboard row excluded)",
        served.len()
    );
    println!("access matrix: {} credentials per row", CREDS.len());
    println!(
        "access matrix: {cases} (row, credential) cases checked, {skipped} known-bug cases skipped"
    );
    println!("access matrix: rows per required_access: {per_need:?}");
    println!("access matrix: expected outcomes: {outcomes:?}");
    println!(
        "access matrix: {} rows answer 501 (route not implemented yet), {} rows implemented",
        not_implemented.len(),
        served.len() - not_implemented.len()
    );
    for (status, rows) in &admin_statuses {
        println!("access matrix: admin key -> {status}: {} rows", rows.len());
        if *status != 200 && *status != 501 {
            for r in rows {
                println!("    {r}");
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {cases} cases differ from the spec:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The same matrix through `Authorization: Bearer`, on one route per kind of
/// requirement (and the plain-text variants): the carrier must not change a
/// single answer.
#[tokio::test]
async fn bearer_form_gives_the_same_answers() {
    let rows = rest_rows();
    let picks = [
        "readyz",
        "get_collections",
        "metrics",
        "create_collection",
        "create_shard_key",
        "get_collection",
        "list_snapshots",
        "upsert_points",
        "create_field_index",
        "get_snapshot",
        "recover_from_uploaded_snapshot",
    ];
    let tokens: BTreeMap<Cred, Option<String>> =
        CREDS.iter().map(|&c| (c, credential(c))).collect();
    let mut failures = Vec::new();
    for op in picks {
        let row = rows.iter().find(|r| r.operation == op).unwrap();
        let server = Server::populated().await;
        let call = call_for(row, &server);
        for &cred in &CREDS {
            if is_known_bug(row, cred) {
                continue;
            }
            let reply = server
                .send(&call, tokens[&cred].as_deref(), Carrier::Bearer)
                .await;
            if let Err(why) = check(row, &expect(row, cred), &reply) {
                failures.push(format!(
                    "{} {} as Bearer {cred:?}: {why}",
                    row.method, call.uri
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Spec §3: `api-key` wins over `Authorization` (no fallback when it is
/// wrong); the `Bearer ` prefix is exact and case-sensitive; nothing is
/// trimmed.
#[tokio::test]
async fn header_precedence_and_bearer_syntax() {
    let server = Server::populated().await;
    let rows = rest_rows();
    let upsert = rows
        .iter()
        .find(|r| r.operation == "upsert_points")
        .unwrap();
    let write = call_for(upsert, &server);
    let read = Call {
        method: Method::GET,
        uri: "/collections/c".into(),
        payload: Payload::Empty,
    };
    let bearer = |v: &str| ("authorization", format!("Bearer {v}"));
    let key = |v: &str| ("api-key", v.to_owned());
    let coll_r = credential(Cred::JwtCollR).unwrap();

    struct Case<'a> {
        what: &'a str,
        call: &'a Call,
        headers: Vec<(&'static str, String)>,
        status: u16,
        body: Option<&'a str>,
    }
    let cases = [
        Case {
            what: "admin api-key wins over a wrong bearer",
            call: &write,
            headers: vec![key(ADMIN), bearer("wrong")],
            status: 200,
            body: None,
        },
        Case {
            what: "wrong api-key: no fallback to a valid bearer",
            call: &read,
            headers: vec![key("wrong"), bearer(ADMIN)],
            status: 401,
            body: Some(INVALID),
        },
        Case {
            what: "read-only api-key wins over an admin bearer",
            call: &write,
            headers: vec![key(READ_ONLY), bearer(ADMIN)],
            status: 403,
            body: Some("Forbidden: Global manage access is required"),
        },
        Case {
            what: "collection-r JWT in api-key wins over an admin bearer",
            call: &write,
            headers: vec![key(&coll_r), bearer(ADMIN)],
            status: 403,
            body: Some("Forbidden: Write access to collection c is required"),
        },
        Case {
            what: "admin key as bearer",
            call: &write,
            headers: vec![bearer(ADMIN)],
            status: 200,
            body: None,
        },
        Case {
            what: "lower-case `bearer` is no credential",
            call: &read,
            headers: vec![("authorization", format!("bearer {ADMIN}"))],
            status: 401,
            body: Some(MISSING),
        },
        Case {
            what: "`Basic` is no credential",
            call: &read,
            headers: vec![("authorization", format!("Basic {ADMIN}"))],
            status: 401,
            body: Some(MISSING),
        },
        Case {
            what: "two spaces after Bearer: the credential keeps its leading space",
            call: &read,
            headers: vec![("authorization", format!("Bearer  {ADMIN}"))],
            status: 401,
            body: Some(INVALID),
        },
        Case {
            what: "a header name in capitals is the same header",
            call: &read,
            headers: vec![("API-Key", ADMIN.to_owned())],
            status: 200,
            body: None,
        },
    ];
    let mut failures = Vec::new();
    for case in cases {
        let reply = server.send_raw(case.call, &case.headers).await;
        let text = reply.text();
        let body_ok = match case.body {
            None => true,
            Some(want) => {
                text == want
                    || reply
                        .json()
                        .is_some_and(|b| b["status"]["error"] == json!(want))
            }
        };
        if reply.status.as_u16() != case.status || !body_ok {
            failures.push(format!(
                "{}: expected {} {:?}, got {} {text}",
                case.what, case.status, case.body, reply.status
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The dashboard-style bypass (Qdrant 1.18.2): paths that start with an open
/// prefix but resolve to no open route need credentials.
#[tokio::test]
async fn whitelist_bypass_attempts_are_refused() {
    let server = Server::populated().await;
    let mut failures = Vec::new();
    for path in [
        "/healthz/../collections",
        "/healthz%2F..%2Fcollections",
        "/%2e%2e/collections",
        "/dashboard/../collections",
        "/healthz/%2e%2e/collections",
        "/livez/../collections",
        "/readyz/../collections",
        "/readyz%2F..%2Fcollections",
        "/dashboard%2F..%2Fcollections",
        "/./collections",
        "/healthz/./../collections/c/points/1",
    ] {
        let call = Call {
            method: Method::GET,
            uri: path.into(),
            payload: Payload::Empty,
        };
        let reply = server.send(&call, None, Carrier::ApiKey).await;
        if reply.status != StatusCode::UNAUTHORIZED
            || reply.text() != MISSING
            || !reply.content_type().starts_with("text/plain")
        {
            failures.push(format!(
                "{path} without a key: expected 401 {MISSING:?}, got {} {}",
                reply.status,
                reply.text()
            ));
        }
        let reply = server
            .send(&call, Some("not-a-configured-key"), Carrier::ApiKey)
            .await;
        if reply.status != StatusCode::UNAUTHORIZED || reply.text() != INVALID {
            failures.push(format!(
                "{path} with a wrong key: expected 401 {INVALID:?}, got {} {}",
                reply.status,
                reply.text()
            ));
        }
        // And never the collection listing, whatever the key.
        let reply = server.send(&call, Some(ADMIN), Carrier::ApiKey).await;
        if reply.status == StatusCode::OK {
            failures.push(format!(
                "{path} with the admin key reached a route: {}",
                reply.text()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Spec §4 and §9: names are matched literally, before alias resolution, and
/// a principal without access gets 403 whether the collection exists or not.
/// Every row naming a collection is sent for `missing` (no such collection)
/// and for `c_alias` (an alias of `c`), with tokens that name `c`, that name
/// the path's own name, and the read-only key.
#[tokio::test]
async fn collection_names_are_literal_and_existence_does_not_leak() {
    let rows = rest_rows();
    let mut failures = Vec::new();
    let mut cases = 0;
    for row in rows
        .iter()
        .filter(|r| r.template.contains("{collection_name}"))
    {
        let server = Server::populated().await;
        for name in ["missing", ALIAS] {
            let call = call_for_collection(row, &server, name);
            let principals = [
                Principal::Collections(vec![(C, Mode::Rw)]),
                Principal::Collections(vec![(name, Mode::R)]),
                Principal::Collections(vec![(name, Mode::Rw)]),
                Principal::Collections(vec![(name, Mode::Prw)]),
                Principal::GlobalRead,
            ];
            for principal in principals {
                let token = match &principal {
                    Principal::Collections(entries) => scoped_jwt(entries),
                    _ => READ_ONLY.to_owned(),
                };
                let expected = expect_for(row, &principal, name);
                let reply = server.send(&call, Some(&token), Carrier::ApiKey).await;
                cases += 1;
                if let Err(why) = check(row, &expected, &reply) {
                    failures.push(format!(
                        "{} {} as {principal:?}: {why}",
                        row.method, call.uri
                    ));
                }
            }
        }
    }
    println!("literal names: {cases} cases checked");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Spec §9: collections named in the body (`lookup_from`, also in nested
/// prefetches; `with_lookup`) need an entry of their own, in any mode, in a
/// collection-scoped token: 403 `Access to collection <x> is required`, and
/// never a 404 for a collection that does not exist.
#[tokio::test]
async fn body_references_need_their_own_entry() {
    let rows = rest_rows();
    let lookup = |target: &str| json!({"collection": target});
    // (operation, body naming `target` somewhere besides the path)
    let bodies = |target: &str| -> Vec<(&'static str, Value)> {
        let recommend = json!({"positive": [1], "limit": 2, "lookup_from": lookup(target)});
        let discover = json!({
            "target": 1, "context": [{"positive": 1, "negative": 2}], "limit": 2,
            "lookup_from": lookup(target)
        });
        let query = json!({"query": [1.0, 0.0], "limit": 2, "lookup_from": lookup(target)});
        // Two levels down, inside `prefetch`.
        let nested = json!({
            "prefetch": {"prefetch": [{"query": [1.0, 0.0], "limit": 2}, {"query": [1.0, 0.0], "limit": 2, "lookup_from": lookup(target)}],
                         "query": [1.0, 0.0], "limit": 2},
            "query": [1.0, 0.0], "limit": 2
        });
        let clean_query = json!({"query": [1.0, 0.0], "limit": 2});
        let clean_recommend = json!({"positive": [1], "limit": 2});
        let groups = |mut v: Value| {
            v["group_by"] = json!("kw");
            v["group_size"] = json!(1);
            v
        };
        let with_lookup = |mut v: Value, form: Value| {
            v["with_lookup"] = form;
            groups(v)
        };
        vec![
            ("recommend_points", recommend.clone()),
            (
                "recommend_batch_points",
                json!({"searches": [clean_recommend.clone(), recommend.clone()]}),
            ),
            ("recommend_point_groups", groups(recommend.clone())),
            (
                "recommend_point_groups",
                with_lookup(clean_recommend.clone(), json!(target)),
            ),
            ("discover_points", discover.clone()),
            (
                "discover_batch_points",
                json!({"searches": [discover.clone()]}),
            ),
            ("query_points", query.clone()),
            ("query_points", nested.clone()),
            (
                "query_batch_points",
                json!({"searches": [clean_query.clone(), nested.clone()]}),
            ),
            ("query_points_groups", groups(query.clone())),
            ("query_points_groups", groups(nested.clone())),
            (
                "query_points_groups",
                with_lookup(clean_query.clone(), lookup(target)),
            ),
            (
                "search_point_groups",
                with_lookup(json!({"vector": [1.0, 0.0], "limit": 2}), json!(target)),
            ),
            (
                "search_point_groups",
                with_lookup(json!({"vector": [1.0, 0.0], "limit": 2}), lookup(target)),
            ),
        ]
    };
    let mut failures = Vec::new();
    let mut cases = 0;
    let server = Server::populated().await;
    for target in [D, "missing"] {
        for (op, body) in bodies(target) {
            let row = rows.iter().find(|r| r.operation == op).unwrap();
            let call = Call {
                method: row.method.parse().unwrap(),
                uri: row.template.replace("{collection_name}", C),
                payload: Payload::Json(body.clone()),
            };
            let refused = format!("Access to collection {target} is required");
            let tokens: Vec<(String, String, Expect)> = vec![
                (
                    format!("[{C} r]"),
                    scoped_jwt(&[(C, Mode::R)]),
                    Expect::Forbidden(refused.clone()),
                ),
                (
                    format!("[{C} rw]"),
                    scoped_jwt(&[(C, Mode::Rw)]),
                    Expect::Forbidden(refused.clone()),
                ),
                (
                    format!("[{C} r, {target} prw]"),
                    scoped_jwt(&[(C, Mode::R), (target, Mode::Prw)]),
                    Expect::Allowed,
                ),
                (
                    format!("[{C} prw, {target} r]"),
                    scoped_jwt(&[(C, Mode::Prw), (target, Mode::R)]),
                    Expect::Allowed,
                ),
                // The path's collection is checked first.
                (
                    format!("[{target} rw]"),
                    scoped_jwt(&[(target, Mode::Rw)]),
                    Expect::Forbidden(format!("Access to collection {C} is required")),
                ),
                ("read-only key".into(), READ_ONLY.into(), Expect::Allowed),
                ("JWT r".into(), jwt(json!({"access": "r"})), Expect::Allowed),
            ];
            for (who, token, expected) in tokens {
                cases += 1;
                let reply = server.send(&call, Some(&token), Carrier::ApiKey).await;
                if let Err(why) = check(row, &expected, &reply) {
                    failures.push(format!("{op} as {who}, body {body}: {why}"));
                }
            }
        }
    }
    println!("body references: {cases} cases checked");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Spec §6/§7/§10 edges of the credentials themselves, on one read route
/// (`GET /collections/c`) and one write route (`PUT …/points`).
#[tokio::test]
async fn jwt_edge_cases() {
    let server = Server::populated().await;
    let rows = rest_rows();
    let upsert = rows
        .iter()
        .find(|r| r.operation == "upsert_points")
        .unwrap();
    let write = call_for(upsert, &server);
    let read = Call {
        method: Method::GET,
        uri: "/collections/c".into(),
        payload: Payload::Empty,
    };
    let hs384 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS384),
        &json!({"access": "m"}),
        &jsonwebtoken::EncodingKey::from_secret(ADMIN.as_bytes()),
    )
    .unwrap();
    // Claims given as JSON text (any shape), signed correctly with HS256 and
    // the admin key.
    let raw = |claims: &str| jwt(serde_json::from_str(claims).unwrap());
    let t = now();
    struct Case {
        what: &'static str,
        token: String,
        write: bool,
        status: u16,
        body: Option<String>,
    }
    let cases = vec![
        Case {
            what: "exp 20 s ago is within the 30 s leeway",
            token: jwt(json!({"access": "m", "exp": t - 20})),
            write: true,
            status: 200,
            body: None,
        },
        Case {
            what: "exp 60 s ago is expired",
            token: jwt(json!({"access": "m", "exp": t - 60})),
            write: false,
            status: 403,
            body: Some("ExpiredSignature".into()),
        },
        Case {
            what: "no access claim means global manage",
            token: jwt(json!({"sub": "someone"})),
            write: true,
            status: 200,
            body: None,
        },
        Case {
            what: "signed with the read-only key",
            token: jwt_with(READ_ONLY, json!({"access": "r"})),
            write: false,
            status: 403,
            body: Some("InvalidSignature".into()),
        },
        Case {
            what: "HS384 with the admin key",
            token: hs384,
            write: false,
            status: 401,
            body: Some(INVALID.into()),
        },
        Case {
            what: "expired and malformed claims: the claims error (401) wins",
            token: raw(&format!(r#"{{"access": "x", "exp": {}}}"#, t - 3600)),
            write: false,
            status: 401,
            body: Some(INVALID.into()),
        },
        Case {
            what: "access: null",
            token: raw(r#"{"access": null}"#),
            write: false,
            status: 401,
            body: Some(INVALID.into()),
        },
        Case {
            what: "fractional exp",
            token: raw(&format!(r#"{{"access": "m", "exp": {}.5}}"#, t + 3600)),
            write: false,
            status: 401,
            body: Some(INVALID.into()),
        },
        Case {
            what: "an unknown access mode in the list",
            token: raw(r#"{"access": [{"collection": "c", "access": "w"}]}"#),
            write: false,
            status: 401,
            body: Some(INVALID.into()),
        },
        Case {
            what: "access: [] grants nothing",
            token: jwt(json!({"access": []})),
            write: false,
            status: 403,
            body: Some("Forbidden: Access to collection c is required".into()),
        },
        Case {
            what: "the same collection twice",
            token: raw(
                r#"{"access": [{"collection": "c", "access": "r"}, {"collection": "c", "access": "rw"}]}"#,
            ),
            write: false,
            status: 401,
            body: None,
        },
        Case {
            what: "a payload constraint",
            token: raw(
                r#"{"access": [{"collection": "c", "access": "r", "payload": {"kw": "a"}}]}"#,
            ),
            write: false,
            status: 401,
            body: None,
        },
        Case {
            what: "the admin key is matched as a key before any JWT decoding",
            token: ADMIN.into(),
            write: true,
            status: 200,
            body: None,
        },
    ];
    let mut failures = Vec::new();
    for case in cases {
        let call = if case.write { &write } else { &read };
        let reply = server.send(call, Some(&case.token), Carrier::ApiKey).await;
        let text = reply.text();
        let body_ok = match &case.body {
            None => true,
            Some(want) => {
                *want == text
                    || reply
                        .json()
                        .is_some_and(|b| b["status"]["error"] == json!(want))
            }
        };
        if reply.status.as_u16() != case.status || !body_ok {
            failures.push(format!(
                "{}: expected {} {:?}, got {} {text}",
                case.what, case.status, case.body, reply.status
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The access check and the handler must see the same, percent-decoded,
/// collection name: a token naming the encoded spelling must not reach the
/// decoded collection, and the decoded name is what a refusal reports.
#[tokio::test]
async fn percent_encoded_collection_names_are_checked_decoded() {
    let server = Server::populated().await;
    let get = |uri: &str| Call {
        method: Method::GET,
        uri: uri.into(),
        payload: Payload::Empty,
    };
    let upsert = Call {
        method: Method::PUT,
        uri: "/collections/%63/points?wait=true".into(),
        payload: Payload::Json(json!({"points": [{"id": 9, "vector": [0.3, 0.4]}]})),
    };
    let cases = [
        (
            "[c r] reads /collections/%63",
            get("/collections/%63"),
            scoped_jwt(&[(C, Mode::R)]),
            200,
            None,
        ),
        (
            "[%63 rw] reads /collections/%63",
            get("/collections/%63"),
            scoped_jwt(&[("%63", Mode::Rw)]),
            403,
            Some("Forbidden: Access to collection c is required"),
        ),
        (
            "[%63 rw] writes /collections/%63/points",
            upsert,
            scoped_jwt(&[("%63", Mode::Rw)]),
            403,
            Some("Forbidden: Access to collection c is required"),
        ),
        (
            "[c r] on /collections/%64 (d)",
            get("/collections/%64/exists"),
            scoped_jwt(&[(C, Mode::R)]),
            403,
            Some("Forbidden: Access to collection d is required"),
        ),
    ];
    let mut failures = Vec::new();
    for (what, call, token, status, error) in cases {
        let reply = server.send(&call, Some(&token), Carrier::ApiKey).await;
        let body_ok = error.is_none_or(|e| {
            reply
                .json()
                .is_some_and(|b| b["status"]["error"] == json!(e))
        });
        if reply.status.as_u16() != status || !body_ok {
            failures.push(format!(
                "{what}: expected {status} {error:?}, got {} {}",
                reply.status,
                reply.text()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Self-test of the model against the spec's own examples, so that a slip in
/// the model cannot silently agree with a slip in the server.
#[test]
fn the_model_reproduces_the_spec_examples() {
    let rw = Principal::Collections(vec![(C, Mode::Rw)]);
    let r = Principal::Collections(vec![(C, Mode::R)]);
    let prw = Principal::Collections(vec![(C, Mode::Prw)]);
    let other = Principal::Collections(vec![("other", Mode::Rw)]);
    let gr = Principal::GlobalRead;
    let e = |p: &Principal, n: Need| authorize(p, n, C).err();
    // §8 "in plain words" and the table notes.
    assert_eq!(
        e(&gr, Need::GlobalManage).as_deref(),
        Some("Global manage access is required")
    );
    assert_eq!(
        e(&rw, Need::GlobalManage).as_deref(),
        Some("Global access is required")
    );
    assert_eq!(
        e(&rw, Need::GlobalRead).as_deref(),
        Some("Global access is required")
    );
    assert_eq!(
        e(&rw, Need::CollManage).as_deref(),
        Some("Manage access for this operation is required")
    );
    assert_eq!(
        e(&gr, Need::CollManage).as_deref(),
        Some("Global manage access is required")
    );
    assert_eq!(
        e(&r, Need::CollWrite).as_deref(),
        Some("Write access to collection c is required")
    );
    assert_eq!(
        e(&r, Need::CollWriteExtras).as_deref(),
        Some("Write access to collection c is required")
    );
    assert_eq!(
        e(&prw, Need::CollWriteExtras).as_deref(),
        Some("Only points access is allowed for collection c")
    );
    assert_eq!(
        e(&prw, Need::CollReadExtras).as_deref(),
        Some("Only points access is allowed for collection c")
    );
    assert_eq!(
        e(&other, Need::CollRead).as_deref(),
        Some("Access to collection c is required")
    );
    assert_eq!(
        e(&gr, Need::CollWriteExtras).as_deref(),
        Some("Global manage access is required")
    );
    assert!(
        e(&gr, Need::CollReadExtras).is_none(),
        "extras ignored for global"
    );
    assert!(e(&prw, Need::CollWrite).is_none());
    assert!(e(&rw, Need::CollWriteExtras).is_none());
    assert!(e(&r, Need::CollReadExtras).is_none());
    assert!(e(&other, Need::AnyAuth).is_none());
    assert!(e(&Principal::GlobalManage, Need::CollManage).is_none());
    // The unsigned token really is `{"alg":"none"}`.
    assert_eq!(b64url(b"{\"alg\":\"none\"}"), "eyJhbGciOiJub25lIn0");
}

/// Cases where the server differs from the spec. Each asserts the spec's
/// answer, so this test fails until the server is fixed. Empty list: no
/// known deviation.
#[tokio::test]
async fn known_spec_deviations() {
    let rows = rest_rows();
    let mut failures = Vec::new();
    for (op, cred) in KNOWN_BUGS {
        let row = rows.iter().find(|r| r.operation == *op).unwrap();
        let server = Server::populated().await;
        let call = call_for(row, &server);
        let token = credential(*cred);
        let reply = server.send(&call, token.as_deref(), Carrier::ApiKey).await;
        if let Err(why) = check(row, &expect(row, *cred), &reply) {
            failures.push(format!("{} {} as {cred:?}: {why}", row.method, call.uri));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
