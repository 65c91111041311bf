//! Geographic shapes of the filter language and the arithmetic behind them:
//! great-circle distance, bounding boxes (antimeridian included) and polygons
//! with holes. No geo crate: the few formulas needed live here.
//!
//! Semantics follow Qdrant (`lib/segment/src/types.rs`: `GeoBoundingBox::check_point`,
//! `GeoRadius::check_point`, `GeoPolygon`): every comparison is strict, so a point
//! exactly on an edge, on the circle or on a polygon's boundary does not match.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Mean earth radius in metres (IUGG), the radius Qdrant's haversine uses.
pub const EARTH_MEAN_RADIUS_M: f64 = 6_371_008.8;

/// A coordinate in degrees. On the wire `{"lon": .., "lat": ..}`; deserialising
/// refuses a longitude outside [-180, 180] or a latitude outside [-90, 90].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawGeoPoint")]
pub struct GeoPoint {
    pub lon: f64,
    pub lat: f64,
}

/// The unchecked wire shape, validated into a [`GeoPoint`].
#[derive(Deserialize)]
struct RawGeoPoint {
    lon: f64,
    lat: f64,
}

impl TryFrom<RawGeoPoint> for GeoPoint {
    type Error = GeoError;

    fn try_from(raw: RawGeoPoint) -> Result<Self, GeoError> {
        GeoPoint::new(raw.lon, raw.lat)
    }
}

/// A geo value or shape that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum GeoError {
    /// Coordinates outside the valid ranges.
    #[error(
        "Wrong format of GeoPoint payload: expected `lat` = {lat} within [-90;90] and `lon` = {lon} within [-180;180]"
    )]
    OutOfRange { lon: f64, lat: f64 },
    /// A polygon ring with fewer than four points.
    #[error("polygon invalid, the size must be at least 4, got {0}")]
    RingTooShort(usize),
    /// A polygon ring whose first and last points differ.
    #[error(
        "polygon invalid, the first and the last points should be the same to form a closed line"
    )]
    RingNotClosed,
}

impl GeoPoint {
    /// A point with validated coordinates.
    pub fn new(lon: f64, lat: f64) -> Result<Self, GeoError> {
        let point = GeoPoint { lon, lat };
        point.validate()?;
        Ok(point)
    }

    /// Checks the coordinate ranges (NaN is out of range).
    pub fn validate(&self) -> Result<(), GeoError> {
        if (-180.0..=180.0).contains(&self.lon) && (-90.0..=90.0).contains(&self.lat) {
            Ok(())
        } else {
            Err(GeoError::OutOfRange {
                lon: self.lon,
                lat: self.lat,
            })
        }
    }

    /// Reads one payload value as a point: an object with numeric `lon` and `lat`.
    /// Like Qdrant, stored values are not range-checked here; anything else is `None`.
    pub fn from_payload(value: &Value) -> Option<GeoPoint> {
        let obj = value.as_object()?;
        let lon = obj.get("lon")?.as_f64()?;
        let lat = obj.get("lat")?.as_f64()?;
        Some(GeoPoint { lon, lat })
    }

    /// All points of a payload value: one object, or an array of objects (elements
    /// that are not points are skipped).
    pub fn all_from_payload(value: &Value) -> Vec<GeoPoint> {
        match value {
            Value::Array(items) => items.iter().filter_map(GeoPoint::from_payload).collect(),
            other => GeoPoint::from_payload(other).into_iter().collect(),
        }
    }
}

impl fmt::Display for GeoPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "(lon {}, lat {})", self.lon, self.lat)
    }
}

/// Great-circle distance in metres between two points (haversine formula on a
/// sphere of radius [`EARTH_MEAN_RADIUS_M`]).
pub fn haversine_distance(a: GeoPoint, b: GeoPoint) -> f64 {
    let lat_a = a.lat.to_radians();
    let lat_b = b.lat.to_radians();
    let half_dlat = (b.lat - a.lat).to_radians() / 2.0;
    let half_dlon = (b.lon - a.lon).to_radians() / 2.0;
    let h = half_dlat.sin().powi(2) + lat_a.cos() * lat_b.cos() * half_dlon.sin().powi(2);
    // `min` guards asin against rounding just above 1 for antipodal points.
    2.0 * EARTH_MEAN_RADIUS_M * h.sqrt().min(1.0).asin()
}

/// Points strictly closer than `radius` metres to `center`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeoRadius {
    pub center: GeoPoint,
    /// Radius in metres.
    pub radius: f64,
}

impl GeoRadius {
    pub fn check_point(&self, point: GeoPoint) -> bool {
        haversine_distance(self.center, point) < self.radius
    }
}

/// A lon/lat rectangle given by its north-west and south-east corners.
///
/// When `top_left.lon > bottom_right.lon` the box crosses the antimeridian: it
/// covers longitudes east of `top_left` and west of `bottom_right`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeoBoundingBox {
    pub top_left: GeoPoint,
    pub bottom_right: GeoPoint,
}

impl GeoBoundingBox {
    pub fn check_point(&self, point: GeoPoint) -> bool {
        let (west, east) = (self.top_left.lon, self.bottom_right.lon);
        let lon_inside = if west > east {
            point.lon > west || point.lon < east
        } else {
            west < point.lon && point.lon < east
        };
        let lat_inside = self.bottom_right.lat < point.lat && point.lat < self.top_left.lat;
        lon_inside && lat_inside
    }
}

/// A ring of points; a polygon ring must have at least four points and end
/// where it starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeoLineString {
    pub points: Vec<GeoPoint>,
}

impl GeoLineString {
    /// Checks that the line is a closed ring of at least four points.
    pub fn validate_ring(&self) -> Result<(), GeoError> {
        let points = &self.points;
        if points.len() < 4 {
            return Err(GeoError::RingTooShort(points.len()));
        }
        let (first, last) = (points[0], points[points.len() - 1]);
        if (first.lat - last.lat).abs() > f64::EPSILON
            || (first.lon - last.lon).abs() > f64::EPSILON
        {
            return Err(GeoError::RingNotClosed);
        }
        Ok(())
    }
}

/// A polygon: an exterior ring and optional holes, in plain lon/lat (edges are
/// straight lines in degrees, not great circles, as in Qdrant).
///
/// Deserialising refuses rings that are too short or not closed, as Qdrant does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawGeoPolygon")]
pub struct GeoPolygon {
    pub exterior: GeoLineString,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interiors: Option<Vec<GeoLineString>>,
}

#[derive(Deserialize)]
struct RawGeoPolygon {
    exterior: GeoLineString,
    #[serde(default)]
    interiors: Option<Vec<GeoLineString>>,
}

impl TryFrom<RawGeoPolygon> for GeoPolygon {
    type Error = GeoError;

    fn try_from(raw: RawGeoPolygon) -> Result<Self, GeoError> {
        let polygon = GeoPolygon {
            exterior: raw.exterior,
            interiors: raw.interiors,
        };
        polygon.validate()?;
        Ok(polygon)
    }
}

/// Where a point lies relative to one ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RingPosition {
    Inside,
    OnBoundary,
    Outside,
}

impl GeoPolygon {
    /// Checks every ring (exterior first, then holes).
    pub fn validate(&self) -> Result<(), GeoError> {
        self.exterior.validate_ring()?;
        for ring in self.interiors.iter().flatten() {
            ring.validate_ring()?;
        }
        Ok(())
    }

    /// True when the point is in the polygon's interior: strictly inside the
    /// exterior ring and neither inside nor on the boundary of any hole.
    pub fn check_point(&self, point: GeoPoint) -> bool {
        if ring_position(&self.exterior.points, point) != RingPosition::Inside {
            return false;
        }
        self.interiors
            .iter()
            .flatten()
            .all(|hole| ring_position(&hole.points, point) == RingPosition::Outside)
    }
}

/// Even-odd ray casting towards +lon, with an exact on-segment test first so
/// boundary points are reported as such. An unclosed ring is closed implicitly.
fn ring_position(ring: &[GeoPoint], p: GeoPoint) -> RingPosition {
    if ring.is_empty() {
        return RingPosition::Outside;
    }
    let closing = (ring[0] != ring[ring.len() - 1]).then(|| (ring[ring.len() - 1], ring[0]));
    let edges = ring.windows(2).map(|w| (w[0], w[1])).chain(closing);

    let mut inside = false;
    for (a, b) in edges {
        if on_segment(a, b, p) {
            return RingPosition::OnBoundary;
        }
        // Half-open rule on latitude so a vertex shared by two edges counts once.
        if (a.lat > p.lat) != (b.lat > p.lat) {
            let lon_at = a.lon + (p.lat - a.lat) * (b.lon - a.lon) / (b.lat - a.lat);
            if p.lon < lon_at {
                inside = !inside;
            }
        }
    }
    if inside {
        RingPosition::Inside
    } else {
        RingPosition::Outside
    }
}

fn on_segment(a: GeoPoint, b: GeoPoint, p: GeoPoint) -> bool {
    let cross = (b.lon - a.lon) * (p.lat - a.lat) - (b.lat - a.lat) * (p.lon - a.lon);
    cross == 0.0
        && p.lon >= a.lon.min(b.lon)
        && p.lon <= a.lon.max(b.lon)
        && p.lat >= a.lat.min(b.lat)
        && p.lat <= a.lat.max(b.lat)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pt(lon: f64, lat: f64) -> GeoPoint {
        GeoPoint { lon, lat }
    }

    fn ring(points: &[(f64, f64)]) -> GeoLineString {
        GeoLineString {
            points: points.iter().map(|&(lon, lat)| pt(lon, lat)).collect(),
        }
    }

    /// Prevents radius filters drifting from Qdrant's distances: Berlin to Moscow
    /// and a quarter of the equator have well-known lengths on the mean sphere.
    #[test]
    fn haversine_matches_known_distances() {
        let berlin = pt(13.404954, 52.520008);
        let moscow = pt(37.617298, 55.755825);
        let d = haversine_distance(berlin, moscow);
        assert!((d - 1_608_000.0).abs() < 5_000.0, "berlin-moscow {d}");

        let quarter = haversine_distance(pt(0.0, 0.0), pt(90.0, 0.0));
        let expected = std::f64::consts::FRAC_PI_2 * EARTH_MEAN_RADIUS_M;
        assert!((quarter - expected).abs() < 1e-6);

        assert_eq!(haversine_distance(berlin, berlin), 0.0);
        // Antipodes must not produce NaN.
        assert!(haversine_distance(pt(0.0, 0.0), pt(180.0, 0.0)).is_finite());
    }

    /// Prevents an inclusive radius: Qdrant matches only points strictly inside.
    #[test]
    fn radius_is_strict() {
        let center = pt(0.0, 0.0);
        let p = pt(0.0, 1.0);
        let exact = haversine_distance(center, p);
        let on_circle = GeoRadius {
            center,
            radius: exact,
        };
        assert!(!on_circle.check_point(p));
        let wider = GeoRadius {
            center,
            radius: exact + 1.0,
        };
        assert!(wider.check_point(p));
    }

    /// Prevents boxes that cross the antimeridian from matching nothing (or the
    /// whole world but the box), and edge points from matching.
    #[test]
    fn bounding_box_cases() {
        let berlin = GeoBoundingBox {
            top_left: pt(13.08835, 52.67551),
            bottom_right: pt(13.76116, 52.33826),
        };
        let fiji = GeoBoundingBox {
            top_left: pt(170.0, 10.0),
            bottom_right: pt(-170.0, -10.0),
        };
        let cases = [
            (&berlin, pt(13.404954, 52.520008), true),
            (&berlin, pt(37.6, 55.7), false),
            (&berlin, pt(13.08835, 52.5), false), // on the west edge
            (&berlin, pt(13.4, 52.67551), false), // on the north edge
            (&fiji, pt(179.0, 0.0), true),
            (&fiji, pt(-179.0, 0.0), true),
            (&fiji, pt(0.0, 0.0), false),
            (&fiji, pt(175.0, 20.0), false),
            (&fiji, pt(170.0, 0.0), false), // on the west edge
        ];
        for (bbox, p, expected) in cases {
            assert_eq!(bbox.check_point(p), expected, "{bbox:?} {p}");
        }
    }

    /// Prevents holes being ignored and boundary points counting as inside, the
    /// two classic point-in-polygon mistakes.
    #[test]
    fn polygon_with_hole() {
        let square = GeoPolygon {
            exterior: ring(&[
                (0.0, 0.0),
                (10.0, 0.0),
                (10.0, 10.0),
                (0.0, 10.0),
                (0.0, 0.0),
            ]),
            interiors: Some(vec![ring(&[
                (4.0, 4.0),
                (6.0, 4.0),
                (6.0, 6.0),
                (4.0, 6.0),
                (4.0, 4.0),
            ])]),
        };
        let cases = [
            (pt(1.0, 1.0), true),
            (pt(5.0, 5.0), false),  // in the hole
            (pt(4.0, 5.0), false),  // on the hole's edge
            (pt(0.0, 5.0), false),  // on the exterior edge
            (pt(0.0, 0.0), false),  // a vertex
            (pt(11.0, 5.0), false), // outside
            (pt(9.999, 9.999), true),
            (pt(-1.0, 0.0), false), // level with a vertex, outside
        ];
        for (p, expected) in cases {
            assert_eq!(square.check_point(p), expected, "{p}");
        }

        // A concave ring: the notch is outside.
        let notched = GeoPolygon {
            exterior: ring(&[
                (0.0, 0.0),
                (4.0, 0.0),
                (2.0, 2.0),
                (4.0, 4.0),
                (0.0, 4.0),
                (0.0, 0.0),
            ]),
            interiors: None,
        };
        assert!(notched.check_point(pt(1.0, 2.0)));
        assert!(!notched.check_point(pt(3.5, 2.0)));
    }

    /// Prevents malformed polygons and coordinates being accepted on the wire,
    /// where Qdrant answers with a format error.
    #[test]
    fn deserialisation_validates() {
        let ok: GeoPolygon = serde_json::from_value(json!({
            "exterior": {"points": [
                {"lon": 0, "lat": 0}, {"lon": 1, "lat": 0}, {"lon": 1, "lat": 1}, {"lon": 0, "lat": 0}
            ]}
        }))
        .unwrap();
        assert!(ok.interiors.is_none());

        let short = serde_json::from_value::<GeoPolygon>(json!({
            "exterior": {"points": [{"lon": 0, "lat": 0}, {"lon": 1, "lat": 0}, {"lon": 0, "lat": 0}]}
        }))
        .unwrap_err()
        .to_string();
        assert!(short.contains("at least 4, got 3"), "{short}");

        let open = serde_json::from_value::<GeoPolygon>(json!({
            "exterior": {"points": [
                {"lon": 0, "lat": 0}, {"lon": 1, "lat": 0}, {"lon": 1, "lat": 1}, {"lon": 0, "lat": 1}
            ]}
        }))
        .unwrap_err()
        .to_string();
        assert!(open.contains("closed line"), "{open}");

        let bad_hole = serde_json::from_value::<GeoPolygon>(json!({
            "exterior": {"points": [
                {"lon": 0, "lat": 0}, {"lon": 1, "lat": 0}, {"lon": 1, "lat": 1}, {"lon": 0, "lat": 0}
            ]},
            "interiors": [{"points": []}]
        }));
        assert!(bad_hole.is_err());

        let far = serde_json::from_value::<GeoPoint>(json!({"lon": 200.0, "lat": 0.0}))
            .unwrap_err()
            .to_string();
        assert!(far.contains("within [-180;180]"), "{far}");
        assert!(serde_json::from_value::<GeoPoint>(json!({"lon": 0.0, "lat": -90.5})).is_err());
        assert!(serde_json::from_value::<GeoPoint>(json!({"lon": 180, "lat": 90})).is_ok());
    }

    /// Prevents geo filters missing payloads stored as an array of locations or
    /// with integer coordinates, and crashing on junk.
    #[test]
    fn payload_points() {
        assert_eq!(
            GeoPoint::from_payload(&json!({"lon": 13, "lat": 52.5})),
            Some(pt(13.0, 52.5))
        );
        assert_eq!(
            GeoPoint::from_payload(&json!({"lon": "13", "lat": 52.5})),
            None
        );
        assert_eq!(GeoPoint::from_payload(&json!([1, 2])), None);
        assert_eq!(
            GeoPoint::all_from_payload(&json!([{"lon": 1, "lat": 2}, "x", {"lon": 3, "lat": 4}])),
            vec![pt(1.0, 2.0), pt(3.0, 4.0)]
        );
    }
}
