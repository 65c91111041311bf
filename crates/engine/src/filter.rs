//! The filter language: Qdrant's `Filter` / `Condition` JSON, its validation and
//! its evaluation against one point.
//!
//! Wire shapes follow the OpenAPI schemas of Qdrant 1.18 (`Filter`, `Condition`,
//! `FieldCondition`, `Match*`, `Range`, `DatetimeRange`, `Geo*`, `ValuesCount`,
//! `IsEmptyCondition`, `IsNullCondition`, `HasIdCondition`, `HasVectorCondition`,
//! `NestedCondition`, `MinShould`). Evaluation follows Qdrant's payload checks
//! without indexes (`lib/segment/src/payload_storage/query_checker.rs` and
//! `condition_checker.rs`), quirks included; each quirk is noted where it lives.
//! The one index that changes a result is a full-text index: a [`PointView`]
//! that reports one ([`PointView::full_text_index`]) gets Qdrant's token
//! semantics for `text`, `text_any` and `phrase` on that field.
//!
//! Deserialisation accepts exactly what Qdrant's untagged enums accept (the
//! variants are tried in Qdrant's order), but when nothing fits it reports the
//! error of the variant the object was evidently meant to be, instead of serde's
//! "data did not match any variant".

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, Utc};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use crate::geo::{GeoBoundingBox, GeoError, GeoPoint, GeoPolygon, GeoRadius};
use crate::payload_index::{TextQuery, Tokenizer};
use crate::payload_path::{JsonPath, JsonPathItem, raw_values};
use crate::types::{Payload, PointId};

/// What a filter needs to know about a point.
pub trait PointView {
    fn id(&self) -> PointId;
    fn payload(&self) -> &Payload;
    /// Whether the point has a vector under `name`; `""` is the default unnamed
    /// vector. A name the collection does not know is simply `false`.
    fn has_vector(&self, name: &str) -> bool;
    /// The slot of the shard key the point was written under
    /// (`crate::shard_key`), or `NO_SHARD`.
    fn shard(&self) -> u32 {
        crate::shard_key::NO_SHARD
    }
    /// The tokenizer of the full-text index on the field `key`, reached
    /// through the keys of the enclosing nested conditions (`prefix`, each
    /// ending in `[]`), when the point's collection has one there. Text
    /// matches on that field then compare tokens, not substrings.
    fn full_text_index(&self, prefix: &[&JsonPath], key: &JsonPath) -> Option<&Tokenizer> {
        let _ = (prefix, key);
        None
    }
}

/// A boolean combination of conditions. Every clause that is present must hold:
/// all of `must`, at least one of `should`, none of `must_not`, and at least
/// `min_should.min_count` of `min_should.conditions`.
///
/// An empty `should: []` matches nothing (Qdrant's `any` over no conditions); an
/// empty `must` or `must_not` matches everything; an empty filter matches all.
///
/// Only a JSON object is a filter; unknown keys are refused, as in Qdrant.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Filter {
    #[serde(with = "one_or_many", skip_serializing_if = "Option::is_none")]
    pub should: Option<Vec<Condition>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_should: Option<MinShould>,
    #[serde(with = "one_or_many", skip_serializing_if = "Option::is_none")]
    pub must: Option<Vec<Condition>>,
    #[serde(with = "one_or_many", skip_serializing_if = "Option::is_none")]
    pub must_not: Option<Vec<Condition>>,
}

/// The fields of [`Filter`] as serde derives them; [`Filter`]'s own
/// `Deserialize` only lets objects reach it (a derived struct would also take
/// a JSON array of its fields).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FilterFields {
    #[serde(default, with = "one_or_many")]
    should: Option<Vec<Condition>>,
    #[serde(default)]
    min_should: Option<MinShould>,
    #[serde(default, with = "one_or_many")]
    must: Option<Vec<Condition>>,
    #[serde(default, with = "one_or_many")]
    must_not: Option<Vec<Condition>>,
}

/// At least `min_count` of `conditions` must match (`min_count: 0` always holds).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MinShould {
    pub conditions: Vec<Condition>,
    pub min_count: usize,
}

/// One condition. Serialised without a tag, as in Qdrant.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Condition {
    /// `{"key": .., "match" | "range" | "geo_*" | "values_count" | "is_empty" | "is_null": ..}`
    Field(FieldCondition),
    /// `{"is_empty": {"key": ..}}`
    IsEmpty(IsEmptyCondition),
    /// `{"is_null": {"key": ..}}`
    IsNull(IsNullCondition),
    /// `{"has_id": [..]}`
    HasId(HasIdCondition),
    /// `{"has_vector": "name"}`
    HasVector(HasVectorCondition),
    /// `{"nested": {"key": .., "filter": ..}}`
    Nested(NestedCondition),
    /// A whole filter used as one condition.
    Filter(Filter),
    /// The point was written under one of these shard key slots (sorted).
    /// Built by the engine from a request's shard key selector; never read
    /// from a request, and never serialised (it exists only while a request
    /// runs, see `crate::shard_key`).
    #[serde(skip)]
    InShards(Vec<u32>),
}

/// Conditions on the values at one payload key. When several are given the
/// field matches if ANY of them does (Qdrant ORs them), except that
/// `values_count`, then `is_empty`, then `is_null` take over when present.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldCondition {
    pub key: JsonPath,
    #[serde(rename = "match", default, skip_serializing_if = "Option::is_none")]
    pub r#match: Option<Match>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<RangeInterface>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geo_bounding_box: Option<GeoBoundingBox>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geo_radius: Option<GeoRadius>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geo_polygon: Option<GeoPolygon>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values_count: Option<ValuesCount>,
    /// `true`: the field is missing, null or `[]`; `false`: the opposite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_empty: Option<bool>,
    /// `true`: the field is null or an array holding a null; `false`: the opposite
    /// (a missing field counts as not null).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_null: Option<bool>,
}

/// `{"key": "a.b"}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PayloadField {
    pub key: JsonPath,
}

/// Matches when every value at the key is null or `[]` (so a missing key matches).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IsEmptyCondition {
    pub is_empty: PayloadField,
}

/// Matches when a value at the key is an explicit `null`. A missing key does
/// not match, and neither does `[null]` (an array is not null; use
/// `FieldCondition::is_null` for Qdrant's array-aware variant).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IsNullCondition {
    pub is_null: PayloadField,
}

/// Matches points whose id is in the set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HasIdCondition {
    pub has_id: BTreeSet<PointId>,
}

/// Matches points that have the named vector (`""`: the unnamed one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HasVectorCondition {
    pub has_vector: String,
}

/// `{"nested": {..}}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NestedCondition {
    pub nested: Nested,
}

/// Matches when at least one object in the array at `key` satisfies the whole
/// `filter`, with the filter's keys relative to that object. `key` gets an
/// implicit `[]`. Inside, `has_id` and `has_vector` never match: Qdrant does not
/// support them there (it does not reject them either).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Nested {
    pub key: JsonPath,
    pub filter: Filter,
}

/// How a field's values are compared.
///
/// Without a full-text index, `text` and `phrase` are case-sensitive
/// substring tests and `text_any` matches when any whitespace-separated token
/// of the query is a substring; this is what Qdrant does for fields without a
/// text index. With one, they compare the index's tokens of all the field's
/// strings (see `payload_index::text`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Match {
    Value(MatchValue),
    Text(MatchText),
    TextAny(MatchTextAny),
    Phrase(MatchPhrase),
    Any(MatchAny),
    Except(MatchExcept),
}

/// `{"value": "x" | 1 | true}`: equality. An integer matches only payload numbers
/// that are integers (`1` does not match a stored `1.0`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchValue {
    pub value: ValueVariants,
}

/// `{"text": ..}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchText {
    pub text: String,
}

/// `{"text_any": ..}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchTextAny {
    pub text_any: String,
}

/// `{"phrase": ..}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchPhrase {
    pub phrase: String,
}

/// `{"any": [..]}`: the value is one of the list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchAny {
    pub any: AnyVariants,
}

/// `{"except": [..]}`: some value is not in the list. Qdrant's rules, per value:
/// a string or integer of the list's type is tested against it; a float against
/// an integer list, a bool, an object, a nested array, or a value of the other
/// type counts as "not in the list"; `null` never matches; a missing field or an
/// empty array does not match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchExcept {
    pub except: AnyVariants,
}

/// The value of `match.value`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ValueVariants {
    String(String),
    Integer(i64),
    Bool(bool),
}

/// The list of `match.any` / `match.except`: strings or integers, kept sorted and
/// without duplicates (it is a set; `[]` is an empty string list, as in Qdrant).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum AnyVariants {
    Strings(SortedSet<String>),
    Integers(SortedSet<i64>),
}

/// A sorted, duplicate-free list with binary-search lookup.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(transparent)]
pub struct SortedSet<T: Ord>(Vec<T>);

impl<T: Ord> SortedSet<T> {
    pub fn as_slice(&self) -> &[T] {
        &self.0
    }

    pub fn contains<Q>(&self, item: &Q) -> bool
    where
        T: std::borrow::Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.0
            .binary_search_by(|probe| probe.borrow().cmp(item))
            .is_ok()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<T: Ord> FromIterator<T> for SortedSet<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut items: Vec<T> = iter.into_iter().collect();
        items.sort();
        items.dedup();
        SortedSet(items)
    }
}

/// `range`: numbers or datetimes, told apart by the bounds' JSON types.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum RangeInterface {
    Float(Range),
    DateTime(DatetimeRange),
}

/// Numeric bounds. Integer and float payload values are compared as f64; strings
/// and other types never match.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Range {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lt: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gt: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gte: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lte: Option<f64>,
}

/// Datetime bounds, in any format [`parse_datetime`] reads (serialised as
/// RFC 3339 UTC). Payload values must be strings in such a format; others never
/// match.
///
/// A range with no bound at all cannot be told from a numeric one on the wire
/// and reads back as [`RangeInterface::Float`], as in Qdrant.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct DatetimeRange {
    #[serde(
        default,
        deserialize_with = "de_datetime",
        skip_serializing_if = "Option::is_none"
    )]
    pub lt: Option<DateTime<Utc>>,
    #[serde(
        default,
        deserialize_with = "de_datetime",
        skip_serializing_if = "Option::is_none"
    )]
    pub gt: Option<DateTime<Utc>>,
    #[serde(
        default,
        deserialize_with = "de_datetime",
        skip_serializing_if = "Option::is_none"
    )]
    pub gte: Option<DateTime<Utc>>,
    #[serde(
        default,
        deserialize_with = "de_datetime",
        skip_serializing_if = "Option::is_none"
    )]
    pub lte: Option<DateTime<Utc>>,
}

/// Bounds on the number of values: array length, 0 for null, 1 for anything
/// else. A missing field does not match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ValuesCount {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lt: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gt: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gte: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lte: Option<usize>,
}

/// A filter that is well-formed JSON but cannot be used. `path` locates the
/// condition inside the filter, e.g. `must[0].nested.filter.should[1]`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum FilterError {
    /// A field condition with only a `key`.
    #[error("{path}: At least one field condition must be specified")]
    EmptyFieldCondition { path: String },
    /// Bad coordinates or a malformed polygon.
    #[error("{path}: {source}")]
    Geo {
        path: String,
        #[source]
        source: GeoError,
    },
}

// ---------------------------------------------------------------------------
// Datetimes

/// Parses a datetime the way Qdrant does (`DateTimeWrapper::from_str` in
/// `lib/segment/src/types.rs`): RFC 3339 (`2023-02-08T10:49:00Z`,
/// `2023-02-08T10:49:00+01:00`), chrono's own text form, an offset without colon
/// or minutes (`2023-02-08 10:49:00-0900`, `...-09`), and without any offset as
/// UTC: `2023-02-08T10:49:00`, `2023-02-08 10:49:00` (fractions allowed),
/// `2023-02-08 10:49`, `2023-02-08`.
pub fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    let with_offset = DateTime::parse_from_rfc3339(s)
        .or_else(|_| s.parse::<DateTime<FixedOffset>>())
        .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%#z"))
        .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f%#z"));
    if let Ok(dt) = with_offset {
        return Some(dt.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f"))
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M"))
        .or_else(|_| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d").map(|d| d.and_time(Default::default()))
        })
        .ok()
        .map(|naive| naive.and_utc())
}

fn datetime_from_text<E: de::Error>(s: &str) -> Result<DateTime<Utc>, E> {
    parse_datetime(s).ok_or_else(|| {
        E::custom(format!(
            "'{s}' is not in a supported date/time format, please use RFC 3339"
        ))
    })
}

fn de_datetime<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    Option::<String>::deserialize(d)?
        .map(|s| datetime_from_text(&s))
        .transpose()
}

// ---------------------------------------------------------------------------
// Deserialisation

/// `should` / `must` / `must_not`: one condition object, an array, or null.
mod one_or_many {
    use super::*;

    pub fn serialize<S: Serializer>(
        value: &Option<Vec<Condition>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        value.serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Vec<Condition>>, D::Error> {
        deserializer.deserialize_any(OneOrMany)
    }

    struct OneOrMany;

    impl<'de> Visitor<'de> for OneOrMany {
        type Value = Option<Vec<Condition>>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a condition, an array of conditions, or null")
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut conditions = Vec::with_capacity(seq.size_hint().unwrap_or(0));
            while let Some(condition) = seq.next_element::<Condition>()? {
                conditions.push(condition);
            }
            Ok(Some(conditions))
        }

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            let condition = Condition::deserialize(de::value::MapAccessDeserializer::new(map))?;
            Ok(Some(vec![condition]))
        }
    }
}

impl<'de> Deserialize<'de> for Filter {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FilterVisitor;

        impl<'de> Visitor<'de> for FilterVisitor {
            type Value = Filter;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a filter object")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Filter, A::Error> {
                let fields = FilterFields::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Filter {
                    should: fields.should,
                    min_should: fields.min_should,
                    must: fields.must,
                    must_not: fields.must_not,
                })
            }
        }

        deserializer.deserialize_map(FilterVisitor)
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl<'de> Deserialize<'de> for Condition {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Condition::from_json(&value).map_err(de::Error::custom)
    }
}

impl Condition {
    /// Tries the variants in Qdrant's order (the first that fits wins, unknown
    /// fields ignored, exactly like its untagged enum); when none fits, reports
    /// the error of the variant whose marker key the object carries.
    fn from_json(value: &Value) -> Result<Condition, String> {
        let Value::Object(obj) = value else {
            return Err(format!(
                "expected a condition object, found {}",
                json_type(value)
            ));
        };
        let field = FieldCondition::deserialize(value);
        let field = match field {
            Ok(c) => return Ok(Condition::Field(c)),
            Err(e) => e,
        };
        let is_empty = match IsEmptyCondition::deserialize(value) {
            Ok(c) => return Ok(Condition::IsEmpty(c)),
            Err(e) => e,
        };
        let is_null = match IsNullCondition::deserialize(value) {
            Ok(c) => return Ok(Condition::IsNull(c)),
            Err(e) => e,
        };
        let has_id = match HasIdCondition::deserialize(value) {
            Ok(c) => return Ok(Condition::HasId(c)),
            Err(e) => e,
        };
        let has_vector = match HasVectorCondition::deserialize(value) {
            Ok(c) => return Ok(Condition::HasVector(c)),
            Err(e) => e,
        };
        let nested = match NestedCondition::deserialize(value) {
            Ok(c) => return Ok(Condition::Nested(c)),
            Err(e) => e,
        };
        let filter = match Filter::deserialize(value) {
            Ok(c) => return Ok(Condition::Filter(c)),
            Err(e) => e,
        };
        let (what, err) = if obj.contains_key("key") {
            ("field condition", field)
        } else if obj.contains_key("is_empty") {
            ("is_empty condition", is_empty)
        } else if obj.contains_key("is_null") {
            ("is_null condition", is_null)
        } else if obj.contains_key("has_id") {
            ("has_id condition", has_id)
        } else if obj.contains_key("has_vector") {
            ("has_vector condition", has_vector)
        } else if obj.contains_key("nested") {
            ("nested condition", nested)
        } else if ["must", "should", "must_not", "min_should"]
            .iter()
            .any(|k| obj.contains_key(*k))
        {
            ("filter", filter)
        } else {
            return Err(format!(
                "expected some form of condition: a field condition like {{\"key\": ..., \"match\": ...}}, \
                 is_empty, is_null, has_id, has_vector, nested, or a nested filter; {filter}"
            ));
        };
        Err(format!("invalid {what}: {err}"))
    }
}

impl<'de> Deserialize<'de> for Match {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Match::from_json(&value).map_err(de::Error::custom)
    }
}

impl Match {
    /// Qdrant's order: value, text, text_any, phrase, any, except; the first
    /// whose key is present and valid wins.
    fn from_json(value: &Value) -> Result<Match, String> {
        let Value::Object(obj) = value else {
            return Err(format!(
                "expected a match object, found {}",
                json_type(value)
            ));
        };
        let mut first_error = None;
        let mut note = |name: &str, err: serde_json::Error| {
            first_error.get_or_insert_with(|| format!("invalid match `{name}`: {err}"));
        };
        if obj.contains_key("value") {
            match MatchValue::deserialize(value) {
                Ok(m) => return Ok(Match::Value(m)),
                Err(e) => note("value", e),
            }
        }
        if obj.contains_key("text") {
            match MatchText::deserialize(value) {
                Ok(m) => return Ok(Match::Text(m)),
                Err(e) => note("text", e),
            }
        }
        if obj.contains_key("text_any") {
            match MatchTextAny::deserialize(value) {
                Ok(m) => return Ok(Match::TextAny(m)),
                Err(e) => note("text_any", e),
            }
        }
        if obj.contains_key("phrase") {
            match MatchPhrase::deserialize(value) {
                Ok(m) => return Ok(Match::Phrase(m)),
                Err(e) => note("phrase", e),
            }
        }
        if obj.contains_key("any") {
            match MatchAny::deserialize(value) {
                Ok(m) => return Ok(Match::Any(m)),
                Err(e) => note("any", e),
            }
        }
        if obj.contains_key("except") {
            match MatchExcept::deserialize(value) {
                Ok(m) => return Ok(Match::Except(m)),
                Err(e) => note("except", e),
            }
        }
        Err(first_error.unwrap_or_else(|| {
            "expected a match with one of `value`, `text`, `text_any`, `phrase`, `any`, `except`"
                .to_string()
        }))
    }
}

impl<'de> Deserialize<'de> for ValueVariants {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        match value {
            Value::String(s) => return Ok(ValueVariants::String(s)),
            Value::Bool(b) => return Ok(ValueVariants::Bool(b)),
            Value::Number(ref n) => {
                if let Some(i) = n.as_i64() {
                    return Ok(ValueVariants::Integer(i));
                }
            }
            _ => {}
        }
        let found = if value.is_number() {
            value.to_string()
        } else {
            json_type(&value).to_string()
        };
        Err(de::Error::custom(format!(
            "match value must be a string, an integer (i64) or a boolean, found {found}"
        )))
    }
}

impl<'de> Deserialize<'de> for AnyVariants {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let Value::Array(items) = value else {
            return Err(de::Error::custom(format!(
                "expected an array of strings or an array of integers, found {}",
                json_type(&value)
            )));
        };
        if items.iter().all(Value::is_string) {
            return Ok(AnyVariants::Strings(
                items
                    .into_iter()
                    .filter_map(|v| match v {
                        Value::String(s) => Some(s),
                        _ => None,
                    })
                    .collect(),
            ));
        }
        if items.iter().all(Value::is_i64) {
            return Ok(AnyVariants::Integers(
                items.iter().filter_map(Value::as_i64).collect(),
            ));
        }
        Err(de::Error::custom(
            "expected an array of strings or an array of integers (i64), not a mix or other types",
        ))
    }
}

impl<'de> Deserialize<'de> for RangeInterface {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let Value::Object(obj) = &value else {
            return Err(de::Error::custom(format!(
                "expected a range object, found {}",
                json_type(&value)
            )));
        };
        // Unknown keys are ignored, as in Qdrant; only the four bounds decide.
        let bounds: Vec<(&str, &Value)> = ["lt", "gt", "gte", "lte"]
            .into_iter()
            .filter_map(|k| obj.get(k).filter(|v| !v.is_null()).map(|v| (k, v)))
            .collect();
        if bounds.iter().all(|(_, v)| v.is_number()) {
            return Range::deserialize(&value)
                .map(RangeInterface::Float)
                .map_err(de::Error::custom);
        }
        if bounds.iter().all(|(_, v)| v.is_string()) {
            return DatetimeRange::deserialize(&value)
                .map(RangeInterface::DateTime)
                .map_err(de::Error::custom);
        }
        let (key, bad) = bounds
            .iter()
            .find(|(_, v)| !v.is_number() && !v.is_string())
            .copied()
            .unwrap_or(bounds[0]);
        if bad.is_number() || bad.is_string() {
            Err(de::Error::custom(
                "range bounds must be all numbers or all datetime strings",
            ))
        } else {
            Err(de::Error::custom(format!(
                "range bound `{key}` must be a number or a datetime string, found {}",
                json_type(bad)
            )))
        }
    }
}

// ---------------------------------------------------------------------------
// Validation

impl Filter {
    /// Checks what serde cannot: field conditions without any condition, and
    /// geo shapes built in code (deserialisation already refuses bad ones).
    pub fn validate(&self) -> Result<(), FilterError> {
        self.validate_at("")
    }

    fn validate_at(&self, prefix: &str) -> Result<(), FilterError> {
        let clauses = [
            ("should", &self.should),
            ("must", &self.must),
            ("must_not", &self.must_not),
        ];
        for (name, conditions) in clauses {
            for (i, condition) in conditions.iter().flatten().enumerate() {
                condition.validate_at(&format!("{prefix}{name}[{i}]"))?;
            }
        }
        if let Some(min_should) = &self.min_should {
            for (i, condition) in min_should.conditions.iter().enumerate() {
                condition.validate_at(&format!("{prefix}min_should.conditions[{i}]"))?;
            }
        }
        Ok(())
    }
}

impl Condition {
    /// See [`Filter::validate`].
    pub fn validate(&self) -> Result<(), FilterError> {
        self.validate_at("")
    }

    fn validate_at(&self, path: &str) -> Result<(), FilterError> {
        match self {
            Condition::Field(field) => field.validate_at(path),
            Condition::Nested(nested) => nested
                .nested
                .filter
                .validate_at(&format!("{path}.nested.filter.")),
            Condition::Filter(filter) => filter.validate_at(&format!("{path}.")),
            Condition::IsEmpty(_)
            | Condition::IsNull(_)
            | Condition::HasId(_)
            | Condition::HasVector(_)
            | Condition::InShards(_) => Ok(()),
        }
    }
}

impl FieldCondition {
    /// A condition on `key` with nothing set; fill in one field.
    pub fn new(key: JsonPath) -> Self {
        FieldCondition {
            key,
            r#match: None,
            range: None,
            geo_bounding_box: None,
            geo_radius: None,
            geo_polygon: None,
            values_count: None,
            is_empty: None,
            is_null: None,
        }
    }

    fn validate_at(&self, path: &str) -> Result<(), FilterError> {
        let FieldCondition {
            key: _,
            r#match,
            range,
            geo_bounding_box,
            geo_radius,
            geo_polygon,
            values_count,
            is_empty,
            is_null,
        } = self;
        if r#match.is_none()
            && range.is_none()
            && geo_bounding_box.is_none()
            && geo_radius.is_none()
            && geo_polygon.is_none()
            && values_count.is_none()
            && is_empty.is_none()
            && is_null.is_none()
        {
            return Err(FilterError::EmptyFieldCondition {
                path: path.to_string(),
            });
        }
        let geo = |field: &str, result: Result<(), GeoError>| {
            result.map_err(|source| FilterError::Geo {
                path: format!("{path}.{field}"),
                source,
            })
        };
        if let Some(bbox) = geo_bounding_box {
            geo("geo_bounding_box", bbox.top_left.validate())?;
            geo("geo_bounding_box", bbox.bottom_right.validate())?;
        }
        if let Some(radius) = geo_radius {
            geo("geo_radius", radius.center.validate())?;
        }
        if let Some(polygon) = geo_polygon {
            geo("geo_polygon", polygon.validate())?;
            let points = polygon
                .exterior
                .points
                .iter()
                .chain(polygon.interiors.iter().flatten().flat_map(|r| &r.points));
            for point in points {
                geo("geo_polygon", point.validate())?;
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Evaluation

/// The payload under test and, outside nested conditions, the point it belongs to.
#[derive(Clone, Copy)]
struct Subject<'a> {
    payload: &'a Payload,
    point: Option<&'a dyn PointView>,
    /// The top-level point, also inside nested conditions: it knows the
    /// collection's full-text indexes.
    indexes: &'a dyn PointView,
    /// Keys of the nested conditions between the point and `payload`.
    prefix: &'a [&'a JsonPath],
}

impl<'a> Subject<'a> {
    fn top(point: &'a dyn PointView) -> Self {
        Subject {
            payload: point.payload(),
            point: Some(point),
            indexes: point,
            prefix: &[],
        }
    }
}

impl Filter {
    /// Whether the point passes the filter.
    pub fn matches(&self, point: &dyn PointView) -> bool {
        self.check(Subject::top(point))
    }

    fn check(&self, subject: Subject<'_>) -> bool {
        let should = self
            .should
            .as_ref()
            .is_none_or(|conditions| conditions.iter().any(|c| c.check(subject)));
        should
            && self.min_should.as_ref().is_none_or(|min| {
                min.conditions
                    .iter()
                    .filter(|c| c.check(subject))
                    .take(min.min_count)
                    .count()
                    == min.min_count
            })
            && self
                .must
                .as_ref()
                .is_none_or(|conditions| conditions.iter().all(|c| c.check(subject)))
            && self
                .must_not
                .as_ref()
                .is_none_or(|conditions| !conditions.iter().any(|c| c.check(subject)))
    }
}

impl Condition {
    /// Whether the point satisfies this one condition.
    pub fn matches(&self, point: &dyn PointView) -> bool {
        self.check(Subject::top(point))
    }

    fn check(&self, subject: Subject<'_>) -> bool {
        match self {
            Condition::Field(field) => field.check(subject),
            Condition::IsEmpty(c) => raw_values(subject.payload, &c.is_empty.key)
                .iter()
                .all(|v| match v {
                    Value::Null => true,
                    Value::Array(items) => items.is_empty(),
                    _ => false,
                }),
            Condition::IsNull(c) => raw_values(subject.payload, &c.is_null.key)
                .iter()
                .any(|v| v.is_null()),
            Condition::HasId(c) => subject.point.is_some_and(|p| c.has_id.contains(&p.id())),
            Condition::HasVector(c) => subject.point.is_some_and(|p| p.has_vector(&c.has_vector)),
            Condition::Nested(c) => c.nested.check(subject),
            Condition::Filter(filter) => filter.check(subject),
            Condition::InShards(slots) => subject.point.is_some_and(|p| slots.binary_search(&p.shard()).is_ok()),
        }
    }
}

impl Nested {
    fn check(&self, subject: Subject<'_>) -> bool {
        let found = raw_values(subject.payload, &self.key);
        // The key gets an implicit `[]`: take the items of arrays found there.
        let items: Box<dyn Iterator<Item = &Value>> =
            if self.key.items().last() == Some(&JsonPathItem::WildcardIndex) {
                Box::new(found.into_iter())
            } else {
                Box::new(found.into_iter().filter_map(Value::as_array).flatten())
            };
        let key = self.key.array_key();
        let mut prefix = subject.prefix.to_vec();
        prefix.push(&key);
        items.filter_map(Value::as_object).any(|element| {
            self.filter.check(Subject {
                payload: element,
                point: None,
                indexes: subject.indexes,
                prefix: &prefix,
            })
        })
    }
}

impl FieldCondition {
    fn check(&self, subject: Subject<'_>) -> bool {
        let text = match &self.r#match {
            Some(Match::Text(MatchText { text })) => Some((TextQuery::All, text)),
            Some(Match::TextAny(MatchTextAny { text_any })) => Some((TextQuery::Any, text_any)),
            Some(Match::Phrase(MatchPhrase { phrase })) => Some((TextQuery::Phrase, phrase)),
            _ => None,
        };
        let counted = self.values_count.is_some() || self.is_empty.is_some() || self.is_null.is_some();
        let tokenizer = match text {
            Some(_) if !counted => subject.indexes.full_text_index(subject.prefix, &self.key),
            _ => None,
        };
        let (Some((kind, query)), Some(tokenizer)) = (text, tokenizer) else {
            return self.matches_payload(subject.payload);
        };
        // A full-text index reads all the strings of the field as one
        // document; the other parts of the condition still look at each value.
        let values = crate::payload_path::values(subject.payload, &self.key);
        let strings: Vec<&str> = values.iter().filter_map(|v| v.as_str()).collect();
        tokenizer.matches(kind, query, &strings) || values.iter().any(|v| self.check_single_except_match(v))
    }

    /// Evaluates the condition on a payload alone, without any index.
    pub fn matches_payload(&self, payload: &Payload) -> bool {
        let values = raw_values(payload, &self.key);
        if values.is_empty() {
            // Missing field: only the emptiness checks can hold.
            return match (self.is_empty, self.is_null) {
                (Some(is_empty), _) => is_empty,
                (None, Some(is_null)) => !is_null,
                (None, None) => false,
            };
        }
        values.into_iter().any(|value| self.check_stored(value))
    }

    /// One stored value (an array is one value here).
    fn check_stored(&self, value: &Value) -> bool {
        if let Some(count) = &self.values_count {
            return count.check_value(value);
        }
        if let Some(is_empty) = self.is_empty {
            return match value {
                Value::Null => is_empty,
                Value::Array(items) => items.is_empty() == is_empty,
                _ => !is_empty,
            };
        }
        if let Some(is_null) = self.is_null {
            return match value {
                Value::Null => is_null,
                Value::Array(items) => items.iter().any(Value::is_null) == is_null,
                _ => !is_null,
            };
        }
        match value {
            // Arrays are flattened one level; deeper arrays are single values.
            Value::Array(items) => items.iter().any(|item| self.check_single(item)),
            other => self.check_single(other),
        }
    }

    fn check_single(&self, value: &Value) -> bool {
        self.r#match.as_ref().is_some_and(|m| m.check(value)) || self.check_single_except_match(value)
    }

    /// The range and geo parts of [`Self::check_single`].
    fn check_single_except_match(&self, value: &Value) -> bool {
        let geo = || GeoPoint::from_payload(value);
        self.range.as_ref().is_some_and(|r| r.check(value))
            || self
                .geo_radius
                .as_ref()
                .is_some_and(|shape| geo().is_some_and(|p| shape.check_point(p)))
            || self
                .geo_bounding_box
                .as_ref()
                .is_some_and(|shape| geo().is_some_and(|p| shape.check_point(p)))
            || self
                .geo_polygon
                .as_ref()
                .is_some_and(|shape| geo().is_some_and(|p| shape.check_point(p)))
    }
}

impl Match {
    fn check(&self, value: &Value) -> bool {
        match self {
            Match::Value(MatchValue { value: expected }) => match (value, expected) {
                (Value::Bool(stored), ValueVariants::Bool(b)) => stored == b,
                (Value::String(stored), ValueVariants::String(s)) => stored == s,
                (Value::Number(stored), ValueVariants::Integer(i)) => stored.as_i64() == Some(*i),
                _ => false,
            },
            Match::Text(MatchText { text }) | Match::Phrase(MatchPhrase { phrase: text }) => value
                .as_str()
                .is_some_and(|stored| stored.contains(text.as_str())),
            Match::TextAny(MatchTextAny { text_any }) => value.as_str().is_some_and(|stored| {
                text_any
                    .split_whitespace()
                    .any(|token| stored.contains(token))
            }),
            Match::Any(MatchAny { any }) => match (value, any) {
                (Value::String(stored), AnyVariants::Strings(list)) => {
                    list.contains(stored.as_str())
                }
                (Value::Number(stored), AnyVariants::Integers(list)) => {
                    stored.as_i64().is_some_and(|n| list.contains(&n))
                }
                _ => false,
            },
            Match::Except(MatchExcept { except }) => match (value, except) {
                (Value::String(stored), AnyVariants::Strings(list)) => {
                    !list.contains(stored.as_str())
                }
                (Value::Number(stored), AnyVariants::Integers(list)) => {
                    stored.as_i64().is_none_or(|n| !list.contains(&n))
                }
                (Value::Null, _) => false,
                _ => true,
            },
        }
    }
}

impl RangeInterface {
    fn check(&self, value: &Value) -> bool {
        match self {
            RangeInterface::Float(range) => value.as_f64().is_some_and(|n| range.contains(n)),
            RangeInterface::DateTime(range) => value
                .as_str()
                .and_then(parse_datetime)
                .is_some_and(|dt| range.contains(dt)),
        }
    }
}

fn in_bounds<T: PartialOrd>(
    x: T,
    lt: Option<T>,
    gt: Option<T>,
    gte: Option<T>,
    lte: Option<T>,
) -> bool {
    lt.is_none_or(|b| x < b)
        && gt.is_none_or(|b| x > b)
        && gte.is_none_or(|b| x >= b)
        && lte.is_none_or(|b| x <= b)
}

impl Range {
    pub fn contains(&self, x: f64) -> bool {
        in_bounds(x, self.lt, self.gt, self.gte, self.lte)
    }
}

impl DatetimeRange {
    pub fn contains(&self, x: DateTime<Utc>) -> bool {
        in_bounds(x, self.lt, self.gt, self.gte, self.lte)
    }
}

impl ValuesCount {
    pub fn contains(&self, count: usize) -> bool {
        in_bounds(count, self.lt, self.gt, self.gte, self.lte)
    }

    fn check_value(&self, value: &Value) -> bool {
        let count = match value {
            Value::Null => 0,
            Value::Array(items) => items.len(),
            _ => 1,
        };
        self.contains(count)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    /// A point for tests: id, payload and the names of its vectors.
    struct TestPoint {
        id: PointId,
        payload: Payload,
        vectors: Vec<&'static str>,
    }

    impl PointView for TestPoint {
        fn id(&self) -> PointId {
            self.id
        }
        fn payload(&self) -> &Payload {
            &self.payload
        }
        fn has_vector(&self, name: &str) -> bool {
            self.vectors.contains(&name)
        }
    }

    fn point(payload: Value) -> TestPoint {
        let Value::Object(payload) = payload else {
            panic!("payload must be an object")
        };
        TestPoint {
            id: PointId::Num(1),
            payload,
            vectors: vec![""],
        }
    }

    fn filter(v: Value) -> Filter {
        serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{v}: {e}"))
    }

    fn condition(v: Value) -> Condition {
        serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{v}: {e}"))
    }

    /// Evaluates one condition (as `must: [c]`) on a payload.
    fn eval(payload: &Value, c: Value) -> bool {
        filter(json!({ "must": [c] })).matches(&point(payload.clone()))
    }

    /// Prevents filters copied from Qdrant's documentation being refused or
    /// re-serialised in another shape (the WAL and the JWT payload restrictions
    /// store filters as JSON and must read back the same thing).
    #[test]
    fn documented_filters_round_trip() {
        let cases = [
            json!({"must": [{"key": "city", "match": {"value": "London"}}]}),
            json!({"must": [
                {"key": "city", "match": {"value": "London"}},
                {"key": "color", "match": {"value": "red"}}
            ]}),
            json!({"should": [
                {"key": "city", "match": {"value": "London"}},
                {"key": "color", "match": {"value": "red"}}
            ]}),
            json!({"must_not": [
                {"key": "city", "match": {"value": "London"}},
                {"key": "color", "match": {"value": "red"}}
            ]}),
            json!({
                "must": [{"key": "city", "match": {"value": "London"}}],
                "must_not": [{"key": "color", "match": {"value": "red"}}]
            }),
            json!({"must_not": [{"must": [
                {"key": "city", "match": {"value": "London"}},
                {"key": "color", "match": {"value": "red"}}
            ]}]}),
            json!({"min_should": {"conditions": [
                {"key": "city", "match": {"value": "London"}},
                {"key": "color", "match": {"value": "red"}},
                {"key": "size", "match": {"value": 10}}
            ], "min_count": 2}}),
            json!({"must": [{"key": "count", "match": {"value": 0}}]}),
            json!({"must": [{"key": "available", "match": {"value": true}}]}),
            json!({"must": [{"key": "description", "match": {"text": "good cheap"}}]}),
            json!({"must": [{"key": "description", "match": {"text_any": "good cheap"}}]}),
            json!({"must": [{"key": "description", "match": {"phrase": "brown fox"}}]}),
            json!({"must": [{"key": "color", "match": {"any": ["black", "yellow"]}}]}),
            json!({"must": [{"key": "color", "match": {"except": ["black", "yellow"]}}]}),
            json!({"must": [{"key": "count", "match": {"any": [1, 2, 3]}}]}),
            json!({"must": [{"key": "country.name", "match": {"value": "Germany"}}]}),
            json!({"must": [{"key": "country.cities[].population", "range": {"gte": 9.0}}]}),
            json!({"must": [{"key": "price", "range": {"gt": null, "gte": 100.0, "lt": null, "lte": 450.0}}]}),
            json!({"must": [{"key": "date", "range": {"gt": "2023-02-08T10:49:00Z", "lte": "2024-01-31 10:14:31Z"}}]}),
            json!({"must": [{"key": "location", "geo_bounding_box": {
                "bottom_right": {"lon": 13.455868, "lat": 52.495862},
                "top_left": {"lon": 13.403683, "lat": 52.520711}
            }}]}),
            json!({"must": [{"key": "location", "geo_radius": {
                "center": {"lon": 13.403683, "lat": 52.520711}, "radius": 1000.0
            }}]}),
            json!({"must": [{"key": "location", "geo_polygon": {
                "exterior": {"points": [
                    {"lon": -70.0, "lat": -70.0}, {"lon": 60.0, "lat": -70.0},
                    {"lon": 60.0, "lat": 60.0}, {"lon": -70.0, "lat": 60.0},
                    {"lon": -70.0, "lat": -70.0}
                ]},
                "interiors": [{"points": [
                    {"lon": -65.0, "lat": -65.0}, {"lon": 0.0, "lat": -65.0},
                    {"lon": 0.0, "lat": 0.0}, {"lon": -65.0, "lat": 0.0},
                    {"lon": -65.0, "lat": -65.0}
                ]}]
            }}]}),
            json!({"must": [{"key": "comments", "values_count": {"gt": 2}}]}),
            json!({"must": [{"is_empty": {"key": "reports"}}]}),
            json!({"must": [{"is_null": {"key": "reports"}}]}),
            json!({"must": [{"key": "reports", "is_empty": true}]}),
            json!({"must": [{"key": "reports", "is_null": false}]}),
            json!({"must": [{"has_id": [1, 3, 5, 7, 9, 11]}]}),
            json!({"must": [{"has_id": ["550e8400-e29b-41d4-a716-446655440000"]}]}),
            json!({"must": [{"has_vector": "image"}]}),
            json!({"must": [{"nested": {"key": "diet", "filter": {"must": [
                {"key": "food", "match": {"value": "meat"}},
                {"key": "likes", "match": {"value": true}}
            ]}}}]}),
            json!({"must": [
                {"nested": {"key": "diet", "filter": {"must": [{"key": "food", "match": {"value": "meat"}}]}}},
                {"has_id": [1]}
            ]}),
            json!({}),
        ];
        for case in cases {
            let parsed = filter(case.clone());
            let mut expected = case.clone();
            strip_nulls(&mut expected);
            // Datetimes come back in RFC 3339 UTC.
            if let Some(range) = expected.pointer_mut("/must/0/range/lte")
                && range == "2024-01-31 10:14:31Z"
            {
                *range = json!("2024-01-31T10:14:31Z");
            }
            let written = serde_json::to_value(&parsed).unwrap();
            assert_eq!(written, expected, "{case}");
            assert_eq!(filter(written), parsed, "{case}");
            parsed.validate().unwrap();
        }
    }

    fn strip_nulls(v: &mut Value) {
        match v {
            Value::Object(map) => {
                map.retain(|_, v| !v.is_null());
                map.values_mut().for_each(strip_nulls);
            }
            Value::Array(items) => items.iter_mut().for_each(strip_nulls),
            _ => {}
        }
    }

    /// Prevents refusing the single-object and null clause forms the schema
    /// allows (`anyOf: Condition | [Condition] | null`), which Python and TS
    /// clients send.
    #[test]
    fn clause_forms() {
        let one = filter(json!({"must": {"key": "city", "match": {"value": "London"}}}));
        let many = filter(json!({"must": [{"key": "city", "match": {"value": "London"}}]}));
        assert_eq!(one, many);
        assert_eq!(
            serde_json::to_value(&one).unwrap(),
            json!({"must": [{"key": "city", "match": {"value": "London"}}]})
        );
        let nulls =
            filter(json!({"must": null, "should": null, "must_not": null, "min_should": null}));
        assert_eq!(nulls, Filter::default());
        assert_eq!(serde_json::to_value(&nulls).unwrap(), json!({}));
        let single_nested = filter(json!({"should": {"must": {"has_id": [1]}}}));
        assert_eq!(single_nested.should.as_ref().map(Vec::len), Some(1));
        // Inside serde's untagged buffering (as in a points selector) too.
        #[derive(Deserialize)]
        #[serde(untagged)]
        #[allow(dead_code)]
        enum Selector {
            Ids { points: Vec<PointId> },
            Filter { filter: Filter },
        }
        let selector: Selector = serde_json::from_value(json!({
            "filter": {"must": {"key": "a", "match": {"any": [1, 2]}}, "should": null}
        }))
        .unwrap();
        assert!(matches!(selector, Selector::Filter { .. }));
    }

    /// Prevents malformed filters being accepted (and silently matching
    /// everything or nothing) or rejected with an unhelpful message.
    #[test]
    fn malformed_filters_are_rejected() {
        let cases = [
            (
                json!({"must": [{"key": "a", "match": {"value": 1.5}}]}),
                "must be a string, an integer",
            ),
            (
                json!({"must": [{"key": "a", "match": {"value": [1]}}]}),
                "found an array",
            ),
            (
                json!({"must": [{"key": "a", "match": {"foo": 1}}]}),
                "one of `value`, `text`",
            ),
            (
                json!({"must": [{"key": "a", "match": {"any": [1, "x"]}}]}),
                "not a mix",
            ),
            (
                json!({"must": [{"key": "a", "match": {"any": [1.5]}}]}),
                "array of strings or an array of integers",
            ),
            (
                json!({"must": [{"key": "a", "match": {"except": "x"}}]}),
                "found a string",
            ),
            (
                json!({"must": [{"key": "a", "range": {"gt": 1, "lt": "2020-01-01"}}]}),
                "all numbers or all datetime",
            ),
            (
                json!({"must": [{"key": "a", "range": {"gt": true}}]}),
                "`gt` must be a number or a datetime",
            ),
            (
                json!({"must": [{"key": "a", "range": {"gt": "yesterday"}}]}),
                "'yesterday' is not in a supported date/time format",
            ),
            (
                json!({"must": [{"key": "a", "values_count": {"gt": -1}}]}),
                "invalid field condition",
            ),
            (
                json!({"must": [{"key": "a..b", "match": {"value": 1}}]}),
                "Invalid json path: 'a..b'",
            ),
            (
                json!({"must": [{"key": 5, "match": {"value": 1}}]}),
                "invalid field condition",
            ),
            (
                json!({"must": [{"key": "loc", "geo_radius": {"center": {"lon": 200, "lat": 0}, "radius": 1}}]}),
                "within [-180;180]",
            ),
            (
                json!({"must": [{"key": "loc", "geo_polygon": {"exterior": {"points": []}}}]}),
                "at least 4, got 0",
            ),
            (
                json!({"must": [{"has_id": [-1]}]}),
                "invalid has_id condition",
            ),
            (
                json!({"must": [{"has_id": ["not-a-uuid"]}]}),
                "Unable to parse UUID",
            ),
            (
                json!({"must": [{"has_vector": 1}]}),
                "invalid has_vector condition",
            ),
            (
                json!({"must": [{"is_empty": "reports"}]}),
                "invalid is_empty condition",
            ),
            (
                json!({"must": [{"is_null": {"field": "x"}}]}),
                "invalid is_null condition",
            ),
            (
                json!({"must": [{"nested": {"key": "diet"}}]}),
                "missing field `filter`",
            ),
            (
                json!({"must": [{"nested": {"key": "d", "filter": {"must": [{"foo": 1}]}}}]}),
                "expected some form of condition",
            ),
            (json!({"must": [{"foo": "bar"}]}), "unknown field `foo`"),
            (
                json!({"must": [{"must": [{"key": "a", "match": {"value": 0.5}}]}]}),
                "invalid filter",
            ),
            (
                json!({"must": [5]}),
                "expected a condition object, found a number",
            ),
            (
                json!({"must": "city"}),
                "a condition, an array of conditions, or null",
            ),
            (json!({"musts": []}), "unknown field `musts`"),
            (
                json!({"min_should": {"conditions": []}}),
                "missing field `min_count`",
            ),
            (
                json!({"min_should": [{"key": "a", "match": {"value": 1}}]}),
                "expected a sequence",
            ),
            (json!([]), "expected a filter object"),
            (json!([null, null, null, null]), "expected a filter object"),
            (json!(null), "expected a filter object"),
        ];
        for (case, needle) in cases {
            let err = serde_json::from_value::<Filter>(case.clone())
                .map(|f| format!("accepted as {f:?}"))
                .unwrap_or_else(|e| e.to_string());
            assert!(
                err.contains(needle),
                "{case}\n  got: {err}\n  want: {needle}"
            );
        }
        // From text, errors carry a position and never panic.
        let err =
            serde_json::from_str::<Filter>(r#"{"must": [{"key": "a", "match": {"value": 1.5}}]}"#)
                .unwrap_err()
                .to_string();
        assert!(err.contains("line 1"), "{err}");
        assert!(serde_json::from_str::<Filter>(r#"{"must": [{"key": "a""#).is_err());
    }

    /// Prevents deserialisation accepting shapes Qdrant refuses or refusing ones
    /// it accepts: the untagged variants are tried in Qdrant's order.
    #[test]
    fn untagged_precedence_matches_qdrant() {
        // A bare key deserialises (Qdrant refuses it at validation, not parsing).
        let c = condition(json!({"key": "a"}));
        assert!(matches!(c, Condition::Field(_)));
        // Unknown fields next to a valid condition are ignored.
        assert!(matches!(
            condition(json!({"key": "a", "match": {"value": 1}, "extra": true})),
            Condition::Field(_)
        ));
        // The first valid match kind wins, even when an earlier one is invalid.
        let m: Match = serde_json::from_value(json!({"value": 1.5, "text": "x"})).unwrap();
        assert_eq!(m, Match::Text(MatchText { text: "x".into() }));
        // An empty object is an empty filter, which matches everything.
        assert_eq!(condition(json!({})), Condition::Filter(Filter::default()));
        // An empty `any` is an empty string list.
        let m: Match = serde_json::from_value(json!({"any": []})).unwrap();
        assert_eq!(
            m,
            Match::Any(MatchAny {
                any: AnyVariants::Strings(SortedSet::default())
            })
        );
        // `any` keeps one copy of each value.
        let m: Match = serde_json::from_value(json!({"any": [3, 1, 3]})).unwrap();
        assert_eq!(serde_json::to_value(&m).unwrap(), json!({"any": [1, 3]}));
        // A range with no bound is numeric.
        let r: RangeInterface = serde_json::from_value(json!({})).unwrap();
        assert_eq!(r, RangeInterface::Float(Range::default()));
    }

    /// Prevents semantic errors reaching evaluation: an empty field condition
    /// (Qdrant: "At least one field condition must be specified") and geo shapes
    /// built in code with bad coordinates or open rings.
    #[test]
    fn validate_reports_path_and_reason() {
        let err = filter(json!({"must": [{"key": "a", "match": {"value": 1}}, {"key": "b"}]}))
            .validate()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "must[1]: At least one field condition must be specified"
        );

        let err = filter(
            json!({"should": [{"nested": {"key": "n", "filter": {"must_not": [{"key": "x"}]}}}]}),
        )
        .validate()
        .unwrap_err();
        assert_eq!(
            err,
            FilterError::EmptyFieldCondition {
                path: "should[0].nested.filter.must_not[0]".into()
            }
        );

        let err = filter(
            json!({"min_should": {"conditions": [{"must": [{"key": "x"}]}], "min_count": 1}}),
        )
        .validate()
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("min_should.conditions[0].must[0]:"),
            "{err}"
        );

        let mut bbox = FieldCondition::new("loc".parse().unwrap());
        bbox.geo_bounding_box = Some(GeoBoundingBox {
            top_left: GeoPoint {
                lon: 0.0,
                lat: 95.0,
            },
            bottom_right: GeoPoint { lon: 1.0, lat: 0.0 },
        });
        let err = Filter {
            must: Some(vec![Condition::Field(bbox)]),
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("must[0].geo_bounding_box: Wrong format of GeoPoint"),
            "{err}"
        );

        let mut poly = FieldCondition::new("loc".parse().unwrap());
        poly.geo_polygon = Some(GeoPolygon {
            exterior: crate::geo::GeoLineString {
                points: vec![
                    GeoPoint { lon: 0.0, lat: 0.0 },
                    GeoPoint { lon: 1.0, lat: 0.0 },
                    GeoPoint { lon: 1.0, lat: 1.0 },
                    GeoPoint { lon: 0.0, lat: 1.0 },
                ],
            },
            interiors: None,
        });
        let err = Condition::Field(poly).validate().unwrap_err();
        assert!(err.to_string().contains("closed line"), "{err}");

        // has_id inside nested is accepted, as Qdrant accepts it.
        filter(json!({"must": [{"nested": {"key": "n", "filter": {"must": [{"has_id": [1]}]}}}]}))
            .validate()
            .unwrap();
    }

    /// Prevents each condition type drifting from Qdrant's answer on scalars,
    /// arrays, nulls, missing keys and wrong types. One row per behaviour.
    #[test]
    fn condition_semantics() {
        let p = json!({
            "city": "London",
            "tags": ["red", "green"],
            "count": 10,
            "ratio": 0.5,
            "one_f": 1.0,
            "big": 18446744073709551615u64,
            "flag": true,
            "nothing": null,
            "empty": [],
            "nulls": [null],
            "mixed": [1, null, "x"],
            "deep": [[1, 2], 3],
            "obj": {"a": 1},
            "text": "The quick brown fox",
            "words": ["alpha beta", "gamma"],
            "ratings": [3, 7.5, 9],
            "loc": {"lon": 13.404954, "lat": 52.520008},
            "locs": [{"lon": 37.6, "lat": 55.7}, {"lon": 13.404954, "lat": 52.520008}],
            "date": "2023-02-08T10:49:00+01:00",
            "dates": ["2020-01-01", "2024-06-01 12:00:00"],
            "bad_date": "tomorrow",
            "country": {"name": "DE", "cities": [{"name": "Berlin", "pop": 3.7}, {"name": "Bonn", "pop": 0.3}]},
        });
        let cases: Vec<(Value, bool)> = vec![
            // match value
            (json!({"key": "city", "match": {"value": "London"}}), true),
            (json!({"key": "city", "match": {"value": "london"}}), false),
            (json!({"key": "tags", "match": {"value": "green"}}), true),
            (json!({"key": "count", "match": {"value": 10}}), true),
            (json!({"key": "count", "match": {"value": "10"}}), false),
            (json!({"key": "one_f", "match": {"value": 1}}), false),
            (json!({"key": "big", "match": {"value": -1}}), false),
            (json!({"key": "flag", "match": {"value": true}}), true),
            (json!({"key": "flag", "match": {"value": 1}}), false),
            (json!({"key": "missing", "match": {"value": "x"}}), false),
            (json!({"key": "nothing", "match": {"value": "x"}}), false),
            (json!({"key": "deep", "match": {"value": 1}}), false),
            (json!({"key": "deep", "match": {"value": 3}}), true),
            (json!({"key": "deep[]", "match": {"value": 1}}), true),
            (json!({"key": "obj.a", "match": {"value": 1}}), true),
            (
                json!({"key": "country.cities[].name", "match": {"value": "Bonn"}}),
                true,
            ),
            (
                json!({"key": "country.cities.name", "match": {"value": "Bonn"}}),
                false,
            ),
            (
                json!({"key": "country.cities[1].name", "match": {"value": "Berlin"}}),
                false,
            ),
            // text, text_any, phrase: substring semantics without a text index
            (
                json!({"key": "text", "match": {"text": "quick brown"}}),
                true,
            ),
            (
                json!({"key": "text", "match": {"text": "brown quick"}}),
                false,
            ),
            (json!({"key": "text", "match": {"text": "Quick"}}), false),
            (json!({"key": "text", "match": {"text": "uick"}}), true),
            (json!({"key": "words", "match": {"text": "gam"}}), true),
            (json!({"key": "count", "match": {"text": "10"}}), false),
            (
                json!({"key": "text", "match": {"text_any": "slow fox"}}),
                true,
            ),
            (
                json!({"key": "text", "match": {"text_any": "slow dog"}}),
                false,
            ),
            (json!({"key": "text", "match": {"text_any": "   "}}), false),
            (
                json!({"key": "text", "match": {"phrase": "brown fox"}}),
                true,
            ),
            (
                json!({"key": "text", "match": {"phrase": "fox brown"}}),
                false,
            ),
            // any
            (
                json!({"key": "city", "match": {"any": ["Paris", "London"]}}),
                true,
            ),
            (
                json!({"key": "tags", "match": {"any": ["blue", "green"]}}),
                true,
            ),
            (json!({"key": "tags", "match": {"any": ["blue"]}}), false),
            (json!({"key": "count", "match": {"any": [1, 10]}}), true),
            (json!({"key": "count", "match": {"any": ["10"]}}), false),
            (json!({"key": "ratings", "match": {"any": [7]}}), false),
            (json!({"key": "ratings", "match": {"any": [9]}}), true),
            (json!({"key": "city", "match": {"any": []}}), false),
            (json!({"key": "missing", "match": {"any": ["x"]}}), false),
            // except
            (
                json!({"key": "city", "match": {"except": ["London"]}}),
                false,
            ),
            (json!({"key": "city", "match": {"except": ["Paris"]}}), true),
            (json!({"key": "tags", "match": {"except": ["red"]}}), true),
            (
                json!({"key": "tags", "match": {"except": ["red", "green"]}}),
                false,
            ),
            (json!({"key": "missing", "match": {"except": ["x"]}}), false),
            (json!({"key": "nothing", "match": {"except": ["x"]}}), false),
            (json!({"key": "empty", "match": {"except": ["x"]}}), false),
            (json!({"key": "nulls", "match": {"except": ["x"]}}), false),
            (json!({"key": "mixed", "match": {"except": [1]}}), true),
            (json!({"key": "count", "match": {"except": ["x"]}}), true),
            (json!({"key": "city", "match": {"except": [1]}}), true),
            (json!({"key": "one_f", "match": {"except": [1]}}), true),
            (json!({"key": "count", "match": {"except": [10]}}), false),
            (json!({"key": "flag", "match": {"except": ["true"]}}), true),
            (json!({"key": "obj", "match": {"except": ["a"]}}), true),
            (json!({"key": "deep", "match": {"except": [1, 2, 3]}}), true),
            (json!({"key": "city", "match": {"except": []}}), true),
            // range
            (
                json!({"key": "count", "range": {"gte": 10, "lt": 11}}),
                true,
            ),
            (json!({"key": "count", "range": {"gt": 10}}), false),
            (
                json!({"key": "count", "range": {"gt": 9.5, "lte": 10.0}}),
                true,
            ),
            (
                json!({"key": "ratio", "range": {"gt": 0.4, "lt": 0.6}}),
                true,
            ),
            (json!({"key": "ratings", "range": {"gt": 7, "lt": 8}}), true),
            (json!({"key": "ratings", "range": {"gt": 9}}), false),
            (json!({"key": "city", "range": {"gte": 0}}), false),
            (json!({"key": "missing", "range": {"gte": 0}}), false),
            (json!({"key": "count", "range": {}}), true),
            (
                json!({"key": "country.cities[].pop", "range": {"gt": 1}}),
                true,
            ),
            // datetime range
            (
                json!({"key": "date", "range": {"gte": "2023-02-08T09:49:00Z", "lte": "2023-02-08T09:49:00Z"}}),
                true,
            ),
            (
                json!({"key": "date", "range": {"gt": "2023-02-08T09:49:00Z"}}),
                false,
            ),
            (
                json!({"key": "date", "range": {"lt": "2023-02-08 10:00:00"}}),
                true,
            ),
            (json!({"key": "date", "range": {"gt": "2023-02-08"}}), true),
            (
                json!({"key": "dates", "range": {"gte": "2024-06-01T11:00:00-01:00"}}),
                true,
            ),
            (
                json!({"key": "dates", "range": {"gt": "2024-06-01T12:00:00Z"}}),
                false,
            ),
            (
                json!({"key": "bad_date", "range": {"gt": "1970-01-01"}}),
                false,
            ),
            (
                json!({"key": "count", "range": {"gt": "1970-01-01"}}),
                false,
            ),
            // geo
            (
                json!({"key": "loc", "geo_radius": {"center": {"lon": 13.4, "lat": 52.52}, "radius": 1000.0}}),
                true,
            ),
            (
                json!({"key": "loc", "geo_radius": {"center": {"lon": 13.4, "lat": 52.52}, "radius": 100.0}}),
                false,
            ),
            (
                json!({"key": "locs", "geo_radius": {"center": {"lon": 37.6, "lat": 55.7}, "radius": 10.0}}),
                true,
            ),
            (
                json!({"key": "loc", "geo_bounding_box": {"top_left": {"lon": 13.08835, "lat": 52.67551}, "bottom_right": {"lon": 13.76116, "lat": 52.33826}}}),
                true,
            ),
            (
                json!({"key": "locs", "geo_bounding_box": {"top_left": {"lon": 37.0, "lat": 56.0}, "bottom_right": {"lon": 38.0, "lat": 55.0}}}),
                true,
            ),
            (
                json!({"key": "city", "geo_bounding_box": {"top_left": {"lon": -180, "lat": 90}, "bottom_right": {"lon": 180, "lat": -90}}}),
                false,
            ),
            (
                json!({"key": "loc", "geo_polygon": {"exterior": {"points": [
                {"lon": 13.0, "lat": 52.0}, {"lon": 14.0, "lat": 52.0}, {"lon": 14.0, "lat": 53.0},
                {"lon": 13.0, "lat": 53.0}, {"lon": 13.0, "lat": 52.0}]}}}),
                true,
            ),
            (
                json!({"key": "loc", "geo_polygon": {"exterior": {"points": [
                {"lon": 13.0, "lat": 52.0}, {"lon": 14.0, "lat": 52.0}, {"lon": 14.0, "lat": 53.0},
                {"lon": 13.0, "lat": 53.0}, {"lon": 13.0, "lat": 52.0}]},
                "interiors": [{"points": [
                {"lon": 13.3, "lat": 52.4}, {"lon": 13.5, "lat": 52.4}, {"lon": 13.5, "lat": 52.6},
                {"lon": 13.3, "lat": 52.6}, {"lon": 13.3, "lat": 52.4}]}]}}),
                false,
            ),
            // values_count: array length, 0 for null, 1 for scalars and objects
            (
                json!({"key": "tags", "values_count": {"gte": 2, "lte": 2}}),
                true,
            ),
            (json!({"key": "tags", "values_count": {"gt": 2}}), false),
            (
                json!({"key": "city", "values_count": {"lt": 2, "gt": 0}}),
                true,
            ),
            (
                json!({"key": "obj", "values_count": {"gte": 1, "lte": 1}}),
                true,
            ),
            (json!({"key": "nothing", "values_count": {"lt": 1}}), true),
            (json!({"key": "empty", "values_count": {"lt": 1}}), true),
            (json!({"key": "missing", "values_count": {"lt": 1}}), false),
            (json!({"key": "mixed", "values_count": {"gte": 3}}), true),
            (
                json!({"key": "country.cities[].name", "values_count": {"gt": 1}}),
                false,
            ),
            // field is_empty / is_null
            (json!({"key": "missing", "is_empty": true}), true),
            (json!({"key": "nothing", "is_empty": true}), true),
            (json!({"key": "empty", "is_empty": true}), true),
            (json!({"key": "nulls", "is_empty": true}), false),
            (json!({"key": "city", "is_empty": true}), false),
            (json!({"key": "city", "is_empty": false}), true),
            (json!({"key": "missing", "is_empty": false}), false),
            (json!({"key": "nothing", "is_null": true}), true),
            (json!({"key": "nulls", "is_null": true}), true),
            (json!({"key": "mixed", "is_null": true}), true),
            (json!({"key": "missing", "is_null": true}), false),
            (json!({"key": "missing", "is_null": false}), true),
            (json!({"key": "empty", "is_null": false}), true),
            // is_empty / is_null conditions
            (json!({"is_empty": {"key": "missing"}}), true),
            (json!({"is_empty": {"key": "nothing"}}), true),
            (json!({"is_empty": {"key": "empty"}}), true),
            (json!({"is_empty": {"key": "nulls"}}), false),
            (json!({"is_empty": {"key": "count"}}), false),
            (json!({"is_empty": {"key": "obj"}}), false),
            (json!({"is_null": {"key": "nothing"}}), true),
            (json!({"is_null": {"key": "missing"}}), false),
            (json!({"is_null": {"key": "nulls"}}), false),
            (json!({"is_null": {"key": "empty"}}), false),
            (json!({"is_null": {"key": "count"}}), false),
            // several conditions in one field condition: any of them
            (
                json!({"key": "count", "match": {"value": 11}, "range": {"gt": 5}}),
                true,
            ),
            (
                json!({"key": "count", "match": {"value": 10}, "values_count": {"gt": 5}}),
                false,
            ),
        ];
        let payload = p;
        for (c, expected) in cases {
            assert_eq!(eval(&payload, c.clone()), expected, "{c}");
        }
    }

    /// Prevents nested filters matching across array elements (the reason they
    /// exist), evaluating paths from the root, or supporting id checks inside.
    #[test]
    fn nested_semantics() {
        let p = json!({
            "diet": [
                {"food": "meat", "likes": false},
                {"food": "fish", "likes": true}
            ],
            "country": {"cities": [{"name": "Berlin", "sights": [{"n": "tv"}]}, 7]},
            "single": {"food": "meat", "likes": true},
        });
        let nested = |key: &str, f: Value| json!({"nested": {"key": key, "filter": f}});
        let likes_meat = json!({"must": [
            {"key": "food", "match": {"value": "meat"}},
            {"key": "likes", "match": {"value": true}}
        ]});
        let cases = vec![
            (nested("diet", likes_meat.clone()), false),
            // The same conditions flattened match, by combining two elements.
            (
                json!({"must": [
                    {"key": "diet[].food", "match": {"value": "meat"}},
                    {"key": "diet[].likes", "match": {"value": true}}
                ]}),
                true,
            ),
            (
                nested(
                    "diet",
                    json!({"must": [
                        {"key": "food", "match": {"value": "fish"}},
                        {"key": "likes", "match": {"value": true}}
                    ]}),
                ),
                true,
            ),
            (
                nested(
                    "diet[]",
                    json!({"must": {"key": "food", "match": {"value": "fish"}}}),
                ),
                true,
            ),
            (
                nested(
                    "diet",
                    json!({"must_not": {"key": "likes", "match": {"value": true}}}),
                ),
                true,
            ),
            (
                nested(
                    "diet",
                    json!({"must": {"key": "diet[].food", "match": {"value": "fish"}}}),
                ),
                false,
            ),
            (
                nested(
                    "country.cities",
                    json!({"must": {"key": "name", "match": {"value": "Berlin"}}}),
                ),
                true,
            ),
            (
                nested(
                    "country.cities",
                    json!({"must": nested("sights", json!({"must": {"key": "n", "match": {"value": "tv"}}}))}),
                ),
                true,
            ),
            // Not an array: nothing to iterate.
            (nested("single", likes_meat.clone()), false),
            (nested("missing", json!({})), false),
            // An empty inner filter matches any object element.
            (nested("diet", json!({})), true),
            // has_id / has_vector never match inside nested (Qdrant does not support them there).
            (nested("diet", json!({"must": {"has_id": [1]}})), false),
            (nested("diet", json!({"must_not": {"has_id": [1]}})), true),
            (nested("diet", json!({"must": {"has_vector": ""}})), false),
        ];
        for (c, expected) in cases {
            assert_eq!(eval(&p, c.clone()), expected, "{c}");
        }
    }

    /// Prevents the boolean clauses drifting from Qdrant: empty `should` matches
    /// nothing, `min_should` counts, `must_not` negates each condition.
    #[test]
    fn clause_semantics() {
        let p = point(json!({"a": 1, "b": 2}));
        let t = json!({"key": "a", "match": {"value": 1}});
        let f = json!({"key": "a", "match": {"value": 2}});
        let cases = vec![
            (json!({}), true),
            (json!({"must": []}), true),
            (json!({"must_not": []}), true),
            (json!({"should": []}), false),
            (json!({"must": [t, f]}), false),
            (json!({"should": [t, f]}), true),
            (json!({"should": [f, f]}), false),
            (json!({"must_not": [f]}), true),
            (json!({"must_not": [t, f]}), false),
            (
                json!({"min_should": {"conditions": [t, f, t], "min_count": 2}}),
                true,
            ),
            (
                json!({"min_should": {"conditions": [t, f, f], "min_count": 2}}),
                false,
            ),
            (
                json!({"min_should": {"conditions": [], "min_count": 0}}),
                true,
            ),
            (
                json!({"min_should": {"conditions": [f], "min_count": 0}}),
                true,
            ),
            (
                json!({"min_should": {"conditions": [t], "min_count": 2}}),
                false,
            ),
            (json!({"must": [t], "should": [f]}), false),
            (
                json!({"must": [t], "must_not": [{"should": [f, t]}]}),
                false,
            ),
            (json!({"must": [{"must_not": [f]}, {"should": [t]}]}), true),
        ];
        for (c, expected) in cases {
            assert_eq!(filter(c.clone()).matches(&p), expected, "{c}");
        }
    }

    /// Prevents id and vector conditions checking the wrong thing: UUID ids
    /// compare as UUIDs, `""` is the unnamed vector, unknown names are false.
    #[test]
    fn id_and_vector_conditions() {
        let uuid = "550e8400-e29b-41d4-a716-446655440000";
        let mut p = point(json!({}));
        p.vectors = vec!["", "image"];
        let cases = vec![
            (json!({"has_id": [1, 2]}), true),
            (json!({"has_id": [2]}), false),
            (json!({"has_id": []}), false),
            (json!({"has_vector": ""}), true),
            (json!({"has_vector": "image"}), true),
            (json!({"has_vector": "text"}), false),
        ];
        for (c, expected) in &cases {
            assert_eq!(condition(c.clone()).matches(&p), *expected, "{c}");
        }
        p.id = PointId::Uuid(uuid.parse().unwrap());
        assert!(condition(json!({"has_id": [uuid.to_uppercase()]})).matches(&p));
        assert!(!condition(json!({"has_id": [1]})).matches(&p));
    }

    /// Prevents datetime ranges refusing formats Qdrant accepts or comparing
    /// local times without their offset.
    #[test]
    fn datetime_formats() {
        let utc = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let cases = [
            ("2023-02-08T10:49:00Z", Some("2023-02-08T10:49:00Z")),
            ("2023-02-08T10:49:00+01:00", Some("2023-02-08T09:49:00Z")),
            (
                "2023-02-08T10:49:00.123456Z",
                Some("2023-02-08T10:49:00.123456Z"),
            ),
            ("2023-02-08T10:49:00", Some("2023-02-08T10:49:00Z")),
            ("2023-02-08T10:49:00.5", Some("2023-02-08T10:49:00.5Z")),
            ("2023-02-08 10:49:00", Some("2023-02-08T10:49:00Z")),
            ("2023-02-08 10:49:00.25", Some("2023-02-08T10:49:00.25Z")),
            ("2023-02-08 10:49", Some("2023-02-08T10:49:00Z")),
            ("2023-02-08", Some("2023-02-08T00:00:00Z")),
            ("2023-02-08 10:49:00-0900", Some("2023-02-08T19:49:00Z")),
            ("2023-02-08T10:49:00-0900", Some("2023-02-08T19:49:00Z")),
            ("2023-02-08 10:49:00-09", Some("2023-02-08T19:49:00Z")),
            ("2024-01-31 10:14:31Z", Some("2024-01-31T10:14:31Z")),
            ("2023-02-30", None),
            ("08/02/2023", None),
            ("", None),
            ("2023-02-08T25:00:00Z", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_datetime(text), expected.map(utc), "{text}");
        }
        let range: RangeInterface =
            serde_json::from_value(json!({"gte": "2023-02-08", "lt": "2023-02-08 10:49:00+01:00"}))
                .unwrap();
        assert_eq!(
            serde_json::to_value(&range).unwrap(),
            json!({"gte": "2023-02-08T00:00:00Z", "lt": "2023-02-08T09:49:00Z"})
        );
    }

    // ---- properties -------------------------------------------------------

    fn arb_scalar() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (-3i64..4).prop_map(|n| json!(n)),
            (-3i64..4).prop_map(|n| json!(n as f64 + 0.5)),
            prop::sample::select(vec![
                "x",
                "y",
                "x y",
                "",
                "2023-02-08",
                "2024-01-01T00:00:00Z"
            ])
            .prop_map(|s| json!(s)),
            (-2i64..3, -2i64..3).prop_map(|(lon, lat)| json!({"lon": lon, "lat": lat})),
        ]
    }

    fn arb_value() -> impl Strategy<Value = Value> {
        prop_oneof![
            3 => arb_scalar(),
            1 => prop::collection::vec(arb_scalar(), 0..4).prop_map(Value::Array),
            1 => prop::collection::vec(
                prop::collection::btree_map(prop::sample::select(vec!["a", "b"]), arb_scalar(), 0..3),
                0..3,
            )
            .prop_map(|objs| json!(objs)),
        ]
    }

    fn arb_payload() -> impl Strategy<Value = Value> {
        prop::collection::btree_map(prop::sample::select(vec!["a", "b", "c"]), arb_value(), 0..4)
            .prop_map(|m| json!(m))
    }

    fn arb_key() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec!["a", "b", "c", "a[]", "a[].a", "b[0]", "c.a"])
    }

    fn arb_condition() -> impl Strategy<Value = Value> {
        let field = |k: &'static str, body: Value| {
            let mut c = json!({"key": k});
            c.as_object_mut()
                .unwrap()
                .extend(body.as_object().unwrap().clone());
            c
        };
        let leaf = prop_oneof![
            (
                arb_key(),
                prop::sample::select(vec![json!("x"), json!(1), json!(true), json!(-3)])
            )
                .prop_map(move |(k, v)| field(k, json!({"match": {"value": v}}))),
            (
                arb_key(),
                prop::sample::select(vec![json!(["x", "y"]), json!([0, 1]), json!([])])
            )
                .prop_map(move |(k, v)| field(k, json!({"match": {"any": v}}))),
            (
                arb_key(),
                prop::sample::select(vec![json!(["x"]), json!([1, 2]), json!([])])
            )
                .prop_map(move |(k, v)| field(k, json!({"match": {"except": v}}))),
            (arb_key(), prop::sample::select(vec!["x", "x y", " "]))
                .prop_map(move |(k, t)| field(k, json!({"match": {"text_any": t}}))),
            (arb_key(), -3i64..4, 0i64..4)
                .prop_map(move |(k, lo, w)| field(k, json!({"range": {"gte": lo, "lt": lo + w}}))),
            (
                arb_key(),
                prop::sample::select(vec!["2023-01-01", "2024-01-01 00:00"])
            )
                .prop_map(move |(k, d)| field(k, json!({"range": {"gt": d}}))),
            (arb_key(), 0usize..3)
                .prop_map(move |(k, n)| field(k, json!({"values_count": {"gte": n}}))),
            (arb_key(), any::<bool>()).prop_map(move |(k, b)| field(k, json!({"is_empty": b}))),
            (arb_key(), any::<bool>()).prop_map(move |(k, b)| field(k, json!({"is_null": b}))),
            arb_key().prop_map(move |k| field(
                k,
                json!({"geo_radius": {"center": {"lon": 0, "lat": 0}, "radius": 200000.0}})
            )),
            arb_key().prop_map(|k| json!({"is_empty": {"key": k}})),
            arb_key().prop_map(|k| json!({"is_null": {"key": k}})),
            prop::sample::select(vec![json!({"has_id": [1]}), json!({"has_id": [2, 3]})]),
            prop::sample::select(vec![json!({"has_vector": ""}), json!({"has_vector": "v"})]),
        ];
        leaf.prop_recursive(2, 8, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(|cs| json!({"must": cs})),
                prop::collection::vec(inner.clone(), 0..3).prop_map(|cs| json!({"should": cs})),
                prop::collection::vec(inner.clone(), 0..3).prop_map(|cs| json!({"must_not": cs})),
                (prop::collection::vec(inner.clone(), 0..3), 0usize..3)
                    .prop_map(|(cs, n)| json!({"min_should": {"conditions": cs, "min_count": n}})),
                inner.prop_map(|c| json!({"nested": {"key": "a", "filter": {"must": [c]}}})),
            ]
        })
    }

    proptest! {
        /// Prevents `must_not` and `should` of one condition disagreeing with the
        /// condition itself, the identities clients rely on when composing filters.
        #[test]
        fn single_condition_identities(payload in arb_payload(), c in arb_condition(), id in 0u64..4) {
            let mut p = point(payload);
            p.id = PointId::Num(id);
            let cond = condition(c.clone());
            let direct = cond.matches(&p);
            prop_assert_eq!(filter(json!({"must_not": [c.clone()]})).matches(&p), !direct);
            prop_assert_eq!(filter(json!({"should": [c.clone()]})).matches(&p), direct);
            prop_assert_eq!(filter(json!({"must": c.clone()})).matches(&p), direct);
            prop_assert_eq!(
                filter(json!({"min_should": {"conditions": [c.clone()], "min_count": 1}})).matches(&p),
                direct
            );
            // Double negation.
            prop_assert_eq!(filter(json!({"must_not": [{"must_not": [c]}]})).matches(&p), direct);
        }

        /// Prevents a filter changing meaning after a trip through the WAL or a
        /// JWT claim: serialise, read back, same value and same answers.
        #[test]
        fn serde_round_trip_keeps_meaning(payload in arb_payload(), c in arb_condition()) {
            let original = filter(json!({"must": [c]}));
            let text = serde_json::to_string(&original).unwrap();
            let back: Filter = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(&back, &original);
            let p = point(payload);
            prop_assert_eq!(back.matches(&p), original.matches(&p));
        }
    }
}
