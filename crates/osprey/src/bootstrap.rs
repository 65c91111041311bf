//! Secure by default: who may connect when the configuration names no key
//! (issue 3 item 6, DESIGN.md "Secure by default").
//!
//! - Any of `service.api_key` / `alt_api_key` / `read_only_api_key` configured (blank
//!   counts as unset): those keys, exactly as Qdrant uses them. A stored bootstrap key
//!   is *not* accepted then: `service.api_key` takes its place.
//! - None configured and `service.allow_unauthenticated: true`: no authentication, and a
//!   warning at every start.
//! - None configured otherwise: the bootstrap admin key. The first start generates 32
//!   random bytes from the OS, encodes them base64url without padding (43 characters,
//!   256 bits, URL-safe), stores only the SHA-256 of that text in the metadata store under
//!   [`BOOTSTRAP_KEY_HASH`], and prints the key once to stdout, never through the log.
//!   Later starts load the hash and say that the first start's key is in force.
//!
//! The hash is stored before the key is printed, so a printed key always works. Losing
//! it is recovered by configuring `service.api_key`.

use std::io::Write;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::TryRngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};

use crate::settings::ServiceConfig;

/// Metadata-store key of the bootstrap admin key's SHA-256 digest (32 raw bytes).
pub const BOOTSTRAP_KEY_HASH: &str = "auth.bootstrap_admin_key.sha256";

/// Random bytes in a bootstrap key.
const KEY_BYTES: usize = 32;

/// The small part of the engine's metadata store this module needs; a trait so the
/// decisions here are tested without opening a real store.
pub trait MetaStore {
    fn meta_get(&self, key: &str) -> Result<Option<Vec<u8>>>;
    fn meta_put(&self, key: &str, value: &[u8]) -> Result<()>;
}

/// How requests will be authenticated, decided at startup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// Static keys from the configuration.
    ConfiguredKeys,
    /// No key configured: the bootstrap admin key, generated at this start.
    BootstrapGenerated,
    /// No key configured: the bootstrap admin key from an earlier start.
    BootstrapStored,
    /// No key configured and `service.allow_unauthenticated: true`.
    Unauthenticated,
}

impl AuthMode {
    pub fn is_authenticated(self) -> bool {
        !matches!(self, AuthMode::Unauthenticated)
    }
}

/// What the authenticator is built from. Independent of `osprey_auth` so this module can
/// be tested on its own; [`crate::server`] turns it into an `AuthConfig`.
#[derive(Clone)]
pub struct AuthPlan {
    pub mode: AuthMode,
    pub api_key: Option<String>,
    pub alt_api_key: Option<String>,
    pub read_only_api_key: Option<String>,
    pub jwt_rbac: bool,
    pub admin_key_hashes: Vec<[u8; 32]>,
}

impl std::fmt::Debug for AuthPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthPlan")
            .field("mode", &self.mode)
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .field("alt_api_key", &self.alt_api_key.as_ref().map(|_| "<set>"))
            .field(
                "read_only_api_key",
                &self.read_only_api_key.as_ref().map(|_| "<set>"),
            )
            .field("jwt_rbac", &self.jwt_rbac)
            .field("admin_key_hashes", &self.admin_key_hashes.len())
            .finish()
    }
}

/// Decides how requests authenticate, bootstrapping an admin key when needed.
/// `port` is the REST port actually bound (it goes into the printed curl line);
/// `out` receives the one-time key block (stdout in production).
pub fn plan(
    service: &ServiceConfig,
    store: &dyn MetaStore,
    port: u16,
    out: &mut dyn Write,
) -> Result<AuthPlan> {
    let mut plan = AuthPlan {
        mode: AuthMode::ConfiguredKeys,
        api_key: service.api_key().map(str::to_owned),
        alt_api_key: service.alt_api_key().map(str::to_owned),
        read_only_api_key: service.read_only_api_key().map(str::to_owned),
        jwt_rbac: service.jwt_rbac,
        admin_key_hashes: Vec::new(),
    };

    let stored = load_stored_hash(store)?;

    if service.has_configured_keys() {
        if service.allow_unauthenticated {
            tracing::info!(
                "service.allow_unauthenticated has no effect: API keys are configured, so \
                 authentication is on"
            );
        }
        if stored.is_some() {
            tracing::info!(
                "a bootstrap admin key from an earlier start is stored but not accepted: \
                 the configured service keys take its place"
            );
        }
        return Ok(plan);
    }

    if service.allow_unauthenticated {
        tracing::warn!(
            "AUTHENTICATION IS OFF: no API key is configured and service.allow_unauthenticated \
             is true, so anyone who can reach this server has full access"
        );
        if stored.is_some() {
            tracing::warn!(
                "the stored bootstrap admin key is not in force while \
                 service.allow_unauthenticated is true"
            );
        }
        plan.mode = AuthMode::Unauthenticated;
        return Ok(plan);
    }

    match stored {
        Some(hash) => {
            tracing::info!(
                "authentication is on with the bootstrap admin key printed at the first start \
                 (only its SHA-256 is stored); to replace it, set service.api_key \
                 (QDRANT__SERVICE__API_KEY)"
            );
            plan.admin_key_hashes.push(hash);
            plan.mode = AuthMode::BootstrapStored;
        }
        None => {
            let key = generate_key()?;
            let hash = sha256(&key);
            // Store first: a key that was printed must always be valid.
            store
                .meta_put(BOOTSTRAP_KEY_HASH, &hash)
                .context("storing the bootstrap admin key's hash")?;
            print_key_block(out, &key, port).context("printing the bootstrap admin key")?;
            tracing::info!(
                "no API key configured: generated a bootstrap admin key, printed it once to \
                 stdout and stored only its SHA-256; authentication is on"
            );
            plan.admin_key_hashes.push(hash);
            plan.mode = AuthMode::BootstrapGenerated;
        }
    }
    Ok(plan)
}

fn load_stored_hash(store: &dyn MetaStore) -> Result<Option<[u8; 32]>> {
    let Some(bytes) = store
        .meta_get(BOOTSTRAP_KEY_HASH)
        .context("reading the bootstrap admin key's hash")?
    else {
        return Ok(None);
    };
    match <[u8; 32]>::try_from(bytes.as_slice()) {
        Ok(hash) => Ok(Some(hash)),
        // Fail closed: never guess what a damaged credential record meant.
        Err(_) => bail!(
            "the metadata store holds a damaged bootstrap key hash under `{BOOTSTRAP_KEY_HASH}` \
             ({} bytes, expected 32); set service.api_key to start with your own key",
            bytes.len()
        ),
    }
}

/// 32 bytes from the OS RNG, base64url without padding.
fn generate_key() -> Result<String> {
    let mut bytes = [0u8; KEY_BYTES];
    OsRng
        .try_fill_bytes(&mut bytes)
        .context("reading random bytes from the operating system")?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// The digest `osprey_auth` compares: SHA-256 of the key's text as sent in the header.
fn sha256(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

fn print_key_block(out: &mut dyn Write, key: &str, port: u16) -> std::io::Result<()> {
    let rule = "=".repeat(78);
    let text = format!(
        "\n{rule}\n\
         Osprey: no API key is configured, so an admin key was generated.\n\
         It is shown ONLY THIS ONCE; the server keeps just its SHA-256 hash.\n\
         \n\
         \x20 Admin API key: {key}\n\
         \n\
         Try it:\n\
         \x20 curl -X GET 'http://127.0.0.1:{port}' --header 'api-key: {key}'\n\
         \n\
         Python:\n\
         \x20 from qdrant_client import QdrantClient\n\
         \x20 client = QdrantClient(url=\"http://127.0.0.1:{port}\", api_key=\"{key}\")\n\
         \n\
         To use a key of your own, set service.api_key (or QDRANT__SERVICE__API_KEY).\n\
         To run without authentication, set service.allow_unauthenticated: true.\n\
         {rule}\n\n"
    );
    out.write_all(text.as_bytes())?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::Mutex;

    use crate::settings::{Secret, Settings, Sources, load};

    #[derive(Default)]
    struct MemStore(Mutex<HashMap<String, Vec<u8>>>);

    impl MetaStore for MemStore {
        fn meta_get(&self, key: &str) -> Result<Option<Vec<u8>>> {
            Ok(self.0.lock().unwrap().get(key).cloned())
        }

        fn meta_put(&self, key: &str, value: &[u8]) -> Result<()> {
            self.0
                .lock()
                .unwrap()
                .insert(key.to_owned(), value.to_vec());
            Ok(())
        }
    }

    fn defaults() -> Settings {
        let dir = tempfile::tempdir().unwrap();
        let sources = Sources {
            config_dir: dir.path().join("config"),
            run_mode: "development".into(),
            config_path: None,
            env: Some(HashMap::new()),
        };
        load(&sources).unwrap().settings
    }

    fn run(service: &ServiceConfig, store: &MemStore) -> (AuthPlan, String) {
        let mut out = Vec::new();
        let plan = plan(service, store, 6333, &mut out).unwrap();
        (plan, String::from_utf8(out).unwrap())
    }

    /// The key as printed on the `Admin API key:` line.
    fn printed_key(out: &str) -> String {
        out.lines()
            .find_map(|l| l.trim().strip_prefix("Admin API key: "))
            .expect("key line")
            .to_owned()
    }

    #[test]
    fn first_start_generates_prints_once_and_stores_only_the_hash() {
        let service = defaults().service;
        let store = MemStore::default();
        let (first, out) = run(&service, &store);
        assert_eq!(first.mode, AuthMode::BootstrapGenerated);
        let key = printed_key(&out);

        // >= 256 bits, URL-safe, no padding.
        assert_eq!(key.len(), 43);
        assert!(
            key.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{key}"
        );
        assert_eq!(URL_SAFE_NO_PAD.decode(&key).unwrap().len(), 32);

        assert!(out.contains(&format!(
            "curl -X GET 'http://127.0.0.1:6333' --header 'api-key: {key}'"
        )));
        assert!(out.contains(&format!(
            "QdrantClient(url=\"http://127.0.0.1:6333\", api_key=\"{key}\")"
        )));

        let stored = store.meta_get(BOOTSTRAP_KEY_HASH).unwrap().unwrap();
        assert_eq!(stored, sha256(&key));
        assert_eq!(first.admin_key_hashes, vec![sha256(&key)]);
        let everything_stored: Vec<u8> = store
            .0
            .lock()
            .unwrap()
            .values()
            .flatten()
            .copied()
            .collect();
        assert!(
            !everything_stored
                .windows(key.len())
                .any(|w| w == key.as_bytes()),
            "plain key stored"
        );

        // Second start: same hash, nothing printed.
        let (second, out) = run(&service, &store);
        assert_eq!(second.mode, AuthMode::BootstrapStored);
        assert_eq!(second.admin_key_hashes, first.admin_key_hashes);
        assert!(out.is_empty(), "{out}");
    }

    #[test]
    fn every_first_start_makes_a_different_key() {
        let service = defaults().service;
        let a = printed_key(&run(&service, &MemStore::default()).1);
        let b = printed_key(&run(&service, &MemStore::default()).1);
        assert_ne!(a, b);
    }

    #[test]
    fn printed_port_is_the_bound_port() {
        let service = defaults().service;
        let mut out = Vec::new();
        plan(&service, &MemStore::default(), 40123, &mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(
            out.contains("curl -X GET 'http://127.0.0.1:40123'"),
            "{out}"
        );
    }

    #[test]
    fn configured_api_key_replaces_the_bootstrap_key() {
        let store = MemStore::default();
        run(&defaults().service, &store); // an earlier start bootstrapped a key

        let mut service = defaults().service;
        service.api_key = Some(Secret::new("configured-admin"));
        service.jwt_rbac = true;
        let (plan, out) = run(&service, &store);
        assert_eq!(plan.mode, AuthMode::ConfiguredKeys);
        assert_eq!(plan.api_key.as_deref(), Some("configured-admin"));
        assert!(plan.jwt_rbac);
        assert!(
            plan.admin_key_hashes.is_empty(),
            "stored bootstrap hash must not be accepted"
        );
        assert!(out.is_empty());
    }

    #[test]
    fn any_configured_key_prevents_bootstrap() {
        for which in ["alt", "ro"] {
            let mut service = defaults().service;
            match which {
                "alt" => service.alt_api_key = Some(Secret::new("alt")),
                _ => service.read_only_api_key = Some(Secret::new("ro")),
            }
            let store = MemStore::default();
            let (plan, out) = run(&service, &store);
            assert_eq!(plan.mode, AuthMode::ConfiguredKeys, "{which}");
            assert!(out.is_empty());
            assert!(store.meta_get(BOOTSTRAP_KEY_HASH).unwrap().is_none());
        }
    }

    #[test]
    fn blank_keys_do_not_count_as_configured() {
        let mut service = defaults().service;
        service.api_key = Some(Secret::new(""));
        service.read_only_api_key = Some(Secret::new("  "));
        let (plan, out) = run(&service, &MemStore::default());
        assert_eq!(plan.mode, AuthMode::BootstrapGenerated);
        assert_eq!(plan.api_key, None);
        assert_eq!(plan.read_only_api_key, None);
        printed_key(&out);
    }

    #[test]
    fn allow_unauthenticated_turns_auth_off_only_without_keys() {
        let mut service = defaults().service;
        service.allow_unauthenticated = true;
        let store = MemStore::default();
        let (plan, out) = run(&service, &store);
        assert_eq!(plan.mode, AuthMode::Unauthenticated);
        assert!(!plan.mode.is_authenticated());
        assert!(out.is_empty());
        assert!(store.meta_get(BOOTSTRAP_KEY_HASH).unwrap().is_none());

        service.api_key = Some(Secret::new("k"));
        assert_eq!(run(&service, &store).0.mode, AuthMode::ConfiguredKeys);
    }

    #[test]
    fn a_damaged_stored_hash_refuses_to_start() {
        let store = MemStore::default();
        store.meta_put(BOOTSTRAP_KEY_HASH, b"short").unwrap();
        let err = plan(&defaults().service, &store, 6333, &mut Vec::new()).unwrap_err();
        assert!(
            err.to_string().contains("damaged bootstrap key hash"),
            "{err}"
        );
    }

    #[test]
    fn debug_never_shows_keys() {
        let mut service = defaults().service;
        service.api_key = Some(Secret::new("debug-secret"));
        let (plan, _) = run(&service, &MemStore::default());
        assert!(!format!("{plan:?}").contains("debug-secret"));
    }
}
