//! The hook through which the key plane (spec §15) resolves its own
//! credentials: granular keys (HS256 JWTs carrying a `kid`) and legacy
//! admin-kind keys (opaque random strings).
//!
//! The [`crate::Authenticator`] asks its resolver after the static admin keys
//! and the read-only key, and before §7's JWT check. The resolver answers from
//! memory: it runs on every request.

use std::sync::Arc;

use crate::error::AuthError;
use crate::principal::Access;

/// Resolves credentials issued by the key plane. Implemented by the key
/// registry (`osprey-keys`); installed with
/// [`crate::Authenticator::with_key_resolver`].
pub trait KeyResolver: Send + Sync {
    /// Looks at a credential that matched no static key. `sha256` is the
    /// digest of `credential`, computed once by the authenticator.
    ///
    /// Must not touch storage: it runs on every request.
    fn resolve(&self, credential: &str, sha256: &[u8; 32]) -> Resolution;
}

/// The resolver's answer about one credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Not a key-plane credential (no `kid`, no admin-kind key with that
    /// digest): the authenticator goes on with §7 unchanged.
    NotOurs,
    /// A JWT whose header names a `kid` the registry does not hold (a retired
    /// signing secret, or a Qdrant token that happens to carry a `kid`). The
    /// authenticator lets §7 decide when the token verifies with an admin key,
    /// and refuses it with 401 `Invalid JWT, stateful validation failed`
    /// otherwise.
    UnknownKid,
    /// A valid key-plane key: the rules of its registry record.
    Resolved(ResolvedKey),
    /// A key-plane credential that must be refused with this error
    /// (revoked, unknown `jti`, bad signature, expired).
    Refused(AuthError),
}

/// Which kind of key-plane key authenticated. Deliberately not
/// [`crate::CredentialKind`]: a resolver can never produce a root principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResolvedKind {
    /// A granular key: an HS256 JWT minted by the key plane.
    DatabaseKey,
    /// A legacy admin-kind key: opaque, global manage.
    LegacyAdminKey,
}

/// A payload restriction of one collection rule: the key sees and touches only
/// points whose payload has `key == value` for every pair.
pub type PayloadFilter = serde_json::Map<String, serde_json::Value>;

/// The rules of a resolved key-plane key, read from its registry record.
///
/// Shared (`Arc`) parts, so that a resolver can hand out the same prepared
/// rules on every request without copying them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedKey {
    /// The record's id (a UUID), for audit and `last_used_at`.
    pub key_id: Arc<str>,
    /// The record's name, for the access audit log (never a secret).
    pub key_name: Arc<str>,
    /// Granular or legacy admin.
    pub kind: ResolvedKind,
    /// The access value the key grants.
    pub access: Arc<Access>,
    /// Per collection (literal name, as in [`Access::Collections`]): the
    /// payload restriction of that collection's rule. Collections without a
    /// restriction are absent; empty filters count as absent.
    pub payload_restrictions: Arc<[(String, PayloadFilter)]>,
}
