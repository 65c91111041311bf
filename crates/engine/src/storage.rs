//! The storage root: the metadata store (collection configs, aliases, small
//! settings) and the open collections.
//!
//! Layout under `storage_path`:
//! - `meta.redb`: tables `collections` (name -> [`CollectionRecord`] JSON),
//!   `aliases` (alias -> collection name) and `kv` (key -> bytes);
//! - `collections/<uuid>/`: one directory per collection, named by an id made
//!   at creation, so no collection name ever becomes part of a path.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::RwLock;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::collection::Collection;
use crate::config::{CollectionConfig, CreateCollection, UpdateCollection, VectorNameConfig, validate_collection_name};
use crate::error::{EngineError, Result};

const COLLECTIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("collections");
const ALIASES: TableDefinition<&str, &str> = TableDefinition::new("aliases");
const KV: TableDefinition<&str, &[u8]> = TableDefinition::new("kv");

/// Where the engine keeps its files.
#[derive(Debug, Clone)]
pub struct StorageConfig {
    pub storage_path: PathBuf,
    pub snapshots_path: PathBuf,
}

/// What the metadata store keeps per collection.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CollectionRecord {
    dir: String,
    config: CollectionConfig,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AliasDescription {
    pub alias_name: String,
    pub collection_name: String,
}

/// Body of `POST /collections/aliases`.
#[derive(Debug, Clone, Deserialize)]
pub struct ChangeAliasesOperation {
    pub actions: Vec<AliasOperation>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AliasOperation {
    CreateAlias { collection_name: String, alias_name: String },
    DeleteAlias { alias_name: String },
    RenameAlias { old_alias_name: String, new_alias_name: String },
}

/// Collections (real name, collection) and aliases (alias -> name) at one instant.
pub(crate) type CatalogView = (Vec<(String, Arc<Collection>)>, BTreeMap<String, String>);

struct Catalog {
    collections: BTreeMap<String, Arc<Collection>>,
    aliases: BTreeMap<String, String>,
    /// Collections whose files could not be opened, with the reason. Their
    /// names stay taken, so nothing replaces the data while it awaits repair.
    unavailable: BTreeMap<String, String>,
}

/// All collections of one server.
pub struct Storage {
    config: StorageConfig,
    meta: Database,
    /// Collections and aliases; writers hold it while they change the metadata
    /// store, so the map and the store never disagree.
    catalog: RwLock<Catalog>,
}

impl Storage {
    /// Opens (or creates) the storage directory and every collection in it,
    /// replaying their write-ahead logs.
    pub fn open(config: StorageConfig) -> Result<Arc<Storage>> {
        let root = &config.storage_path;
        std::fs::create_dir_all(root.join("collections"))
            .map_err(|e| EngineError::io(format!("creating {}", root.display()), e))?;
        std::fs::create_dir_all(&config.snapshots_path)
            .map_err(|e| EngineError::io(format!("creating {}", config.snapshots_path.display()), e))?;
        let meta_path = root.join("meta.redb");
        // redb panics on some damaged files instead of returning an error; a
        // damaged metadata store must stop the start with the file named.
        let meta = std::panic::catch_unwind(|| -> Result<Database> {
            let meta = Database::create(&meta_path)?;
            let tx = meta.begin_write()?;
            tx.open_table(COLLECTIONS)?;
            tx.open_table(ALIASES)?;
            tx.open_table(KV)?;
            tx.commit()?;
            Ok(meta)
        })
        .unwrap_or_else(|_| {
            Err(EngineError::Corrupted { path: meta_path.clone(), reason: "the metadata store is damaged".into() })
        })?;
        let mut collections = BTreeMap::new();
        let mut aliases = BTreeMap::new();
        let mut unavailable = BTreeMap::new();
        {
            let tx = meta.begin_read()?;
            let table = tx.open_table(COLLECTIONS)?;
            for entry in table.iter()? {
                let (name, record) = entry?;
                let name = name.value().to_string();
                let record: CollectionRecord = serde_json::from_slice(record.value()).map_err(|e| {
                    EngineError::Corrupted { path: root.join("meta.redb"), reason: format!("collection `{name}`: {e}") }
                })?;
                let dir = root.join("collections").join(&record.dir);
                // One damaged collection must not keep the others down.
                match Collection::open(&name, &dir, record.config) {
                    Ok(collection) => {
                        collections.insert(name, Arc::new(collection));
                    }
                    Err(e) => {
                        tracing::error!(collection = %name, dir = %dir.display(), "the collection could not be opened and stays unavailable until its files are repaired: {e}");
                        unavailable.insert(name, e.to_string());
                    }
                }
            }
            let table = tx.open_table(ALIASES)?;
            for entry in table.iter()? {
                let (alias, target) = entry?;
                aliases.insert(alias.value().to_string(), target.value().to_string());
            }
        }
        crate::snapshot::remove_leftovers(&config);
        let storage = Arc::new(Storage { config, meta, catalog: RwLock::new(Catalog { collections, aliases, unavailable }) });
        spawn_flusher(Arc::downgrade(&storage));
        spawn_optimizer(Arc::downgrade(&storage));
        Ok(storage)
    }

    pub fn config(&self) -> &StorageConfig {
        &self.config
    }

    /// Names of all collections (not aliases), sorted.
    pub fn list_collections(&self) -> Vec<String> {
        self.catalog.read().collections.keys().cloned().collect()
    }

    /// Whether a collection or an alias of this name exists.
    pub fn collection_exists(&self, name: &str) -> bool {
        let catalog = self.catalog.read();
        catalog.collections.contains_key(name) || catalog.aliases.contains_key(name)
    }

    /// The collection a name or alias refers to.
    pub fn collection(&self, name_or_alias: &str) -> Result<Arc<Collection>> {
        let catalog = self.catalog.read();
        let name = catalog.aliases.get(name_or_alias).map(String::as_str).unwrap_or(name_or_alias);
        if let Some(reason) = catalog.unavailable.get(name) {
            return Err(EngineError::Service(format!("Collection `{name}` could not be opened at start: {reason}")));
        }
        catalog
            .collections
            .get(name)
            .cloned()
            .ok_or_else(|| EngineError::collection_not_found(name_or_alias))
    }

    /// The real collection name behind a name or alias.
    pub fn resolve(&self, name_or_alias: &str) -> Result<String> {
        self.collection(name_or_alias).map(|c| c.name().to_string())
    }

    pub fn create_collection(&self, name: &str, request: CreateCollection) -> Result<()> {
        validate_collection_name(name)?;
        if request.init_from.is_some() {
            return Err(EngineError::BadInput("init_from is not supported".into()));
        }
        let config = CollectionConfig::from_create(request)?;
        warn_settings_not_in_effect(name, &config);
        let mut catalog = self.catalog.write();
        if catalog.collections.contains_key(name) || catalog.unavailable.contains_key(name) {
            return Err(EngineError::AlreadyExists(format!("Collection `{name}` already exists!")));
        }
        if catalog.aliases.contains_key(name) {
            return Err(EngineError::BadInput(format!("Alias with name `{name}` already exists!")));
        }
        let record = CollectionRecord { dir: uuid::Uuid::new_v4().to_string(), config };
        let dir = self.config.storage_path.join("collections").join(&record.dir);
        let collection = Collection::open(name, &dir, record.config.clone())?;
        let tx = self.meta.begin_write()?;
        {
            let mut table = tx.open_table(COLLECTIONS)?;
            table.insert(name, encode(&record)?.as_slice())?;
        }
        tx.commit()?;
        catalog.collections.insert(name.to_string(), Arc::new(collection));
        Ok(())
    }

    pub fn update_collection(&self, name: &str, request: UpdateCollection) -> Result<()> {
        self.change_config(name, |config| config.updated(&request))
    }

    /// Adds a named vector to a collection (`PUT /collections/{c}/vectors/{name}`).
    pub fn create_vector_name(&self, name: &str, vector: &str, request: VectorNameConfig) -> Result<()> {
        self.change_config(name, |config| config.with_vector_name(vector, request))
    }

    /// Removes a named vector and its data from a collection.
    pub fn delete_vector_name(&self, name: &str, vector: &str) -> Result<()> {
        self.change_config(name, |config| config.without_vector_name(vector))
    }

    /// Persists a new configuration for a collection, then applies it.
    fn change_config(&self, name: &str, change: impl FnOnce(&CollectionConfig) -> Result<CollectionConfig>) -> Result<()> {
        let catalog = self.catalog.write();
        let real = catalog.aliases.get(name).map(String::as_str).unwrap_or(name);
        let collection =
            catalog.collections.get(real).ok_or_else(|| EngineError::collection_not_found(name))?;
        let config = change(&collection.config())?;
        warn_settings_not_in_effect(real, &config);
        let record = CollectionRecord { dir: collection.dir_name(), config: config.clone() };
        let tx = self.meta.begin_write()?;
        {
            let mut table = tx.open_table(COLLECTIONS)?;
            table.insert(real, encode(&record)?.as_slice())?;
        }
        tx.commit()?;
        collection.set_config(config)?;
        Ok(())
    }

    /// Deletes a collection and its aliases; `false` when it did not exist.
    pub fn delete_collection(&self, name: &str) -> Result<bool> {
        let mut catalog = self.catalog.write();
        let real = catalog.aliases.get(name).cloned().unwrap_or_else(|| name.to_string());
        let Some(collection) = catalog.collections.get(&real).cloned() else {
            return Ok(false);
        };
        let dropped_aliases: Vec<String> =
            catalog.aliases.iter().filter(|(_, t)| **t == real).map(|(a, _)| a.clone()).collect();
        let tx = self.meta.begin_write()?;
        {
            let mut table = tx.open_table(COLLECTIONS)?;
            table.remove(real.as_str())?;
            let mut aliases = tx.open_table(ALIASES)?;
            for alias in &dropped_aliases {
                aliases.remove(alias.as_str())?;
            }
        }
        tx.commit()?;
        catalog.collections.remove(&real);
        for alias in &dropped_aliases {
            catalog.aliases.remove(alias);
        }
        drop(catalog);
        collection.destroy()?;
        Ok(true)
    }

    /// Applies alias changes atomically: all of them, or none.
    pub fn update_aliases(&self, request: ChangeAliasesOperation) -> Result<()> {
        let mut catalog = self.catalog.write();
        let mut aliases = catalog.aliases.clone();
        for action in request.actions {
            match action {
                AliasOperation::CreateAlias { collection_name, alias_name } => {
                    validate_collection_name(&alias_name)?;
                    if !catalog.collections.contains_key(&collection_name) {
                        return Err(EngineError::collection_not_found(&collection_name));
                    }
                    if catalog.collections.contains_key(&alias_name) {
                        // Qdrant: 409, StorageError::AlreadyExists.
                        return Err(EngineError::AlreadyExists(format!(
                            "Collection with name `{alias_name}` already exists!"
                        )));
                    }
                    aliases.insert(alias_name, collection_name);
                }
                AliasOperation::DeleteAlias { alias_name } => {
                    if aliases.remove(&alias_name).is_none() {
                        return Err(EngineError::NotFound(format!("Alias `{alias_name}` doesn't exist!")));
                    }
                }
                AliasOperation::RenameAlias { old_alias_name, new_alias_name } => {
                    validate_collection_name(&new_alias_name)?;
                    if catalog.collections.contains_key(&new_alias_name) {
                        // Qdrant: 409, StorageError::AlreadyExists.
                        return Err(EngineError::AlreadyExists(format!(
                            "Collection with name `{new_alias_name}` already exists!"
                        )));
                    }
                    let target = aliases.remove(&old_alias_name).ok_or_else(|| {
                        EngineError::NotFound(format!("Alias `{old_alias_name}` doesn't exist!"))
                    })?;
                    aliases.insert(new_alias_name, target);
                }
            }
        }
        let tx = self.meta.begin_write()?;
        {
            let mut table = tx.open_table(ALIASES)?;
            for old in catalog.aliases.keys() {
                if !aliases.contains_key(old) {
                    table.remove(old.as_str())?;
                }
            }
            for (alias, target) in &aliases {
                if catalog.aliases.get(alias) != Some(target) {
                    table.insert(alias.as_str(), target.as_str())?;
                }
            }
        }
        tx.commit()?;
        catalog.aliases = aliases;
        Ok(())
    }

    /// Every alias, sorted by alias name.
    pub fn list_aliases(&self) -> Vec<AliasDescription> {
        self.catalog
            .read()
            .aliases
            .iter()
            .map(|(a, c)| AliasDescription { alias_name: a.clone(), collection_name: c.clone() })
            .collect()
    }

    /// Aliases of one collection, looked up by its literal name.
    pub fn collection_aliases(&self, name: &str) -> Result<Vec<AliasDescription>> {
        let catalog = self.catalog.read();
        if !catalog.collections.contains_key(name) && !catalog.aliases.contains_key(name) {
            return Err(EngineError::collection_not_found(name));
        }
        Ok(catalog
            .aliases
            .iter()
            .filter(|(_, c)| c.as_str() == name)
            .map(|(a, c)| AliasDescription { alias_name: a.clone(), collection_name: c.clone() })
            .collect())
    }

    /// Whether some point of `collection` has every `(payload key, value)`
    /// pair: the stateful check of a JWT's `value_exists` claim, run with full
    /// access. A pair the filter language cannot express matches nothing;
    /// a missing collection is [`EngineError::NotFound`].
    pub fn any_point_matches(&self, collection: &str, pairs: &[(String, serde_json::Value)]) -> Result<bool> {
        let must: Vec<serde_json::Value> = pairs
            .iter()
            .map(|(key, value)| serde_json::json!({"key": key, "match": {"value": value}}))
            .collect();
        let collection = self.collection(collection)?;
        let Ok(request) = serde_json::from_value::<crate::requests::CountRequest>(
            serde_json::json!({"filter": {"must": must}, "exact": true}),
        ) else {
            return Ok(false);
        };
        Ok(collection.count(request)?.count > 0)
    }

    /// Reads a small value from the metadata store (server settings, key hashes).
    pub fn meta_get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let tx = self.meta.begin_read()?;
        let table = tx.open_table(KV)?;
        Ok(table.get(key)?.map(|v| v.value().to_vec()))
    }

    /// Writes a small value to the metadata store, durably.
    pub fn meta_put(&self, key: &str, value: &[u8]) -> Result<()> {
        let tx = self.meta.begin_write()?;
        {
            let mut table = tx.open_table(KV)?;
            table.insert(key, value)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Every collection (by real name) and every alias, read under one lock so
    /// that they agree with each other (full snapshots).
    pub(crate) fn catalog_view(&self) -> CatalogView {
        let catalog = self.catalog.read();
        let collections = catalog.collections.iter().map(|(n, c)| (n.clone(), c.clone())).collect();
        (collections, catalog.aliases.clone())
    }

    /// The name a snapshot recovery writes to: the collection an alias points
    /// at, an existing collection, or a new (valid) collection name.
    pub(crate) fn recovery_target(&self, name_or_alias: &str) -> Result<String> {
        let catalog = self.catalog.read();
        if let Some(real) = catalog.aliases.get(name_or_alias) {
            return Ok(real.clone());
        }
        if !catalog.collections.contains_key(name_or_alias) {
            validate_collection_name(name_or_alias)?;
        }
        Ok(name_or_alias.to_string())
    }

    /// Puts an opened collection (directory `collections/<dir>`) in the place
    /// of collection `name`, or adds it when `name` is new: the metadata store
    /// and the catalog change together, under the catalog lock. Returns the
    /// replaced collection, whose files the caller removes. Aliases of `name`
    /// keep pointing at it.
    pub(crate) fn swap_collection(
        &self,
        name: &str,
        dir: String,
        config: CollectionConfig,
        collection: Collection,
    ) -> Result<Option<Arc<Collection>>> {
        let mut catalog = self.catalog.write();
        if catalog.aliases.contains_key(name) {
            return Err(EngineError::BadRequest(format!(
                "Collection `{name}` became an alias during the recovery; recover again"
            )));
        }
        let record = CollectionRecord { dir, config };
        let tx = self.meta.begin_write()?;
        {
            let mut table = tx.open_table(COLLECTIONS)?;
            table.insert(name, encode(&record)?.as_slice())?;
        }
        tx.commit()?;
        let replaced = catalog.collections.insert(name.to_string(), Arc::new(collection));
        if let Some(old) = &replaced {
            old.mark_dropped();
        }
        Ok(replaced)
    }

    /// Flushes every collection's state to disk (on shutdown).
    pub fn flush_all(&self) -> Result<()> {
        let collections: Vec<Arc<Collection>> = self.catalog.read().collections.values().cloned().collect();
        for c in collections {
            c.checkpoint()?;
        }
        Ok(())
    }
}

/// Every second, fsyncs the logs of all collections, so writes acknowledged
/// with `wait=false` become durable soon after; stops when the storage is dropped.
/// Names, in the log, the settings of `config` that are stored but not acted
/// on yet: accepted so that Qdrant clients and configs work, never silently.
fn warn_settings_not_in_effect(collection: &str, config: &CollectionConfig) {
    let settings = config.settings_not_in_effect();
    if !settings.is_empty() {
        tracing::warn!(
            collection,
            settings = %settings.join(", "),
            "these settings are stored and reported but not in effect yet: vectors stay in memory as float32, unquantized, and strict-mode limits are not enforced"
        );
    }
}

fn spawn_flusher(storage: std::sync::Weak<Storage>) {
    let spawned = std::thread::Builder::new().name("wal-flusher".into()).spawn(move || {
        loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
            let Some(storage) = storage.upgrade() else { return };
            let collections: Vec<Arc<Collection>> = storage.catalog.read().collections.values().cloned().collect();
            drop(storage);
            for c in collections {
                if let Err(e) = c.sync_log() {
                    tracing::error!(collection = c.name(), error = %e, "background log sync failed");
                }
            }
        }
    });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "could not start the log flusher; wait=false writes sync only on checkpoints");
    }
}

/// Builds vector indexes in the background, one column at a time, as
/// collections pass their indexing threshold; stops when the storage is dropped.
fn spawn_optimizer(storage: std::sync::Weak<Storage>) {
    let spawned = std::thread::Builder::new().name("optimizer".into()).spawn(move || {
        loop {
            let Some(strong) = storage.upgrade() else { return };
            let collections: Vec<Arc<Collection>> = strong.catalog.read().collections.values().cloned().collect();
            drop(strong);
            let gone = || storage.strong_count() == 0;
            let mut worked = false;
            for c in collections {
                worked |= c.optimize_once(&gone);
            }
            if !worked {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
    });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "could not start the optimizer; search stays exact");
    }
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| EngineError::Service(e.to_string()))
}
