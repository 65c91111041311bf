//! Round trips of the value types through both directions (property
//! tests), and the request conversions' edge cases (unit tests).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use osprey_engine::filter::{
    AnyVariants, Condition, DatetimeRange, FieldCondition, Filter, HasIdCondition,
    HasVectorCondition, IsEmptyCondition, IsNullCondition, Match, MatchAny, MatchExcept,
    MatchPhrase, MatchText, MatchTextAny, MatchValue, MinShould, Nested, NestedCondition,
    PayloadField, Range, RangeInterface, ValueVariants, ValuesCount,
};
use osprey_engine::geo::{GeoBoundingBox, GeoLineString, GeoPoint, GeoPolygon, GeoRadius};
use osprey_engine::payload_path::JsonPath;
use osprey_engine::requests::VectorInput;
use osprey_engine::types::{PointId, SparseVector, Vector, VectorStruct};
use proptest::prelude::*;
use qdrant_client::qdrant as proto;
use serde_json::{Value, json};
use tonic::Code;

use super::{from_proto, to_proto};

// ---- strategies -------------------------------------------------------------

fn point_id() -> impl Strategy<Value = PointId> {
    prop_oneof![
        any::<u64>().prop_map(PointId::Num),
        any::<u128>().prop_map(|n| PointId::Uuid(uuid::Uuid::from_u128(n))),
    ]
}

fn finite_f64() -> impl Strategy<Value = f64> {
    any::<f64>().prop_filter("finite", |f| f.is_finite())
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        finite_f64().prop_map(|f| json!(f)),
        "[a-zA-Z0-9 äß_]{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,4}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn component() -> impl Strategy<Value = f32> {
    -1000.0f32..1000.0
}

fn dense() -> impl Strategy<Value = Vec<f32>> {
    prop::collection::vec(component(), 0..8)
}

fn sparse() -> impl Strategy<Value = SparseVector> {
    prop::collection::vec((any::<u32>(), component()), 0..6).prop_map(|pairs| {
        let (indices, values) = pairs.into_iter().unzip();
        SparseVector { indices, values }
    })
}

/// Rows of one length, at least one row of at least one component: the
/// only multivectors the legacy flat form can carry.
fn multi() -> impl Strategy<Value = Vec<Vec<f32>>> {
    (1usize..4, 1usize..5).prop_flat_map(|(rows, dim)| {
        prop::collection::vec(prop::collection::vec(component(), dim), rows)
    })
}

fn vector() -> impl Strategy<Value = Vector> {
    prop_oneof![
        dense().prop_map(Vector::Dense),
        sparse().prop_map(Vector::Sparse),
        multi().prop_map(Vector::Multi)
    ]
}

fn key() -> impl Strategy<Value = JsonPath> {
    prop_oneof![
        "[a-z][a-z0-9_]{0,5}",
        "[a-z]{1,4}\\.[a-z]{1,4}",
        "[a-z]{1,4}\\[\\]\\.[a-z]{1,4}",
        "[a-z]{1,4}\\[[0-9]\\]"
    ]
    .prop_map(|s| s.parse().expect("generated keys are valid paths"))
}

fn datetime() -> impl Strategy<Value = DateTime<Utc>> {
    (0i64..4_000_000_000, 0u32..1_000_000_000)
        .prop_map(|(s, n)| DateTime::from_timestamp(s, n).unwrap())
}

fn geo_point() -> impl Strategy<Value = GeoPoint> {
    (-170.0f64..170.0, -80.0f64..80.0).prop_map(|(lon, lat)| GeoPoint { lon, lat })
}

fn square(center: GeoPoint, half: f64) -> GeoLineString {
    let p = |dx: f64, dy: f64| GeoPoint {
        lon: center.lon + dx,
        lat: center.lat + dy,
    };
    GeoLineString {
        points: vec![
            p(-half, -half),
            p(half, -half),
            p(half, half),
            p(-half, half),
            p(-half, -half),
        ],
    }
}

fn match_condition() -> impl Strategy<Value = Match> {
    let text = "[a-z ]{0,8}";
    prop_oneof![
        text.prop_map(|s| Match::Value(MatchValue {
            value: ValueVariants::String(s)
        })),
        any::<i64>().prop_map(|i| Match::Value(MatchValue {
            value: ValueVariants::Integer(i)
        })),
        any::<bool>().prop_map(|b| Match::Value(MatchValue {
            value: ValueVariants::Bool(b)
        })),
        text.prop_map(|text| Match::Text(MatchText { text })),
        text.prop_map(|text_any| Match::TextAny(MatchTextAny { text_any })),
        text.prop_map(|phrase| Match::Phrase(MatchPhrase { phrase })),
        prop::collection::vec(text, 0..4).prop_map(|v| Match::Any(MatchAny {
            any: AnyVariants::Strings(v.into_iter().collect())
        })),
        prop::collection::vec(any::<i64>(), 0..4).prop_map(|v| Match::Any(MatchAny {
            any: AnyVariants::Integers(v.into_iter().collect())
        })),
        prop::collection::vec(text, 0..4).prop_map(|v| Match::Except(MatchExcept {
            except: AnyVariants::Strings(v.into_iter().collect())
        })),
        prop::collection::vec(any::<i64>(), 0..4).prop_map(|v| Match::Except(MatchExcept {
            except: AnyVariants::Integers(v.into_iter().collect())
        })),
    ]
}

fn field_condition() -> impl Strategy<Value = FieldCondition> {
    let bound = || prop::option::of(finite_f64());
    let dt = || prop::option::of(datetime());
    let count = || prop::option::of(0usize..1000);
    prop_oneof![
        (key(), match_condition()).prop_map(|(k, m)| FieldCondition {
            r#match: Some(m),
            ..FieldCondition::new(k)
        }),
        (key(), bound(), bound(), bound(), bound()).prop_map(|(k, lt, gt, gte, lte)| {
            FieldCondition {
                range: Some(RangeInterface::Float(Range { lt, gt, gte, lte })),
                ..FieldCondition::new(k)
            }
        }),
        (key(), dt(), dt(), dt(), dt()).prop_map(|(k, lt, gt, gte, lte)| FieldCondition {
            range: Some(RangeInterface::DateTime(DatetimeRange { lt, gt, gte, lte })),
            ..FieldCondition::new(k)
        }),
        (key(), geo_point(), geo_point()).prop_map(|(k, top_left, bottom_right)| FieldCondition {
            geo_bounding_box: Some(GeoBoundingBox {
                top_left,
                bottom_right
            }),
            ..FieldCondition::new(k)
        }),
        (key(), geo_point(), 0.0f32..1e7).prop_map(|(k, center, radius)| FieldCondition {
            geo_radius: Some(GeoRadius {
                center,
                radius: f64::from(radius)
            }),
            ..FieldCondition::new(k)
        }),
        (key(), geo_point(), 0.5f64..5.0, any::<bool>()).prop_map(|(k, center, half, hole)| {
            FieldCondition {
                geo_polygon: Some(GeoPolygon {
                    exterior: square(center, half),
                    interiors: hole.then(|| vec![square(center, half / 4.0)]),
                }),
                ..FieldCondition::new(k)
            }
        }),
        (key(), count(), count(), count(), count()).prop_map(|(k, lt, gt, gte, lte)| {
            FieldCondition {
                values_count: Some(ValuesCount { lt, gt, gte, lte }),
                ..FieldCondition::new(k)
            }
        }),
        (key(), any::<bool>()).prop_map(|(k, b)| FieldCondition {
            is_empty: Some(b),
            ..FieldCondition::new(k)
        }),
        (key(), any::<bool>()).prop_map(|(k, b)| FieldCondition {
            is_null: Some(b),
            ..FieldCondition::new(k)
        }),
    ]
}

fn filter_of(condition: BoxedStrategy<Condition>) -> impl Strategy<Value = Filter> {
    let list = || prop::option::of(prop::collection::vec(condition.clone(), 1..3));
    let min_should = prop::option::of(
        (prop::collection::vec(condition.clone(), 0..3), 0usize..3).prop_map(
            |(conditions, min_count)| MinShould {
                conditions,
                min_count,
            },
        ),
    );
    (list(), min_should, list(), list()).prop_map(|(should, min_should, must, must_not)| Filter {
        should,
        min_should,
        must,
        must_not,
    })
}

fn condition() -> BoxedStrategy<Condition> {
    let leaf = prop_oneof![
        field_condition().prop_map(Condition::Field),
        key().prop_map(|key| Condition::IsEmpty(IsEmptyCondition {
            is_empty: PayloadField { key }
        })),
        key().prop_map(|key| Condition::IsNull(IsNullCondition {
            is_null: PayloadField { key }
        })),
        prop::collection::btree_set(point_id(), 0..4)
            .prop_map(|has_id| Condition::HasId(HasIdCondition { has_id })),
        "[a-z]{0,4}".prop_map(|has_vector| Condition::HasVector(HasVectorCondition { has_vector })),
    ];
    leaf.prop_recursive(3, 24, 3, |inner| {
        prop_oneof![
            filter_of(inner.clone()).prop_map(Condition::Filter),
            (key(), filter_of(inner)).prop_map(|(key, filter)| Condition::Nested(
                NestedCondition {
                    nested: Nested { key, filter }
                }
            )),
        ]
    })
    .boxed()
}

fn filter() -> impl Strategy<Value = Filter> {
    filter_of(condition())
}

/// The legacy request form of a vector, as older clients send it: the
/// fields of the answer form, copied.
#[allow(deprecated)]
fn legacy(output: proto::VectorOutput) -> proto::Vector {
    proto::Vector {
        data: output.data,
        indices: output.indices,
        vectors_count: output.vectors_count,
        vector: None,
    }
}

// ---- property tests -----------------------------------------------------------

proptest! {
    #[test]
    fn point_ids_round_trip(id in point_id()) {
        prop_assert_eq!(from_proto::value::point_id(to_proto::point_id(id)).unwrap(), id);
    }

    /// Every text form of a UUID reads as the same id; answers use the
    /// hyphenated lower-case form.
    #[test]
    fn uuid_text_forms_read_alike(n in any::<u128>()) {
        let u = uuid::Uuid::from_u128(n);
        for text in [u.simple().to_string(), u.braced().to_string(), u.urn().to_string(), u.hyphenated().to_string().to_uppercase()] {
            let id = proto::PointId { point_id_options: Some(proto::point_id::PointIdOptions::Uuid(text)) };
            prop_assert_eq!(from_proto::value::point_id(id).unwrap(), PointId::Uuid(u));
        }
    }

    #[test]
    fn payload_values_round_trip(value in json_value()) {
        let proto = to_proto::value::value(value.clone());
        let back = from_proto::value::value(proto.clone()).unwrap();
        prop_assert_eq!(&back, &value);
        prop_assert_eq!(to_proto::value::value(back), proto);
    }

    #[test]
    fn payloads_round_trip(map in prop::collection::btree_map("[a-z]{1,6}", json_value(), 0..6)) {
        let payload: serde_json::Map<String, Value> = map.into_iter().collect();
        let back = from_proto::value::payload(to_proto::value::payload(payload.clone())).unwrap();
        prop_assert_eq!(back, payload);
    }

    #[test]
    fn vectors_round_trip(v in vector()) {
        prop_assert_eq!(from_proto::vectors::vector(to_proto::vectors::vector(v.clone())).unwrap(), v);
    }

    /// What the server answers (legacy fields) reads back as the vector it was.
    #[test]
    fn answered_vectors_read_back(v in vector()) {
        let output = to_proto::vectors::vector_output(v.clone());
        prop_assert_eq!(from_proto::vectors::vector(legacy(output.clone())).unwrap(), v.clone());
        // ... and as the official client reads it.
        let client = match output.into_vector() {
            proto::vector_output::Vector::Dense(d) => proto::vector::Vector::Dense(d),
            proto::vector_output::Vector::Sparse(s) => proto::vector::Vector::Sparse(s),
            proto::vector_output::Vector::MultiDense(m) => proto::vector::Vector::MultiDense(m),
        };
        prop_assert_eq!(from_proto::vectors::vector(proto::Vector { vector: Some(client), ..Default::default() }).unwrap(), v);
    }

    #[test]
    fn point_vectors_round_trip(
        v in prop_oneof![
            dense().prop_map(VectorStruct::Single),
            multi().prop_map(VectorStruct::Multi),
            prop::collection::btree_map("[a-z]{0,4}", vector(), 0..4).prop_map(VectorStruct::Named),
        ]
    ) {
        prop_assert_eq!(from_proto::vectors::vector_struct(to_proto::vectors::vector_struct(v.clone())).unwrap(), v);
    }

    #[test]
    fn vector_inputs_round_trip(
        input in prop_oneof![
            dense().prop_map(VectorInput::Dense),
            sparse().prop_map(VectorInput::Sparse),
            multi().prop_map(VectorInput::Multi),
            point_id().prop_map(VectorInput::Id),
        ]
    ) {
        prop_assert_eq!(from_proto::vectors::vector_input(to_proto::vectors::vector_input(input.clone())).unwrap(), input);
    }

    /// engine -> proto -> engine is the identity, and so is proto -> engine
    /// -> proto on what the engine side produced.
    #[test]
    fn filters_round_trip(f in filter()) {
        let proto = to_proto::filter::filter(f.clone());
        let back = from_proto::filter::filter(proto.clone()).unwrap();
        prop_assert_eq!(&back, &f);
        prop_assert_eq!(to_proto::filter::filter(back), proto);
    }

    #[test]
    fn conditions_round_trip(c in condition()) {
        let back = from_proto::filter::condition(to_proto::filter::condition(c.clone())).unwrap();
        prop_assert_eq!(back, c);
    }
}

// ---- unit tests -----------------------------------------------------------------

fn code_of<T: std::fmt::Debug>(result: Result<T, tonic::Status>) -> (Code, String) {
    let status = result.unwrap_err();
    (status.code(), status.message().to_string())
}

fn field(key: &str, m: proto::r#match::MatchValue) -> proto::Condition {
    proto::Condition {
        condition_one_of: Some(proto::condition::ConditionOneOf::Field(
            proto::FieldCondition {
                key: key.into(),
                r#match: Some(proto::Match {
                    match_value: Some(m),
                }),
                ..Default::default()
            },
        )),
    }
}

/// Prevents 1.19+ features from being silently ignored: a 1.18 server would
/// not know them, and ignoring them would answer a different question.
#[test]
fn newer_fields_are_invalid_arguments() {
    use proto::r#match::MatchValue as M;
    let f = |c| proto::Filter {
        must: vec![c],
        ..Default::default()
    };
    let cases: Vec<(Result<Filter, tonic::Status>, &str)> = vec![
        (
            from_proto::filter::filter(f(field("a", M::Prefix("x".into())))),
            "Match.prefix",
        ),
        (
            from_proto::filter::filter(f(field("a", M::Substring("x".into())))),
            "Match.substring",
        ),
        (
            from_proto::filter::filter(f(proto::Condition {
                condition_one_of: Some(proto::condition::ConditionOneOf::Slice(
                    proto::SliceCondition { total: 2, index: 0 },
                )),
            })),
            "Condition.slice",
        ),
    ];
    for (result, field) in cases {
        let (code, message) = code_of(result);
        assert_eq!(code, Code::InvalidArgument);
        assert!(message.starts_with(field), "{message}");
    }

    let search = proto::SearchPoints {
        collection_name: "c".into(),
        vector: vec![1.0],
        limit: 1,
        params: Some(proto::SearchParams {
            idf: Some(proto::IdfParams { corpus: None }),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(code_of(from_proto::search(search)).0, Code::InvalidArgument);

    let text_query = proto::QueryPoints {
        collection_name: "c".into(),
        query: Some(proto::Query {
            variant: Some(proto::query::Variant::Text(proto::TextQuery::default())),
        }),
        ..Default::default()
    };
    let (code, message) = code_of(from_proto::query(text_query));
    assert_eq!(code, Code::InvalidArgument);
    assert!(message.contains("Query.text"), "{message}");

    let params = |p: proto::VectorParams| proto::CreateCollection {
        collection_name: "c".into(),
        vectors_config: Some(proto::VectorsConfig {
            config: Some(proto::vectors_config::Config::Params(p)),
        }),
        ..Default::default()
    };
    let base = proto::VectorParams {
        size: 4,
        distance: proto::Distance::Dot as i32,
        ..Default::default()
    };
    // Qdrant 1.19's `memory` placement of the rows is taken, as REST takes it.
    let memory = params(proto::VectorParams {
        memory: Some(proto::Memory::Cold as i32),
        ..base
    });
    let (_, created) = from_proto::create_collection(memory).unwrap();
    assert_eq!(
        serde_json::to_value(&created.vectors).unwrap()["memory"],
        serde_json::json!("cold")
    );
    let turbo8 = params(proto::VectorParams {
        datatype: Some(proto::Datatype::Turbo8 as i32),
        ..base
    });
    assert!(
        code_of(from_proto::create_collection(turbo8))
            .1
            .contains("Turbo8")
    );
    let storage = proto::CreateCollection {
        payload: Some(proto::PayloadStorageParams::default()),
        ..params(base)
    };
    assert!(
        code_of(from_proto::create_collection(storage))
            .1
            .contains("CreateCollection.payload")
    );
    // Turbo4 arrived in 1.18.2: accepted.
    let turbo4 = params(proto::VectorParams {
        datatype: Some(proto::Datatype::Turbo4 as i32),
        ..base
    });
    assert!(from_proto::create_collection(turbo4).is_ok());

    let code_tokenizer = proto::CreateFieldIndexCollection {
        collection_name: "c".into(),
        field_name: "t".into(),
        field_index_params: Some(proto::PayloadIndexParams {
            index_params: Some(proto::payload_index_params::IndexParams::TextIndexParams(
                proto::TextIndexParams {
                    tokenizer: proto::TokenizerType::Code as i32,
                    ..Default::default()
                },
            )),
        }),
        ..Default::default()
    };
    assert!(
        code_of(from_proto::create_field_index(code_tokenizer))
            .1
            .contains("TokenizerType.Code")
    );
}

/// Prevents the legacy multivector form from panicking on bad lengths.
#[test]
#[allow(deprecated)]
fn legacy_multivectors_need_divisible_data() {
    for (data, count) in [(vec![1.0, 2.0, 3.0], 2), (vec![1.0], 0), (vec![], 1)] {
        let v = proto::Vector {
            data,
            vectors_count: Some(count),
            ..Default::default()
        };
        assert_eq!(
            code_of(from_proto::vectors::vector(v)).0,
            Code::InvalidArgument
        );
    }
    let v = proto::Vector {
        data: vec![1.0, 2.0, 3.0, 4.0],
        vectors_count: Some(2),
        ..Default::default()
    };
    assert_eq!(
        from_proto::vectors::vector(v).unwrap(),
        Vector::Multi(vec![vec![1.0, 2.0], vec![3.0, 4.0]])
    );
}

/// Prevents an unnamed sparse vector from reaching the engine as a dense one.
#[test]
fn unnamed_sparse_vectors_are_refused() {
    let sparse = proto::Vector {
        vector: Some(proto::vector::Vector::Sparse(proto::SparseVector {
            values: vec![1.0],
            indices: vec![3],
        })),
        ..Default::default()
    };
    let vectors = proto::Vectors {
        vectors_options: Some(proto::vectors::VectorsOptions::Vector(sparse)),
    };
    assert_eq!(
        code_of(from_proto::vectors::vector_struct(vectors)).1,
        "Sparse vector must be named"
    );
}

/// Prevents a filter the engine would refuse from reaching access and
/// existence checks first: validation comes before both (spec §4).
#[test]
fn invalid_filters_fail_in_decoding() {
    let empty_field = proto::Condition {
        condition_one_of: Some(proto::condition::ConditionOneOf::Field(
            proto::FieldCondition {
                key: "a".into(),
                ..Default::default()
            },
        )),
    };
    let (code, message) = code_of(from_proto::filter::filter(proto::Filter {
        must: vec![empty_field],
        ..Default::default()
    }));
    assert_eq!(code, Code::InvalidArgument);
    assert!(
        message.contains("At least one field condition"),
        "{message}"
    );

    let both = proto::Condition {
        condition_one_of: Some(proto::condition::ConditionOneOf::Field(
            proto::FieldCondition {
                key: "a".into(),
                range: Some(proto::Range::default()),
                datetime_range: Some(proto::DatetimeRange::default()),
                ..Default::default()
            },
        )),
    };
    assert_eq!(
        code_of(from_proto::filter::condition(both)).0,
        Code::InvalidArgument
    );

    let bad_geo = proto::Condition {
        condition_one_of: Some(proto::condition::ConditionOneOf::Field(
            proto::FieldCondition {
                key: "a".into(),
                geo_radius: Some(proto::GeoRadius {
                    center: Some(proto::GeoPoint {
                        lon: 200.0,
                        lat: 0.0,
                    }),
                    radius: 1.0,
                }),
                ..Default::default()
            },
        )),
    };
    let (code, message) = code_of(from_proto::filter::filter(proto::Filter {
        must: vec![bad_geo],
        ..Default::default()
    }));
    assert_eq!(code, Code::InvalidArgument);
    assert!(message.contains("GeoPoint"), "{message}");

    assert_eq!(
        code_of(from_proto::filter::condition(proto::Condition::default())).0,
        Code::InvalidArgument
    );
}

/// Pins the REST JSON that collection settings reach the engine in.
#[test]
fn collection_settings_become_rest_json() {
    let request = proto::CreateCollection {
        collection_name: "docs".into(),
        vectors_config: Some(proto::VectorsConfig {
            config: Some(proto::vectors_config::Config::ParamsMap(
                proto::VectorParamsMap {
                    map: [(
                        "text".to_string(),
                        proto::VectorParams {
                            size: 8,
                            distance: proto::Distance::Cosine as i32,
                            datatype: Some(proto::Datatype::Float16 as i32),
                            ..Default::default()
                        },
                    )]
                    .into(),
                },
            )),
        }),
        wal_config: Some(proto::WalConfigDiff {
            wal_capacity_mb: Some(16),
            ..Default::default()
        }),
        optimizers_config: Some(proto::OptimizersConfigDiff {
            indexing_threshold: Some(0),
            max_optimization_threads: Some(proto::MaxOptimizationThreads {
                variant: Some(proto::max_optimization_threads::Variant::Value(2)),
            }),
            ..Default::default()
        }),
        quantization_config: Some(proto::QuantizationConfig {
            quantization: Some(proto::quantization_config::Quantization::Scalar(
                proto::ScalarQuantization {
                    r#type: proto::QuantizationType::Int8 as i32,
                    quantile: Some(0.99),
                    ..Default::default()
                },
            )),
        }),
        strict_mode_config: Some(proto::StrictModeConfig {
            enabled: Some(true),
            max_query_limit: Some(100),
            ..Default::default()
        }),
        ..Default::default()
    };
    let (name, create) = from_proto::create_collection(request).unwrap();
    assert_eq!(name, "docs");
    assert_eq!(create.wal_config, Some(json!({"wal_capacity_mb": 16})));
    assert_eq!(
        create.optimizers_config,
        Some(json!({"indexing_threshold": 0, "max_optimization_threads": 2}))
    );
    let q = create.quantization_config.clone().unwrap();
    assert_eq!(q["scalar"]["type"], "int8");
    assert!((q["scalar"]["quantile"].as_f64().unwrap() - 0.99).abs() < 1e-6);
    assert_eq!(
        create.strict_mode_config,
        Some(json!({"enabled": true, "max_query_limit": 100}))
    );

    // ... and the stored configuration reads back into the same messages.
    let config = osprey_engine::config::CollectionConfig::from_create(create).unwrap();
    let info = to_proto::collection_info(osprey_engine::CollectionInfo {
        status: "green".into(),
        optimizer_status: "ok".into(),
        indexed_vectors_count: 0,
        points_count: 3,
        segments_count: 1,
        config,
        payload_schema: BTreeMap::new(),
    });
    assert_eq!(info.status, proto::CollectionStatus::Green as i32);
    assert_eq!(info.points_count, Some(3));
    let config = info.config.unwrap();
    let params = config.params.unwrap();
    let Some(proto::vectors_config::Config::ParamsMap(map)) = params.vectors_config.unwrap().config
    else {
        panic!("named vectors expected");
    };
    assert_eq!(map.map["text"].size, 8);
    assert_eq!(
        map.map["text"].datatype,
        Some(proto::Datatype::Float16 as i32)
    );
    assert_eq!(config.wal_config.unwrap().wal_capacity_mb, Some(16));
    let quantization = config.quantization_config.unwrap().quantization.unwrap();
    assert!(
        matches!(quantization, proto::quantization_config::Quantization::Scalar(s) if s.quantile == Some(0.99))
    );
    assert_eq!(
        config.strict_mode_config.unwrap().max_query_limit,
        Some(100)
    );
    assert_eq!(
        config
            .optimizer_config
            .unwrap()
            .max_optimization_threads
            .unwrap()
            .variant,
        Some(proto::max_optimization_threads::Variant::Value(2))
    );
}

/// Pins payload index parameters: type from either field, REST JSON shape,
/// and refusal of a contradiction.
#[test]
fn payload_index_parameters() {
    use osprey_engine::operations::{PayloadFieldSchema, PayloadSchemaType};
    let keyword = proto::PayloadIndexParams {
        index_params: Some(
            proto::payload_index_params::IndexParams::KeywordIndexParams(
                proto::KeywordIndexParams {
                    is_tenant: Some(true),
                    ..Default::default()
                },
            ),
        ),
    };
    let request = |field_type: Option<proto::FieldType>,
                   params: Option<proto::PayloadIndexParams>| {
        proto::CreateFieldIndexCollection {
            collection_name: "c".into(),
            field_name: "city".into(),
            field_type: field_type.map(|t| t as i32),
            field_index_params: params,
            ..Default::default()
        }
    };
    let only_type =
        from_proto::create_field_index(request(Some(proto::FieldType::Integer), None)).unwrap();
    assert_eq!(
        only_type.operation.field_schema,
        Some(PayloadFieldSchema::Type(PayloadSchemaType::Integer))
    );
    let with_params = from_proto::create_field_index(request(
        Some(proto::FieldType::Keyword),
        Some(keyword.clone()),
    ))
    .unwrap();
    assert_eq!(
        with_params.operation.field_schema,
        Some(PayloadFieldSchema::Params(
            json!({"type": "keyword", "is_tenant": true})
        ))
    );
    assert!(!with_params.wait);
    let mismatch =
        from_proto::create_field_index(request(Some(proto::FieldType::Integer), Some(keyword)));
    assert_eq!(code_of(mismatch).0, Code::InvalidArgument);
}

/// Pins the REST shape of shard key selectors.
#[test]
fn shard_key_selectors() {
    use proto::shard_key::Key;
    let key = |k: Key| proto::ShardKey { key: Some(k) };
    let one = proto::ShardKeySelector {
        shard_keys: vec![key(Key::Keyword("a".into()))],
        fallback: None,
    };
    assert_eq!(
        from_proto::points::shard_key(Some(one)).unwrap(),
        Some(json!("a"))
    );
    let many = proto::ShardKeySelector {
        shard_keys: vec![key(Key::Keyword("a".into())), key(Key::Number(7))],
        fallback: None,
    };
    assert_eq!(
        from_proto::points::shard_key(Some(many)).unwrap(),
        Some(json!(["a", 7]))
    );
    let fallback = proto::ShardKeySelector {
        shard_keys: vec![key(Key::Number(1))],
        fallback: Some(key(Key::Number(2))),
    };
    assert_eq!(
        from_proto::points::shard_key(Some(fallback)).unwrap(),
        Some(json!({"target": 1, "fallback": 2}))
    );
    assert_eq!(from_proto::points::shard_key(None).unwrap(), None);
}

/// Pins how a search names its vector: dense by default, named, or sparse.
#[test]
fn search_vector_forms() {
    use osprey_engine::requests::NamedVectorStruct;
    let base = proto::SearchPoints {
        collection_name: "c".into(),
        vector: vec![0.5, 1.0],
        limit: 3,
        ..Default::default()
    };
    let plain = from_proto::search(base.clone()).unwrap().request;
    assert_eq!(plain.vector, NamedVectorStruct::Default(vec![0.5, 1.0]));
    let named = from_proto::search(proto::SearchPoints {
        vector_name: Some("img".into()),
        ..base.clone()
    })
    .unwrap()
    .request;
    assert_eq!(
        named.vector,
        NamedVectorStruct::Dense {
            name: "img".into(),
            vector: vec![0.5, 1.0]
        }
    );
    let sparse = from_proto::search(proto::SearchPoints {
        vector_name: Some("words".into()),
        sparse_indices: Some(proto::SparseIndices { data: vec![4, 9] }),
        ..base
    })
    .unwrap()
    .request;
    assert_eq!(
        sparse.vector,
        NamedVectorStruct::Sparse {
            name: "words".into(),
            vector: SparseVector {
                indices: vec![4, 9],
                values: vec![0.5, 1.0]
            }
        }
    );
}

/// Prevents `lookup_from` inside nested prefetches from escaping the
/// reference check: the decoded request must still name every collection.
#[test]
fn query_references_survive_decoding() {
    let lookup = |c: &str| {
        Some(proto::LookupLocation {
            collection_name: c.into(),
            ..Default::default()
        })
    };
    let request = proto::QueryPoints {
        collection_name: "c".into(),
        lookup_from: lookup("top"),
        prefetch: vec![proto::PrefetchQuery {
            prefetch: vec![proto::PrefetchQuery {
                lookup_from: lookup("deep"),
                ..Default::default()
            }],
            lookup_from: lookup("mid"),
            ..Default::default()
        }],
        ..Default::default()
    };
    let decoded = from_proto::query(request).unwrap().request;
    let mut refs = decoded.referenced_collections();
    refs.sort();
    assert_eq!(refs, ["deep", "mid", "top"]);
}

/// Prevents a NaN double from becoming an invalid JSON payload.
#[test]
fn non_finite_doubles_are_refused() {
    let nan = proto::Value {
        kind: Some(proto::value::Kind::DoubleValue(f64::NAN)),
    };
    assert_eq!(
        code_of(from_proto::value::value(nan)).0,
        Code::InvalidArgument
    );
    assert_eq!(
        from_proto::value::value(proto::Value { kind: None }).unwrap(),
        Value::Null
    );
}

/// Pins the named-vector schema request: a sparse vector's datatype belongs
/// to its index, as in the collection configuration.
#[test]
fn vector_name_configs() {
    use osprey_engine::config::VectorNameConfig;
    use proto::create_vector_name_request::VectorConfig;
    let request = |config| proto::CreateVectorNameRequest {
        collection_name: "c".into(),
        vector_name: "v".into(),
        vector_config: config,
        ..Default::default()
    };
    let sparse = request(Some(VectorConfig::SparseConfig(
        proto::SparseVectorCreationConfig {
            modifier: Some(proto::Modifier::Idf as i32),
            datatype: Some(proto::Datatype::Float16 as i32),
        },
    )));
    let (_, name, config) = from_proto::create_vector_name(sparse).unwrap();
    assert_eq!(name, "v");
    let VectorNameConfig::Sparse(params) = config else {
        panic!("sparse expected")
    };
    assert_eq!(params.index, Some(json!({"datatype": "float16"})));
    assert_eq!(params.modifier, Some(osprey_engine::config::Modifier::Idf));
    let unknown = request(Some(VectorConfig::DenseConfig(
        proto::DenseVectorCreationConfig {
            size: 3,
            distance: proto::Distance::UnknownDistance as i32,
            ..Default::default()
        },
    )));
    assert_eq!(
        code_of(from_proto::create_vector_name(unknown)).0,
        Code::InvalidArgument
    );
    assert_eq!(
        code_of(from_proto::create_vector_name(request(None))).0,
        Code::InvalidArgument
    );
}

/// Pins discovery decoding: an empty context is "no context", and examples
/// are ids or vectors.
#[test]
fn discover_requests() {
    use proto::vector_example::Example;
    let example = |e| Some(proto::VectorExample { example: Some(e) });
    let request = proto::DiscoverPoints {
        collection_name: "c".into(),
        target: Some(proto::TargetVector {
            target: Some(proto::target_vector::Target::Single(proto::VectorExample {
                example: Some(Example::Id(to_proto::point_id(PointId::Num(7)))),
            })),
        }),
        limit: 3,
        ..Default::default()
    };
    let decoded = from_proto::discover(request.clone()).unwrap().request;
    assert_eq!(decoded.target, Some(VectorInput::Id(PointId::Num(7))));
    assert!(decoded.context.is_none());
    let with_context = proto::DiscoverPoints {
        context: vec![proto::ContextExamplePair {
            positive: example(Example::Vector(to_proto::vectors::vector(Vector::Dense(
                vec![1.0, 2.0],
            )))),
            negative: example(Example::Id(to_proto::point_id(PointId::Num(1)))),
        }],
        ..request
    };
    let pairs = from_proto::discover(with_context)
        .unwrap()
        .request
        .context
        .unwrap();
    assert_eq!(pairs[0].positive, VectorInput::Dense(vec![1.0, 2.0]));
    assert_eq!(pairs[0].negative, VectorInput::Id(PointId::Num(1)));
}
