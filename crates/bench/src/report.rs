//! What a run measured: the JSON report and the table printed at the end.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

use crate::procfs::Memory;
use crate::server::CollectionState;
use crate::stats::Latency;
use crate::truth::TruthInfo;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub tool: Tool,
    /// Seconds since the Unix epoch when the run started.
    pub started_at: u64,
    pub server: ServerInfo,
    /// Every flag of the run, credentials left out.
    pub params: Value,
    pub dataset: DatasetInfo,
    pub ground_truth: Vec<TruthInfo>,
    /// Null with `--skip-upload`.
    pub upload: Option<Upload>,
    pub green: Green,
    pub memory: MemoryReport,
    pub search: Vec<Phase>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Tool {
    pub name: &'static str,
    pub version: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServerInfo {
    pub url: String,
    pub grpc_url: String,
    /// `api-key`, `jwt` or `none`.
    pub auth: &'static str,
    /// The answer to `GET /` (title, version, commit).
    pub root: Value,
    pub version: Option<String>,
    /// The process whose CPU and memory are reported; null when it was not found.
    pub pid: Option<u32>,
    /// Its command name, to catch measuring a proxy (e.g. `docker-proxy`).
    pub process_name: Option<String>,
    /// How `pid` was found: `flag`, `port <n>` or null.
    pub pid_source: Option<String>,
    pub clock_ticks_per_second: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct DatasetInfo {
    pub source: Value,
    pub points: usize,
    pub queries: usize,
    pub dim: usize,
    pub distance: &'static str,
    pub groups: u32,
    /// Share of the points a filtered query matches.
    pub filter_selectivity: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Upload {
    pub transport: crate::server::Transport,
    pub batch: u64,
    pub parallel: u64,
    pub batches: u64,
    pub payload_index: bool,
    /// First upsert sent to last one acknowledged (`wait=true`); collection creation and
    /// the payload index are not included.
    pub seconds: f64,
    pub points_per_second: f64,
    /// Server CPU time spent during the upload.
    pub server_cpu_seconds: Option<f64>,
    /// Points × dimension × 4: the vectors as float32, without ids or payload. The
    /// yardstick for the disk figures.
    pub raw_vector_bytes: u64,
    /// Server `write_bytes` (`/proc/PID/io`) from right before the first upsert to
    /// right after the last one was acknowledged.
    pub disk_write_bytes: Option<u64>,
    /// Server `write_bytes` from right before the first upsert to the poll that saw the
    /// collection green (or to the poll that gave up, if `green.reached` is false).
    pub disk_write_bytes_to_green: Option<u64>,
    /// Server `cancelled_write_bytes` over the span of `disk_write_bytes`: dirty bytes
    /// dropped before reaching the disk because their file was truncated or deleted.
    pub disk_cancelled_write_bytes: Option<u64>,
    /// The same over the span of `disk_write_bytes_to_green`.
    pub disk_cancelled_write_bytes_to_green: Option<u64>,
    /// Why the disk figures are null (no server process, or `/proc/PID/io` not
    /// readable); null when they are there.
    pub disk_io_error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Green {
    /// False when `--green-timeout` ran out first: then `seconds` is the time waited,
    /// `state` the last poll, and no query phase was run.
    pub reached: bool,
    /// From the last acknowledged upsert to the first poll that saw status green with
    /// the optimizers ok (0 with --skip-upload if it was already green).
    pub seconds: f64,
    /// Upload plus time to green.
    pub total_seconds: Option<f64>,
    pub polls: u64,
    /// Server CPU time spent between the end of the upload and green (indexing).
    pub server_cpu_seconds: Option<f64>,
    /// The collection as the green poll reported it.
    pub state: CollectionState,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Mib {
    /// Resident set size (VmRSS), MiB.
    pub rss_mib: f64,
    /// Peak resident set size since the server started (VmHWM), MiB.
    pub peak_mib: f64,
}

impl From<Memory> for Mib {
    fn from(m: Memory) -> Mib {
        Mib {
            rss_mib: m.rss_kib as f64 / 1024.0,
            peak_mib: m.hwm_kib as f64 / 1024.0,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct MemoryReport {
    /// Before the upload.
    pub start: Option<Mib>,
    /// When the collection turned green.
    pub after_load: Option<Mib>,
    /// After the last query phase.
    pub end: Option<Mib>,
}

/// One query phase: the same queries at one setting.
#[derive(Debug, Clone, Serialize)]
pub struct Phase {
    pub label: String,
    pub hnsw_ef: Option<u64>,
    pub exact: bool,
    pub filter: bool,
    pub api: crate::server::Api,
    pub transport: crate::server::Transport,
    pub clients: u64,
    pub queries: usize,
    pub k: u64,
    pub warmup: usize,
    /// Wall time of the phase, first request sent to last answer received.
    pub seconds: f64,
    pub qps: f64,
    pub latency: Latency,
    /// Mean recall@k over the queries.
    pub recall: f64,
    /// The worst query's recall@k.
    pub recall_min: f64,
    /// Server CPU time (user + system, all threads) during the phase, per query.
    pub server_cpu_us_per_query: Option<f64>,
    /// The bench's own CPU time per query (serialisation, client stack).
    pub client_cpu_us_per_query: Option<f64>,
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map(|v| format!("{v:.digits$}"))
        .unwrap_or_else(|| "n/a".into())
}

/// Bytes in binary units, like the memory figures.
fn bytes(b: u64) -> String {
    const KIB: f64 = 1024.0;
    let x = b as f64;
    if x >= KIB * KIB * KIB {
        format!("{:.2} GiB", x / (KIB * KIB * KIB))
    } else if x >= KIB * KIB {
        format!("{:.1} MiB", x / (KIB * KIB))
    } else if x >= KIB {
        format!("{:.1} KiB", x / KIB)
    } else {
        format!("{b} B")
    }
}

/// `written` and how many times the raw vectors it is.
fn written(written: u64, raw: u64) -> String {
    if raw == 0 {
        return bytes(written);
    }
    format!(
        "{} ({:.1}x the raw vectors)",
        bytes(written),
        written as f64 / raw as f64
    )
}

/// The disk line of the table.
fn disk(u: &Upload, green_reached: bool) -> String {
    let to_green = if green_reached {
        "by green"
    } else {
        "by the green timeout"
    };
    match (u.disk_write_bytes, u.disk_write_bytes_to_green) {
        (Some(up), Some(green)) => format!(
            "{} during upload, {} {to_green}; raw vectors {}; cancelled before writeback {} / {}",
            written(up, u.raw_vector_bytes),
            written(green, u.raw_vector_bytes),
            bytes(u.raw_vector_bytes),
            u.disk_cancelled_write_bytes.map_or("n/a".into(), bytes),
            u.disk_cancelled_write_bytes_to_green
                .map_or("n/a".into(), bytes),
        ),
        (Some(up), None) => format!(
            "{} during upload, n/a {to_green} ({}); raw vectors {}",
            written(up, u.raw_vector_bytes),
            u.disk_io_error.as_deref().unwrap_or("not readable"),
            bytes(u.raw_vector_bytes),
        ),
        _ => format!(
            "n/a ({}); raw vectors {}",
            u.disk_io_error.as_deref().unwrap_or("not readable"),
            bytes(u.raw_vector_bytes),
        ),
    }
}

fn mem(m: Option<Mib>) -> String {
    m.map(|m| format!("{:.0} MiB (peak {:.0} MiB)", m.rss_mib, m.peak_mib))
        .unwrap_or_else(|| "n/a".into())
}

impl Report {
    /// The human-readable summary.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let d = &self.dataset;
        let _ = writeln!(
            s,
            "osprey-bench {}: {} points x {} {}, {} queries, {} groups",
            self.tool.version, d.points, d.dim, d.distance, d.queries, d.groups
        );
        let _ = writeln!(
            s,
            "server  {} {} at {} (auth: {}), process {}",
            self.server.root["title"].as_str().unwrap_or("?"),
            self.server.version.as_deref().unwrap_or("?"),
            self.server.url,
            self.server.auth,
            match (&self.server.pid, &self.server.process_name) {
                (Some(pid), Some(name)) => format!("{name} (pid {pid})"),
                (Some(pid), None) => format!("pid {pid}"),
                _ => "not found (no CPU or memory figures)".into(),
            }
        );
        if let Some(u) = &self.upload {
            let _ = writeln!(
                s,
                "upload           {:>9.2} s   {:.0} points/s, {} batches of {} over {:?}, {} uploader(s), server CPU {} s",
                u.seconds,
                u.points_per_second,
                u.batches,
                u.batch,
                u.transport,
                u.parallel,
                opt(u.server_cpu_seconds, 1)
            );
        }
        let g = &self.green;
        let _ = writeln!(
            s,
            "upload-to-green  {:>9.2} s   {}status {}, indexed_vectors_count {}, points_count {}, segments {}, server CPU {} s",
            g.seconds,
            if g.reached {
                ""
            } else {
                "NOT GREEN (--green-timeout ran out), "
            },
            g.state.status,
            g.state
                .indexed_vectors_count
                .map_or("n/a".into(), |v| v.to_string()),
            g.state.points_count.map_or("n/a".into(), |v| v.to_string()),
            g.state
                .segments_count
                .map_or("n/a".into(), |v| v.to_string()),
            opt(g.server_cpu_seconds, 1)
        );
        if let Some(u) = &self.upload {
            let _ = writeln!(s, "disk writes      {}", disk(u, g.reached));
        }
        let _ = writeln!(s, "RSS after load   {}", mem(self.memory.after_load));
        let _ = writeln!(s, "RSS at end       {}", mem(self.memory.end));
        let Some(p) = self.search.first() else {
            let _ = writeln!(s, "\nsearch: no query phase was run");
            return s;
        };
        let _ = writeln!(
            s,
            "\nsearch: {:?} {:?} API, {} client(s), {} queries per phase, k = {}",
            p.transport, p.api, p.clients, p.queries, p.k
        );
        let _ = writeln!(
            s,
            "{:<18} {:>9} {:>9} {:>8} {:>8} {:>8} {:>8} {:>13} {:>13}",
            "phase",
            "recall@k",
            "QPS",
            "mean ms",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "server µs/q",
            "client µs/q"
        );
        for p in &self.search {
            let _ = writeln!(
                s,
                "{:<18} {:>9.4} {:>9.1} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>13} {:>13}",
                p.label,
                p.recall,
                p.qps,
                p.latency.mean_ms,
                p.latency.p50_ms,
                p.latency.p95_ms,
                p.latency.p99_ms,
                opt(p.server_cpu_us_per_query, 0),
                opt(p.client_cpu_us_per_query, 0),
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upload(disk: Option<u64>, to_green: Option<u64>, error: Option<&str>) -> Upload {
        Upload {
            transport: crate::server::Transport::Grpc,
            batch: 256,
            parallel: 1,
            batches: 3907,
            payload_index: true,
            seconds: 10.0,
            points_per_second: 100_000.0,
            server_cpu_seconds: None,
            raw_vector_bytes: 1_536_000_000,
            disk_write_bytes: disk,
            disk_write_bytes_to_green: to_green,
            disk_cancelled_write_bytes: disk.map(|_| 0),
            disk_cancelled_write_bytes_to_green: to_green.map(|_| 4096),
            disk_io_error: error.map(str::to_string),
        }
    }

    #[test]
    fn byte_units() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(3 << 20), "3.0 MiB");
        assert_eq!(bytes(1_536_000_000), "1.43 GiB");
    }

    #[test]
    fn disk_line_shows_the_ratio_to_the_raw_vectors() {
        let line = disk(
            &upload(Some(115_000_000_000), Some(120_000_000_000), None),
            true,
        );
        assert!(line.starts_with("107.10 GiB (74.9x the raw vectors) during upload"));
        assert!(line.contains("111.76 GiB (78.1x the raw vectors) by green"));
        assert!(line.contains("raw vectors 1.43 GiB"));
        assert!(line.contains("cancelled before writeback 0 B / 4.0 KiB"));
        let line = disk(&upload(Some(1), Some(2), None), false);
        assert!(line.contains("by the green timeout"), "{line}");
    }

    #[test]
    fn disk_line_says_why_it_is_missing() {
        let error = "/proc/7/io: permission denied, the server runs as another user: run \
                     the bench as that user or as root";
        let line = disk(&upload(None, None, Some(error)), true);
        assert_eq!(line, format!("n/a ({error}); raw vectors 1.43 GiB"));
        let json = serde_json::to_value(upload(None, None, Some(error))).unwrap();
        assert!(json["disk_write_bytes"].is_null());
        assert!(json["disk_write_bytes_to_green"].is_null());
        assert_eq!(json["disk_io_error"], error);
        assert_eq!(json["raw_vector_bytes"], 1_536_000_000u64);
    }
}
