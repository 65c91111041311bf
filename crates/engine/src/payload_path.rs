//! Payload key paths (`a`, `a.b`, `a[].b`, `a[0].b`, `"dotted.key".x`) and the
//! three things done with them: reading values, set_payload and delete_payload.
//!
//! The grammar and every edge case follow Qdrant's `lib/segment/src/json_path/`
//! (`mod.rs`, `parse.rs`): a path starts with a key (never with `[`), a bare key is
//! one or more alphanumeric, `_` or `-` characters, anything else must be quoted
//! (quoted keys cannot contain `"` or `\`), and `[]` / `[n]` address array items.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::types::Payload;

/// A parsed payload key path. Always starts with an object key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JsonPath {
    first_key: String,
    rest: Vec<JsonPathItem>,
}

/// One step of a [`JsonPath`] after the first key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum JsonPathItem {
    /// `.key` into an object.
    Key(String),
    /// `[n]` into an array.
    Index(usize),
    /// `[]`: every item of an array.
    WildcardIndex,
}

/// A payload key that is not a valid path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid json path: '{}': {reason}", shown(input))]
pub struct JsonPathError {
    /// The text that failed to parse.
    pub input: String,
    /// What is wrong with it, with a character position where useful.
    pub reason: String,
}

/// The input as an error message quotes it: a long one is cut, so that an
/// answer never echoes an unbounded request back (gRPC clients drop a
/// `grpc-message` over 16 KiB, and logs should not carry it either).
fn shown(input: &str) -> String {
    const SHOWN_CHARS: usize = 100;
    match input.char_indices().nth(SHOWN_CHARS) {
        Some((cut, _)) => format!("{}... ({} bytes)", &input[..cut], input.len()),
        None => input.to_string(),
    }
}

impl JsonPath {
    /// A path of one top-level key, taken literally (dots and brackets included).
    pub fn key(key: impl Into<String>) -> Self {
        JsonPath {
            first_key: key.into(),
            rest: Vec::new(),
        }
    }

    /// The top-level key the path starts with.
    pub fn first_key(&self) -> &str {
        &self.first_key
    }

    /// The steps after the first key.
    pub fn items(&self) -> &[JsonPathItem] {
        &self.rest
    }

    /// The path with `[]` appended unless it already ends with it: `a.b` -> `a.b[]`.
    /// Nested conditions address their array this way.
    pub fn array_key(&self) -> Self {
        let mut path = self.clone();
        if path.rest.last() != Some(&JsonPathItem::WildcardIndex) {
            path.rest.push(JsonPathItem::WildcardIndex);
        }
        path
    }
}

impl FromStr for JsonPath {
    type Err = JsonPathError;

    fn from_str(s: &str) -> Result<Self, JsonPathError> {
        Parser { input: s, pos: 0 }.parse()
    }
}

struct Parser<'a> {
    input: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn fail(&self, reason: impl Into<String>) -> JsonPathError {
        JsonPathError {
            input: self.input.to_string(),
            reason: reason.into(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.input[self.pos..].chars().next()
    }

    fn unexpected(&self, what: &str) -> JsonPathError {
        match self.peek() {
            Some(c) => self.fail(format!(
                "expected {what} at position {}, found '{c}'",
                self.pos
            )),
            None => self.fail(format!("expected {what} at the end")),
        }
    }

    fn parse(mut self) -> Result<JsonPath, JsonPathError> {
        if self.input.is_empty() {
            return Err(self.fail("the path is empty"));
        }
        let first_key = self.key()?;
        let mut rest = Vec::new();
        while let Some(c) = self.peek() {
            // Each step becomes a level of nesting where the path is written.
            if rest.len() + 1 >= crate::limits::MAX_PATH_STEPS {
                return Err(self.fail(format!(
                    "the path has more than {} steps",
                    crate::limits::MAX_PATH_STEPS
                )));
            }
            match c {
                '.' => {
                    self.pos += 1;
                    rest.push(JsonPathItem::Key(self.key()?));
                }
                '[' => {
                    self.pos += 1;
                    rest.push(self.index()?);
                }
                _ => return Err(self.unexpected("'.' or '['")),
            }
        }
        Ok(JsonPath { first_key, rest })
    }

    /// A bare key or a quoted key.
    fn key(&mut self) -> Result<String, JsonPathError> {
        if self.peek() == Some('"') {
            let start = self.pos;
            self.pos += 1;
            let body_start = self.pos;
            loop {
                match self.peek() {
                    Some('"') => {
                        let key = self.input[body_start..self.pos].to_string();
                        self.pos += 1;
                        return Ok(key);
                    }
                    Some('\\') => {
                        return Err(self.fail(format!(
                            "quoted keys cannot contain '\\' (position {})",
                            self.pos
                        )));
                    }
                    Some(c) => self.pos += c.len_utf8(),
                    None => {
                        return Err(self.fail(format!(
                            "unterminated quoted key starting at position {start}"
                        )));
                    }
                }
            }
        }
        let start = self.pos;
        while let Some(c) = self.peek().filter(|&c| is_bare_key_char(c)) {
            self.pos += c.len_utf8();
        }
        if self.pos == start {
            return Err(self.unexpected("a key"));
        }
        Ok(self.input[start..self.pos].to_string())
    }

    /// After `[`: `]` or digits then `]`.
    fn index(&mut self) -> Result<JsonPathItem, JsonPathError> {
        if self.peek() == Some(']') {
            self.pos += 1;
            return Ok(JsonPathItem::WildcardIndex);
        }
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.unexpected("an array index or ']'"));
        }
        let digits = &self.input[start..self.pos];
        let index = digits
            .parse::<usize>()
            .map_err(|_| self.fail(format!("array index {digits} is too large")))?;
        if self.peek() != Some(']') {
            return Err(self.unexpected("']'"));
        }
        self.pos += 1;
        Ok(JsonPathItem::Index(index))
    }
}

fn is_bare_key_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

fn key_needs_quoting(key: &str) -> bool {
    key.is_empty() || !key.chars().all(is_bare_key_char)
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn write_key(f: &mut fmt::Formatter<'_>, key: &str) -> fmt::Result {
            if key_needs_quoting(key) {
                write!(f, "\"{key}\"")
            } else {
                f.write_str(key)
            }
        }
        write_key(f, &self.first_key)?;
        for item in &self.rest {
            match item {
                JsonPathItem::Key(key) => {
                    f.write_str(".")?;
                    write_key(f, key)?;
                }
                JsonPathItem::Index(i) => write!(f, "[{i}]")?,
                JsonPathItem::WildcardIndex => f.write_str("[]")?,
            }
        }
        Ok(())
    }
}

impl Serialize for JsonPath {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for JsonPath {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The values at `path`, as a filter condition sees them.
///
/// Arrays are flattened one level at the end, so `tags: ["a", "b"]` yields `"a"`
/// and `"b"`; an array inside that array stays whole. A key step only enters
/// objects: `a.b` through an array of objects yields nothing, write `a[].b`.
/// Missing paths yield nothing; an explicit `null` yields `null`.
pub fn values<'a>(payload: &'a Payload, path: &JsonPath) -> Vec<&'a Value> {
    let mut out = Vec::new();
    for value in raw_values(payload, path) {
        match value {
            Value::Array(items) => out.extend(items),
            other => out.push(other),
        }
    }
    out
}

/// The values at `path` exactly as stored: an array at the end of the path is one
/// value. This is Qdrant's `JsonPath::value_get`; conditions such as `is_empty`
/// and `values_count` need this un-flattened view.
pub fn raw_values<'a>(payload: &'a Payload, path: &JsonPath) -> Vec<&'a Value> {
    let mut out = Vec::new();
    if let Some(value) = payload.get(&path.first_key) {
        collect(&path.rest, value, &mut out);
    }
    out
}

fn collect<'a>(path: &[JsonPathItem], value: &'a Value, out: &mut Vec<&'a Value>) {
    let Some((head, tail)) = path.split_first() else {
        out.push(value);
        return;
    };
    match (head, value) {
        (JsonPathItem::Key(key), Value::Object(map)) => {
            if let Some(next) = map.get(key) {
                collect(tail, next, out);
            }
        }
        (JsonPathItem::Index(i), Value::Array(items)) => {
            if let Some(next) = items.get(*i) {
                collect(tail, next, out);
            }
        }
        (JsonPathItem::WildcardIndex, Value::Array(items)) => {
            for next in items {
                collect(tail, next, out);
            }
        }
        _ => {}
    }
}

/// set_payload: merges the top-level keys of `values` into the payload, or with a
/// `key`, into the object at that path.
///
/// As in Qdrant: a `null` in `values` deletes that key instead of storing null;
/// missing objects along the path are created; a non-object where an object is
/// needed is replaced by `{}` (and a non-array where `[n]` / `[]` is needed by
/// `[]`); `[n]` past the end of an array changes nothing; `[]` merges into every
/// item.
pub fn set_at(payload: &mut Payload, key: Option<&JsonPath>, values: &Payload) {
    match key {
        None => merge_object(payload, values),
        Some(path) => set_in_map(payload, &path.first_key, &path.rest, values),
    }
}

fn merge_object(dest: &mut Map<String, Value>, src: &Payload) {
    for (key, value) in src {
        if value.is_null() {
            dest.remove(key);
        } else {
            dest.insert(key.clone(), value.clone());
        }
    }
}

fn set_in_map(dest: &mut Map<String, Value>, key: &str, path: &[JsonPathItem], src: &Payload) {
    match dest.get_mut(key) {
        Some(value) => set_in_value(path, value, src),
        None => {
            let mut value = Value::Null;
            set_in_value(path, &mut value, src);
            dest.insert(key.to_string(), value);
        }
    }
}

fn set_in_value(path: &[JsonPathItem], dest: &mut Value, src: &Payload) {
    let Some((head, rest)) = path.split_first() else {
        merge_object(ensure_object(dest), src);
        return;
    };
    match head {
        JsonPathItem::Key(key) => set_in_map(ensure_object(dest), key, rest, src),
        JsonPathItem::Index(i) => {
            if let Some(item) = ensure_array(dest).get_mut(*i) {
                set_in_value(rest, item, src);
            }
        }
        JsonPathItem::WildcardIndex => match dest {
            Value::Array(items) => {
                for item in items {
                    set_in_value(rest, item, src);
                }
            }
            other => *other = Value::Array(Vec::new()),
        },
    }
}

fn ensure_object(value: &mut Value) -> &mut Map<String, Value> {
    if !value.is_object() {
        *value = Value::Object(Map::new());
    }
    match value {
        Value::Object(map) => map,
        _ => unreachable!("just replaced by an object"),
    }
}

fn ensure_array(value: &mut Value) -> &mut Vec<Value> {
    if !value.is_array() {
        *value = Value::Array(Vec::new());
    }
    match value {
        Value::Array(items) => items,
        _ => unreachable!("just replaced by an array"),
    }
}

/// delete_payload for one key path.
///
/// As in Qdrant: `a.b` removes `b` from the object at `a`; `a[].b` removes `b`
/// from every object in the array `a`; `a[0].b` only from the first; a path that
/// ends in `[]` empties the array but keeps the key; a path that ends in `[n]`
/// changes nothing (removing by index is not idempotent, so Qdrant ignores it);
/// missing paths and type mismatches change nothing.
pub fn delete_at(payload: &mut Payload, path: &JsonPath) {
    match path.rest.split_first() {
        None => {
            payload.shift_remove(&path.first_key);
        }
        Some((head, tail)) => {
            if let Some(value) = payload.get_mut(&path.first_key) {
                remove_in(head, tail, value);
            }
        }
    }
}

fn remove_in(head: &JsonPathItem, tail: &[JsonPathItem], value: &mut Value) {
    if let Some((next, rest)) = tail.split_first() {
        match (head, value) {
            (JsonPathItem::Key(key), Value::Object(map)) => {
                if let Some(child) = map.get_mut(key) {
                    remove_in(next, rest, child);
                }
            }
            (JsonPathItem::Index(i), Value::Array(items)) => {
                if let Some(child) = items.get_mut(*i) {
                    remove_in(next, rest, child);
                }
            }
            (JsonPathItem::WildcardIndex, Value::Array(items)) => {
                for child in items {
                    remove_in(next, rest, child);
                }
            }
            _ => {}
        }
        return;
    }
    match (head, value) {
        (JsonPathItem::Key(key), Value::Object(map)) => {
            map.shift_remove(key);
        }
        (JsonPathItem::WildcardIndex, Value::Array(items)) => items.clear(),
        // A trailing `[n]` is deliberately a no-op, as in Qdrant.
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn p(s: &str) -> JsonPath {
        s.parse().unwrap()
    }

    fn obj(v: Value) -> Payload {
        match v {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    /// Prevents keys that Qdrant accepts being refused (or the reverse), and
    /// Display producing text that does not parse back to the same path.
    #[test]
    fn parse_and_display() {
        use JsonPathItem::{Index, WildcardIndex};
        let k = |s: &str| JsonPathItem::Key(s.to_string());
        let cases: Vec<(&str, &str, Vec<JsonPathItem>)> = vec![
            ("a", "a", vec![]),
            ("a.b", "a", vec![k("b")]),
            ("a[].b", "a", vec![WildcardIndex, k("b")]),
            ("a[0].b", "a", vec![Index(0), k("b")]),
            ("\"quoted.key\".x", "quoted.key", vec![k("x")]),
            (
                "a.\"b c\"[12][]",
                "a",
                vec![k("b c"), Index(12), WildcardIndex],
            ),
            ("foo_1-bar", "foo_1-bar", vec![]),
            ("città.größe", "città", vec![k("größe")]),
            ("\"\"", "", vec![]),
        ];
        for (text, first, rest) in cases {
            let path = p(text);
            assert_eq!(path.first_key(), first, "{text}");
            assert_eq!(path.items(), rest.as_slice(), "{text}");
            assert_eq!(path.to_string(), text);
            assert_eq!(p(&path.to_string()), path);
        }
        assert_eq!(JsonPath::key("a.b").to_string(), "\"a.b\"");
        assert_eq!(p("a.b").array_key().to_string(), "a.b[]");
        assert_eq!(p("a[]").array_key().to_string(), "a[]");
    }

    /// Prevents garbage keys being accepted silently and then matching nothing,
    /// and checks the error names the problem.
    #[test]
    fn parse_errors() {
        let cases = [
            ("", "empty"),
            ("[0]", "expected a key at position 0"),
            ("a.", "expected a key at the end"),
            ("a..b", "position 2"),
            ("a b", "expected '.' or '[' at position 1"),
            ("a[", "expected an array index"),
            ("a[x]", "found 'x'"),
            ("a[1", "expected ']'"),
            ("a[-1]", "found '-'"),
            ("\"abc", "unterminated"),
            ("\"a\\\"b\"", "cannot contain"),
            ("a[99999999999999999999999]", "too large"),
            ("a.b ", "position 3"),
        ];
        for (text, needle) in cases {
            let err = text.parse::<JsonPath>().unwrap_err();
            assert_eq!(err.input, text);
            let msg = err.to_string();
            assert!(msg.contains(needle), "{text:?}: {msg}");
            assert!(msg.starts_with("Invalid json path: "), "{msg}");
        }
    }

    /// Prevents a filter key in a request body being taken as an arbitrary
    /// string: it must parse, and serialise back as the same text.
    #[test]
    fn serde_as_string() {
        let path: JsonPath = serde_json::from_value(json!("a[].b")).unwrap();
        assert_eq!(serde_json::to_value(&path).unwrap(), json!("a[].b"));
        let err = serde_json::from_value::<JsonPath>(json!("a..b")).unwrap_err();
        assert!(err.to_string().contains("Invalid json path"), "{err}");
        assert!(serde_json::from_value::<JsonPath>(json!(5)).is_err());
    }

    /// Prevents filters on arrays and nested objects reading the wrong values:
    /// end arrays flatten one level, key steps do not enter arrays, `[]` and
    /// `[n]` do.
    #[test]
    fn reading_values() {
        let payload = obj(json!({
            "tags": ["a", "b"],
            "city": "Berlin",
            "none": null,
            "nested": [[1, 2], [3]],
            "country": {"name": "DE", "cities": [
                {"name": "Berlin", "pop": 3.7, "sights": ["tv", "gate"]},
                {"name": "Bonn"},
                {"name": null},
                5
            ]},
        }));
        let cases: &[(&str, Value, Value)] = &[
            ("tags", json!(["a", "b"]), json!([["a", "b"]])),
            ("city", json!(["Berlin"]), json!(["Berlin"])),
            ("none", json!([null]), json!([null])),
            ("missing", json!([]), json!([])),
            ("nested", json!([[1, 2], [3]]), json!([[[1, 2], [3]]])),
            ("nested[]", json!([1, 2, 3]), json!([[1, 2], [3]])),
            ("country.name", json!(["DE"]), json!(["DE"])),
            ("country.cities.name", json!([]), json!([])),
            (
                "country.cities[].name",
                json!(["Berlin", "Bonn", null]),
                json!(["Berlin", "Bonn", null]),
            ),
            (
                "country.cities[0].name",
                json!(["Berlin"]),
                json!(["Berlin"]),
            ),
            ("country.cities[9].name", json!([]), json!([])),
            (
                "country.cities[].sights",
                json!(["tv", "gate"]),
                json!([["tv", "gate"]]),
            ),
            (
                "country.cities[].sights[]",
                json!(["tv", "gate"]),
                json!(["tv", "gate"]),
            ),
            ("city[]", json!([]), json!([])),
            ("city.x", json!([]), json!([])),
            ("tags[1]", json!(["b"]), json!(["b"])),
        ];
        for (path, flat, raw) in cases {
            let got: Vec<Value> = values(&payload, &p(path)).into_iter().cloned().collect();
            assert_eq!(Value::Array(got), *flat, "values {path}");
            let got: Vec<Value> = raw_values(&payload, &p(path))
                .into_iter()
                .cloned()
                .collect();
            assert_eq!(Value::Array(got), *raw, "raw_values {path}");
        }
    }

    /// Prevents set_payload diverging from Qdrant: null deletes, missing objects
    /// are created, non-objects are replaced, `[]` merges into every item, `[n]`
    /// never extends an array.
    #[test]
    fn set_payload_semantics() {
        let cases: &[(Value, Option<&str>, Value, Value)] = &[
            (
                json!({"a": 1, "b": 2}),
                None,
                json!({"b": 3, "c": 4}),
                json!({"a": 1, "b": 3, "c": 4}),
            ),
            (
                json!({"a": 1, "b": 2}),
                None,
                json!({"a": null}),
                json!({"b": 2}),
            ),
            (
                json!({}),
                Some("x"),
                json!({"k": 1}),
                json!({"x": {"k": 1}}),
            ),
            (
                json!({"x": {"old": 0}}),
                Some("x"),
                json!({"k": 1}),
                json!({"x": {"old": 0, "k": 1}}),
            ),
            (
                json!({"x": 5}),
                Some("x"),
                json!({"k": 1}),
                json!({"x": {"k": 1}}),
            ),
            (
                json!({"x": {"old": 0}}),
                Some("x"),
                json!({"old": null}),
                json!({"x": {}}),
            ),
            (
                json!({}),
                Some("x.y.z"),
                json!({"k": 1}),
                json!({"x": {"y": {"z": {"k": 1}}}}),
            ),
            (
                json!({"x": [1]}),
                Some("x.y"),
                json!({"k": 1}),
                json!({"x": {"y": {"k": 1}}}),
            ),
            (
                json!({"a": [{"b": 1}, {"b": 2}, 7]}),
                Some("a[]"),
                json!({"c": 0}),
                json!({"a": [{"b": 1, "c": 0}, {"b": 2, "c": 0}, {"c": 0}]}),
            ),
            (
                json!({"a": [{"b": 1}, {"b": 2}]}),
                Some("a[1]"),
                json!({"c": 0}),
                json!({"a": [{"b": 1}, {"b": 2, "c": 0}]}),
            ),
            (
                json!({"a": [{"b": 1}]}),
                Some("a[5]"),
                json!({"c": 0}),
                json!({"a": [{"b": 1}]}),
            ),
            (json!({}), Some("a[0].b"), json!({"c": 0}), json!({"a": []})),
            (
                json!({"a": "s"}),
                Some("a[]"),
                json!({"c": 0}),
                json!({"a": []}),
            ),
            (
                json!({"a": [{"b": {"x": 1}}, {"b": 2}]}),
                Some("a[].b"),
                json!({"y": 2}),
                json!({"a": [{"b": {"x": 1, "y": 2}}, {"b": {"y": 2}}]}),
            ),
        ];
        for (before, key, set, after) in cases {
            let mut payload = obj(before.clone());
            let key = key.map(p);
            set_at(&mut payload, key.as_ref(), &obj(set.clone()));
            assert_eq!(Value::Object(payload), *after, "{before} {key:?} {set}");
        }
    }

    /// Prevents delete_payload removing too much (a whole array for `a[0]`, a
    /// sibling key) or too little (only the first item for `a[].b`).
    #[test]
    fn delete_payload_semantics() {
        let base = json!({
            "a": [{"b": 1, "c": 2}, {"b": 3}, 4],
            "o": {"p": {"q": 1, "r": 2}},
            "s": "x",
        });
        let cases: &[(&str, Value)] = &[
            (
                "s",
                json!({"a": [{"b": 1, "c": 2}, {"b": 3}, 4], "o": {"p": {"q": 1, "r": 2}}}),
            ),
            (
                "o.p.q",
                json!({"a": [{"b": 1, "c": 2}, {"b": 3}, 4], "o": {"p": {"r": 2}}, "s": "x"}),
            ),
            (
                "a[].b",
                json!({"a": [{"c": 2}, {}, 4], "o": {"p": {"q": 1, "r": 2}}, "s": "x"}),
            ),
            (
                "a[0].b",
                json!({"a": [{"c": 2}, {"b": 3}, 4], "o": {"p": {"q": 1, "r": 2}}, "s": "x"}),
            ),
            ("a[0]", base.clone()),
            (
                "a[]",
                json!({"a": [], "o": {"p": {"q": 1, "r": 2}}, "s": "x"}),
            ),
            ("missing", base.clone()),
            ("s.x", base.clone()),
            ("o.p[]", base.clone()),
            ("a.b", base.clone()),
        ];
        for (path, after) in cases {
            let mut payload = obj(base.clone());
            delete_at(&mut payload, &p(path));
            assert_eq!(Value::Object(payload), *after, "delete {path}");
        }
    }

    /// Prevents deleting a key from reordering the remaining keys, which clients
    /// see in responses because payloads keep insertion order.
    #[test]
    fn delete_keeps_key_order() {
        let mut payload = obj(json!({"x": 1, "y": 2, "z": 3}));
        delete_at(&mut payload, &p("x"));
        assert_eq!(payload.keys().collect::<Vec<_>>(), ["y", "z"]);
    }
}
