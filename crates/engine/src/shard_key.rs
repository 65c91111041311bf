//! Custom sharding (`sharding_method: custom`) on one node.
//!
//! Qdrant routes the points of a custom-sharded collection to shards named
//! by a user's key (`"tenant-a"`, `42`). On one node every shard would live
//! in the same process, so Osprey keeps one store per collection and tags
//! each point with the key it was written under: a request's shard key
//! selector becomes a condition on that tag ([`crate::filter::Condition`]'s
//! internal `InShards`), and deleting a key deletes its points.
//!
//! One difference from Qdrant follows: a point id lives under one key at a
//! time. Qdrant keeps an independent copy per shard, so the same id written
//! under two keys is two points there; here the second write moves the
//! point. An upsert naming several keys at once is refused for that reason.
//!
//! Keys are created and deleted through the write-ahead log, so they survive
//! restarts and travel in snapshots with the points they tag.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{EngineError, Result};

/// The tag of a point written to no shard key (auto-sharded collections).
pub(crate) const NO_SHARD: u32 = u32::MAX;

/// A shard key: a keyword or a non-negative integer, as in Qdrant.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ShardKey {
    Number(u64),
    Keyword(String),
}

impl ShardKey {
    /// Reads one key from its JSON form; anything but a string or an
    /// integer ≥ 0 is refused.
    pub fn from_json(value: &Value) -> Result<ShardKey> {
        match value {
            Value::String(s) => Ok(ShardKey::Keyword(s.clone())),
            Value::Number(n) => n.as_u64().map(ShardKey::Number).ok_or_else(|| bad_key(value)),
            _ => Err(bad_key(value)),
        }
    }

    pub fn to_json(&self) -> Value {
        match self {
            ShardKey::Number(n) => Value::from(*n),
            ShardKey::Keyword(s) => Value::from(s.as_str()),
        }
    }
}

/// Shown as Qdrant shows keys in its messages: keywords quoted, numbers bare.
impl fmt::Display for ShardKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShardKey::Number(n) => write!(f, "{n}"),
            ShardKey::Keyword(s) => write!(f, "\"{s}\""),
        }
    }
}

fn bad_key(value: &Value) -> EngineError {
    EngineError::BadInput(format!("Shard key must be a string or a non-negative integer, got {value}"))
}

/// What a request's `shard_key` field selects.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ShardSelector {
    /// No selector: reads see every key; writes to a custom-sharded
    /// collection are refused.
    None,
    Keys(Vec<ShardKey>),
    /// `{"target": k, "fallback": f}`: `k` when it exists, else `f`.
    WithFallback { target: ShardKey, fallback: ShardKey },
}

impl ShardSelector {
    /// Parses the `shard_key` member of a request: absent or `null`, one
    /// key, a list of keys, or `{"target", "fallback"}`.
    pub fn parse(value: Option<&Value>) -> Result<ShardSelector> {
        match value {
            None | Some(Value::Null) => Ok(ShardSelector::None),
            Some(Value::Array(items)) => {
                Ok(ShardSelector::Keys(items.iter().map(ShardKey::from_json).collect::<Result<_>>()?))
            }
            Some(Value::Object(map)) => {
                let field = |name: &str| {
                    map.get(name).ok_or_else(|| {
                        EngineError::BadInput(format!("Shard key selector object needs `target` and `fallback`, missing `{name}`"))
                    })
                };
                if let Some(extra) = map.keys().find(|k| *k != "target" && *k != "fallback") {
                    return Err(EngineError::BadInput(format!("Unknown field `{extra}` in shard key selector")));
                }
                Ok(ShardSelector::WithFallback {
                    target: ShardKey::from_json(field("target")?)?,
                    fallback: ShardKey::from_json(field("fallback")?)?,
                })
            }
            Some(one) => Ok(ShardSelector::Keys(vec![ShardKey::from_json(one)?])),
        }
    }
}

/// The shard keys of a collection. A key's slot number tags its points and
/// is never reused, so a tag read before a key was deleted matches nothing
/// rather than another key's points. Lookups by key go through a map: a
/// request may name many keys, and a collection may have many tenants.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "StoredSlots", into = "StoredSlots")]
pub(crate) struct ShardKeys {
    slots: Vec<Option<ShardKey>>,
    by_key: HashMap<ShardKey, u32>,
}

/// The stored form of [`ShardKeys`]: the slots alone; the map is rebuilt.
#[derive(Clone, Serialize, Deserialize)]
struct StoredSlots {
    slots: Vec<Option<ShardKey>>,
}

impl From<StoredSlots> for ShardKeys {
    fn from(stored: StoredSlots) -> Self {
        let by_key = stored
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, k)| k.clone().map(|k| (k, i as u32)))
            .collect();
        ShardKeys { slots: stored.slots, by_key }
    }
}

impl From<ShardKeys> for StoredSlots {
    fn from(keys: ShardKeys) -> Self {
        StoredSlots { slots: keys.slots }
    }
}

/// Whether a resolution serves a read or a write: Qdrant words the errors
/// differently (reads "Bad request", writes "Wrong input").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    Read,
    Write,
}

impl ShardKeys {
    pub fn slot(&self, key: &ShardKey) -> Option<u32> {
        self.by_key.get(key).copied()
    }

    pub fn key(&self, slot: u32) -> Option<&ShardKey> {
        self.slots.get(slot as usize).and_then(Option::as_ref)
    }

    /// The live keys, in creation order.
    pub fn keys(&self) -> impl Iterator<Item = (u32, &ShardKey)> {
        self.slots.iter().enumerate().filter_map(|(i, k)| k.as_ref().map(|k| (i as u32, k)))
    }

    /// Adds `key` unless it exists; returns whether it was added.
    pub fn create(&mut self, key: ShardKey) -> bool {
        if self.slot(&key).is_some() {
            return false;
        }
        self.by_key.insert(key.clone(), self.slots.len() as u32);
        self.slots.push(Some(key));
        true
    }

    /// Removes `key`; returns its slot when it existed.
    pub fn delete(&mut self, key: &ShardKey) -> Option<u32> {
        let slot = self.by_key.remove(key)?;
        self.slots[slot as usize] = None;
        Some(slot)
    }

    /// The slots `selector` names, sorted, or `None` for "every point".
    /// A key that does not exist is an error, as in Qdrant; so is a write
    /// without a key to a collection with custom sharding (`custom`).
    pub fn resolve(&self, selector: &ShardSelector, custom: bool, access: Access) -> Result<Option<Vec<u32>>> {
        let missing = |key: &ShardKey| match access {
            Access::Read => EngineError::BadRequest(format!("Shard key {key} not found")),
            Access::Write => EngineError::BadInput(format!("Shard key {key} not found")),
        };
        let slots = match selector {
            ShardSelector::None if custom && access == Access::Write => {
                return Err(EngineError::BadInput("No shards found for shard key: a collection with custom sharding needs a shard key on every write".into()));
            }
            ShardSelector::None => return Ok(None),
            ShardSelector::Keys(keys) => {
                keys.iter().map(|k| self.slot(k).ok_or_else(|| missing(k))).collect::<Result<Vec<_>>>()?
            }
            ShardSelector::WithFallback { target, fallback } => {
                vec![self.slot(target).or_else(|| self.slot(fallback)).ok_or_else(|| missing(fallback))?]
            }
        };
        let mut slots = slots;
        slots.sort_unstable();
        slots.dedup();
        Ok(Some(slots))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kw(s: &str) -> ShardKey {
        ShardKey::Keyword(s.into())
    }

    #[test]
    fn selectors_parse_as_qdrant_writes_them() {
        assert_eq!(ShardSelector::parse(None).unwrap(), ShardSelector::None);
        assert_eq!(ShardSelector::parse(Some(&json!(null))).unwrap(), ShardSelector::None);
        assert_eq!(ShardSelector::parse(Some(&json!("a"))).unwrap(), ShardSelector::Keys(vec![kw("a")]));
        assert_eq!(
            ShardSelector::parse(Some(&json!(["a", 7]))).unwrap(),
            ShardSelector::Keys(vec![kw("a"), ShardKey::Number(7)])
        );
        assert_eq!(
            ShardSelector::parse(Some(&json!({"target": "a", "fallback": "b"}))).unwrap(),
            ShardSelector::WithFallback { target: kw("a"), fallback: kw("b") }
        );
        for bad in [json!(-1), json!(1.5), json!(true), json!({"target": "a"}), json!([{}]), json!({"target": "a", "fallback": "b", "x": 1})] {
            assert!(ShardSelector::parse(Some(&bad)).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn resolution_names_the_missing_key_and_never_reuses_a_slot() {
        let mut keys = ShardKeys::default();
        assert!(keys.create(kw("a")));
        assert!(!keys.create(kw("a")), "creating an existing key is a no-op");
        assert!(keys.create(ShardKey::Number(5)));
        let both = ShardSelector::Keys(vec![ShardKey::Number(5), kw("a")]);
        assert_eq!(keys.resolve(&both, true, Access::Read).unwrap(), Some(vec![0, 1]));
        assert_eq!(keys.resolve(&ShardSelector::None, true, Access::Read).unwrap(), None);
        let err = keys.resolve(&ShardSelector::None, true, Access::Write).unwrap_err().to_string();
        assert!(err.contains("No shards found for shard key"), "{err}");
        let err = keys.resolve(&ShardSelector::Keys(vec![kw("zz")]), true, Access::Read).unwrap_err().to_string();
        assert_eq!(err, "Bad request: Shard key \"zz\" not found");
        let fallback = ShardSelector::WithFallback { target: kw("zz"), fallback: ShardKey::Number(5) };
        assert_eq!(keys.resolve(&fallback, true, Access::Write).unwrap(), Some(vec![1]));

        assert_eq!(keys.delete(&kw("a")), Some(0));
        assert!(keys.create(kw("a")));
        assert_eq!(keys.slot(&kw("a")), Some(2), "a re-created key gets a new slot");
        assert_eq!(keys.keys().map(|(_, k)| k.clone()).collect::<Vec<_>>(), vec![ShardKey::Number(5), kw("a")]);

        // Stored and read back (checkpoints, snapshots): the same keys, the same slots.
        let stored = serde_json::to_value(&keys).unwrap();
        assert_eq!(stored, json!({"slots": [null, 5, "a"]}));
        let back: ShardKeys = serde_json::from_value(stored).unwrap();
        assert_eq!(back, keys);
        assert_eq!(back.slot(&kw("a")), Some(2));
        assert_eq!(back.slot(&ShardKey::Number(5)), Some(1));
    }
}
