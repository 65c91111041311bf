//! The rows of one dense vector column: an append-only file read through a
//! shared, read-only memory map (or, for a store without a directory, a
//! vector in memory with the same behaviour).
//!
//! Rows are never changed in place. Writing a vector appends a row and the
//! column points the point's offset at it; the old row becomes garbage until
//! the file is compacted. Because a checkpoint records how many rows it
//! covers, the rows appended after it can simply be cut on open and are
//! appended again by the log replay: the file never has to agree with a
//! state newer than the checkpoint that names it.
//!
//! File layout (`vectors/<hex name>-<generation>.vec`):
//!
//! ```text
//! header (64 bytes): "OSPRVEC1" | version u32 = 1 | element type u8 | 0 0 0 |
//!                    dim u32 | 40 zero bytes | crc32c of the 60 bytes before it
//! rows:              row i at 64 + i * dim * element size, little-endian
//! ```
//!
//! The checkpoint keeps the row count and the CRC-32C of the rows it covers
//! (kept up to date as rows are appended, so it costs no extra read).
//!
//! Writes go through `pwrite`, not through the map, so rows the process
//! wrote but has not read are in the page cache, not in its resident set:
//! with `on_disk: true` only the rows a search touches become resident.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use std::sync::Arc;

use memmap2::{Advice, Mmap, MmapOptions};

use crate::dense::{DenseData, DenseRow, Element, ElementType, Typed};
use crate::error::{EngineError, Result};

const MAGIC: &[u8; 8] = b"OSPRVEC1";
const VERSION: u32 = 1;
pub(crate) const HEADER: usize = 64;
/// Rows the file is first sized for; it doubles when full.
const FIRST_CAPACITY: usize = 1024;

pub(crate) struct VectorRows {
    dim: usize,
    ty: ElementType,
    rows: usize,
    /// CRC-32C of the bytes of rows `0..rows`, as appended.
    crc: u32,
    backing: Backing,
    /// Rows whose write to the file failed (disk full, I/O error): kept in
    /// memory so reads stay right; the next checkpoint fails instead, so the
    /// log that holds them is kept.
    overflow: HashMap<u32, DenseRow>,
}

enum Backing {
    Memory(DenseData),
    File(MappedFile),
}

struct MappedFile {
    path: PathBuf,
    file: File,
    /// Shared with builds that read rows without the store's lock: a map
    /// stays valid after the file grows (rows only ever move to a new map
    /// of a longer file) or is replaced by compaction.
    map: Arc<Mmap>,
    /// Rows the file is sized and mapped for.
    capacity: usize,
    on_disk: bool,
}

impl std::fmt::Debug for VectorRows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = match &self.backing {
            Backing::Memory(_) => None,
            Backing::File(m) => Some(&m.path),
        };
        f.debug_struct("VectorRows").field("dim", &self.dim).field("rows", &self.rows).field("path", &path).finish()
    }
}

fn header(dim: usize, ty: ElementType) -> [u8; HEADER] {
    let mut h = [0u8; HEADER];
    h[..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&VERSION.to_le_bytes());
    h[12] = ty.tag();
    h[16..20].copy_from_slice(&(dim as u32).to_le_bytes());
    let crc = crc32c::crc32c(&h[..60]);
    h[60..].copy_from_slice(&crc.to_le_bytes());
    h
}

impl VectorRows {
    /// Rows held in memory.
    pub fn memory(dim: usize, ty: ElementType) -> VectorRows {
        VectorRows { dim, ty, rows: 0, crc: 0, backing: Backing::Memory(DenseData::new(ty)), overflow: HashMap::new() }
    }

    /// A new, empty file at `path` (replacing any file there).
    pub fn create(path: &Path, dim: usize, ty: ElementType, on_disk: bool) -> Result<VectorRows> {
        let io = |what: &str, e| EngineError::io(format!("{what} {}", path.display()), e);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io("creating the directory of", e))?;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .map_err(|e| io("creating", e))?;
        file.write_all_at(&header(dim, ty), 0).map_err(|e| io("writing", e))?;
        let mapped = MappedFile::map(path.to_path_buf(), file, row_bytes(dim, ty), FIRST_CAPACITY, on_disk)?;
        Ok(VectorRows { dim, ty, rows: 0, crc: 0, backing: Backing::File(mapped), overflow: HashMap::new() })
    }

    /// Opens a file a checkpoint names, holding `rows` rows whose bytes have
    /// CRC-32C `crc`. A header that does not match, or a file shorter than
    /// those rows, is refused with the file named; rows past `rows` (written
    /// after the checkpoint) are cut. The rows' checksum is checked by
    /// [`VectorRows::verify`], which reads them all.
    pub fn open(path: &Path, dim: usize, ty: ElementType, rows: usize, crc: u32, on_disk: bool) -> Result<VectorRows> {
        let corrupt = |reason: String| EngineError::Corrupted { path: path.to_path_buf(), reason };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| EngineError::io(format!("opening {}", path.display()), e))?;
        let mut h = [0u8; HEADER];
        file.read_exact_at(&mut h, 0).map_err(|_| corrupt("shorter than its header".into()))?;
        if h != header(dim, ty) {
            return Err(corrupt(format!(
                "header does not match a version {VERSION} file of {dim}-dimensional {ty:?} vectors"
            )));
        }
        let row = row_bytes(dim, ty);
        let needed = (HEADER + rows * row) as u64;
        let len = file.metadata().map_err(|e| EngineError::io(format!("reading {}", path.display()), e))?.len();
        if len < needed {
            return Err(corrupt(format!("holds {len} bytes; its checkpoint needs {needed}")));
        }
        let capacity = rows.max(FIRST_CAPACITY).next_power_of_two();
        let mapped = MappedFile::map(path.to_path_buf(), file, row, capacity, on_disk)?;
        Ok(VectorRows { dim, ty, rows, crc, backing: Backing::File(mapped), overflow: HashMap::new() })
    }

    /// What [`check_rows`] needs to verify this file against the rows a
    /// checkpoint of it now would cover: path, byte length, checksum.
    pub fn check_spec(&self) -> Option<(PathBuf, u64, u32)> {
        let Backing::File(m) = &self.backing else { return None };
        Some((m.path.clone(), (self.rows * row_bytes(self.dim, self.ty)) as u64, self.crc))
    }

    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn element_type(&self) -> ElementType {
        self.ty
    }

    pub fn crc(&self) -> u32 {
        self.crc
    }

    pub fn path(&self) -> Option<&Path> {
        match &self.backing {
            Backing::Memory(_) => None,
            Backing::File(m) => Some(&m.path),
        }
    }

    /// Appends a row of f32 values (already rounded to the element type) and
    /// returns its number.
    pub fn append_f32(&mut self, values: &[f32]) -> u32 {
        let mut bytes = Vec::with_capacity(values.len() * self.ty.size());
        match self.ty {
            ElementType::F32 => values.iter().for_each(|x| bytes.extend_from_slice(&x.to_le_bytes())),
            ElementType::F16 => values.iter().for_each(|&x| bytes.extend_from_slice(&u16::from_f32(x).to_le_bytes())),
            ElementType::U8 => bytes.extend(values.iter().map(|&x| u8::from_f32(x))),
        }
        self.append_bytes(&bytes)
    }

    /// Appends a typed row (from another file of the same element type).
    pub fn append_row(&mut self, row: &DenseRow) -> u32 {
        let mut bytes = Vec::new();
        match row {
            DenseRow::F32(v) => v.iter().for_each(|x| bytes.extend_from_slice(&x.to_le_bytes())),
            DenseRow::F16(v) => v.iter().for_each(|x| bytes.extend_from_slice(&x.to_le_bytes())),
            DenseRow::U8(v) => bytes.extend_from_slice(v),
        }
        self.append_bytes(&bytes)
    }

    fn append_bytes(&mut self, bytes: &[u8]) -> u32 {
        let row = self.rows as u32;
        self.crc = crc32c::crc32c_append(self.crc, bytes);
        self.rows += 1;
        match &mut self.backing {
            Backing::Memory(data) => {
                let at = data.len();
                data.extend_zeros(self.dim);
                let values = DenseData::read_le(self.ty, bytes);
                data.write_f32(at, &values.read_f32(0, self.dim));
            }
            Backing::File(m) => {
                if let Err(e) = m.write_row(row as usize, bytes) {
                    tracing::error!(file = %m.path.display(), error = %e, "could not write a vector row; it is kept in memory and the log is kept until it can be written");
                    self.overflow.insert(row, DenseData::read_le(self.ty, bytes).row_copy(0, self.dim));
                }
            }
        }
        row
    }

    /// Row `i` in its element type.
    #[inline]
    pub fn row<E: Typed>(&self, i: u32) -> &[E] {
        if !self.overflow.is_empty()
            && let Some(r) = self.overflow.get(&i)
        {
            return E::row(r).expect("rows share the column's element type");
        }
        let i = i as usize;
        match &self.backing {
            Backing::Memory(data) => &E::rows(data).expect("rows share the column's element type")[i * self.dim..(i + 1) * self.dim],
            Backing::File(m) => {
                let size = std::mem::size_of::<E>();
                let start = HEADER + i * self.dim * size;
                bytemuck_slice(&m.map[start..start + self.dim * size])
            }
        }
    }

    pub fn read_f32(&self, i: u32) -> Vec<f32> {
        fn read<E: Typed>(rows: &VectorRows, i: u32) -> Vec<f32> {
            rows.row::<E>(i).iter().map(|&x| x.to_f32()).collect()
        }
        match self.ty {
            ElementType::F32 => read::<f32>(self, i),
            ElementType::F16 => read::<u16>(self, i),
            ElementType::U8 => read::<u8>(self, i),
        }
    }

    pub fn row_copy(&self, i: u32) -> DenseRow {
        match self.ty {
            ElementType::F32 => DenseRow::F32(self.row::<f32>(i).into()),
            ElementType::F16 => DenseRow::F16(self.row::<u16>(i).into()),
            ElementType::U8 => DenseRow::U8(self.row::<u8>(i).into()),
        }
    }

    pub fn on_disk(&self) -> bool {
        matches!(&self.backing, Backing::File(m) if m.on_disk)
    }

    /// A second handle to the file, to sync it without holding the store's lock.
    pub fn file_handle(&self) -> Result<Option<File>> {
        match &self.backing {
            Backing::Memory(_) => Ok(None),
            Backing::File(m) => m
                .file
                .try_clone()
                .map(Some)
                .map_err(|e| EngineError::io(format!("opening {}", m.path.display()), e)),
        }
    }

    /// The rows written so far, readable without the store's lock (rows
    /// are never changed once appended). `None` for rows in memory, or
    /// while some row is held in memory after a failed write.
    pub fn shared(&self) -> Option<SharedRows> {
        match &self.backing {
            Backing::File(m) if self.overflow.is_empty() => {
                Some(SharedRows { map: m.map.clone(), dim: self.dim, rows: self.rows, on_disk: m.on_disk })
            }
            _ => None,
        }
    }

    /// Fails while a row could not be written, so that no checkpoint claims
    /// rows the file does not hold.
    pub fn sync_check(&self) -> Result<()> {
        if !self.overflow.is_empty() {
            return Err(EngineError::Service(format!(
                "{} vector rows could not be written to {}",
                self.overflow.len(),
                self.path().map_or_else(String::new, |p| p.display().to_string())
            )));
        }
        Ok(())
    }

    /// Follows a changed `on_disk` setting: hint the kernel to keep the rows
    /// resident, or to read them only as touched.
    pub fn set_on_disk(&mut self, on_disk: bool) {
        if let Backing::File(m) = &mut self.backing
            && m.on_disk != on_disk
        {
            m.on_disk = on_disk;
            m.advise();
        }
    }
}

/// Rows of a file as they were when shared: a build reads them while
/// writers append more.
pub(crate) struct SharedRows {
    map: Arc<Mmap>,
    dim: usize,
    rows: usize,
    on_disk: bool,
}

impl SharedRows {
    /// After a build read every row: for `on_disk` rows, drops the pages it
    /// touched from the process's resident set (they stay in the page
    /// cache, and are read again from there or the file when touched).
    pub fn release(&self) {
        if !self.on_disk {
            return;
        }
        // SAFETY: the map is a read-only shared mapping of a file; dropping
        // its pages only makes the next read fetch them from the file
        // again, with the same contents (rows never change once written).
        if let Err(e) = unsafe { self.map.unchecked_advise(memmap2::UncheckedAdvice::DontNeed) } {
            tracing::debug!(error = %e, "madvise(DONTNEED) failed");
        }
    }

    /// Row `i` in its element type; `None` past the rows shared.
    #[inline]
    pub fn row<E: Typed>(&self, i: u32) -> Option<&[E]> {
        let i = i as usize;
        if i >= self.rows {
            return None;
        }
        let size = std::mem::size_of::<E>();
        let start = HEADER + i * self.dim * size;
        Some(bytemuck_slice(&self.map[start..start + self.dim * size]))
    }
}

/// Reads the first `len` bytes of rows of a file with plain reads (not
/// through a map, so the rows do not stay in the process's resident set)
/// and compares their CRC-32C with `crc`. Rows are only ever appended, so
/// the prefix a checkpoint covers never changes while it is read.
pub(crate) fn check_rows(path: &Path, len: u64, crc: u32) -> std::result::Result<(), String> {
    let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut buf = vec![0u8; 1 << 20];
    let (mut at, mut sum) = (0u64, 0u32);
    while at < len {
        let n = ((len - at) as usize).min(buf.len());
        file.read_exact_at(&mut buf[..n], HEADER as u64 + at)
            .map_err(|e| format!("{}: reading rows: {e}", path.display()))?;
        sum = crc32c::crc32c_append(sum, &buf[..n]);
        at += n as u64;
    }
    if sum == crc { Ok(()) } else { Err(format!("{}: rows do not match their checksum", path.display())) }
}

/// The typed view of little-endian row bytes. The map is page-aligned and
/// the header and rows keep every element aligned to its size.
fn bytemuck_slice<E: Typed>(bytes: &[u8]) -> &[E] {
    bytemuck::cast_slice(bytes)
}

fn row_bytes(dim: usize, ty: ElementType) -> usize {
    dim * ty.size()
}

impl MappedFile {
    fn map(path: PathBuf, file: File, row: usize, capacity: usize, on_disk: bool) -> Result<MappedFile> {
        let len = (HEADER + capacity * row) as u64;
        if file.metadata().map_err(|e| EngineError::io(format!("reading {}", path.display()), e))?.len() < len {
            file.set_len(len).map_err(|e| EngineError::io(format!("growing {}", path.display()), e))?;
        }
        // SAFETY: the file is ours (under the storage directory, created or
        // opened by this collection) and is only ever grown, never shrunk,
        // while mapped; rows are written with pwrite at offsets no reader
        // holds a slice of yet.
        let map = unsafe { MmapOptions::new().len(len as usize).map(&file) }
            .map_err(|e| EngineError::io(format!("mapping {}", path.display()), e))?;
        let mapped = MappedFile { path, file, map: Arc::new(map), capacity, on_disk };
        mapped.advise();
        Ok(mapped)
    }

    fn advise(&self) {
        let advice = if self.on_disk { Advice::Random } else { Advice::WillNeed };
        if let Err(e) = self.map.advise(advice) {
            tracing::debug!(file = %self.path.display(), error = %e, "madvise failed");
        }
    }

    fn write_row(&mut self, row: usize, bytes: &[u8]) -> std::io::Result<()> {
        if row >= self.capacity {
            let capacity = (self.capacity * 2).max(row + 1);
            let file = self.file.try_clone()?;
            let grown = MappedFile::map(self.path.clone(), file, bytes.len(), capacity, self.on_disk)
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            *self = grown;
        }
        self.file.write_all_at(bytes, (HEADER + row * bytes.len()) as u64)
    }
}
