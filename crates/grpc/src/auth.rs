//! Authentication and the access check: the one point where an rpc is tied
//! to a principal and refused or let through, as on REST (spec `auth.md`
//! §3-§6, §9).
//!
//! [`AuthLayer`] wraps every service, so it also sees unknown methods:
//! 1. The exact paths `/qdrant.Qdrant/HealthCheck` and
//!    `/grpc.health.v1.Health/Check` pass without looking at credentials.
//! 2. Everything else needs a valid credential, read from the `api-key` or
//!    `authorization: Bearer` metadata (the request's HTTP/2 headers) by
//!    `Authenticator::authenticate`, the same call REST makes. Failures stop
//!    the call here: UNAUTHENTICATED, or PERMISSION_DENIED for a bad
//!    signature or an expired token. An unknown method therefore answers
//!    UNAUTHENTICATED, never UNIMPLEMENTED, without a credential.
//! 3. A JWT's `value_exists` claim is checked against the engine.
//! 4. The principal goes into the request extensions; each handler decodes
//!    its message (INVALID_ARGUMENT), then calls [`authorize`] with the
//!    collection the message names (PERMISSION_DENIED), then the engine
//!    (NOT_FOUND and the rest).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use osprey_auth::audit::{Decision, Transport};
use osprey_auth::{AuthError, Authenticator, Principal, ValueExists};
use osprey_engine::{EngineError, Storage};
use tonic::Status;

use crate::error::{auth_status, engine_status, forbidden_status};

/// Methods that skip authentication: matched on the exact path, nothing else.
const OPEN_METHODS: [&str; 2] = ["/qdrant.Qdrant/HealthCheck", "/grpc.health.v1.Health/Check"];

/// The authenticated caller, as the handlers find it in the request.
pub(crate) type Caller = Arc<Principal>;

/// The tower layer that authenticates every call (see the module docs).
#[derive(Clone)]
pub(crate) struct AuthLayer {
    auth: Arc<Authenticator>,
    storage: Arc<Storage>,
    keys: Option<Arc<osprey_keys::KeyRegistry>>,
}

impl AuthLayer {
    pub(crate) fn new(
        auth: Arc<Authenticator>,
        storage: Arc<Storage>,
        keys: Option<Arc<osprey_keys::KeyRegistry>>,
    ) -> Self {
        AuthLayer { auth, storage, keys }
    }
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            auth: self.auth.clone(),
            storage: self.storage.clone(),
            keys: self.keys.clone(),
        }
    }
}

/// See [`AuthLayer`].
#[derive(Clone)]
pub(crate) struct AuthService<S> {
    inner: S,
    auth: Arc<Authenticator>,
    storage: Arc<Storage>,
    keys: Option<Arc<osprey_keys::KeyRegistry>>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

impl<S, B> tower::Service<http::Request<B>> for AuthService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        // The clone that was polled ready serves this call; a fresh clone
        // stays behind for the next one (tower's usual pattern).
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        let auth = self.auth.clone();
        let storage = self.storage.clone();
        let keys = self.keys.clone();
        Box::pin(async move {
            tracing::debug!(method = request.uri().path(), "grpc call");
            if OPEN_METHODS.contains(&request.uri().path()) {
                return inner.call(request).await;
            }
            let audit = RefusalContext::of(&request);
            let access_log = auth.audit_log().cloned().map(|log| {
                let facts = log.request_facts(request.headers(), audit.client);
                (log, facts, request.uri().path().to_owned())
            });
            match authenticate(&auth, &storage, request.headers()).await {
                Ok(principal) => {
                    let principal = Arc::new(principal);
                    request.extensions_mut().insert::<Caller>(principal.clone());
                    let response = match &access_log {
                        None => inner.call(request).await?,
                        Some((log, facts, path)) => {
                            // The handler decides (it knows the collection);
                            // `authorize` leaves its decision in this slot.
                            let slot = DecisionSlot::default();
                            let response = DECISION.scope(slot.clone(), inner.call(request)).await?;
                            if let Some(decision) = slot.take() {
                                log.record(facts, Decision {
                                    transport: Transport::Grpc,
                                    method: osprey_auth::grpc_operation(path),
                                    api: path,
                                    principal: Some(&principal),
                                    collection: decision.collection.as_deref(),
                                    denied: decision.denied.as_deref(),
                                });
                            }
                            response
                        }
                    };
                    // Handlers refuse with PERMISSION_DENIED in a trailers-only answer.
                    if let Some(keys) = &keys
                        && response.headers().get("grpc-status").is_some_and(|v| v == "7")
                    {
                        let reason = response
                            .headers()
                            .get("grpc-message")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_string();
                        audit.record(keys, Some(&principal), 403, &reason);
                    }
                    Ok(response)
                }
                Err(status) => {
                    tracing::debug!(method = request.uri().path(), code = ?status.code(), "grpc call refused");
                    if let Some(keys) = &keys {
                        let http = if status.code() == tonic::Code::PermissionDenied { 403 } else { 401 };
                        audit.record(keys, None, http, status.message());
                    }
                    if let Some((log, facts, path)) = &access_log {
                        log.record(facts, Decision {
                            transport: Transport::Grpc,
                            method: osprey_auth::grpc_operation(path),
                            api: path,
                            principal: None,
                            collection: None,
                            denied: Some(status.message()),
                        });
                    }
                    Ok(status.into_http())
                }
            }
        })
    }
}

/// What the key plane's audit log records of a refused call (spec §15): the
/// rpc, the credential's last characters (never the credential), the client.
struct RefusalContext {
    operation: String,
    credential: Option<String>,
    client: Option<std::net::IpAddr>,
}

impl RefusalContext {
    fn of<B>(request: &http::Request<B>) -> Self {
        let headers = request.headers();
        let credential = headers
            .get("api-key")
            .or_else(|| headers.get(http::header::AUTHORIZATION))
            .and_then(|v| v.to_str().ok())
            .map(|v| v.strip_prefix("Bearer ").unwrap_or(v).to_string());
        let client = request
            .extensions()
            .get::<tonic::transport::server::TcpConnectInfo>()
            .and_then(|info| info.remote_addr())
            .map(|addr| addr.ip());
        RefusalContext { operation: request.uri().path().trim_start_matches('/').to_string(), credential, client }
    }

    fn record(&self, keys: &osprey_keys::KeyRegistry, principal: Option<&Principal>, status: u16, reason: &str) {
        keys.record_refusal(osprey_keys::Refusal {
            operation: &self.operation,
            principal,
            credential: self.credential.as_deref(),
            collection: None,
            client: self.client,
            status,
            reason,
        });
    }
}

/// Credential -> principal, then the `value_exists` claim.
async fn authenticate(
    auth: &Authenticator,
    storage: &Arc<Storage>,
    headers: &http::HeaderMap,
) -> Result<Principal, Status> {
    let principal = auth.authenticate(headers).map_err(|e| auth_status(&e))?;
    if let Some(claim) = principal.value_exists() {
        check_value_exists(storage, claim).await?;
    }
    Ok(principal)
}

/// A JWT's `value_exists` claim: some point of the collection must match
/// every pair. The lookup runs with full access (the collection need not be
/// in the token). A missing collection is PERMISSION_DENIED, no matching
/// point UNAUTHENTICATED, any other engine failure its own code (§6); the
/// lookup itself is the engine's, shared with REST.
async fn check_value_exists(storage: &Arc<Storage>, claim: &ValueExists) -> Result<(), Status> {
    let failed = |collection_missing| {
        auth_status(&AuthError::StatefulValidationFailed { collection_missing })
    };
    let storage = storage.clone();
    let name = claim.collection.clone();
    let pairs = claim.matches.clone();
    match tokio::task::spawn_blocking(move || storage.any_point_matches(&name, &pairs)).await {
        Ok(Ok(true)) => Ok(()),
        Ok(Ok(false)) => Err(failed(false)),
        Ok(Err(EngineError::NotFound(_))) => Err(failed(true)),
        Ok(Err(err)) => Err(engine_status(&err)),
        Err(join) => Err(Status::internal(format!("Service internal error: {join}"))),
    }
}

/// The caller of an rpc. Absent only if a service was served without
/// [`AuthLayer`]: that fails closed.
pub(crate) fn caller<T>(request: &tonic::Request<T>) -> Result<Caller, Status> {
    request
        .extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| {
            tracing::error!("an rpc reached its handler without authentication");
            Status::internal("Service internal error: the request was not authenticated")
        })
}

/// The access check of an rpc (`package.Service/Method`) on the collection
/// its message names, with the rule from the table of access. An rpc without
/// a rule fails closed.
pub(crate) fn authorize(
    caller: &Principal,
    rpc: &str,
    collection: Option<&str>,
) -> Result<(), Status> {
    let Some(rule) = osprey_auth::grpc_rule(rpc) else {
        tracing::error!("no access rule for {rpc}");
        return Err(Status::internal(format!(
            "Service internal error: no access rule for {rpc}"
        )));
    };
    let decision = caller.authorize(&rule.requirement(collection));
    note_decision(collection, decision.as_ref().err().map(ToString::to_string));
    decision.map_err(|f| forbidden_status(&f))
}

tokio::task_local! {
    /// The access decision of the call being served, for the audit log: set
    /// by [`authorize`] inside the handler, read by [`AuthService`] after it.
    static DECISION: DecisionSlot;
}

/// See [`DECISION`]. Shared between the layer and the handler's task-local.
#[derive(Clone, Default)]
struct DecisionSlot(Arc<std::sync::Mutex<Option<Noted>>>);

struct Noted {
    collection: Option<String>,
    denied: Option<String>,
}

impl DecisionSlot {
    fn take(&self) -> Option<Noted> {
        self.0.lock().ok().and_then(|mut slot| slot.take())
    }
}

/// Keeps one decision per call: the first, unless a later check refuses
/// (then the call was refused, and that is what the log must say).
fn note_decision(collection: Option<&str>, denied: Option<String>) {
    let _ = DECISION.try_with(|slot| {
        let Ok(mut slot) = slot.0.lock() else { return };
        let replace = match &*slot {
            None => true,
            Some(noted) => noted.denied.is_none() && denied.is_some(),
        };
        if replace {
            *slot = Some(Noted {
                collection: collection.map(str::to_owned),
                denied,
            });
        }
    });
}

/// Other collections a request reads (`lookup_from`): a collection-scoped
/// token needs an entry for each (§9).
pub(crate) fn check_references<'a>(
    caller: &Principal,
    collections: impl IntoIterator<Item = &'a str>,
) -> Result<(), Status> {
    for collection in collections {
        if let Err(forbidden) = caller.check_collection_reference(collection) {
            note_decision(Some(collection), Some(forbidden.to_string()));
            return Err(forbidden_status(&forbidden));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use osprey_auth::AuthConfig;
    use osprey_engine::StorageConfig;
    use tonic::Code;
    use tower::{Layer, ServiceExt};

    use super::*;

    const ADMIN: &str = "admin-key-of-at-least-32-bytes-long!";

    /// Calls the layer around a service that answers `x-authenticated: yes`
    /// when it finds a principal, and returns the status the layer answered
    /// with, if any.
    async fn call(path: &str, key: Option<&str>) -> (Option<Status>, bool) {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(StorageConfig {
            storage_path: dir.path().join("storage"),
            snapshots_path: dir.path().join("snapshots"),
        })
        .unwrap();
        let auth = Arc::new(Authenticator::new(AuthConfig {
            api_key: Some(ADMIN.into()),
            ..AuthConfig::default()
        }));
        let inner = tower::service_fn(|request: http::Request<()>| async move {
            let found = request.extensions().get::<Caller>().is_some();
            let mut response = http::Response::new(tonic::body::Body::default());
            response.headers_mut().insert(
                "x-authenticated",
                if found { "yes" } else { "no" }.parse().unwrap(),
            );
            Ok::<_, Infallible>(response)
        });
        let service = AuthLayer::new(auth, storage, None).layer(inner);
        let mut request = http::Request::builder().uri(path);
        if let Some(key) = key {
            request = request.header("api-key", key);
        }
        let response = service.oneshot(request.body(()).unwrap()).await.unwrap();
        let status = Status::from_header_map(response.headers());
        let authenticated = response
            .headers()
            .get("x-authenticated")
            .is_some_and(|v| v == "yes");
        (status, authenticated)
    }

    /// Prevents the health checks from needing credentials (probes would
    /// fail) and anything else from skipping them: the match is exact.
    #[tokio::test]
    async fn only_the_two_health_checks_are_open() {
        for open in ["/qdrant.Qdrant/HealthCheck", "/grpc.health.v1.Health/Check"] {
            let (status, _) = call(open, None).await;
            assert!(status.is_none(), "{open} must be open");
        }
        for closed in [
            "/grpc.health.v1.Health/Watch",
            "/qdrant.Qdrant/HealthCheck/",
            "/qdrant.Qdrant/healthcheck",
            "/qdrant.Collections/List",
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        ] {
            let (status, _) = call(closed, None).await;
            let status = status.unwrap_or_else(|| panic!("{closed} must need a credential"));
            assert_eq!(status.code(), Code::Unauthenticated, "{closed}");
            assert_eq!(
                status.message(),
                "Must provide an API key or an Authorization bearer token"
            );
        }
    }

    /// Prevents a gRPC call from escaping Qdrant's audit log (spec §12): the
    /// handler's decision (with its collection) and a failed authentication
    /// each leave one line, and the open health check none.
    #[tokio::test]
    async fn decisions_reach_the_audit_log_once_per_call() {
        use osprey_auth::audit::{AuditConfig, AuditLog, AuditQuery, Rotation};

        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(StorageConfig {
            storage_path: dir.path().join("storage"),
            snapshots_path: dir.path().join("snapshots"),
        })
        .unwrap();
        let log = AuditLog::open(AuditConfig {
            dir: dir.path().join("audit"),
            rotation: Rotation::Daily,
            max_log_files: 1,
            trust_forwarded_headers: false,
            log_api: true,
        })
        .unwrap();
        let auth = Arc::new(
            Authenticator::new(AuthConfig {
                api_key: Some(ADMIN.into()),
                read_only_api_key: Some("read-only".into()),
                ..AuthConfig::default()
            })
            .with_audit_log(log.clone()),
        );
        // A handler as the real ones are: it authorizes on the collection its
        // message names, then answers.
        let inner = tower::service_fn(|request: http::Request<()>| async move {
            let caller = request.extensions().get::<Caller>().cloned();
            if let Some(caller) = caller {
                let _ = authorize(&caller, "qdrant.Points/Upsert", Some("docs"));
            }
            Ok::<_, Infallible>(http::Response::new(tonic::body::Body::default()))
        });
        let service = AuthLayer::new(auth, storage, None).layer(inner);
        for (path, key) in [
            ("/qdrant.Points/Upsert", Some(ADMIN)),
            ("/qdrant.Points/Upsert", Some("read-only")),
            ("/qdrant.Points/Upsert", Some("wrong")),
            ("/qdrant.Qdrant/HealthCheck", None),
        ] {
            let mut request = http::Request::builder().uri(path);
            if let Some(key) = key {
                request = request.header("api-key", key);
            }
            service.clone().oneshot(request.body(()).unwrap()).await.unwrap();
        }
        let entries = log.query(&AuditQuery { limit: 10, ..AuditQuery::default() }).unwrap();
        assert_eq!(entries.len(), 3, "{entries:?}");
        let (wrong, read_only, admin) = (&entries[0], &entries[1], &entries[2]);
        assert_eq!(admin["method"], "upsert_points");
        assert_eq!(admin["collection"], "docs");
        assert_eq!(admin["result"], "ok");
        assert_eq!(admin["transport"], "grpc");
        assert_eq!(read_only["result"], "denied");
        assert_eq!(read_only["error"], "Forbidden: Global manage access is required");
        assert_eq!(wrong["auth_type"], "None");
        assert_eq!(wrong["api"], "/qdrant.Points/Upsert");
        assert_eq!(wrong["error"], "Invalid API key or JWT");
    }

    /// Prevents an unknown method from revealing UNIMPLEMENTED (or anything)
    /// to a caller without a valid credential (spec §4).
    #[tokio::test]
    async fn unknown_methods_need_a_credential() {
        let (status, _) = call("/qdrant.Nope/Nothing", Some("wrong")).await;
        let status = status.unwrap();
        assert_eq!(status.code(), Code::Unauthenticated);
        assert_eq!(status.message(), "Invalid API key or JWT");
        let (status, authenticated) = call("/qdrant.Nope/Nothing", Some(ADMIN)).await;
        assert!(status.is_none());
        assert!(authenticated, "the principal must reach the service");
    }
}
