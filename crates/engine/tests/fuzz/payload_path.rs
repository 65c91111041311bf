//! Payload key paths: parsing any text, printing, and the read / set / delete
//! functions on random payloads.
//!
//! Properties:
//! - parsing never panics, on any text (quotes, brackets, dots, unicode, very
//!   long input);
//! - a parsed path prints as text that parses back to the same path, and its
//!   serde form does too;
//! - `values`, `raw_values`, `set_at` and `delete_at` never panic;
//! - after `set_at` under a path of plain keys, the object there holds every
//!   non-null value set and none of the keys set to null; after `delete_at` of
//!   such a path nothing is left at it.

use osprey_engine::Payload;
use osprey_engine::payload_path::{self, JsonPath, JsonPathItem};
use proptest::prelude::*;
use serde_json::Value;

use crate::json;

/// Paths longer than this are parsed but not walked: very long paths are a
/// known stack-depth problem being fixed separately.
const MAX_WALKED_SEGMENTS: usize = 20;

fn path_text() -> BoxedStrategy<String> {
    prop_oneof![
        6 => json::key_path_with(MAX_WALKED_SEGMENTS),
        2 => "[a-z0-9.\\[\\]\"\\\\ _-]{0,24}",
        1 => "\\PC{0,24}",
        1 => any::<String>(),
        // Very long: one long key, a long quoted key, long runs of separators.
        1 => (1usize..5000, prop::sample::select(vec!["a", "é", "\"", ".", "[", "]", "[]", "[0]", ".a", "\\"]))
            .prop_map(|(n, unit)| format!("k{}", unit.repeat(n))),
        1 => (1usize..5000).prop_map(|n| format!("\"{}\"", "x.y".repeat(n))),
        1 => (1usize..5000).prop_map(|n| format!("a[{}]", "9".repeat(n))),
    ]
    .boxed()
}

fn check_parse(text: &str) -> Option<JsonPath> {
    let path = text.parse::<JsonPath>().ok()?;
    let printed = path.to_string();
    let reparsed: JsonPath = printed
        .parse()
        .unwrap_or_else(|e| panic!("`{text}` parses, but its printed form `{printed}` does not: {e}"));
    assert_eq!(reparsed, path, "`{text}` printed as `{printed}` reads back as another path");
    let json = serde_json::to_string(&path).expect("a path serialises");
    let back: JsonPath = serde_json::from_str(&json).expect("a serialised path reads back");
    assert_eq!(back, path);
    let _ = (path.first_key(), path.items(), path.array_key());
    Some(path)
}

fn walkable(path: &JsonPath) -> bool {
    path.items().len() <= MAX_WALKED_SEGMENTS
}

fn only_keys(path: &JsonPath) -> bool {
    path.items().iter().all(|item| matches!(item, JsonPathItem::Key(_)))
}

proptest! {
    #![proptest_config(crate::config(2048))]

    #[test]
    fn parse_print_parse(text in path_text()) {
        check_parse(&text);
    }

    /// A path made of one literal key prints as text that reads back as that
    /// key, unless the key holds `"` or `\`, which the grammar cannot quote.
    #[test]
    fn literal_keys_print_and_parse(
        key in prop_oneof![json::text(), "\\PC{0,12}"].prop_map(|k| k.replace(['"', '\\'], "")),
    ) {
        let path = JsonPath::key(key.clone());
        let printed = path.to_string();
        let back: JsonPath = printed.parse().unwrap_or_else(|e| panic!("key `{key}` printed as `{printed}`: {e}"));
        prop_assert_eq!(back, path);
    }

    #[test]
    fn read_set_delete(
        payload in json::payload(),
        text in json::key_path_with(MAX_WALKED_SEGMENTS),
        values in json::payload(),
    ) {
        let Some(path) = check_parse(&text) else { return Ok(()) };
        prop_assume!(walkable(&path));

        let _ = payload_path::values(&payload, &path);
        let _ = payload_path::raw_values(&payload, &path);

        let mut merged = payload.clone();
        payload_path::set_at(&mut merged, None, &values);
        for (key, value) in &values {
            prop_assert_eq!(merged.get(key), (!value.is_null()).then_some(value));
        }

        let mut set = payload.clone();
        payload_path::set_at(&mut set, Some(&path), &values);
        let _ = payload_path::values(&set, &path);
        if only_keys(&path) {
            let found = payload_path::raw_values(&set, &path);
            prop_assert_eq!(found.len(), 1, "set_at at {} left {:?}", path, found);
            let Value::Object(object) = found[0] else {
                panic!("set_at at {path} left a non-object: {:?}", found[0]);
            };
            for (key, value) in &values {
                prop_assert_eq!(object.get(key), (!value.is_null()).then_some(value));
            }
        }

        let mut deleted: Payload = set;
        payload_path::delete_at(&mut deleted, &path);
        let _ = payload_path::values(&deleted, &path);
        if only_keys(&path) {
            prop_assert!(payload_path::raw_values(&deleted, &path).is_empty());
        }
        let mut deleted = payload;
        payload_path::delete_at(&mut deleted, &path);
    }
}
