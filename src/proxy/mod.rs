//! `hush proxy`: a local forward proxy that enforces HTTPS upstream and answers telemetry locally.
//! `policy` decides (pure); the server only carries out decisions.

pub mod addr;
pub mod config;
pub mod policy;
pub mod telemetry;

use std::net::SocketAddr;
use std::path::PathBuf;

/// Command-line arguments of `hush proxy` (flattened into the binary's parser).
#[derive(Debug, clap::Args)]
pub struct ProxyArgs {
    /// Address to listen on (default 127.0.0.1:8080, or `listen` in the config).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Configuration file (default: `.hush.toml` in the current directory, if present).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Append one JSON line per decision to this file.
    #[arg(long)]
    pub audit_log: Option<PathBuf>,
    /// Extra PEM trust roots for upstream verification (also `SSL_CERT_FILE`).
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
    /// Allow a non-loopback `--listen`; clients must then send `HUSH_PROXY_TOKEN`.
    #[arg(long)]
    pub allow_remote: bool,
    /// Print the effective telemetry list and exit.
    #[arg(long)]
    pub list_telemetry: bool,
}

/// Why the proxy could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("hush proxy is not implemented yet")]
    NotImplemented,
}

/// Runs the proxy until SIGTERM/SIGINT; `Ok` means a clean drain (exit 0).
pub fn run(_args: &ProxyArgs) -> Result<(), ProxyError> {
    Err(ProxyError::NotImplemented)
}
