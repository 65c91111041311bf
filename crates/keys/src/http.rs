//! The REST management API of spec §15, under `/api-keys`, in Qdrant's JSON
//! envelope. Root credentials only.
//!
//! The caller is read from the request extensions: the REST front end's
//! authentication middleware must run before these routes and insert the
//! caller's `Arc<osprey_auth::Principal>` (a bare `Principal` is accepted
//! too). A request without one is refused like a non-root caller (fail
//! closed). The client address comes from axum's `ConnectInfo<SocketAddr>`
//! extension when the server is started with connect info.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, FromRequestParts, Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use chrono::{Duration, Utc};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use osprey_auth::Principal;
use serde::Serialize;
use uuid::Uuid;

use crate::audit::{AuditEvent, Outcome};
use crate::error::{KeyError, Result};
use crate::record::{CreateKeyRequest, Settings, parse_time};
use crate::registry::KeyRegistry;
use crate::token::postfix;

/// The message of the 403 answered to non-root callers (spec §15).
pub const ROOT_REQUIRED: &str = "Forbidden: Root key required for key management";
/// Events `GET /api-keys/audit` answers by default, and at most.
const AUDIT_DEFAULT_LIMIT: usize = 1_000;
const AUDIT_MAX_LIMIT: usize = 10_000;

type Shared = Arc<KeyRegistry>;

/// The management API as a stand-alone router (state applied).
pub fn management_router(registry: Arc<KeyRegistry>) -> Router {
    management_routes(registry)
}

/// The management API, for merging into a router of any state type
/// (`Router<AppState>::merge(management_routes(registry))`).
///
/// Routes: `POST`/`GET /api-keys`, `GET`/`DELETE /api-keys/{id}`,
/// `GET`/`PUT /api-keys/settings`, `GET /api-keys/signing-keys`,
/// `POST /api-keys/signing-keys/rotate`,
/// `DELETE /api-keys/signing-keys/{kid}`, `GET /api-keys/audit?since=&limit=`.
pub fn management_routes<S>(registry: Arc<KeyRegistry>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/api-keys", post(create).get(list))
        .route("/api-keys/settings", get(get_settings).put(put_settings))
        .route("/api-keys/signing-keys", get(signing_keys))
        .route("/api-keys/signing-keys/rotate", post(rotate))
        .route("/api-keys/signing-keys/{kid}", delete(retire))
        .route("/api-keys/audit", get(audit))
        .route("/api-keys/{id}", get(get_key).delete(revoke))
        .with_state(registry)
}

/// Who is calling a management endpoint. Never rejects: refusal is decided
/// (and audited) by the handler.
struct Caller {
    principal: Option<Arc<Principal>>,
    credential_postfix: Option<String>,
    client: Option<IpAddr>,
    started: Instant,
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> std::result::Result<Self, Infallible> {
        let principal = parts
            .extensions
            .get::<Arc<Principal>>()
            .cloned()
            .or_else(|| parts.extensions.get::<Principal>().cloned().map(Arc::new));
        if principal.is_none() {
            tracing::error!(
                "key-plane request without a Principal extension: the authentication \
                 middleware must run before the /api-keys routes; refusing it"
            );
        }
        Ok(Caller {
            principal,
            credential_postfix: presented_credential(&parts.headers).map(postfix),
            client: parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|info| info.0.ip()),
            started: Instant::now(),
        })
    }
}

/// The credential as spec §3 reads it: `api-key`, else `Authorization:
/// Bearer `. Only its postfix is ever kept.
fn presented_credential(headers: &HeaderMap) -> Option<&str> {
    let read = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    read("api-key").or_else(|| read(header::AUTHORIZATION.as_str())?.strip_prefix("Bearer "))
}

impl Caller {
    fn is_root(&self) -> bool {
        self.principal.as_deref().is_some_and(Principal::is_root)
    }

    /// `created_by` of keys this caller creates: the root key by postfix.
    fn created_by(&self) -> String {
        match &self.credential_postfix {
            Some(postfix) => format!("root:{postfix}"),
            None => "root".to_owned(),
        }
    }

    fn event(&self, operation: &str, target: Option<String>) -> AuditEvent {
        let mut event = AuditEvent::new(operation, Outcome::Ok, self.principal.as_deref(), None);
        event.key_postfix = self.credential_postfix.clone();
        event.client = self.client.map(|ip| ip.to_string());
        event.target = target;
        event
    }

    /// Runs `op` for a root caller on a blocking thread (it may commit to
    /// storage), audits the call, and answers in the envelope. `op` returns
    /// the audit target it learned (a new key's id) and the result.
    async fn run<T, F>(
        self,
        registry: Shared,
        operation: &'static str,
        target: Option<String>,
        op: F,
    ) -> Response
    where
        T: Serialize + Send + 'static,
        F: FnOnce(&KeyRegistry, String) -> Result<(Option<String>, T)> + Send + 'static,
    {
        let mut event = self.event(operation, target);
        if !self.is_root() {
            event.outcome = Outcome::Denied;
            event.status = Some(403);
            event.reason = Some(ROOT_REQUIRED.to_owned());
            registry.audit_refusal(&event);
            return error_response(StatusCode::FORBIDDEN, ROOT_REQUIRED, self.started);
        }
        let created_by = self.created_by();
        let worker = registry.clone();
        let result = tokio::task::spawn_blocking(move || op(&worker, created_by)).await;
        let response = match result {
            Ok(Ok((target, value))) => {
                if target.is_some() {
                    event.target = target;
                }
                event.status = Some(200);
                ok_response(&value, self.started)
            }
            Ok(Err(error)) => {
                let status = StatusCode::from_u16(error.http_status())
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                if status.is_server_error() {
                    tracing::error!("key plane: {operation} failed: {error}");
                }
                event.outcome = Outcome::Error;
                event.status = Some(status.as_u16());
                event.reason = Some(error.to_string());
                error_response(status, &error.to_string(), self.started)
            }
            Err(join) => {
                let message = format!("Service internal error: {operation} panicked: {join}");
                tracing::error!("{message}");
                event.outcome = Outcome::Error;
                event.status = Some(500);
                event.reason = Some(message.clone());
                error_response(StatusCode::INTERNAL_SERVER_ERROR, &message, self.started)
            }
        };
        registry.record_event(&event);
        response
    }
}

fn parse_id(id: &str) -> Result<Uuid> {
    Uuid::parse_str(id).map_err(|_| KeyError::invalid("id", format!("`{id}` is not a UUID")))
}

async fn create(State(registry): State<Shared>, caller: Caller, body: Bytes) -> Response {
    caller
        .run(registry, "create_key", None, move |registry, created_by| {
            let request = CreateKeyRequest::from_json(&body)?;
            let created = registry.create(request, &created_by)?;
            Ok((Some(created.record.id.to_string()), created))
        })
        .await
}

async fn list(State(registry): State<Shared>, caller: Caller) -> Response {
    caller
        .run(registry, "list_keys", None, |registry, _| {
            Ok((None, registry.list()))
        })
        .await
}

async fn get_key(
    State(registry): State<Shared>,
    caller: Caller,
    Path(id): Path<String>,
) -> Response {
    caller
        .run(registry, "get_key", Some(id.clone()), move |registry, _| {
            Ok((None, registry.get(parse_id(&id)?)?))
        })
        .await
}

async fn revoke(
    State(registry): State<Shared>,
    caller: Caller,
    Path(id): Path<String>,
) -> Response {
    caller
        .run(
            registry,
            "revoke_key",
            Some(id.clone()),
            move |registry, _| Ok((None, registry.revoke(parse_id(&id)?)?)),
        )
        .await
}

async fn get_settings(State(registry): State<Shared>, caller: Caller) -> Response {
    caller
        .run(registry, "get_settings", None, |registry, _| {
            Ok((None, registry.settings()))
        })
        .await
}

async fn put_settings(State(registry): State<Shared>, caller: Caller, body: Bytes) -> Response {
    caller
        .run(registry, "set_settings", None, move |registry, _| {
            let settings = Settings::from_json(&body)?;
            Ok((None, registry.set_settings(settings)?))
        })
        .await
}

async fn signing_keys(State(registry): State<Shared>, caller: Caller) -> Response {
    caller
        .run(registry, "list_signing_keys", None, |registry, _| {
            Ok((None, registry.signing_keys()))
        })
        .await
}

async fn rotate(State(registry): State<Shared>, caller: Caller) -> Response {
    caller
        .run(registry, "rotate_signing_key", None, |registry, _| {
            let info = registry.rotate_signing_key()?;
            Ok((Some(info.kid.clone()), info))
        })
        .await
}

async fn retire(
    State(registry): State<Shared>,
    caller: Caller,
    Path(kid): Path<String>,
) -> Response {
    caller
        .run(
            registry,
            "retire_signing_key",
            Some(kid.clone()),
            move |registry, _| Ok((None, registry.retire_signing_key(&kid)?)),
        )
        .await
}

async fn audit(
    State(registry): State<Shared>,
    caller: Caller,
    query: std::result::Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Response {
    caller
        .run(registry, "read_audit", None, move |registry, _| {
            let Query(params) =
                query.map_err(|rejection| KeyError::Format(rejection.body_text()))?;
            if let Some(unknown) = params.keys().find(|k| *k != "since" && *k != "limit") {
                return Err(KeyError::invalid(
                    unknown.clone(),
                    "unknown query parameter; expected `since` and `limit`",
                ));
            }
            let since = match params.get("since") {
                Some(text) => parse_time("since", text)?,
                None => Utc::now() - Duration::hours(24),
            };
            let limit = match params.get("limit") {
                None => AUDIT_DEFAULT_LIMIT,
                Some(text) => match text.parse::<usize>() {
                    Ok(n) if (1..=AUDIT_MAX_LIMIT).contains(&n) => n,
                    _ => {
                        return Err(KeyError::invalid(
                            "limit",
                            format!("must be an integer from 1 to {AUDIT_MAX_LIMIT}"),
                        ));
                    }
                },
            };
            Ok((None, registry.audit_since(since, limit)?))
        })
        .await
}

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

fn ok_response<T: Serialize>(value: &T, started: Instant) -> Response {
    let body = OkBody {
        result: value,
        status: "ok",
        time: started.elapsed().as_secs_f64(),
    };
    match serde_json::to_vec(&body) {
        Ok(bytes) => json_response(StatusCode::OK, bytes),
        Err(error) => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("Service internal error: cannot serialise the response: {error}"),
            started,
        ),
    }
}

fn error_response(status: StatusCode, message: &str, started: Instant) -> Response {
    let body = ErrorBody {
        status: ErrorStatus { error: message },
        time: started.elapsed().as_secs_f64(),
    };
    json_response(status, serde_json::to_vec(&body).unwrap_or_default())
}

fn json_response(status: StatusCode, bytes: Vec<u8>) -> Response {
    let mut response = (status, bytes).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    // The create answer holds a secret: no cache may keep any of these.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
