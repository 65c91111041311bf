//! The tonic server: the five Qdrant services and `grpc.health.v1.Health`
//! behind the authentication layer, with gzip both ways and no practical
//! limit on message size, as Qdrant serves them; server reflection behind
//! the same layer, at tonic's defaults.

use std::future::Future;
use std::sync::Arc;

use osprey_auth::Authenticator;
use osprey_engine::Storage;
use qdrant_client::qdrant::collections_server::CollectionsServer;
use qdrant_client::qdrant::points_server::PointsServer;
use qdrant_client::qdrant::qdrant_server::QdrantServer;
use qdrant_client::qdrant::snapshots_server::SnapshotsServer;
use tonic::codec::CompressionEncoding;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

use crate::auth::AuthLayer;
use crate::services::{CollectionsService, PointsService, QdrantService, Shared, SnapshotsService};
use crate::storage_read::StorageReadServer;

/// What the gRPC server serves from: the same storage and authenticator as
/// the REST server, so both reach one engine through one enforcement point.
pub struct GrpcContext {
    pub storage: Arc<Storage>,
    pub auth: Arc<Authenticator>,
    /// The key plane, whose audit log records refused calls; None in tests.
    pub keys: Option<Arc<osprey_keys::KeyRegistry>>,
    /// PEM certificate chain and private key; TLS when present. Qdrant's
    /// public gRPC never asks for a client certificate and does not reload
    /// certificates (spec `auth.md` §11).
    pub tls: Option<TlsIdentity>,
}

/// The certificate material for TLS on gRPC.
pub struct TlsIdentity {
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
}

/// Largest message accepted. Qdrant sets no decode limit (tonic's default is
/// 4 MiB, too small for batch upserts); the authentication layer answers
/// before any message is decoded, so only authenticated callers can send
/// large messages.
const MAX_MESSAGE_SIZE: usize = usize::MAX;

/// Build-time commit id, reported by HealthCheck as Qdrant does (the binary
/// reads the same variable for REST `GET /`).
const COMMIT: Option<&str> = option_env!("GIT_COMMIT_ID");

/// Applies what every service shares: gzip accepted and sent, no size limit.
macro_rules! configured {
    ($server:expr) => {
        $server
            .accept_compressed(CompressionEncoding::Gzip)
            .send_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE)
    };
}

/// The server builder, with TLS when configured (tonic is built with
/// `tls-ring`: qdrant-client enables it).
fn builder(tls: Option<TlsIdentity>) -> Result<Server, tonic::transport::Error> {
    let server = Server::builder().tcp_nodelay(true);
    match tls {
        None => Ok(server),
        Some(identity) => server.tls_config(
            tonic::transport::ServerTlsConfig::new()
                .identity(tonic::transport::Identity::from_pem(identity.cert_pem, identity.key_pem)),
        ),
    }
}

/// Serves gRPC on `listener` until `shutdown` completes, then drains the
/// calls in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    ctx: GrpcContext,
    shutdown: impl Future<Output = ()>,
) -> Result<(), tonic::transport::Error> {
    let GrpcContext { storage, auth, keys, tls } = ctx;
    let shared = Arc::new(Shared {
        storage: storage.clone(),
        commit: COMMIT,
    });

    // `grpc.health.v1.Health/Check` answers SERVING for the server ("") and
    // for each Qdrant service, always: a single node has nothing to wait for.
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter.set_serving::<QdrantServer<QdrantService>>().await;
    reporter
        .set_serving::<CollectionsServer<CollectionsService>>()
        .await;
    reporter.set_serving::<PointsServer<PointsService>>().await;
    reporter
        .set_serving::<SnapshotsServer<SnapshotsService>>()
        .await;
    reporter.set_serving::<StorageReadServer>().await;

    // The descriptors are compiled in and checked by tests; should they ever
    // fail to load, the server still serves every rpc, without reflection.
    let reflection = match (crate::reflection::v1(), crate::reflection::v1alpha()) {
        (Ok(v1), Ok(v1alpha)) => Some((v1, v1alpha)),
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!("gRPC reflection is off: its descriptors do not load: {e}");
            None
        }
    };
    let (reflection_v1, reflection_v1alpha) = reflection.unzip();

    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    builder(tls)?
        .layer(AuthLayer::new(auth, storage, keys))
        .add_service(configured!(QdrantServer::new(QdrantService::new(
            shared.clone()
        ))))
        .add_service(configured!(CollectionsServer::new(
            CollectionsService::new(shared.clone())
        )))
        .add_service(configured!(PointsServer::new(PointsService::new(shared.clone()))))
        .add_service(configured!(SnapshotsServer::new(SnapshotsService::new(shared.clone()))))
        .add_service(StorageReadServer::new(shared.clone(), MAX_MESSAGE_SIZE))
        .add_service(configured!(health))
        .add_optional_service(reflection_v1)
        .add_optional_service(reflection_v1alpha)
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
}
