//! The audit log as the front ends feed it: refused requests, with the key
//! id or postfix and never a secret.

use std::net::{IpAddr, Ipv4Addr};

use chrono::{Duration, Utc};
use osprey_keys::{Outcome, Refusal};
use serde_json::json;

use crate::support::*;

#[test]
fn refusals_are_logged_without_secrets() {
    let env = Env::new();
    let tenant =
        env.create(json!({"name": "tenant", "access_rules": [collection_rule("docs", "read")]}));
    let principal = env.login(&tenant.key).unwrap();
    let start = Utc::now() - Duration::seconds(1);

    env.registry.record_refusal(Refusal {
        operation: "PUT /collections/{collection_name}/points",
        principal: Some(&principal),
        credential: Some(&tenant.key),
        collection: Some("docs"),
        client: Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7))),
        status: 403,
        reason: "Forbidden: Write access to collection docs is required",
    });
    let wrong = "wrong-key-that-must-not-be-logged-xyz123";
    env.registry.record_refusal(Refusal {
        operation: "GET /collections",
        credential: Some(wrong),
        status: 401,
        reason: "Invalid API key or JWT",
        ..Refusal::default()
    });

    let events = env.registry.audit_since(start, 100).unwrap();
    assert_eq!(events.len(), 2, "{events:#?}");
    let denied = &events[0];
    assert_eq!(denied.outcome, Outcome::Denied);
    assert_eq!(denied.credential, "database_key");
    assert_eq!(
        denied.key_id.as_deref(),
        Some(tenant.record.id.to_string().as_str())
    );
    assert_eq!(
        denied.key_postfix.as_deref(),
        Some(tenant.record.postfix.as_str())
    );
    assert_eq!(denied.collection.as_deref(), Some("docs"));
    assert_eq!(denied.client.as_deref(), Some("10.0.0.7"));
    assert_eq!(denied.status, Some(403));
    let unknown = &events[1];
    assert_eq!(unknown.credential, "unauthenticated");
    assert_eq!(unknown.key_postfix.as_deref(), Some("xyz123"));

    let files: Vec<_> = std::fs::read_dir(env.dir.path().join(osprey_keys::AUDIT_DIR))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1);
    let text = std::fs::read_to_string(&files[0]).unwrap();
    assert_eq!(text.lines().count(), 2);
    assert!(!text.contains(&tenant.key));
    assert!(!text.contains("wrong-key-that"));
    for line in text.lines() {
        serde_json::from_str::<serde_json::Value>(line).expect("JSON lines");
    }
}
