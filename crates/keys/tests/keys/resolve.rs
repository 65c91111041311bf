//! Registry keys through the `Authenticator`: the rules come from the
//! record, and revocation, expiry, retirement and the granular-access switch
//! act on the very next request.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use osprey_auth::{
    Access, AccessMode, AuthError, CollectionAccess, CredentialKind, GlobalAccess, Requirement,
};
use osprey_keys::{RegistryOptions, Settings};
use serde_json::{Value, json};

use crate::support::*;

/// A created granular key authenticates through either header with exactly
/// its record's rules and payload restrictions.
#[test]
fn created_key_authenticates_with_record_rules() {
    let env = Env::new();
    let created = env.create(json!({
        "name": "tenant key",
        "access_rules": [
            {"collection_access": {"collection_name": "docs", "access_type": "read-write", "payload": {"tenant": "acme", "level": 3}}},
            collection_rule("shared", "read"),
        ]
    }));
    for headers in [api_key(&created.key), bearer(&created.key)] {
        let principal = env.auth.authenticate(&headers).unwrap();
        assert_eq!(principal.credential(), CredentialKind::DatabaseKey);
        assert_eq!(
            principal.key_id(),
            Some(created.record.id.to_string().as_str())
        );
        assert!(!principal.is_root());
        assert_eq!(
            principal.access(),
            &Access::Collections(vec![
                CollectionAccess {
                    collection: "docs".into(),
                    mode: AccessMode::ReadWrite
                },
                CollectionAccess {
                    collection: "shared".into(),
                    mode: AccessMode::Read
                },
            ])
        );
        assert_eq!(
            principal.payload_restriction("docs"),
            Some(json!({"tenant": "acme", "level": 3}).as_object().unwrap())
        );
        assert_eq!(principal.payload_restriction("shared"), None);
        assert!(
            principal
                .authorize(&Requirement::CollWrite("docs".into()))
                .is_ok()
        );
        assert!(
            principal
                .authorize(&Requirement::CollWrite("shared".into()))
                .is_err()
        );
        assert_eq!(
            principal
                .authorize(&Requirement::CollReadExtras("docs".into()))
                .unwrap_err()
                .to_string(),
            "Forbidden: Payload restriction on collection docs forbids this operation"
        );
        assert!(principal.authorize(&Requirement::GlobalRead).is_err());
    }
    let read = env.create(
        json!({"name": "reader", "access_rules": [{"global_access": {"access_type": "read"}}]}),
    );
    assert_eq!(
        env.login(&read.key).unwrap().access(),
        &Access::Global(GlobalAccess::Read)
    );
}

/// The token's own `access` claim is informational: a token is honoured only
/// as the exact one minted for its record. Tampering breaks the signature;
/// a token re-signed with the right secret but other claims is refused.
#[test]
fn rules_come_from_the_registry_not_the_token() {
    let env = Env::new();
    let created =
        env.create(json!({"name": "reader", "access_rules": [collection_rule("docs", "read")]}));
    let parts: Vec<&str> = created.key.split('.').collect();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(claims["jti"], created.record.id.to_string());
    assert_eq!(
        claims["access"],
        json!([{"collection": "docs", "access": "r"}])
    );
    assert!(claims.get("exp").is_none(), "no expiry: no exp claim");
    claims["access"] = json!("m");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        parts[2]
    );
    assert_eq!(env.login(&tampered), Err(AuthError::InvalidSignature));
    // A signature that is not even base64url.
    let garbled = format!("{}.{}.%%%", parts[0], parts[1]);
    assert_eq!(env.login(&garbled), Err(AuthError::InvalidCredential));
    // Signed with an admin key but carrying a registry kid: not §7's either.
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(
        serde_json::to_string(&header).unwrap(),
        format!(
            r#"{{"alg":"HS256","typ":"JWT","kid":"{}"}}"#,
            created.record.kid.as_deref().unwrap()
        )
    );
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header {
            kid: created.record.kid.clone(),
            ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256)
        },
        &json!({"jti": created.record.id.to_string(), "access": "m"}),
        &jsonwebtoken::EncodingKey::from_secret(ROOT.as_bytes()),
    )
    .unwrap();
    assert_eq!(env.login(&forged), Err(AuthError::InvalidSignature));
}

/// Revocation is refused from the very next request (granular: 401
/// stateful; admin-kind: 401 invalid key), on a shared authenticator.
#[test]
fn revoked_keys_are_refused_on_the_next_request() {
    let env = Env::new();
    let granular = env.create(json!({"name": "granular"}));
    env.registry
        .set_settings(Settings {
            granular_access: false,
        })
        .unwrap();
    let admin = env.create(json!({"name": "legacy", "kind": "admin"}));
    env.registry
        .set_settings(Settings {
            granular_access: true,
        })
        .unwrap();

    let legacy = env.login(&admin.key).unwrap();
    assert_eq!(legacy.credential(), CredentialKind::LegacyAdminKey);
    assert_eq!(legacy.access(), &Access::Global(GlobalAccess::Manage));
    assert!(env.login(&granular.key).is_ok());

    env.registry.revoke(granular.record.id).unwrap();
    env.registry.revoke(admin.record.id).unwrap();
    assert_eq!(env.login(&granular.key), Err(stateful()));
    assert_eq!(env.login(&admin.key), Err(AuthError::InvalidCredential));
    assert_eq!(
        AuthError::InvalidCredential.message(),
        "Invalid API key or JWT"
    );
    assert_eq!(
        stateful().message(),
        "Invalid JWT, stateful validation failed"
    );
    assert_eq!(stateful().http_status(), 401);
}

/// A short expiry: accepted before, 403 `ExpiredSignature` after (no leeway:
/// the registry issued the token with its own clock).
#[test]
fn short_expiry_is_refused_once_passed() {
    let env = Env::new();
    let expires = (Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    let created = env.create(json!({"name": "short lived", "expires_at": expires}));
    let at = created.record.expires_at.unwrap();
    assert!(env.login(&created.key).is_ok());
    let wait = (at - Utc::now()).to_std().unwrap_or_default() + Duration::from_millis(50);
    std::thread::sleep(wait);
    assert_eq!(env.login(&created.key), Err(AuthError::ExpiredSignature));
    assert_eq!(AuthError::ExpiredSignature.http_status(), 403);
    assert!(
        !env.registry
            .get(created.record.id)
            .unwrap()
            .is_active(Utc::now())
    );
}

/// Rotation keeps old tokens valid until their secret is retired; new keys
/// use the new secret; retiring ends only the old secret's keys.
#[test]
fn rotation_overlaps_until_retirement() {
    let env = Env::new();
    let old = env.create(json!({"name": "old secret"}));
    let old_kid = old.record.kid.clone().unwrap();
    let rotated = env.registry.rotate_signing_key().unwrap();
    let new = env.create(json!({"name": "new secret"}));
    assert_eq!(new.record.kid.as_deref(), Some(rotated.kid.as_str()));
    assert!(env.login(&old.key).is_ok(), "old tokens survive rotation");
    assert!(env.login(&new.key).is_ok());
    let listed = env.registry.signing_keys();
    let old_info = listed.iter().find(|k| k.kid == old_kid).unwrap();
    assert_eq!((old_info.current, old_info.active_keys), (false, 1));

    env.registry.retire_signing_key(&old_kid).unwrap();
    assert_eq!(env.login(&old.key), Err(stateful()));
    assert!(env.login(&new.key).is_ok());
}

/// Turning granular access off refuses granular keys on the next request
/// and leaves admin-kind keys working; turning it on restores them.
#[test]
fn granular_access_switch_is_live() {
    let env = Env::new();
    let granular = env.create(json!({"name": "granular"}));
    env.registry
        .set_settings(Settings {
            granular_access: false,
        })
        .unwrap();
    let admin = env.create(json!({"name": "legacy", "kind": "admin"}));
    assert_eq!(env.login(&granular.key), Err(stateful()));
    assert!(env.login(&admin.key).is_ok());
    env.registry
        .set_settings(Settings {
            granular_access: true,
        })
        .unwrap();
    assert!(env.login(&granular.key).is_ok());
    assert!(
        env.login(&admin.key).is_ok(),
        "existing admin keys keep working"
    );
}

/// Static keys and Qdrant tokens keep §2/§7 behaviour with the registry in
/// place, and strangers' credentials still get §6's answers.
#[test]
fn static_keys_and_qdrant_tokens_unchanged() {
    let env = Env::new();
    assert!(env.login(ROOT).unwrap().is_root());
    assert!(env.login(ALT_ROOT).unwrap().is_root());
    assert_eq!(
        env.login(READ_ONLY).unwrap().credential(),
        CredentialKind::ReadOnlyKey
    );
    let qdrant = qdrant_jwt(
        ROOT,
        json!({"access": [{"collection": "a", "access": "prw"}]}),
    );
    assert_eq!(
        env.login(&qdrant).unwrap().credential(),
        CredentialKind::Jwt
    );
    assert_eq!(
        env.login(&qdrant_jwt("some-other-secret-0123456789abcdef", json!({}))),
        Err(AuthError::InvalidSignature)
    );
    assert_eq!(env.login("not-a-key"), Err(AuthError::InvalidCredential));
    // A well-formed token with an unknown kid and no admin signature.
    let stranger = format!(
        "{}.{}.c2ln",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","kid":"nope"}"#),
        URL_SAFE_NO_PAD.encode(r#"{"jti":"x"}"#)
    );
    assert_eq!(env.login(&stranger), Err(stateful()));
    assert_eq!(
        env.auth.authenticate(&http::HeaderMap::new()),
        Err(AuthError::MissingCredential)
    );
}

/// `last_used_at` follows use in memory at once and reaches storage on the
/// flusher's period.
#[test]
fn last_used_is_tracked_and_flushed() {
    let env = Env::with_options(RegistryOptions {
        last_used_flush_interval: Duration::from_millis(100),
        ..RegistryOptions::default()
    });
    let created = env.create(json!({"name": "used key"}));
    assert!(
        env.registry
            .get(created.record.id)
            .unwrap()
            .last_used_at
            .is_none()
    );
    let before = Utc::now().timestamp();
    env.login(&created.key).unwrap();
    let used = env
        .registry
        .get(created.record.id)
        .unwrap()
        .last_used_at
        .unwrap();
    assert!(used.timestamp() >= before);
    std::thread::sleep(Duration::from_millis(400));
    // Reopen without the shutdown flush: only the background flush saved it.
    let Env {
        dir,
        registry,
        auth,
    } = env;
    drop(auth);
    std::mem::forget(registry);
    let reopened_path = dir.path().join("copy");
    std::fs::create_dir(&reopened_path).unwrap();
    std::fs::copy(
        dir.path().join("keys.redb"),
        reopened_path.join("keys.redb"),
    )
    .unwrap();
    let copy = osprey_keys::KeyRegistry::open(&reopened_path).unwrap();
    assert_eq!(
        copy.get(created.record.id).unwrap().last_used_at,
        Some(used)
    );
}

/// Concurrent creates and revokes lose nothing and never leave a revoked key
/// usable.
#[test]
fn concurrent_creates_and_revokes() {
    let env = Arc::new(Env::new());
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let env = env.clone();
            std::thread::spawn(move || {
                let mut kept = Vec::new();
                for i in 0..10 {
                    let created = env.create(json!({"name": format!("thread {t} key {i}")}));
                    if i % 2 == 0 {
                        env.registry.revoke(created.record.id).unwrap();
                        assert_eq!(env.login(&created.key), Err(stateful()));
                    } else {
                        assert!(env.login(&created.key).is_ok());
                        kept.push(created);
                    }
                }
                kept
            })
        })
        .collect();
    let kept: Vec<_> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    assert_eq!(env.registry.list().len(), 40);
    assert_eq!(
        env.registry
            .list()
            .iter()
            .filter(|r| r.revoked_at.is_some())
            .count(),
        20
    );
    for key in kept {
        assert!(env.login(&key.key).is_ok());
    }
}
