//! Bounds on how deep anything a request sends may nest.
//!
//! Payloads, key paths, filters and prefetches are trees whose shape comes
//! from the client. Walking, cloning, encoding or dropping a tree is recursive
//! in serde_json and in the engine, so an unbounded depth would overflow the
//! stack; and the log and checkpoint store these trees as JSON, which is read
//! back with serde_json's limit of 128 levels, so a tree accepted too deep
//! would keep the collection from opening after a restart. Every bound here is
//! checked before anything is logged, and chosen so that a logged record (an
//! operation wraps its payload or filter in a few more levels) stays well
//! below 128.

use serde_json::Value;

use crate::error::{EngineError, Result};
use crate::filter::{Condition, Filter};
use crate::types::Payload;

/// Most steps in a payload key path (`a.b[0].c` has four).
pub const MAX_PATH_STEPS: usize = 32;

/// Most levels of objects and arrays in a stored payload, the payload object
/// itself counting as one.
pub const MAX_PAYLOAD_DEPTH: usize = 64;

/// Most levels of filters inside filters (`must: [{must: [..]}]`, `nested`,
/// `min_should`), the outer filter counting as one.
pub const MAX_FILTER_DEPTH: usize = 32;

/// Most levels of `prefetch` inside `prefetch` under one query.
pub const MAX_PREFETCH_DEPTH: usize = 32;

/// Levels of objects and arrays in `value`: 0 for a scalar, 1 for `{}` or
/// `[1, 2]`. Iterative, so any depth can be measured without recursion.
pub fn json_depth(value: &Value) -> usize {
    let mut deepest = 0;
    let mut pending: Vec<(&Value, usize)> = vec![(value, 0)];
    while let Some((value, depth)) = pending.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match value {
            Value::Object(map) => Box::new(map.values()),
            Value::Array(items) => Box::new(items.iter()),
            _ => continue,
        };
        deepest = deepest.max(depth + 1);
        pending.extend(children.map(|child| (child, depth + 1)));
    }
    deepest
}

/// Most levels of JSON a log record may nest and still be decoded. What the
/// bounds above admit stays far below it (a filter at [`MAX_FILTER_DEPTH`]
/// through `nested` conditions takes about 130 levels once logged, more than
/// serde_json's default limit of 128, which is why records are read with
/// [`decode_json`]).
pub const MAX_RECORD_NESTING: usize = 256;

/// Levels of `[` and `{` in JSON text, counted without parsing (strings
/// skipped), so that a record can be measured before it is decoded.
pub fn json_text_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// Decodes JSON written by this engine (a log record), which may nest deeper
/// than serde_json's default limit but never past [`MAX_RECORD_NESTING`].
pub fn decode_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> std::result::Result<T, String> {
    let depth = json_text_depth(bytes);
    if depth > MAX_RECORD_NESTING {
        return Err(format!("nests {depth} levels deep, more than {MAX_RECORD_NESTING}"));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    de.disable_recursion_limit();
    let value = T::deserialize(&mut de).map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    Ok(value)
}

/// [`json_depth`] of a payload object.
pub fn payload_depth(payload: &Payload) -> usize {
    1 + payload.values().map(json_depth).max().unwrap_or(0)
}

/// Refuses a payload that would be stored `steps` levels below the top (under
/// a set_payload `key` of that many steps) when it would nest too deep.
pub fn check_payload(payload: &Payload, steps: usize) -> Result<()> {
    let depth = steps + payload_depth(payload);
    if depth > MAX_PAYLOAD_DEPTH {
        return Err(EngineError::BadInput(format!(
            "Payload is nested {depth} levels deep; at most {MAX_PAYLOAD_DEPTH} are allowed"
        )));
    }
    Ok(())
}

/// Levels of filters in `filter`, the filter itself counting as one.
pub fn filter_depth(filter: &Filter) -> usize {
    let mut deepest = 0;
    let mut pending: Vec<(&Filter, usize)> = vec![(filter, 1)];
    while let Some((filter, depth)) = pending.pop() {
        deepest = deepest.max(depth);
        let conditions = [&filter.must, &filter.should, &filter.must_not]
            .into_iter()
            .flatten()
            .flatten()
            .chain(filter.min_should.iter().flat_map(|m| &m.conditions));
        for condition in conditions {
            match condition {
                Condition::Filter(inner) => pending.push((inner, depth + 1)),
                Condition::Nested(nested) => pending.push((&nested.nested.filter, depth + 1)),
                _ => {}
            }
        }
    }
    deepest
}

/// Refuses a filter nested deeper than [`MAX_FILTER_DEPTH`].
pub fn check_filter(filter: &Filter) -> Result<()> {
    let depth = filter_depth(filter);
    if depth > MAX_FILTER_DEPTH {
        return Err(EngineError::BadInput(format!(
            "Filter is nested {depth} levels deep; at most {MAX_FILTER_DEPTH} are allowed"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn nested_value(depth: usize) -> Value {
        (0..depth).fold(json!(1), |inner, _| json!({ "a": inner }))
    }

    #[test]
    fn json_depth_counts_containers() {
        assert_eq!(json_depth(&json!(1)), 0);
        assert_eq!(json_depth(&json!([])), 1);
        assert_eq!(json_depth(&json!({"a": [1, {"b": []}]})), 4);
        assert_eq!(json_depth(&nested_value(500)), 500);
    }

    #[test]
    fn text_depth_skips_strings_and_deep_records_are_refused() {
        assert_eq!(json_text_depth(br#"{"a": "[[{{\"[", "b": [[1]]}"#), 3);
        let deep = format!("{}1{}", "[".repeat(300), "]".repeat(300));
        assert!(decode_json::<Value>(deep.as_bytes()).unwrap_err().contains("300 levels"));
        let fine = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        assert_eq!(json_depth(&decode_json::<Value>(fine.as_bytes()).unwrap()), 200);
    }

    #[test]
    fn payloads_deeper_than_the_bound_are_refused() {
        let payload = |depth: usize| nested_value(depth).as_object().unwrap().clone();
        assert!(check_payload(&payload(MAX_PAYLOAD_DEPTH), 0).is_ok());
        assert!(check_payload(&payload(MAX_PAYLOAD_DEPTH + 1), 0).is_err());
        // Under a key, the key's steps count too.
        assert!(check_payload(&payload(MAX_PAYLOAD_DEPTH - 3), 3).is_ok());
        assert!(check_payload(&payload(MAX_PAYLOAD_DEPTH - 3), 4).is_err());
    }

    #[test]
    fn filter_depth_follows_every_kind_of_nesting() {
        let leaf = json!({"key": "a", "match": {"value": 1}});
        let mut filter = json!({"must": [leaf]});
        for level in 1..MAX_FILTER_DEPTH {
            filter = match level % 3 {
                0 => json!({"must": [filter]}),
                1 => json!({"should": [{"nested": {"key": "n", "filter": filter}}]}),
                _ => json!({"min_should": {"conditions": [filter], "min_count": 1}}),
            };
        }
        let at_bound: Filter = serde_json::from_value(filter.clone()).unwrap();
        assert_eq!(filter_depth(&at_bound), MAX_FILTER_DEPTH);
        assert!(check_filter(&at_bound).is_ok());
        let over: Filter = serde_json::from_value(json!({"must_not": [filter]})).unwrap();
        assert!(check_filter(&over).is_err());
    }
}
