//! The test server and a thin HTTP layer over it.
//!
//! Every end-to-end test starts the real `osprey` binary on free loopback ports
//! with its own temporary working directory, so tests never share state and can
//! run in parallel. Only the wire protocol is used: these tests are the
//! compatibility contract with Qdrant's REST API, not a view into the crates.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub use reqwest::Method;
use serde_json::Value;

/// How long a server may take to answer `/healthz` after it is spawned.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a server may take to exit after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(20);
/// Upper bound for one request, so a hung server fails a test instead of the run.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// A running `osprey` process with its storage in a temporary directory.
///
/// `Drop` kills the process; when the test is failing, the tail of the server
/// log is printed so the failure can be read without re-running.
pub struct TestServer {
    dir: tempfile::TempDir,
    child: Option<Child>,
    http_port: u16,
    grpc_port: u16,
    api_key: String,
    client: reqwest::Client,
    starts: u32,
    args: Vec<String>,
}

/// Pick a port the kernel considers free right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind 127.0.0.1:0")
        .local_addr()
        .expect("local addr")
        .port()
}

/// A seed that differs between runs; tests print it so a failure can be replayed.
pub fn time_seed() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after epoch")
        .as_nanos() as u64;
    nanos ^ ((std::process::id() as u64) << 32) | 1
}

impl TestServer {
    /// Start a fresh server and wait until it answers `/healthz`.
    pub async fn start() -> TestServer {
        TestServer::start_with_args(&[]).await
    }

    /// Start with extra command-line arguments (kept for restarts).
    pub async fn start_with_args(args: &[&str]) -> TestServer {
        let dir = tempfile::Builder::new()
            .prefix("osprey-e2e-")
            .tempdir()
            .expect("create temp dir");
        let mut rng = XorShift::new(time_seed());
        let api_key = format!("e2e-key-{:016x}{:016x}", rng.next_u64(), rng.next_u64());
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .expect("build reqwest client");
        let mut server = TestServer {
            dir,
            child: None,
            http_port: free_port(),
            grpc_port: free_port(),
            api_key,
            client,
            starts: 0,
            args: args.iter().map(|a| a.to_string()).collect(),
        };
        server.spawn_and_wait().await;
        server
    }

    fn spawn(&mut self) {
        assert!(self.child.is_none(), "server already running");
        self.starts += 1;
        let log_path = self.log_path(self.starts);
        let log = File::create(&log_path).expect("create server log");
        let log_err = log.try_clone().expect("clone log handle");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_osprey"));
        // Keep the parent's environment (PATH, HOME) but never leak a developer's
        // own QDRANT__* settings into the server under test.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("QDRANT") {
                cmd.env_remove(key);
            }
        }
        cmd.args(&self.args)
            .current_dir(self.dir.path())
            .env("QDRANT__SERVICE__HOST", "127.0.0.1")
            .env("QDRANT__SERVICE__HTTP_PORT", self.http_port.to_string())
            .env("QDRANT__SERVICE__GRPC_PORT", self.grpc_port.to_string())
            .env("QDRANT__STORAGE__STORAGE_PATH", self.storage_path())
            .env(
                "QDRANT__STORAGE__SNAPSHOTS_PATH",
                self.dir.path().join("snapshots"),
            )
            .env("QDRANT__SERVICE__API_KEY", &self.api_key)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err));
        let child = cmd.spawn().expect("spawn osprey binary");
        self.child = Some(child);
    }

    async fn spawn_and_wait(&mut self) {
        self.spawn();
        self.wait_healthy().await;
    }

    async fn wait_healthy(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        let url = self.url("/healthz");
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                panic!(
                    "osprey exited during start-up with {status}\n--- server log ---\n{}",
                    self.log_tail()
                );
            }
            let probe = self
                .client
                .get(&url)
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            if let Ok(resp) = probe
                && resp.status().as_u16() == 200
            {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "osprey did not answer GET /healthz with 200 within {START_TIMEOUT:?}\n--- server log ---\n{}",
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Graceful stop (SIGTERM), then start again on the same storage and ports.
    pub async fn restart(&mut self) {
        self.stop();
        self.spawn_and_wait().await;
    }

    /// Start again after `stop` or `kill`.
    pub async fn start_again(&mut self) {
        self.spawn_and_wait().await;
    }

    /// SIGTERM and wait for the process to exit. A server that ignores SIGTERM
    /// would be killed by every container runtime after its grace period and lose
    /// whatever it meant to flush, so not exiting in time fails the test.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            match child.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "osprey did not exit within {STOP_TIMEOUT:?} of SIGTERM\n--- server log ---\n{}",
                        self.log_tail()
                    );
                }
            }
        }
    }

    /// SIGKILL: the process gets no chance to flush anything.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Whether the process is still running (it has not crashed).
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.http_port, path)
    }

    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// The temporary working directory of the server.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn storage_path(&self) -> PathBuf {
        self.dir.path().join("storage")
    }

    fn log_path(&self, start: u32) -> PathBuf {
        self.dir.path().join(format!("server-{start}.log"))
    }

    /// The whole log of the current server process.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path(self.starts)).unwrap_or_default()
    }

    /// The last lines of the current server log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.log_path(self.starts)).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let from = lines.len().saturating_sub(40);
        lines[from..].join("\n")
    }

    /// Send a request with the API key and an optional JSON body.
    pub async fn req(&self, method: Method, path: &str, body: Option<&Value>) -> Resp {
        let mut builder = self
            .client
            .request(method.clone(), self.url(path))
            .header("api-key", &self.api_key);
        if let Some(body) = body {
            builder = builder.json(body);
        }
        let what = match body {
            Some(b) => format!("{method} {path} {}", abbreviate(&b.to_string())),
            None => format!("{method} {path}"),
        };
        self.finish(builder, what).await
    }

    /// Send raw bytes as the body (for malformed or oversized input).
    pub async fn req_bytes(
        &self,
        method: Method,
        path: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Resp {
        let what = format!(
            "{method} {path} <{} raw bytes: {}>",
            body.len(),
            abbreviate(&String::from_utf8_lossy(&body[..body.len().min(200)]))
        );
        let builder = self
            .client
            .request(method, self.url(path))
            .header("api-key", &self.api_key)
            .header("content-type", content_type)
            .body(body);
        self.finish(builder, what).await
    }

    /// Send a request without any credentials.
    pub async fn req_anonymous(&self, method: Method, path: &str) -> Resp {
        let builder = self.client.request(method.clone(), self.url(path));
        self.finish(builder, format!("{method} {path} (no api-key)"))
            .await
    }

    async fn finish(&self, builder: reqwest::RequestBuilder, what: String) -> Resp {
        let resp = match builder.send().await {
            Ok(resp) => resp,
            Err(err) => panic!(
                "{what}: transport error {err:?}\n--- server log ---\n{}",
                self.log_tail()
            ),
        };
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let text = resp.text().await.unwrap_or_default();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            content_type,
            text,
            json,
            what,
        }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.req(Method::GET, path, None).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.req(Method::DELETE, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Resp {
        self.req(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Resp {
        self.req(Method::PUT, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Resp {
        self.req(Method::PATCH, path, Some(body)).await
    }

    /// A request written byte for byte on a fresh TCP connection, for paths an
    /// HTTP client would normalise (`/collections/..`). Returns status and body.
    pub fn raw_http(&self, method: &str, raw_path: &str, body: &str) -> (u16, String) {
        let mut stream =
            TcpStream::connect(("127.0.0.1", self.http_port)).expect("connect to server");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("set timeout");
        let request = format!(
            "{method} {raw_path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\napi-key: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            self.http_port,
            self.api_key,
            body.len()
        );
        stream.write_all(request.as_bytes()).expect("write request");
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response);
        let response = String::from_utf8_lossy(&response).to_string();
        let status = response
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("{method} {raw_path}: no HTTP status in {response:?}"));
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        (status, body)
    }

    /// Upload a large body on a raw connection while reading the answer on
    /// another thread, so an early answer (413 before the body is consumed) is
    /// seen even if the server then resets the connection.
    pub fn raw_upload(
        &self,
        method: &str,
        path: &str,
        body: Vec<u8>,
    ) -> Result<(u16, String), String> {
        let stream =
            TcpStream::connect(("127.0.0.1", self.http_port)).map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .map_err(|e| e.to_string())?;
        let mut writer = stream.try_clone().map_err(|e| e.to_string())?;
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\napi-key: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            self.http_port,
            self.api_key,
            body.len()
        );
        let sender = std::thread::spawn(move || {
            if writer.write_all(head.as_bytes()).is_err() {
                return;
            }
            for chunk in body.chunks(64 * 1024) {
                if writer.write_all(chunk).is_err() {
                    return;
                }
            }
        });
        let mut reader = stream;
        let mut response = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => response.extend_from_slice(&buf[..n]),
                Err(e) => {
                    if response.is_empty() {
                        let _ = sender.join();
                        return Err(format!("no answer before the connection failed: {e}"));
                    }
                    break;
                }
            }
        }
        let _ = sender.join();
        let response = String::from_utf8_lossy(&response).to_string();
        let status = response
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| format!("no HTTP status in {:?}", abbreviate(&response)))?;
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        Ok((status, body))
    }

    // ---- small helpers used by many themes ----

    /// Create a collection and assert Qdrant's `result: true` answer.
    pub async fn create_collection(&self, name: &str, body: &Value) {
        let r = self.put(&format!("/collections/{name}"), body).await;
        assert_eq!(r.ok(), &Value::Bool(true), "{}", r.describe());
    }

    /// Upsert points (`{"points": [...]}` or `{"batch": {...}}`) with wait=true.
    pub async fn upsert(&self, collection: &str, body: &Value) {
        let r = self
            .put(&format!("/collections/{collection}/points?wait=true"), body)
            .await;
        assert_eq!(
            r.ok()["status"],
            "completed",
            "wait=true upsert must answer completed: {}",
            r.describe()
        );
    }

    /// Exact count of points matching an optional filter.
    pub async fn count(&self, collection: &str, filter: Option<&Value>) -> u64 {
        let mut body = serde_json::json!({ "exact": true });
        if let Some(f) = filter {
            body["filter"] = f.clone();
        }
        let r = self
            .post(&format!("/collections/{collection}/points/count"), &body)
            .await;
        r.ok()["count"]
            .as_u64()
            .unwrap_or_else(|| panic!("count is not an integer: {}", r.describe()))
    }

    /// Scroll through every point (all pages), returning the records in order.
    pub async fn scroll_all(&self, collection: &str, extra: &Value, page: usize) -> Vec<Value> {
        let mut out = Vec::new();
        let mut offset = Value::Null;
        for _ in 0..100_000 {
            let mut body = extra.clone();
            body["limit"] = page.into();
            if !offset.is_null() {
                body["offset"] = offset.clone();
            }
            let r = self
                .post(&format!("/collections/{collection}/points/scroll"), &body)
                .await;
            let result = r.ok();
            let points = result["points"]
                .as_array()
                .unwrap_or_else(|| panic!("scroll without points array: {}", r.describe()));
            assert!(
                points.len() <= page,
                "scroll returned more than limit: {}",
                r.describe()
            );
            out.extend(points.iter().cloned());
            offset = result["next_page_offset"].clone();
            if offset.is_null() {
                return out;
            }
        }
        panic!("scroll of {collection} never ended");
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if std::thread::panicking() && self.child.is_some() {
            eprintln!(
                "--- osprey log tail ({}) ---\n{}",
                self.dir.path().display(),
                self.log_tail()
            );
        }
        self.kill();
    }
}

fn abbreviate(s: &str) -> String {
    if s.len() > 300 {
        let mut end = 300;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &s[..end])
    } else {
        s.to_string()
    }
}

/// One HTTP answer, kept whole so assertions can print it.
pub struct Resp {
    pub status: u16,
    pub content_type: String,
    pub text: String,
    pub json: Value,
    pub what: String,
}

impl Resp {
    /// Request and answer in one line, for assertion messages.
    pub fn describe(&self) -> String {
        format!(
            "{} -> {} {}",
            self.what,
            self.status,
            abbreviate(&self.text)
        )
    }

    /// Assert a Qdrant success envelope and return `result`.
    pub fn ok(&self) -> &Value {
        assert_eq!(self.status, 200, "expected 200: {}", self.describe());
        assert_eq!(
            self.json["status"],
            "ok",
            "success envelope needs status \"ok\": {}",
            self.describe()
        );
        let time = self.json["time"].as_f64();
        assert!(
            time.is_some_and(|t| t >= 0.0),
            "success envelope needs a non-negative numeric time: {}",
            self.describe()
        );
        assert!(
            self.json.get("result").is_some(),
            "success envelope needs result: {}",
            self.describe()
        );
        &self.json["result"]
    }

    /// Assert a Qdrant error envelope with exactly this status; return the message.
    pub fn err(&self, status: u16) -> String {
        assert_eq!(
            self.status,
            status,
            "expected {status}: {}",
            self.describe()
        );
        self.envelope_message()
    }

    /// Assert a 4xx with a Qdrant error envelope; return the message.
    pub fn err_4xx(&self) -> String {
        assert!(
            (400..500).contains(&self.status),
            "expected a 4xx: {}",
            self.describe()
        );
        self.envelope_message()
    }

    /// Assert the status is one of `allowed` with an error envelope.
    pub fn err_in(&self, allowed: &[u16]) -> String {
        assert!(
            allowed.contains(&self.status),
            "expected one of {allowed:?}: {}",
            self.describe()
        );
        self.envelope_message()
    }

    fn envelope_message(&self) -> String {
        let message = self.json["status"]["error"].as_str().unwrap_or_else(|| {
            panic!(
                "error answer must be {{\"status\": {{\"error\": \"...\"}}, \"time\": ...}}: {}",
                self.describe()
            )
        });
        assert!(
            self.json["time"].is_number(),
            "error envelope needs a numeric time: {}",
            self.describe()
        );
        assert!(
            !message.trim().is_empty(),
            "error message must name the problem: {}",
            self.describe()
        );
        message.to_string()
    }
}

/// xorshift64: a tiny deterministic generator so data sets are reproducible.
#[derive(Clone)]
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> XorShift {
        XorShift(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Uniform in `[-1, 1)`, exactly representable as f32.
    pub fn unit(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    pub fn vector(&mut self, dim: usize) -> Vec<f32> {
        (0..dim).map(|_| self.unit()).collect()
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}
