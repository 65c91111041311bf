//! Property tests: invariants of access decisions that must hold for any
//! token, and robustness of authentication against arbitrary input.

use std::sync::LazyLock;

use http::{HeaderMap, HeaderValue};
use osprey_auth::{AuthError, Authenticator, Principal, Requirement};
use proptest::prelude::*;
use serde_json::json;

use crate::support::*;

static AUTH: LazyLock<Authenticator> = LazyLock::new(standard);

const NAMES: [&str; 4] = ["a", "b", "c", "A"];

/// A principal from a minted token: global r/m, or unique entries over NAMES.
fn principal() -> impl Strategy<Value = Principal> {
    let global = prop_oneof![Just(json!({"access": "r"})), Just(json!({"access": "m"}))];
    let entry = (
        0..NAMES.len(),
        prop_oneof![Just("r"), Just("rw"), Just("prw")],
    );
    let list = proptest::collection::btree_map(
        entry.clone().prop_map(|(i, _)| i),
        entry.prop_map(|(_, m)| m),
        0..=NAMES.len(),
    )
    .prop_map(|entries| {
        let items: Vec<_> = entries
            .into_iter()
            .map(|(i, mode)| json!({"collection": NAMES[i], "access": mode}))
            .collect();
        json!({ "access": items })
    });
    prop_oneof![global, list].prop_map(|claims| check(&AUTH, &jwt(ADMIN, claims)).unwrap())
}

fn name() -> impl Strategy<Value = &'static str> {
    proptest::sample::select(&NAMES[..])
}

proptest! {
    /// Prevents a stronger requirement from ever passing where a weaker one
    /// fails (the levels of §8 are ordered), and collection tokens from ever
    /// passing a global or collection-manage check.
    #[test]
    fn requirements_are_monotone(p in principal(), c in name()) {
        let ok = |r: Requirement| p.authorize(&r).is_ok();
        let read = ok(Requirement::CollRead(c.into()));
        let read_extras = ok(Requirement::CollReadExtras(c.into()));
        let write = ok(Requirement::CollWrite(c.into()));
        let write_extras = ok(Requirement::CollWriteExtras(c.into()));
        let manage = ok(Requirement::CollManage(c.into()));
        prop_assert!(!read_extras || read);
        prop_assert!(!write || read);
        prop_assert!(!write_extras || (write && read_extras));
        prop_assert!(!manage || write_extras);
        prop_assert!(!ok(Requirement::GlobalManage) || ok(Requirement::GlobalRead));
        prop_assert!(ok(Requirement::None) && ok(Requirement::AnyAuth));
        if !p.is_global() {
            prop_assert!(!ok(Requirement::GlobalRead));
            prop_assert!(!manage);
        } else {
            prop_assert!(read && read_extras);
        }
    }

    /// Prevents listing, lookup references and read access from disagreeing
    /// about which collections a token can see, and keeps the exact reason for
    /// names outside the token.
    #[test]
    fn visibility_is_consistent(p in principal(), c in name()) {
        let visible = p.can_list_collection(c);
        prop_assert_eq!(p.authorize(&Requirement::CollRead(c.into())).is_ok(), visible);
        prop_assert_eq!(p.check_collection_reference(c).is_ok(), visible);
        if !visible {
            let expected = format!("Access to collection {c} is required");
            for r in [
                Requirement::CollRead(c.into()),
                Requirement::CollReadExtras(c.into()),
                Requirement::CollWrite(c.into()),
                Requirement::CollWriteExtras(c.into()),
                Requirement::CollManage(c.into()),
            ] {
                let denied = p.authorize(&r).unwrap_err();
                prop_assert_eq!(denied.reason(), expected.as_str());
            }
        }
    }

    /// Prevents panics and accidental acceptance on arbitrary header bytes:
    /// anything that is not one of the keys is refused with a 401/403 error.
    #[test]
    fn arbitrary_headers_never_panic(
        key in proptest::collection::vec(any::<u8>(), 0..64),
        auth_value in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut headers = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_bytes(&key) { headers.insert("api-key", v); }
        if let Ok(v) = HeaderValue::from_bytes(&auth_value) { headers.insert("authorization", v); }
        match AUTH.authenticate(&headers) {
            Ok(p) => prop_assert!(false, "accepted {:?}", p),
            Err(e) => prop_assert!(matches!(e.http_status(), 401 | 403)),
        }
    }

    /// Prevents panics in JWT decoding on arbitrary three-part strings, and any
    /// acceptance of a token that was not signed with the admin key.
    #[test]
    fn arbitrary_tokens_never_accepted(
        header in "[A-Za-z0-9_-]{0,40}",
        payload in "[A-Za-z0-9_-]{0,80}",
        signature in "[A-Za-z0-9_-]{0,50}",
    ) {
        let token = format!("{header}.{payload}.{signature}");
        prop_assert!(matches!(
            check(&AUTH, &token),
            Err(AuthError::InvalidCredential | AuthError::InvalidSignature)
        ));
    }

    /// Prevents any claims JSON from being honoured when signed with a key
    /// other than the admin key.
    #[test]
    fn foreign_signatures_never_accepted(access in prop_oneof![Just(json!("m")), Just(json!("r")), Just(json!([]))]) {
        let token = jwt(WRONG, json!({ "access": access }));
        prop_assert_eq!(check(&AUTH, &token), Err(AuthError::InvalidSignature));
    }
}
