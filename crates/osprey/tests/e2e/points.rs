//! Point writes and reads: upsert forms, retrieval selectors, point ids, payload
//! and vector updates, batches and deletes.

use serde_json::{Value, json};

use crate::harness::TestServer;

async fn dot4(server: &TestServer, name: &str) {
    server
        .create_collection(name, &json!({"vectors": {"size": 4, "distance": "Dot"}}))
        .await;
}

async fn named(server: &TestServer, name: &str) {
    server
        .create_collection(
            name,
            &json!({"vectors": {
                "image": {"size": 3, "distance": "Dot"},
                "text": {"size": 2, "distance": "Dot"}
            }}),
        )
        .await;
}

/// Retrieve points by id with an explicit selector; returns records by id.
async fn get_many(server: &TestServer, c: &str, body: Value) -> Vec<Value> {
    let r = server
        .post(&format!("/collections/{c}/points"), &body)
        .await;
    r.ok()
        .as_array()
        .unwrap_or_else(|| panic!("{}", r.describe()))
        .clone()
}

async fn get_one(server: &TestServer, c: &str, id: &str) -> Value {
    let r = server.get(&format!("/collections/{c}/points/{id}")).await;
    r.ok().clone()
}

/// Both upsert shapes must store the same thing; the Python client uses the
/// list form and `upload_collection` the batch (columnar) form.
#[tokio::test]
async fn upsert_list_and_batch_forms_store_points() {
    let server = TestServer::start().await;
    dot4(&server, "p").await;
    let r = server
        .put(
            "/collections/p/points?wait=true",
            &json!({"points": [
                {"id": 1, "vector": [1.0, 2.0, 3.0, 4.0], "payload": {"city": "Berlin", "n": 1}},
                {"id": 2, "vector": [0.5, 0.25, 0.0, -1.0], "payload": {"city": "Paris", "n": 2}}
            ]}),
        )
        .await;
    let result = r.ok();
    assert_eq!(result["status"], "completed", "{}", r.describe());
    assert!(
        result["operation_id"].is_u64(),
        "operation_id: {}",
        r.describe()
    );

    server
        .upsert(
            "p",
            &json!({"batch": {
                "ids": [3, 4],
                "vectors": [[0.0, 0.0, 1.0, 0.0], [9.0, 8.0, 7.0, 6.0]],
                "payloads": [{"city": "Rome"}, {"city": "Oslo", "tags": ["a", "b"]}]
            }}),
        )
        .await;

    let records = get_many(
        &server,
        "p",
        json!({"ids": [1, 2, 3, 4], "with_payload": true, "with_vector": true}),
    )
    .await;
    let by_id = |id: u64| -> &Value {
        records
            .iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("point {id} missing from {records:?}"))
    };
    assert_eq!(by_id(1)["payload"], json!({"city": "Berlin", "n": 1}));
    assert_eq!(by_id(1)["vector"], json!([1.0, 2.0, 3.0, 4.0]));
    assert_eq!(by_id(2)["vector"], json!([0.5, 0.25, 0.0, -1.0]));
    assert_eq!(by_id(3)["payload"], json!({"city": "Rome"}));
    assert_eq!(
        by_id(4)["payload"],
        json!({"city": "Oslo", "tags": ["a", "b"]})
    );
    assert_eq!(by_id(4)["vector"], json!([9.0, 8.0, 7.0, 6.0]));
    assert_eq!(server.count("p", None).await, 4);

    // Upserting an existing id replaces the whole point, payload included.
    server
        .upsert(
            "p",
            &json!({"points": [{"id": 1, "vector": [0.0, 0.0, 0.0, 1.0], "payload": {"fresh": true}}]}),
        )
        .await;
    let one = get_one(&server, "p", "1").await;
    assert_eq!(
        one["payload"],
        json!({"fresh": true}),
        "upsert replaces, never merges"
    );
    assert_eq!(one["vector"], json!([0.0, 0.0, 0.0, 1.0]));
    assert_eq!(server.count("p", None).await, 4);
}

/// Selectors decide how much data comes back; a wrong default or an ignored
/// selector either leaks fields or breaks code that reads them.
#[tokio::test]
async fn retrieve_honours_payload_and_vector_selectors() {
    let server = TestServer::start().await;
    dot4(&server, "p").await;
    let payload = json!({"a": 1, "b": {"c": 2, "d": 3}, "e": "x"});
    server
        .upsert(
            "p",
            &json!({"points": [{"id": 10, "vector": [1.0, 1.0, 1.0, 1.0], "payload": payload}]}),
        )
        .await;

    // GET of one point returns payload and vector.
    let one = get_one(&server, "p", "10").await;
    assert_eq!(one["id"], 10);
    assert_eq!(one["payload"], payload);
    assert_eq!(one["vector"], json!([1.0, 1.0, 1.0, 1.0]));

    // POST defaults: payload yes, vector no. Missing ids are skipped, not errors.
    let recs = get_many(&server, "p", json!({"ids": [10, 11]})).await;
    assert_eq!(recs.len(), 1, "only existing ids come back: {recs:?}");
    assert_eq!(recs[0]["payload"], payload);
    assert!(
        recs[0]["vector"].is_null(),
        "vector is off by default: {recs:?}"
    );

    let cases = [
        (json!(false), Value::Null),
        (json!(["a", "b.c"]), json!({"a": 1, "b": {"c": 2}})),
        (json!({"include": ["e"]}), json!({"e": "x"})),
        (json!({"exclude": ["b"]}), json!({"a": 1, "e": "x"})),
    ];
    for (selector, expected) in cases {
        let recs = get_many(
            &server,
            "p",
            json!({"ids": [10], "with_payload": selector, "with_vector": false}),
        )
        .await;
        let got = recs[0].get("payload").cloned().unwrap_or(Value::Null);
        assert_eq!(got, expected, "with_payload {selector}");
    }
    let recs = get_many(&server, "p", json!({"ids": [10], "with_vector": true})).await;
    assert_eq!(recs[0]["vector"], json!([1.0, 1.0, 1.0, 1.0]));

    let r = server.get("/collections/p/points/999").await;
    let message = r.err(404);
    assert!(message.contains("999"), "the 404 names the id: {message}");
}

/// Named vectors come back as a map, and a name list returns only those names.
#[tokio::test]
async fn named_vectors_round_trip_and_select_by_name() {
    let server = TestServer::start().await;
    named(&server, "nv").await;
    server
        .upsert(
            "nv",
            &json!({"points": [{"id": 1, "vector": {"image": [1.0, 2.0, 3.0], "text": [4.0, 5.0]}}]}),
        )
        .await;
    let recs = get_many(&server, "nv", json!({"ids": [1], "with_vector": true})).await;
    assert_eq!(
        recs[0]["vector"],
        json!({"image": [1.0, 2.0, 3.0], "text": [4.0, 5.0]})
    );
    let recs = get_many(&server, "nv", json!({"ids": [1], "with_vector": ["text"]})).await;
    assert_eq!(recs[0]["vector"], json!({"text": [4.0, 5.0]}));
}

/// Cosine collections store normalised vectors, as Qdrant does; a client that
/// reads vectors back sees the unit vector.
#[tokio::test]
async fn cosine_vectors_are_stored_normalised() {
    let server = TestServer::start().await;
    server
        .create_collection(
            "cos",
            &json!({"vectors": {"size": 2, "distance": "Cosine"}}),
        )
        .await;
    server
        .upsert("cos", &json!({"points": [{"id": 1, "vector": [3.0, 4.0]}]}))
        .await;
    let one = get_one(&server, "cos", "1").await;
    let v: Vec<f64> = one["vector"]
        .as_array()
        .expect("vector")
        .iter()
        .map(|x| x.as_f64().expect("float"))
        .collect();
    assert!(
        (v[0] - 0.6).abs() < 1e-5 && (v[1] - 0.8).abs() < 1e-5,
        "expected [0.6, 0.8], got {v:?}"
    );
}

/// Qdrant accepts every text form of a UUID and always answers the canonical
/// lowercase hyphenated one; two spellings of one UUID are the same point.
/// Large integer ids must survive exactly (no float rounding above 2^53).
#[tokio::test]
async fn uuid_ids_in_every_text_form_come_back_canonical() {
    let server = TestServer::start().await;
    dot4(&server, "u").await;
    let forms = [
        (
            "550e8400-e29b-41d4-a716-446655440000",
            "550e8400-e29b-41d4-a716-446655440000",
        ),
        (
            "6BA7B810-9DAD-11D1-80B4-00C04FD430C8",
            "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
        ),
        (
            "936DA01F9ABD4D9D80C702AF85C822A8",
            "936da01f-9abd-4d9d-80c7-02af85c822a8",
        ),
        (
            "{67e55044-10b1-426f-9247-bb680e5fe0c8}",
            "67e55044-10b1-426f-9247-bb680e5fe0c8",
        ),
        (
            "urn:uuid:a8098c1a-f86e-11da-bd1a-00112444be1e",
            "a8098c1a-f86e-11da-bd1a-00112444be1e",
        ),
    ];
    let points: Vec<Value> = forms
        .iter()
        .enumerate()
        .map(|(i, (given, _))| json!({"id": given, "vector": [i as f32, 0.0, 0.0, 1.0], "payload": {"i": i}}))
        .collect();
    server.upsert("u", &json!({"points": points})).await;
    assert_eq!(server.count("u", None).await, forms.len() as u64);

    let all = server
        .scroll_all("u", &json!({"with_payload": true}), 100)
        .await;
    let mut got: Vec<String> = all
        .iter()
        .map(|p| p["id"].as_str().expect("uuid ids are strings").to_string())
        .collect();
    got.sort();
    let mut want: Vec<String> = forms.iter().map(|(_, c)| c.to_string()).collect();
    want.sort();
    assert_eq!(got, want, "scroll answers canonical UUIDs");

    // Another spelling of an existing UUID overwrites that point.
    server
        .upsert(
            "u",
            &json!({"points": [{"id": "550E8400E29B41D4A716446655440000", "vector": [0.0, 0.0, 0.0, 2.0], "payload": {"i": 99}}]}),
        )
        .await;
    assert_eq!(server.count("u", None).await, forms.len() as u64);
    for spelling in [
        "550e8400-e29b-41d4-a716-446655440000",
        "550E8400-E29B-41D4-A716-446655440000",
    ] {
        let one = get_one(&server, "u", spelling).await;
        assert_eq!(one["id"], "550e8400-e29b-41d4-a716-446655440000");
        assert_eq!(one["payload"], json!({"i": 99}));
    }
    let recs = get_many(
        &server,
        "u",
        json!({"ids": ["{6ba7b810-9dad-11d1-80b4-00c04fd430c8}"]}),
    )
    .await;
    assert_eq!(recs.len(), 1, "retrieve accepts any spelling: {recs:?}");
    assert_eq!(recs[0]["id"], "6ba7b810-9dad-11d1-80b4-00c04fd430c8");

    let r = server
        .post(
            "/collections/u/points/search",
            &json!({"vector": [0.0, 0.0, 0.0, 1.0], "limit": 1}),
        )
        .await;
    assert_eq!(
        r.ok()[0]["id"],
        "550e8400-e29b-41d4-a716-446655440000",
        "{}",
        r.describe()
    );

    // u64::MAX is a valid id and must not be rounded through a float.
    let big = json!(18446744073709551615u64);
    server
        .upsert(
            "u",
            &json!({"points": [{"id": big, "vector": [1.0, 1.0, 1.0, 1.0]}]}),
        )
        .await;
    let one = get_one(&server, "u", "18446744073709551615").await;
    assert_eq!(one["id"], big, "ids above 2^53 round-trip exactly");
}

/// A vector of the wrong length is the most common client mistake; it must be a
/// 400 naming both sizes, and nothing of that request may be applied.
#[tokio::test]
async fn wrong_dimension_is_a_400_and_applies_nothing() {
    let server = TestServer::start().await;
    dot4(&server, "d").await;
    let r = server
        .put(
            "/collections/d/points?wait=true",
            &json!({"points": [{"id": 1, "vector": [1.0, 2.0, 3.0]}]}),
        )
        .await;
    let message = r.err(400);
    assert!(
        message.contains("expected dim: 4, got 3"),
        "Qdrant says `Wrong input: Vector dimension error: expected dim: 4, got 3`, got {message:?}"
    );

    // One bad point among good ones: the whole request fails, nothing is stored.
    let r = server
        .put(
            "/collections/d/points?wait=true",
            &json!({"points": [
                {"id": 1, "vector": [1.0, 2.0, 3.0, 4.0]},
                {"id": 2, "vector": [1.0, 2.0, 3.0, 4.0]},
                {"id": 3, "vector": [1.0, 2.0, 3.0, 4.0, 5.0]}
            ]}),
        )
        .await;
    r.err(400);
    assert_eq!(
        server.count("d", None).await,
        0,
        "a rejected batch must not be half-applied"
    );

    // Same for the batch form and for searches.
    let r = server
        .put(
            "/collections/d/points?wait=true",
            &json!({"batch": {"ids": [5, 6], "vectors": [[1.0, 2.0, 3.0, 4.0], [1.0]]}}),
        )
        .await;
    r.err(400);
    assert_eq!(server.count("d", None).await, 0);

    // Reads with a wrong-length query vector are refused too, whether or not
    // there is data (with data, a lenient server would silently score on a
    // truncated vector and return plausible-looking nonsense).
    for with_data in [false, true] {
        if with_data {
            server
                .upsert(
                    "d",
                    &json!({"points": [{"id": 1, "vector": [1.0, 2.0, 3.0, 4.0]}]}),
                )
                .await;
        }
        for (path, body) in [
            ("search", json!({"vector": [1.0, 2.0], "limit": 1})),
            (
                "search/batch",
                json!({"searches": [{"vector": [1.0, 2.0, 3.0, 4.0, 5.0], "limit": 1}]}),
            ),
            ("query", json!({"query": [1.0, 2.0], "limit": 1})),
            (
                "query/batch",
                json!({"searches": [{"query": [1.0, 2.0], "limit": 1}]}),
            ),
        ] {
            let r = server
                .post(&format!("/collections/d/points/{path}"), &body)
                .await;
            let message = r.err(400);
            assert!(message.contains("dim"), "with data: {with_data}: {message}");
        }
    }
}

/// Writing or searching a vector name the collection does not have is a 400 that
/// names it (Qdrant: `Not existing vector name error: <name>`).
#[tokio::test]
async fn unknown_vector_name_is_a_400() {
    let server = TestServer::start().await;
    named(&server, "nv").await;
    let r = server
        .put(
            "/collections/nv/points?wait=true",
            &json!({"points": [{"id": 1, "vector": {"audio": [1.0, 2.0]}}]}),
        )
        .await;
    let message = r.err(400);
    assert!(message.contains("audio"), "{message}");
    assert_eq!(server.count("nv", None).await, 0);
    server
        .upsert("nv", &json!({"points": [{"id": 1, "vector": {"image": [1.0, 2.0, 3.0], "text": [1.0, 2.0]}}]}))
        .await;

    let r = server
        .post(
            "/collections/nv/points/search",
            &json!({"vector": {"name": "audio", "vector": [1.0, 2.0]}, "limit": 1}),
        )
        .await;
    assert!(r.err(400).contains("audio"));
    let r = server
        .post(
            "/collections/nv/points/query",
            &json!({"query": [1.0, 2.0], "using": "audio", "limit": 1}),
        )
        .await;
    assert!(r.err(400).contains("audio"));
}

/// The four payload operations, by ids and by filter, including `key` to write
/// into a nested object. Each is a common way to tag or fix data in place.
#[tokio::test]
async fn payload_set_overwrite_delete_clear() {
    let server = TestServer::start().await;
    dot4(&server, "pl").await;
    server
        .upsert(
            "pl",
            &json!({"points": [
                {"id": 1, "vector": [1.0, 0.0, 0.0, 0.0], "payload": {"a": 1, "group": "g1", "nested": {"inner": {"x": 1}, "keep": true}}},
                {"id": 2, "vector": [0.0, 1.0, 0.0, 0.0], "payload": {"a": 2, "group": "g1"}},
                {"id": 3, "vector": [0.0, 0.0, 1.0, 0.0], "payload": {"a": 3, "group": "g2"}}
            ]}),
        )
        .await;
    let payload_of = |id: u64| {
        let server = &server;
        async move { get_one(server, "pl", &id.to_string()).await["payload"].clone() }
    };

    // set merges keys.
    let r = server
        .post(
            "/collections/pl/points/payload?wait=true",
            &json!({"payload": {"b": "new"}, "points": [1]}),
        )
        .await;
    assert_eq!(r.ok()["status"], "completed", "{}", r.describe());
    assert_eq!(
        payload_of(1).await,
        json!({"a": 1, "group": "g1", "nested": {"inner": {"x": 1}, "keep": true}, "b": "new"})
    );

    // set with `key` merges into the object at that path.
    let r = server
        .post(
            "/collections/pl/points/payload?wait=true",
            &json!({"payload": {"y": 2}, "points": [1], "key": "nested.inner"}),
        )
        .await;
    r.ok();
    assert_eq!(
        payload_of(1).await["nested"],
        json!({"inner": {"x": 1, "y": 2}, "keep": true})
    );

    // set by filter touches exactly the matching points.
    let r = server
        .post(
            "/collections/pl/points/payload?wait=true",
            &json!({"payload": {"tag": "g1!"}, "filter": {"must": [{"key": "group", "match": {"value": "g1"}}]}}),
        )
        .await;
    r.ok();
    assert_eq!(payload_of(1).await["tag"], "g1!");
    assert_eq!(payload_of(2).await["tag"], "g1!");
    assert!(payload_of(3).await.get("tag").is_none());

    // overwrite replaces the whole payload.
    let r = server
        .put(
            "/collections/pl/points/payload?wait=true",
            &json!({"payload": {"only": 1}, "points": [2]}),
        )
        .await;
    r.ok();
    assert_eq!(payload_of(2).await, json!({"only": 1}));

    // delete keys, including a nested path.
    let r = server
        .post(
            "/collections/pl/points/payload/delete?wait=true",
            &json!({"keys": ["b", "nested.inner.x"], "points": [1]}),
        )
        .await;
    r.ok();
    let p1 = payload_of(1).await;
    assert!(p1.get("b").is_none(), "{p1}");
    assert_eq!(p1["nested"], json!({"inner": {"y": 2}, "keep": true}));
    assert_eq!(p1["a"], 1);

    // delete keys by filter.
    let r = server
        .post(
            "/collections/pl/points/payload/delete?wait=true",
            &json!({"keys": ["a"], "filter": {"must": [{"key": "group", "match": {"value": "g2"}}]}}),
        )
        .await;
    r.ok();
    assert_eq!(payload_of(3).await, json!({"group": "g2"}));

    // clear empties the payload but keeps the point and its vector.
    let r = server
        .post(
            "/collections/pl/points/payload/clear?wait=true",
            &json!({"points": [1]}),
        )
        .await;
    r.ok();
    let one = get_one(&server, "pl", "1").await;
    assert!(
        one["payload"] == json!({}) || one["payload"].is_null(),
        "cleared payload: {one}"
    );
    assert_eq!(one["vector"], json!([1.0, 0.0, 0.0, 0.0]));
    assert_eq!(server.count("pl", None).await, 3);

    // Payload operations on missing points are a 404 and change nothing else.
    let r = server
        .post(
            "/collections/pl/points/payload?wait=true",
            &json!({"payload": {"z": 1}, "points": [404]}),
        )
        .await;
    r.err(404);
}

/// Updating a vector must not disturb the payload or the other named vectors,
/// and deleting one named vector must keep the rest of the point.
#[tokio::test]
async fn update_and_delete_vectors() {
    let server = TestServer::start().await;
    named(&server, "nv").await;
    server
        .upsert(
            "nv",
            &json!({"points": [{"id": 1, "vector": {"image": [1.0, 0.0, 0.0], "text": [1.0, 1.0]}, "payload": {"k": "v"}}]}),
        )
        .await;
    let r = server
        .put(
            "/collections/nv/points/vectors?wait=true",
            &json!({"points": [{"id": 1, "vector": {"image": [0.0, 0.0, 5.0]}}]}),
        )
        .await;
    assert_eq!(r.ok()["status"], "completed", "{}", r.describe());
    let one = get_one(&server, "nv", "1").await;
    assert_eq!(
        one["vector"],
        json!({"image": [0.0, 0.0, 5.0], "text": [1.0, 1.0]})
    );
    assert_eq!(one["payload"], json!({"k": "v"}));

    let r = server
        .post(
            "/collections/nv/points/vectors/delete?wait=true",
            &json!({"points": [1], "vector": ["text"]}),
        )
        .await;
    r.ok();
    let one = get_one(&server, "nv", "1").await;
    assert_eq!(one["vector"], json!({"image": [0.0, 0.0, 5.0]}));
    assert_eq!(server.count("nv", None).await, 1, "the point stays");

    // A point without the `text` vector no longer shows up in `text` searches.
    let r = server
        .post(
            "/collections/nv/points/search",
            &json!({"vector": {"name": "text", "vector": [1.0, 1.0]}, "limit": 5}),
        )
        .await;
    assert_eq!(r.ok(), &json!([]), "{}", r.describe());

    // Unnamed collection, wrong dimension on update: 400, vector unchanged.
    dot4(&server, "d").await;
    server
        .upsert(
            "d",
            &json!({"points": [{"id": 1, "vector": [1.0, 2.0, 3.0, 4.0]}]}),
        )
        .await;
    let r = server
        .put(
            "/collections/d/points/vectors?wait=true",
            &json!({"points": [{"id": 1, "vector": [1.0]}]}),
        )
        .await;
    r.err(400);
    assert_eq!(
        get_one(&server, "d", "1").await["vector"],
        json!([1.0, 2.0, 3.0, 4.0])
    );
}

/// `/points/batch` applies a list of different operations in order and answers
/// one result per operation.
#[tokio::test]
async fn batch_update_applies_operations_in_order() {
    let server = TestServer::start().await;
    dot4(&server, "b").await;
    let r = server
        .post(
            "/collections/b/points/batch?wait=true",
            &json!({"operations": [
                {"upsert": {"points": [
                    {"id": 1, "vector": [1.0, 0.0, 0.0, 0.0], "payload": {"n": 1}},
                    {"id": 2, "vector": [0.0, 1.0, 0.0, 0.0], "payload": {"n": 2}},
                    {"id": 3, "vector": [0.0, 0.0, 1.0, 0.0], "payload": {"n": 3}}
                ]}},
                {"set_payload": {"payload": {"s": true}, "points": [1, 2]}},
                {"overwrite_payload": {"payload": {"o": 1}, "points": [3]}},
                {"delete_payload": {"keys": ["n"], "points": [2]}},
                {"update_vectors": {"points": [{"id": 1, "vector": [2.0, 2.0, 2.0, 2.0]}]}},
                {"delete": {"points": [3]}},
                {"clear_payload": {"points": [1]}}
            ]}),
        )
        .await;
    let results = r
        .ok()
        .as_array()
        .unwrap_or_else(|| panic!("{}", r.describe()))
        .clone();
    assert_eq!(
        results.len(),
        7,
        "one result per operation: {}",
        r.describe()
    );
    for res in &results {
        assert_eq!(res["status"], "completed", "{}", r.describe());
    }
    assert_eq!(server.count("b", None).await, 2);
    let one = get_one(&server, "b", "1").await;
    assert!(
        one["payload"] == json!({}) || one["payload"].is_null(),
        "{one}"
    );
    assert_eq!(one["vector"], json!([2.0, 2.0, 2.0, 2.0]));
    assert_eq!(
        get_one(&server, "b", "2").await["payload"],
        json!({"s": true})
    );
    server.get("/collections/b/points/3").await.err(404);
}

/// Delete by ids and by filter remove exactly the selected points.
#[tokio::test]
async fn delete_by_ids_and_by_filter() {
    let server = TestServer::start().await;
    dot4(&server, "del").await;
    let points: Vec<Value> = (0..100u64)
        .map(|i| json!({"id": i, "vector": [i as f32, 1.0, 0.0, 0.0], "payload": {"parity": if i % 2 == 0 { "even" } else { "odd" }, "i": i}}))
        .collect();
    server.upsert("del", &json!({"points": points})).await;

    let r = server
        .post(
            "/collections/del/points/delete?wait=true",
            &json!({"points": [0, 1, 2, 3, 1000]}),
        )
        .await;
    assert_eq!(r.ok()["status"], "completed", "{}", r.describe());
    assert_eq!(
        server.count("del", None).await,
        96,
        "deleting a missing id is not an error"
    );

    let r = server
        .post(
            "/collections/del/points/delete?wait=true",
            &json!({"filter": {"must": [
                {"key": "parity", "match": {"value": "odd"}},
                {"key": "i", "range": {"lt": 50}}
            ]}}),
        )
        .await;
    r.ok();
    // Odd i in 4..50 are 5,7,...,49: 23 points.
    assert_eq!(server.count("del", None).await, 96 - 23);
    let left = server
        .scroll_all("del", &json!({"with_payload": true}), 1000)
        .await;
    for p in &left {
        let i = p["payload"]["i"].as_u64().expect("i");
        assert!(i >= 4, "deleted id {i} came back");
        assert!(!(i % 2 == 1 && i < 50), "filter-deleted id {i} came back");
    }
}
