//! `GET /`, health probes, `/telemetry` and `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use axum::Extension;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::access::Caller;
use crate::envelope::{ApiOk, bare_json, plain_text};
use crate::error::RestResult;
use crate::extract::Query;
use crate::handlers::engine;
use crate::state::AppState;

/// The Qdrant version this server speaks. Clients compare it with their own
/// and warn unless the major matches and the minor is within one.
pub(crate) const QDRANT_VERSION: &str = "1.18.3";

#[derive(Serialize)]
struct VersionInfo<'a> {
    title: &'static str,
    version: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    commit: Option<&'a str>,
}

/// `GET /`: a bare object, without the envelope.
pub(crate) async fn root(State(state): State<AppState>) -> Response {
    bare_json(&VersionInfo {
        title: "qdrant - vector search engine",
        version: QDRANT_VERSION,
        commit: state.options.commit.as_deref(),
    })
}

/// `GET /healthz` and `GET /livez`.
pub(crate) async fn healthz() -> Response {
    plain_text(StatusCode::OK, "healthz check passed")
}

/// `GET /readyz`: a single node has all its shards.
pub(crate) async fn readyz() -> Response {
    plain_text(StatusCode::OK, "all shards are ready")
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
pub(crate) struct TelemetryParams {
    #[serde(default)]
    anonymize: Option<bool>,
    #[serde(default)]
    details_level: Option<u64>,
    #[serde(default)]
    per_collection: Option<bool>,
    #[serde(default)]
    timeout: Option<u64>,
}

/// Per-collection figures used by telemetry, metrics and cluster info.
#[derive(Debug)]
pub(crate) struct CollectionFigures {
    pub name: String,
    pub points: u64,
    /// Stored vectors: points times the collection's vector kinds.
    pub vectors: u64,
    pub config: Value,
}

/// Figures for every collection `caller` may list (every collection when
/// `caller` is `None`), in name order. A collection the caller sees through a
/// payload restriction reports the figures of that view only: its totals would
/// tell about other tenants' points (spec §15).
pub(crate) async fn collection_figures(
    state: &AppState,
    caller: Option<&Caller>,
) -> RestResult<Vec<CollectionFigures>> {
    let names: Vec<(String, Option<osprey_engine::Payload>)> = state
        .storage
        .list_collections()
        .into_iter()
        .filter(|n| caller.is_none_or(|c| c.can_list_collection(n)))
        .map(|n| {
            let restriction = caller.and_then(|c| c.payload_restriction(&n)).cloned();
            (n, restriction)
        })
        .collect();
    let storage = state.storage.clone();
    engine(move || {
        let mut out = Vec::with_capacity(names.len());
        for (name, restriction) in names {
            // Deleted between the listing and now: skip it.
            let Ok(view) = storage.view(&name, restriction.as_ref()) else {
                continue;
            };
            let info = view.info()?;
            let config = serde_json::to_value(&info.config).unwrap_or(Value::Null);
            let kinds = vector_kinds(&config);
            out.push(CollectionFigures {
                name,
                points: info.points_count,
                vectors: info.points_count.saturating_mul(kinds),
                config,
            });
        }
        Ok(out)
    })
    .await
}

/// How many vectors each point of a collection carries: the dense ones (one
/// unnamed, or one per name) plus the sparse ones.
fn vector_kinds(config: &Value) -> u64 {
    let params = &config["params"];
    let dense = match &params["vectors"] {
        Value::Object(map) if map.contains_key("size") => 1,
        Value::Object(map) => map.len() as u64,
        _ => 0,
    };
    let sparse = params["sparse_vectors"]
        .as_object()
        .map_or(0, |m| m.len() as u64);
    dense + sparse
}

/// `GET /telemetry`. Collection-scoped principals see only their collections
/// and no request statistics (spec/auth.md §9).
pub(crate) async fn telemetry(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(_params): Query<TelemetryParams>,
) -> RestResult<ApiOk<Value>> {
    let figures = collection_figures(&state, Some(&caller)).await?;
    let collections: Vec<Value> = figures
        .iter()
        .map(|c| {
            json!({
                "id": c.name,
                "init_time_ms": 0,
                "config": c.config,
                "shards": [{
                    "id": 0,
                    "key": null,
                    "local": {
                        "variant_name": "local",
                        "status": "green",
                        "total_optimized_points": 0,
                        "num_points": c.points,
                        "num_vectors": c.vectors,
                        "segments": [],
                        "optimizations": {},
                    },
                    "remote": [],
                    "replicate_states": { state.peer_id.to_string(): "Active" },
                }],
                "transfers": [],
                "resharding": [],
            })
        })
        .collect();
    let mut result = json!({
        "id": state.telemetry_id,
        "app": {
            "name": "qdrant",
            "version": QDRANT_VERSION,
            "startup": state.started_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        },
        "collections": {
            "number_of_collections": collections.len(),
            "collections": collections,
        },
    });
    if caller.is_global() {
        result["requests"] =
            json!({ "rest": { "responses": rest_responses(&state) }, "grpc": { "responses": {} } });
    }
    Ok(ApiOk(result))
}

/// Request statistics in telemetry's shape: `{"GET /path": {"200": {...}}}`.
fn rest_responses(state: &AppState) -> BTreeMap<String, BTreeMap<&'static str, Value>> {
    let mut out: BTreeMap<String, BTreeMap<&'static str, Value>> = BTreeMap::new();
    let routes = state.routes.all();
    for sample in state.metrics.samples() {
        let Some(route) = sample.route.map(|i| routes[i]) else {
            continue;
        };
        let avg = sample.total.as_micros() as f64 / sample.count as f64;
        out.entry(format!("{} {}", route.method, route.template))
            .or_default()
            .insert(
                sample.status,
                json!({ "count": sample.count, "avg_duration_micros": avg }),
            );
    }
    out
}

/// `GET /metrics`: Prometheus text. Requires global read (the access table).
pub(crate) async fn metrics(State(state): State<AppState>) -> RestResult<Response> {
    let figures = collection_figures(&state, None).await?;
    let mut out = String::new();
    family(
        &mut out,
        "app_info",
        "gauge",
        "information about qdrant server",
    );
    let _ = writeln!(
        out,
        "app_info{{name=\"qdrant\",version=\"{QDRANT_VERSION}\"}} 1"
    );
    family(
        &mut out,
        "collections_total",
        "gauge",
        "number of collections",
    );
    let _ = writeln!(out, "collections_total {}", figures.len());
    family(
        &mut out,
        "collections_vector_total",
        "gauge",
        "total number of vectors in all collections",
    );
    let _ = writeln!(
        out,
        "collections_vector_total {}",
        figures.iter().map(|c| c.vectors).sum::<u64>()
    );
    family(
        &mut out,
        "collection_points",
        "gauge",
        "number of points per collection",
    );
    for c in &figures {
        let _ = writeln!(
            out,
            "collection_points{{collection=\"{}\"}} {}",
            label(&c.name),
            c.points
        );
    }

    let routes = state.routes.all();
    let samples = state.metrics.samples();
    let endpoint = |route: Option<usize>| match route.map(|i| routes[i]) {
        Some(r) => (r.method, r.template),
        None => ("ANY", "unmatched"),
    };
    family(
        &mut out,
        "rest_responses_total",
        "counter",
        "total number of responses",
    );
    for s in &samples {
        let (method, path) = endpoint(s.route);
        let _ = writeln!(
            out,
            "rest_responses_total{{method=\"{method}\",endpoint=\"{}\",status=\"{}\"}} {}",
            label(path),
            s.status,
            s.count
        );
    }
    family(
        &mut out,
        "rest_responses_fail_total",
        "counter",
        "total number of failed responses",
    );
    for s in samples.iter().filter(|s| !s.status.starts_with('2')) {
        let (method, path) = endpoint(s.route);
        let _ = writeln!(
            out,
            "rest_responses_fail_total{{method=\"{method}\",endpoint=\"{}\",status=\"{}\"}} {}",
            label(path),
            s.status,
            s.count
        );
    }
    family(
        &mut out,
        "rest_responses_avg_duration_seconds",
        "gauge",
        "average response duration",
    );
    for s in &samples {
        let (method, path) = endpoint(s.route);
        let avg = s.total.as_secs_f64() / s.count as f64;
        let _ = writeln!(
            out,
            "rest_responses_avg_duration_seconds{{method=\"{method}\",endpoint=\"{}\",status=\"{}\"}} {avg}",
            label(path),
            s.status
        );
    }
    let (authentication, authorization) = state.metrics.refusals();
    family(
        &mut out,
        "rest_requests_refused_total",
        "counter",
        "requests refused by authentication (401, or 403 for a bad JWT) or by the access check (403)",
    );
    let _ = writeln!(
        out,
        "rest_requests_refused_total{{reason=\"authentication\"}} {authentication}"
    );
    let _ = writeln!(
        out,
        "rest_requests_refused_total{{reason=\"authorization\"}} {authorization}"
    );

    let mut response = (StatusCode::OK, out).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(response)
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// A Prometheus label value: backslash, quote and newline escaped.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
