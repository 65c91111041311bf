//! The persistent form of a graph.
//!
//! ```text
//! magic    "OSPHNSW\0"                         8 bytes
//! version  u32 = 1
//! distance u8 (0 Cosine, 1 Euclid, 2 Dot, 3 Manhattan)
//! m u32, ef_construct u32, seed u64, len u32
//! entry    u32 (u32::MAX: none)
//! levels   len × u8
//! level 0  per node: count u32, count × u32
//! upper    per node with level ≥ 1, levels 1..=level: count u32, count × u32
//! crc32c   u32 of every byte before it
//! ```
//! All integers little-endian. Lists are stored at their length, not padded.
//! A reader refuses a wrong magic, an unknown version, a checksum mismatch,
//! a short or over-long input and any link or count out of range.

use super::{Hnsw, MAX_LEVEL};
use crate::config::Distance;

const MAGIC: &[u8; 8] = b"OSPHNSW\0";
const VERSION: u32 = 1;
const HEADER_LEN: usize = 8 + 4 + 1 + 4 + 4 + 8 + 4 + 4;
/// Largest `m` a file may claim; far above any useful value.
const MAX_M: usize = 4096;

fn distance_code(distance: Distance) -> u8 {
    match distance {
        Distance::Cosine => 0,
        Distance::Euclid => 1,
        Distance::Dot => 2,
        Distance::Manhattan => 3,
    }
}

impl Hnsw {
    /// The graph as bytes; [`Hnsw::decode`] reads it back.
    pub fn encode(&self) -> Vec<u8> {
        let links = self.links0.len() + self.extra0.len() + self.upper.len();
        let mut out = Vec::with_capacity(HEADER_LEN + self.levels.len() + 4 * links + 4);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.push(distance_code(self.distance));
        out.extend_from_slice(&(self.m as u32).to_le_bytes());
        out.extend_from_slice(&(self.ef_construct as u32).to_le_bytes());
        out.extend_from_slice(&self.seed.to_le_bytes());
        out.extend_from_slice(&self.len.to_le_bytes());
        out.extend_from_slice(&self.entry.unwrap_or(u32::MAX).to_le_bytes());
        out.extend_from_slice(&self.levels);
        let put_list = |out: &mut Vec<u8>, list: &[u32]| {
            out.extend_from_slice(&(list.len() as u32).to_le_bytes());
            for link in list {
                out.extend_from_slice(&link.to_le_bytes());
            }
        };
        let mut buf = Vec::new();
        for node in 0..self.len {
            buf.clear();
            super::Links::links_into(self, node, 0, &mut buf);
            put_list(&mut out, &buf);
        }
        for node in 0..self.len {
            for level in 1..=usize::from(self.levels[node as usize]) {
                put_list(&mut out, self.upper_links(node, level));
            }
        }
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Reads a graph written by [`Hnsw::encode`].
    pub fn decode(bytes: &[u8]) -> Result<Hnsw, String> {
        if bytes.len() < HEADER_LEN + 4 {
            return Err(format!("hnsw graph truncated: {} bytes, header alone is {}", bytes.len(), HEADER_LEN + 4));
        }
        let (body, crc) = bytes.split_at(bytes.len() - 4);
        if &body[..8] != MAGIC {
            return Err("not an hnsw graph: bad magic".into());
        }
        let stored = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
        let actual = crc32c::crc32c(body);
        if stored != actual {
            return Err(format!("hnsw graph corrupt: crc32c {actual:#010x}, expected {stored:#010x}"));
        }
        let mut r = Reader { bytes: body, pos: 8 };
        let version = r.u32()?;
        if version != VERSION {
            return Err(format!("hnsw graph version {version} not supported (expected {VERSION})"));
        }
        let distance = match r.u8()? {
            0 => Distance::Cosine,
            1 => Distance::Euclid,
            2 => Distance::Dot,
            3 => Distance::Manhattan,
            other => return Err(format!("hnsw graph: unknown distance code {other}")),
        };
        let m = r.u32()? as usize;
        if !(2..=MAX_M).contains(&m) {
            return Err(format!("hnsw graph: m = {m} out of range 2..={MAX_M}"));
        }
        let ef_construct = r.u32()? as usize;
        let seed = r.u64()?;
        let len = r.u32()?;
        let n = len as usize;
        let entry = match r.u32()? {
            u32::MAX => None,
            e if e < len => Some(e),
            e => return Err(format!("hnsw graph: entry point {e} out of range (len {len})")),
        };
        // Each node takes at least its level byte and a level-0 count.
        if r.remaining() < n * 5 {
            return Err(format!("hnsw graph truncated: {len} nodes need at least {} more bytes", n * 5));
        }
        // The level-0 array is padded to 2·m per node; refuse a file whose
        // padded form would be out of all proportion to its size.
        let padded = n.saturating_mul(2 * m + 1).saturating_mul(4);
        if padded > bytes.len().saturating_mul(256).saturating_add(64 << 20) {
            return Err(format!("hnsw graph implausible: {len} nodes with m = {m} in {} bytes", bytes.len()));
        }
        let levels = r.take(n)?.to_vec();
        if let Some(bad) = levels.iter().position(|&l| l > MAX_LEVEL) {
            return Err(format!("hnsw graph: node {bad} has level {} above {MAX_LEVEL}", levels[bad]));
        }
        // Level 0 into a compact list first, then into the padded layout.
        let mut at = Vec::with_capacity(n + 1);
        let mut links = Vec::new();
        at.push(0);
        for node in 0..len {
            let count = r.u32()? as usize;
            if count > n {
                return Err(format!("hnsw graph: node {node} claims {count} links among {len} nodes"));
            }
            read_links(&mut r, count, len, &mut links)?;
            at.push(links.len());
        }
        let mut graph = Hnsw {
            distance,
            m,
            ef_construct,
            seed,
            len,
            entry,
            levels,
            cap0: 2 * m,
            links0: Vec::new(),
            extra0_at: Vec::new(),
            extra0: Vec::new(),
            upper_at: vec![u32::MAX; n],
            upper: Vec::new(),
        };
        graph.set_level0(n, |i| &links[at[i]..at[i + 1]]);
        drop((at, links));
        let stride = m + 1;
        let mut upper = Vec::new();
        for node in 0..len {
            let level = usize::from(graph.levels[node as usize]);
            if level == 0 {
                continue;
            }
            graph.upper_at[node as usize] =
                u32::try_from(upper.len()).map_err(|_| "hnsw graph: upper levels too large".to_string())?;
            for l in 1..=level {
                let count = r.u32()? as usize;
                if count > m {
                    return Err(format!("hnsw graph: node {node} has {count} links at level {l}, more than m = {m}"));
                }
                upper.push(count as u32);
                read_links(&mut r, count, len, &mut upper)?;
                upper.resize(upper.len() + stride - 1 - count, 0);
            }
        }
        graph.upper = upper;
        if r.remaining() != 0 {
            return Err(format!("hnsw graph: {} unexpected bytes after the links", r.remaining()));
        }
        Ok(graph)
    }
}

fn read_links(r: &mut Reader<'_>, count: usize, len: u32, out: &mut Vec<u32>) -> Result<(), String> {
    let raw = r.take(count.checked_mul(4).ok_or("hnsw graph: link count overflows")?)?;
    for chunk in raw.chunks_exact(4) {
        let link = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        if link >= len {
            return Err(format!("hnsw graph: link to node {link} out of range (len {len})"));
        }
        out.push(link);
    }
    Ok(())
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.remaining() < n {
            return Err(format!("hnsw graph truncated at byte {}: {n} more bytes expected", self.pos));
        }
        let out = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, String> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
    }
}
