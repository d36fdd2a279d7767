//! Reaching upstream: resolve once, check each address against the policy, dial that address
//! (so DNS cannot swap in a private address after the check), and wrap it in verified TLS.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::policy::{Policy, Reason};

/// Why the proxy could not reach (or trust) the upstream.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("{0}")]
    Denied(Reason),
    #[error("cannot resolve {host}: {source}")]
    Resolve { host: String, source: io::Error },
    #[error("{0} resolved to no address")]
    NoAddress(String),
    #[error("connecting to {host} timed out after {after:?}")]
    ConnectTimeout { host: String, after: Duration },
    #[error("cannot connect to {addr}: {source}")]
    Connect { addr: SocketAddr, source: io::Error },
    #[error("TLS handshake with {host} timed out after {after:?}")]
    TlsTimeout { host: String, after: Duration },
    #[error("TLS with {host} failed: {reason}")]
    Tls { host: String, reason: String },
    #[error("upstream: {0}")]
    Http(String),
}

impl UpstreamError {
    /// The status the client gets: refused by policy 403, timed out 504, anything else 502.
    pub fn status(&self) -> u16 {
        match self {
            UpstreamError::Denied(_) => 403,
            UpstreamError::ConnectTimeout { .. } | UpstreamError::TlsTimeout { .. } => 504,
            _ => 502,
        }
    }
}

/// Resolves `host` once and connects to the first address the policy allows, all within
/// `limit`. Addresses the policy refuses are skipped; if none is left, the refusal is the error.
pub async fn connect(
    host: &str,
    port: u16,
    policy: &Policy,
    limit: Duration,
) -> Result<TcpStream, UpstreamError> {
    let deadline = Instant::now() + limit;
    let timed_out = || UpstreamError::ConnectTimeout {
        host: host.to_string(),
        after: limit,
    };
    let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => timeout_at(deadline, tokio::net::lookup_host((host, port)))
            .await
            .map_err(|_| timed_out())?
            .map_err(|source| UpstreamError::Resolve {
                host: host.to_string(),
                source,
            })?
            .collect(),
    };
    let mut last = UpstreamError::NoAddress(host.to_string());
    for addr in addrs {
        if let Err(reason) = policy.check_addr(addr.ip()) {
            last = UpstreamError::Denied(reason);
            continue;
        }
        match timeout_at(deadline, TcpStream::connect(addr)).await {
            Err(_) => return Err(timed_out()),
            Ok(Ok(stream)) => {
                // Requests and tunnels are latency-bound; Nagle would only add delay.
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Ok(Err(source)) => last = UpstreamError::Connect { addr, source },
        }
    }
    Err(last)
}

/// TLS client settings: the built-in web roots plus the PEM certificates in `extra`, if given.
pub fn tls_config(extra: Option<&Path>) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = extra {
        for cert in read_pem_certs(path)? {
            roots
                .add(cert)
                .map_err(|e| format!("CA file {}: {e}", path.display()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn read_pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let text =
        std::fs::read(path).map_err(|e| format!("cannot read CA file {}: {e}", path.display()))?;
    let certs = rustls_pemfile::certs(&mut text.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("CA file {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "CA file {}: no PEM certificates found",
            path.display()
        ));
    }
    Ok(certs)
}

/// Runs the TLS handshake with full verification of `host`'s certificate.
pub async fn tls_handshake(
    connector: &TlsConnector,
    host: &str,
    tcp: TcpStream,
    limit: Duration,
) -> Result<TlsStream<TcpStream>, UpstreamError> {
    let fail = |reason: String| UpstreamError::Tls {
        host: host.to_string(),
        reason,
    };
    let name = ServerName::try_from(host.to_string())
        .map_err(|e| fail(format!("invalid server name: {e}")))?;
    match tokio::time::timeout(limit, connector.connect(name, tcp)).await {
        Err(_) => Err(UpstreamError::TlsTimeout {
            host: host.to_string(),
            after: limit,
        }),
        Ok(Err(e)) => Err(fail(e.to_string())),
        Ok(Ok(tls)) => Ok(tls),
    }
}
