//! Request counters: per route and status, plain atomics in a flat array so
//! recording a response costs two relaxed increments and no lock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http::StatusCode;

/// Statuses counted under their own label; anything else is `other`.
const STATUSES: [u16; 16] = [
    200, 202, 400, 401, 403, 404, 405, 408, 409, 413, 422, 429, 500, 501, 503, 304,
];
const BUCKETS: usize = STATUSES.len() + 1;

#[derive(Default)]
struct Cell {
    count: AtomicU64,
    micros: AtomicU64,
}

/// Why a request was refused before its handler ran.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Refusal {
    /// No or bad credential (401, or 403 for a bad JWT signature / expiry).
    Authentication,
    /// Valid credential, operation not allowed (403).
    Authorization,
}

pub(crate) struct Metrics {
    /// `routes + 1` slots (the last one for unmatched paths) of `BUCKETS` cells.
    cells: Vec<Cell>,
    routes: usize,
    refused_authentication: AtomicU64,
    refused_authorization: AtomicU64,
}

/// One non-zero counter, for rendering.
#[derive(Debug)]
pub(crate) struct Sample {
    /// Route index, or `None` for paths that matched no route.
    pub route: Option<usize>,
    pub status: &'static str,
    pub count: u64,
    pub total: Duration,
}

impl Metrics {
    pub(crate) fn new(routes: usize) -> Self {
        let cells = (0..(routes + 1) * BUCKETS)
            .map(|_| Cell::default())
            .collect();
        Metrics {
            cells,
            routes,
            refused_authentication: AtomicU64::new(0),
            refused_authorization: AtomicU64::new(0),
        }
    }

    pub(crate) fn record(&self, route: Option<usize>, status: StatusCode, elapsed: Duration) {
        let slot = route.filter(|&r| r < self.routes).unwrap_or(self.routes);
        let bucket = STATUSES
            .iter()
            .position(|&s| s == status.as_u16())
            .unwrap_or(STATUSES.len());
        let cell = &self.cells[slot * BUCKETS + bucket];
        cell.count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        cell.micros.fetch_add(micros, Ordering::Relaxed);
    }

    pub(crate) fn refused(&self, why: Refusal) {
        let counter = match why {
            Refusal::Authentication => &self.refused_authentication,
            Refusal::Authorization => &self.refused_authorization,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn refusals(&self) -> (u64, u64) {
        (
            self.refused_authentication.load(Ordering::Relaxed),
            self.refused_authorization.load(Ordering::Relaxed),
        )
    }

    /// Every counter that is not zero.
    pub(crate) fn samples(&self) -> Vec<Sample> {
        let mut out = Vec::new();
        for (i, cell) in self.cells.iter().enumerate() {
            let count = cell.count.load(Ordering::Relaxed);
            if count == 0 {
                continue;
            }
            let (slot, bucket) = (i / BUCKETS, i % BUCKETS);
            out.push(Sample {
                route: (slot < self.routes).then_some(slot),
                status: status_label(bucket),
                count,
                total: Duration::from_micros(cell.micros.load(Ordering::Relaxed)),
            });
        }
        out
    }
}

fn status_label(bucket: usize) -> &'static str {
    const LABELS: [&str; BUCKETS] = [
        "200", "202", "400", "401", "403", "404", "405", "408", "409", "413", "422", "429", "500",
        "501", "503", "304", "other",
    ];
    LABELS[bucket]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Prevents a label table that disagrees with the status list.
    #[test]
    fn labels_match_statuses() {
        for (i, s) in STATUSES.iter().enumerate() {
            assert_eq!(status_label(i), s.to_string());
        }
        assert_eq!(status_label(STATUSES.len()), "other");
    }

    #[test]
    fn records_by_route_and_status() {
        let m = Metrics::new(3);
        m.record(Some(1), StatusCode::OK, Duration::from_millis(2));
        m.record(Some(1), StatusCode::OK, Duration::from_millis(4));
        m.record(None, StatusCode::UNAUTHORIZED, Duration::ZERO);
        m.record(Some(2), StatusCode::IM_A_TEAPOT, Duration::ZERO);
        let samples = m.samples();
        assert_eq!(samples.len(), 3);
        assert_eq!(samples[0].route, Some(1));
        assert_eq!(samples[0].count, 2);
        assert_eq!(samples[0].total, Duration::from_millis(6));
        assert_eq!(samples[1].status, "other");
        assert_eq!(samples[2].route, None);
        assert_eq!(samples[2].status, "401");
    }
}
