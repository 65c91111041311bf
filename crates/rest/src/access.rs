//! Authentication and the route-level access check: the one place where a
//! REST request is tied to a principal and refused or let through
//! (spec/auth.md §4-§6).
//!
//! It runs after routing, on every route and on the fallback, so it sees the
//! route pattern the router resolved:
//! 1. A whitelisted pattern (`/`, `/healthz`, `/livez`, `/readyz`) passes
//!    without looking at credentials. A path that matched no route is never
//!    whitelisted, whatever it starts with.
//! 2. The credential is checked; failures answer in plain text (401/403).
//! 3. A JWT's `value_exists` claim is checked against the engine.
//! 4. The route's rule from the access table, with the collection named in
//!    the path, is checked before the body is read: 403 in the JSON envelope.
//!    Nothing has looked the collection up yet, so a principal without access
//!    gets 403 whether the collection exists or not.
//!
//! Handlers then get the [`Principal`] and the [`MatchedRoute`] as request
//! extensions; checks that depend on the body (`lookup_from`) happen in the
//! handler right after parsing, through [`check_references`].

use std::sync::Arc;

use axum::extract::{FromRequestParts, MatchedPath, RawPathParams, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use osprey_auth::audit::{Decision, Transport};
use osprey_auth::{AuthError, Principal, ValueExists};
use osprey_engine::EngineError;

use crate::envelope::plain_text;
use crate::error::{RestError, engine_status};
use crate::metrics::Refusal;
use crate::routes::{RouteInfo, is_whitelisted};
use crate::state::AppState;

/// The route a request matched, for handlers (the "not supported" answer)
/// and for the request counters (as a response extension).
#[derive(Debug, Clone, Copy)]
pub(crate) struct MatchedRoute(pub RouteInfo);

/// Set on every response that went through the middleware: which route slot
/// the request counters charge.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RouteTag(pub Option<usize>);

/// The authenticated caller, shared with the handler.
pub(crate) type Caller = Arc<Principal>;

pub(crate) async fn authenticate_and_authorize(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    // `MatchedPath` is an `Arc<str>` inside: cloning it is cheap.
    let matched = req.extensions().get::<MatchedPath>().cloned();
    let matched = matched.as_ref().map(MatchedPath::as_str);
    let route = matched.and_then(|path| state.routes.lookup(path, req.method()));
    let tag = RouteTag(route.map(|r| r.index));
    let mut response = guarded(&state, matched, route, req, next).await;
    response.extensions_mut().insert(tag);
    response
}

async fn guarded(
    state: &AppState,
    matched: Option<&str>,
    route: Option<RouteInfo>,
    mut req: Request,
    next: Next,
) -> Response {
    if let Some(route) = route {
        req.extensions_mut().insert(MatchedRoute(route));
    }
    if matched.is_some_and(is_whitelisted) {
        return next.run(req).await;
    }

    // Qdrant's audit log (spec §12): one line per request that reaches the
    // access check, written below where the decision is made.
    let audit = state.auth.audit_log().map(|log| {
        let peer = req
            .extensions()
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|info| info.0.ip());
        (log, log.request_facts(req.headers(), peer), req.uri().path().to_owned())
    });
    let operation = route.map(|r| r.operation).filter(|o| !o.is_empty());
    let record = |principal: Option<&Principal>, collection: Option<&str>, denied: Option<&str>| {
        if let Some((log, facts, path)) = &audit
            && (denied.is_some() || !operation.is_some_and(is_scrape))
        {
            log.record(
                facts,
                Decision {
                    transport: Transport::Rest,
                    method: operation,
                    api: path,
                    principal,
                    collection,
                    denied,
                },
            );
        }
    };

    let principal = match state.auth.authenticate(req.headers()) {
        Ok(principal) => principal,
        Err(err) => {
            state.metrics.refused(Refusal::Authentication);
            let message = err.message();
            audit_refusal(state, &req, route.as_ref(), None, None, err.http_status(), &message);
            record(None, None, Some(&message));
            return auth_failure(&err);
        }
    };
    if let Some(claim) = principal.value_exists()
        && let Err((response, message)) = check_value_exists(state, claim).await
    {
        state.metrics.refused(Refusal::Authentication);
        record(None, Some(&claim.collection), Some(&message));
        return response;
    }

    // A matched path with another method (405) or no match at all (404):
    // authenticated above, nothing to authorise.
    if let Some(route) = route {
        let (mut parts, body) = req.into_parts();
        let collection = match RawPathParams::from_request_parts(&mut parts, &()).await {
            Ok(params) => params
                .iter()
                .find(|(name, _)| *name == "collection_name")
                .map(|(_, v)| v.to_owned())
                .or(route.literal_collection.map(str::to_owned)),
            Err(rejection) => {
                return RestError::Format(format!(
                    "Deserialize error in path parameters: {}",
                    rejection.body_text()
                ))
                .into_response();
            }
        };
        req = Request::from_parts(parts, body);
        let Some(rule) = route.rule else {
            // Fail closed: a route without a row in the table of access.
            tracing::error!("no access rule for {} {}", route.method, route.template);
            return RestError::Internal(format!(
                "no access rule for {} {}",
                route.method, route.template
            ))
            .into_response();
        };
        if let Err(forbidden) = principal.authorize(&rule.requirement(collection.as_deref())) {
            state.metrics.refused(Refusal::Authorization);
            let reason = forbidden.to_string();
            audit_refusal(state, &req, Some(&route), Some(&principal), collection.as_deref(), 403, &reason);
            record(Some(&principal), collection.as_deref(), Some(&reason));
            return if route.plain_text_errors {
                plain_text(StatusCode::FORBIDDEN, forbidden.to_string())
            } else {
                RestError::Forbidden(forbidden).into_response()
            };
        }
        record(Some(&principal), collection.as_deref(), None);
    }

    req.extensions_mut().insert::<Caller>(Arc::new(principal));
    next.run(req).await
}

/// Appends a refused request to the key plane's audit log (spec §15); the
/// credential itself never reaches it, only its last characters.
fn audit_refusal(
    state: &AppState,
    req: &Request,
    route: Option<&RouteInfo>,
    principal: Option<&Principal>,
    collection: Option<&str>,
    status: u16,
    reason: &str,
) {
    let Some(keys) = &state.keys else { return };
    let operation = match route {
        Some(route) => format!("{} {}", route.method, route.template),
        None => format!("{} {}", req.method(), req.uri().path()),
    };
    let credential = req
        .headers()
        .get("api-key")
        .or_else(|| req.headers().get(http::header::AUTHORIZATION))
        .and_then(|v| v.to_str().ok())
        .map(|v| v.strip_prefix("Bearer ").unwrap_or(v));
    let client = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip());
    keys.record_refusal(osprey_keys::Refusal {
        operation: &operation,
        principal,
        credential,
        collection,
        client,
        status,
        reason,
    });
}

/// Authentication failures: the bare message as plain text (spec §6).
fn auth_failure(err: &AuthError) -> Response {
    let status = StatusCode::from_u16(err.http_status()).unwrap_or(StatusCode::UNAUTHORIZED);
    plain_text(status, err.message())
}

/// A JWT's `value_exists` claim: some point of the collection must match every
/// pair. The lookup runs with full access (the collection need not be in the
/// token). Qdrant answers 403 when the collection is missing, 401 when no
/// point matches, and the engine's own status for other failures, all in
/// plain text.
///
/// A refusal comes with its message, for the audit log.
async fn check_value_exists(
    state: &AppState,
    claim: &ValueExists,
) -> Result<(), (Response, String)> {
    let storage = state.storage.clone();
    let name = claim.collection.clone();
    let pairs = claim.matches.clone();
    let result = tokio::task::spawn_blocking(move || storage.any_point_matches(&name, &pairs)).await;
    let stateful = |collection_missing| {
        let err = AuthError::StatefulValidationFailed { collection_missing };
        (auth_failure(&err), err.message())
    };
    match result {
        Ok(Ok(true)) => Ok(()),
        Ok(Ok(false)) => Err(stateful(false)),
        Ok(Err(EngineError::NotFound(_))) => Err(stateful(true)),
        Ok(Err(err)) => Err((plain_text(engine_status(&err), err.to_string()), err.to_string())),
        Err(join) => {
            let message = format!("Service internal error: {join}");
            Err((plain_text(StatusCode::INTERNAL_SERVER_ERROR, message.clone()), message))
        }
    }
}

/// Telemetry and metrics scrapes: not in the audit log once authenticated,
/// as in Qdrant (a scraper every few seconds would drown everything else).
/// Their failed authentications and refusals are still recorded.
fn is_scrape(operation: &str) -> bool {
    matches!(operation, "telemetry" | "metrics" | "cluster_telemetry")
}

/// Body-dependent part of the access check: every other collection a request
/// reads (`lookup_from`, `with_lookup`) must be in a collection-scoped token.
pub(crate) fn check_references<'a>(
    principal: &Principal,
    collections: impl IntoIterator<Item = &'a str>,
) -> Result<(), RestError> {
    for collection in collections {
        principal.check_collection_reference(collection)?;
    }
    Ok(())
}
