//! Egress DLP end to end: the real `hush proxy` between curl (or a raw socket) and loopback
//! upstreams that count what reaches them. A GitHub token of valid shape goes out in a header,
//! a query and a JSON body split across frames, to its own hosts and to others; over plain HTTP
//! and inside an intercepted HTTPS tunnel. Everything is local and offline; servers are waited
//! for by polling, never by sleeping. No test output holds a whole secret.

mod proxy_common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

const WAIT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// Secrets, built at run time so this file holds none

/// A GitHub personal access token whose CRC32 checksum is valid, as the `github-pat` rule
/// requires.
fn github_token() -> String {
    let body = "Rk7mQ2xVp9LwT4nB8cZ3hJ6yD1sF5g";
    let mut n = crc32fast::hash(body.as_bytes());
    const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut check = [b'0'; 6];
    for slot in check.iter_mut().rev() {
        *slot = DIGITS[(n % 62) as usize];
        n /= 62;
    }
    format!("ghp_{body}{}", std::str::from_utf8(&check).unwrap())
}

/// The `private-key-rsa` rule's own first example: a PEM block the engine reports.
fn private_key() -> String {
    let rules = hush::rules::RuleSet::defaults_with_examples().unwrap();
    let rule = rules
        .rules
        .iter()
        .find(|r| r.id == "private-key-rsa")
        .unwrap();
    rule.true_positives[0].trim().to_string()
}

/// `text` with `secret` (and its last 12 characters) hidden: what a failing assert may print.
fn hide(text: &str, secret: &str) -> String {
    text.replace(secret, "<SECRET>")
        .replace(&secret[secret.len() - 12..], "<SECRET-TAIL>")
}

// ---------------------------------------------------------------------------------------------
// Upstreams

/// Requests that reached an upstream, and the bytes of their heads and bodies.
#[derive(Default)]
struct Seen {
    requests: AtomicUsize,
    text: Mutex<String>,
}

/// An HTTP/1 upstream on 127.0.0.1 (over TLS when `tls` is given) that answers `200 seen` and
/// keeps what it saw.
async fn upstream(tls: Option<Arc<rustls::ServerConfig>>) -> (SocketAddr, Arc<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let seen2 = seen.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (tls, seen) = (tls.clone(), seen2.clone());
            tokio::spawn(async move {
                let service = service_fn(move |req| record(req, seen.clone()));
                let builder = hyper::server::conn::http1::Builder::new();
                match tls {
                    Some(cfg) => {
                        if let Ok(stream) = TlsAcceptor::from(cfg).accept(tcp).await {
                            let _ = builder
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        }
                    }
                    None => {
                        let _ = builder.serve_connection(TokioIo::new(tcp), service).await;
                    }
                }
            });
        }
    });
    (addr, seen)
}

async fn record(
    req: Request<Incoming>,
    seen: Arc<Seen>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut text = format!("{} {}\n", req.method(), req.uri());
    for (name, value) in req.headers() {
        text.push_str(&format!(
            "{name}: {}\n",
            String::from_utf8_lossy(value.as_bytes())
        ));
    }
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    text.push_str(&String::from_utf8_lossy(&body));
    seen.text.lock().unwrap().push_str(&text);
    seen.requests.fetch_add(1, Ordering::SeqCst);
    Ok(Response::new(Full::new(Bytes::from_static(b"seen"))))
}

use proxy_common::tcp_echo;

/// An upstream's CA (PEM) and server settings for a `localhost` leaf.
fn upstream_pki() -> (String, Arc<rustls::ServerConfig>) {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "dlp test CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(vec!["localhost".into()]).unwrap();
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf = leaf.signed_by(&leaf_key, &ca).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], key)
        .unwrap();
    (ca.pem(), Arc::new(server))
}

// ---------------------------------------------------------------------------------------------
// The proxy

struct Proxy {
    child: Child,
    addr: SocketAddr,
    dir: tempfile::TempDir,
    stderr: Arc<Mutex<Vec<String>>>,
}

/// Loopback upstreams allowed, in clear for plain HTTP, with `extra` in `[proxy]`.
fn config(extra: &str) -> String {
    format!(
        "[proxy]\nallow_private = [\"127.0.0.0/8\"]\nplain_http_allow = [\"localhost\", \
         \"127.0.0.1\"]\n{extra}\n"
    )
}

/// Starts `hush proxy` with `config`; `data` is its `XDG_DATA_HOME` (where a CA may be), and
/// `upstream_ca` a PEM file to trust upstream.
fn start(config: &str, data: &Path, upstream_ca: Option<&Path>) -> Proxy {
    tokio::task::block_in_place(|| {
        let dir = tempfile::tempdir().unwrap();
        let file = write_file(dir.path(), "hush.toml", config);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hush"));
        proxy_common::proxy_args(&mut cmd, &file, &dir.path().join("audit.log"), data);
        if let Some(ca) = upstream_ca {
            cmd.arg("--ca-file").arg(ca);
        }
        let (child, addr, stderr) = proxy_common::spawn_announced(cmd, WAIT);
        Proxy {
            child,
            addr,
            dir,
            stderr,
        }
    })
}

impl Proxy {
    fn audit_text(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("audit.log")).unwrap_or_default()
    }

    fn audit(&self) -> Vec<serde_json::Value> {
        proxy_common::audit_records(&self.dir.path().join("audit.log"))
    }

    /// Waits (bounded) for a record that `want` accepts.
    async fn find(&self, want: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        proxy_common::audit_find(&self.dir.path().join("audit.log"), want, WAIT).await
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

// ---------------------------------------------------------------------------------------------
// Clients

/// What curl got: status, the `x-hush-error` header, and the body.
struct Got {
    status: String,
    error: String,
    body: String,
}

/// Runs curl through the proxy (trusting `cacert` when given) with `args`.
async fn curl(proxy: &Proxy, cacert: Option<&Path>, args: &[&str]) -> Got {
    let dir = proxy.dir.path().to_path_buf();
    let heads = dir.join(format!("heads-{}.txt", fastrand_id()));
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", "10", "-w", "\n%{http_code}", "-D"])
        .arg(&heads)
        .arg("--proxy")
        .arg(format!("http://{}", proxy.addr))
        .args(args);
    if let Some(ca) = cacert {
        cmd.arg("--cacert").arg(ca);
    }
    for var in [
        "http_proxy",
        "https_proxy",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "no_proxy",
        "NO_PROXY",
    ] {
        cmd.env_remove(var);
    }
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = stdout.rsplit_once('\n').unwrap_or(("", &stdout));
    let head = std::fs::read_to_string(&heads).unwrap_or_default();
    let error = head
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("x-hush-error: "))
        .unwrap_or("")
        .trim()
        .to_string();
    Got {
        status: status.to_string(),
        error,
        body: body.to_string(),
    }
}

fn fastrand_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(Instant::now().elapsed().as_nanos() as u64);
    h.finish()
}

/// POSTs `parts` as a chunked body over a raw socket, pausing between them so each arrives
/// as a frame of its own; returns the response head and body.
async fn post_in_pieces(proxy: &Proxy, url: &str, parts: &[&str]) -> String {
    let mut tcp = TcpStream::connect(proxy.addr).await.unwrap();
    let host = url.split('/').nth(2).unwrap();
    let head = format!(
        "POST {url} HTTP/1.1\r\nHost: {host}\r\ncontent-type: application/json\r\n\
         transfer-encoding: chunked\r\nconnection: close\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    for part in parts {
        let chunk = format!("{:x}\r\n{part}\r\n", part.len());
        tcp.write_all(chunk.as_bytes()).await.unwrap();
        tcp.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tcp.write_all(b"0\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(WAIT, tcp.read_to_end(&mut answer))
        .await
        .expect("answered in time")
        .unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

/// Asserts the refusal a blocked credential gets, and its audit record; returns the record.
async fn assert_blocked(p: &Proxy, got: &Got, token: &str, rule: &str) -> serde_json::Value {
    assert_eq!(got.status, "403", "{}", hide(&got.body, token));
    assert!(
        got.error.starts_with("dlp: "),
        "{}",
        hide(&got.error, token)
    );
    assert!(
        got.body.starts_with("hush proxy: dlp: "),
        "{}",
        hide(&got.body, token)
    );
    assert_eq!(got.body.trim_end().lines().count(), 1, "one line");
    assert_no_secret(p, &format!("{}{}", got.error, got.body), token);
    let r = p
        .find(|r| r["decision"] == "dlp-blocked" && r["rule"] == rule)
        .await;
    assert_eq!(r["status"], 403);
    assert_eq!(r["fingerprint"].as_str().unwrap().len(), 32, "{r}");
    r
}

/// Neither `text` nor the audit log holds the secret or its tail.
fn assert_no_secret(p: &Proxy, text: &str, secret: &str) {
    let tail = &secret[secret.len() - 12..];
    for (what, t) in [("answer", text.to_string()), ("audit log", p.audit_text())] {
        assert!(
            !t.contains(tail),
            "the secret is in the {what}: {}",
            hide(&t, secret)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Tests

/// A GitHub token on its way to a host that is not GitHub's: in a header, in the query, in a
/// JSON body split across frames. Each is refused and none reaches the upstream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_github_token_to_another_host_is_blocked_in_header_query_and_split_body() {
    let (up, seen) = upstream(None).await;
    let data = tempfile::tempdir().unwrap();
    let p = start(&config(""), data.path(), None);
    let token = github_token();
    let url = format!("http://127.0.0.1:{}/upload", up.port());

    let header = format!("Authorization: token {token}");
    let got = curl(&p, None, &["-H", &header, &url]).await;
    let r = assert_blocked(&p, &got, &token, "github-pat").await;
    assert_eq!(r["host"], "127.0.0.1");
    assert!(
        got.error.contains("may only go to github.com"),
        "{}",
        got.error
    );
    assert!(got.error.contains("dlp_allow_hosts"), "{}", got.error);

    let got = curl(&p, None, &[&format!("{url}?access_token={token}&x=1")]).await;
    assert_blocked(&p, &got, &token, "github-pat").await;

    let json = format!("{{\"note\": \"deploy\", \"token\": \"{token}\"}}");
    let (a, b) = json.split_at(json.find("ghp_").unwrap() + 10);
    let answer = post_in_pieces(&p, &url, &[a, b]).await;
    assert!(
        answer.starts_with("HTTP/1.1 403"),
        "{}",
        hide(&answer, &token)
    );
    assert!(
        answer.contains("x-hush-error: dlp: "),
        "{}",
        hide(&answer, &token)
    );
    assert_no_secret(&p, &answer, &token);
    let blocked = p
        .audit()
        .into_iter()
        .filter(|r| r["decision"] == "dlp-blocked")
        .count();
    assert_eq!(blocked, 3, "{:?}", p.audit());
    // One secret, one fingerprint, wherever it was found.
    let prints: std::collections::BTreeSet<String> = p
        .audit()
        .iter()
        .filter_map(|r| r["fingerprint"].as_str().map(str::to_string))
        .collect();
    assert_eq!(prints.len(), 1, "{prints:?}");
    assert_eq!(
        seen.requests.load(Ordering::SeqCst),
        0,
        "a request reached the upstream"
    );
}

/// The same token to a host its rule names, or one its allow list adds, goes through whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_passes_to_its_own_hosts_and_allowed_ones() {
    let (up, seen) = upstream(None).await;
    let data = tempfile::tempdir().unwrap();
    // `corp-token` is bound to localhost by its rule; github-pat gets localhost by the list.
    let rule = "[[rule]]\nid = \"corp-token\"\ndescription = \"test\"\nkeywords = [\"corp_\"]\n\
                regex = '''\\b(corp_[A-Za-z0-9]{24})\\b'''\nhosts = [\"localhost\"]\n";
    let cfg = format!(
        "{rule}{}",
        config("[proxy.dlp_allow_hosts]\ngithub-pat = [\"localhost\"]")
    );
    let p = start(&cfg, data.path(), None);
    let token = github_token();
    let corp = ["corp_", "Zx8Kq2Lm9Vn4Bt7Wr3Yp6Hd1"].concat();
    let local = format!("http://localhost:{}/api", up.port());
    for secret in [&token, &corp] {
        let header = format!("x-credential: {secret}");
        let body = format!("{{\"token\": \"{secret}\"}}");
        let got = curl(&p, None, &["-H", &header, "--data", &body, &local]).await;
        assert_eq!(got.status, "200", "{}", hide(&got.error, secret));
        assert_eq!(got.body, "seen");
    }
    assert_eq!(seen.requests.load(Ordering::SeqCst), 2);
    let text = seen.text.lock().unwrap().clone();
    assert!(
        text.contains(&token) && text.contains(&corp),
        "the upstream got them whole"
    );
    // Elsewhere, the custom rule's credential is blocked like any bound one.
    let other = format!("http://127.0.0.1:{}/api", up.port());
    let got = curl(&p, None, &["-H", &format!("x-credential: {corp}"), &other]).await;
    assert_blocked(&p, &got, &corp, "corp-token").await;
    assert_eq!(seen.requests.load(Ordering::SeqCst), 2);
}

/// Unbound secrets by default: a private key is blocked everywhere, a generic password only
/// logged (its record names the rule and fingerprint, never the value).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_keys_are_blocked_and_generic_passwords_logged_by_default() {
    let (up, seen) = upstream(None).await;
    let data = tempfile::tempdir().unwrap();
    let p = start(&config(""), data.path(), None);
    let url = format!("http://localhost:{}/keys", up.port());
    let key = private_key();
    let body = serde_json::json!({ "key": key }).to_string();
    let got = curl(&p, None, &["--data-binary", &body, &url]).await;
    assert_blocked(&p, &got, &key, "private-key-rsa").await;
    assert_eq!(seen.requests.load(Ordering::SeqCst), 0);

    let password = ["Zq8#vLm2", "!pWx7rTn"].concat();
    let body = format!("password = \"{password}\"\n");
    let got = curl(&p, None, &["--data-binary", &body, &url]).await;
    assert_eq!(got.status, "200", "{}", got.error);
    assert_eq!(seen.requests.load(Ordering::SeqCst), 1);
    let r = p
        .find(|r| r["decision"] == "forward" && r["rule"].is_string())
        .await;
    assert!(
        r["rule"].as_str().unwrap().starts_with("generic-password"),
        "{r}"
    );
    assert_eq!(r["fingerprint"].as_str().unwrap().len(), 32);
    assert_no_secret(&p, "", &password);
}

/// `dlp = "block"` blocks the generic password too; `dlp = "off"` lets the token through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mode_switches_block_and_off() {
    let (up, seen) = upstream(None).await;
    let data = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{}/x", up.port());
    let block = start(&config("dlp = \"block\""), data.path(), None);
    let password = ["Zq8#vLm2", "!pWx7rTn"].concat();
    let body = format!("password = \"{password}\"\n");
    let got = curl(&block, None, &["--data-binary", &body, &url]).await;
    assert_eq!(got.status, "403", "{}", got.body);
    assert_eq!(seen.requests.load(Ordering::SeqCst), 0);

    let off = start(&config("dlp = \"off\""), data.path(), None);
    let token = github_token();
    let got = curl(
        &off,
        None,
        &["-H", &format!("authorization: token {token}"), &url],
    )
    .await;
    assert_eq!(got.status, "200", "{}", hide(&got.error, &token));
    assert_eq!(seen.requests.load(Ordering::SeqCst), 1);
    let r = off.find(|r| r["decision"] == "forward").await;
    assert!(r.get("rule").is_none() && r.get("dlp").is_none(), "{r}");
}

/// Past `dlp_max_body` the rest of a body is not scanned: it goes through, and the record
/// says the request was only partly inspected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_body_limit_the_record_says_partly_inspected() {
    let (up, seen) = upstream(None).await;
    let data = tempfile::tempdir().unwrap();
    let p = start(&config("dlp_max_body = 1024"), data.path(), None);
    let token = github_token();
    let url = format!("http://127.0.0.1:{}/big", up.port());
    let early = format!("{{\"token\": \"{token}\"}}{}", " ".repeat(4000));
    let got = curl(&p, None, &["--data-binary", &early, &url]).await;
    assert_blocked(&p, &got, &token, "github-pat").await;
    // The first frame fills the limit; the token comes in a later one, unread when the
    // request goes out.
    let padding = " ".repeat(2000);
    let late = format!("{{\"token\": \"{token}\"}}");
    let answer = post_in_pieces(&p, &url, &[&padding, &late]).await;
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "{}",
        hide(&answer, &token)
    );
    assert_eq!(seen.requests.load(Ordering::SeqCst), 1);
    let r = p.find(|r| r["decision"] == "forward").await;
    assert_eq!(r["dlp"], "partly inspected", "{r}");
}

/// A tunnel hides its content: its record says the DLP did not inspect it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tunnel_record_says_not_inspected() {
    let echo = tcp_echo().await;
    let data = tempfile::tempdir().unwrap();
    let p = start(
        &config(&format!("connect_ports = [{}]", echo.port())),
        data.path(),
        None,
    );
    let mut tcp = TcpStream::connect(p.addr).await.unwrap();
    let target = format!("127.0.0.1:{}", echo.port());
    let req = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n");
    tcp.write_all(req.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(WAIT, tcp.read(&mut byte))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(n, 1, "the proxy closed before its answer ended");
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    tcp.write_all(b"ping").await.unwrap();
    let mut back = [0u8; 4];
    tokio::time::timeout(WAIT, tcp.read_exact(&mut back))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&back, b"ping");
    tcp.shutdown().await.unwrap();
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(WAIT, tcp.read_to_end(&mut rest)).await;
    let r = p.find(|r| r["decision"] == "tunnel").await;
    assert_eq!(r["dlp"], "not inspected", "{r}");
}

/// Inside an intercepted HTTPS tunnel (HTTP/1.1 and HTTP/2) the same scan applies: the token
/// to `localhost` is blocked before the upstream is dialled, and passes once allowed there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intercepted_https_is_inspected_too() {
    let (up_ca, up_tls) = upstream_pki();
    let (up, seen) = upstream(Some(up_tls)).await;
    let data = tempfile::tempdir().unwrap();
    let scope = format!(
        "[proxy]\nallow_private = [\"127.0.0.0/8\"]\nconnect_ports = [{}]\nintercept = \
         [\"localhost\"]\n",
        up.port()
    );
    let scope_file = write_file(data.path(), "scope.toml", &scope);
    let out = Command::new(env!("CARGO_BIN_EXE_hush"))
        .args(["ca", "init", "--config"])
        .arg(&scope_file)
        .env("XDG_DATA_HOME", data.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hush_ca = data.path().join("hush/ca.pem");
    let up_ca_file = write_file(data.path(), "up-ca.pem", &up_ca);
    let token = github_token();
    let url = format!("https://localhost:{}/repos", up.port());
    let header = format!("authorization: Bearer {token}");

    let p = start(&scope, data.path(), Some(&up_ca_file));
    for version in ["--http1.1", "--http2"] {
        let got = curl(&p, Some(&hush_ca), &[version, "-H", &header, &url]).await;
        assert_blocked(&p, &got, &token, "github-pat").await;
    }
    assert_eq!(
        seen.requests.load(Ordering::SeqCst),
        0,
        "{:?}",
        p.stderr.lock().unwrap()
    );
    drop(p);

    let allowed = format!("{scope}[proxy.dlp_allow_hosts]\ngithub-pat = [\"localhost\"]\n");
    let p = start(&allowed, data.path(), Some(&up_ca_file));
    let got = curl(&p, Some(&hush_ca), &["-H", &header, &url]).await;
    assert_eq!(got.status, "200", "{}", hide(&got.error, &token));
    assert_eq!(seen.requests.load(Ordering::SeqCst), 1);
    let r = p.find(|r| r["decision"] == "upgrade").await;
    assert!(r.get("rule").is_none(), "{r}");
}

/// `--list-telemetry` says what a tunnel hides.
#[test]
fn list_telemetry_says_tunnels_are_not_inspected() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(dir.path(), "hush.toml", "");
    let out = Command::new(env!("CARGO_BIN_EXE_hush"))
        .args(["proxy", "--list-telemetry", "--config"])
        .arg(&file)
        .env("XDG_DATA_HOME", dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("not inspected by telemetry path rules or the DLP"),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("vendor\thost\t"));
}
