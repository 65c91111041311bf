//! The messages of `qdrant.StorageRead`, written by hand from
//! `proto/storage_read_service.proto` (qdrant-client does not ship it, and
//! the build runs no protoc). Field numbers and types are the wire contract;
//! `reflection::tests` checks them against the descriptor served by
//! reflection, so the two cannot drift apart.

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ListFilesRequest {
    #[prost(string, tag = "1")]
    pub collection_name: String,
    #[prost(string, tag = "2")]
    pub prefix_path: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ListFilesResponse {
    #[prost(string, repeated, tag = "1")]
    pub paths: Vec<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct FileExistsRequest {
    #[prost(string, tag = "1")]
    pub collection_name: String,
    #[prost(string, tag = "2")]
    pub path: String,
    #[prost(bool, tag = "3")]
    pub sequential: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct FileExistsResponse {
    #[prost(bool, tag = "1")]
    pub exists: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct FileLengthRequest {
    #[prost(string, tag = "1")]
    pub collection_name: String,
    #[prost(string, tag = "2")]
    pub path: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct FileLengthResponse {
    #[prost(uint64, tag = "1")]
    pub length: u64,
}

/// The request of `ReadBytes` and of `ReadBytesStream` (two messages with
/// the same fields on the wire).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ReadBytesRequest {
    #[prost(string, tag = "1")]
    pub collection_name: String,
    #[prost(string, tag = "2")]
    pub path: String,
    #[prost(uint64, tag = "3")]
    pub byte_offset: u64,
    #[prost(uint64, tag = "4")]
    pub length: u64,
}

/// The answer of `ReadBytes`, `ReadWhole` and each message of
/// `ReadBytesStream` (all three are `bytes data = 1`).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct DataResponse {
    #[prost(bytes = "vec", tag = "1")]
    pub data: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ReadWholeRequest {
    #[prost(string, tag = "1")]
    pub collection_name: String,
    #[prost(string, tag = "2")]
    pub path: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ReadBatchRange {
    #[prost(uint64, tag = "1")]
    pub byte_offset: u64,
    #[prost(uint64, tag = "2")]
    pub length: u64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ReadBatchRequest {
    #[prost(string, tag = "1")]
    pub collection_name: String,
    #[prost(string, tag = "2")]
    pub path: String,
    #[prost(message, repeated, tag = "3")]
    pub ranges: Vec<ReadBatchRange>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ReadMultiEntry {
    #[prost(string, tag = "1")]
    pub path: String,
    #[prost(uint64, tag = "2")]
    pub byte_offset: u64,
    #[prost(uint64, tag = "3")]
    pub length: u64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ReadMultiRequest {
    #[prost(string, tag = "1")]
    pub collection_name: String,
    #[prost(message, repeated, tag = "2")]
    pub reads: Vec<ReadMultiEntry>,
}

/// The answer of `ReadBatch` and of `ReadMulti` (both `repeated bytes data = 1`).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct DataListResponse {
    #[prost(bytes = "vec", repeated, tag = "1")]
    pub data: Vec<Vec<u8>>,
}
