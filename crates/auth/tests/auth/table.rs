//! The embedded table of access (spec/access-table.tsv) against the crate's
//! lookup functions and against an independent reading of spec §8.

use std::collections::BTreeMap;
use std::path::Path;

use osprey_auth::{Interface, Principal, RuleKind, grpc_rule, rest_rule, rules};
use serde_json::json;

use crate::support::*;

const EMBEDDED: &str = include_str!("../../spec/access-table.tsv");

/// The TSV's rows, parsed here by a separate, naive reader.
fn rows() -> Vec<[&'static str; 7]> {
    EMBEDDED
        .lines()
        .skip(1)
        .filter(|line| !line.is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            fields
                .try_into()
                .unwrap_or_else(|f: Vec<&str>| panic!("bad row {f:?}"))
        })
        .collect()
}

/// What the `required_access` column (and, for `global_manage`, the notes)
/// must map to.
fn expected_kind(required_access: &str, notes: &str) -> RuleKind {
    match required_access {
        "none" => RuleKind::None,
        "any_auth" => RuleKind::AnyAuth,
        "global_read" => RuleKind::GlobalRead,
        "global_manage" if notes.contains("'Manage access for this operation is required'") => {
            RuleKind::CollManage
        }
        "global_manage" => RuleKind::GlobalManage,
        "coll_read" => RuleKind::CollRead,
        "coll_read_extras" => RuleKind::CollReadExtras,
        "coll_write" => RuleKind::CollWrite,
        "coll_write_extras" => RuleKind::CollWriteExtras,
        "internal_p2p" => RuleKind::InternalP2p,
        other => panic!("unknown required_access {other:?}"),
    }
}

/// Prevents a route or rpc without a rule (an open door) and any unknown
/// `required_access` value: every REST and gRPC row resolves to its kind.
#[test]
fn every_row_maps_to_a_rule_kind() {
    let rows = rows();
    assert_eq!(rows.len(), 202, "spec §8 says 202 data rows");
    assert_eq!(rules().len(), rows.len());
    for (row, rule) in rows.iter().zip(rules()) {
        let [interface, method, path, operation, access, notes, exposure] = *row;
        let kind = expected_kind(access, notes);
        let found = match interface {
            "rest" => rest_rule(method, path),
            "grpc" => {
                assert_eq!(method, "RPC");
                assert_eq!(grpc_rule(&format!("/{path}")), grpc_rule(path));
                grpc_rule(path)
            }
            other => panic!("unknown interface {other:?}"),
        };
        assert_eq!(found, Some(kind), "{interface} {method} {path}");
        assert_eq!(
            (
                rule.method,
                rule.path,
                rule.operation,
                rule.kind,
                rule.notes,
                rule.exposure
            ),
            (method, path, operation, kind, notes, exposure)
        );
        assert_eq!(rule.interface == Interface::Rest, interface == "rest");
    }
}

/// Prevents rows from being lost or re-classified unnoticed: the per-exposure
/// counts of spec §8, and exactly the eight collection-manage rows.
#[test]
fn row_counts_match_the_spec() {
    let mut exposure = BTreeMap::new();
    for rule in rules() {
        *exposure.entry(rule.exposure).or_insert(0) += 1;
    }
    let expected = BTreeMap::from([
        ("openapi", 75),
        ("router-only", 21),
        ("staging-build-only", 3),
        ("static-ui", 1),
        ("grpc-public", 59),
        ("grpc-public+p2p", 1),
        ("grpc-public-extra", 2),
        ("grpc-internal", 40),
    ]);
    assert_eq!(exposure, expected);

    let mut coll_manage: Vec<String> = rules()
        .iter()
        .filter(|r| r.kind == RuleKind::CollManage)
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    coll_manage.sort();
    assert_eq!(
        coll_manage,
        [
            "GET /collections/{collection_name}/shards/{shard}/recovery_point",
            "GET /collections/{collection_name}/shards/{shard}/wal",
            "POST /collections/{collection_name}/cluster",
            "POST /collections/{collection_name}/shards/delete",
            "PUT /collections/{collection_name}/shards",
            "RPC qdrant.Collections/CreateShardKey",
            "RPC qdrant.Collections/DeleteShardKey",
            "RPC qdrant.Collections/UpdateCollectionClusterSetup",
        ]
    );
}

/// Prevents the embedded copy from drifting from the shared spec. Skipped when
/// the shared tree is not next to the workspace (e.g. a published crate).
#[test]
fn embedded_copy_equals_shared_spec() {
    let shared =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/spec/access-table.tsv");
    let Ok(text) = std::fs::read_to_string(&shared) else {
        eprintln!("skipped: {} not found", shared.display());
        return;
    };
    assert!(
        text == EMBEDDED,
        "crates/auth/spec/access-table.tsv differs from {}",
        shared.display()
    );
}

/// Prevents lookups from matching loosely (wrong verb, concrete paths,
/// unknown rpcs) and spot-checks well-known rows.
#[test]
fn lookups_are_exact() {
    assert_eq!(rest_rule("GET", "/collections"), Some(RuleKind::AnyAuth));
    assert_eq!(
        rest_rule("PUT", "/collections/{collection_name}"),
        Some(RuleKind::GlobalManage)
    );
    assert_eq!(
        rest_rule("PUT", "/collections/{collection_name}/shards"),
        Some(RuleKind::CollManage)
    );
    assert_eq!(
        rest_rule(
            "GET",
            "/collections/{collection_name}/shards/{shard_id}/snapshot"
        ),
        Some(RuleKind::CollWriteExtras)
    );
    assert_eq!(rest_rule("GET", "/dashboard"), Some(RuleKind::None));
    assert_eq!(rest_rule("get", "/collections"), None);
    assert_eq!(rest_rule("POST", "/collections"), None);
    assert_eq!(rest_rule("GET", "/collections/docs"), None);
    assert_eq!(rest_rule("GET", "/collections/"), None);
    assert_eq!(grpc_rule("qdrant.Points/Upsert"), Some(RuleKind::CollWrite));
    assert_eq!(
        grpc_rule("/qdrant.Qdrant/HealthCheck"),
        Some(RuleKind::None)
    );
    assert_eq!(grpc_rule("qdrant.Raft/Send"), Some(RuleKind::InternalP2p));
    assert_eq!(grpc_rule("qdrant.Points/Nope"), None);
    assert_eq!(grpc_rule("//qdrant.Points/Upsert"), None);
}

/// The table swept end to end: for every row and every test-pointer principal,
/// `rule.requirement(Some("c"))` must agree with the "who passes" column of
/// §8 (internal_p2p: only global manage, our hardening). Prevents a RuleKind
/// -> Requirement mapping that disagrees with the spec on any real operation.
#[test]
fn every_row_against_every_principal() {
    let auth = standard();
    let token = |claims| check(&auth, &jwt(ADMIN, claims)).unwrap();
    let principals: Vec<(&str, Principal)> = vec![
        ("admin", check(&auth, ADMIN).unwrap()),
        ("ro", check(&auth, READ_ONLY).unwrap()),
        ("m", token(json!({"access": "m"}))),
        ("r", token(json!({"access": "r"}))),
        ("c_rw", token(collections(&[("c", "rw")]))),
        ("c_r", token(collections(&[("c", "r")]))),
        ("c_prw", token(collections(&[("c", "prw")]))),
        ("other_rw", token(collections(&[("other", "rw")]))),
    ];
    let passes = |access: &str, who: &str| -> bool {
        let set: &[&str] = match access {
            "none" | "any_auth" => &["admin", "ro", "m", "r", "c_rw", "c_r", "c_prw", "other_rw"],
            "global_read" => &["admin", "ro", "m", "r"],
            "global_manage" | "internal_p2p" => &["admin", "m"],
            "coll_read" => &["admin", "ro", "m", "r", "c_rw", "c_r", "c_prw"],
            "coll_read_extras" => &["admin", "ro", "m", "r", "c_rw", "c_r"],
            "coll_write" => &["admin", "m", "c_rw", "c_prw"],
            "coll_write_extras" => &["admin", "m", "c_rw"],
            other => panic!("unknown {other}"),
        };
        set.contains(&who)
    };
    let mut failures = Vec::new();
    for (rule, row) in rules().iter().zip(rows()) {
        let access = row[4];
        let requirement = rule.kind.requirement(Some("c"));
        for (who, principal) in &principals {
            let allowed = principal.authorize(&requirement).is_ok();
            if allowed != passes(access, who) {
                failures.push(format!(
                    "{} {} as {who}: allowed={allowed}",
                    rule.method, rule.path
                ));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// Prevents collection-scoped tokens from getting the wrong reason on the
/// two kinds of `global_manage` rows: lifecycle operations say "Global access
/// is required", collection-level manage checks say "Manage access …".
#[test]
fn global_manage_vs_collection_manage_reasons() {
    let auth = standard();
    let rw = check(&auth, &jwt(ADMIN, collections(&[("c", "rw")]))).unwrap();
    let ro = check(&auth, READ_ONLY).unwrap();
    let reason = |p: &Principal, method, path| {
        let rule = rest_rule(method, path).unwrap();
        p.authorize(&rule.requirement(Some("c")))
            .unwrap_err()
            .reason()
            .to_owned()
    };
    assert_eq!(
        reason(&rw, "DELETE", "/collections/{collection_name}"),
        "Global access is required"
    );
    assert_eq!(
        reason(
            &rw,
            "POST",
            "/collections/{collection_name}/snapshots/upload"
        ),
        "Global access is required"
    );
    assert_eq!(
        reason(&rw, "PUT", "/collections/{collection_name}/shards"),
        "Manage access for this operation is required"
    );
    assert_eq!(
        reason(&ro, "PUT", "/collections/{collection_name}/shards"),
        "Global manage access is required"
    );
    let grpc = grpc_rule("qdrant.Collections/CreateShardKey").unwrap();
    assert_eq!(
        rw.authorize(&grpc.requirement(Some("c")))
            .unwrap_err()
            .reason(),
        "Manage access for this operation is required"
    );
}
