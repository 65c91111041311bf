//! Scroll pagination and ordering: exporting a collection page by page must see
//! every point exactly once.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::harness::{TestServer, XorShift};

/// Following `next_page_offset` from the first page to `null` must visit every
/// point once, in id order, whatever the page size; a skipped or repeated point
/// corrupts every export and migration built on scroll.
#[tokio::test]
async fn pagination_visits_every_point_once_in_id_order() {
    let server = TestServer::start().await;
    server
        .create_collection("s", &json!({"vectors": {"size": 2, "distance": "Dot"}}))
        .await;
    // Ids inserted out of order, with gaps.
    let mut rng = XorShift::new(77);
    let mut ids: Vec<u64> = (0..1000u64).map(|i| i * 3 + 1).collect();
    for i in (1..ids.len()).rev() {
        ids.swap(i, rng.below(i as u64 + 1) as usize);
    }
    for chunk in ids.chunks(250) {
        let pts: Vec<Value> = chunk
            .iter()
            .map(|id| json!({"id": id, "vector": [1.0, 0.5], "payload": {"id_copy": id, "even": id % 2 == 0}}))
            .collect();
        server.upsert("s", &json!({"points": pts})).await;
    }
    let mut sorted = ids.clone();
    sorted.sort();

    for page in [1usize, 7, 97, 1000, 5000] {
        let all = server.scroll_all("s", &json!({}), page).await;
        let got: Vec<u64> = all
            .iter()
            .map(|p| p["id"].as_u64().expect("int id"))
            .collect();
        assert_eq!(
            got, sorted,
            "page size {page}: ids must come once each, ascending"
        );
        assert!(
            all.iter().all(|p| p["payload"]["id_copy"] == p["id"]),
            "page size {page}: payload comes by default and belongs to its point"
        );
        assert!(
            all.iter().all(|p| p["vector"].is_null()),
            "page size {page}: vectors are off by default"
        );
    }

    // The default page is 10 and the offset is inclusive.
    let r = server
        .post("/collections/s/points/scroll", &json!({"offset": 301}))
        .await;
    let result = r.ok();
    let got: Vec<u64> = result["points"]
        .as_array()
        .expect("points")
        .iter()
        .map(|p| p["id"].as_u64().expect("id"))
        .collect();
    let want: Vec<u64> = sorted
        .iter()
        .copied()
        .filter(|id| *id >= 301)
        .take(10)
        .collect();
    assert_eq!(got, want, "{}", r.describe());
    assert_eq!(
        result["next_page_offset"],
        json!(want[9] + 3),
        "{}",
        r.describe()
    );

    // With a filter, pages hold only matching points and still cover them all.
    let filtered = server
        .scroll_all(
            "s",
            &json!({"filter": {"must": [{"key": "even", "match": {"value": true}}]}, "with_vector": true}),
            33,
        )
        .await;
    let got: Vec<u64> = filtered
        .iter()
        .map(|p| p["id"].as_u64().expect("id"))
        .collect();
    let want: Vec<u64> = sorted.iter().copied().filter(|id| id % 2 == 0).collect();
    assert_eq!(got, want);
    assert!(filtered.iter().all(|p| p["vector"] == json!([1.0, 0.5])));
}

/// Integer and UUID ids live side by side; Qdrant orders all integers before all
/// UUIDs, and the offset may be either kind.
#[tokio::test]
async fn pagination_spans_integer_and_uuid_ids() {
    let server = TestServer::start().await;
    server
        .create_collection("mix", &json!({"vectors": {"size": 2, "distance": "Dot"}}))
        .await;
    let mut rng = XorShift::new(4242);
    let mut pts = Vec::new();
    let mut ints = Vec::new();
    let mut uuids = Vec::new();
    for i in 0..150u64 {
        ints.push(i * 10);
        pts.push(json!({"id": i * 10, "vector": [1.0, 0.0]}));
        let a = rng.next_u64();
        let b = rng.next_u64();
        // A version-4 UUID in canonical form.
        let uuid = format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | (b >> 48 & 0x3fff),
            b & 0xffff_ffff_ffff
        );
        uuids.push(uuid.clone());
        pts.push(json!({"id": uuid, "vector": [0.0, 1.0]}));
    }
    server.upsert("mix", &json!({"points": pts})).await;
    uuids.sort();
    let mut want: Vec<Value> = ints.iter().map(|i| json!(i)).collect();
    want.extend(uuids.iter().map(|u| json!(u)));

    let all = server
        .scroll_all("mix", &json!({"with_payload": false}), 40)
        .await;
    let got: Vec<Value> = all.iter().map(|p| p["id"].clone()).collect();
    let unique: HashSet<String> = got.iter().map(|v| v.to_string()).collect();
    assert_eq!(unique.len(), 300, "every point once");
    assert_eq!(got, want, "integers ascending, then UUIDs ascending");

    // Starting from a UUID offset continues inside the UUID range.
    let r = server
        .post(
            "/collections/mix/points/scroll",
            &json!({"offset": uuids[100], "limit": 100}),
        )
        .await;
    let got: Vec<Value> = r.ok()["points"]
        .as_array()
        .expect("points")
        .iter()
        .map(|p| p["id"].clone())
        .collect();
    let want: Vec<Value> = uuids[100..].iter().map(|u| json!(u)).collect();
    assert_eq!(got, want, "{}", r.describe());
    assert!(r.ok()["next_page_offset"].is_null(), "{}", r.describe());
}

/// `order_by` sorts by a payload value (after creating the range index Qdrant
/// requires), in both directions, from `start_from`, reporting `order_value`.
#[tokio::test]
async fn order_by_payload_field() {
    let server = TestServer::start().await;
    server
        .create_collection("o", &json!({"vectors": {"size": 2, "distance": "Dot"}}))
        .await;
    let mut rng = XorShift::new(99);
    let ranks: Vec<u64> = (0..300).map(|_| rng.below(100)).collect();
    let pts: Vec<Value> = ranks
        .iter()
        .enumerate()
        .map(|(i, r)| json!({"id": i, "vector": [1.0, 1.0], "payload": {"rank": r}}))
        .collect();
    server.upsert("o", &json!({"points": pts})).await;
    let r = server
        .put(
            "/collections/o/index?wait=true",
            &json!({"field_name": "rank", "field_schema": "integer"}),
        )
        .await;
    r.ok();

    let values = |points: &Value| -> Vec<u64> {
        points
            .as_array()
            .expect("points")
            .iter()
            .map(|p| {
                assert_eq!(
                    p["order_value"], p["payload"]["rank"],
                    "order_value is the sort key: {p}"
                );
                p["payload"]["rank"].as_u64().expect("rank")
            })
            .collect()
    };

    let mut sorted = ranks.clone();
    sorted.sort();

    let r = server
        .post(
            "/collections/o/points/scroll",
            &json!({"order_by": "rank", "limit": 300}),
        )
        .await;
    assert_eq!(
        values(&r.ok()["points"]),
        sorted,
        "ascending is the default: {}",
        r.describe()
    );

    let r = server
        .post(
            "/collections/o/points/scroll",
            &json!({"order_by": {"key": "rank", "direction": "desc"}, "limit": 25}),
        )
        .await;
    let mut desc = sorted.clone();
    desc.reverse();
    assert_eq!(
        values(&r.ok()["points"]),
        desc[..25].to_vec(),
        "{}",
        r.describe()
    );

    let r = server
        .post(
            "/collections/o/points/scroll",
            &json!({"order_by": {"key": "rank", "direction": "asc", "start_from": 50}, "limit": 300}),
        )
        .await;
    let want: Vec<u64> = sorted.iter().copied().filter(|r| *r >= 50).collect();
    assert_eq!(values(&r.ok()["points"]), want, "{}", r.describe());

    // The index shows in the collection's payload schema.
    let r = server.get("/collections/o").await;
    assert_eq!(
        r.ok()["payload_schema"]["rank"]["data_type"],
        "integer",
        "{}",
        r.describe()
    );
}
