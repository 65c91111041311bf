//! Osprey's one enforcement point: credentials, principals, JWTs and the
//! table of access, answering exactly as Qdrant 1.18.3 does on the wire
//! (`spec/auth.md`).
//!
//! Front ends (REST on axum, gRPC on tonic) hand [`Authenticator::authenticate`]
//! an [`http::HeaderMap`] and get a [`Principal`] or an [`AuthError`] to render
//! (plain text on REST, a status on gRPC). Each operation then states what it
//! needs — a [`Requirement`], usually from [`rest_rule`] / [`grpc_rule`] plus
//! the collection named in the request — and [`Principal::authorize`] answers
//! `Ok` or [`Forbidden`].
//!
//! ```
//! use osprey_auth::{AuthConfig, Authenticator, Requirement, rest_rule};
//!
//! let auth = Authenticator::new(AuthConfig {
//!     api_key: Some("an-admin-key-of-at-least-32-bytes!".into()),
//!     read_only_api_key: Some("a-read-only-key".into()),
//!     ..AuthConfig::default()
//! });
//! let mut headers = http::HeaderMap::new();
//! headers.insert("api-key", "a-read-only-key".parse().unwrap());
//! let principal = auth.authenticate(&headers).unwrap();
//!
//! let rule = rest_rule("PUT", "/collections/{collection_name}/points").unwrap();
//! let denied = principal.authorize(&rule.requirement(Some("docs"))).unwrap_err();
//! assert_eq!(denied.to_string(), "Forbidden: Global manage access is required");
//! assert!(principal.authorize(&Requirement::CollRead("docs".into())).is_ok());
//! ```
//!
//! This crate depends on no HTTP framework and not on the engine.

#![warn(missing_docs)]

pub mod audit;
mod authenticator;
mod claims;
mod config;
mod error;
mod principal;
mod resolver;
mod rules;

pub use authenticator::Authenticator;
pub use config::AuthConfig;
pub use error::{AuthError, Forbidden, GrpcCode};
pub use principal::{
    Access, AccessMode, CollectionAccess, CredentialKind, GlobalAccess, Principal, Requirement,
    ValueExists,
};
pub use resolver::{KeyResolver, PayloadFilter, Resolution, ResolvedKey, ResolvedKind};
pub use rules::{Interface, Rule, RuleKind, grpc_operation, grpc_rule, rest_rule, rules};
