//! One benchmark run, in order: dataset, ground truth, upload, wait for green, query
//! phases, report.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use serde_json::json;

use crate::cli::{Args, port_of};
use crate::dataset::{self, Dataset, Synthetic};
use crate::procfs;
use crate::report::{
    DatasetInfo, Green, MemoryReport, Mib, Phase, Report, ServerInfo, Tool, Upload,
};
use crate::server::{CollectionSpec, CollectionState, Conn, Endpoint, Search};
use crate::stats;
use crate::truth::{self, Truth};

/// How often the collection is polled while waiting for green.
const GREEN_POLL: Duration = Duration::from_millis(100);

/// Run everything `args` asks for and return the report.
pub fn run(args: Args) -> Result<Report> {
    let started_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (api_key, auth) = credential(&args)?;

    let t = Instant::now();
    let dataset = load_dataset(&args)?;
    eprintln!(
        "dataset: {} points x {} ({}), {} queries, ready in {:.1} s",
        dataset.len(),
        dataset.dim(),
        dataset.distance.key(),
        dataset.queries.rows(),
        t.elapsed().as_secs_f64()
    );

    // Ground truth first: it uses every core, and must not compete with the server
    // while anything is being measured.
    let threads = args.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let cache_dir = args.cache_dir();
    let k = args.k as usize;
    let mut truths = Vec::new();
    let mut truth_infos = Vec::new();
    for filtered in [false, true] {
        if filtered && !args.filter {
            continue;
        }
        let (truth, info) =
            truth::load_or_compute(&dataset, k, filtered, threads, cache_dir.as_deref())?;
        eprintln!(
            "ground truth{}: {} in {:.1} s",
            if filtered { " (filtered)" } else { "" },
            if info.cached {
                "from cache"
            } else {
                "computed"
            },
            info.seconds
        );
        truths.push(truth);
        truth_infos.push(info);
    }
    let filtered_truth = args.filter.then(|| truths.pop()).flatten();
    let truth = truths.pop().expect("unfiltered ground truth");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    let dataset = Arc::new(dataset);
    runtime.block_on(measure(
        args,
        api_key,
        auth,
        dataset,
        truth,
        filtered_truth,
        truth_infos,
        started_at,
    ))
}

/// The credential to send, and how to describe it in the report.
fn credential(args: &Args) -> Result<(Option<String>, &'static str)> {
    if let Some(secret) = &args.jwt_from_secret {
        let token = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &json!({"access": "m"}),
            &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
        )
        .context("signing the JWT")?;
        return Ok((Some(token), "jwt"));
    }
    match args.api_key.as_deref().filter(|k| !k.is_empty()) {
        Some(key) => Ok((Some(key.to_string()), "api-key")),
        None => Ok((None, "none")),
    }
}

fn load_dataset(args: &Args) -> Result<Dataset> {
    match &args.dataset {
        Some(path) => Ok(dataset::load(
            path,
            args.query_file.as_deref(),
            args.points,
            args.queries,
            args.distance,
            args.groups,
        )?),
        None => {
            if args.dim == 0 {
                bail!("--dim must be at least 1");
            }
            Ok(Synthetic {
                n: args.points.unwrap_or(100_000),
                queries: args.queries,
                dim: args.dim,
                clusters: args.clusters,
                noise: args.noise,
                seed: args.seed,
            }
            .generate(args.distance, args.groups))
        }
    }
}

/// The server process and how it was found.
fn find_server(args: &Args, grpc_url: &str) -> (Option<u32>, Option<String>) {
    if let Some(pid) = args.server_pid {
        return (Some(pid), Some("flag".into()));
    }
    for port in [port_of(&args.url), port_of(grpc_url)] {
        if let Some(pid) = procfs::find_listener(port) {
            return (Some(pid), Some(format!("port {port}")));
        }
    }
    (None, None)
}

/// Server CPU time in seconds, if the server is visible.
fn server_cpu(pid: Option<u32>, ticks: u64) -> Option<f64> {
    pid.and_then(procfs::cpu)
        .map(|c| c.total() as f64 / ticks as f64)
}

fn own_cpu(ticks: u64) -> Option<f64> {
    procfs::own_cpu().map(|c| c.total() as f64 / ticks as f64)
}

fn delta(before: Option<f64>, after: Option<f64>) -> Option<f64> {
    Some(after? - before?)
}

/// The server's storage writes so far, or why they cannot be read.
fn server_io(pid: Option<u32>) -> Result<procfs::Io, String> {
    pid.ok_or_else(|| "server process not found".to_string())
        .and_then(procfs::io)
}

/// `write_bytes` and `cancelled_write_bytes` between two readings.
fn io_delta(
    before: &Result<procfs::Io, String>,
    after: &Result<procfs::Io, String>,
) -> Result<(u64, u64), String> {
    let (before, after) = (before.as_ref()?, after.as_ref()?);
    Ok((
        after.write_bytes.saturating_sub(before.write_bytes),
        after
            .cancelled_write_bytes
            .saturating_sub(before.cancelled_write_bytes),
    ))
}

#[allow(clippy::too_many_arguments)]
async fn measure(
    args: Args,
    api_key: Option<String>,
    auth: &'static str,
    dataset: Arc<Dataset>,
    truth: Truth,
    filtered_truth: Option<Truth>,
    truth_infos: Vec<truth::TruthInfo>,
    started_at: u64,
) -> Result<Report> {
    let grpc_url = args.grpc_url();
    let endpoint = Endpoint {
        rest_url: args.url.clone(),
        grpc_url: grpc_url.clone(),
        api_key,
        timeout: Duration::from_secs_f64(args.timeout),
    };
    let root = endpoint
        .server_version()
        .await
        .context("cannot reach the server")?;
    let version = root["version"].as_str().map(str::to_string);
    let (pid, pid_source) = find_server(&args, &grpc_url);
    let ticks = procfs::clock_ticks_per_second();
    let process_name = pid.and_then(procfs::name);
    eprintln!(
        "server: {} {} at {}, process {}",
        root["title"].as_str().unwrap_or("?"),
        version.as_deref().unwrap_or("?"),
        args.url,
        match (pid, &process_name) {
            (Some(pid), Some(name)) => format!("{name} (pid {pid})"),
            _ => "not found: CPU, memory and disk figures will be null".into(),
        }
    );
    let memory_start = pid.and_then(procfs::memory).map(Mib::from);
    let admin = endpoint.connect(args.transport, &args.collection)?;

    // --- upload ----------------------------------------------------------------------
    let upload = if args.skip_upload {
        if !admin.exists().await? {
            bail!(
                "--skip-upload: collection {} does not exist",
                args.collection
            );
        }
        None
    } else {
        if admin.exists().await? {
            if !args.recreate {
                bail!(
                    "collection {} already exists: pass --recreate to replace it, or \
                     --skip-upload to query it as it is",
                    args.collection
                );
            }
            admin
                .delete()
                .await
                .context("deleting the old collection")?;
        }
        admin
            .create(&CollectionSpec {
                dim: dataset.dim(),
                distance: dataset.distance,
                m: args.m,
                ef_construct: args.ef_construct,
                on_disk: args.on_disk,
                quantization: args.quantization,
            })
            .await
            .context("creating the collection")?;
        if !args.no_payload_index {
            admin
                .create_group_index()
                .await
                .context("creating the payload index")?;
        }
        Some(upload(&args, &endpoint, &dataset, pid, ticks).await?)
    };

    // --- wait for green --------------------------------------------------------------
    let (green, io_at_green) =
        wait_for_green(&admin, &args, pid, ticks, upload.as_ref().map(|u| &u.0)).await?;
    let upload = upload.map(|(mut upload, io_before)| {
        match io_delta(&io_before, &io_at_green) {
            Ok((written, cancelled)) => {
                upload.disk_write_bytes_to_green = Some(written);
                upload.disk_cancelled_write_bytes_to_green = Some(cancelled);
            }
            Err(e) => {
                upload.disk_io_error.get_or_insert(e);
            }
        }
        upload
    });
    if let Some(count) = green.state.points_count
        && count != dataset.len() as u64
    {
        eprintln!(
            "warning: the collection holds {count} points, the dataset {}: recall will be off",
            dataset.len()
        );
    }
    let memory_after_load = pid.and_then(procfs::memory).map(Mib::from);

    // --- queries ---------------------------------------------------------------------
    let mut clients = Vec::new();
    for _ in 0..args.clients {
        let conn = endpoint.connect(args.transport, &args.collection)?;
        // Open the connection now, so no query pays for the handshake.
        conn.state().await.context("connecting a query client")?;
        clients.push(Arc::new(conn));
    }
    let mut phases = Vec::new();
    let mut settings: Vec<(Option<u64>, bool)> = Vec::new();
    if args.exact {
        settings.push((None, true));
    }
    settings.extend(args.ef.iter().map(|&ef| (Some(ef), false)));
    if !green.reached {
        // Queries now would race the indexing for the CPU and measure neither.
        eprintln!("the collection is not green: the query phases are skipped");
        settings.clear();
    }
    for filtered in [false, true] {
        let truth = match (filtered, &filtered_truth) {
            (false, _) => &truth,
            (true, Some(t)) => t,
            (true, None) => continue,
        };
        for &(hnsw_ef, exact) in &settings {
            let phase = run_phase(
                &args,
                &clients,
                &dataset,
                truth,
                PhaseSpec {
                    hnsw_ef,
                    exact,
                    filtered,
                },
                pid,
                ticks,
            )
            .await?;
            eprintln!(
                "{:<18} recall {:.4}  {:.1} QPS  p99 {:.2} ms",
                phase.label, phase.recall, phase.qps, phase.latency.p99_ms
            );
            phases.push(phase);
        }
    }
    let memory_end = pid.and_then(procfs::memory).map(Mib::from);

    let mut params = serde_json::to_value(&args)?;
    params["grpc_url"] = grpc_url.clone().into();
    params["threads"] = json!(args.threads);
    Ok(Report {
        tool: Tool {
            name: "osprey-bench",
            version: env!("CARGO_PKG_VERSION"),
        },
        started_at,
        server: ServerInfo {
            url: args.url.clone(),
            grpc_url,
            auth,
            root,
            version,
            pid,
            process_name,
            pid_source,
            clock_ticks_per_second: ticks,
        },
        params,
        dataset: DatasetInfo {
            source: dataset.source.clone(),
            points: dataset.len(),
            queries: dataset.queries.rows(),
            dim: dataset.dim(),
            distance: dataset.distance.key(),
            groups: dataset.groups,
            filter_selectivity: (0..dataset.len())
                .filter(|&i| dataset.group_of_point(i) == 0)
                .count() as f64
                / dataset.len().max(1) as f64,
        },
        ground_truth: truth_infos,
        upload,
        green,
        memory: MemoryReport {
            start: memory_start,
            after_load: memory_after_load,
            end: memory_end,
        },
        search: phases,
    })
}

/// Upsert every point in batches, `--parallel` uploaders at a time. Also returns the
/// server's storage writes read right before the first upsert, for the figures to green.
async fn upload(
    args: &Args,
    endpoint: &Endpoint,
    dataset: &Arc<Dataset>,
    pid: Option<u32>,
    ticks: u64,
) -> Result<(Upload, Result<procfs::Io, String>)> {
    let n = dataset.len();
    let batch = args.batch as usize;
    let batches = n.div_ceil(batch);
    let mut conns = Vec::new();
    for _ in 0..args.parallel {
        let conn = endpoint.connect(args.transport, &args.collection)?;
        conn.state().await.context("connecting an uploader")?;
        conns.push(conn);
    }
    eprintln!(
        "uploading {n} points in {batches} batches of {batch} over {:?}, {} uploader(s)",
        args.transport, args.parallel
    );
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicBool::new(false));
    let cpu_before = server_cpu(pid, ticks);
    let io_before = server_io(pid);
    let started = Instant::now();
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|conn| {
            let (dataset, next, done, failed) =
                (dataset.clone(), next.clone(), done.clone(), failed.clone());
            tokio::spawn(async move {
                loop {
                    let b = next.fetch_add(1, Ordering::Relaxed);
                    if b >= batches || failed.load(Ordering::Relaxed) {
                        return Ok(());
                    }
                    let ids = b * batch..((b + 1) * batch).min(n);
                    if let Err(e) = conn.upsert(&dataset, ids.clone()).await {
                        failed.store(true, Ordering::Relaxed);
                        return Err(e.context(format!("upserting points {ids:?}")));
                    }
                    let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
                    if finished * 10 / batches != (finished - 1) * 10 / batches {
                        eprintln!(
                            "  {:>3} % uploaded, {:.1} s",
                            finished * 100 / batches,
                            started.elapsed().as_secs_f64()
                        );
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.context("uploader task")??;
    }
    let seconds = started.elapsed().as_secs_f64();
    let io_after = server_io(pid);
    let disk = io_delta(&io_before, &io_after);
    let raw_vector_bytes = (n * dataset.dim() * 4) as u64;
    eprintln!(
        "uploaded in {seconds:.1} s ({:.0} points/s); server disk writes: {}",
        n as f64 / seconds,
        match &disk {
            Ok((written, _)) => format!(
                "{written} bytes, {:.1}x the {raw_vector_bytes} bytes of raw vectors",
                *written as f64 / raw_vector_bytes.max(1) as f64
            ),
            Err(e) => format!("n/a ({e})"),
        }
    );
    let upload = Upload {
        transport: args.transport,
        batch: args.batch,
        parallel: args.parallel,
        batches: batches as u64,
        payload_index: !args.no_payload_index,
        seconds,
        points_per_second: n as f64 / seconds,
        server_cpu_seconds: delta(cpu_before, server_cpu(pid, ticks)),
        raw_vector_bytes,
        disk_write_bytes: disk.as_ref().ok().map(|d| d.0),
        disk_write_bytes_to_green: None,
        disk_cancelled_write_bytes: disk.as_ref().ok().map(|d| d.1),
        disk_cancelled_write_bytes_to_green: None,
        disk_io_error: disk.err(),
    };
    Ok((upload, io_before))
}

/// Poll until status green with the optimizers ok. `indexed_vectors_count` is not
/// waited for: a collection below the indexing threshold is never indexed and is green
/// all the same; the count is reported as seen. Past `--green-timeout` it gives up and
/// says so (`reached: false`). Also returns the server's storage writes read at that
/// poll.
async fn wait_for_green(
    admin: &Conn,
    args: &Args,
    pid: Option<u32>,
    ticks: u64,
    upload: Option<&Upload>,
) -> Result<(Green, Result<procfs::Io, String>)> {
    let started = Instant::now();
    let cpu_before = server_cpu(pid, ticks);
    let deadline = started + Duration::from_secs_f64(args.green_timeout);
    let mut polls = 0;
    let mut last: Option<CollectionState> = None;
    let mut last_print = Instant::now();
    loop {
        let state = admin.state().await.context("polling the collection")?;
        polls += 1;
        let reached = state.is_green();
        if reached || Instant::now() > deadline {
            let io = server_io(pid);
            let seconds = started.elapsed().as_secs_f64();
            let indexed = state
                .indexed_vectors_count
                .map_or("n/a".into(), |v| v.to_string());
            if reached {
                eprintln!("green after {seconds:.2} s (indexed_vectors_count {indexed})");
            } else {
                eprintln!(
                    "warning: the collection was not green after {seconds:.1} s \
                     (--green-timeout {}): status {}, indexed_vectors_count {indexed}",
                    args.green_timeout, state.status
                );
            }
            let green = Green {
                reached,
                seconds,
                total_seconds: upload.map(|u| u.seconds + seconds),
                polls,
                server_cpu_seconds: delta(cpu_before, server_cpu(pid, ticks)),
                state,
            };
            return Ok((green, io));
        }
        if last.as_ref() != Some(&state) || last_print.elapsed() > Duration::from_secs(10) {
            eprintln!(
                "  waiting for green: status {}, indexed_vectors_count {}, {:.0} s",
                state.status,
                state
                    .indexed_vectors_count
                    .map_or("n/a".into(), |v| v.to_string()),
                started.elapsed().as_secs_f64()
            );
            last_print = Instant::now();
        }
        last = Some(state);
        tokio::time::sleep(GREEN_POLL).await;
    }
}

#[derive(Debug, Clone, Copy)]
struct PhaseSpec {
    hnsw_ef: Option<u64>,
    exact: bool,
    filtered: bool,
}

impl PhaseSpec {
    fn label(self) -> String {
        let mut label = match (self.exact, self.hnsw_ef) {
            (true, _) => "exact".to_string(),
            (false, Some(ef)) => format!("hnsw_ef={ef}"),
            (false, None) => "default".to_string(),
        };
        if self.filtered {
            label.push_str(" filter");
        }
        label
    }
}

/// The answers of one client: `(query index, latency, returned ids)`.
type Answers = Vec<(usize, Duration, Vec<u64>)>;

/// Send `count` queries (query `j % nq` for `j` in `0..count`) over `clients`.
async fn send_queries(
    clients: &[Arc<Conn>],
    dataset: &Arc<Dataset>,
    args: &Args,
    spec: PhaseSpec,
    count: usize,
) -> Result<Answers> {
    let next = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicBool::new(false));
    let (k, api, oversampling) = (args.k, args.api, args.oversampling);
    let tasks: Vec<_> = clients
        .iter()
        .map(|conn| {
            let (conn, dataset, next, failed) =
                (conn.clone(), dataset.clone(), next.clone(), failed.clone());
            tokio::spawn(async move {
                let nq = dataset.queries.rows();
                let mut out = Vec::new();
                loop {
                    let j = next.fetch_add(1, Ordering::Relaxed);
                    if j >= count || failed.load(Ordering::Relaxed) {
                        return Ok(out);
                    }
                    let q = j % nq;
                    let search = Search {
                        vector: dataset.queries.row(q),
                        k,
                        hnsw_ef: spec.hnsw_ef,
                        exact: spec.exact,
                        group: spec.filtered.then(|| dataset.group_of_query(q)),
                        api,
                        oversampling,
                    };
                    let sent = Instant::now();
                    match conn.search(search).await {
                        Ok(ids) => out.push((q, sent.elapsed(), ids)),
                        Err(e) => {
                            failed.store(true, Ordering::Relaxed);
                            return Err(e.context(format!("query {q} ({})", spec.label())));
                        }
                    }
                }
            })
        })
        .collect();
    let mut answers = Vec::with_capacity(count);
    for t in tasks {
        answers.extend(t.await.context("query task")??);
    }
    Ok(answers)
}

async fn run_phase(
    args: &Args,
    clients: &[Arc<Conn>],
    dataset: &Arc<Dataset>,
    truth: &Truth,
    spec: PhaseSpec,
    pid: Option<u32>,
    ticks: u64,
) -> Result<Phase> {
    if args.warmup > 0 {
        send_queries(clients, dataset, args, spec, args.warmup).await?;
    }
    let nq = dataset.queries.rows();
    let server_before = server_cpu(pid, ticks);
    let client_before = own_cpu(ticks);
    let started = Instant::now();
    let answers = send_queries(clients, dataset, args, spec, nq).await?;
    let seconds = started.elapsed().as_secs_f64();
    let server_after = server_cpu(pid, ticks);
    let client_after = own_cpu(ticks);

    let latencies: Vec<Duration> = answers.iter().map(|a| a.1).collect();
    let recalls: Vec<f64> = answers
        .iter()
        .map(|(q, _, ids)| truth.recall(dataset, *q, ids))
        .collect();
    let per_query_us = |d: Option<f64>| d.map(|s| s * 1e6 / nq.max(1) as f64);
    Ok(Phase {
        label: spec.label(),
        hnsw_ef: spec.hnsw_ef,
        exact: spec.exact,
        filter: spec.filtered,
        api: args.api,
        transport: args.transport,
        clients: args.clients,
        queries: nq,
        k: args.k,
        warmup: args.warmup,
        seconds,
        qps: nq as f64 / seconds,
        latency: stats::summarize(&latencies),
        recall: recalls.iter().sum::<f64>() / recalls.len().max(1) as f64,
        recall_min: recalls
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min)
            .min(1.0),
        server_cpu_us_per_query: per_query_us(delta(server_before, server_after)),
        client_cpu_us_per_query: per_query_us(delta(client_before, client_after)),
    })
}
