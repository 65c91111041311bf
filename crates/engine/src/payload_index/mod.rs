//! Payload indexes: per indexed field, an in-memory structure from values to
//! point offsets, built from the payloads when a collection opens or an index
//! is created, and kept current by [`FieldIndexes::add`] /
//! [`FieldIndexes::remove`] / [`FieldIndexes::moved`] on every write.
//!
//! Only the schema (`PointStore::payload_index`) is persisted, in the
//! checkpoint and as `CreateIndex` / `DeleteIndex` log records; the
//! structures are rebuilt from it, which is how they survive a restart.
//!
//! | type | structure | serves |
//! |---|---|---|
//! | keyword | string -> points | `match` value / any on strings |
//! | uuid | parsed UUID -> points | `match` value / any on UUID strings |
//! | integer | `lookup`: integer -> points; `range`: number -> points, ordered | `match` on integers, `range` |
//! | float | number -> points, ordered | `range`, `match` on integers |
//! | bool | bool -> points | `match` on bools |
//! | datetime | microseconds -> points, ordered | datetime `range` |
//! | geo | lat/lon grid cell -> points | `geo_radius`, `geo_bounding_box`, `geo_polygon` |
//! | text | token -> points | `text`, `text_any`, `phrase` |
//!
//! Indexes never decide a match: [`FieldIndexes::candidates`] returns a
//! superset of the points a filter matches, and callers still run
//! [`Filter::matches`](crate::filter::Filter::matches) on each. The one
//! place an index changes a filter's meaning is full text, as in Qdrant:
//! with a text index, `text` / `text_any` / `phrase` compare the index's
//! tokens (see [`text`]); without one they are substring tests.

mod geo;
mod maps;
mod query;
mod text;

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::filter::{Filter, parse_datetime};
use crate::geo::GeoPoint;
use crate::operations::{PayloadFieldSchema, PayloadSchemaType};
use crate::payload_path::{self, JsonPath, JsonPathItem};
use crate::types::{Payload, PointId};

use maps::{MapIndex, Num, OrderedIndex};

pub use query::Cardinality;
pub use text::Tokenizer;
pub(crate) use text::TextQuery;

/// The indexes of one collection, by field name as it was created.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct FieldIndexes {
    fields: BTreeMap<String, FieldIndex>,
}

/// The index of one field.
#[derive(Debug, Clone, PartialEq)]
struct FieldIndex {
    path: JsonPath,
    kind: IndexKind,
    /// Points with at least one value this index holds: `payload_schema.points`.
    points: usize,
}

#[derive(Debug, Clone, PartialEq)]
enum IndexKind {
    Keyword(MapIndex<String>),
    Uuid(MapIndex<u128>),
    /// `range` holds every number (a float range on an integer field still
    /// matches a stored 1.5); `lookup` and the point count only integers.
    Integer { lookup: Option<MapIndex<i64>>, range: Option<OrderedIndex<Num>> },
    Float(OrderedIndex<Num>),
    Bool(MapIndex<bool>),
    /// Microseconds since the epoch, rounded down.
    Datetime(OrderedIndex<i64>),
    Geo(geo::GeoIndex),
    Text(text::TextIndex),
}

/// `integer` index parameters; both structures are on unless turned off.
#[derive(Deserialize)]
struct IntegerParams {
    #[serde(default)]
    lookup: Option<bool>,
    #[serde(default)]
    range: Option<bool>,
}

impl IndexKind {
    fn new(schema: &PayloadFieldSchema) -> Result<IndexKind, String> {
        let params = match schema {
            PayloadFieldSchema::Params(v) => Some(v),
            PayloadFieldSchema::Type(_) => None,
        };
        let kind = schema.schema_type().ok_or_else(|| format!("Unknown payload index type in {schema:?}"))?;
        Ok(match kind {
            PayloadSchemaType::Keyword => IndexKind::Keyword(MapIndex::default()),
            PayloadSchemaType::Uuid => IndexKind::Uuid(MapIndex::default()),
            PayloadSchemaType::Integer => {
                let p = match params {
                    Some(v) => IntegerParams::deserialize(v).map_err(|e| format!("invalid integer index parameters: {e}"))?,
                    None => IntegerParams { lookup: None, range: None },
                };
                IndexKind::Integer {
                    lookup: p.lookup.unwrap_or(true).then(MapIndex::default),
                    range: p.range.unwrap_or(true).then(OrderedIndex::default),
                }
            }
            PayloadSchemaType::Float => IndexKind::Float(OrderedIndex::default()),
            PayloadSchemaType::Bool => IndexKind::Bool(MapIndex::default()),
            PayloadSchemaType::Datetime => IndexKind::Datetime(OrderedIndex::default()),
            PayloadSchemaType::Geo => IndexKind::Geo(geo::GeoIndex::default()),
            PayloadSchemaType::Text => IndexKind::Text(text::TextIndex::new(Tokenizer::from_params(params)?)),
        })
    }

    /// Adds (`insert`) or removes one point's values; the same code both ways,
    /// so a removal undoes exactly what the addition did. Returns whether the
    /// point has a value of this index's type.
    fn update(&mut self, offset: u32, values: &[&Value], insert: bool) -> bool {
        let strings = || values.iter().filter_map(|v| v.as_str());
        let numbers = || values.iter().filter_map(|v| v.as_f64()).filter_map(Num::new);
        let integers = || values.iter().filter_map(|v| v.as_i64());
        match self {
            IndexKind::Keyword(map) => {
                let mut any = false;
                for s in strings() {
                    any = true;
                    if insert { map.insert(s.to_string(), offset) } else { map.remove(s, offset) }
                }
                any
            }
            IndexKind::Uuid(map) => {
                let mut any = false;
                for u in strings().filter_map(parse_uuid) {
                    any = true;
                    if insert { map.insert(u, offset) } else { map.remove(&u, offset) }
                }
                any
            }
            IndexKind::Integer { lookup, range } => {
                if let Some(map) = lookup {
                    for i in integers() {
                        if insert { map.insert(i, offset) } else { map.remove(&i, offset) }
                    }
                }
                if let Some(map) = range {
                    for n in numbers() {
                        if insert { map.insert(n, offset) } else { map.remove(n, offset) }
                    }
                }
                integers().next().is_some()
            }
            IndexKind::Float(map) => {
                let mut any = false;
                for n in numbers() {
                    any = true;
                    if insert { map.insert(n, offset) } else { map.remove(n, offset) }
                }
                any
            }
            IndexKind::Bool(map) => {
                let mut any = false;
                for b in values.iter().filter_map(|v| v.as_bool()) {
                    any = true;
                    if insert { map.insert(b, offset) } else { map.remove(&b, offset) }
                }
                any
            }
            IndexKind::Datetime(map) => {
                let mut any = false;
                for t in strings().filter_map(parse_datetime).map(|t| t.timestamp_micros()) {
                    any = true;
                    if insert { map.insert(t, offset) } else { map.remove(t, offset) }
                }
                any
            }
            IndexKind::Geo(index) => {
                let points: Vec<GeoPoint> = values.iter().filter_map(|v| GeoPoint::from_payload(v)).collect();
                if insert { index.add(offset, &points) } else { index.remove(offset, &points) }
                !points.is_empty()
            }
            IndexKind::Text(index) => {
                let strings: Vec<&str> = strings().collect();
                if insert { index.add(offset, &strings) } else { index.remove(offset, &strings) }
                !strings.is_empty()
            }
        }
    }
}

/// A UUID as the uuid index keys it; any form `Uuid::parse_str` reads.
fn parse_uuid(s: &str) -> Option<u128> {
    uuid::Uuid::parse_str(s).ok().map(|u| u.as_u128())
}

impl FieldIndex {
    fn update(&mut self, offset: usize, payload: &Payload, insert: bool) {
        let values = payload_path::values(payload, &self.path);
        if values.is_empty() {
            return;
        }
        let offset = u32::try_from(offset).expect("point offsets fit in u32");
        if self.kind.update(offset, &values, insert) {
            if insert {
                self.points += 1;
            } else {
                self.points -= 1;
            }
        }
    }
}

/// Checks that a schema can be built into an index (its parameters parse).
pub(crate) fn check_schema(schema: &PayloadFieldSchema) -> Result<(), String> {
    IndexKind::new(schema).map(|_| ())
}

impl FieldIndexes {
    /// Every index of `schema`, filled from `payloads` (point `i` at offset `i`).
    pub fn build(schema: &BTreeMap<String, PayloadFieldSchema>, payloads: &[Payload]) -> FieldIndexes {
        let mut out = FieldIndexes::default();
        for (field, field_schema) in schema {
            out.create(field, field_schema, payloads);
        }
        out
    }

    /// Builds (or rebuilds) the index of one field. A schema that cannot be
    /// built (only an unknown or malformed one, which creation refuses) leaves
    /// the field unindexed: filters on it still work, by scanning.
    pub fn create(&mut self, field: &str, schema: &PayloadFieldSchema, payloads: &[Payload]) {
        self.fields.remove(field);
        let (Ok(path), Ok(kind)) = (field.parse::<JsonPath>(), IndexKind::new(schema)) else {
            tracing::warn!(field, ?schema, "payload index cannot be built; the field stays unindexed");
            return;
        };
        let mut index = FieldIndex { path, kind, points: 0 };
        for (offset, payload) in payloads.iter().enumerate() {
            index.update(offset, payload, true);
        }
        self.fields.insert(field.to_string(), index);
    }

    pub fn delete(&mut self, field: &str) {
        self.fields.remove(field);
    }

    /// A point was stored at `offset` with `payload`.
    pub fn add(&mut self, offset: usize, payload: &Payload) {
        for index in self.fields.values_mut() {
            index.update(offset, payload, true);
        }
    }

    /// The point at `offset`, whose payload is `payload`, is going away or is
    /// about to change; call before the payload changes.
    pub fn remove(&mut self, offset: usize, payload: &Payload) {
        for index in self.fields.values_mut() {
            index.update(offset, payload, false);
        }
    }

    /// The point with `payload` moved from offset `from` to `to` (a delete
    /// moved the last point into the hole).
    pub fn moved(&mut self, from: usize, to: usize, payload: &Payload) {
        if from != to {
            self.remove(from, payload);
            self.add(to, payload);
        }
    }

    /// Points with at least one indexed value of `field` (Qdrant's
    /// `payload_schema.*.points`); `None` when the field has no index.
    pub fn points(&self, field: &str) -> Option<usize> {
        self.fields.get(field).map(|index| index.points)
    }

    /// The index on the field at `prefix` + `key`: `prefix` holds the keys of
    /// the nested conditions around a condition on `key`, each ending in `[]`.
    fn lookup(&self, prefix: &[&JsonPath], key: &JsonPath) -> Option<&FieldIndex> {
        self.fields.values().find(|index| path_is(&index.path, prefix, key))
    }

    /// Offsets that may match `filter`, ascending: a superset of the matches
    /// built from the indexed conditions, or `None` when no index narrows the
    /// filter (scan everything). `ids` maps the ids of the `total` points to
    /// their offsets, for `has_id`; `shards` gives each offset's shard key
    /// slot, for a shard key selector.
    ///
    /// A set expected to hold more than half the points is not worth
    /// collecting and reads as `None` too; [`Self::candidates_unbounded`]
    /// collects it anyway.
    pub fn candidates(&self, filter: &Filter, ids: &BTreeMap<PointId, u32>, shards: &[u32], total: usize) -> Option<Vec<u32>> {
        if self.estimate(filter, ids, shards, total).exp.saturating_mul(2) > total {
            return None;
        }
        self.candidates_unbounded(filter, ids, shards, total)
    }

    /// [`Self::candidates`] whatever their number.
    pub fn candidates_unbounded(
        &self,
        filter: &Filter,
        ids: &BTreeMap<PointId, u32>,
        shards: &[u32],
        total: usize,
    ) -> Option<Vec<u32>> {
        query::Planner { indexes: self, ids, shards, total }.candidates(filter)
    }

    /// How many of the `total` points `filter` matches, as far as the indexes
    /// tell (unindexed conditions count as unknown).
    pub fn estimate(&self, filter: &Filter, ids: &BTreeMap<PointId, u32>, shards: &[u32], total: usize) -> Cardinality {
        query::Planner { indexes: self, ids, shards, total }.estimate(filter)
    }

    /// The tokenizer of the full-text index at `prefix` + `key`, if there is one.
    pub fn tokenizer(&self, prefix: &[&JsonPath], key: &JsonPath) -> Option<&Tokenizer> {
        match &self.lookup(prefix, key)?.kind {
            IndexKind::Text(index) => Some(&index.tokenizer),
            _ => None,
        }
    }
}

/// Whether `full` is the path `prefix[0]` . `prefix[1]` . ... . `key`.
fn path_is(full: &JsonPath, prefix: &[&JsonPath], key: &JsonPath) -> bool {
    enum Step<'a> {
        Key(&'a str),
        Item(&'a JsonPathItem),
    }
    let mut parts = prefix.iter().copied().chain(std::iter::once(key));
    let first = parts.next().expect("at least the key");
    if first.first_key() != full.first_key() {
        return false;
    }
    let steps = first
        .items()
        .iter()
        .map(Step::Item)
        .chain(parts.flat_map(|p| std::iter::once(Step::Key(p.first_key())).chain(p.items().iter().map(Step::Item))));
    let mut expected = full.items().iter();
    for step in steps {
        let Some(item) = expected.next() else { return false };
        let same = match (step, item) {
            (Step::Key(k), JsonPathItem::Key(j)) => k == j,
            (Step::Item(a), b) => a == b,
            _ => false,
        };
        if !same {
            return false;
        }
    }
    expected.next().is_none()
}

#[cfg(test)]
mod tests;
