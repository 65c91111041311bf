//! Key material: random secrets, the key plane's HS256 JWTs and their
//! parsing on the hot path.
//!
//! The JWT header is written by hand so that it starts with `{"alg"` (the
//! token then starts with `eyJhb`, as Qdrant Cloud's keys do); jsonwebtoken's
//! own `Header` serialises `typ` first. Signing and verification use
//! jsonwebtoken's HMAC, whose check is constant-time.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use rand::TryRngCore;
use rand::rngs::OsRng;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::{KeyError, Result};

/// Bytes of a signing secret (256 bits).
pub(crate) const SECRET_BYTES: usize = 32;
/// Bytes of an admin-kind key (256 bits).
const ADMIN_KEY_BYTES: usize = 32;
/// Bytes of a `kid` (short, only needs to be unique among a few secrets).
const KID_BYTES: usize = 6;
/// Characters of a key shown in lists.
const POSTFIX_CHARS: usize = 6;

/// `N` bytes from the OS random generator.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|error| KeyError::Random(error.to_string()))?;
    Ok(bytes)
}

/// A new opaque admin-kind key: 256 random bits, base64url without padding
/// (43 characters).
pub(crate) fn new_admin_key() -> Result<String> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes::<ADMIN_KEY_BYTES>()?))
}

/// A new signing key id: 48 random bits, base64url (8 characters).
pub(crate) fn new_kid() -> Result<String> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes::<KID_BYTES>()?))
}

/// The last 6 characters of a credential: what lists and the audit log show.
pub fn postfix(credential: &str) -> String {
    let start = credential
        .char_indices()
        .rev()
        .nth(POSTFIX_CHARS - 1)
        .map_or(0, |(i, _)| i);
    credential[start..].to_owned()
}

pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// One signing secret with its prepared HMAC keys.
pub(crate) struct SigningSecret {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl SigningSecret {
    pub(crate) fn new(secret: [u8; SECRET_BYTES]) -> Self {
        SigningSecret {
            encoding: EncodingKey::from_secret(&secret),
            decoding: DecodingKey::from_secret(&secret),
        }
    }

    /// A signed token: header `{"alg":"HS256","typ":"JWT","kid":…}`, then
    /// `claims` as given (their key order is kept).
    pub(crate) fn mint(&self, kid: &str, claims: &Value) -> Result<String> {
        let header = serde_json::json!({"alg": "HS256", "typ": "JWT", "kid": kid});
        let message = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature =
            jsonwebtoken::crypto::sign(message.as_bytes(), &self.encoding, Algorithm::HS256)
                .map_err(|error| KeyError::Random(format!("signing failed: {error}")))?;
        Ok(format!("{message}.{signature}"))
    }

    /// Constant-time HMAC check of `token`'s signature. `None`: the
    /// signature is not even base64url.
    pub(crate) fn verify(&self, token: &ParsedToken<'_>) -> Option<bool> {
        jsonwebtoken::crypto::verify(
            token.signature,
            token.message.as_bytes(),
            &self.decoding,
            Algorithm::HS256,
        )
        .ok()
    }
}

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningSecret(<secret>)")
    }
}

/// A three-part JWT whose header names a `kid`.
#[derive(Debug)]
pub(crate) struct ParsedToken<'a> {
    /// `header.claims`, the signed message.
    pub(crate) message: &'a str,
    pub(crate) claims: &'a str,
    pub(crate) signature: &'a str,
    pub(crate) alg: String,
    pub(crate) kid: String,
}

#[derive(Deserialize)]
struct WireHeader {
    alg: String,
    kid: Option<String>,
}

/// The claims the registry reads; `access` is ignored (rules come from the
/// record).
#[derive(Debug, Deserialize)]
pub(crate) struct RegistryClaims {
    /// Required, so a token without it is "not a usable JWT" (401).
    #[allow(
        dead_code,
        reason = "records are found by digest; kept so its type is enforced"
    )]
    pub(crate) jti: String,
    pub(crate) exp: Option<u64>,
}

/// `Some` only for `header.claims.signature` whose header is a JSON object
/// with a string `kid`: the tokens the registry must answer for.
pub(crate) fn parse_with_kid(token: &str) -> Option<ParsedToken<'_>> {
    let (message, signature) = token.rsplit_once('.')?;
    let (header, claims) = message.split_once('.')?;
    if claims.contains('.') {
        return None;
    }
    let header = URL_SAFE_NO_PAD.decode(header).ok()?;
    let header: WireHeader = serde_json::from_slice(&header).ok()?;
    Some(ParsedToken {
        message,
        claims,
        signature,
        alg: header.alg,
        kid: header.kid?,
    })
}

impl ParsedToken<'_> {
    /// The claims, or `None` when they do not parse (401).
    pub(crate) fn registry_claims(&self) -> Option<RegistryClaims> {
        let bytes = URL_SAFE_NO_PAD.decode(self.claims).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::Validation;
    use serde_json::json;

    use super::*;

    /// Pins the token shape of §15: `eyJhb` prefix, HS256 with `kid`, and a
    /// signature any standard JWT library accepts with the secret.
    #[test]
    fn minted_tokens_are_standard_hs256() {
        let secret = SigningSecret::new([7; SECRET_BYTES]);
        let claims = json!({"jti": "id-1", "exp": 4_000_000_000u64, "access": "r"});
        let token = secret.mint("kid-1", &claims).unwrap();
        assert!(token.starts_with("eyJhb"), "{token}");
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, Algorithm::HS256);
        assert_eq!(header.kid.as_deref(), Some("kid-1"));
        assert_eq!(header.typ.as_deref(), Some("JWT"));
        let decoded = jsonwebtoken::decode::<Value>(
            &token,
            &DecodingKey::from_secret(&[7; SECRET_BYTES]),
            &Validation::new(Algorithm::HS256),
        )
        .unwrap();
        assert_eq!(decoded.claims, claims);

        let parsed = parse_with_kid(&token).unwrap();
        assert_eq!(parsed.kid, "kid-1");
        assert_eq!(parsed.alg, "HS256");
        assert_eq!(secret.verify(&parsed), Some(true));
        assert_eq!(
            SigningSecret::new([8; SECRET_BYTES]).verify(&parsed),
            Some(false)
        );
        let claims = parsed.registry_claims().unwrap();
        assert_eq!(claims.jti, "id-1");
        assert_eq!(claims.exp, Some(4_000_000_000));
    }

    /// Prevents the registry from claiming credentials that are not its own.
    #[test]
    fn only_jwts_with_kid_are_parsed() {
        assert!(parse_with_kid("opaque-key").is_none());
        assert!(parse_with_kid("a.b").is_none());
        assert!(parse_with_kid("a.b.c.d").is_none());
        let no_kid = format!("{}.e30.sig", URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256"}"#));
        assert!(parse_with_kid(&no_kid).is_none());
        let numeric_kid = format!(
            "{}.e30.sig",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","kid":1}"#)
        );
        assert!(parse_with_kid(&numeric_kid).is_none());
    }

    /// Random material has the promised size and alphabet.
    #[test]
    fn random_material() {
        let key = new_admin_key().unwrap();
        assert_eq!(key.len(), 43);
        assert!(
            key.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_ne!(key, new_admin_key().unwrap());
        assert_eq!(new_kid().unwrap().len(), 8);
        assert_eq!(postfix("abcdefgh"), "cdefgh");
        assert_eq!(postfix("abc"), "abc");
        assert_eq!(postfix("ééééééé"), "éééééé");
    }
}
