//! The key registry: records, signing secrets and settings in
//! `<storage_path>/keys.redb`, mirrored by an in-memory index that resolves
//! credentials on every request without touching storage.
//!
//! Concurrency: mutations (create, revoke, settings, rotation, retirement,
//! `last_used_at` flushes) are serialised by one writer lock and commit to
//! redb *before* the index changes, so the index never shows what storage
//! does not hold. Readers (request resolution, lists) take the index's read
//! lock only. Index entries are immutable apart from their `last_used`
//! counters; a revocation swaps in a new entry.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Weak, mpsc};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use osprey_auth::{AuthError, KeyResolver, Resolution, ResolvedKey, ResolvedKind};
use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::audit::{AuditEvent, AuditLog, Refusal};
use crate::error::{KeyError, Result};
use crate::record::{
    CreateKeyRequest, CreatedKey, KeyKind, KeyRecord, Settings, access_claim, auth_access,
};
use crate::store::{Initial, Store};
use crate::token::{
    ParsedToken, SECRET_BYTES, SigningSecret, new_admin_key, new_kid, parse_with_kid, postfix,
    random_bytes, sha256,
};

/// The registry file under the storage directory.
pub const REGISTRY_FILE: &str = "keys.redb";
/// The audit directory under the storage directory.
pub const AUDIT_DIR: &str = "audit";

/// Tunables of [`KeyRegistry::open_with`].
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    /// How often `last_used_at` is written to storage; at most once per
    /// period per key. Default one minute.
    pub last_used_flush_interval: Duration,
    /// Daily audit files kept. Default 30.
    pub audit_max_files: usize,
    /// Refused requests logged per second before they are only counted.
    /// Default 100.
    pub audit_refusals_per_second: u32,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            last_used_flush_interval: Duration::from_secs(60),
            audit_max_files: 30,
            audit_refusals_per_second: 100,
        }
    }
}

/// A signing secret as listed by the API (never the secret itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningKeyInfo {
    /// The id in token headers.
    pub kid: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// New keys are signed with the current secret.
    pub current: bool,
    /// Active (not revoked, not expired) granular keys signed with it: what
    /// retiring it would end.
    pub active_keys: usize,
}

struct SigningKey {
    created_at: DateTime<Utc>,
    secret: SigningSecret,
}

/// One record in the index, prepared for resolution.
struct Entry {
    /// As last written by a mutation; `last_used_at` may be stale (see
    /// `last_used`).
    record: KeyRecord,
    sha256: [u8; 32],
    /// Expiry in Unix seconds.
    expires_at: Option<i64>,
    /// What the authenticator turns into a principal.
    resolved: ResolvedKey,
    /// Unix seconds of the last use; 0 = never. Updated on every use.
    last_used: AtomicI64,
    /// The value of `last_used` storage holds.
    persisted_last_used: AtomicI64,
}

impl Entry {
    fn new(record: KeyRecord, sha256: [u8; 32]) -> Self {
        let stored_last_used = record.last_used_at.map_or(0, |t| t.timestamp());
        let (access, payload_restrictions) = auth_access(record.kind, &record.access_rules);
        let resolved = ResolvedKey {
            key_id: Arc::from(record.id.to_string()),
            key_name: Arc::from(record.name.as_str()),
            kind: match record.kind {
                KeyKind::Granular => ResolvedKind::DatabaseKey,
                KeyKind::Admin => ResolvedKind::LegacyAdminKey,
            },
            access: Arc::new(access),
            payload_restrictions: Arc::from(payload_restrictions),
        };
        Entry {
            expires_at: record.expires_at.map(|t| t.timestamp()),
            resolved,
            sha256,
            last_used: AtomicI64::new(stored_last_used),
            persisted_last_used: AtomicI64::new(stored_last_used),
            record,
        }
    }

    /// The record with its freshest `last_used_at`.
    fn view(&self) -> KeyRecord {
        let mut record = self.record.clone();
        let last_used = self.last_used.load(Ordering::Relaxed);
        if last_used > record.last_used_at.map_or(0, |t| t.timestamp()) {
            record.last_used_at = DateTime::from_timestamp(last_used, 0);
        }
        record
    }

    fn touch(&self, now: i64) {
        // A load first: most requests in the same second write nothing.
        if self.last_used.load(Ordering::Relaxed) < now {
            self.last_used.fetch_max(now, Ordering::Relaxed);
        }
    }
}

#[derive(Default)]
struct Index {
    by_id: HashMap<Uuid, Arc<Entry>>,
    /// Every key by the SHA-256 of the key: a granular token is recognised
    /// as exactly the one minted for its record without decoding it.
    by_digest: HashMap<[u8; 32], Arc<Entry>>,
    signing: HashMap<String, Arc<SigningKey>>,
    current_kid: String,
}

impl Index {
    fn insert(&mut self, entry: Arc<Entry>) {
        self.by_digest.insert(entry.sha256, entry.clone());
        self.by_id.insert(entry.record.id, entry);
    }
}

/// The key plane's registry. Open it once per storage directory and share
/// the `Arc`: it is the [`KeyResolver`] of the authenticator and the state of
/// [`crate::management_router`].
pub struct KeyRegistry {
    store: Store,
    index: RwLock<Index>,
    granular_access: AtomicBool,
    /// Serialises mutations: storage first, then the index.
    writer: Mutex<()>,
    audit: AuditLog,
    /// Dropping it stops the `last_used_at` flusher thread.
    _stop_flusher: mpsc::Sender<()>,
}

impl std::fmt::Debug for KeyRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let index = self.index.read();
        f.debug_struct("KeyRegistry")
            .field("path", &self.store.path())
            .field("keys", &index.by_id.len())
            .field("signing_keys", &index.signing.len())
            .field(
                "granular_access",
                &self.granular_access.load(Ordering::Relaxed),
            )
            .finish()
    }
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn stateful_failure() -> AuthError {
    AuthError::StatefulValidationFailed {
        collection_missing: false,
    }
}

impl KeyRegistry {
    /// Opens the registry of `storage_path` (creating `keys.redb` and a first
    /// signing secret on new storage) with default options.
    pub fn open(storage_path: impl AsRef<Path>) -> Result<Arc<KeyRegistry>> {
        Self::open_with(storage_path, RegistryOptions::default())
    }

    /// [`KeyRegistry::open`] with explicit options.
    pub fn open_with(
        storage_path: impl AsRef<Path>,
        options: RegistryOptions,
    ) -> Result<Arc<KeyRegistry>> {
        let storage_path = storage_path.as_ref();
        let (store, loaded) = Store::open(&storage_path.join(REGISTRY_FILE), || {
            Ok(Initial {
                kid: new_kid()?,
                secret: random_bytes::<SECRET_BYTES>()?,
                now: Utc::now(),
            })
        })?;
        let mut index = Index {
            current_kid: loaded.current_kid,
            ..Index::default()
        };
        for key in loaded.signing_keys {
            index.signing.insert(
                key.kid,
                Arc::new(SigningKey {
                    created_at: key.created_at,
                    secret: SigningSecret::new(key.secret),
                }),
            );
        }
        for (record, digest) in loaded.records {
            index.insert(Arc::new(Entry::new(record, digest)));
        }

        let (stop, stopped) = mpsc::channel();
        let registry = Arc::new(KeyRegistry {
            store,
            index: RwLock::new(index),
            granular_access: AtomicBool::new(loaded.granular_access),
            writer: Mutex::new(()),
            audit: AuditLog::new(
                storage_path.join(AUDIT_DIR),
                options.audit_max_files,
                options.audit_refusals_per_second,
            ),
            _stop_flusher: stop,
        });
        spawn_flusher(
            Arc::downgrade(&registry),
            stopped,
            options.last_used_flush_interval,
        );
        Ok(registry)
    }

    /// Creates a key. `created_by` describes the caller (e.g. `root:abc123`)
    /// and is used unless the request gives a `created_by` label. The key is
    /// in the answer and nowhere else.
    pub fn create(&self, request: CreateKeyRequest, created_by: &str) -> Result<CreatedKey> {
        let now = Utc::now();
        let valid = request.validate(now)?;
        let _writer = self.writer.lock();
        match (valid.kind, self.granular_access.load(Ordering::SeqCst)) {
            (KeyKind::Admin, true) => {
                return Err(KeyError::invalid(
                    "kind",
                    "new admin keys cannot be created while granular access is on \
                     (existing admin keys keep working)",
                ));
            }
            (KeyKind::Granular, false) => {
                return Err(KeyError::invalid(
                    "kind",
                    "granular keys need granular access; turn it on with \
                     PUT /api-keys/settings {\"granular_access\": true}",
                ));
            }
            _ => {}
        }
        let id = Uuid::new_v4();
        let (key, kid) = match valid.kind {
            KeyKind::Admin => (new_admin_key()?, None),
            KeyKind::Granular => {
                let (kid, signing) = {
                    let index = self.index.read();
                    let signing = index.signing.get(&index.current_kid).cloned();
                    (index.current_kid.clone(), signing)
                };
                let signing = signing.ok_or_else(|| KeyError::Corrupted {
                    path: self.store.path().to_owned(),
                    reason: format!("the current signing key {kid} is missing"),
                })?;
                let mut claims = serde_json::Map::new();
                claims.insert("jti".into(), Value::from(id.to_string()));
                if let Some(at) = valid.expires_at {
                    claims.insert("exp".into(), Value::from(at.timestamp()));
                }
                claims.insert("access".into(), access_claim(&valid.access_rules));
                (
                    signing.secret.mint(&kid, &Value::Object(claims))?,
                    Some(kid),
                )
            }
        };
        let record = KeyRecord {
            id,
            name: valid.name,
            kind: valid.kind,
            created_at: now,
            created_by: valid.label.unwrap_or_else(|| created_by.to_owned()),
            expires_at: valid.expires_at,
            access_rules: valid.access_rules,
            postfix: postfix(&key),
            last_used_at: None,
            revoked_at: None,
            kid,
        };
        let digest = sha256(key.as_bytes());
        self.store.put_record(&record, &digest)?;
        self.index
            .write()
            .insert(Arc::new(Entry::new(record.clone(), digest)));
        Ok(CreatedKey { record, key })
    }

    /// Every record (revoked ones too), newest first, without keys.
    pub fn list(&self) -> Vec<KeyRecord> {
        let mut records: Vec<KeyRecord> =
            self.index.read().by_id.values().map(|e| e.view()).collect();
        records.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        records
    }

    /// One record, without its key.
    pub fn get(&self, id: Uuid) -> Result<KeyRecord> {
        self.index
            .read()
            .by_id
            .get(&id)
            .map(|e| e.view())
            .ok_or_else(|| not_found(id))
    }

    /// Revokes a key: from the next request on it is refused. Revoking a
    /// revoked key changes nothing and is not an error. The record is kept.
    pub fn revoke(&self, id: Uuid) -> Result<KeyRecord> {
        let _writer = self.writer.lock();
        let entry = self
            .index
            .read()
            .by_id
            .get(&id)
            .cloned()
            .ok_or_else(|| not_found(id))?;
        if entry.record.revoked_at.is_some() {
            return Ok(entry.view());
        }
        let mut record = entry.view();
        record.revoked_at = Some(Utc::now());
        self.store.put_record(&record, &entry.sha256)?;
        let revoked = Arc::new(Entry::new(record.clone(), entry.sha256));
        revoked
            .last_used
            .fetch_max(entry.last_used.load(Ordering::Relaxed), Ordering::Relaxed);
        self.index.write().insert(revoked);
        Ok(record)
    }

    /// The live settings.
    pub fn settings(&self) -> Settings {
        Settings {
            granular_access: self.granular_access.load(Ordering::SeqCst),
        }
    }

    /// Changes the settings; effective from the next request.
    pub fn set_settings(&self, settings: Settings) -> Result<Settings> {
        let _writer = self.writer.lock();
        self.store.set_granular_access(settings.granular_access)?;
        self.granular_access
            .store(settings.granular_access, Ordering::SeqCst);
        Ok(self.settings())
    }

    /// The signing secrets (ids only), oldest first.
    pub fn signing_keys(&self) -> Vec<SigningKeyInfo> {
        let index = self.index.read();
        let now = Utc::now();
        let mut keys: Vec<SigningKeyInfo> = index
            .signing
            .iter()
            .map(|(kid, key)| SigningKeyInfo {
                kid: kid.clone(),
                created_at: key.created_at,
                current: *kid == index.current_kid,
                active_keys: index
                    .by_id
                    .values()
                    .filter(|e| e.record.kid.as_deref() == Some(kid) && e.record.is_active(now))
                    .count(),
            })
            .collect();
        keys.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.kid.cmp(&b.kid)));
        keys
    }

    /// Makes a new signing secret current. Tokens signed with older secrets
    /// keep working until those are retired.
    pub fn rotate_signing_key(&self) -> Result<SigningKeyInfo> {
        let _writer = self.writer.lock();
        let kid = loop {
            let kid = new_kid()?;
            if !self.index.read().signing.contains_key(&kid) {
                break kid;
            }
        };
        let secret = random_bytes::<SECRET_BYTES>()?;
        let created_at = Utc::now();
        self.store
            .add_current_signing_key(&kid, &secret, created_at)?;
        let mut index = self.index.write();
        index.signing.insert(
            kid.clone(),
            Arc::new(SigningKey {
                created_at,
                secret: SigningSecret::new(secret),
            }),
        );
        index.current_kid = kid.clone();
        Ok(SigningKeyInfo {
            kid,
            created_at,
            current: true,
            active_keys: 0,
        })
    }

    /// Deletes an old signing secret: every token signed with it is refused
    /// from the next request on. The current secret cannot be retired.
    pub fn retire_signing_key(&self, kid: &str) -> Result<SigningKeyInfo> {
        let _writer = self.writer.lock();
        let info = self
            .signing_keys()
            .into_iter()
            .find(|k| k.kid == kid)
            .ok_or_else(|| KeyError::NotFound(format!("Signing key {kid} does not exist")))?;
        if info.current {
            return Err(KeyError::invalid(
                "kid",
                format!("{kid} is the current signing key; rotate first, then retire it"),
            ));
        }
        self.store.delete_signing_key(kid)?;
        self.index.write().signing.remove(kid);
        Ok(SigningKeyInfo {
            current: false,
            ..info
        })
    }

    /// Audit events at or after `since`, oldest first, at most `limit`.
    pub fn audit_since(&self, since: DateTime<Utc>, limit: usize) -> Result<Vec<AuditEvent>> {
        self.audit
            .since(since, limit)
            .map_err(|error| KeyError::Storage {
                path: self.audit.dir().to_owned(),
                message: error.to_string(),
            })
    }

    /// Logs a refused request (authentication or authorization). For the
    /// front ends; cheap, never fails, never logs a secret.
    pub fn record_refusal(&self, refusal: Refusal<'_>) {
        self.audit.append_refusal(&AuditEvent::from(refusal));
    }

    /// Logs an event as given.
    pub fn record_event(&self, event: &AuditEvent) {
        self.audit.append(event);
    }

    /// Logs a refusal event within the per-second budget.
    pub(crate) fn audit_refusal(&self, event: &AuditEvent) {
        self.audit.append_refusal(event);
    }

    /// Writes pending `last_used_at` values to storage. Runs in the
    /// background once per flush interval and when the registry is dropped.
    pub fn flush_last_used(&self) -> Result<()> {
        let pending: Vec<(Arc<Entry>, i64)> = self
            .index
            .read()
            .by_id
            .values()
            .filter_map(|entry| {
                let used = entry.last_used.load(Ordering::Relaxed);
                (used > entry.persisted_last_used.load(Ordering::Relaxed))
                    .then(|| (entry.clone(), used))
            })
            .collect();
        if pending.is_empty() {
            return Ok(());
        }
        let _writer = self.writer.lock();
        let updates: Vec<(Uuid, DateTime<Utc>)> = pending
            .iter()
            .filter_map(|(e, used)| Some((e.record.id, DateTime::from_timestamp(*used, 0)?)))
            .collect();
        self.store.set_last_used(&updates)?;
        let index = self.index.read();
        for (entry, used) in &pending {
            entry
                .persisted_last_used
                .fetch_max(*used, Ordering::Relaxed);
            // A revocation may have swapped the entry meanwhile.
            if let Some(current) = index.by_id.get(&entry.record.id) {
                current
                    .persisted_last_used
                    .fetch_max(*used, Ordering::Relaxed);
            }
        }
        Ok(())
    }

    /// A credential whose digest is a stored key's: it is exactly that key
    /// (for granular keys: the token minted for the record whose id is its
    /// `jti`, with that record's rules).
    fn resolve_entry(&self, index: &Index, entry: &Entry) -> Resolution {
        let now = now_secs();
        let expired = entry.expires_at.is_some_and(|at| now >= at);
        match entry.record.kind {
            KeyKind::Admin => {
                if entry.record.revoked_at.is_some() || expired {
                    return Resolution::Refused(AuthError::InvalidCredential);
                }
            }
            KeyKind::Granular => {
                let secret_retired = !entry
                    .record
                    .kid
                    .as_ref()
                    .is_some_and(|kid| index.signing.contains_key(kid));
                if secret_retired {
                    return Resolution::Refused(stateful_failure());
                }
                // §6's order: expiry (403) before stateful checks (401).
                if expired {
                    return Resolution::Refused(AuthError::ExpiredSignature);
                }
                if entry.record.revoked_at.is_some()
                    || !self.granular_access.load(Ordering::Relaxed)
                {
                    return Resolution::Refused(stateful_failure());
                }
            }
        }
        entry.touch(now);
        Resolution::Resolved(entry.resolved.clone())
    }

    /// A JWT with a `kid` that is no stored key: never a token this registry
    /// minted. Answered in §6's order (signature, claims, expiry, stateful).
    fn classify_foreign_token(&self, index: &Index, token: &ParsedToken<'_>) -> Resolution {
        let Some(signing) = index.signing.get(&token.kid) else {
            return Resolution::UnknownKid;
        };
        if token.alg != "HS256" {
            return Resolution::Refused(AuthError::InvalidCredential);
        }
        match signing.secret.verify(token) {
            Some(true) => {}
            Some(false) => return Resolution::Refused(AuthError::InvalidSignature),
            None => return Resolution::Refused(AuthError::InvalidCredential),
        }
        let Some(claims) = token.registry_claims() else {
            return Resolution::Refused(AuthError::InvalidCredential);
        };
        // Correctly signed, yet not minted here: made by a holder of the
        // signing secret, for an unknown `jti` or with other claims.
        let now = now_secs();
        if claims
            .exp
            .is_some_and(|exp| i64::try_from(exp).is_ok_and(|exp| now >= exp))
        {
            return Resolution::Refused(AuthError::ExpiredSignature);
        }
        Resolution::Refused(stateful_failure())
    }
}

impl KeyResolver for KeyRegistry {
    /// Memory only, under the index's read lock: one hash-map lookup by the
    /// digest the authenticator computed. Only credentials that are no
    /// stored key and look like a JWT with a `kid` are decoded (and their
    /// HMAC checked) to give §6's answer.
    fn resolve(&self, credential: &str, sha256: &[u8; 32]) -> Resolution {
        let index = self.index.read();
        if let Some(entry) = index.by_digest.get(sha256) {
            return self.resolve_entry(&index, entry);
        }
        match parse_with_kid(credential) {
            Some(token) => self.classify_foreign_token(&index, &token),
            None => Resolution::NotOurs,
        }
    }
}

impl Drop for KeyRegistry {
    fn drop(&mut self) {
        if let Err(error) = self.flush_last_used() {
            tracing::warn!("key registry: last_used_at not saved at shutdown: {error}");
        }
    }
}

fn not_found(id: Uuid) -> KeyError {
    KeyError::NotFound(format!("API key {id} does not exist"))
}

/// Writes `last_used_at` once per `interval` until the registry is dropped
/// (the channel then disconnects). Holds only a weak reference.
fn spawn_flusher(registry: Weak<KeyRegistry>, stopped: mpsc::Receiver<()>, interval: Duration) {
    let spawned = std::thread::Builder::new()
        .name("osprey-keys-last-used".into())
        .spawn(move || {
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                let Some(registry) = registry.upgrade() else {
                    return;
                };
                if let Err(error) = registry.flush_last_used() {
                    tracing::warn!("key registry: cannot save last_used_at: {error}");
                }
            }
        });
    if let Err(error) = spawned {
        tracing::warn!(
            "key registry: no background thread for last_used_at ({error}); \
             it is saved at shutdown only"
        );
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn registry() -> (tempfile::TempDir, Arc<KeyRegistry>) {
        let dir = tempfile::tempdir().unwrap();
        let registry = KeyRegistry::open(dir.path()).unwrap();
        (dir, registry)
    }

    fn resolve(registry: &KeyRegistry, credential: &str) -> Resolution {
        registry.resolve(credential, &sha256(credential.as_bytes()))
    }

    /// Prevents a holder of a leaked signing secret from minting a token with
    /// wider rules for an existing key, or a key for an unknown `jti`: only
    /// the exact minted token resolves.
    #[test]
    fn signing_secret_alone_mints_nothing() {
        let (_dir, registry) = registry();
        let created = registry
            .create(
                CreateKeyRequest {
                    name: "reader".into(),
                    access_rules: vec![crate::AccessRule::GlobalAccess(crate::GlobalRule {
                        access_type: crate::GlobalAccessType::Read,
                    })],
                    ..Default::default()
                },
                "root:test",
            )
            .unwrap();
        assert!(matches!(
            resolve(&registry, &created.key),
            Resolution::Resolved(_)
        ));
        let (kid, signing) = {
            let index = registry.index.read();
            (
                index.current_kid.clone(),
                index.signing[&index.current_kid].clone(),
            )
        };
        for claims in [
            json!({"jti": created.record.id.to_string(), "access": "m"}),
            json!({"jti": Uuid::new_v4().to_string(), "access": "m"}),
        ] {
            let forged = signing.secret.mint(&kid, &claims).unwrap();
            assert_eq!(
                resolve(&registry, &forged),
                Resolution::Refused(stateful_failure()),
                "{claims}"
            );
        }
        let expired = signing
            .secret
            .mint(
                &kid,
                &json!({"jti": created.record.id.to_string(), "exp": 1}),
            )
            .unwrap();
        assert_eq!(
            resolve(&registry, &expired),
            Resolution::Refused(AuthError::ExpiredSignature)
        );
        let no_jti = signing.secret.mint(&kid, &json!({"access": "m"})).unwrap();
        assert_eq!(
            resolve(&registry, &no_jti),
            Resolution::Refused(AuthError::InvalidCredential)
        );
        let hs512_header = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            format!(r#"{{"alg":"HS512","kid":"{kid}"}}"#),
        );
        let rest = created.key.split_once('.').unwrap().1;
        assert_eq!(
            resolve(&registry, &format!("{hs512_header}.{rest}")),
            Resolution::Refused(AuthError::InvalidCredential)
        );
        assert_eq!(resolve(&registry, "opaque"), Resolution::NotOurs);
    }
}
