//! Configuration of keys and JWT secrets (spec §1, §2, §7, §10).

use osprey_auth::{Access, AuthConfig, AuthError, Authenticator, CredentialKind, GlobalAccess};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::support::*;

const MANAGE: Access = Access::Global(GlobalAccess::Manage);

fn with_alt() -> Authenticator {
    Authenticator::new(AuthConfig {
        api_key: Some(ADMIN.into()),
        alt_api_key: Some(ALT.into()),
        read_only_api_key: Some(READ_ONLY.into()),
        jwt_rbac: true,
        ..AuthConfig::default()
    })
}

/// Prevents key rotation from breaking: `alt_api_key` is a second admin key
/// and a second JWT secret, and tokens of the old key keep working.
#[test]
fn alt_api_key_signs_and_authenticates() {
    let auth = with_alt();
    assert_eq!(check(&auth, ALT).unwrap().access(), &MANAGE);
    assert_eq!(
        check(&auth, ALT).unwrap().credential(),
        CredentialKind::ApiKey
    );
    let by_alt = jwt(ALT, json!({"access": "r"}));
    assert_eq!(
        check(&auth, &by_alt).unwrap().access(),
        &Access::Global(GlobalAccess::Read)
    );
    let by_main = jwt(ADMIN, json!({"access": "r"}));
    assert_eq!(
        check(&auth, &by_main).unwrap().credential(),
        CredentialKind::Jwt
    );
    // Only alt configured: alt alone signs.
    let alt_only = Authenticator::new(AuthConfig {
        alt_api_key: Some(ALT.into()),
        jwt_rbac: true,
        ..AuthConfig::default()
    });
    assert!(check(&alt_only, &by_alt).is_ok());
    assert_eq!(check(&alt_only, &by_main), Err(AuthError::InvalidSignature));
}

/// Prevents tokens of a key that is no longer configured from working.
#[test]
fn token_of_unconfigured_key_is_refused() {
    let by_alt = jwt(ALT, json!({}));
    assert_eq!(
        check(&standard(), &by_alt),
        Err(AuthError::InvalidSignature)
    );
}

/// Qdrant quirk kept on purpose (§7: "otherwise the error from the first
/// parser is reported"): with both keys set, a token signed by `alt_api_key`
/// whose claims do not parse reports the *first* key's verdict, 403
/// InvalidSignature. Prevents a silent divergence from Qdrant's answer.
#[test]
fn first_parser_error_is_reported() {
    let auth = with_alt();
    let bad_claims_by_alt = jwt(ALT, json!({"access": "bogus"}));
    assert_eq!(
        check(&auth, &bad_claims_by_alt),
        Err(AuthError::InvalidSignature)
    );
    // Expired under alt: the first key says "bad signature" first.
    let expired_by_alt = jwt(ALT, json!({"exp": now() - 3600}));
    assert_eq!(
        check(&auth, &expired_by_alt),
        Err(AuthError::InvalidSignature)
    );
    // Expired under the main key: the main key's verdict is "expired".
    let expired_by_main = jwt(ADMIN, json!({"exp": now() - 3600}));
    assert_eq!(
        check(&auth, &expired_by_main),
        Err(AuthError::ExpiredSignature)
    );
}

/// Prevents the read-only key from ever becoming a JWT secret (a read-only
/// holder could otherwise mint manage tokens): 403 InvalidSignature (§10).
#[test]
fn read_only_key_is_not_a_jwt_secret() {
    let forged = jwt(READ_ONLY, json!({"access": "m"}));
    assert_eq!(
        check(&standard(), &forged),
        Err(AuthError::InvalidSignature)
    );
    assert_eq!(
        check(&with_alt(), &forged),
        Err(AuthError::InvalidSignature)
    );
}

/// Prevents JWTs from being accepted with no admin secret: with only the
/// read-only key, authentication is on and every JWT is 401.
#[test]
fn read_only_only_refuses_jwts() {
    let auth = Authenticator::new(AuthConfig {
        read_only_api_key: Some(READ_ONLY.into()),
        jwt_rbac: true,
        ..AuthConfig::default()
    });
    assert!(auth.is_enabled());
    assert_eq!(
        check(&auth, READ_ONLY).unwrap().credential(),
        CredentialKind::ReadOnlyKey
    );
    let signed_ro = jwt(READ_ONLY, json!({"access": "r"}));
    assert_eq!(check(&auth, &signed_ro), Err(AuthError::InvalidCredential));
    assert_eq!(check(&auth, ADMIN), Err(AuthError::InvalidCredential));
}

/// [surpass] Prevents an empty or whitespace key (e.g. `QDRANT__SERVICE__API_KEY=`)
/// from turning auth on and then matching an empty header.
#[test]
fn empty_api_key_is_unset() {
    for blank in ["", " ", "\t\n"] {
        let auth = Authenticator::new(AuthConfig {
            api_key: Some(blank.into()),
            alt_api_key: Some(blank.into()),
            read_only_api_key: Some(blank.into()),
            jwt_rbac: true,
            ..AuthConfig::default()
        });
        assert!(!auth.is_enabled(), "{blank:?}");
        assert_eq!(
            auth.authenticate(&api_key("")).unwrap().credential(),
            CredentialKind::None
        );

        // With a real read-only key, a blank admin key must match nothing.
        let auth = Authenticator::new(AuthConfig {
            api_key: Some(blank.into()),
            read_only_api_key: Some(READ_ONLY.into()),
            jwt_rbac: true,
            ..AuthConfig::default()
        });
        assert!(auth.is_enabled());
        assert_eq!(
            auth.authenticate(&api_key("")),
            Err(AuthError::InvalidCredential)
        );
        assert_eq!(
            auth.authenticate(&http::HeaderMap::from_iter([(
                http::header::AUTHORIZATION,
                http::HeaderValue::from_static("Bearer ")
            )])),
            Err(AuthError::InvalidCredential)
        );
        // …and is no JWT secret: a token signed with "" is not usable.
        let token = jwt(blank, json!({}));
        assert_eq!(check(&auth, &token), Err(AuthError::InvalidCredential));
    }
}

/// Prevents keys from being trimmed at configuration time: a key with a
/// trailing space must be sent with it.
#[test]
fn configured_keys_are_not_trimmed() {
    let auth = Authenticator::new(AuthConfig {
        api_key: Some("key ".into()),
        ..AuthConfig::default()
    });
    assert!(check(&auth, "key ").is_ok());
    assert_eq!(check(&auth, "key"), Err(AuthError::InvalidCredential));
}

/// Prevents the bootstrap admin key (kept only as a hash) from being usable
/// as a JWT secret, while it still grants global manage.
#[test]
fn admin_key_hash_grants_manage_but_signs_nothing() {
    let bootstrap = "bootstrap-key-0123456789abcdef-0123456789";
    let digest: [u8; 32] = Sha256::digest(bootstrap.as_bytes()).into();

    let hash_only = Authenticator::new(AuthConfig {
        admin_key_hashes: vec![digest],
        jwt_rbac: true,
        ..AuthConfig::default()
    });
    assert!(hash_only.is_enabled());
    let principal = check(&hash_only, bootstrap).unwrap();
    assert_eq!(principal.access(), &MANAGE);
    assert_eq!(principal.credential(), CredentialKind::ApiKey);
    let signed = jwt(bootstrap, json!({}));
    assert_eq!(
        check(&hash_only, &signed),
        Err(AuthError::InvalidCredential)
    );

    let with_key = Authenticator::new(AuthConfig {
        api_key: Some(ADMIN.into()),
        admin_key_hashes: vec![digest],
        jwt_rbac: true,
        ..AuthConfig::default()
    });
    assert_eq!(check(&with_key, &signed), Err(AuthError::InvalidSignature));
    assert_eq!(check(&with_key, bootstrap).unwrap().access(), &MANAGE);
}

/// Prevents "auth on" from depending on anything but configured keys (§1).
#[test]
fn enabled_iff_any_key() {
    assert!(!Authenticator::new(AuthConfig::default()).is_enabled());
    assert!(
        !Authenticator::new(AuthConfig {
            jwt_rbac: true,
            ..AuthConfig::default()
        })
        .is_enabled()
    );
    for config in [
        AuthConfig {
            api_key: Some(ADMIN.into()),
            ..AuthConfig::default()
        },
        AuthConfig {
            alt_api_key: Some(ALT.into()),
            ..AuthConfig::default()
        },
        AuthConfig {
            read_only_api_key: Some(READ_ONLY.into()),
            ..AuthConfig::default()
        },
        AuthConfig {
            admin_key_hashes: vec![[0; 32]],
            ..AuthConfig::default()
        },
    ] {
        assert!(Authenticator::new(config).is_enabled());
    }
}

/// Prevents short secrets from being refused: Qdrant only warns, and existing
/// tokens signed with them must keep working.
#[test]
fn short_jwt_secret_still_works() {
    let auth = Authenticator::new(AuthConfig {
        api_key: Some("short".into()),
        jwt_rbac: true,
        ..AuthConfig::default()
    });
    assert!(check(&auth, &jwt("short", json!({"access": "r"}))).is_ok());
}
