//! Snapshots: tar archives of a collection (its configuration and its
//! checkpoint), and full-storage snapshots holding every collection's archive
//! plus the aliases.
//!
//! Layout under `snapshots_path`:
//! - `<collection>/<collection>-<YYYY-MM-DD-HH-MM-SS>.snapshot`, with the
//!   SHA-256 of the file (hex) in `<name>.checksum` next to it;
//! - `full-snapshot-<YYYY-MM-DD-HH-MM-SS>.snapshot` (+ `.checksum`);
//! - `.tmp-<uuid>.part`: an archive being written, in the directory where it
//!   will be published (so publishing is a link within one directory);
//! - `.upload-<uuid>-<file name>.part`: a multipart upload being received.
//!
//! A collection archive holds `osprey-snapshot.json` (format and version),
//! `config.json` (the collection's configuration) and `points.bin` (its
//! checkpoint, crc-checked). A full archive holds `osprey-snapshot.json`
//! (collection name -> entry, and the aliases) and `collections/<i>.snapshot`.
//!
//! Names given by clients are resolved only by canonicalising `<dir>/<name>`
//! and requiring a regular file directly inside `<dir>`; anything else is
//! "not found", never a path elsewhere. Recovery unpacks into a fresh
//! directory under `<storage_path>/.snapshot-tmp/`, accepting only regular
//! files and directories whose paths stay inside it, and never overwriting;
//! then it checks the content, builds the new collection directory and swaps
//! it in. Errors never quote the content of a file.
//!
//! Startup recovery (`--snapshot`, `--storage-snapshot`) uses the same
//! unpacking, but unpacks and checks every file it was given before it
//! changes anything, and leaves existing names alone unless forced.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::collection::{CHECKPOINT_FILE, Collection};
use crate::config::{CollectionConfig, validate_collection_name};
use crate::error::{EngineError, Result};
use crate::segment::PointStore;
use crate::storage::{AliasOperation, ChangeAliasesOperation, Storage};

const MANIFEST: &str = "osprey-snapshot.json";
const CONFIG: &str = "config.json";
const COLLECTION_FORMAT: &str = "osprey-collection";
const FULL_FORMAT: &str = "osprey-full";
const FORMAT_VERSION: u32 = 1;
const SUFFIX: &str = ".snapshot";
const CHECKSUM_SUFFIX: &str = ".checksum";
const TEMP_PREFIX: &str = ".tmp-";
const UPLOAD_PREFIX: &str = ".upload-";
const PART_SUFFIX: &str = ".part";
const FULL_PREFIX: &str = "full-snapshot";
/// Under the storage directory: where recoveries unpack.
const STORAGE_TEMP_DIR: &str = ".snapshot-tmp";
/// An archive of ours has three entries; anything near this is not one.
const MAX_ENTRIES: usize = 1024;
/// Upper bound for `osprey-snapshot.json` and `config.json`.
const MAX_SMALL_FILE: u64 = 16 * 1024 * 1024;
/// Longest uploaded file name kept (bytes); longer ones get a random name.
const MAX_UPLOAD_NAME: usize = 128;

/// A stored snapshot, as `GET …/snapshots` lists it (Qdrant's
/// `SnapshotDescription`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotDescription {
    pub name: String,
    /// Last modification of the file, UTC, `YYYY-MM-DDTHH:MM:SS`.
    pub creation_time: Option<String>,
    pub size: u64,
    /// SHA-256 of the file, hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ManifestHeader {
    format: String,
    version: u32,
}

#[derive(Debug, Serialize, Deserialize)]
struct CollectionManifest {
    format: String,
    version: u32,
    /// The name the collection had when the snapshot was taken (informative:
    /// recovery writes to the collection named in the request).
    collection: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct FullManifest {
    format: String,
    version: u32,
    /// Collection name -> path of its archive inside the full archive.
    collections: BTreeMap<String, String>,
    /// Alias -> collection name.
    aliases: BTreeMap<String, String>,
}

/// What a startup recovery did: the collections and aliases recovered, and
/// those skipped with the reason (to be logged: a skipped name is a recovery
/// the operator asked for and did not get).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Recovery {
    /// Collections created or replaced from a snapshot, in order.
    pub recovered: Vec<String>,
    /// Collections left as they were.
    pub skipped: Vec<Skipped>,
    /// Aliases restored (including those already pointing where the snapshot says).
    pub aliases: Vec<String>,
    /// Aliases not restored.
    pub skipped_aliases: Vec<Skipped>,
}

/// A name a recovery left alone, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub name: String,
    pub reason: String,
}

impl Recovery {
    fn skip(&mut self, name: String, reason: String) {
        self.skipped.push(Skipped { name, reason });
    }

    fn skip_alias(&mut self, name: String, reason: String) {
        self.skipped_aliases.push(Skipped { name, reason });
    }
}

/// What holds a name a startup recovery wants to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Taken {
    Collection,
    Alias,
    /// A collection whose files could not be opened at start: they await
    /// repair and are never replaced by a recovery.
    Unavailable,
}

impl Taken {
    fn reason(self, force: bool) -> String {
        match (self, force) {
            (Taken::Collection, _) => "the collection exists; --force-snapshot replaces it".into(),
            (Taken::Alias, false) => "an alias of that name exists; --force-snapshot replaces its collection".into(),
            (Taken::Alias, true) => {
                "an alias of that name exists; a full snapshot does not replace the collection it points at".into()
            }
            (Taken::Unavailable, _) => {
                "the collection exists but could not be opened at start; its files are left for repair".into()
            }
        }
    }
}

impl Storage {
    // ---- collection snapshots ------------------------------------------

    /// Checkpoints the collection (or the one an alias points at) and archives
    /// its configuration and points into a new snapshot file.
    pub fn create_snapshot(&self, collection: &str) -> Result<SnapshotDescription> {
        let collection = self.collection(collection)?;
        let name = collection.name().to_string();
        let dir = self.collection_snapshot_dir(&name)?;
        let (config, points) = collection.checkpoint_for_snapshot()?;
        archive_into(&dir, &name, &name, &config, points)
    }

    /// The snapshots of a collection (or of the one an alias points at), by name.
    pub fn list_snapshots(&self, collection: &str) -> Result<Vec<SnapshotDescription>> {
        let name = self.resolve(collection)?;
        list_dir(&self.collection_snapshot_dir(&name)?)
    }

    /// The file of a collection snapshot: a regular file directly inside the
    /// collection's snapshot directory, after canonicalisation; anything else
    /// (`/`, `..`, NUL, symlinks, directories, missing files) is
    /// `Not found: Snapshot <name> not found`.
    pub fn snapshot_path(&self, collection: &str, snapshot: &str) -> Result<PathBuf> {
        let name = self.resolve(collection)?;
        confined_file(&self.collection_snapshot_dir(&name)?, snapshot)
    }

    /// Deletes a collection snapshot and its checksum file.
    pub fn delete_snapshot(&self, collection: &str, snapshot: &str) -> Result<bool> {
        let path = self.snapshot_path(collection, snapshot)?;
        remove_snapshot_file(&path)?;
        Ok(true)
    }

    // ---- shard snapshots ------------------------------------------------

    /// Where the snapshots of shard `shard` of collection `name` are kept:
    /// `<snapshots>/<collection>/shards/<shard>/`, beside (not among) the
    /// collection's own snapshots.
    fn shard_snapshot_dir(&self, name: &str, shard: u32) -> Result<PathBuf> {
        Ok(self.collection_snapshot_dir(name)?.join("shards").join(shard.to_string()))
    }

    /// Archives the points of one local shard (a shard key's points, or all
    /// of a collection without custom sharding) in the collection format.
    pub fn create_shard_snapshot(&self, collection: &str, shard: u32) -> Result<SnapshotDescription> {
        let collection = self.collection(collection)?;
        let name = collection.name().to_string();
        let (config, points) = collection.shard_snapshot(shard)?;
        let dir = self.shard_snapshot_dir(&name, shard)?;
        archive_into(&dir, &format!("{name}-shard-{shard}"), &name, &config, points)
    }

    pub fn list_shard_snapshots(&self, collection: &str, shard: u32) -> Result<Vec<SnapshotDescription>> {
        let collection = self.collection(collection)?;
        collection.shard_key_of_shard(shard)?;
        list_dir(&self.shard_snapshot_dir(collection.name(), shard)?)
    }

    /// The file of a shard snapshot, confined as [`Storage::snapshot_path`].
    pub fn shard_snapshot_path(&self, collection: &str, shard: u32, snapshot: &str) -> Result<PathBuf> {
        let collection = self.collection(collection)?;
        collection.shard_key_of_shard(shard)?;
        confined_file(&self.shard_snapshot_dir(collection.name(), shard)?, snapshot)
    }

    pub fn delete_shard_snapshot(&self, collection: &str, shard: u32, snapshot: &str) -> Result<bool> {
        let path = self.shard_snapshot_path(collection, shard, snapshot)?;
        remove_snapshot_file(&path)?;
        Ok(true)
    }

    /// Replaces the points of one shard with those of a snapshot file (a
    /// shard or collection snapshot of a collection with the same vectors).
    pub fn recover_shard_from_file(&self, collection: &str, shard: u32, path: &Path, checksum: Option<String>) -> Result<()> {
        let collection = self.collection(collection)?;
        collection.shard_key_of_shard(shard)?;
        verify_checksum(path, checksum)?;
        let temp = self.recovery_temp_dir()?;
        let unpacked = temp.path().join("shard");
        let config = unpack_collection_archive(path, &unpacked)?;
        let file = unpacked.join(CHECKPOINT_FILE);
        let bytes = fs::read(&file).map_err(|e| EngineError::io(format!("reading {}", file.display()), e))?;
        let points = crate::segment::PointStore::decode(&bytes, &file)?;
        collection.replace_shard(shard, &config, &points)
    }

    // ---- full-storage snapshots ----------------------------------------

    /// Archives every collection (each checkpointed first) and the aliases
    /// into `full-snapshot-<datetime>.snapshot` in the snapshots directory.
    pub fn create_full_snapshot(&self) -> Result<SnapshotDescription> {
        let root = self.config().snapshots_path.clone();
        create_dir(&root)?;
        let (collections, aliases) = self.catalog_view();
        let entries: BTreeMap<String, String> = collections
            .iter()
            .enumerate()
            .map(|(i, (name, _))| (name.clone(), format!("collections/{i}{SUFFIX}")))
            .collect();
        let manifest =
            FullManifest { format: FULL_FORMAT.into(), version: FORMAT_VERSION, collections: entries.clone(), aliases };
        let manifest = serde_json::to_vec_pretty(&manifest).map_err(|e| EngineError::Service(e.to_string()))?;

        let temp = Removed::file(root.join(temp_name()));
        let io_err = |e| EngineError::io(format!("writing {}", temp.path().display()), e);
        let mut builder = tar::Builder::new(HashingWriter::create(temp.path())?);
        append_bytes(&mut builder, MANIFEST, &manifest).map_err(io_err)?;
        for (name, collection) in &collections {
            let (config, points) = collection.checkpoint_for_snapshot()?;
            let inner = Removed::file(root.join(temp_name()));
            {
                let file = create_new(inner.path())?;
                let mut out = BufWriter::new(file);
                write_collection_archive(&mut out, name, &config, &points)
                    .and_then(|()| out.flush())
                    .map_err(|e| EngineError::io(format!("writing {}", inner.path().display()), e))?;
            }
            drop(points);
            let mut file = File::open(inner.path())
                .map_err(|e| EngineError::io(format!("reading {}", inner.path().display()), e))?;
            let len = file.metadata().map_err(io_err)?.len();
            append_reader(&mut builder, &entries[name], len, &mut file).map_err(io_err)?;
        }
        let writer = builder.into_inner().map_err(io_err)?;
        let checksum = writer.finish(temp.path())?;
        let path = publish(temp.path(), &root, FULL_PREFIX, &checksum)?;
        describe(&path)
    }

    /// The full snapshots, by name.
    pub fn list_full_snapshots(&self) -> Result<Vec<SnapshotDescription>> {
        list_dir(&self.config().snapshots_path)
    }

    /// The file of a full snapshot, confined like [`Storage::snapshot_path`].
    pub fn full_snapshot_path(&self, snapshot: &str) -> Result<PathBuf> {
        confined_file(&self.config().snapshots_path, snapshot)
    }

    pub fn delete_full_snapshot(&self, snapshot: &str) -> Result<bool> {
        let path = self.full_snapshot_path(snapshot)?;
        remove_snapshot_file(&path)?;
        Ok(true)
    }

    // ---- recovery ------------------------------------------------------

    /// Where a `file://` recovery location may be read from: `path`
    /// canonicalised, inside the snapshots directory. Outside it (symlinks
    /// followed) -> `Forbidden: Snapshot file path must be inside the
    /// snapshots directory <dir>`; inside it but missing or not a regular
    /// file -> not found. A missing path is judged by its deepest existing
    /// ancestor, so the answer never tells whether a file outside exists.
    pub fn snapshot_location(&self, path: &Path) -> Result<PathBuf> {
        let configured = &self.config().snapshots_path;
        let forbidden = || {
            EngineError::Forbidden(format!(
                "Snapshot file path must be inside the snapshots directory {}",
                configured.display()
            ))
        };
        let not_found = || EngineError::NotFound(format!("Snapshot file {} not found", path.display()));
        if !path.is_absolute() {
            return Err(EngineError::BadInput(format!("Snapshot file path {} must be absolute", path.display())));
        }
        let root = fs::canonicalize(configured)
            .map_err(|e| EngineError::io(format!("resolving {}", configured.display()), e))?;
        match fs::canonicalize(path) {
            Ok(real) if real.starts_with(&root) => {
                if fs::metadata(&real).is_ok_and(|m| m.is_file()) {
                    Ok(real)
                } else {
                    Err(not_found())
                }
            }
            Ok(_) => Err(forbidden()),
            Err(_) => {
                let mut ancestor = path;
                let mut tail_has_parent = false;
                loop {
                    let Some(parent) = ancestor.parent() else { return Err(forbidden()) };
                    if ancestor.file_name().is_none() {
                        // The last component is `..`: it cannot be judged
                        // without the directory it leaves.
                        tail_has_parent = true;
                    }
                    ancestor = parent;
                    if let Ok(real) = fs::canonicalize(ancestor) {
                        return if real.starts_with(&root) && !tail_has_parent {
                            Err(not_found())
                        } else {
                            Err(forbidden())
                        };
                    }
                }
            }
        }
    }

    /// Replaces collection `collection` (or the one an alias points at; a new
    /// collection when the name is free) with the content of a snapshot file.
    /// `checksum` (SHA-256 hex) is verified first when given. The archive is
    /// unpacked into a temporary directory under the storage directory and
    /// validated; only then is the new collection directory built and swapped
    /// into the catalog and the metadata store, and the old one removed.
    pub fn recover_from_file(&self, collection: &str, path: &Path, checksum: Option<String>) -> Result<()> {
        let target = self.recovery_target(collection)?;
        verify_checksum(path, checksum)?;
        let temp = self.recovery_temp_dir()?;
        let unpacked = temp.path().join("collection");
        let config = unpack_collection_archive(path, &unpacked)?;
        self.install_unpacked(&target, &unpacked, config)
    }

    /// Startup recovery (`--snapshot PATH:COLLECTION`, repeatable): recovers
    /// each collection from its collection snapshot file, in order. A name
    /// that is taken (a collection, an alias, or a collection that could not
    /// be opened) is skipped unless `force`; with `force` it is replaced (an
    /// alias's collection, as [`Storage::recover_from_file`] does).
    ///
    /// Every name is validated and every file unpacked and checked before
    /// anything changes, so a missing or damaged file leaves the storage as
    /// it was. Errors name the file.
    pub fn recover_collection_snapshots(&self, snapshots: &[(String, PathBuf)], force: bool) -> Result<Recovery> {
        let temp = self.recovery_temp_dir()?;
        let mut prepared = Vec::with_capacity(snapshots.len());
        for (i, (collection, path)) in snapshots.iter().enumerate() {
            let named = |e: EngineError| in_file(path, e);
            let target = self.recovery_target(collection).map_err(named)?;
            let unpacked = temp.path().join(i.to_string());
            let config = unpack_collection_archive(path, &unpacked).map_err(named)?;
            prepared.push((collection.clone(), target, unpacked, config));
        }
        let mut report = Recovery::default();
        for (collection, target, unpacked, config) in prepared {
            if let Some(taken) = self.taken_by(&collection) {
                // With `force`, an alias's collection is replaced, as the
                // recover API does; files that could not be opened never are.
                if !force || taken == Taken::Unavailable {
                    report.skip(collection, taken.reason(force));
                    continue;
                }
            }
            self.install_unpacked(&target, &unpacked, config)?;
            report.recovered.push(collection);
        }
        Ok(report)
    }

    /// Startup recovery (`--storage-snapshot PATH`): recovers every collection
    /// of a full snapshot (made by [`Storage::create_full_snapshot`]) and its
    /// aliases.
    ///
    /// A collection whose name is taken is skipped unless `force`, then it is
    /// replaced; a name held by an alias or by a collection that could not be
    /// opened is skipped even with `force`, since replacing it would change a
    /// different collection or lose files nobody has looked at. An alias is
    /// restored unless its name is a collection, or an alias pointing
    /// elsewhere (that one is repointed with `force`).
    ///
    /// The outer archive and every collection archive in it are unpacked (by
    /// the same checked unpacking as [`Storage::recover_from_file`], under the
    /// storage directory) and checked before anything changes: a file that is
    /// missing, damaged or not an Osprey full snapshot is an error naming the
    /// file, and the storage is left as it was.
    pub fn recover_full_snapshot(&self, path: &Path, force: bool) -> Result<Recovery> {
        let named = |e: EngineError| in_file(path, e);
        let temp = self.recovery_temp_dir().map_err(named)?;
        let outer = temp.path().join("full");
        create_dir(&outer)?;
        let file = open_snapshot_file(path).map_err(named)?;
        unpack_checked(BufReader::new(file), &outer).map_err(named)?;
        let (collections, aliases) = read_full_archive(&outer).map_err(named)?;

        let mut prepared = Vec::with_capacity(collections.len());
        for (i, (name, entry)) in collections.iter().enumerate() {
            let inner = outer.join(entry);
            let unpacked = temp.path().join(i.to_string());
            let config = unpack_collection_archive(&inner, &unpacked).map_err(|e| match e {
                // The inner archive's own complaint, told as the full snapshot's.
                EngineError::BadRequest(reason) => in_file(
                    path,
                    invalid_full(&format!("the archive of collection `{name}` ({}): {reason}", entry.display())),
                ),
                other => in_file(path, other),
            })?;
            // Unpacked and checked: the inner archive is not needed any more.
            let _ = fs::remove_file(&inner);
            prepared.push((name.clone(), unpacked, config));
        }

        let mut report = Recovery::default();
        for (name, unpacked, config) in prepared {
            if let Some(taken) = self.taken_by(&name) {
                // An alias is not replaced by a collection of its name: with
                // `force` that would overwrite the collection it points at.
                if !force || taken != Taken::Collection {
                    report.skip(name, taken.reason(force));
                    continue;
                }
            }
            self.install_unpacked(&name, &unpacked, config)?;
            report.recovered.push(name);
        }
        self.restore_aliases(aliases, force, &mut report)?;
        Ok(report)
    }

    /// Restores the aliases of a full snapshot in one atomic alias change,
    /// skipping those whose name is taken (see [`Storage::recover_full_snapshot`]).
    fn restore_aliases(&self, aliases: BTreeMap<String, String>, force: bool, report: &mut Recovery) -> Result<()> {
        let existing: BTreeMap<String, String> =
            self.list_aliases().into_iter().map(|a| (a.alias_name, a.collection_name)).collect();
        let collections = self.list_collections();
        let mut actions = Vec::new();
        for (alias, target) in aliases {
            if !collections.contains(&target) {
                // Its collection was skipped for a reason that left nothing
                // under that name (held by an alias, or unavailable).
                report.skip_alias(alias, format!("its collection `{target}` was not recovered"));
                continue;
            }
            match existing.get(&alias) {
                Some(current) if *current == target => {
                    report.aliases.push(alias);
                    continue;
                }
                Some(current) if !force => {
                    report.skip_alias(alias, format!("it exists and points at `{current}`; --force-snapshot repoints it"));
                    continue;
                }
                Some(_) => {}
                None if self.taken_by(&alias).is_some() => {
                    report.skip_alias(alias, "a collection of that name exists".into());
                    continue;
                }
                None => {}
            }
            actions.push(AliasOperation::CreateAlias { collection_name: target, alias_name: alias.clone() });
            report.aliases.push(alias);
        }
        if !actions.is_empty() {
            self.update_aliases(ChangeAliasesOperation { actions })?;
        }
        Ok(())
    }

    /// Whether `name` counts as existing for a startup recovery, and as what.
    fn taken_by(&self, name: &str) -> Option<Taken> {
        if self.list_aliases().iter().any(|a| a.alias_name == name) {
            return Some(Taken::Alias);
        }
        match self.collection(name) {
            Ok(_) => Some(Taken::Collection),
            Err(EngineError::NotFound(_)) => None,
            Err(_) => Some(Taken::Unavailable),
        }
    }

    /// A fresh directory under `<storage>/.snapshot-tmp/`, removed on drop
    /// (and, after a crash, when the storage next opens).
    fn recovery_temp_dir(&self) -> Result<Removed> {
        let temp_root = self.config().storage_path.join(STORAGE_TEMP_DIR);
        create_dir(&temp_root)?;
        let dir = Removed::dir(temp_root.join(uuid::Uuid::new_v4().to_string()));
        create_dir(dir.path())?;
        Ok(dir)
    }

    /// Builds a new collection directory from an unpacked, checked collection
    /// archive (`points.bin` is moved, not copied) and swaps it in as `target`.
    fn install_unpacked(&self, target: &str, unpacked: &Path, config: CollectionConfig) -> Result<()> {
        let record_dir = uuid::Uuid::new_v4().to_string();
        let new_dir = Removed::dir(self.config().storage_path.join("collections").join(&record_dir));
        fs::create_dir(new_dir.path())
            .map_err(|e| EngineError::io(format!("creating {}", new_dir.path().display()), e))?;
        let checkpoint = new_dir.path().join(CHECKPOINT_FILE);
        fs::rename(unpacked.join(CHECKPOINT_FILE), &checkpoint)
            .map_err(|e| EngineError::io(format!("moving the checkpoint to {}", checkpoint.display()), e))?;
        sync_dir(new_dir.path())?;
        let opened = Collection::open(target, new_dir.path(), config.clone())?;
        let replaced = self.swap_collection(target, record_dir, config, opened)?;
        new_dir.keep();
        if let Some(old) = replaced
            && let Err(err) = old.destroy()
        {
            tracing::error!(collection = target, error = %err, "recovered, but the old collection files remain");
        }
        tracing::info!(collection = target, "collection recovered from a snapshot");
        Ok(())
    }

    /// A new, unused path in the snapshots directory for receiving an upload
    /// called `file_name` (reduced by [`upload_file_name`]).
    pub fn snapshot_upload_path(&self, file_name: Option<&str>) -> Result<PathBuf> {
        let root = &self.config().snapshots_path;
        create_dir(root)?;
        let name = upload_file_name(file_name);
        Ok(root.join(format!("{UPLOAD_PREFIX}{}-{name}{PART_SUFFIX}", uuid::Uuid::new_v4())))
    }

    /// `<snapshots_path>/<collection>`, for a real (validated) collection name.
    fn collection_snapshot_dir(&self, name: &str) -> Result<PathBuf> {
        if !is_plain_component(name) {
            return Err(EngineError::collection_not_found(name));
        }
        Ok(self.config().snapshots_path.join(name))
    }
}

/// The name an uploaded snapshot is kept under: the last path component of
/// the client's file name (`/` and `\` both separate), or a random UUID when
/// there is none, it is `.`/`..`, it has control characters, or it is long.
/// A client that cannot send the name as UTF-8 passes `None`.
pub fn upload_file_name(raw: Option<&str>) -> String {
    raw.and_then(|r| r.rsplit(['/', '\\']).next())
        .filter(|n| {
            !n.is_empty() && *n != "." && *n != ".." && n.len() <= MAX_UPLOAD_NAME && !n.chars().any(char::is_control)
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// Removes what an interrupted snapshot operation left behind (called when
/// the storage opens, before anything else can be writing there).
pub(crate) fn remove_leftovers(config: &crate::StorageConfig) {
    let temp = config.storage_path.join(STORAGE_TEMP_DIR);
    if let Err(e) = fs::remove_dir_all(&temp)
        && e.kind() != io::ErrorKind::NotFound
    {
        tracing::warn!(path = %temp.display(), error = %e, "cannot remove leftover snapshot files");
    }
    let leftover = |name: &str| {
        (name.starts_with(TEMP_PREFIX) || name.starts_with(UPLOAD_PREFIX)) && name.ends_with(PART_SUFFIX)
            || name.ends_with(".snapshot.tmp")
    };
    let mut dirs = vec![config.snapshots_path.clone()];
    if let Ok(entries) = fs::read_dir(&config.snapshots_path) {
        dirs.extend(entries.flatten().filter(|e| e.file_type().is_ok_and(|t| t.is_dir())).map(|e| e.path()));
    }
    for dir in dirs {
        let Ok(entries) = fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let is_file = entry.file_type().is_ok_and(|t| t.is_file());
            if is_file && entry.file_name().to_str().is_some_and(leftover) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

// ---- archives --------------------------------------------------------------

/// Writes a collection archive of `config` and `points` into `dir` as a new
/// `<stem>-<datetime>.snapshot` with its checksum file, and describes it.
fn archive_into(dir: &Path, stem: &str, name: &str, config: &CollectionConfig, points: Vec<u8>) -> Result<SnapshotDescription> {
    create_dir(dir)?;
    let temp = Removed::file(dir.join(temp_name()));
    let mut writer = HashingWriter::create(temp.path())?;
    write_collection_archive(&mut writer, name, config, &points)
        .map_err(|e| EngineError::io(format!("writing {}", temp.path().display()), e))?;
    drop(points);
    let checksum = writer.finish(temp.path())?;
    let path = publish(temp.path(), dir, stem, &checksum)?;
    describe(&path)
}

/// Checks a snapshot file against the SHA-256 hex a request gave, if any.
fn verify_checksum(path: &Path, checksum: Option<String>) -> Result<()> {
    let Some(expected) = checksum else { return Ok(()) };
    let actual = sha256_file(path)?;
    if !actual.eq_ignore_ascii_case(&expected) {
        return Err(EngineError::BadRequest(format!("Snapshot checksum mismatch: expected {expected}, got {actual}")));
    }
    Ok(())
}

fn write_collection_archive<W: Write>(out: W, name: &str, config: &CollectionConfig, points: &[u8]) -> io::Result<()> {
    let manifest =
        CollectionManifest { format: COLLECTION_FORMAT.into(), version: FORMAT_VERSION, collection: name.to_string() };
    let manifest = serde_json::to_vec_pretty(&manifest).map_err(io::Error::other)?;
    let config = serde_json::to_vec_pretty(config).map_err(io::Error::other)?;
    let mut builder = tar::Builder::new(out);
    append_bytes(&mut builder, MANIFEST, &manifest)?;
    append_bytes(&mut builder, CONFIG, &config)?;
    append_bytes(&mut builder, CHECKPOINT_FILE, points)?;
    builder.into_inner()?.flush()
}

fn append_bytes<W: Write>(builder: &mut tar::Builder<W>, path: &str, bytes: &[u8]) -> io::Result<()> {
    append_reader(builder, path, bytes.len() as u64, bytes)
}

fn append_reader<W: Write, R: Read>(builder: &mut tar::Builder<W>, path: &str, len: u64, data: R) -> io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(len);
    header.set_mode(0o644);
    header.set_mtime(chrono::Utc::now().timestamp().max(0) as u64);
    builder.append_data(&mut header, path, data)
}

/// Unpacks a tar stream into `target` (an empty directory). Only regular
/// files and directories are accepted; every path must be relative and stay
/// inside `target` (no `..`, no root); no file is ever overwritten. Links,
/// devices, FIFOs and sparse entries are refused. Error messages name entries
/// by position only, never by content.
fn unpack_checked<R: Read>(reader: R, target: &Path) -> Result<()> {
    let invalid = |what: String| EngineError::BadRequest(format!("Snapshot is not a valid archive: {what}"));
    let mut archive = tar::Archive::new(reader);
    let entries = archive.entries().map_err(|_| invalid("cannot read it as a tar archive".into()))?;
    for (index, entry) in entries.enumerate() {
        if index >= MAX_ENTRIES {
            return Err(invalid(format!("more than {MAX_ENTRIES} entries")));
        }
        let mut entry = entry.map_err(|_| invalid(format!("entry {index} cannot be read")))?;
        let kind = entry.header().entry_type();
        let path = entry.path().map_err(|_| invalid(format!("entry {index} has an unreadable path")))?;
        let relative =
            confined_relative(&path).ok_or_else(|| invalid(format!("entry {index} has a path outside the archive")))?;
        let dest = target.join(&relative);
        if kind == tar::EntryType::Directory {
            fs::create_dir_all(&dest).map_err(|_| invalid(format!("entry {index} cannot be created")))?;
        } else if kind == tar::EntryType::Regular {
            if relative.as_os_str().is_empty() {
                return Err(invalid(format!("entry {index} is a file without a name")));
            }
            if let Some(parent) = dest.parent() {
                fs::create_dir_all(parent).map_err(|_| invalid(format!("entry {index} cannot be created")))?;
            }
            let mut file = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&dest)
                .map_err(|_| invalid(format!("entry {index} would overwrite another entry")))?;
            io::copy(&mut entry, &mut file).map_err(|_| invalid(format!("entry {index} is truncated")))?;
        } else {
            return Err(invalid(format!(
                "entry {index} is a {}; only regular files and directories are accepted",
                kind_name(kind)
            )));
        }
    }
    Ok(())
}

fn kind_name(kind: tar::EntryType) -> &'static str {
    match kind {
        tar::EntryType::Symlink => "symbolic link",
        tar::EntryType::Link => "hard link",
        tar::EntryType::Char | tar::EntryType::Block => "device",
        tar::EntryType::Fifo => "FIFO",
        tar::EntryType::GNUSparse => "sparse file",
        _ => "special entry",
    }
}

/// `path` as a relative path of plain components (`.` dropped), or `None`
/// when it is absolute or has a `..`.
fn confined_relative(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// Checks an unpacked collection archive and returns its configuration;
/// `points.bin` stays in `dir`, known to decode and to fit the configuration.
fn read_collection_archive(dir: &Path) -> Result<CollectionConfig> {
    let invalid =
        |what: &str| EngineError::BadRequest(format!("Snapshot is not a valid Osprey collection snapshot: {what}"));
    let manifest = read_small(&dir.join(MANIFEST)).ok_or_else(|| invalid("it has no readable osprey-snapshot.json"))?;
    let header: ManifestHeader =
        serde_json::from_slice(&manifest).map_err(|_| invalid("osprey-snapshot.json is not a snapshot manifest"))?;
    if header.format == FULL_FORMAT {
        return Err(invalid("it is a full-storage snapshot, not a collection snapshot"));
    }
    if header.format != COLLECTION_FORMAT || header.version != FORMAT_VERSION {
        return Err(invalid("unknown snapshot format or version"));
    }
    let config = read_small(&dir.join(CONFIG)).ok_or_else(|| invalid("it has no readable config.json"))?;
    let config: CollectionConfig = serde_json::from_slice(&config).map_err(|e| {
        EngineError::BadRequest(format!(
            "Snapshot is not a valid Osprey collection snapshot: config.json is not a collection configuration \
             (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    let checkpoint = dir.join(CHECKPOINT_FILE);
    if !fs::symlink_metadata(&checkpoint).is_ok_and(|m| m.is_file()) {
        return Err(invalid("it has no points.bin"));
    }
    let bytes = fs::read(&checkpoint).map_err(|e| EngineError::io(format!("reading {}", checkpoint.display()), e))?;
    let store = PointStore::decode(&bytes, &checkpoint).map_err(|_| invalid("points.bin is not a valid checkpoint"))?;
    if let Err(reason) = store.check_against(&config) {
        tracing::debug!(reason, "snapshot points do not fit its configuration");
        return Err(invalid("points.bin does not fit config.json"));
    }
    Ok(config)
}

/// What a checked full archive holds: (collection name, its archive's path
/// relative to the unpacked directory) in name order, and alias -> collection.
type FullContent = (Vec<(String, PathBuf)>, BTreeMap<String, String>);

/// Checks an unpacked full archive: its manifest, every collection and alias
/// name, and that every collection entry is a regular file inside `dir` (each
/// used once).
fn read_full_archive(dir: &Path) -> Result<FullContent> {
    let manifest = read_small(&dir.join(MANIFEST)).ok_or_else(|| invalid_full("it has no readable osprey-snapshot.json"))?;
    let header: ManifestHeader =
        serde_json::from_slice(&manifest).map_err(|_| invalid_full("osprey-snapshot.json is not a snapshot manifest"))?;
    if header.format == COLLECTION_FORMAT {
        return Err(invalid_full("it is a collection snapshot, not a full-storage snapshot"));
    }
    if header.format != FULL_FORMAT || header.version != FORMAT_VERSION {
        return Err(invalid_full("unknown snapshot format or version"));
    }
    let manifest: FullManifest =
        serde_json::from_slice(&manifest).map_err(|_| invalid_full("osprey-snapshot.json is not a full snapshot manifest"))?;
    let mut entries = Vec::with_capacity(manifest.collections.len());
    let mut seen = std::collections::BTreeSet::new();
    for (name, entry) in manifest.collections {
        validate_collection_name(&name).map_err(|_| invalid_full("it lists an invalid collection name"))?;
        let relative = confined_relative(Path::new(&entry))
            .filter(|r| !r.as_os_str().is_empty())
            .ok_or_else(|| invalid_full(&format!("the entry of collection `{name}` is outside the archive")))?;
        if !seen.insert(relative.clone()) || !fs::symlink_metadata(dir.join(&relative)).is_ok_and(|m| m.is_file()) {
            return Err(invalid_full(&format!("the archive of collection `{name}` is missing")));
        }
        entries.push((name, relative));
    }
    for (alias, target) in &manifest.aliases {
        validate_collection_name(alias).map_err(|_| invalid_full("it lists an invalid alias name"))?;
        if !entries.iter().any(|(name, _)| name == target) {
            return Err(invalid_full(&format!("alias `{alias}` points at a collection the snapshot does not hold")));
        }
        if entries.iter().any(|(name, _)| name == alias) {
            return Err(invalid_full(&format!("alias `{alias}` has the name of a collection")));
        }
    }
    Ok((entries, manifest.aliases))
}

fn invalid_full(what: &str) -> EngineError {
    EngineError::BadRequest(format!("Snapshot is not a valid Osprey full snapshot: {what}"))
}

/// Opens a snapshot file to recover from: a regular file, or not found.
fn open_snapshot_file(path: &Path) -> Result<File> {
    let not_found = || EngineError::NotFound(format!("Snapshot file {} not found", path.display()));
    let file = File::open(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => not_found(),
        _ => EngineError::io(format!("opening {}", path.display()), e),
    })?;
    if !file.metadata().is_ok_and(|m| m.is_file()) {
        return Err(not_found());
    }
    Ok(file)
}

/// Unpacks the collection archive at `path` into `dir` (created here, under
/// a recovery temporary directory) and checks it; see [`read_collection_archive`].
fn unpack_collection_archive(path: &Path, dir: &Path) -> Result<CollectionConfig> {
    let file = open_snapshot_file(path)?;
    create_dir(dir)?;
    unpack_checked(BufReader::new(file), dir)?;
    read_collection_archive(dir)
}

/// `err` naming the snapshot file it is about: startup recovery reads several
/// files, and the operator must learn which one stopped the start.
fn in_file(path: &Path, err: EngineError) -> EngineError {
    let shown = path.display().to_string();
    let with = |m: String| if m.contains(&shown) { m } else { format!("{shown}: {m}") };
    match err {
        EngineError::BadInput(m) => EngineError::BadInput(with(m)),
        EngineError::BadRequest(m) => EngineError::BadRequest(with(m)),
        EngineError::AlreadyExists(m) => EngineError::AlreadyExists(with(m)),
        EngineError::NotFound(m) => EngineError::NotFound(with(m)),
        EngineError::Forbidden(m) => EngineError::Forbidden(with(m)),
        EngineError::Timeout(m) => EngineError::Timeout(with(m)),
        EngineError::Service(m) => EngineError::Service(with(m)),
        // Names its own file.
        corrupted @ EngineError::Corrupted { .. } => corrupted,
    }
}

/// A small regular file of an unpacked archive; `None` if missing, not a
/// regular file, or too large.
fn read_small(path: &Path) -> Option<Vec<u8>> {
    let meta = fs::symlink_metadata(path).ok()?;
    if !meta.is_file() || meta.len() > MAX_SMALL_FILE {
        return None;
    }
    fs::read(path).ok()
}

// ---- files -----------------------------------------------------------------

/// Whether `name` is one path component that names nothing but itself.
fn is_plain_component(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0'])
}

/// What listings show and lookups accept: `*.snapshot`, not hidden, no `..`.
fn is_snapshot_name(name: &str) -> bool {
    is_plain_component(name) && name.ends_with(SUFFIX) && !name.starts_with('.') && !name.contains("..")
}

/// `<dir>/<name>` canonicalised: a regular file (not a symlink) directly
/// inside `dir`, or `Not found: Snapshot <name> not found`.
fn confined_file(dir: &Path, name: &str) -> Result<PathBuf> {
    let not_found = || EngineError::NotFound(format!("Snapshot {name} not found"));
    if !is_snapshot_name(name) {
        return Err(not_found());
    }
    let root = fs::canonicalize(dir).map_err(|_| not_found())?;
    let candidate = root.join(name);
    if !fs::symlink_metadata(&candidate).is_ok_and(|m| m.is_file()) {
        return Err(not_found());
    }
    let real = fs::canonicalize(&candidate).map_err(|_| not_found())?;
    if real.parent() != Some(root.as_path()) || !fs::metadata(&real).is_ok_and(|m| m.is_file()) {
        return Err(not_found());
    }
    Ok(real)
}

fn list_dir(dir: &Path) -> Result<Vec<SnapshotDescription>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(EngineError::io(format!("listing {}", dir.display()), e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| EngineError::io(format!("listing {}", dir.display()), e))?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else { continue };
        if !is_snapshot_name(&name) || !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        match describe(&entry.path()) {
            Ok(description) => out.push(description),
            // Deleted while listing.
            Err(EngineError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

fn describe(path: &Path) -> Result<SnapshotDescription> {
    let meta = fs::metadata(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => EngineError::NotFound(format!("Snapshot {} not found", path.display())),
        _ => EngineError::io(format!("reading {}", path.display()), e),
    })?;
    let creation_time =
        meta.modified().ok().map(|t| chrono::DateTime::<chrono::Utc>::from(t).format("%Y-%m-%dT%H:%M:%S").to_string());
    let checksum = fs::read(checksum_path(path))
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()));
    Ok(SnapshotDescription {
        name: path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        creation_time,
        size: meta.len(),
        checksum,
    })
}

fn checksum_path(snapshot: &Path) -> PathBuf {
    let mut name = snapshot.as_os_str().to_owned();
    name.push(CHECKSUM_SUFFIX);
    PathBuf::from(name)
}

fn remove_snapshot_file(path: &Path) -> Result<()> {
    fs::remove_file(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => EngineError::NotFound(format!(
            "Snapshot {} not found",
            path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()
        )),
        _ => EngineError::io(format!("removing {}", path.display()), e),
    })?;
    match fs::remove_file(checksum_path(path)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            tracing::warn!(path = %path.display(), error = %e, "cannot remove the checksum file");
        }
        _ => {}
    }
    Ok(())
}

fn temp_name() -> String {
    format!("{TEMP_PREFIX}{}{PART_SUFFIX}", uuid::Uuid::new_v4())
}

/// Gives a finished temporary archive its final name
/// `<stem>-<YYYY-MM-DD-HH-MM-SS>.snapshot` in `dir` without replacing any
/// existing file (a second snapshot within the same second gets `-2`, …),
/// then writes its checksum file.
fn publish(temp: &Path, dir: &Path, stem: &str, checksum: &str) -> Result<PathBuf> {
    let stamp = chrono::Utc::now().format("%Y-%m-%d-%H-%M-%S").to_string();
    for n in 1..1000 {
        let name = if n == 1 { format!("{stem}-{stamp}{SUFFIX}") } else { format!("{stem}-{stamp}-{n}{SUFFIX}") };
        let path = dir.join(&name);
        // A hard link never replaces an existing file; fall back to a rename
        // on file systems without links (the name was just seen free).
        match fs::hard_link(temp, &path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(_) if fs::symlink_metadata(&path).is_err() => {
                fs::rename(temp, &path).map_err(|e| EngineError::io(format!("renaming to {}", path.display()), e))?;
            }
            Err(e) => return Err(EngineError::io(format!("linking {}", path.display()), e)),
        }
        crate::segment::write_atomically(&checksum_path(&path), checksum.as_bytes())?;
        sync_dir(dir)?;
        return Ok(path);
    }
    Err(EngineError::Service(format!("no free snapshot name for {stem} at {stamp}")))
}

fn create_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| EngineError::io(format!("creating {}", dir.display()), e))
}

fn create_new(path: &Path) -> Result<File> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| EngineError::io(format!("creating {}", path.display()), e))
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| EngineError::io(format!("syncing {}", dir.display()), e))
}

fn sha256_file(path: &Path) -> Result<String> {
    let mut file = File::open(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => EngineError::NotFound(format!("Snapshot file {} not found", path.display())),
        _ => EngineError::io(format!("opening {}", path.display()), e),
    })?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(|e| EngineError::io(format!("reading {}", path.display()), e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(format!("{:x}", hasher.finalize()))
}

/// A buffered file writer that hashes what it writes.
struct HashingWriter {
    inner: BufWriter<File>,
    hasher: Sha256,
}

impl HashingWriter {
    fn create(path: &Path) -> Result<HashingWriter> {
        Ok(HashingWriter { inner: BufWriter::with_capacity(1 << 16, create_new(path)?), hasher: Sha256::new() })
    }

    /// Flushes and fsyncs; returns the SHA-256 hex of everything written.
    fn finish(mut self, path: &Path) -> Result<String> {
        let io_err = |e| EngineError::io(format!("writing {}", path.display()), e);
        self.inner.flush().map_err(io_err)?;
        self.inner.get_ref().sync_all().map_err(io_err)?;
        Ok(format!("{:x}", self.hasher.finalize()))
    }
}

impl Write for HashingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A temporary file or directory, removed on drop unless kept.
struct Removed {
    path: PathBuf,
    dir: bool,
    keep: bool,
}

impl Removed {
    fn file(path: PathBuf) -> Removed {
        Removed { path, dir: false, keep: false }
    }

    fn dir(path: PathBuf) -> Removed {
        Removed { path, dir: true, keep: false }
    }

    fn path(&self) -> &Path {
        &self.path
    }

    fn keep(mut self) {
        self.keep = true;
    }
}

impl Drop for Removed {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        let result = if self.dir { fs::remove_dir_all(&self.path) } else { fs::remove_file(&self.path) };
        if let Err(e) = result
            && e.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot remove a temporary snapshot file");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::StorageConfig;
    use crate::requests::CountRequest;

    fn open(dir: &Path) -> Arc<Storage> {
        Storage::open(StorageConfig { storage_path: dir.join("storage"), snapshots_path: dir.join("snapshots") })
            .expect("storage opens")
    }

    /// Collection `name` with points `0..n` (payload `{"n": i}`).
    fn populated(storage: &Storage, name: &str, n: u64) {
        let request = serde_json::from_value(json!({"vectors": {"size": 2, "distance": "Dot"}})).unwrap();
        storage.create_collection(name, request).unwrap();
        let points: Vec<_> = (0..n).map(|i| json!({"id": i, "vector": [i as f32, 1.0], "payload": {"n": i}})).collect();
        let upsert = serde_json::from_value(json!({"upsert": {"points": points}})).unwrap();
        storage.collection(name).unwrap().update(upsert, true).unwrap();
    }

    fn count(storage: &Storage, name: &str) -> u64 {
        storage.collection(name).unwrap().count(CountRequest::default()).unwrap().count
    }

    fn delete_points(storage: &Storage, name: &str, ids: &[u64]) {
        let delete = serde_json::from_value(json!({"delete": {"points": ids}})).unwrap();
        storage.collection(name).unwrap().update(delete, true).unwrap();
    }

    fn alias(storage: &Storage, alias: &str, collection: &str) {
        let actions = serde_json::from_value(
            json!({"actions": [{"create_alias": {"collection_name": collection, "alias_name": alias}}]}),
        )
        .unwrap();
        storage.update_aliases(actions).unwrap();
    }

    fn tar_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, data) in entries {
            append_bytes(&mut builder, name, data).unwrap();
        }
        builder.into_inner().unwrap()
    }

    fn temp_dir_is_clean(dir: &Path) -> bool {
        fs::read_dir(dir.join("storage").join(STORAGE_TEMP_DIR)).map_or(true, |mut d| d.next().is_none())
    }

    /// A full snapshot of storage `a` (collections `one` with 5 points and
    /// `two` with 3, alias `latest` -> `two`), as a file path.
    fn full_snapshot(dir: &Path) -> PathBuf {
        let storage = open(&dir.join("a"));
        populated(&storage, "one", 5);
        populated(&storage, "two", 3);
        alias(&storage, "latest", "two");
        let description = storage.create_full_snapshot().unwrap();
        storage.full_snapshot_path(&description.name).unwrap()
    }

    // Prevents `--storage-snapshot` from taking any tar for ours (a Qdrant
    // full snapshot, a backup of something else): it is refused with an error
    // naming the file, and nothing in the storage changes.
    #[test]
    fn full_recovery_refuses_a_tar_that_is_not_an_osprey_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let storage = open(dir.path());
        populated(&storage, "kept", 4);
        let qdrant_like = dir.path().join("qdrant-full.snapshot");
        let config = br#"{"collections_mapping": {"kept": "kept.snapshot"}, "collections_aliases": {}}"#;
        fs::write(&qdrant_like, tar_of(&[("config.json", config), ("kept.snapshot", b"not ours")])).unwrap();

        let err = storage.recover_full_snapshot(&qdrant_like, true).unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, EngineError::BadRequest(_)), "{message}");
        assert!(message.contains("not a valid Osprey full snapshot"), "{message}");
        assert!(message.contains(&qdrant_like.display().to_string()), "the file is named: {message}");
        assert_eq!(storage.list_collections(), ["kept"]);
        assert_eq!(count(&storage, "kept"), 4);
        assert!(temp_dir_is_clean(dir.path()));

        // Not a tar at all, a collection snapshot, and a missing file: refused too.
        let garbage = dir.path().join("garbage.snapshot");
        fs::write(&garbage, vec![0x5a; 3000]).unwrap();
        let err = storage.recover_full_snapshot(&garbage, false).unwrap_err();
        assert!(matches!(err, EngineError::BadRequest(_)), "{err}");
        let collection = storage.create_snapshot("kept").unwrap();
        let collection = storage.snapshot_path("kept", &collection.name).unwrap();
        let err = storage.recover_full_snapshot(&collection, false).unwrap_err();
        assert!(err.to_string().contains("is a collection snapshot, not a full-storage snapshot"), "{err}");
        let missing = dir.path().join("missing.snapshot");
        let err = storage.recover_full_snapshot(&missing, false).unwrap_err();
        assert!(matches!(err, EngineError::NotFound(_)) && err.to_string().contains("missing.snapshot"), "{err}");
        assert_eq!(storage.list_collections(), ["kept"]);
        assert!(temp_dir_is_clean(dir.path()));
    }

    // Prevents half a recovery: one damaged collection archive inside a full
    // snapshot stops the whole recovery before any collection or alias is
    // written, and a manifest entry pointing outside the archive is refused.
    #[test]
    fn full_recovery_checks_every_collection_before_changing_anything() {
        let dir = tempfile::tempdir().unwrap();
        let source = open(&dir.path().join("a"));
        populated(&source, "good", 3);
        let good = source.create_snapshot("good").unwrap();
        let good = fs::read(source.snapshot_path("good", &good.name).unwrap()).unwrap();
        let manifest = |entries: serde_json::Value| {
            serde_json::to_vec(&json!({"format": FULL_FORMAT, "version": FORMAT_VERSION, "collections": entries,
                "aliases": {"al": "good"}}))
            .unwrap()
        };
        let damaged = dir.path().join("damaged.snapshot");
        let listing = manifest(json!({"good": "collections/0.snapshot", "bad": "collections/1.snapshot"}));
        let truncated = &good[..good.len() / 2];
        fs::write(
            &damaged,
            tar_of(&[
                (MANIFEST, &listing),
                ("collections/0.snapshot", &good),
                ("collections/1.snapshot", truncated),
            ]),
        )
        .unwrap();
        let escaping = dir.path().join("escaping.snapshot");
        let listing = manifest(json!({"good": "../../etc/passwd"}));
        fs::write(&escaping, tar_of(&[(MANIFEST, &listing)])).unwrap();

        let storage = open(dir.path());
        for file in [&damaged, &escaping] {
            let err = storage.recover_full_snapshot(file, true).unwrap_err();
            assert!(matches!(err, EngineError::BadRequest(_)), "{err}");
            assert!(storage.list_collections().is_empty(), "{}: nothing recovered", file.display());
            assert!(storage.list_aliases().is_empty());
        }
        assert!(storage.recover_full_snapshot(&damaged, true).unwrap_err().to_string().contains("`bad`"));
        assert!(temp_dir_is_clean(dir.path()));
    }

    // Prevents `--storage-snapshot` from overwriting data it was not told to:
    // into an empty storage everything comes back; over existing names
    // nothing changes without `force`; with `force` collections are replaced
    // and aliases repointed, but a name held by an alias is never replaced.
    #[test]
    fn full_recovery_skips_existing_names_unless_forced() {
        let dir = tempfile::tempdir().unwrap();
        let snapshot = full_snapshot(dir.path());

        let storage = open(&dir.path().join("b"));
        let report = storage.recover_full_snapshot(&snapshot, false).unwrap();
        assert_eq!(report.recovered, ["one", "two"]);
        assert_eq!(report.aliases, ["latest"]);
        assert!(report.skipped.is_empty() && report.skipped_aliases.is_empty(), "{report:?}");
        assert_eq!((count(&storage, "one"), count(&storage, "two")), (5, 3));
        assert_eq!(storage.resolve("latest").unwrap(), "two");
        let point = storage.collection("one").unwrap().get_point(crate::PointId::Num(4)).unwrap();
        assert_eq!(point.payload.unwrap()["n"], json!(4));

        // Changed since: without force, recovery leaves it all as it is.
        delete_points(&storage, "one", &[0, 1]);
        alias(&storage, "latest", "one");
        let report = storage.recover_full_snapshot(&snapshot, false).unwrap();
        assert!(report.recovered.is_empty(), "{report:?}");
        let skipped: Vec<&str> = report.skipped.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(skipped, ["one", "two"]);
        assert_eq!(report.skipped_aliases.len(), 1, "{report:?}");
        assert_eq!(count(&storage, "one"), 3);
        assert_eq!(storage.resolve("latest").unwrap(), "one");

        // With force: replaced and repointed.
        let report = storage.recover_full_snapshot(&snapshot, true).unwrap();
        assert_eq!(report.recovered, ["one", "two"]);
        assert_eq!(count(&storage, "one"), 5);
        assert_eq!(storage.resolve("latest").unwrap(), "two");
        assert_eq!(fs::read_dir(dir.path().join("b/storage/collections")).unwrap().count(), 2, "old files removed");

        // A name held by an alias: never replaced (it would overwrite the
        // collection behind the alias), and the alias stays.
        let storage = open(&dir.path().join("c"));
        populated(&storage, "other", 2);
        alias(&storage, "one", "other");
        let report = storage.recover_full_snapshot(&snapshot, true).unwrap();
        assert_eq!(report.recovered, ["two"]);
        assert_eq!(report.skipped[0].name, "one");
        assert_eq!(count(&storage, "other"), 2);
        assert_eq!(storage.resolve("one").unwrap(), "other");
        assert!(temp_dir_is_clean(&dir.path().join("c")));
    }

    // Prevents `--snapshot A --snapshot B` from recovering A and then failing
    // on B: every file is checked first, and the failure names B.
    #[test]
    fn collection_recovery_checks_every_file_first() {
        let dir = tempfile::tempdir().unwrap();
        let storage = open(dir.path());
        populated(&storage, "src", 6);
        let made = storage.create_snapshot("src").unwrap();
        let good = storage.snapshot_path("src", &made.name).unwrap();
        let bad = dir.path().join("bad.snapshot");
        fs::write(&bad, b"not a tar").unwrap();

        let err = storage
            .recover_collection_snapshots(&[("copy".into(), good.clone()), ("other".into(), bad.clone())], false)
            .unwrap_err();
        assert!(err.to_string().contains(&bad.display().to_string()), "{err}");
        assert_eq!(storage.list_collections(), ["src"]);

        delete_points(&storage, "src", &[0]);
        let both = [("copy".to_string(), good.clone()), ("src".to_string(), good.clone())];
        let report = storage.recover_collection_snapshots(&both, false).unwrap();
        assert_eq!(report.recovered, ["copy"]);
        assert_eq!(report.skipped[0].name, "src");
        assert_eq!((count(&storage, "copy"), count(&storage, "src")), (6, 5));
        let report = storage.recover_collection_snapshots(&both[1..], true).unwrap();
        assert_eq!(report.recovered, ["src"]);
        assert_eq!(count(&storage, "src"), 6);
        assert!(temp_dir_is_clean(dir.path()));
    }
}
