//! Spec §8: each principal against each requirement, with the exact §6
//! reasons. Principals are obtained end to end (keys and minted JWTs), so the
//! table also covers claim parsing.

use osprey_auth::{Principal, Requirement};
use serde_json::json;

use crate::support::*;

/// Principals of the spec's test pointers; `c` is the collection under test.
fn principals() -> Vec<(&'static str, Principal)> {
    let auth = standard();
    let token = |claims| check(&auth, &jwt(ADMIN, claims)).unwrap();
    vec![
        ("admin key", check(&auth, ADMIN).unwrap()),
        ("read-only key", check(&auth, READ_ONLY).unwrap()),
        ("jwt m", token(json!({"access": "m"}))),
        ("jwt no access", token(json!({}))),
        ("jwt r", token(json!({"access": "r"}))),
        ("c rw", token(collections(&[("c", "rw")]))),
        ("c r", token(collections(&[("c", "r")]))),
        ("c prw", token(collections(&[("c", "prw")]))),
        ("other rw", token(collections(&[("other", "rw")]))),
        ("empty list", token(json!({"access": []}))),
        // An entry for `c` next to others: the other entries must not leak in.
        ("c r + d rw", token(collections(&[("d", "rw"), ("c", "r")]))),
    ]
}

fn requirements() -> Vec<(&'static str, Requirement)> {
    vec![
        ("None", Requirement::None),
        ("AnyAuth", Requirement::AnyAuth),
        ("GlobalRead", Requirement::GlobalRead),
        ("GlobalManage", Requirement::GlobalManage),
        ("CollRead", Requirement::CollRead("c".into())),
        ("CollReadExtras", Requirement::CollReadExtras("c".into())),
        ("CollWrite", Requirement::CollWrite("c".into())),
        ("CollWriteExtras", Requirement::CollWriteExtras("c".into())),
        ("CollManage", Requirement::CollManage("c".into())),
    ]
}

const OK: &str = "ok";
const GLOBAL: &str = "Global access is required";
const GLOBAL_MANAGE: &str = "Global manage access is required";
const ACCESS_C: &str = "Access to collection c is required";
const WRITE_C: &str = "Write access to collection c is required";
const POINTS_C: &str = "Only points access is allowed for collection c";
const MANAGE_OP: &str = "Manage access for this operation is required";

/// Rows: principals; columns: None, AnyAuth, GlobalRead, GlobalManage,
/// CollRead, CollReadExtras, CollWrite, CollWriteExtras, CollManage.
const EXPECTED: [(&str, [&str; 9]); 11] = [
    ("admin key", [OK, OK, OK, OK, OK, OK, OK, OK, OK]),
    (
        "read-only key",
        [
            OK,
            OK,
            OK,
            GLOBAL_MANAGE,
            OK,
            OK,
            GLOBAL_MANAGE,
            GLOBAL_MANAGE,
            GLOBAL_MANAGE,
        ],
    ),
    ("jwt m", [OK, OK, OK, OK, OK, OK, OK, OK, OK]),
    ("jwt no access", [OK, OK, OK, OK, OK, OK, OK, OK, OK]),
    (
        "jwt r",
        [
            OK,
            OK,
            OK,
            GLOBAL_MANAGE,
            OK,
            OK,
            GLOBAL_MANAGE,
            GLOBAL_MANAGE,
            GLOBAL_MANAGE,
        ],
    ),
    ("c rw", [OK, OK, GLOBAL, GLOBAL, OK, OK, OK, OK, MANAGE_OP]),
    (
        "c r",
        [OK, OK, GLOBAL, GLOBAL, OK, OK, WRITE_C, WRITE_C, WRITE_C],
    ),
    (
        "c prw",
        [OK, OK, GLOBAL, GLOBAL, OK, POINTS_C, OK, POINTS_C, POINTS_C],
    ),
    (
        "other rw",
        [
            OK, OK, GLOBAL, GLOBAL, ACCESS_C, ACCESS_C, ACCESS_C, ACCESS_C, ACCESS_C,
        ],
    ),
    (
        "empty list",
        [
            OK, OK, GLOBAL, GLOBAL, ACCESS_C, ACCESS_C, ACCESS_C, ACCESS_C, ACCESS_C,
        ],
    ),
    (
        "c r + d rw",
        [OK, OK, GLOBAL, GLOBAL, OK, OK, WRITE_C, WRITE_C, WRITE_C],
    ),
];

/// The whole §8 matrix. Prevents any drift in who passes what and in the
/// reason strings, including the check order extras -> write -> manage
/// (prw on write+extras says "points only", r on manage says "write"), prw
/// vs extras, r vs write, and collection tokens on global operations.
#[test]
fn principal_by_requirement() {
    let principals = principals();
    let requirements = requirements();
    let mut failures = Vec::new();
    for ((name, principal), (expected_name, row)) in principals.iter().zip(EXPECTED) {
        assert_eq!(*name, expected_name);
        for ((requirement_name, requirement), expected) in requirements.iter().zip(row) {
            let actual = match principal.authorize(requirement) {
                Ok(()) => OK.to_owned(),
                Err(forbidden) => {
                    assert_eq!(
                        forbidden.to_string(),
                        format!("Forbidden: {}", forbidden.reason())
                    );
                    forbidden.reason().to_owned()
                }
            };
            if actual != expected {
                failures.push(format!(
                    "{name} x {requirement_name}: got {actual:?}, want {expected:?}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// Prevents filtered listings from showing collections outside the token, or
/// hiding any collection from global principals (§9).
#[test]
fn listing_filter() {
    for (name, principal) in principals() {
        let global = principal.is_global();
        let sees_c = principal.can_list_collection("c");
        let sees_d = principal.can_list_collection("d");
        let expect_c = global || matches!(name, "c rw" | "c r" | "c prw" | "c r + d rw");
        let expect_d = global || name == "c r + d rw";
        assert_eq!(sees_c, expect_c, "{name}");
        assert_eq!(sees_d, expect_d, "{name}");
        assert_eq!(
            principal.check_collection_reference("c").is_ok(),
            expect_c,
            "{name}"
        );
        assert!(!principal.can_list_collection("zzz") || global, "{name}");
    }
}
