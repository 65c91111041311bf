//! The registry's own redb file, `<storage_path>/keys.redb`.
//!
//! Tables (string keys, JSON values):
//! - `records`: key id -> the record plus the SHA-256 of the key;
//! - `signing_keys`: `kid` -> the 256-bit secret and its creation time;
//! - `settings`: `format_version`, `granular_access`, `current_kid`.
//!
//! redb checksums its pages and commits atomically; `format_version` lets a
//! later build refuse a file it cannot read instead of misreading it. The
//! file is made readable by the server's user only: it holds the signing
//! secrets.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{KeyError, Result};
use crate::record::KeyRecord;
use crate::token::SECRET_BYTES;

const RECORDS: TableDefinition<&str, &[u8]> = TableDefinition::new("records");
const SIGNING_KEYS: TableDefinition<&str, &[u8]> = TableDefinition::new("signing_keys");
const SETTINGS: TableDefinition<&str, &[u8]> = TableDefinition::new("settings");

const FORMAT_VERSION_KEY: &str = "format_version";
const GRANULAR_ACCESS_KEY: &str = "granular_access";
const CURRENT_KID_KEY: &str = "current_kid";
/// The layout described above.
const FORMAT_VERSION: u32 = 1;

/// A record as stored: the API record plus the key's digest.
#[derive(Serialize, Deserialize)]
struct StoredRecord {
    #[serde(flatten)]
    record: KeyRecord,
    /// SHA-256 of the key, base64url. The key itself is never stored.
    sha256: String,
}

#[derive(Serialize, Deserialize)]
struct StoredSigningKey {
    created_at: DateTime<Utc>,
    /// base64url of the 32 secret bytes.
    secret: String,
}

/// A signing secret as loaded.
pub(crate) struct LoadedSigningKey {
    pub(crate) kid: String,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) secret: [u8; SECRET_BYTES],
}

/// Everything the in-memory index is rebuilt from at open.
pub(crate) struct Loaded {
    pub(crate) records: Vec<(KeyRecord, [u8; 32])>,
    pub(crate) signing_keys: Vec<LoadedSigningKey>,
    pub(crate) current_kid: String,
    pub(crate) granular_access: bool,
}

/// What a fresh file is initialised with.
pub(crate) struct Initial {
    pub(crate) kid: String,
    pub(crate) secret: [u8; SECRET_BYTES],
    pub(crate) now: DateTime<Utc>,
}

pub(crate) struct Store {
    db: Database,
    path: PathBuf,
}

impl Store {
    /// Opens (or creates) the file and reads everything. `initial` is called
    /// only for a new file.
    pub(crate) fn open(
        path: &Path,
        initial: impl FnOnce() -> Result<Initial>,
    ) -> Result<(Store, Loaded)> {
        let err = |e: &dyn std::fmt::Display| KeyError::Storage {
            path: path.to_owned(),
            message: e.to_string(),
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| err(&e))?;
        }
        let db = Database::create(path).map_err(|e| err(&e))?;
        restrict_to_owner(path);
        let store = Store {
            db,
            path: path.to_owned(),
        };

        let tx = store.db.begin_write().map_err(|e| err(&e))?;
        {
            let mut settings = tx.open_table(SETTINGS).map_err(|e| err(&e))?;
            let mut signing = tx.open_table(SIGNING_KEYS).map_err(|e| err(&e))?;
            tx.open_table(RECORDS).map_err(|e| err(&e))?;
            let version = settings
                .get(FORMAT_VERSION_KEY)
                .map_err(|e| err(&e))?
                .map(|v| v.value().to_vec());
            match version {
                None => {
                    let initial = initial()?;
                    let stored = StoredSigningKey {
                        created_at: initial.now,
                        secret: URL_SAFE_NO_PAD.encode(initial.secret),
                    };
                    signing
                        .insert(initial.kid.as_str(), json(&stored).as_slice())
                        .map_err(|e| err(&e))?;
                    for (key, value) in [
                        (FORMAT_VERSION_KEY, json(&FORMAT_VERSION)),
                        // New storage starts with granular access on (§15).
                        (GRANULAR_ACCESS_KEY, json(&true)),
                        (CURRENT_KID_KEY, json(&initial.kid)),
                    ] {
                        settings
                            .insert(key, value.as_slice())
                            .map_err(|e| err(&e))?;
                    }
                }
                Some(bytes) => {
                    let version: u32 = store.decode(FORMAT_VERSION_KEY, &bytes)?;
                    if version != FORMAT_VERSION {
                        return Err(store.corrupted(format!(
                            "format version {version}, this build reads version {FORMAT_VERSION}"
                        )));
                    }
                }
            }
        }
        tx.commit().map_err(|e| err(&e))?;

        let loaded = store.load()?;
        Ok((store, loaded))
    }

    fn load(&self) -> Result<Loaded> {
        let tx = self.db.begin_read().map_err(|e| self.err(e))?;
        let settings = tx.open_table(SETTINGS).map_err(|e| self.err(e))?;
        let setting = |key: &str| -> Result<Vec<u8>> {
            settings
                .get(key)
                .map_err(|e| self.err(e))?
                .map(|v| v.value().to_vec())
                .ok_or_else(|| self.corrupted(format!("setting `{key}` is missing")))
        };
        let granular_access: bool =
            self.decode(GRANULAR_ACCESS_KEY, &setting(GRANULAR_ACCESS_KEY)?)?;
        let current_kid: String = self.decode(CURRENT_KID_KEY, &setting(CURRENT_KID_KEY)?)?;

        let mut signing_keys = Vec::new();
        let table = tx.open_table(SIGNING_KEYS).map_err(|e| self.err(e))?;
        for entry in table.iter().map_err(|e| self.err(e))? {
            let (kid, value) = entry.map_err(|e| self.err(e))?;
            let kid = kid.value().to_owned();
            let stored: StoredSigningKey =
                self.decode(&format!("signing key {kid}"), value.value())?;
            let secret = URL_SAFE_NO_PAD
                .decode(&stored.secret)
                .ok()
                .and_then(|bytes| <[u8; SECRET_BYTES]>::try_from(bytes).ok())
                .ok_or_else(|| self.corrupted(format!("signing key {kid}: bad secret")))?;
            signing_keys.push(LoadedSigningKey {
                kid,
                created_at: stored.created_at,
                secret,
            });
        }
        if !signing_keys.iter().any(|k| k.kid == current_kid) {
            return Err(self.corrupted(format!("the current signing key {current_kid} is missing")));
        }

        let mut records = Vec::new();
        let table = tx.open_table(RECORDS).map_err(|e| self.err(e))?;
        for entry in table.iter().map_err(|e| self.err(e))? {
            let (id, value) = entry.map_err(|e| self.err(e))?;
            let what = format!("record {}", id.value());
            let stored: StoredRecord = self.decode(&what, value.value())?;
            let digest = URL_SAFE_NO_PAD
                .decode(&stored.sha256)
                .ok()
                .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                .ok_or_else(|| self.corrupted(format!("{what}: bad sha256")))?;
            records.push((stored.record, digest));
        }
        Ok(Loaded {
            records,
            signing_keys,
            current_kid,
            granular_access,
        })
    }

    /// Inserts or replaces a whole record.
    pub(crate) fn put_record(&self, record: &KeyRecord, sha256: &[u8; 32]) -> Result<()> {
        let stored = StoredRecord {
            record: record.clone(),
            sha256: URL_SAFE_NO_PAD.encode(sha256),
        };
        self.write(|tx| {
            let mut table = tx.open_table(RECORDS)?;
            table.insert(record.id.to_string().as_str(), json(&stored).as_slice())?;
            Ok(())
        })
    }

    /// Sets `last_used_at` of each record, reading the stored record inside
    /// the transaction so nothing else in it is overwritten.
    pub(crate) fn set_last_used(&self, updates: &[(Uuid, DateTime<Utc>)]) -> Result<()> {
        let mut failure = None;
        self.write(|tx| {
            let mut table = tx.open_table(RECORDS)?;
            for (id, at) in updates {
                let key = id.to_string();
                let Some(bytes) = table.get(key.as_str())?.map(|v| v.value().to_vec()) else {
                    continue;
                };
                let mut stored: StoredRecord = match serde_json::from_slice(&bytes) {
                    Ok(stored) => stored,
                    Err(error) => {
                        failure = Some(self.corrupted(format!("record {key}: {error}")));
                        continue;
                    }
                };
                if stored.record.last_used_at.is_none_or(|old| old < *at) {
                    stored.record.last_used_at = Some(*at);
                    table.insert(key.as_str(), json(&stored).as_slice())?;
                }
            }
            Ok(())
        })?;
        failure.map_or(Ok(()), Err)
    }

    /// Stores a new signing key and makes it the current one.
    pub(crate) fn add_current_signing_key(
        &self,
        kid: &str,
        secret: &[u8; SECRET_BYTES],
        created_at: DateTime<Utc>,
    ) -> Result<()> {
        let stored = StoredSigningKey {
            created_at,
            secret: URL_SAFE_NO_PAD.encode(secret),
        };
        self.write(|tx| {
            tx.open_table(SIGNING_KEYS)?
                .insert(kid, json(&stored).as_slice())?;
            tx.open_table(SETTINGS)?
                .insert(CURRENT_KID_KEY, json(&kid).as_slice())?;
            Ok(())
        })
    }

    pub(crate) fn delete_signing_key(&self, kid: &str) -> Result<()> {
        self.write(|tx| {
            tx.open_table(SIGNING_KEYS)?.remove(kid)?;
            Ok(())
        })
    }

    pub(crate) fn set_granular_access(&self, on: bool) -> Result<()> {
        self.write(|tx| {
            tx.open_table(SETTINGS)?
                .insert(GRANULAR_ACCESS_KEY, json(&on).as_slice())?;
            Ok(())
        })
    }

    /// One durable write transaction.
    fn write(
        &self,
        body: impl FnOnce(&redb::WriteTransaction) -> std::result::Result<(), redb::Error>,
    ) -> Result<()> {
        let tx = self.db.begin_write().map_err(|e| self.err(e))?;
        body(&tx).map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    fn decode<T: serde::de::DeserializeOwned>(&self, what: &str, bytes: &[u8]) -> Result<T> {
        serde_json::from_slice(bytes).map_err(|e| self.corrupted(format!("{what}: {e}")))
    }

    fn err(&self, error: impl Into<redb::Error>) -> KeyError {
        KeyError::Storage {
            path: self.path.clone(),
            message: error.into().to_string(),
        }
    }

    fn corrupted(&self, reason: String) -> KeyError {
        KeyError::Corrupted {
            path: self.path.clone(),
            reason,
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

fn json<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    // Plain data structs and maps with string keys: serialising cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

/// `0600` on Unix: the file holds the signing secrets.
fn restrict_to_owner(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Err(error) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
            tracing::warn!(
                "cannot restrict {} to its owner: {error}; it holds signing secrets",
                path.display()
            );
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}
