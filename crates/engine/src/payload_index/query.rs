//! From a filter to the points its indexed conditions allow: a candidate set
//! (always a superset of the matches) and a cardinality estimate.
//!
//! Only what a match requires narrows: `must` conditions intersect, a
//! `should` list or a `min_should` with `min_count >= 1` unions when every
//! one of its conditions is indexed, `nested` conditions use the indexes of
//! `key[].inner` paths, and `has_id` is an index of its own. `must_not`,
//! `is_empty`, `is_null`, `values_count`, `match: {except}` and conditions on
//! unindexed fields narrow nothing (the scan after the candidates decides).
//!
//! The estimate follows Qdrant's `query_estimator.rs`: exact counts where the
//! lists give them, products of fractions for `must`, and an unknown
//! condition counted as `{min: 0, exp: total / 2, max: total}`.

use std::collections::BTreeMap;
use std::ops::Bound;

use crate::filter::{
    AnyVariants, Condition, DatetimeRange, FieldCondition, Filter, Match, MatchAny, MatchPhrase, MatchText,
    MatchTextAny, MatchValue, Range, RangeInterface, ValueVariants,
};
use crate::payload_path::JsonPath;
use crate::types::PointId;

use super::geo::{self, Region};
use super::maps::{Num, OrderedIndex, Postings, intersect_sorted, union};
use super::text::TextQuery;
use super::{FieldIndex, FieldIndexes, IndexKind, parse_uuid};

/// How many points a filter matches: `min <= actual <= max` for the indexed
/// parts, `exp` a guess in between (Qdrant's `CardinalityEstimation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cardinality {
    pub min: usize,
    pub exp: usize,
    pub max: usize,
}

impl Cardinality {
    pub fn exact(n: usize) -> Self {
        Cardinality { min: n, exp: n, max: n }
    }

    /// What a condition no index can answer is assumed to match.
    pub fn unknown(total: usize) -> Self {
        Cardinality { min: 0, exp: total / 2, max: total }
    }

    fn invert(self, total: usize) -> Self {
        Cardinality {
            min: total.saturating_sub(self.max),
            exp: total.saturating_sub(self.exp),
            max: total.saturating_sub(self.min),
        }
    }

    fn all_of(parts: &[Cardinality], total: usize) -> Self {
        if parts.is_empty() {
            return Cardinality::exact(total);
        }
        if total == 0 {
            return Cardinality::exact(0);
        }
        let min = parts.iter().map(|c| c.min).sum::<usize>().saturating_sub(total * (parts.len() - 1));
        let max = parts.iter().map(|c| c.max).min().unwrap_or(total);
        let fraction: f64 = parts.iter().map(|c| c.exp as f64 / total as f64).product();
        let exp = ((fraction * total as f64) as usize).max(min).min(max);
        Cardinality { min, exp, max }
    }

    fn any_of(parts: &[Cardinality], total: usize) -> Self {
        if parts.is_empty() {
            return Cardinality::exact(0);
        }
        if total == 0 {
            return Cardinality::exact(0);
        }
        let min = parts.iter().map(|c| c.min).max().unwrap_or(0);
        let max = parts.iter().map(|c| c.max).sum::<usize>().min(total);
        let missed: f64 = parts.iter().map(|c| 1.0 - c.exp as f64 / total as f64).product();
        let exp = (((1.0 - missed) * total as f64) as usize).max(min).min(max);
        Cardinality { min, exp, max }
    }
}

/// Offsets an index can produce, not yet collected.
enum Set<'a> {
    Empty,
    /// The union of posting lists. `exact`: no point outside the matches
    /// (the lists answer the condition itself, not a wider one).
    Lists { lists: Vec<&'a Postings>, exact: bool },
    /// Sorted, unique offsets (`has_id`).
    Offsets(Vec<u32>),
    And(Vec<Set<'a>>),
    Or(Vec<Set<'a>>),
}

impl<'a> Set<'a> {
    fn lists(lists: impl IntoIterator<Item = &'a Postings>, exact: bool) -> Self {
        Set::Lists { lists: lists.into_iter().collect(), exact }
    }

    fn estimate(&self, total: usize) -> Cardinality {
        match self {
            Set::Empty => Cardinality::exact(0),
            Set::Lists { lists, exact } => {
                let max = lists.iter().map(|l| l.len()).sum::<usize>().min(total);
                let min = if *exact { lists.iter().map(|l| l.len()).max().unwrap_or(0) } else { 0 };
                Cardinality { min, exp: max, max }
            }
            Set::Offsets(offsets) => Cardinality::exact(offsets.len()),
            Set::And(parts) => {
                Cardinality::all_of(&parts.iter().map(|p| p.estimate(total)).collect::<Vec<_>>(), total)
            }
            Set::Or(parts) => {
                Cardinality::any_of(&parts.iter().map(|p| p.estimate(total)).collect::<Vec<_>>(), total)
            }
        }
    }

    /// Whether membership is cheap to test without collecting the set.
    fn cheap(&self) -> bool {
        match self {
            Set::Empty | Set::Offsets(_) => true,
            Set::Lists { lists, .. } => lists.len() <= 8,
            Set::And(parts) | Set::Or(parts) => parts.len() <= 4 && parts.iter().all(Set::cheap),
        }
    }

    fn contains(&self, offset: u32) -> bool {
        match self {
            Set::Empty => false,
            Set::Lists { lists, .. } => lists.iter().any(|l| l.contains(&offset)),
            Set::Offsets(offsets) => offsets.binary_search(&offset).is_ok(),
            Set::And(parts) => parts.iter().all(|p| p.contains(offset)),
            Set::Or(parts) => parts.iter().any(|p| p.contains(offset)),
        }
    }

    /// The offsets, ascending. An intersection starts from its smallest part
    /// and may skip parts far larger than what is left: the result is then
    /// wider, which a superset may be.
    fn collect(&self, total: usize) -> Vec<u32> {
        match self {
            Set::Empty => Vec::new(),
            Set::Lists { lists, .. } => union(lists.iter().copied()),
            Set::Offsets(offsets) => offsets.clone(),
            Set::Or(parts) => {
                let mut out: Vec<u32> = parts.iter().flat_map(|p| p.collect(total)).collect();
                out.sort_unstable();
                out.dedup();
                out
            }
            Set::And(parts) => {
                let mut parts: Vec<(&Set, usize)> = parts.iter().map(|p| (p, p.estimate(total).max)).collect();
                parts.sort_by_key(|&(_, max)| max);
                let Some(((first, _), rest)) = parts.split_first() else { return Vec::new() };
                let mut acc = first.collect(total);
                for &(part, max) in rest {
                    if acc.is_empty() {
                        break;
                    }
                    if part.cheap() {
                        acc.retain(|&o| part.contains(o));
                    } else if max <= acc.len().saturating_mul(16) {
                        acc = intersect_sorted(&acc, &part.collect(total));
                    }
                }
                acc
            }
        }
    }
}

/// The indexes of a collection with its id map, answering for one filter.
pub(super) struct Planner<'a> {
    pub indexes: &'a FieldIndexes,
    pub ids: &'a BTreeMap<PointId, u32>,
    /// By offset, the slot of the shard key each point was written under.
    pub shards: &'a [u32],
    pub total: usize,
}

impl<'a> Planner<'a> {
    /// The filter's indexed conditions as a set; `None` when none narrows.
    fn filter(&self, prefix: &[&JsonPath], filter: &Filter) -> Option<Set<'a>> {
        let mut parts = Vec::new();
        for condition in filter.must.iter().flatten() {
            parts.extend(self.condition(prefix, condition));
        }
        if let Some(should) = &filter.should {
            // `should: []` matches nothing; otherwise every branch must be indexed.
            let sets: Option<Vec<Set>> = should.iter().map(|c| self.condition(prefix, c)).collect();
            parts.extend(sets.map(Set::Or));
        }
        if let Some(min_should) = &filter.min_should
            && min_should.min_count > 0
        {
            if min_should.conditions.len() < min_should.min_count {
                parts.push(Set::Empty);
            } else {
                let sets: Option<Vec<Set>> = min_should.conditions.iter().map(|c| self.condition(prefix, c)).collect();
                parts.extend(sets.map(Set::Or));
            }
        }
        match parts.len() {
            0 => None,
            1 => parts.pop(),
            _ => Some(Set::And(parts)),
        }
    }

    fn condition(&self, prefix: &[&JsonPath], condition: &Condition) -> Option<Set<'a>> {
        match condition {
            Condition::Field(field) => self.field(prefix, field),
            // Inside `nested`, id and vector conditions never match.
            Condition::HasId(_) | Condition::HasVector(_) if !prefix.is_empty() => Some(Set::Empty),
            Condition::HasId(c) => {
                let mut offsets: Vec<u32> = c.has_id.iter().filter_map(|id| self.ids.get(id).copied()).collect();
                offsets.sort_unstable();
                Some(Set::Offsets(offsets))
            }
            Condition::Nested(c) => {
                let key = c.nested.key.array_key();
                let mut inner: Vec<&JsonPath> = prefix.to_vec();
                inner.push(&key);
                self.filter(&inner, &c.nested.filter)
            }
            Condition::Filter(f) => self.filter(prefix, f),
            // The points of the selected shard keys, from one pass over
            // the tags: a tenant's search then scans its own points only.
            Condition::InShards(slots) => Some(Set::Offsets(
                (0..self.shards.len() as u32).filter(|&o| slots.binary_search(&self.shards[o as usize]).is_ok()).collect(),
            )),
            Condition::HasVector(_) | Condition::IsEmpty(_) | Condition::IsNull(_) => None,
        }
    }

    /// A field condition holds when any of its parts does (Qdrant ORs them),
    /// unless a count or emptiness check takes over; every part must be indexed.
    fn field(&self, prefix: &[&JsonPath], c: &FieldCondition) -> Option<Set<'a>> {
        if c.values_count.is_some() || c.is_empty.is_some() || c.is_null.is_some() {
            return None;
        }
        let index = self.indexes.lookup(prefix, &c.key)?;
        let mut parts = Vec::new();
        if let Some(m) = &c.r#match {
            parts.push(match_set(index, m)?);
        }
        if let Some(range) = &c.range {
            parts.push(range_set(index, range)?);
        }
        if let Some(shape) = &c.geo_radius {
            parts.push(geo_set(index, &geo::radius_regions(shape))?);
        }
        if let Some(shape) = &c.geo_bounding_box {
            parts.push(geo_set(index, &geo::box_regions(shape))?);
        }
        if let Some(shape) = &c.geo_polygon {
            parts.push(geo_set(index, &geo::polygon_regions(shape))?);
        }
        match parts.len() {
            0 => None,
            1 => parts.pop(),
            _ => Some(Set::Or(parts)),
        }
    }

    /// The estimate of a whole filter, unindexed conditions included.
    fn estimate_filter(&self, prefix: &[&JsonPath], filter: &Filter) -> Cardinality {
        let total = self.total;
        let mut parts = Vec::new();
        for c in filter.must.iter().flatten() {
            parts.push(self.estimate_condition(prefix, c));
        }
        if let Some(should) = &filter.should {
            let each: Vec<Cardinality> = should.iter().map(|c| self.estimate_condition(prefix, c)).collect();
            parts.push(Cardinality::any_of(&each, total));
        }
        if let Some(min_should) = &filter.min_should
            && min_should.min_count > 0
        {
            let each: Vec<Cardinality> =
                min_should.conditions.iter().map(|c| self.estimate_condition(prefix, c)).collect();
            let mut any = Cardinality::any_of(&each, total);
            if min_should.conditions.len() < min_should.min_count {
                any = Cardinality::exact(0);
            } else if min_should.min_count > 1 {
                any.min = 0;
                any.exp = any.exp.min(any.max);
            }
            parts.push(any);
        }
        for c in filter.must_not.iter().flatten() {
            parts.push(self.estimate_condition(prefix, c).invert(total));
        }
        Cardinality::all_of(&parts, total)
    }

    fn estimate_condition(&self, prefix: &[&JsonPath], condition: &Condition) -> Cardinality {
        match condition {
            Condition::Filter(f) => self.estimate_filter(prefix, f),
            Condition::Nested(_) => {
                // Inner conditions hold per element, not per point: only the
                // candidate set bounds the matches, from above.
                match self.condition(prefix, condition) {
                    Some(set) => {
                        let estimate = set.estimate(self.total);
                        Cardinality { min: 0, ..estimate }
                    }
                    None => Cardinality::unknown(self.total),
                }
            }
            other => match self.condition(prefix, other) {
                Some(set) => set.estimate(self.total),
                None => Cardinality::unknown(self.total),
            },
        }
    }

    pub fn candidates(&self, filter: &Filter) -> Option<Vec<u32>> {
        self.filter(&[], filter).map(|set| set.collect(self.total))
    }

    pub fn estimate(&self, filter: &Filter) -> Cardinality {
        self.estimate_filter(&[], filter)
    }
}

fn match_set<'a>(index: &'a FieldIndex, m: &Match) -> Option<Set<'a>> {
    let text = |kind: TextQuery, query: &str| match &index.kind {
        IndexKind::Text(ix) => Some(text_set(ix, kind, query)),
        _ => None,
    };
    match m {
        Match::Value(MatchValue { value: ValueVariants::String(s) }) => strings_set(index, std::slice::from_ref(s)),
        Match::Value(MatchValue { value: ValueVariants::Integer(i) }) => integers_set(index, &[*i]),
        Match::Value(MatchValue { value: ValueVariants::Bool(b) }) => match &index.kind {
            IndexKind::Bool(map) => Some(Set::lists(map.get(b), true)),
            _ => None,
        },
        // An empty list matches nothing, whatever the field holds.
        Match::Any(MatchAny { any: AnyVariants::Strings(list) }) if list.is_empty() => Some(Set::Empty),
        Match::Any(MatchAny { any: AnyVariants::Strings(list) }) => strings_set(index, list.as_slice()),
        Match::Any(MatchAny { any: AnyVariants::Integers(list) }) => integers_set(index, list.as_slice()),
        Match::Text(MatchText { text: q }) => text(TextQuery::All, q),
        Match::TextAny(MatchTextAny { text_any: q }) => text(TextQuery::Any, q),
        Match::Phrase(MatchPhrase { phrase: q }) => text(TextQuery::Phrase, q),
        Match::Except(_) => None,
    }
}

/// Points holding one of the strings: a keyword index, or a uuid index when
/// every string is a UUID (any other string is only ever stored unindexed).
fn strings_set<'a>(index: &'a FieldIndex, strings: &[String]) -> Option<Set<'a>> {
    match &index.kind {
        IndexKind::Keyword(map) => Some(Set::lists(strings.iter().filter_map(|s| map.get(s.as_str())), true)),
        IndexKind::Uuid(map) => {
            let keys: Option<Vec<u128>> = strings.iter().map(|s| parse_uuid(s)).collect();
            // Another spelling of the same UUID is in the same list: not exact.
            Some(Set::lists(keys?.iter().filter_map(|k| map.get(k)), false))
        }
        _ => None,
    }
}

/// Points holding one of the integers: the lookup map, or the ordered map of
/// an integer or float index (a stored integer compares equal as a float).
fn integers_set<'a>(index: &'a FieldIndex, integers: &[i64]) -> Option<Set<'a>> {
    let ordered = |map: &'a OrderedIndex<Num>| {
        Set::lists(integers.iter().filter_map(|&i| Num::new(i as f64)).filter_map(|n| map.get(n)), false)
    };
    match &index.kind {
        IndexKind::Integer { lookup: Some(map), .. } => Some(Set::lists(integers.iter().filter_map(|i| map.get(i)), true)),
        IndexKind::Integer { lookup: None, range: Some(map) } => Some(ordered(map)),
        IndexKind::Float(map) => Some(ordered(map)),
        _ => None,
    }
}

fn range_set<'a>(index: &'a FieldIndex, range: &RangeInterface) -> Option<Set<'a>> {
    match (&index.kind, range) {
        (IndexKind::Integer { range: Some(map), .. } | IndexKind::Float(map), RangeInterface::Float(r)) => {
            let (low, high) = number_bounds(r)?;
            Some(Set::lists(map.range(low, high), true))
        }
        (IndexKind::Datetime(map), RangeInterface::DateTime(r)) => {
            let (low, high) = datetime_bounds(r);
            Some(Set::lists(map.range(low, high), false))
        }
        _ => None,
    }
}

/// The tighter of two bounds on the same side (`keep_larger`: lower bounds).
fn tighter<K: Ord + Copy>(a: Bound<K>, b: Bound<K>, keep_larger: bool) -> Bound<K> {
    let value = |bound: &Bound<K>| match bound {
        Bound::Included(v) | Bound::Excluded(v) => Some(*v),
        Bound::Unbounded => None,
    };
    match (value(&a), value(&b)) {
        (None, _) => b,
        (_, None) => a,
        (Some(x), Some(y)) if x == y => {
            if matches!(a, Bound::Excluded(_)) { a } else { b }
        }
        (Some(x), Some(y)) => {
            if (x > y) == keep_larger { a } else { b }
        }
    }
}

/// The bounds of a numeric range; `None` for one no number satisfies (NaN bounds).
fn number_bounds(r: &Range) -> Option<(Bound<Num>, Bound<Num>)> {
    let bound = |v: Option<f64>, inclusive: bool| -> Option<Bound<Num>> {
        match v {
            None => Some(Bound::Unbounded),
            Some(x) => {
                let n = Num::new(x)?;
                Some(if inclusive { Bound::Included(n) } else { Bound::Excluded(n) })
            }
        }
    };
    let low = tighter(bound(r.gt, false)?, bound(r.gte, true)?, true);
    let high = tighter(bound(r.lt, false)?, bound(r.lte, true)?, false);
    Some((low, high))
}

/// Datetime bounds in whole microseconds, rounded outwards and inclusive:
/// stored keys are rounded down, so exclusivity cannot be kept exactly.
fn datetime_bounds(r: &DatetimeRange) -> (Bound<i64>, Bound<i64>) {
    let micros = |t: Option<chrono::DateTime<chrono::Utc>>| t.map(|t| t.timestamp_micros());
    let low = [micros(r.gt), micros(r.gte)].into_iter().flatten().max();
    let high = [micros(r.lt), micros(r.lte)].into_iter().flatten().min();
    (low.map_or(Bound::Unbounded, Bound::Included), high.map_or(Bound::Unbounded, Bound::Included))
}

fn geo_set<'a>(index: &'a FieldIndex, regions: &[Region]) -> Option<Set<'a>> {
    match &index.kind {
        IndexKind::Geo(ix) => Some(Set::lists(ix.lists(regions), false)),
        _ => None,
    }
}

/// `text` and `phrase`: points holding every token (a phrase's order is left
/// to the filter); `text_any`: points holding one. An empty query, or a token
/// no point has in an all-tokens query, matches nothing.
fn text_set<'a>(index: &'a super::text::TextIndex, kind: TextQuery, query: &str) -> Set<'a> {
    let tokens = index.tokenizer.query(kind, query);
    let lists = index.postings(&tokens);
    if kind == TextQuery::Any {
        return Set::lists(lists.into_iter().flatten(), true);
    }
    let lists: Option<Vec<&Postings>> = lists.into_iter().collect();
    match lists {
        Some(lists) if !lists.is_empty() => {
            let exact = kind == TextQuery::All;
            Set::And(lists.into_iter().map(|l| Set::lists([l], exact)).collect())
        }
        _ => Set::Empty,
    }
}
