//! Strategies for JSON trees shaped like Osprey's request bodies: filters,
//! queries, prefetch trees, update operations, payloads and key paths, with
//! some noise mixed in (random values, missing and unknown keys, wrong types).
//!
//! Numbers are integers, quarters, a few short decimals and the extremes; every
//! one survives a trip through JSON text exactly (serde_json's
//! `float_roundtrip`), so a property that compares a value with its re-read
//! copy fails on the engine, not on float printing.
//!
//! Every tree stays within [`MAX_DEPTH`] levels of nesting: very deep input is
//! refused by the engine's bounds (`osprey_engine::limits`), tested on its own
//! in `tests/engine/restriction.rs`, and is not what these properties look for.

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Map, Value, json};

/// The deepest nesting (arrays and objects) any generated tree may have.
pub const MAX_DEPTH: usize = 20;

pub type S = BoxedStrategy<Value>;

/// Nesting depth: 0 for a scalar, 1 for `[]` or `{"a": 1}`, and so on.
pub fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

// ---------------------------------------------------------------------------
// Scalars

/// Numbers: mostly small, sometimes at the edges of i64 / u64 / f64.
pub fn number() -> S {
    // Any f64: with serde_json's `float_roundtrip` every one reads back exactly
    // (see `decoders::range_bounds_read_back_exactly`).
    any_number().boxed()
}

fn any_number() -> S {
    prop_oneof![
        6 => (-5i64..50).prop_map(Value::from),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<u64>().prop_map(Value::from),
        1 => select(vec![
            json!(0), json!(-1), json!(i64::MIN), json!(i64::MAX), json!(u64::MAX),
            json!(1u64 << 53), json!(u64::from(u32::MAX) + 1), json!(u32::MAX),
        ]),
        3 => (-400i32..400).prop_map(|k| json!(f64::from(k) / 4.0)),
        1 => select(vec![0.1, -0.0, 1e10, 1e300, -1e300, 1.5e-7, 2.5, f64::MAX, f64::MIN, 3.4e38, 3.5e38])
            .prop_map(|f| json!(f)),
    ]
    .boxed()
}

/// A number usable as a small count or limit, sometimes not.
pub fn count() -> S {
    prop_oneof![
        6 => (0u64..20).prop_map(Value::from),
        1 => number(),
    ]
    .boxed()
}

/// Words, dates, ids, names of things and a little random text.
pub fn text() -> BoxedStrategy<String> {
    prop_oneof![
        4 => select(vec![
            "", "a", "b", "x", "y", "x y", "hello world", " ", "A", "Hello", "o w",
            "2023-01-01", "2024-02-29T12:00:00Z", "2023-02-08 10:49:00-0900",
            "2023-02-08T10:49:00+01:00", "2023-02-08 10:49", "2023-02-08T10:49:00.123456789",
            "+10000-01-01T00:00:00Z", "-0001-01-01T00:00:00Z", "2024-13-45", "0000-01-01",
            "2023-01-01T00:00:00+23:59", "9999-12-31T23:59:59.999999999Z",
            "550e8400-e29b-41d4-a716-446655440000", "{550e8400-e29b-41d4-a716-446655440000}",
            "urn:uuid:550e8400-e29b-41d4-a716-446655440000", "550e8400e29b41d4a716446655440000",
            "rrf", "dbsf", "random", "asc", "desc", "keyword", "integer", "float", "geo",
            "text", "bool", "datetime", "uuid", "average_vector", "best_score", "sum_scores",
            "Dot", "Cosine", "Euclid", "Manhattan", "v", "dense", "sparse", "multi",
            "ünïcödé", "日本語", "a.b", "a[]", "a[0]", "\"", "\\", "🦀", "\u{0}",
        ])
        .prop_map(String::from),
        2 => "[a-z]{1,3}",
        1 => "\\PC{0,12}",
        1 => "[\\x00-\\x1f\"\\\\]{0,3}",
    ]
    .boxed()
}

pub fn string() -> S {
    text().prop_map(Value::String).boxed()
}

pub fn scalar() -> S {
    prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        3 => number(),
        3 => string(),
    ]
    .boxed()
}

/// Object keys: the field names of the real shapes, and some others.
pub fn key_name() -> BoxedStrategy<String> {
    prop_oneof![
        4 => select(vec![
            "must", "should", "must_not", "min_should", "conditions", "min_count", "key",
            "match", "value", "any", "except", "text", "text_any", "phrase", "range", "lt",
            "gt", "gte", "lte", "geo_bounding_box", "geo_radius", "geo_polygon", "top_left",
            "bottom_right", "center", "radius", "exterior", "interiors", "points", "lon",
            "lat", "values_count", "is_empty", "is_null", "has_id", "has_vector", "nested",
            "filter", "query", "prefetch", "nearest", "mmr", "recommend", "discover",
            "context", "order_by", "fusion", "rrf", "formula", "sample", "using", "limit",
            "offset", "with_payload", "with_vector", "vector", "name", "indices", "values",
            "positive", "negative", "target", "strategy", "params", "id", "ids", "payload",
            "batch", "upsert", "delete", "set_payload", "a", "b", "c", "tags", "n",
        ])
        .prop_map(String::from),
        1 => text(),
    ]
    .boxed()
}

/// Any JSON value, at most five levels deep.
pub fn any_json() -> S {
    scalar()
        .prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                vec(inner.clone(), 0..4).prop_map(Value::Array),
                vec((key_name(), inner), 0..4).prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
        .boxed()
}

/// Mostly `good`, sometimes any value at all.
fn or_noise(good: S) -> S {
    prop_oneof![12 => good, 1 => any_json()].boxed()
}

/// An object with some of `fields` (each present with its probability) and
/// sometimes an unknown field.
pub fn object(fields: Vec<(&'static str, f64, S)>) -> S {
    let parts: Vec<BoxedStrategy<Option<(&'static str, Value)>>> = fields
        .into_iter()
        .map(|(name, p, s)| option::weighted(p, s.prop_map(move |v| (name, v))).boxed())
        .collect();
    (parts, option::weighted(0.05, (key_name(), any_json())))
        .prop_map(|(parts, extra)| {
            let mut map = Map::new();
            if let Some((k, v)) = extra {
                map.insert(k, v);
            }
            for (k, v) in parts.into_iter().flatten() {
                map.insert(k.to_string(), v);
            }
            Value::Object(map)
        })
        .boxed()
}

/// A list of `item`, or rarely something else.
fn list(item: S, max: usize) -> S {
    or_noise(vec(item, 0..max).prop_map(Value::Array).boxed())
}

/// One `item` or a list of them (the `OneOrMany` shapes).
fn one_or_many(item: S, max: usize) -> S {
    prop_oneof![
        1 => item.clone(),
        2 => vec(item, 0..max).prop_map(Value::Array),
    ]
    .boxed()
}

// ---------------------------------------------------------------------------
// Payloads and key paths

const PAYLOAD_KEYS: &[&str] = &["a", "b", "c", "n", "tags", "geo", "d", "x"];

fn payload_value() -> S {
    let leaf = prop_oneof![
        6 => scalar(),
        1 => geo_point_in_range(),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            vec((payload_key(), inner), 0..4).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
    .boxed()
}

fn payload_key() -> BoxedStrategy<String> {
    prop_oneof![
        6 => select(PAYLOAD_KEYS.to_vec()).prop_map(String::from),
        1 => select(vec!["a.b", "a[]", "\"q\"", "", " "]).prop_map(String::from),
        1 => text(),
    ]
    .boxed()
}

/// A point payload: a JSON object, up to five levels deep.
pub fn payload() -> BoxedStrategy<Map<String, Value>> {
    vec((payload_key(), payload_value()), 0..6)
        .prop_map(|kv| kv.into_iter().collect())
        .boxed()
}

pub fn payload_json() -> S {
    payload().prop_map(Value::Object).boxed()
}

/// A key path in text form: mostly valid (`a`, `a.b`, `a[].b`, `a[0]`,
/// `"dotted.key".b`), with up to `max_segments` segments after the first key,
/// sometimes arbitrary text.
pub fn key_path_with(max_segments: usize) -> BoxedStrategy<String> {
    let first = prop_oneof![
        6 => select(PAYLOAD_KEYS.to_vec()).prop_map(String::from),
        1 => "[a-zA-Z0-9_-]{1,6}",
        1 => "\"[^\"\\\\]{0,5}\"",
        1 => "[\\p{L}\\p{N}]{1,3}",
    ];
    let segment = prop_oneof![
        5 => select(PAYLOAD_KEYS.to_vec()).prop_map(|k| format!(".{k}")),
        1 => "\\.\"[^\"\\\\]{0,5}\"",
        3 => Just("[]".to_string()),
        2 => (0usize..4).prop_map(|i| format!("[{i}]")),
        1 => select(vec!["[18446744073709551615]", "[18446744073709551616]", "[007]", "[0]"])
            .prop_map(String::from),
    ];
    let valid = (first, vec(segment, 0..=max_segments)).prop_map(|(f, s)| f + &s.concat());
    prop_oneof![
        8 => valid,
        1 => "[a-z.\\[\\]\"0-9\\\\ ]{0,12}",
        1 => "\\PC{0,12}",
    ]
    .boxed()
}

pub fn key_path() -> BoxedStrategy<String> {
    key_path_with(4)
}

fn key() -> S {
    or_noise(key_path().prop_map(Value::String).boxed())
}

// ---------------------------------------------------------------------------
// Filters

fn geo_point_in_range() -> S {
    (-720i32..=720, -360i32..=360)
        .prop_map(|(lon, lat)| json!({"lon": f64::from(lon) / 4.0, "lat": f64::from(lat) / 4.0}))
        .boxed()
}

fn geo_point() -> S {
    prop_oneof![
        8 => geo_point_in_range(),
        1 => (number(), number()).prop_map(|(lon, lat)| json!({"lon": lon, "lat": lat})),
        1 => any_json(),
    ]
    .boxed()
}

/// A polygon ring: mostly closed (first point repeated last), sometimes not.
fn ring() -> S {
    prop_oneof![
        3 => vec(geo_point_in_range(), 3..6).prop_map(|mut points| {
            points.push(points[0].clone());
            json!({"points": points})
        }),
        1 => vec(geo_point(), 0..5).prop_map(|points| json!({"points": points})),
        1 => any_json(),
    ]
    .boxed()
}

fn range_bound() -> S {
    prop_oneof![
        4 => number(),
        2 => select(vec![
            "2023-01-01", "2024-02-29T12:00:00Z", "2023-02-08 10:49:00-0900", "2023-02-08 10:49",
            "2023-02-08T10:49:00.5", "+10000-01-01T00:00:00Z", "-0001-01-01T00:00:00Z",
            "2024-13-45", "yesterday", "9999-12-31T23:59:59.999999999Z",
        ])
        .prop_map(Value::from),
        1 => Just(Value::Null),
        1 => scalar(),
    ]
    .boxed()
}

fn bounds(value: S) -> S {
    object(vec![
        ("lt", 0.4, value.clone()),
        ("gt", 0.4, value.clone()),
        ("gte", 0.4, value.clone()),
        ("lte", 0.4, value),
    ])
}

fn any_list() -> S {
    prop_oneof![
        3 => vec(string(), 0..4).prop_map(Value::Array),
        3 => vec(number(), 0..4).prop_map(Value::Array),
        1 => vec(scalar(), 0..4).prop_map(Value::Array),
        1 => scalar(),
    ]
    .boxed()
}

fn match_body() -> S {
    or_noise(
        prop_oneof![
            4 => scalar().prop_map(|v| json!({"value": v})),
            2 => string().prop_map(|v| json!({"text": v})),
            2 => string().prop_map(|v| json!({"text_any": v})),
            2 => string().prop_map(|v| json!({"phrase": v})),
            3 => any_list().prop_map(|v| json!({"any": v})),
            3 => any_list().prop_map(|v| json!({"except": v})),
            1 => object(vec![
                ("value", 0.5, scalar()),
                ("text", 0.5, string()),
                ("any", 0.5, any_list()),
                ("except", 0.5, any_list()),
            ]),
        ]
        .boxed(),
    )
}

/// The parts of a field condition besides `key`.
fn field_parts() -> S {
    let geo_box = object(vec![("top_left", 0.95, geo_point()), ("bottom_right", 0.95, geo_point())]);
    let geo_radius = object(vec![("center", 0.95, geo_point()), ("radius", 0.95, number())]);
    let geo_polygon = object(vec![("exterior", 0.95, ring()), ("interiors", 0.5, list(ring(), 3))]);
    let values_count = bounds(prop_oneof![4 => (0i64..5).prop_map(Value::from), 1 => number()].boxed());
    prop_oneof![
        5 => object(vec![("match", 0.95, match_body())]),
        3 => object(vec![("range", 0.95, or_noise(bounds(range_bound())))]),
        1 => object(vec![("geo_bounding_box", 0.95, or_noise(geo_box.clone()))]),
        1 => object(vec![("geo_radius", 0.95, or_noise(geo_radius.clone()))]),
        1 => object(vec![("geo_polygon", 0.95, or_noise(geo_polygon.clone()))]),
        2 => object(vec![("values_count", 0.95, or_noise(values_count.clone()))]),
        1 => object(vec![("is_empty", 0.95, or_noise(any::<bool>().prop_map(Value::Bool).boxed()))]),
        1 => object(vec![("is_null", 0.95, or_noise(any::<bool>().prop_map(Value::Bool).boxed()))]),
        // Several at once, or none at all.
        1 => object(vec![
            ("match", 0.3, match_body()),
            ("range", 0.3, bounds(range_bound())),
            ("geo_bounding_box", 0.2, geo_box),
            ("geo_radius", 0.2, geo_radius),
            ("geo_polygon", 0.2, geo_polygon),
            ("values_count", 0.3, values_count),
            ("is_empty", 0.3, any::<bool>().prop_map(Value::Bool).boxed()),
            ("is_null", 0.3, any::<bool>().prop_map(Value::Bool).boxed()),
        ]),
    ]
    .boxed()
}

pub fn point_id() -> S {
    prop_oneof![
        6 => (0u64..12).prop_map(Value::from),
        2 => select(vec![
            "550e8400-e29b-41d4-a716-446655440000", "00000000-0000-0000-0000-000000000000",
            "550E8400E29B41D4A716446655440000", "{550e8400-e29b-41d4-a716-446655440000}",
            "not-a-uuid", "", "5",
        ])
        .prop_map(Value::from),
        1 => select(vec![json!(-1), json!(1.5), json!(u64::MAX), json!(null)]),
    ]
    .boxed()
}

fn leaf_condition() -> S {
    prop_oneof![
        10 => (key(), field_parts()).prop_map(|(k, mut parts)| {
            if let Value::Object(map) = &mut parts {
                map.insert("key".into(), k);
            }
            parts
        }),
        1 => key().prop_map(|k| json!({"is_empty": {"key": k}})),
        1 => key().prop_map(|k| json!({"is_null": {"key": k}})),
        2 => list(point_id(), 4).prop_map(|ids| json!({"has_id": ids})),
        1 => or_noise(select(vec!["", "v", "dense", "sparse", "missing"]).prop_map(Value::from).boxed())
            .prop_map(|name| json!({"has_vector": name})),
        1 => any_json(),
    ]
    .boxed()
}

/// A filter object made of conditions from `condition`.
fn filter_of(condition: S) -> S {
    let clause = prop_oneof![
        6 => vec(condition.clone(), 0..3).prop_map(Value::Array),
        3 => condition.clone(),
        1 => Just(Value::Null),
    ]
    .boxed();
    let min_should = object(vec![
        ("conditions", 0.95, vec(condition, 0..3).prop_map(Value::Array).boxed()),
        ("min_count", 0.95, count()),
    ]);
    object(vec![
        ("must", 0.5, clause.clone()),
        ("should", 0.4, clause.clone()),
        ("must_not", 0.3, clause),
        ("min_should", 0.15, min_should),
    ])
}

/// One condition, possibly a nested filter or a `nested` condition holding one.
pub fn condition() -> S {
    leaf_condition()
        .prop_recursive(3, 12, 3, |inner| {
            let filter = filter_of(inner);
            prop_oneof![
                3 => filter.clone(),
                2 => (key(), filter).prop_map(|(k, f)| json!({"nested": {"key": k, "filter": f}})),
            ]
        })
        .boxed()
}

/// A filter object, as in `{"filter": ..}` of every request.
pub fn filter() -> S {
    filter_of(condition())
}

// ---------------------------------------------------------------------------
// Vectors and queries

fn float() -> S {
    prop_oneof![
        8 => (-40i32..40).prop_map(|k| json!(f64::from(k) / 4.0)),
        1 => number(),
    ]
    .boxed()
}

/// A dense vector, mostly of the sizes the test collections use (2 and 4).
pub fn dense(max: usize) -> S {
    prop_oneof![
        3 => vec(float(), 4..=4).prop_map(Value::Array),
        1 => vec(float(), 2..=2).prop_map(Value::Array),
        2 => list(float(), max),
    ]
    .boxed()
}

pub fn sparse() -> S {
    let index = prop_oneof![6 => (0u32..16).prop_map(Value::from), 1 => number()].boxed();
    object(vec![("indices", 0.95, list(index, 5)), ("values", 0.95, list(float(), 5))])
}

pub fn multi() -> S {
    list(dense(5), 3)
}

fn inference() -> S {
    object(vec![
        ("text", 0.5, string()),
        ("image", 0.2, string()),
        ("object", 0.1, any_json()),
        ("model", 0.9, string()),
        ("options", 0.1, any_json()),
    ])
}

/// A vector given in a query: dense, sparse, multi, a point id or a document.
pub fn vector_input() -> S {
    prop_oneof![
        4 => dense(6),
        1 => sparse(),
        1 => multi(),
        2 => point_id(),
        1 => inference(),
        1 => any_json(),
    ]
    .boxed()
}

fn vector_name() -> S {
    prop_oneof![
        4 => select(vec!["", "v", "dense", "sparse", "multi", "missing"]).prop_map(Value::from),
        1 => scalar(),
    ]
    .boxed()
}

fn context_pair() -> S {
    object(vec![("positive", 0.9, vector_input()), ("negative", 0.9, vector_input())])
}

fn order_by() -> S {
    prop_oneof![
        1 => key(),
        2 => object(vec![
            ("key", 0.95, key()),
            ("direction", 0.5, select(vec!["asc", "desc", "up"]).prop_map(Value::from).boxed()),
            ("start_from", 0.3, range_bound()),
        ]),
    ]
    .boxed()
}

fn strategy() -> S {
    select(vec!["average_vector", "best_score", "sum_scores", "worst"]).prop_map(Value::from).boxed()
}

/// The `query` of a universal query.
pub fn query() -> S {
    let recommend = object(vec![
        ("positive", 0.7, list(vector_input(), 3)),
        ("negative", 0.5, list(vector_input(), 3)),
        ("strategy", 0.4, strategy()),
    ]);
    let discover = object(vec![
        ("target", 0.9, vector_input()),
        ("context", 0.8, one_or_many(context_pair(), 3)),
    ]);
    let mmr = object(vec![("diversity", 0.7, float()), ("candidates_limit", 0.7, count())]);
    prop_oneof![
        4 => vector_input(),
        4 => vector_input().prop_map(|v| json!({"nearest": v})),
        1 => (vector_input(), mmr).prop_map(|(v, m)| json!({"nearest": v, "mmr": m})),
        2 => recommend.prop_map(|r| json!({"recommend": r})),
        2 => discover.prop_map(|d| json!({"discover": d})),
        1 => one_or_many(context_pair(), 3).prop_map(|c| json!({"context": c})),
        2 => order_by().prop_map(|o| json!({"order_by": o})),
        1 => select(vec!["rrf", "dbsf", "other"]).prop_map(|f| json!({"fusion": f})),
        1 => count().prop_map(|k| json!({"rrf": {"k": k}})),
        1 => any_json().prop_map(|f| json!({"formula": f})),
        1 => select(vec!["random", "other"]).prop_map(|s| json!({"sample": s})),
        1 => any_json().prop_map(|r| json!({"relevance_feedback": r})),
    ]
    .boxed()
}

pub fn params() -> S {
    object(vec![
        ("hnsw_ef", 0.4, count()),
        ("exact", 0.4, any::<bool>().prop_map(Value::Bool).boxed()),
        ("quantization", 0.1, any_json()),
        ("indexed_only", 0.2, any::<bool>().prop_map(Value::Bool).boxed()),
        ("acorn", 0.1, any_json()),
    ])
}

fn names() -> S {
    list(prop_oneof![3 => key(), 1 => string()].boxed(), 3)
}

pub fn with_payload() -> S {
    prop_oneof![
        3 => any::<bool>().prop_map(Value::Bool),
        2 => names(),
        1 => names().prop_map(|n| json!({"include": n})),
        1 => names().prop_map(|n| json!({"exclude": n})),
        1 => scalar(),
    ]
    .boxed()
}

pub fn with_vector() -> S {
    prop_oneof![
        3 => any::<bool>().prop_map(Value::Bool),
        2 => list(vector_name(), 3),
        1 => scalar(),
    ]
    .boxed()
}

fn lookup_from() -> S {
    object(vec![
        ("collection", 0.95, prop_oneof![3 => Just(json!("c")), 1 => string()].boxed()),
        ("vector", 0.5, vector_name()),
        ("shard_key", 0.1, any_json()),
    ])
}

fn prefetch_fields(prefetch: Option<S>) -> Vec<(&'static str, f64, S)> {
    let mut fields = vec![
        ("query", 0.8, query()),
        ("using", 0.3, vector_name()),
        ("filter", 0.4, filter()),
        ("params", 0.2, params()),
        ("score_threshold", 0.2, float()),
        ("limit", 0.5, count()),
        ("lookup_from", 0.1, lookup_from()),
    ];
    if let Some(prefetch) = prefetch {
        fields.push(("prefetch", 0.5, prefetch));
    }
    fields
}

/// A prefetch tree, up to three levels.
pub fn prefetch() -> S {
    object(prefetch_fields(None))
        .prop_recursive(2, 8, 2, |inner| object(prefetch_fields(Some(one_or_many(inner, 3)))))
        .boxed()
}

// ---------------------------------------------------------------------------
// Request bodies

fn flag() -> S {
    any::<bool>().prop_map(Value::Bool).boxed()
}

fn named_vector_struct() -> S {
    prop_oneof![
        3 => dense(6),
        1 => object(vec![("name", 0.9, vector_name()), ("vector", 0.9, dense(6))]),
        1 => object(vec![("name", 0.9, vector_name()), ("vector", 0.9, sparse())]),
        1 => any_json(),
    ]
    .boxed()
}

fn query_fields() -> Vec<(&'static str, f64, S)> {
    let mut fields = prefetch_fields(Some(one_or_many(prefetch(), 3)));
    fields.extend([
        ("offset", 0.2, count()),
        ("with_vector", 0.3, with_vector()),
        ("with_payload", 0.3, with_payload()),
        ("shard_key", 0.05, any_json()),
    ]);
    fields
}

fn groups_fields() -> Vec<(&'static str, f64, S)> {
    let with_lookup = prop_oneof![
        1 => string(),
        1 => object(vec![
            ("collection", 0.9, string()),
            ("with_payload", 0.5, with_payload()),
            ("with_vectors", 0.5, with_vector()),
        ]),
    ]
    .boxed();
    vec![
        ("group_by", 0.9, key()),
        ("group_size", 0.5, count()),
        ("limit", 0.5, count()),
        ("with_lookup", 0.2, with_lookup),
    ]
}

pub fn query_request() -> S {
    object(query_fields())
}

pub fn query_groups_request() -> S {
    let mut fields = query_fields();
    fields.retain(|(name, _, _)| *name != "offset" && *name != "limit");
    fields.extend(groups_fields());
    object(fields)
}

pub fn search_request() -> S {
    object(vec![
        ("vector", 0.9, named_vector_struct()),
        ("filter", 0.5, filter()),
        ("params", 0.2, params()),
        ("limit", 0.9, count()),
        ("offset", 0.2, count()),
        ("with_payload", 0.3, with_payload()),
        ("with_vector", 0.3, with_vector()),
        ("score_threshold", 0.2, float()),
    ])
}

pub fn search_groups_request() -> S {
    let mut fields = vec![
        ("vector", 0.9, named_vector_struct()),
        ("filter", 0.5, filter()),
        ("with_payload", 0.3, with_payload()),
    ];
    fields.extend(groups_fields());
    object(fields)
}

fn recommend_fields() -> Vec<(&'static str, f64, S)> {
    vec![
        ("positive", 0.8, list(vector_input(), 3)),
        ("negative", 0.4, list(vector_input(), 3)),
        ("strategy", 0.3, strategy()),
        ("filter", 0.5, filter()),
        ("params", 0.1, params()),
        ("with_payload", 0.2, with_payload()),
        ("with_vector", 0.2, with_vector()),
        ("score_threshold", 0.1, float()),
        ("using", 0.3, vector_name()),
        ("lookup_from", 0.1, lookup_from()),
    ]
}

pub fn recommend_request() -> S {
    let mut fields = recommend_fields();
    fields.extend([("limit", 0.9, count()), ("offset", 0.2, count())]);
    object(fields)
}

pub fn recommend_groups_request() -> S {
    let mut fields = recommend_fields();
    fields.extend(groups_fields());
    object(fields)
}

pub fn discover_request() -> S {
    object(vec![
        ("target", 0.8, vector_input()),
        ("context", 0.7, list(context_pair(), 3)),
        ("filter", 0.5, filter()),
        ("params", 0.1, params()),
        ("limit", 0.9, count()),
        ("offset", 0.2, count()),
        ("with_payload", 0.2, with_payload()),
        ("with_vector", 0.2, with_vector()),
        ("using", 0.3, vector_name()),
        ("lookup_from", 0.1, lookup_from()),
    ])
}

pub fn scroll_request() -> S {
    object(vec![
        ("offset", 0.3, point_id()),
        ("limit", 0.5, count()),
        ("filter", 0.6, filter()),
        ("with_payload", 0.3, with_payload()),
        ("with_vector", 0.3, with_vector()),
        ("order_by", 0.3, order_by()),
    ])
}

pub fn count_request() -> S {
    object(vec![("filter", 0.8, filter()), ("exact", 0.3, flag())])
}

pub fn facet_request() -> S {
    object(vec![
        ("key", 0.9, key()),
        ("limit", 0.5, count()),
        ("filter", 0.5, filter()),
        ("exact", 0.3, flag()),
    ])
}

pub fn point_request() -> S {
    object(vec![
        ("ids", 0.9, list(point_id(), 4)),
        ("with_payload", 0.4, with_payload()),
        ("with_vector", 0.4, with_vector()),
    ])
}

pub fn search_matrix_request() -> S {
    object(vec![
        ("filter", 0.5, filter()),
        ("sample", 0.5, count()),
        ("limit", 0.5, count()),
        ("using", 0.3, vector_name()),
    ])
}

/// `{"searches": [..]}` of the batch routes.
pub fn batch(request: S) -> S {
    object(vec![("searches", 0.95, vec(request, 0..3).prop_map(Value::Array).boxed())])
}

// ---------------------------------------------------------------------------
// Writes

/// All vectors of one point (`VectorStruct`).
fn vector_struct() -> S {
    let named = vec(
        (
            select(vec!["", "v", "dense", "sparse", "multi", "missing"]).prop_map(String::from),
            prop_oneof![3 => dense(5), 2 => sparse(), 1 => multi(), 1 => inference()],
        ),
        0..3,
    )
    .prop_map(|kv| Value::Object(kv.into_iter().collect()));
    prop_oneof![
        4 => dense(6),
        1 => multi(),
        3 => named,
        1 => any_json(),
    ]
    .boxed()
}

fn point_struct() -> S {
    object(vec![
        ("id", 0.95, point_id()),
        ("vector", 0.9, vector_struct()),
        ("payload", 0.6, prop_oneof![6 => payload_json(), 1 => Just(Value::Null)].boxed()),
    ])
}

fn batch_points() -> S {
    let vectors = prop_oneof![
        3 => list(dense(5), 4),
        1 => list(multi(), 3),
        2 => vec(
            (
                select(vec!["", "v", "dense", "sparse", "multi"]).prop_map(String::from),
                list(prop_oneof![dense(5), sparse(), multi()].boxed(), 4),
            ),
            0..3,
        )
        .prop_map(|kv| Value::Object(kv.into_iter().collect())),
    ]
    .boxed();
    object(vec![
        ("ids", 0.95, list(point_id(), 4)),
        ("vectors", 0.95, vectors),
        ("payloads", 0.5, list(prop_oneof![4 => payload_json(), 1 => Just(Value::Null)].boxed(), 4)),
    ])
}

fn update_mode() -> S {
    select(vec!["upsert", "insert_only", "update_only", "other"]).prop_map(Value::from).boxed()
}

pub fn point_insert_operations() -> S {
    prop_oneof![
        3 => object(vec![
            ("points", 0.95, list(point_struct(), 4)),
            ("update_filter", 0.2, filter()),
            ("update_mode", 0.2, update_mode()),
            ("shard_key", 0.05, any_json()),
        ]),
        2 => object(vec![
            ("batch", 0.95, batch_points()),
            ("update_filter", 0.2, filter()),
            ("update_mode", 0.2, update_mode()),
        ]),
    ]
    .boxed()
}

pub fn points_selector() -> S {
    prop_oneof![
        2 => object(vec![("points", 0.95, list(point_id(), 4)), ("shard_key", 0.05, any_json())]),
        2 => object(vec![("filter", 0.95, filter()), ("shard_key", 0.05, any_json())]),
    ]
    .boxed()
}

pub fn set_payload() -> S {
    object(vec![
        ("payload", 0.95, or_noise(payload_json())),
        ("points", 0.6, list(point_id(), 4)),
        ("filter", 0.4, filter()),
        ("key", 0.3, key()),
    ])
}

pub fn delete_payload() -> S {
    object(vec![
        ("keys", 0.95, names()),
        ("points", 0.6, list(point_id(), 4)),
        ("filter", 0.4, filter()),
    ])
}

pub fn update_vectors() -> S {
    let point = object(vec![("id", 0.95, point_id()), ("vector", 0.95, vector_struct())]);
    object(vec![("points", 0.95, list(point, 3)), ("update_filter", 0.2, filter())])
}

pub fn delete_vectors() -> S {
    object(vec![
        ("points", 0.6, list(point_id(), 4)),
        ("filter", 0.4, filter()),
        ("vector", 0.9, list(vector_name(), 3)),
    ])
}

pub fn field_schema() -> S {
    let kinds = select(vec!["keyword", "integer", "float", "geo", "text", "bool", "datetime", "uuid", "other"])
        .prop_map(Value::from)
        .boxed();
    prop_oneof![
        3 => kinds.clone(),
        2 => object(vec![
            ("type", 0.9, kinds),
            ("tokenizer", 0.3, select(vec!["word", "whitespace", "prefix", "multilingual", "x"]).prop_map(Value::from).boxed()),
            ("lowercase", 0.3, flag()),
            ("min_token_len", 0.2, count()),
            ("max_token_len", 0.2, count()),
            ("lookup", 0.2, flag()),
            ("range", 0.2, flag()),
            ("is_tenant", 0.1, flag()),
            ("is_principal", 0.1, flag()),
            ("on_disk", 0.1, flag()),
        ]),
    ]
    .boxed()
}

pub fn create_field_index() -> S {
    object(vec![("field_name", 0.95, key()), ("field_schema", 0.8, field_schema())])
}

/// One `UpdateOperation`: `{"upsert": ..}`, `{"delete": ..}`, ...
pub fn update_operation() -> S {
    prop_oneof![
        4 => point_insert_operations().prop_map(|b| json!({"upsert": b})),
        2 => points_selector().prop_map(|b| json!({"delete": b})),
        2 => set_payload().prop_map(|b| json!({"set_payload": b})),
        1 => set_payload().prop_map(|b| json!({"overwrite_payload": b})),
        2 => delete_payload().prop_map(|b| json!({"delete_payload": b})),
        1 => points_selector().prop_map(|b| json!({"clear_payload": b})),
        2 => update_vectors().prop_map(|b| json!({"update_vectors": b})),
        1 => delete_vectors().prop_map(|b| json!({"delete_vectors": b})),
    ]
    .boxed()
}

pub fn update_operations() -> S {
    object(vec![("operations", 0.95, list(update_operation(), 3))])
}

fn vector_params() -> S {
    object(vec![
        ("size", 0.95, count()),
        ("distance", 0.95, select(vec!["Dot", "Cosine", "Euclid", "Manhattan", "dot"]).prop_map(Value::from).boxed()),
        ("hnsw_config", 0.2, object(vec![("m", 0.5, count()), ("ef_construct", 0.5, count()), ("payload_m", 0.2, count())])),
        ("on_disk", 0.2, flag()),
        ("datatype", 0.2, select(vec!["float32", "float16", "uint8", "int4"]).prop_map(Value::from).boxed()),
        ("multivector_config", 0.2, object(vec![("comparator", 0.9, Just(json!("max_sim")).boxed())])),
        ("quantization_config", 0.1, any_json()),
    ])
}

pub fn create_collection() -> S {
    let named = vec((select(vec!["", "v", "dense", "a b", "x"]).prop_map(String::from), vector_params()), 0..3)
        .prop_map(|kv| Value::Object(kv.into_iter().collect()));
    let sparse = vec(
        (
            select(vec!["sparse", "s", "v"]).prop_map(String::from),
            object(vec![
                ("modifier", 0.3, select(vec!["idf", "none", "x"]).prop_map(Value::from).boxed()),
                ("index", 0.2, any_json()),
            ]),
        ),
        0..2,
    )
    .prop_map(|kv| Value::Object(kv.into_iter().collect()));
    object(vec![
        ("vectors", 0.9, prop_oneof![3 => vector_params(), 2 => named.boxed(), 1 => any_json()].boxed()),
        ("shard_number", 0.1, count()),
        ("replication_factor", 0.1, count()),
        ("write_consistency_factor", 0.1, count()),
        ("on_disk_payload", 0.2, flag()),
        ("hnsw_config", 0.2, object(vec![("m", 0.5, count()), ("ef_construct", 0.5, count()), ("full_scan_threshold", 0.3, count()), ("on_disk", 0.2, flag())])),
        ("wal_config", 0.2, object(vec![("wal_capacity_mb", 0.7, count()), ("wal_segments_ahead", 0.5, count())])),
        ("optimizers_config", 0.2, object(vec![
            ("deleted_threshold", 0.5, float()),
            ("vacuum_min_vector_number", 0.5, count()),
            ("default_segment_number", 0.5, count()),
            ("indexing_threshold", 0.5, count()),
            ("max_segment_size", 0.3, count()),
        ])),
        ("sparse_vectors", 0.3, sparse.boxed()),
        ("quantization_config", 0.1, any_json()),
        ("strict_mode_config", 0.1, any_json()),
        ("metadata", 0.1, payload_json()),
    ])
}

pub fn update_collection() -> S {
    object(vec![
        ("optimizers_config", 0.4, object(vec![("indexing_threshold", 0.5, count()), ("deleted_threshold", 0.5, float())])),
        ("params", 0.3, object(vec![("on_disk_payload", 0.5, flag()), ("replication_factor", 0.3, count())])),
        ("hnsw_config", 0.3, object(vec![("m", 0.5, count()), ("ef_construct", 0.5, count())])),
        ("vectors", 0.3, vec((select(vec!["", "v", "x"]).prop_map(String::from), object(vec![("on_disk", 0.5, flag()), ("hnsw_config", 0.5, object(vec![("m", 0.5, count())]))])), 0..2).prop_map(|kv| Value::Object(kv.into_iter().collect())).boxed()),
        ("metadata", 0.1, payload_json()),
    ])
}

pub fn change_aliases() -> S {
    let action = prop_oneof![
        object(vec![("create_alias", 0.95, object(vec![("collection_name", 0.9, string()), ("alias_name", 0.9, string())]))]),
        object(vec![("delete_alias", 0.95, object(vec![("alias_name", 0.9, string())]))]),
        object(vec![("rename_alias", 0.95, object(vec![("old_alias_name", 0.9, string()), ("new_alias_name", 0.9, string())]))]),
    ]
    .boxed();
    object(vec![("actions", 0.95, list(action, 3))])
}

// ---------------------------------------------------------------------------
// Mutation

/// One change to a tree: the node it applies to (an index into the tree's
/// nodes in pre-order, taken modulo their number), what to do, and a value.
#[derive(Debug, Clone)]
pub struct Mutation {
    node: u32,
    kind: u8,
    value: Value,
    name: String,
}

pub fn mutation() -> BoxedStrategy<Mutation> {
    (any::<u32>(), 0u8..6, prop_oneof![2 => scalar(), 1 => any_json()], key_name())
        .prop_map(|(node, kind, value, name)| Mutation { node, kind, value, name })
        .boxed()
}

/// `good`, then zero to three random changes: a node replaced, a key removed or
/// added, a node wrapped in an array or an array replaced by its first item.
pub fn mutated(good: S) -> S {
    (good, vec(mutation(), 0..4))
        .prop_map(|(mut value, mutations)| {
            for m in &mutations {
                apply(&mut value, m);
            }
            value
        })
        .boxed()
}

fn count_nodes(value: &Value) -> u32 {
    1 + match value {
        Value::Array(items) => items.iter().map(count_nodes).sum(),
        Value::Object(map) => map.values().map(count_nodes).sum(),
        _ => 0,
    }
}

fn nth_node<'a>(value: &'a mut Value, n: &mut u32) -> Option<&'a mut Value> {
    if *n == 0 {
        return Some(value);
    }
    *n -= 1;
    match value {
        Value::Array(items) => items.iter_mut().find_map(|v| nth_node(v, n)),
        Value::Object(map) => map.values_mut().find_map(|v| nth_node(v, n)),
        _ => None,
    }
}

fn apply(root: &mut Value, m: &Mutation) {
    let mut n = m.node % count_nodes(root);
    let Some(node) = nth_node(root, &mut n) else { return };
    match (m.kind, &mut *node) {
        (0, _) => *node = m.value.clone(),
        (1, Value::Object(map)) if !map.is_empty() => {
            let k = map.keys().nth(m.node as usize % map.len()).cloned();
            if let Some(k) = k {
                map.shift_remove(&k);
            }
        }
        (2, Value::Object(map)) => {
            map.insert(m.name.clone(), m.value.clone());
        }
        (3, _) => *node = Value::Array(vec![node.take()]),
        (4, Value::Array(items)) => *node = items.first().cloned().unwrap_or(Value::Null),
        (5, Value::Array(items)) => items.push(m.value.clone()),
        _ => *node = m.value.clone(),
    }
}

