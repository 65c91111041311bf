//! Filters and conditions. No answer carries a filter; this is the inverse
//! of `from_proto::filter`, kept next to it for the round-trip tests.
#![cfg_attr(not(test), allow(dead_code))]

use chrono::{DateTime, Utc};
use osprey_engine::filter::{
    AnyVariants, Condition, FieldCondition, Filter, Match, RangeInterface, ValueVariants,
};
use osprey_engine::geo::{GeoLineString, GeoPoint};
use qdrant_client::qdrant::{self as proto, condition::ConditionOneOf, r#match::MatchValue as M};

use super::value::point_id;

/// A filter. Absent clauses become empty lists.
pub(crate) fn filter(filter: Filter) -> proto::Filter {
    let list =
        |c: Option<Vec<Condition>>| c.unwrap_or_default().into_iter().map(condition).collect();
    proto::Filter {
        should: list(filter.should),
        must: list(filter.must),
        must_not: list(filter.must_not),
        min_should: filter.min_should.map(|m| proto::MinShould {
            conditions: m.conditions.into_iter().map(condition).collect(),
            min_count: m.min_count as u64,
        }),
    }
}

/// One condition.
pub(crate) fn condition(condition: Condition) -> proto::Condition {
    let oneof = match condition {
        Condition::Field(field) => ConditionOneOf::Field(field_condition(field)),
        Condition::IsEmpty(c) => ConditionOneOf::IsEmpty(proto::IsEmptyCondition {
            key: c.is_empty.key.to_string(),
        }),
        Condition::IsNull(c) => ConditionOneOf::IsNull(proto::IsNullCondition {
            key: c.is_null.key.to_string(),
        }),
        Condition::HasId(c) => ConditionOneOf::HasId(proto::HasIdCondition {
            has_id: c.has_id.into_iter().map(point_id).collect(),
        }),
        Condition::HasVector(c) => ConditionOneOf::HasVector(proto::HasVectorCondition {
            has_vector: c.has_vector,
        }),
        Condition::Nested(c) => ConditionOneOf::Nested(proto::NestedCondition {
            key: c.nested.key.to_string(),
            filter: Some(filter(c.nested.filter)),
        }),
        Condition::Filter(f) => ConditionOneOf::Filter(filter(f)),
        // Engine-internal (a shard key selector while a request runs); no
        // decoded request holds one, and the wire has no form for it.
        Condition::InShards(_) => ConditionOneOf::Filter(proto::Filter::default()),
    };
    proto::Condition {
        condition_one_of: Some(oneof),
    }
}

fn geo_point(p: GeoPoint) -> proto::GeoPoint {
    proto::GeoPoint {
        lon: p.lon,
        lat: p.lat,
    }
}

fn line_string(line: GeoLineString) -> proto::GeoLineString {
    proto::GeoLineString {
        points: line.points.into_iter().map(geo_point).collect(),
    }
}

pub(crate) fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

fn field_condition(field: FieldCondition) -> proto::FieldCondition {
    let FieldCondition {
        key,
        r#match,
        range,
        geo_bounding_box,
        geo_radius,
        geo_polygon,
        values_count,
        is_empty,
        is_null,
    } = field;
    let (float_range, datetime_range) = match range {
        Some(RangeInterface::Float(r)) => (
            Some(proto::Range {
                lt: r.lt,
                gt: r.gt,
                gte: r.gte,
                lte: r.lte,
            }),
            None,
        ),
        Some(RangeInterface::DateTime(r)) => (
            None,
            Some(proto::DatetimeRange {
                lt: r.lt.map(timestamp),
                gt: r.gt.map(timestamp),
                gte: r.gte.map(timestamp),
                lte: r.lte.map(timestamp),
            }),
        ),
        None => (None, None),
    };
    let count = |v: Option<usize>| v.map(|v| v as u64);
    proto::FieldCondition {
        key: key.to_string(),
        r#match: r#match.map(match_condition),
        range: float_range,
        geo_bounding_box: geo_bounding_box.map(|b| proto::GeoBoundingBox {
            top_left: Some(geo_point(b.top_left)),
            bottom_right: Some(geo_point(b.bottom_right)),
        }),
        geo_radius: geo_radius.map(|r| proto::GeoRadius {
            center: Some(geo_point(r.center)),
            radius: r.radius as f32,
        }),
        values_count: values_count.map(|c| proto::ValuesCount {
            lt: count(c.lt),
            gt: count(c.gt),
            gte: count(c.gte),
            lte: count(c.lte),
        }),
        geo_polygon: geo_polygon.map(|p| proto::GeoPolygon {
            exterior: Some(line_string(p.exterior)),
            interiors: p
                .interiors
                .unwrap_or_default()
                .into_iter()
                .map(line_string)
                .collect(),
        }),
        datetime_range,
        is_empty,
        is_null,
    }
}

fn match_condition(m: Match) -> proto::Match {
    let strings = |s: &[String]| proto::RepeatedStrings {
        strings: s.to_vec(),
    };
    let integers = |i: &[i64]| proto::RepeatedIntegers {
        integers: i.to_vec(),
    };
    let value = match m {
        Match::Value(v) => match v.value {
            ValueVariants::String(s) => M::Keyword(s),
            ValueVariants::Integer(i) => M::Integer(i),
            ValueVariants::Bool(b) => M::Boolean(b),
        },
        Match::Text(t) => M::Text(t.text),
        Match::TextAny(t) => M::TextAny(t.text_any),
        Match::Phrase(p) => M::Phrase(p.phrase),
        Match::Any(a) => match &a.any {
            AnyVariants::Strings(s) => M::Keywords(strings(s.as_slice())),
            AnyVariants::Integers(i) => M::Integers(integers(i.as_slice())),
        },
        Match::Except(e) => match &e.except {
            AnyVariants::Strings(s) => M::ExceptKeywords(strings(s.as_slice())),
            AnyVariants::Integers(i) => M::ExceptIntegers(integers(i.as_slice())),
        },
    };
    proto::Match {
        match_value: Some(value),
    }
}
