//! Credential -> Principal (spec §2, §3, §6, §7).

use std::fmt;
use std::sync::Arc;

use http::HeaderMap;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

use crate::audit::AuditLog;
use crate::claims::Claims;
use crate::config::AuthConfig;
use crate::error::AuthError;
use crate::principal::{Access, CredentialKind, GlobalAccess, Principal};
use crate::resolver::{KeyResolver, Resolution};

/// Header that carries a key or a JWT; wins over `Authorization`.
const API_KEY_HEADER: &str = "api-key";
/// Exact, case-sensitive prefix of a bearer credential.
const BEARER_PREFIX: &str = "Bearer ";
/// Secrets shorter than this make weak HS256 keys (RFC 7518 §3.2).
const MIN_JWT_SECRET_LEN: usize = 32;
/// Clock-skew allowance on `exp`, in seconds.
const EXP_LEEWAY_SECS: u64 = 30;

/// Turns request headers into a [`Principal`]. Built once from an
/// [`AuthConfig`]; `Send + Sync`, meant to be shared in an `Arc`.
///
/// Only SHA-256 digests of the static keys are kept; the admin keys' raw bytes
/// live on only inside the JWT decoding keys, and only when `jwt_rbac` is on.
pub struct Authenticator {
    enabled: bool,
    /// `api_key`, `alt_api_key`, then `admin_key_hashes`.
    admin_digests: Vec<[u8; 32]>,
    read_only_digest: Option<[u8; 32]>,
    /// `None` when JWTs are off (no `jwt_rbac`, or no admin key to sign with).
    jwt: Option<JwtVerifier>,
    /// The key plane's registry (spec §15), asked after the static keys.
    resolver: Option<Arc<dyn KeyResolver>>,
    /// Qdrant's audit log (spec §12), when enabled: both front ends share
    /// this authenticator, so it is where they find the log.
    audit: Option<Arc<AuditLog>>,
}

impl Authenticator {
    /// Builds the authenticator. Empty or whitespace-only keys are treated as
    /// unset and logged as errors (Qdrant would accept an empty key and then
    /// match an empty header). Never logs a secret.
    pub fn new(config: AuthConfig) -> Self {
        let AuthConfig {
            api_key,
            alt_api_key,
            read_only_api_key,
            jwt_rbac,
            admin_key_hashes,
        } = config;
        let api_key = usable_key("service.api_key", api_key);
        let alt_api_key = usable_key("service.alt_api_key", alt_api_key);
        let read_only_api_key = usable_key("service.read_only_api_key", read_only_api_key);

        let mut admin_digests: Vec<[u8; 32]> = [&api_key, &alt_api_key]
            .into_iter()
            .flatten()
            .map(sha256)
            .collect();
        admin_digests.extend(admin_key_hashes);
        let read_only_digest = read_only_api_key.as_deref().map(sha256);
        if let Some(ro) = &read_only_digest
            && matches_any(&admin_digests, ro)
        {
            tracing::warn!(
                "service.read_only_api_key equals an admin key; that key keeps full manage access"
            );
        }

        let jwt = if jwt_rbac {
            let secrets: Vec<(&str, &String)> = [
                ("service.api_key", api_key.as_ref()),
                ("service.alt_api_key", alt_api_key.as_ref()),
            ]
            .into_iter()
            .filter_map(|(name, key)| key.map(|k| (name, k)))
            .collect();
            if secrets.is_empty() {
                tracing::warn!(
                    "service.jwt_rbac is enabled but neither service.api_key nor \
                     service.alt_api_key is set; every JWT will be rejected"
                );
                None
            } else {
                for (name, secret) in &secrets {
                    if secret.len() < MIN_JWT_SECRET_LEN {
                        tracing::warn!(
                            "{name} is shorter than {MIN_JWT_SECRET_LEN} bytes; JWTs signed with \
                             it can be brute-forced more easily"
                        );
                    }
                }
                Some(JwtVerifier::new(
                    secrets.into_iter().map(|(_, s)| s.as_bytes()),
                ))
            }
        } else {
            None
        };

        Authenticator {
            enabled: !admin_digests.is_empty() || read_only_digest.is_some(),
            admin_digests,
            read_only_digest,
            jwt,
            resolver: None,
            audit: None,
        }
    }

    /// Installs the key plane's resolver (spec §15). The order of checks then
    /// becomes: static admin keys, the read-only key, the resolver (JWTs with
    /// a `kid`, admin-kind keys by digest), and §7 for everything the resolver
    /// does not claim. Without static keys authentication stays off, and the
    /// resolver is never asked.
    pub fn with_key_resolver(mut self, resolver: Arc<dyn KeyResolver>) -> Self {
        self.resolver = Some(resolver);
        self
    }

    /// Installs the audit log the front ends record their access decisions in.
    pub fn with_audit_log(mut self, audit: Arc<AuditLog>) -> Self {
        self.audit = Some(audit);
        self
    }

    /// The audit log, when `audit.enabled`.
    pub fn audit_log(&self) -> Option<&Arc<AuditLog>> {
        self.audit.as_ref()
    }

    /// Authentication is on iff any key (or admin key hash) is configured.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// Finds the credential in `headers` and evaluates it: admin keys first,
    /// then the read-only key, then the JWT. With authentication off, everyone
    /// is global manage and headers are ignored.
    ///
    /// A JWT's `value_exists` claim is returned on the principal, unchecked: the
    /// caller must run it (spec §7) before serving the request.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Principal, AuthError> {
        if !self.enabled {
            return Ok(Principal::new(
                Access::Global(GlobalAccess::Manage),
                CredentialKind::None,
            ));
        }
        let credential = extract_credential(headers).ok_or(AuthError::MissingCredential)?;

        // Hash first so that neither the content nor the length of a key leaks
        // through comparison timing.
        let digest = sha256(credential);
        if matches_any(&self.admin_digests, &digest) {
            return Ok(Principal::new(
                Access::Global(GlobalAccess::Manage),
                CredentialKind::ApiKey,
            ));
        }
        if let Some(ro) = &self.read_only_digest
            && bool::from(ro.ct_eq(&digest))
        {
            return Ok(Principal::new(
                Access::Global(GlobalAccess::Read),
                CredentialKind::ReadOnlyKey,
            ));
        }
        if let Some(resolver) = &self.resolver {
            match resolver.resolve(credential, &digest) {
                Resolution::NotOurs => {}
                Resolution::Resolved(key) => return Ok(Principal::from_registry(key)),
                Resolution::Refused(error) => return Err(error),
                Resolution::UnknownKid => return self.unknown_kid(credential),
            }
        }
        self.verify_jwt(credential)
    }

    /// §7: a Qdrant JWT signed with an admin key.
    fn verify_jwt(&self, credential: &str) -> Result<Principal, AuthError> {
        match &self.jwt {
            Some(jwt) => jwt.verify(credential),
            None => Err(AuthError::InvalidCredential),
        }
    }

    /// A JWT naming a `kid` the registry does not hold. If it is signed with
    /// an admin key it is a Qdrant token, for which §7 ignores `kid`: §7's
    /// verdict stands. Otherwise it is a key-plane token whose signing secret
    /// was retired (or a forgery): the registry's refusal.
    fn unknown_kid(&self, credential: &str) -> Result<Principal, AuthError> {
        match self.verify_jwt(credential) {
            Err(AuthError::InvalidSignature | AuthError::InvalidCredential) => {
                Err(AuthError::StatefulValidationFailed {
                    collection_missing: false,
                })
            }
            verdict => verdict,
        }
    }
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("enabled", &self.enabled)
            .field("admin_keys", &self.admin_digests.len())
            .field("read_only_key", &self.read_only_digest.is_some())
            .field(
                "jwt_secrets",
                &self.jwt.as_ref().map_or(0, |j| j.keys.len()),
            )
            .field("key_resolver", &self.resolver.is_some())
            .finish()
    }
}

/// Spec §3: `api-key` if present (and readable), else `Authorization` with the
/// exact `Bearer ` prefix. A value that is not visible ASCII cannot be read as
/// a string and counts as absent. Nothing is trimmed.
fn extract_credential(headers: &HeaderMap) -> Option<&str> {
    let read = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    read(API_KEY_HEADER)
        .or_else(|| read(http::header::AUTHORIZATION.as_str())?.strip_prefix(BEARER_PREFIX))
}

/// Drops keys that are empty or only whitespace, with an error in the log.
fn usable_key(setting: &str, key: Option<String>) -> Option<String> {
    let key = key?;
    if key.trim().is_empty() {
        tracing::error!("{setting} is empty or whitespace-only; treating it as unset");
        return None;
    }
    if key.trim().len() != key.len() {
        tracing::warn!(
            "{setting} has leading or trailing whitespace; clients must send it exactly, \
             whitespace included"
        );
    }
    Some(key)
}

fn sha256(data: impl AsRef<[u8]>) -> [u8; 32] {
    Sha256::digest(data.as_ref()).into()
}

/// Constant-time membership: every digest is compared, no early exit.
fn matches_any(digests: &[[u8; 32]], digest: &[u8; 32]) -> bool {
    let found = digests
        .iter()
        .fold(Choice::from(0), |found, d| found | d.ct_eq(digest));
    found.into()
}

/// HS256 verification with each admin key (spec §7).
struct JwtVerifier {
    /// `api_key`, then `alt_api_key`.
    keys: Vec<DecodingKey>,
    validation: Validation,
}

impl JwtVerifier {
    fn new<'a>(secrets: impl IntoIterator<Item = &'a [u8]>) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        // The server is the only audience; `exp` is optional; `nbf` unchecked.
        validation.validate_aud = false;
        validation.validate_nbf = false;
        validation.validate_exp = true;
        validation.leeway = EXP_LEEWAY_SECS;
        validation.required_spec_claims.clear();
        JwtVerifier {
            keys: secrets.into_iter().map(DecodingKey::from_secret).collect(),
            validation,
        }
    }

    /// First success wins; otherwise the first key's error that is a verdict
    /// on the token (signature, expiry, semantic claims); otherwise the token
    /// is not a usable JWT.
    fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let mut first_error = None;
        for key in &self.keys {
            match self.decode(token, key) {
                None => {}
                Some(Ok(principal)) => return Ok(principal),
                Some(Err(error)) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        Err(first_error.unwrap_or(AuthError::InvalidCredential))
    }

    /// `None`: not a JWT we can use with this key (malformed, wrong algorithm,
    /// claims that do not parse). jsonwebtoken checks, in order: header and
    /// algorithm, signature, claims deserialisation, then `exp`; our semantic
    /// validation of `access` comes last.
    fn decode(&self, token: &str, key: &DecodingKey) -> Option<Result<Principal, AuthError>> {
        let claims = match jsonwebtoken::decode::<Claims>(token, key, &self.validation) {
            Ok(data) => data.claims,
            Err(error) => {
                return match error.kind() {
                    ErrorKind::InvalidSignature => Some(Err(AuthError::InvalidSignature)),
                    ErrorKind::ExpiredSignature => Some(Err(AuthError::ExpiredSignature)),
                    _ => None,
                };
            }
        };
        Some(
            claims
                .validate()
                .map(|c| {
                    Principal::from_jwt(c.access, c.subject, c.inference_token, c.value_exists)
                })
                .map_err(AuthError::InvalidClaims),
        )
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &[u8])]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_bytes(value).unwrap());
        }
        map
    }

    /// Prevents any relaxation of §3's extraction rule (case-insensitive
    /// prefix, trimming, fallback after a present `api-key`).
    #[test]
    fn extraction_rules() {
        assert_eq!(
            extract_credential(&headers(&[("api-key", b"k")])),
            Some("k")
        );
        assert_eq!(
            extract_credential(&headers(&[("API-Key", b"k")])),
            Some("k")
        );
        assert_eq!(
            extract_credential(&headers(&[("authorization", b"Bearer k")])),
            Some("k")
        );
        assert_eq!(
            extract_credential(&headers(&[("authorization", b"Bearer  k")])),
            Some(" k")
        );
        assert_eq!(
            extract_credential(&headers(&[("authorization", b"Bearer ")])),
            Some("")
        );
        assert_eq!(
            extract_credential(&headers(&[("authorization", b"bearer k")])),
            None
        );
        assert_eq!(
            extract_credential(&headers(&[("authorization", b"Basic k")])),
            None
        );
        assert_eq!(
            extract_credential(&headers(&[("authorization", b"Bearer")])),
            None
        );
        assert_eq!(
            extract_credential(&headers(&[
                ("api-key", b"a"),
                ("authorization", b"Bearer b")
            ])),
            Some("a")
        );
        // An unreadable (non visible-ASCII) api-key counts as absent.
        assert_eq!(
            extract_credential(&headers(&[
                ("api-key", b"\xff"),
                ("authorization", b"Bearer b")
            ])),
            Some("b")
        );
        // The first of repeated headers is used.
        assert_eq!(
            extract_credential(&headers(&[("api-key", b"a"), ("api-key", b"b")])),
            Some("a")
        );
        assert_eq!(extract_credential(&HeaderMap::new()), None);
    }

    /// Prevents an early exit or a length-dependent comparison in key matching.
    #[test]
    fn matches_any_is_exact() {
        let digests = [sha256("one"), sha256("two")];
        assert!(matches_any(&digests, &sha256("two")));
        assert!(!matches_any(&digests, &sha256("tw")));
        assert!(!matches_any(&[], &sha256("")));
    }

    /// Prevents a secret from reaching logs through `{:?}` of the authenticator.
    #[test]
    fn debug_hides_secrets() {
        let auth = Authenticator::new(AuthConfig {
            api_key: Some("top-secret-admin-key".into()),
            jwt_rbac: true,
            ..AuthConfig::default()
        });
        let text = format!("{auth:?}");
        assert!(!text.contains("top-secret"), "{text}");
    }

    /// The authenticator is shared across request tasks.
    #[test]
    fn authenticator_is_send_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Authenticator>();
    }
}
