//! The geo index: points bucketed in a fixed lat/lon grid. A shape asks for
//! the cells its bounding box touches; the filter then checks the exact
//! shape, so the grid only has to be a superset.

use std::collections::BTreeMap;

use crate::geo::{EARTH_MEAN_RADIUS_M, GeoBoundingBox, GeoPoint, GeoPolygon, GeoRadius};

use super::maps::Postings;

/// Cell side in degrees: about 5.5 km of latitude. Small enough that a
/// city-sized radius reads a few cells, large enough that a continent reads
/// a few thousand grid rows at most.
const CELL: f64 = 0.05;

/// Slack added around every query box, in degrees, so rounding in the exact
/// checks (haversine, ray casting) never reaches past the cells read.
const SLACK: f64 = 1e-6;

/// A lat/lon rectangle, bounds included, lon_lo <= lon_hi (no wrapping).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Region {
    pub lat_lo: f64,
    pub lat_hi: f64,
    pub lon_lo: f64,
    pub lon_hi: f64,
}

/// (latitude row, longitude column) -> points with a location in that cell.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct GeoIndex {
    cells: BTreeMap<(i32, i32), Postings>,
    /// Points stored with coordinates outside the valid ranges (payloads are
    /// not range-checked): every query reads them.
    outliers: Postings,
}

fn row(lat: f64) -> i32 {
    ((lat + 90.0) / CELL).floor() as i32
}

fn column(lon: f64) -> i32 {
    ((lon + 180.0) / CELL).floor() as i32
}

fn in_range(p: GeoPoint) -> bool {
    (-90.0..=90.0).contains(&p.lat) && (-180.0..=180.0).contains(&p.lon)
}

impl GeoIndex {
    pub fn add(&mut self, offset: u32, points: &[GeoPoint]) {
        for &p in points {
            if in_range(p) {
                self.cells.entry((row(p.lat), column(p.lon))).or_default().insert(offset);
            } else {
                self.outliers.insert(offset);
            }
        }
    }

    pub fn remove(&mut self, offset: u32, points: &[GeoPoint]) {
        for &p in points {
            if in_range(p) {
                let key = (row(p.lat), column(p.lon));
                if let Some(list) = self.cells.get_mut(&key) {
                    list.remove(&offset);
                    if list.is_empty() {
                        self.cells.remove(&key);
                    }
                }
            } else {
                self.outliers.remove(&offset);
            }
        }
    }

    /// The lists of every cell the regions touch, and the outliers.
    pub fn lists(&self, regions: &[Region]) -> Vec<&Postings> {
        let mut out = vec![&self.outliers];
        for r in regions {
            if !(r.lat_lo <= r.lat_hi && r.lon_lo <= r.lon_hi) {
                continue;
            }
            // Stored points in range lie within the globe; clamping keeps the rows read few.
            let (c_lo, c_hi) = (column((r.lon_lo - SLACK).max(-180.0)), column((r.lon_hi + SLACK).min(180.0)));
            let (r_lo, r_hi) = (row((r.lat_lo - SLACK).max(-90.0)), row((r.lat_hi + SLACK).min(90.0)));
            for lat_row in r_lo..=r_hi {
                out.extend(self.cells.range((lat_row, c_lo)..=(lat_row, c_hi)).map(|(_, list)| list));
            }
        }
        out
    }
}

/// The whole globe.
const WORLD: Region = Region { lat_lo: -90.0, lat_hi: 90.0, lon_lo: -180.0, lon_hi: 180.0 };

/// Regions covering the longitudes `lo..=hi`, which may run past ±180.
fn lon_span(lat_lo: f64, lat_hi: f64, lo: f64, hi: f64) -> Vec<Region> {
    let region = |lon_lo, lon_hi| Region { lat_lo, lat_hi, lon_lo, lon_hi };
    if hi - lo >= 360.0 {
        vec![region(-180.0, 180.0)]
    } else if lo < -180.0 {
        vec![region(lo + 360.0, 180.0), region(-180.0, hi)]
    } else if hi > 180.0 {
        vec![region(lo, 180.0), region(-180.0, hi - 360.0)]
    } else {
        vec![region(lo, hi)]
    }
}

/// Regions holding every point closer than the radius to its centre.
pub(crate) fn radius_regions(shape: &GeoRadius) -> Vec<Region> {
    if shape.radius <= 0.0 {
        return Vec::new();
    }
    // Angular radius, widened a little against rounding in the exact check.
    let d = shape.radius / EARTH_MEAN_RADIUS_M * (1.0 + 1e-9) + 1e-12;
    if d >= std::f64::consts::PI {
        return vec![WORLD];
    }
    let (lat, lon) = (shape.center.lat, shape.center.lon);
    let d_deg = d.to_degrees();
    let (lat_lo, lat_hi) = (lat - d_deg, lat + d_deg);
    if lat_lo <= -90.0 || lat_hi >= 90.0 {
        // The cap reaches a pole: every longitude.
        return vec![Region { lat_lo: lat_lo.max(-90.0), lat_hi: lat_hi.min(90.0), lon_lo: -180.0, lon_hi: 180.0 }];
    }
    // Widest longitude of a spherical cap: asin(sin d / cos lat).
    let ratio = d.sin() / lat.to_radians().cos();
    if ratio.is_nan() || ratio >= 1.0 {
        return vec![Region { lat_lo, lat_hi, lon_lo: -180.0, lon_hi: 180.0 }];
    }
    let d_lon = ratio.asin().to_degrees();
    lon_span(lat_lo, lat_hi, lon - d_lon, lon + d_lon)
}

/// Regions of a bounding box (two when it crosses the antimeridian).
pub(crate) fn box_regions(shape: &GeoBoundingBox) -> Vec<Region> {
    let (lat_lo, lat_hi) = (shape.bottom_right.lat, shape.top_left.lat);
    let (west, east) = (shape.top_left.lon, shape.bottom_right.lon);
    if west > east {
        vec![
            Region { lat_lo, lat_hi, lon_lo: west, lon_hi: 180.0 },
            Region { lat_lo, lat_hi, lon_lo: -180.0, lon_hi: east },
        ]
    } else {
        vec![Region { lat_lo, lat_hi, lon_lo: west, lon_hi: east }]
    }
}

/// The bounding box of a polygon's exterior ring: the polygon check is planar
/// in lon/lat, so nothing inside lies outside it.
pub(crate) fn polygon_regions(shape: &GeoPolygon) -> Vec<Region> {
    let points = &shape.exterior.points;
    let fold = |f: fn(f64, f64) -> f64, init: f64, g: fn(&GeoPoint) -> f64| points.iter().map(g).fold(init, f);
    vec![Region {
        lat_lo: fold(f64::min, f64::INFINITY, |p| p.lat),
        lat_hi: fold(f64::max, f64::NEG_INFINITY, |p| p.lat),
        lon_lo: fold(f64::min, f64::INFINITY, |p| p.lon),
        lon_hi: fold(f64::max, f64::NEG_INFINITY, |p| p.lon),
    }]
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::geo::GeoLineString;
    use crate::payload_index::maps::union;

    fn pt(lon: f64, lat: f64) -> GeoPoint {
        GeoPoint { lon, lat }
    }

    fn index(points: &[GeoPoint]) -> GeoIndex {
        let mut ix = GeoIndex::default();
        for (i, p) in points.iter().enumerate() {
            ix.add(i as u32, &[*p]);
        }
        ix
    }

    /// Prevents the antimeridian and the poles losing points: a box across
    /// ±180 and a radius around a pole must read the cells on both sides.
    #[test]
    fn wrapping_shapes_read_both_sides() {
        let points = [pt(179.9, 0.0), pt(-179.9, 0.0), pt(0.0, 0.0), pt(10.0, 89.9), pt(-170.0, 89.9)];
        let ix = index(&points);
        let bbox = GeoBoundingBox { top_left: pt(179.0, 1.0), bottom_right: pt(-179.0, -1.0) };
        assert_eq!(union(ix.lists(&box_regions(&bbox))), vec![0, 1]);
        let pole = GeoRadius { center: pt(0.0, 90.0), radius: 50_000.0 };
        assert_eq!(union(ix.lists(&radius_regions(&pole))), vec![3, 4]);
        let across = GeoRadius { center: pt(180.0, 0.0), radius: 30_000.0 };
        assert_eq!(union(ix.lists(&radius_regions(&across))), vec![0, 1]);
        assert!(union(ix.lists(&radius_regions(&GeoRadius { center: pt(0.0, 0.0), radius: 0.0 }))).is_empty());
    }

    /// Prevents stored coordinates outside the valid ranges (never checked on
    /// write) from being lost: they are read by every query.
    #[test]
    fn outliers_are_always_read() {
        let mut ix = index(&[pt(500.0, 0.0)]);
        let bbox = GeoBoundingBox { top_left: pt(0.0, 1.0), bottom_right: pt(1.0, 0.0) };
        assert_eq!(union(ix.lists(&box_regions(&bbox))), vec![0]);
        ix.remove(0, &[pt(500.0, 0.0)]);
        assert_eq!(ix, GeoIndex::default());
    }

    proptest! {
        /// The grid's candidates are a superset of the exact shape checks.
        #[test]
        fn candidates_cover_exact_matches(
            points in prop::collection::vec((-180.0f64..=180.0, -90.0f64..=90.0), 1..60),
            center in (-180.0f64..=180.0, -90.0f64..=90.0),
            radius in 0.0f64..3_000_000.0,
            corners in ((-180.0f64..=180.0, -90.0f64..=90.0), (-180.0f64..=180.0, -90.0f64..=90.0)),
        ) {
            let points: Vec<GeoPoint> = points.into_iter().map(|(lon, lat)| pt(lon, lat)).collect();
            let ix = index(&points);
            let radius = GeoRadius { center: pt(center.0, center.1), radius };
            let got = union(ix.lists(&radius_regions(&radius)));
            for (i, p) in points.iter().enumerate() {
                if radius.check_point(*p) {
                    prop_assert!(got.contains(&(i as u32)), "radius missed {p}");
                }
            }
            let (a, b) = corners;
            let bbox = GeoBoundingBox { top_left: pt(a.0, a.1.max(b.1)), bottom_right: pt(b.0, a.1.min(b.1)) };
            let got = union(ix.lists(&box_regions(&bbox)));
            for (i, p) in points.iter().enumerate() {
                if bbox.check_point(*p) {
                    prop_assert!(got.contains(&(i as u32)), "box missed {p}");
                }
            }
            let ring = GeoLineString { points: vec![pt(a.0, a.1), pt(b.0, a.1), pt(center.0, center.1), pt(a.0, a.1)] };
            let polygon = GeoPolygon { exterior: ring, interiors: None };
            let got = union(ix.lists(&polygon_regions(&polygon)));
            for (i, p) in points.iter().enumerate() {
                if polygon.check_point(*p) {
                    prop_assert!(got.contains(&(i as u32)), "polygon missed {p}");
                }
            }
        }
    }
}
