//! `osprey serve`: configuration -> logging -> engine -> authentication -> REST.
//!
//! Order matters for the bootstrap key: the REST listener is bound before the key is
//! generated, so the printed curl line names the port actually in use (also when
//! `http_port` is 0) and a failed bind never mints a key nobody was shown working.

use std::io::IsTerminal;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

use crate::bootstrap::{self, AuthMode, AuthPlan, MetaStore};
use crate::cli::{QDRANT_API_VERSION, ServeArgs};
use crate::settings::{self, Settings, Sources};
use crate::tls;

/// Runs the server until SIGINT or SIGTERM.
pub fn run(args: ServeArgs) -> Result<()> {
    let loaded = settings::load(&Sources::from_process(args.config_path.clone()))?;
    let mut settings = loaded.settings;
    if args.disable_telemetry {
        settings.telemetry_disabled = true;
    }

    init_tracing(&settings.log_level);
    tracing::info!(
        "Osprey {} (Qdrant API {QDRANT_API_VERSION}) starting",
        env!("CARGO_PKG_VERSION")
    );
    for note in &loaded.notes {
        note.emit();
    }
    settings.cluster.uri = args.uri.clone().filter(|_| settings.cluster.enabled);
    for warning in args.ignored_flag_warnings(settings.cluster.enabled) {
        tracing::warn!("{warning}");
    }
    refuse_unsupported(&settings)?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("osprey")
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(settings, &args))
}

async fn serve(settings: Settings, args: &ServeArgs) -> Result<()> {
    let service = &settings.service;

    // Opening replays write-ahead logs; blocking this (the main) thread is fine before
    // anything is served. So is snapshot recovery, which must finish (or stop the
    // start) before the first request could see half of it.
    let storage = wiring::open_storage(&settings)?;
    wiring::recover_snapshots(&storage, args)?;

    let listener = TcpListener::bind((service.host.as_str(), service.http_port))
        .await
        .with_context(|| {
            format!(
                "binding the REST listener to {}:{}",
                service.host, service.http_port
            )
        })?;
    let local = listener
        .local_addr()
        .context("reading the REST listener's address")?;
    let grpc_listener = match service.grpc_port {
        Some(port) => Some(
            TcpListener::bind((service.host.as_str(), port))
                .await
                .with_context(|| format!("binding the gRPC listener to {}:{port}", service.host))?,
        ),
        None => None,
    };

    let plan = {
        let mut stdout = std::io::stdout().lock();
        bootstrap::plan(service, storage.as_ref(), local.port(), &mut stdout)?
    };
    warn_if_keys_travel_in_clear(&settings, plan.mode);
    let keys = wiring::open_key_registry(&settings)?;
    let audit = wiring::open_audit_log(&settings)?;
    let auth = wiring::authenticator(plan, keys.clone(), audit.clone())?;
    let router = wiring::rest_router(storage.clone(), auth.clone(), keys.clone(), &settings);

    let tls_files = tls::TlsFiles::from_settings(&settings)?;

    // One shutdown signal for both listeners.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    };

    let grpc = match grpc_listener {
        Some(listener) => {
            let grpc_local = listener.local_addr().context("reading the gRPC listener's address")?;
            let identity = match &tls_files {
                Some(files) => Some(osprey_grpc::TlsIdentity {
                    cert_pem: std::fs::read(&files.cert)
                        .with_context(|| format!("reading {}", files.cert.display()))?,
                    key_pem: std::fs::read(&files.key)
                        .with_context(|| format!("reading {}", files.key.display()))?,
                }),
                None => None,
            };
            let scheme = if identity.is_some() { "https" } else { "http" };
            tracing::info!("gRPC API listening on {scheme}://{grpc_local}");
            let ctx = osprey_grpc::GrpcContext { storage: storage.clone(), auth: auth.clone(), keys: Some(keys.clone()), tls: identity };
            Some(tokio::spawn(osprey_grpc::serve(listener, ctx, stopped())))
        }
        None => None,
    };

    match tls_files {
        None => {
            tracing::info!("REST API listening on http://{local}");
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(stopped())
            .await
            .context("serving REST")?;
        }
        Some(files) => {
            let rustls_config = axum_server::tls_rustls::RustlsConfig::from_config(files.rest_config()?);
            tls::spawn_reloader(files, rustls_config.clone());
            let handle = axum_server::Handle::new();
            let stopper = handle.clone();
            let stop = stopped();
            tokio::spawn(async move {
                stop.await;
                stopper.graceful_shutdown(Some(std::time::Duration::from_secs(10)));
            });
            tracing::info!("REST API listening on https://{local}");
            let listener = listener.into_std().context("preparing the REST listener for TLS")?;
            axum_server::from_tcp_rustls(listener, rustls_config)
                .context("serving REST over TLS")?
                .handle(handle)
                .serve(router.into_make_service_with_connect_info::<SocketAddr>())
                .await
                .context("serving REST over TLS")?;
        }
    }
    if let Some(grpc) = grpc {
        match grpc.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!("gRPC server stopped with an error: {e}"),
            Err(e) => tracing::error!("gRPC server task failed: {e}"),
        }
    }

    tracing::info!("stopped accepting requests; flushing storage");
    wiring::close_storage(&storage)?;
    if let Err(e) = keys.flush_last_used() {
        tracing::warn!("could not record the keys' last use on shutdown: {e}");
    }
    if let Some(audit) = &audit {
        audit.flush();
    }
    tracing::info!("shut down cleanly");
    Ok(())
}

/// `RUST_LOG` wins; otherwise Qdrant's `log_level` (a level or a filter). Logs go to
/// stderr, so stdout carries only the one-time bootstrap key block.
/// The running log filter, for `GET/POST /logger`.
static LOG_FILTER: std::sync::OnceLock<Arc<dyn osprey_rest::LogControl>> = std::sync::OnceLock::new();

/// [`osprey_rest::LogControl`] over the subscriber's reloadable filter.
struct ReloadableLevel<H>(H);

impl<H> std::fmt::Debug for ReloadableLevel<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReloadableLevel")
    }
}

impl<S> osprey_rest::LogControl for ReloadableLevel<tracing_subscriber::reload::Handle<EnvFilter, S>>
where
    S: Send + Sync + 'static,
{
    fn level(&self) -> String {
        self.0.with_current(|f| f.to_string()).unwrap_or_default()
    }

    fn set_level(&self, level: &str) -> std::result::Result<(), String> {
        let filter = EnvFilter::try_new(level).map_err(|e| format!("`{level}` is not a valid log level: {e}"))?;
        self.0.reload(filter).map_err(|e| e.to_string())
    }
}

fn init_tracing(log_level: &str) {
    let mut problem = None;
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => EnvFilter::try_new(&spec).unwrap_or_else(|e| {
            problem = Some(format!(
                "RUST_LOG is not a valid filter ({e}); logging at info"
            ));
            EnvFilter::new("info")
        }),
        _ => EnvFilter::try_new(log_level).unwrap_or_else(|e| {
            problem = Some(format!(
                "log_level `{log_level}` is not a valid filter ({e}); logging at info"
            ));
            EnvFilter::new("info")
        }),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_filter_reloading();
    let handle = builder.reload_handle();
    builder.init();
    let _ = LOG_FILTER.set(Arc::new(ReloadableLevel(handle)));
    if let Some(problem) = problem {
        tracing::warn!("{problem}");
    }
}

/// Settings that ask for something this build cannot do safely are refused, not
/// quietly downgraded: TLS asked for but unusable stops the start.
fn refuse_unsupported(settings: &Settings) -> Result<()> {
    // One crypto provider for the process (DEPENDENCIES.md §3); an error only
    // means one is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
    if let Some(files) = tls::TlsFiles::from_settings(settings)? {
        files.rest_config()?;
    }
    Ok(())
}

/// spec/auth.md §11 [surpass]: keys travel in clear text without TLS.
fn warn_if_keys_travel_in_clear(settings: &Settings, mode: AuthMode) {
    let host = &settings.service.host;
    if mode.is_authenticated() && !settings.service.enable_tls && !is_loopback(host) {
        tracing::warn!(
            "TLS is off and the server listens on {host}, not only on loopback: API keys and \
             JWTs cross the network in clear text. Enable service.enable_tls or bind \
             service.host to 127.0.0.1 behind a TLS proxy"
        );
    }
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim().trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for SIGINT: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();

    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT received; shutting down"),
        () = terminate => tracing::info!("SIGTERM received; shutting down"),
    }
}

/// The seams to the other crates, one small function each.
mod wiring {
    use super::*;

    use osprey_engine::{Storage, StorageConfig};

    impl MetaStore for Storage {
        fn meta_get(&self, key: &str) -> Result<Option<Vec<u8>>> {
            Ok(Storage::meta_get(self, key)?)
        }

        fn meta_put(&self, key: &str, value: &[u8]) -> Result<()> {
            Ok(Storage::meta_put(self, key, value)?)
        }
    }

    pub(super) fn open_storage(settings: &Settings) -> Result<Arc<Storage>> {
        let storage = &settings.storage;
        tracing::info!(
            "opening storage at {} (snapshots in {})",
            storage.storage_path.display(),
            storage.snapshots_path.display()
        );
        Storage::open(StorageConfig {
            storage_path: storage.storage_path.clone(),
            snapshots_path: storage.snapshots_path.clone(),
        })
        .with_context(|| format!("opening storage at {}", storage.storage_path.display()))
    }

    /// Qdrant's startup recovery: `--storage-snapshot` if given, else every
    /// `--snapshot`. A file that is missing, damaged or not ours is an error (the
    /// start stops, naming it); the engine checks every file before changing anything.
    pub(super) fn recover_snapshots(storage: &Storage, args: &ServeArgs) -> Result<()> {
        let force = args.force_snapshot;
        let report = if let Some(path) = &args.storage_snapshot {
            tracing::info!("recovering the storage from the full snapshot {}", path.display());
            // The engine's errors name the file.
            storage
                .recover_full_snapshot(path, force)
                .context("recovering from --storage-snapshot")?
        } else if !args.snapshot.is_empty() {
            let snapshots: Vec<(String, std::path::PathBuf)> = args
                .snapshot
                .iter()
                .map(|s| (s.collection.clone(), s.path.clone()))
                .collect();
            storage
                .recover_collection_snapshots(&snapshots, force)
                .context("recovering collections from --snapshot")?
        } else {
            return Ok(());
        };
        for name in &report.recovered {
            tracing::info!("collection `{name}` recovered from a snapshot");
        }
        for skipped in &report.skipped {
            tracing::warn!(
                "collection `{}` not recovered from the snapshot: {}",
                skipped.name,
                skipped.reason
            );
        }
        for alias in &report.aliases {
            tracing::info!("alias `{alias}` restored from the snapshot");
        }
        for skipped in &report.skipped_aliases {
            tracing::warn!(
                "alias `{}` not restored from the snapshot: {}",
                skipped.name,
                skipped.reason
            );
        }
        Ok(())
    }

    pub(super) fn close_storage(storage: &Storage) -> Result<()> {
        storage.flush_all().context("flushing storage on shutdown")
    }

    /// The key plane's registry (`<storage>/keys.redb`): database API keys,
    /// signing secrets and the audit log.
    pub(super) fn open_key_registry(settings: &Settings) -> Result<Arc<osprey_keys::KeyRegistry>> {
        osprey_keys::KeyRegistry::open(&settings.storage.storage_path)
            .with_context(|| format!("opening the key registry in {}", settings.storage.storage_path.display()))
    }

    /// Qdrant's audit log (`audit.*`), when enabled: both front ends record their
    /// access decisions in it through the authenticator.
    pub(super) fn open_audit_log(
        settings: &Settings,
    ) -> Result<Option<Arc<osprey_auth::audit::AuditLog>>> {
        let audit = &settings.audit;
        if !audit.enabled {
            return Ok(None);
        }
        let config = osprey_auth::audit::AuditConfig {
            dir: audit.dir(&settings.storage.storage_path),
            rotation: audit.rotation,
            max_log_files: audit.max_log_files,
            trust_forwarded_headers: audit.trust_forwarded_headers,
            log_api: audit.log_api,
        };
        let dir = config.dir.clone();
        let log = osprey_auth::audit::AuditLog::open(config)
            .with_context(|| format!("opening the audit log in {}", dir.display()))?;
        tracing::info!("audit logging enabled, writing to {}", dir.display());
        Ok(Some(log))
    }

    pub(super) fn authenticator(
        plan: AuthPlan,
        keys: Arc<osprey_keys::KeyRegistry>,
        audit: Option<Arc<osprey_auth::audit::AuditLog>>,
    ) -> Result<Arc<osprey_auth::Authenticator>> {
        let expect_enabled = plan.mode.is_authenticated();
        let auth = osprey_auth::Authenticator::new(osprey_auth::AuthConfig {
            api_key: plan.api_key,
            alt_api_key: plan.alt_api_key,
            read_only_api_key: plan.read_only_api_key,
            jwt_rbac: plan.jwt_rbac,
            admin_key_hashes: plan.admin_key_hashes,
        })
        .with_key_resolver(keys);
        let auth = match audit {
            Some(audit) => auth.with_audit_log(audit),
            None => auth,
        };
        // Fail closed if the two ever disagree about whether keys are required.
        if auth.is_enabled() != expect_enabled {
            bail!(
                "internal error: startup planned authentication {}, but the authenticator \
                 reports it {}",
                if expect_enabled { "on" } else { "off" },
                if auth.is_enabled() { "on" } else { "off" },
            );
        }
        Ok(Arc::new(auth))
    }

    pub(super) fn rest_router(
        storage: Arc<Storage>,
        auth: Arc<osprey_auth::Authenticator>,
        keys: Arc<osprey_keys::KeyRegistry>,
        settings: &Settings,
    ) -> axum::Router {
        osprey_rest::router(osprey_rest::RestContext {
            storage,
            auth,
            keys: Some(keys),
            options: osprey_rest::RestOptions {
                max_request_size_mb: settings.service.max_request_size_mb,
                enable_cors: settings.service.enable_cors,
                commit: commit(),
                enable_snapshot_url_recovery: settings.service.enable_snapshot_url_recovery,
                // The console is embedded, so `static_content_dir` is not consulted.
                console: settings.service.enable_static_content.then(|| {
                    osprey_rest::ConsoleOptions {
                        grpc_port: settings.service.grpc_port,
                    }
                }),
                logger: LOG_FILTER.get().cloned(),
                cluster: settings.cluster.enabled.then(|| osprey_rest::ClusterMode {
                    uri: settings.cluster.uri.clone(),
                }),
            },
        })
    }

    /// Build-time commit id (`GIT_COMMIT_ID=$(git rev-parse HEAD) cargo build`), as
    /// Qdrant reports it in `GET /`.
    fn commit() -> Option<String> {
        option_env!("GIT_COMMIT_ID").map(str::to_owned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for host in [
            "127.0.0.1",
            "127.1.2.3",
            "::1",
            "[::1]",
            "localhost",
            "LOCALHOST",
        ] {
            assert!(is_loopback(host), "{host}");
        }
        for host in ["0.0.0.0", "::", "10.0.0.1", "example.com", "192.168.1.2"] {
            assert!(!is_loopback(host), "{host}");
        }
    }

    // Asking for TLS without certificate files must stop the start, never fall back to plain HTTP.
    #[test]
    fn enable_tls_without_certificates_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut env = std::collections::HashMap::new();
        env.insert("QDRANT__SERVICE__ENABLE_TLS".to_owned(), "true".to_owned());
        let sources = Sources {
            config_dir: dir.path().join("config"),
            run_mode: "development".into(),
            config_path: None,
            env: Some(env),
        };
        let settings = settings::load(&sources).unwrap().settings;
        let err = refuse_unsupported(&settings).unwrap_err();
        // Qdrant's defaults name ./tls/cert.pem; it is missing here, so the start stops.
        let message = format!("{err:#}");
        assert!(message.contains("cert.pem") || message.contains("tls.cert"), "{message}");
    }
}
