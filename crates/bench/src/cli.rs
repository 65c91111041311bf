//! The command line. Every flag is also recorded in the JSON report (`params`), except
//! the credentials.

use std::path::PathBuf;

use clap::Parser;
use serde::Serialize;

use crate::dataset::Distance;
use crate::server::{Api, Quantization, Transport};

#[derive(Debug, Clone, Parser, Serialize)]
#[command(
    name = "osprey-bench",
    version,
    about = "Upload, index-wait and query benchmark for any Qdrant-compatible server",
    long_about = "Generates a seeded clustered dataset (or loads .npy / .fvecs), uploads it over \
                  gRPC or REST, waits for the collection to turn green, then runs the queries at \
                  each --ef with --clients concurrent clients and reports QPS, latency \
                  percentiles, recall@k against brute-force ground truth, upload time, time to \
                  green, and the server's CPU time per query, memory and disk writes (from /proc). \
                  See docs/bench.md."
)]
pub struct Args {
    // --- server ---------------------------------------------------------------------
    /// REST URL of the server (plain http).
    #[arg(long, default_value = "http://127.0.0.1:6333", help_heading = "Server")]
    pub url: String,

    /// gRPC URL [default: the REST URL's host on port 6334].
    #[arg(long, help_heading = "Server")]
    pub grpc_url: Option<String>,

    /// API key (or JWT) sent as `api-key` on REST and gRPC. Omit for a server without
    /// authentication.
    #[arg(
        long,
        env = "OSPREY_BENCH_API_KEY",
        hide_env_values = true,
        help_heading = "Server"
    )]
    #[serde(skip)]
    pub api_key: Option<String>,

    /// Sign an HS256 JWT with claims {"access": "m"} using SECRET (the server's
    /// `service.api_key`, with `service.jwt_rbac: true`) and authenticate with it.
    #[arg(
        long,
        value_name = "SECRET",
        env = "OSPREY_BENCH_JWT_SECRET",
        hide_env_values = true,
        conflicts_with = "api_key",
        help_heading = "Server"
    )]
    #[serde(skip)]
    pub jwt_from_secret: Option<String>,

    /// PID of the server process, for CPU, memory and disk figures [default: the process
    /// listening on the URL's port, found through /proc].
    #[arg(long, value_name = "PID", help_heading = "Server")]
    pub server_pid: Option<u32>,

    /// Per-request timeout in seconds.
    #[arg(
        long,
        default_value_t = 120.0,
        value_name = "SECONDS",
        help_heading = "Server"
    )]
    pub timeout: f64,

    // --- dataset --------------------------------------------------------------------
    /// Load points from a .npy (2-D little-endian float32, C order) or .fvecs file
    /// instead of generating them.
    #[arg(long, value_name = "PATH", help_heading = "Dataset")]
    pub dataset: Option<PathBuf>,

    /// Queries from this file [default: the last --queries rows of --dataset, held out
    /// and not uploaded].
    #[arg(
        long,
        value_name = "PATH",
        requires = "dataset",
        help_heading = "Dataset"
    )]
    pub query_file: Option<PathBuf>,

    /// Number of points [default: 100000 synthetic, every row of --dataset].
    #[arg(long, short = 'n', help_heading = "Dataset")]
    pub points: Option<usize>,

    /// Dimension of synthetic vectors.
    #[arg(long, default_value_t = 384, help_heading = "Dataset")]
    pub dim: usize,

    /// Distance of the collection and of the ground truth. Cosine vectors are
    /// normalised before upload.
    #[arg(long, value_enum, default_value_t = Distance::Cosine, help_heading = "Dataset")]
    pub distance: Distance,

    /// Number of Gaussian clusters of the synthetic set.
    #[arg(long, default_value_t = 100, help_heading = "Dataset")]
    pub clusters: usize,

    /// Standard deviation of synthetic points around their centre, per dimension
    /// (centres have 1).
    #[arg(long, default_value_t = 1.0, help_heading = "Dataset")]
    pub noise: f32,

    /// Seed of the synthetic set.
    #[arg(long, default_value_t = 42, help_heading = "Dataset")]
    pub seed: u64,

    /// Number of distinct `group` payload values ("g0", "g1", ...; point id % groups):
    /// a --filter query matches 1/groups of the points.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..), help_heading = "Dataset")]
    pub groups: u32,

    /// Number of queries per phase.
    #[arg(long, default_value_t = 1000, help_heading = "Dataset")]
    pub queries: usize,

    // --- collection and upload ------------------------------------------------------
    /// Collection name.
    #[arg(long, default_value = "bench", help_heading = "Upload")]
    pub collection: String,

    /// Delete the collection first if it exists (otherwise an existing collection is an
    /// error, unless --skip-upload).
    #[arg(long, help_heading = "Upload")]
    pub recreate: bool,

    /// Do not create or upload; query an existing collection that holds this dataset.
    #[arg(long, conflicts_with = "recreate", help_heading = "Upload")]
    pub skip_upload: bool,

    /// Transport for upload and queries.
    #[arg(long, value_enum, default_value_t = Transport::Grpc, help_heading = "Upload")]
    pub transport: Transport,

    /// HNSW `m` of the collection.
    #[arg(long, default_value_t = 16, help_heading = "Upload")]
    pub m: u64,

    /// HNSW `ef_construct` of the collection.
    #[arg(long, default_value_t = 100, help_heading = "Upload")]
    pub ef_construct: u64,

    /// Do not create the keyword payload index on `group` (created before upload by
    /// default).
    #[arg(long, help_heading = "Upload")]
    pub no_payload_index: bool,

    /// Create the vectors with `on_disk: true` (rows read through mmap as touched).
    #[arg(long, help_heading = "Upload")]
    pub on_disk: bool,

    /// Quantization of the collection (codes kept in RAM).
    #[arg(long, value_enum, default_value_t = Quantization::None, help_heading = "Upload")]
    pub quantization: Quantization,

    /// Points per upsert request.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..), help_heading = "Upload")]
    pub batch: u64,

    /// Concurrent uploaders, each with its own connection.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..), help_heading = "Upload")]
    pub parallel: u64,

    /// Give up waiting for status green after this many seconds: the report is still
    /// written (`green.reached: false`, no query phase) and the exit status is 1.
    #[arg(
        long,
        default_value_t = 3600.0,
        value_name = "SECONDS",
        help_heading = "Upload"
    )]
    pub green_timeout: f64,

    // --- search ---------------------------------------------------------------------
    /// `hnsw_ef` values, one phase each (comma-separated).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "64,128",
        help_heading = "Search"
    )]
    pub ef: Vec<u64>,

    /// Also run an exact (brute-force on the server) phase, the baseline.
    #[arg(long, help_heading = "Search")]
    pub exact: bool,

    /// Also run every phase with a keyword filter on `group` (query j filters on
    /// group j % groups); its recall is against brute force over the matching points.
    #[arg(long, help_heading = "Search")]
    pub filter: bool,

    /// Concurrent query clients, each with its own connection.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..), help_heading = "Search")]
    pub clients: u64,

    /// Neighbours per query (the k of recall@k).
    #[arg(long, short = 'k', default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..), help_heading = "Search")]
    pub k: u64,

    /// Search endpoint.
    #[arg(long, value_enum, default_value_t = Api::Query, help_heading = "Search")]
    pub api: Api,

    /// `params.quantization.oversampling` of every search (rescoring on).
    #[arg(long, help_heading = "Search")]
    pub oversampling: Option<f64>,

    /// Unmeasured queries sent before each phase.
    #[arg(long, default_value_t = 0, help_heading = "Search")]
    pub warmup: usize,

    // --- output ---------------------------------------------------------------------
    /// Write the full report as JSON to this file.
    #[arg(long, value_name = "PATH", help_heading = "Output")]
    pub json: Option<PathBuf>,

    /// Ground-truth cache directory [default: $XDG_CACHE_HOME/osprey-bench or
    /// ~/.cache/osprey-bench].
    #[arg(long, value_name = "DIR", help_heading = "Output")]
    pub cache_dir: Option<PathBuf>,

    /// Always recompute the ground truth, and do not write it.
    #[arg(long, help_heading = "Output")]
    pub no_cache: bool,

    /// Threads for the ground truth [default: every core].
    #[arg(long, help_heading = "Output")]
    pub threads: Option<usize>,
}

impl Args {
    pub fn grpc_url(&self) -> String {
        self.grpc_url
            .clone()
            .unwrap_or_else(|| with_port(&self.url, 6334))
    }

    pub fn cache_dir(&self) -> Option<PathBuf> {
        if self.no_cache {
            return None;
        }
        if let Some(dir) = &self.cache_dir {
            return Some(dir.clone());
        }
        let base = std::env::var_os("XDG_CACHE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
        Some(base.join("osprey-bench"))
    }
}

/// Split `scheme://host[:port][/path]` into the host (with brackets for IPv6) and the
/// port, if given.
fn host_and_port(url: &str) -> (&str, &str, Option<u16>) {
    let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
    let authority = rest.split('/').next().unwrap_or(rest);
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let port_sep = if authority.starts_with('[') {
        authority
            .find(']')
            .and_then(|end| authority[end..].find(':').map(|i| end + i))
    } else {
        authority.rfind(':')
    };
    match port_sep {
        Some(i) => (scheme, &authority[..i], authority[i + 1..].parse().ok()),
        None => (scheme, authority, None),
    }
}

/// `url` with its port replaced by `port` (and any path dropped).
pub fn with_port(url: &str, port: u16) -> String {
    let (scheme, host, _) = host_and_port(url);
    format!("{scheme}://{host}:{port}")
}

/// The port of `url`, or the scheme's default.
pub fn port_of(url: &str) -> u16 {
    match host_and_port(url) {
        (_, _, Some(p)) => p,
        ("https", _, None) => 443,
        _ => 80,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_url_defaults_to_port_6334_on_the_same_host() {
        assert_eq!(
            with_port("http://127.0.0.1:6333", 6334),
            "http://127.0.0.1:6334"
        );
        assert_eq!(
            with_port("http://localhost:6333/", 6334),
            "http://localhost:6334"
        );
        assert_eq!(with_port("http://[::1]:6333", 6334), "http://[::1]:6334");
        assert_eq!(
            with_port("https://db.example", 6334),
            "https://db.example:6334"
        );
        assert_eq!(port_of("http://127.0.0.1:7001"), 7001);
        assert_eq!(port_of("http://[::1]:7002/x"), 7002);
        assert_eq!(port_of("https://db.example"), 443);
    }

    #[test]
    fn defaults_are_the_reference_setup() {
        let a = Args::try_parse_from(["osprey-bench"]).unwrap();
        assert_eq!(a.ef, vec![64, 128]);
        assert_eq!(
            (a.m, a.ef_construct, a.batch, a.parallel),
            (16, 100, 256, 1)
        );
        assert_eq!((a.queries, a.k, a.clients, a.dim), (1000, 10, 1, 384));
        assert_eq!(a.transport, Transport::Grpc);
        let a = Args::try_parse_from(["osprey-bench", "--ef", "16,32,256", "--transport", "rest"])
            .unwrap();
        assert_eq!(a.ef, vec![16, 32, 256]);
        assert!(
            Args::try_parse_from(["osprey-bench", "--api-key", "a", "--jwt-from-secret", "b"])
                .is_err()
        );
    }
}
