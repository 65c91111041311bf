//! TLS for the public listeners (spec/auth.md §11): rustls with the ring
//! provider, certificates read from `tls.cert` / `tls.key`, optional client
//! certificate verification against `tls.ca_cert` (REST only, as Qdrant), and
//! a periodic reload so renewed certificates take effect without a restart.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

use crate::settings::Settings;

/// Where the certificate material lives and how clients are checked.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca_cert: Option<PathBuf>,
    pub verify_client: bool,
    /// Seconds between reloads; None never reloads.
    pub reload_every: Option<u64>,
}

impl TlsFiles {
    /// The TLS settings, or None when TLS is off. Missing files are an error:
    /// starting without TLS when it was asked for would send keys in clear.
    pub fn from_settings(settings: &Settings) -> Result<Option<TlsFiles>> {
        if !settings.service.enable_tls {
            return Ok(None);
        }
        let tls = &settings.tls;
        let (Some(cert), Some(key)) = (tls.cert.clone(), tls.key.clone()) else {
            bail!("service.enable_tls is true, but tls.cert and tls.key are not both set");
        };
        let verify_client = settings.service.verify_https_client_certificate;
        if verify_client && tls.ca_cert.is_none() {
            bail!("service.verify_https_client_certificate needs tls.ca_cert");
        }
        Ok(Some(TlsFiles { cert, key, ca_cert: tls.ca_cert.clone(), verify_client, reload_every: tls.cert_ttl }))
    }

    pub fn read_cert_chain(&self) -> Result<Vec<CertificateDer<'static>>> {
        read_certs(&self.cert)
    }

    pub fn read_key(&self) -> Result<PrivateKeyDer<'static>> {
        PrivateKeyDer::from_pem_file(&self.key)
            .map_err(|e| anyhow::anyhow!("reading the private key {}: {e}", self.key.display()))
    }

    /// A rustls server configuration for REST: HTTP/2 and HTTP/1.1 by ALPN,
    /// client certificates required when configured.
    pub fn rest_config(&self) -> Result<Arc<rustls::ServerConfig>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .context("choosing TLS protocol versions")?;
        let builder = if self.verify_client {
            let ca = self.ca_cert.as_ref().expect("checked in from_settings");
            let mut roots = rustls::RootCertStore::empty();
            for cert in read_certs(ca)? {
                roots.add(cert).with_context(|| format!("adding a CA certificate from {}", ca.display()))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .context("building the client certificate verifier")?;
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let mut config = builder
            .with_single_cert(self.read_cert_chain()?, self.read_key()?)
            .context("the TLS certificate and key do not match or are not usable")?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| anyhow::anyhow!("reading certificates from {}: {e}", path.display()))?;
    if certs.is_empty() {
        bail!("no certificate found in {}", path.display());
    }
    Ok(certs)
}

/// Reloads the REST certificate every `reload_every` seconds; a failed
/// reload keeps the previous certificate and logs why.
pub fn spawn_reloader(files: TlsFiles, config: axum_server::tls_rustls::RustlsConfig) {
    let Some(every) = files.reload_every.filter(|s| *s > 0) else { return };
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(every));
        tick.tick().await;
        loop {
            tick.tick().await;
            match files.rest_config() {
                Ok(next) => {
                    config.reload_from_config(next);
                    tracing::debug!("reloaded the TLS certificate");
                }
                Err(e) => tracing::error!("TLS certificate reload failed, keeping the previous one: {e:#}"),
            }
        }
    });
}
