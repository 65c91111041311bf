//! The files of one collection directory, read without ever leaving it.
//!
//! Every path a caller sends is relative to the directory. It is checked
//! lexically first (not empty, no NUL, not absolute, no `..`), so a plain
//! traversal attempt is a clear INVALID_ARGUMENT. Then it is joined to the
//! canonical directory and canonicalised, which resolves symlinks; the result
//! must still lie inside the directory and be a regular file, else the file
//! counts as absent (NOT_FOUND), as spec `auth.md` §13 answers for snapshot
//! names. Only the resolved path is opened, so no symlink is followed after
//! the check. Directories, sockets and FIFOs are never opened (a FIFO would
//! block the reader).
//!
//! Nothing here puts file contents or the server's absolute paths into an
//! error message: messages name the caller's own relative path only.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Component, Path, PathBuf};

/// Most bytes one unary answer carries (`ReadBytes`, `ReadWhole`, and the
/// sum over `ReadBatch` / `ReadMulti`). Larger reads go through
/// `ReadBytesStream`; without a bound one call could make the server
/// allocate the size of any file.
pub(crate) const MAX_READ_BYTES: u64 = 64 * 1024 * 1024;

/// Most ranges in one `ReadBatch` or `ReadMulti`: each costs a read (and for
/// `ReadMulti` an open), so a bounded request stays a bounded amount of work.
pub(crate) const MAX_RANGES: usize = 4096;

/// Bytes per message of `ReadBytesStream`.
pub(crate) const STREAM_CHUNK: u64 = 1024 * 1024;

/// Why a file operation failed; each kind has one gRPC code.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FileError {
    /// A path or range that can never be valid: INVALID_ARGUMENT.
    Invalid(String),
    /// No regular file of that name inside the directory: NOT_FOUND.
    NotFound(String),
    /// A range past the end of the file: OUT_OF_RANGE.
    OutOfRange(String),
    /// The file system failed: INTERNAL.
    Io(String),
}

pub(crate) type Result<T> = std::result::Result<T, FileError>;

/// A collection's directory, canonicalised: the anchor every path must stay
/// under.
#[derive(Debug)]
pub(crate) struct Root {
    dir: PathBuf,
}

/// An open regular file inside a [`Root`], with its length at opening.
#[derive(Debug)]
pub(crate) struct OpenFile {
    file: File,
    /// The caller's path, for messages.
    name: String,
    pub(crate) len: u64,
}

impl Root {
    /// Canonicalises `dir`. A directory that is gone (the collection was
    /// deleted meanwhile) is NOT_FOUND.
    pub(crate) fn open(dir: &Path) -> Result<Root> {
        match dir.canonicalize() {
            Ok(dir) => Ok(Root { dir }),
            Err(e) if is_absent(&e) => Err(FileError::NotFound(
                "The collection's storage directory no longer exists".into(),
            )),
            Err(e) => Err(FileError::Io(format!(
                "Cannot open the collection's storage directory: {e}"
            ))),
        }
    }

    /// The regular file `path` names inside the directory, resolved.
    fn resolve(&self, path: &str) -> Result<PathBuf> {
        let relative = relative_path(path)?;
        let not_found = || FileError::NotFound(format!("File {path:?} not found"));
        let resolved = match self.dir.join(relative).canonicalize() {
            Ok(resolved) => resolved,
            Err(e) if is_absent(&e) => return Err(not_found()),
            Err(e) => return Err(FileError::Io(format!("Cannot resolve {path:?}: {e}"))),
        };
        // A symlink (or symlinked directory) leading out of the collection.
        if !resolved.starts_with(&self.dir) {
            return Err(not_found());
        }
        match std::fs::metadata(&resolved) {
            Ok(meta) if meta.is_file() => Ok(resolved),
            Ok(_) => Err(not_found()),
            Err(e) if is_absent(&e) => Err(not_found()),
            Err(e) => Err(FileError::Io(format!("Cannot read {path:?}: {e}"))),
        }
    }

    /// Opens the regular file `path` for reading.
    pub(crate) fn open_file(&self, path: &str) -> Result<OpenFile> {
        let resolved = self.resolve(path)?;
        let io_error = |e: io::Error| {
            if is_absent(&e) {
                FileError::NotFound(format!("File {path:?} not found"))
            } else {
                FileError::Io(format!("Cannot open {path:?}: {e}"))
            }
        };
        let file = File::open(&resolved).map_err(io_error)?;
        let meta = file.metadata().map_err(io_error)?;
        // Swapped for something else between the check and the open.
        if !meta.is_file() {
            return Err(FileError::NotFound(format!("File {path:?} not found")));
        }
        Ok(OpenFile {
            file,
            name: path.to_owned(),
            len: meta.len(),
        })
    }

    /// Whether `path` is a regular file inside the directory. An invalid
    /// path is still an error: the caller asked something meaningless.
    pub(crate) fn exists(&self, path: &str) -> Result<bool> {
        match self.resolve(path) {
            Ok(_) => Ok(true),
            Err(FileError::NotFound(_)) => Ok(false),
            Err(other) => Err(other),
        }
    }

    /// Relative paths (`/`-separated, sorted) of the regular files whose path
    /// starts with `prefix`, a plain string prefix as in object stores
    /// (`segments/` lists a directory, `wal` also matches `wal.lock`).
    /// Symlinks are listed only when they resolve to a regular file inside
    /// the directory, and never descended into, so a link cannot make the
    /// walk leave the directory or loop.
    pub(crate) fn list(&self, prefix: &str) -> Result<Vec<String>> {
        check_prefix(prefix)?;
        let mut found = Vec::new();
        // (directory on disk, its relative path with a trailing `/` or "").
        let mut pending = vec![(self.dir.clone(), String::new())];
        while let Some((dir, relative)) = pending.pop() {
            let entries = match std::fs::read_dir(&dir) {
                Ok(entries) => entries,
                // Removed while walking (a segment merged away): skip it.
                Err(e) if is_absent(&e) => continue,
                Err(e) => {
                    return Err(FileError::Io(format!(
                        "Cannot list {:?}: {e}",
                        display_dir(&relative)
                    )));
                }
            };
            for entry in entries {
                let entry = match entry {
                    Ok(entry) => entry,
                    Err(e) if is_absent(&e) => continue,
                    Err(e) => return Err(FileError::Io(format!("Cannot list files: {e}"))),
                };
                // Names that are not UTF-8 cannot be sent as a proto string;
                // the engine never makes them.
                let Ok(name) = entry.file_name().into_string() else {
                    continue;
                };
                let path = format!("{relative}{name}");
                let Ok(kind) = entry.file_type() else {
                    continue;
                };
                if kind.is_dir() {
                    let as_dir = format!("{path}/");
                    // Only walk where something can match the prefix.
                    if as_dir.starts_with(prefix) || prefix.starts_with(&as_dir) {
                        pending.push((entry.path(), as_dir));
                    }
                } else if path.starts_with(prefix)
                    && (kind.is_file() || (kind.is_symlink() && self.resolve(&path).is_ok()))
                {
                    found.push(path);
                }
            }
        }
        found.sort();
        Ok(found)
    }
}

impl OpenFile {
    /// Refuses a range that does not lie inside the file (as it was opened).
    pub(crate) fn check_range(&self, offset: u64, length: u64) -> Result<()> {
        match offset.checked_add(length) {
            Some(end) if end <= self.len => Ok(()),
            _ => Err(FileError::OutOfRange(format!(
                "Range {offset}+{length} is outside {:?} ({} bytes)",
                self.name, self.len
            ))),
        }
    }

    /// `length` bytes from `offset`; the range must lie inside the file.
    pub(crate) fn read(&self, offset: u64, length: u64) -> Result<Vec<u8>> {
        self.check_range(offset, length)?;
        let size = usize::try_from(length)
            .map_err(|_| FileError::Invalid(format!("Length {length} is too large")))?;
        let mut buffer = vec![0; size];
        self.file.read_exact_at(&mut buffer, offset).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                // The engine shortened the file after it was opened.
                FileError::OutOfRange(format!(
                    "Range {offset}+{length} is outside {:?}: the file shrank",
                    self.name
                ))
            } else {
                FileError::Io(format!("Cannot read {:?}: {e}", self.name))
            }
        })?;
        Ok(buffer)
    }
}

/// Refuses a read of more than [`MAX_READ_BYTES`] in one answer.
pub(crate) fn check_total(total: u64) -> Result<()> {
    if total > MAX_READ_BYTES {
        return Err(FileError::Invalid(format!(
            "A read of {total} bytes is larger than the {MAX_READ_BYTES} bytes one answer carries; use ReadBytesStream"
        )));
    }
    Ok(())
}

/// Refuses more than [`MAX_RANGES`] ranges in one request.
pub(crate) fn check_ranges(count: usize) -> Result<()> {
    if count > MAX_RANGES {
        return Err(FileError::Invalid(format!(
            "{count} ranges in one request; at most {MAX_RANGES} are allowed"
        )));
    }
    Ok(())
}

/// The lexical check of a file path: relative, made of plain names only.
fn relative_path(path: &str) -> Result<&Path> {
    if path.is_empty() {
        return Err(FileError::Invalid("The path must not be empty".into()));
    }
    if path.contains('\0') {
        return Err(FileError::Invalid(format!(
            "The path {path:?} contains NUL"
        )));
    }
    let relative = Path::new(path);
    for component in relative.components() {
        match component {
            Component::Normal(_) | Component::CurDir => {}
            Component::ParentDir => {
                return Err(FileError::Invalid(format!(
                    "The path {path:?} must not contain `..`"
                )));
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(FileError::Invalid(format!(
                    "The path {path:?} must be relative to the collection's directory"
                )));
            }
        }
    }
    Ok(relative)
}

/// The lexical check of a listing prefix: empty, or like a path (it may end
/// in `/` or in part of a name).
fn check_prefix(prefix: &str) -> Result<()> {
    if prefix.is_empty() {
        return Ok(());
    }
    relative_path(prefix).map(|_| ())
}

fn is_absent(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

fn display_dir(relative: &str) -> &str {
    if relative.is_empty() { "." } else { relative }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    /// A collection directory `coll/` with `a.bin` (10 bytes), `seg/x.dat`,
    /// `seg/deep/y.dat`, next to a `secret` file outside it.
    fn fixture() -> (tempfile::TempDir, Root) {
        let tmp = tempfile::tempdir().unwrap();
        let coll = tmp.path().join("coll");
        std::fs::create_dir_all(coll.join("seg/deep")).unwrap();
        std::fs::write(coll.join("a.bin"), b"0123456789").unwrap();
        std::fs::write(coll.join("seg/x.dat"), b"xx").unwrap();
        std::fs::write(coll.join("seg/deep/y.dat"), b"yyy").unwrap();
        std::fs::write(tmp.path().join("secret"), b"top secret").unwrap();
        let root = Root::open(&coll).unwrap();
        (tmp, root)
    }

    fn invalid(result: Result<impl std::fmt::Debug>) -> bool {
        matches!(result, Err(FileError::Invalid(_)))
    }

    fn not_found(result: Result<impl std::fmt::Debug>) -> bool {
        matches!(result, Err(FileError::NotFound(_)))
    }

    /// Prevents `..` and absolute paths from reaching the file system at all:
    /// they are refused before any lookup, even where they would land inside.
    #[test]
    fn traversal_and_absolute_paths_are_invalid() {
        let (tmp, root) = fixture();
        let secret = tmp.path().join("secret");
        for path in [
            "../secret",
            "seg/../../secret",
            "seg/../a.bin",
            "..",
            "/etc/passwd",
            secret.to_str().unwrap(),
            "",
            "a.bin\0",
        ] {
            assert!(invalid(root.open_file(path)), "{path:?} must be refused");
            assert!(invalid(root.exists(path)), "{path:?} must be refused");
        }
        assert!(invalid(root.list("../")));
        assert!(invalid(root.list("/")));
    }

    /// Prevents a symlink inside the collection from exposing a file outside
    /// it: the link resolves outside, so the file counts as absent, and the
    /// listing leaves it out.
    #[test]
    fn symlinks_leading_out_are_absent() {
        let (tmp, root) = fixture();
        symlink(tmp.path().join("secret"), root.dir.join("out")).unwrap();
        symlink(tmp.path(), root.dir.join("up")).unwrap();
        symlink("../secret", root.dir.join("relative_out")).unwrap();
        for path in ["out", "up/secret", "relative_out"] {
            assert!(not_found(root.open_file(path)), "{path:?}");
            assert_eq!(root.exists(path), Ok(false), "{path:?}");
        }
        // Confinement is judged on where a path lands: out and back in is in.
        assert_eq!(root.open_file("up/coll/a.bin").unwrap().len, 10);
        let listed = root.list("").unwrap();
        assert!(
            !listed
                .iter()
                .any(|p| p.contains("out") || p.starts_with("up")),
            "{listed:?}"
        );
    }

    /// A symlink that stays inside serves its target, as the file itself.
    #[test]
    fn symlinks_inside_are_followed() {
        let (_tmp, root) = fixture();
        symlink("seg/x.dat", root.dir.join("link")).unwrap();
        assert_eq!(root.open_file("link").unwrap().read(0, 2).unwrap(), b"xx");
        assert!(root.list("").unwrap().contains(&"link".to_owned()));
    }

    /// Directories and missing files are NOT_FOUND, never opened.
    #[test]
    fn only_regular_files_are_found() {
        let (_tmp, root) = fixture();
        for path in ["seg", "seg/", ".", "missing", "a.bin/x", "seg/missing/y"] {
            assert!(not_found(root.open_file(path)), "{path:?}");
            assert_eq!(root.exists(path), Ok(false), "{path:?}");
        }
        assert_eq!(root.exists("./seg/x.dat"), Ok(true));
    }

    /// Pins the range rule: inside the file or OUT_OF_RANGE, no overflow.
    #[test]
    fn reads_stay_inside_the_file() {
        let (_tmp, root) = fixture();
        let file = root.open_file("a.bin").unwrap();
        assert_eq!(file.len, 10);
        assert_eq!(file.read(2, 3).unwrap(), b"234");
        assert_eq!(file.read(0, 10).unwrap(), b"0123456789");
        assert_eq!(file.read(10, 0).unwrap(), b"");
        for (offset, length) in [(0, 11), (10, 1), (11, 0), (u64::MAX, 2), (1, u64::MAX)] {
            assert!(
                matches!(file.read(offset, length), Err(FileError::OutOfRange(_))),
                "{offset}+{length}"
            );
        }
    }

    /// The listing walks subdirectories and filters by string prefix.
    #[test]
    fn listing_filters_by_prefix() {
        let (_tmp, root) = fixture();
        assert_eq!(
            root.list("").unwrap(),
            ["a.bin", "seg/deep/y.dat", "seg/x.dat"]
        );
        assert_eq!(root.list("seg/").unwrap(), ["seg/deep/y.dat", "seg/x.dat"]);
        assert_eq!(root.list("seg/d").unwrap(), ["seg/deep/y.dat"]);
        assert_eq!(root.list("a").unwrap(), ["a.bin"]);
        assert!(root.list("nothing").unwrap().is_empty());
    }

    /// Error messages name the caller's path, never the server's layout.
    #[test]
    fn messages_do_not_reveal_server_paths() {
        let (tmp, root) = fixture();
        let dir = tmp.path().to_str().unwrap();
        for err in [
            root.open_file("missing").unwrap_err(),
            root.open_file("../secret").unwrap_err(),
            root.open_file("a.bin").unwrap().read(5, 50).unwrap_err(),
        ] {
            let text = format!("{err:?}");
            assert!(!text.contains(dir), "{text}");
        }
    }

    #[test]
    fn limits() {
        assert!(check_total(MAX_READ_BYTES).is_ok());
        assert!(invalid(check_total(MAX_READ_BYTES + 1)));
        assert!(check_ranges(MAX_RANGES).is_ok());
        assert!(invalid(check_ranges(MAX_RANGES + 1)));
    }
}
