//! A restart (drop and reopen) keeps records, revocations, signing secrets,
//! settings and `last_used_at`; keys minted before it keep working.

use osprey_auth::{AuthError, CredentialKind};
use osprey_keys::Settings;
use serde_json::json;

use crate::support::*;

#[test]
fn restart_keeps_everything() {
    let env = Env::new();
    let before_rotation = env.create(json!({"name": "before rotation", "expires_in_days": 30}));
    let rotated = env.registry.rotate_signing_key().unwrap();
    let tenant = env.create(json!({
        "name": "tenant",
        "access_rules": [{"collection_access": {"collection_name": "docs", "access_type": "read", "payload": {"tenant": "acme"}}}]
    }));
    let revoked = env.create(json!({"name": "revoked"}));
    env.registry.revoke(revoked.record.id).unwrap();
    env.registry
        .set_settings(Settings {
            granular_access: false,
        })
        .unwrap();
    let admin = env.create(json!({"name": "legacy admin", "kind": "admin"}));
    env.login(&admin.key).unwrap();
    let records = env.registry.list();
    let signing = env.registry.signing_keys();
    let used = env.registry.get(admin.record.id).unwrap().last_used_at;
    assert!(used.is_some());

    let env = env.restart();
    assert_eq!(env.registry.list(), records);
    assert_eq!(env.registry.signing_keys(), signing);
    assert_eq!(
        env.registry.get(admin.record.id).unwrap().last_used_at,
        used
    );
    assert!(!env.registry.settings().granular_access);
    assert_eq!(
        env.login(&admin.key).unwrap().credential(),
        CredentialKind::LegacyAdminKey
    );
    assert_eq!(
        env.login(&tenant.key),
        Err(stateful()),
        "granular access is still off"
    );

    env.registry
        .set_settings(Settings {
            granular_access: true,
        })
        .unwrap();
    let env = env.restart();
    assert!(env.registry.settings().granular_access);
    let principal = env.login(&tenant.key).unwrap();
    assert_eq!(
        principal.payload_restriction("docs"),
        Some(json!({"tenant": "acme"}).as_object().unwrap())
    );
    assert!(env.login(&before_rotation.key).is_ok());
    assert_eq!(env.login(&revoked.key), Err(stateful()));
    let new = env.create(json!({"name": "after restart"}));
    assert_eq!(
        new.record.kid.as_deref(),
        Some(rotated.kid.as_str()),
        "current kid kept"
    );
    let _ = AuthError::InvalidCredential;
}

/// Only hashes are stored: the file never contains a key.
#[test]
fn keys_are_never_stored() {
    let env = Env::new();
    let granular = env.create(json!({"name": "granular"}));
    env.registry
        .set_settings(Settings {
            granular_access: false,
        })
        .unwrap();
    let admin = env.create(json!({"name": "legacy", "kind": "admin"}));
    let path = env.dir.path().join(osprey_keys::REGISTRY_FILE);
    let env = env.restart();
    let bytes = std::fs::read(&path).unwrap();
    for key in [&granular.key, &admin.key] {
        let needle = key.as_bytes();
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "a key is in the registry file"
        );
        // Not even its signature part.
        let tail = &needle[needle.len() - 20..];
        assert!(!bytes.windows(tail.len()).any(|w| w == tail));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o077,
            0,
            "the registry holds signing secrets: owner only"
        );
    }
    drop(env);
}

/// A file from a newer format is refused, not misread.
#[test]
fn unknown_format_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(osprey_keys::KeyRegistry::open(dir.path()).unwrap());
    {
        let db = redb::Database::create(dir.path().join(osprey_keys::REGISTRY_FILE)).unwrap();
        let tx = db.begin_write().unwrap();
        {
            let mut table = tx
                .open_table(redb::TableDefinition::<&str, &[u8]>::new("settings"))
                .unwrap();
            table.insert("format_version", b"99".as_slice()).unwrap();
        }
        tx.commit().unwrap();
    }
    let error = osprey_keys::KeyRegistry::open(dir.path()).unwrap_err();
    assert_eq!(error.http_status(), 500);
    assert!(error.to_string().contains("format version 99"), "{error}");
}
