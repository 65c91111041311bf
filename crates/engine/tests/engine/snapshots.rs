//! Collection and full-storage snapshots: what they restore, and the ways a
//! hostile archive, name or location must fail without touching anything
//! outside the snapshot and temporary directories.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use osprey_engine::config::CreateCollection;
use osprey_engine::operations::UpdateOperation;
use osprey_engine::requests::CountRequest;
use osprey_engine::{ChangeAliasesOperation, EngineError, PointId, Storage, StorageConfig, upload_file_name};
use serde_json::json;
use sha2::{Digest, Sha256};

fn config(dir: &Path) -> StorageConfig {
    StorageConfig { storage_path: dir.join("storage"), snapshots_path: dir.join("snapshots") }
}

fn open(dir: &Path) -> Arc<Storage> {
    Storage::open(config(dir)).expect("storage opens")
}

fn op(body: serde_json::Value) -> UpdateOperation {
    serde_json::from_value(body).unwrap()
}

/// Collection `name` with `n` points (ids 0..n, payload `n`) and a keyword index on `tag`.
fn populated(storage: &Storage, name: &str, n: u64) {
    let request: CreateCollection = serde_json::from_value(json!({"vectors": {"size": 3, "distance": "Dot"}})).unwrap();
    storage.create_collection(name, request).unwrap();
    let c = storage.collection(name).unwrap();
    let points: Vec<_> = (0..n)
        .map(|i| json!({"id": i, "vector": [i as f32, 1.0, -1.0], "payload": {"n": i, "tag": format!("t{}", i % 3)}}))
        .collect();
    c.update(op(json!({"upsert": {"points": points}})), true).unwrap();
    let index = serde_json::from_value(json!({"field_name": "tag", "field_schema": "keyword"})).unwrap();
    c.create_field_index(index, true).unwrap();
}

fn count(storage: &Storage, name: &str) -> u64 {
    storage.collection(name).unwrap().count(CountRequest::default()).unwrap().count
}

fn sha256(path: &Path) -> String {
    format!("{:x}", Sha256::digest(std::fs::read(path).unwrap()))
}

fn collection_dirs(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("storage/collections")).unwrap().count()
}

/// Every file below `dir`, relative, sorted.
fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                stack.push(path);
            } else {
                out.push(path.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

/// A tar with the given raw entries: (name bytes, kind, link target, data).
fn raw_tar(entries: &[(&str, tar::EntryType, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, kind, link, data) in entries {
        let mut header = tar::Header::new_gnu();
        // Written byte by byte: `set_path` would refuse `..` itself.
        let raw = &mut header.as_old_mut().name;
        raw[..name.len()].copy_from_slice(name.as_bytes());
        header.set_entry_type(*kind);
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        if let Some(link) = link {
            header.set_link_name(link).unwrap();
        }
        header.set_cksum();
        builder.append(&header, *data).unwrap();
    }
    builder.into_inner().unwrap()
}

/// The entries of a good snapshot of `c`, to splice hostile entries into.
fn good_entries(storage: &Storage) -> Vec<(String, Vec<u8>)> {
    let description = storage.create_snapshot("c").unwrap();
    let path = storage.snapshot_path("c", &description.name).unwrap();
    let mut archive = tar::Archive::new(std::fs::File::open(path).unwrap());
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            (name, data)
        })
        .collect()
}

// Prevents snapshots that do not restore: create -> delete points -> recover
// must bring back every point, the payload index and the alias, and the
// swapped collection must survive a restart (metadata store updated, old
// directory removed).
#[test]
fn create_then_recover_restores_points() {
    let dir = tempfile::tempdir().unwrap();
    {
        let storage = open(dir.path());
        populated(&storage, "c", 50);
        let aliases: ChangeAliasesOperation =
            serde_json::from_value(json!({"actions": [{"create_alias": {"collection_name": "c", "alias_name": "a"}}]}))
                .unwrap();
        storage.update_aliases(aliases).unwrap();

        let description = storage.create_snapshot("a").unwrap();
        assert!(description.name.starts_with("c-") && description.name.ends_with(".snapshot"), "{description:?}");
        let path = storage.snapshot_path("c", &description.name).unwrap();
        assert_eq!(path, dir.path().join("snapshots/c").join(&description.name).canonicalize().unwrap());
        assert_eq!(description.size, std::fs::metadata(&path).unwrap().len());
        assert_eq!(description.checksum.as_deref(), Some(sha256(&path).as_str()));
        assert!(description.creation_time.is_some());
        assert_eq!(storage.list_snapshots("c").unwrap(), vec![description.clone()]);

        let c = storage.collection("c").unwrap();
        c.update(op(json!({"delete": {"points": (0..40).collect::<Vec<_>>()}})), true).unwrap();
        assert_eq!(count(&storage, "c"), 10);

        storage.recover_from_file("a", &path, description.checksum.clone()).unwrap();
        assert_eq!(count(&storage, "c"), 50);
        let recovered = storage.collection("c").unwrap();
        assert!(!Arc::ptr_eq(&c, &recovered), "the collection was swapped");
        assert!(recovered.info().payload_schema.contains_key("tag"));
        assert_eq!(storage.resolve("a").unwrap(), "c");
        assert_eq!(collection_dirs(dir.path()), 1, "old collection directory removed");
        // The recovered collection takes writes.
        recovered.update(op(json!({"delete": {"points": [49]}})), true).unwrap();
    }
    let storage = open(dir.path());
    assert_eq!(count(&storage, "c"), 49);
    let p = storage.collection("c").unwrap().get_point(PointId::Num(7)).unwrap();
    assert_eq!(p.payload.unwrap()["n"], json!(7));
    assert!(
        !dir.path().join("storage/.snapshot-tmp").exists()
            || files_below(&dir.path().join("storage/.snapshot-tmp")).is_empty()
    );
}

// Prevents recovery being limited to existing collections: a snapshot
// recovers into a new name, and an invalid new name is refused.
#[test]
fn recover_into_a_new_collection_and_refuse_bad_names() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(dir.path());
    populated(&storage, "c", 20);
    let description = storage.create_snapshot("c").unwrap();
    let path = storage.snapshot_path("c", &description.name).unwrap();
    storage.recover_from_file("copy", &path, None).unwrap();
    assert_eq!(count(&storage, "copy"), 20);
    assert_eq!(count(&storage, "c"), 20);
    for bad in ["..", "a/b", "x\0y", ""] {
        let err = storage.recover_from_file(bad, &path, None).unwrap_err();
        assert!(matches!(err, EngineError::BadInput(_)), "{bad:?}: {err}");
    }
}

// Prevents accepting a tampered or mixed-up file: a wrong checksum is refused
// with 400 before anything changes; the right one (any case) is accepted.
#[test]
fn checksum_mismatch_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(dir.path());
    populated(&storage, "c", 10);
    let description = storage.create_snapshot("c").unwrap();
    let path = storage.snapshot_path("c", &description.name).unwrap();
    storage.collection("c").unwrap().update(op(json!({"delete": {"points": [0, 1]}})), true).unwrap();

    let wrong = "0".repeat(64);
    let err = storage.recover_from_file("c", &path, Some(wrong.clone())).unwrap_err();
    assert!(matches!(err, EngineError::BadRequest(_)), "{err}");
    assert!(err.to_string().contains("checksum mismatch") && err.to_string().contains(&wrong), "{err}");
    assert_eq!(count(&storage, "c"), 8, "nothing changed");

    let right = description.checksum.unwrap().to_uppercase();
    storage.recover_from_file("c", &path, Some(right)).unwrap();
    assert_eq!(count(&storage, "c"), 10);
}

// Prevents the 1.9.0 symlink escape and `../` traversal in archives: an
// archive with a symlink, a hard link, a `../` path or an absolute path is
// refused, nothing is written outside the temporary directory, the
// collection is untouched and the temporary directory is cleaned up.
#[test]
fn archives_with_links_or_escaping_paths_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(dir.path());
    populated(&storage, "c", 10);
    let good = good_entries(&storage);
    let before_storage = files_below(&dir.path().join("storage"));
    let regular = tar::EntryType::Regular;
    let hostile: Vec<(&str, Vec<u8>)> = vec![
        ("symlink", raw_tar(&[("evil", tar::EntryType::Symlink, Some("/etc/passwd"), b"")])),
        ("symlinked checkpoint", raw_tar(&[("points.bin", tar::EntryType::Symlink, Some("../../meta.redb"), b"")])),
        ("hard link", raw_tar(&[("points.bin", tar::EntryType::Link, Some("/etc/passwd"), b"")])),
        ("parent path", raw_tar(&[("../../escaped.txt", regular, None, b"pwned")])),
        ("nested parent path", raw_tar(&[("a/../../../escaped.txt", regular, None, b"pwned")])),
        ("absolute path", raw_tar(&[("/tmp/osprey-escaped.txt", regular, None, b"pwned")])),
        ("fifo", raw_tar(&[("fifo", tar::EntryType::Fifo, None, b"")])),
    ];
    for (what, mut bytes) in hostile {
        // Put the hostile entry in front of an otherwise valid snapshot.
        let mut rest = {
            let mut builder = tar::Builder::new(Vec::new());
            for (name, data) in &good {
                let mut header = tar::Header::new_gnu();
                header.set_size(data.len() as u64);
                header.set_mode(0o644);
                builder.append_data(&mut header, name, data.as_slice()).unwrap();
            }
            builder.into_inner().unwrap()
        };
        // Drop the two zero blocks that end the hostile tar.
        bytes.truncate(bytes.len() - 1024);
        bytes.append(&mut rest);
        let file = dir.path().join("snapshots/hostile.snapshot");
        std::fs::write(&file, &bytes).unwrap();
        let err = storage.recover_from_file("c", &file, None).unwrap_err();
        assert!(matches!(err, EngineError::BadRequest(_)), "{what}: {err}");
        assert!(err.to_string().contains("entry 0"), "{what}: {err}");
        assert_eq!(count(&storage, "c"), 10, "{what}");
    }
    assert!(!dir.path().join("escaped.txt").exists());
    assert!(!dir.path().join("storage/escaped.txt").exists());
    assert!(!Path::new("/tmp/osprey-escaped.txt").exists());
    assert_eq!(files_below(&dir.path().join("storage")), before_storage, "no file left in the storage directory");
}

// Prevents snapshot contents leaking through error messages (Qdrant 1.10.0,
// 1.17.1): garbage, a non-snapshot tar and an inconsistent snapshot are all
// refused with 400 and a message that quotes nothing of the file.
#[test]
fn invalid_archives_are_refused_without_echoing_content() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(dir.path());
    populated(&storage, "c", 5);
    let secret = "root:x:0:0:SECRET-CONTENT:/root:/bin/bash";
    let regular = tar::EntryType::Regular;
    let manifest = br#"{"format":"osprey-collection","version":1,"collection":"c"}"#;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("plain text", secret.as_bytes().to_vec()),
        ("tar without manifest", raw_tar(&[("passwd", regular, None, secret.as_bytes())])),
        ("secret as manifest", raw_tar(&[("osprey-snapshot.json", regular, None, secret.as_bytes())])),
        (
            "secret as config",
            raw_tar(&[
                ("osprey-snapshot.json", regular, None, manifest),
                ("config.json", regular, None, format!("{{\"params\": \"{secret}\"}}").as_bytes()),
            ]),
        ),
    ];
    for (what, bytes) in cases {
        let file = dir.path().join("snapshots/bad.snapshot");
        std::fs::write(&file, &bytes).unwrap();
        let err = storage.recover_from_file("c", &file, None).unwrap_err();
        assert!(matches!(err, EngineError::BadRequest(_)), "{what}: {err}");
        assert!(!err.to_string().contains("SECRET"), "{what}: {err}");
    }

    // Points that do not fit the configuration (4-dimensional config over
    // 3-dimensional vectors) must not reach search.
    let good = good_entries(&storage);
    let mut builder = tar::Builder::new(Vec::new());
    for (name, data) in &good {
        let data = if name == "config.json" {
            let mut config: serde_json::Value = serde_json::from_slice(data).unwrap();
            config["params"]["vectors"]["size"] = json!(4);
            serde_json::to_vec(&config).unwrap()
        } else {
            data.clone()
        };
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        builder.append_data(&mut header, name, data.as_slice()).unwrap();
    }
    let file = dir.path().join("snapshots/mismatch.snapshot");
    std::fs::write(&file, builder.into_inner().unwrap()).unwrap();
    let err = storage.recover_from_file("c", &file, None).unwrap_err();
    assert!(err.to_string().contains("does not fit"), "{err}");
    assert_eq!(count(&storage, "c"), 5);
}

// Prevents the 1.8.3 download/delete traversal: names with `/`, `..`, NUL,
// hidden or non-snapshot names, and symlinks out of the directory are all
// "Snapshot <name> not found", for collection and full snapshots alike, and
// delete removes nothing else.
#[test]
fn snapshot_names_never_resolve_outside_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(dir.path());
    populated(&storage, "c", 3);
    let description = storage.create_snapshot("c").unwrap();
    let full = storage.create_full_snapshot().unwrap();
    let coll_dir = dir.path().join("snapshots/c");
    std::os::unix::fs::symlink(dir.path().join("storage/meta.redb"), coll_dir.join("link.snapshot")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("storage/meta.redb"), dir.path().join("snapshots/link.snapshot"))
        .unwrap();
    std::fs::create_dir(coll_dir.join("dir.snapshot")).unwrap();
    let names = [
        "../../storage/meta.redb".to_string(),
        "../c/".to_string() + &description.name,
        format!("../{}", full.name),
        "..".into(),
        ".".into(),
        "".into(),
        format!("{}/../{}", description.name, description.name),
        format!("{}\0", description.name),
        format!("{}.checksum", description.name),
        "/etc/passwd".into(),
        "link.snapshot".into(),
        "dir.snapshot".into(),
        "missing.snapshot".into(),
    ];
    for name in &names {
        for err in [
            storage.snapshot_path("c", name).unwrap_err(),
            storage.delete_snapshot("c", name).unwrap_err(),
            storage.full_snapshot_path(name).unwrap_err(),
            storage.delete_full_snapshot(name).unwrap_err(),
        ] {
            assert!(
                matches!(&err, EngineError::NotFound(m) if *m == format!("Snapshot {name} not found")),
                "{name:?}: {err}"
            );
        }
    }
    assert!(dir.path().join("storage/meta.redb").exists());
    // The real ones resolve, and the listings show only real snapshots.
    assert_eq!(storage.list_snapshots("c").unwrap(), vec![description.clone()]);
    assert_eq!(storage.list_full_snapshots().unwrap(), vec![full.clone()]);
    assert!(storage.delete_snapshot("c", &description.name).unwrap());
    assert!(!coll_dir.join(&description.name).exists());
    assert!(!coll_dir.join(format!("{}.checksum", description.name)).exists());
    assert!(storage.list_snapshots("c").unwrap().is_empty());
    // A missing collection is the collection's 404.
    let err = storage.list_snapshots("nope").unwrap_err();
    assert_eq!(err.to_string(), "Not found: Collection `nope` doesn't exist!");
}

// Prevents `file://` recovery of arbitrary server files (1.17.1): only paths
// that canonicalise inside the snapshots directory are accepted; outside
// (directly, via `..`, via a symlink) is Forbidden whether or not the file
// exists, so the answer is no existence oracle.
#[test]
fn recovery_locations_are_confined_to_the_snapshots_directory() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(dir.path());
    populated(&storage, "c", 3);
    let description = storage.create_snapshot("c").unwrap();
    let snapshots = dir.path().join("snapshots");
    let inside = snapshots.join("c").join(&description.name);
    assert_eq!(storage.snapshot_location(&inside).unwrap(), inside.canonicalize().unwrap());
    std::os::unix::fs::symlink("/etc/hostname", snapshots.join("escape.snapshot")).unwrap();
    let forbidden = [
        PathBuf::from("/etc/passwd"),
        PathBuf::from("/no/such/file"),
        dir.path().join("storage/meta.redb"),
        snapshots.join("../storage/meta.redb"),
        snapshots.join("missing/../../storage/meta.redb"),
        snapshots.join("c/../../storage/nothing-here"),
        snapshots.join("escape.snapshot"),
    ];
    for path in &forbidden {
        let err = storage.snapshot_location(path).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("Forbidden: Snapshot file path must be inside the snapshots directory {}", snapshots.display()),
            "{}",
            path.display()
        );
    }
    for path in [snapshots.join("c/missing.snapshot"), snapshots.join("nodir/missing.snapshot"), snapshots.join("c")] {
        let err = storage.snapshot_location(&path).unwrap_err();
        assert!(matches!(err, EngineError::NotFound(_)), "{}: {err}", path.display());
    }
}

// Prevents full snapshots that cannot be used: the archive lists every
// collection and the aliases, and each inner collection archive recovers.
#[test]
fn full_snapshot_holds_every_collection_and_the_aliases() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(dir.path());
    populated(&storage, "c", 7);
    populated(&storage, "d", 4);
    let aliases: ChangeAliasesOperation =
        serde_json::from_value(json!({"actions": [{"create_alias": {"collection_name": "d", "alias_name": "dd"}}]}))
            .unwrap();
    storage.update_aliases(aliases).unwrap();

    let full = storage.create_full_snapshot().unwrap();
    assert!(full.name.starts_with("full-snapshot-") && full.name.ends_with(".snapshot"), "{full:?}");
    let path = storage.full_snapshot_path(&full.name).unwrap();
    assert_eq!(path.parent().unwrap(), dir.path().join("snapshots").canonicalize().unwrap());
    assert_eq!(full.checksum.as_deref(), Some(sha256(&path).as_str()));
    assert_eq!(storage.list_full_snapshots().unwrap(), vec![full.clone()]);
    // Collection snapshots are not full snapshots, and vice versa.
    storage.create_snapshot("c").unwrap();
    assert_eq!(storage.list_full_snapshots().unwrap().len(), 1);

    let mut archive = tar::Archive::new(std::fs::File::open(&path).unwrap());
    let mut files = std::collections::BTreeMap::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        files.insert(name, data);
    }
    let manifest: serde_json::Value = serde_json::from_slice(&files["osprey-snapshot.json"]).unwrap();
    assert_eq!(manifest["aliases"], json!({"dd": "d"}));
    let inner = manifest["collections"]["d"].as_str().unwrap();
    let inner_file = dir.path().join("snapshots/inner.tar");
    std::fs::write(&inner_file, &files[inner]).unwrap();
    storage.recover_from_file("restored", &inner_file, None).unwrap();
    assert_eq!(count(&storage, "restored"), 4);

    // A full snapshot is not a collection snapshot.
    let err = storage.recover_from_file("c", &path, None).unwrap_err();
    assert!(err.to_string().contains("full-storage snapshot"), "{err}");

    assert!(storage.delete_full_snapshot(&full.name).unwrap());
    assert!(storage.list_full_snapshots().unwrap().is_empty());
    assert!(!dir.path().join("snapshots").join(format!("{}.checksum", full.name)).exists());
}

// Prevents name clashes: two snapshots within one second get two files.
#[test]
fn snapshots_in_the_same_second_do_not_replace_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(dir.path());
    populated(&storage, "c", 2);
    let names: std::collections::BTreeSet<String> =
        (0..3).map(|_| storage.create_snapshot("c").unwrap().name).collect();
    assert_eq!(names.len(), 3);
    assert_eq!(storage.list_snapshots("c").unwrap().len(), 3);
}

// Prevents the 1.8.0 upload traversal: an uploaded file name is reduced to
// its last component, and unusable names become a random UUID.
#[test]
fn upload_names_are_reduced_to_their_last_component() {
    assert_eq!(upload_file_name(Some("../../etc/passwd")), "passwd");
    assert_eq!(upload_file_name(Some("..\\..\\boot.ini")), "boot.ini");
    assert_eq!(upload_file_name(Some("c.snapshot")), "c.snapshot");
    for unusable in [None, Some(""), Some(".."), Some("a/.."), Some("dir/"), Some("a\nb"), Some(&*"x".repeat(300))] {
        let name = upload_file_name(unusable);
        assert!(uuid::Uuid::parse_str(&name).is_ok(), "{unusable:?} -> {name}");
    }
    let dir = tempfile::tempdir().unwrap();
    let storage = open(dir.path());
    let path = storage.snapshot_upload_path(Some("../../x.snapshot")).unwrap();
    assert_eq!(path.parent().unwrap(), dir.path().join("snapshots"));
    let name = path.file_name().unwrap().to_str().unwrap();
    assert!(name.starts_with(".upload-") && name.ends_with("-x.snapshot.part"), "{name}");
}

// Prevents interrupted uploads and recoveries from piling up: temporary files
// are removed when the storage opens; real snapshots stay.
#[test]
fn leftovers_are_removed_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let kept = {
        let storage = open(dir.path());
        populated(&storage, "c", 2);
        storage.create_snapshot("c").unwrap()
    };
    let snapshots = dir.path().join("snapshots");
    std::fs::write(snapshots.join(".upload-1234-x.snapshot.part"), b"partial").unwrap();
    std::fs::write(snapshots.join("c/.tmp-1234.part"), b"partial").unwrap();
    std::fs::create_dir_all(dir.path().join("storage/.snapshot-tmp/abc")).unwrap();
    std::fs::write(dir.path().join("storage/.snapshot-tmp/abc/points.bin"), b"partial").unwrap();
    let storage = open(dir.path());
    assert!(!snapshots.join(".upload-1234-x.snapshot.part").exists());
    assert!(!snapshots.join("c/.tmp-1234.part").exists());
    assert!(!dir.path().join("storage/.snapshot-tmp").exists());
    assert_eq!(storage.list_snapshots("c").unwrap(), vec![kept]);
}
