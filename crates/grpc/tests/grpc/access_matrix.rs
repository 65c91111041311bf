//! The table-driven access test of the gRPC rows (issue 4, item 5).
//!
//! Every `grpc` row of `crates/auth/spec/access-table.tsv` whose exposure is
//! `grpc-public`, `grpc-public+p2p` or `grpc-public-extra` and whose service
//! is one this server registers on the public port (`qdrant.Qdrant`,
//! `qdrant.Collections`, `qdrant.Points`, `qdrant.Snapshots`,
//! `qdrant.StorageRead`, `grpc.health.v1.Health` and both reflection
//! services) is called with a minimal valid message and thirteen
//! credentials: through the generated tonic clients of `qdrant-client`, of
//! tonic-reflection, and for StorageRead through the messages declared in
//! `storage_read`. The internal (p2p) services are not called as rows; their
//! paths are used by `unknown_and_unserved_methods_need_a_credential`.
//!
//! The expected outcome comes from a model written here from spec
//! `auth.md` §6 and §8, never from `osprey_auth`: the table is parsed again
//! and the principal × requirement decision is re-implemented, so a wrong
//! rule in the auth crate shows up as a failing case instead of agreeing
//! with itself.
//!
//! "Allowed" means any code other than UNAUTHENTICATED and PERMISSION_DENIED
//! (UNIMPLEMENTED included: it is answered after the access check; the two
//! open health checks must answer OK). "Denied" means the exact code and the
//! exact message.
//!
//! Run with `--nocapture` to see the counts.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use qdrant_client::Payload;
use qdrant_client::qdrant::collections_client::CollectionsClient;
use qdrant_client::qdrant::points_client::PointsClient;
use qdrant_client::qdrant::qdrant_client::QdrantClient;
use qdrant_client::qdrant::snapshots_client::SnapshotsClient;
use qdrant_client::qdrant::{
    self as proto, AliasOperations, ChangeAliases, ClearPayloadPoints,
    CollectionClusterInfoRequest, CollectionExistsRequest, ContextExamplePair, CountPoints,
    CreateAlias, CreateCollectionBuilder, CreateFieldIndexCollection,
    CreateFieldIndexCollectionBuilder, CreateFullSnapshotRequest, CreateShardKeyRequest,
    CreateSnapshotRequest, CreateVectorNameRequest, DeleteCollection, DeleteFieldIndexCollection,
    DeleteFullSnapshotRequest, DeletePayloadPoints, DeletePointVectors, DeletePoints,
    DeleteShardKeyRequest, DeleteSnapshotRequest, DeleteVectorNameRequest, DiscoverBatchPoints,
    DiscoverPoints, Distance, FacetCounts, FieldType, GetCollectionInfoRequest, GetPoints,
    HealthCheckRequest, ListAliasesRequest, ListCollectionAliasesRequest, ListCollectionsRequest,
    ListFullSnapshotsRequest, ListShardKeysRequest, ListSnapshotsRequest, LookupLocation,
    MoveShard, OptimizersConfigDiff, PointId, PointStruct, PointVectors, PointsIdsList,
    PointsSelector, PointsUpdateOperation, PrefetchQuery, Query, QueryBatchPoints,
    QueryPointGroups, QueryPoints, RecommendBatchPoints, RecommendPointGroups, RecommendPoints,
    ScrollPoints, SearchBatchPoints, SearchMatrixPoints, SearchPointGroups, SearchPoints,
    SetPayloadPoints, ShardKey, SparseVectorCreationConfig, SparseVectorParamsBuilder,
    SparseVectorsConfigBuilder, TargetVector, UpdateBatchPoints, UpdateCollection,
    UpdateCollectionClusterSetupRequest, UpdatePointVectors, UpsertPoints, Value, VectorExample,
    VectorParamsBuilder, VectorsSelector, WithLookup,
};
use serde_json::{Value as Json, json};
use tonic::service::Interceptor;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tower::ServiceExt;

use crate::storage_read as sr;
use crate::support::{ADMIN, READ_ONLY, TestServer};

const OTHER_SECRET: &str = "another-secret-of-at-least-32-bytes-long!!";
/// The collection every message names; it exists, with points.
const C: &str = "c";
/// A second existing collection that no token names.
const D: &str = "d";
/// An alias of `c`, named by no token.
const ALIAS: &str = "c_alias";

const MISSING: &str = "Must provide an API key or an Authorization bearer token";
const INVALID: &str = "Invalid API key or JWT";

/// The services registered on the public port.
const SERVED: [&str; 8] = [
    "qdrant.Qdrant",
    "qdrant.Collections",
    "qdrant.Points",
    "qdrant.Snapshots",
    "qdrant.StorageRead",
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

/// What reflection must list to an allowed caller.
const REFLECTED: [&str; 6] = [
    "grpc.health.v1.Health",
    "qdrant.Collections",
    "qdrant.Points",
    "qdrant.Qdrant",
    "qdrant.Snapshots",
    "qdrant.StorageRead",
];

// ---------------------------------------------------------------------------
// The table, parsed independently of osprey_auth.
// ---------------------------------------------------------------------------

/// `required_access` of a row, as spec §8 names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Need {
    None,
    AnyAuth,
    GlobalRead,
    GlobalManage,
    /// `global_manage` whose notes say it is checked as collection-level
    /// write+manage+extras.
    CollManage,
    CollRead,
    CollReadExtras,
    CollWrite,
    CollWriteExtras,
}

#[derive(Debug, Clone)]
struct Row {
    /// `package.Service/Method`.
    rpc: String,
    need: Need,
    exposure: String,
}

/// `global_manage` gRPC rows that Qdrant checks as collection-level
/// write+manage+extras. Written out here and cross-checked with the notes.
const COLL_MANAGE_RPCS: [&str; 3] = [
    "qdrant.Collections/UpdateCollectionClusterSetup",
    "qdrant.Collections/CreateShardKey",
    "qdrant.Collections/DeleteShardKey",
];

fn table_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../auth/spec/access-table.tsv")
}

/// Every `grpc` row of the table.
fn grpc_rows() -> Vec<Row> {
    let text = std::fs::read_to_string(table_path()).expect("access table");
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "interface\tmethod\tpath_or_rpc\toperation\trequired_access\tnotes\texposure"
    );
    let mut rows = Vec::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), 7, "{line}");
        if f[0] != "grpc" {
            continue;
        }
        assert_eq!(f[1], "RPC", "{line}");
        let (rpc, notes) = (f[2], f[5]);
        let coll_manage = COLL_MANAGE_RPCS.contains(&rpc);
        assert_eq!(
            coll_manage,
            notes.contains("checked as collection-level write+manage+extras")
                && f[6].starts_with("grpc-public"),
            "collection-manage list and notes disagree on {rpc}"
        );
        let need = match f[4] {
            "none" => Need::None,
            "any_auth" => Need::AnyAuth,
            "global_read" => Need::GlobalRead,
            "global_manage" if coll_manage => Need::CollManage,
            "global_manage" => Need::GlobalManage,
            "coll_read" => Need::CollRead,
            "coll_read_extras" => Need::CollReadExtras,
            "coll_write" => Need::CollWrite,
            "coll_write_extras" => Need::CollWriteExtras,
            "internal_p2p" => continue,
            other => panic!("unknown required_access {other:?} in {line}"),
        };
        rows.push(Row {
            rpc: rpc.to_owned(),
            need,
            exposure: f[6].to_owned(),
        });
    }
    rows
}

fn service(rpc: &str) -> &str {
    rpc.split('/').next().unwrap()
}

/// The rows this test calls: public exposure, a service that is served.
fn public_rows() -> Vec<Row> {
    grpc_rows()
        .into_iter()
        .filter(|r| r.exposure.starts_with("grpc-public"))
        .filter(|r| SERVED.contains(&service(&r.rpc)))
        .collect()
}

// ---------------------------------------------------------------------------
// The model: spec §6 (authentication failures) and §8 (access levels).
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    R,
    Rw,
    Prw,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Principal {
    GlobalRead,
    GlobalManage,
    /// A collection-scoped token: `(name, mode)` entries.
    Collections(Vec<(String, Mode)>),
}

fn scoped(entries: &[(&str, Mode)]) -> Principal {
    Principal::Collections(entries.iter().map(|(n, m)| ((*n).to_owned(), *m)).collect())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Cred {
    NoCredential,
    WrongKey,
    AdminKey,
    ReadOnlyKey,
    JwtM,
    JwtR,
    JwtCollRw,
    JwtCollR,
    JwtCollPrw,
    JwtOtherRw,
    JwtExpired,
    JwtOtherSecret,
    JwtAlgNone,
}

const CREDS: [Cred; 13] = [
    Cred::NoCredential,
    Cred::WrongKey,
    Cred::AdminKey,
    Cred::ReadOnlyKey,
    Cred::JwtM,
    Cred::JwtR,
    Cred::JwtCollRw,
    Cred::JwtCollR,
    Cred::JwtCollPrw,
    Cred::JwtOtherRw,
    Cred::JwtExpired,
    Cred::JwtOtherSecret,
    Cred::JwtAlgNone,
];

/// What a credential becomes (spec §2, §6, §7).
enum Authn {
    Principal(Principal),
    /// UNAUTHENTICATED with this message.
    Unauthenticated(&'static str),
    /// PERMISSION_DENIED from authentication, with this message.
    Rejected(&'static str),
}

fn authn(cred: Cred) -> Authn {
    match cred {
        Cred::NoCredential => Authn::Unauthenticated(MISSING),
        Cred::WrongKey | Cred::JwtAlgNone => Authn::Unauthenticated(INVALID),
        Cred::AdminKey | Cred::JwtM => Authn::Principal(Principal::GlobalManage),
        Cred::ReadOnlyKey | Cred::JwtR => Authn::Principal(Principal::GlobalRead),
        Cred::JwtCollRw => Authn::Principal(scoped(&[(C, Mode::Rw)])),
        Cred::JwtCollR => Authn::Principal(scoped(&[(C, Mode::R)])),
        Cred::JwtCollPrw => Authn::Principal(scoped(&[(C, Mode::Prw)])),
        Cred::JwtOtherRw => Authn::Principal(scoped(&[("other", Mode::Rw)])),
        Cred::JwtExpired => Authn::Rejected("ExpiredSignature"),
        Cred::JwtOtherSecret => Authn::Rejected("InvalidSignature"),
    }
}

/// The flags of spec §8 an operation requires, and whether the check is a
/// "global" one (collection tokens refused outright).
struct Flags {
    global: bool,
    write: bool,
    manage: bool,
    extras: bool,
}

fn flags(need: Need) -> Option<Flags> {
    let f = |global, write, manage, extras| {
        Some(Flags {
            global,
            write,
            manage,
            extras,
        })
    };
    match need {
        Need::None | Need::AnyAuth => None,
        Need::GlobalRead => f(true, false, false, false),
        Need::GlobalManage => f(true, true, true, false),
        Need::CollManage => f(false, true, true, true),
        Need::CollRead => f(false, false, false, false),
        Need::CollReadExtras => f(false, false, false, true),
        Need::CollWrite => f(false, true, false, false),
        Need::CollWriteExtras => f(false, true, false, true),
    }
}

/// `Ok(())` = allowed, `Err(reason)` = PERMISSION_DENIED `Forbidden: <reason>`.
fn authorize(principal: &Principal, need: Need, collection: &str) -> Result<(), String> {
    let Some(flags) = flags(need) else {
        return Ok(());
    };
    match principal {
        Principal::GlobalManage => Ok(()),
        // Global principals ignore the extras flag.
        Principal::GlobalRead if flags.write || flags.manage => {
            Err("Global manage access is required".into())
        }
        Principal::GlobalRead => Ok(()),
        Principal::Collections(_) if flags.global => Err("Global access is required".into()),
        Principal::Collections(entries) => {
            let Some((_, mode)) = entries.iter().find(|(name, _)| name == collection) else {
                return Err(format!("Access to collection {collection} is required"));
            };
            // Order: extras, write, manage (spec §6).
            if flags.extras && *mode == Mode::Prw {
                return Err(format!(
                    "Only points access is allowed for collection {collection}"
                ));
            }
            if flags.write && *mode == Mode::R {
                return Err(format!(
                    "Write access to collection {collection} is required"
                ));
            }
            if flags.manage {
                return Err("Manage access for this operation is required".into());
            }
            Ok(())
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Expect {
    /// Any code but UNAUTHENTICATED / PERMISSION_DENIED (OK exactly on the
    /// open health checks).
    Allowed,
    Unauthenticated(&'static str),
    /// PERMISSION_DENIED from authentication (signature, expiry).
    AuthRejected(&'static str),
    /// PERMISSION_DENIED `Forbidden: <reason>`.
    Forbidden(String),
}

fn expect(row: &Row, cred: Cred, collection: &str) -> Expect {
    if row.need == Need::None {
        // Open by exact path: credentials are not examined at all.
        return Expect::Allowed;
    }
    match authn(cred) {
        Authn::Unauthenticated(m) => Expect::Unauthenticated(m),
        Authn::Rejected(m) => Expect::AuthRejected(m),
        Authn::Principal(p) => expect_for(row, &p, collection),
    }
}

fn expect_for(row: &Row, principal: &Principal, collection: &str) -> Expect {
    match authorize(principal, row.need, collection) {
        Ok(()) => Expect::Allowed,
        Err(reason) => Expect::Forbidden(reason),
    }
}

// ---------------------------------------------------------------------------
// Credentials on the wire.
// ---------------------------------------------------------------------------

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn jwt_with(secret: &str, claims: Json) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn jwt(claims: Json) -> String {
    jwt_with(ADMIN, claims)
}

fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::R => "r",
        Mode::Rw => "rw",
        Mode::Prw => "prw",
    }
}

/// A JWT for a collection list.
fn scoped_jwt(entries: &[(String, Mode)]) -> String {
    let list: Vec<Json> = entries
        .iter()
        .map(|(name, mode)| json!({"collection": name, "access": mode_name(*mode)}))
        .collect();
    jwt(json!({"access": list}))
}

/// Base64url without padding, enough to forge an unsigned token.
fn b64url(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut held = 0u32;
    let mut out = String::new();
    for &byte in data {
        bits = (bits << 8) | u32::from(byte);
        held += 8;
        while held >= 6 {
            held -= 6;
            out.push(ALPHABET[((bits >> held) & 63) as usize] as char);
        }
    }
    if held > 0 {
        out.push(ALPHABET[((bits << (6 - held)) & 63) as usize] as char);
    }
    out
}

fn alg_none_token() -> String {
    let header = b64url(br#"{"alg":"none","typ":"JWT"}"#);
    let claims = b64url(br#"{"access":"m"}"#);
    format!("{header}.{claims}.")
}

fn credential(cred: Cred) -> Option<String> {
    Some(match cred {
        Cred::NoCredential => return None,
        Cred::WrongKey => "not-a-configured-key".into(),
        Cred::AdminKey => ADMIN.into(),
        Cred::ReadOnlyKey => READ_ONLY.into(),
        Cred::JwtM => jwt(json!({"access": "m"})),
        Cred::JwtR => jwt(json!({"access": "r"})),
        Cred::JwtCollRw => jwt(json!({"access": [{"collection": C, "access": "rw"}]})),
        Cred::JwtCollR => jwt(json!({"access": [{"collection": C, "access": "r"}]})),
        Cred::JwtCollPrw => jwt(json!({"access": [{"collection": C, "access": "prw"}]})),
        Cred::JwtOtherRw => jwt(json!({"access": [{"collection": "other", "access": "rw"}]})),
        Cred::JwtExpired => jwt(json!({"access": "m", "exp": now() - 3600})),
        Cred::JwtOtherSecret => jwt_with(OTHER_SECRET, json!({"access": "m"})),
        Cred::JwtAlgNone => alg_none_token(),
    })
}

/// How the credential travels.
#[derive(Debug, Clone, Copy)]
enum Carrier {
    ApiKey,
    Bearer,
}

/// The metadata a client interceptor adds to every call.
#[derive(Clone, Default)]
struct Meta(Vec<(&'static str, String)>);

impl Meta {
    fn carrying(credential: Option<&str>, carrier: Carrier) -> Meta {
        match (credential, carrier) {
            (None, _) => Meta::default(),
            (Some(c), Carrier::ApiKey) => Meta(vec![("api-key", c.to_owned())]),
            (Some(c), Carrier::Bearer) => Meta(vec![("authorization", format!("Bearer {c}"))]),
        }
    }
}

impl Interceptor for Meta {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, Status> {
        for (key, value) in &self.0 {
            let value = value
                .parse()
                .map_err(|_| Status::internal(format!("test bug: bad metadata {value:?}")))?;
            request.metadata_mut().insert(*key, value);
        }
        Ok(request)
    }
}

// ---------------------------------------------------------------------------
// The server and the calls.
// ---------------------------------------------------------------------------

/// A server with `c` (dense 2-d Cosine plus a sparse vector `sparse_v`,
/// three points with `kw`, a keyword index on `kw`), `d` (empty) and the
/// alias `c_alias` -> `c`, and a channel to it.
async fn populated() -> (TestServer, Channel) {
    let server = TestServer::start().await;
    let admin = server.admin();
    let mut sparse = SparseVectorsConfigBuilder::default();
    sparse.add_named_vector_params("sparse_v", SparseVectorParamsBuilder::default());
    admin
        .create_collection(
            CreateCollectionBuilder::new(C)
                .vectors_config(VectorParamsBuilder::new(2, Distance::Cosine))
                .sparse_vectors_config(sparse),
        )
        .await
        .unwrap();
    admin
        .create_collection(
            CreateCollectionBuilder::new(D)
                .vectors_config(VectorParamsBuilder::new(2, Distance::Cosine)),
        )
        .await
        .unwrap();
    let points = [
        (1, [1.0, 0.0], "a"),
        (2, [0.0, 1.0], "b"),
        (3, [0.7, 0.7], "a"),
    ]
    .into_iter()
    .map(|(id, v, kw)| PointStruct::new(id, v.to_vec(), Payload::from([("kw", Value::from(kw))])))
    .collect::<Vec<_>>();
    admin
        .upsert_points(qdrant_client::qdrant::UpsertPointsBuilder::new(C, points).wait(true))
        .await
        .unwrap();
    admin
        .create_field_index(
            CreateFieldIndexCollectionBuilder::new(C, "kw", FieldType::Keyword).wait(true),
        )
        .await
        .unwrap();
    admin
        .create_alias(qdrant_client::qdrant::CreateAliasBuilder::new(C, ALIAS))
        .await
        .unwrap();
    // A file of known bytes in each collection's directory for StorageRead.
    sr::write_probe(&server, C);
    sr::write_probe(&server, D);
    let channel = Channel::from_shared(server.url.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    (server, channel)
}

fn ids(ids: &[u64]) -> Vec<PointId> {
    ids.iter().map(|&i| PointId::from(i)).collect()
}

fn select(points: &[u64]) -> Option<PointsSelector> {
    Some(PointsSelector {
        points_selector_one_of: Some(proto::points_selector::PointsSelectorOneOf::Points(
            PointsIdsList { ids: ids(points) },
        )),
    })
}

fn example(id: u64) -> Option<VectorExample> {
    Some(VectorExample {
        example: Some(proto::vector_example::Example::Id(PointId::from(id))),
    })
}

fn nearest() -> Option<Query> {
    Some(Query::new_nearest(vec![1.0_f32, 0.0]))
}

fn search(n: &str) -> SearchPoints {
    SearchPoints {
        collection_name: n.into(),
        vector: vec![1.0, 0.0],
        limit: 2,
        ..Default::default()
    }
}

fn recommend(n: &str) -> RecommendPoints {
    RecommendPoints {
        collection_name: n.into(),
        positive: ids(&[1]),
        limit: 2,
        ..Default::default()
    }
}

fn discover(n: &str) -> DiscoverPoints {
    DiscoverPoints {
        collection_name: n.into(),
        target: Some(TargetVector {
            target: Some(proto::target_vector::Target::Single(example(1).unwrap())),
        }),
        context: vec![ContextExamplePair {
            positive: example(1),
            negative: example(2),
        }],
        limit: 2,
        ..Default::default()
    }
}

fn query(n: &str) -> QueryPoints {
    QueryPoints {
        collection_name: n.into(),
        query: nearest(),
        limit: Some(2),
        ..Default::default()
    }
}

fn query_groups(n: &str) -> QueryPointGroups {
    QueryPointGroups {
        collection_name: n.into(),
        query: nearest(),
        limit: Some(2),
        group_size: Some(1),
        group_by: "kw".into(),
        ..Default::default()
    }
}

fn search_groups(n: &str) -> SearchPointGroups {
    SearchPointGroups {
        collection_name: n.into(),
        vector: vec![1.0, 0.0],
        limit: 2,
        group_by: "kw".into(),
        group_size: 1,
        ..Default::default()
    }
}

fn recommend_groups(n: &str) -> RecommendPointGroups {
    RecommendPointGroups {
        collection_name: n.into(),
        positive: ids(&[1]),
        limit: 2,
        group_by: "kw".into(),
        group_size: 1,
        ..Default::default()
    }
}

fn lookup(target: &str) -> Option<LookupLocation> {
    Some(LookupLocation {
        collection_name: target.into(),
        ..Default::default()
    })
}

fn with_lookup(target: &str) -> Option<WithLookup> {
    Some(WithLookup {
        collection: target.into(),
        ..Default::default()
    })
}

/// A query naming `target` two levels down, inside `prefetch`.
fn nested_prefetch(target: &str) -> Vec<PrefetchQuery> {
    vec![PrefetchQuery {
        prefetch: vec![
            PrefetchQuery {
                query: nearest(),
                limit: Some(2),
                ..Default::default()
            },
            PrefetchQuery {
                query: nearest(),
                limit: Some(2),
                lookup_from: lookup(target),
                ..Default::default()
            },
        ],
        query: nearest(),
        limit: Some(2),
        ..Default::default()
    }]
}

/// One message of any public rpc.
enum Msg {
    QdrantHealth,
    GrpcHealth,
    // qdrant.Collections
    Get(GetCollectionInfoRequest),
    List,
    Create(proto::CreateCollection),
    Update(UpdateCollection),
    DeleteCollection(DeleteCollection),
    UpdateAliases(ChangeAliases),
    ListCollectionAliases(ListCollectionAliasesRequest),
    ListAliases,
    ClusterInfo(CollectionClusterInfoRequest),
    Exists(CollectionExistsRequest),
    ClusterSetup(UpdateCollectionClusterSetupRequest),
    CreateShardKey(CreateShardKeyRequest),
    DeleteShardKey(DeleteShardKeyRequest),
    ListShardKeys(ListShardKeysRequest),
    // qdrant.Points
    Upsert(UpsertPoints),
    Delete(DeletePoints),
    GetPoints(GetPoints),
    UpdateVectors(UpdatePointVectors),
    DeleteVectors(DeletePointVectors),
    SetPayload(SetPayloadPoints),
    OverwritePayload(SetPayloadPoints),
    DeletePayload(DeletePayloadPoints),
    ClearPayload(ClearPayloadPoints),
    CreateFieldIndex(CreateFieldIndexCollection),
    DeleteFieldIndex(DeleteFieldIndexCollection),
    CreateVectorName(CreateVectorNameRequest),
    DeleteVectorName(DeleteVectorNameRequest),
    Search(SearchPoints),
    SearchBatch(SearchBatchPoints),
    SearchGroups(SearchPointGroups),
    Scroll(ScrollPoints),
    Recommend(RecommendPoints),
    RecommendBatch(RecommendBatchPoints),
    RecommendGroups(RecommendPointGroups),
    Discover(DiscoverPoints),
    DiscoverBatch(DiscoverBatchPoints),
    Count(CountPoints),
    UpdateBatch(UpdateBatchPoints),
    Query(QueryPoints),
    QueryBatch(QueryBatchPoints),
    QueryGroups(QueryPointGroups),
    Facet(FacetCounts),
    MatrixPairs(SearchMatrixPoints),
    MatrixOffsets(SearchMatrixPoints),
    // qdrant.Snapshots
    CreateSnapshot(CreateSnapshotRequest),
    ListSnapshots(ListSnapshotsRequest),
    DeleteSnapshot(DeleteSnapshotRequest),
    CreateFull,
    ListFull,
    DeleteFull(DeleteFullSnapshotRequest),
    // qdrant.StorageRead
    ListFiles(sr::ListFilesRequest),
    FileExists(sr::FileExistsRequest),
    FileLength(sr::PathRequest),
    ReadBytes(sr::ReadBytesRequest),
    ReadBytesStream(sr::ReadBytesRequest),
    ReadWhole(sr::PathRequest),
    ReadBatch(sr::ReadBatchRequest),
    ReadMulti(sr::ReadMultiRequest),
    // grpc.reflection.*.ServerReflection
    ReflectionV1,
    ReflectionV1Alpha,
}

/// Rpcs whose message names no collection.
const NO_COLLECTION: [&str; 10] = [
    "grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    "qdrant.Qdrant/HealthCheck",
    "grpc.health.v1.Health/Check",
    "qdrant.Collections/List",
    "qdrant.Collections/ListAliases",
    "qdrant.Collections/UpdateAliases",
    "qdrant.Snapshots/CreateFull",
    "qdrant.Snapshots/ListFull",
    "qdrant.Snapshots/DeleteFull",
];

/// The minimal valid message of `rpc`, naming collection `n`.
fn message(rpc: &str, n: &str) -> Msg {
    let name = || n.to_owned();
    match rpc {
        "qdrant.Qdrant/HealthCheck" => Msg::QdrantHealth,
        "grpc.health.v1.Health/Check" => Msg::GrpcHealth,
        "qdrant.Collections/Get" => Msg::Get(GetCollectionInfoRequest {
            collection_name: name(),
        }),
        "qdrant.Collections/List" => Msg::List,
        // A new collection; the check is global, the name plays no part.
        "qdrant.Collections/Create" => Msg::Create(
            CreateCollectionBuilder::new(format!("{n}_new"))
                .vectors_config(VectorParamsBuilder::new(2, Distance::Cosine))
                .build(),
        ),
        "qdrant.Collections/Update" => Msg::Update(UpdateCollection {
            collection_name: name(),
            optimizers_config: Some(OptimizersConfigDiff {
                indexing_threshold: Some(20000),
                ..Default::default()
            }),
            ..Default::default()
        }),
        "qdrant.Collections/Delete" => Msg::DeleteCollection(DeleteCollection {
            collection_name: name(),
            ..Default::default()
        }),
        "qdrant.Collections/UpdateAliases" => Msg::UpdateAliases(ChangeAliases {
            actions: vec![AliasOperations {
                action: Some(proto::alias_operations::Action::CreateAlias(CreateAlias {
                    collection_name: C.into(),
                    alias_name: "c_alias_2".into(),
                })),
            }],
            timeout: None,
        }),
        "qdrant.Collections/ListCollectionAliases" => {
            Msg::ListCollectionAliases(ListCollectionAliasesRequest {
                collection_name: name(),
            })
        }
        "qdrant.Collections/ListAliases" => Msg::ListAliases,
        "qdrant.Collections/CollectionClusterInfo" => {
            Msg::ClusterInfo(CollectionClusterInfoRequest {
                collection_name: name(),
            })
        }
        "qdrant.Collections/CollectionExists" => Msg::Exists(CollectionExistsRequest {
            collection_name: name(),
        }),
        "qdrant.Collections/UpdateCollectionClusterSetup" => {
            Msg::ClusterSetup(UpdateCollectionClusterSetupRequest {
                collection_name: name(),
                timeout: None,
                operation: Some(
                    proto::update_collection_cluster_setup_request::Operation::MoveShard(
                        MoveShard {
                            shard_id: 0,
                            from_peer_id: 1,
                            to_peer_id: 2,
                            ..Default::default()
                        },
                    ),
                ),
            })
        }
        "qdrant.Collections/CreateShardKey" => Msg::CreateShardKey(CreateShardKeyRequest {
            collection_name: name(),
            request: Some(proto::CreateShardKey {
                shard_key: Some(ShardKey {
                    key: Some(proto::shard_key::Key::Keyword("k1".into())),
                }),
                ..Default::default()
            }),
            timeout: None,
        }),
        "qdrant.Collections/DeleteShardKey" => Msg::DeleteShardKey(DeleteShardKeyRequest {
            collection_name: name(),
            request: Some(proto::DeleteShardKey {
                shard_key: Some(ShardKey {
                    key: Some(proto::shard_key::Key::Keyword("k1".into())),
                }),
            }),
            timeout: None,
        }),
        "qdrant.Collections/ListShardKeys" => Msg::ListShardKeys(ListShardKeysRequest {
            collection_name: name(),
        }),
        "qdrant.Points/Upsert" => Msg::Upsert(UpsertPoints {
            collection_name: name(),
            wait: Some(true),
            points: vec![PointStruct::new(
                4,
                vec![0.5, 0.5],
                Payload::from([("kw", Value::from("b"))]),
            )],
            ..Default::default()
        }),
        "qdrant.Points/Delete" => Msg::Delete(DeletePoints {
            collection_name: name(),
            wait: Some(true),
            points: select(&[3]),
            ..Default::default()
        }),
        "qdrant.Points/Get" => Msg::GetPoints(GetPoints {
            collection_name: name(),
            ids: ids(&[1, 2]),
            ..Default::default()
        }),
        "qdrant.Points/UpdateVectors" => Msg::UpdateVectors(UpdatePointVectors {
            collection_name: name(),
            wait: Some(true),
            points: vec![PointVectors {
                id: Some(PointId::from(1)),
                vectors: Some(vec![0.9_f32, 0.1].into()),
            }],
            ..Default::default()
        }),
        "qdrant.Points/DeleteVectors" => Msg::DeleteVectors(DeletePointVectors {
            collection_name: name(),
            wait: Some(true),
            points_selector: select(&[2]),
            vectors: Some(VectorsSelector {
                names: vec!["sparse_v".into()],
            }),
            ..Default::default()
        }),
        "qdrant.Points/SetPayload" | "qdrant.Points/OverwritePayload" => {
            let message = SetPayloadPoints {
                collection_name: name(),
                wait: Some(true),
                payload: HashMap::from([("kw".to_owned(), Value::from("z"))]),
                points_selector: select(&[1]),
                ..Default::default()
            };
            if rpc.ends_with("SetPayload") {
                Msg::SetPayload(message)
            } else {
                Msg::OverwritePayload(message)
            }
        }
        "qdrant.Points/DeletePayload" => Msg::DeletePayload(DeletePayloadPoints {
            collection_name: name(),
            wait: Some(true),
            keys: vec!["kw".into()],
            points_selector: select(&[1]),
            ..Default::default()
        }),
        "qdrant.Points/ClearPayload" => Msg::ClearPayload(ClearPayloadPoints {
            collection_name: name(),
            wait: Some(true),
            points: select(&[2]),
            ..Default::default()
        }),
        "qdrant.Points/CreateFieldIndex" => Msg::CreateFieldIndex(CreateFieldIndexCollection {
            collection_name: name(),
            wait: Some(true),
            field_name: "kw2".into(),
            field_type: Some(FieldType::Keyword as i32),
            ..Default::default()
        }),
        "qdrant.Points/DeleteFieldIndex" => Msg::DeleteFieldIndex(DeleteFieldIndexCollection {
            collection_name: name(),
            wait: Some(true),
            field_name: "kw".into(),
            ..Default::default()
        }),
        // A new sparse vector; delete the existing one.
        "qdrant.Points/CreateVectorName" => Msg::CreateVectorName(CreateVectorNameRequest {
            collection_name: name(),
            wait: Some(true),
            vector_name: "extra".into(),
            vector_config: Some(
                proto::create_vector_name_request::VectorConfig::SparseConfig(
                    SparseVectorCreationConfig::default(),
                ),
            ),
            ..Default::default()
        }),
        "qdrant.Points/DeleteVectorName" => Msg::DeleteVectorName(DeleteVectorNameRequest {
            collection_name: name(),
            wait: Some(true),
            vector_name: "sparse_v".into(),
            ..Default::default()
        }),
        "qdrant.Points/Search" => Msg::Search(search(n)),
        "qdrant.Points/SearchBatch" => Msg::SearchBatch(SearchBatchPoints {
            collection_name: name(),
            search_points: vec![search(n)],
            ..Default::default()
        }),
        "qdrant.Points/SearchGroups" => Msg::SearchGroups(search_groups(n)),
        "qdrant.Points/Scroll" => Msg::Scroll(ScrollPoints {
            collection_name: name(),
            limit: Some(10),
            ..Default::default()
        }),
        "qdrant.Points/Recommend" => Msg::Recommend(recommend(n)),
        "qdrant.Points/RecommendBatch" => Msg::RecommendBatch(RecommendBatchPoints {
            collection_name: name(),
            recommend_points: vec![recommend(n)],
            ..Default::default()
        }),
        "qdrant.Points/RecommendGroups" => Msg::RecommendGroups(recommend_groups(n)),
        "qdrant.Points/Discover" => Msg::Discover(discover(n)),
        "qdrant.Points/DiscoverBatch" => Msg::DiscoverBatch(DiscoverBatchPoints {
            collection_name: name(),
            discover_points: vec![discover(n)],
            ..Default::default()
        }),
        "qdrant.Points/Count" => Msg::Count(CountPoints {
            collection_name: name(),
            exact: Some(true),
            ..Default::default()
        }),
        "qdrant.Points/UpdateBatch" => Msg::UpdateBatch(UpdateBatchPoints {
            collection_name: name(),
            wait: Some(true),
            operations: vec![PointsUpdateOperation {
                operation: Some(proto::points_update_operation::Operation::Upsert(
                    proto::points_update_operation::PointStructList {
                        points: vec![PointStruct::new(5, vec![0.1, 0.9], Payload::new())],
                        ..Default::default()
                    },
                )),
            }],
            ..Default::default()
        }),
        "qdrant.Points/Query" => Msg::Query(query(n)),
        "qdrant.Points/QueryBatch" => Msg::QueryBatch(QueryBatchPoints {
            collection_name: name(),
            query_points: vec![query(n)],
            ..Default::default()
        }),
        "qdrant.Points/QueryGroups" => Msg::QueryGroups(query_groups(n)),
        "qdrant.Points/Facet" => Msg::Facet(FacetCounts {
            collection_name: name(),
            key: "kw".into(),
            ..Default::default()
        }),
        "qdrant.Points/SearchMatrixPairs" | "qdrant.Points/SearchMatrixOffsets" => {
            let message = SearchMatrixPoints {
                collection_name: name(),
                sample: Some(3),
                limit: Some(1),
                ..Default::default()
            };
            if rpc.ends_with("Pairs") {
                Msg::MatrixPairs(message)
            } else {
                Msg::MatrixOffsets(message)
            }
        }
        "qdrant.Snapshots/Create" => Msg::CreateSnapshot(CreateSnapshotRequest {
            collection_name: name(),
        }),
        "qdrant.Snapshots/List" => Msg::ListSnapshots(ListSnapshotsRequest {
            collection_name: name(),
        }),
        "qdrant.Snapshots/Delete" => Msg::DeleteSnapshot(DeleteSnapshotRequest {
            collection_name: name(),
            snapshot_name: format!("{n}-0.snapshot"),
        }),
        "qdrant.Snapshots/CreateFull" => Msg::CreateFull,
        "qdrant.Snapshots/ListFull" => Msg::ListFull,
        "qdrant.Snapshots/DeleteFull" => Msg::DeleteFull(DeleteFullSnapshotRequest {
            snapshot_name: "full-0.snapshot".into(),
        }),
        "qdrant.StorageRead/ListFiles" => Msg::ListFiles(sr::ListFilesRequest {
            collection_name: name(),
            prefix_path: String::new(),
        }),
        "qdrant.StorageRead/FileExists" => Msg::FileExists(sr::FileExistsRequest {
            collection_name: name(),
            path: sr::PROBE.into(),
            sequential: false,
        }),
        "qdrant.StorageRead/FileLength" => Msg::FileLength(sr::PathRequest {
            collection_name: name(),
            path: sr::PROBE.into(),
        }),
        "qdrant.StorageRead/ReadBytes" | "qdrant.StorageRead/ReadBytesStream" => {
            let message = sr::ReadBytesRequest {
                collection_name: name(),
                path: sr::PROBE.into(),
                byte_offset: 2,
                length: 4,
            };
            if rpc.ends_with("Stream") {
                Msg::ReadBytesStream(message)
            } else {
                Msg::ReadBytes(message)
            }
        }
        "qdrant.StorageRead/ReadWhole" => Msg::ReadWhole(sr::PathRequest {
            collection_name: name(),
            path: sr::PROBE.into(),
        }),
        "qdrant.StorageRead/ReadBatch" => Msg::ReadBatch(sr::ReadBatchRequest {
            collection_name: name(),
            path: sr::PROBE.into(),
            ranges: vec![sr::ReadBatchRange {
                byte_offset: 0,
                length: 1,
            }],
        }),
        "qdrant.StorageRead/ReadMulti" => Msg::ReadMulti(sr::ReadMultiRequest {
            collection_name: name(),
            reads: vec![sr::ReadMultiEntry {
                path: sr::PROBE.into(),
                byte_offset: 1,
                length: 1,
            }],
        }),
        "grpc.reflection.v1.ServerReflection/ServerReflectionInfo" => Msg::ReflectionV1,
        "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo" => {
            Msg::ReflectionV1Alpha
        }
        other => panic!("no message for {other}: a new row needs one here"),
    }
}

/// What an allowed call returned: the names of a listing (collections or
/// aliases), when the rpc is one.
type Answer = Result<Option<Vec<String>>, Status>;

/// The answer of an rpc that lists nothing.
fn none<T>(_: T) -> Option<Vec<String>> {
    None
}

/// Sends `msg` through the generated client of its service. The search,
/// recommend and discover rpcs are deprecated in the client in favour of
/// Query, but they are rows of the table and served.
#[allow(deprecated)]
async fn send(channel: &Channel, meta: &Meta, msg: Msg) -> Answer {
    let ch = || channel.clone();
    let mut points = PointsClient::with_interceptor(ch(), meta.clone());
    let mut collections = CollectionsClient::with_interceptor(ch(), meta.clone());
    let mut snapshots = SnapshotsClient::with_interceptor(ch(), meta.clone());
    let aliases = |r: tonic::Response<proto::ListAliasesResponse>| {
        Some(
            r.into_inner()
                .aliases
                .into_iter()
                .map(|a| a.alias_name)
                .collect(),
        )
    };
    match msg {
        Msg::QdrantHealth => {
            let reply = QdrantClient::with_interceptor(ch(), meta.clone())
                .health_check(HealthCheckRequest::default())
                .await?
                .into_inner();
            if reply.version != "1.18.3" {
                return Err(Status::unknown(format!("test: wrong version {reply:?}")));
            }
            Ok(None)
        }
        Msg::GrpcHealth => {
            use tonic_health::pb::health_check_response::ServingStatus;
            let reply =
                tonic_health::pb::health_client::HealthClient::with_interceptor(ch(), meta.clone())
                    .check(tonic_health::pb::HealthCheckRequest {
                        service: String::new(),
                    })
                    .await?
                    .into_inner();
            if reply.status != ServingStatus::Serving as i32 {
                return Err(Status::unknown(format!("test: not SERVING: {reply:?}")));
            }
            Ok(None)
        }
        Msg::Get(m) => collections.get(m).await.map(none),
        Msg::List => collections
            .list(ListCollectionsRequest::default())
            .await
            .map(|r| {
                Some(
                    r.into_inner()
                        .collections
                        .into_iter()
                        .map(|c| c.name)
                        .collect(),
                )
            }),
        Msg::Create(m) => collections.create(m).await.map(none),
        Msg::Update(m) => collections.update(m).await.map(none),
        Msg::DeleteCollection(m) => collections.delete(m).await.map(none),
        Msg::UpdateAliases(m) => collections.update_aliases(m).await.map(none),
        Msg::ListCollectionAliases(m) => collections.list_collection_aliases(m).await.map(aliases),
        Msg::ListAliases => collections
            .list_aliases(ListAliasesRequest::default())
            .await
            .map(aliases),
        Msg::ClusterInfo(m) => collections.collection_cluster_info(m).await.map(none),
        Msg::Exists(m) => collections.collection_exists(m).await.map(none),
        Msg::ClusterSetup(m) => collections
            .update_collection_cluster_setup(m)
            .await
            .map(none),
        Msg::CreateShardKey(m) => collections.create_shard_key(m).await.map(none),
        Msg::DeleteShardKey(m) => collections.delete_shard_key(m).await.map(none),
        Msg::ListShardKeys(m) => collections.list_shard_keys(m).await.map(none),
        Msg::Upsert(m) => points.upsert(m).await.map(none),
        Msg::Delete(m) => points.delete(m).await.map(none),
        Msg::GetPoints(m) => points.get(m).await.map(none),
        Msg::UpdateVectors(m) => points.update_vectors(m).await.map(none),
        Msg::DeleteVectors(m) => points.delete_vectors(m).await.map(none),
        Msg::SetPayload(m) => points.set_payload(m).await.map(none),
        Msg::OverwritePayload(m) => points.overwrite_payload(m).await.map(none),
        Msg::DeletePayload(m) => points.delete_payload(m).await.map(none),
        Msg::ClearPayload(m) => points.clear_payload(m).await.map(none),
        Msg::CreateFieldIndex(m) => points.create_field_index(m).await.map(none),
        Msg::DeleteFieldIndex(m) => points.delete_field_index(m).await.map(none),
        Msg::CreateVectorName(m) => points.create_vector_name(m).await.map(none),
        Msg::DeleteVectorName(m) => points.delete_vector_name(m).await.map(none),
        Msg::Search(m) => points.search(m).await.map(none),
        Msg::SearchBatch(m) => points.search_batch(m).await.map(none),
        Msg::SearchGroups(m) => points.search_groups(m).await.map(none),
        Msg::Scroll(m) => points.scroll(m).await.map(none),
        Msg::Recommend(m) => points.recommend(m).await.map(none),
        Msg::RecommendBatch(m) => points.recommend_batch(m).await.map(none),
        Msg::RecommendGroups(m) => points.recommend_groups(m).await.map(none),
        Msg::Discover(m) => points.discover(m).await.map(none),
        Msg::DiscoverBatch(m) => points.discover_batch(m).await.map(none),
        Msg::Count(m) => points.count(m).await.map(none),
        Msg::UpdateBatch(m) => points.update_batch(m).await.map(none),
        Msg::Query(m) => points.query(m).await.map(none),
        Msg::QueryBatch(m) => points.query_batch(m).await.map(none),
        Msg::QueryGroups(m) => points.query_groups(m).await.map(none),
        Msg::Facet(m) => points.facet(m).await.map(none),
        Msg::MatrixPairs(m) => points.search_matrix_pairs(m).await.map(none),
        Msg::MatrixOffsets(m) => points.search_matrix_offsets(m).await.map(none),
        Msg::CreateSnapshot(m) => snapshots.create(m).await.map(none),
        Msg::ListSnapshots(m) => snapshots.list(m).await.map(none),
        Msg::DeleteSnapshot(m) => snapshots.delete(m).await.map(none),
        Msg::CreateFull => snapshots
            .create_full(CreateFullSnapshotRequest::default())
            .await
            .map(none),
        Msg::ListFull => snapshots
            .list_full(ListFullSnapshotsRequest::default())
            .await
            .map(none),
        Msg::DeleteFull(m) => snapshots.delete_full(m).await.map(none),
        Msg::ListFiles(m) => {
            let listed: sr::ListFilesResponse =
                storage_read(channel, meta, "ListFiles", m).await?;
            if !listed.paths.iter().any(|p| p == sr::PROBE) {
                return Err(Status::unknown(format!("test: probe not listed: {listed:?}")));
            }
            Ok(None)
        }
        Msg::FileExists(m) => {
            let answer: sr::FileExistsResponse =
                storage_read(channel, meta, "FileExists", m).await?;
            expect_answer(answer.exists, true)
        }
        Msg::FileLength(m) => {
            let answer: sr::FileLengthResponse =
                storage_read(channel, meta, "FileLength", m).await?;
            expect_answer(answer.length, sr::PROBE_BYTES.len() as u64)
        }
        Msg::ReadBytes(m) => {
            let answer: sr::DataResponse = storage_read(channel, meta, "ReadBytes", m).await?;
            expect_answer(answer.data, sr::PROBE_BYTES[2..6].to_vec())
        }
        Msg::ReadBytesStream(m) => {
            let chunks = sr::read_stream(channel, &meta.0, m).await?;
            expect_answer(chunks.concat(), sr::PROBE_BYTES[2..6].to_vec())
        }
        Msg::ReadWhole(m) => {
            let answer: sr::DataResponse = storage_read(channel, meta, "ReadWhole", m).await?;
            expect_answer(answer.data, sr::PROBE_BYTES.to_vec())
        }
        Msg::ReadBatch(m) => {
            let answer: sr::DataListResponse = storage_read(channel, meta, "ReadBatch", m).await?;
            expect_answer(answer.data, vec![sr::PROBE_BYTES[..1].to_vec()])
        }
        Msg::ReadMulti(m) => {
            let answer: sr::DataListResponse = storage_read(channel, meta, "ReadMulti", m).await?;
            expect_answer(answer.data, vec![sr::PROBE_BYTES[1..2].to_vec()])
        }
        Msg::ReflectionV1 | Msg::ReflectionV1Alpha => {
            let v1 = matches!(msg, Msg::ReflectionV1);
            let mut listed = sr::reflected_services(channel, &meta.0, v1).await?;
            listed.sort();
            expect_answer(listed, REFLECTED.map(str::to_owned).to_vec())
        }
    }
}

/// OK only when an allowed call answered what the populated server holds.
fn expect_answer<T: PartialEq + std::fmt::Debug>(got: T, want: T) -> Answer {
    if got == want {
        Ok(None)
    } else {
        Err(Status::unknown(format!("test: expected {want:?}, got {got:?}")))
    }
}

/// One unary StorageRead rpc with the credential of `meta`.
async fn storage_read<Req, Resp>(
    channel: &Channel,
    meta: &Meta,
    method: &str,
    message: Req,
) -> Result<Resp, Status>
where
    Req: prost::Message + Send + Sync + 'static,
    Resp: prost::Message + Default + Send + Sync + 'static,
{
    let path = match method {
        "ListFiles" => "/qdrant.StorageRead/ListFiles",
        "FileExists" => "/qdrant.StorageRead/FileExists",
        "FileLength" => "/qdrant.StorageRead/FileLength",
        "ReadBytes" => "/qdrant.StorageRead/ReadBytes",
        "ReadWhole" => "/qdrant.StorageRead/ReadWhole",
        "ReadBatch" => "/qdrant.StorageRead/ReadBatch",
        "ReadMulti" => "/qdrant.StorageRead/ReadMulti",
        other => panic!("test bug: no unary StorageRead rpc {other}"),
    };
    sr::unary(channel, &meta.0, path, message).await
}

async fn call(channel: &Channel, rpc: &str, collection: &str, meta: &Meta) -> Answer {
    send(channel, meta, message(rpc, collection)).await
}

// ---------------------------------------------------------------------------
// Checking one answer.
// ---------------------------------------------------------------------------

fn describe(answer: &Answer) -> String {
    match answer {
        Ok(listing) => format!("OK {listing:?}"),
        Err(status) => format!("{:?} {:?}", status.code(), status.message()),
    }
}

/// `Err(description)` when the answer does not match the expectation.
fn check(row: &Row, expected: &Expect, answer: &Answer) -> Result<(), String> {
    let denied = |code: Code, message: &str| match answer {
        Err(s) if s.code() == code && s.message() == message => Ok(()),
        _ => Err(format!(
            "expected {code:?} {message:?}, got {}",
            describe(answer)
        )),
    };
    match expected {
        Expect::Allowed => match answer {
            Ok(_) => Ok(()),
            Err(_) if row.need == Need::None => Err(format!(
                "expected OK on an open health check, got {}",
                describe(answer)
            )),
            Err(s) if matches!(s.code(), Code::Unauthenticated | Code::PermissionDenied) => {
                Err(format!("expected to be allowed, got {}", describe(answer)))
            }
            Err(_) => Ok(()),
        },
        Expect::Unauthenticated(message) => denied(Code::Unauthenticated, message),
        Expect::AuthRejected(message) => denied(Code::PermissionDenied, message),
        Expect::Forbidden(reason) => {
            denied(Code::PermissionDenied, &format!("Forbidden: {reason}"))
        }
    }
}

/// The names a principal may see in a filtered listing (spec §9).
fn visible(cred: Cred, names: &[&str]) -> Vec<String> {
    match authn(cred) {
        Authn::Principal(Principal::Collections(entries)) => names
            .iter()
            .filter(|n| entries.iter().any(|(e, _)| e == *n))
            .map(|n| (*n).to_owned())
            .collect(),
        _ => names.iter().map(|n| (*n).to_owned()).collect(),
    }
}

/// The `any_auth` listings and `ListCollectionAliases` are filtered for
/// collection-scoped principals: only names (for alias listings: the alias
/// and its collection) that the token names.
fn check_filtering(row: &Row, cred: Cred, answer: &Answer) -> Result<(), String> {
    let Ok(Some(got)) = answer else {
        return Ok(());
    };
    let scoped = matches!(authn(cred), Authn::Principal(Principal::Collections(_)));
    let want: Vec<String> = match row.rpc.as_str() {
        "qdrant.Collections/List" => visible(cred, &[C, D]),
        // No token here names `c_alias`.
        "qdrant.Collections/ListAliases" | "qdrant.Collections/ListCollectionAliases" => {
            if scoped {
                vec![]
            } else {
                vec![ALIAS.into()]
            }
        }
        _ => return Ok(()),
    };
    if *got != want {
        return Err(format!("listed {got:?}, expected {want:?}"));
    }
    Ok(())
}

/// Valid messages that an implementation may still refuse on the data of
/// the populated server (no snapshot of that name, no custom sharding, no
/// peer 2): today these rpcs answer UNIMPLEMENTED, and a later
/// implementation must not turn this test red for those answers.
fn admin_may_fail(rpc: &str, code: Code) -> bool {
    match rpc {
        "qdrant.Snapshots/Delete" | "qdrant.Snapshots/DeleteFull" => code == Code::NotFound,
        "qdrant.Collections/CreateShardKey"
        | "qdrant.Collections/DeleteShardKey"
        | "qdrant.Collections/UpdateCollectionClusterSetup" => matches!(
            code,
            Code::InvalidArgument | Code::NotFound | Code::FailedPrecondition
        ),
        _ => false,
    }
}

// ---------------------------------------------------------------------------
// The tests.
// ---------------------------------------------------------------------------

/// The rows the matrix calls are exactly the public rows of the served
/// services, and no public row is left out.
#[test]
fn the_public_grpc_rows_are_the_served_ones() {
    let all = grpc_rows();
    let rows = public_rows();
    assert_eq!(
        rows.len(),
        62,
        "public rows: 60 of Qdrant's protos and 2 of reflection"
    );
    let left_out: BTreeSet<&str> = all
        .iter()
        .filter(|r| r.exposure.starts_with("grpc-public"))
        .filter(|r| !SERVED.contains(&service(&r.rpc)))
        .map(|r| service(&r.rpc))
        .collect();
    assert_eq!(left_out, BTreeSet::new());
    for row in &rows {
        // Every row has a message (panics otherwise).
        let _ = message(&row.rpc, C);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_public_grpc_row_with_every_credential() {
    let rows = public_rows();
    let tokens: BTreeMap<Cred, Option<String>> =
        CREDS.iter().map(|&c| (c, credential(c))).collect();
    let mut failures = Vec::new();
    let mut cases = 0usize;
    let mut unimplemented = Vec::new();
    let mut per_need: BTreeMap<Need, usize> = BTreeMap::new();
    let mut outcomes: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut admin_codes: BTreeMap<String, Vec<String>> = BTreeMap::new();

    for row in &rows {
        // A fresh server per row: writes and deletes by the allowed
        // credentials must not change what the next row sees.
        let (_server, channel) = populated().await;
        *per_need.entry(row.need).or_default() += 1;
        for &cred in &CREDS {
            cases += 1;
            let expected = expect(row, cred, C);
            *outcomes
                .entry(match &expected {
                    Expect::Allowed => "allowed",
                    Expect::Unauthenticated(_) => "UNAUTHENTICATED",
                    Expect::AuthRejected(_) => "PERMISSION_DENIED (authentication)",
                    Expect::Forbidden(_) => "PERMISSION_DENIED (Forbidden)",
                })
                .or_default() += 1;
            let meta = Meta::carrying(tokens[&cred].as_deref(), Carrier::ApiKey);
            let answer = call(&channel, &row.rpc, C, &meta).await;
            let verdict =
                check(row, &expected, &answer).and_then(|()| check_filtering(row, cred, &answer));
            if let Err(why) = verdict {
                failures.push(format!("{} as {cred:?}: {why}", row.rpc));
            }
            if cred == Cred::AdminKey {
                // The admin key is the first credential let through on a
                // fresh server: the message must be valid, so only OK or
                // UNIMPLEMENTED (naming the rpc) are acceptable, besides the
                // data-dependent refusals of `admin_may_fail`.
                let code = match &answer {
                    Ok(_) => "Ok".to_owned(),
                    Err(s) => format!("{:?}", s.code()),
                };
                match &answer {
                    Ok(_) => {}
                    Err(s) if s.code() == Code::Unimplemented => {
                        let method = row.rpc.split('/').nth(1).unwrap();
                        if !s.message().contains(method) {
                            failures.push(format!(
                                "{}: UNIMPLEMENTED must name the rpc, got {:?}",
                                row.rpc,
                                s.message()
                            ));
                        }
                        unimplemented.push(row.rpc.clone());
                    }
                    Err(s) if admin_may_fail(&row.rpc, s.code()) => {}
                    Err(_) => failures.push(format!(
                        "{} with the admin key (invalid test message?): {}",
                        row.rpc,
                        describe(&answer)
                    )),
                }
                admin_codes.entry(code).or_default().push(row.rpc.clone());
            }
        }
    }

    println!(
        "grpc access matrix: {} public rows of the served services exercised",
        rows.len()
    );
    println!("grpc access matrix: {} credentials per row", CREDS.len());
    println!("grpc access matrix: {cases} (row, credential) cases checked");
    println!("grpc access matrix: rows per required_access: {per_need:?}");
    println!("grpc access matrix: expected outcomes: {outcomes:?}");
    for (code, rpcs) in &admin_codes {
        println!(
            "grpc access matrix: admin key -> {code}: {} rows",
            rpcs.len()
        );
    }
    println!(
        "grpc access matrix: UNIMPLEMENTED after the check: {}",
        unimplemented.join(", ")
    );
    assert!(
        failures.is_empty(),
        "{} of {cases} cases differ from the spec:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The same matrix through `authorization: Bearer`, on one rpc per kind of
/// requirement: the carrier must not change a single answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_form_gives_the_same_answers() {
    let rows = public_rows();
    let picks = [
        "qdrant.Qdrant/HealthCheck",
        "grpc.health.v1.Health/Check",
        "qdrant.Collections/List",
        "qdrant.Snapshots/ListFull",
        "qdrant.Collections/Create",
        "qdrant.Collections/CreateShardKey",
        "qdrant.Collections/Get",
        "qdrant.Snapshots/List",
        "qdrant.Points/Upsert",
        "qdrant.Points/CreateFieldIndex",
        "qdrant.StorageRead/ReadWhole",
        "grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    ];
    let mut failures = Vec::new();
    let mut cases = 0;
    for rpc in picks {
        let row = rows.iter().find(|r| r.rpc == rpc).unwrap();
        let (_server, channel) = populated().await;
        for &cred in &CREDS {
            cases += 1;
            let meta = Meta::carrying(credential(cred).as_deref(), Carrier::Bearer);
            let answer = call(&channel, rpc, C, &meta).await;
            if let Err(why) = check(row, &expect(row, cred, C), &answer)
                .and_then(|()| check_filtering(row, cred, &answer))
            {
                failures.push(format!("{rpc} as Bearer {cred:?}: {why}"));
            }
        }
    }
    println!("grpc bearer form: {cases} cases checked");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Spec §3 on gRPC metadata: `api-key` wins over `authorization` (no
/// fallback when it is wrong); the `Bearer ` prefix is exact and
/// case-sensitive; nothing is trimmed.
#[tokio::test]
async fn metadata_precedence_and_bearer_syntax() {
    let (_server, channel) = populated().await;
    let bearer = |v: &str| ("authorization", format!("Bearer {v}"));
    let key = |v: &str| ("api-key", v.to_owned());
    let coll_r = credential(Cred::JwtCollR).unwrap();
    let write = "qdrant.Points/Upsert";
    let read = "qdrant.Collections/Get";
    let forbidden = |r: &str| Some((Code::PermissionDenied, format!("Forbidden: {r}")));
    let cases: Vec<(
        &str,
        &str,
        Vec<(&'static str, String)>,
        Option<(Code, String)>,
    )> = vec![
        (
            "admin api-key wins over a wrong bearer",
            write,
            vec![key(ADMIN), bearer("wrong")],
            None,
        ),
        (
            "wrong api-key: no fallback to a valid bearer",
            read,
            vec![key("wrong"), bearer(ADMIN)],
            Some((Code::Unauthenticated, INVALID.into())),
        ),
        (
            "read-only api-key wins over an admin bearer",
            write,
            vec![key(READ_ONLY), bearer(ADMIN)],
            forbidden("Global manage access is required"),
        ),
        (
            "collection-r JWT in api-key wins over an admin bearer",
            write,
            vec![key(&coll_r), bearer(ADMIN)],
            forbidden("Write access to collection c is required"),
        ),
        ("admin key as bearer", write, vec![bearer(ADMIN)], None),
        (
            "lower-case `bearer` is no credential",
            read,
            vec![("authorization", format!("bearer {ADMIN}"))],
            Some((Code::Unauthenticated, MISSING.into())),
        ),
        (
            "`Basic` is no credential",
            read,
            vec![("authorization", format!("Basic {ADMIN}"))],
            Some((Code::Unauthenticated, MISSING.into())),
        ),
        (
            "two spaces after Bearer: the credential keeps its leading space",
            read,
            vec![("authorization", format!("Bearer  {ADMIN}"))],
            Some((Code::Unauthenticated, INVALID.into())),
        ),
        (
            "an api-key with a trailing space is not trimmed",
            read,
            vec![key(&format!("{ADMIN} "))],
            Some((Code::Unauthenticated, INVALID.into())),
        ),
    ];
    let mut failures = Vec::new();
    for (what, rpc, headers, want) in cases {
        let answer = call(&channel, rpc, C, &Meta(headers)).await;
        let ok = match (&want, &answer) {
            (None, Ok(_)) => true,
            (Some((code, message)), Err(s)) => s.code() == *code && s.message() == message,
            _ => false,
        };
        if !ok {
            failures.push(format!(
                "{what}: expected {want:?}, got {}",
                describe(&answer)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// [`raw_call`] with an `api-key`.
pub async fn raw_call_with(channel: &Channel, path: &str, key: &str) -> Status {
    raw_call(channel, path, &Meta::carrying(Some(key), Carrier::ApiKey)).await
}

/// A raw unary call on any path, with an empty body: the authentication
/// layer answers before any message is read.
async fn raw_call(channel: &Channel, path: &str, meta: &Meta) -> Status {
    let mut request = http::Request::builder()
        .method(http::Method::POST)
        .uri(path)
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    for (k, v) in &meta.0 {
        request = request.header(*k, v);
    }
    let request = request.body(tonic::body::Body::default()).unwrap();
    let response = channel.clone().oneshot(request).await.unwrap();
    Status::from_header_map(response.headers())
        .unwrap_or_else(|| Status::ok("no grpc-status in the response headers"))
}

/// Spec §4: everything but the two exact health paths needs a valid
/// credential, including unknown methods, services this server does not
/// serve (the p2p services), reflection and near-misses of the
/// open paths: without one they answer UNAUTHENTICATED, never UNIMPLEMENTED.
#[tokio::test]
async fn unknown_and_unserved_methods_need_a_credential() {
    let (_server, channel) = populated().await;
    let mut paths: Vec<String> = vec![
        "/qdrant.Nope/Nothing".into(),
        "/qdrant.Points/Nothing".into(),
        "/grpc.health.v1.Health/Watch".into(),
        "/qdrant.Qdrant/HealthCheck/".into(),
        "/qdrant.Qdrant/healthcheck".into(),
        "/qdrant.Qdrant/HealthCheckX".into(),
    ];
    // Every row the matrix does not call: the internal ones.
    let public: BTreeSet<String> = public_rows().into_iter().map(|r| r.rpc).collect();
    let others: Vec<String> = grpc_rows_all()
        .into_iter()
        .filter(|rpc| !public.contains(rpc))
        .map(|rpc| format!("/{rpc}"))
        .collect();
    assert_eq!(others.len(), 40, "the internal rows");
    paths.extend(others);
    let expired = credential(Cred::JwtExpired);
    let cases: [(&str, Option<String>, Option<(Code, &str)>); 4] = [
        (
            "no credential",
            None,
            Some((Code::Unauthenticated, MISSING)),
        ),
        (
            "a wrong key",
            Some("not-a-configured-key".into()),
            Some((Code::Unauthenticated, INVALID)),
        ),
        (
            "an expired JWT",
            expired,
            Some((Code::PermissionDenied, "ExpiredSignature")),
        ),
        // Authenticated: whatever comes next, but not a refusal.
        ("the admin key", Some(ADMIN.into()), None),
    ];
    let mut failures = Vec::new();
    let mut admin_codes: BTreeMap<String, usize> = BTreeMap::new();
    for path in &paths {
        for (who, cred, want) in &cases {
            let meta = Meta::carrying(cred.as_deref(), Carrier::ApiKey);
            let status = raw_call(&channel, path, &meta).await;
            match want {
                Some((code, message)) => {
                    if status.code() != *code || status.message() != *message {
                        failures.push(format!(
                            "{path} with {who}: expected {code:?} {message:?}, got {:?} {:?}",
                            status.code(),
                            status.message()
                        ));
                    }
                }
                None => {
                    *admin_codes
                        .entry(format!("{:?}", status.code()))
                        .or_default() += 1;
                    if matches!(
                        status.code(),
                        Code::Unauthenticated | Code::PermissionDenied
                    ) {
                        failures.push(format!(
                            "{path} with {who}: refused {:?} {:?}",
                            status.code(),
                            status.message()
                        ));
                    }
                }
            }
        }
    }
    println!(
        "unknown/unserved methods: {} paths x {} credentials; admin key -> {admin_codes:?}",
        paths.len(),
        cases.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every `grpc` row's rpc, of any exposure.
fn grpc_rows_all() -> Vec<String> {
    let text = std::fs::read_to_string(table_path()).expect("access table");
    text.lines()
        .skip(1)
        .filter(|l| l.starts_with("grpc\t"))
        .map(|l| l.split('\t').nth(2).unwrap().to_owned())
        .collect()
}

/// Spec §4 and §9: names are matched literally, before alias resolution, and
/// a principal without access gets PERMISSION_DENIED whether the collection
/// exists or not. Every row whose message names a collection is sent for
/// `missing` (no such collection) and for `c_alias` (an alias of `c`), with
/// tokens that name `c`, that name the message's own name, and the
/// read-only key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collection_names_are_literal_and_existence_does_not_leak() {
    let rows = public_rows();
    let mut failures = Vec::new();
    let mut cases = 0;
    for row in rows
        .iter()
        .filter(|r| !NO_COLLECTION.contains(&r.rpc.as_str()))
    {
        let (_server, channel) = populated().await;
        for name in ["missing", ALIAS] {
            let principals = [
                scoped(&[(C, Mode::Rw)]),
                scoped(&[(name, Mode::R)]),
                scoped(&[(name, Mode::Rw)]),
                scoped(&[(name, Mode::Prw)]),
                Principal::GlobalRead,
            ];
            for principal in principals {
                let token = match &principal {
                    Principal::Collections(entries) => scoped_jwt(entries),
                    _ => READ_ONLY.to_owned(),
                };
                let expected = expect_for(row, &principal, name);
                let meta = Meta::carrying(Some(&token), Carrier::ApiKey);
                let answer = call(&channel, &row.rpc, name, &meta).await;
                cases += 1;
                if let Err(why) = check(row, &expected, &answer) {
                    failures.push(format!("{} on {name} as {principal:?}: {why}", row.rpc));
                }
            }
        }
    }
    println!("grpc literal names: {cases} cases checked");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Spec §9: collections named inside a message (`lookup_from`, also in
/// nested prefetches and in batch entries; `with_lookup`) need an entry of
/// their own, in any mode, in a collection-scoped token: PERMISSION_DENIED
/// `Forbidden: Access to collection <x> is required`, never NOT_FOUND for a
/// collection that does not exist.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_references_need_their_own_entry() {
    let rows = public_rows();
    let bodies = |target: &str| -> Vec<(&'static str, Msg)> {
        let mut rec = recommend(C);
        rec.lookup_from = lookup(target);
        let mut disc = discover(C);
        disc.lookup_from = lookup(target);
        let mut q = query(C);
        q.lookup_from = lookup(target);
        let mut nested = query(C);
        nested.prefetch = nested_prefetch(target);
        let mut rec_groups = recommend_groups(C);
        rec_groups.lookup_from = lookup(target);
        let mut rec_groups_with = recommend_groups(C);
        rec_groups_with.with_lookup = with_lookup(target);
        let mut q_groups = query_groups(C);
        q_groups.lookup_from = lookup(target);
        let mut q_groups_nested = query_groups(C);
        q_groups_nested.prefetch = nested_prefetch(target);
        let mut q_groups_with = query_groups(C);
        q_groups_with.with_lookup = with_lookup(target);
        let mut s_groups_with = search_groups(C);
        s_groups_with.with_lookup = with_lookup(target);
        vec![
            ("qdrant.Points/Recommend", Msg::Recommend(rec.clone())),
            (
                "qdrant.Points/RecommendBatch",
                Msg::RecommendBatch(RecommendBatchPoints {
                    collection_name: C.into(),
                    recommend_points: vec![recommend(C), rec],
                    ..Default::default()
                }),
            ),
            (
                "qdrant.Points/RecommendGroups",
                Msg::RecommendGroups(rec_groups),
            ),
            (
                "qdrant.Points/RecommendGroups",
                Msg::RecommendGroups(rec_groups_with),
            ),
            ("qdrant.Points/Discover", Msg::Discover(disc.clone())),
            (
                "qdrant.Points/DiscoverBatch",
                Msg::DiscoverBatch(DiscoverBatchPoints {
                    collection_name: C.into(),
                    discover_points: vec![disc],
                    ..Default::default()
                }),
            ),
            ("qdrant.Points/Query", Msg::Query(q)),
            ("qdrant.Points/Query", Msg::Query(nested.clone())),
            (
                "qdrant.Points/QueryBatch",
                Msg::QueryBatch(QueryBatchPoints {
                    collection_name: C.into(),
                    query_points: vec![query(C), nested],
                    ..Default::default()
                }),
            ),
            ("qdrant.Points/QueryGroups", Msg::QueryGroups(q_groups)),
            (
                "qdrant.Points/QueryGroups",
                Msg::QueryGroups(q_groups_nested),
            ),
            ("qdrant.Points/QueryGroups", Msg::QueryGroups(q_groups_with)),
            (
                "qdrant.Points/SearchGroups",
                Msg::SearchGroups(s_groups_with),
            ),
        ]
    };
    let mut failures = Vec::new();
    let mut cases = 0;
    let (_server, channel) = populated().await;
    for target in [D, "missing"] {
        let refused = format!("Access to collection {target} is required");
        let tokens: Vec<(String, String, Expect)> = vec![
            (
                format!("[{C} r]"),
                scoped_jwt(&[(C.into(), Mode::R)]),
                Expect::Forbidden(refused.clone()),
            ),
            (
                format!("[{C} rw]"),
                scoped_jwt(&[(C.into(), Mode::Rw)]),
                Expect::Forbidden(refused.clone()),
            ),
            (
                format!("[{C} r, {target} prw]"),
                scoped_jwt(&[(C.into(), Mode::R), (target.into(), Mode::Prw)]),
                Expect::Allowed,
            ),
            (
                format!("[{C} prw, {target} r]"),
                scoped_jwt(&[(C.into(), Mode::Prw), (target.into(), Mode::R)]),
                Expect::Allowed,
            ),
            // The message's own collection is checked first.
            (
                format!("[{target} rw]"),
                scoped_jwt(&[(target.into(), Mode::Rw)]),
                Expect::Forbidden(format!("Access to collection {C} is required")),
            ),
            ("read-only key".into(), READ_ONLY.into(), Expect::Allowed),
            ("JWT r".into(), jwt(json!({"access": "r"})), Expect::Allowed),
        ];
        for (who, token, expected) in &tokens {
            for (index, (rpc, msg)) in bodies(target).into_iter().enumerate() {
                let row = rows.iter().find(|r| r.rpc == rpc).unwrap();
                cases += 1;
                let meta = Meta::carrying(Some(token), Carrier::ApiKey);
                let answer = send(&channel, &meta, msg).await;
                if let Err(why) = check(row, expected, &answer) {
                    failures.push(format!(
                        "{rpc} (message #{index}) naming {target} as {who}: {why}"
                    ));
                }
            }
        }
    }
    println!("grpc message references: {cases} cases checked");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Self-test of the model against the spec's own examples and the notes of
/// the gRPC rows, so that a slip in the model cannot silently agree with a
/// slip in the server.
#[test]
fn the_model_reproduces_the_spec_examples() {
    let rw = scoped(&[(C, Mode::Rw)]);
    let r = scoped(&[(C, Mode::R)]);
    let prw = scoped(&[(C, Mode::Prw)]);
    let other = scoped(&[("other", Mode::Rw)]);
    let gr = Principal::GlobalRead;
    let e = |p: &Principal, n: Need| authorize(p, n, C).err();
    assert_eq!(
        e(&gr, Need::GlobalManage).as_deref(),
        Some("Global manage access is required")
    );
    assert_eq!(
        e(&rw, Need::GlobalManage).as_deref(),
        Some("Global access is required")
    );
    assert_eq!(
        e(&rw, Need::GlobalRead).as_deref(),
        Some("Global access is required")
    );
    assert_eq!(
        e(&rw, Need::CollManage).as_deref(),
        Some("Manage access for this operation is required")
    );
    assert_eq!(
        e(&gr, Need::CollManage).as_deref(),
        Some("Global manage access is required")
    );
    assert_eq!(
        e(&r, Need::CollWrite).as_deref(),
        Some("Write access to collection c is required")
    );
    assert_eq!(
        e(&r, Need::CollWriteExtras).as_deref(),
        Some("Write access to collection c is required")
    );
    assert_eq!(
        e(&prw, Need::CollWriteExtras).as_deref(),
        Some("Only points access is allowed for collection c")
    );
    assert_eq!(
        e(&prw, Need::CollReadExtras).as_deref(),
        Some("Only points access is allowed for collection c")
    );
    assert_eq!(
        e(&other, Need::CollRead).as_deref(),
        Some("Access to collection c is required")
    );
    assert!(
        e(&gr, Need::CollReadExtras).is_none(),
        "extras ignored for global"
    );
    assert!(e(&prw, Need::CollWrite).is_none());
    assert!(e(&rw, Need::CollWriteExtras).is_none());
    assert!(e(&r, Need::CollReadExtras).is_none());
    assert!(e(&other, Need::AnyAuth).is_none());
    assert!(e(&Principal::GlobalManage, Need::CollManage).is_none());

    // The notes of the gRPC rows say the same as the model.
    let rows = public_rows();
    let need = |rpc: &str| rows.iter().find(|r| r.rpc == rpc).unwrap().need;
    assert_eq!(
        e(&prw, need("qdrant.Collections/CollectionClusterInfo")).as_deref(),
        Some("Only points access is allowed for collection c")
    );
    assert_eq!(
        e(&rw, need("qdrant.Collections/CreateShardKey")).as_deref(),
        Some("Manage access for this operation is required")
    );
    assert_eq!(
        e(&gr, need("qdrant.Collections/UpdateCollectionClusterSetup")).as_deref(),
        Some("Global manage access is required")
    );
    assert_eq!(
        e(&r, need("qdrant.Points/Upsert")).as_deref(),
        Some("Write access to collection c is required")
    );
    assert!(e(&prw, need("qdrant.Points/Upsert")).is_none());
    assert_eq!(
        e(&prw, need("qdrant.Snapshots/List")).as_deref(),
        Some("Only points access is allowed for collection c")
    );
    assert_eq!(
        e(&rw, need("qdrant.Snapshots/ListFull")).as_deref(),
        Some("Global access is required")
    );
    assert_eq!(need("qdrant.Qdrant/HealthCheck"), Need::None);
    assert_eq!(need("grpc.health.v1.Health/Check"), Need::None);
    // The unsigned token really is `{"alg":"none"}`, and the encoder is
    // standard base64url without padding.
    assert_eq!(b64url(b"{\"alg\":\"none\"}"), "eyJhbGciOiJub25lIn0");
    assert_eq!(b64url(b"ab"), "YWI");
    assert_eq!(b64url(b"\xfb\xff"), "-_8");
}

/// Spec §6/§7/§10 edges of the credentials themselves over gRPC, on one
/// read rpc (`Collections/Get`) and one write rpc (`Points/Upsert`).
#[tokio::test]
async fn jwt_edge_cases() {
    let (_server, channel) = populated().await;
    let hs384 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS384),
        &json!({"access": "m"}),
        &jsonwebtoken::EncodingKey::from_secret(ADMIN.as_bytes()),
    )
    .unwrap();
    // Claims given as JSON text, signed correctly with HS256 and the admin key.
    let raw = |claims: &str| jwt(serde_json::from_str(claims).unwrap());
    let t = now();
    let unauthenticated = |m: &str| Some((Code::Unauthenticated, Some(m.to_owned())));
    let rejected = |m: &str| Some((Code::PermissionDenied, Some(m.to_owned())));
    // (what, token, write?, None = allowed | Some((code, exact message or any)))
    let cases: Vec<(&str, String, bool, Option<(Code, Option<String>)>)> = vec![
        (
            "exp 20 s ago is within the 30 s leeway",
            jwt(json!({"access": "m", "exp": t - 20})),
            true,
            None,
        ),
        (
            "exp 60 s ago is expired",
            jwt(json!({"access": "m", "exp": t - 60})),
            false,
            rejected("ExpiredSignature"),
        ),
        (
            "no access claim means global manage",
            jwt(json!({"sub": "someone"})),
            true,
            None,
        ),
        (
            "signed with the read-only key",
            jwt_with(READ_ONLY, json!({"access": "r"})),
            false,
            rejected("InvalidSignature"),
        ),
        (
            "HS384 with the admin key",
            hs384,
            false,
            unauthenticated(INVALID),
        ),
        (
            "expired and malformed claims: the claims error wins",
            raw(&format!(r#"{{"access": "x", "exp": {}}}"#, t - 3600)),
            false,
            unauthenticated(INVALID),
        ),
        (
            "access: null",
            raw(r#"{"access": null}"#),
            false,
            unauthenticated(INVALID),
        ),
        (
            "fractional exp",
            raw(&format!(r#"{{"access": "m", "exp": {}.5}}"#, t + 3600)),
            false,
            unauthenticated(INVALID),
        ),
        (
            "an unknown access mode in the list",
            raw(r#"{"access": [{"collection": "c", "access": "w"}]}"#),
            false,
            unauthenticated(INVALID),
        ),
        (
            "access: [] grants nothing",
            jwt(json!({"access": []})),
            false,
            rejected("Forbidden: Access to collection c is required"),
        ),
        (
            "the same collection twice",
            raw(
                r#"{"access": [{"collection": "c", "access": "r"}, {"collection": "c", "access": "rw"}]}"#,
            ),
            false,
            Some((Code::Unauthenticated, None)),
        ),
        (
            "a payload constraint",
            raw(r#"{"access": [{"collection": "c", "access": "r", "payload": {"kw": "a"}}]}"#),
            false,
            Some((Code::Unauthenticated, None)),
        ),
        (
            "the admin key is matched as a key before any JWT decoding",
            ADMIN.into(),
            true,
            None,
        ),
        (
            "a JWT r with the read-only key's powers cannot write",
            jwt(json!({"access": "r"})),
            true,
            rejected("Forbidden: Global manage access is required"),
        ),
    ];
    let mut failures = Vec::new();
    for (what, token, write, want) in cases {
        let rpc = if write {
            "qdrant.Points/Upsert"
        } else {
            "qdrant.Collections/Get"
        };
        let answer = call(
            &channel,
            rpc,
            C,
            &Meta::carrying(Some(&token), Carrier::ApiKey),
        )
        .await;
        let ok = match (&want, &answer) {
            (None, Ok(_)) => true,
            (Some((code, message)), Err(s)) => {
                s.code() == *code && message.as_ref().is_none_or(|m| s.message() == m)
            }
            _ => false,
        };
        if !ok {
            failures.push(format!(
                "{what}: expected {want:?}, got {}",
                describe(&answer)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Spec §9 filtering with tokens that name aliases: `List` shows only real
/// names the token names; `ListAliases` only pairs whose alias and
/// collection are both named; `ListCollectionAliases` looks up the literal
/// name (an alias name yields an empty list) and shows only aliases the
/// token names.
#[tokio::test]
async fn listings_with_alias_entries() {
    let (_server, channel) = populated().await;
    let both = scoped_jwt(&[(C.into(), Mode::R), (ALIAS.into(), Mode::R)]);
    let alias_only = scoped_jwt(&[(ALIAS.into(), Mode::R)]);
    let cases: Vec<(&str, &str, &str, &str, Vec<&str>)> = vec![
        (
            "[c, c_alias]",
            both.as_str(),
            "qdrant.Collections/List",
            C,
            vec![C],
        ),
        (
            "[c, c_alias]",
            &both,
            "qdrant.Collections/ListAliases",
            C,
            vec![ALIAS],
        ),
        (
            "[c, c_alias]",
            &both,
            "qdrant.Collections/ListCollectionAliases",
            C,
            vec![ALIAS],
        ),
        (
            "[c_alias]",
            &alias_only,
            "qdrant.Collections/List",
            C,
            vec![],
        ),
        (
            "[c_alias]",
            &alias_only,
            "qdrant.Collections/ListAliases",
            C,
            vec![],
        ),
        (
            "[c_alias]",
            &alias_only,
            "qdrant.Collections/ListCollectionAliases",
            ALIAS,
            vec![],
        ),
        (
            "admin",
            ADMIN,
            "qdrant.Collections/ListCollectionAliases",
            ALIAS,
            vec![],
        ),
        (
            "admin",
            ADMIN,
            "qdrant.Collections/ListCollectionAliases",
            C,
            vec![ALIAS],
        ),
    ];
    let mut failures = Vec::new();
    for (who, token, rpc, name, want) in cases {
        let answer = call(
            &channel,
            rpc,
            name,
            &Meta::carrying(Some(token), Carrier::ApiKey),
        )
        .await;
        let want: Vec<String> = want.into_iter().map(str::to_owned).collect();
        if !matches!(&answer, Ok(Some(got)) if *got == want) {
            failures.push(format!(
                "{rpc}({name}) as {who}: expected OK {want:?}, got {}",
                describe(&answer)
            ));
        }
    }
    // An alias entry covers what the alias resolves to, for reads and writes.
    let meta = Meta::carrying(
        Some(&scoped_jwt(&[(ALIAS.into(), Mode::Rw)])),
        Carrier::ApiKey,
    );
    for rpc in [
        "qdrant.Points/Count",
        "qdrant.Points/Upsert",
        "qdrant.Collections/Get",
    ] {
        let answer = call(&channel, rpc, ALIAS, &meta).await;
        if answer.is_err() {
            failures.push(format!(
                "{rpc}({ALIAS}) as [c_alias rw]: {}",
                describe(&answer)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Spec §3: a metadata value that is not visible ASCII cannot be read as a
/// string and counts as absent (so `authorization` is used instead).
#[tokio::test]
async fn non_ascii_api_key_counts_as_absent() {
    let (_server, channel) = populated().await;
    let send_raw = |headers: Vec<(&'static str, http::HeaderValue)>| {
        let channel = channel.clone();
        async move {
            let mut request = http::Request::builder()
                .method(http::Method::POST)
                .uri("/qdrant.Collections/List")
                .header("content-type", "application/grpc")
                .header("te", "trailers");
            for (k, v) in headers {
                request = request.header(k, v);
            }
            let request = request.body(tonic::body::Body::default()).unwrap();
            let response = channel.oneshot(request).await.unwrap();
            Status::from_header_map(response.headers())
        }
    };
    let odd = http::HeaderValue::from_bytes(b"caf\xe9-key").unwrap();
    let bearer = http::HeaderValue::from_str(&format!("Bearer {ADMIN}")).unwrap();
    let mut failures = Vec::new();
    let status = send_raw(vec![("api-key", odd.clone())]).await;
    if !status
        .as_ref()
        .is_some_and(|s| s.code() == Code::Unauthenticated && s.message() == MISSING)
    {
        failures.push(format!(
            "non-ASCII api-key alone: expected {MISSING:?}, got {status:?}"
        ));
    }
    // Authenticated: the empty body then fails decoding, never a refusal.
    let status = send_raw(vec![("api-key", odd), ("authorization", bearer)]).await;
    if status
        .as_ref()
        .is_some_and(|s| matches!(s.code(), Code::Unauthenticated | Code::PermissionDenied))
    {
        failures.push(format!(
            "non-ASCII api-key with an admin bearer: expected the bearer to be used, got {status:?}"
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
