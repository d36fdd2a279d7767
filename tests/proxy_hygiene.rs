//! Issue 12's hygiene, end to end through the real binary: every refusal says why (an
//! `x-hush-error` header and a one-line `text/plain` body naming the setting that would allow
//! it), certificate failures name their fix, the audit log masks what the engine finds in a
//! path and is private to its owner, and `/metrics` counts what the log holds.
//! Everything is on 127.0.0.1; servers are waited for by polling, never by sleeping.

mod proxy_common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, CertifiedIssuer, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

const WAIT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// Certificates and upstreams

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

/// A server configuration presenting `cert` with `key`.
fn server(cert: CertificateDer<'static>, key: &KeyPair) -> Arc<rustls::ServerConfig> {
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    Arc::new(config)
}

/// A leaf for `names` signed by `issuer`, valid now unless `expired`.
fn leaf(
    issuer: &CertifiedIssuer<'static, KeyPair>,
    names: &[&str],
    expired: bool,
) -> Arc<rustls::ServerConfig> {
    let key = KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut params = CertificateParams::new(names).unwrap();
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    if expired {
        params.not_before = date_time_ymd(2001, 1, 1);
        params.not_after = date_time_ymd(2002, 1, 1);
    }
    let cert = params.signed_by(&key, issuer).unwrap();
    server(cert.der().clone(), &key)
}

/// What `openssl req -x509` makes by default: a self-signed CA certificate, served as the
/// server's own. Returns the server configuration and the certificate's PEM.
fn self_signed_ca_as_leaf() -> (Arc<rustls::ServerConfig>, String) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let cert = params.self_signed(&key).unwrap();
    (server(cert.der().clone(), &key), cert.pem())
}

/// A TLS upstream that completes handshakes and then reads and says nothing; counts the
/// handshakes that succeeded (a refused certificate fails on the client's side first).
async fn tls_upstream(config: Arc<rustls::ServerConfig>) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let done = Arc::new(AtomicUsize::new(0));
    let count = done.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (config, count) = (config.clone(), count.clone());
            tokio::spawn(async move {
                if let Ok(mut tls) = TlsAcceptor::from(config).accept(tcp).await {
                    count.fetch_add(1, Ordering::SeqCst);
                    let mut sink = [0u8; 1024];
                    while tls.read(&mut sink).await.unwrap_or(0) > 0 {}
                }
            });
        }
    });
    (addr, done)
}

/// A plain-HTTP upstream: answers anything with `400` (as an HTTP server answers a
/// ClientHello), or `200 ok` to a request that looks like HTTP.
async fn plain_upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let n = tcp.read(&mut buf).await.unwrap_or(0);
                let answer: &[u8] = if buf[..n].starts_with(b"GET ") {
                    b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\nconnection: close\r\n\r\nok\n"
                } else {
                    b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                };
                let _ = tcp.write_all(answer).await;
            });
        }
    });
    addr
}

/// Echoes every byte back until the client closes.
async fn echo_upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = tcp.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    addr
}

/// Accepts connections and never says a word.
async fn silent_upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            held.push(tcp);
        }
    });
    addr
}

/// An address where nothing listens (bound, then released).
async fn dead_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

// ---------------------------------------------------------------------------------------------
// The proxy under test

struct Proxy {
    child: Child,
    addr: SocketAddr,
    dir: tempfile::TempDir,
    stderr: Arc<Mutex<Vec<String>>>,
}

struct Builder {
    config: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    ca_pem: Option<String>,
    /// Written as the audit log before the proxy starts, with this mode.
    existing_log: Option<u32>,
}

fn proxy(config: &str) -> Builder {
    Builder {
        config: config.to_string(),
        args: Vec::new(),
        env: Vec::new(),
        ca_pem: None,
        existing_log: None,
    }
}

impl Builder {
    fn ca_pem(mut self, pem: String) -> Self {
        self.ca_pem = Some(pem);
        self
    }

    fn arg(mut self, a: &str) -> Self {
        self.args.push(a.to_string());
        self
    }

    fn env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }

    fn existing_log(mut self, mode: u32) -> Self {
        self.existing_log = Some(mode);
        self
    }

    fn start(self) -> Proxy {
        tokio::task::block_in_place(|| self.start_blocking())
    }

    fn start_blocking(self) -> Proxy {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("hush.toml");
        std::fs::write(&config, &self.config).unwrap();
        let log = dir.path().join("audit.log");
        if let Some(mode) = self.existing_log {
            std::fs::write(&log, "").unwrap();
            std::fs::set_permissions(&log, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hush"));
        // No CA of the developer's may turn interception on here.
        proxy_common::proxy_args(&mut cmd, &config, &log, &dir.path().join("data"));
        if let Some(pem) = &self.ca_pem {
            let ca = dir.path().join("ca.pem");
            std::fs::write(&ca, pem).unwrap();
            cmd.arg("--ca-file").arg(ca);
        }
        cmd.args(&self.args);
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        let (child, addr, stderr) = proxy_common::spawn_announced(cmd, WAIT);
        Proxy {
            child,
            addr,
            dir,
            stderr,
        }
    }
}

impl Proxy {
    fn log_path(&self) -> std::path::PathBuf {
        self.dir.path().join("audit.log")
    }

    fn audit(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn audit_records(&self) -> Vec<serde_json::Value> {
        self.audit()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Waits (bounded) until the audit log holds `n` records, then returns them.
    async fn audit_wait(&self, n: usize) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + WAIT;
        loop {
            let records = self.audit_records();
            if records.len() >= n || Instant::now() > deadline {
                return records;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Sends `request` on a fresh connection and reads one response.
    async fn exchange(&self, request: &str) -> Reply {
        let mut tcp = TcpStream::connect(self.addr).await.unwrap();
        tcp.write_all(request.as_bytes()).await.unwrap();
        read_reply(&mut tcp).await
    }

    /// `GET url` as a proxy request.
    async fn get(&self, url: &str) -> Reply {
        let host = url.trim_start_matches("http://").split('/').next().unwrap();
        self.exchange(&format!("GET {url} HTTP/1.1\r\nHost: {host}\r\n\r\n"))
            .await
    }

    async fn connect(&self, target: &str) -> Reply {
        self.exchange(&format!(
            "CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n"
        ))
        .await
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One response as a raw client sees it.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: HashMap<String, String>,
    body: String,
}

impl Reply {
    fn why(&self) -> &str {
        self.headers
            .get("x-hush-error")
            .map(String::as_str)
            .unwrap_or_else(|| panic!("no x-hush-error: {self:?}"))
    }

    /// A refusal: `status`, the reason in the header, and the same reason as the one-line
    /// `text/plain` body. Returns the reason.
    fn refusal(&self, status: u16) -> &str {
        assert_eq!(self.status, status, "{self:?}");
        let why = self.why();
        let kind = &self.headers["content-type"];
        assert!(kind.starts_with("text/plain"), "{self:?}");
        assert_eq!(self.body, format!("hush proxy: {why}\n"), "{self:?}");
        assert_eq!(self.body.lines().count(), 1, "{self:?}");
        why
    }
}

/// Reads a response head and a body framed by `content-length` (none without it).
async fn read_reply(tcp: &mut TcpStream) -> Reply {
    tokio::time::timeout(WAIT, async {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if tcp.read(&mut byte).await.unwrap_or(0) == 0 {
                break;
            }
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head).into_owned();
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status line: {head:?}"));
        let headers: HashMap<String, String> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let len: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; len];
        tcp.read_exact(&mut body).await.unwrap();
        Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    })
    .await
    .expect("a response in time")
}

const LOCAL: &str = "[proxy]\nallow_private = [\"127.0.0.0/8\"]\n";

const BEACON: &str = "[[proxy.telemetry]]\nvendor = \"beacon\"\nhost = \"*.beacon.test\"\n\n\
    [[proxy.telemetry]]\nvendor = \"beacon\"\nhost = \"localhost\"\npath_prefix = \"/track\"\n";

// ---------------------------------------------------------------------------------------------
// Every refusal says why

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telemetry_connect_403_names_the_vendor_and_the_switches() {
    let p = proxy(&format!("{LOCAL}{BEACON}")).start();
    let reply = p.connect("events.beacon.test:443").await;
    let why = reply.refusal(403);
    for part in [
        "events.beacon.test",
        "beacon",
        "ENABLE_TELEMETRY=1",
        "telemetry_allow = [\"beacon\"]",
    ] {
        assert!(why.contains(part), "{part} missing: {why}");
    }
    assert!(!why.contains("DO_NOT_TRACK"), "{why}");

    // With DO_NOT_TRACK set, the switches only work once it is unset: the reason says so.
    let p = proxy(&format!("{LOCAL}{BEACON}"))
        .env("DO_NOT_TRACK", "1")
        .start();
    let reply = p.connect("events.beacon.test:443").await;
    assert!(
        reply.refusal(403).contains("DO_NOT_TRACK unset"),
        "{reply:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telemetry_204_stays_bodiless_with_the_reason_in_a_header() {
    let up = dead_port().await;
    let p = proxy(&format!("{LOCAL}{BEACON}")).start();
    let reply = p
        .get(&format!("http://localhost:{}/track/e?id=1", up.port()))
        .await;
    assert_eq!(reply.status, 204, "{reply:?}");
    assert_eq!(reply.body, "");
    assert!(!reply.headers.contains_key("content-length"), "{reply:?}");
    let why = reply.why();
    assert!(
        why.contains("beacon") && why.contains("ENABLE_TELEMETRY=1"),
        "{why}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_port_refusal_names_connect_ports() {
    let up = echo_upstream().await;
    let p = proxy(LOCAL).start();
    let reply = p.connect(&up.to_string()).await;
    let why = reply.refusal(403);
    let want = format!("add {} to connect_ports", up.port());
    assert!(why.contains(&want), "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_address_refusal_names_allow_private() {
    let up = dead_port().await;
    let p = proxy("[proxy]\n").start();
    let reply = p.get(&format!("http://127.0.0.1:{}/", up.port())).await;
    let why = reply.refusal(403);
    assert!(why.contains("\"127.0.0.1/32\" to allow_private"), "{why}");
    // Through a name, refused once resolved: same advice.
    let reply = p.get(&format!("http://localhost:{}/", up.port())).await;
    assert!(reply.refusal(403).contains("allow_private"), "{reply:?}");
    // An IPv6 form that leads to a private IPv4 address names the IPv4 block.
    let reply = p.get("http://[::ffff:0:a9fe:a9fe]/").await;
    let why = reply.refusal(403);
    assert!(why.contains("\"169.254.169.254/32\""), "{why}");
    let records = p.audit_wait(3).await;
    assert!(
        records.iter().all(|r| r["decision"] == "denied"),
        "{records:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_origin_refusal_names_plain_http_allow() {
    let up = plain_upstream().await;
    let p = proxy(LOCAL).start();
    let reply = p.get(&format!("http://127.0.0.1:{}/", up.port())).await;
    let why = reply.refusal(502);
    assert!(why.contains("does not speak TLS"), "{why}");
    assert!(why.contains("plain_http_allow"), "{why}");
    // The fix it names works.
    let p = proxy(&format!("{LOCAL}plain_http_allow = [\"127.0.0.1\"]\n")).start();
    let reply = p.get(&format!("http://127.0.0.1:{}/", up.port())).await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "ok\n"));

    // `http://host/` goes to port 443; where nothing listens there, the reason says why.
    if TcpStream::connect("127.0.0.1:443").await.is_ok() {
        eprintln!("skipped the port-443 case: something listens on 127.0.0.1:443");
        return;
    }
    let p = proxy(LOCAL).start();
    let why_443 = p.get("http://127.0.0.1/").await;
    let why = why_443.refusal(502);
    assert!(
        why.contains("127.0.0.1:443") && why.contains("plain_http_allow"),
        "{why}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_407_says_how_to_send_the_token() {
    let token = concat!("hush-test-", "token-5b1f");
    let p = proxy(LOCAL)
        .arg("--allow-remote")
        .env("HUSH_PROXY_TOKEN", token)
        .start();
    let reply = p.connect("example.com:443").await;
    let why = reply.refusal(407);
    assert!(why.contains("HUSH_PROXY_TOKEN"), "{why}");
    assert!(
        reply.headers.contains_key("proxy-authenticate"),
        "{reply:?}"
    );
    assert!(!p.audit().contains(token) && !why.contains(token));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_503_names_max_connections() {
    let p = proxy("").arg("--max-connections=1").start();
    // Hold the one slot with a connection that has been served (so it is surely counted).
    let mut held = TcpStream::connect(p.addr).await.unwrap();
    held.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(read_reply(&mut held).await.status, 200);
    let reply = p.exchange("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let why = reply.refusal(503);
    assert!(
        why.contains("--max-connections") && why.contains("all 1"),
        "{why}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_400_says_what_a_proxy_request_is() {
    let p = proxy("").start();
    let reply = p.exchange("GET /other HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let why = reply.refusal(400);
    assert!(why.starts_with("not a proxy request"), "{why}");
    assert!(why.contains("http://") && why.contains("CONNECT"), "{why}");
    let reply = p
        .exchange("GET https://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n")
        .await;
    assert!(reply.refusal(400).contains("CONNECT"), "{reply:?}");
    // The audit log keeps the short reason.
    let records = p.audit_wait(2).await;
    assert_eq!(records[0]["reason"], "not a proxy request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heads_hyper_refuses_itself_say_why_too() {
    // hyper answers these before any request reaches hush's handler; they say why all the same.
    let p = proxy("").arg("--max-header-size=2048").start();
    let big = format!(
        "GET http://x/ HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(4000)
    );
    let reply = p.exchange(&big).await;
    let why = reply.refusal(431);
    assert!(
        why.contains("--max-header-size") && why.contains("2048"),
        "{why}"
    );
    let reply = p.exchange("NOT HTTP AT ALL\r\n\r\n").await;
    let why = reply.refusal(400);
    assert!(why.starts_with("malformed request"), "{why}");
    // A refusal from hyper after a request that was served on the same connection, too.
    let mut tcp = TcpStream::connect(p.addr).await.unwrap();
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(read_reply(&mut tcp).await.status, 200);
    tcp.write_all(b"BAD\x01REQUEST\r\n\r\n").await.unwrap();
    let reply = read_reply(&mut tcp).await;
    assert!(
        reply.refusal(400).starts_with("malformed request"),
        "{reply:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_504_name_the_limit() {
    let silent = silent_upstream().await;
    let p = proxy(LOCAL).arg("--connect-timeout=300ms").start();
    // The TCP connection opens, the TLS handshake never finishes.
    let reply = p.get(&format!("http://{silent}/")).await;
    assert!(
        reply.refusal(504).contains("--connect-timeout"),
        "{reply:?}"
    );

    // Handshake done, request sent, no response.
    let issuer = ca("hush hygiene CA");
    let (up, _) = tls_upstream(leaf(&issuer, &["127.0.0.1"], false)).await;
    let p = proxy(LOCAL)
        .ca_pem(issuer.pem())
        .arg("--response-timeout=300ms")
        .start();
    let reply = p.get(&format!("http://127.0.0.1:{}/", up.port())).await;
    assert!(
        reply.refusal(504).contains("--response-timeout"),
        "{reply:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_failure_502_says_why() {
    let dead = dead_port().await;
    let p = proxy(&format!("{LOCAL}connect_ports = [{}]\n", dead.port())).start();
    let reply = p.get(&format!("http://{dead}/")).await;
    assert!(reply.refusal(502).contains("cannot connect"), "{reply:?}");
    let reply = p.connect(&dead.to_string()).await;
    assert!(reply.refusal(502).contains("cannot connect"), "{reply:?}");
}

// ---------------------------------------------------------------------------------------------
// Certificates webpki refuses

/// The 502 for an upstream presenting `config`, with `trusted` as the extra roots: its reason,
/// checked to be in the audit log too; and that no handshake finished.
async fn certificate_refusal(
    config: Arc<rustls::ServerConfig>,
    trusted: String,
    host: &str,
) -> String {
    let (up, handshakes) = tls_upstream(config).await;
    let p = proxy(LOCAL).ca_pem(trusted).start();
    let reply = p.get(&format!("http://{host}:{}/", up.port())).await;
    let why = reply.refusal(502).to_string();
    let r = &p.audit_wait(1).await[0];
    assert_eq!(
        (r["decision"].as_str(), r["status"].as_u64()),
        (Some("error"), Some(502))
    );
    assert_eq!(r["reason"], why);
    assert_eq!(handshakes.load(Ordering::SeqCst), 0, "{why}");
    why
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_signed_ca_served_as_leaf_gets_the_fix() {
    let (config, pem) = self_signed_ca_as_leaf();
    // Even trusted, a CA certificate is no server certificate.
    let why = certificate_refusal(config, pem, "127.0.0.1").await;
    assert!(why.contains("CaUsedAsEndEntity"), "{why}");
    assert!(
        why.contains("presents a CA certificate as its own"),
        "{why}"
    );
    assert!(why.contains("leaf certificate signed by that CA"), "{why}");
    assert!(
        why.contains("--ca-file") && why.contains("SSL_CERT_FILE"),
        "{why}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_issuer_gets_the_fix() {
    let (issuer, other) = (ca("upstream CA"), ca("some other CA"));
    let config = leaf(&issuer, &["127.0.0.1"], false);
    let why = certificate_refusal(config, other.pem(), "127.0.0.1").await;
    assert!(why.contains("UnknownIssuer"), "{why}");
    assert!(
        why.contains("--ca-file") && why.contains("ca_file"),
        "{why}"
    );
    assert!(why.contains("SSL_CERT_FILE"), "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_certificate_gets_the_fix() {
    let issuer = ca("upstream CA");
    let config = leaf(&issuer, &["127.0.0.1"], true);
    let why = certificate_refusal(config, issuer.pem(), "127.0.0.1").await;
    assert!(why.contains("expired") && why.contains("renew it"), "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_mismatch_gets_the_fix() {
    let issuer = ca("upstream CA");
    let config = leaf(&issuer, &["localhost"], false);
    let why = certificate_refusal(config, issuer.pem(), "127.0.0.1").await;
    assert!(why.contains("names") && why.contains("localhost"), "{why}");
    assert!(why.contains("not 127.0.0.1"), "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ca_file_without_certificates_is_a_startup_error() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let truncated = dir.path().join("truncated.pem");
    std::fs::write(&truncated, "-----BEGIN CERTIFICATE-----\nMIIB\n").unwrap();
    for (file, want) in [
        (&empty, "no PEM certificates found"),
        (&truncated, "section end \"CERTIFICATE\" missing"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_hush"))
            .args([
                "proxy",
                "--listen=127.0.0.1:0",
                "--config=/dev/null",
                "--ca-file",
            ])
            .arg(file)
            .env_remove("SSL_CERT_FILE")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.starts_with("hush: error: CA file "), "{err}");
        assert!(err.contains(want), "{err}");
    }
}

// ---------------------------------------------------------------------------------------------
// Audit hygiene

/// The parts of planted secrets, split so that this file holds none whole.
const TG_ID: &str = concat!("7315", "902846");
const TG_KEY: &str = concat!("AAH", "u8jzPde0IgxLd6GncfBAepfJBd0Kh8oO");
const SLACK_TEAM: &str = concat!("TDZ", "DOC9IS0");
const SLACK_BOT: &str = concat!("BJ8", "HT9LGMXG");
const SLACK_KEY: &str = concat!("JTeKdNn", "FRIBXuDL7DxtpYlSX");
const DISCORD_ID: &str = concat!("31948757", "49118625276");
const DISCORD_KEY: &str = concat!(
    "fjORS-6ilI8ihN5KXSc7Tvo-hBKqFYY-",
    "kv5ZJr3J1TWDtkwtDDb_xHKas1VOqg6YYZYn"
);
const SESSION: &str = concat!("EOzdmen", "CkhvMdgaKjIg8xNbe3n");

/// The vendors' hosts are made telemetry here, so that these requests are answered locally
/// and nothing is resolved or dialled: the record is written all the same, path and all.
const VENDOR_HOSTS: &str =
    "[[proxy.telemetry]]\nvendor = \"planted\"\nhost = \"api.telegram.org\"\n\n\
    [[proxy.telemetry]]\nvendor = \"planted\"\nhost = \"hooks.slack.com\"\n\n\
    [[proxy.telemetry]]\nvendor = \"planted\"\nhost = \"discord.com\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_holds_no_secret_from_a_path_and_is_0600() {
    let (up, _) = tls_upstream({
        let issuer = ca("hygiene CA");
        leaf(&issuer, &["127.0.0.1"], false)
    })
    .await;
    let p = proxy(&format!("{LOCAL}{VENDOR_HOSTS}")).start();
    let urls = [
        format!("http://api.telegram.org/bot{TG_ID}:{TG_KEY}/getMe"),
        format!("http://hooks.slack.com/services/{SLACK_TEAM}/{SLACK_BOT}/{SLACK_KEY}"),
        format!("http://discord.com/api/webhooks/{DISCORD_ID}/{DISCORD_KEY}"),
        // Not telemetry: refused (its certificate is untrusted), still logged.
        format!(
            "http://127.0.0.1:{}/app;jsessionid={SESSION}/page;v=1",
            up.port()
        ),
    ];
    for url in &urls {
        let reply = p.get(url).await;
        assert!(
            reply.status == 204 || reply.status == 502,
            "{url}: {reply:?}"
        );
    }
    let records = p.audit_wait(urls.len()).await;
    assert_eq!(records.len(), urls.len(), "{records:?}");
    let log = p.audit();
    for part in [
        TG_ID,
        TG_KEY,
        SLACK_TEAM,
        SLACK_BOT,
        SLACK_KEY,
        DISCORD_ID,
        DISCORD_KEY,
        SESSION,
    ] {
        assert!(
            !log.contains(part),
            "a secret part leaked into the audit log:\n{log}"
        );
    }
    let paths: Vec<&str> = records
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    // Masked as `hush scan` masks: the first characters of the match, then `…`.
    assert!(
        paths[0].starts_with("/bot") && paths[0].ends_with("…/getMe"),
        "{paths:?}"
    );
    assert!(paths[1].ends_with('…'), "{paths:?}");
    assert!(paths[2].ends_with('…'), "{paths:?}");
    assert_eq!(paths[3], "/app/page");
    let mode = std::fs::metadata(p.log_path())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    let warned = p
        .stderr
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains("warning"));
    assert!(!warned, "{:?}", p.stderr.lock().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_readable_existing_log_gets_a_warning_not_an_error() {
    let p = proxy("").existing_log(0o644).start();
    let warning: Vec<String> = p
        .stderr
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains("warning"))
        .cloned()
        .collect();
    assert_eq!(warning.len(), 1, "{warning:?}");
    assert!(warning[0].contains("readable by group or others") && warning[0].contains("644"));
    // It still serves, and the file keeps the mode its owner gave it.
    let reply = p.exchange("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(reply.status, 200);
    let mode = std::fs::metadata(p.log_path())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644);
}

// ---------------------------------------------------------------------------------------------
// /metrics

/// Scrapes `/metrics` and parses each sample line into (name with labels, value).
async fn scrape(p: &Proxy) -> (Reply, HashMap<String, f64>) {
    let reply = p.exchange("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let samples = reply
        .body
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (name, value) = l.rsplit_once(' ').unwrap();
            (name.to_string(), value.parse::<f64>().unwrap())
        })
        .collect();
    (reply, samples)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_what_the_audit_log_holds() {
    let up = echo_upstream().await;
    let p = proxy(&format!(
        "{LOCAL}connect_ports = [443, {}]\n{BEACON}",
        up.port()
    ))
    .start();
    // One tunnel that carries 5 bytes each way.
    let mut tcp = TcpStream::connect(p.addr).await.unwrap();
    let target = up.to_string();
    tcp.write_all(format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    assert_eq!(read_reply(&mut tcp).await.status, 200);
    tcp.write_all(b"hello").await.unwrap();
    let mut echoed = [0u8; 5];
    tcp.read_exact(&mut echoed).await.unwrap();
    drop(tcp);
    // Two telemetry blocks, one denial.
    assert_eq!(p.connect("a.beacon.test:443").await.status, 403);
    assert_eq!(p.connect("b.beacon.test:443").await.status, 403);
    assert_eq!(p.connect("127.0.0.1:25").await.status, 403);
    let records = p.audit_wait(4).await;
    assert_eq!(records.len(), 4, "{records:?}");

    let (reply, m) = scrape(&p).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.headers["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let get = |k: &str| {
        m.get(k)
            .copied()
            .unwrap_or_else(|| panic!("{k}: {}", reply.body))
    };
    assert_eq!(get("hush_decisions_total{decision=\"tunnel\"}"), 1.0);
    assert_eq!(
        get("hush_decisions_total{decision=\"telemetry-blocked\"}"),
        2.0
    );
    assert_eq!(get("hush_decisions_total{decision=\"denied\"}"), 1.0);
    assert_eq!(get("hush_decisions_total{decision=\"forward\"}"), 0.0);
    assert_eq!(get("hush_telemetry_blocked_total{vendor=\"beacon\"}"), 2.0);
    let sum = |field: &str| {
        records
            .iter()
            .map(|r| r[field].as_u64().unwrap())
            .sum::<u64>()
    };
    assert_eq!(
        get("hush_bytes_total{direction=\"up\"}"),
        sum("bytes_up") as f64
    );
    assert_eq!(
        get("hush_bytes_total{direction=\"down\"}"),
        sum("bytes_down") as f64
    );
    assert_eq!(sum("bytes_up"), 5);
    // The scrape's own connection is open while it is answered.
    assert!(get("hush_open_connections") >= 1.0, "{}", reply.body);
    // Every sample is a hush_ metric; the scrape itself is not audited.
    assert!(m.keys().all(|k| k.starts_with("hush_")), "{}", reply.body);
    assert_eq!(p.audit_records().len(), 4);

    // A held connection is counted until it closes. First the earlier connections must have
    // closed (on a loaded machine their tasks may still be winding down): only the scrape's
    // own connection is open then.
    let deadline = Instant::now() + WAIT;
    while scrape(&p).await.1["hush_open_connections"] > 1.0 {
        assert!(
            Instant::now() < deadline,
            "earlier connections never closed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let held = TcpStream::connect(p.addr).await.unwrap();
    loop {
        let (_, now) = scrape(&p).await;
        if now["hush_open_connections"] >= 2.0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the held connection was never counted"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(held);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_need_the_token_under_allow_remote() {
    let token = concat!("hush-metrics-", "token-77c2");
    let p = proxy("")
        .arg("--allow-remote")
        .env("HUSH_PROXY_TOKEN", token)
        .start();
    let reply = p.exchange("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(reply.refusal(401).contains("HUSH_PROXY_TOKEN"), "{reply:?}");
    let reply = p
        .exchange(&format!(
            "GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n"
        ))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(
        reply.body.contains("hush_open_connections "),
        "{}",
        reply.body
    );
}
