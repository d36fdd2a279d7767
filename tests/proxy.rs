//! `hush proxy` end to end: the real binary between real clients (hyper, curl, raw sockets) and
//! real upstreams on 127.0.0.1 (TLS with certificates made here by rcgen, plain TCP echo).
//! Everything is local and offline; servers are waited for by polling, never by sleeping.

mod proxy_common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
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
// Certificates

/// A test CA and a server configuration whose leaf (localhost, 127.0.0.1) it signed.
struct Pki {
    ca_pem: String,
    server: Arc<rustls::ServerConfig>,
}

fn pki() -> Pki {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "hush test CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
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
    Pki {
        ca_pem: ca.pem(),
        server: Arc::new(server),
    }
}

// ---------------------------------------------------------------------------------------------
// Upstreams

/// What an upstream saw: connections accepted and closed, and requests (heads) that reached it.
#[derive(Default)]
struct Seen {
    conns: AtomicUsize,
    closed: AtomicUsize,
    requests: AtomicUsize,
    heads: Mutex<Vec<String>>,
}

/// An HTTP/1 upstream on 127.0.0.1, over TLS when `tls` is given. Paths: `/slow` answers after
/// 700 ms, `/stream` sends an endless body, `/close` answers and closes the connection, anything
/// else echoes the request head and body.
async fn http_upstream(tls: Option<Arc<rustls::ServerConfig>>) -> (SocketAddr, Arc<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let seen2 = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            seen2.conns.fetch_add(1, Ordering::SeqCst);
            let (tls, seen) = (tls.clone(), seen2.clone());
            tokio::spawn(async move {
                match tls {
                    Some(cfg) => {
                        if let Ok(stream) = TlsAcceptor::from(cfg).accept(tcp).await {
                            serve_http(stream, seen.clone()).await;
                        }
                    }
                    None => serve_http(tcp, seen.clone()).await,
                }
                seen.closed.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    (addr, seen)
}

async fn serve_http<IO>(io: IO, seen: Arc<Seen>)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |req| echo(req, seen.clone()));
    let _ = hyper::server::conn::http1::Builder::new()
        .max_headers(1000)
        .serve_connection(TokioIo::new(io), service)
        .await;
}

type TestBody = BoxBody<Bytes, Infallible>;

async fn echo(req: Request<Incoming>, seen: Arc<Seen>) -> Result<Response<TestBody>, Infallible> {
    seen.requests.fetch_add(1, Ordering::SeqCst);
    let mut head = format!("{} {}\n", req.method(), req.uri());
    for (name, value) in req.headers() {
        head.push_str(&format!("{name}: {}\n", value.to_str().unwrap_or("?")));
    }
    seen.heads.lock().unwrap().push(head.clone());
    let path = req.uri().path().to_string();
    let body = req.into_body().collect().await.map(|b| b.to_bytes());
    let body = body.unwrap_or_default();
    let resp = match path.as_str() {
        "/slow" => {
            tokio::time::sleep(Duration::from_millis(700)).await;
            full("slow done")
        }
        "/stream" => Response::new(BoxBody::new(Endless)),
        "/stall" => {
            let mut resp = Response::new(BoxBody::new(Stalls(false)));
            resp.headers_mut()
                .insert("content-length", "1000".parse().unwrap());
            resp
        }
        "/close" => {
            let mut resp = full("closing");
            resp.headers_mut()
                .insert("connection", "close".parse().unwrap());
            resp
        }
        _ => full(&format!("{head}\n{}", String::from_utf8_lossy(&body))),
    };
    Ok(resp)
}

fn full(s: &str) -> Response<TestBody> {
    Response::new(BoxBody::new(Full::new(Bytes::from(s.to_string()))))
}

/// A response body that never ends.
struct Endless;

impl Body for Endless {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        static CHUNK: [u8; 16 * 1024] = [b'x'; 16 * 1024];
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(&CHUNK)))))
    }
}

/// A response body that sends 10 bytes, then nothing ever again.
struct Stalls(bool);

impl Body for Stalls {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if std::mem::replace(&mut self.0, true) {
            return Poll::Pending;
        }
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"0123456789")))))
    }
}

/// A TCP echo server that closes its side when the client closes its own.
async fn echo_upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = tcp.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
                let _ = w.shutdown().await;
            });
        }
    });
    addr
}

/// A raw HTTP/1.1 upstream that answers every request on a connection with `response`
/// (written as is, framing and all), over TLS when `tls` is given.
async fn raw_upstream(
    tls: Option<Arc<rustls::ServerConfig>>,
    response: &'static str,
) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let tls = tls.clone();
            tokio::spawn(async move {
                match tls {
                    Some(cfg) => {
                        if let Ok(stream) = TlsAcceptor::from(cfg).accept(tcp).await {
                            answer_each_head(stream, response).await;
                        }
                    }
                    None => answer_each_head(tcp, response).await,
                }
            });
        }
    });
    addr
}

/// Reads request heads (requests without bodies) and writes `response` after each.
async fn answer_each_head<IO>(mut io: IO, response: &str)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            buf.drain(..end + 4);
            if io.write_all(response.as_bytes()).await.is_err() {
                return;
            }
        }
        match io.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// A TCP upstream that reads everything it is sent and never writes or closes. The flag is set
/// once it has read the end of the stream (the proxy half-closed its side).
async fn silent_upstream() -> (SocketAddr, Arc<std::sync::atomic::AtomicBool>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let saw_eof = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = saw_eof.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut tcp, _)) = listener.accept().await {
            let flag = flag.clone();
            let (done_tx, done_rx) = tokio::sync::oneshot::channel::<TcpStream>();
            tokio::spawn(async move {
                let mut sink = [0u8; 4096];
                while tcp.read(&mut sink).await.unwrap_or(0) > 0 {}
                flag.store(true, Ordering::SeqCst);
                let _ = done_tx.send(tcp);
            });
            // Keep every socket open for as long as the test runs.
            if let Ok(tcp) = done_rx.await {
                held.push(tcp);
            }
        }
    });
    (addr, saw_eof)
}

/// An address where nothing listens (bound, then released).
async fn dead_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// The proxy under test

struct Proxy {
    child: Child,
    addr: SocketAddr,
    dir: tempfile::TempDir,
    stderr: Arc<Mutex<Vec<String>>>,
    /// Under `strace`, the proxy's own process id (`child` is strace).
    traced: Option<u32>,
}

/// Builds a proxy's command line: a config file, an audit log in a temporary directory, and a
/// clean environment for the variables the proxy reads.
struct Builder {
    config: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    ca_pem: Option<String>,
    trace: bool,
}

fn proxy(config: &str) -> Builder {
    Builder {
        config: config.to_string(),
        args: Vec::new(),
        env: Vec::new(),
        ca_pem: None,
        trace: false,
    }
}

impl Builder {
    fn ca(mut self, pki: &Pki) -> Self {
        self.ca_pem = Some(pki.ca_pem.clone());
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

    /// Runs the proxy under `strace`, which records every `connect()` it makes and fails each
    /// one (`ENETUNREACH`) without carrying it out: whatever the proxy decides, nothing is
    /// dialled. `None` where strace is missing or cannot trace.
    fn traced(mut self) -> Option<Proxy> {
        let works = Command::new("strace")
            .args(["-qq", "-e", "trace=none", "true"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !works {
            return None;
        }
        self.trace = true;
        Some(self.start())
    }

    fn start(self) -> Proxy {
        tokio::task::block_in_place(|| self.start_blocking())
    }

    fn start_blocking(self) -> Proxy {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("hush.toml");
        std::fs::write(&config, &self.config).unwrap();
        let mut cmd = if self.trace {
            let mut strace = Command::new("strace");
            strace.args(["-f", "-qq", "-e", "trace=connect"]);
            strace.args(["-e", "inject=connect:error=ENETUNREACH", "-o"]);
            strace.arg(dir.path().join("trace.txt"));
            strace.arg(env!("CARGO_BIN_EXE_hush"));
            strace
        } else {
            Command::new(env!("CARGO_BIN_EXE_hush"))
        };
        // No CA of the developer's may turn interception on here.
        let (log, data) = (dir.path().join("audit.log"), dir.path().join("data"));
        proxy_common::proxy_args(&mut cmd, &config, &log, &data);
        if let Some(pem) = &self.ca_pem {
            let ca = dir.path().join("ca.pem");
            std::fs::write(&ca, pem).unwrap();
            cmd.arg("--ca-file").arg(ca);
        }
        cmd.args(&self.args);
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        let (child, addr, stderr) = proxy_common::spawn_announced(cmd, WAIT);
        wait_for_port(addr);
        // strace's only child is the proxy.
        let traced = self.trace.then(|| {
            let children = format!("/proc/{0}/task/{0}/children", child.id());
            let text = std::fs::read_to_string(children).unwrap();
            text.split_whitespace().next().unwrap().parse().unwrap()
        });
        Proxy {
            child,
            addr,
            dir,
            stderr,
            traced,
        }
    }
}

/// Polls until `addr` accepts a connection, with a bounded number of tries.
fn wait_for_port(addr: SocketAddr) {
    for _ in 0..200 {
        if std::net::TcpStream::connect(addr).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("{addr} never accepted");
}

impl Proxy {
    /// The `connect()` calls strace saw (see [`Builder::traced`]), once the proxy has exited.
    fn connects(&self) -> Vec<String> {
        let trace = std::fs::read_to_string(self.dir.path().join("trace.txt")).unwrap();
        trace
            .lines()
            .filter(|l| l.contains("connect("))
            .map(str::to_string)
            .collect()
    }

    fn audit(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("audit.log")).unwrap_or_default()
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

    /// Open descriptors other than pipes, and pipe ends. The proxy keeps a bounded pool of
    /// empty pipes for zero-copy tunnels: those are reuse, not leaks, and are counted apart.
    fn fd_count(&self) -> (usize, usize) {
        let (mut other, mut pipes) = (0, 0);
        for entry in std::fs::read_dir(format!("/proc/{}/fd", self.child.id())).unwrap() {
            let Ok(target) = std::fs::read_link(entry.unwrap().path()) else {
                continue;
            };
            if target.to_string_lossy().starts_with("pipe:") {
                pipes += 1;
            } else {
                other += 1;
            }
        }
        (other, pipes)
    }

    fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.traced.unwrap_or(self.child.id()).to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit and returns its exit code.
    fn wait_exit(&mut self) -> Option<i32> {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(Instant::now() < deadline, "proxy did not exit");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // Killing strace alone would leave the proxy it traces running, detached.
        if let Some(pid) = self.traced {
            let _ = Command::new("kill")
                .arg("-KILL")
                .arg(pid.to_string())
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// Clients

struct Reply {
    status: StatusCode,
    headers: hyper::HeaderMap,
    body: String,
}

/// Sends one request to the proxy with a hyper client (absolute-form target, as proxies get).
async fn send(proxy: SocketAddr, req: Request<Full<Bytes>>) -> Reply {
    let tcp = TcpStream::connect(proxy).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(conn);
    let resp = tokio::time::timeout(WAIT, sender.send_request(req))
        .await
        .expect("proxy answered in time")
        .unwrap();
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

fn get(url: &str) -> Request<Full<Bytes>> {
    let uri: hyper::Uri = url.parse().unwrap();
    Request::get(url)
        .header("host", uri.authority().unwrap().as_str())
        .body(Full::default())
        .unwrap()
}

async fn get_via(proxy: &Proxy, url: &str) -> Reply {
    send(proxy.addr, get(url)).await
}

/// Writes raw bytes to the proxy and reads the response head (up to the blank line).
async fn raw_head(tcp: &mut TcpStream, request: &[u8]) -> String {
    tcp.write_all(request).await.unwrap();
    read_head(tcp).await
}

async fn read_head(tcp: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    tokio::time::timeout(WAIT, async {
        while !head.ends_with(b"\r\n\r\n") {
            if tcp.read(&mut byte).await.unwrap_or(0) == 0 {
                break;
            }
            head.push(byte[0]);
        }
    })
    .await
    .expect("response head in time");
    String::from_utf8_lossy(&head).into_owned()
}

async fn connect_tunnel(proxy: &Proxy, target: &str) -> (TcpStream, String) {
    let mut tcp = TcpStream::connect(proxy.addr).await.unwrap();
    let req = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n");
    let head = raw_head(&mut tcp, req.as_bytes()).await;
    (tcp, head)
}

/// Runs curl (blocking, off the async workers) and returns (status code, body).
async fn curl(args: Vec<String>) -> (String, String) {
    let out = tokio::task::spawn_blocking(move || {
        Command::new("curl")
            .args(["-sS", "--max-time", "10", "-w", "\n%{http_code}"])
            .args(&args)
            .env_remove("http_proxy")
            .env_remove("https_proxy")
            .env_remove("HTTPS_PROXY")
            .env_remove("ALL_PROXY")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    (code.to_string(), body.to_string())
}

fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

const LOCAL: &str = "[proxy]\nallow_private = [\"127.0.0.0/8\"]\n";

fn local_with(extra: &str) -> String {
    format!("{LOCAL}{extra}\n")
}

// ---------------------------------------------------------------------------------------------
// Tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrades_plain_http_to_verified_tls() {
    let pki = pki();
    let (up, seen) = http_upstream(Some(pki.server.clone())).await;
    let p = proxy(LOCAL).ca(&pki).start();
    let req = Request::post(format!("http://127.0.0.1:{}/echo?q=1", up.port()))
        .header("host", "ignored.example")
        .header("proxy-authorization", "Basic c2VjcmV0")
        .header("connection", "keep-alive, x-hop")
        .header("x-hop", "1")
        .header("x-custom", "kept")
        .body(Full::new(Bytes::from_static(b"payload")))
        .unwrap();
    let reply = send(p.addr, req).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let head = seen.heads.lock().unwrap()[0].clone();
    assert!(head.starts_with("POST /echo?q=1\n"), "{head}");
    assert!(
        head.contains(&format!("host: 127.0.0.1:{}\n", up.port())),
        "{head}"
    );
    assert!(head.contains("x-custom: kept\n"), "{head}");
    for hop in ["proxy-authorization", "connection", "x-hop"] {
        assert!(
            !head.contains(&format!("{hop}:")),
            "{hop} forwarded: {head}"
        );
    }
    assert!(reply.body.ends_with("\npayload"), "{}", reply.body);
    let records = p.audit_wait(1).await;
    let r = &records[0];
    assert_eq!(r["decision"], "upgrade");
    assert_eq!(r["status"], 200);
    assert_eq!(r["path"], "/echo");
    assert_eq!(r["bytes_up"], 7);
    assert_eq!(r["bytes_down"], reply.body.len());
    assert!(
        r.get("reason").is_none(),
        "a whole response has no reason: {r}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_connections_are_reused_only_when_whole() {
    let pki = pki();
    let (up, seen) = http_upstream(Some(pki.server.clone())).await;
    let p = proxy(LOCAL).ca(&pki).start();
    let url = |path: &str| format!("http://127.0.0.1:{}{path}", up.port());
    // Separate client connections, one origin: one TLS connection serves them all.
    for i in 0..3 {
        let reply = get_via(&p, &url(&format!("/r{i}"))).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert!(
            reply.body.starts_with(&format!("GET /r{i}\n")),
            "{}",
            reply.body
        );
    }
    assert_eq!(seen.conns.load(Ordering::SeqCst), 1);
    // The origin closes after this answer: the next request still gets through, on a new
    // connection.
    assert_eq!(get_via(&p, &url("/close")).await.status, StatusCode::OK);
    assert_eq!(get_via(&p, &url("/after")).await.status, StatusCode::OK);
    assert_eq!(seen.conns.load(Ordering::SeqCst), 2);
    // A response abandoned mid-body leaves its connection unusable: never pooled.
    let mut tcp = TcpStream::connect(p.addr).await.unwrap();
    let req = format!("GET {} HTTP/1.1\r\nHost: x\r\n\r\n", url("/stream"));
    let head = raw_head(&mut tcp, req.as_bytes()).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let mut some = [0u8; 4096];
    tcp.read_exact(&mut some).await.unwrap();
    drop(tcp);
    let reply = get_via(&p, &url("/last")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(seen.conns.load(Ordering::SeqCst), 3);
    assert_eq!(seen.requests.load(Ordering::SeqCst), 7);
    let records = p.audit_wait(7).await;
    assert!(
        records.iter().all(|r| r["decision"] == "upgrade"),
        "{records:?}"
    );
    // Keep-alive 0: every request dials its own connection.
    let p = proxy(LOCAL).ca(&pki).arg("--upstream-keepalive=0s").start();
    for _ in 0..2 {
        assert_eq!(get_via(&p, &url("/again")).await.status, StatusCode::OK);
    }
    assert_eq!(seen.conns.load(Ordering::SeqCst), 5);
}

/// A plain-HTTP origin that answers the first request on each connection (keeping it open) and
/// closes the connection, unanswered, when a second request arrives on it: an origin dropping
/// an idle keep-alive connection just as a request is sent. Returns its address and the number
/// of connections it accepted.
async fn one_request_per_connection_upstream() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let conns = Arc::new(AtomicUsize::new(0));
    let counted = conns.clone();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                read_head(&mut tcp).await;
                let answer = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                tcp.write_all(answer.as_bytes()).await.unwrap();
                read_head(&mut tcp).await;
                // Dropped here: closed with the second request unanswered.
            });
        }
    });
    (addr, conns)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_pooled_connection_retries_only_safe_requests() {
    let (up, conns) = one_request_per_connection_upstream().await;
    let p = proxy(&local_with("plain_http_allow = [\"127.0.0.1\"]")).start();
    let url = format!("http://127.0.0.1:{}/", up.port());
    assert_eq!(get_via(&p, &url).await.status, StatusCode::OK);
    // A GET on the pooled connection is cut off, and goes again on a fresh one.
    let reply = get_via(&p, &url).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(conns.load(Ordering::SeqCst), 2);
    // A POST is never sent twice: the client hears of the failure.
    let post = Request::post(&url)
        .header("host", format!("127.0.0.1:{}", up.port()))
        .body(Full::new(Bytes::from_static(b"once")))
        .unwrap();
    let reply = send(p.addr, post).await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY, "{}", reply.body);
    assert_eq!(conns.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_upstream_connections_close_after_the_keepalive() {
    let pki = pki();
    let (up, seen) = http_upstream(Some(pki.server.clone())).await;
    let p = proxy(LOCAL)
        .ca(&pki)
        .arg("--upstream-keepalive=300ms")
        .start();
    let url = format!("http://127.0.0.1:{}/", up.port());
    assert_eq!(get_via(&p, &url).await.status, StatusCode::OK);
    // The pooled connection is held for a while, then closed with no further request.
    let start = Instant::now();
    while seen.closed.load(Ordering::SeqCst) == 0 {
        assert!(
            start.elapsed() < WAIT,
            "idle upstream connection never closed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        start.elapsed() >= Duration::from_millis(200),
        "closed after {:?}: never kept",
        start.elapsed()
    );
    assert_eq!(get_via(&p, &url).await.status, StatusCode::OK);
    assert_eq!(seen.conns.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_and_chunked_bodies_pass_through() {
    let pki = pki();
    let (up, seen) = http_upstream(Some(pki.server.clone())).await;
    let p = proxy(LOCAL).ca(&pki).start();
    // Two requests on one client connection, the second with a chunked upload.
    let tcp = TcpStream::connect(p.addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(conn);
    let url = format!("http://127.0.0.1:{}/first", up.port());
    let resp = sender.send_request(get(&url)).await.unwrap();
    assert_eq!(resp.status(), 200);
    resp.into_body().collect().await.unwrap();
    let mut raw = TcpStream::connect(p.addr).await.unwrap();
    let req = format!(
        "POST http://127.0.0.1:{}/second HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
         5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
        up.port()
    );
    let head = raw_head(&mut raw, req.as_bytes()).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let mut body = vec![0u8; 4096];
    let mut got = Vec::new();
    while !String::from_utf8_lossy(&got).contains("hello world") {
        let n = tokio::time::timeout(WAIT, raw.read(&mut body))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "body ended early: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&body[..n]);
    }
    let resp = sender.send_request(get(&url)).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(seen.requests.load(Ordering::SeqCst), 3);
    let records = p.audit_wait(3).await;
    assert!(records
        .iter()
        .any(|r| r["method"] == "POST" && r["bytes_up"] == 11));
}

/// An origin response with both `Content-Length` and `Transfer-Encoding: chunked` (11 bytes
/// chunked, 5 declared): the chunked framing wins (RFC 9112 §6.3), the client gets the whole
/// body, and the next response on the connection is intact.
const BOTH_LENGTHS: &str = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\
    Transfer-Encoding: chunked\r\n\r\nb\r\nhello world\r\n0\r\n\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_length_gives_way_to_chunked_framing() {
    let pki = pki();
    let clear = raw_upstream(None, BOTH_LENGTHS).await;
    let tls = raw_upstream(Some(pki.server.clone()), BOTH_LENGTHS).await;
    let p = proxy(&local_with("plain_http_allow = [\"localhost\"]"))
        .ca(&pki)
        .start();
    let urls = [
        format!("http://localhost:{}/a", clear.port()),
        format!("http://127.0.0.1:{}/b", tls.port()),
    ];
    for url in urls {
        // Three requests in a row on one client connection: each must come back whole.
        let tcp = TcpStream::connect(p.addr).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .unwrap();
        tokio::spawn(conn);
        for i in 0..3 {
            sender.ready().await.unwrap();
            let resp = tokio::time::timeout(WAIT, sender.send_request(get(&url)))
                .await
                .expect("answered in time")
                .unwrap_or_else(|e| panic!("{url} request {i}: {e}"));
            let declared = resp.headers().get("content-length").cloned();
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(&body[..], b"hello world", "{url} request {i}");
            assert!(
                declared.is_none() || declared.as_ref().unwrap() == "11",
                "{url}: content-length {declared:?}"
            );
        }
    }
    // The same, written raw and pipelined: two whole responses, nothing else.
    let mut tcp = TcpStream::connect(p.addr).await.unwrap();
    let req = format!(
        "GET http://localhost:{0}/1 HTTP/1.1\r\nHost: localhost\r\n\r\n\
         GET http://localhost:{0}/2 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        clear.port()
    );
    tcp.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(WAIT, tcp.read_to_end(&mut raw))
        .await
        .expect("both responses in time")
        .unwrap();
    let raw = String::from_utf8_lossy(&raw).to_lowercase();
    assert_eq!(raw.matches("http/1.1 200").count(), 2, "{raw}");
    assert_eq!(raw.matches("hello world").count(), 2, "{raw}");
    assert!(!raw.contains("content-length: 5"), "{raw}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_through_the_proxy_both_ways() {
    let pki = pki();
    let (up, _) = http_upstream(Some(pki.server.clone())).await;
    let config = local_with(&format!("connect_ports = [{}]", up.port()));
    let p = proxy(&config).ca(&pki).start();
    let proxy_url = format!("http://{}", p.addr);
    // Plain HTTP in, verified HTTPS out.
    let (code, body) = curl(vec![
        "-x".into(),
        proxy_url.clone(),
        format!("http://localhost:{}/plain", up.port()),
    ])
    .await;
    assert_eq!(code, "200", "{body}");
    assert!(body.starts_with("GET /plain\n"), "{body}");
    // HTTPS through a CONNECT tunnel, verified by curl end to end.
    let ca = write_file(p.dir.path(), "curl-ca.pem", &pki.ca_pem);
    let (code, body) = curl(vec![
        "-x".into(),
        proxy_url,
        "--cacert".into(),
        ca.display().to_string(),
        format!("https://localhost:{}/tunnelled", up.port()),
    ])
    .await;
    assert_eq!(code, "200", "{body}");
    assert!(body.starts_with("GET /tunnelled\n"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_failure_is_502_and_nothing_reaches_upstream() {
    let (trusted, untrusted) = (pki(), pki());
    let (up, seen) = http_upstream(Some(untrusted.server.clone())).await;
    let p = proxy(LOCAL).ca(&trusted).start();
    let reply = get_via(
        &p,
        &format!("http://127.0.0.1:{}/secret-path?k=v", up.port()),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY);
    let why = reply.headers["x-hush-error"].to_str().unwrap();
    assert!(why.contains("certificate"), "{why}");
    assert_eq!(seen.requests.load(Ordering::SeqCst), 0);
    let r = &p.audit_wait(1).await[0];
    assert_eq!(r["decision"], "error");
    assert_eq!(r["status"], 502);
    assert!(r["reason"].as_str().unwrap().contains("certificate"), "{r}");

    // A name the certificate does not cover fails the same way, even with the right CA.
    let p = proxy(LOCAL).ca(&untrusted).start();
    let reply = get_via(&p, &format!("http://127.0.0.2:{}/", up.port())).await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY, "{}", reply.body);
    assert_eq!(seen.requests.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_tunnel_is_byte_exact_and_half_closes() {
    let up = echo_upstream().await;
    let p = proxy(&local_with(&format!("connect_ports = [{}]", up.port()))).start();
    let (mut tcp, head) = connect_tunnel(&p, &up.to_string()).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let data: Vec<u8> = (0..(1 << 20)).map(|i| (i * 7 % 256) as u8).collect();
    let (mut r, mut w) = tcp.split();
    let sent = data.clone();
    let (_, back) = tokio::join!(
        async move {
            w.write_all(&sent).await.unwrap();
            w.shutdown().await.unwrap();
        },
        async move {
            let mut back = Vec::new();
            r.read_to_end(&mut back).await.unwrap();
            back
        }
    );
    assert!(back == data, "tunnel altered the bytes");
    let r = &p.audit_wait(1).await[0];
    assert_eq!(r["decision"], "tunnel");
    assert_eq!(r["bytes_up"], 1 << 20);
    assert_eq!(r["bytes_down"], 1 << 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_tunnels_are_closed() {
    let up = echo_upstream().await;
    let config = local_with(&format!("connect_ports = [{}]", up.port()));
    let p = proxy(&config).arg("--idle-timeout=300ms").start();
    let (mut tcp, head) = connect_tunnel(&p, &up.to_string()).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let start = Instant::now();
    let mut buf = [0u8; 1];
    let read = tokio::time::timeout(WAIT, tcp.read(&mut buf)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "{read:?}");
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert_eq!(p.audit_wait(1).await[0]["reason"], "idle timeout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_tunnel_outlives_the_idle_timeout_then_closes_on_time() {
    let up = echo_upstream().await;
    let config = local_with(&format!("connect_ports = [{}]", up.port()));
    let idle = Duration::from_millis(600);
    let p = proxy(&config).arg("--idle-timeout=600ms").start();
    let (mut tcp, head) = connect_tunnel(&p, &up.to_string()).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    // Traffic every 200 ms for three idle periods keeps the tunnel open throughout.
    let mut buf = [0u8; 1];
    for _ in 0..9 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        tcp.write_all(b"x").await.unwrap();
        tokio::time::timeout(WAIT, tcp.read_exact(&mut buf))
            .await
            .expect("echo")
            .expect("tunnel closed while busy");
    }
    // Then silence: the tunnel closes one idle period after the last byte, not two.
    let last = Instant::now();
    let read = tokio::time::timeout(WAIT, tcp.read(&mut buf)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "{read:?}");
    let took = last.elapsed();
    assert!(
        took >= idle - Duration::from_millis(50) && took < idle * 3 / 2,
        "closed {took:?} after the last byte"
    );
    assert_eq!(p.audit_wait(1).await[0]["reason"], "idle timeout");
}

/// Asks for `/healthz` on a new connection until it is served rather than refused (`503`) for
/// want of a connection slot; returns how long that took.
async fn until_a_slot_is_free(p: &Proxy) -> Duration {
    let start = Instant::now();
    loop {
        let mut tcp = TcpStream::connect(p.addr).await.unwrap();
        let head = raw_head(&mut tcp, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
        if head.starts_with("HTTP/1.1 200") {
            return start.elapsed();
        }
        assert!(head.starts_with("HTTP/1.1 503"), "{head}");
        assert!(start.elapsed() < WAIT, "no slot came free in {WAIT:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tunnel_whose_client_left_frees_its_slot_after_a_grace_period() {
    let (up, saw_eof) = silent_upstream().await;
    let config = local_with(&format!("connect_ports = [{}]", up.port()));
    let p = proxy(&config)
        .arg("--max-connections=1")
        .arg("--idle-timeout=60s")
        .arg("--half-close-timeout=300ms")
        .start();
    // The harness's own probe of the port may still hold the one slot for a moment.
    let deadline = Instant::now() + WAIT;
    let mut tcp = loop {
        let (tcp, head) = connect_tunnel(&p, &up.to_string()).await;
        if head.starts_with("HTTP/1.1 200") {
            break tcp;
        }
        assert!(head.starts_with("HTTP/1.1 503"), "{head}");
        assert!(Instant::now() < deadline, "{head}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    tcp.write_all(b"request").await.unwrap();
    drop(tcp);
    // The upstream is told at once (half-close)...
    let start = Instant::now();
    while !saw_eof.load(Ordering::SeqCst) {
        assert!(
            start.elapsed() < WAIT,
            "the upstream never saw the client's end"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // ...and the slot comes back after the grace period, not the 60 s idle timeout.
    let took = until_a_slot_is_free(&p).await;
    assert!(took >= Duration::from_millis(200), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    let records = p.audit_wait(1).await;
    let tunnel = records.iter().find(|r| r["decision"] == "tunnel").unwrap();
    assert_eq!(tunnel["bytes_up"], 7);
    assert_eq!(
        tunnel["reason"],
        "the client closed its side; the upstream sent nothing more and did not close within 300ms"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_to_other_ports_is_403() {
    let up = echo_upstream().await;
    let p = proxy(LOCAL).start();
    let (mut tcp, head) = connect_tunnel(&p, &up.to_string()).await;
    assert!(head.starts_with("HTTP/1.1 403"), "{head}");
    assert!(head.contains("connect_ports"), "{head}");
    // The refusal closes the connection: bytes a client sent on for the tunnel are not read
    // as another request.
    assert!(
        head.to_ascii_lowercase().contains("connection: close"),
        "{head}"
    );
    let mut rest = Vec::new();
    let read = tokio::time::timeout(WAIT, tcp.read_to_end(&mut rest)).await;
    assert!(matches!(read, Ok(Ok(_))), "the proxy closed the connection");
    let (_, head) = connect_tunnel(&p, "127.0.0.1").await;
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
}

const TELEMETRY: &str = "[[proxy.telemetry]]\nvendor = \"acme\"\nhost = \"localhost\"\n\
    path_prefix = \"/track\"\n\n[[proxy.telemetry]]\nvendor = \"beacon\"\nhost = \"*.beacon.test\"\n";

/// Status of a telemetry request and a normal one through a proxy with `env` and `extra` config.
async fn telemetry_case(extra: &str, env: &[(&str, &str)]) -> (StatusCode, StatusCode, usize) {
    let pki = pki();
    let (up, seen) = http_upstream(Some(pki.server.clone())).await;
    let mut b = proxy(&format!("{LOCAL}{extra}\n{TELEMETRY}")).ca(&pki);
    for (k, v) in env {
        b = b.env(k, v);
    }
    let p = b.start();
    let track = get_via(
        &p,
        &format!("http://localhost:{}/track/event?id=1", up.port()),
    )
    .await;
    let normal = get_via(&p, &format!("http://localhost:{}/api/users", up.port())).await;
    (
        track.status,
        normal.status,
        seen.requests.load(Ordering::SeqCst),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telemetry_is_answered_locally() {
    let (track, normal, reached) = telemetry_case("", &[]).await;
    assert_eq!(track, StatusCode::NO_CONTENT);
    assert_eq!(normal, StatusCode::OK);
    assert_eq!(
        reached, 1,
        "only the non-telemetry request reaches upstream"
    );

    // Whole-host rules also refuse tunnels; path rules cannot see into one.
    let p = proxy(&format!("{LOCAL}{TELEMETRY}")).start();
    let (_, head) = connect_tunnel(&p, "a.b.beacon.test:443").await;
    assert!(head.starts_with("HTTP/1.1 403"), "{head}");
    let reply = get_via(&p, "http://x.beacon.test/collect").await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    // Built-in rules apply with no config at all, before any DNS lookup (this test is offline).
    let reply = get_via(&p, "http://api.segment.io/v1/track?writeKey=k").await;
    assert_eq!(reply.status, StatusCode::OK, "Segment's own answer");
    assert_eq!(reply.body, r#"{"success":true}"#);
    let records = p.audit_wait(3).await;
    assert_eq!(records[2]["vendor"], "segment");
    assert_eq!(records[0]["decision"], "telemetry-blocked");
    assert_eq!(records[0]["status"], 403);
    assert_eq!(records[1]["vendor"], "beacon");
    // Another spelling of a telemetry path is the same path (offline: a miss would try DNS).
    for path in ["/./batch", "/x/../batch", "/%62atch", "//batch"] {
        let reply = get_via(&p, &format!("http://us.i.posthog.com{path}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
        assert_eq!(reply.body, r#"{"status":1}"#, "{path}: PostHog's answer");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telemetry_paths_are_blocked_in_every_spelling() {
    let (up, seen) = http_upstream(None).await;
    let config = format!("{LOCAL}plain_http_allow = [\"localhost\"]\n{TELEMETRY}");
    let p = proxy(&config).start();
    let spellings = [
        "/TRACK/e",
        "/Track",
        "/%2ftrack",
        "/%2Ftrack/e",
        "//track",
        "/x/..%2ftrack",
        "/%2e/track",
        "/%74RACK",
    ];
    for path in spellings {
        let reply = get_via(&p, &format!("http://localhost:{}{path}", up.port())).await;
        assert_eq!(
            reply.status,
            StatusCode::NO_CONTENT,
            "{path}: {}",
            reply.body
        );
    }
    assert_eq!(seen.requests.load(Ordering::SeqCst), 0);
    // Other paths are not telemetry; a double-encoded slash is `%2f` to an origin.
    for path in ["/api/track", "/%252ftrack"] {
        let reply = get_via(&p, &format!("http://localhost:{}{path}", up.port())).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
    }
    assert_eq!(seen.requests.load(Ordering::SeqCst), 2);
    let records = p.audit_wait(spellings.len() + 2).await;
    let blocked = records.iter().filter(|r| r["vendor"] == "acme").count();
    assert_eq!(blocked, spellings.len(), "{records:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telemetry_environment_switches() {
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], StatusCode);
    let cases: &[Case] = &[
        ("", &[("ENABLE_TELEMETRY", "On")], StatusCode::OK),
        ("", &[("ENABLE_TELEMETRY", "2")], StatusCode::NO_CONTENT),
        (
            "",
            &[("ENABLE_TELEMETRY", "1"), ("DO_NOT_TRACK", "1")],
            StatusCode::NO_CONTENT,
        ),
        ("telemetry_allow = [\"ACME\"]", &[], StatusCode::OK),
        (
            "telemetry_allow = [\"acme\"]",
            &[("DO_NOT_TRACK", "1")],
            StatusCode::NO_CONTENT,
        ),
    ];
    for (extra, env, want) in cases {
        let (track, normal, _) = telemetry_case(extra, env).await;
        assert_eq!(track, *want, "{extra} {env:?}");
        assert_eq!(normal, StatusCode::OK);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_addresses_are_refused_without_allow_private() {
    let pki = pki();
    let (up, seen) = http_upstream(Some(pki.server.clone())).await;
    let p = proxy("[proxy]\n").ca(&pki).start();
    for url in [
        format!("http://127.0.0.1:{}/", up.port()),
        // A name is refused by the address it resolves to.
        format!("http://localhost:{}/", up.port()),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        "http://[::ffff:127.0.0.1]/".to_string(),
    ] {
        let reply = get_via(&p, &url).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{url}");
    }
    let (_, head) = connect_tunnel(&p, "localhost:443").await;
    assert!(head.starts_with("HTTP/1.1 403"), "{head}");
    assert_eq!(seen.conns.load(Ordering::SeqCst), 0);
}

/// IPv6 literals that lead to a forbidden IPv4 address, one per IPv4-carrying form, with what
/// the refusal must say.
const IPV4_CARRYING_TARGETS: &[(&str, &str)] = &[
    // IPv4-translated (RFC 2765): the form that was dialled before.
    (
        "::ffff:0:a9fe:a9fe",
        "leads to 169.254.169.254, a link-local",
    ),
    (
        "::ffff:0:169.254.169.254",
        "leads to 169.254.169.254, a link-local",
    ),
    ("::ffff:a9fe:a9fe", "leads to 169.254.169.254, a link-local"),
    ("::a9fe:a9fe", "leads to 169.254.169.254, a link-local"),
    (
        "64:ff9b::a9fe:a9fe",
        "leads to 169.254.169.254, a link-local",
    ),
    (
        "64:ff9b:1:a9fe:a9:fe00::",
        "leads to 169.254.169.254, a link-local",
    ),
    (
        "64:ff9b:1::a9fe:a9fe",
        "leads to 169.254.169.254, a link-local",
    ),
    (
        "2002:a9fe:a9fe::1",
        "leads to 169.254.169.254, a link-local",
    ),
    // Teredo: a metadata client (stored inverted), then a metadata server.
    (
        "2001:0:4136:e378:8000:63bf:5601:5601",
        "leads to 169.254.169.254, a link-local",
    ),
    (
        "2001:0:a9fe:a9fe:8000:63bf:f7f7:f7f7",
        "leads to 169.254.169.254, a link-local",
    ),
    (
        "2001:4860::5efe:a9fe:a9fe",
        "leads to 169.254.169.254, a link-local",
    ),
    (
        "2001:4860::200:5efe:c0a8:101",
        "leads to 192.168.1.1, a private",
    ),
    ("5f00::1", "is a reserved"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv4_carrying_ipv6_targets_are_refused_without_a_connect() {
    let up = echo_upstream().await;
    let config = local_with(&format!("connect_ports = [443, {}]", up.port()));
    let Some(mut p) = proxy(&config).traced() else {
        eprintln!("skipped: strace is missing or cannot trace here");
        return;
    };
    for (addr, why) in IPV4_CARRYING_TARGETS {
        let (_, head) = connect_tunnel(&p, &format!("[{addr}]:443")).await;
        assert!(head.starts_with("HTTP/1.1 403"), "CONNECT {addr}: {head}");
        assert!(head.contains(why), "CONNECT {addr}: {head}");
        let reply = get_via(&p, &format!("http://[{addr}]/latest/meta-data/")).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "GET {addr}");
        let error = reply.headers["x-hush-error"].to_str().unwrap();
        assert!(error.contains(why), "GET {addr}: {error}");
    }
    // The control: an allowed address is dialled, and strace sees (and fails) that connect().
    let (_, head) = connect_tunnel(&p, &up.to_string()).await;
    assert!(head.starts_with("HTTP/1.1 502"), "{head}");
    p.signal("TERM");
    assert_eq!(tokio::task::block_in_place(|| p.wait_exit()), Some(0));
    let connects = p.connects();
    assert_eq!(connects.len(), 1, "{connects:#?}");
    assert!(
        connects[0].contains(&format!("htons({})", up.port())),
        "{connects:#?}"
    );
    let records = p.audit_records();
    let denied = records.iter().filter(|r| r["decision"] == "denied").count();
    assert_eq!(denied, 2 * IPV4_CARRYING_TARGETS.len(), "{records:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_allow_forwards_in_clear() {
    let (up, seen) = http_upstream(None).await;
    let p = proxy(&local_with("plain_http_allow = [\"localhost\"]")).start();
    let reply = get_via(&p, &format!("http://localhost:{}/clear", up.port())).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(seen.requests.load(Ordering::SeqCst), 1);
    assert_eq!(p.audit_wait(1).await[0]["decision"], "forward");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_log_never_holds_queries_header_values_or_bodies() {
    let pki = pki();
    let (up, _) = http_upstream(Some(pki.server.clone())).await;
    let p = proxy(&format!("{LOCAL}{TELEMETRY}")).ca(&pki).start();
    let secrets = [
        "QUERYSECRET",
        "HEADERSECRET",
        "COOKIESECRET",
        "BODYSECRET",
        "PROXYSECRET",
    ];
    for path in ["/api", "/track/x"] {
        let req = Request::post(format!(
            "http://localhost:{}{path}?token=QUERYSECRET",
            up.port()
        ))
        .header("host", "localhost")
        .header("authorization", "Bearer HEADERSECRET")
        .header("cookie", "s=COOKIESECRET")
        .header("proxy-authorization", "Bearer PROXYSECRET")
        .body(Full::new(Bytes::from_static(b"BODYSECRET")))
        .unwrap();
        send(p.addr, req).await;
    }
    let log = p.audit_wait(2).await;
    assert_eq!(log.len(), 2);
    let text = p.audit();
    for s in secrets {
        assert!(!text.contains(s), "{s} leaked into the audit log: {text}");
    }
    let fields = [
        "time",
        "client",
        "method",
        "host",
        "port",
        "path",
        "decision",
        "status",
        "bytes_up",
        "bytes_down",
        "duration_ms",
    ];
    for record in &log {
        for f in fields {
            assert!(record.get(f).is_some(), "{f} missing: {record}");
        }
    }
    assert_eq!(log[0]["path"], "/api");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_answers_ok() {
    let p = proxy("").start();
    let (code, body) = curl(vec![format!("http://{}/healthz", p.addr)]).await;
    assert_eq!((code.as_str(), body.as_str()), ("200", "ok\n"));
    let mut tcp = TcpStream::connect(p.addr).await.unwrap();
    let head = raw_head(&mut tcp, b"GET /other HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    let mut tcp = TcpStream::connect(p.addr).await.unwrap();
    let head = raw_head(&mut tcp, b"NOT HTTP AT ALL\r\n\r\n").await;
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    // Both refusals are decisions and are logged, the one hyper makes itself included; the
    // health checks are not.
    let records = p.audit_wait(2).await;
    let got: Vec<_> = records
        .iter()
        .map(|r| {
            (
                r["method"].as_str(),
                r["decision"].as_str(),
                r["status"].as_u64(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (Some("GET"), Some("error"), Some(400)),
            (Some(""), Some("error"), Some(400)),
        ]
    );
    assert_eq!(records[1]["reason"], "malformed request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_are_cut_off() {
    let p = proxy("").arg("--header-timeout=300ms").start();
    let mut tcp = TcpStream::connect(p.addr).await.unwrap();
    let start = Instant::now();
    tcp.write_all(b"GET http://example.com/ HTTP/1.1\r\n")
        .await
        .unwrap();
    // Trickle header lines, each well inside any per-read timeout, never finishing the head.
    let closed = tokio::time::timeout(WAIT, async {
        loop {
            if tcp.write_all(b"X-Slow: 1\r\n").await.is_err() {
                return;
            }
            let mut buf = [0u8; 256];
            match tokio::time::timeout(Duration::from_millis(50), tcp.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return,
                _ => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "slowloris connection was never closed");
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    let r = &p.audit_wait(1).await[0];
    assert_eq!(
        (r["decision"].as_str(), r["status"].as_u64()),
        (Some("error"), Some(408))
    );
    assert_eq!(r["reason"], "request head not received in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_closed_at_the_header_timeout_are_logged_as_closed() {
    let p = proxy(&format!("{LOCAL}{TELEMETRY}"))
        .arg("--header-timeout=300ms")
        .start();
    // A keep-alive connection that was answered once, then said nothing more.
    let mut kept = TcpStream::connect(p.addr).await.unwrap();
    let head = raw_head(
        &mut kept,
        b"GET http://x.beacon.test/collect HTTP/1.1\r\nHost: x.beacon.test\r\n\r\n",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 204"), "{head}");
    // A connection that never sent a byte.
    let mut silent = TcpStream::connect(p.addr).await.unwrap();
    for tcp in [&mut kept, &mut silent] {
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(WAIT, tcp.read(&mut buf))
            .await
            .expect("the proxy closed the idle connection")
            .unwrap_or(0);
        assert_eq!(n, 0, "nothing more is sent before the close");
    }
    let records = p.audit_wait(3).await;
    let closed: Vec<_> = records
        .iter()
        .filter(|r| r["decision"] == "closed")
        .map(|r| {
            (
                r["status"].as_u64(),
                r["reason"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert!(
        closed.contains(&(Some(0), "idle keep-alive connection closed after 300ms")),
        "{records:#?}"
    );
    assert!(
        closed.contains(&(Some(0), "no request within 300ms")),
        "{records:#?}"
    );
    assert!(records.iter().all(|r| r["status"] != 408), "{records:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_headers_get_431() {
    let p = proxy("").arg("--max-header-size=8192").start();
    let mut tcp = TcpStream::connect(p.addr).await.unwrap();
    let big = "a".repeat(16 * 1024);
    let req =
        format!("GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\nX-Big: {big}\r\n\r\n");
    let head = raw_head(&mut tcp, req.as_bytes()).await;
    assert!(head.starts_with("HTTP/1.1 431"), "{head}");
    let r = &p.audit_wait(1).await[0];
    assert_eq!(
        (r["decision"].as_str(), r["status"].as_u64()),
        (Some("error"), Some(431))
    );
    assert!(
        !p.audit().contains("aaaa"),
        "header value logged: {}",
        p.audit()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_header_fields_pass_and_bad_ports_are_400() {
    let pki = pki();
    let (up, seen) = http_upstream(Some(pki.server.clone())).await;
    let p = proxy(LOCAL).ca(&pki).start();
    // 150 small fields, well under the byte limit: past hyper's default count of 100.
    let mut req = get(&format!("http://127.0.0.1:{}/many", up.port()));
    for i in 0..150 {
        req.headers_mut().insert(
            hyper::header::HeaderName::from_bytes(format!("x-h{i}").as_bytes()).unwrap(),
            hyper::header::HeaderValue::from_static("v"),
        );
    }
    let reply = send(p.addr, req).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(seen.heads.lock().unwrap()[0].contains("x-h149: v\n"));
    // A port that does not fit (or is not a port) is refused, never defaulted to another.
    for target in [
        format!(
            "GET http://127.0.0.1:{}9/ HTTP/1.1",
            up.port() as u32 + 65536
        ),
        "GET http://127.0.0.1:+443/ HTTP/1.1".to_string(),
        "GET http://127.0.0.1:0/ HTTP/1.1".to_string(),
        "CONNECT 127.0.0.1:99999 HTTP/1.1".to_string(),
    ] {
        let mut tcp = TcpStream::connect(p.addr).await.unwrap();
        let head = raw_head(&mut tcp, format!("{target}\r\nHost: x\r\n\r\n").as_bytes()).await;
        assert!(head.starts_with("HTTP/1.1 400"), "{target}: {head}");
    }
    assert_eq!(
        seen.heads.lock().unwrap().len(),
        1,
        "nothing else reached the origin"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_get_503() {
    let p = proxy("").arg("--max-connections=2").start();
    // wait_for_port's probe connection may still hold a slot: wait until healthz answers twice
    // on held connections, which proves both slots are ours.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut tcp = TcpStream::connect(p.addr).await.unwrap();
        let deadline = Instant::now() + WAIT;
        loop {
            let head = raw_head(&mut tcp, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
            if head.starts_with("HTTP/1.1 200") {
                break;
            }
            assert!(Instant::now() < deadline, "no slot freed: {head}");
            tokio::time::sleep(Duration::from_millis(10)).await;
            tcp = TcpStream::connect(p.addr).await.unwrap();
        }
        let mut rest = [0u8; 3];
        tcp.read_exact(&mut rest).await.unwrap(); // "ok\n"
        held.push(tcp);
    }
    let mut third = TcpStream::connect(p.addr).await.unwrap();
    let head = raw_head(&mut third, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(head.starts_with("HTTP/1.1 503"), "{head}");
    let busy = p
        .audit_records()
        .into_iter()
        .filter(|r| r["status"] == 503)
        .count();
    assert!(busy >= 1, "no audit line for the 503: {}", p.audit());
    drop(held);
    // A freed slot serves again (the proxy notices the close asynchronously: poll).
    let deadline = Instant::now() + WAIT;
    loop {
        let (code, _) = curl(vec![format!("http://{}/healthz", p.addr)]).await;
        if code == "200" {
            break;
        }
        assert!(Instant::now() < deadline, "slots never came back");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_and_silent_upstreams_fail_promptly() {
    let dead = dead_port().await;
    // Accepts TCP, then never says a word: the TLS handshake cannot finish.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    let held = Arc::new(Mutex::new(Vec::new()));
    let keep = held.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = silent.accept().await {
            keep.lock().unwrap().push(tcp);
        }
    });
    // Accepts, then closes at once.
    let closer = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closer_addr = closer.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = closer.accept().await {
            drop(tcp);
        }
    });
    let config = local_with(&format!("connect_ports = [{}]", dead.port()));
    let p = proxy(&config).arg("--connect-timeout=500ms").start();
    let cases = [
        (format!("http://{dead}/"), StatusCode::BAD_GATEWAY),
        (
            format!("http://{silent_addr}/"),
            StatusCode::GATEWAY_TIMEOUT,
        ),
        (format!("http://{closer_addr}/"), StatusCode::BAD_GATEWAY),
    ];
    for (url, want) in cases {
        let start = Instant::now();
        let reply = get_via(&p, &url).await;
        assert_eq!(reply.status, want, "{url}: {}", reply.body);
        assert!(reply.headers.contains_key("x-hush-error"));
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{url}: {:?}",
            start.elapsed()
        );
    }
    let (_, head) = connect_tunnel(&p, &dead.to_string()).await;
    assert!(head.starts_with("HTTP/1.1 502"), "{head}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_without_response_times_out_504() {
    let pki = pki();
    let (up, seen) = http_upstream(Some(pki.server.clone())).await;
    let p = proxy(LOCAL)
        .ca(&pki)
        .arg("--response-timeout=200ms")
        .start();
    let reply = get_via(&p, &format!("http://127.0.0.1:{}/slow", up.port())).await;
    assert_eq!(reply.status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(seen.requests.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_origin_stalling_mid_body_is_cut_off_at_the_idle_timeout() {
    let pki = pki();
    let (up, _) = http_upstream(Some(pki.server.clone())).await;
    let p = proxy(LOCAL).ca(&pki).arg("--idle-timeout=500ms").start();
    let tcp = TcpStream::connect(p.addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(conn);
    let url = format!("http://127.0.0.1:{}/stall", up.port());
    let resp = sender.send_request(get(&url)).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let start = Instant::now();
    let body = tokio::time::timeout(WAIT, resp.into_body().collect())
        .await
        .expect("the proxy ended the stalled response");
    assert!(
        body.is_err(),
        "a cut-off body is an error, not a short success"
    );
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_secs(3),
        "{took:?}"
    );
    // The record keeps the status that was sent and says why the body stopped short.
    let r = &p.audit_wait(1).await[0];
    assert_eq!(
        (r["decision"].as_str(), r["status"].as_u64()),
        (Some("upgrade"), Some(200))
    );
    let reason = r["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("sent nothing"), "{r}");
    assert_eq!(r["bytes_down"], 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_in_flight_requests_then_exits_0() {
    let pki = pki();
    let (up, seen) = http_upstream(Some(pki.server.clone())).await;
    let mut p = proxy(LOCAL).ca(&pki).start();
    let addr = p.addr;
    let url = format!("http://127.0.0.1:{}/slow", up.port());
    let in_flight = tokio::spawn(async move { send(addr, get(&url)).await });
    let deadline = Instant::now() + WAIT;
    while seen.requests.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "request never reached upstream");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    p.signal("TERM");
    let reply = in_flight.await.unwrap();
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, "slow done");
    assert_eq!(tokio::task::block_in_place(|| p.wait_exit()), Some(0));
    assert_eq!(p.audit_records().len(), 1);

    let mut p = proxy("").start();
    p.signal("INT");
    assert_eq!(tokio::task::block_in_place(|| p.wait_exit()), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_waits_for_tunnels_only_until_the_drain_deadline() {
    let up = echo_upstream().await;
    let config = local_with(&format!("connect_ports = [{}]", up.port()));
    let mut p = proxy(&config).arg("--drain-timeout=300ms").start();
    let (mut tcp, head) = connect_tunnel(&p, &up.to_string()).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let start = Instant::now();
    p.signal("TERM");
    // The tunnel keeps working while the proxy drains...
    tcp.write_all(b"still here").await.unwrap();
    let mut buf = [0u8; 10];
    tcp.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"still here");
    // ...and the proxy exits cleanly at the deadline rather than waiting for it forever,
    // saying what it cut off, on stderr and in the tunnel's audit record.
    assert_eq!(tokio::task::block_in_place(|| p.wait_exit()), Some(0));
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    let stderr = p.stderr.lock().unwrap().join("\n");
    assert!(
        stderr.contains("drain timeout (300ms) reached; closing 1 open connection(s)"),
        "{stderr}"
    );
    let records = p.audit_records();
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["decision"], "tunnel");
    assert_eq!(records[0]["reason"], "closed at shutdown: drain timeout");
    assert_eq!(records[0]["bytes_up"], 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_cut_off_at_shutdown_says_so() {
    let pki = pki();
    let (up, _) = http_upstream(Some(pki.server.clone())).await;
    let mut p = proxy(LOCAL).ca(&pki).arg("--drain-timeout=300ms").start();
    let mut tcp = TcpStream::connect(p.addr).await.unwrap();
    let req = format!(
        "GET http://127.0.0.1:{}/stream HTTP/1.1\r\nHost: x\r\n\r\n",
        up.port()
    );
    let head = raw_head(&mut tcp, req.as_bytes()).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    p.signal("TERM");
    // The client stays and reads until the proxy cuts the endless body at the drain deadline.
    let mut buf = vec![0u8; 64 * 1024];
    let read = tokio::time::timeout(WAIT, async {
        while tcp.read(&mut buf).await.unwrap_or(0) > 0 {}
    })
    .await;
    assert!(read.is_ok(), "the download was never cut off");
    assert_eq!(tokio::task::block_in_place(|| p.wait_exit()), Some(0));
    let records = p.audit_records();
    assert_eq!(records.len(), 1, "{records:#?}");
    assert_eq!(records[0]["decision"], "upgrade");
    assert_eq!(records[0]["reason"], "closed at shutdown: drain timeout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_disconnects_leak_no_descriptors() {
    let pki = pki();
    let (up, _) = http_upstream(Some(pki.server.clone())).await;
    let echo = echo_upstream().await;
    let config = local_with(&format!("connect_ports = [{}]", echo.port()));
    let p = proxy(&config).ca(&pki).start();
    // Warm up (runtime threads, TLS state) before taking the baseline.
    assert_eq!(
        get_via(&p, &format!("http://127.0.0.1:{}/", up.port()))
            .await
            .status,
        200
    );
    let (baseline, _) = p.fd_count();
    for _ in 0..10 {
        // A streaming response abandoned mid-body.
        let mut tcp = TcpStream::connect(p.addr).await.unwrap();
        let req = format!(
            "GET http://127.0.0.1:{}/stream HTTP/1.1\r\nHost: x\r\n\r\n",
            up.port()
        );
        let head = raw_head(&mut tcp, req.as_bytes()).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        let mut some = [0u8; 4096];
        tcp.read_exact(&mut some).await.unwrap();
        drop(tcp);
        // A tunnel dropped while open.
        let (mut tcp, head) = connect_tunnel(&p, &echo.to_string()).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        tcp.write_all(b"ping").await.unwrap();
        tcp.read_exact(&mut some[..4]).await.unwrap();
        drop(tcp);
    }
    let deadline = Instant::now() + WAIT;
    loop {
        let (now, pipes) = p.fd_count();
        assert!(pipes <= 2 * 64, "{pipes} pipe ends: the pool is bounded");
        if now <= baseline {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "fds: {now} > baseline {baseline}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let records = p.audit_wait(21).await;
    assert_eq!(records.len(), 21);
    // Each abandoned stream's record says the client left before the body ended.
    let left = records
        .iter()
        .filter(|r| r["path"] == "/stream")
        .filter(|r| {
            r["reason"]
                .as_str()
                .is_some_and(|s| s.contains("client left"))
        })
        .count();
    assert_eq!(left, 10, "{records:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_mode_requires_the_token() {
    let pki = pki();
    let (up, _) = http_upstream(Some(pki.server.clone())).await;
    let p = proxy(LOCAL)
        .ca(&pki)
        .arg("--allow-remote")
        .env("HUSH_PROXY_TOKEN", "t0ken")
        .start();
    let url = format!("http://127.0.0.1:{}/", up.port());
    let reply = get_via(&p, &url).await;
    assert_eq!(reply.status, StatusCode::PROXY_AUTHENTICATION_REQUIRED);
    let mut req = get(&url);
    req.headers_mut()
        .insert("proxy-authorization", "Bearer wrong".parse().unwrap());
    assert_eq!(send(p.addr, req).await.status, 407);
    let mut req = get(&url);
    req.headers_mut()
        .insert("proxy-authorization", "Bearer t0ken".parse().unwrap());
    assert_eq!(send(p.addr, req).await.status, 200);
    let proxy_url = format!("http://{}", p.addr);
    let (code, _) = curl(vec![
        "-x".into(),
        proxy_url,
        "-U".into(),
        "me:t0ken".into(),
        url,
    ])
    .await;
    assert_eq!(code, "200");
    assert!(!p.audit().contains("t0ken"));
}

#[test]
fn bad_configuration_exits_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    type Case<'a> = (String, Vec<&'a str>, Vec<(&'a str, &'a str)>);
    let cases: Vec<Case> = vec![
        ("[proxy]\nlisten_port = 1\n".into(), vec![], vec![]),
        (
            "[proxy]\nplain_http_allow = [\"a.*.b\"]\n".into(),
            vec![],
            vec![],
        ),
        (
            "[proxy]\nallow_private = [\"10.0.0.0/99\"]\n".into(),
            vec![],
            vec![],
        ),
        (
            "[proxy]\nca_file = \"missing.pem\"\n".into(),
            vec![],
            vec![],
        ),
        (
            "[proxy]\n".into(),
            vec!["--ca-file=/nonexistent.pem"],
            vec![],
        ),
        (
            "[proxy]\n".into(),
            vec![],
            vec![("SSL_CERT_FILE", "/nonexistent.pem")],
        ),
        ("[proxy]\n".into(), vec!["--listen=0.0.0.0:0"], vec![]),
        (
            "[proxy]\n".into(),
            vec!["--allow-remote", "--listen=127.0.0.1:0"],
            vec![],
        ),
        ("[proxy\n".into(), vec![], vec![]),
        ("[proxy]\n".into(), vec!["--max-header-size=0"], vec![]),
        // A misspelt table would leave the proxy on its defaults.
        (
            "[prxy]\nallow_private = [\"10.0.0.0/8\"]\n".into(),
            vec![],
            vec![],
        ),
        ("bogus = 1\n[proxy]\n".into(), vec![], vec![]),
    ];
    for (i, (config, args, env)) in cases.into_iter().enumerate() {
        let path = write_file(dir.path(), &format!("{i}.toml"), &config);
        let out = Command::new(env!("CARGO_BIN_EXE_hush"))
            .arg("proxy")
            .arg("--config")
            .arg(&path)
            .args(&args)
            .env_remove("HUSH_PROXY_TOKEN")
            .env_remove("SSL_CERT_FILE")
            .envs(env)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{config} {args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.starts_with("hush: error: "), "{stderr}");
    }
}

#[test]
fn lists_the_effective_telemetry_rules() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!("[proxy]\ntelemetry_allow = [\"beacon\"]\n{TELEMETRY}");
    let path = write_file(dir.path(), "hush.toml", &config);
    let out = Command::new(env!("CARGO_BIN_EXE_hush"))
        .args(["proxy", "--list-telemetry", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("acme\tlocalhost\t/track\t"), "{stdout}");
    assert!(
        stdout.contains("segment\tapi.segment.io\t-\t"),
        "built-in rules listed"
    );
    assert!(stdout.lines().count() > 100, "{stdout}");
    assert!(
        !stdout.lines().any(|l| l.starts_with("beacon\t")),
        "allowed vendors are not listed"
    );
    // An output that cannot be written is an error, not a panic.
    let out = Command::new(env!("CARGO_BIN_EXE_hush"))
        .args(["proxy", "--list-telemetry", "--config"])
        .arg(&path)
        .stdout(std::fs::File::create("/dev/full").unwrap())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with("hush: error: ") && !stderr.contains("panicked"),
        "{stderr}"
    );
}

// ---------------------------------------------------------------------------------------------
// Telemetry answers SDKs accept, shared hosts, and no silent leak through a tunnel (issue 12)

/// A loopback telemetry host with a vendor answer, one path-only host that is not shared
/// (`localhost`) and one that is (`127.0.0.1`).
const ANSWERS: &str = "[[proxy.telemetry]]\nvendor = \"acme\"\nhost = \"localhost\"\n\
    path_prefix = \"/v1/batch\"\n\
    answer = { status = 200, content_type = \"application/json\", body = '{\"ok\":1}' }\n\n\
    [[proxy.telemetry]]\nvendor = \"hub\"\nhost = \"127.0.0.1\"\npath_prefix = \"/api/telemetry\"\n\
    shared = true\nanswer = { status = 202 }\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telemetry_requests_get_the_vendor_answer() {
    let pki = pki();
    let (up, seen) = http_upstream(Some(pki.server.clone())).await;
    let p = proxy(&local_with(ANSWERS)).ca(&pki).start();
    let reply = get_via(&p, &format!("http://localhost:{}/v1/batch?k=1", up.port())).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers["content-type"], "application/json");
    assert_eq!(reply.headers["content-length"], "8");
    assert_eq!(reply.body, r#"{"ok":1}"#);
    let reply = get_via(&p, &format!("http://127.0.0.1:{}/api/telemetry", up.port())).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    assert!(reply.body.is_empty() && !reply.headers.contains_key("content-type"));
    assert_eq!(
        seen.requests.load(Ordering::SeqCst),
        0,
        "nothing reached upstream"
    );
    // Other paths of both hosts are real traffic.
    let reply = get_via(&p, &format!("http://localhost:{}/v1/users", up.port())).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(seen.requests.load(Ordering::SeqCst), 1);

    // The built-in answers, as the SDKs read them (offline: a miss would try DNS and fail).
    let cases = [
        (
            "http://api.mixpanel.com/track?verbose=1",
            200,
            r#"{"status":1,"error":null}"#,
        ),
        (
            "http://api.mixpanel.com/engage",
            200,
            r#"{"status":1,"error":null}"#,
        ),
        (
            "http://api.mixpanel.com/import",
            200,
            r#"{"status":1,"error":null}"#,
        ),
        ("http://us.i.posthog.com/batch/", 200, r#"{"status":1}"#),
        ("http://us.i.posthog.com/i/v0/e/", 200, r#"{"status":1}"#),
        (
            "http://api2.amplitude.com/2/httpapi",
            200,
            r#"{"code":200}"#,
        ),
        ("http://o1.ingest.sentry.io/api/1/envelope/", 200, "{}"),
        ("http://browser-intake-datadoghq.com/api/v2/rum", 202, "{}"),
        ("http://notify.bugsnag.com/", 200, "OK"),
        ("http://sessions.bugsnag.com/", 202, ""),
        ("http://www.google-analytics.com/g/collect?v=2", 204, ""),
        ("http://www.google-analytics.com/mp/collect", 204, ""),
        (
            "http://dc.services.visualstudio.com/v2/track",
            200,
            r#"{"itemsReceived":0,"itemsAccepted":0,"errors":[]}"#,
        ),
    ];
    for (url, status, body) in cases {
        let reply = get_via(&p, url).await;
        assert_eq!(reply.status.as_u16(), status, "{url}");
        assert_eq!(reply.body, body, "{url}");
    }
    // A feature-flag endpoint means "no flags", not an error.
    let reply = get_via(&p, "http://us.i.posthog.com/flags/?v=2").await;
    let flags: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(flags["flags"], serde_json::json!({}));
    assert_eq!(flags["errorsWhileComputingFlags"], false);
    let records = p.audit_wait(4 + cases.len()).await;
    assert_eq!(records[0]["decision"], "telemetry-blocked");
    assert_eq!(records[0]["vendor"], "acme");
    assert_eq!(records[0]["status"], 200);
    assert_eq!(records[1]["status"], 202);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tunnels_to_path_only_hosts_are_refused_unless_shared() {
    let up = echo_upstream().await;
    let config = format!("{LOCAL}connect_ports = [443, {}]\n{ANSWERS}", up.port());
    let p = proxy(&config).start();
    // Its telemetry is on paths a tunnel would hide: refused, and the refusal says why.
    let (mut tcp, head) = connect_tunnel(&p, &format!("localhost:{}", up.port())).await;
    assert!(head.starts_with("HTTP/1.1 403"), "{head}");
    let lower = head.to_ascii_lowercase();
    assert!(
        lower.contains(
            "x-hush-error: localhost carries acme telemetry on paths a tunnel would hide"
        ),
        "{head}"
    );
    assert!(lower.contains("connection: close"), "{head}");
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(WAIT, tcp.read_to_end(&mut rest)).await;
    assert!(String::from_utf8_lossy(&rest).contains("telemetry_allow = [\"acme\"]"));
    // A built-in path-only host that is not shared: PostHog's ingestion host (offline).
    let (_, head) = connect_tunnel(&p, "us.i.posthog.com:443").await;
    assert!(head.starts_with("HTTP/1.1 403"), "{head}");
    // A shared host is tunnelled byte for byte.
    let (mut tcp, head) = connect_tunnel(&p, &format!("127.0.0.1:{}", up.port())).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    tcp.write_all(b"through").await.unwrap();
    let mut buf = [0u8; 7];
    tokio::time::timeout(WAIT, tcp.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf, b"through");
    drop(tcp);
    let records = p.audit_wait(3).await;
    assert_eq!(records[0]["decision"], "telemetry-blocked");
    assert_eq!(records[0]["vendor"], "acme");
    assert_eq!(records[0]["status"], 403);
    assert!(records[0]["reason"].as_str().unwrap().contains("hide"));
    assert_eq!(records[1]["vendor"], "posthog");
    // With telemetry switched on, the path-only host is tunnelled as well.
    let p = proxy(&config).env("ENABLE_TELEMETRY", "1").start();
    let (_, head) = connect_tunnel(&p, &format!("localhost:{}", up.port())).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
}

#[test]
fn lists_each_entry_with_its_mode_and_answer_status() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!("[proxy]\n{ANSWERS}\n{TELEMETRY}");
    let path = write_file(dir.path(), "hush.toml", &config);
    let out = Command::new(env!("CARGO_BIN_EXE_hush"))
        .args(["proxy", "--list-telemetry", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut lines = stdout.lines();
    assert_eq!(
        lines.next(),
        Some("vendor\thost\tpath_prefix\tmode\tstatus\tdescription")
    );
    for want in [
        "acme\tlocalhost\t/v1/batch\tpath\t200\t",
        "hub\t127.0.0.1\t/api/telemetry\tshared\t202\t",
        "beacon\t*.beacon.test\t-\thost\t204\t",
        "segment\tapi.segment.io\t-\thost\t200\t",
        "posthog\tus.i.posthog.com\t/batch\tpath\t200\t",
        "huggingface\thuggingface.co\t/api/telemetry\tshared\t204\t",
        "google-analytics\twww.google-analytics.com\t-\thost\t204\t",
        // A path entry under a whole-host entry is blocked with it.
        "mixpanel\tapi.mixpanel.com\t/flags\thost\t200\t",
    ] {
        assert!(
            stdout.lines().any(|l| l.starts_with(want)),
            "{want:?} in {stdout}"
        );
    }
    for line in lines {
        assert_eq!(line.split('\t').count(), 6, "{line}");
    }
}

#[test]
fn a_bad_answer_is_a_one_line_config_error() {
    let dir = tempfile::tempdir().unwrap();
    for (entry, needle) in [
        ("answer = { status = 500 }", "status 500"),
        ("answer = { status = 200, body = \"x\" }", "content_type"),
        (
            "answer = { status = 200, content_type = \"a b\" }",
            "content_type",
        ),
        ("shared = \"yes\"", "line 5"),
    ] {
        let config = format!(
            "[proxy]\n[[proxy.telemetry]]\nhost = \"t.example\"\npath_prefix = \"/p\"\n{entry}\n"
        );
        let path = write_file(dir.path(), "hush.toml", &config);
        let out = Command::new(env!("CARGO_BIN_EXE_hush"))
            .args(["proxy", "--list-telemetry", "--config"])
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{entry}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.starts_with("hush: error: "), "{stderr}");
        assert!(stderr.contains(needle), "{entry}: {stderr}");
    }
}

/// A telemetry upload larger than what arrives with its head is read to its end before the
/// answer, so the client's kept-alive connection serves its next request instead of dying
/// under it (which SDKs see as a failure, or retry).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_telemetry_upload_leaves_the_connection_usable() {
    let p = proxy(LOCAL).start();
    let mut tcp = TcpStream::connect(p.addr).await.unwrap();
    let body = vec![b'e'; 1 << 20];
    for round in 0..2 {
        let head = format!(
            "POST http://api.mixpanel.com/track HTTP/1.1\r\nHost: api.mixpanel.com\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        tcp.write_all(head.as_bytes()).await.unwrap();
        // Written while the proxy reads, as a client does: nobody waits on a full buffer.
        let (mut r, mut w) = tcp.split();
        let (_, (head, answer)) = tokio::join!(
            async { w.write_all(&body).await.unwrap() },
            read_response_split(&mut r)
        );
        assert!(head.starts_with("HTTP/1.1 200"), "round {round}: {head}");
        assert!(
            !head.to_ascii_lowercase().contains("connection: close"),
            "{head}"
        );
        assert_eq!(answer, r#"{"status":1,"error":null}"#);
    }
    let records = p.audit_wait(2).await;
    assert!(
        records.iter().all(|r| r["vendor"] == "mixpanel"),
        "{records:?}"
    );
}

/// Reads one response (head and a Content-Length body) from the read half of a connection.
async fn read_response_split(r: &mut tokio::net::tcp::ReadHalf<'_>) -> (String, String) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    tokio::time::timeout(WAIT, async {
        while !head.ends_with(b"\r\n\r\n") {
            if r.read(&mut byte).await.unwrap_or(0) == 0 {
                break;
            }
            head.push(byte[0]);
        }
    })
    .await
    .expect("response head in time");
    let head = String::from_utf8_lossy(&head).into_owned();
    let length = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length: ")
                .map(str::to_string)
        })
        .map_or(0, |n| n.trim().parse::<usize>().unwrap());
    let mut body = vec![0u8; length];
    tokio::time::timeout(WAIT, r.read_exact(&mut body))
        .await
        .expect("body in time")
        .unwrap();
    (head, String::from_utf8_lossy(&body).into_owned())
}
