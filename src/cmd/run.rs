//! `hush run [OPTIONS] -- CMD [ARGS...]`: runs a command with its telemetry switched off and its
//! egress through hush. An in-process proxy on an ephemeral loopback port (or `--proxy URL` of a
//! running one), the proxy and opt-out variables in the child's environment, the hush CA trusted
//! by the child alone when interception is on, and with `--contain` no other way out at all.
//! Exits as the command did (128+N for signal N); on exit, one line says what was blocked.

mod child;
#[cfg(target_os = "linux")]
mod contain;
pub mod env;
mod trust;

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, FromArgMatches};
use tokio::sync::oneshot;

use crate::proxy::{self, ca, config::Config, server::Shared, ProxyArgs, ProxyError};

#[cfg(target_os = "linux")]
pub use contain::{bridge, ContainArgs};

/// Command-line arguments of `hush run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Proxy configuration (default: `.hush.toml` in the current directory, if present).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Use the hush proxy already running at URL (e.g. http://127.0.0.1:8080) instead of
    /// starting one.
    #[arg(long, value_name = "URL")]
    pub proxy: Option<String>,
    /// Linux: run CMD in a network namespace whose only way out is hush.
    #[arg(long)]
    pub contain: bool,
    /// Print the variables that would be set (KEY=VALUE, sorted) and run nothing.
    #[arg(long)]
    pub print_env: bool,
    /// Keep the proxy's audit log (one JSON line per decision) in FILE.
    #[arg(long, value_name = "FILE")]
    pub audit: Option<PathBuf>,
    /// The command to run and its arguments (after `--`).
    #[arg(
        value_name = "CMD",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub command: Vec<OsString>,
}

/// Why `hush run` could not run the command (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Proxy(#[from] ProxyError),
    #[error("{0}")]
    Data(String),
    #[error("--proxy {0:?}: expected http://HOST:PORT")]
    ProxyUrl(String),
    #[error("cannot block signals for forwarding: {0}")]
    Signals(std::io::Error),
    #[error("cannot create the run directory: {0}")]
    RunDir(std::io::Error),
    #[error("cannot write the CA bundle for the child: {0}")]
    Bundle(std::io::Error),
    #[error("{0}")]
    Contain(String),
    #[error("a command to run is needed: hush run [OPTIONS] -- CMD [ARGS]...")]
    NoCommand,
    #[error("while running the command: {0}")]
    Io(std::io::Error),
    /// The command could not be started (already reported): exit with this shell code.
    #[error("the command could not be started")]
    NotStarted(u8),
}

/// Runs `hush run`; the exit code is the command's.
pub fn run(args: &RunArgs) -> Result<ExitCode, RunError> {
    // First, before any thread exists (so every thread inherits the mask), and so that a signal
    // sent while the proxy starts is held for the command rather than lost or fatal.
    child::block_signals().map_err(RunError::Signals)?;
    let config = Config::load(args.config.as_deref()).map_err(ProxyError::from)?;
    let opt_outs = env::builtin().map_err(RunError::Data)?;
    if args.contain && !cfg!(target_os = "linux") {
        return Err(RunError::Contain(
            "--contain needs Linux network namespaces".into(),
        ));
    }
    if let Some(url) = &args.proxy {
        check_proxy_url(url)?;
    }
    if args.print_env {
        return print_env(args, config, &opt_outs);
    }
    if args.command.is_empty() {
        return Err(RunError::NoCommand);
    }
    let dir = tempfile::Builder::new()
        .prefix("hush-run-")
        .tempdir()
        .map_err(RunError::RunDir)?;
    let proxy = match &args.proxy {
        Some(_) => None,
        None => {
            // --audit, else the config's audit_log, else a log that goes with the run.
            let audit = args
                .audit
                .clone()
                .or_else(|| config.audit_log.clone())
                .unwrap_or_else(|| dir.path().join("audit.log"));
            Some(InProcess::start(config, &audit)?)
        }
    };
    let proxy_url = match (&args.proxy, &proxy) {
        (Some(url), _) => url.trim_end_matches('/').to_string(),
        (None, Some(p)) => format!("http://{}", p.addr),
        (None, None) => return Err(RunError::Data("no proxy to run through".into())),
    };
    let trust_files = match intercepting_ca(proxy.as_ref()) {
        Some(ca) => Some(write_trust(dir.path(), &ca)?),
        None => None,
    };
    let settings = env::Settings {
        proxy_url: &proxy_url,
        trust: trust_files.as_ref().map(|(bundle, node)| env::Trust {
            node_extra: node,
            bundle,
        }),
    };
    let vars = env::child_env(&settings, &opt_outs, |n| std::env::var_os(n));
    // A running proxy's counters before and after: what it blocked meanwhile (other clients'
    // blocks in that time included: it cannot tell them apart).
    let external = args
        .proxy
        .as_deref()
        .and_then(|url| resolve_proxy(url).ok());
    let before = external.and_then(fetch_metrics);
    let code = run_child(args, &vars, dir.path(), proxy.as_ref())?;
    let text = match (proxy, external, before) {
        (Some(proxy), _, _) => Some(proxy.finish()),
        (None, Some(addr), Some(before)) => {
            fetch_metrics(addr).map(|after| subtract(&after, &before))
        }
        _ => None,
    };
    if let Some(line) = text.as_deref().and_then(summary) {
        eprintln!("{line}");
    }
    drop(dir);
    Ok(ExitCode::from(code))
}

/// Spawns the command (or, with `--contain`, the bridge that runs it) and waits for it.
fn run_child(
    args: &RunArgs,
    vars: &std::collections::BTreeMap<String, String>,
    dir: &Path,
    proxy: Option<&InProcess>,
) -> Result<u8, RunError> {
    let program = &args.command[0];
    // With --contain and --proxy, a small runtime of our own carries the bridge's connections
    // until the command is done.
    let (mut cmd, _relay) = if args.contain {
        contained_command(args, dir, proxy)?
    } else {
        let mut cmd = Command::new(program);
        cmd.args(&args.command[1..]);
        (cmd, None)
    };
    cmd.envs(vars);
    let forwarder = child::Forwarder::start();
    let started = if args.contain {
        // The bridge is hush itself: failing to start it is the namespace being refused.
        cmd.spawn()
            .map_err(|e| RunError::Contain(explain_contain(&e)))
    } else {
        child::spawn(&mut cmd, program).map_err(|e| {
            eprintln!("hush: error: {}", e.message);
            RunError::NotStarted(e.code)
        })
    };
    let code = match started {
        Ok(c) => child::wait(c, &forwarder)
            .map(child::exit_code)
            .map_err(RunError::Io),
        Err(RunError::NotStarted(code)) => Ok(code),
        Err(e) => Err(e),
    };
    forwarder.stop();
    code
}

#[cfg(target_os = "linux")]
fn explain_contain(e: &std::io::Error) -> String {
    contain::explain(e)
}

#[cfg(not(target_os = "linux"))]
fn explain_contain(e: &std::io::Error) -> String {
    format!("--contain: {e}")
}

/// The bridge command for `--contain`, with the Unix socket that leads to the proxy (served by
/// the in-process proxy's runtime, or by the returned one for `--proxy`).
#[cfg(target_os = "linux")]
fn contained_command(
    args: &RunArgs,
    dir: &Path,
    proxy: Option<&InProcess>,
) -> Result<(Command, Option<tokio::runtime::Runtime>), RunError> {
    let socket = dir.join("proxy.sock");
    if !contain::socket_path_fits(&socket) {
        return Err(RunError::Contain(format!(
            "--contain: the socket path {} is too long; set TMPDIR to a shorter directory",
            socket.display()
        )));
    }
    let (target, relay) = match (proxy, &args.proxy) {
        (Some(p), _) => {
            serve_unix(&p.runtime, &socket, p.addr)?;
            (p.addr, None)
        }
        (None, Some(url)) => {
            let target = resolve_proxy(url)?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .map_err(RunError::Io)?;
            serve_unix(&runtime, &socket, target)?;
            (target, Some(runtime))
        }
        (None, None) => return Err(RunError::Contain("--contain: no proxy".into())),
    };
    let cmd = contain::bridge_command(&socket, target.port(), &args.command)
        .map_err(|e| RunError::Contain(contain::explain(&e)))?;
    Ok((cmd, relay))
}

/// Serves the `--contain` bridge's Unix socket at `path` on `runtime`, relaying to `proxy`.
#[cfg(target_os = "linux")]
fn serve_unix(
    runtime: &tokio::runtime::Runtime,
    path: &Path,
    proxy: SocketAddr,
) -> Result<(), RunError> {
    let _entered = runtime.enter();
    let listener = tokio::net::UnixListener::bind(path).map_err(|e| {
        RunError::Contain(format!(
            "--contain: cannot listen on {}: {e}",
            path.display()
        ))
    })?;
    runtime.spawn(contain::relay(listener, proxy));
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn contained_command(
    _: &RunArgs,
    _: &Path,
    _: Option<&InProcess>,
) -> Result<(Command, Option<tokio::runtime::Runtime>), RunError> {
    Err(RunError::Contain(
        "--contain needs Linux network namespaces".into(),
    ))
}

/// The address of `http://HOST:PORT`.
fn resolve_proxy(url: &str) -> Result<SocketAddr, RunError> {
    use std::net::ToSocketAddrs;
    let authority = url
        .strip_prefix("http://")
        .map(|r| r.trim_end_matches('/'))
        .ok_or_else(|| RunError::ProxyUrl(url.into()))?;
    authority
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| RunError::ProxyUrl(url.into()))
}

/// `--proxy` must be `http://HOST:PORT` (hush's proxy speaks plain HTTP to its clients).
fn check_proxy_url(url: &str) -> Result<(), RunError> {
    let bad = || RunError::ProxyUrl(url.to_string());
    let authority = url.strip_prefix("http://").ok_or_else(bad)?;
    let authority = authority.trim_end_matches('/');
    let (host, port) = authority.rsplit_once(':').ok_or_else(bad)?;
    match (
        host.is_empty() || authority.contains('/'),
        port.parse::<u16>(),
    ) {
        (false, Ok(p)) if p > 0 => Ok(()),
        _ => Err(bad()),
    }
}

/// The CA certificate the child must trust: the in-process proxy's when it intercepts; with
/// `--proxy`, the local CA if one exists (that proxy intercepts with it by default).
fn intercepting_ca(proxy: Option<&InProcess>) -> Option<PathBuf> {
    match proxy {
        Some(p) => p.shared.ca.as_ref().map(|ca| ca.cert_path.clone()),
        None => ca::Paths::from_env()
            .ok()
            .map(|p| p.cert)
            .filter(|c| c.is_file()),
    }
}

/// Writes the child's CA bundle and picks its `NODE_EXTRA_CA_CERTS` file: (bundle, node file).
/// Warns when no system roots were found.
fn write_trust(dir: &Path, ca: &Path) -> Result<(PathBuf, PathBuf), RunError> {
    // The roots the user had given any of these runtimes stay trusted through the bundle.
    let user: Vec<PathBuf> = env::BUNDLE_VARS
        .iter()
        .filter_map(std::env::var_os)
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .collect();
    let bundle = trust::write_bundle(dir, ca, &user).map_err(RunError::Bundle)?;
    if bundle.system.is_none() {
        crate::cmd::warn(
            "no system CA bundle found: the child trusts the hush CA alone, so HTTPS that \
             hush tunnels instead of intercepting cannot be verified",
        );
    }
    let node = match user_node_extra(ca) {
        Some(user) => trust::write_node_extra(dir, ca, &user).map_err(RunError::Bundle)?,
        None => ca.to_path_buf(),
    };
    Ok((bundle.path, node))
}

/// The user's own `NODE_EXTRA_CA_CERTS` file, if they set one (and it is not the hush CA).
fn user_node_extra(ca: &Path) -> Option<PathBuf> {
    std::env::var_os("NODE_EXTRA_CA_CERTS")
        .map(PathBuf::from)
        .filter(|p| p.is_file() && p != ca)
}

/// `--print-env`: the variables a run would set, sorted, without starting anything. The proxy
/// port and the run directory do not exist yet, so they are shown as `<port>` and `<run-dir>`.
fn print_env(
    args: &RunArgs,
    config: Config,
    opt_outs: &[env::OptOut],
) -> Result<ExitCode, RunError> {
    let (url, ca_cert) = match &args.proxy {
        Some(url) => (url.trim_end_matches('/').to_string(), intercepting_ca(None)),
        None => {
            // Validated exactly as a run would (interception scope, CA), but never bound.
            let built = proxy::build(&proxy_args(None)?, config)?;
            let ca = built.shared.ca.as_ref().map(|ca| ca.cert_path.clone());
            ("http://127.0.0.1:<port>".to_string(), ca)
        }
    };
    let run_dir = Path::new("<run-dir>");
    let bundle = run_dir.join(trust::BUNDLE_NAME);
    let node = ca_cert.as_deref().map(|ca| match user_node_extra(ca) {
        Some(_) => run_dir.join(trust::NODE_EXTRA_NAME),
        None => ca.to_path_buf(),
    });
    let settings = env::Settings {
        proxy_url: &url,
        trust: node.as_deref().map(|node| env::Trust {
            node_extra: node,
            bundle: &bundle,
        }),
    };
    let vars = env::child_env(&settings, opt_outs, |n| std::env::var_os(n));
    let mut out = String::new();
    for (name, value) in &vars {
        out.push_str(&format!("{name}={value}\n"));
    }
    use std::io::Write;
    std::io::stdout()
        .write_all(out.as_bytes())
        .map_err(RunError::Io)?;
    Ok(ExitCode::SUCCESS)
}

/// `hush proxy`'s own flags with their defaults, for a loopback proxy on an ephemeral port.
fn proxy_args(audit: Option<&Path>) -> Result<ProxyArgs, RunError> {
    let mut argv: Vec<OsString> = vec![
        "proxy".into(),
        "--listen=127.0.0.1:0".into(),
        // The command is gone when the proxy stops: what is still open is a straggler.
        "--drain-timeout=2s".into(),
    ];
    if let Some(path) = audit {
        argv.push("--audit-log".into());
        argv.push(path.into());
    }
    let cmd = ProxyArgs::augment_args(clap::Command::new("proxy"));
    let matches = cmd
        .try_get_matches_from(argv)
        .map_err(|e| RunError::Data(format!("proxy defaults: {e}")))?;
    ProxyArgs::from_arg_matches(&matches)
        .map_err(|e| RunError::Data(format!("proxy defaults: {e}")))
}

/// The proxy running inside this process for the length of the run.
struct InProcess {
    runtime: tokio::runtime::Runtime,
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    server: tokio::task::JoinHandle<()>,
}

impl InProcess {
    /// Builds the proxy exactly as `hush proxy` would and starts serving on 127.0.0.1:0.
    fn start(config: Config, audit: &Path) -> Result<InProcess, RunError> {
        let built = proxy::build(&proxy_args(Some(audit))?, config)?;
        proxy::raise_fd_limit();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("hush-proxy")
            .enable_all()
            .build()
            .map_err(|e| RunError::Proxy(ProxyError::Runtime(e)))?;
        let listener = runtime.block_on(proxy::bind(built.listen))?;
        let addr = listener.local_addr().map_err(RunError::Io)?;
        let (stop, stopped) = oneshot::channel::<()>();
        let shared = built.shared;
        let server = runtime.spawn(proxy::server::serve(listener, shared.clone(), async move {
            let _ = stopped.await;
        }));
        Ok(InProcess {
            runtime,
            shared,
            addr,
            stop,
            server,
        })
    }

    /// Stops the proxy (draining what is open, bounded) and returns its metrics text.
    fn finish(self) -> String {
        let _ = self.stop.send(());
        let _ = self.runtime.block_on(self.server);
        let text = self.shared.audit.metrics().render();
        self.runtime.shutdown_timeout(Duration::from_millis(100));
        text
    }
}

/// The exit line from the proxy's metrics: "hush: blocked 14 telemetry calls (segment 10,
/// sentry 4), 1 credential". `None` when nothing was blocked. Read from the `/metrics` text so
/// that it counts exactly what the audit log holds, whatever decisions the proxy grows.
pub fn summary(metrics: &str) -> Option<String> {
    let mut vendors: Vec<(String, u64)> = Vec::new();
    let mut credentials = 0;
    for line in metrics.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(n) = value.parse::<u64>() else {
            continue;
        };
        if let Some(vendor) = label(series, "hush_telemetry_blocked_total", "vendor") {
            if n > 0 {
                vendors.push((vendor, n));
            }
        } else if label(series, "hush_decisions_total", "decision").as_deref()
            == Some("dlp-blocked")
        {
            credentials += n;
        }
    }
    let calls: u64 = vendors.iter().map(|(_, n)| n).sum();
    let mut parts = Vec::new();
    if calls > 0 {
        vendors.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let each: Vec<String> = vendors.iter().map(|(v, n)| format!("{v} {n}")).collect();
        let noun = if calls == 1 { "call" } else { "calls" };
        parts.push(format!("{calls} telemetry {noun} ({})", each.join(", ")));
    }
    if credentials > 0 {
        let noun = if credentials == 1 {
            "credential"
        } else {
            "credentials"
        };
        parts.push(format!("{credentials} {noun}"));
    }
    (!parts.is_empty()).then(|| format!("hush: blocked {}", parts.join(", ")))
}

/// `GET /metrics` from a running hush proxy (its own address answers it), best effort: `None`
/// when it does not answer 200 within two seconds.
fn fetch_metrics(addr: SocketAddr) -> Option<String> {
    use std::io::{Read, Write};
    let wait = Duration::from_secs(2);
    let mut tcp = std::net::TcpStream::connect_timeout(&addr, wait).ok()?;
    tcp.set_read_timeout(Some(wait)).ok()?;
    tcp.write_all(b"GET /metrics HTTP/1.1\r\nhost: hush\r\nconnection: close\r\n\r\n")
        .ok()?;
    let mut reply = Vec::new();
    // Bounded: the exposition is a few KiB; anything far larger is not hush's.
    tcp.take(1 << 20).read_to_end(&mut reply).ok()?;
    let reply = String::from_utf8(reply).ok()?;
    let (head, body) = reply.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_string())
}

/// The counters of `after` less those of `before`, in the same text form.
fn subtract(after: &str, before: &str) -> String {
    let counts = |text: &str| -> std::collections::HashMap<String, u64> {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.rsplit_once(' '))
            .filter_map(|(series, n)| Some((series.to_string(), n.parse().ok()?)))
            .collect()
    };
    let earlier = counts(before);
    let mut out = String::new();
    for (series, n) in counts(after) {
        let delta = n.saturating_sub(earlier.get(&series).copied().unwrap_or(0));
        out.push_str(&format!("{series} {delta}\n"));
    }
    out
}

/// The value of label `key` in a series `name{key="value"}`, unescaped.
fn label(series: &str, name: &str, key: &str) -> Option<String> {
    let rest = series.strip_prefix(name)?.strip_prefix('{')?;
    let rest = rest.strip_suffix('}')?;
    let quoted = rest
        .strip_prefix(key)?
        .strip_prefix("=\"")?
        .strip_suffix('"')?;
    let mut out = String::with_capacity(quoted.len());
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        match (c, c == '\\') {
            (_, true) => match chars.next() {
                Some('n') => out.push('\n'),
                Some(other) => out.push(other),
                None => {}
            },
            (c, false) => out.push(c),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_counts_by_vendor_most_first() {
        let text = "# HELP x\n\
            hush_decisions_total{decision=\"telemetry-blocked\"} 14\n\
            hush_decisions_total{decision=\"dlp-blocked\"} 1\n\
            hush_telemetry_blocked_total{vendor=\"sentry\"} 4\n\
            hush_telemetry_blocked_total{vendor=\"segment\"} 10\n\
            hush_bytes_total{direction=\"up\"} 10\n";
        assert_eq!(
            summary(text).as_deref(),
            Some("hush: blocked 14 telemetry calls (segment 10, sentry 4), 1 credential")
        );
        let one = "hush_telemetry_blocked_total{vendor=\"a\\\"b\"} 1\n";
        assert_eq!(
            summary(one).as_deref(),
            Some("hush: blocked 1 telemetry call (a\"b 1)")
        );
        assert_eq!(
            summary("hush_decisions_total{decision=\"forward\"} 3\n"),
            None
        );
    }

    #[test]
    fn counters_are_subtracted_per_series() {
        let before = "hush_telemetry_blocked_total{vendor=\"sentry\"} 4\n";
        let after = "# HELP x\nhush_telemetry_blocked_total{vendor=\"sentry\"} 6\n\
                     hush_telemetry_blocked_total{vendor=\"segment\"} 1\n";
        assert_eq!(
            summary(&subtract(after, before)).as_deref(),
            Some("hush: blocked 3 telemetry calls (sentry 2, segment 1)")
        );
        assert_eq!(summary(&subtract(before, before)), None);
    }

    #[test]
    fn proxy_urls() {
        assert!(check_proxy_url("http://127.0.0.1:8080").is_ok());
        assert!(check_proxy_url("http://localhost:8080/").is_ok());
        for bad in [
            "127.0.0.1:8080",
            "https://h:1",
            "http://h",
            "http://:1",
            "http://h:0",
            "http://h:1/x",
        ] {
            assert!(check_proxy_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn proxy_defaults_parse() {
        let args = proxy_args(Some(Path::new("/tmp/a.log"))).unwrap();
        assert_eq!(args.listen, Some(SocketAddr::from(([127, 0, 0, 1], 0))));
        assert_eq!(args.drain_timeout, Duration::from_secs(2));
        assert_eq!(args.audit_log.as_deref(), Some(Path::new("/tmp/a.log")));
    }
}
