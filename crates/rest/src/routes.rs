//! The route table: every REST row of `spec/access-table.tsv` is registered
//! here, once, with its handler. Registering a route also records its access
//! rule (looked up by method and OpenAPI template), so the router and the
//! table of access cannot drift apart: the middleware finds the rule of the
//! matched route, and a test fails if a row is unrouted or a route unruled.

use std::collections::HashMap;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::routing::{MethodFilter, on};
use http::Method;
use osprey_auth::RuleKind;

use crate::handlers::{audit, cluster, collections, logger, maintenance, points, search, service, snapshots, unsupported};
use crate::state::AppState;

/// One registered route.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RouteInfo {
    /// Position in [`RouteTable::all`]; also the metrics slot.
    pub index: usize,
    pub method: &'static str,
    /// The template as the access table and OpenAPI write it.
    pub template: &'static str,
    /// The access rule; `None` only if the table lacks the row (a test fails).
    pub rule: Option<RuleKind>,
    /// Qdrant renders this route's access errors as plain text (uploads and
    /// file downloads), not as the JSON envelope.
    pub plain_text_errors: bool,
    /// The operation name of the route's row (`upsert_points`), for the
    /// audit log; empty only if the table lacks the row (a test fails).
    pub operation: &'static str,
    /// For a literal path standing in for a parameter (see
    /// [`RouteBuilder::add_literal`]): the collection name it names.
    pub literal_collection: Option<&'static str>,
}

/// Lookup from the matched axum path and method to the route.
#[derive(Debug, Default)]
pub(crate) struct RouteTable {
    by_path: HashMap<String, Vec<RouteInfo>>,
    all: Vec<RouteInfo>,
}

impl RouteTable {
    /// The route for a matched axum path; HEAD is served by GET routes.
    pub(crate) fn lookup(&self, axum_path: &str, method: &Method) -> Option<RouteInfo> {
        let method = if method == Method::HEAD {
            "GET"
        } else {
            method.as_str()
        };
        self.by_path
            .get(axum_path)?
            .iter()
            .find(|r| r.method == method)
            .copied()
    }

    pub(crate) fn all(&self) -> &[RouteInfo] {
        &self.all
    }
}

/// Builds the router and the table side by side.
pub(crate) struct RouteBuilder {
    router: Router<AppState>,
    table: RouteTable,
}

impl RouteBuilder {
    fn new() -> Self {
        RouteBuilder {
            router: Router::new(),
            table: RouteTable::default(),
        }
    }

    fn add<H, T>(mut self, method: &'static str, template: &'static str, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = match method {
            "GET" => MethodFilter::GET,
            "POST" => MethodFilter::POST,
            "PUT" => MethodFilter::PUT,
            "PATCH" => MethodFilter::PATCH,
            "DELETE" => MethodFilter::DELETE,
            other => panic!("unsupported method {other} for {template}"),
        };
        let path = axum_path(template);
        self.router = self.router.route(&path, on(filter, handler));
        let rule = osprey_auth::rest_rule(method, template);
        let row = osprey_auth::rules()
            .iter()
            .find(|r| r.method == method && r.path == template);
        let plain_text_errors = row.is_some_and(|r| r.notes.contains("plain text"));
        let info = RouteInfo {
            index: self.table.all.len(),
            method,
            template,
            rule,
            plain_text_errors,
            operation: row.map_or("", |r| r.operation),
            literal_collection: None,
        };
        self.table.by_path.entry(path).or_default().push(info);
        self.table.all.push(info);
        self
    }

    /// Routes `literal` (a path that a literal route took, such as
    /// `/collections/aliases`) for a method that only the parameterised
    /// `template` serves, so a collection literally named `aliases` stays
    /// reachable, as in Qdrant. It shares the rule and the counters of the
    /// template's route, with `collection` as the path's collection.
    fn add_literal<H, T>(
        mut self,
        method: &'static str,
        literal: &'static str,
        template: &'static str,
        collection: &'static str,
        handler: H,
    ) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.parse::<Method>().expect("a method"))
            .expect("a routable method");
        let original = self
            .table
            .all
            .iter()
            .find(|r| r.method == method && r.template == template)
            .copied()
            .unwrap_or_else(|| panic!("{method} {template} must be added before its literal"));
        self.router = self.router.route(literal, on(filter, handler));
        let info = RouteInfo {
            literal_collection: Some(collection),
            ..original
        };
        self.table
            .by_path
            .entry(literal.to_owned())
            .or_default()
            .push(info);
        self
    }
}

/// The axum form of a template. Qdrant's router-only shard routes call the
/// shard `{shard}` where OpenAPI says `{shard_id}`; axum refuses two names for
/// one position, so both are routed as `{shard_id}` while the table keeps the
/// original template for the access rule.
pub(crate) fn axum_path(template: &str) -> String {
    template.replace("{shard}", "{shard_id}")
}

/// Every route of the server, in the table's order.
pub(crate) fn build() -> (Router<AppState>, RouteTable) {
    use unsupported::not_supported as todo;
    let b = RouteBuilder::new()
        // Service
        .add("GET", "/", service::root)
        .add("GET", "/telemetry", service::telemetry)
        .add("GET", "/metrics", service::metrics)
        .add("GET", "/healthz", service::healthz)
        .add("GET", "/livez", service::healthz)
        .add("GET", "/readyz", service::readyz)
        // Collections
        .add("GET", "/collections", collections::list)
        .add("GET", "/collections/{collection_name}", collections::get)
        .add("PUT", "/collections/{collection_name}", collections::create)
        .add(
            "PATCH",
            "/collections/{collection_name}",
            collections::update,
        )
        .add(
            "DELETE",
            "/collections/{collection_name}",
            collections::delete,
        )
        .add(
            "GET",
            "/collections/{collection_name}/exists",
            collections::exists,
        )
        .add(
            "GET",
            "/collections/{collection_name}/optimizations",
            collections::optimizations,
        )
        // Aliases
        .add("POST", "/collections/aliases", collections::update_aliases)
        .add(
            "GET",
            "/collections/{collection_name}/aliases",
            collections::collection_aliases,
        )
        .add("GET", "/aliases", collections::list_aliases)
        .add_literal(
            "GET",
            "/collections/aliases",
            "/collections/{collection_name}",
            "aliases",
            collections::get_aliases_named,
        )
        .add_literal(
            "PUT",
            "/collections/aliases",
            "/collections/{collection_name}",
            "aliases",
            collections::create_aliases_named,
        )
        .add_literal(
            "PATCH",
            "/collections/aliases",
            "/collections/{collection_name}",
            "aliases",
            collections::update_aliases_named,
        )
        .add_literal(
            "DELETE",
            "/collections/aliases",
            "/collections/{collection_name}",
            "aliases",
            collections::delete_aliases_named,
        )
        // Points
        .add(
            "GET",
            "/collections/{collection_name}/points/{id}",
            points::get_point,
        )
        .add(
            "POST",
            "/collections/{collection_name}/points",
            points::get_points,
        )
        .add(
            "PUT",
            "/collections/{collection_name}/points",
            points::upsert,
        )
        .add(
            "POST",
            "/collections/{collection_name}/points/delete",
            points::delete,
        )
        .add(
            "POST",
            "/collections/{collection_name}/points/batch",
            points::batch,
        )
        .add(
            "PUT",
            "/collections/{collection_name}/vectors/{vector_name}",
            points::create_vector_name,
        )
        .add(
            "DELETE",
            "/collections/{collection_name}/vectors/{vector_name}",
            points::delete_vector_name,
        )
        .add(
            "PUT",
            "/collections/{collection_name}/points/vectors",
            points::update_vectors,
        )
        .add(
            "POST",
            "/collections/{collection_name}/points/vectors/delete",
            points::delete_vectors,
        )
        .add(
            "POST",
            "/collections/{collection_name}/points/payload",
            points::set_payload,
        )
        .add(
            "PUT",
            "/collections/{collection_name}/points/payload",
            points::overwrite_payload,
        )
        .add(
            "POST",
            "/collections/{collection_name}/points/payload/delete",
            points::delete_payload,
        )
        .add(
            "POST",
            "/collections/{collection_name}/points/payload/clear",
            points::clear_payload,
        )
        .add(
            "PUT",
            "/collections/{collection_name}/index",
            points::create_index,
        )
        .add(
            "DELETE",
            "/collections/{collection_name}/index/{field_name}",
            points::delete_index,
        )
        // Scroll, count, facet
        .add(
            "POST",
            "/collections/{collection_name}/points/scroll",
            search::scroll,
        )
        .add(
            "POST",
            "/collections/{collection_name}/points/count",
            search::count,
        )
        .add(
            "POST",
            "/collections/{collection_name}/facet",
            search::facet,
        )
        // Search family
        .add(
            "POST",
            "/collections/{collection_name}/points/search",
            search::search,
        )
        .add(
            "POST",
            "/collections/{collection_name}/points/search/batch",
            search::search_batch,
        )
        .add(
            "POST",
            "/collections/{collection_name}/points/search/groups",
            search::search_groups,
        )
        .add(
            "POST",
            "/collections/{collection_name}/points/recommend",
            search::recommend,
        )
        .add(
            "POST",
            "/collections/{collection_name}/points/recommend/batch",
            search::recommend_batch,
        )
        .add(
            "POST",
            "/collections/{collection_name}/points/recommend/groups",
            search::recommend_groups,
        )
        .add(
            "POST",
            "/collections/{collection_name}/points/discover",
            search::discover,
        )
        .add(
            "POST",
            "/collections/{collection_name}/points/discover/batch",
            search::discover_batch,
        )
        .add(
            "POST",
            "/collections/{collection_name}/points/query",
            search::query,
        )
        .add(
            "POST",
            "/collections/{collection_name}/points/query/batch",
            search::query_batch,
        )
        .add(
            "POST",
            "/collections/{collection_name}/points/query/groups",
            search::query_groups,
        )
        .add(
            "POST",
            "/collections/{collection_name}/points/search/matrix/pairs",
            search::matrix_pairs,
        )
        .add(
            "POST",
            "/collections/{collection_name}/points/search/matrix/offsets",
            search::matrix_offsets,
        )
        // Collection snapshots. Uploads are unlimited in size (Qdrant's
        // `max_request_size_mb` covers JSON only); access is checked before
        // the body is read.
        .add(
            "POST",
            "/collections/{collection_name}/snapshots/upload",
            snapshots::upload.layer(DefaultBodyLimit::disable()),
        )
        .add(
            "PUT",
            "/collections/{collection_name}/snapshots/recover",
            snapshots::recover,
        )
        .add(
            "GET",
            "/collections/{collection_name}/snapshots",
            snapshots::list,
        )
        .add(
            "POST",
            "/collections/{collection_name}/snapshots",
            snapshots::create,
        )
        .add(
            "DELETE",
            "/collections/{collection_name}/snapshots/{snapshot_name}",
            snapshots::delete,
        )
        .add(
            "GET",
            "/collections/{collection_name}/snapshots/{snapshot_name}",
            snapshots::download,
        )
        // Shard snapshots
        .add(
            "GET",
            "/collections/{collection_name}/shards/{shard_id}/snapshot",
            snapshots::stream_shard,
        )
        .add(
            "POST",
            "/collections/{collection_name}/shards/{shard_id}/snapshots/upload",
            snapshots::upload_shard,
        )
        .add(
            "PUT",
            "/collections/{collection_name}/shards/{shard_id}/snapshots/recover",
            snapshots::recover_shard,
        )
        .add(
            "GET",
            "/collections/{collection_name}/shards/{shard_id}/snapshots",
            snapshots::list_shard,
        )
        .add(
            "POST",
            "/collections/{collection_name}/shards/{shard_id}/snapshots",
            snapshots::create_shard,
        )
        .add(
            "DELETE",
            "/collections/{collection_name}/shards/{shard_id}/snapshots/{snapshot_name}",
            snapshots::delete_shard,
        )
        .add(
            "GET",
            "/collections/{collection_name}/shards/{shard_id}/snapshots/{snapshot_name}",
            snapshots::download_shard,
        )
        // Full snapshots
        .add("GET", "/snapshots", snapshots::list_full)
        .add("POST", "/snapshots", snapshots::create_full)
        .add(
            "DELETE",
            "/snapshots/{snapshot_name}",
            snapshots::delete_full,
        )
        .add(
            "GET",
            "/snapshots/{snapshot_name}",
            snapshots::download_full,
        )
        // Shard keys, cluster
        .add("PUT", "/collections/{collection_name}/shards", cluster::create_shard_key)
        .add("GET", "/collections/{collection_name}/shards", cluster::list_shard_keys)
        .add("POST", "/collections/{collection_name}/shards/delete", cluster::delete_shard_key)
        .add("GET", "/cluster", cluster::status)
        .add("GET", "/cluster/telemetry", cluster::telemetry)
        .add("POST", "/cluster/recover", cluster::recover)
        .add("DELETE", "/cluster/peer/{peer_id}", cluster::remove_peer)
        .add(
            "GET",
            "/collections/{collection_name}/cluster",
            cluster::collection_info,
        )
        .add("POST", "/collections/{collection_name}/cluster", cluster::update_collection_cluster)
        // Issues
        .add("GET", "/issues", cluster::issues)
        .add("DELETE", "/issues", cluster::clear_issues)
        // Router-only service routes
        .add("GET", "/stacktrace", todo)
        .add("GET", "/logger", logger::get)
        .add("POST", "/logger", logger::update)
        .add(
            "POST",
            "/collections/{collection_name}/truncate_unapplied_wal",
            maintenance::truncate_unapplied_wal,
        )
        .add("GET", "/collections/{collection_name}/memory", todo)
        .add("GET", "/cluster/metadata/keys", cluster::metadata_keys)
        .add("GET", "/cluster/metadata/keys/{key}", cluster::metadata_key)
        .add("PUT", "/cluster/metadata/keys/{key}", cluster::put_metadata_key)
        .add("DELETE", "/cluster/metadata/keys/{key}", cluster::delete_metadata_key)
        .add("GET", "/debugger", maintenance::debugger)
        .add("PATCH", "/debugger", maintenance::update_debugger)
        .add("GET", "/profiler/slow_requests", todo)
        .add("POST", "/audit/logs", audit::logs)
        // Local shard access and partial snapshots (router-only)
        .add(
            "POST",
            "/collections/{collection_name}/shards/{shard}/points",
            cluster::local_shard_points,
        )
        .add(
            "POST",
            "/collections/{collection_name}/shards/{shard}/points/scroll",
            cluster::local_shard_scroll,
        )
        .add(
            "POST",
            "/collections/{collection_name}/shards/{shard}/points/count",
            cluster::local_shard_count,
        )
        .add(
            "POST",
            "/collections/{collection_name}/shards/{shard}/cleanup",
            cluster::local_shard_cleanup,
        )
        .add(
            "POST",
            "/collections/{collection_name}/shards/{shard}/snapshot/partial/create",
            snapshots::create_partial,
        )
        .add(
            "POST",
            "/collections/{collection_name}/shards/{shard}/snapshot/partial/recover",
            snapshots::recover_partial,
        )
        .add(
            "POST",
            "/collections/{collection_name}/shards/{shard}/snapshot/partial/recover_from",
            snapshots::recover_partial_from,
        )
        .add(
            "GET",
            "/collections/{collection_name}/shards/{shard}/snapshot/partial/manifest",
            todo,
        )
        // Staging-build routes: registered so that the access rule applies.
        .add(
            "GET",
            "/collections/{collection_name}/shards/{shard}/wal",
            maintenance::staging_only,
        )
        .add(
            "GET",
            "/collections/{collection_name}/shards/{shard}/recovery_point",
            maintenance::staging_only,
        )
        .add("POST", "/collections/{collection_name}/debug", maintenance::staging_only);
    (b.router, b.table)
}

/// Matched route patterns that skip authentication (spec/auth.md §5). Matching
/// is on the pattern the router resolved, never on the raw path. The
/// console's patterns (`/dashboard` and its asset paths) exist only when the
/// console is mounted (`RestOptions::console`), so they are whitelisted only
/// then; a path under `/dashboard` that names no asset matches no route and
/// needs credentials like any unknown path.
pub(crate) fn is_whitelisted(axum_path: &str) -> bool {
    matches!(axum_path, "/" | "/healthz" | "/livez" | "/readyz")
        || osprey_console::is_console_route(axum_path)
}
