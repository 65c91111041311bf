use std::net::Ipv4Addr;

use super::*;
use crate::{AuthConfig, Authenticator};

const ADMIN: &str = "audit-admin-key-of-at-least-32-bytes!";

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn config(dir: &Path) -> AuditConfig {
    AuditConfig {
        dir: dir.to_path_buf(),
        rotation: Rotation::Daily,
        max_log_files: 7,
        trust_forwarded_headers: false,
        log_api: true,
    }
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

fn writer(dir: &Path, rotation: Rotation, max_files: usize) -> Writer {
    Writer {
        dir: dir.to_path_buf(),
        rotation,
        max_files,
        current: None,
        failing: false,
    }
}

fn admin_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("api-key", ADMIN.parse().unwrap());
    headers
}

fn admin() -> Principal {
    Authenticator::new(AuthConfig {
        api_key: Some(ADMIN.into()),
        ..AuthConfig::default()
    })
    .authenticate(&admin_headers())
    .unwrap()
}

fn decision<'a>(principal: Option<&'a Principal>, denied: Option<&'a str>) -> Decision<'a> {
    Decision {
        transport: Transport::Rest,
        method: Some("upsert_points"),
        api: "/collections/docs/points",
        principal,
        collection: Some("docs"),
        denied,
    }
}

/// Qdrant's readers find files by these names (`audit.<date>.log`); another
/// name would make our files invisible to tools written for Qdrant's.
#[test]
fn files_are_named_as_qdrant_names_them() {
    let moment = at("2024-06-15T14:30:00Z");
    assert_eq!(
        file_path(Path::new("d"), &Rotation::Daily.tag(moment)),
        Path::new("d/audit.2024-06-15.log")
    );
    assert_eq!(
        file_path(Path::new("d"), &Rotation::Hourly.tag(moment)),
        Path::new("d/audit.2024-06-15-14.log")
    );
    assert_eq!(
        file_span("audit.2024-06-15.log").unwrap().0,
        at("2024-06-15T00:00:00Z")
    );
    assert_eq!(
        file_span("audit.2024-06-15-14.log").unwrap().0,
        at("2024-06-15T14:00:00Z")
    );
    // The key plane's files share the directory and are never ours.
    for other in [
        "keys-2024-06-15.jsonl",
        "audit.log",
        "audit.2024-06-15-24.log",
        "audit.x.log",
    ] {
        assert!(file_span(other).is_none(), "{other}");
    }
}

/// A new file starts when the day (or hour) changes, and old files beyond
/// `max_log_files` go, oldest first, leaving other files alone.
#[test]
fn rotation_starts_new_files_and_prunes_the_oldest() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("keys-2024-06-01.jsonl"), "{}\n").unwrap();
    let mut w = writer(dir.path(), Rotation::Hourly, 3);
    for hour in 10..15 {
        w.write(at(&format!("2024-06-15T{hour}:05:00Z")), b"{\"n\":1}\n");
    }
    w.flush();
    assert_eq!(
        names(dir.path()),
        [
            "audit.2024-06-15-12.log",
            "audit.2024-06-15-13.log",
            "audit.2024-06-15-14.log",
            "keys-2024-06-01.jsonl"
        ]
    );
    // A late line from the previous hour stays in the current file.
    w.write(at("2024-06-15T13:59:59Z"), b"{\"n\":2}\n");
    w.flush();
    let current = fs::read_to_string(dir.path().join("audit.2024-06-15-14.log")).unwrap();
    assert_eq!(current.lines().count(), 2);
}

/// Opening prunes too, so a server restarted after a long pause does not keep
/// more than it was told to.
#[test]
fn open_prunes_old_files() {
    let dir = tempfile::tempdir().unwrap();
    for day in 1..=5 {
        fs::write(dir.path().join(format!("audit.2024-06-0{day}.log")), "").unwrap();
    }
    let log = AuditLog::open(AuditConfig {
        max_log_files: 2,
        ..config(dir.path())
    })
    .unwrap();
    drop(log);
    assert_eq!(
        names(dir.path()),
        ["audit.2024-06-04.log", "audit.2024-06-05.log"]
    );
}

/// Every line carries Qdrant's fields with Qdrant's spellings, and a refusal
/// its message.
#[test]
fn a_line_has_qdrants_fields() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(config(dir.path())).unwrap();
    let principal = admin();
    let mut headers = admin_headers();
    headers.insert("x-request-id", "req-42".parse().unwrap());
    let facts = log.request_facts(&headers, Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    log.record(&facts, decision(Some(&principal), None));
    log.record(
        &RequestFacts::default(),
        decision(None, Some("Invalid API key or JWT")),
    );
    let entries = log
        .query(&AuditQuery {
            limit: 10,
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(entries.len(), 2);
    let (denied, ok) = (&entries[0], &entries[1]);
    assert_eq!(ok["method"], "upsert_points");
    assert_eq!(ok["api"], "/collections/docs/points");
    assert_eq!(ok["auth_type"], "ApiKey");
    assert_eq!(ok["remote"], "127.0.0.1");
    assert_eq!(ok["collection"], "docs");
    assert_eq!(ok["tracing_id"], "req-42");
    assert_eq!(ok["result"], "ok");
    assert_eq!(ok["transport"], "rest");
    assert!(ok.get("error").is_none() && ok.get("key_id").is_none());
    let timestamp = ok["timestamp"].as_str().unwrap();
    assert!(
        DateTime::parse_from_rfc3339(timestamp).is_ok(),
        "{timestamp}"
    );
    assert_eq!(denied["result"], "denied");
    assert_eq!(denied["auth_type"], "None");
    assert_eq!(denied["error"], "Invalid API key or JWT");
}

/// `log_api: false` leaves out the path of authorized requests, but a failed
/// authentication keeps it: it has nothing else to be known by.
#[test]
fn log_api_off_keeps_the_path_of_failed_authentication_only() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(AuditConfig {
        log_api: false,
        ..config(dir.path())
    })
    .unwrap();
    let principal = admin();
    let facts = RequestFacts::default();
    assert!(
        log.entry(&facts, decision(Some(&principal), None), Utc::now())
            .api
            .is_none()
    );
    assert!(
        log.entry(&facts, decision(None, Some("no")), Utc::now())
            .api
            .is_some()
    );
}

/// Secrets never reach the file: the credential headers are not read at all,
/// whatever else the request carries.
#[test]
fn no_credential_is_ever_written() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(config(dir.path())).unwrap();
    let principal = admin();
    let mut headers = admin_headers();
    headers.insert("authorization", format!("Bearer {ADMIN}").parse().unwrap());
    let facts = log.request_facts(&headers, None);
    log.record(&facts, decision(Some(&principal), None));
    log.record(&facts, decision(None, Some("Invalid API key or JWT")));
    log.flush();
    let text = fs::read_to_string(file_path(dir.path(), &Rotation::Daily.tag(Utc::now()))).unwrap();
    assert_eq!(text.lines().count(), 2);
    assert!(!text.contains(ADMIN), "{text}");
    assert!(!text.contains("Bearer"), "{text}");
}

/// The forwarded address is used only when trusted: otherwise any client
/// could write whatever address it likes into the log.
#[test]
fn forwarded_address_only_when_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("x-forwarded-for", "203.0.113.9, 10.0.0.1".parse().unwrap());
    let peer = Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
    let untrusting = AuditLog::open(config(dir.path())).unwrap();
    assert_eq!(
        untrusting.request_facts(&headers, peer).remote.as_deref(),
        Some("10.0.0.1")
    );
    let trusting = AuditLog::open(AuditConfig {
        trust_forwarded_headers: true,
        ..config(dir.path())
    })
    .unwrap();
    assert_eq!(
        trusting.request_facts(&headers, peer).remote.as_deref(),
        Some("203.0.113.9")
    );
    let mut long = HeaderMap::new();
    long.insert("traceparent", "t".repeat(300).parse().unwrap());
    let id = trusting.request_facts(&long, None).tracing_id.unwrap();
    assert_eq!(id.len(), MAX_TRACING_ID_LEN);
    assert_eq!(truncate("ééé", 5), "éé");
}

/// Reading: newest first, filters on any top-level field, time range
/// half-open, limit applied across files.
#[test]
fn query_filters_and_orders_across_files() {
    let dir = tempfile::tempdir().unwrap();
    let line = |time: &str, method: &str, result: &str| {
        format!(
            "{{\"timestamp\":\"{time}\",\"method\":\"{method}\",\"auth_type\":\"ApiKey\",\"result\":\"{result}\",\"transport\":\"rest\"}}\n"
        )
    };
    fs::write(
        dir.path().join("audit.2024-06-14.log"),
        line("2024-06-14T10:00:00Z", "get_points", "ok")
            + &line("2024-06-14T11:00:00Z", "upsert_points", "denied"),
    )
    .unwrap();
    fs::write(
        dir.path().join("audit.2024-06-15.log"),
        line("2024-06-15T09:00:00Z", "upsert_points", "ok")
            + "not json\n"
            + &line("2024-06-15T10:00:00Z", "get_points", "ok"),
    )
    .unwrap();
    let times = |query: AuditQuery| -> Vec<String> {
        read_entries(dir.path(), &query)
            .unwrap()
            .iter()
            .map(|e| e["timestamp"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = AuditQuery {
        limit: 100,
        ..AuditQuery::default()
    };
    assert_eq!(
        times(all.clone()),
        [
            "2024-06-15T10:00:00Z",
            "2024-06-15T09:00:00Z",
            "2024-06-14T11:00:00Z",
            "2024-06-14T10:00:00Z"
        ]
    );
    assert_eq!(
        times(AuditQuery {
            limit: 3,
            ..all.clone()
        })
        .len(),
        3
    );
    let upserts = AuditQuery {
        filters: vec![("method".into(), "upsert_points".into())],
        ..all.clone()
    };
    assert_eq!(
        times(upserts),
        ["2024-06-15T09:00:00Z", "2024-06-14T11:00:00Z"]
    );
    let missing_field = AuditQuery {
        filters: vec![("collection".into(), "docs".into())],
        ..all.clone()
    };
    assert!(times(missing_field).is_empty());
    let window = AuditQuery {
        time_from: Some(at("2024-06-14T11:00:00Z")),
        time_to: Some(at("2024-06-15T10:00:00Z")),
        ..all
    };
    assert_eq!(
        times(window),
        ["2024-06-15T09:00:00Z", "2024-06-14T11:00:00Z"]
    );
}

/// A directory that cannot be written loses lines and logs it, but recording
/// never panics or blocks (requests must not fail because of the audit file).
#[test]
fn an_unwritable_directory_does_not_fail_the_caller() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(config(&dir.path().join("audit"))).unwrap();
    // Replace the directory by a file: every open now fails.
    fs::remove_dir_all(dir.path().join("audit")).unwrap();
    fs::write(dir.path().join("audit"), "").unwrap();
    let principal = admin();
    for _ in 0..3 {
        log.record(&RequestFacts::default(), decision(Some(&principal), None));
    }
    log.flush();
    assert!(matches!(
        log.query(&AuditQuery {
            limit: 1,
            ..AuditQuery::default()
        }),
        Err(AuditError::Dir { .. }) | Ok(_)
    ));
}
