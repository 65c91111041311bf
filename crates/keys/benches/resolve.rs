//! What resolving a credential costs per request, through the
//! `Authenticator` as the front ends call it (header extraction, SHA-256 of
//! the credential, static-key checks, then the registry or §7).
//!
//! Run: `cargo bench -p osprey-keys --bench resolve`. A plain
//! `std::time::Instant` loop (no criterion): it prints nanoseconds per
//! request for each kind of credential. Not a test; nothing is asserted
//! about time.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use http::{HeaderMap, HeaderValue};
use osprey_auth::{AuthConfig, Authenticator, KeyResolver};
use osprey_keys::{CreateKeyRequest, KeyRegistry, Settings};
use serde_json::json;
use sha2::Digest;

const ROOT: &str = "bench-root-key-0123456789abcdef-0123456789";
const ITERATIONS: u32 = 200_000;

fn headers(credential: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("api-key", HeaderValue::from_str(credential).unwrap());
    headers
}

fn create(registry: &KeyRegistry, body: serde_json::Value) -> String {
    let request = CreateKeyRequest::from_json(body.to_string().as_bytes()).unwrap();
    registry.create(request, "root:bench").unwrap().key
}

fn measure(label: &str, mut f: impl FnMut()) {
    for _ in 0..ITERATIONS / 10 {
        f();
    }
    let mut best = f64::MAX;
    // Best of five rounds: the machine is shared.
    for _ in 0..5 {
        let start = Instant::now();
        for _ in 0..ITERATIONS {
            f();
        }
        best = best.min(start.elapsed().as_nanos() as f64 / f64::from(ITERATIONS));
    }
    println!("{label:<58} {best:>8.0} ns/request");
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let registry = KeyRegistry::open(dir.path()).unwrap();
    let auth = Authenticator::new(AuthConfig {
        api_key: Some(ROOT.into()),
        read_only_api_key: Some("bench-read-only-key-0123456789abcdef".into()),
        jwt_rbac: true,
        ..AuthConfig::default()
    })
    .with_key_resolver(registry.clone());
    let plain = Authenticator::new(AuthConfig {
        api_key: Some(ROOT.into()),
        read_only_api_key: Some("bench-read-only-key-0123456789abcdef".into()),
        jwt_rbac: true,
        ..AuthConfig::default()
    });

    // A realistic registry: a thousand other keys.
    for i in 0..1_000 {
        create(&registry, json!({"name": format!("filler {i}")}));
    }
    let global = create(
        &registry,
        json!({"name": "global read", "access_rules": [{"global_access": {"access_type": "read"}}]}),
    );
    let one_collection = create(
        &registry,
        json!({"name": "tenant", "access_rules": [{"collection_access": {
            "collection_name": "docs", "access_type": "read-write", "payload": {"tenant": "acme"}
        }}]}),
    );
    let twenty: Vec<_> = (0..20)
        .map(|i| {
            json!({"collection_access": {
                "collection_name": format!("collection-{i}"), "access_type": "read-write",
                "payload": {"tenant": "acme", "region": "eu"}
            }})
        })
        .collect();
    let twenty_rules = create(
        &registry,
        json!({"name": "twenty rules", "access_rules": twenty}),
    );
    registry
        .set_settings(Settings {
            granular_access: false,
        })
        .unwrap();
    let admin_kind = create(&registry, json!({"name": "legacy", "kind": "admin"}));
    registry
        .set_settings(Settings {
            granular_access: true,
        })
        .unwrap();
    let qdrant_jwt = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"access": [{"collection": "docs", "access": "rw"}]}),
        &jsonwebtoken::EncodingKey::from_secret(ROOT.as_bytes()),
    )
    .unwrap();

    println!("resolve cost per request ({ITERATIONS} requests per round, best of 5)");
    let cases = [
        (
            "static api_key (baseline, no registry)",
            &plain,
            ROOT.to_owned(),
        ),
        ("static api_key, registry installed", &auth, ROOT.to_owned()),
        (
            "Qdrant JWT, no kid (§7), no registry",
            &plain,
            qdrant_jwt.clone(),
        ),
        (
            "Qdrant JWT, no kid (§7), registry installed",
            &auth,
            qdrant_jwt.clone(),
        ),
        ("registry granular key, global read", &auth, global.clone()),
        (
            "registry granular key, 1 collection + payload",
            &auth,
            one_collection.clone(),
        ),
        (
            "registry granular key, 20 collections + payload",
            &auth,
            twenty_rules.clone(),
        ),
        ("registry admin-kind key", &auth, admin_kind.clone()),
        (
            "unknown opaque key (401)",
            &auth,
            "no-such-key-0123456789".to_owned(),
        ),
    ];
    for (label, authenticator, credential) in &cases {
        let headers = headers(credential);
        measure(label, || {
            let _ = black_box(authenticator.authenticate(black_box(&headers)));
        });
    }
    // The resolver alone (no header parsing, no hashing).
    let digest: [u8; 32] = sha2::Sha256::digest(one_collection.as_bytes()).into();
    measure("KeyResolver::resolve alone, 1 collection + payload", || {
        let _ = black_box(registry.resolve(black_box(&one_collection), &digest));
    });

    // Two threads resolving at once: the index is behind a read lock.
    let registry = Arc::new(auth);
    let start = Instant::now();
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let auth = registry.clone();
            let headers = headers(&one_collection);
            std::thread::spawn(move || {
                for _ in 0..ITERATIONS {
                    let _ = black_box(auth.authenticate(black_box(&headers)));
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let per = start.elapsed().as_nanos() as f64 / f64::from(2 * ITERATIONS);
    println!(
        "{:<58} {per:>8.0} ns/request (wall time / requests)",
        "2 threads, granular key, 1 collection + payload"
    );
}
