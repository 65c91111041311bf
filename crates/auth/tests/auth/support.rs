//! Keys, token minting and request helpers shared by the test modules.
//! Tokens are minted here with jsonwebtoken: the crate itself has no issuer.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderMap, HeaderValue};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use osprey_auth::{AuthConfig, AuthError, Authenticator, Principal};
use serde_json::{Value, json};

pub const ADMIN: &str = "admin-key-0123456789abcdef-0123456789";
pub const ALT: &str = "alt-admin-key-0123456789abcdef-01234567";
pub const READ_ONLY: &str = "read-only-key-0123456789abcdef-0123456";
pub const WRONG: &str = "wrong-secret-0123456789abcdef-012345678";

/// `api_key` + `read_only_api_key`, JWTs on: the common server setup.
pub fn standard() -> Authenticator {
    Authenticator::new(AuthConfig {
        api_key: Some(ADMIN.into()),
        read_only_api_key: Some(READ_ONLY.into()),
        jwt_rbac: true,
        ..AuthConfig::default()
    })
}

pub fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

/// An HS256 JWT over arbitrary claims JSON.
pub fn jwt(secret: &str, claims: Value) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// A token from raw header and payload bytes, HS256-signed with `secret`, or
/// with an empty signature when `secret` is `None`.
pub fn raw_jwt(header: &[u8], payload: &[u8], secret: Option<&str>) -> String {
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let signature = match secret {
        Some(secret) => jsonwebtoken::crypto::sign(
            message.as_bytes(),
            &EncodingKey::from_secret(secret.as_bytes()),
            Algorithm::HS256,
        )
        .unwrap(),
        None => String::new(),
    };
    format!("{message}.{signature}")
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

/// Authenticates `credential` sent as `api-key` and as a bearer token, and
/// checks that both ways give the same answer (§3: either header carries
/// either kind of credential).
pub fn check(auth: &Authenticator, credential: &str) -> Result<Principal, AuthError> {
    let by_header = auth.authenticate(&api_key(credential));
    let by_bearer = auth.authenticate(&bearer(credential));
    assert_eq!(by_header, by_bearer, "api-key and Bearer disagree");
    by_header
}

/// A collection-scoped token's claims.
pub fn collections(entries: &[(&str, &str)]) -> Value {
    let list: Vec<Value> = entries
        .iter()
        .map(|(c, mode)| json!({"collection": c, "access": mode}))
        .collect();
    json!({ "access": list })
}
