//! Payload restrictions of database API keys (spec/auth.md §15): a key bound
//! to `{k: v, ...}` on a collection sees and touches only points whose payload
//! has `k == v` for every pair.
//!
//! Reads get the restriction added as a `must` filter (also inside every
//! prefetch); writes are checked against the points they write and touch,
//! and anything that would reach or create a point outside the restriction is
//! refused with [`EngineError::Forbidden`].

use serde_json::{Value, json};

use crate::error::{EngineError, Result};
use crate::filter::{Condition, Filter};
use crate::operations::{PointInsertOperations, PointsData, PointsSelector, UpdateOperation};
use crate::payload_path::{self, JsonPath, JsonPathItem};
use crate::requests::{OneOrMany, Prefetch};
use crate::types::{Payload, PointId};

/// The payload values a key is bound to on one collection.
#[derive(Debug, Clone, PartialEq)]
pub struct PayloadRestriction {
    collection: String,
    pairs: Vec<(JsonPath, Value)>,
    filter: Filter,
}

impl PayloadRestriction {
    /// A restriction from the key's `{key: value}` map. Keys must be payload
    /// paths that name one value (`a.b`, `a[0]`, never `[]`); values strings,
    /// integers or booleans (what `match` can compare).
    pub fn new(collection: &str, values: &Payload) -> Result<PayloadRestriction> {
        let mut pairs = Vec::with_capacity(values.len());
        let mut conditions = Vec::with_capacity(2 * values.len());
        for (key, value) in values {
            let path: JsonPath = key
                .parse()
                .map_err(|e| EngineError::Service(format!("payload restriction key `{key}`: {e}")))?;
            // `[]` names every item of an array; a restricted field must name one value.
            if path.items().contains(&JsonPathItem::WildcardIndex) {
                return Err(EngineError::Forbidden(format!(
                    "Payload restriction on collection {collection} cannot be applied: `{key}` names more than one value"
                )));
            }
            if !(value.is_string() || value.is_i64() || value.is_u64() || value.is_boolean()) {
                return Err(EngineError::Service(format!(
                    "payload restriction value for `{key}` must be a string, an integer or a boolean"
                )));
            }
            // `match` alone also accepts an array holding the value; the
            // `is_empty` on `key[]` rules arrays out (see `exact_value`).
            for condition in [
                json!({"key": key, "match": {"value": value}}),
                json!({"is_empty": {"key": format!("{path}[]")}}),
            ] {
                conditions.push(serde_json::from_value::<Condition>(condition).map_err(|e| {
                    EngineError::Service(format!("payload restriction value for `{key}`: {e}"))
                })?);
            }
            pairs.push((path, value.clone()));
        }
        Ok(PayloadRestriction {
            collection: collection.to_string(),
            pairs,
            filter: Filter { must: Some(conditions), ..Default::default() },
        })
    }

    pub fn forbidden(&self) -> EngineError {
        EngineError::Forbidden(format!(
            "Payload restriction on collection {} forbids this operation",
            self.collection
        ))
    }

    /// Whether a payload carries every restricted value, exactly: the field
    /// holds the scalar itself, not an array that contains it (an array
    /// `["acme", "other"]` would put one point in two tenants' views).
    pub fn matches(&self, payload: &Payload) -> bool {
        self.pairs.iter().all(|(path, value)| exact_value(payload, path) == Some(value))
    }

    /// `filter` narrowed to the restriction.
    pub fn restrict(&self, filter: Option<Filter>) -> Filter {
        match filter {
            None => self.filter.clone(),
            Some(f) => Filter { must: Some(vec![Condition::Filter(self.filter.clone()), Condition::Filter(f)]), ..Default::default() },
        }
    }

    /// Restricts a prefetch tree: every level reads only allowed points.
    pub fn restrict_prefetch(&self, prefetch: Option<OneOrMany<Prefetch>>) -> Option<OneOrMany<Prefetch>> {
        prefetch.map(|p| {
            OneOrMany::Many(
                p.into_vec()
                    .into_iter()
                    .map(|mut item| {
                        item.filter = Some(self.restrict(item.filter.take()));
                        item.prefetch = self.restrict_prefetch(item.prefetch.take());
                        item
                    })
                    .collect(),
            )
        })
    }

    /// Whether a top-level or nested payload key would change a restricted value.
    fn touches_restricted_key(&self, key: &str) -> bool {
        let first = key.parse::<JsonPath>().map(|p| p.first_key().to_string()).unwrap_or_else(|_| key.to_string());
        self.pairs.iter().any(|(path, _)| path.first_key() == first)
    }

    /// Checks write operations and narrows their filters. `payload_of` gives the
    /// current payload of an existing point (None when the point does not exist).
    pub fn check_writes(
        &self,
        ops: Vec<UpdateOperation>,
        payload_of: impl Fn(&PointId) -> Option<Payload>,
    ) -> Result<Vec<UpdateOperation>> {
        let existing_ok = |id: &PointId| payload_of(id).is_none_or(|p| self.matches(&p));
        let ids_ok = |ids: &Option<Vec<PointId>>| ids.as_ref().is_none_or(|ids| ids.iter().all(&existing_ok));
        let mut out = Vec::with_capacity(ops.len());
        for op in ops {
            let op = match op {
                UpdateOperation::Upsert(insert) => {
                    if let PointsData::Points(points) = &insert.points {
                        for p in points {
                            let payload = p.payload.clone().unwrap_or_default();
                            if !self.matches(&payload) || !existing_ok(&p.id) {
                                return Err(self.forbidden());
                            }
                        }
                    } else {
                        let points = insert.points.clone().into_points().map_err(EngineError::BadInput)?;
                        for p in &points {
                            if !self.matches(p.payload.as_ref().unwrap_or(&Payload::new())) || !existing_ok(&p.id) {
                                return Err(self.forbidden());
                            }
                        }
                    }
                    UpdateOperation::Upsert(PointInsertOperations { ..insert })
                }
                UpdateOperation::Delete(PointsSelector::Ids { points, shard_key }) => {
                    if !points.iter().all(&existing_ok) {
                        return Err(self.forbidden());
                    }
                    UpdateOperation::Delete(PointsSelector::Ids { points, shard_key })
                }
                UpdateOperation::Delete(PointsSelector::Filter { filter, shard_key }) => {
                    UpdateOperation::Delete(PointsSelector::Filter { filter: self.restrict(Some(filter)), shard_key })
                }
                UpdateOperation::SetPayload(mut set) => {
                    let changes_restricted = match &set.key {
                        Some(key) => self.touches_restricted_key(key),
                        None => set.payload.keys().any(|k| self.touches_restricted_key(k) && !self.same_value(k, &set.payload[k])),
                    };
                    if changes_restricted || !ids_ok(&set.points) {
                        return Err(self.forbidden());
                    }
                    set.filter = set.filter.take().map(|f| self.restrict(Some(f)));
                    UpdateOperation::SetPayload(set)
                }
                UpdateOperation::OverwritePayload(mut set) => {
                    let keeps_values = set.key.is_none() && self.matches(&set.payload);
                    if !keeps_values || !ids_ok(&set.points) {
                        return Err(self.forbidden());
                    }
                    set.filter = set.filter.take().map(|f| self.restrict(Some(f)));
                    UpdateOperation::OverwritePayload(set)
                }
                UpdateOperation::DeletePayload(mut del) => {
                    if del.keys.iter().any(|k| self.touches_restricted_key(k)) || !ids_ok(&del.points) {
                        return Err(self.forbidden());
                    }
                    del.filter = del.filter.take().map(|f| self.restrict(Some(f)));
                    UpdateOperation::DeletePayload(del)
                }
                // Clearing would remove the restricted values themselves.
                UpdateOperation::ClearPayload(_) => return Err(self.forbidden()),
                UpdateOperation::UpdateVectors(mut update) => {
                    if !update.points.iter().all(|p| existing_ok(&p.id)) {
                        return Err(self.forbidden());
                    }
                    update.update_filter = Some(self.restrict(update.update_filter.take()));
                    UpdateOperation::UpdateVectors(update)
                }
                UpdateOperation::DeleteVectors(mut del) => {
                    if !ids_ok(&del.points) {
                        return Err(self.forbidden());
                    }
                    del.filter = del.filter.take().map(|f| self.restrict(Some(f)));
                    UpdateOperation::DeleteVectors(del)
                }
            };
            out.push(op);
        }
        Ok(out)
    }

    fn same_value(&self, key: &str, value: &Value) -> bool {
        self.pairs.iter().any(|(path, v)| path.first_key() == key && path.items().is_empty() && v == value)
    }
}

/// The single non-array value at a path without `[]`, or `None` when the path
/// is missing or holds an array. A key step never enters an array (see
/// [`payload_path::raw_values`]), so such a path finds at most one value.
///
/// The restriction filter says the same in conditions: `match` finds the value
/// at the path or inside an array there, and `is_empty` on `path[]` holds only
/// when the path holds no array with a non-empty item; together they accept
/// exactly the scalar.
fn exact_value<'a>(payload: &'a Payload, path: &JsonPath) -> Option<&'a Value> {
    match payload_path::raw_values(payload, path).as_slice() {
        [value] if !value.is_array() => Some(value),
        _ => None,
    }
}
