//! Every endpoint of `/api-keys` through the router, and every refusal:
//! bad input names its field (400), unknown ids are 404, and only root
//! credentials get in (403 otherwise).

use http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

/// Create answers the record with the key, once; list and get never show it.
#[tokio::test]
async fn create_list_get() {
    let env = Env::new();
    let root = ROOT;
    let (status, body) = env
        .call(
            Some(root),
            Method::POST,
            "/api-keys",
            Some(json!({
                "name": "tenant acme",
                "expires_in_days": 90,
                "access_rules": [{"collection_access": {
                    "collection_name": "docs", "access_type": "read-write",
                    "payload": {"tenant": "acme"}
                }}]
            })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let created = &body["result"];
    let key = created["key"].as_str().unwrap();
    assert!(key.starts_with("eyJhb"), "{key}");
    assert_eq!(created["postfix"], key[key.len() - 6..]);
    assert_eq!(created["kind"], "granular");
    assert_eq!(created["name"], "tenant acme");
    assert_eq!(created["created_by"], "root:456789");
    assert!(created["expires_at"].is_string());
    assert!(created["revoked_at"].is_null());
    assert!(created["last_used_at"].is_null());
    assert_eq!(
        created["access_rules"],
        json!([{"collection_access": {"collection_name": "docs", "access_type": "read-write", "payload": {"tenant": "acme"}}}])
    );
    let id = created["id"].as_str().unwrap().to_owned();

    let (_, second) = env
        .call(
            Some(root),
            Method::POST,
            "/api-keys",
            Some(json!({"name": "second", "created_by": "ci pipeline"})),
        )
        .await;
    assert_eq!(second["result"]["created_by"], "ci pipeline");
    assert!(second["result"]["expires_at"].is_null());
    assert_eq!(
        second["result"]["access_rules"],
        json!([{"global_access": {"access_type": "manage"}}])
    );

    let (status, list) = env.call(Some(root), Method::GET, "/api-keys", None).await;
    assert_eq!(status, StatusCode::OK);
    let records = list["result"].as_array().unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["name"], "second", "newest first");
    assert_eq!(records[1]["id"], id.as_str());
    assert!(records.iter().all(|r| r.get("key").is_none()));

    let (status, one) = env
        .call(Some(root), Method::GET, &format!("/api-keys/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["result"]["id"], id.as_str());
    assert!(one["result"].get("key").is_none());
    assert!(!one.to_string().contains(key));
}

/// Revoke is idempotent and keeps the record; unknown ids are 404, malformed
/// ones 400.
#[tokio::test]
async fn revoke_and_not_found() {
    let env = Env::new();
    let root = ROOT;
    let id = env.create(json!({"name": "to revoke"})).record.id;
    let path = format!("/api-keys/{id}");
    let (status, first) = env.call(Some(root), Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    let revoked_at = first["result"]["revoked_at"].clone();
    assert!(revoked_at.is_string());
    let (status, again) = env.call(Some(root), Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::OK, "revoking twice is not an error");
    assert_eq!(again["result"]["revoked_at"], revoked_at);
    let (_, kept) = env.call(Some(root), Method::GET, &path, None).await;
    assert_eq!(kept["result"]["revoked_at"], revoked_at);

    let missing = uuid::Uuid::new_v4();
    for method in [Method::GET, Method::DELETE] {
        let (status, body) = env
            .call(Some(root), method, &format!("/api-keys/{missing}"), None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(
            body["status"]["error"],
            format!("Not found: API key {missing} does not exist")
        );
    }
    let (status, body) = env
        .call(Some(root), Method::DELETE, "/api-keys/abc123", None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["status"]["error"],
        "Bad request: id: `abc123` is not a UUID"
    );
}

/// Settings are live and persisted; admin keys are refused while granular
/// access is on, granular keys while it is off.
#[tokio::test]
async fn settings_and_kinds() {
    let env = Env::new();
    let root = ROOT;
    let (status, body) = env
        .call(Some(root), Method::GET, "/api-keys/settings", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["result"],
        json!({"granular_access": true}),
        "new storage starts on"
    );

    let admin = json!({"name": "legacy admin", "kind": "admin"});
    let (status, body) = env
        .call(Some(root), Method::POST, "/api-keys", Some(admin.clone()))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["status"]["error"]
            .as_str()
            .unwrap()
            .starts_with("Bad request: kind: new admin keys cannot be created"),
        "{body}"
    );

    let (status, body) = env
        .call(
            Some(root),
            Method::PUT,
            "/api-keys/settings",
            Some(json!({"granular_access": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["result"]["granular_access"], false);
    let (status, body) = env
        .call(Some(root), Method::POST, "/api-keys", Some(admin))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let key = body["result"]["key"].as_str().unwrap();
    assert_eq!(key.len(), 43, "256 random bits, base64url");
    assert!(!key.starts_with("eyJ"));
    assert_eq!(body["result"]["access_rules"], json!([]));
    assert!(body["result"].get("kid").is_none());
    let (status, _) = env
        .call(
            Some(root),
            Method::POST,
            "/api-keys",
            Some(json!({"name": "granular"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    for bad in [
        json!({}),
        json!({"granular_access": "yes"}),
        json!({"granular_access": true, "x": 1}),
    ] {
        let (status, body) = env
            .call(
                Some(root),
                Method::PUT,
                "/api-keys/settings",
                Some(bad.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert!(
            body["status"]["error"]
                .as_str()
                .unwrap()
                .contains("granular_access")
                || body["status"]["error"].as_str().unwrap().contains("`x`"),
            "{body}"
        );
    }
}

/// Rotation makes a new current secret; the current one cannot be retired;
/// an old one can, once.
#[tokio::test]
async fn signing_keys() {
    let env = Env::new();
    let root = ROOT;
    let (status, body) = env
        .call(Some(root), Method::GET, "/api-keys/signing-keys", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let first = body["result"][0]["kid"].as_str().unwrap().to_owned();
    assert_eq!(body["result"][0]["current"], true);
    assert!(!body.to_string().contains("secret"));

    let (status, rotated) = env
        .call(
            Some(root),
            Method::POST,
            "/api-keys/signing-keys/rotate",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let second = rotated["result"]["kid"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    assert_eq!(rotated["result"]["current"], true);

    let (status, body) = env
        .call(
            Some(root),
            Method::DELETE,
            &format!("/api-keys/signing-keys/{second}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["status"]["error"]
            .as_str()
            .unwrap()
            .starts_with("Bad request: kid:")
    );

    let (status, _) = env
        .call(
            Some(root),
            Method::DELETE,
            &format!("/api-keys/signing-keys/{first}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = env
        .call(
            Some(root),
            Method::DELETE,
            &format!("/api-keys/signing-keys/{first}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (_, body) = env
        .call(Some(root), Method::GET, "/api-keys/signing-keys", None)
        .await;
    assert_eq!(body["result"].as_array().unwrap().len(), 1);
}

async fn refused(env: &Env, body: Value) -> String {
    let (status, answer) = env
        .call(Some(ROOT), Method::POST, "/api-keys", Some(body))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    answer["status"]["error"].as_str().unwrap().to_owned()
}

/// Each refusal of §15's create rules, with the field named.
#[tokio::test]
async fn create_refusals_name_the_field() {
    let env = Env::new();
    for (name, field) in [
        ("abc", "name"),
        ("bad/name", "name"),
        (&"x".repeat(129)[..], "name"),
    ] {
        let message = refused(&env, json!({"name": name})).await;
        assert!(
            message.starts_with(&format!("Bad request: {field}: ")),
            "{message}"
        );
    }
    let message = refused(&env, json!({"access_rules": []})).await;
    assert_eq!(message, "Bad request: name: is required");

    let twenty_one: Vec<Value> = (0..21)
        .map(|i| collection_rule(&format!("c{i}"), "read"))
        .collect();
    let message = refused(
        &env,
        json!({"name": "many rules", "access_rules": twenty_one}),
    )
    .await;
    assert_eq!(
        message,
        "Bad request: access_rules: at most 20 rules are allowed, got 21"
    );

    let message = refused(
        &env,
        json!({"name": "mixed", "access_rules": [
            {"global_access": {"access_type": "read"}}, collection_rule("docs", "read")
        ]}),
    )
    .await;
    assert!(
        message
            .starts_with("Bad request: access_rules: a global_access rule must be the only rule"),
        "{message}"
    );

    let message = refused(&env, json!({"name": "unknown", "expires_in": 3})).await;
    assert!(
        message.starts_with("Format error in JSON body: unknown field `expires_in`"),
        "{message}"
    );
    let message = refused(
        &env,
        json!({"name": "unknown", "access_rules": [{"collection_access": {"collection_name": "a", "access_type": "read", "payloads": {}}}]}),
    )
    .await;
    assert!(
        message.contains("access_rules[0]") && message.contains("payloads"),
        "{message}"
    );
    let message = refused(
        &env,
        json!({"name": "unknown", "access_rules": [collection_rule("a", "write")]}),
    )
    .await;
    assert!(message.contains("access_rules[0]"), "{message}");

    let message = refused(&env, json!({"name": "payload", "access_rules": [{"collection_access": {"collection_name": "a", "access_type": "read", "payload": {"t": {"nested": 1}}}}]})).await;
    assert!(
        message.starts_with("Bad request: access_rules[0].collection_access.payload.t:"),
        "{message}"
    );
    let message = refused(
        &env,
        json!({"name": "expired", "expires_at": "2001-01-01T00:00:00Z"}),
    )
    .await;
    assert!(message.starts_with("Bad request: expires_at:"), "{message}");

    let (status, body) = env.call_raw(Method::POST, "/api-keys", "{not json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["status"]["error"]
            .as_str()
            .unwrap()
            .starts_with("Format error in JSON body:")
    );
    assert!(env.registry.list().is_empty(), "nothing refused was stored");
}

/// Only root may manage keys: the read-only key, Qdrant JWTs (even `m`),
/// registry keys (even admin-kind and global manage) and a request without a
/// principal are all 403 on every endpoint.
#[tokio::test]
async fn non_root_callers_are_refused() {
    let env = Env::new();
    let manage_key = env.create(json!({"name": "global manage"})).key;
    env.registry
        .set_settings(osprey_keys::Settings {
            granular_access: false,
        })
        .unwrap();
    let legacy = env.create(json!({"name": "legacy", "kind": "admin"})).key;
    env.registry
        .set_settings(osprey_keys::Settings {
            granular_access: true,
        })
        .unwrap();
    let qdrant_manage = qdrant_jwt(ROOT, json!({"access": "m"}));
    let callers = [
        Some(READ_ONLY),
        Some(qdrant_manage.as_str()),
        Some(manage_key.as_str()),
        Some(legacy.as_str()),
        None,
    ];
    let id = uuid::Uuid::new_v4();
    let endpoints = [
        (
            Method::POST,
            "/api-keys".to_owned(),
            Some(json!({"name": "escalate"})),
        ),
        (Method::GET, "/api-keys".to_owned(), None),
        (Method::GET, format!("/api-keys/{id}"), None),
        (Method::DELETE, format!("/api-keys/{id}"), None),
        (Method::GET, "/api-keys/settings".to_owned(), None),
        (
            Method::PUT,
            "/api-keys/settings".to_owned(),
            Some(json!({"granular_access": false})),
        ),
        (Method::GET, "/api-keys/signing-keys".to_owned(), None),
        (
            Method::POST,
            "/api-keys/signing-keys/rotate".to_owned(),
            None,
        ),
        (
            Method::DELETE,
            "/api-keys/signing-keys/abc".to_owned(),
            None,
        ),
        (Method::GET, "/api-keys/audit".to_owned(), None),
    ];
    for caller in &callers {
        for (method, path, body) in &endpoints {
            let (status, answer) = env.call(*caller, method.clone(), path, body.clone()).await;
            assert_eq!(
                status,
                StatusCode::FORBIDDEN,
                "{method} {path} by {caller:?}"
            );
            assert_eq!(
                answer["status"]["error"],
                "Forbidden: Root key required for key management"
            );
        }
    }
    // Nothing changed.
    assert_eq!(env.registry.list().len(), 2);
    assert!(env.registry.settings().granular_access);
    assert_eq!(env.registry.signing_keys().len(), 1);
    // The alternative admin key is root too.
    let (status, _) = env
        .call(Some(ALT_ROOT), Method::GET, "/api-keys", None)
        .await;
    assert_eq!(status, StatusCode::OK);
}

/// The audit endpoint filters by time, validates its parameters, and shows
/// the key-plane calls made through the router.
#[tokio::test]
async fn audit_endpoint() {
    let env = Env::new();
    let root = ROOT;
    let before = chrono::Utc::now();
    let (_, created) = env
        .call(
            Some(root),
            Method::POST,
            "/api-keys",
            Some(json!({"name": "audited"})),
        )
        .await;
    let id = created["result"]["id"].as_str().unwrap().to_owned();
    let key = created["result"]["key"].as_str().unwrap().to_owned();
    let since = before.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let (status, body) = env
        .call(
            Some(root),
            Method::GET,
            &format!("/api-keys/audit?since={}", since.replace('+', "%2B")),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let events = body["result"].as_array().unwrap();
    let create = events
        .iter()
        .find(|e| e["operation"] == "create_key")
        .unwrap();
    assert_eq!(create["target"], id.as_str());
    assert_eq!(create["outcome"], "ok");
    assert_eq!(create["credential"], "api_key");
    assert_eq!(create["key_postfix"], "456789");
    assert!(
        !body.to_string().contains(&key),
        "the key must never be in the log"
    );

    let future = (chrono::Utc::now() + chrono::Duration::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let (_, body) = env
        .call(
            Some(root),
            Method::GET,
            &format!("/api-keys/audit?since={future}"),
            None,
        )
        .await;
    assert_eq!(body["result"], json!([]));

    for bad in [
        "since=yesterday",
        "limit=0",
        "limit=x",
        "until=2020-01-01T00:00:00Z",
    ] {
        let (status, body) = env
            .call(
                Some(root),
                Method::GET,
                &format!("/api-keys/audit?{bad}"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    let (_, body) = env
        .call(Some(root), Method::GET, "/api-keys/audit?limit=1", None)
        .await;
    assert_eq!(body["result"].as_array().unwrap().len(), 1);
}
