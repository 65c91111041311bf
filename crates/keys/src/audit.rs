//! The key plane's audit log: JSON lines in daily files
//! `<storage_path>/audit/keys-YYYY-MM-DD.jsonl` (UTC days).
//!
//! Why files and not a redb table: refused requests are logged too, and they
//! are what an attacker controls. A line appended to a file costs a `write`
//! syscall; a redb commit costs an fsync, which would turn every bad key sent
//! into a disk flush. Files also rotate and expire by deleting whole days,
//! and operators can read them with `tail` and `jq`. Key-plane changes
//! themselves are durable in the registry (`created_at`, `revoked_at`), so
//! the log loses nothing essential in a power cut.
//!
//! Secrets never reach it: events hold a key's id or its last 6 characters,
//! never more. Refusals beyond a per-second budget are counted, not written,
//! and the count is logged with the next written event.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use osprey_auth::{CredentialKind, Principal};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::token::postfix;

const FILE_PREFIX: &str = "keys-";
const FILE_SUFFIX: &str = ".jsonl";

/// How an audited call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Done.
    Ok,
    /// Refused: authentication or authorization failed.
    Denied,
    /// Accepted but failed (bad input, not found, storage).
    Error,
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// When it happened.
    pub time: DateTime<Utc>,
    /// What was attempted: a key-plane operation (`create_key`, `revoke_key`,
    /// …) or, for refused requests, the route or rpc.
    pub operation: String,
    /// How it ended.
    pub outcome: Outcome,
    /// How the caller authenticated (`api_key`, `read_only_key`, `jwt`,
    /// `database_key`, `legacy_admin_key`, `none`), or `unauthenticated`.
    pub credential: String,
    /// The caller's key-plane record id, if it used a registry key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// The last 6 characters of the credential the caller sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_postfix: Option<String>,
    /// The collection named in the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection: Option<String>,
    /// The key-plane object acted on (a key id or a `kid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The client's address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// HTTP status answered (gRPC front ends give the HTTP equivalent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The message answered, for refusals and errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A refused request, reported by a front end with
/// [`crate::KeyRegistry::record_refusal`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Refusal<'a> {
    /// Route template and method (`PUT /collections/{collection_name}/points`)
    /// or rpc (`qdrant.Points/Upsert`).
    pub operation: &'a str,
    /// The caller, when authentication succeeded and authorization refused.
    pub principal: Option<&'a Principal>,
    /// The credential as sent, when there was one. Only its last 6
    /// characters are logged.
    pub credential: Option<&'a str>,
    /// The collection named in the request.
    pub collection: Option<&'a str>,
    /// The client's address.
    pub client: Option<IpAddr>,
    /// The HTTP status answered (401, 403, …).
    pub status: u16,
    /// The message answered (`Invalid API key or JWT`, `Forbidden: …`).
    pub reason: &'a str,
}

/// The audit label of a credential kind.
pub fn credential_label(kind: CredentialKind) -> &'static str {
    match kind {
        CredentialKind::None => "none",
        CredentialKind::ApiKey => "api_key",
        CredentialKind::ReadOnlyKey => "read_only_key",
        CredentialKind::Jwt => "jwt",
        CredentialKind::DatabaseKey => "database_key",
        CredentialKind::LegacyAdminKey => "legacy_admin_key",
        _ => "other",
    }
}

impl AuditEvent {
    /// An event at the current time, with the caller described by
    /// `principal` and `credential` (only its postfix is kept).
    pub fn new(
        operation: impl Into<String>,
        outcome: Outcome,
        principal: Option<&Principal>,
        credential: Option<&str>,
    ) -> Self {
        AuditEvent {
            time: Utc::now(),
            operation: operation.into(),
            outcome,
            credential: principal
                .map_or("unauthenticated", |p| credential_label(p.credential()))
                .to_owned(),
            key_id: principal.and_then(Principal::key_id).map(str::to_owned),
            key_postfix: credential.map(postfix),
            collection: None,
            target: None,
            client: None,
            status: None,
            reason: None,
        }
    }
}

impl From<Refusal<'_>> for AuditEvent {
    fn from(refusal: Refusal<'_>) -> Self {
        let mut event = AuditEvent::new(
            refusal.operation,
            Outcome::Denied,
            refusal.principal,
            refusal.credential,
        );
        event.collection = refusal.collection.map(str::to_owned);
        event.client = refusal.client.map(|ip| ip.to_string());
        event.status = Some(refusal.status);
        event.reason = Some(refusal.reason.to_owned());
        event
    }
}

struct Writer {
    day: Option<NaiveDate>,
    file: Option<File>,
    /// The second the refusal budget counts.
    second: i64,
    refusals_this_second: u32,
    suppressed: u64,
}

/// Appends events to the day's file and reads them back.
pub(crate) struct AuditLog {
    dir: PathBuf,
    max_files: usize,
    refusals_per_second: u32,
    writer: Mutex<Writer>,
}

impl AuditLog {
    pub(crate) fn new(dir: PathBuf, max_files: usize, refusals_per_second: u32) -> Self {
        AuditLog {
            dir,
            max_files: max_files.max(1),
            refusals_per_second,
            writer: Mutex::new(Writer {
                day: None,
                file: None,
                second: 0,
                refusals_this_second: 0,
                suppressed: 0,
            }),
        }
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes one event. Failures are logged, never returned: auditing must
    /// not turn a served request into an error.
    pub(crate) fn append(&self, event: &AuditEvent) {
        let mut writer = self.writer.lock();
        self.write_pending_suppressed(&mut writer, event.time);
        self.write_line(&mut writer, event);
    }

    /// Writes a refusal, within the per-second budget.
    pub(crate) fn append_refusal(&self, event: &AuditEvent) {
        let mut writer = self.writer.lock();
        let second = event.time.timestamp();
        if writer.second != second {
            writer.second = second;
            writer.refusals_this_second = 0;
        }
        if writer.refusals_this_second >= self.refusals_per_second {
            writer.suppressed += 1;
            return;
        }
        writer.refusals_this_second += 1;
        self.write_pending_suppressed(&mut writer, event.time);
        self.write_line(&mut writer, event);
    }

    fn write_pending_suppressed(&self, writer: &mut Writer, time: DateTime<Utc>) {
        if writer.suppressed == 0 {
            return;
        }
        let count = std::mem::take(&mut writer.suppressed);
        let mut summary = AuditEvent::new("refusals_suppressed", Outcome::Denied, None, None);
        summary.time = time;
        summary.credential = "various".into();
        summary.reason = Some(format!(
            "{count} refused requests were not logged (more than {} per second)",
            self.refusals_per_second
        ));
        self.write_line(writer, &summary);
    }

    fn write_line(&self, writer: &mut Writer, event: &AuditEvent) {
        let day = event.time.date_naive();
        if writer.day != Some(day) || writer.file.is_none() {
            writer.file = None;
            match self.open_day(day) {
                Ok(file) => {
                    writer.file = Some(file);
                    writer.day = Some(day);
                    self.prune();
                }
                Err(error) => {
                    tracing::error!("audit log: cannot open {}: {error}", self.dir.display());
                    return;
                }
            }
        }
        let Some(file) = writer.file.as_mut() else {
            return;
        };
        let mut line = match serde_json::to_vec(event) {
            Ok(line) => line,
            Err(error) => {
                tracing::error!("audit log: cannot serialise an event: {error}");
                return;
            }
        };
        line.push(b'\n');
        // One write per line: concurrent readers see whole lines or a torn
        // last line, which they skip.
        if let Err(error) = file.write_all(&line) {
            tracing::error!("audit log: cannot write to {}: {error}", self.dir.display());
            writer.file = None;
        }
    }

    fn open_day(&self, day: NaiveDate) -> std::io::Result<File> {
        std::fs::create_dir_all(&self.dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700))?;
        }
        let mut options = OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        options.open(self.dir.join(file_name(day)))
    }

    /// Keeps the newest `max_files` days.
    fn prune(&self) {
        let mut days = self.days();
        if days.len() <= self.max_files {
            return;
        }
        days.sort();
        for day in &days[..days.len() - self.max_files] {
            let path = self.dir.join(file_name(*day));
            if let Err(error) = std::fs::remove_file(&path) {
                tracing::warn!("audit log: cannot remove {}: {error}", path.display());
            }
        }
    }

    fn days(&self) -> Vec<NaiveDate> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        entries
            .filter_map(|entry| {
                let name = entry.ok()?.file_name();
                let name = name.to_str()?;
                let day = name.strip_prefix(FILE_PREFIX)?.strip_suffix(FILE_SUFFIX)?;
                NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()
            })
            .collect()
    }

    /// Events at or after `since`, oldest first, at most `limit`. Lines that
    /// do not parse (a torn last line) are skipped.
    pub(crate) fn since(
        &self,
        since: DateTime<Utc>,
        limit: usize,
    ) -> std::io::Result<Vec<AuditEvent>> {
        let mut days: Vec<NaiveDate> = self
            .days()
            .into_iter()
            .filter(|day| *day >= since.date_naive())
            .collect();
        days.sort();
        let mut events = Vec::new();
        for day in days {
            let path = self.dir.join(file_name(day));
            let file = match File::open(&path) {
                Ok(file) => file,
                // Pruned meanwhile.
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                Err(error) => return Err(error),
            };
            for line in BufReader::new(file).lines() {
                let line = line?;
                let Ok(event) = serde_json::from_str::<AuditEvent>(&line) else {
                    continue;
                };
                if event.time >= since {
                    events.push(event);
                    if events.len() >= limit {
                        return Ok(events);
                    }
                }
            }
        }
        Ok(events)
    }
}

fn file_name(day: NaiveDate) -> String {
    format!("{FILE_PREFIX}{}{FILE_SUFFIX}", day.format("%Y-%m-%d"))
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn event(time: DateTime<Utc>, operation: &str) -> AuditEvent {
        let mut event = AuditEvent::new(operation, Outcome::Ok, None, Some("secret-key-abcdef"));
        event.time = time;
        event
    }

    /// Prevents unbounded growth: one file per day, only the newest kept, and
    /// reading across days in order.
    #[test]
    fn rotates_daily_and_prunes() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(dir.path().join("audit"), 2, 100);
        let start = Utc::now() - Duration::days(3);
        for d in 0..4 {
            log.append(&event(start + Duration::days(d), &format!("op{d}")));
        }
        assert_eq!(log.days().len(), 2);
        let all = log.since(start - Duration::days(10), 100).unwrap();
        let ops: Vec<&str> = all.iter().map(|e| e.operation.as_str()).collect();
        assert_eq!(ops, ["op2", "op3"]);
        assert_eq!(log.since(start + Duration::days(3), 100).unwrap().len(), 1);
        assert_eq!(log.since(start, 1).unwrap().len(), 1);
    }

    /// Prevents a flood of bad keys from filling the disk: beyond the budget
    /// refusals are counted, then summarised in one line.
    #[test]
    fn refusals_are_budgeted() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(dir.path().to_owned(), 7, 3);
        let now = Utc::now();
        for _ in 0..10 {
            let mut refused = event(now, "GET /collections");
            refused.outcome = Outcome::Denied;
            log.append_refusal(&refused);
        }
        log.append(&event(now, "list_keys"));
        let events = log.since(now - Duration::seconds(1), 100).unwrap();
        assert_eq!(events.len(), 5, "{events:#?}");
        assert_eq!(events[3].operation, "refusals_suppressed");
        assert!(
            events[3]
                .reason
                .as_deref()
                .unwrap()
                .starts_with("7 refused")
        );
    }

    /// Prevents a secret from reaching the log: only the postfix is kept.
    #[test]
    fn only_postfixes_are_written() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(dir.path().to_owned(), 7, 3);
        log.append(&event(Utc::now(), "create_key"));
        let text =
            std::fs::read_to_string(dir.path().join(file_name(Utc::now().date_naive()))).unwrap();
        assert!(!text.contains("secret-key"), "{text}");
        assert!(text.contains("\"key_postfix\":\"abcdef\""), "{text}");
    }
}
