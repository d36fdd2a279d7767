//! `hush proxy`: a local forward proxy that enforces HTTPS upstream and answers telemetry locally.
//! `policy` decides (pure); the server only carries out decisions.

pub mod addr;
pub mod audit;
pub mod auth;
pub mod ca;
pub mod config;
pub mod dlp;
pub mod intercept;
pub mod metrics;
pub mod policy;
pub mod pool;
pub mod server;
pub mod telemetry;
pub mod tunnel;
pub mod upstream;
pub mod watch;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{signal, SignalKind};
use tokio_rustls::TlsConnector;

use self::config::{Config, ConfigError};
use self::server::{Limits, Shared};

/// Command-line arguments of `hush proxy` (flattened into the binary's parser).
#[derive(Debug, clap::Args)]
pub struct ProxyArgs {
    /// Address to listen on (default 127.0.0.1:8080, or `listen` in the config).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Configuration file (default: `.hush.toml` in the current directory, if present).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Append one JSON line per decision to this file (default: standard error).
    #[arg(long)]
    pub audit_log: Option<PathBuf>,
    /// Extra PEM trust roots for upstream verification (also `SSL_CERT_FILE`).
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
    /// Allow a non-loopback `--listen`; clients must then send `HUSH_PROXY_TOKEN`.
    #[arg(long)]
    pub allow_remote: bool,
    /// Print the effective telemetry list (vendors re-enabled by `telemetry_allow` left out) and
    /// exit: a header, then one tab-separated line per entry (vendor, host, path_prefix, mode
    /// `host`/`path`/`shared`, answer status, description). Tunnelled (not intercepted) HTTPS
    /// is seen by neither path rules nor the DLP.
    #[arg(long)]
    pub list_telemetry: bool,
    /// Connections served at once (tunnels included); beyond it clients get 503.
    #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// Time a client has to send a complete request head (e.g. 10s, 500ms).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub header_timeout: Duration,
    /// Largest request head accepted, in bytes; larger ones (or more than 500 header fields)
    /// get 431.
    #[arg(long, default_value_t = 32 * 1024, value_parser = parse_header_size)]
    pub max_header_size: usize,
    /// Time to resolve, connect and finish the TLS handshake upstream; beyond it 504.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub connect_timeout: Duration,
    /// Time for the upstream to answer with a response head; beyond it 504.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub response_timeout: Duration,
    /// A tunnel in which no byte moves either way for this long is closed; so is a response
    /// whose origin sends nothing for this long in the middle of its body.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub idle_timeout: Duration,
    /// Once one side of a tunnel has closed its sending side (the close is passed on), how long
    /// the other may stay silent and open before the tunnel is closed; at most --idle-timeout.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub half_close_timeout: Duration,
    /// How long an idle upstream connection of a plain-HTTP request is kept for the next
    /// request to the same origin; 0 closes each after its response.
    #[arg(long, default_value = "4s", value_parser = parse_duration)]
    pub upstream_keepalive: Duration,
    /// Worker threads (default: one per core).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
    /// On SIGTERM/SIGINT, how long open requests and tunnels may take to finish.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub drain_timeout: Duration,
}

/// Why the proxy could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("refusing to listen on non-loopback {0} without --allow-remote")]
    RemoteNotAllowed(SocketAddr),
    #[error(
        "--allow-remote needs a client credential: set HUSH_PROXY_TOKEN to a non-empty secret"
    )]
    NoToken,
    #[error("{0}")]
    Tls(String),
    #[error("cannot write the telemetry list: {0}")]
    Output(#[source] std::io::Error),
    #[error("cannot open audit log {path}: {source}")]
    AuditLog {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
    #[error(transparent)]
    Ca(#[from] ca::CaError),
    #[error(
        "intercept = {0} needs the local CA, and there is none at {1}: create it with \
         `hush ca init` (or set intercept = \"none\")"
    )]
    NoCa(&'static str, PathBuf),
}

/// Runs the proxy until SIGTERM/SIGINT; `Ok` means a clean drain (exit 0).
pub fn run(args: &ProxyArgs) -> Result<(), ProxyError> {
    let config = Config::load(args.config.as_deref())?;
    if args.list_telemetry {
        return print_telemetry(&config).map_err(ProxyError::Output);
    }
    let built = build(args, config)?;
    raise_fd_limit();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = args.threads {
        builder.worker_threads(usize::from(n));
    }
    let runtime = builder.enable_all().build().map_err(ProxyError::Runtime)?;
    let result = runtime.block_on(async {
        // Signal handlers go in before the address is announced, so a SIGTERM sent as soon as
        // a supervisor sees the address is a clean stop, not the default kill.
        let mut term = signal(SignalKind::terminate()).map_err(ProxyError::Runtime)?;
        let mut int = signal(SignalKind::interrupt()).map_err(ProxyError::Runtime)?;
        let listener = bind(built.listen).await?;
        let bound = listener.local_addr().unwrap_or(built.listen);
        if let Some(ca) = &built.shared.ca {
            eprintln!(
                "hush proxy: intercepting HTTPS to hosts in scope with the CA {}",
                ca.cert_path.display()
            );
        }
        eprintln!("hush proxy: listening on {bound}");
        let stop = async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        };
        // The accept loop runs on a worker, not on this thread: a connection it spawns then
        // starts on the same worker instead of paying a cross-thread wake-up.
        let _ = tokio::spawn(server::serve(listener, built.shared, stop)).await;
        Ok(())
    });
    // Whatever outlived the drain deadline is cut off here rather than holding the exit.
    runtime.shutdown_timeout(Duration::from_millis(100));
    result
}

/// A proxy ready to serve: its shared state and the address it is to listen on. `hush proxy`
/// and `hush run` both start from here, so they enforce one policy the same way.
pub struct Built {
    pub shared: Arc<Shared>,
    pub listen: SocketAddr,
}

/// Validates the flags against `config` and builds the state every connection shares: the
/// policy with its interception scope (the CA loaded if in use), upstream TLS, the audit log.
pub fn build(args: &ProxyArgs, mut config: Config) -> Result<Built, ProxyError> {
    // Interception needs the CA: on by default once one exists, an error if asked for without.
    let ca_paths = ca::Paths::from_env();
    let ca = match (&config.intercept, &ca_paths) {
        // Switched off, or no data directory at all (no HOME): no CA to use.
        (Some(policy::Intercept::Off), _) | (_, Err(_)) => None,
        (_, Ok(paths)) => ca::Ca::load(paths)?.map(Arc::new),
    };
    config.policy.intercept = match (config.intercept.take(), &ca) {
        (None, Some(_)) => policy::Intercept::Telemetry,
        (None, None) | (Some(policy::Intercept::Off), _) => policy::Intercept::Off,
        (Some(scope), Some(_)) => scope,
        (Some(scope), None) => {
            let named = match scope {
                policy::Intercept::Telemetry => "\"telemetry\"",
                _ => "[...]",
            };
            return Err(ProxyError::NoCa(named, ca_paths?.cert));
        }
    };
    let ca = ca.filter(|_| config.policy.intercept != policy::Intercept::Off);
    let listen = args
        .listen
        .or(config.listen)
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
    if !listen.ip().is_loopback() && !args.allow_remote {
        return Err(ProxyError::RemoteNotAllowed(listen));
    }
    let token = match args.allow_remote {
        true => match std::env::var("HUSH_PROXY_TOKEN") {
            Ok(t) if !t.is_empty() => Some(auth::Token::new(&t)),
            _ => return Err(ProxyError::NoToken),
        },
        false => None,
    };
    // One source of extra roots, the most specific one given: flag, then config, then env.
    let ca_file = args
        .ca_file
        .clone()
        .or(config.ca_file.clone())
        .or_else(|| std::env::var_os("SSL_CERT_FILE").map(PathBuf::from));
    let tls = upstream::tls_config(ca_file.as_deref()).map_err(ProxyError::Tls)?;
    let audit_path = args.audit_log.clone().or(config.audit_log.clone());
    let audit =
        audit::AuditLog::open(audit_path.as_deref()).map_err(|source| ProxyError::AuditLog {
            path: audit_path.clone().unwrap_or_default(),
            source,
        })?;
    let shared = Arc::new(Shared {
        policy: config.policy,
        env: policy::Env::from_process(),
        tls: TlsConnector::from(tls),
        audit: Arc::new(audit),
        pool: Arc::new(pool::Pool::new(args.upstream_keepalive)),
        ca,
        token,
        dlp: config.dlp.clone(),
        limits: Limits {
            max_connections: args.max_connections as usize,
            header_timeout: args.header_timeout,
            max_header_size: args.max_header_size,
            connect_timeout: args.connect_timeout,
            response_timeout: args.response_timeout,
            idle_timeout: args.idle_timeout,
            half_close_timeout: args.half_close_timeout,
            drain_timeout: args.drain_timeout,
        },
    });
    Ok(Built { shared, listen })
}

/// Binds the proxy's listening socket (inside a runtime).
pub async fn bind(listen: SocketAddr) -> Result<tokio::net::TcpListener, ProxyError> {
    tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| ProxyError::Listen {
            addr: listen,
            source,
        })
}

/// Every connection costs two descriptors (three or more while a tunnel moves data), and many
/// systems start processes with a soft limit of 1024: lift it to the hard limit, best effort.
pub fn raise_fd_limit() {
    #[cfg(unix)]
    {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
                lim.rlim_cur = lim.rlim_max;
                libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            }
        }
    }
}

/// One tab-separated line per entry (vendors re-enabled by `telemetry_allow` left out), after a
/// header. The mode says what happens to the host without interception: `host` blocked whole,
/// `path` blocked by path with `CONNECT` refused, `shared` blocked by path with `CONNECT`
/// tunnelled.
fn print_telemetry(config: &Config) -> std::io::Result<()> {
    use std::io::Write;
    let policy = &config.policy;
    let listed: Vec<_> = policy
        .telemetry
        .iter()
        .filter(|r| !policy.vendor_listed(&r.vendor))
        .collect();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    writeln!(out, "vendor\thost\tpath_prefix\tmode\tstatus\tdescription")?;
    for rule in &listed {
        let mode = match &rule.path_prefix {
            None => "host",
            // As the policy judges a tunnel: a whole-host entry first, then any shared entry.
            Some(_)
                if listed
                    .iter()
                    .any(|r| r.path_prefix.is_none() && r.host.covers(&rule.host)) =>
            {
                "host"
            }
            Some(_)
                if policy
                    .telemetry
                    .iter()
                    .any(|r| r.shared && r.host.covers(&rule.host)) =>
            {
                "shared"
            }
            Some(_) => "path",
        };
        writeln!(
            out,
            "{}\t{}\t{}\t{mode}\t{}\t{}",
            rule.vendor,
            rule.host,
            rule.path_prefix.as_deref().unwrap_or("-"),
            rule.answer.status.as_u16(),
            rule.description
        )?;
    }
    out.flush()?;
    // After the list, so that a failed write is the only thing said on stderr.
    eprintln!(
        "hush proxy: note: tunnelled (not intercepted) HTTPS is not inspected by telemetry path \
         rules or the DLP; intercept its hosts to guard them"
    );
    Ok(())
}

/// A head size limit of at least 1 KiB: below it not even `/healthz` gets through.
fn parse_header_size(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if n >= 1024 => Ok(n),
        _ => Err(format!("{s:?} is not a size in bytes of at least 1024")),
    }
}

/// Parses `500ms`, `10s`, `5m` or a bare number of seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a duration such as 500ms, 10s or 5m"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "" | "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        _ => Err(format!("{s:?} is not a duration such as 500ms, 10s or 5m")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert!(parse_duration("5h").is_err());
        assert!(parse_duration("ms").is_err());
    }
}
