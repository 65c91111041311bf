//! A server on 127.0.0.1:0 with a temporary storage and an authenticator
//! with an admin key, a read-only key and JWTs, and clients for it.

use std::sync::Arc;

use osprey_auth::{AuthConfig, Authenticator};
use osprey_engine::{Storage, StorageConfig};
use osprey_grpc::GrpcContext;
use qdrant_client::{Qdrant, QdrantError};
use tokio::sync::oneshot;

pub const ADMIN: &str = "grpc-test-admin-key-0123456789abcdef";
pub const READ_ONLY: &str = "grpc-test-read-only-key";

pub struct TestServer {
    pub url: String,
    pub storage: Arc<Storage>,
    shutdown: Option<oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl TestServer {
    pub async fn start() -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(StorageConfig {
            storage_path: dir.path().join("storage"),
            snapshots_path: dir.path().join("snapshots"),
        })
        .unwrap();
        let auth = Arc::new(Authenticator::new(AuthConfig {
            api_key: Some(ADMIN.into()),
            read_only_api_key: Some(READ_ONLY.into()),
            jwt_rbac: true,
            ..AuthConfig::default()
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = oneshot::channel::<()>();
        let ctx = GrpcContext {
            storage: storage.clone(),
            auth,
            keys: None,
            tls: None,
        };
        tokio::spawn(async move {
            osprey_grpc::serve(listener, ctx, async {
                rx.await.ok();
            })
            .await
            .expect("grpc server failed");
        });
        TestServer {
            url,
            storage,
            shutdown: Some(tx),
            _dir: dir,
        }
    }

    /// A client sending `api-key` (or nothing).
    pub fn client(&self, key: Option<&str>) -> Qdrant {
        Qdrant::from_url(&self.url)
            .api_key(key)
            .skip_compatibility_check()
            .build()
            .unwrap()
    }

    pub fn admin(&self) -> Qdrant {
        self.client(Some(ADMIN))
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// An HS256 JWT with these claims, signed with `secret`.
pub fn jwt(claims: serde_json::Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// The status an rpc failed with.
pub fn status<T: std::fmt::Debug>(result: Result<T, QdrantError>) -> tonic::Status {
    match result {
        Err(QdrantError::ResponseError { status }) => status,
        other => panic!("expected an error status, got {other:?}"),
    }
}

/// Asserts the code and exact message of a failed rpc.
pub fn assert_status<T: std::fmt::Debug>(
    result: Result<T, QdrantError>,
    code: tonic::Code,
    message: &str,
) {
    let status = status(result);
    assert_eq!(status.code(), code, "{status:?}");
    assert_eq!(status.message(), message, "{status:?}");
}
