//! Osprey's REST front end: Qdrant 1.18.3's HTTP API (same paths, JSON shapes
//! and status codes), so the official Qdrant clients work unchanged.
//!
//! A request passes, outermost first (spec/auth.md §4):
//! 1. request counters and timing (`layers::track`);
//! 2. CORS, answering preflights without credentials (`layers::cors`);
//! 3. path normalisation (`layers::normalize_path`);
//! 4. routing, then authentication and the route's access rule
//!    (`access.rs`), decided by the matched route pattern;
//! 5. extractors (body size limit, JSON, query, path: `extract.rs`);
//! 6. the handler (`handlers/`), which calls the engine.
//!
//! Every REST row of the table of access is routed (`routes.rs`); those not
//! served yet answer 501 after the access check.

mod access;
mod envelope;
mod error;
mod extract;
mod handlers;
mod layers;
mod metrics;
mod routes;
mod state;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use axum::Router;
use axum::middleware::{from_fn, from_fn_with_state};
use http::StatusCode;
use osprey_auth::Authenticator;
use osprey_engine::Storage;
use tower::ServiceBuilder;

use crate::metrics::Metrics;

pub use osprey_console::ConsoleOptions;
use crate::state::{Shared, load_peer_id};

/// Settings of the REST server (Qdrant's `service.*`).
#[derive(Debug, Clone)]
pub struct RestOptions {
    /// `service.max_request_size_mb`: larger JSON bodies answer 413.
    pub max_request_size_mb: usize,
    /// `service.enable_cors`: permissive CORS.
    pub enable_cors: bool,
    /// Git commit reported by `GET /`; left out when `None`.
    pub commit: Option<String>,
    /// `service.enable_snapshot_url_recovery`: when false, snapshot recovery
    /// from `http(s)://` locations answers 403. This server never downloads
    /// snapshots, so when true such locations answer 400.
    pub enable_snapshot_url_recovery: bool,
    /// `service.enable_static_content`: the web console at `/dashboard`
    /// (crate `osprey-console`) when `Some`. Its routes are whitelisted by
    /// their matched patterns; when `None` nothing under `/dashboard` is
    /// routed, so nothing there is whitelisted either.
    pub console: Option<osprey_console::ConsoleOptions>,
    /// `cluster.enabled`: the server runs as the single voter of its own
    /// cluster. `None` is standalone mode.
    pub cluster: Option<ClusterMode>,
    /// The process's log filter, read and changed by `GET/POST /logger`;
    /// `None` (tests, embedders) answers those routes 400.
    pub logger: Option<std::sync::Arc<dyn LogControl>>,
}

/// The log level of the running process.
pub trait LogControl: Send + Sync + std::fmt::Debug {
    /// The filter in effect, as `tracing`'s `EnvFilter` prints it.
    fn level(&self) -> String;
    /// Replaces the filter; an invalid one is refused and changes nothing.
    fn set_level(&self, level: &str) -> Result<(), String>;
}

/// Cluster mode on one peer.
#[derive(Debug, Clone, Default)]
pub struct ClusterMode {
    /// `--uri`: this peer's URI as `/cluster` reports it; without it, the
    /// address the client used.
    pub uri: Option<String>,
}

impl Default for RestOptions {
    fn default() -> Self {
        RestOptions {
            max_request_size_mb: 32,
            enable_cors: true,
            commit: None,
            enable_snapshot_url_recovery: true,
            console: None,
            cluster: None,
            logger: None,
        }
    }
}

/// What the REST server serves from.
pub struct RestContext {
    pub storage: Arc<Storage>,
    pub auth: Arc<Authenticator>,
    /// The key plane; its management API (`/api-keys`) is served when present.
    pub keys: Option<Arc<osprey_keys::KeyRegistry>>,
    pub options: RestOptions,
}

/// The REST application. Serve it with
/// `into_make_service_with_connect_info::<SocketAddr>()`.
pub fn router(ctx: RestContext) -> Router {
    let (mut routes, table) = routes::build();
    // The key plane's routes sit behind the same normalisation and
    // authentication; they have no row in Qdrant's table of access and admit
    // root credentials only, which their handlers check.
    if let Some(keys) = &ctx.keys {
        routes = routes.merge(osprey_keys::management_routes(keys.clone()));
    }
    // The console's pages sit behind the same layers; the access middleware
    // lets their matched patterns through without credentials (spec §5).
    if let Some(console) = &ctx.options.console {
        routes = routes.merge(osprey_console::routes(console));
    }
    let enable_cors = ctx.options.enable_cors;
    let state = Arc::new(Shared {
        peer_id: load_peer_id(&ctx.storage),
        storage: ctx.storage,
        auth: ctx.auth,
        keys: ctx.keys,
        options: ctx.options,
        metrics: Metrics::new(table.all().len()),
        routes: table,
        started_at: chrono::Utc::now(),
        telemetry_id: uuid::Uuid::new_v4().to_string(),
        meta_changes: AtomicU64::new(0),
    });

    // `Router::layer` wraps every route and the fallback, after routing, so
    // the access middleware sees the matched pattern (or its absence).
    let routed: Router = routes
        .fallback(not_found)
        .layer(from_fn_with_state(
            state.clone(),
            access::authenticate_and_authorize,
        ))
        .with_state(state.clone());

    // These must run before routing (normalisation changes what matches), so
    // they wrap the whole routed service rather than being router layers.
    let service = ServiceBuilder::new()
        .layer(from_fn_with_state(state, layers::track))
        .layer(from_fn_with_state(enable_cors, layers::cors))
        .layer(from_fn(layers::normalize_path))
        .service(routed);
    Router::new().fallback_service(service)
}

/// A path no route matches, asked with a valid credential: 404 with an empty
/// body, as Qdrant's default service.
async fn not_found() -> StatusCode {
    StatusCode::NOT_FOUND
}
