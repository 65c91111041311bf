//! `qdrant.StorageRead` and server reflection over the wire.
//!
//! The StorageRead messages are declared again here, from Qdrant 1.18's
//! `storage_read_service.proto` field numbers, independently of the
//! server's structs, so a wire slip in the server fails these tests. The
//! access of every rpc for every credential is in `access_matrix`.

use std::collections::BTreeSet;
use std::path::PathBuf;

use http::uri::PathAndQuery;
use qdrant_client::Payload;
use qdrant_client::qdrant::{
    CreateAliasBuilder, CreateCollectionBuilder, Distance, PointStruct, UpsertPointsBuilder,
    VectorParamsBuilder,
};
use serde_json::json;
use tonic::codegen::tokio_stream;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

use crate::support::{ADMIN, TestServer, jwt};

#[derive(Clone, PartialEq, prost::Message)]
pub struct ListFilesRequest {
    #[prost(string, tag = "1")]
    pub collection_name: String,
    #[prost(string, tag = "2")]
    pub prefix_path: String,
}
#[derive(Clone, PartialEq, prost::Message)]
pub struct ListFilesResponse {
    #[prost(string, repeated, tag = "1")]
    pub paths: Vec<String>,
}
#[derive(Clone, PartialEq, prost::Message)]
pub struct FileExistsRequest {
    #[prost(string, tag = "1")]
    pub collection_name: String,
    #[prost(string, tag = "2")]
    pub path: String,
    #[prost(bool, tag = "3")]
    pub sequential: bool,
}
#[derive(Clone, PartialEq, prost::Message)]
pub struct FileExistsResponse {
    #[prost(bool, tag = "1")]
    pub exists: bool,
}
/// `FileLengthRequest` and `ReadWholeRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PathRequest {
    #[prost(string, tag = "1")]
    pub collection_name: String,
    #[prost(string, tag = "2")]
    pub path: String,
}
#[derive(Clone, PartialEq, prost::Message)]
pub struct FileLengthResponse {
    #[prost(uint64, tag = "1")]
    pub length: u64,
}
/// `ReadBytesRequest` and `ReadBytesStreamRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReadBytesRequest {
    #[prost(string, tag = "1")]
    pub collection_name: String,
    #[prost(string, tag = "2")]
    pub path: String,
    #[prost(uint64, tag = "3")]
    pub byte_offset: u64,
    #[prost(uint64, tag = "4")]
    pub length: u64,
}
#[derive(Clone, PartialEq, prost::Message)]
pub struct DataResponse {
    #[prost(bytes = "vec", tag = "1")]
    pub data: Vec<u8>,
}
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReadBatchRange {
    #[prost(uint64, tag = "1")]
    pub byte_offset: u64,
    #[prost(uint64, tag = "2")]
    pub length: u64,
}
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReadBatchRequest {
    #[prost(string, tag = "1")]
    pub collection_name: String,
    #[prost(string, tag = "2")]
    pub path: String,
    #[prost(message, repeated, tag = "3")]
    pub ranges: Vec<ReadBatchRange>,
}
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReadMultiEntry {
    #[prost(string, tag = "1")]
    pub path: String,
    #[prost(uint64, tag = "2")]
    pub byte_offset: u64,
    #[prost(uint64, tag = "3")]
    pub length: u64,
}
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReadMultiRequest {
    #[prost(string, tag = "1")]
    pub collection_name: String,
    #[prost(message, repeated, tag = "2")]
    pub reads: Vec<ReadMultiEntry>,
}
#[derive(Clone, PartialEq, prost::Message)]
pub struct DataListResponse {
    #[prost(bytes = "vec", repeated, tag = "1")]
    pub data: Vec<Vec<u8>>,
}

/// The file every test collection gets, and its bytes.
pub const PROBE: &str = "probe.bin";
pub const PROBE_BYTES: &[u8] = b"0123456789abcdef";

/// Writes [`PROBE`] into a collection's directory, as the engine's own
/// files are not known in advance.
pub fn write_probe(server: &TestServer, collection: &str) -> PathBuf {
    let dir = server
        .storage
        .collection(collection)
        .unwrap()
        .storage_dir()
        .to_path_buf();
    std::fs::write(dir.join(PROBE), PROBE_BYTES).unwrap();
    dir
}

/// Request metadata: `(name, value)` pairs, e.g. `api-key` or `authorization`.
pub type Headers = [(&'static str, String)];

/// `api-key: <key>`.
pub fn key(key: &str) -> Vec<(&'static str, String)> {
    vec![("api-key", key.to_owned())]
}

/// Adds the metadata the way the tonic clients' interceptors do.
fn with_meta<T>(message: T, headers: &Headers) -> Result<tonic::Request<T>, Status> {
    let mut request = tonic::Request::new(message);
    for (name, value) in headers {
        let value = value
            .parse()
            .map_err(|_| Status::internal(format!("test bug: bad metadata {value:?}")))?;
        request.metadata_mut().insert(*name, value);
    }
    Ok(request)
}

async fn ready(channel: &Channel) -> Result<tonic::client::Grpc<Channel>, Status> {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(format!("test: channel not ready: {e}")))?;
    Ok(grpc)
}

/// One unary StorageRead call.
pub async fn unary<Req, Resp>(
    channel: &Channel,
    headers: &Headers,
    method: &'static str,
    message: Req,
) -> Result<Resp, Status>
where
    Req: prost::Message + Send + Sync + 'static,
    Resp: prost::Message + Default + Send + Sync + 'static,
{
    let mut grpc = ready(channel).await?;
    let path = PathAndQuery::from_static(method);
    let codec = tonic_prost::ProstCodec::<Req, Resp>::default();
    grpc.unary(with_meta(message, headers)?, path, codec)
        .await
        .map(tonic::Response::into_inner)
}

/// `ReadBytesStream`: the chunks, in order.
pub async fn read_stream(
    channel: &Channel,
    headers: &Headers,
    message: ReadBytesRequest,
) -> Result<Vec<Vec<u8>>, Status> {
    let mut grpc = ready(channel).await?;
    let path = PathAndQuery::from_static("/qdrant.StorageRead/ReadBytesStream");
    let codec = tonic_prost::ProstCodec::<ReadBytesRequest, DataResponse>::default();
    let mut stream = grpc
        .server_streaming(with_meta(message, headers)?, path, codec)
        .await?
        .into_inner();
    let mut chunks = Vec::new();
    while let Some(chunk) = stream.message().await? {
        chunks.push(chunk.data);
    }
    Ok(chunks)
}

/// The services reflection lists, through v1 or through v1alpha (which
/// older clients use).
pub async fn reflected_services(
    channel: &Channel,
    headers: &Headers,
    v1: bool,
) -> Result<Vec<String>, Status> {
    if !v1 {
        return reflected_services_v1alpha(channel, headers).await;
    }
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut answers = ServerReflectionClient::new(channel.clone())
        .server_reflection_info(with_meta(tokio_stream::iter([request]), headers)?)
        .await?
        .into_inner();
    match answers.message().await?.and_then(|a| a.message_response) {
        Some(MessageResponse::ListServicesResponse(list)) => {
            Ok(list.service.into_iter().map(|s| s.name).collect())
        }
        other => Err(Status::unknown(format!(
            "test: unexpected answer {other:?}"
        ))),
    }
}

async fn reflected_services_v1alpha(
    channel: &Channel,
    headers: &Headers,
) -> Result<Vec<String>, Status> {
    use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse;
    let request = tonic_reflection::pb::v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut answers = ServerReflectionClient::new(channel.clone())
        .server_reflection_info(with_meta(tokio_stream::iter([request]), headers)?)
        .await?
        .into_inner();
    match answers.message().await?.and_then(|a| a.message_response) {
        Some(MessageResponse::ListServicesResponse(list)) => {
            Ok(list.service.into_iter().map(|s| s.name).collect())
        }
        other => Err(Status::unknown(format!(
            "test: unexpected answer {other:?}"
        ))),
    }
}

/// The file descriptors reflection gives for a symbol.
async fn descriptor_of(channel: &Channel, symbol: &str) -> Result<Vec<Vec<u8>>, Status> {
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::FileContainingSymbol(symbol.into())),
    };
    let mut answers = ServerReflectionClient::new(channel.clone())
        .server_reflection_info(with_meta(tokio_stream::iter([request]), &key(ADMIN))?)
        .await?
        .into_inner();
    match answers.message().await?.and_then(|a| a.message_response) {
        Some(MessageResponse::FileDescriptorResponse(files)) => Ok(files.file_descriptor_proto),
        Some(MessageResponse::ErrorResponse(e)) => {
            Err(Status::new(Code::from(e.error_code), e.error_message))
        }
        other => Err(Status::unknown(format!(
            "test: unexpected answer {other:?}"
        ))),
    }
}

const SIX: [&str; 6] = [
    "grpc.health.v1.Health",
    "qdrant.Collections",
    "qdrant.Points",
    "qdrant.Qdrant",
    "qdrant.Snapshots",
    "qdrant.StorageRead",
];

async fn server_with(collections: &[&str]) -> (TestServer, Channel) {
    let server = TestServer::start().await;
    let admin = server.admin();
    for name in collections {
        admin
            .create_collection(
                CreateCollectionBuilder::new(*name)
                    .vectors_config(VectorParamsBuilder::new(2, Distance::Dot)),
            )
            .await
            .unwrap();
        admin
            .upsert_points(
                UpsertPointsBuilder::new(
                    *name,
                    vec![PointStruct::new(1, vec![1.0, 2.0], Payload::new())],
                )
                .wait(true),
            )
            .await
            .unwrap();
        write_probe(&server, name);
    }
    let channel = Channel::from_shared(server.url.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    (server, channel)
}

/// Reflection lists exactly Qdrant's six public services on both versions,
/// and only with a credential.
#[tokio::test]
async fn reflection_lists_the_six_services() {
    let (_server, channel) = server_with(&[]).await;
    let listed: BTreeSet<String> = reflected_services(&channel, &key(ADMIN), true)
        .await
        .unwrap()
        .into_iter()
        .collect();
    let six: BTreeSet<String> = SIX.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(listed, six);
    let alpha: BTreeSet<String> = reflected_services(&channel, &key(ADMIN), false)
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(alpha, six);
    // Any valid credential will do, even one for another collection.
    let other = jwt(
        json!({"access": [{"collection": "x", "access": "r"}]}),
        ADMIN,
    );
    assert_eq!(
        reflected_services(&channel, &key(&other), true)
            .await
            .unwrap()
            .len(),
        6
    );
    for v1 in [true, false] {
        let refused = reflected_services(&channel, &[], v1).await.unwrap_err();
        assert_eq!(refused.code(), Code::Unauthenticated);
        let refused = reflected_services(&channel, &key("wrong"), v1)
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::Unauthenticated);
    }
}

/// Reflection describes what a tool needs to call StorageRead, and nothing
/// of the reflection service or of Osprey's own.
#[tokio::test]
async fn reflection_describes_storage_read_only_public_symbols() {
    let (_server, channel) = server_with(&[]).await;
    let files = descriptor_of(&channel, "qdrant.StorageRead").await.unwrap();
    let decoded: Vec<prost_types::FileDescriptorProto> = files
        .iter()
        .map(|f| prost::Message::decode(f.as_slice()).unwrap())
        .collect();
    let file = decoded
        .iter()
        .find(|f| f.name() == "storage_read_service.proto")
        .unwrap();
    let methods: Vec<&str> = file.service[0].method.iter().map(|m| m.name()).collect();
    assert_eq!(
        methods,
        [
            "ListFiles",
            "FileExists",
            "FileLength",
            "ReadBytes",
            "ReadBytesStream",
            "ReadWhole",
            "ReadBatch",
            "ReadMulti"
        ]
    );
    for hidden in [
        "grpc.reflection.v1.ServerReflection",
        "qdrant.serverless.CollectionsService",
        "qdrant.PointsInternal",
    ] {
        assert!(descriptor_of(&channel, hidden).await.is_err(), "{hidden}");
    }
}

/// Every rpc reflection describes is routed: called as admin with an empty
/// message, none answers the router's bare UNIMPLEMENTED.
#[tokio::test]
async fn every_described_rpc_is_served() {
    let (_server, channel) = server_with(&["c"]).await;
    let mut checked = 0;
    for service in SIX {
        let files = descriptor_of(&channel, service).await.unwrap();
        let (package, name) = service.rsplit_once('.').unwrap();
        for file in files {
            let file: prost_types::FileDescriptorProto =
                prost::Message::decode(file.as_slice()).unwrap();
            if file.package() != package {
                continue;
            }
            for described in file.service.iter().filter(|s| s.name() == name) {
                for method in &described.method {
                    let path = format!("/{service}/{}", method.name());
                    let status = crate::access_matrix::raw_call_with(&channel, &path, ADMIN).await;
                    assert!(
                        !(status.code() == Code::Unimplemented && status.message().is_empty()),
                        "{path} is described but not routed"
                    );
                    checked += 1;
                }
            }
        }
    }
    // 14 + 30 + 6 + 1 + 8 + Health Check and Watch.
    assert_eq!(checked, 61);
}

/// Reads a file of the collection through every read rpc.
#[tokio::test]
async fn reads_a_collection_file() {
    let (server, channel) = server_with(&["c"]).await;
    let admin = key(ADMIN);
    let key = admin.as_slice();
    let listed: ListFilesResponse = unary(
        &channel,
        key,
        "/qdrant.StorageRead/ListFiles",
        ListFilesRequest {
            collection_name: "c".into(),
            prefix_path: String::new(),
        },
    )
    .await
    .unwrap();
    assert!(
        listed.paths.contains(&PROBE.to_owned()),
        "{:?}",
        listed.paths
    );
    assert!(
        listed.paths.len() > 1,
        "the engine's own files are listed too"
    );
    let only: ListFilesResponse = unary(
        &channel,
        key,
        "/qdrant.StorageRead/ListFiles",
        ListFilesRequest {
            collection_name: "c".into(),
            prefix_path: "probe".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(only.paths, [PROBE]);

    let exists = |path: &str| {
        let channel = channel.clone();
        let path = path.to_owned();
        async move {
            unary::<_, FileExistsResponse>(
                &channel,
                key,
                "/qdrant.StorageRead/FileExists",
                FileExistsRequest {
                    collection_name: "c".into(),
                    path,
                    sequential: true,
                },
            )
            .await
            .map(|r| r.exists)
        }
    };
    assert!(exists(PROBE).await.unwrap());
    assert!(!exists("nope.bin").await.unwrap());
    assert!(!exists("wal").await.unwrap(), "a directory is not a file");

    let length: FileLengthResponse = unary(
        &channel,
        key,
        "/qdrant.StorageRead/FileLength",
        PathRequest {
            collection_name: "c".into(),
            path: PROBE.into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(length.length, 16);

    let bytes: DataResponse = unary(
        &channel,
        key,
        "/qdrant.StorageRead/ReadBytes",
        ReadBytesRequest {
            collection_name: "c".into(),
            path: PROBE.into(),
            byte_offset: 10,
            length: 6,
        },
    )
    .await
    .unwrap();
    assert_eq!(bytes.data, b"abcdef");

    let whole: DataResponse = unary(
        &channel,
        key,
        "/qdrant.StorageRead/ReadWhole",
        PathRequest {
            collection_name: "c".into(),
            path: PROBE.into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(whole.data, PROBE_BYTES);

    let batch: DataListResponse = unary(
        &channel,
        key,
        "/qdrant.StorageRead/ReadBatch",
        ReadBatchRequest {
            collection_name: "c".into(),
            path: PROBE.into(),
            ranges: vec![
                ReadBatchRange {
                    byte_offset: 0,
                    length: 2,
                },
                ReadBatchRange {
                    byte_offset: 14,
                    length: 2,
                },
            ],
        },
    )
    .await
    .unwrap();
    assert_eq!(batch.data, [b"01".to_vec(), b"ef".to_vec()]);

    // A large file streams in 1 MiB chunks that add up to it.
    let dir = write_probe(&server, "c");
    let big: Vec<u8> = (0..(2 * 1024 * 1024 + 123))
        .map(|i| (i % 251) as u8)
        .collect();
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("sub/big.bin"), &big).unwrap();
    let chunks = read_stream(
        &channel,
        key,
        ReadBytesRequest {
            collection_name: "c".into(),
            path: "sub/big.bin".into(),
            byte_offset: 5,
            length: big.len() as u64 - 5,
        },
    )
    .await
    .unwrap();
    assert_eq!(chunks.len(), 3);
    assert!(chunks.iter().all(|c| c.len() <= 1024 * 1024));
    assert_eq!(chunks.concat(), big[5..]);

    let multi: DataListResponse = unary(
        &channel,
        key,
        "/qdrant.StorageRead/ReadMulti",
        ReadMultiRequest {
            collection_name: "c".into(),
            reads: vec![
                ReadMultiEntry {
                    path: "sub/big.bin".into(),
                    byte_offset: 251,
                    length: 3,
                },
                ReadMultiEntry {
                    path: PROBE.into(),
                    byte_offset: 3,
                    length: 1,
                },
            ],
        },
    )
    .await
    .unwrap();
    assert_eq!(multi.data, [vec![0, 1, 2], b"3".to_vec()]);
}

/// The failures a caller can cause, each with its code; none escapes the
/// directory.
#[tokio::test]
async fn bad_paths_and_ranges_are_refused() {
    let (server, channel) = server_with(&["c", "d"]).await;
    let dir = write_probe(&server, "c");
    std::fs::write(dir.parent().unwrap().join("outside.txt"), b"secret").unwrap();
    std::os::unix::fs::symlink("../outside.txt", dir.join("link_out")).unwrap();
    let read = |collection: &str, path: &str, offset: u64, length: u64| {
        let channel = channel.clone();
        let message = ReadBytesRequest {
            collection_name: collection.into(),
            path: path.into(),
            byte_offset: offset,
            length,
        };
        async move {
            unary::<_, DataResponse>(
                &channel,
                &key(ADMIN),
                "/qdrant.StorageRead/ReadBytes",
                message,
            )
            .await
        }
    };
    let d_dir = server
        .storage
        .collection("d")
        .unwrap()
        .storage_dir()
        .to_path_buf();
    let d_name = d_dir.file_name().unwrap().to_str().unwrap().to_owned();
    let cases: Vec<(&str, String, u64, u64, Code)> = vec![
        ("c", "../outside.txt".into(), 0, 1, Code::InvalidArgument),
        (
            "c",
            format!("../{d_name}/{PROBE}"),
            0,
            1,
            Code::InvalidArgument,
        ),
        (
            "c",
            d_dir.join(PROBE).to_str().unwrap().into(),
            0,
            1,
            Code::InvalidArgument,
        ),
        ("c", "/etc/hostname".into(), 0, 1, Code::InvalidArgument),
        ("c", String::new(), 0, 1, Code::InvalidArgument),
        ("c", "link_out".into(), 0, 1, Code::NotFound),
        ("c", "missing".into(), 0, 1, Code::NotFound),
        ("c", "wal".into(), 0, 1, Code::NotFound),
        ("nope", PROBE.into(), 0, 1, Code::NotFound),
        ("c", PROBE.into(), 10, 7, Code::OutOfRange),
        ("c", PROBE.into(), u64::MAX, 2, Code::OutOfRange),
        (
            "c",
            PROBE.into(),
            0,
            65 * 1024 * 1024,
            Code::InvalidArgument,
        ),
    ];
    for (collection, path, offset, length, code) in cases {
        let status = read(collection, &path, offset, length).await.unwrap_err();
        assert_eq!(status.code(), code, "{collection} {path:?}: {status:?}");
        assert!(!status.message().contains("secret"), "{status:?}");
        assert!(
            !status.message().contains(dir.to_str().unwrap()),
            "no server path in {status:?}"
        );
    }
    let listed = unary::<_, ListFilesResponse>(
        &channel,
        &key(ADMIN),
        "/qdrant.StorageRead/ListFiles",
        ListFilesRequest {
            collection_name: "c".into(),
            prefix_path: "../".into(),
        },
    )
    .await
    .unwrap_err();
    assert_eq!(listed.code(), Code::InvalidArgument);
}

/// An alias reads its collection's files; a token for another collection
/// is refused before anything is looked up.
#[tokio::test]
async fn aliases_and_scoped_tokens() {
    let (server, channel) = server_with(&["c", "d"]).await;
    server
        .admin()
        .create_alias(CreateAliasBuilder::new("c", "c_alias"))
        .await
        .unwrap();
    let whole = |collection: &str, token: String| {
        let channel = channel.clone();
        let message = PathRequest {
            collection_name: collection.into(),
            path: PROBE.into(),
        };
        async move {
            unary::<_, DataResponse>(
                &channel,
                &key(&token),
                "/qdrant.StorageRead/ReadWhole",
                message,
            )
            .await
        }
    };
    assert_eq!(
        whole("c_alias", ADMIN.into()).await.unwrap().data,
        PROBE_BYTES
    );
    let prw = jwt(
        json!({"access": [{"collection": "c", "access": "prw"}]}),
        ADMIN,
    );
    assert_eq!(whole("c", prw.clone()).await.unwrap().data, PROBE_BYTES);
    let refused = whole("d", prw.clone()).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert_eq!(
        refused.message(),
        "Forbidden: Access to collection d is required"
    );
    // The literal name is checked, as everywhere: `c` does not cover its alias.
    let refused = whole("c_alias", prw).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    // Not revealed to a token without access: missing collections are refused too.
    let other = jwt(
        json!({"access": [{"collection": "d", "access": "r"}]}),
        ADMIN,
    );
    let refused = whole("missing", other).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
}
