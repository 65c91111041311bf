//! A registry in a temp directory, an authenticator that consults it, and
//! requests through the management router with a caller's principal in the
//! extensions, as the REST middleware puts it there.

use std::sync::Arc;

use axum::body::Body;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use osprey_auth::{AuthConfig, AuthError, Authenticator, Principal};
use osprey_keys::{CreateKeyRequest, CreatedKey, KeyRegistry, RegistryOptions};
use serde_json::{Value, json};
use tempfile::TempDir;
use tower::ServiceExt;

pub const ROOT: &str = "root-admin-key-0123456789abcdef-0123456789";
pub const ALT_ROOT: &str = "alt-root-key-0123456789abcdef-0123456789ab";
pub const READ_ONLY: &str = "read-only-key-0123456789abcdef-012345678";

pub struct Env {
    pub dir: TempDir,
    pub registry: Arc<KeyRegistry>,
    pub auth: Authenticator,
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let registry = KeyRegistry::open(dir.path()).unwrap();
        let auth = authenticator(&registry);
        Env {
            dir,
            registry,
            auth,
        }
    }

    pub fn with_options(options: RegistryOptions) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let registry = KeyRegistry::open_with(dir.path(), options).unwrap();
        let auth = authenticator(&registry);
        Env {
            dir,
            registry,
            auth,
        }
    }

    /// Drops the registry (as a shutdown does) and opens it again.
    pub fn restart(self) -> Env {
        let Env {
            dir,
            registry,
            auth,
        } = self;
        drop(auth);
        assert_eq!(
            Arc::strong_count(&registry),
            1,
            "someone still holds the registry"
        );
        drop(registry);
        let registry = KeyRegistry::open(dir.path()).unwrap();
        let auth = authenticator(&registry);
        Env {
            dir,
            registry,
            auth,
        }
    }

    pub fn login(&self, credential: &str) -> Result<Principal, AuthError> {
        self.auth.authenticate(&api_key(credential))
    }

    pub fn root(&self) -> Principal {
        let root = self.login(ROOT).unwrap();
        assert!(root.is_root());
        root
    }

    pub fn create(&self, body: Value) -> CreatedKey {
        let request = CreateKeyRequest::from_json(body.to_string().as_bytes()).unwrap();
        self.registry.create(request, "root:test").unwrap()
    }

    /// A request through the management router as `caller`.
    /// `credential` is authenticated as the REST middleware would, and both
    /// the header and the principal go into the request.
    pub async fn call(
        &self,
        credential: Option<&str>,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(credential) = credential {
            let principal: Principal = self.login(credential).unwrap();
            request = request
                .header("api-key", credential)
                .extension(Arc::new(principal));
        }
        let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
        let response = osprey_keys::management_router(self.registry.clone())
            .oneshot(request.body(body).unwrap())
            .await
            .unwrap();
        let status = response.status();
        assert_eq!(
            response.headers().get("content-type").unwrap(),
            "application/json"
        );
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 24)
            .await
            .unwrap();
        let value: Value = serde_json::from_slice(&bytes).unwrap();
        assert!(value["time"].is_f64(), "envelope without time: {value}");
        if status.is_success() {
            assert_eq!(value["status"], "ok", "{value}");
        } else {
            assert!(value["status"]["error"].is_string(), "{value}");
        }
        (status, value)
    }

    /// A request with raw body bytes.
    pub async fn call_raw(&self, method: Method, path: &str, body: &str) -> (StatusCode, Value) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("api-key", ROOT)
            .extension(Arc::new(self.root()))
            .body(Body::from(body.to_owned()))
            .unwrap();
        let response = osprey_keys::management_router(self.registry.clone())
            .oneshot(request)
            .await
            .unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 24)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }
}

pub fn authenticator(registry: &Arc<KeyRegistry>) -> Authenticator {
    Authenticator::new(AuthConfig {
        api_key: Some(ROOT.into()),
        alt_api_key: Some(ALT_ROOT.into()),
        read_only_api_key: Some(READ_ONLY.into()),
        jwt_rbac: true,
        ..AuthConfig::default()
    })
    .with_key_resolver(registry.clone())
}

pub fn api_key(value: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("api-key", HeaderValue::from_str(value).unwrap());
    headers
}

pub fn bearer(value: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {value}")).unwrap(),
    );
    headers
}

/// A Qdrant JWT (§7) signed with `secret`.
pub fn qdrant_jwt(secret: &str, claims: Value) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

pub fn stateful() -> AuthError {
    AuthError::StatefulValidationFailed {
        collection_missing: false,
    }
}

pub fn collection_rule(name: &str, access: &str) -> Value {
    json!({"collection_access": {"collection_name": name, "access_type": access}})
}
