//! Filtered search over 10,000 points checked against a brute-force oracle.
//!
//! Issue 2 asks that search, query, count and scroll give Qdrant's answers for
//! every filter form. A fixed seed generates vectors and payloads; the oracle in
//! `oracle.rs` evaluates the very JSON filter sent to the server against the
//! generated payloads and computes exact scores, so every answer can be checked
//! point by point. All mismatches are collected and reported together.

use std::collections::{HashMap, HashSet};

use serde_json::{Value, json};

use crate::harness::{TestServer, XorShift};
use crate::oracle::{Metric, check_ranking, matches, matches_with};

const N: u64 = 10_000;
const DIM: usize = 16;
const SEED: u64 = 0x5EED_0002;
const VECTORS: [(&str, Metric); 3] = [
    ("cos", Metric::Cosine),
    ("dot", Metric::Dot),
    ("euc", Metric::Euclid),
];

struct Point {
    id: Value,
    vectors: HashMap<&'static str, Vec<f32>>,
    payload: Value,
}

fn generate(n: u64, seed: u64) -> Vec<Point> {
    let mut rng = XorShift::new(seed);
    let cats = ["a", "b", "c", "d", "e"];
    let colours = ["red", "green", "blue", "black"];
    let words = [
        "quick", "brown", "fox", "lazy", "dog", "jumps", "over", "the",
    ];
    (0..n)
        .map(|i| {
            let mut tags: Vec<&str> = Vec::new();
            for _ in 0..rng.below(4) {
                let t = *rng.pick(&colours);
                if !tags.contains(&t) {
                    tags.push(t);
                }
            }
            let items: Vec<Value> = (0..rng.below(3))
                .map(|_| json!({"sku": format!("s{}", rng.below(10)), "qty": rng.below(6)}))
                .collect();
            let mut payload = json!({
                "seq": i,
                "cat": rng.pick(&cats),
                "num": rng.below(1000),
                // Quarter steps: exact in binary, so JSON round trips cannot blur them.
                "price": rng.below(400) as f64 / 4.0,
                "tags": tags,
                "meta": {"level": rng.below(10), "kind": if rng.chance(50) { "x" } else { "y" }},
                "items": items,
                "flag": rng.chance(30),
                "title": format!("{} {} {}", rng.pick(&words), rng.pick(&words), rng.pick(&words)),
                "when": format!(
                    "2024-{:02}-{:02}T{:02}:{:02}:00Z",
                    1 + rng.below(12),
                    1 + rng.below(28),
                    rng.below(24),
                    rng.below(60)
                ),
                // Coordinates on a 1e-4 degree grid; filter edges sit at .x5 so
                // no point lies on an edge.
                "loc": {
                    "lon": (rng.below(400_000) as f64 - 100_000.0) / 10_000.0,
                    "lat": (rng.below(250_000) as f64 + 350_000.0) / 10_000.0
                },
            });
            match rng.below(4) {
                0 => {}
                1 => payload["opt"] = Value::Null,
                2 => payload["opt"] = json!([]),
                _ => payload["opt"] = json!(rng.below(10)),
            }
            let mut vectors = HashMap::new();
            for (name, _) in VECTORS {
                vectors.insert(name, rng.vector(DIM));
            }
            Point {
                id: json!(i),
                vectors,
                payload,
            }
        })
        .collect()
}

/// Filters covering every condition form the oracle models.
fn filters(points: &[Point]) -> Vec<(&'static str, Value)> {
    let some_ids: Vec<Value> = points.iter().step_by(37).map(|p| p.id.clone()).collect();
    vec![
        ("no filter", json!({})),
        (
            "match keyword",
            json!({"must": [{"key": "cat", "match": {"value": "b"}}]}),
        ),
        (
            "match integer",
            json!({"must": [{"key": "num", "match": {"value": 500}}]}),
        ),
        (
            "match bool",
            json!({"must": [{"key": "flag", "match": {"value": true}}]}),
        ),
        (
            "match any",
            json!({"must": [{"key": "cat", "match": {"any": ["a", "c"]}}]}),
        ),
        (
            "match any integers",
            json!({"must": [{"key": "meta.level", "match": {"any": [1, 3, 5]}}]}),
        ),
        (
            "match except",
            json!({"must": [{"key": "cat", "match": {"except": ["a", "b"]}}]}),
        ),
        (
            "range int",
            json!({"must": [{"key": "num", "range": {"gte": 100, "lt": 300}}]}),
        ),
        (
            "range float",
            json!({"must": [{"key": "price", "range": {"gt": 25.5, "lte": 75.0}}]}),
        ),
        (
            "nested key range",
            json!({"must": [{"key": "meta.level", "range": {"gte": 7}}]}),
        ),
        (
            "nested key and array",
            json!({"must": [
                {"key": "meta.kind", "match": {"value": "x"}},
                {"key": "tags", "match": {"value": "red"}}
            ]}),
        ),
        (
            "array any",
            json!({"must": [{"key": "tags", "match": {"any": ["green", "black"]}}]}),
        ),
        ("is_empty", json!({"must": [{"is_empty": {"key": "opt"}}]})),
        (
            "is_empty array",
            json!({"must": [{"is_empty": {"key": "tags"}}]}),
        ),
        ("is_null", json!({"must": [{"is_null": {"key": "opt"}}]})),
        (
            "must_not on array",
            json!({"must_not": [{"key": "tags", "match": {"value": "red"}}]}),
        ),
        (
            "should",
            json!({"should": [
                {"key": "cat", "match": {"value": "a"}},
                {"key": "num", "range": {"lt": 50}}
            ]}),
        ),
        (
            "array of objects path",
            json!({"must": [{"key": "items[].sku", "match": {"value": "s3"}}]}),
        ),
        (
            "nested condition",
            json!({"must": [{"nested": {"key": "items", "filter": {"must": [
                {"key": "sku", "match": {"value": "s3"}},
                {"key": "qty", "range": {"gte": 3}}
            ]}}}]}),
        ),
        (
            "min_should",
            json!({"min_should": {"conditions": [
            {"key": "cat", "match": {"value": "a"}},
            {"key": "flag", "match": {"value": true}},
            {"key": "meta.kind", "match": {"value": "x"}}
        ], "min_count": 2}}),
        ),
        ("has_id", json!({"must": [{"has_id": some_ids}]})),
        (
            "values_count",
            json!({"must": [{"key": "tags", "values_count": {"gte": 2}}]}),
        ),
        (
            "nested filter clauses",
            json!({
                "must": [
                    {"should": [
                        {"key": "cat", "match": {"value": "d"}},
                        {"key": "cat", "match": {"value": "e"}}
                    ]},
                    {"must_not": [{"key": "meta.level", "range": {"lt": 3}}]}
                ],
                "must_not": [{"key": "flag", "match": {"value": true}}]
            }),
        ),
        (
            "empty result",
            json!({"must": [{"key": "cat", "match": {"value": "zzz"}}]}),
        ),
        (
            "match text substring",
            json!({"must": [{"key": "title", "match": {"text": "own f"}}]}),
        ),
        (
            "datetime range",
            json!({"must": [{"key": "when", "range": {
                "gte": "2024-03-01T00:00:00Z", "lt": "2024-07-15T12:00:00Z"
            }}]}),
        ),
        (
            "geo radius",
            json!({"must": [{"key": "loc", "geo_radius": {
                "center": {"lon": 13.405, "lat": 52.52}, "radius": 800_000.0
            }}]}),
        ),
        (
            "geo bounding box",
            json!({"must": [{"key": "loc", "geo_bounding_box": {
                "top_left": {"lon": 0.05, "lat": 55.05},
                "bottom_right": {"lon": 20.05, "lat": 45.05}
            }}]}),
        ),
        (
            "geo polygon",
            json!({"must": [{"key": "loc", "geo_polygon": {"exterior": {"points": [
                {"lon": 0.05, "lat": 40.05},
                {"lon": 25.05, "lat": 40.05},
                {"lon": 25.05, "lat": 58.05},
                {"lon": 0.05, "lat": 40.05}
            ]}}}]}),
        ),
        ("has_vector", json!({"must": [{"has_vector": "euc"}]})),
        (
            "not has_vector",
            json!({"must_not": [{"has_vector": "euc"}]}),
        ),
    ]
}

async fn load(server: &TestServer, name: &str, points: &[Point]) {
    let vectors: serde_json::Map<String, Value> = VECTORS
        .iter()
        .map(|(n, m)| {
            let d = match m {
                Metric::Cosine => "Cosine",
                Metric::Dot => "Dot",
                Metric::Euclid => "Euclid",
            };
            (n.to_string(), json!({"size": DIM, "distance": d}))
        })
        .collect();
    server
        .create_collection(name, &json!({"vectors": vectors}))
        .await;
    for chunk in points.chunks(1000) {
        let ids: Vec<&Value> = chunk.iter().map(|p| &p.id).collect();
        let mut batch_vectors = serde_json::Map::new();
        for (vname, _) in VECTORS {
            let column: Vec<&Vec<f32>> = chunk.iter().map(|p| &p.vectors[vname]).collect();
            batch_vectors.insert(vname.to_string(), json!(column));
        }
        let payloads: Vec<&Value> = chunk.iter().map(|p| &p.payload).collect();
        server
            .upsert(
                name,
                &json!({"batch": {"ids": ids, "vectors": batch_vectors, "payloads": payloads}}),
            )
            .await;
    }
}

/// Search, query, batch variants, count and scroll must agree with the oracle
/// for every filter form and all three distances, or users get silently wrong
/// results. This is the main correctness check of the read path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filtered_reads_match_brute_force_oracle() {
    let server = TestServer::start().await;
    let mut points = generate(N, SEED);
    load(&server, "big", &points).await;
    assert_eq!(server.count("big", None).await, N);
    // Every tenth point loses its `euc` vector: it must leave `euc` searches and
    // `has_vector` must see the difference, while the point itself stays.
    let without_euc: Vec<u64> = (0..N).filter(|i| i % 10 == 3).collect();
    let r = server
        .post(
            "/collections/big/points/vectors/delete?wait=true",
            &json!({"points": without_euc, "vector": ["euc"]}),
        )
        .await;
    r.ok();
    for id in &without_euc {
        points[*id as usize].vectors.remove("euc");
    }
    assert_eq!(server.count("big", None).await, N);

    let mut rng = XorShift::new(SEED ^ 0xABCDEF);
    let mut failures: Vec<String> = Vec::new();

    for (label, filter) in filters(&points) {
        let passing: Vec<&Point> = points
            .iter()
            .filter(|p| {
                matches_with(&filter, &p.id, &p.payload, &|name| {
                    p.vectors.contains_key(name)
                })
            })
            .collect();
        let filter_field = if filter == json!({}) {
            Value::Null
        } else {
            filter.clone()
        };
        // Guard the test itself: a filter that selects all or nothing proves little.
        if !matches!(label, "no filter" | "empty result") {
            assert!(
                !passing.is_empty() && passing.len() < points.len(),
                "test data problem: filter {label:?} selects {} of {} points",
                passing.len(),
                points.len()
            );
        }

        // count
        let mut body = json!({"exact": true});
        if !filter_field.is_null() {
            body["filter"] = filter_field.clone();
        }
        let r = server.post("/collections/big/points/count", &body).await;
        if r.status != 200 {
            failures.push(format!("[{label}] count: {}", r.describe()));
            continue;
        }
        let got = r.ok()["count"].as_u64();
        if got != Some(passing.len() as u64) {
            failures.push(format!(
                "[{label}] count: server {got:?}, oracle {}",
                passing.len()
            ));
        }

        // scroll every page: exactly the passing ids, ascending, with payloads.
        let mut extra = json!({"with_payload": true});
        if !filter_field.is_null() {
            extra["filter"] = filter_field.clone();
        }
        let scrolled = server.scroll_all("big", &extra, 750).await;
        let scrolled_ids: Vec<u64> = scrolled.iter().filter_map(|p| p["id"].as_u64()).collect();
        let want_ids: Vec<u64> = passing
            .iter()
            .map(|p| p.id.as_u64().expect("int id"))
            .collect();
        if scrolled_ids != want_ids {
            let got: HashSet<u64> = scrolled_ids.iter().copied().collect();
            let want: HashSet<u64> = want_ids.iter().copied().collect();
            let extra_ids: Vec<_> = got.difference(&want).take(5).collect();
            let missing: Vec<_> = want.difference(&got).take(5).collect();
            failures.push(format!(
                "[{label}] scroll: {} ids (want {}), extra e.g. {extra_ids:?}, missing e.g. {missing:?}, sorted {}",
                scrolled_ids.len(),
                want_ids.len(),
                scrolled_ids.windows(2).all(|w| w[0] < w[1])
            ));
        } else if let Some(bad) = scrolled
            .iter()
            .zip(&passing)
            .find(|(got, want)| got["payload"] != want.payload)
        {
            failures.push(format!(
                "[{label}] scroll payload of {}: got {}, stored {}",
                bad.1.id, bad.0["payload"], bad.1.payload
            ));
        }

        // ranked reads on every named vector
        for (vname, metric) in VECTORS {
            let query = rng.vector(DIM);
            let candidates: HashMap<String, f64> = passing
                .iter()
                .filter_map(|p| {
                    Some((
                        p.id.to_string(),
                        metric.score(p.vectors.get(vname)?, &query),
                    ))
                })
                .collect();
            let limit = 10;

            let mut search = json!({"vector": {"name": vname, "vector": query}, "limit": limit, "with_payload": true});
            let mut q =
                json!({"query": query, "using": vname, "limit": limit, "with_payload": true});
            let mut q_offset =
                json!({"query": {"nearest": query}, "using": vname, "limit": 7, "offset": 5});
            if !filter_field.is_null() {
                search["filter"] = filter_field.clone();
                q["filter"] = filter_field.clone();
                q_offset["filter"] = filter_field.clone();
            }

            let r = server.post("/collections/big/points/search", &search).await;
            match r.status {
                200 => {
                    let answer = r.ok().as_array().cloned().unwrap_or_default();
                    if let Err(e) = check_ranking(metric, &answer, &candidates, 0, limit) {
                        failures.push(format!("[{label}] search {vname}: {e}"));
                    }
                    if let Some(p) = answer.iter().find(|p| {
                        let id = p["id"].as_u64().unwrap_or(u64::MAX) as usize;
                        points.get(id).is_none_or(|src| p["payload"] != src.payload)
                    }) {
                        failures.push(format!(
                            "[{label}] search {vname}: payload mismatch for {p}"
                        ));
                    }
                    if let Some(p) = answer.iter().find(|p| !p["version"].is_u64()) {
                        failures.push(format!(
                            "[{label}] search {vname}: ScoredPoint without version: {p}"
                        ));
                    }
                }
                _ => failures.push(format!("[{label}] search {vname}: {}", r.describe())),
            }

            let r = server.post("/collections/big/points/query", &q).await;
            match r.status {
                200 => {
                    let answer = r.ok()["points"].as_array().cloned().unwrap_or_default();
                    if let Err(e) = check_ranking(metric, &answer, &candidates, 0, limit) {
                        failures.push(format!("[{label}] query {vname}: {e}"));
                    }
                }
                _ => failures.push(format!("[{label}] query {vname}: {}", r.describe())),
            }

            let r = server
                .post("/collections/big/points/query", &q_offset)
                .await;
            match r.status {
                200 => {
                    let answer = r.ok()["points"].as_array().cloned().unwrap_or_default();
                    if let Err(e) = check_ranking(metric, &answer, &candidates, 5, 7) {
                        failures.push(format!("[{label}] query offset {vname}: {e}"));
                    }
                    if let Some(p) = answer
                        .iter()
                        .find(|p| p.get("payload").is_some_and(|x| !x.is_null()))
                    {
                        failures.push(format!(
                            "[{label}] query {vname}: payload returned though not asked: {p}"
                        ));
                    }
                }
                _ => failures.push(format!("[{label}] query offset {vname}: {}", r.describe())),
            }
        }
    }

    assert!(
        failures.is_empty(),
        "{} mismatches against the oracle (seed {SEED:#x}):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Batch endpoints, score thresholds and query-by-id on a smaller unnamed
/// collection: the default (unnamed) vector path that most users take.
#[tokio::test]
async fn unnamed_vector_batches_threshold_and_query_by_id() {
    let server = TestServer::start().await;
    let mut rng = XorShift::new(0xBA7C4);
    let dim = 8;
    let n = 2000u64;
    let data: Vec<(u64, Vec<f32>, Value)> = (0..n)
        .map(|i| (i, rng.vector(dim), json!({"bucket": i % 7})))
        .collect();
    server
        .create_collection(
            "plain",
            &json!({"vectors": {"size": dim, "distance": "Cosine"}}),
        )
        .await;
    for chunk in data.chunks(500) {
        let pts: Vec<Value> = chunk
            .iter()
            .map(|(id, v, p)| json!({"id": id, "vector": v, "payload": p}))
            .collect();
        server.upsert("plain", &json!({"points": pts})).await;
    }
    let metric = Metric::Cosine;
    let filter = json!({"must": [{"key": "bucket", "match": {"any": [1, 2]}}]});
    let oracle = |query: &[f32], filtered: bool, exclude: Option<u64>| -> HashMap<String, f64> {
        data.iter()
            .filter(|(id, _, p)| {
                (!filtered || matches(&filter, &json!(id), p)) && Some(*id) != exclude
            })
            .map(|(id, v, _)| (json!(id).to_string(), metric.score(v, query)))
            .collect()
    };

    let mut failures: Vec<String> = Vec::new();
    let q1 = rng.vector(dim);
    let q2 = rng.vector(dim);

    // search/batch: one answer list per request, in order.
    let r = server
        .post(
            "/collections/plain/points/search/batch",
            &json!({"searches": [
                {"vector": q1, "limit": 5},
                {"vector": q2, "limit": 8, "filter": filter}
            ]}),
        )
        .await;
    let answers = r
        .ok()
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("{}", r.describe()));
    assert_eq!(answers.len(), 2, "{}", r.describe());
    check_ranking(
        metric,
        answers[0].as_array().expect("list"),
        &oracle(&q1, false, None),
        0,
        5,
    )
    .unwrap_or_else(|e| failures.push(format!("search/batch[0]: {e}")));
    check_ranking(
        metric,
        answers[1].as_array().expect("list"),
        &oracle(&q2, true, None),
        0,
        8,
    )
    .unwrap_or_else(|e| failures.push(format!("search/batch[1]: {e}")));

    // query/batch
    let r = server
        .post(
            "/collections/plain/points/query/batch",
            &json!({"searches": [
                {"query": q1, "limit": 4, "filter": filter},
                {"query": q2, "limit": 6}
            ]}),
        )
        .await;
    let answers = r
        .ok()
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("{}", r.describe()));
    assert_eq!(answers.len(), 2, "{}", r.describe());
    check_ranking(
        metric,
        answers[0]["points"].as_array().expect("points"),
        &oracle(&q1, true, None),
        0,
        4,
    )
    .unwrap_or_else(|e| failures.push(format!("query/batch[0]: {e}")));
    check_ranking(
        metric,
        answers[1]["points"].as_array().expect("points"),
        &oracle(&q2, false, None),
        0,
        6,
    )
    .unwrap_or_else(|e| failures.push(format!("query/batch[1]: {e}")));

    // score_threshold: exactly the points at least that similar.
    let threshold = 0.6;
    let r = server
        .post(
            "/collections/plain/points/search",
            &json!({"vector": q1, "limit": 2000, "score_threshold": threshold}),
        )
        .await;
    let answer = r.ok().as_array().cloned().expect("list");
    let all = oracle(&q1, false, None);
    let surely = all.values().filter(|s| **s >= threshold + 1e-4).count();
    let maybe = all.values().filter(|s| **s >= threshold - 1e-4).count();
    if !(surely..=maybe).contains(&answer.len())
        || !answer
            .iter()
            .all(|p| p["score"].as_f64().unwrap_or(-9.0) >= threshold - 1e-4)
    {
        failures.push(format!(
            "score_threshold {threshold}: {} points, oracle {surely}..={maybe}",
            answer.len()
        ));
    }

    // Query by point id: nearest to that point's stored vector, the point itself
    // excluded (it is the query, not an answer).
    let anchor = 8u64; // bucket 1: passes the filter, so exclusion is observable
    let r = server
        .post(
            "/collections/plain/points/query",
            &json!({"query": anchor, "limit": 5, "filter": filter}),
        )
        .await;
    let answer = r.ok()["points"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("{}", r.describe()));
    let anchor_vec = data[anchor as usize].1.clone();
    check_ranking(
        metric,
        &answer,
        &oracle(&anchor_vec, true, Some(anchor)),
        0,
        5,
    )
    .unwrap_or_else(|e| failures.push(format!("query by id: {e}")));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every documented way to say "nearest to this": a bare vector, `nearest`
/// with a vector, a point id, `nearest` with a point id. The Python client's
/// `query_points` always sends the `{"nearest": ...}` object form.
#[tokio::test]
async fn query_accepts_every_nearest_form() {
    let server = TestServer::start().await;
    server
        .create_collection(
            "q",
            &json!({"vectors": {"v": {"size": 2, "distance": "Dot"}, "w": {"size": 3, "distance": "Dot"}}}),
        )
        .await;
    server
        .upsert(
            "q",
            &json!({"points": [
                {"id": 1, "vector": {"v": [1.0, 0.0], "w": [0.0, 0.0, 1.0]}},
                {"id": 2, "vector": {"v": [0.0, 1.0], "w": [0.0, 1.0, 0.0]}},
                {"id": 3, "vector": {"v": [0.9, 0.1], "w": [1.0, 0.0, 0.0]}}
            ]}),
        )
        .await;
    let cases = [
        (
            json!({"query": [1.0, 0.0], "using": "v", "limit": 1}),
            json!(1),
        ),
        (
            json!({"query": {"nearest": [1.0, 0.0]}, "using": "v", "limit": 1}),
            json!(1),
        ),
        (
            json!({"query": {"nearest": [0.0, 1.0, 0.0]}, "using": "w", "limit": 1}),
            json!(2),
        ),
        // By id: the nearest other point, never the point itself.
        (json!({"query": 1, "using": "v", "limit": 1}), json!(3)),
        (
            json!({"query": {"nearest": 1}, "using": "v", "limit": 1}),
            json!(3),
        ),
    ];
    let mut failures = Vec::new();
    for (body, want) in cases {
        let r = server.post("/collections/q/points/query", &body).await;
        if r.status != 200 || r.json["result"]["points"][0]["id"] != want {
            failures.push(format!("want id {want}: {}", r.describe()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// On a Cosine collection the score is the cosine similarity (in [-1, 1]) on
/// every read route, so thresholds mean the same everywhere. A query vector
/// that is not normalised must not inflate the score.
#[tokio::test]
async fn cosine_scores_are_similarities_on_every_route() {
    let server = TestServer::start().await;
    server
        .create_collection(
            "cos",
            &json!({"vectors": {"size": 2, "distance": "Cosine"}}),
        )
        .await;
    server
        .upsert(
            "cos",
            &json!({"points": [{"id": 1, "vector": [3.0, 4.0]}, {"id": 2, "vector": [-4.0, 3.0]}]}),
        )
        .await;
    let q = json!([6.0, 8.0]);
    let scores = [
        (
            "search",
            server
                .post(
                    "/collections/cos/points/search",
                    &json!({"vector": q, "limit": 2}),
                )
                .await,
        ),
        (
            "query",
            server
                .post(
                    "/collections/cos/points/query",
                    &json!({"query": q, "limit": 2}),
                )
                .await,
        ),
        (
            "search/batch",
            server
                .post(
                    "/collections/cos/points/search/batch",
                    &json!({"searches": [{"vector": q, "limit": 2}]}),
                )
                .await,
        ),
    ];
    let mut failures = Vec::new();
    for (route, r) in &scores {
        let points = match *route {
            "search" => r.json["result"].clone(),
            "query" => r.json["result"]["points"].clone(),
            _ => r.json["result"][0].clone(),
        };
        let got: Vec<(Value, f64)> = points
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|p| (p["id"].clone(), p["score"].as_f64().unwrap_or(f64::NAN)))
                    .collect()
            })
            .unwrap_or_default();
        let ok = got.len() == 2
            && got[0].0 == 1
            && (got[0].1 - 1.0).abs() < 1e-5
            && got[1].0 == 2
            && got[1].1.abs() < 1e-5;
        if !ok {
            failures.push(format!("{route}: want [(1, 1.0), (2, 0.0)], got {got:?}"));
        }
    }
    let r = server
        .post(
            "/collections/cos/points/search",
            &json!({"vector": q, "limit": 2, "score_threshold": 0.5}),
        )
        .await;
    if r.json["result"].as_array().map(|a| a.len()) != Some(1) {
        failures.push(format!(
            "score_threshold 0.5 keeps only the identical direction: {}",
            r.describe()
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
