//! The client flow of the issue over gRPC: create, upsert, search with
//! filters, scroll, count, delete, aliases; plus gzip, large messages and
//! the answers of rpcs not served yet.

use qdrant_client::Payload;
use qdrant_client::qdrant::{
    Condition, CountPointsBuilder, CreateAliasBuilder, CreateCollectionBuilder,
    CreateFieldIndexCollectionBuilder, CreateSnapshotRequest, DeletePointsBuilder, Distance,
    FacetCountsBuilder, FieldType, Filter, GetPointsBuilder, PointId, PointStruct, PointsIdsList,
    PointsUpdateOperation, Query, QueryPointsBuilder, RenameAliasBuilder, ScrollPointsBuilder,
    SearchPointsBuilder, SetPayloadPointsBuilder, UpdateBatchPointsBuilder, UpsertPointsBuilder,
    Value, VectorParamsBuilder,
    point_id::PointIdOptions,
    points_selector::PointsSelectorOneOf,
    points_update_operation::{Operation, PointStructList},
};
use tonic::Code;

use crate::support::{TestServer, assert_status, status};

fn num(id: &PointId) -> u64 {
    match id.point_id_options {
        Some(PointIdOptions::Num(n)) => n,
        ref other => panic!("numeric id expected, got {other:?}"),
    }
}

fn city(c: &str) -> Condition {
    Condition::matches("city", c.to_string())
}

/// Six unit vectors (so Cosine normalisation leaves them as they are), in
/// two cities.
fn points() -> Vec<PointStruct> {
    let cities = ["Berlin", "Paris", "Berlin", "Paris", "Berlin", "Paris"];
    let vectors = [
        [1.0, 0.0, 0.0, 0.0],
        [0.0, 1.0, 0.0, 0.0],
        [0.0, 0.0, 1.0, 0.0],
        [0.0, 0.0, 0.0, 1.0],
        [0.6, 0.8, 0.0, 0.0],
        [0.0, 0.6, 0.8, 0.0],
    ];
    (0..6)
        .map(|i| {
            let payload = Payload::from([
                ("city", Value::from(cities[i])),
                ("n", Value::from(i as i64)),
            ]);
            PointStruct::new(i as u64 + 1, vectors[i].to_vec(), payload)
        })
        .collect()
}

#[tokio::test]
async fn client_flow() {
    let server = TestServer::start().await;
    let client = server.admin();

    let health = client.health_check().await.unwrap();
    assert_eq!(health.title, "qdrant - vector search engine");
    assert_eq!(health.version, "1.18.3");

    client
        .create_collection(
            CreateCollectionBuilder::new("docs")
                .vectors_config(VectorParamsBuilder::new(4, Distance::Cosine)),
        )
        .await
        .unwrap();
    assert!(client.collection_exists("docs").await.unwrap());
    assert_eq!(
        client.list_collections().await.unwrap().collections[0].name,
        "docs"
    );

    let upserted = client
        .upsert_points(UpsertPointsBuilder::new("docs", points()).wait(true))
        .await
        .unwrap();
    assert_eq!(
        upserted.result.unwrap().status,
        qdrant_client::qdrant::UpdateStatus::Completed as i32
    );

    let info = client
        .collection_info("docs")
        .await
        .unwrap()
        .result
        .unwrap();
    assert_eq!(info.points_count, Some(6));

    // Search with a filter: only Berlin, best first, with payload.
    let found = client
        .search_points(
            SearchPointsBuilder::new("docs", vec![1.0, 0.0, 0.0, 0.0], 10)
                .filter(Filter::must([city("Berlin")]))
                .with_payload(true),
        )
        .await
        .unwrap()
        .result;
    let ids: Vec<u64> = found.iter().map(|p| num(p.id.as_ref().unwrap())).collect();
    assert_eq!(ids[0], 1);
    assert_eq!(ids.len(), 3);
    assert!(ids.iter().all(|id| [1, 3, 5].contains(id)), "{ids:?}");
    assert!((found[0].score - 1.0).abs() < 1e-5);
    assert_eq!(found[0].payload["city"], Value::from("Berlin"));

    // The same through the universal query, with `must_not`.
    let queried = client
        .query(
            QueryPointsBuilder::new("docs")
                .query(Query::new_nearest(vec![0.0, 1.0, 0.0, 0.0]))
                .filter(Filter::must_not([city("Berlin")]))
                .limit(2),
        )
        .await
        .unwrap()
        .result;
    assert_eq!(
        queried
            .iter()
            .map(|p| num(p.id.as_ref().unwrap()))
            .collect::<Vec<_>>(),
        [2, 6]
    );

    // Scroll pages through the filter in id order.
    let page = client
        .scroll(
            ScrollPointsBuilder::new("docs")
                .filter(Filter::must([city("Paris")]))
                .limit(2),
        )
        .await
        .unwrap();
    assert_eq!(
        page.result
            .iter()
            .map(|p| num(p.id.as_ref().unwrap()))
            .collect::<Vec<_>>(),
        [2, 4]
    );
    let next = page.next_page_offset.expect("a second page");
    let page = client
        .scroll(
            ScrollPointsBuilder::new("docs")
                .filter(Filter::must([city("Paris")]))
                .limit(2)
                .offset(next),
        )
        .await
        .unwrap();
    assert_eq!(
        page.result
            .iter()
            .map(|p| num(p.id.as_ref().unwrap()))
            .collect::<Vec<_>>(),
        [6]
    );
    assert!(page.next_page_offset.is_none());

    let count = |filter: Filter| {
        let client = &client;
        async move {
            client
                .count(CountPointsBuilder::new("docs").filter(filter).exact(true))
                .await
                .unwrap()
                .result
                .unwrap()
                .count
        }
    };
    assert_eq!(count(Filter::must([city("Berlin")])).await, 3);
    assert_eq!(
        count(Filter::must([Condition::range(
            "n",
            qdrant_client::qdrant::Range {
                gte: Some(4.0),
                ..Default::default()
            }
        )]))
        .await,
        2
    );

    // Retrieval returns vectors in the form the client reads.
    let got = client
        .get_points(GetPointsBuilder::new("docs", vec![PointId::from(5)]).with_vectors(true))
        .await
        .unwrap()
        .result;
    let vector = got[0].vectors.clone().unwrap().get_vector().unwrap();
    let qdrant_client::qdrant::vector_output::Vector::Dense(dense) = vector else {
        panic!("dense expected")
    };
    assert_eq!(dense.data.len(), 4);
    assert!((dense.data[0] - 0.6).abs() < 1e-6);

    // Payload writes and a payload index.
    client
        .set_payload(
            SetPayloadPointsBuilder::new("docs", Payload::from([("tag", Value::from("x"))]))
                .points_selector(PointsIdsList {
                    ids: vec![PointId::from(1)],
                })
                .wait(true),
        )
        .await
        .unwrap();
    assert_eq!(
        count(Filter::must([Condition::matches("tag", "x".to_string())])).await,
        1
    );
    client
        .create_field_index(
            CreateFieldIndexCollectionBuilder::new("docs", "city", FieldType::Keyword).wait(true),
        )
        .await
        .unwrap();
    let schema = client
        .collection_info("docs")
        .await
        .unwrap()
        .result
        .unwrap()
        .payload_schema;
    assert!(schema.contains_key("city"), "{schema:?}");

    // Delete by filter.
    client
        .delete_points(
            DeletePointsBuilder::new("docs")
                .points(Filter::must([city("Paris")]))
                .wait(true),
        )
        .await
        .unwrap();
    assert_eq!(count(Filter::default()).await, 3);

    // A batch: upsert then delete, applied together.
    let batch = vec![
        PointsUpdateOperation {
            operation: Some(Operation::Upsert(PointStructList {
                points: vec![PointStruct::new(
                    10,
                    vec![0.0, 0.0, 0.6, 0.8],
                    Payload::new(),
                )],
                ..Default::default()
            })),
        },
        PointsUpdateOperation {
            operation: Some(Operation::DeletePoints(
                qdrant_client::qdrant::points_update_operation::DeletePoints {
                    points: Some(
                        PointsSelectorOneOf::Points(PointsIdsList {
                            ids: vec![PointId::from(1)],
                        })
                        .into(),
                    ),
                    shard_key_selector: None,
                },
            )),
        },
    ];
    let results = client
        .update_points_batch(UpdateBatchPointsBuilder::new("docs", batch).wait(true))
        .await
        .unwrap();
    assert_eq!(results.result.len(), 2);
    assert_eq!(count(Filter::default()).await, 3);

    // Aliases: create, list, use, rename, delete.
    client
        .create_alias(CreateAliasBuilder::new("docs", "current"))
        .await
        .unwrap();
    let aliases = client.list_aliases().await.unwrap().aliases;
    assert_eq!(aliases.len(), 1);
    assert_eq!(
        (
            aliases[0].alias_name.as_str(),
            aliases[0].collection_name.as_str()
        ),
        ("current", "docs")
    );
    assert_eq!(
        client
            .list_collection_aliases("docs")
            .await
            .unwrap()
            .aliases
            .len(),
        1
    );
    let via_alias = client
        .search_points(SearchPointsBuilder::new(
            "current",
            vec![0.0, 0.0, 1.0, 0.0],
            1,
        ))
        .await
        .unwrap();
    assert_eq!(num(via_alias.result[0].id.as_ref().unwrap()), 3);
    client
        .rename_alias(RenameAliasBuilder::new("current", "stable"))
        .await
        .unwrap();
    assert_eq!(
        client.list_aliases().await.unwrap().aliases[0].alias_name,
        "stable"
    );
    client.delete_alias("stable").await.unwrap();
    assert!(client.list_aliases().await.unwrap().aliases.is_empty());

    // Snapshots over gRPC: created, listed, deleted.
    let snapshot = client
        .create_snapshot(CreateSnapshotRequest {
            collection_name: "docs".into(),
        })
        .await
        .unwrap()
        .snapshot_description
        .unwrap();
    assert!(snapshot.name.starts_with("docs") && snapshot.size > 0);
    let listed = client.list_snapshots("docs").await.unwrap().snapshot_descriptions;
    assert_eq!(listed.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), vec![snapshot.name.as_str()]);
    // 1.19+ only: refused, not ignored.
    let prefix = client
        .count(
            CountPointsBuilder::new("docs")
                .filter(Filter::must([Condition::matches_prefix("city", "Be")])),
        )
        .await;
    assert_eq!(status(prefix).code(), Code::InvalidArgument);
    // Engine errors keep Qdrant's codes and texts.
    assert_status(
        client.collection_info("nope").await,
        Code::NotFound,
        "Not found: Collection `nope` doesn't exist!",
    );

    assert!(client.delete_collection("docs").await.unwrap().result);
    assert!(!client.collection_exists("docs").await.unwrap());
}

/// Prevents tonic's 4 MiB default decode limit: Qdrant accepts any size, and
/// batch upserts of a few thousand vectors exceed 4 MiB. Also runs calls
/// gzip-compressed both ways, which Qdrant's clients can switch on.
#[tokio::test]
async fn large_and_gzip_messages() {
    let server = TestServer::start().await;
    let plain = server.admin();
    plain
        .create_collection(
            CreateCollectionBuilder::new("big")
                .vectors_config(VectorParamsBuilder::new(1024, Distance::Dot)),
        )
        .await
        .unwrap();
    // 1500 x 1024 f32: about 6 MB on the wire.
    let points: Vec<PointStruct> = (0..1500u64)
        .map(|i| {
            let v: Vec<f32> = (0..1024)
                .map(|j| ((i * 1031 + j * 7919) % 10007) as f32 / 10007.0)
                .collect();
            PointStruct::new(i, v, Payload::new())
        })
        .collect();
    plain
        .upsert_points(UpsertPointsBuilder::new("big", points.clone()).wait(true))
        .await
        .unwrap();

    let gzip = qdrant_client::Qdrant::from_url(&server.url)
        .api_key(crate::support::ADMIN)
        .compression(Some(qdrant_client::config::CompressionEncoding::Gzip))
        .skip_compatibility_check()
        .build()
        .unwrap();
    let renumbered: Vec<PointStruct> = points
        .into_iter()
        .take(100)
        .enumerate()
        .map(|(i, mut p)| {
            p.id = Some(PointId::from(10_000 + i as u64));
            p
        })
        .collect();
    gzip.upsert_points(UpsertPointsBuilder::new("big", renumbered).wait(true))
        .await
        .unwrap();
    assert_eq!(
        gzip.count(CountPointsBuilder::new("big").exact(true))
            .await
            .unwrap()
            .result
            .unwrap()
            .count,
        1600
    );
    let all = gzip
        .scroll(
            ScrollPointsBuilder::new("big")
                .limit(1600)
                .with_vectors(true),
        )
        .await
        .unwrap();
    assert_eq!(all.result.len(), 1600);
}

/// Groups, discovery, facets, the distance matrix and named-vector schema
/// changes: the same engine operations as their REST routes.
#[tokio::test]
async fn grouped_and_summary_reads() {
    use qdrant_client::qdrant::{
        ContextExamplePair, CreateVectorNameRequestBuilder, DeleteVectorNameRequestBuilder,
        DenseVectorCreationConfig, DiscoverPointsBuilder, QueryPointGroupsBuilder,
        RecommendPointGroupsBuilder, SearchMatrixPointsBuilder, SearchPointGroupsBuilder,
        TargetVector, VectorExample, VectorParamsMap, VectorsConfig,
        create_vector_name_request::VectorConfig, facet_value, group_id, target_vector::Target,
        vector_example::Example, vectors_config::Config,
    };

    let server = TestServer::start().await;
    let client = server.admin();
    client
        .create_collection(
            CreateCollectionBuilder::new("docs")
                .vectors_config(VectorParamsBuilder::new(4, Distance::Cosine)),
        )
        .await
        .unwrap();
    client
        .upsert_points(UpsertPointsBuilder::new("docs", points()).wait(true))
        .await
        .unwrap();

    let groups = client
        .search_groups(SearchPointGroupsBuilder::new(
            "docs",
            vec![1.0, 0.0, 0.0, 0.0],
            5,
            "city",
            2,
        ))
        .await
        .unwrap()
        .result
        .unwrap()
        .groups;
    assert_eq!(groups.len(), 2);
    assert_eq!(
        groups[0].id.as_ref().unwrap().kind,
        Some(group_id::Kind::StringValue("Berlin".into()))
    );
    assert!(groups.iter().all(|g| g.hits.len() <= 2));

    let by_number = client
        .query_groups(
            QueryPointGroupsBuilder::new("docs", "n")
                .query(Query::new_nearest(vec![0.0, 0.0, 1.0, 0.0]))
                .limit(2u64),
        )
        .await
        .unwrap()
        .result
        .unwrap()
        .groups;
    assert_eq!(by_number.len(), 2);
    // Non-negative group numbers are sent unsigned, as Qdrant sends them.
    assert_eq!(
        by_number[0].id.as_ref().unwrap().kind,
        Some(group_id::Kind::UnsignedValue(2))
    );

    let recommended = client
        .recommend_groups(
            RecommendPointGroupsBuilder::new("docs", "city", 1, 2).add_positive(PointId::from(1)),
        )
        .await
        .unwrap()
        .result
        .unwrap()
        .groups;
    assert_eq!(recommended.len(), 2);

    let example = |id: u64| VectorExample {
        example: Some(Example::Id(PointId::from(id))),
    };
    let discovered = client
        .discover(
            DiscoverPointsBuilder::new(
                "docs",
                vec![ContextExamplePair {
                    positive: Some(example(5)),
                    negative: Some(example(4)),
                }],
                3,
            )
            .target(TargetVector {
                target: Some(Target::Single(example(1))),
            }),
        )
        .await
        .unwrap()
        .result;
    assert!(!discovered.is_empty());
    assert!(
        discovered.iter().all(|p| num(p.id.as_ref().unwrap()) != 1),
        "the target itself is excluded"
    );

    // Faceting reads a keyword index, as in Qdrant.
    client
        .create_field_index(
            CreateFieldIndexCollectionBuilder::new("docs", "city", FieldType::Keyword).wait(true),
        )
        .await
        .unwrap();
    let facets = client
        .facet(FacetCountsBuilder::new("docs", "city").exact(true))
        .await
        .unwrap()
        .hits;
    let counts: Vec<(Option<facet_value::Variant>, u64)> = facets
        .into_iter()
        .map(|h| (h.value.and_then(|v| v.variant), h.count))
        .collect();
    assert!(
        counts.contains(&(Some(facet_value::Variant::StringValue("Berlin".into())), 3)),
        "{counts:?}"
    );

    let pairs = client
        .search_matrix_pairs(SearchMatrixPointsBuilder::new("docs").sample(6).limit(1))
        .await
        .unwrap()
        .result
        .unwrap()
        .pairs;
    assert_eq!(pairs.len(), 6);
    let offsets = client
        .search_matrix_offsets(SearchMatrixPointsBuilder::new("docs").sample(6).limit(1))
        .await
        .unwrap()
        .result
        .unwrap();
    assert_eq!(offsets.ids.len(), 6);
    assert_eq!(offsets.scores.len(), offsets.offsets_row.len());

    // Named vectors: add one to a collection of named vectors, then drop it.
    let named = VectorsConfig {
        config: Some(Config::ParamsMap(VectorParamsMap {
            map: [(
                "text".to_string(),
                VectorParamsBuilder::new(4, Distance::Dot).build(),
            )]
            .into(),
        })),
    };
    client
        .create_collection(CreateCollectionBuilder::new("named").vectors_config(named))
        .await
        .unwrap();
    let image = VectorConfig::DenseConfig(DenseVectorCreationConfig {
        size: 2,
        distance: Distance::Cosine as i32,
        ..Default::default()
    });
    client
        .create_vector_name(CreateVectorNameRequestBuilder::new("named", "image", image))
        .await
        .unwrap();
    let vector_names = |info: qdrant_client::qdrant::CollectionInfo| match info
        .config
        .unwrap()
        .params
        .unwrap()
        .vectors_config
        .unwrap()
        .config
        .unwrap()
    {
        Config::ParamsMap(map) => {
            let mut names: Vec<String> = map.map.into_keys().collect();
            names.sort();
            names
        }
        Config::Params(_) => panic!("named vectors expected"),
    };
    assert_eq!(
        vector_names(
            client
                .collection_info("named")
                .await
                .unwrap()
                .result
                .unwrap()
        ),
        ["image", "text"]
    );
    client
        .delete_vector_name(DeleteVectorNameRequestBuilder::new("named", "image"))
        .await
        .unwrap();
    assert_eq!(
        vector_names(
            client
                .collection_info("named")
                .await
                .unwrap()
                .result
                .unwrap()
        ),
        ["text"]
    );
}
