//! Authentication and the access check over gRPC: the same answers as REST
//! (spec `auth.md` §6, the gRPC rows of `access-table.tsv`).

use qdrant_client::Payload;
use qdrant_client::qdrant::{
    CreateCollectionBuilder, CreateFieldIndexCollectionBuilder, CreateSnapshotRequest, Distance,
    FieldType, LookupLocationBuilder, PointStruct, Query, QueryPointsBuilder, SearchPointsBuilder,
    UpsertPointsBuilder, Value, VectorInput, VectorParamsBuilder,
};
use serde_json::json;
use tonic::Code;

use crate::support::{ADMIN, READ_ONLY, TestServer, assert_status, jwt};

/// Two collections, `docs` (one point with `owner: alice`) and `other`.
async fn setup() -> TestServer {
    let server = TestServer::start().await;
    let admin = server.admin();
    for name in ["docs", "other"] {
        admin
            .create_collection(
                CreateCollectionBuilder::new(name)
                    .vectors_config(VectorParamsBuilder::new(2, Distance::Dot)),
            )
            .await
            .unwrap();
    }
    let point = PointStruct::new(
        1,
        vec![1.0, 0.0],
        Payload::from([("owner", Value::from("alice"))]),
    );
    admin
        .upsert_points(UpsertPointsBuilder::new("docs", vec![point]).wait(true))
        .await
        .unwrap();
    server
}

fn upsert(collection: &str) -> UpsertPointsBuilder {
    UpsertPointsBuilder::new(
        collection,
        vec![PointStruct::new(2, vec![0.0, 1.0], Payload::new())],
    )
    .wait(true)
}

fn search(collection: &str) -> SearchPointsBuilder {
    SearchPointsBuilder::new(collection, vec![1.0, 0.0], 5)
}

const MISSING: &str = "Must provide an API key or an Authorization bearer token";

#[tokio::test]
async fn credentials_are_required_except_for_health() {
    let server = setup().await;
    let anonymous = server.client(None);
    assert_eq!(anonymous.health_check().await.unwrap().version, "1.18.3");
    assert_status(
        anonymous.list_collections().await,
        Code::Unauthenticated,
        MISSING,
    );
    assert_status(
        anonymous.search_points(search("docs")).await,
        Code::Unauthenticated,
        MISSING,
    );

    let wrong = server.client(Some("not-a-key"));
    assert_status(
        wrong.list_collections().await,
        Code::Unauthenticated,
        "Invalid API key or JWT",
    );

    // `authorization: Bearer` works when `api-key` is absent.
    let bearer = qdrant_client::Qdrant::from_url(&server.url)
        .header("authorization", format!("Bearer {ADMIN}"))
        .skip_compatibility_check()
        .build()
        .unwrap();
    assert_eq!(
        bearer.list_collections().await.unwrap().collections.len(),
        2
    );
}

#[tokio::test]
async fn read_only_key_reads_but_never_writes() {
    let server = setup().await;
    let ro = server.client(Some(READ_ONLY));
    assert_eq!(ro.list_collections().await.unwrap().collections.len(), 2);
    assert_eq!(
        ro.search_points(search("docs")).await.unwrap().result.len(),
        1
    );
    let denied = "Forbidden: Global manage access is required";
    assert_status(
        ro.upsert_points(upsert("docs")).await,
        Code::PermissionDenied,
        denied,
    );
    assert_status(
        ro.delete_collection("docs").await,
        Code::PermissionDenied,
        denied,
    );
    assert_status(
        ro.create_collection(
            CreateCollectionBuilder::new("new")
                .vectors_config(VectorParamsBuilder::new(2, Distance::Dot)),
        )
        .await,
        Code::PermissionDenied,
        denied,
    );
    // Access is checked before "not implemented" is said.
    assert_status(
        ro.create_snapshot(CreateSnapshotRequest {
            collection_name: "docs".into(),
        })
        .await,
        Code::PermissionDenied,
        denied,
    );
    // Existence comes after access: a global reader learns it, with NOT_FOUND.
    assert_eq!(
        crate::support::status(ro.search_points(search("missing")).await).code(),
        Code::NotFound
    );
}

#[tokio::test]
async fn collection_tokens_see_and_touch_only_their_collections() {
    let server = setup().await;
    let token = jwt(
        json!({"access": [{"collection": "docs", "access": "r"}]}),
        ADMIN,
    );
    let client = server.client(Some(&token));

    let listed: Vec<String> = client
        .list_collections()
        .await
        .unwrap()
        .collections
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(listed, ["docs"]);
    assert_eq!(
        client
            .search_points(search("docs"))
            .await
            .unwrap()
            .result
            .len(),
        1
    );
    assert_status(
        client.upsert_points(upsert("docs")).await,
        Code::PermissionDenied,
        "Forbidden: Write access to collection docs is required",
    );
    assert_status(
        client.search_points(search("other")).await,
        Code::PermissionDenied,
        "Forbidden: Access to collection other is required",
    );
    // No existence oracle: a collection outside the token is 403, existing or not.
    assert_status(
        client.collection_exists("nope").await,
        Code::PermissionDenied,
        "Forbidden: Access to collection nope is required",
    );
    // `lookup_from` names another collection: the token needs it too.
    let lookup = QueryPointsBuilder::new("docs")
        .query(Query::new_nearest(VectorInput::new_id(1)))
        .lookup_from(LookupLocationBuilder::new("other"));
    assert_status(
        client.query(lookup).await,
        Code::PermissionDenied,
        "Forbidden: Access to collection other is required",
    );
    assert_status(
        client
            .create_collection(
                CreateCollectionBuilder::new("x")
                    .vectors_config(VectorParamsBuilder::new(2, Distance::Dot)),
            )
            .await,
        Code::PermissionDenied,
        "Forbidden: Global access is required",
    );

    let prw = jwt(
        json!({"access": [{"collection": "docs", "access": "prw"}]}),
        ADMIN,
    );
    let prw = server.client(Some(&prw));
    prw.upsert_points(upsert("docs")).await.unwrap();
    assert_status(
        prw.create_field_index(CreateFieldIndexCollectionBuilder::new(
            "docs",
            "owner",
            FieldType::Keyword,
        ))
        .await,
        Code::PermissionDenied,
        "Forbidden: Only points access is allowed for collection docs",
    );
    assert_status(
        prw.delete_vector_name(qdrant_client::qdrant::DeleteVectorNameRequestBuilder::new(
            "docs", "v",
        ))
        .await,
        Code::PermissionDenied,
        "Forbidden: Only points access is allowed for collection docs",
    );
}

#[tokio::test]
async fn bad_tokens_follow_qdrant_codes() {
    let server = setup().await;
    let expired = jwt(json!({"exp": 1_000_000}), ADMIN);
    assert_status(
        server.client(Some(&expired)).list_collections().await,
        Code::PermissionDenied,
        "ExpiredSignature",
    );
    let forged = jwt(
        json!({"access": "m"}),
        "some-other-secret-of-enough-length!!",
    );
    assert_status(
        server.client(Some(&forged)).list_collections().await,
        Code::PermissionDenied,
        "InvalidSignature",
    );
}

/// `value_exists` is checked on every call: a matching point lets the token
/// in, no match is UNAUTHENTICATED, a missing collection PERMISSION_DENIED.
#[tokio::test]
async fn value_exists_is_checked_on_grpc() {
    let server = setup().await;
    let claim = |collection: &str, owner: &str| {
        jwt(
            json!({"access": "r", "value_exists": {"collection": collection, "matches": [{"key": "owner", "value": owner}]}}),
            ADMIN,
        )
    };
    let ok = server.client(Some(&claim("docs", "alice")));
    assert_eq!(ok.list_collections().await.unwrap().collections.len(), 2);
    let failed = "Invalid JWT, stateful validation failed";
    let no_match = server.client(Some(&claim("docs", "bob")));
    assert_status(
        no_match.list_collections().await,
        Code::Unauthenticated,
        failed,
    );
    let missing = server.client(Some(&claim("gone", "alice")));
    assert_status(
        missing.list_collections().await,
        Code::PermissionDenied,
        failed,
    );

    // Revocation by data: delete the matching point and the token stops working.
    server
        .admin()
        .delete_points(
            qdrant_client::qdrant::DeletePointsBuilder::new("docs")
                .points(qdrant_client::qdrant::PointsIdsList {
                    ids: vec![1.into()],
                })
                .wait(true),
        )
        .await
        .unwrap();
    assert_status(ok.list_collections().await, Code::Unauthenticated, failed);
    let _ = &server.storage;
}
