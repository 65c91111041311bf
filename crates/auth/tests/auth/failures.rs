//! Every row of spec §6's failure table, and §6's order of JWT checks.

use osprey_auth::{
    Access, AuthConfig, AuthError, Authenticator, CredentialKind, GlobalAccess, GrpcCode,
};
use serde_json::json;

use crate::support::*;

/// Asserts the full wire answer of a failure: status, gRPC code and text.
fn assert_wire(
    result: Result<osprey_auth::Principal, AuthError>,
    status: u16,
    code: GrpcCode,
    text: &str,
) {
    let error = result.expect_err("expected an authentication failure");
    assert_eq!(error.http_status(), status, "{error:?}");
    assert_eq!(error.grpc_code(), code, "{error:?}");
    assert_eq!(error.message(), text, "{error:?}");
}

const INVALID: &str = "Invalid API key or JWT";

/// Row "no credential": prevents a request without `api-key` or a bearer token
/// from getting anything but 401 with Qdrant's exact text.
#[test]
fn no_credential() {
    let auth = standard();
    assert_wire(
        auth.authenticate(&http::HeaderMap::new()),
        401,
        GrpcCode::Unauthenticated,
        "Must provide an API key or an Authorization bearer token",
    );
}

/// Row "not a key, not a usable JWT": a wrong plain key. Prevents unknown keys
/// from being mistaken for JWTs with another status.
#[test]
fn wrong_key() {
    assert_wire(
        check(&standard(), "not-the-key"),
        401,
        GrpcCode::Unauthenticated,
        INVALID,
    );
    assert_wire(
        check(&standard(), ""),
        401,
        GrpcCode::Unauthenticated,
        INVALID,
    );
}

/// Row "JWT support off": prevents a correctly signed JWT from being honoured
/// without `jwt_rbac`.
#[test]
fn jwt_support_off() {
    let auth = Authenticator::new(AuthConfig {
        api_key: Some(ADMIN.into()),
        ..AuthConfig::default()
    });
    let token = jwt(ADMIN, json!({"access": "m"}));
    assert_wire(
        check(&auth, &token),
        401,
        GrpcCode::Unauthenticated,
        INVALID,
    );
}

/// Row "not three dot-separated base64url parts" and "header not JSON":
/// prevents garbage from reaching signature checking (which would say 403).
#[test]
fn malformed_tokens() {
    let auth = standard();
    let good = jwt(ADMIN, json!({}));
    let parts: Vec<&str> = good.split('.').collect();
    for token in [
        "a.b".to_owned(),
        "a.b.c".to_owned(),
        format!("{}.{}", parts[0], parts[1]),
        format!("{good}.extra"),
        format!("{}.{}.!!!", parts[0], parts[1]),
        raw_jwt(b"not json", b"{}", Some(ADMIN)),
        raw_jwt(b"{\"typ\":\"JWT\"}", b"{}", Some(ADMIN)),
        format!("eyJhb{}", &good[5..]).replace('.', ".."),
    ] {
        assert_wire(
            check(&auth, &token),
            401,
            GrpcCode::Unauthenticated,
            INVALID,
        );
    }
}

/// Row "alg other than HS256": prevents algorithm confusion (`none`, other
/// HMAC sizes, asymmetric algorithms with a forged signature).
#[test]
fn other_algorithms() {
    let auth = standard();
    let claims = json!({"access": "m"});
    let none = raw_jwt(
        br#"{"alg":"none","typ":"JWT"}"#,
        claims.to_string().as_bytes(),
        None,
    );
    let none_signed = raw_jwt(
        br#"{"alg":"none"}"#,
        claims.to_string().as_bytes(),
        Some(ADMIN),
    );
    let hs384 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS384),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(ADMIN.as_bytes()),
    )
    .unwrap();
    let hs512 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(ADMIN.as_bytes()),
    )
    .unwrap();
    // An HS256 MAC under an RS256 header: the classic key-confusion attack.
    let rs256 = raw_jwt(
        br#"{"alg":"RS256"}"#,
        claims.to_string().as_bytes(),
        Some(ADMIN),
    );
    let lowercase = raw_jwt(
        br#"{"alg":"hs256"}"#,
        claims.to_string().as_bytes(),
        Some(ADMIN),
    );
    for token in [none, none_signed, hs384, hs512, rs256, lowercase] {
        assert_wire(
            check(&auth, &token),
            401,
            GrpcCode::Unauthenticated,
            INVALID,
        );
    }
}

/// Row "claims JSON that does not fit §7": prevents lenient claim parsing
/// (wrong types, unknown or null `access`, fractional/negative `exp`).
#[test]
fn claims_that_do_not_fit() {
    let auth = standard();
    for claims in [
        json!({"sub": 5}),
        json!({"subject": ["x"]}),
        json!({"access": "x"}),
        json!({"access": "rw"}),
        json!({"access": null}),
        json!({"access": [{"collection": "c", "access": "m"}]}),
        json!({"access": [{"collection": 1, "access": "r"}]}),
        json!({"exp": (now() + 3600) as f64 + 0.5}),
        json!({"exp": -1}),
        json!({"exp": "9999999999"}),
        json!({"value_exists": {"collection": "c", "matches": [{"key": "k", "value": 1.5}]}}),
        json!(["not", "an", "object"]),
        json!("string"),
    ] {
        let token = jwt(ADMIN, claims.clone());
        assert_wire(
            check(&auth, &token),
            401,
            GrpcCode::Unauthenticated,
            INVALID,
        );
    }
    let not_json = raw_jwt(br#"{"alg":"HS256"}"#, b"{not json", Some(ADMIN));
    assert_wire(
        check(&auth, &not_json),
        401,
        GrpcCode::Unauthenticated,
        INVALID,
    );
}

/// Row "signature does not verify": prevents forged tokens from passing and
/// keeps Qdrant's 403 (not 401) for them.
#[test]
fn bad_signature() {
    let auth = standard();
    let token = jwt(WRONG, json!({"access": "m"}));
    assert_wire(
        check(&auth, &token),
        403,
        GrpcCode::PermissionDenied,
        "InvalidSignature",
    );
    // Tampered payload under a genuine signature.
    let genuine = jwt(ADMIN, json!({"access": "r"}));
    let parts: Vec<&str> = genuine.split('.').collect();
    let forged_payload = raw_jwt(
        br#"{"alg":"HS256","typ":"JWT"}"#,
        br#"{"access":"m"}"#,
        None,
    );
    let forged_payload = forged_payload.split('.').nth(1).unwrap();
    let tampered = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    assert_wire(
        check(&auth, &tampered),
        403,
        GrpcCode::PermissionDenied,
        "InvalidSignature",
    );
}

/// Row "exp more than 30 s in the past": prevents expired tokens from working
/// and the 30 s leeway from being dropped or widened; absent `exp` never expires.
#[test]
fn expiry_and_leeway() {
    let auth = standard();
    let expired = jwt(ADMIN, json!({"exp": now() - 31, "access": "m"}));
    assert_wire(
        check(&auth, &expired),
        403,
        GrpcCode::PermissionDenied,
        "ExpiredSignature",
    );
    let long_expired = jwt(ADMIN, json!({"exp": 0}));
    assert_wire(
        check(&auth, &long_expired),
        403,
        GrpcCode::PermissionDenied,
        "ExpiredSignature",
    );

    let within_leeway = jwt(ADMIN, json!({"exp": now() - 20, "access": "r"}));
    assert_eq!(
        check(&auth, &within_leeway).unwrap().access(),
        &Access::Global(GlobalAccess::Read)
    );
    let no_exp = jwt(ADMIN, json!({"access": "r"}));
    assert!(check(&auth, &no_exp).is_ok());
    let far_future = jwt(ADMIN, json!({"exp": u64::MAX}));
    assert!(check(&auth, &far_future).is_ok());
}

/// Row "semantically invalid access list": prevents duplicate entries and
/// deprecated payload constraints from being accepted, and keeps 401 with the
/// validator's message.
#[test]
fn semantically_invalid_access() {
    let auth = standard();
    let duplicate = jwt(ADMIN, collections(&[("c", "r"), ("d", "rw"), ("c", "rw")]));
    let error = check(&auth, &duplicate).unwrap_err();
    assert!(matches!(error, AuthError::InvalidClaims(_)));
    assert_eq!(
        (error.http_status(), error.grpc_code()),
        (401, GrpcCode::Unauthenticated)
    );
    assert!(
        error.message().contains("Collection name should be unique"),
        "{}",
        error.message()
    );

    let payload = jwt(
        ADMIN,
        json!({"access": [{"collection": "c", "access": "r", "payload": {"tenant": "a"}}]}),
    );
    let error = check(&auth, &payload).unwrap_err();
    assert_eq!(
        (error.http_status(), error.grpc_code()),
        (401, GrpcCode::Unauthenticated)
    );
    assert!(
        error
            .message()
            .contains("'payload' constraint is deprecated"),
        "{}",
        error.message()
    );
}

/// §6 order, steps 2 before 3: a bad signature wins over malformed claims.
/// Prevents leaking "your claims are wrong" to someone without the key.
#[test]
fn signature_checked_before_claims() {
    let token = jwt(WRONG, json!({"access": "bogus"}));
    assert_wire(
        check(&standard(), &token),
        403,
        GrpcCode::PermissionDenied,
        "InvalidSignature",
    );
}

/// §6 order, step 3 before 4: "an expired token with malformed claims gets
/// 401, not 403". Prevents checking `exp` on claims that do not parse.
#[test]
fn claims_parsed_before_expiry() {
    let token = jwt(ADMIN, json!({"exp": now() - 3600, "access": "bogus"}));
    assert_wire(
        check(&standard(), &token),
        401,
        GrpcCode::Unauthenticated,
        INVALID,
    );
}

/// §6 order, step 4 before 5: an expired token with a duplicate entry is
/// "expired". Prevents semantic validation from running on expired tokens.
#[test]
fn expiry_checked_before_semantic_validation() {
    let mut claims = collections(&[("c", "r"), ("c", "r")]);
    claims["exp"] = json!(now() - 3600);
    let token = jwt(ADMIN, claims);
    assert_wire(
        check(&standard(), &token),
        403,
        GrpcCode::PermissionDenied,
        "ExpiredSignature",
    );
}

/// Rows "value_exists …": auth parses the claim and hands it to the caller
/// unchecked; the caller's verdicts map to 401 / 403 with one text. Prevents
/// the claim from being dropped (which would skip revocation) or evaluated here.
#[test]
fn value_exists_is_returned_for_the_caller() {
    let token = jwt(
        ADMIN,
        json!({"access": [{"collection": "docs", "access": "r"}],
               "value_exists": {"collection": "tokens", "matches": [{"key": "id", "value": "t-1"}]}}),
    );
    let principal = check(&standard(), &token).unwrap();
    let value_exists = principal
        .value_exists()
        .expect("value_exists must be passed on");
    assert_eq!(value_exists.collection, "tokens");
    assert_eq!(value_exists.matches, vec![("id".to_owned(), json!("t-1"))]);
    // The value_exists collection is not added to the token's access.
    assert!(!principal.can_list_collection("tokens"));

    let no_match = AuthError::StatefulValidationFailed {
        collection_missing: false,
    };
    assert_eq!(
        (no_match.http_status(), no_match.grpc_code()),
        (401, GrpcCode::Unauthenticated)
    );
    let missing = AuthError::StatefulValidationFailed {
        collection_missing: true,
    };
    assert_eq!(
        (missing.http_status(), missing.grpc_code()),
        (403, GrpcCode::PermissionDenied)
    );
    assert_eq!(missing.message(), "Invalid JWT, stateful validation failed");
}

/// Accepted JWTs: prevents losing the claims the audit log and billing need,
/// and keeps "absent access = global manage" and ignored header fields.
#[test]
fn accepted_jwt_claims() {
    let auth = standard();
    let token = jwt(
        ADMIN,
        json!({"sub": "billing-1", "subject": "alice", "iat": 1, "nbf": u64::MAX, "aud": "elsewhere"}),
    );
    let principal = check(&auth, &token).unwrap();
    assert_eq!(principal.access(), &Access::Global(GlobalAccess::Manage));
    assert_eq!(principal.credential(), CredentialKind::Jwt);
    assert_eq!(principal.subject(), Some("alice"));
    assert_eq!(principal.inference_token(), Some("billing-1"));
    assert!(principal.value_exists().is_none());

    // `typ` and `kid` are ignored (§7).
    let odd_header = raw_jwt(
        br#"{"alg":"HS256","typ":"whatever","kid":"k1"}"#,
        br#"{"access":"r"}"#,
        Some(ADMIN),
    );
    assert_eq!(
        check(&auth, &odd_header).unwrap().access(),
        &Access::Global(GlobalAccess::Read)
    );
}

/// "Authenticated but not allowed": prevents a handler refusal from losing
/// the `Forbidden: ` prefix the clients display.
#[test]
fn forbidden_message_shape() {
    let principal = check(&standard(), READ_ONLY).unwrap();
    let denied = principal
        .authorize(&osprey_auth::Requirement::GlobalManage)
        .unwrap_err();
    assert_eq!(
        denied.to_string(),
        "Forbidden: Global manage access is required"
    );
}
