//! Filters and every condition of Qdrant 1.18. `slice` conditions and the
//! `prefix` / `substring` matches are 1.19+ and refused.

use chrono::{DateTime, Utc};
use osprey_engine::filter::{
    AnyVariants, Condition, DatetimeRange, FieldCondition, Filter, HasIdCondition,
    HasVectorCondition, IsEmptyCondition, IsNullCondition, Match, MatchAny, MatchExcept,
    MatchPhrase, MatchText, MatchTextAny, MatchValue, MinShould, Nested, NestedCondition,
    PayloadField, Range, RangeInterface, ValueVariants, ValuesCount,
};
use osprey_engine::geo::{GeoBoundingBox, GeoLineString, GeoPoint, GeoPolygon, GeoRadius};
use osprey_engine::payload_path::JsonPath;
use qdrant_client::qdrant::{self as proto, condition::ConditionOneOf, r#match::MatchValue as M};

use super::value::point_id;
use crate::conversions::{Decoded, invalid, newer};

/// A filter, checked the way the engine checks filters it is given (a field
/// condition without any condition, geo shapes), so that a bad filter is
/// `INVALID_ARGUMENT` before access and existence are looked at.
///
/// Empty `should` / `must` / `must_not` lists read as absent: protobuf cannot
/// tell an empty repeated field from a missing one (Qdrant reads them so too).
pub(crate) fn filter(filter: proto::Filter) -> Decoded<Filter> {
    let filter = unchecked_filter(filter)?;
    filter
        .validate()
        .map_err(|e| invalid(format!("Validation error in filter: {e}")))?;
    Ok(filter)
}

/// An optional filter of a request.
pub(crate) fn optional_filter(filter: Option<proto::Filter>) -> Decoded<Option<Filter>> {
    filter.map(self::filter).transpose()
}

fn unchecked_filter(filter: proto::Filter) -> Decoded<Filter> {
    let proto::Filter {
        should,
        must,
        must_not,
        min_should,
    } = filter;
    Ok(Filter {
        should: conditions(should)?,
        min_should: min_should
            .map(|m| {
                Ok::<_, tonic::Status>(MinShould {
                    conditions: m
                        .conditions
                        .into_iter()
                        .map(condition)
                        .collect::<Decoded<_>>()?,
                    min_count: usize::try_from(m.min_count)
                        .map_err(|_| invalid("min_should.min_count is too large"))?,
                })
            })
            .transpose()?,
        must: conditions(must)?,
        must_not: conditions(must_not)?,
    })
}

fn conditions(list: Vec<proto::Condition>) -> Decoded<Option<Vec<Condition>>> {
    if list.is_empty() {
        return Ok(None);
    }
    list.into_iter()
        .map(condition)
        .collect::<Decoded<Vec<_>>>()
        .map(Some)
}

/// One condition.
pub(crate) fn condition(condition: proto::Condition) -> Decoded<Condition> {
    let Some(condition) = condition.condition_one_of else {
        return Err(invalid("Malformed Condition type: no condition is set"));
    };
    Ok(match condition {
        ConditionOneOf::Field(field) => Condition::Field(field_condition(field)?),
        ConditionOneOf::IsEmpty(c) => Condition::IsEmpty(IsEmptyCondition {
            is_empty: PayloadField {
                key: json_path(&c.key)?,
            },
        }),
        ConditionOneOf::IsNull(c) => Condition::IsNull(IsNullCondition {
            is_null: PayloadField {
                key: json_path(&c.key)?,
            },
        }),
        ConditionOneOf::HasId(c) => Condition::HasId(HasIdCondition {
            has_id: c.has_id.into_iter().map(point_id).collect::<Decoded<_>>()?,
        }),
        ConditionOneOf::HasVector(c) => Condition::HasVector(HasVectorCondition {
            has_vector: c.has_vector,
        }),
        ConditionOneOf::Filter(f) => Condition::Filter(unchecked_filter(f)?),
        ConditionOneOf::Nested(c) => Condition::Nested(NestedCondition {
            nested: Nested {
                key: json_path(&c.key)?,
                filter: unchecked_filter(
                    c.filter
                        .ok_or_else(|| invalid("Nested condition must have a filter"))?,
                )?,
            },
        }),
        ConditionOneOf::Slice(_) => return Err(newer("Condition.slice")),
    })
}

/// A payload key.
pub(crate) fn json_path(key: &str) -> Decoded<JsonPath> {
    key.parse::<JsonPath>().map_err(|e| invalid(e.to_string()))
}

fn field_condition(field: proto::FieldCondition) -> Decoded<FieldCondition> {
    let proto::FieldCondition {
        key,
        r#match,
        range,
        geo_bounding_box,
        geo_radius,
        values_count,
        geo_polygon,
        datetime_range,
        is_empty,
        is_null,
    } = field;
    let range = match (range, datetime_range) {
        (Some(r), None) => Some(RangeInterface::Float(Range {
            lt: r.lt,
            gt: r.gt,
            gte: r.gte,
            lte: r.lte,
        })),
        (None, Some(r)) => Some(RangeInterface::DateTime(DatetimeRange {
            lt: r.lt.map(timestamp).transpose()?,
            gt: r.gt.map(timestamp).transpose()?,
            gte: r.gte.map(timestamp).transpose()?,
            lte: r.lte.map(timestamp).transpose()?,
        })),
        (None, None) => None,
        (Some(_), Some(_)) => {
            return Err(invalid(
                "A field condition takes either range or datetime_range, not both",
            ));
        }
    };
    Ok(FieldCondition {
        key: json_path(&key)?,
        r#match: r#match.map(match_condition).transpose()?,
        range,
        geo_bounding_box: geo_bounding_box
            .map(|b| {
                Ok::<_, tonic::Status>(GeoBoundingBox {
                    top_left: geo_point(b.top_left, "geo_bounding_box.top_left")?,
                    bottom_right: geo_point(b.bottom_right, "geo_bounding_box.bottom_right")?,
                })
            })
            .transpose()?,
        geo_radius: geo_radius
            .map(|r| {
                Ok::<_, tonic::Status>(GeoRadius {
                    center: geo_point(r.center, "geo_radius.center")?,
                    radius: f64::from(r.radius),
                })
            })
            .transpose()?,
        geo_polygon: geo_polygon.map(polygon).transpose()?,
        values_count: values_count
            .map(|c| {
                let n = |v: Option<u64>| {
                    v.map(|v| {
                        usize::try_from(v).map_err(|_| invalid("values_count bound is too large"))
                    })
                    .transpose()
                };
                Ok::<_, tonic::Status>(ValuesCount {
                    lt: n(c.lt)?,
                    gt: n(c.gt)?,
                    gte: n(c.gte)?,
                    lte: n(c.lte)?,
                })
            })
            .transpose()?,
        is_empty,
        is_null,
    })
}

fn match_condition(m: proto::Match) -> Decoded<Match> {
    let strings =
        |list: proto::RepeatedStrings| AnyVariants::Strings(list.strings.into_iter().collect());
    let integers =
        |list: proto::RepeatedIntegers| AnyVariants::Integers(list.integers.into_iter().collect());
    Ok(match m.match_value {
        Some(M::Keyword(s)) => Match::Value(MatchValue {
            value: ValueVariants::String(s),
        }),
        Some(M::Integer(i)) => Match::Value(MatchValue {
            value: ValueVariants::Integer(i),
        }),
        Some(M::Boolean(b)) => Match::Value(MatchValue {
            value: ValueVariants::Bool(b),
        }),
        Some(M::Text(text)) => Match::Text(MatchText { text }),
        Some(M::TextAny(text_any)) => Match::TextAny(MatchTextAny { text_any }),
        Some(M::Phrase(phrase)) => Match::Phrase(MatchPhrase { phrase }),
        Some(M::Keywords(list)) => Match::Any(MatchAny { any: strings(list) }),
        Some(M::Integers(list)) => Match::Any(MatchAny {
            any: integers(list),
        }),
        Some(M::ExceptKeywords(list)) => Match::Except(MatchExcept {
            except: strings(list),
        }),
        Some(M::ExceptIntegers(list)) => Match::Except(MatchExcept {
            except: integers(list),
        }),
        Some(M::Prefix(_)) => return Err(newer("Match.prefix")),
        Some(M::Substring(_)) => return Err(newer("Match.substring")),
        None => return Err(invalid("Malformed Match condition: no match value is set")),
    })
}

/// Coordinates are range-checked by the engine's filter validation.
fn geo_point(point: Option<proto::GeoPoint>, what: &str) -> Decoded<GeoPoint> {
    let p = point.ok_or_else(|| invalid(format!("{what} is required")))?;
    Ok(GeoPoint {
        lon: p.lon,
        lat: p.lat,
    })
}

fn line_string(line: proto::GeoLineString) -> GeoLineString {
    GeoLineString {
        points: line
            .points
            .into_iter()
            .map(|p| GeoPoint {
                lon: p.lon,
                lat: p.lat,
            })
            .collect(),
    }
}

fn polygon(polygon: proto::GeoPolygon) -> Decoded<GeoPolygon> {
    let exterior = polygon
        .exterior
        .ok_or_else(|| invalid("geo_polygon.exterior is required"))?;
    Ok(GeoPolygon {
        exterior: line_string(exterior),
        interiors: if polygon.interiors.is_empty() {
            None
        } else {
            Some(polygon.interiors.into_iter().map(line_string).collect())
        },
    })
}

/// A protobuf timestamp as a UTC datetime.
pub(crate) fn timestamp(ts: prost_types::Timestamp) -> Decoded<DateTime<Utc>> {
    u32::try_from(ts.nanos)
        .ok()
        .and_then(|nanos| DateTime::from_timestamp(ts.seconds, nanos))
        .ok_or_else(|| {
            invalid(format!(
                "Timestamp out of range: {}s {}ns",
                ts.seconds, ts.nanos
            ))
        })
}
