//! Osprey's key plane (spec/auth.md §15): database API keys as Qdrant
//! Managed Cloud offers them, self-hosted and live.
//!
//! - [`KeyRegistry`]: key records (only the SHA-256 of each key), signing
//!   secrets with their `kid`, and the `granular_access` setting, in
//!   `<storage_path>/keys.redb`; an in-memory index resolves credentials on
//!   every request without touching storage.
//! - Granular keys are HS256 JWTs (`eyJhb…`, header `kid`, claims `jti`,
//!   `exp`, `access`) signed with a key-plane secret; admin-kind keys are
//!   opaque 256-bit random strings.
//! - The registry is the authenticator's [`osprey_auth::KeyResolver`]:
//!   `Authenticator::new(config).with_key_resolver(registry.clone())`.
//!   Revocation, expiry, retirement and `granular_access` act on the next
//!   request.
//! - [`management_router`] serves the REST management API under `/api-keys`
//!   (root credentials only), and [`KeyRegistry::record_refusal`] lets the
//!   front ends log refused requests in the key plane's audit log
//!   (`<storage_path>/audit/keys-YYYY-MM-DD.jsonl`).
//!
//! ```
//! use std::sync::Arc;
//! use osprey_auth::{AuthConfig, Authenticator, CredentialKind};
//! use osprey_keys::{CreateKeyRequest, KeyRegistry};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let registry = KeyRegistry::open(dir.path()).unwrap();
//! let auth = Authenticator::new(AuthConfig {
//!     api_key: Some("a-root-key-of-at-least-32-bytes-long".into()),
//!     ..AuthConfig::default()
//! })
//! .with_key_resolver(registry.clone());
//!
//! let created = registry
//!     .create(
//!         CreateKeyRequest { name: "ci deploy".into(), ..Default::default() },
//!         "root:doc",
//!     )
//!     .unwrap();
//! assert!(created.key.starts_with("eyJhb"));
//!
//! let mut headers = http::HeaderMap::new();
//! headers.insert("api-key", created.key.parse().unwrap());
//! let principal = auth.authenticate(&headers).unwrap();
//! assert_eq!(principal.credential(), CredentialKind::DatabaseKey);
//! assert!(!principal.is_root());
//!
//! registry.revoke(created.record.id).unwrap();
//! assert!(auth.authenticate(&headers).is_err());
//! ```

#![warn(missing_docs)]

mod audit;
mod error;
mod http;
mod record;
mod registry;
mod store;
mod token;

pub use audit::{AuditEvent, Outcome, Refusal, credential_label};
pub use error::{KeyError, Result};
pub use http::{ROOT_REQUIRED, management_router, management_routes};
pub use record::{
    AccessRule, CollectionAccessType, CollectionRule, CreateKeyRequest, CreatedKey,
    GlobalAccessType, GlobalRule, KeyKind, KeyRecord, KeyStatus, MAX_ACCESS_RULES,
    MAX_PAYLOAD_PAIRS, Settings,
};
pub use registry::{AUDIT_DIR, KeyRegistry, REGISTRY_FILE, RegistryOptions, SigningKeyInfo};
pub use token::postfix;
