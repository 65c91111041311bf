//! The key-plane hook (spec §15): where the resolver sits in the order of
//! checks, what it may and may not decide, and what a registry principal
//! carries. The real resolver lives in `osprey-keys`; a scripted one here pins
//! the authenticator's side of the contract.

use std::sync::Arc;

use osprey_auth::{
    Access, AccessMode, AuthConfig, AuthError, Authenticator, CollectionAccess, CredentialKind,
    GlobalAccess, KeyResolver, PayloadFilter, Requirement, Resolution, ResolvedKey, ResolvedKind,
};
use serde_json::json;

use crate::support::*;

/// Answers by credential text: `"ours-*"` resolves, `"revoked"` is refused,
/// tokens whose header carries `kid` are unknown, everything else is not ours.
struct Scripted;

impl KeyResolver for Scripted {
    fn resolve(&self, credential: &str, sha256: &[u8; 32]) -> Resolution {
        use sha2::Digest;
        let expected: [u8; 32] = sha2::Sha256::digest(credential.as_bytes()).into();
        assert_eq!(
            &expected, sha256,
            "the digest handed over must be the credential's"
        );
        match credential {
            "ours-admin" => Resolution::Resolved(ResolvedKey {
                key_id: "k-admin".into(),
                key_name: "admin key".into(),
                kind: ResolvedKind::LegacyAdminKey,
                access: Arc::new(Access::Global(GlobalAccess::Manage)),
                payload_restrictions: Arc::new([]),
            }),
            "ours-tenant" => Resolution::Resolved(ResolvedKey {
                key_id: "k-tenant".into(),
                key_name: "tenant key".into(),
                kind: ResolvedKind::DatabaseKey,
                access: Arc::new(Access::Collections(vec![
                    CollectionAccess {
                        collection: "docs".into(),
                        mode: AccessMode::ReadWrite,
                    },
                    CollectionAccess {
                        collection: "open".into(),
                        mode: AccessMode::ReadWrite,
                    },
                ])),
                payload_restrictions: Arc::from(vec![
                    (
                        "docs".into(),
                        json!({"tenant": "acme"}).as_object().unwrap().clone(),
                    ),
                    ("open".into(), PayloadFilter::new()),
                ]),
            }),
            "revoked" => Resolution::Refused(AuthError::StatefulValidationFailed {
                collection_missing: false,
            }),
            // The static keys must never reach the resolver.
            ADMIN | READ_ONLY => panic!("static keys are checked before the resolver"),
            token if token.starts_with("eyJhbGciOiJIUzI1NiIsImtpZCI6") => Resolution::UnknownKid,
            _ => Resolution::NotOurs,
        }
    }
}

fn with_registry() -> Authenticator {
    standard().with_key_resolver(Arc::new(Scripted))
}

fn stateful() -> AuthError {
    AuthError::StatefulValidationFailed {
        collection_missing: false,
    }
}

/// Prevents the resolver from shadowing the static keys, and a registry key
/// (even admin-kind) from counting as root.
#[test]
fn static_keys_first_and_only_they_are_root() {
    let auth = with_registry();
    assert!(check(&auth, ADMIN).unwrap().is_root());
    assert!(!check(&auth, READ_ONLY).unwrap().is_root());
    let legacy = check(&auth, "ours-admin").unwrap();
    assert_eq!(legacy.credential(), CredentialKind::LegacyAdminKey);
    assert_eq!(legacy.access(), &Access::Global(GlobalAccess::Manage));
    assert_eq!(legacy.key_id(), Some("k-admin"));
    assert!(!legacy.is_root());
    let qdrant_jwt = check(&auth, &jwt(ADMIN, json!({"access": "m"}))).unwrap();
    assert!(!qdrant_jwt.is_root());
}

/// Prevents §7 from changing for credentials the registry does not claim.
#[test]
fn not_ours_falls_through_to_section_7() {
    let auth = with_registry();
    assert_eq!(
        check(&auth, &jwt(ADMIN, json!({"access": "r"})))
            .unwrap()
            .access(),
        &Access::Global(GlobalAccess::Read)
    );
    assert_eq!(
        check(&auth, &jwt(WRONG, json!({}))),
        Err(AuthError::InvalidSignature)
    );
    assert_eq!(check(&auth, "nobody"), Err(AuthError::InvalidCredential));
    assert_eq!(check(&auth, "revoked"), Err(stateful()));
}

/// Prevents a Qdrant token that carries a `kid` from breaking (§7 ignores
/// `kid`), and a token of a retired signing secret from getting anything but
/// the registry's 401.
#[test]
fn unknown_kid_is_section_7_only_when_signed_with_an_admin_key() {
    let auth = with_registry();
    let header = br#"{"alg":"HS256","kid":"gone"}"#;
    let qdrant = raw_jwt(header, br#"{"access":"r"}"#, Some(ADMIN));
    assert_eq!(
        check(&auth, &qdrant).unwrap().access(),
        &Access::Global(GlobalAccess::Read)
    );
    let expired = raw_jwt(header, br#"{"exp":1}"#, Some(ADMIN));
    assert_eq!(check(&auth, &expired), Err(AuthError::ExpiredSignature));
    let retired = raw_jwt(header, br#"{"access":"m"}"#, Some(WRONG));
    assert_eq!(check(&auth, &retired), Err(stateful()));
    // Without §7 JWTs nothing can verify it.
    let no_jwt = Authenticator::new(AuthConfig {
        api_key: Some(ADMIN.into()),
        ..AuthConfig::default()
    })
    .with_key_resolver(Arc::new(Scripted));
    assert_eq!(check(&no_jwt, &qdrant), Err(stateful()));
}

/// Prevents payload restrictions from being lost on the way to the front
/// ends, and a restricted rule from reaching operations that cannot be
/// limited to matching points.
#[test]
fn payload_restrictions_reach_the_principal() {
    let tenant = check(&with_registry(), "ours-tenant").unwrap();
    assert_eq!(tenant.credential(), CredentialKind::DatabaseKey);
    assert!(tenant.has_payload_restrictions());
    assert_eq!(
        tenant.payload_restriction("docs"),
        Some(json!({"tenant": "acme"}).as_object().unwrap())
    );
    assert_eq!(
        tenant.payload_conditions("docs"),
        Some(vec![json!({"key": "tenant", "match": {"value": "acme"}})])
    );
    assert_eq!(tenant.payload_conditions("other"), None);
    assert_eq!(
        osprey_auth::Forbidden::payload_restriction("docs").to_string(),
        "Forbidden: Payload restriction on collection docs forbids this operation"
    );
    // An empty filter is no restriction.
    assert_eq!(tenant.payload_restriction("open"), None);
    assert_eq!(tenant.payload_restriction("other"), None);

    assert!(
        tenant
            .authorize(&Requirement::CollWrite("docs".into()))
            .is_ok()
    );
    assert!(
        tenant
            .authorize(&Requirement::CollRead("docs".into()))
            .is_ok()
    );
    for extras in [
        Requirement::CollReadExtras("docs".into()),
        Requirement::CollWriteExtras("docs".into()),
    ] {
        assert_eq!(
            tenant.authorize(&extras).unwrap_err().to_string(),
            "Forbidden: Payload restriction on collection docs forbids this operation"
        );
    }
    assert!(
        tenant
            .authorize(&Requirement::CollWriteExtras("open".into()))
            .is_ok()
    );
    // Earlier reasons keep their precedence.
    assert_eq!(
        tenant
            .authorize(&Requirement::CollManage("docs".into()))
            .unwrap_err()
            .reason(),
        "Manage access for this operation is required"
    );
}

/// Prevents the resolver from switching authentication on: with no static key
/// configured everyone is global manage and no credential is examined.
#[test]
fn auth_off_never_asks_the_resolver() {
    let auth = Authenticator::new(AuthConfig::default()).with_key_resolver(Arc::new(Scripted));
    let principal = check(&auth, ADMIN).unwrap();
    assert_eq!(principal.credential(), CredentialKind::None);
    assert!(!principal.is_root());
}
