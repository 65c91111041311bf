//! Posting lists and the two value maps the scalar indexes are made of.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::Hash;
use std::ops::Bound;

/// The offsets of the points holding one value, ascending.
///
/// A B-tree set rather than a sorted vector: a write moves one point between
/// lists, and a hot value (a bool, a tenant id) can hold most of the points.
pub(crate) type Postings = BTreeSet<u32>;

/// Exact values to points: keyword, uuid, integer `lookup`, bool, text tokens.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MapIndex<K: Eq + Hash> {
    map: HashMap<K, Postings>,
}

impl<K: Eq + Hash> Default for MapIndex<K> {
    fn default() -> Self {
        MapIndex { map: HashMap::new() }
    }
}

impl<K: Eq + Hash> MapIndex<K> {
    pub fn insert(&mut self, key: K, offset: u32) {
        self.map.entry(key).or_default().insert(offset);
    }

    /// Forgets `offset` under `key`; a list that empties goes, so two indexes
    /// holding the same points compare equal however they got there.
    pub fn remove<Q>(&mut self, key: &Q, offset: u32)
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        if let Some(list) = self.map.get_mut(key) {
            list.remove(&offset);
            if list.is_empty() {
                self.map.remove(key);
            }
        }
    }

    pub fn get<Q>(&self, key: &Q) -> Option<&Postings>
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        self.map.get(key)
    }
}

/// Ordered values to points: integer `range`, float, datetime.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OrderedIndex<K: Ord> {
    map: BTreeMap<K, Postings>,
}

impl<K: Ord> Default for OrderedIndex<K> {
    fn default() -> Self {
        OrderedIndex { map: BTreeMap::new() }
    }
}

impl<K: Ord + Copy> OrderedIndex<K> {
    pub fn insert(&mut self, key: K, offset: u32) {
        self.map.entry(key).or_default().insert(offset);
    }

    pub fn remove(&mut self, key: K, offset: u32) {
        if let Some(list) = self.map.get_mut(&key) {
            list.remove(&offset);
            if list.is_empty() {
                self.map.remove(&key);
            }
        }
    }

    pub fn get(&self, key: K) -> Option<&Postings> {
        self.map.get(&key)
    }

    /// The lists of the values between the bounds. An empty or inverted range
    /// yields nothing (where `BTreeMap::range` would panic).
    pub fn range(&self, low: Bound<K>, high: Bound<K>) -> impl Iterator<Item = &Postings> {
        let empty = match (low, high) {
            (Bound::Included(a), Bound::Included(b)) => a > b,
            (Bound::Included(a) | Bound::Excluded(a), Bound::Excluded(b))
            | (Bound::Excluded(a), Bound::Included(b)) => a >= b,
            _ => false,
        };
        let range = (!empty).then(|| self.map.range((low, high)).map(|(_, list)| list));
        range.into_iter().flatten()
    }
}

/// A payload number as an ordered key. Never NaN (JSON has none), and `-0.0`
/// is stored as `0.0`, so the order is the one filters compare with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Num(f64);

impl Num {
    /// `None` for NaN, which no filter bound can contain.
    pub fn new(x: f64) -> Option<Num> {
        (!x.is_nan()).then_some(Num(x + 0.0))
    }
}

impl PartialEq for Num {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Num {}

impl PartialOrd for Num {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Num {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// Every offset of the lists, ascending, once each.
pub(crate) fn union<'a>(lists: impl IntoIterator<Item = &'a Postings>) -> Vec<u32> {
    let mut out: Vec<u32> = lists.into_iter().flatten().copied().collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The offsets of `a` (ascending) that are also in `b` (ascending).
pub(crate) fn intersect_sorted(a: &[u32], b: &[u32]) -> Vec<u32> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(a.len().min(b.len()));
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            Ordering::Less => i += 1,
            Ordering::Greater => j += 1,
            Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Prevents an emptied list lingering (indexes built two ways would differ)
    /// and a range query panicking on inverted bounds.
    #[test]
    fn lists_go_when_empty_and_bad_ranges_are_empty() {
        let mut m = MapIndex::default();
        m.insert("a".to_string(), 1);
        m.insert("a".to_string(), 2);
        m.remove("a", 1);
        assert_eq!(m.get("a").map(|l| l.len()), Some(1));
        m.remove("a", 2);
        assert_eq!(m, MapIndex::default());

        let mut o = OrderedIndex::default();
        for (k, v) in [(1i64, 10u32), (2, 20), (3, 30)] {
            o.insert(k, v);
        }
        let got = |lo, hi| union(o.range(lo, hi));
        assert_eq!(got(Bound::Included(2), Bound::Included(3)), vec![20, 30]);
        assert_eq!(got(Bound::Excluded(2), Bound::Unbounded), vec![30]);
        assert!(got(Bound::Included(3), Bound::Included(2)).is_empty());
        assert!(got(Bound::Excluded(2), Bound::Excluded(2)).is_empty());
        assert!(got(Bound::Included(2), Bound::Excluded(2)).is_empty());
    }

    /// Prevents `-0.0` and `0.0` landing under different keys: `gte: 0` must
    /// find a stored `-0.0`, as the filter's comparison does.
    #[test]
    fn negative_zero_is_zero() {
        assert_eq!(Num::new(-0.0), Num::new(0.0));
        assert!(Num::new(f64::NAN).is_none());
        assert!(Num::new(-1.0).unwrap() < Num::new(-0.0).unwrap());
    }

    #[test]
    fn sorted_intersection() {
        assert_eq!(intersect_sorted(&[1, 3, 5, 7], &[2, 3, 7, 9]), vec![3, 7]);
        assert!(intersect_sorted(&[], &[1]).is_empty());
    }
}
