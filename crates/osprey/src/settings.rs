//! Layered configuration, read the way Qdrant reads it (`spec/auth.md` §1).
//!
//! Later layers override earlier ones:
//!
//! 1. the built-in defaults (`default_config.yaml`, Qdrant's values for the keys we use);
//! 2. `config/config.{yaml,yml,json}` relative to the working directory;
//! 3. `config/{RUN_MODE}` (env `RUN_MODE`, default `development`);
//! 4. `config/local`;
//! 5. the file given with `--config-path` (missing: logged as an error, not fatal);
//! 6. environment variables `QDRANT__SECTION__KEY` (names case-insensitive).
//!
//! Qdrant's configuration has many keys Osprey does not use yet (`storage.performance`,
//! `storage.optimizers`, `cluster.consensus`, ...). They are accepted, so an existing Qdrant
//! config file keeps working, and each one is named once at startup ("accepted but not used
//! yet: <dotted key>"). The list comes from diffing the merged configuration tree against
//! the keys the typed [`Settings`] understands, so it cannot drift from the structs.
//!
//! Nothing is logged while loading: tracing is configured from the result. Messages are
//! returned as [`Note`]s and emitted once logging is up. No note ever contains a secret.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use config::{Config, Environment, File, FileFormat};
use serde::de::{self, Deserializer, Unexpected, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// Qdrant's defaults for the keys Osprey understands: the first layer.
const DEFAULT_CONFIG_YAML: &str = include_str!("default_config.yaml");

/// `QDRANT__SERVICE__API_KEY` -> `service.api_key`.
pub const ENV_PREFIX: &str = "QDRANT";
pub const ENV_SEPARATOR: &str = "__";

const DEFAULT_CONFIG_DIR: &str = "config";
const DEFAULT_RUN_MODE: &str = "development";

/// Extensions tried, in this order, for a configuration file named without one.
/// JSON goes through the YAML parser: YAML 1.2 is a superset of JSON, so `config.json`
/// works without another parser crate. TOML is not built in (the `config` crate is
/// compiled with `yaml` only, as Qdrant's is); a `.toml` file is refused with an error
/// rather than skipped, because a silently ignored file could hold the API key.
const EXTENSIONS: &[&str] = &["yaml", "yml", "json"];

// ---------------------------------------------------------------------------------------
// Typed settings
// ---------------------------------------------------------------------------------------

/// The whole configuration. Field names are Qdrant's.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Settings {
    /// Qdrant's `log_level`: a level (`INFO`) or a filter (`info,osprey_engine=debug`).
    /// `RUST_LOG`, when set, wins.
    pub log_level: String,
    pub service: ServiceConfig,
    pub storage: StorageSettings,
    pub tls: TlsConfig,
    pub cluster: ClusterConfig,
    /// Qdrant stops reporting anonymous usage when this is true. Osprey never reports
    /// anything anywhere, so the flag is honoured trivially.
    pub telemetry_disabled: bool,
    pub audit: AuditConfig,
}

/// `service.*`: listeners, keys and request limits.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ServiceConfig {
    pub host: String,
    pub http_port: u16,
    /// `null` (or an empty / `null` environment value) turns gRPC off.
    #[serde(default, deserialize_with = "optional_number")]
    pub grpc_port: Option<u16>,
    /// Admin key; also the HS256 secret for JWTs. Blank counts as unset.
    #[serde(default)]
    pub api_key: Option<Secret>,
    /// Second admin key, for rolling rotation. Blank counts as unset.
    #[serde(default)]
    pub alt_api_key: Option<Secret>,
    /// Read-only key. Blank counts as unset.
    #[serde(default)]
    pub read_only_api_key: Option<Secret>,
    pub jwt_rbac: bool,
    pub enable_tls: bool,
    pub verify_https_client_certificate: bool,
    pub enable_cors: bool,
    pub max_request_size_mb: usize,
    /// Osprey's own: with no key configured, serve without authentication instead of
    /// bootstrapping an admin key. Off by default; the log says so at every start.
    pub allow_unauthenticated: bool,
    pub enable_static_content: bool,
    pub static_content_dir: String,
    #[serde(default, deserialize_with = "optional_number")]
    pub metrics_port: Option<u16>,
    #[serde(default)]
    pub hide_jwt_dashboard: Option<bool>,
    pub enforce_internal_auth: bool,
    pub enable_snapshot_url_recovery: bool,
}

impl ServiceConfig {
    /// `service.api_key`, unless unset or blank.
    pub fn api_key(&self) -> Option<&str> {
        non_blank(&self.api_key)
    }

    /// `service.alt_api_key`, unless unset or blank.
    pub fn alt_api_key(&self) -> Option<&str> {
        non_blank(&self.alt_api_key)
    }

    /// `service.read_only_api_key`, unless unset or blank.
    pub fn read_only_api_key(&self) -> Option<&str> {
        non_blank(&self.read_only_api_key)
    }

    /// True when any of the three static keys is configured (blank ones do not count).
    pub fn has_configured_keys(&self) -> bool {
        self.api_key().is_some()
            || self.alt_api_key().is_some()
            || self.read_only_api_key().is_some()
    }
}

fn non_blank(key: &Option<Secret>) -> Option<&str> {
    key.as_ref()
        .map(Secret::expose)
        .filter(|k| !k.trim().is_empty())
}

/// `storage.*`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct StorageSettings {
    pub storage_path: PathBuf,
    pub snapshots_path: PathBuf,
}

/// `tls.*`. Read now so Qdrant configs load; served once TLS lands (issue 3 item 7).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct TlsConfig {
    #[serde(default)]
    pub cert: Option<PathBuf>,
    #[serde(default)]
    pub key: Option<PathBuf>,
    #[serde(default)]
    pub ca_cert: Option<PathBuf>,
    /// Seconds between certificate reloads; `null` disables reloading.
    #[serde(default, deserialize_with = "optional_number")]
    pub cert_ttl: Option<u64>,
}

/// `cluster.*`: `enabled` runs the server as the single voter of its own
/// cluster; the other keys (p2p, consensus) are accepted for Qdrant configs.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ClusterConfig {
    pub enabled: bool,
    /// This peer's URI (`--uri` / `QDRANT_URI`), set from the command line.
    #[serde(skip)]
    pub uri: Option<String>,
}

/// `audit.*`: Qdrant's audit log (spec/auth.md §12), written by `osprey_auth::audit`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct AuditConfig {
    pub enabled: bool,
    /// Unset: `<storage.storage_path>/audit`. Qdrant's default is `./storage/audit`,
    /// which is the same place with the default storage path; following the storage
    /// keeps the log beside the data it audits when the storage moves.
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// `daily` or `hourly`; anything else stops the start.
    pub rotation: osprey_auth::audit::Rotation,
    /// Files kept, the current one included; at least 1.
    pub max_log_files: usize,
    pub trust_forwarded_headers: bool,
    pub log_api: bool,
}

impl AuditConfig {
    /// The directory the files go to.
    pub fn dir(&self, storage_path: &Path) -> PathBuf {
        self.dir
            .clone()
            .unwrap_or_else(|| storage_path.join("audit"))
    }
}

/// A configured secret. Its `Debug` and `Serialize` never show the value, so settings
/// can be printed or diffed without leaking keys; [`Secret::expose`] is the only way in.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    #[cfg(test)]
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("<redacted>")
    }
}

/// An optional number that may also be switched off with `null`, `~`, `none` or an empty
/// string. Needed for environment variables, which are always strings:
/// `QDRANT__SERVICE__GRPC_PORT=null` and `QDRANT__SERVICE__GRPC_PORT=` both mean "off".
fn optional_number<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<u64>,
{
    struct OptionalNumber<T>(PhantomData<T>);

    impl<'de, T: TryFrom<u64>> Visitor<'de> for OptionalNumber<T> {
        type Value = Option<T>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(
                f,
                "a non-negative integer up to {}, or null",
                std::any::type_name::<T>()
            )
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(self)
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            T::try_from(v)
                .map(Some)
                .map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &self))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            match u64::try_from(v) {
                Ok(v) => self.visit_u64(v),
                Err(_) => Err(E::invalid_value(Unexpected::Signed(v), &self)),
            }
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            let t = v.trim();
            if t.is_empty()
                || ["null", "none", "~"]
                    .iter()
                    .any(|n| t.eq_ignore_ascii_case(n))
            {
                return Ok(None);
            }
            match t.parse::<u64>() {
                Ok(n) => self.visit_u64(n),
                Err(_) => Err(E::invalid_value(Unexpected::Str(v), &self)),
            }
        }
    }

    deserializer.deserialize_any(OptionalNumber(PhantomData))
}

// ---------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------

/// Where the layers come from. [`Sources::from_process`] for the server; tests point
/// `config_dir` at a temp dir and pass `env` explicitly instead of touching the process.
#[derive(Debug, Clone)]
pub struct Sources {
    /// Folder holding `config`, `{RUN_MODE}` and `local` (default `./config`).
    pub config_dir: PathBuf,
    pub run_mode: String,
    /// `--config-path`.
    pub config_path: Option<PathBuf>,
    /// Environment variables to read; `None` reads the process environment.
    pub env: Option<HashMap<String, String>>,
}

impl Sources {
    pub fn from_process(config_path: Option<PathBuf>) -> Self {
        let run_mode = std::env::var("RUN_MODE")
            .ok()
            .filter(|m| !m.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_RUN_MODE.to_owned());
        Self {
            config_dir: PathBuf::from(DEFAULT_CONFIG_DIR),
            run_mode,
            config_path,
            env: None,
        }
    }
}

/// A message produced while loading, emitted once logging is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub level: NoteLevel,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteLevel {
    Info,
    Warn,
    Error,
}

impl Note {
    fn info(message: impl Into<String>) -> Self {
        Self {
            level: NoteLevel::Info,
            message: message.into(),
        }
    }

    fn warn(message: impl Into<String>) -> Self {
        Self {
            level: NoteLevel::Warn,
            message: message.into(),
        }
    }

    fn error(message: impl Into<String>) -> Self {
        Self {
            level: NoteLevel::Error,
            message: message.into(),
        }
    }

    pub fn emit(&self) {
        match self.level {
            NoteLevel::Info => tracing::info!("{}", self.message),
            NoteLevel::Warn => tracing::warn!("{}", self.message),
            NoteLevel::Error => tracing::error!("{}", self.message),
        }
    }
}

/// Settings plus what loading had to say about them.
#[derive(Debug)]
pub struct Loaded {
    pub settings: Settings,
    pub notes: Vec<Note>,
}

/// Reads every layer and returns typed settings. Fails only on a file that cannot be
/// parsed or a value of the wrong type; missing files are notes, unknown keys are notes.
pub fn load(sources: &Sources) -> Result<Loaded> {
    let mut notes = Vec::new();
    let mut builder =
        Config::builder().add_source(File::from_str(DEFAULT_CONFIG_YAML, FileFormat::Yaml));

    let layers = [
        ("config", true),
        (sources.run_mode.as_str(), false),
        ("local", false),
    ];
    for (stem, warn_if_missing) in layers {
        let base = sources.config_dir.join(stem);
        match find_config_file(&base)? {
            Some(path) => {
                notes.push(Note::info(format!(
                    "configuration read from {}",
                    path.display()
                )));
                builder = builder.add_source(File::from(path.as_path()).format(FileFormat::Yaml));
            }
            None if warn_if_missing => notes.push(Note::warn(format!(
                "config file not found: {}.{{yaml,yml,json}}; using built-in defaults",
                base.display()
            ))),
            None => {}
        }
    }

    if let Some(config_path) = &sources.config_path {
        match find_config_file(config_path)? {
            Some(path) => {
                notes.push(Note::info(format!(
                    "configuration read from {}",
                    path.display()
                )));
                builder = builder.add_source(File::from(path.as_path()).format(FileFormat::Yaml));
            }
            // Qdrant logs this as an error and carries on; so do we.
            None => notes.push(Note::error(format!(
                "config file given with --config-path is not found: {}",
                config_path.display()
            ))),
        }
    }

    builder = builder.add_source(
        Environment::with_prefix(ENV_PREFIX)
            .separator(ENV_SEPARATOR)
            .source(sources.env.clone()),
    );

    let config = builder.build().context("reading the configuration")?;
    let tree: serde_json::Value = config
        .clone()
        .try_deserialize()
        .context("reading the configuration tree")?;
    let settings: Settings = config.try_deserialize().context("invalid configuration")?;
    settings.check()?;

    notes.extend(unused_key_notes(&tree, &settings)?);
    notes.extend(settings.validate());
    Ok(Loaded { settings, notes })
}

/// Resolves `base` as `config::File::with_name` does (the exact path, then `base.<ext>`
/// for each supported extension), but refuses an existing file of an unsupported format
/// instead of silently skipping it.
fn find_config_file(base: &Path) -> Result<Option<PathBuf>> {
    if base.is_file() {
        let ext = base.extension().and_then(|e| e.to_str()).unwrap_or("");
        if EXTENSIONS
            .iter()
            .any(|known| known.eq_ignore_ascii_case(ext))
        {
            return Ok(Some(base.to_path_buf()));
        }
        bail!(
            "configuration file {} is not of a supported format (use .yaml, .yml or .json)",
            base.display()
        );
    }
    for ext in EXTENSIONS {
        // Append rather than `with_extension`, so `config/my.prod` finds `my.prod.yaml`.
        let mut candidate = base.as_os_str().to_owned();
        candidate.push(".");
        candidate.push(ext);
        let candidate = PathBuf::from(candidate);
        if candidate.is_file() {
            return Ok(Some(candidate));
        }
    }
    Ok(None)
}

/// One info note per key present in the merged configuration that [`Settings`] does not
/// understand. A near miss of a known key (a typo such as `service.api_kye`) is a warning
/// with a suggestion, because a mistyped key silently changes who may connect.
fn unused_key_notes(tree: &serde_json::Value, settings: &Settings) -> Result<Vec<Note>> {
    // Serialising the typed settings gives every key they understand. Secrets serialise
    // as "<redacted>", and only the key names are used.
    let typed = serde_json::to_value(settings).context("listing the known configuration keys")?;
    let mut known = BTreeSet::new();
    leaf_paths(&typed, "", &mut known);
    let mut present = BTreeSet::new();
    leaf_paths(tree, "", &mut present);

    let mut notes = Vec::new();
    for key in present {
        let used = known.iter().any(|k| {
            *k == key
                || key
                    .strip_prefix(k.as_str())
                    .is_some_and(|rest| rest.starts_with('.'))
                || k.strip_prefix(key.as_str())
                    .is_some_and(|rest| rest.starts_with('.'))
        });
        if used {
            continue;
        }
        match near_miss(&key, &known) {
            Some(suggestion) => notes.push(Note::warn(format!(
                "accepted but not used yet: {key} (did you mean {suggestion}?)"
            ))),
            None => notes.push(Note::info(format!("accepted but not used yet: {key}"))),
        }
    }
    Ok(notes)
}

/// Dotted paths of the leaves of a JSON tree. An empty table counts as a leaf.
fn leaf_paths(value: &serde_json::Value, prefix: &str, out: &mut BTreeSet<String>) {
    match value {
        serde_json::Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaf_paths(v, &path, out);
            }
        }
        _ => {
            if !prefix.is_empty() {
                out.insert(prefix.to_owned());
            }
        }
    }
}

/// A known key in the same section whose last segment is at most two edits away.
fn near_miss<'a>(key: &str, known: &'a BTreeSet<String>) -> Option<&'a str> {
    let (section, name) = key.rsplit_once('.').unwrap_or(("", key));
    known
        .iter()
        .filter_map(|k| {
            let (k_section, k_name) = k.rsplit_once('.').unwrap_or(("", k));
            (k_section == section).then(|| (edit_distance(name, k_name), k.as_str()))
        })
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

impl Settings {
    /// Warnings about values that load fine but will not do what they say.
    fn validate(&self) -> Vec<Note> {
        let mut notes = Vec::new();
        let s = &self.service;
        for (name, key) in [
            ("service.api_key", &s.api_key),
            ("service.alt_api_key", &s.alt_api_key),
            ("service.read_only_api_key", &s.read_only_api_key),
        ] {
            // spec/auth.md §1 [surpass]: Qdrant would accept an empty header for an empty key.
            if key.as_ref().is_some_and(|k| k.expose().trim().is_empty()) {
                notes.push(Note::error(format!(
                    "{name} is set but empty or blank; it is treated as unset"
                )));
            }
        }
        // `jwt_rbac` without an admin key is reported by `osprey_auth::Authenticator::new`.
        if let Some(port) = s.metrics_port {
            notes.push(Note::warn(format!(
                "service.metrics_port is {port}, but a separate metrics listener is not \
                 implemented yet; nothing listens on that port"
            )));
        }
        if self.cluster.enabled {
            notes.push(Note::info(
                "cluster.enabled is true: this node runs as the single voter of its own cluster \
                 (other peers cannot join it yet)",
            ));
        }
        notes
    }

    /// Settings that must stop the start: a server must not run with an audit log
    /// that silently does something other than what was asked.
    fn check(&self) -> Result<()> {
        if self.audit.max_log_files == 0 {
            bail!("invalid configuration: audit.max_log_files must be at least 1 (it counts the file being written)");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A temp working area with a `config/` folder and an explicit environment.
    struct Fixture {
        dir: tempfile::TempDir,
        run_mode: String,
        config_path: Option<PathBuf>,
        env: HashMap<String, String>,
    }

    impl Fixture {
        fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            std::fs::create_dir(dir.path().join("config")).unwrap();
            Self {
                dir,
                run_mode: "development".into(),
                config_path: None,
                env: HashMap::new(),
            }
        }

        fn file(&self, relative: &str, text: &str) -> PathBuf {
            let path = self.dir.path().join(relative);
            std::fs::write(&path, text).unwrap();
            path
        }

        fn env(mut self, key: &str, value: &str) -> Self {
            self.env.insert(key.into(), value.into());
            self
        }

        fn sources(&self) -> Sources {
            Sources {
                config_dir: self.dir.path().join("config"),
                run_mode: self.run_mode.clone(),
                config_path: self.config_path.clone(),
                env: Some(self.env.clone()),
            }
        }

        fn load(&self) -> Loaded {
            load(&self.sources()).unwrap()
        }
    }

    fn unused(notes: &[Note]) -> Vec<String> {
        notes
            .iter()
            .filter_map(|n| n.message.strip_prefix("accepted but not used yet: "))
            .map(|m| m.split(' ').next().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn defaults_are_qdrants() {
        let loaded = Fixture::new().load();
        let s = &loaded.settings;
        assert_eq!(s.log_level, "INFO");
        assert_eq!(s.service.host, "0.0.0.0");
        assert_eq!(s.service.http_port, 6333);
        assert_eq!(s.service.grpc_port, Some(6334));
        assert!(s.service.api_key.is_none());
        assert!(s.service.alt_api_key.is_none());
        assert!(s.service.read_only_api_key.is_none());
        assert!(!s.service.has_configured_keys());
        assert!(!s.service.jwt_rbac);
        assert!(!s.service.enable_tls);
        assert!(!s.service.verify_https_client_certificate);
        assert!(s.service.enable_cors);
        assert_eq!(s.service.max_request_size_mb, 32);
        assert!(!s.service.allow_unauthenticated);
        assert!(s.service.enable_static_content);
        assert_eq!(s.service.static_content_dir, "./static");
        assert_eq!(s.service.metrics_port, None);
        assert_eq!(s.service.hide_jwt_dashboard, None);
        assert!(!s.service.enforce_internal_auth);
        assert!(s.service.enable_snapshot_url_recovery);
        assert_eq!(s.storage.storage_path, PathBuf::from("./storage"));
        assert_eq!(s.storage.snapshots_path, PathBuf::from("./snapshots"));
        assert_eq!(s.tls.cert_ttl, Some(3600));
        assert_eq!(s.tls.cert, Some(PathBuf::from("./tls/cert.pem")));
        assert!(!s.cluster.enabled);
        assert!(!s.telemetry_disabled);
        assert!(!s.audit.enabled);
        assert_eq!(s.audit.max_log_files, 7);
        assert_eq!(s.audit.rotation, osprey_auth::audit::Rotation::Daily);
        assert!(s.audit.log_api && !s.audit.trust_forwarded_headers);
        assert_eq!(s.audit.dir(Path::new("/data")), PathBuf::from("/data/audit"));
        // The built-in defaults never report themselves as unused.
        assert_eq!(unused(&loaded.notes), Vec::<String>::new());
        // A missing config/config is only a warning.
        assert!(
            loaded
                .notes
                .iter()
                .any(|n| n.level == NoteLevel::Warn && n.message.contains("config file not found"))
        );
    }

    #[test]
    fn layers_override_in_qdrant_order() {
        let mut f = Fixture::new();
        f.file(
            "config/config.yaml",
            "service:\n  http_port: 7001\n  host: 10.0.0.1\n  api_key: from-config\nstorage:\n  storage_path: /a\n  snapshots_path: /snap-a\n",
        );
        f.file(
            "config/development.yaml",
            "service:\n  http_port: 7002\nstorage:\n  storage_path: /b\n",
        );
        f.file("config/production.yaml", "service:\n  http_port: 9999\n");
        f.file("config/local.yaml", "service:\n  http_port: 7003\n");
        f.config_path = Some(f.file(
            "custom.yaml",
            "service:\n  http_port: 7004\n  api_key: from-custom\n",
        ));

        let s = f.load().settings;
        assert_eq!(
            s.service.http_port, 7004,
            "--config-path beats config/local"
        );
        assert_eq!(s.service.api_key(), Some("from-custom"));
        assert_eq!(
            s.service.host, "10.0.0.1",
            "untouched keys survive from config/config"
        );
        assert_eq!(
            s.storage.storage_path,
            PathBuf::from("/b"),
            "RUN_MODE file beats config/config"
        );
        assert_eq!(s.storage.snapshots_path, PathBuf::from("/snap-a"));

        let f = f
            .env("QDRANT__SERVICE__HTTP_PORT", "7005")
            .env("QDRANT__SERVICE__API_KEY", "from-env");
        let s = f.load().settings;
        assert_eq!(s.service.http_port, 7005, "environment beats every file");
        assert_eq!(s.service.api_key(), Some("from-env"));
    }

    #[test]
    fn run_mode_selects_its_file() {
        let mut f = Fixture::new();
        f.file("config/development.yaml", "service:\n  http_port: 7002\n");
        f.file("config/production.yml", "service:\n  http_port: 7010\n");
        f.run_mode = "production".into();
        assert_eq!(f.load().settings.service.http_port, 7010);
    }

    #[test]
    fn json_config_file_is_read_and_toml_is_refused() {
        let mut f = Fixture::new();
        f.config_path = Some(f.file(
            "custom.json",
            r#"{"service": {"http_port": 7020, "enable_cors": false}}"#,
        ));
        let s = f.load().settings;
        assert_eq!(s.service.http_port, 7020);
        assert!(!s.service.enable_cors);

        f.config_path = Some(f.file("custom.toml", "[service]\nhttp_port = 7021\n"));
        let err = load(&f.sources()).unwrap_err();
        assert!(
            format!("{err:#}").contains("not of a supported format"),
            "{err:#}"
        );
    }

    #[test]
    fn config_path_without_extension_finds_the_yaml_file() {
        let mut f = Fixture::new();
        f.file("custom.yaml", "service:\n  http_port: 7030\n");
        f.config_path = Some(f.dir.path().join("custom"));
        assert_eq!(f.load().settings.service.http_port, 7030);
    }

    #[test]
    fn missing_config_path_is_a_logged_error_not_a_failure() {
        let mut f = Fixture::new();
        f.config_path = Some(f.dir.path().join("nope.yaml"));
        let loaded = f.load();
        assert_eq!(loaded.settings.service.http_port, 6333);
        assert!(loaded.notes.iter().any(
            |n| n.level == NoteLevel::Error && n.message.contains("--config-path is not found")
        ));
    }

    #[test]
    fn env_var_names_map_to_dotted_keys() {
        let f = Fixture::new()
            .env("QDRANT__SERVICE__API_KEY", "admin-secret")
            .env("QDRANT__SERVICE__ALT_API_KEY", "alt-secret")
            .env("QDRANT__SERVICE__READ_ONLY_API_KEY", "ro-secret")
            .env("QDRANT__SERVICE__HOST", "127.0.0.1")
            .env("QDRANT__STORAGE__STORAGE_PATH", "/tmp/x")
            .env("QDRANT__STORAGE__SNAPSHOTS_PATH", "/tmp/y")
            .env("QDRANT__TLS__CERT", "/path/cert.pem")
            .env("QDRANT__LOG_LEVEL", "debug")
            // Names are case-insensitive, as in Qdrant.
            .env("qdrant__service__enable_static_content", "false")
            // Not ours: single underscore after the prefix, other prefixes, Qdrant's CLI vars.
            .env("QDRANT_URI", "http://peer:6335")
            .env("QDRANT_SERVICE__HTTP_PORT", "1")
            .env("SERVICE__HTTP_PORT", "2")
            .env("RUN_MODE", "production");
        let loaded = f.load();
        let s = &loaded.settings;
        assert_eq!(s.service.api_key(), Some("admin-secret"));
        assert_eq!(s.service.alt_api_key(), Some("alt-secret"));
        assert_eq!(s.service.read_only_api_key(), Some("ro-secret"));
        assert_eq!(s.service.host, "127.0.0.1");
        assert_eq!(s.storage.storage_path, PathBuf::from("/tmp/x"));
        assert_eq!(s.storage.snapshots_path, PathBuf::from("/tmp/y"));
        assert_eq!(s.tls.cert, Some(PathBuf::from("/path/cert.pem")));
        assert_eq!(s.log_level, "debug");
        assert!(!s.service.enable_static_content);
        assert_eq!(s.service.http_port, 6333);
        assert_eq!(unused(&loaded.notes), Vec::<String>::new());
    }

    #[test]
    fn booleans_and_integers_parse_from_env_strings() {
        let s = Fixture::new()
            .env("QDRANT__SERVICE__JWT_RBAC", "true")
            .env("QDRANT__SERVICE__ENABLE_CORS", "FALSE")
            .env("QDRANT__SERVICE__ALLOW_UNAUTHENTICATED", "1")
            .env("QDRANT__SERVICE__HIDE_JWT_DASHBOARD", "yes")
            .env("QDRANT__SERVICE__HTTP_PORT", "7000")
            .env("QDRANT__SERVICE__MAX_REQUEST_SIZE_MB", "64")
            .env("QDRANT__SERVICE__METRICS_PORT", "9090")
            .env("QDRANT__TLS__CERT_TTL", "60")
            .env("QDRANT__TELEMETRY_DISABLED", "true")
            .load()
            .settings;
        assert!(s.service.jwt_rbac);
        assert!(!s.service.enable_cors);
        assert!(s.service.allow_unauthenticated);
        assert_eq!(s.service.hide_jwt_dashboard, Some(true));
        assert_eq!(s.service.http_port, 7000);
        assert_eq!(s.service.max_request_size_mb, 64);
        assert_eq!(s.service.metrics_port, Some(9090));
        assert_eq!(s.tls.cert_ttl, Some(60));
        assert!(s.telemetry_disabled);
    }

    #[test]
    fn bad_values_fail_with_the_key_named() {
        for (var, value) in [
            ("QDRANT__SERVICE__HTTP_PORT", "seven"),
            ("QDRANT__SERVICE__HTTP_PORT", "70000"),
            ("QDRANT__SERVICE__GRPC_PORT", "-1"),
            ("QDRANT__SERVICE__JWT_RBAC", "maybe"),
        ] {
            let err = load(&Fixture::new().env(var, value).sources()).unwrap_err();
            let key = var
                .strip_prefix("QDRANT__")
                .unwrap()
                .replace("__", ".")
                .to_lowercase();
            let text = format!("{err:#}");
            assert!(text.contains(&key), "{var}={value}: {text}");
        }
    }

    #[test]
    fn grpc_port_can_be_switched_off() {
        for value in ["null", "NULL", "", "none"] {
            let s = Fixture::new()
                .env("QDRANT__SERVICE__GRPC_PORT", value)
                .load()
                .settings;
            assert_eq!(
                s.service.grpc_port, None,
                "QDRANT__SERVICE__GRPC_PORT={value:?}"
            );
        }
        let s = Fixture::new()
            .env("QDRANT__SERVICE__GRPC_PORT", "6000")
            .load()
            .settings;
        assert_eq!(s.service.grpc_port, Some(6000));

        let f = Fixture::new();
        f.file("config/config.yaml", "service:\n  grpc_port: null\n");
        assert_eq!(f.load().settings.service.grpc_port, None);
        let f = Fixture::new();
        f.file("config/config.yaml", "service:\n  grpc_port: ~\n");
        assert_eq!(f.load().settings.service.grpc_port, None);
        let f = Fixture::new();
        f.file("config/config.yaml", "tls:\n  cert_ttl: null\n");
        assert_eq!(f.load().settings.tls.cert_ttl, None);
    }

    #[test]
    fn unknown_keys_are_accepted_and_named_once() {
        let f = Fixture::new()
            .env("QDRANT__STORAGE__OPTIMIZERS__DEFAULT_SEGMENT_NUMBER", "2")
            .env("QDRANT__CLUSTER__P2P__PORT", "6335");
        // A slice of Qdrant's own config.yaml: the keys we use and many we do not.
        f.file(
            "config/config.yaml",
            "log_level: INFO\n\
             storage:\n  storage_path: ./storage\n  snapshots_path: ./snapshots\n  on_disk_payload: true\n\
             \x20 performance:\n    max_search_threads: 0\n    optimizer_cpu_budget: 0\n\
             \x20 optimizers:\n    deleted_threshold: 0.2\n  hnsw_index:\n    m: 16\n    ef_construct: 100\n\
             \x20 wal:\n    wal_capacity_mb: 32\n\
             service:\n  max_request_size_mb: 32\n  max_workers: 0\n  host: 0.0.0.0\n  http_port: 6333\n  grpc_port: 6334\n  enable_cors: true\n  enable_tls: false\n\
             cluster:\n  enabled: false\n  p2p:\n    port: 6335\n    enable_tls: false\n  consensus:\n    tick_period_ms: 100\n\
             telemetry_disabled: false\n\
             gpu: {}\n",
        );
        let loaded = f.load();
        let mut names = unused(&loaded.notes);
        let count = names.len();
        names.dedup();
        assert_eq!(count, names.len(), "each key is named once");
        assert_eq!(
            names,
            [
                "cluster.consensus.tick_period_ms",
                "cluster.p2p.enable_tls",
                "cluster.p2p.port",
                "gpu",
                "service.max_workers",
                "storage.hnsw_index.ef_construct",
                "storage.hnsw_index.m",
                "storage.on_disk_payload",
                "storage.optimizers.default_segment_number",
                "storage.optimizers.deleted_threshold",
                "storage.performance.max_search_threads",
                "storage.performance.optimizer_cpu_budget",
                "storage.wal.wal_capacity_mb",
            ]
        );
        assert!(
            loaded
                .notes
                .iter()
                .filter(|n| n.message.starts_with("accepted but not used yet"))
                .all(|n| n.level == NoteLevel::Info)
        );
        assert_eq!(loaded.settings.service.http_port, 6333);
    }

    #[test]
    fn a_typo_in_a_known_key_is_a_warning_with_a_suggestion() {
        let loaded = Fixture::new()
            .env("QDRANT__SERVICE__API_KYE", "oops-secret")
            .load();
        let note = loaded
            .notes
            .iter()
            .find(|n| n.message.contains("service.api_kye"))
            .expect("typo reported");
        assert_eq!(note.level, NoteLevel::Warn);
        assert!(
            note.message.contains("did you mean service.api_key?"),
            "{}",
            note.message
        );
        assert!(!note.message.contains("oops-secret"));
        assert!(loaded.settings.service.api_key.is_none());
    }

    #[test]
    fn blank_keys_count_as_unset_and_are_reported_without_value() {
        let loaded = Fixture::new()
            .env("QDRANT__SERVICE__API_KEY", "")
            .env("QDRANT__SERVICE__READ_ONLY_API_KEY", "   ")
            .load();
        let s = &loaded.settings.service;
        assert!(s.api_key.is_some(), "the key is present ...");
        assert_eq!(s.api_key(), None, "... but blank counts as unset");
        assert_eq!(s.read_only_api_key(), None);
        assert!(!s.has_configured_keys());
        let errors: Vec<_> = loaded
            .notes
            .iter()
            .filter(|n| n.level == NoteLevel::Error)
            .collect();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors[0]
                .message
                .contains("service.api_key is set but empty or blank")
        );
    }

    #[test]
    fn secrets_never_appear_in_debug_or_notes() {
        let loaded = Fixture::new()
            .env("QDRANT__SERVICE__API_KEY", "very-secret-admin")
            .env("QDRANT__SERVICE__READ_ONLY_API_KEY", "very-secret-ro")
            .env("QDRANT__SERVICE__JWT_RBAC", "true")
            .load();
        let debug = format!("{:?}", loaded.settings);
        let notes = format!("{:?}", loaded.notes);
        let json = serde_json::to_string(&loaded.settings).unwrap();
        for text in [debug, notes, json] {
            assert!(!text.contains("very-secret"), "{text}");
        }
        assert_eq!(Secret::new("x").expose(), "x");
    }

    #[test]
    fn sample_config_in_the_repository_loads_without_surprises() {
        // config/config.yaml at the repository root documents the keys; it must stay loadable
        // and must not introduce keys Osprey would report as unused.
        let f = Fixture::new();
        f.file(
            "config/config.yaml",
            include_str!("../../../config/config.yaml"),
        );
        let loaded = f.load();
        assert_eq!(unused(&loaded.notes), Vec::<String>::new());
        assert!(!loaded.settings.service.has_configured_keys());
        assert!(!loaded.settings.service.allow_unauthenticated);
    }

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("api_key", "api_key"), 0);
        assert_eq!(edit_distance("api_kye", "api_key"), 2);
        assert_eq!(edit_distance("apikey", "api_key"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    /// The audit section is read from the environment like every other, and a
    /// value the log cannot honour stops the start with the key named.
    #[test]
    fn audit_settings_from_env_and_refusals() {
        let s = Fixture::new()
            .env("QDRANT__AUDIT__ENABLED", "true")
            .env("QDRANT__AUDIT__ROTATION", "hourly")
            .env("QDRANT__AUDIT__DIR", "/var/log/osprey-audit")
            .env("QDRANT__AUDIT__MAX_LOG_FILES", "24")
            .env("QDRANT__AUDIT__TRUST_FORWARDED_HEADERS", "true")
            .env("QDRANT__AUDIT__LOG_API", "false")
            .load()
            .settings;
        assert!(s.audit.enabled && s.audit.trust_forwarded_headers && !s.audit.log_api);
        assert_eq!(s.audit.rotation, osprey_auth::audit::Rotation::Hourly);
        assert_eq!(s.audit.max_log_files, 24);
        assert_eq!(s.audit.dir(Path::new("/data")), PathBuf::from("/var/log/osprey-audit"));

        let weekly = load(&Fixture::new().env("QDRANT__AUDIT__ROTATION", "weekly").sources());
        let message = format!("{:#}", weekly.unwrap_err());
        assert!(message.contains("unknown rotation `weekly`, expected `daily` or `hourly`"), "{message}");
        assert!(message.contains("audit.rotation"), "{message}");

        let none = load(&Fixture::new().env("QDRANT__AUDIT__MAX_LOG_FILES", "0").sources());
        let message = format!("{:#}", none.unwrap_err());
        assert!(message.contains("audit.max_log_files must be at least 1"), "{message}");
    }
}
