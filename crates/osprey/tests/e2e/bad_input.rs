//! Bad input: malformed, mistyped, oversized or unexpected requests get a 4xx
//! with a Qdrant-shaped error, never a 5xx, never a crash, never a partial write.

use serde_json::{Value, json};

use crate::harness::{Method, TestServer, XorShift};

async fn with_collection() -> TestServer {
    let server = TestServer::start().await;
    server
        .create_collection("ok", &json!({"vectors": {"size": 4, "distance": "Dot"}}))
        .await;
    server
        .upsert(
            "ok",
            &json!({"points": [{"id": 1, "vector": [1.0, 2.0, 3.0, 4.0], "payload": {"a": 1}}]}),
        )
        .await;
    server
}

/// Broken JSON is a 400 whose message says it is a JSON problem, so a user can
/// tell a typo from a server fault.
#[tokio::test]
async fn malformed_json_is_a_400() {
    let server = with_collection().await;
    let cases: [(Method, &str, &str); 5] = [
        (
            Method::PUT,
            "/collections/ok/points?wait=true",
            r#"{"points": ["#,
        ),
        (
            Method::POST,
            "/collections/ok/points/search",
            "not json at all",
        ),
        (
            Method::PUT,
            "/collections/new_one",
            r#"{"vectors": {"size": 4, "distance": "Dot"}"#,
        ),
        (
            Method::POST,
            "/collections/ok/points/count",
            r#"{"filter": {"must": [}"#,
        ),
        (Method::PUT, "/collections/new_one", ""),
    ];
    for (method, path, body) in cases {
        let r = server
            .req_bytes(method, path, body.as_bytes().to_vec(), "application/json")
            .await;
        let message = r.err(400);
        assert!(
            message.to_lowercase().contains("json")
                || message.contains("EOF")
                || message.contains("expected"),
            "the message must say the body is not valid JSON: {}",
            r.describe()
        );
    }
    server.get("/collections/new_one").await.err(404);
    assert_eq!(server.count("ok", None).await, 1);
}

/// Wrong types and out-of-range values are refused (400 deserialise or 422
/// validation, as Qdrant does) and nothing is created or written.
#[tokio::test]
async fn wrong_types_and_invalid_values_are_rejected() {
    let server = with_collection().await;
    let cases: Vec<(Method, &str, Value)> = vec![
        (
            Method::PUT,
            "/collections/t",
            json!({"vectors": {"size": "four", "distance": "Dot"}}),
        ),
        (
            Method::PUT,
            "/collections/t",
            json!({"vectors": {"size": 4, "distance": "Cosinus"}}),
        ),
        (
            Method::PUT,
            "/collections/t",
            json!({"vectors": {"size": 0, "distance": "Dot"}}),
        ),
        (
            Method::PUT,
            "/collections/t",
            json!({"vectors": {"size": -4, "distance": "Dot"}}),
        ),
        (Method::PUT, "/collections/t", json!({"vectors": []})),
        (
            Method::PUT,
            "/collections/ok/points?wait=true",
            json!({"points": [{"id": "not-a-uuid", "vector": [1, 2, 3, 4]}]}),
        ),
        (
            Method::PUT,
            "/collections/ok/points?wait=true",
            json!({"points": [{"id": -1, "vector": [1, 2, 3, 4]}]}),
        ),
        (
            Method::PUT,
            "/collections/ok/points?wait=true",
            json!({"points": [{"id": 1.5, "vector": [1, 2, 3, 4]}]}),
        ),
        (
            Method::PUT,
            "/collections/ok/points?wait=true",
            json!({"points": [{"id": 2, "vector": "abcd"}]}),
        ),
        (
            Method::PUT,
            "/collections/ok/points?wait=true",
            json!({"points": [{"id": 2, "vector": [1, 2, null, 4]}]}),
        ),
        (
            Method::PUT,
            "/collections/ok/points?wait=true",
            json!({"points": {"id": 2, "vector": [1, 2, 3, 4]}}),
        ),
        (
            Method::PUT,
            "/collections/ok/points?wait=true",
            json!({"points": [{"id": 2, "vector": [1, 2, 3, 4], "payload": [1, 2]}]}),
        ),
        (
            Method::PUT,
            "/collections/ok/points?wait=true",
            json!({"batch": {"ids": [2, 3], "vectors": [[1, 2, 3, 4]]}}),
        ),
        (
            Method::POST,
            "/collections/ok/points/search",
            json!({"vector": [1, 2, 3, 4], "limit": -1}),
        ),
        (
            Method::POST,
            "/collections/ok/points/search",
            json!({"vector": [1, 2, 3, 4], "limit": "ten"}),
        ),
        (
            Method::POST,
            "/collections/ok/points/search",
            json!({"vector": [1, 2, 3, 4]}),
        ),
        (
            Method::POST,
            "/collections/ok/points/query",
            json!({"query": "not a vector or id", "limit": 3}),
        ),
        (
            Method::POST,
            "/collections/ok/points/count",
            json!({"filter": {"must": [{"key": "a", "range": {"gte": "x"}}]}}),
        ),
        (
            Method::POST,
            "/collections/ok/points/count",
            json!({"filter": {"must": [{"key": "a", "match": {"value": {"nested": 1}}}]}}),
        ),
        (
            Method::POST,
            "/collections/ok/points/scroll",
            json!({"limit": 0}),
        ),
        (
            Method::POST,
            "/collections/ok/points/payload?wait=true",
            json!({"payload": [1, 2], "points": [1]}),
        ),
        (
            Method::POST,
            "/collections/ok/points/delete?wait=true",
            json!({"points": "all"}),
        ),
        (
            Method::POST,
            "/collections/aliases",
            json!({"actions": [{"bogus_action": {"alias_name": "x"}}]}),
        ),
    ];
    for (method, path, body) in cases {
        let r = server.req(method, path, Some(&body)).await;
        r.err_in(&[400, 422]);
    }
    server.get("/collections/t").await.err(404);
    let r = server.get("/collections/ok/points/not-an-id").await;
    r.err(400);
    assert_eq!(
        server.count("ok", None).await,
        1,
        "no rejected request wrote anything"
    );
    let r = server.get("/collections/ok/points/1").await;
    assert_eq!(r.ok()["payload"], json!({"a": 1}));
}

/// Qdrant ignores unknown top-level fields in requests (clients of newer versions
/// send fields an older server does not know) but a `Filter` rejects unknown
/// keys, so a misspelt `must` cannot silently match everything.
#[tokio::test]
async fn unknown_fields_follow_qdrant() {
    let server = with_collection().await;
    let r = server
        .post(
            "/collections/ok/points/search",
            &json!({"vector": [1, 2, 3, 4], "limit": 1, "some_future_option": true}),
        )
        .await;
    assert_eq!(r.ok()[0]["id"], 1, "{}", r.describe());
    server
        .create_collection(
            "extra",
            &json!({"vectors": {"size": 2, "distance": "Dot"}, "future_setting": {"x": 1}}),
        )
        .await;

    let r = server
        .post(
            "/collections/ok/points/count",
            &json!({"filter": {"mustt": [{"key": "a", "match": {"value": 2}}]}}),
        )
        .await;
    r.err_in(&[400, 422]);
    let r = server
        .post(
            "/collections/ok/points/delete?wait=true",
            &json!({"filter": {"must_nott": [{"key": "a", "match": {"value": 2}}]}}),
        )
        .await;
    r.err_in(&[400, 422]);
    assert_eq!(
        server.count("ok", None).await,
        1,
        "a misspelt filter must not delete everything"
    );
}

/// Qdrant accepts request bodies up to 32 MiB (`service.max_request_size_mb`):
/// a 12 MiB batch must work (large uploads are normal), a body over 32 MiB must
/// be refused with a 4xx, and the server must keep serving.
#[tokio::test]
async fn body_size_limit_is_qdrants_32_mib() {
    let server = TestServer::start().await;
    let dim = 256;
    server
        .create_collection("big", &json!({"vectors": {"size": dim, "distance": "Dot"}}))
        .await;
    let mut rng = XorShift::new(31337);
    let mut make_body = |target: usize| -> (Vec<u8>, u64) {
        let mut out = String::from("{\"points\":[");
        let mut n = 0u64;
        while out.len() < target {
            if n > 0 {
                out.push(',');
            }
            let v: Vec<String> = (0..dim).map(|_| format!("{:.6}", rng.unit())).collect();
            out.push_str(&format!("{{\"id\":{n},\"vector\":[{}]}}", v.join(",")));
            n += 1;
        }
        out.push_str("]}");
        (out.into_bytes(), n)
    };

    let (body, n) = make_body(12 << 20);
    let r = server
        .req_bytes(
            Method::PUT,
            "/collections/big/points?wait=true",
            body,
            "application/json",
        )
        .await;
    assert_eq!(
        r.ok()["status"],
        "completed",
        "a 12 MiB upsert is within Qdrant's limit: {}",
        r.describe()
    );
    assert_eq!(server.count("big", None).await, n);

    let (body, _) = make_body(33 << 20);
    let len = body.len();
    match server.raw_upload("PUT", "/collections/big/points?wait=true", body) {
        Ok((status, text)) => {
            assert!(
                (400..500).contains(&status),
                "a {len}-byte body must be refused with a 4xx, got {status} {}",
                &text[..text.len().min(300)]
            );
        }
        Err(e) => panic!("a {len}-byte body must get a 4xx answer: {e}"),
    }
    assert_eq!(
        server.count("big", None).await,
        n,
        "the oversized body wrote nothing"
    );
    assert_eq!(server.get("/healthz").await.status, 200);
}

/// A fuzz-style sweep: every write and read route fed with junk must answer
/// below 500 and leave the process running. A panic in a handler, a 500 from an
/// unchecked `unwrap`, or a crash on deep nesting would all fail here.
#[tokio::test]
async fn junk_never_causes_a_5xx_or_a_crash() {
    let mut server = with_collection().await;
    let routes: [(Method, &str); 18] = [
        (Method::PUT, "/collections/ok/points?wait=true"),
        (Method::POST, "/collections/ok/points"),
        (Method::POST, "/collections/ok/points/delete?wait=true"),
        (Method::POST, "/collections/ok/points/batch?wait=true"),
        (Method::PUT, "/collections/ok/points/vectors?wait=true"),
        (
            Method::POST,
            "/collections/ok/points/vectors/delete?wait=true",
        ),
        (Method::POST, "/collections/ok/points/payload?wait=true"),
        (Method::PUT, "/collections/ok/points/payload?wait=true"),
        (
            Method::POST,
            "/collections/ok/points/payload/delete?wait=true",
        ),
        (
            Method::POST,
            "/collections/ok/points/payload/clear?wait=true",
        ),
        (Method::POST, "/collections/ok/points/scroll"),
        (Method::POST, "/collections/ok/points/count"),
        (Method::POST, "/collections/ok/points/search"),
        (Method::POST, "/collections/ok/points/search/batch"),
        (Method::POST, "/collections/ok/points/query"),
        (Method::POST, "/collections/ok/points/query/batch"),
        (Method::PATCH, "/collections/ok"),
        (Method::POST, "/collections/aliases"),
    ];
    let deep_array = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_object = format!(
        "{{\"filter\":{}{}}}",
        "{\"must\":[".repeat(5_000),
        "]}".repeat(5_000)
    );
    let bodies: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"{}".to_vec(),
        b"123".to_vec(),
        b"\"str\"".to_vec(),
        b"{\"a\":".to_vec(),
        vec![0xff, 0xfe, 0x00, 0x80, 0x7b],
        br#"{"points": [{"id": 18446744073709551616, "vector": [1,2,3,4]}]}"#.to_vec(),
        br#"{"points": [{"id": 1, "vector": [1e400, 0, 0, 0]}]}"#.to_vec(),
        br#"{"vector": [NaN, 1, 2, 3], "limit": 1}"#.to_vec(),
        br#"{"vector": [1,2,3,4], "limit": 18446744073709551615}"#.to_vec(),
        br#"{"vector": [1,2,3,4], "limit": 1, "offset": 18446744073709551615}"#.to_vec(),
        br#"{"points": [], "filter": {"must": [{"key": "", "match": {"value": 1}}]}}"#.to_vec(),
        br#"{"filter": {"must": [{"key": "a[][][]..b", "match": {"value": 1}}]}}"#.to_vec(),
        br#"{"operations": [{"upsert": {"points": [{"id": 9, "vector": [1]}]}}]}"#.to_vec(),
        br#"{"actions": [{"delete_alias": {"alias_name": "nope"}}]}"#.to_vec(),
        br#"{"searches": [{"vector": [], "limit": 1}]}"#.to_vec(),
        br#"{"payload": {"k": 1}, "points": [], "key": "a[0].b"}"#.to_vec(),
        deep_array.into_bytes(),
        deep_object.into_bytes(),
    ];
    let mut fives = Vec::new();
    for (method, path) in &routes {
        for body in &bodies {
            let r = server
                .req_bytes(method.clone(), path, body.clone(), "application/json")
                .await;
            if r.status >= 500 {
                fives.push(r.describe());
            }
        }
    }
    for path in [
        "/collections/ok/points/%FF%FE",
        "/collections/%00/points",
        "/collections/ok/points/-1",
        "/collections/ok/points/18446744073709551616",
    ] {
        let r = server.get(path).await;
        if r.status >= 500 {
            fives.push(r.describe());
        }
    }
    assert!(
        server.is_running(),
        "the server process died\n{}",
        server.log_tail()
    );
    assert!(
        fives.is_empty(),
        "5xx answers to client mistakes:\n{}",
        fives.join("\n")
    );
    assert_eq!(server.get("/healthz").await.status, 200);
    assert_eq!(
        server.count("ok", None).await,
        1,
        "junk must not have written points"
    );
    // Still fully functional for real work.
    server
        .upsert(
            "ok",
            &json!({"points": [{"id": 2, "vector": [0.0, 0.0, 0.0, 1.0]}]}),
        )
        .await;
    assert_eq!(server.count("ok", None).await, 2);
}

/// Issue 2: a rejected request is never half-applied. A batch whose last
/// operation is invalid, or a payload update naming one missing point, must
/// leave every point exactly as it was.
#[tokio::test]
async fn rejected_requests_are_not_half_applied() {
    let server = with_collection().await;
    let r = server
        .post(
            "/collections/ok/points/batch?wait=true",
            &json!({"operations": [
                {"upsert": {"points": [{"id": 50, "vector": [1.0, 1.0, 1.0, 1.0]}]}},
                {"set_payload": {"payload": {"touched": true}, "points": [1]}},
                {"upsert": {"points": [{"id": 51, "vector": [1.0, 1.0]}]}}
            ]}),
        )
        .await;
    r.err_4xx();
    assert_eq!(
        server.count("ok", None).await,
        1,
        "the batch's first upsert must not stay"
    );
    let r = server.get("/collections/ok/points/1").await;
    assert_eq!(
        r.ok()["payload"],
        json!({"a": 1}),
        "the batch's payload change must not stay"
    );

    let r = server
        .post(
            "/collections/ok/points/payload?wait=true",
            &json!({"payload": {"touched": true}, "points": [1, 404]}),
        )
        .await;
    r.err(404);
    let r = server.get("/collections/ok/points/1").await;
    assert_eq!(
        r.ok()["payload"],
        json!({"a": 1}),
        "payload set on a partly missing id list"
    );
}
