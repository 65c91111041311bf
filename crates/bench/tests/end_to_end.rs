//! The bench against the real `osprey` binary, over REST and over gRPC, with
//! authentication on: the run must finish, find the server process, report every
//! figure, and score recall 1.0 on exact search (anything less would mean the bench's
//! ground truth, id handling or filter disagrees with the server).
//!
//! The server binary is `$OSPREY_BIN` if set, else `osprey` built by `cargo build -p
//! osprey` into this test's own target directory (a no-op when it is up to date).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const API_KEY: &str = "bench-e2e-admin-key-4f1c9a7e2b6d8035aa91c";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The `osprey` binary for this test's profile, built if needed.
fn osprey_binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("OSPREY_BIN") {
        return PathBuf::from(bin);
    }
    // This test runs from <target>/<profile>/deps/.
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let target_dir = profile_dir.parent().unwrap();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(["build", "--quiet", "-p", "osprey", "--bin", "osprey"])
        .arg("--manifest-path")
        .arg(workspace.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir);
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        cmd.arg("--release");
    }
    let status = cmd.status().expect("run cargo build -p osprey");
    assert!(status.success(), "cargo build -p osprey failed");
    profile_dir.join("osprey")
}

/// A running `osprey` with an admin key and JWTs on, killed on drop.
struct Server {
    child: Child,
    dir: tempfile::TempDir,
    http_port: u16,
    grpc_port: u16,
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::Builder::new()
            .prefix("osprey-bench-e2e-")
            .tempdir()
            .unwrap();
        let (http_port, grpc_port) = (free_port(), free_port());
        let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
        let mut cmd = Command::new(osprey_binary());
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("QDRANT") {
                cmd.env_remove(key);
            }
        }
        let child = cmd
            .current_dir(dir.path())
            .env("QDRANT__SERVICE__HOST", "127.0.0.1")
            .env("QDRANT__SERVICE__HTTP_PORT", http_port.to_string())
            .env("QDRANT__SERVICE__GRPC_PORT", grpc_port.to_string())
            .env("QDRANT__SERVICE__API_KEY", API_KEY)
            .env("QDRANT__SERVICE__JWT_RBAC", "true")
            .env("QDRANT__STORAGE__STORAGE_PATH", dir.path().join("storage"))
            .env(
                "QDRANT__STORAGE__SNAPSHOTS_PATH",
                dir.path().join("snapshots"),
            )
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn osprey");
        let mut server = Server {
            child,
            dir,
            http_port,
            grpc_port,
        };
        server.wait_healthy();
        server
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    fn wait_healthy(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("osprey exited with {status}:\n{}", self.log());
            }
            if healthz(self.http_port) && TcpStream::connect(("127.0.0.1", self.grpc_port)).is_ok()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "osprey did not become healthy:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn bench(&self, args: &[&str], envs: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_osprey-bench"));
        cmd.env_remove("OSPREY_BENCH_API_KEY")
            .env_remove("OSPREY_BENCH_JWT_SECRET")
            .arg("--url")
            .arg(format!("http://127.0.0.1:{}", self.http_port))
            .arg("--grpc-url")
            .arg(format!("http://127.0.0.1:{}", self.grpc_port))
            .arg("--cache-dir")
            .arg(self.dir.path().join("cache"))
            .args(args);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        cmd.output().expect("run osprey-bench")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- server log ---\n{}", self.log());
        }
    }
}

fn healthz(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 200")
}

fn succeed(out: Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "osprey-bench failed ({})\n--- stderr ---\n{stderr}\n--- stdout ---\n{stdout}",
        out.status
    );
    stdout.into_owned()
}

#[rustfmt::skip]
const TINY: &[&str] = &[
    "--points", "2000", "--dim", "16", "--queries", "100", "--clusters", "10", "--ef", "16,64",
    "--exact", "--filter", "--recreate", "--green-timeout", "60", "--timeout", "30",
];

/// Every figure the issue asks for is present, and the exact phases are perfect.
fn check_report(report: &Value, transport: &str, auth: &str, server_pid: u32) {
    for key in [
        "tool",
        "started_at",
        "server",
        "params",
        "dataset",
        "ground_truth",
        "upload",
        "green",
        "memory",
        "search",
    ] {
        assert!(report.get(key).is_some(), "report lacks {key}: {report:#}");
    }
    let server = &report["server"];
    assert_eq!(server["auth"], auth);
    assert!(server["version"].is_string(), "{server}");
    assert_eq!(
        server["pid"], server_pid,
        "the bench measured another process: {server}"
    );
    assert!(server["clock_ticks_per_second"].as_u64().unwrap() > 0);
    assert_eq!(report["params"]["transport"], transport);
    assert_eq!(report["params"]["batch"], 256);
    assert!(
        !report.to_string().contains(API_KEY),
        "the report must not hold the credential"
    );
    assert_eq!(report["dataset"]["points"], 2000);
    assert_eq!(report["dataset"]["filter_selectivity"], 0.1);
    assert_eq!(report["ground_truth"].as_array().unwrap().len(), 2);

    let upload = &report["upload"];
    assert_eq!(upload["batches"], 8);
    assert!(upload["seconds"].as_f64().unwrap() > 0.0);
    assert!(upload["points_per_second"].as_f64().unwrap() > 0.0);
    assert!(upload["server_cpu_seconds"].is_number());
    // The server is ours, so /proc/PID/io is readable. Its storage may sit on tmpfs,
    // which counts no write_bytes, so only the shape is checked.
    assert_eq!(upload["raw_vector_bytes"], 2000 * 16 * 4);
    assert!(upload["disk_io_error"].is_null(), "{upload}");
    let written = upload["disk_write_bytes"]
        .as_u64()
        .expect("disk_write_bytes");
    let to_green = upload["disk_write_bytes_to_green"].as_u64().unwrap();
    assert!(to_green >= written, "{upload}");
    assert!(upload["disk_cancelled_write_bytes"].is_u64(), "{upload}");
    assert!(
        upload["disk_cancelled_write_bytes_to_green"].is_u64(),
        "{upload}"
    );
    let green = &report["green"];
    assert_eq!(green["reached"], true);
    assert!(green["seconds"].is_number());
    assert!(green["total_seconds"].is_number());
    assert_eq!(green["state"]["status"], "green");
    assert_eq!(green["state"]["points_count"], 2000);
    assert!(green["state"].get("indexed_vectors_count").is_some());
    for when in ["start", "after_load", "end"] {
        let m = &report["memory"][when];
        assert!(m["rss_mib"].as_f64().unwrap() > 0.0, "memory.{when}: {m}");
        assert!(m["peak_mib"].as_f64().unwrap() >= m["rss_mib"].as_f64().unwrap());
    }

    let phases = report["search"].as_array().unwrap();
    let labels: Vec<&str> = phases
        .iter()
        .map(|p| p["label"].as_str().unwrap())
        .collect();
    assert_eq!(
        labels,
        [
            "exact",
            "hnsw_ef=16",
            "hnsw_ef=64",
            "exact filter",
            "hnsw_ef=16 filter",
            "hnsw_ef=64 filter"
        ]
    );
    for p in phases {
        for key in ["qps", "recall", "recall_min", "seconds"] {
            assert!(p[key].as_f64().unwrap() > 0.0, "{key} in {p}");
        }
        for key in ["mean_ms", "p50_ms", "p95_ms", "p99_ms", "max_ms"] {
            assert!(p["latency"][key].as_f64().unwrap() > 0.0, "{key} in {p}");
        }
        assert!(p["latency"]["p50_ms"].as_f64() <= p["latency"]["p99_ms"].as_f64());
        assert!(p["server_cpu_us_per_query"].is_number(), "{p}");
        assert!(p["client_cpu_us_per_query"].is_number(), "{p}");
        assert_eq!(p["queries"], 100);
        if p["exact"] == true {
            assert_eq!(
                p["recall"], 1.0,
                "exact search must find the exact top 10: {p}"
            );
            assert_eq!(p["recall_min"], 1.0, "{p}");
        }
    }
}

#[test]
fn rest_with_api_key_and_grpc_with_jwt() {
    let server = Server::start();
    let pid = server.child.id();
    let out_dir = tempfile::tempdir().unwrap();

    // REST, the key from the environment, two uploaders and two query clients.
    let json = out_dir.path().join("rest.json");
    let mut args = TINY.to_vec();
    args.extend([
        "--transport",
        "rest",
        "--collection",
        "bench_rest",
        "--parallel",
        "2",
        "--clients",
        "2",
    ]);
    args.extend(["--json", json.to_str().unwrap()]);
    let table = succeed(server.bench(&args, &[("OSPREY_BENCH_API_KEY", API_KEY)]));
    assert!(table.contains("hnsw_ef=64 filter"), "{table}");
    assert!(table.contains("upload-to-green"), "{table}");
    assert!(
        table.contains("x the raw vectors) during upload"),
        "{table}"
    );
    let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    check_report(&report, "rest", "api-key", pid);
    assert_eq!(report["ground_truth"][0]["cached"], false);

    // gRPC, a JWT signed with the key, the search API. Same dataset: the ground truth
    // now comes from the cache.
    let json = out_dir.path().join("grpc.json");
    let mut args = TINY.to_vec();
    args.extend([
        "--transport",
        "grpc",
        "--api",
        "search",
        "--collection",
        "bench_grpc",
        "--jwt-from-secret",
        API_KEY,
    ]);
    args.extend(["--json", json.to_str().unwrap()]);
    succeed(server.bench(&args, &[]));
    let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    check_report(&report, "grpc", "jwt", pid);
    assert_eq!(report["ground_truth"][0]["cached"], true);
    assert_eq!(report["params"]["api"], "search");

    // Without a credential the server refuses, and the bench says so and fails.
    let out = server.bench(&["--points", "100", "--dim", "4", "--queries", "5"], &[]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("gRPC Unauthenticated"), "{stderr}");

    // An existing collection is not replaced without --recreate.
    let out = server.bench(
        &[
            "--points",
            "100",
            "--dim",
            "4",
            "--queries",
            "5",
            "--collection",
            "bench_grpc",
        ],
        &[("OSPREY_BENCH_API_KEY", API_KEY)],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--recreate"));
}
