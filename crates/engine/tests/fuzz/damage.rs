//! Damage to a file's bytes: flipped bits, overwritten or zero-filled ranges,
//! truncation and appended garbage, at positions biased towards the headers
//! and the tail, where readers make most of their decisions.

use proptest::collection::vec;
use proptest::prelude::*;

/// Where a change starts.
#[derive(Debug, Clone, Copy)]
pub enum Pos {
    /// This many bytes from the start (taken modulo the length).
    Start(u64),
    /// This many bytes before the end.
    End(u64),
}

impl Pos {
    /// The offset in a file of `len` bytes, in `0..len` (0 when empty).
    fn at(self, len: usize) -> usize {
        if len == 0 {
            return 0;
        }
        match self {
            Pos::Start(n) => (n % len as u64) as usize,
            Pos::End(n) => len - 1 - (n % len as u64) as usize,
        }
    }
}

#[derive(Debug, Clone)]
pub enum Damage {
    /// XOR one byte with a non-zero mask.
    Flip { pos: Pos, mask: u8 },
    /// Overwrite bytes (as many as fit) with these.
    Overwrite { pos: Pos, bytes: Vec<u8> },
    /// Zero bytes from `pos`, `len` of them (as many as fit).
    Zero { pos: Pos, len: usize },
    /// Cut the file at `pos`.
    Truncate { pos: Pos },
    /// Add bytes at the end.
    Append { bytes: Vec<u8> },
}

fn pos() -> impl Strategy<Value = Pos> {
    prop_oneof![
        3 => (0u64..48).prop_map(Pos::Start),
        2 => (0u64..48).prop_map(Pos::End),
        4 => any::<u64>().prop_map(Pos::Start),
    ]
}

fn garbage() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => vec(any::<u8>(), 1..64),
        1 => vec(Just(0u8), 1..64),
        1 => vec(Just(0xffu8), 1..16),
    ]
}

pub fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        4 => (pos(), 1u8..=255).prop_map(|(pos, mask)| Damage::Flip { pos, mask }),
        2 => (pos(), garbage()).prop_map(|(pos, bytes)| Damage::Overwrite { pos, bytes }),
        2 => (pos(), prop_oneof![1usize..16, 1usize..4096]).prop_map(|(pos, len)| Damage::Zero { pos, len }),
        3 => pos().prop_map(|pos| Damage::Truncate { pos }),
        2 => garbage().prop_map(|bytes| Damage::Append { bytes }),
    ]
}

/// One to three changes.
pub fn damages() -> impl Strategy<Value = Vec<Damage>> {
    vec(damage(), 1..=3)
}

pub fn apply(bytes: &mut Vec<u8>, damage: &Damage) {
    let len = bytes.len();
    match damage {
        Damage::Flip { pos, mask } => {
            if len > 0 {
                bytes[pos.at(len)] ^= mask;
            }
        }
        Damage::Overwrite { pos, bytes: new } => {
            let at = pos.at(len);
            let n = new.len().min(len - at);
            bytes[at..at + n].copy_from_slice(&new[..n]);
        }
        Damage::Zero { pos, len: n } => {
            let at = pos.at(len);
            let end = at.saturating_add(*n).min(len);
            bytes[at..end].fill(0);
        }
        Damage::Truncate { pos } => bytes.truncate(pos.at(len)),
        Damage::Append { bytes: new } => bytes.extend_from_slice(new),
    }
}

pub fn apply_all(bytes: &mut Vec<u8>, damages: &[Damage]) {
    for damage in damages {
        apply(bytes, damage);
    }
}

/// Recomputes the trailing CRC-32C of a file laid out as
/// `magic (8 bytes) | body | crc32c(body) (4 bytes LE)`, the frame of the
/// checkpoint and index files, so that damage reaches the parser behind the
/// checksum instead of stopping at it.
pub fn fix_trailing_crc(bytes: &mut [u8]) {
    if bytes.len() < 12 {
        return;
    }
    let end = bytes.len() - 4;
    let crc = crc32c::crc32c(&bytes[8..end]);
    bytes[end..].copy_from_slice(&crc.to_le_bytes());
}
