//! Qdrant's audit log (spec/auth.md §12): one JSON line per access decision,
//! in `<dir>/audit.<YYYY-MM-DD>.log` (daily rotation) or
//! `<dir>/audit.<YYYY-MM-DD-HH>.log` (hourly), UTC, the names Qdrant's
//! rolling appender gives its files.
//!
//! Both front ends report here through the [`crate::Authenticator`] they
//! share: REST from its access middleware, gRPC from its authentication
//! layer, once per request. A line carries Qdrant's fields (`timestamp`,
//! `method`, `api`, `auth_type`, `subject`, `remote`, `collection`,
//! `tracing_id`, `result`, `error`) and Osprey's (`transport`, and `key_id` /
//! `key_name` for the key plane's keys, the same ids as the key plane's own
//! audit log). It never holds a credential: nothing here reads the
//! `api-key` or `authorization` headers.
//!
//! Why a channel and a thread: the request path only serialises the line and
//! hands it over without blocking (a full queue drops the line and counts
//! it). The writer thread appends through a buffer and flushes as soon as the
//! queue is empty, and at least every [`FLUSH_INTERVAL`], so a line is on
//! disk within that time. A file that cannot be written is logged, never
//! turned into a failed request.

use std::collections::VecDeque;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use http::HeaderMap;
use serde::{Deserialize, Serialize};

use crate::principal::{CredentialKind, Principal};

/// Longest time a written line waits in the buffer.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(100);
/// Lines queued for the writer before new ones are dropped (and counted).
const QUEUE_CAPACITY: usize = 64 * 1024;
/// How long a reader waits for the writer to flush before reading anyway.
const FLUSH_WAIT: Duration = Duration::from_secs(5);
/// Qdrant's cap on a tracing id taken from request headers, in bytes.
const MAX_TRACING_ID_LEN: usize = 256;
/// Headers a tracing id is taken from, first present wins (Qdrant's order).
const TRACING_ID_HEADERS: [&str; 3] = ["x-request-id", "x-tracing-id", "traceparent"];
/// Cap on a forwarded client address, so a proxy header cannot bloat lines.
const MAX_REMOTE_LEN: usize = 256;
/// `POST /audit/logs` defaults and bounds, as Qdrant's.
pub const DEFAULT_QUERY_LIMIT: usize = 100;
/// See [`DEFAULT_QUERY_LIMIT`].
pub const MAX_QUERY_LIMIT: usize = 10_000;

const FILE_PREFIX: &str = "audit.";
const FILE_SUFFIX: &str = ".log";

/// How often a new file is started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", try_from = "String")]
pub enum Rotation {
    /// One file per UTC day: `audit.2024-06-15.log`.
    #[default]
    Daily,
    /// One file per UTC hour: `audit.2024-06-15-14.log`.
    Hourly,
}

impl TryFrom<String> for Rotation {
    type Error = String;

    /// Through a string so a wrong value gets a message naming the choices
    /// (configuration loaders render enum errors obscurely).
    fn try_from(value: String) -> Result<Self, String> {
        match value.as_str() {
            "daily" => Ok(Rotation::Daily),
            "hourly" => Ok(Rotation::Hourly),
            other => Err(format!(
                "unknown rotation `{other}`, expected `daily` or `hourly`"
            )),
        }
    }
}

impl Rotation {
    /// The date part of the file name for a line written at `at`. Tags of
    /// one rotation sort as the times they stand for.
    fn tag(self, at: DateTime<Utc>) -> String {
        match self {
            Rotation::Daily => at.format("%Y-%m-%d").to_string(),
            Rotation::Hourly => at.format("%Y-%m-%d-%H").to_string(),
        }
    }
}

/// Settings of an enabled audit log (`audit.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditConfig {
    /// Directory of the files.
    pub dir: PathBuf,
    /// Daily or hourly files.
    pub rotation: Rotation,
    /// Files kept, the current one included; older ones are deleted. At least 1.
    pub max_log_files: usize,
    /// Take the client address from `X-Forwarded-For` (behind a trusted proxy).
    pub trust_forwarded_headers: bool,
    /// Also record the REST path or gRPC method of authorized requests.
    pub log_api: bool,
}

/// Which front end served the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// The REST API (port 6333).
    Rest,
    /// The gRPC API (port 6334).
    Grpc,
}

/// Qdrant's `auth_type`: how the caller authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthType {
    /// No credential was accepted (authentication off, or it failed).
    None,
    /// A static key or a key plane admin-kind key.
    ApiKey,
    /// A JWT: signed with an admin key, or a key plane granular key.
    Jwt,
}

impl AuthType {
    fn of(kind: CredentialKind) -> Self {
        match kind {
            CredentialKind::None => AuthType::None,
            CredentialKind::ApiKey | CredentialKind::ReadOnlyKey => AuthType::ApiKey,
            CredentialKind::LegacyAdminKey => AuthType::ApiKey,
            CredentialKind::Jwt | CredentialKind::DatabaseKey => AuthType::Jwt,
        }
    }
}

/// Qdrant's `result`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditResult {
    /// The access check passed.
    Ok,
    /// Authentication or the access check refused the request.
    Denied,
}

/// One line of the log. Field order is Qdrant's, Osprey's fields last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// When the decision was made.
    pub timestamp: DateTime<Utc>,
    /// The operation (`upsert_points`): the `operation` column of the table of
    /// access. Absent when the request matched no operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The REST path or gRPC method, when `log_api` is on, and always for
    /// failed authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<String>,
    /// How the caller authenticated.
    pub auth_type: AuthType,
    /// The JWT `subject` claim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The client's address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<String>,
    /// The collection the check was about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection: Option<String>,
    /// The client's request id (`x-request-id`, `x-tracing-id`, `traceparent`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracing_id: Option<String>,
    /// Passed or refused.
    pub result: AuditResult,
    /// Why it was refused: the message the client got.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Osprey: REST or gRPC.
    pub transport: Transport,
    /// Osprey: the key plane record id of the caller's key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// Osprey: the key plane record name of the caller's key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_name: Option<String>,
}

/// Facts about a request taken before authentication: who is on the other
/// end, and the client's own request id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestFacts {
    /// The client's address (forwarded one when trusted).
    pub remote: Option<String>,
    /// The client's request id.
    pub tracing_id: Option<String>,
}

/// One decision to record.
#[derive(Debug, Clone, Copy)]
pub struct Decision<'a> {
    /// The front end.
    pub transport: Transport,
    /// The operation name, when the request matched one.
    pub method: Option<&'a str>,
    /// The REST path or gRPC method path.
    pub api: &'a str,
    /// The caller, when authentication passed.
    pub principal: Option<&'a Principal>,
    /// The collection named in the request.
    pub collection: Option<&'a str>,
    /// `None` when allowed; the refusal's message otherwise.
    pub denied: Option<&'a str>,
}

/// What a reader asks for (`POST /audit/logs`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Entries at or after this time.
    pub time_from: Option<DateTime<Utc>>,
    /// Entries before this time.
    pub time_to: Option<DateTime<Utc>>,
    /// Top-level fields that must equal these strings (`{"method": "upsert_points"}`).
    /// A field an entry lacks never matches.
    pub filters: Vec<(String, String)>,
    /// At most this many entries, newest first.
    pub limit: usize,
}

/// Failures of opening or reading the log. Writing never fails a caller.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// The directory cannot be created or listed.
    #[error("audit log directory {path}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// A file cannot be read.
    #[error("audit log file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The writer thread cannot be started.
    #[error("cannot start the audit log writer: {0}")]
    Spawn(io::Error),
}

enum Command {
    Line { at: DateTime<Utc>, line: Vec<u8> },
    Flush(SyncSender<()>),
}

/// The audit log: hand it decisions, read entries back. Share it in an `Arc`;
/// dropping the last one flushes and stops the writer.
pub struct AuditLog {
    config: AuditConfig,
    sender: Option<SyncSender<Command>>,
    dropped: Arc<AtomicU64>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditLog")
            .field("config", &self.config)
            .field("dropped", &self.dropped.load(Ordering::Relaxed))
            .finish()
    }
}

impl AuditLog {
    /// Creates the directory, deletes files beyond `max_log_files` and starts
    /// the writer thread.
    pub fn open(mut config: AuditConfig) -> Result<Arc<AuditLog>, AuditError> {
        config.max_log_files = config.max_log_files.max(1);
        fs::create_dir_all(&config.dir).map_err(|source| AuditError::Dir {
            path: config.dir.clone(),
            source,
        })?;
        prune(&config.dir, config.max_log_files, None)?;
        let (sender, receiver) = mpsc::sync_channel(QUEUE_CAPACITY);
        let mut writer = Writer {
            dir: config.dir.clone(),
            rotation: config.rotation,
            max_files: config.max_log_files,
            current: None,
            failing: false,
        };
        let handle = std::thread::Builder::new()
            .name("osprey-audit".into())
            .spawn(move || writer.run(receiver))
            .map_err(AuditError::Spawn)?;
        Ok(Arc::new(AuditLog {
            config,
            sender: Some(sender),
            dropped: Arc::new(AtomicU64::new(0)),
            writer: Mutex::new(Some(handle)),
        }))
    }

    /// The settings in effect.
    pub fn config(&self) -> &AuditConfig {
        &self.config
    }

    /// The client address and request id of a request, per the settings.
    /// `peer` is the TCP peer's address.
    pub fn request_facts(&self, headers: &HeaderMap, peer: Option<IpAddr>) -> RequestFacts {
        let forwarded = if self.config.trust_forwarded_headers {
            forwarded_for(headers)
        } else {
            None
        };
        RequestFacts {
            remote: forwarded.or_else(|| peer.map(|ip| ip.to_string())),
            tracing_id: tracing_id(headers),
        }
    }

    /// Records one decision. Never blocks: when the writer is that far behind,
    /// the line is dropped, counted, and the count logged.
    pub fn record(&self, facts: &RequestFacts, decision: Decision<'_>) {
        let entry = self.entry(facts, decision, Utc::now());
        let line = match serde_json::to_vec(&entry) {
            Ok(mut line) => {
                line.push(b'\n');
                line
            }
            Err(err) => {
                tracing::error!("cannot serialise an audit log entry: {err}");
                return;
            }
        };
        let Some(sender) = &self.sender else { return };
        match sender.try_send(Command::Line {
            at: entry.timestamp,
            line,
        }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                if dropped.is_power_of_two() {
                    tracing::error!(
                        "the audit log writer is behind; {dropped} entries dropped so far"
                    );
                }
            }
            Err(TrySendError::Disconnected(_)) => {
                tracing::error!("the audit log writer has stopped; entry dropped");
            }
        }
    }

    fn entry(&self, facts: &RequestFacts, d: Decision<'_>, at: DateTime<Utc>) -> AuditEntry {
        let principal = d.principal;
        // Qdrant records the path of failed authentications even without
        // `log_api`: there is no operation to name them by otherwise.
        let api = (self.config.log_api || principal.is_none()).then(|| d.api.to_owned());
        AuditEntry {
            timestamp: at,
            method: d.method.map(str::to_owned),
            api,
            auth_type: principal.map_or(AuthType::None, |p| AuthType::of(p.credential())),
            subject: principal.and_then(Principal::subject).map(str::to_owned),
            remote: facts.remote.clone(),
            collection: d.collection.map(str::to_owned),
            tracing_id: facts.tracing_id.clone(),
            result: if d.denied.is_some() {
                AuditResult::Denied
            } else {
                AuditResult::Ok
            },
            error: d.denied.map(str::to_owned),
            transport: d.transport,
            key_id: principal.and_then(Principal::key_id).map(str::to_owned),
            key_name: principal.and_then(Principal::key_name).map(str::to_owned),
        }
    }

    /// Waits until every line recorded so far is written out (at most a few
    /// seconds; a stuck disk is logged, not waited for).
    pub fn flush(&self) {
        let Some(sender) = &self.sender else { return };
        let (done, wait) = mpsc::sync_channel(1);
        // Blocking send: a flush request must not be dropped like a line.
        if sender.send(Command::Flush(done)).is_err() {
            return;
        }
        if wait.recv_timeout(FLUSH_WAIT).is_err() {
            tracing::error!("the audit log writer did not flush within {FLUSH_WAIT:?}");
        }
    }

    /// Entries matching `query`, newest first. Flushes first, so everything
    /// recorded before the call is seen. Blocking file I/O: call it off the
    /// async runtime.
    pub fn query(&self, query: &AuditQuery) -> Result<Vec<serde_json::Value>, AuditError> {
        self.flush();
        read_entries(&self.config.dir, query)
    }
}

impl Drop for AuditLog {
    fn drop(&mut self) {
        // Closing the channel makes the writer flush and return.
        self.sender.take();
        let handle = self.writer.lock().ok().and_then(|mut h| h.take());
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }
}

/// The writer thread's state.
struct Writer {
    dir: PathBuf,
    rotation: Rotation,
    max_files: usize,
    current: Option<(String, BufWriter<File>)>,
    /// Set after a failure was logged, so a broken disk logs once, not per line.
    failing: bool,
}

impl Writer {
    fn run(&mut self, receiver: Receiver<Command>) {
        loop {
            match receiver.recv_timeout(FLUSH_INTERVAL) {
                Ok(command) => self.handle(command),
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => break,
            }
            // Write out whatever else is queued, then flush once: one write
            // per burst, and nothing waits longer than the queue is busy.
            while let Ok(command) = receiver.try_recv() {
                self.handle(command);
            }
            self.flush();
        }
        self.flush();
    }

    fn handle(&mut self, command: Command) {
        match command {
            Command::Line { at, line } => self.write(at, &line),
            Command::Flush(done) => {
                self.flush();
                let _ = done.try_send(());
            }
        }
    }

    fn write(&mut self, at: DateTime<Utc>, line: &[u8]) {
        let mut tag = self.rotation.tag(at);
        // Lines from concurrent requests can arrive a little out of order;
        // never go back to an older file.
        if let Some((current, _)) = &self.current
            && tag < *current
        {
            tag.clone_from(current);
        }
        if self
            .current
            .as_ref()
            .is_none_or(|(current, _)| *current != tag)
        {
            self.flush();
            self.current = None;
            match open_file(&self.dir, &tag) {
                Ok(file) => {
                    self.current = Some((tag.clone(), BufWriter::new(file)));
                    if let Err(err) = prune(&self.dir, self.max_files, Some(&tag)) {
                        tracing::error!("cannot delete old audit log files: {err}");
                    }
                }
                Err(err) => {
                    self.fail(&format!(
                        "cannot open {}: {err}",
                        file_path(&self.dir, &tag).display()
                    ));
                    return;
                }
            }
        }
        if let Some((_, file)) = &mut self.current
            && let Err(err) = file.write_all(line)
        {
            self.fail(&format!("cannot write to the audit log: {err}"));
            // Start over with a fresh handle on the next line.
            self.current = None;
        }
    }

    fn flush(&mut self) {
        if let Some((_, file)) = &mut self.current {
            match file.flush() {
                Ok(()) => self.failing = false,
                Err(err) => {
                    self.fail(&format!("cannot flush the audit log: {err}"));
                    self.current = None;
                }
            }
        }
    }

    fn fail(&mut self, message: &str) {
        if !self.failing {
            tracing::error!("{message}; audit entries are being lost");
        }
        self.failing = true;
    }
}

fn file_path(dir: &Path, tag: &str) -> PathBuf {
    dir.join(format!("{FILE_PREFIX}{tag}{FILE_SUFFIX}"))
}

fn open_file(dir: &Path, tag: &str) -> io::Result<File> {
    // The directory may have been removed since start; recreate it.
    fs::create_dir_all(dir)?;
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(file_path(dir, tag))
}

/// A file's start and span, from its name; `None` for other files (the key
/// plane's `keys-*.jsonl` share the directory).
fn file_span(name: &str) -> Option<(DateTime<Utc>, chrono::Duration)> {
    let tag = name.strip_prefix(FILE_PREFIX)?.strip_suffix(FILE_SUFFIX)?;
    if let Ok(day) = NaiveDate::parse_from_str(tag, "%Y-%m-%d") {
        return Some((
            day.and_hms_opt(0, 0, 0)?.and_utc(),
            chrono::Duration::days(1),
        ));
    }
    let (day, hour) = tag.rsplit_once('-')?;
    let day = NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()?;
    let hour: u32 = hour.parse().ok().filter(|h| *h < 24 && hour.len() == 2)?;
    Some((
        day.and_hms_opt(hour, 0, 0)?.and_utc(),
        chrono::Duration::hours(1),
    ))
}

/// The log's files, oldest first.
fn list_files(dir: &Path) -> Result<Vec<(DateTime<Utc>, chrono::Duration, PathBuf)>, AuditError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(AuditError::Dir {
                path: dir.to_path_buf(),
                source,
            });
        }
    };
    let mut files = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some((start, span)) = file_span(name)
            && entry.file_type().is_ok_and(|t| t.is_file())
        {
            files.push((start, span, entry.path()));
        }
    }
    // Hourly and daily files may mix after a change of `rotation`: order by
    // start, then by span, so a day sorts before its hours.
    files.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    Ok(files)
}

/// Deletes the oldest files until at most `max_files` remain. `keep` (the
/// file being written) is never deleted.
fn prune(dir: &Path, max_files: usize, keep: Option<&str>) -> Result<(), AuditError> {
    let files = list_files(dir)?;
    let keep = keep.map(|tag| file_path(dir, tag));
    let excess = files.len().saturating_sub(max_files);
    for (_, _, path) in files
        .into_iter()
        .filter(|f| Some(&f.2) != keep.as_ref())
        .take(excess)
    {
        match fs::remove_file(&path) {
            Ok(()) => tracing::info!("deleted old audit log file {}", path.display()),
            Err(err) => {
                tracing::warn!("cannot delete old audit log file {}: {err}", path.display())
            }
        }
    }
    Ok(())
}

/// Reads the entries matching `query`, newest first, keeping at most
/// `query.limit` in memory per file.
fn read_entries(dir: &Path, query: &AuditQuery) -> Result<Vec<serde_json::Value>, AuditError> {
    let limit = query.limit.clamp(1, MAX_QUERY_LIMIT);
    let mut found: Vec<(DateTime<Utc>, serde_json::Value)> = Vec::new();
    for (start, span, path) in list_files(dir)?.into_iter().rev() {
        if found.len() >= limit {
            break;
        }
        if query.time_to.is_some_and(|to| start >= to)
            || query.time_from.is_some_and(|from| start + span <= from)
        {
            continue;
        }
        let file = match File::open(&path) {
            Ok(file) => file,
            // Pruned between listing and opening.
            Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
            Err(source) => return Err(AuditError::Read { path, source }),
        };
        let remaining = limit - found.len();
        let mut window: VecDeque<(DateTime<Utc>, serde_json::Value)> = VecDeque::new();
        for line in BufReader::new(file).lines() {
            let line = line.map_err(|source| AuditError::Read {
                path: path.clone(),
                source,
            })?;
            // A line cut short by a crash, or not ours: skipped.
            let Ok(value) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            let Some(at) = value
                .get("timestamp")
                .and_then(|t| t.as_str())
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc))
            else {
                continue;
            };
            if matches(&value, at, query) {
                if window.len() == remaining {
                    window.pop_front();
                }
                window.push_back((at, value));
            }
        }
        // Concurrent requests may have appended slightly out of order.
        let mut batch: Vec<_> = window.into_iter().collect();
        batch.sort_by(|a, b| b.0.cmp(&a.0));
        found.extend(batch);
    }
    found.truncate(limit);
    Ok(found.into_iter().map(|(_, v)| v).collect())
}

fn matches(entry: &serde_json::Value, at: DateTime<Utc>, query: &AuditQuery) -> bool {
    if query.time_from.is_some_and(|from| at < from) || query.time_to.is_some_and(|to| at >= to) {
        return false;
    }
    query
        .filters
        .iter()
        .all(|(field, expected)| entry.get(field).and_then(|v| v.as_str()) == Some(expected))
}

/// The first address of `X-Forwarded-For` (the client, as the first proxy saw it).
fn forwarded_for(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("x-forwarded-for")?.to_str().ok()?;
    let first = value.split(',').next()?.trim();
    (!first.is_empty()).then(|| truncate(first, MAX_REMOTE_LEN))
}

/// The client's request id, capped at Qdrant's 256 bytes.
fn tracing_id(headers: &HeaderMap) -> Option<String> {
    TRACING_ID_HEADERS.iter().find_map(|name| {
        let value = headers.get(*name)?.to_str().ok()?;
        Some(truncate(value, MAX_TRACING_ID_LEN))
    })
}

/// At most `max` bytes of `value`, cut on a character boundary.
fn truncate(value: &str, max: usize) -> String {
    if value.len() <= max {
        return value.to_owned();
    }
    let end = (0..=max)
        .rev()
        .find(|&i| value.is_char_boundary(i))
        .unwrap_or(0);
    value[..end].to_owned()
}

#[cfg(test)]
mod tests;
