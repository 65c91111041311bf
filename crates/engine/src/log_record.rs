//! The encoding of one write-ahead log record: what [`WalEntry`] becomes on
//! disk.
//!
//! Uploads are almost all upserts of dense vectors, and writing their floats
//! as JSON text costs more CPU than the disk costs time. So an update record
//! is binary: dense vectors are raw little-endian `f32`, ids are fixed-width,
//! and only the parts that are JSON by nature (payloads, filters, other
//! operations) stay JSON inside it. Records written before this encoding are
//! JSON objects and are still read.
//!
//! ```text
//! record     = json-entry                     first byte '{': a JSON WalEntry (older records,
//!                                             index changes)
//!            | 0xB1 count:u32 op{count}       an update: its operations in order
//! op         = 0x01 upsert | 0x02 len:u32 json    json: one UpdateOperation
//! upsert     = len:u32 json                   the upsert without its points (shard_key,
//!                                             update_filter, update_mode)
//!              count:u32 point{count}
//! point      = id vectors payload
//! id         = 0x00 u64 | 0x01 uuid:16 bytes
//! vectors    = count:u16 (len:u16 name kind)*
//! kind       = 0x00 dim:u32 f32{dim}          a dense vector
//!            | 0x01 len:u32 json              any other vector, as JSON
//! payload    = 0x00                           none
//!            | 0x01 len:u32 json              a JSON object
//! ```
//!
//! All integers are little-endian. A record is checksummed by the log itself;
//! decoding still checks every length against what is left, so a bad record is
//! an error, never a panic or a huge allocation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::operations::{CreateFieldIndex, PointInsertOperations, PointStruct, PointsData, UpdateOperation};
use crate::types::{Payload, PointId, Vector, VectorStruct};

const UPDATE: u8 = 0xB1;
const OP_UPSERT: u8 = 0x01;
const OP_JSON: u8 = 0x02;
const ID_NUM: u8 = 0x00;
const ID_UUID: u8 = 0x01;
const VECTOR_DENSE: u8 = 0x00;
const VECTOR_JSON: u8 = 0x01;

/// What one log record holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum WalEntry {
    Update(Vec<UpdateOperation>),
    CreateIndex(CreateFieldIndex),
    DeleteIndex(String),
    /// A shard key of a custom-sharded collection is created, or deleted
    /// with every point written under it.
    CreateShardKey(crate::shard_key::ShardKey),
    DeleteShardKey(crate::shard_key::ShardKey),
}

/// The bytes of `entry` as the log stores them.
pub(crate) fn encode(entry: &WalEntry) -> Result<Vec<u8>, String> {
    let WalEntry::Update(ops) = entry else {
        return serde_json::to_vec(entry).map_err(|e| e.to_string());
    };
    let mut out = Vec::new();
    out.push(UPDATE);
    put_len(&mut out, ops.len())?;
    for op in ops {
        match op {
            UpdateOperation::Upsert(insert @ PointInsertOperations { points: PointsData::Points(points), .. }) => {
                out.push(OP_UPSERT);
                let header = PointInsertOperations { points: PointsData::Points(Vec::new()), ..insert.clone() };
                put_json(&mut out, &header)?;
                put_len(&mut out, points.len())?;
                for point in points {
                    put_point(&mut out, point)?;
                }
            }
            other => {
                out.push(OP_JSON);
                put_json(&mut out, other)?;
            }
        }
    }
    Ok(out)
}

/// The entry in `bytes`: the binary form, or the JSON of older records.
pub(crate) fn decode(bytes: &[u8]) -> Result<WalEntry, String> {
    match bytes.first() {
        Some(&UPDATE) => {
            let mut r = Reader { bytes, pos: 1 };
            let count = r.len()?;
            let mut ops = Vec::with_capacity(count.min(r.left()));
            for _ in 0..count {
                ops.push(match r.u8()? {
                    OP_UPSERT => {
                        let mut insert: PointInsertOperations = r.json()?;
                        let n = r.len()?;
                        let mut points = Vec::with_capacity(n.min(r.left()));
                        for _ in 0..n {
                            points.push(r.point()?);
                        }
                        insert.points = PointsData::Points(points);
                        UpdateOperation::Upsert(insert)
                    }
                    OP_JSON => r.json()?,
                    tag => return Err(format!("unknown operation tag {tag:#04x} at byte {}", r.pos - 1)),
                });
            }
            if r.left() != 0 {
                return Err(format!("{} bytes left over after the record", r.left()));
            }
            Ok(WalEntry::Update(ops))
        }
        // JSON (older records, index changes) may nest deeper than serde's default.
        _ => crate::limits::decode_json(bytes),
    }
}

fn put_len(out: &mut Vec<u8>, len: usize) -> Result<(), String> {
    let len = u32::try_from(len).map_err(|_| format!("a length of {len} does not fit a log record"))?;
    out.extend_from_slice(&len.to_le_bytes());
    Ok(())
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), String> {
    put_len(out, bytes.len())?;
    out.extend_from_slice(bytes);
    Ok(())
}

fn put_json<T: Serialize>(out: &mut Vec<u8>, value: &T) -> Result<(), String> {
    put_bytes(out, &serde_json::to_vec(value).map_err(|e| e.to_string())?)
}

fn put_point(out: &mut Vec<u8>, point: &PointStruct) -> Result<(), String> {
    match point.id {
        PointId::Num(n) => {
            out.push(ID_NUM);
            out.extend_from_slice(&n.to_le_bytes());
        }
        PointId::Uuid(u) => {
            out.push(ID_UUID);
            out.extend_from_slice(u.as_bytes());
        }
    }
    let vectors = point.vector.clone().into_named();
    let count = u16::try_from(vectors.len()).map_err(|_| "too many vectors in one point".to_string())?;
    out.extend_from_slice(&count.to_le_bytes());
    for (name, vector) in &vectors {
        let len = u16::try_from(name.len()).map_err(|_| format!("vector name of {} bytes", name.len()))?;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        match vector {
            Vector::Dense(values) => {
                out.push(VECTOR_DENSE);
                put_len(out, values.len())?;
                out.reserve(values.len() * 4);
                for x in values {
                    out.extend_from_slice(&x.to_le_bytes());
                }
            }
            other => {
                out.push(VECTOR_JSON);
                put_json(out, other)?;
            }
        }
    }
    match &point.payload {
        None => out.push(0),
        Some(payload) => {
            out.push(1);
            put_json(out, payload)?;
        }
    }
    Ok(())
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn left(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if n > self.left() {
            return Err(format!("record cut short at byte {}: {n} bytes needed, {} left", self.pos, self.left()));
        }
        let slice = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        Ok(self.take(N)?.try_into().expect("take returns N bytes"))
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn len(&mut self) -> Result<usize, String> {
        Ok(u32::from_le_bytes(self.array()?) as usize)
    }

    fn json<T: serde::de::DeserializeOwned>(&mut self) -> Result<T, String> {
        let n = self.len()?;
        crate::limits::decode_json(self.take(n)?)
    }

    fn point(&mut self) -> Result<PointStruct, String> {
        let id = match self.u8()? {
            ID_NUM => PointId::Num(u64::from_le_bytes(self.array()?)),
            ID_UUID => PointId::Uuid(uuid::Uuid::from_bytes(self.array()?)),
            tag => return Err(format!("unknown id tag {tag:#04x} at byte {}", self.pos - 1)),
        };
        let count = u16::from_le_bytes(self.array()?);
        let mut vectors = BTreeMap::new();
        for _ in 0..count {
            let len = u16::from_le_bytes(self.array()?) as usize;
            let name = std::str::from_utf8(self.take(len)?).map_err(|e| format!("vector name: {e}"))?.to_string();
            let vector = match self.u8()? {
                VECTOR_DENSE => {
                    let dim = self.len()?;
                    let raw = self.take(dim.checked_mul(4).ok_or("vector too long")?)?;
                    Vector::Dense(raw.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes"))).collect())
                }
                VECTOR_JSON => self.json()?,
                tag => return Err(format!("unknown vector tag {tag:#04x} at byte {}", self.pos - 1)),
            };
            vectors.insert(name, vector);
        }
        let payload: Option<Payload> = match self.u8()? {
            0 => None,
            1 => Some(self.json()?),
            tag => return Err(format!("unknown payload tag {tag:#04x} at byte {}", self.pos - 1)),
        };
        Ok(PointStruct { id, vector: VectorStruct::Named(vectors), payload })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn entry(body: serde_json::Value) -> WalEntry {
        WalEntry::Update(vec![serde_json::from_value(body).unwrap()])
    }

    fn stored(entry: WalEntry) -> WalEntry {
        // The write path logs vectors by name; compare in that form.
        match entry {
            WalEntry::Update(ops) => WalEntry::Update(
                ops.into_iter()
                    .map(|op| match op {
                        UpdateOperation::Upsert(mut insert) => {
                            if let PointsData::Points(points) = &mut insert.points {
                                for p in points {
                                    p.vector = VectorStruct::Named(p.vector.clone().into_named());
                                }
                            }
                            UpdateOperation::Upsert(insert)
                        }
                        other => other,
                    })
                    .collect(),
            ),
            other => other,
        }
    }

    #[test]
    fn every_kind_of_entry_round_trips() {
        let entries = [
            entry(json!({"upsert": {"points": [
                {"id": 1, "vector": [0.5, -1.25, 3.0e-7], "payload": {"a": [1, {"b": null}]}},
                {"id": "5c56c793-69f3-4fbf-87e6-c4bf54c28c26", "vector": {"text": {"indices": [1, 7], "values": [0.5, 0.25]}, "img": [1.0, 2.0]}},
                {"id": 2, "vector": [[1.0, 2.0], [3.0, 4.0]]}
            ], "shard_key": "k", "update_filter": {"must": [{"key": "a", "match": {"value": 1}}]}, "update_mode": "update_only"}})),
            entry(json!({"delete": {"points": [1, 2]}})),
            entry(json!({"set_payload": {"payload": {"x": 1}, "filter": {"must_not": [{"has_id": [3]}]}, "key": "a.b"}})),
            WalEntry::DeleteIndex("field".into()),
            WalEntry::Update(Vec::new()),
        ];
        for e in entries {
            let e = stored(e);
            let bytes = encode(&e).unwrap();
            assert_eq!(decode(&bytes).unwrap(), e);
        }
    }

    #[test]
    fn dense_vectors_are_raw_floats() {
        // Embedding-like values: JSON needs about ten characters for each.
        let vector: Vec<f32> = (0..384).map(|i| (i as f32 * 0.731).sin() * 0.173).collect();
        let e = stored(entry(json!({"upsert": {"points": [{"id": 7, "vector": vector}]}})));
        let bytes = encode(&e).unwrap();
        assert!(bytes.len() < 384 * 4 + 100, "{} bytes", bytes.len());
        assert!(bytes.len() * 2 < serde_json::to_vec(&e).unwrap().len());
    }

    #[test]
    fn older_json_records_still_decode() {
        let e = stored(entry(json!({"upsert": {"points": [{"id": 1, "vector": [1.0, 2.0]}]}})));
        assert_eq!(decode(&serde_json::to_vec(&e).unwrap()).unwrap(), e);
    }

    proptest! {
        // Any bytes: an error or an entry, never a panic or a runaway allocation.
        #[test]
        fn damaged_records_are_errors(bytes in proptest::collection::vec(any::<u8>(), 0..256), cut in 0usize..300, flip in 0usize..300) {
            let _ = decode(&bytes);
            let good = encode(&stored(entry(json!({"upsert": {"points": [{"id": 3, "vector": [1.0, 2.0], "payload": {"t": "x"}}]}})))).unwrap();
            let _ = decode(&good[..cut.min(good.len())]);
            let mut flipped = good.clone();
            let i = flip % flipped.len();
            flipped[i] ^= 0x5A;
            let _ = decode(&flipped);
        }

        #[test]
        fn dense_upserts_round_trip(points in proptest::collection::vec((any::<u64>(), proptest::collection::vec(-1.0e6f32..1.0e6, 0..16)), 0..8)) {
            let points: Vec<_> = points.into_iter().map(|(id, v)| json!({"id": id, "vector": v})).collect();
            let e = stored(entry(json!({"upsert": {"points": points}})));
            prop_assert_eq!(decode(&encode(&e).unwrap()).unwrap(), e);
        }
    }
}
