//! `qdrant.StorageRead` (Qdrant 1.18): read-only access to the files of one
//! collection, for tooling that copies or inspects storage. Osprey's layout
//! differs from Qdrant's (one directory per collection, no shard
//! subdirectories), so a path means a file under the collection's directory;
//! the wire contract is Qdrant's (`proto/storage_read_service.proto`).
//!
//! Each rpc: authentication (the layer) → the access check of its row in the
//! table (`coll_read`: a plain read check, so `prw` entries pass) on the
//! literal collection name → a refusal for payload-restricted keys → the
//! collection (an alias resolves) → its directory → the file, confined to
//! that directory by `files`.
//!
//! The service is written by hand over tonic's `Grpc` and prost's codec (no
//! code generation at build time), in [`StorageReadServer`].

mod files;
pub(crate) mod proto;

use std::convert::Infallible;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tonic::codec::CompressionEncoding;
use tonic::codegen::tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};
use tonic_prost::ProstCodec;

use crate::auth::{authorize, caller};
use crate::error::engine_status;
use crate::services::Shared;
use files::{FileError, Root};
use proto::{
    DataListResponse, DataResponse, FileExistsRequest, FileExistsResponse, FileLengthRequest,
    FileLengthResponse, ListFilesRequest, ListFilesResponse, ReadBatchRequest, ReadBytesRequest,
    ReadMultiRequest, ReadWholeRequest,
};

/// The service name, as routed and as reflection advertises it.
pub(crate) const SERVICE: &str = "qdrant.StorageRead";

/// The rpcs of the service (`SERVICE/Method`), each a row of the table.
pub(crate) const RPCS: [&str; 8] = [
    "qdrant.StorageRead/ListFiles",
    "qdrant.StorageRead/FileExists",
    "qdrant.StorageRead/FileLength",
    "qdrant.StorageRead/ReadBytes",
    "qdrant.StorageRead/ReadBytesStream",
    "qdrant.StorageRead/ReadWhole",
    "qdrant.StorageRead/ReadBatch",
    "qdrant.StorageRead/ReadMulti",
];

type ChunkStream = ReceiverStream<Result<DataResponse, Status>>;

/// The handlers.
struct StorageRead {
    shared: Arc<Shared>,
}

impl StorageRead {
    /// The checks every rpc shares (module docs), then `read` on the
    /// collection's directory, on the blocking pool.
    async fn on_files<T, F>(
        &self,
        caller: &osprey_auth::Principal,
        rpc: &str,
        collection: &str,
        read: F,
    ) -> Result<T, Status>
    where
        T: Send + 'static,
        F: FnOnce(Root) -> files::Result<T> + Send + 'static,
    {
        authorize(caller, rpc, Some(collection))?;
        // Raw files hold every point's payload: a key limited to matching
        // points must not read around its filter (spec `auth.md` §15).
        if caller.payload_restriction(collection).is_some() {
            return Err(Status::permission_denied(format!(
                "Forbidden: Payload restriction on collection {collection} forbids this operation"
            )));
        }
        let dir: PathBuf = self
            .shared
            .storage
            .collection(collection)
            .map_err(|e| engine_status(&e))?
            .storage_dir()
            .to_path_buf();
        let outcome = tokio::task::spawn_blocking(move || read(Root::open(&dir)?)).await;
        match outcome {
            Ok(result) => result.map_err(|e| file_status(e, collection)),
            Err(join) => Err(Status::internal(format!(
                "Service internal error: the read failed: {join}"
            ))),
        }
    }

    async fn list_files(
        &self,
        request: Request<ListFilesRequest>,
    ) -> Result<Response<ListFilesResponse>, Status> {
        let caller = caller(&request)?;
        let m = request.into_inner();
        let prefix = m.prefix_path;
        let paths = self
            .on_files(&caller, RPCS[0], &m.collection_name, move |root| {
                root.list(&prefix)
            })
            .await?;
        Ok(Response::new(ListFilesResponse { paths }))
    }

    async fn file_exists(
        &self,
        request: Request<FileExistsRequest>,
    ) -> Result<Response<FileExistsResponse>, Status> {
        let caller = caller(&request)?;
        let m = request.into_inner();
        let path = m.path;
        let exists = self
            .on_files(&caller, RPCS[1], &m.collection_name, move |root| {
                root.exists(&path)
            })
            .await?;
        Ok(Response::new(FileExistsResponse { exists }))
    }

    async fn file_length(
        &self,
        request: Request<FileLengthRequest>,
    ) -> Result<Response<FileLengthResponse>, Status> {
        let caller = caller(&request)?;
        let m = request.into_inner();
        let path = m.path;
        let length = self
            .on_files(&caller, RPCS[2], &m.collection_name, move |root| {
                Ok(root.open_file(&path)?.len)
            })
            .await?;
        Ok(Response::new(FileLengthResponse { length }))
    }

    async fn read_bytes(
        &self,
        request: Request<ReadBytesRequest>,
    ) -> Result<Response<DataResponse>, Status> {
        let caller = caller(&request)?;
        let m = request.into_inner();
        let (path, offset, length) = (m.path, m.byte_offset, m.length);
        let data = self
            .on_files(&caller, RPCS[3], &m.collection_name, move |root| {
                let file = root.open_file(&path)?;
                files::check_total(length)?;
                file.read(offset, length)
            })
            .await?;
        Ok(Response::new(DataResponse { data }))
    }

    /// Checks the whole range before the first message, so every refusal is
    /// the status of the call; then reads chunk by chunk on the blocking
    /// pool, one chunk ahead of the client at most, and stops when the
    /// client goes away.
    async fn read_bytes_stream(
        &self,
        request: Request<ReadBytesRequest>,
    ) -> Result<Response<ChunkStream>, Status> {
        let caller = caller(&request)?;
        let m = request.into_inner();
        let (path, offset, length) = (m.path, m.byte_offset, m.length);
        let file = self
            .on_files(&caller, RPCS[4], &m.collection_name, move |root| {
                let file = root.open_file(&path)?;
                file.check_range(offset, length)?;
                Ok(file)
            })
            .await?;
        let (sender, receiver) = tokio::sync::mpsc::channel(1);
        let collection = m.collection_name;
        tokio::task::spawn_blocking(move || {
            let end = offset + length;
            let mut at = offset;
            while at < end {
                let size = (end - at).min(files::STREAM_CHUNK);
                let chunk = file
                    .read(at, size)
                    .map(|data| DataResponse { data })
                    .map_err(|e| file_status(e, &collection));
                let failed = chunk.is_err();
                if sender.blocking_send(chunk).is_err() || failed {
                    return;
                }
                at += size;
            }
        });
        Ok(Response::new(ReceiverStream::new(receiver)))
    }

    async fn read_whole(
        &self,
        request: Request<ReadWholeRequest>,
    ) -> Result<Response<DataResponse>, Status> {
        let caller = caller(&request)?;
        let m = request.into_inner();
        let path = m.path;
        let data = self
            .on_files(&caller, RPCS[5], &m.collection_name, move |root| {
                let file = root.open_file(&path)?;
                files::check_total(file.len)?;
                file.read(0, file.len)
            })
            .await?;
        Ok(Response::new(DataResponse { data }))
    }

    async fn read_batch(
        &self,
        request: Request<ReadBatchRequest>,
    ) -> Result<Response<DataListResponse>, Status> {
        let caller = caller(&request)?;
        let m = request.into_inner();
        let (path, ranges) = (m.path, m.ranges);
        let data = self
            .on_files(&caller, RPCS[6], &m.collection_name, move |root| {
                files::check_ranges(ranges.len())?;
                files::check_total(total(ranges.iter().map(|r| r.length)))?;
                let file = root.open_file(&path)?;
                ranges
                    .iter()
                    .map(|r| file.read(r.byte_offset, r.length))
                    .collect()
            })
            .await?;
        Ok(Response::new(DataListResponse { data }))
    }

    async fn read_multi(
        &self,
        request: Request<ReadMultiRequest>,
    ) -> Result<Response<DataListResponse>, Status> {
        let caller = caller(&request)?;
        let m = request.into_inner();
        let reads = m.reads;
        let data = self
            .on_files(&caller, RPCS[7], &m.collection_name, move |root| {
                files::check_ranges(reads.len())?;
                files::check_total(total(reads.iter().map(|r| r.length)))?;
                reads
                    .iter()
                    .map(|r| root.open_file(&r.path)?.read(r.byte_offset, r.length))
                    .collect()
            })
            .await?;
        Ok(Response::new(DataListResponse { data }))
    }
}

/// The sum of the lengths, saturating: an overflow is over the limit anyway.
fn total(lengths: impl Iterator<Item = u64>) -> u64 {
    lengths.fold(0, u64::saturating_add)
}

/// The status of a file failure, in the wording of engine errors.
fn file_status(error: FileError, collection: &str) -> Status {
    match error {
        FileError::Invalid(m) => Status::invalid_argument(format!("Wrong input: {m}")),
        FileError::NotFound(m) => {
            Status::not_found(format!("Not found: {m} in collection {collection}"))
        }
        FileError::OutOfRange(m) => Status::out_of_range(format!("Wrong input: {m}")),
        FileError::Io(m) => {
            tracing::error!(collection, "StorageRead failed: {m}");
            Status::internal(format!("Service internal error: {m}"))
        }
    }
}

/// The routed service: decodes each rpc's message with prost, calls its
/// handler, encodes the answer, with gzip and the size limits of the other
/// services (`server.rs`).
#[derive(Clone)]
pub(crate) struct StorageReadServer {
    handlers: Arc<StorageRead>,
    max_message_size: usize,
}

impl StorageReadServer {
    pub(crate) fn new(shared: Arc<Shared>, max_message_size: usize) -> Self {
        StorageReadServer {
            handlers: Arc::new(StorageRead { shared }),
            max_message_size,
        }
    }

    fn grpc<Req, Resp>(&self) -> tonic::server::Grpc<ProstCodec<Resp, Req>>
    where
        Req: prost::Message + Default + Send + 'static,
        Resp: prost::Message + Send + 'static,
    {
        tonic::server::Grpc::new(ProstCodec::default())
            .accept_compressed(CompressionEncoding::Gzip)
            .send_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(self.max_message_size)
            .max_encoding_message_size(self.max_message_size)
    }
}

impl tonic::server::NamedService for StorageReadServer {
    const NAME: &'static str = SERVICE;
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;
type HttpResponse = http::Response<tonic::body::Body>;

/// One unary rpc: `handler` maps the decoded request to the answer.
macro_rules! unary {
    ($server:expr, $request:expr, $method:ident) => {{
        let handlers = $server.handlers.clone();
        let mut grpc = $server.grpc();
        Box::pin(async move {
            let service = tower::service_fn(move |r| {
                let handlers = handlers.clone();
                async move { handlers.$method(r).await }
            });
            Ok(grpc.unary(service, $request).await)
        }) as BoxFuture<Result<HttpResponse, Infallible>>
    }};
}

impl tower::Service<http::Request<tonic::body::Body>> for StorageReadServer {
    type Response = HttpResponse;
    type Error = Infallible;
    type Future = BoxFuture<Result<HttpResponse, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let method = request.uri().path().strip_prefix("/qdrant.StorageRead/");
        match method.unwrap_or_default() {
            "ListFiles" => unary!(self, request, list_files),
            "FileExists" => unary!(self, request, file_exists),
            "FileLength" => unary!(self, request, file_length),
            "ReadBytes" => unary!(self, request, read_bytes),
            "ReadWhole" => unary!(self, request, read_whole),
            "ReadBatch" => unary!(self, request, read_batch),
            "ReadMulti" => unary!(self, request, read_multi),
            "ReadBytesStream" => {
                let handlers = self.handlers.clone();
                let mut grpc = self.grpc();
                Box::pin(async move {
                    let service = tower::service_fn(move |r| {
                        let handlers = handlers.clone();
                        async move { handlers.read_bytes_stream(r).await }
                    });
                    Ok(grpc.server_streaming(service, request).await)
                })
            }
            // What generated tonic services answer for an unknown method.
            _ => Box::pin(async { Ok(Status::unimplemented("").into_http()) }),
        }
    }
}
