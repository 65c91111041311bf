//! Index-assisted answers against full scans, and indexes kept current by
//! writes against indexes rebuilt from scratch.
//!
//! Random writes (upserts, deletes that move the last point, payload set /
//! overwrite / delete / clear, index creation and removal) run on a
//! [`PointStore`]; after each one the incremental indexes must equal a fresh
//! build, and for random filters the candidates must contain every match,
//! count and scroll through the indexes must equal a scan of every point,
//! and the estimate must bound the true count.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::collection::scroll_page;
use crate::segment::PointStore;

const FIELDS: [&str; 10] = ["k", "i", "f", "b", "d", "u", "g", "t", "o[].k", "o[].t"];

fn schema(field: &str, variant: u8) -> Value {
    match field {
        "k" | "o[].k" => json!("keyword"),
        "i" => match variant % 3 {
            0 => json!("integer"),
            1 => json!({"type": "integer", "lookup": false, "range": true}),
            _ => json!({"type": "integer", "lookup": true, "range": false}),
        },
        "f" => json!("float"),
        "b" => json!("bool"),
        "d" => json!("datetime"),
        "u" => json!("uuid"),
        "g" => json!("geo"),
        _ => match variant % 3 {
            0 => json!({"type": "text", "tokenizer": "word"}),
            1 => json!({"type": "text", "tokenizer": "prefix", "min_token_len": 2, "max_token_len": 4}),
            _ => json!({"type": "text", "tokenizer": "whitespace", "lowercase": false}),
        },
    }
}

/// A value of any type: every index must cope with values of other types.
fn arb_scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-3i64..4).prop_map(|n| json!(n)),
        (-3i64..4).prop_map(|n| json!(n as f64 + 0.5)),
        Just(json!(-0.0)),
        Just(json!(u64::MAX)),
        prop::sample::select(vec!["a", "b", "The quick fox", "2023-02-08", "550e8400-e29b-41d4-a716-446655440000"])
            .prop_map(|s| json!(s)),
        (-2i64..3, -2i64..3).prop_map(|(lon, lat)| json!({"lon": lon as f64 * 0.3, "lat": lat as f64 * 0.3})),
    ]
}

/// A value typical of `field`, now and then one of another type.
fn arb_typed(field: &'static str) -> BoxedStrategy<Value> {
    let typed: BoxedStrategy<Value> = match field {
        "k" => prop::sample::select(vec!["a", "b", "c", "A"]).prop_map(|s| json!(s)).boxed(),
        "i" | "f" => prop_oneof![(-3i64..4).prop_map(|n| json!(n)), (-3i64..4).prop_map(|n| json!(n as f64 + 0.5))].boxed(),
        "b" => any::<bool>().prop_map(Value::Bool).boxed(),
        "d" => prop::sample::select(vec![
            "2023-02-08",
            "2023-02-08T10:49:00Z",
            "2023-02-08T10:49:00.000000500Z",
            "2023-02-08T10:49:00.000001Z",
            "2023-02-08 11:49:00+01:00",
            "2024-01-01T00:00:00Z",
            "not a date",
        ])
        .prop_map(|s| json!(s))
        .boxed(),
        "u" => prop::sample::select(vec![
            "550e8400-e29b-41d4-a716-446655440000",
            "550E8400-E29B-41D4-A716-446655440000",
            "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
            "x",
        ])
        .prop_map(|s| json!(s))
        .boxed(),
        "g" => prop_oneof![
            (-3i64..4, -3i64..4).prop_map(|(lon, lat)| json!({"lon": lon as f64 * 0.3, "lat": lat as f64 * 0.3})),
            Just(json!({"lon": 179.99, "lat": 0.0})),
            Just(json!({"lon": -179.99, "lat": 0.5})),
            Just(json!({"lon": 500.0, "lat": 0.0})),
        ]
        .boxed(),
        _ => prop::sample::select(vec!["The quick fox", "quick-brown Fox", "fox", "foxes", "Quick", "brown fox jumps", "a"])
            .prop_map(|s| json!(s))
            .boxed(),
    };
    let one = prop_oneof![4 => typed, 1 => arb_scalar()];
    prop_oneof![
        4 => one.clone(),
        1 => prop::collection::vec(one, 0..4).prop_map(Value::Array),
    ]
    .boxed()
}

fn arb_payload() -> impl Strategy<Value = Payload> {
    let fields = ["k", "i", "f", "b", "d", "u", "g", "t", "x"];
    let present = prop::collection::vec(any::<bool>(), fields.len());
    let values: Vec<BoxedStrategy<Value>> = fields.iter().map(|f| arb_typed(f)).collect();
    let element = (prop::option::of(arb_typed("k")), prop::option::of(arb_typed("t")));
    (present, values, prop::option::of(prop::collection::vec(element, 0..3))).prop_map(move |(present, values, objects)| {
        let mut payload = Payload::new();
        for ((field, value), keep) in fields.iter().zip(values).zip(present) {
            if keep {
                payload.insert(field.to_string(), value);
            }
        }
        if let Some(objects) = objects {
            let objects: Vec<Value> = objects
                .into_iter()
                .map(|(k, t)| {
                    let mut o = serde_json::Map::new();
                    o.extend(k.map(|k| ("k".to_string(), k)));
                    o.extend(t.map(|t| ("t".to_string(), t)));
                    Value::Object(o)
                })
                .collect();
            payload.insert("o".into(), Value::Array(objects));
        }
        payload
    })
}

fn field_condition(k: &str, body: Value) -> Value {
    let mut c = json!({"key": k});
    c.as_object_mut().unwrap().extend(body.as_object().unwrap().clone());
    c
}

/// A condition body typical of `field`.
fn arb_typed_condition(field: &'static str) -> BoxedStrategy<Value> {
    let bodies: Vec<Value> = match field {
        "k" => vec![
            json!({"match": {"value": "a"}}),
            json!({"match": {"any": ["b", "c"]}}),
            json!({"match": {"any": []}}),
            json!({"match": {"except": ["a"]}}),
            json!({"match": {"value": 1}}),
        ],
        "i" | "f" => vec![
            json!({"match": {"value": 1}}),
            json!({"match": {"any": [-3, 0, 2]}}),
            json!({"range": {"gte": -1, "lte": 1}}),
            json!({"range": {"gt": 0.5, "lt": 2}}),
            json!({"range": {"gt": -0.0}}),
            json!({"range": {"gte": 0}}),
            json!({"range": {"lte": 0.0}}),
            json!({"range": {"gte": 0.5, "gt": 0.5}}),
            json!({"range": {"lt": 1, "lte": 0.5}}),
            json!({"range": {"gte": 3, "lte": -3}}),
            json!({"values_count": {"gte": 2}}),
        ],
        "b" => vec![json!({"match": {"value": true}}), json!({"match": {"value": false}}), json!({"is_empty": false})],
        "d" => vec![
            json!({"range": {"gt": "2023-02-08T10:49:00Z"}}),
            json!({"range": {"gt": "2023-02-08T10:49:00.0000005Z"}}),
            json!({"range": {"lt": "2023-02-08T10:49:00.0000005Z"}}),
            json!({"range": {"gte": "2023-02-08T10:49:00Z", "lt": "2023-02-08T10:49:00.000001Z"}}),
            json!({"range": {"lte": "2023-06-01"}}),
            json!({"match": {"value": "2023-02-08"}}),
        ],
        "u" => vec![
            json!({"match": {"value": "550e8400-e29b-41d4-a716-446655440000"}}),
            json!({"match": {"any": ["550E8400-E29B-41D4-A716-446655440000", "6ba7b810-9dad-11d1-80b4-00c04fd430c8"]}}),
            json!({"match": {"value": "x"}}),
        ],
        "g" => vec![
            json!({"geo_radius": {"center": {"lon": 0.0, "lat": 0.0}, "radius": 50_000.0}}),
            json!({"geo_radius": {"center": {"lon": 0.3, "lat": 0.3}, "radius": 120_000.0}}),
            json!({"geo_radius": {"center": {"lon": 180.0, "lat": 0.0}, "radius": 80_000.0}}),
            json!({"geo_bounding_box": {"top_left": {"lon": 179.0, "lat": 1.0}, "bottom_right": {"lon": -179.0, "lat": -0.1}}}),
            json!({"geo_bounding_box": {"top_left": {"lon": -0.4, "lat": 0.7}, "bottom_right": {"lon": 0.4, "lat": -0.4}}}),
            json!({"geo_polygon": {"exterior": {"points": [
                {"lon": -0.7, "lat": -0.7}, {"lon": 0.7, "lat": -0.7}, {"lon": 0.0, "lat": 0.7}, {"lon": -0.7, "lat": -0.7}
            ]}}}),
        ],
        _ => vec![
            json!({"match": {"text": "fox"}}),
            json!({"match": {"text": "quick fox"}}),
            json!({"match": {"text": "Quick"}}),
            json!({"match": {"text": "qui"}}),
            json!({"match": {"text": ""}}),
            json!({"match": {"text_any": "fox cat"}}),
            json!({"match": {"text_any": "Fox"}}),
            json!({"match": {"phrase": "quick fox"}}),
            json!({"match": {"phrase": "brown fox"}}),
            json!({"match": {"text": "fox"}, "range": {"gte": 1}}),
            json!({"match": {"value": "fox"}}),
        ],
    };
    prop::sample::select(bodies).prop_map(move |body| field_condition(field, body)).boxed()
}

fn arb_condition() -> impl Strategy<Value = Value> {
    let typed = prop::sample::select(vec!["k", "i", "f", "b", "d", "u", "g", "t", "x"]).prop_flat_map(|field| {
        // Now and then a condition meant for another field's type.
        let other = prop::sample::select(vec!["k", "i", "d", "g", "t"])
            .prop_flat_map(move |of| arb_typed_condition(of).prop_map(move |c| {
                let mut c = c;
                c["key"] = json!(field);
                c
            }));
        prop_oneof![4 => arb_typed_condition(field), 1 => other]
    });
    let leaf = prop_oneof![
        8 => typed,
        1 => prop::sample::select(vec![json!({"has_id": [1, 3, 99]}), json!({"has_id": []}), json!({"has_vector": ""})]),
        2 => prop::sample::select(vec![
            json!({"nested": {"key": "o", "filter": {"must": [{"key": "k", "match": {"value": "a"}}]}}}),
            json!({"nested": {"key": "o", "filter": {"must": [{"key": "t", "match": {"text": "quick fox"}}]}}}),
            json!({"nested": {"key": "o", "filter": {"must": [{"key": "k", "match": {"value": "a"}}, {"key": "t", "match": {"text_any": "fox"}}]}}}),
            json!({"nested": {"key": "o[]", "filter": {"should": [{"key": "k", "match": {"any": ["b"]}}, {"has_id": [1]}]}}}),
            json!({"nested": {"key": "o", "filter": {"must_not": [{"key": "k", "match": {"value": "a"}}]}}}),
            json!({"key": "o[].t", "match": {"text_any": "fox"}}),
            json!({"key": "o[].k", "match": {"value": "b"}}),
        ]),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(|cs| json!({"must": cs})),
            prop::collection::vec(inner.clone(), 0..3).prop_map(|cs| json!({"should": cs})),
            prop::collection::vec(inner.clone(), 0..3).prop_map(|cs| json!({"must_not": cs})),
            (prop::collection::vec(inner.clone(), 0..3), 0usize..3)
                .prop_map(|(cs, n)| json!({"min_should": {"conditions": cs, "min_count": n}})),
        ]
    })
}

fn arb_filter() -> impl Strategy<Value = Filter> {
    prop_oneof![
        arb_condition().prop_map(|a| json!({"must": [a]})),
        (arb_condition(), arb_condition()).prop_map(|(a, b)| json!({"must": [a, b]})),
        (arb_condition(), arb_condition()).prop_map(|(a, b)| json!({"should": [a, b]})),
    ]
    .prop_map(|f| serde_json::from_value(f).expect("generated filters parse"))
}

#[derive(Debug, Clone)]
enum Op {
    Upsert(u64, Payload),
    Delete(u64),
    Set(u64, Payload),
    SetAt(u64, Payload),
    Overwrite(u64, Payload),
    DeleteKeys(u64, Vec<&'static str>),
    Clear(u64),
    CreateIndex(&'static str, u8),
    DeleteIndex(&'static str),
}

fn arb_op() -> impl Strategy<Value = Op> {
    let id = 0u64..12;
    prop_oneof![
        6 => (id.clone(), arb_payload()).prop_map(|(i, p)| Op::Upsert(i, p)),
        2 => id.clone().prop_map(Op::Delete),
        2 => (id.clone(), arb_payload()).prop_map(|(i, p)| Op::Set(i, p)),
        1 => (id.clone(), arb_payload()).prop_map(|(i, p)| Op::SetAt(i, p)),
        1 => (id.clone(), arb_payload()).prop_map(|(i, p)| Op::Overwrite(i, p)),
        1 => (id.clone(), prop::collection::vec(prop::sample::select(vec!["k", "t", "o[].k", "o", "g"]), 1..3))
            .prop_map(|(i, k)| Op::DeleteKeys(i, k)),
        1 => id.prop_map(Op::Clear),
        2 => (prop::sample::select(FIELDS.to_vec()), any::<u8>()).prop_map(|(f, v)| Op::CreateIndex(f, v)),
        1 => prop::sample::select(FIELDS.to_vec()).prop_map(Op::DeleteIndex),
    ]
}

fn apply(store: &mut PointStore, op: &Op, seq: u64) {
    let offset = |store: &PointStore, id: u64| store.offsets.get(&PointId::Num(id)).map(|&o| o as usize);
    match op {
        Op::Upsert(id, payload) => store.upsert(PointId::Num(*id), BTreeMap::new(), payload.clone(), seq),
        Op::Delete(id) => {
            store.remove(&PointId::Num(*id));
        }
        Op::Set(id, values) | Op::SetAt(id, values) | Op::Overwrite(id, values) => {
            let Some(o) = offset(store, *id) else { return };
            let key: Option<JsonPath> = matches!(op, Op::SetAt(..)).then(|| "o[]".parse().unwrap());
            let overwrite = matches!(op, Op::Overwrite(..));
            store.update_payload(o, seq, |p| {
                if overwrite {
                    *p = values.clone();
                } else {
                    payload_path::set_at(p, key.as_ref(), values);
                }
            });
        }
        Op::DeleteKeys(id, keys) => {
            let Some(o) = offset(store, *id) else { return };
            store.update_payload(o, seq, |p| {
                for k in keys {
                    payload_path::delete_at(p, &k.parse().unwrap());
                }
            });
        }
        Op::Clear(id) => {
            let Some(o) = offset(store, *id) else { return };
            store.update_payload(o, seq, |p| *p = Payload::new());
        }
        Op::CreateIndex(field, variant) => {
            let schema: PayloadFieldSchema = serde_json::from_value(schema(field, *variant)).unwrap();
            store.create_payload_index(field, schema);
        }
        Op::DeleteIndex(field) => store.delete_payload_index(field),
    }
}

/// Offsets matching `filter`, by evaluating it on every point.
fn scan(store: &PointStore, filter: &Filter) -> Vec<u32> {
    (0..store.len()).filter(|&o| filter.matches(&store.view(o))).map(|o| o as u32).collect()
}

fn check_filter(store: &PointStore, filter: &Filter) -> Result<(), TestCaseError> {
    let expected = scan(store, filter);
    let total = store.len();
    if let Some(candidates) = store.field_indexes.candidates_unbounded(filter, &store.offsets, &store.shard_of, total) {
        prop_assert!(candidates.windows(2).all(|w| w[0] < w[1]), "candidates sorted and unique");
        for o in &expected {
            prop_assert!(candidates.binary_search(o).is_ok(), "match {o} missing from candidates {candidates:?}");
        }
        let counted = candidates.iter().filter(|&&o| filter.matches(&store.view(o as usize))).count();
        prop_assert_eq!(counted, expected.len());
        for (start, limit) in [(None, 3), (Some(PointId::Num(4)), 2), (None, 100)] {
            let by_index = scroll_page(store, Some(filter), start, limit, Some(candidates.clone()));
            let by_scan = scroll_page(store, Some(filter), start, limit, None);
            prop_assert_eq!(by_index, by_scan);
        }
    }
    let via_scan: Vec<u32> = store.filter_scan(Some(filter)).filter(|&o| filter.matches(&store.view(o))).map(|o| o as u32).collect();
    prop_assert_eq!(&via_scan, &expected);
    let estimate = store.estimate_cardinality(filter);
    prop_assert!(
        estimate.min <= expected.len() && expected.len() <= estimate.max && estimate.min <= estimate.exp && estimate.exp <= estimate.max,
        "estimate {:?} vs {} matches of {}",
        estimate,
        expected.len(),
        total
    );
    Ok(())
}

fn fresh_store() -> PointStore {
    let mut store = PointStore::default();
    for (n, field) in FIELDS.iter().enumerate() {
        let schema: PayloadFieldSchema = serde_json::from_value(schema(field, n as u8)).unwrap();
        store.create_payload_index(field, schema);
    }
    store
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// The central property: whatever the writes, indexes kept current equal
    /// indexes rebuilt from the payloads, and answers through them equal a
    /// scan of every point.
    #[test]
    fn indexed_answers_equal_full_scans(
        ops in prop::collection::vec(arb_op(), 1..40),
        filters in prop::collection::vec(arb_filter(), 4),
    ) {
        let mut store = fresh_store();
        for (seq, op) in ops.iter().enumerate() {
            apply(&mut store, op, seq as u64 + 1);
            let rebuilt = FieldIndexes::build(&store.payload_index, &store.payloads);
            prop_assert!(store.field_indexes == rebuilt, "after {:?} the indexes differ from a rebuild", op);
            if seq % 4 == 3 {
                for filter in &filters {
                    check_filter(&store, filter)?;
                }
            }
        }
        for filter in &filters {
            check_filter(&store, filter)?;
        }
    }

    /// Many points and no writes: more filters meet matches.
    #[test]
    fn filters_on_a_filled_store_equal_full_scans(
        payloads in prop::collection::vec(arb_payload(), 0..40),
        filter in arb_filter(),
    ) {
        let mut store = fresh_store();
        for (i, p) in payloads.into_iter().enumerate() {
            store.upsert(PointId::Num(i as u64), BTreeMap::new(), p, 1);
        }
        check_filter(&store, &filter)?;
    }
}

fn store_with(points: &[Value], indexes: &[(&str, Value)]) -> PointStore {
    let mut store = PointStore::default();
    for (field, schema) in indexes {
        store.create_payload_index(field, serde_json::from_value(schema.clone()).unwrap());
    }
    for (i, p) in points.iter().enumerate() {
        store.upsert(PointId::Num(i as u64), BTreeMap::new(), p.as_object().unwrap().clone(), 1);
    }
    store
}

fn filter(v: Value) -> Filter {
    serde_json::from_value(v).unwrap()
}

/// Prevents `payload_schema.points` counting points whose values the index
/// does not hold (Qdrant counts points with an indexed value), or drifting
/// when points are deleted and the last one moves into the hole.
#[test]
fn point_counts_follow_the_index_type() {
    let mut store = store_with(
        &[
            json!({"n": 1, "s": "a", "g": {"lon": 1, "lat": 2}}),
            json!({"n": 1.5, "s": ["a", "b"], "g": "nowhere"}),
            json!({"n": [2, "x"], "s": 3}),
            json!({"other": true}),
        ],
        &[("n", json!("integer")), ("s", json!("keyword")), ("g", json!("geo")), ("f", json!("float"))],
    );
    let counts = |store: &PointStore| {
        ["n", "s", "g", "f"].map(|f| store.field_indexes.points(f).unwrap())
    };
    assert_eq!(counts(&store), [2, 2, 1, 0]);
    store.remove(&PointId::Num(0));
    assert_eq!(counts(&store), [1, 1, 0, 0]);
    assert_eq!(store.field_indexes, FieldIndexes::build(&store.payload_index, &store.payloads));
    store.create_payload_index("f", serde_json::from_value(json!("float")).unwrap());
    store.create_payload_index("n", serde_json::from_value(json!("float")).unwrap());
    assert_eq!(store.field_indexes.points("n"), Some(2), "as a float index, 1.5 counts");
    store.delete_payload_index("n");
    assert_eq!(store.field_indexes.points("n"), None);
}

/// Prevents keyword and integer conditions reading through the index
/// answering anything but the exact points: candidates equal the matches.
#[test]
fn exact_lookups() {
    let store = store_with(
        &[json!({"k": "a", "i": 1}), json!({"k": ["b", "a"], "i": [2, 3]}), json!({"k": "c", "i": 1.0}), json!({})],
        &[("k", json!("keyword")), ("i", json!({"type": "integer", "range": false}))],
    );
    let candidates = |f: Value| store.field_indexes.candidates_unbounded(&filter(f), &store.offsets, &store.shard_of, store.len());
    assert_eq!(candidates(json!({"must": {"key": "k", "match": {"value": "a"}}})), Some(vec![0, 1]));
    assert_eq!(candidates(json!({"must": {"key": "k", "match": {"any": ["b", "c"]}}})), Some(vec![1, 2]));
    assert_eq!(candidates(json!({"must": {"key": "i", "match": {"value": 1}}})), Some(vec![0]));
    assert_eq!(
        candidates(json!({"must": [{"key": "k", "match": {"value": "a"}}, {"key": "i", "match": {"any": [3]}}]})),
        Some(vec![1])
    );
    assert_eq!(candidates(json!({"should": []})), Some(vec![]));
    assert_eq!(candidates(json!({"must": {"has_id": [2, 7]}})), Some(vec![2]));
    // A lookup-only integer index cannot answer ranges; an unindexed field nothing.
    assert_eq!(candidates(json!({"must": {"key": "i", "range": {"gte": 1}}})), None);
    assert_eq!(candidates(json!({"must": {"key": "zz", "match": {"value": 1}}})), None);
    assert_eq!(candidates(json!({"must_not": {"key": "k", "match": {"value": "a"}}})), None);
    let estimate = store.estimate_cardinality(&filter(json!({"must": {"key": "k", "match": {"value": "a"}}})));
    assert_eq!(estimate, Cardinality::exact(2));
}

/// Prevents the full-text semantics applying without a text index, or not
/// applying with one: Qdrant matches tokens with an index, substrings without.
#[test]
fn text_index_switches_to_token_matching() {
    let points = [json!({"t": "The Quick fox"}), json!({"t": ["quickly", "Fox"]}), json!({"t": "foxes"})];
    let count = |store: &PointStore, f: Value| scan(store, &filter(f)).len();
    let plain = store_with(&points, &[]);
    let indexed = store_with(&points, &[("t", json!({"type": "text", "tokenizer": "word"}))]);
    let text = |q: &str| json!({"must": {"key": "t", "match": {"text": q}}});
    assert_eq!(count(&plain, text("fox")), 2, "substring, case-sensitive");
    assert_eq!(count(&indexed, text("fox")), 2, "token, lowercased: 'foxes' is another token");
    assert_eq!(count(&plain, text("Quick fox")), 1);
    assert_eq!(count(&indexed, text("quick FOX")), 1);
    assert_eq!(count(&indexed, text("quickly fox")), 1, "tokens pool across a field's values");
    assert_eq!(count(&indexed, json!({"must": {"key": "t", "match": {"phrase": "quick fox"}}})), 1);
    assert_eq!(count(&indexed, json!({"must": {"key": "t", "match": {"text_any": "fox nothing"}}})), 2);
    // Inside a nested condition, the index of `key[].field` applies.
    let nested = store_with(
        &[json!({"o": [{"t": "Quick fox"}]}), json!({"o": [{"t": "quick"}, {"t": "fox"}]})],
        &[("o[].t", json!({"type": "text"}))],
    );
    let f = json!({"must": {"nested": {"key": "o", "filter": {"must": {"key": "t", "match": {"text": "quick fox"}}}}}});
    assert_eq!(scan(&nested, &filter(f.clone())), vec![0]);
    // The index pools the elements: a superset, which the filter then narrows.
    assert_eq!(nested.field_indexes.candidates_unbounded(&filter(f), &nested.offsets, &nested.shard_of, 2), Some(vec![0, 1]));
}

/// Prevents a moved point (delete swaps the last point into the hole) keeping
/// its old offset in the postings.
#[test]
fn delete_repoints_the_moved_point() {
    let mut store = store_with(
        &[json!({"k": "a"}), json!({"k": "b"}), json!({"k": "c"})],
        &[("k", json!("keyword"))],
    );
    store.remove(&PointId::Num(0));
    let c = store.field_indexes.candidates_unbounded(
        &filter(json!({"must": {"key": "k", "match": {"value": "c"}}})),
        &store.offsets,
        &store.shard_of,
        store.len(),
    );
    assert_eq!(c, Some(vec![0]));
    assert_eq!(store.ids[0], PointId::Num(2));
}

/// Prevents a malformed index schema being accepted (and then silently not
/// built) while Qdrant refuses it.
#[test]
fn malformed_schemas_are_refused() {
    let bad = [
        json!({"type": "text", "tokenizer": "unknown"}),
        json!({"type": "text", "min_token_len": "two"}),
        json!({"type": "integer", "lookup": "yes"}),
    ];
    for schema in bad {
        let schema: PayloadFieldSchema = serde_json::from_value(schema.clone()).unwrap();
        assert!(check_schema(&schema).is_err(), "{schema:?}");
    }
    let good: PayloadFieldSchema = serde_json::from_value(json!({"type": "text", "on_disk": true, "stemmer": null})).unwrap();
    assert!(check_schema(&good).is_ok());
}

