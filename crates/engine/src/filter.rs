//! The filter language: Qdrant's `Filter` / `Condition` JSON, its validation and
//! its evaluation against one point.
//!
//! Wire shapes follow the OpenAPI schemas of Qdrant 1.18 (`Filter`, `Condition`,
//! `FieldCondition`, `Match*`, `Range`, `DatetimeRange`, `Geo*`, `ValuesCount`,
//! `IsEmptyCondition`, `IsNullCondition`, `HasIdCondition`, `HasVectorCondition`,
//! `NestedCondition`, `MinShould`). Evaluation follows Qdrant's payload checks
//! without indexes (`lib/segment/src/payload_storage/query_checker.rs` and
//! `condition_checker.rs`), quirks included; each quirk is noted where it lives.
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
use crate::payload_path::{JsonPath, JsonPathItem, raw_values};
use crate::types::{Payload, PointId};

/// What a filter needs to know about a point.
pub trait PointView {
    fn id(&self) -> PointId;
    fn payload(&self) -> &Payload;
    /// Whether the point has a vector under `name`; `""` is the default unnamed
    /// vector. A name the collection does not know is simply `false`.
    fn has_vector(&self, name: &str) -> bool;
}

/// A boolean combination of conditions. Every clause that is present must hold:
/// all of `must`, at least one of `should`, none of `must_not`, and at least
/// `min_should.min_count` of `min_should.conditions`.
///
/// An empty `should: []` matches nothing (Qdrant's `any` over no conditions); an
/// empty `must` or `must_not` matches everything; an empty filter matches all.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    #[serde(default, with = "one_or_many", skip_serializing_if = "Option::is_none")]
    pub should: Option<Vec<Condition>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_should: Option<MinShould>,
    #[serde(default, with = "one_or_many", skip_serializing_if = "Option::is_none")]
    pub must: Option<Vec<Condition>>,
    #[serde(default, with = "one_or_many", skip_serializing_if = "Option::is_none")]
    pub must_not: Option<Vec<Condition>>,
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
/// Without a full-text index (Osprey has none yet), `text` and `phrase` are
/// case-sensitive substring tests and `text_any` matches when any
/// whitespace-separated token of the query is a substring; this is what Qdrant
/// does for fields without a text index.
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
        self.0.binary_search_by(|probe| probe.borrow().cmp(item)).is_ok()
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
    #[serde(default, deserialize_with = "de_datetime", skip_serializing_if = "Option::is_none")]
    pub lt: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "de_datetime", skip_serializing_if = "Option::is_none")]
    pub gt: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "de_datetime", skip_serializing_if = "Option::is_none")]
    pub gte: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "de_datetime", skip_serializing_if = "Option::is_none")]
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
        .or_else(|_| NaiveDate::parse_from_str(s, "%Y-%m-%d").map(|d| d.and_time(Default::default())))
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
            return Err(format!("expected a match object, found {}", json_type(value)));
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
            | Condition::HasVector(_) => Ok(()),
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
}

impl Filter {
    /// Whether the point passes the filter.
    pub fn matches(&self, point: &dyn PointView) -> bool {
        self.check(Subject {
            payload: point.payload(),
            point: Some(point),
        })
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
        self.check(Subject {
            payload: point.payload(),
            point: Some(point),
        })
    }

    fn check(&self, subject: Subject<'_>) -> bool {
        match self {
            Condition::Field(field) => field.matches_payload(subject.payload),
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
            Condition::Nested(c) => c.nested.check(subject.payload),
            Condition::Filter(filter) => filter.check(subject),
        }
    }
}

impl Nested {
    fn check(&self, payload: &Payload) -> bool {
        let found = raw_values(payload, &self.key);
        // The key gets an implicit `[]`: take the items of arrays found there.
        let items: Box<dyn Iterator<Item = &Value>> =
            if self.key.items().last() == Some(&JsonPathItem::WildcardIndex) {
                Box::new(found.into_iter())
            } else {
                Box::new(
                    found
                        .into_iter()
                        .filter_map(Value::as_array)
                        .flatten(),
                )
            };
        items.filter_map(Value::as_object).any(|element| {
            self.filter.check(Subject {
                payload: element,
                point: None,
            })
        })
    }
}

impl FieldCondition {
    /// Evaluates the condition on a payload alone.
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
        let geo = || GeoPoint::from_payload(value);
        self.r#match.as_ref().is_some_and(|m| m.check(value))
            || self.range.as_ref().is_some_and(|r| r.check(value))
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
            Match::Text(MatchText { text }) | Match::Phrase(MatchPhrase { phrase: text }) => {
                value.as_str().is_some_and(|stored| stored.contains(text.as_str()))
            }
            Match::TextAny(MatchTextAny { text_any }) => value.as_str().is_some_and(|stored| {
                text_any
                    .split_whitespace()
                    .any(|token| stored.contains(token))
            }),
            Match::Any(MatchAny { any }) => match (value, any) {
                (Value::String(stored), AnyVariants::Strings(list)) => list.contains(stored.as_str()),
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

fn in_bounds<T: PartialOrd>(x: T, lt: Option<T>, gt: Option<T>, gte: Option<T>, lte: Option<T>) -> bool {
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

