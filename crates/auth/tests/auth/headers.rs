//! Where credentials are read from (spec §3), end to end through
//! `Authenticator::authenticate`.

use http::{HeaderMap, HeaderValue};
use osprey_auth::{Access, AuthConfig, AuthError, Authenticator, CredentialKind, GlobalAccess};
use serde_json::json;

use crate::support::*;

fn headers(pairs: &[(&'static str, &[u8])]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(*name, HeaderValue::from_bytes(value).unwrap());
    }
    map
}

fn access(result: Result<osprey_auth::Principal, AuthError>) -> Access {
    result.expect("expected success").access().clone()
}

const MANAGE: Access = Access::Global(GlobalAccess::Manage);
const READ: Access = Access::Global(GlobalAccess::Read);

/// Prevents either header from being ignored: both carry keys and JWTs.
#[test]
fn both_headers_carry_both_kinds() {
    let auth = standard();
    let token = jwt(ADMIN, json!({"access": "r"}));
    assert_eq!(access(auth.authenticate(&api_key(ADMIN))), MANAGE);
    assert_eq!(access(auth.authenticate(&bearer(ADMIN))), MANAGE);
    assert_eq!(access(auth.authenticate(&api_key(READ_ONLY))), READ);
    assert_eq!(access(auth.authenticate(&bearer(READ_ONLY))), READ);
    assert_eq!(access(auth.authenticate(&api_key(&token))), READ);
    assert_eq!(access(auth.authenticate(&bearer(&token))), READ);
    // Header names are case-insensitive in HTTP.
    assert_eq!(
        access(auth.authenticate(&headers(&[("API-KEY", ADMIN.as_bytes())]))),
        MANAGE
    );
    let b = format!("Bearer {ADMIN}");
    assert_eq!(
        access(auth.authenticate(&headers(&[("Authorization", b.as_bytes())]))),
        MANAGE
    );
}

/// Prevents falling back to `Authorization` when `api-key` is present but
/// wrong: only one credential is evaluated per request.
#[test]
fn api_key_wins_without_fallback() {
    let auth = standard();
    let b = format!("Bearer {ADMIN}");
    let wrong_then_admin = headers(&[("api-key", b"wrong"), ("authorization", b.as_bytes())]);
    assert_eq!(
        auth.authenticate(&wrong_then_admin),
        Err(AuthError::InvalidCredential)
    );
    let ro_then_admin = headers(&[
        ("api-key", READ_ONLY.as_bytes()),
        ("authorization", b.as_bytes()),
    ]);
    assert_eq!(access(auth.authenticate(&ro_then_admin)), READ);
    // Even an empty api-key header is "present".
    let empty_then_admin = headers(&[("api-key", b""), ("authorization", b.as_bytes())]);
    assert_eq!(
        auth.authenticate(&empty_then_admin),
        Err(AuthError::InvalidCredential)
    );
}

/// Prevents a lenient `Bearer` prefix: it is exact and case-sensitive, other
/// schemes are "no credential", and a doubled space keeps its extra space.
#[test]
fn bearer_prefix_is_exact() {
    let auth = standard();
    for value in [
        format!("bearer {ADMIN}"),
        format!("BEARER {ADMIN}"),
        format!("Basic {ADMIN}"),
        format!("Bearer{ADMIN}"),
        ADMIN.to_owned(),
        "Bearer".to_owned(),
    ] {
        let request = headers(&[("authorization", value.as_bytes())]);
        assert_eq!(
            auth.authenticate(&request),
            Err(AuthError::MissingCredential),
            "{value}"
        );
    }
    let two_spaces = format!("Bearer  {ADMIN}");
    let request = headers(&[("authorization", two_spaces.as_bytes())]);
    assert_eq!(
        auth.authenticate(&request),
        Err(AuthError::InvalidCredential)
    );
    // A tab after "Bearer" is not the prefix either.
    let tab = format!("Bearer\t{ADMIN}");
    let request = headers(&[("authorization", tab.as_bytes())]);
    assert_eq!(
        auth.authenticate(&request),
        Err(AuthError::MissingCredential)
    );
}

/// Prevents trimming: surrounding whitespace is part of the credential.
#[test]
fn values_are_not_trimmed() {
    let auth = standard();
    for value in [
        format!(" {ADMIN}"),
        format!("{ADMIN} "),
        format!("{ADMIN}\t"),
    ] {
        let request = headers(&[("api-key", value.as_bytes())]);
        assert_eq!(
            auth.authenticate(&request),
            Err(AuthError::InvalidCredential),
            "{value:?}"
        );
    }
}

/// Prevents reading non-visible-ASCII header values: they count as absent,
/// so a readable `Authorization` is then used.
#[test]
fn unreadable_values_are_absent() {
    let auth = standard();
    assert_eq!(
        auth.authenticate(&headers(&[("api-key", "ключ".as_bytes())])),
        Err(AuthError::MissingCredential)
    );
    let b = format!("Bearer {READ_ONLY}");
    let request = headers(&[("api-key", b"\x80admin"), ("authorization", b.as_bytes())]);
    assert_eq!(access(auth.authenticate(&request)), READ);
    let request = headers(&[("authorization", "Bearer ключ".as_bytes())]);
    assert_eq!(
        auth.authenticate(&request),
        Err(AuthError::MissingCredential)
    );
}

/// Prevents headers from mattering when authentication is off: everyone is
/// global manage, even with garbage or forged credentials.
#[test]
fn auth_off_ignores_headers() {
    let auth = Authenticator::new(AuthConfig {
        jwt_rbac: true,
        ..AuthConfig::default()
    });
    assert!(!auth.is_enabled());
    for request in [
        HeaderMap::new(),
        api_key("garbage"),
        bearer(&jwt(WRONG, json!({"access": "r"}))),
    ] {
        let principal = auth.authenticate(&request).unwrap();
        assert_eq!(principal.access(), &MANAGE);
        assert_eq!(principal.credential(), CredentialKind::None);
    }
}

/// Prevents reordering of §2's checks: admin keys before the read-only key
/// (so equal keys give manage), and keys before JWT decoding.
#[test]
fn admin_checked_before_read_only() {
    let auth = Authenticator::new(AuthConfig {
        api_key: Some(ADMIN.into()),
        read_only_api_key: Some(ADMIN.into()),
        ..AuthConfig::default()
    });
    let principal = check(&auth, ADMIN).unwrap();
    assert_eq!(principal.access(), &MANAGE);
    assert_eq!(principal.credential(), CredentialKind::ApiKey);
}

/// Prevents the `eyJhb` prefix (or any shape) from deciding what a credential
/// is: a static key that looks like a JWT is still matched as a key.
#[test]
fn jwt_looking_key_is_a_key() {
    let key_like_jwt = jwt(WRONG, json!({"access": "r"}));
    let auth = Authenticator::new(AuthConfig {
        api_key: Some(key_like_jwt.clone()),
        jwt_rbac: true,
        ..AuthConfig::default()
    });
    let principal = check(&auth, &key_like_jwt).unwrap();
    assert_eq!(principal.access(), &MANAGE);
    assert_eq!(principal.credential(), CredentialKind::ApiKey);
}
