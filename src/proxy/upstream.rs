//! Reaching upstream: resolve once, check each address against the policy, dial that address
//! (so DNS cannot swap in a private address after the check), and wrap it in verified TLS.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{CertificateError, ClientConfig, InvalidMessage, RootCertStore};
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
    let certs = CertificateDer::pem_slice_iter(&text)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("CA file {}: {}", path.display(), pem_problem(e)))?;
    if certs.is_empty() {
        return Err(format!(
            "CA file {}: no PEM certificates found",
            path.display()
        ));
    }
    Ok(certs)
}

/// What is wrong with a PEM file, worded as it was when `rustls-pemfile` read these files.
fn pem_problem(e: pem::Error) -> String {
    match e {
        pem::Error::MissingSectionEnd { end_marker } => format!(
            "section end {:?} missing",
            String::from_utf8_lossy(&end_marker)
        ),
        pem::Error::IllegalSectionStart { line } => format!(
            "illegal section start: {:?}",
            String::from_utf8_lossy(&line)
        ),
        pem::Error::Base64Decode(problem) => problem,
        other => other.to_string(),
    }
}

/// Where extra trust roots come from, for messages that tell the user to add one.
const TRUST_HINT: &str =
    "pass the upstream's CA with --ca-file, ca_file in [proxy], or SSL_CERT_FILE";

/// Why a handshake with `host` failed, and what would fix it: rustls's own words, then what they
/// mean for a proxy user. Verification is never skipped, so every fix is on the server's side
/// or in the trust roots.
fn tls_failure(host: &str, e: &io::Error) -> String {
    let Some(tls) = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    else {
        return e.to_string();
    };
    let fix = match tls {
        rustls::Error::InvalidCertificate(cert) => match cert {
            CertificateError::UnknownIssuer => {
                format!("the certificate is not signed by a trusted CA: {TRUST_HINT}")
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "the certificate has expired: renew it on the server".to_string()
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "the certificate is not valid yet: check the server's certificate and both \
                 clocks"
                    .to_string()
            }
            CertificateError::NotValidForName => {
                format!("the certificate does not name {host}: give the server one that does")
            }
            CertificateError::NotValidForNameContext { presented, .. } => format!(
                "the certificate names {} but not {host}: request a name it covers, or give \
                 the server a certificate for {host}",
                presented.join(", ")
            ),
            CertificateError::Other(other) if other.0.to_string() == "CaUsedAsEndEntity" => {
                format!(
                    "the server presents a CA certificate as its own: give it a leaf \
                     certificate signed by that CA, and trust the CA ({TRUST_HINT})"
                )
            }
            _ => format!(
                "the certificate was refused; if it is signed by a private CA, {TRUST_HINT}"
            ),
        },
        rustls::Error::InvalidMessage(
            InvalidMessage::InvalidContentType | InvalidMessage::UnknownProtocolVersion,
        ) => format!(
            "{host} does not speak TLS on this port; hush sends http:// requests over TLS: \
             if it serves only plain HTTP, list it in plain_http_allow in [proxy]"
        ),
        _ => return tls.to_string(),
    };
    format!("{tls}; {fix}")
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
        Ok(Err(e)) => Err(fail(tls_failure(host, &e))),
        Ok(Ok(tls)) => Ok(tls),
    }
}
