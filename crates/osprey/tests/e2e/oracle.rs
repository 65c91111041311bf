//! A brute-force model of Qdrant's filter and scoring semantics.
//!
//! The oracle reads the very JSON filter that is sent to the server and decides
//! for each point, from the payload the test generated, whether it matches. It
//! follows Qdrant's documented rules:
//!
//! - a path `a.b` walks objects; `a[].b` walks every element of the array `a`;
//! - a field condition holds if any value at the path matches, where an array
//!   value is matched element by element (one level);
//! - `is_empty` holds for a missing key, `null` or `[]` (not `[null]`);
//! - `is_null` holds only for an explicit `null`;
//! - `should` needs one match, `must` all, `must_not` none, `min_should` at least
//!   `min_count`; a `nested` condition needs one array element matching the whole
//!   inner filter.
//!
//! The data sets are generated so no test depends on a corner where Qdrant's
//! behaviour is undocumented (for example `except` on a missing key). Datetimes
//! are generated and queried in one fixed RFC 3339 form (`YYYY-MM-DDTHH:MM:SSZ`),
//! whose text order is time order, so the oracle compares them as strings.

use serde_json::Value;

/// Values found at a payload path, with `[]` segments flattened.
pub fn values_at<'a>(payload: &'a Value, path: &str) -> Vec<&'a Value> {
    let mut current: Vec<&Value> = vec![payload];
    for segment in path.split('.') {
        let (name, flatten) = match segment.strip_suffix("[]") {
            Some(name) => (name, true),
            None => (segment, false),
        };
        let mut next = Vec::new();
        for value in current {
            if let Some(v) = value.get(name) {
                if flatten {
                    if let Some(items) = v.as_array() {
                        next.extend(items.iter());
                    }
                } else {
                    next.push(v);
                }
            }
        }
        current = next;
    }
    current
}

/// Does `filter` (a Qdrant `Filter` object) accept this point?
pub fn matches(filter: &Value, id: &Value, payload: &Value) -> bool {
    matches_with(filter, id, payload, &|_| true)
}

/// Like `matches`, with `has_vector` answering whether the point has a named vector.
pub fn matches_with(
    filter: &Value,
    id: &Value,
    payload: &Value,
    has_vector: &dyn Fn(&str) -> bool,
) -> bool {
    let condition = |c: &Value, id: &Value, payload: &Value| condition(c, id, payload, has_vector);
    let list = |key: &str| -> Vec<&Value> {
        match filter.get(key) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items.iter().collect(),
            Some(single) => vec![single],
        }
    };
    if filter.get("must").is_some_and(|v| !v.is_null())
        && !list("must").iter().all(|c| condition(c, id, payload))
    {
        return false;
    }
    if filter.get("should").is_some_and(|v| !v.is_null())
        && !list("should").iter().any(|c| condition(c, id, payload))
    {
        return false;
    }
    if list("must_not").iter().any(|c| condition(c, id, payload)) {
        return false;
    }
    if let Some(min) = filter.get("min_should").filter(|v| !v.is_null()) {
        let conditions = min["conditions"].as_array().expect("min_should.conditions");
        let need = min["min_count"].as_u64().expect("min_should.min_count") as usize;
        let hits = conditions
            .iter()
            .filter(|c| condition(c, id, payload))
            .count();
        if hits < need {
            return false;
        }
    }
    true
}

fn condition(c: &Value, id: &Value, payload: &Value, has_vector: &dyn Fn(&str) -> bool) -> bool {
    if let Some(key) = c.get("key").and_then(Value::as_str) {
        return field_condition(c, key, payload);
    }
    if let Some(field) = c.get("is_empty") {
        let key = field["key"].as_str().expect("is_empty.key");
        return values_at(payload, key)
            .iter()
            .all(|v| v.is_null() || v.as_array().is_some_and(|a| a.is_empty()));
    }
    if let Some(field) = c.get("is_null") {
        let key = field["key"].as_str().expect("is_null.key");
        return values_at(payload, key).iter().any(|v| v.is_null());
    }
    if let Some(ids) = c.get("has_id") {
        return ids.as_array().expect("has_id list").iter().any(|x| x == id);
    }
    if let Some(name) = c.get("has_vector") {
        return has_vector(name.as_str().expect("has_vector name"));
    }
    if let Some(nested) = c.get("nested") {
        let key = nested["key"].as_str().expect("nested.key");
        let inner = &nested["filter"];
        return values_at(payload, key)
            .iter()
            .flat_map(|v| match v {
                Value::Array(items) => items.iter().collect::<Vec<_>>(),
                other => vec![*other],
            })
            .filter(|v| v.is_object())
            .any(|element| matches_with(inner, id, element, has_vector));
    }
    // Anything else is a nested Filter used as a condition.
    matches_with(c, id, payload, has_vector)
}

fn field_condition(c: &Value, key: &str, payload: &Value) -> bool {
    let values = values_at(payload, key);
    if let Some(count) = c.get("values_count").filter(|v| !v.is_null()) {
        let n: u64 = values
            .iter()
            .map(|v| match v {
                Value::Array(items) => items.len() as u64,
                Value::Null => 0,
                _ => 1,
            })
            .sum();
        let ok = |k: &str, f: fn(u64, u64) -> bool| {
            count.get(k).and_then(Value::as_u64).is_none_or(|b| f(n, b))
        };
        return ok("lt", |a, b| a < b)
            && ok("gt", |a, b| a > b)
            && ok("lte", |a, b| a <= b)
            && ok("gte", |a, b| a >= b);
    }
    values.iter().any(|v| match v {
        Value::Array(items) => items.iter().any(|x| scalar_matches(c, x)),
        other => scalar_matches(c, other),
    })
}

fn scalar_matches(c: &Value, v: &Value) -> bool {
    if let Some(m) = c.get("match").filter(|m| !m.is_null()) {
        if let Some(expected) = m.get("value") {
            return match (v, expected) {
                (Value::String(a), Value::String(b)) => a == b,
                (Value::Bool(a), Value::Bool(b)) => a == b,
                (Value::Number(a), Value::Number(b)) => {
                    a.as_i64().is_some() && a.as_i64() == b.as_i64()
                }
                _ => false,
            };
        }
        if let Some(any) = m.get("any") {
            let list = any.as_array().expect("match.any list");
            return match v {
                Value::String(_) => list.contains(v),
                Value::Number(n) => n
                    .as_i64()
                    .is_some_and(|n| list.iter().any(|x| x.as_i64() == Some(n))),
                _ => false,
            };
        }
        if let Some(except) = m.get("except") {
            let list = except.as_array().expect("match.except list");
            return match v {
                Value::String(_) => !list.contains(v),
                Value::Number(n) => n
                    .as_i64()
                    .is_none_or(|n| !list.iter().any(|x| x.as_i64() == Some(n))),
                Value::Null => false,
                _ => true,
            };
        }
        if let Some(text) = m.get("text").and_then(Value::as_str) {
            return v.as_str().is_some_and(|s| s.contains(text));
        }
        panic!("oracle does not know match {m}");
    }
    if let Some(r) = c.get("range").filter(|r| !r.is_null()) {
        let is_datetime = ["lt", "gt", "lte", "gte"]
            .iter()
            .any(|k| r.get(*k).is_some_and(Value::is_string));
        if is_datetime {
            let Some(x) = v.as_str() else { return false };
            let bound = |k: &str| r.get(k).and_then(Value::as_str);
            return bound("lt").is_none_or(|b| x < b)
                && bound("gt").is_none_or(|b| x > b)
                && bound("lte").is_none_or(|b| x <= b)
                && bound("gte").is_none_or(|b| x >= b);
        }
        let Some(x) = v.as_f64() else { return false };
        let bound = |k: &str| r.get(k).and_then(Value::as_f64);
        return bound("lt").is_none_or(|b| x < b)
            && bound("gt").is_none_or(|b| x > b)
            && bound("lte").is_none_or(|b| x <= b)
            && bound("gte").is_none_or(|b| x >= b);
    }
    if let Some(geo) = c.get("geo_radius").filter(|g| !g.is_null()) {
        let Some((lon, lat)) = geo_point(v) else {
            return false;
        };
        let center = &geo["center"];
        let d = haversine_m(
            center["lon"].as_f64().expect("lon"),
            center["lat"].as_f64().expect("lat"),
            lon,
            lat,
        );
        return d < geo["radius"].as_f64().expect("radius");
    }
    if let Some(bbox) = c.get("geo_bounding_box").filter(|g| !g.is_null()) {
        let Some((lon, lat)) = geo_point(v) else {
            return false;
        };
        let tl = &bbox["top_left"];
        let br = &bbox["bottom_right"];
        return tl["lon"].as_f64().expect("lon") < lon
            && lon < br["lon"].as_f64().expect("lon")
            && br["lat"].as_f64().expect("lat") < lat
            && lat < tl["lat"].as_f64().expect("lat");
    }
    if let Some(poly) = c.get("geo_polygon").filter(|g| !g.is_null()) {
        let Some((lon, lat)) = geo_point(v) else {
            return false;
        };
        let ring: Vec<(f64, f64)> = poly["exterior"]["points"]
            .as_array()
            .expect("exterior points")
            .iter()
            .map(|p| {
                (
                    p["lon"].as_f64().expect("lon"),
                    p["lat"].as_f64().expect("lat"),
                )
            })
            .collect();
        return point_in_ring(lon, lat, &ring);
    }
    panic!("oracle does not know condition {c}");
}

fn geo_point(v: &Value) -> Option<(f64, f64)> {
    Some((v.get("lon")?.as_f64()?, v.get("lat")?.as_f64()?))
}

/// Great-circle distance in metres (mean Earth radius, as Qdrant's geo crate).
pub fn haversine_m(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    const R: f64 = 6_371_008.8;
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * R * a.sqrt().asin()
}

/// Even-odd ray casting; test data keeps points well away from edges.
fn point_in_ring(x: f64, y: f64, ring: &[(f64, f64)]) -> bool {
    let mut inside = false;
    let n = ring.len();
    for i in 0..n {
        let (xi, yi) = ring[i];
        let (xj, yj) = ring[(i + n - 1) % n];
        if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi {
            inside = !inside;
        }
    }
    inside
}

/// Distance functions as Qdrant reports scores.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Metric {
    Cosine,
    Dot,
    Euclid,
}

impl Metric {
    /// The score Qdrant returns for a stored vector against a query.
    pub fn score(self, stored: &[f32], query: &[f32]) -> f64 {
        match self {
            Metric::Dot => dot(stored, query),
            Metric::Cosine => {
                let n = norm(stored) * norm(query);
                if n == 0.0 {
                    0.0
                } else {
                    dot(stored, query) / n
                }
            }
            Metric::Euclid => stored
                .iter()
                .zip(query)
                .map(|(a, b)| (*a as f64 - *b as f64).powi(2))
                .sum::<f64>()
                .sqrt(),
        }
    }

    /// Is `a` a better score than `b`?
    pub fn better(self, a: f64, b: f64) -> bool {
        match self {
            Metric::Euclid => a < b,
            _ => a > b,
        }
    }

    /// Sort scores best first.
    pub fn sort(self, scores: &mut [f64]) {
        scores.sort_by(|a, b| {
            if self.better(*a, *b) {
                std::cmp::Ordering::Less
            } else if self.better(*b, *a) {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        });
    }
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
}

fn norm(a: &[f32]) -> f64 {
    dot(a, a).sqrt()
}

/// Tolerance between the server's f32 arithmetic and the oracle's f64.
pub const SCORE_EPS: f64 = 2e-3;

/// Check a ranked answer against the oracle.
///
/// `candidates` maps every point that passes the filter to its oracle score.
/// The answer must have the right length, contain only candidates, carry the
/// right score for each, be sorted best first, and at every rank have the score
/// the true ranking has there (which makes it the true top-k up to ties).
/// Returns a description of the first problem found.
pub fn check_ranking(
    metric: Metric,
    answer: &[Value],
    candidates: &std::collections::HashMap<String, f64>,
    offset: usize,
    limit: usize,
) -> Result<(), String> {
    let mut expected: Vec<f64> = candidates.values().copied().collect();
    metric.sort(&mut expected);
    let expected: Vec<f64> = expected.into_iter().skip(offset).take(limit).collect();
    if answer.len() != expected.len() {
        return Err(format!(
            "returned {} points, oracle expects {} ({} candidates, offset {offset}, limit {limit})",
            answer.len(),
            expected.len(),
            candidates.len()
        ));
    }
    let mut seen = std::collections::HashSet::new();
    let mut previous: Option<f64> = None;
    for (rank, point) in answer.iter().enumerate() {
        let id = point["id"].to_string();
        let score = point["score"]
            .as_f64()
            .ok_or_else(|| format!("rank {rank}: no numeric score in {point}"))?;
        if !seen.insert(id.clone()) {
            return Err(format!("rank {rank}: id {id} returned twice"));
        }
        let Some(truth) = candidates.get(&id) else {
            return Err(format!("rank {rank}: id {id} does not pass the filter"));
        };
        if (score - truth).abs() > SCORE_EPS {
            return Err(format!(
                "rank {rank}: id {id} has score {score}, oracle says {truth}"
            ));
        }
        if let Some(prev) = previous
            && metric.better(
                score,
                prev + if metric == Metric::Euclid {
                    -SCORE_EPS
                } else {
                    SCORE_EPS
                },
            )
        {
            return Err(format!(
                "rank {rank}: score {score} is better than the previous {prev}"
            ));
        }
        if (score - expected[rank]).abs() > SCORE_EPS {
            return Err(format!(
                "rank {rank}: score {score} but the true rank-{rank} score is {} (a better point was missed)",
                expected[rank]
            ));
        }
        previous = Some(score);
    }
    Ok(())
}
