//! Crash safety: a `wait=true` write that was acknowledged must survive SIGKILL.
//!
//! Writers stream single-point upserts with `wait=true` and record every id the
//! server acknowledged. The server is killed with SIGKILL at a random moment
//! (no shutdown hook runs), restarted on the same storage, and every
//! acknowledged point must be there with its payload and vector. The storage
//! carries over between trials, so later trials also replay earlier crashes.
//! Figures are printed (run with `--nocapture`) for the closing note.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{TestServer, XorShift, time_seed};

const TRIALS: usize = 5;
const WRITERS: usize = 4;

fn payload_for(id: u64, trial: usize) -> Value {
    // Long enough that a record spans several WAL pages' worth of small writes.
    let blob: String = (0..300)
        .map(|k| (b'a' + ((id + k) % 26) as u8) as char)
        .collect();
    json!({"id": id, "trial": trial, "blob": blob, "nested": {"even": id % 2 == 0}})
}

fn vector_for(id: u64) -> Vec<f32> {
    vec![id as f32, 1.0, (id % 7) as f32, -0.5]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_loses_no_acknowledged_write() {
    let seed = time_seed();
    println!("crash: seed {seed:#x}");
    let mut rng = XorShift::new(seed);
    let mut server = TestServer::start().await;
    server
        .create_collection("crash", &json!({"vectors": {"size": 4, "distance": "Dot"}}))
        .await;

    let next_id = Arc::new(AtomicU64::new(0));
    let mut acknowledged: Vec<(u64, usize)> = Vec::new();
    let mut lost_total = 0usize;

    for trial in 1..=TRIALS {
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(Mutex::new(Vec::<u64>::new()));
        let url = server.url("/collections/crash/points?wait=true");
        let mut writers = Vec::new();
        for _ in 0..WRITERS {
            let client = server.client().clone();
            let url = url.clone();
            let key = server.api_key().to_string();
            let stop = stop.clone();
            let acked = acked.clone();
            let next_id = next_id.clone();
            writers.push(tokio::spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    let id = next_id.fetch_add(1, Ordering::SeqCst);
                    let body = json!({"points": [{"id": id, "vector": vector_for(id), "payload": payload_for(id, trial)}]});
                    let sent = client
                        .put(&url)
                        .header("api-key", &key)
                        .json(&body)
                        .timeout(Duration::from_secs(10))
                        .send()
                        .await;
                    let Ok(resp) = sent else {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        continue;
                    };
                    if resp.status().as_u16() != 200 {
                        continue;
                    }
                    let Ok(v) = resp.json::<Value>().await else { continue };
                    if v["status"] == "ok" && v["result"]["status"] == "completed" {
                        acked.lock().expect("lock").push(id);
                    }
                }
            }));
        }

        let delay = Duration::from_millis(300 + rng.below(1200));
        let started = Instant::now();
        tokio::time::sleep(delay).await;
        server.kill();
        stop.store(true, Ordering::SeqCst);
        for w in writers {
            w.await.expect("writer task");
        }
        let this_trial: Vec<u64> = acked.lock().expect("lock").clone();
        assert!(
            !this_trial.is_empty(),
            "trial {trial}: no write was acknowledged in {delay:?}; the test proves nothing"
        );
        acknowledged.extend(this_trial.iter().map(|id| (*id, trial)));

        server.start_again().await;

        // Every acknowledged point, from this and every earlier trial.
        let mut lost = Vec::new();
        for chunk in acknowledged.chunks(500) {
            let ids: Vec<u64> = chunk.iter().map(|(id, _)| *id).collect();
            let r = server
                .post(
                    "/collections/crash/points",
                    &json!({"ids": ids, "with_payload": true, "with_vector": true}),
                )
                .await;
            let records = r.ok().as_array().cloned().unwrap_or_default();
            for (id, t) in chunk {
                let found = records.iter().find(|rec| rec["id"] == *id);
                let intact = found.is_some_and(|rec| {
                    rec["payload"] == payload_for(*id, *t)
                        && rec["vector"] == json!(vector_for(*id))
                });
                if !intact {
                    lost.push((*id, found.cloned()));
                }
            }
        }
        // Unacknowledged in-flight writes may or may not have landed, but nothing
        // else may appear.
        let count = server.count("crash", None).await;
        let issued = next_id.load(Ordering::SeqCst);
        println!(
            "crash trial {trial}: killed after {:?}, acknowledged {} (total {}), lost {}, points {count}, issued {issued}",
            started.elapsed(),
            this_trial.len(),
            acknowledged.len(),
            lost.len()
        );
        assert!(
            count >= (acknowledged.len() - lost.len()) as u64 && count <= issued,
            "trial {trial}: {count} points after restart, {} acknowledged, {issued} ids issued",
            acknowledged.len()
        );
        if !lost.is_empty() {
            let sample: Vec<_> = lost.iter().take(5).collect();
            eprintln!("trial {trial}: lost or damaged acknowledged points, e.g. {sample:?}");
        }
        lost_total += lost.len();
        assert!(
            lost.is_empty(),
            "trial {trial}: {} acknowledged writes lost or damaged after SIGKILL",
            lost.len()
        );
    }
    println!(
        "crash test: trials {TRIALS}, acknowledged {}, lost {lost_total}",
        acknowledged.len()
    );
}
