//! `hush run`: exit codes, signal forwarding, the child's environment, CA trust for curl and
//! Python through interception, `--contain`, and the summary line. Everything stays on
//! loopback; what could dial out (a direct dial under `--contain`) runs inside the command's own
//! network namespace, which has no route anywhere.

use std::convert::Infallible;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

const WAIT: Duration = Duration::from_secs(20);

/// A scratch directory that serves as cwd and `XDG_DATA_HOME` (so no CA unless a test makes one).
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        Scratch {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// `hush ARGS` with a clean telemetry environment.
    fn hush(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hush"));
        cmd.args(args)
            .current_dir(self.path())
            .env("XDG_DATA_HOME", self.path().join("data"))
            .stdin(Stdio::null());
        for var in [
            "ENABLE_TELEMETRY",
            "DO_NOT_TRACK",
            "SSL_CERT_FILE",
            "REQUESTS_CA_BUNDLE",
            "CURL_CA_BUNDLE",
            "GIT_SSL_CAINFO",
            "PIP_CERT",
            "AWS_CA_BUNDLE",
            "NODE_EXTRA_CA_CERTS",
            "NEXT_TELEMETRY_DISABLED",
            "NODE_USE_ENV_PROXY",
        ] {
            cmd.env_remove(var);
        }
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.hush(args).output().unwrap()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn has(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

// ---------------------------------------------------------------------------------------------
// Exit codes and signals

#[test]
fn exit_codes_are_the_commands() {
    let s = Scratch::new();
    for (script, want) in [
        ("exit 0", 0),
        ("exit 3", 3),
        ("kill -TERM $$", 143),
        ("kill -KILL $$", 137),
    ] {
        let out = s.run(&["run", "--", "sh", "-c", script]);
        assert_eq!(code(&out), want, "{script}: {}", text(&out.stderr));
    }
    let out = s.run(&["run", "--", "hush-no-such-command-anywhere"]);
    assert_eq!(code(&out), 127);
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(
            "hush: error: cannot run 'hush-no-such-command-anywhere': command not found"
        ),
        "{err}"
    );
    let plain = s.write("plain.txt", "not a program\n");
    let out = s.run(&["run", "--", plain.to_str().unwrap()]);
    assert_eq!(code(&out), 126, "{}", text(&out.stderr));
    let out = s.run(&["run"]);
    assert_eq!(code(&out), 2);
    assert_eq!(
        text(&out.stderr),
        "hush: error: a command to run is needed: hush run [OPTIONS] -- CMD [ARGS]...\n"
    );
    // A usage error is the contract's exit 2, and the command does not run.
    let out = s.run(&[
        "run",
        "--proxy",
        "localhost:1",
        "--",
        "sh",
        "-c",
        "touch ran",
    ]);
    assert_eq!(code(&out), 2);
    assert!(
        text(&out.stderr).starts_with("hush: error: --proxy"),
        "{}",
        text(&out.stderr)
    );
    assert!(!s.path().join("ran").exists());
}

#[test]
fn sigterm_to_hush_reaches_the_command() {
    sigterm_reaches_the_command(&Scratch::new(), &["run"]);
}

/// Runs `hush <run_args> -- sh -c SCRIPT`, where the script says `ready`, then waits; sends
/// hush SIGTERM once it did, and checks that the script's trap ran (its marker and exit 7).
fn sigterm_reaches_the_command(s: &Scratch, run_args: &[&str]) {
    let marker = s.path().join("marker");
    let script = format!(
        "trap 'echo got-term > {}; exit 7' TERM; echo ready; i=0; \
         while [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; exit 9",
        marker.display()
    );
    let args: Vec<&str> = (run_args.iter().copied())
        .chain(["--", "sh", "-c", &script])
        .collect();
    let mut child = s.hush(&args).stdout(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "ready");
    // SAFETY: kill only sends a signal to our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    assert_eq!(child.wait().unwrap().code(), Some(7));
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "got-term\n");
}

#[test]
fn a_sigterm_sent_at_once_is_not_swallowed() {
    let s = Scratch::new();
    let start = Instant::now();
    let mut child = s.hush(&["run", "--", "sleep", "5"]).spawn().unwrap();
    // While hush starts its proxy, before the command exists.
    std::thread::sleep(Duration::from_millis(60));
    // SAFETY: kill only sends a signal to our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let status = child.wait().unwrap();
    // hush held it until the command existed and passed it on (128+15), or (had it come before
    // hush took signals over) died of it; never a 5 s wait and exit 0.
    use std::os::unix::process::ExitStatusExt;
    assert!(
        status.code() == Some(143) || status.signal() == Some(libc::SIGTERM),
        "{status:?}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "{:?}",
        start.elapsed()
    );
}

// ---------------------------------------------------------------------------------------------
// The environment

fn env_of(out: &Output) -> Vec<(String, String)> {
    text(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn get<'a>(env: &'a [(String, String)], name: &str) -> Option<&'a str> {
    env.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

#[test]
fn the_child_gets_proxy_and_opt_outs_without_losing_its_own_settings() {
    let s = Scratch::new();
    let out = s
        .hush(&["run", "--", "env"])
        .env("NEXT_TELEMETRY_DISABLED", "0")
        .env("NO_PROXY", "*")
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    // Nothing was blocked: no summary line, and nothing else of hush's on stderr.
    assert_eq!(text(&out.stderr), "");
    let env = env_of(&out);
    let proxy = get(&env, "https_proxy").unwrap();
    let port: u16 = proxy
        .strip_prefix("http://127.0.0.1:")
        .unwrap()
        .parse()
        .unwrap();
    assert!(port > 0);
    for name in [
        "http_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "all_proxy",
    ] {
        assert_eq!(get(&env, name), Some(proxy), "{name}");
    }
    assert_eq!(get(&env, "NO_PROXY"), Some("localhost,127.0.0.1,::1"));
    assert_eq!(get(&env, "no_proxy"), Some("localhost,127.0.0.1,::1"));
    assert_eq!(get(&env, "NEXT_TELEMETRY_DISABLED"), Some("0"));
    for (name, value) in [
        ("DO_NOT_TRACK", "1"),
        ("DOTNET_CLI_TELEMETRY_OPTOUT", "1"),
        ("HOMEBREW_NO_ANALYTICS", "1"),
        ("HF_HUB_DISABLE_TELEMETRY", "1"),
        ("AZURE_CORE_COLLECT_TELEMETRY", "0"),
        ("GOTELEMETRY", "off"),
        ("NODE_USE_ENV_PROXY", "1"),
    ] {
        assert_eq!(get(&env, name), Some(value), "{name}");
    }
    // No CA, no interception: no trust variables.
    assert_eq!(get(&env, "SSL_CERT_FILE"), None);
    assert_eq!(get(&env, "NODE_EXTRA_CA_CERTS"), None);

    let out = s
        .hush(&["run", "--", "env"])
        .env("ENABLE_TELEMETRY", "true")
        .output()
        .unwrap();
    let env = env_of(&out);
    assert_eq!(get(&env, "HOMEBREW_NO_ANALYTICS"), None);
    assert!(get(&env, "https_proxy").is_some());
}

#[test]
fn print_env_is_sorted_and_runs_nothing() {
    let s = Scratch::new();
    let out = s.run(&["run", "--print-env", "--", "sh", "-c", "touch ran"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert!(!s.path().join("ran").exists());
    let lines: Vec<String> = text(&out.stdout).lines().map(String::from).collect();
    let mut sorted = lines.clone();
    sorted.sort();
    assert_eq!(lines, sorted);
    assert!(lines.len() > 100, "{}", lines.len());
    assert!(lines.iter().all(|l| l
        .split_once('=')
        .is_some_and(|(k, v)| !k.is_empty() && !v.is_empty())));
    assert!(lines.contains(&"DO_NOT_TRACK=1".to_string()));
    assert!(lines.contains(&"https_proxy=http://127.0.0.1:<port>".to_string()));
    let out = s.run(&["run", "--print-env", "--proxy", "http://127.0.0.1:8080"]);
    assert!(text(&out.stdout)
        .lines()
        .any(|l| l == "HTTPS_PROXY=http://127.0.0.1:8080"));
}

// ---------------------------------------------------------------------------------------------
// Interception: the child trusts the hush CA, and telemetry is answered locally

/// An upstream CA and a server config with a leaf for `localhost` signed by it.
fn upstream_pki() -> (String, Arc<rustls::ServerConfig>) {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "run test upstream CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf = leaf.signed_by(&key, &ca).unwrap();
    let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], der)
        .unwrap();
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    (ca.pem(), Arc::new(server))
}

/// An HTTPS server on 127.0.0.1 answering `upstream saw PATH`.
async fn https_upstream(tls: Arc<rustls::ServerConfig>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let tls = tls.clone();
            tokio::spawn(async move {
                let Ok(stream) = TlsAcceptor::from(tls).accept(tcp).await else {
                    return;
                };
                let service = service_fn(|req: Request<Incoming>| async move {
                    let body = format!("upstream saw {}\n", req.uri().path());
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

/// Runs `hush ARGS` off the async threads (the upstream is served on them meanwhile).
async fn run_blocking(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_child_trusts_the_hush_ca_and_telemetry_is_summed_up() {
    let s = Scratch::new();
    let (up_ca, server) = upstream_pki();
    let up = https_upstream(server).await;
    s.write("up-ca.pem", &up_ca);
    let config = format!(
        "[proxy]\nallow_private = [\"127.0.0.0/8\"]\nconnect_ports = [{}]\n\
         intercept = [\"localhost\"]\nca_file = \"up-ca.pem\"\n\
         [[proxy.telemetry]]\nhost = \"localhost\"\npath_prefix = \"/track\"\n",
        up.port()
    );
    let config = s.write("hush.toml", &config);
    let config = config.to_str().unwrap();
    let init = s.run(&["ca", "init", "--config", config]);
    assert!(init.status.success(), "{}", text(&init.stderr));
    let audit = s.path().join("audit.log");

    let url = format!("https://localhost:{}", up.port());
    let mut clients = String::from("unset NO_PROXY no_proxy; ");
    if has("curl") {
        clients += &format!("curl -sS --max-time 10 {url}/from-curl; curl -sS -o /dev/null -w 'track %{{http_code}}\\n' --max-time 10 {url}/track/e; ");
    } else {
        eprintln!("skipping the curl half: no curl");
    }
    if has("python3") {
        clients += &format!(
            "python3 -c 'import sys, urllib.request as u; sys.stdout.write(u.urlopen(sys.argv[1], timeout=10).read().decode())' {url}/from-python; "
        );
    } else {
        eprintln!("skipping the Python half: no python3");
    }
    let cmd = s.hush(&[
        "run",
        "--config",
        config,
        "--audit",
        audit.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        &clients,
    ]);
    let out = run_blocking(cmd).await;
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(code(&out), 0, "{stdout}\n{stderr}");
    if has("curl") {
        // The leaf came from hush (the upstream's CA is not in the child's bundle), and the
        // telemetry path never reached the upstream.
        assert!(
            stdout.contains("upstream saw /from-curl\n"),
            "{stdout}\n{stderr}"
        );
        assert!(stdout.contains("track 204\n"), "{stdout}");
        assert!(!stdout.contains("upstream saw /track"), "{stdout}");
        assert!(
            stderr
                .lines()
                .any(|l| l == "hush: blocked 1 telemetry call (config 1)"),
            "{stderr}"
        );
    }
    if has("python3") {
        assert!(
            stdout.contains("upstream saw /from-python\n"),
            "{stdout}\n{stderr}"
        );
    }
    // --audit keeps the log: intercepted requests are in it.
    let log = std::fs::read_to_string(&audit).unwrap();
    assert!(
        log.lines().any(|l| l.contains("\"path\":\"/from-")),
        "{log}"
    );
    // What the child saw: the bundle for every runtime, Node's extra CA, both readable.
    let cmd = s.hush(&[
        "run",
        "--config",
        config,
        "--",
        "sh",
        "-c",
        "env; echo \"bundle-mode=$(stat -c %a \"$SSL_CERT_FILE\")\"; \
         echo \"bundle-has-hush=$(grep -c \"$(sed -n 2p \"$NODE_EXTRA_CA_CERTS\")\" \"$SSL_CERT_FILE\")\"",
    ]);
    let out = run_blocking(cmd).await;
    let env = env_of(&out);
    assert_eq!(
        get(&env, "bundle-mode"),
        Some("644"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(get(&env, "bundle-has-hush"), Some("1"));
    let bundle = get(&env, "SSL_CERT_FILE").unwrap().to_string();
    for name in [
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "GIT_SSL_CAINFO",
        "PIP_CERT",
        "AWS_CA_BUNDLE",
    ] {
        assert_eq!(get(&env, name), Some(bundle.as_str()), "{name}");
    }
    let ca_path = s.path().join("data/hush/ca.pem");
    assert_eq!(
        get(&env, "NODE_EXTRA_CA_CERTS"),
        Some(ca_path.to_str().unwrap())
    );
    assert!(
        !Path::new(&bundle).exists(),
        "the run directory outlived the run: {bundle}"
    );

    // A NODE_EXTRA_CA_CERTS of the user's own is kept, with the hush CA after it.
    let user = s.write(
        "user-extra.pem",
        "-----BEGIN CERTIFICATE-----\nUSERCA\n-----END CERTIFICATE-----\n",
    );
    let mut cmd = s.hush(&[
        "run",
        "--config",
        config,
        "--",
        "sh",
        "-c",
        "cat \"$NODE_EXTRA_CA_CERTS\"",
    ]);
    cmd.env("NODE_EXTRA_CA_CERTS", &user);
    let out = run_blocking(cmd).await;
    let node = text(&out.stdout);
    let hush_ca = std::fs::read_to_string(&ca_path).unwrap();
    assert!(
        node.starts_with("-----BEGIN CERTIFICATE-----\nUSERCA\n"),
        "{node}"
    );
    assert!(node.ends_with(&hush_ca), "{node}");
}

// ---------------------------------------------------------------------------------------------
// --contain

/// A plain-HTTP server on 127.0.0.1 in this (outer) namespace: answers every request `outside`.
fn http_upstream() -> SocketAddr {
    let listener = StdListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(50) {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|n| n == 1) {
                head.push(byte[0]);
            }
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-length: 8\r\nconnection: close\r\n\r\noutside\n",
            );
        }
    });
    addr
}

/// `hush proxy` on an ephemeral port, killed on drop.
struct ProxyProcess {
    child: std::process::Child,
    addr: SocketAddr,
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_proxy(s: &Scratch, config: &Path) -> ProxyProcess {
    let child = s
        .hush(&[
            "proxy",
            "--listen=127.0.0.1:0",
            "--config",
            config.to_str().unwrap(),
        ])
        .arg("--audit-log")
        .arg(s.path().join("proxy-audit.log"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Owned (and so killed on drop) before anything below can panic.
    let mut proxy = ProxyProcess {
        child,
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
    };
    let mut lines = BufReader::new(proxy.child.stderr.take().unwrap()).lines();
    let deadline = Instant::now() + WAIT;
    loop {
        assert!(Instant::now() < deadline, "proxy did not start");
        let line = lines
            .next()
            .expect("proxy exited before listening")
            .unwrap();
        if let Some(addr) = line.strip_prefix("hush proxy: listening on ") {
            proxy.addr = addr.parse().unwrap();
            std::thread::spawn(move || for _ in lines.by_ref() {});
            return proxy;
        }
    }
}

/// Whether `hush run --contain` can make a namespace here; prints why not when it cannot.
fn contain_available(s: &Scratch) -> bool {
    let out = s.run(&["run", "--contain", "--", "true"]);
    if code(&out) == 0 {
        return true;
    }
    let err = text(&out.stderr);
    assert!(
        err.contains("--contain: cannot create a network namespace"),
        "{err}"
    );
    eprintln!("skipping --contain tests: {err}");
    false
}

#[test]
fn contain_leaves_hush_as_the_only_way_out() {
    let s = Scratch::new();
    if !contain_available(&s) || !has("curl") {
        return;
    }
    let up = http_upstream();
    let config = s.write(
        "hush.toml",
        &format!(
            "[proxy]\nallow_private = [\"127.0.0.0/8\"]\nconnect_ports = [{}]\n",
            up.port()
        ),
    );
    for external in [false, true] {
        let proxy = external.then(|| start_proxy(&s, &config));
        // The port a direct dial must fail to reach: the outer proxy's, when it is known.
        let outer = proxy.as_ref().map_or(up.port(), |p| p.addr.port());
        let script = format!(
            "curl -sS --max-time 10 --noproxy '' -p http://127.0.0.1:{up}/via; echo \"via=$?\"; \
             curl -sS --max-time 3 --noproxy '*' http://127.0.0.1:{up}/direct; echo \"direct=$?\"; \
             curl -sS --max-time 3 --noproxy '*' http://127.0.0.1:{outer}/; echo \"outer=$?\"; \
             curl -sS --max-time 3 --noproxy '*' http://192.0.2.1/; echo \"far=$?\"",
            up = up.port()
        );
        let mut args = vec!["run", "--contain", "--config", config.to_str().unwrap()];
        let url = proxy.as_ref().map(|p| format!("http://{}", p.addr));
        if let Some(url) = &url {
            args.extend(["--proxy", url]);
        }
        args.extend(["--", "sh", "-c", &script]);
        let out = s.run(&args);
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert_eq!(code(&out), 0, "{stdout}\n{stderr}");
        assert!(
            stdout.contains("outside\nvia=0\n"),
            "external={external}: {stdout}\n{stderr}"
        );
        for blocked in ["direct", "outer", "far"] {
            assert!(
                stdout
                    .lines()
                    .any(|l| l.starts_with(&format!("{blocked}=")) && l != format!("{blocked}=0")),
                "external={external}: {blocked} got through: {stdout}"
            );
        }
        assert_eq!(stdout.matches("outside").count(), 1, "{stdout}");
    }
}

#[test]
fn contain_keeps_exit_codes_and_signals() {
    let s = Scratch::new();
    if !contain_available(&s) {
        return;
    }
    let out = s.run(&["run", "--contain", "--", "sh", "-c", "exit 5"]);
    assert_eq!(code(&out), 5);
    let out = s.run(&["run", "--contain", "--", "hush-no-such-command-anywhere"]);
    assert_eq!(code(&out), 127);
    assert!(text(&out.stderr).contains("command not found"));
    sigterm_reaches_the_command(&s, &["run", "--contain"]);
}

#[test]
fn contain_works_without_root_through_a_user_namespace() {
    // SAFETY: geteuid cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    if !root || !has("setpriv") {
        // Unprivileged already: the other --contain tests took this path.
        eprintln!("skipping: needs root and setpriv to drop to an unprivileged user");
        return;
    }
    let s = Scratch::new();
    std::fs::set_permissions(
        s.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    // /proc/net/dev lists the interfaces of the reader's own network namespace.
    let script = "id -u; tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '; exit 4";
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_hush"))
        .args(["run", "--contain", "--", "sh", "-c", script])
        .current_dir(s.path())
        .env("XDG_DATA_HOME", s.path().join("data"))
        .env("HOME", s.path())
        .output()
        .unwrap();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    if code(&out) == 2 && stderr.contains("cannot create a network namespace") {
        eprintln!("skipping: unprivileged user namespaces are not allowed here: {stderr}");
        return;
    }
    assert_eq!(code(&out), 4, "{stdout}\n{stderr}");
    // Our own uid, mapped to itself; the namespace has loopback and nothing else (the bridge
    // listening on it means it is up).
    assert_eq!(stdout, "65534\nlo\n", "{stderr}");
}

#[test]
fn with_a_running_proxy_the_summary_counts_what_it_blocked_meanwhile() {
    let s = Scratch::new();
    if !has("curl") {
        eprintln!("skipping: no curl");
        return;
    }
    let config = s.write(
        "hush.toml",
        "[[proxy.telemetry]]\nhost = \"localhost\"\npath_prefix = \"/track\"\n",
    );
    let proxy = start_proxy(&s, &config);
    let url = format!("http://{}", proxy.addr);
    // Answered by the proxy itself (204): nothing is dialled.
    let script = "unset NO_PROXY no_proxy; \
                  curl -sS --max-time 5 -o /dev/null -w '%{http_code}\\n' http://localhost/track/a; \
                  curl -sS --max-time 5 -o /dev/null -w '%{http_code}\\n' http://localhost/track/b";
    let out = s.run(&["run", "--proxy", &url, "--", "sh", "-c", script]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(code(&out), 0, "{stdout}\n{stderr}");
    assert_eq!(stdout, "204\n204\n", "{stderr}");
    assert_eq!(stderr, "hush: blocked 2 telemetry calls (config 2)\n");
    // A second run counts only its own.
    let out = s.run(&["run", "--proxy", &url, "--", "true"]);
    assert_eq!(text(&out.stderr), "");
}
