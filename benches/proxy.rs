//! `hush proxy` against a direct connection, in one run on loopback: tunnel throughput, CONNECT
//! set-up latency, plain-HTTP→HTTPS request latency and resident memory with idle tunnels.
//! `--peer NAME=ADDR,PID` adds another proxy already running (see compare-proxy.sh) to the
//! tunnel and memory rows; `--variant NAME="ARGS"` adds another hush with extra flags (e.g.
//! `--variant 1t="--threads 1"`). `--only throughput,connect,http,memory,intercept` runs some
//! sections. `intercept` compares requests and a download through an intercepted `CONNECT`
//! (hush's own CA, TLS terminated and re-originated) with a plain tunnel and a direct one.
//! Every run also measures a bare in-process splice relay (`floor`) and the cost of one more
//! loopback round trip: the least any proxy can add on this machine, to judge the targets by.
//! `dlp` measures the egress DLP: its cost per small request (in process, and added end to end
//! over the same hush with `dlp = "off"`) and a 100 MiB upload with it on and off.
//! Plain `cargo bench --bench proxy` needs nothing but this crate.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// Bytes per throughput transfer, latency samples per series, idle tunnels held open.
struct Sizes {
    transfer: usize,
    rounds: usize,
    samples: usize,
    idle_tunnels: usize,
}

/// Which sections run; all unless `--only` names some.
struct Sections(Option<Vec<String>>);

impl Sections {
    fn wants(&self, name: &str) -> bool {
        self.0
            .as_ref()
            .is_none_or(|names| names.iter().any(|n| n == name))
    }
}

struct Peer {
    name: String,
    addr: SocketAddr,
    pid: u32,
}

fn main() {
    let mut peers = Vec::new();
    let mut variants = Vec::new();
    let mut sizes = Sizes {
        transfer: 512 << 20,
        rounds: 5,
        samples: 2000,
        idle_tunnels: 5000,
    };
    let mut sections = Sections(None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--peer" => peers.push(parse_peer(&args.next().expect("--peer NAME=ADDR,PID"))),
            "--variant" => {
                let v = args.next().expect("--variant NAME=ARGS");
                let (name, flags) = v.split_once('=').expect("--variant NAME=ARGS");
                let flags = flags.split_whitespace().map(String::from).collect();
                variants.push((name.to_string(), flags));
            }
            "--only" => {
                let names = args.next().expect("--only SECTION,...");
                sections = Sections(Some(names.split(',').map(String::from).collect()));
            }
            "--quick" => {
                sizes = Sizes {
                    transfer: 64 << 20,
                    rounds: 3,
                    samples: 300,
                    idle_tunnels: 1000,
                }
            }
            // `cargo bench` passes `--bench`; filters and other harness flags mean nothing here.
            _ => {}
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(sizes, sections, peers, variants));
}

fn parse_peer(s: &str) -> Peer {
    let (name, rest) = s.split_once('=').expect("NAME=ADDR,PID");
    let (addr, pid) = rest.split_once(',').expect("NAME=ADDR,PID");
    Peer {
        name: name.to_string(),
        addr: addr.parse().expect("peer address"),
        pid: pid.parse().expect("peer pid"),
    }
}

async fn run(
    sizes: Sizes,
    sections: Sections,
    peers: Vec<Peer>,
    variants: Vec<(String, Vec<String>)>,
) {
    let pki = Pki::new();
    let source = source_server(sizes.transfer);
    let echo = echo_server().await;
    let https = https_server(pki.server.clone()).await;
    let ports = [source.port(), echo.port()];
    let proxy = |name: String, addr, pid| Proxy { name, addr, pid };
    let hush = Hush::start(&pki, &ports, &[]);
    let mut proxies = vec![proxy("hush".into(), hush.addr, Some(hush.child.id()))];
    let others: Vec<(String, Hush)> = variants
        .iter()
        .map(|(name, flags)| (format!("hush {name}"), Hush::start(&pki, &ports, flags)))
        .collect();
    proxies.extend(
        others
            .iter()
            .map(|(n, h)| proxy(n.clone(), h.addr, Some(h.child.id()))),
    );
    let hushes = proxies.len();
    proxies.extend(
        peers
            .iter()
            .map(|p| proxy(p.name.clone(), p.addr, Some(p.pid))),
    );
    proxies.push(proxy("floor".into(), floor_relay(), None));

    println!("# hush proxy bench: loopback, {} cores", cores());
    let mut table = Table::default();

    if sections.wants("throughput") {
        throughput(&mut table, &sizes, source, &proxies).await;
    }
    if sections.wants("connect") {
        connect_setup(&mut table, &sizes, echo, &proxies).await;
    }
    if sections.wants("http") {
        http_to_https(&mut table, &sizes, &pki, https, &proxies, hushes).await;
    }
    if sections.wants("memory") {
        memory(&mut table, &sizes, echo, &proxies).await;
    }
    let names: Vec<&str> = proxies.iter().map(|p| p.name.as_str()).collect();
    table.print(&names);
    if sections.wants("intercept") {
        intercept(&sizes).await;
    }
    if sections.wants("dlp") {
        dlp(&sizes, &pki).await;
    }
}

/// A small request as clients send them: a request line with a query and a few headers.
fn small_request(origin: SocketAddr, token: Option<&str>) -> Request<Empty<Bytes>> {
    let mut req = Request::get(format!("http://{origin}/api/v1/items?page=2&limit=50"))
        .header("host", origin.to_string())
        .header(
            "user-agent",
            "bench-client/1.4.2 (x86_64-unknown-linux-gnu)",
        )
        .header("accept", "application/json")
        .header("accept-encoding", "gzip, br")
        .header("accept-language", "en-GB,en;q=0.8");
    if let Some(token) = token {
        req = req.header("authorization", format!("token {token}"));
    }
    req.body(Empty::<Bytes>::new()).unwrap()
}

/// A GitHub token of valid shape (CRC32 checksum), made here so the file holds none.
fn bench_token() -> String {
    let body = "Rk7mQ2xVp9LwT4nB8cZ3hJ6yD1sF5g";
    let mut n = crc32fast::hash(body.as_bytes());
    const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut check = [b'0'; 6];
    for slot in check.iter_mut().rev() {
        *slot = DIGITS[(n % 62) as usize];
        n /= 62;
    }
    format!("ghp_{body}{}", String::from_utf8_lossy(&check))
}

/// The egress DLP's cost. In process: the scan of a small request's head (URL and headers) as
/// the proxy does it, p50 of single calls. End to end: the same small request through hush with
/// `dlp = "off"` and with the default DLP (no secret in it; a GitHub token to a host its allow
/// list names, which is scanned, matched and let through), interleaved, plain HTTP to a
/// loopback origin so that TLS does not drown the difference. Then a 100 MiB upload (POST in
/// 64 KiB frames) through each, median of rounds.
async fn dlp(sizes: &Sizes, pki: &Pki) {
    use hush::proxy::dlp::{Dlp, Verdict};
    let config = hush::proxy::config::Config::parse("", std::path::Path::new("bench.toml"))
        .expect("default config");
    let engine = config.dlp.expect("DLP on by default");
    let origin = sink_server().await;
    let token = bench_token();
    let mut buf = Vec::new();
    let mut in_process = Vec::new();
    for with_token in [false, true] {
        let (parts, _) = small_request(origin, with_token.then_some(token.as_str())).into_parts();
        let mut us = Vec::with_capacity(sizes.samples);
        for i in 0..sizes.samples + sizes.samples / 10 {
            let start = Instant::now();
            Dlp::head_text("127.0.0.1", &parts, &mut buf);
            let verdict = engine.judge("127.0.0.1", &buf);
            let took = start.elapsed().as_secs_f64() * 1e6;
            assert!(with_token || verdict.0 == Verdict::Pass, "{:?}", verdict.0);
            if i >= sizes.samples / 10 {
                us.push(took);
            }
        }
        in_process.push(median(&mut us));
    }
    let body: Vec<u8> = UPLOAD_LINE.iter().copied().cycle().take(1 << 20).collect();
    let mut body_ms = Vec::new();
    for _ in 0..sizes.rounds {
        let start = Instant::now();
        let verdict = engine.judge("127.0.0.1", &body);
        body_ms.push(start.elapsed().as_secs_f64() * 1e3);
        assert_eq!(verdict.0, Verdict::Pass);
    }
    let plain = "plain_http_allow = [\"127.0.0.1\"]\n";
    let allow = "[proxy.dlp_allow_hosts]\ngithub-pat = [\"127.0.0.1\"]\n";
    let off = Hush::with_config(pki, &[], &format!("{plain}dlp = \"off\"\n"), false, &[]);
    let on = Hush::with_config(pki, &[], &format!("{plain}{allow}"), false, &[]);
    // Series: 0 off, 1 on, 2 off with a token, 3 on with a token.
    let l = interleaved(sizes.samples, 4, |i| {
        let proxy = if i % 2 == 0 { off.addr } else { on.addr };
        let req = small_request(origin, (i >= 2).then_some(token.as_str()));
        async move {
            let tcp = TcpStream::connect(proxy).await.unwrap();
            tcp.set_nodelay(true).unwrap();
            send_one(tcp, req).await;
        }
    })
    .await;
    println!(
        "\n# egress DLP ({} samples per series, one run)",
        sizes.samples
    );
    println!("{:<62} {:>10} {:>8}", "what", "µs", "added");
    let row = |label: String, v: f64, added: String| println!("{label:<62} {v:>10.2} {added:>8}");
    row(
        "in process: head scan p50, no secret".into(),
        in_process[0],
        String::new(),
    );
    row(
        "in process: head scan p50, GitHub token (allowed)".into(),
        in_process[1],
        String::new(),
    );
    row(
        "in process: 1 MiB JSON body scan, median, ms".into(),
        median(&mut body_ms),
        String::new(),
    );
    for (label, off, on) in [
        ("no secret", &l[0], &l[1]),
        ("GitHub token (allowed)", &l[2], &l[3]),
    ] {
        row(
            format!("small request p50, dlp = \"off\", {label}"),
            off.p50,
            String::new(),
        );
        row(
            format!("small request p50, DLP on, {label}"),
            on.p50,
            format!("{:+.1}", on.p50 - off.p50),
        );
    }
    let size = 100usize << 20;
    let mut mib_s: [Vec<f64>; 3] = Default::default();
    for _ in 0..sizes.rounds {
        for (i, series) in mib_s.iter_mut().enumerate() {
            let via = [None, Some(off.addr), Some(on.addr)][i];
            series.push(upload(origin, via, size).await);
        }
    }
    let off_rate = median(&mut mib_s[1]);
    println!(
        "{:<62} {:>10} {:>8}",
        format!("{} MiB upload, median of {}", size >> 20, sizes.rounds),
        "MiB/s",
        "of off"
    );
    for (i, label) in ["direct", "via hush, dlp = \"off\"", "via hush, DLP on"]
        .iter()
        .enumerate()
    {
        let m = median(&mut mib_s[i]);
        row(label.to_string(), m, format!("×{:.2}", m / off_rate));
    }
}

/// A plain-HTTP origin that reads each request's body to the end and answers `ok`.
async fn sink_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let _ = tcp.set_nodelay(true);
            tokio::spawn(async move {
                let service = service_fn(|req: Request<hyper::body::Incoming>| async move {
                    let mut body = req.into_body();
                    while let Some(frame) = body.frame().await {
                        if frame.is_err() {
                            break;
                        }
                    }
                    Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from("ok\n"))))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    addr
}

/// A request body of `left` bytes in 64 KiB frames of one shared buffer.
struct Frames {
    chunk: Bytes,
    left: usize,
}

impl hyper::body::Body for Frames {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        if self.left == 0 {
            return std::task::Poll::Ready(None);
        }
        let n = self.left.min(self.chunk.len());
        self.left -= n;
        let data = self.chunk.slice(..n);
        std::task::Poll::Ready(Some(Ok(hyper::body::Frame::data(data))))
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        hyper::body::SizeHint::with_exact(self.left as u64)
    }
}

/// What the upload body repeats: a line of JSON.
const UPLOAD_LINE: &[u8] =
    b"{\"id\": 12345, \"name\": \"item\", \"tags\": [\"a\", \"b\"], \"note\": \"lorem ipsum\"}\n";

/// POSTs `size` bytes of JSON-ish text to `origin` (directly, or through `proxy`); MiB/s.
async fn upload(origin: SocketAddr, proxy: Option<SocketAddr>, size: usize) -> f64 {
    let chunk: Vec<u8> = UPLOAD_LINE.iter().copied().cycle().take(64 << 10).collect();
    let tcp = TcpStream::connect(proxy.unwrap_or(origin)).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(conn);
    let target = match proxy {
        Some(_) => format!("http://{origin}/upload"),
        None => "/upload".to_string(),
    };
    let req = Request::post(target)
        .header("host", origin.to_string())
        .header("content-type", "application/json")
        .body(Frames {
            chunk: Bytes::from(chunk),
            left: size,
        })
        .unwrap();
    let start = Instant::now();
    let resp = sender.send_request(req).await.unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    resp.into_body().collect().await.unwrap();
    size as f64 / (1 << 20) as f64 / start.elapsed().as_secs_f64()
}

/// Interception against a direct HTTPS request and a plain tunnel, hush alone: request latency
/// with the host's leaf cached and for a first request to a host (the leaf minted then), and
/// the throughput of a 1 GiB download (`--quick`: 256 MiB). Hosts are loopback addresses
/// (127.0.2.x, …), each with an upstream listener, so that each first request finds a host
/// with no leaf yet; the CA is made without name constraints for that reason (they exclude
/// addresses).
async fn intercept(sizes: &Sizes) {
    let samples = sizes.samples.min(300);
    let hosts = samples + samples / 10 + 2;
    let ips: Vec<String> = (0..hosts)
        .map(|i| format!("127.0.{}.{}", 2 + i / 250, 1 + i % 250))
        .collect();
    let mut names = ips.clone();
    names.push("127.0.0.1".into());
    let pki = Pki::with_names(names);
    let big = if sizes.transfer >= 512 << 20 {
        1 << 30
    } else {
        256 << 20
    };
    let port = https_servers(&pki, &ips, big).await;
    let hush = Hush::intercepting(&pki, port, &ips[1..]);
    let direct_tls = pki.client();
    let hush_tls = hush.client.clone().expect("hush CA");
    let origin: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let cached: SocketAddr = format!("{}:{port}", ips[1]).parse().unwrap();
    let fresh = std::cell::Cell::new(2usize);
    // Series: 0 direct HTTPS, 1 intercepted with the leaf cached, 2 intercepted to a host seen
    // for the first time (its leaf minted, its upstream dialled).
    let l = interleaved(samples, 3, |i| {
        let (direct_tls, hush_tls) = (direct_tls.clone(), hush_tls.clone());
        let target = match i {
            0 => origin,
            1 => cached,
            _ => {
                let n = fresh.get();
                fresh.set(n + 1);
                format!("{}:{port}", ips[n.min(ips.len() - 1)])
                    .parse()
                    .unwrap()
            }
        };
        let proxy = hush.addr;
        async move {
            match i {
                0 => https_get(origin, direct_tls).await,
                _ => intercepted_get(target, proxy, hush_tls).await,
            }
        }
    })
    .await;
    println!("\n# interception ({samples} samples per series, one run)");
    println!("{:<52} {:>10} {:>10}", "what", "µs", "added");
    println!(
        "{:<52} {:>10.1} {:>10}",
        "direct HTTPS request p50", l[0].p50, ""
    );
    println!(
        "{:<52} {:>10.1} {:>10}",
        "direct HTTPS request p99", l[0].p99, ""
    );
    for (label, s) in [
        ("leaf cached", &l[1]),
        ("first request to a host, leaf minted", &l[2]),
    ] {
        println!(
            "{:<52} {:>10.1} {:>+10.0}",
            format!("intercepted p50, {label}"),
            s.p50,
            s.p50 - l[0].p50
        );
        println!(
            "{:<52} {:>10.1} {:>+10.0}",
            format!("intercepted p99, {label}"),
            s.p99,
            s.p99 - l[0].p99
        );
    }
    // The download: direct, through a plain tunnel (to 127.0.0.1, out of scope) and
    // intercepted, interleaved, median of rounds.
    let rounds = sizes.rounds.min(3);
    let mut mib_s: [Vec<f64>; 3] = Default::default();
    let mut cpu = [0.0f64; 3];
    for _ in 0..rounds {
        for (i, series) in mib_s.iter_mut().enumerate() {
            let before = cpu_secs(hush.child.id());
            let rate = match i {
                0 => tls_download(origin, None, &direct_tls).await,
                1 => tls_download(origin, Some(hush.addr), &direct_tls).await,
                _ => tls_download(cached, Some(hush.addr), &hush_tls).await,
            };
            cpu[i] += cpu_secs(hush.child.id()) - before;
            series.push(rate);
        }
    }
    let direct = median(&mut mib_s[0]);
    let gib = (big * rounds) as f64 / (1u64 << 30) as f64;
    println!(
        "{:<52} {:>10} {:>10} {:>14}",
        format!("{} MiB HTTPS download", big >> 20),
        "MiB/s",
        "ratio",
        "hush CPU s/GiB"
    );
    for (i, label) in ["direct", "CONNECT tunnel", "intercepted"]
        .iter()
        .enumerate()
    {
        let m = if i == 0 {
            direct
        } else {
            median(&mut mib_s[i])
        };
        println!(
            "{:<52} {:>10.1} {:>10} {:>14.2}",
            label,
            m,
            format!("×{:.2}", m / direct),
            cpu[i] / gib
        );
    }
}

/// A GET through an intercepted `CONNECT` to `target`, trusting hush's CA.
async fn intercepted_get(target: SocketAddr, proxy: SocketAddr, tls: TlsConnector) {
    let (tcp, early) = open(target, Some(proxy)).await;
    assert_eq!(early, 0);
    let name = ServerName::from(target.ip());
    let stream = tls.connect(name, tcp).await.unwrap();
    let req = Request::get("/")
        .header("host", target.to_string())
        .body(Empty::<Bytes>::new())
        .unwrap();
    send_one(stream, req).await;
}

/// Downloads `/big` over TLS to `target` (directly, or through `proxy`'s `CONNECT`); MiB/s.
async fn tls_download(target: SocketAddr, proxy: Option<SocketAddr>, tls: &TlsConnector) -> f64 {
    let start = Instant::now();
    let (tcp, early) = open(target, proxy).await;
    assert_eq!(early, 0);
    let stream = tls
        .connect(ServerName::from(target.ip()), tcp)
        .await
        .unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = Request::get("/big")
        .header("host", target.to_string())
        .body(Empty::<Bytes>::new())
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    let mut body = resp.into_body();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        if let Some(data) = frame.unwrap().data_ref() {
            total += data.len();
        }
    }
    total as f64 / (1 << 20) as f64 / start.elapsed().as_secs_f64()
}

/// HTTPS servers on 127.0.0.1 and on each of `ips`, all on one port: `/big` sends `big` bytes,
/// anything else `ok`.
async fn https_servers(pki: &Pki, ips: &[String], big: usize) -> u16 {
    let first = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = first.local_addr().unwrap().port();
    let mut listeners = vec![first];
    for ip in ips {
        listeners.push(TcpListener::bind(format!("{ip}:{port}")).await.unwrap());
    }
    let acceptor = TlsAcceptor::from(pki.server.clone());
    for listener in listeners {
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let _ = tcp.set_nodelay(true);
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service =
                        service_fn(move |req: Request<hyper::body::Incoming>| async move {
                            let body = if req.uri().path() == "/big" {
                                Chunks { left: big }.boxed()
                            } else {
                                Full::new(Bytes::from("ok\n")).boxed()
                            };
                            Ok::<_, std::convert::Infallible>(Response::new(body))
                        });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
    }
    port
}

/// A response body of `left` bytes in 256 KiB frames, without copying.
struct Chunks {
    left: usize,
}

impl hyper::body::Body for Chunks {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        static CHUNK: [u8; 256 * 1024] = [0x5a; 256 * 1024];
        if self.left == 0 {
            return std::task::Poll::Ready(None);
        }
        let n = self.left.min(CHUNK.len());
        self.left -= n;
        let data = Bytes::from_static(&CHUNK[..n]);
        std::task::Poll::Ready(Some(Ok(hyper::body::Frame::data(data))))
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        hyper::body::SizeHint::with_exact(self.left as u64)
    }
}

/// A proxy under test. The floor relay runs inside this process and has no `pid` of its own.
struct Proxy {
    name: String,
    addr: SocketAddr,
    pid: Option<u32>,
}

/// The same download direct and through each proxy, interleaved, median of rounds; also the
/// CPU time each proxy spent per GiB moved.
async fn throughput(table: &mut Table, sizes: &Sizes, source: SocketAddr, proxies: &[Proxy]) {
    let mut direct = Vec::new();
    let mut via: Vec<Vec<f64>> = vec![Vec::new(); proxies.len()];
    let mut cpu: Vec<Option<f64>> = proxies.iter().map(|p| p.pid.map(|_| 0.0)).collect();
    for _ in 0..sizes.rounds {
        direct.push(download(source, None).await);
        for (i, p) in proxies.iter().enumerate() {
            let before = p.pid.map(cpu_secs);
            via[i].push(download(source, Some(p.addr)).await);
            if let (Some(pid), Some(before), Some(total)) = (p.pid, before, cpu[i].as_mut()) {
                *total += cpu_secs(pid) - before;
            }
        }
    }
    let direct = median(&mut direct);
    table.row(
        "tunnel throughput (MiB/s, ratio to direct)",
        direct,
        via.iter_mut().map(|v| Some(median(v))).collect(),
        Ratio::Of,
    );
    let gib = (sizes.transfer * sizes.rounds) as f64 / (1u64 << 30) as f64;
    table.row(
        "proxy CPU per GiB tunnelled (s)",
        f64::NAN,
        cpu.iter().map(|c| c.map(|c| c / gib)).collect(),
        Ratio::None,
    );
}

/// Tunnel set-up, all series interleaved, in two readings: until the proxy has answered the
/// `CONNECT` (against a bare TCP connect: what the tunnel's set-up itself adds), and until one
/// byte has been echoed through the tunnel (against connect and one echo: what a client waits
/// before its first answer, with the two extra hops every byte now takes).
async fn connect_setup(table: &mut Table, sizes: &Sizes, echo: SocketAddr, proxies: &[Proxy]) {
    // Series 0..3 are direct with 0, 1 and 2 echoes (the last gives the cost of one more
    // loopback round trip); then each proxy twice, answered and echoed.
    let l = interleaved(sizes.samples, 3 + 2 * proxies.len(), |i| async move {
        match i {
            0..3 => connect_echo(echo, None, i).await,
            i => connect_echo(echo, Some(proxies[(i - 3) / 2].addr), (i - 3) % 2).await,
        }
    })
    .await;
    println!(
        "# one more loopback round trip costs {:.0} µs (p50) on this machine",
        l[2].p50 - l[1].p50
    );
    for (echoes, what) in [(0, "CONNECT answered"), (1, "CONNECT + 1st echo")] {
        let via: Vec<&Latency> = l[3..].iter().skip(echoes).step_by(2).collect();
        for (q, pick) in [
            ("p50", (|l| l.p50) as fn(&Latency) -> f64),
            ("p99", |l| l.p99),
        ] {
            table.row(
                &format!("{what} {q} (µs, added)"),
                pick(&l[echoes]),
                via.iter().map(|l| Some(pick(l))).collect(),
                Ratio::Added,
            );
        }
    }
}

/// Plain HTTP through each hush (re-originated over TLS) against HTTPS straight to the origin,
/// a fresh client connection each time on both sides. Hush keeps its upstream connection for
/// the next request, as it does by default; a second hush with `--upstream-keepalive 0s` dials
/// and shakes hands for every request, the cost of a first request to an origin. Other proxies
/// do not re-originate, so they get no figure.
async fn http_to_https(
    table: &mut Table,
    sizes: &Sizes,
    pki: &Pki,
    https: SocketAddr,
    proxies: &[Proxy],
    hushes: usize,
) {
    let tls = pki.client();
    let cold = Hush::start(pki, &[], &["--upstream-keepalive".into(), "0s".into()]);
    // Series 0 is direct HTTPS, 1 the hush that dials for every request, then each hush as
    // it runs by default, keeping its upstream connection for the next request.
    let l = interleaved(sizes.samples, hushes + 2, |i| {
        let tls = tls.clone();
        let via = match i {
            0 => None,
            1 => Some(cold.addr),
            i => Some(proxies[i - 2].addr),
        };
        async move {
            match via {
                None => https_get(https, tls).await,
                Some(proxy) => proxied_get(https, proxy).await,
            }
        }
    })
    .await;
    let direct = &l[0];
    for (label, series) in [("upstream reused", &l[2..]), ("upstream dialled", &l[1..2])] {
        let column = |q: fn(&Latency) -> f64| {
            let mut row: Vec<Option<f64>> = vec![None; proxies.len()];
            for (cell, l) in row.iter_mut().zip(series) {
                *cell = Some(q(l));
            }
            row
        };
        let name = |q: &str| format!("http→https {q} (µs, added), {label}");
        table.row(&name("p50"), direct.p50, column(|l| l.p50), Ratio::Added);
        table.row(&name("p99"), direct.p99, column(|l| l.p99), Ratio::Added);
    }
}

/// Resident set of each proxy holding idle tunnels (client sockets kept open here).
async fn memory(table: &mut Table, sizes: &Sizes, echo: SocketAddr, proxies: &[Proxy]) {
    let mut rss = Vec::new();
    for p in proxies {
        // The floor relay spends a thread per direction: not a figure worth having.
        let Some(pid) = p.pid else {
            rss.push(None);
            continue;
        };
        let before = rss_mib(pid);
        let held = hold_tunnels(echo, p.addr, sizes.idle_tunnels).await;
        let after = rss_mib(pid);
        println!(
            "# {}: {} idle tunnels open, RSS {before:.1} → {after:.1} MiB",
            p.name,
            held.len()
        );
        rss.push(Some(after));
        drop(held);
    }
    let label = format!("RSS with {} idle tunnels (MiB)", sizes.idle_tunnels);
    table.row(&label, f64::NAN, rss, Ratio::None);
}

// ---------------------------------------------------------------------------------------------
// Reporting

#[derive(Clone, Copy)]
enum Ratio {
    /// Proxy value divided by direct (throughput).
    Of,
    /// Proxy value minus direct (latency).
    Added,
    None,
}

#[derive(Default)]
struct Table {
    rows: Vec<(String, f64, Vec<Option<f64>>, Ratio)>,
}

impl Table {
    fn row(&mut self, label: &str, direct: f64, via: Vec<Option<f64>>, ratio: Ratio) {
        self.rows.push((label.to_string(), direct, via, ratio));
    }

    fn print(&self, names: &[&str]) {
        print!("{:<44} {:>10}", "what", "direct");
        for n in names {
            print!(" {n:>12} {:>9}", "");
        }
        println!();
        for (label, direct, via, ratio) in &self.rows {
            let d = if direct.is_nan() {
                "-".to_string()
            } else {
                format!("{direct:.1}")
            };
            print!("{label:<44} {d:>10}");
            for v in via {
                match v {
                    Some(v) => {
                        let r = match ratio {
                            Ratio::Of => format!("×{:.2}", v / direct),
                            Ratio::Added => format!("{:+.0}", v - direct),
                            Ratio::None => String::new(),
                        };
                        print!(" {v:>12.1} {r:>9}");
                    }
                    None => print!(" {:>12} {:>9}", "n/a", ""),
                }
            }
            println!();
        }
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

struct Latency {
    p50: f64,
    p99: f64,
}

/// Runs `series` operations `samples` times each (after a warm-up), interleaved: one of each
/// per round, in a fresh random order each round, so that a slow spell on this shared machine
/// falls on every series alike and no series always follows the same one (which proxy ran just
/// before decides whether a sleeping vCPU or a cold cache has to be woken). Returns each series' p50 and p99 in microseconds.
async fn interleaved<F, Fut>(samples: usize, series: usize, mut op: F) -> Vec<Latency>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let warm_up = samples / 10;
    let mut us = vec![Vec::with_capacity(samples); series];
    let mut order: Vec<usize> = (0..series).collect();
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    for round in 0..warm_up + samples {
        rng.shuffle(&mut order);
        for &i in &order {
            let start = Instant::now();
            op(i).await;
            if round >= warm_up {
                us[i].push(start.elapsed().as_secs_f64() * 1e6);
            }
        }
    }
    us.into_iter()
        .map(|mut v| {
            v.sort_by(f64::total_cmp);
            Latency {
                p50: v[v.len() / 2],
                p99: v[v.len() * 99 / 100],
            }
        })
        .collect()
}

/// A tiny deterministic generator, enough to shuffle the order of series each round.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Fisher–Yates.
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// User plus system CPU time the process has used so far, in seconds.
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let ticks: f64 = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|t| t.parse::<f64>().ok())
        .sum();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    ticks / hz
}

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

// ---------------------------------------------------------------------------------------------
// Clients

/// Opens a TCP stream to `target`, directly or through a `CONNECT` tunnel of `proxy`; also
/// returns any tunnelled bytes that arrived together with the proxy's answer.
async fn open(target: SocketAddr, proxy: Option<SocketAddr>) -> (TcpStream, usize) {
    let Some(proxy) = proxy else {
        let s = TcpStream::connect(target).await.unwrap();
        s.set_nodelay(true).unwrap();
        return (s, 0);
    };
    let mut s = TcpStream::connect(proxy).await.unwrap();
    s.set_nodelay(true).unwrap();
    let req = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut head = Vec::with_capacity(256);
    let end = loop {
        let mut buf = [0u8; 4096];
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0, "proxy closed during CONNECT");
        head.extend_from_slice(&buf[..n]);
        if let Some(i) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    assert!(
        head.starts_with(b"HTTP/1.1 200") || head.starts_with(b"HTTP/1.0 200"),
        "CONNECT refused: {}",
        String::from_utf8_lossy(&head)
    );
    (s, head.len() - end)
}

/// Downloads everything the source server sends; returns MiB/s.
async fn download(source: SocketAddr, proxy: Option<SocketAddr>) -> f64 {
    let start = Instant::now();
    let (mut s, mut total) = open(source, proxy).await;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = s.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        total += n;
    }
    total as f64 / (1 << 20) as f64 / start.elapsed().as_secs_f64()
}

/// Opens a connection and echoes one byte `times` times (maybe none), each after the last came back.
async fn connect_echo(echo: SocketAddr, proxy: Option<SocketAddr>, times: usize) {
    let (mut s, _) = open(echo, proxy).await;
    for _ in 0..times {
        s.write_all(b"x").await.unwrap();
        let mut b = [0u8; 1];
        s.read_exact(&mut b).await.unwrap();
    }
}

/// One HTTPS GET on a fresh connection (session resumption allowed, as the proxy has it too).
async fn https_get(origin: SocketAddr, tls: TlsConnector) {
    let tcp = TcpStream::connect(origin).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    // Both ways address the origin by IP: neither pays for a name lookup.
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let stream = tls.connect(name, tcp).await.unwrap();
    let req = Request::get("/")
        .header("host", origin.to_string())
        .body(Empty::<Bytes>::new())
        .unwrap();
    send_one(stream, req).await;
}

/// The same GET as plain HTTP through hush, which re-originates it over TLS.
async fn proxied_get(origin: SocketAddr, proxy: SocketAddr) {
    let tcp = TcpStream::connect(proxy).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let url = format!("http://{origin}/");
    let req = Request::get(url)
        .header("host", origin.to_string())
        .body(Empty::<Bytes>::new())
        .unwrap();
    send_one(tcp, req).await;
}

async fn send_one<IO>(io: IO, req: Request<Empty<Bytes>>)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .unwrap();
    tokio::spawn(conn);
    let resp = sender.send_request(req).await.unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    resp.into_body().collect().await.unwrap();
}

/// Opens `n` tunnels (64 at a time), each proven by one echoed byte, and returns them open.
async fn hold_tunnels(echo: SocketAddr, proxy: SocketAddr, n: usize) -> Vec<TcpStream> {
    let mut held = Vec::with_capacity(n);
    while held.len() < n {
        let batch = (n - held.len()).min(64);
        let mut tasks = Vec::new();
        for _ in 0..batch {
            tasks.push(tokio::spawn(async move {
                let (mut s, _) = open(echo, Some(proxy)).await;
                s.write_all(b"x").await.unwrap();
                let mut b = [0u8; 1];
                s.read_exact(&mut b).await.unwrap();
                s
            }));
        }
        for t in tasks {
            held.push(t.await.unwrap());
        }
    }
    held
}

// ---------------------------------------------------------------------------------------------
// Servers

/// Sends `size` bytes to each connection, then closes, from a thread of its own: the bench's client runs on
/// the async runtime, and a sender on the same runtime could share its worker thread, so that
/// the direct transfer, with no other process to spread over, ran on one core in some runs.
fn source_server(size: usize) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let chunk = Arc::new(vec![0x5au8; 256 * 1024]);
        for mut s in listener.incoming().flatten() {
            let chunk = chunk.clone();
            std::thread::spawn(move || {
                use std::io::Write;
                let mut left = size;
                while left > 0 {
                    let n = left.min(chunk.len());
                    if s.write_all(&chunk[..n]).is_err() {
                        return;
                    }
                    left -= n;
                }
                let _ = s.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    addr
}

/// The least a `CONNECT` relay can do, as the floor to judge a proxy by: blocking threads, one
/// per direction, moving bytes with `splice(2)` and nothing else (no policy, limits or log).
/// What it cannot reach on this machine, no proxy can.
fn floor_relay() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            std::thread::spawn(move || floor_connection(client));
        }
    });
    addr
}

fn floor_connection(mut client: std::net::TcpStream) -> std::io::Result<()> {
    use std::io::{Read, Write};
    client.set_nodelay(true)?;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = client.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let target = String::from_utf8_lossy(&head)
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let upstream = std::net::TcpStream::connect(target)?;
    upstream.set_nodelay(true)?;
    client.write_all(b"HTTP/1.1 200 OK\r\n\r\n")?;
    let (c, u) = (client.try_clone()?, upstream.try_clone()?);
    let up = std::thread::spawn(move || floor_pump(&c, &u));
    floor_pump(&upstream, &client);
    let _ = up.join();
    Ok(())
}

fn floor_pump(from: &std::net::TcpStream, to: &std::net::TcpStream) {
    use std::os::fd::AsRawFd;
    let splice = |from: i32, to: i32, len: usize| {
        // SAFETY: both descriptors stay open for the call; null offsets as sockets and pipes need.
        unsafe {
            libc::splice(
                from,
                std::ptr::null_mut(),
                to,
                std::ptr::null_mut(),
                len,
                libc::SPLICE_F_MOVE,
            )
        }
    };
    let mut pipe = [0; 2];
    // SAFETY: `pipe` has room for the two descriptors.
    if unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return;
    }
    const SIZE: usize = 1 << 20;
    // SAFETY: plain fcntl on the pipe just made; failure leaves the default size.
    unsafe { libc::fcntl(pipe[1], libc::F_SETPIPE_SZ, SIZE as libc::c_int) };
    'moving: loop {
        let n = splice(from.as_raw_fd(), pipe[1], SIZE);
        if n <= 0 {
            break;
        }
        let mut left = n as usize;
        while left > 0 {
            let m = splice(pipe[0], to.as_raw_fd(), left);
            if m <= 0 {
                break 'moving;
            }
            left -= m as usize;
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
    // SAFETY: the pipe's descriptors are ours and closed once.
    unsafe {
        libc::close(pipe[0]);
        libc::close(pipe[1]);
    }
}

async fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let _ = s.set_nodelay(true);
            tokio::spawn(async move {
                let (mut r, mut w) = s.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    addr
}

async fn https_server(config: Arc<rustls::ServerConfig>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = TlsAcceptor::from(config);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let _ = tcp.set_nodelay(true);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = service_fn(|_req| async {
                    Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from("ok\n"))))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    addr
}

struct Pki {
    ca_pem: String,
    ca_der: rustls::pki_types::CertificateDer<'static>,
    server: Arc<rustls::ServerConfig>,
}

impl Pki {
    fn new() -> Pki {
        Pki::with_names(vec!["localhost".to_string(), "127.0.0.1".to_string()])
    }

    /// A CA and a server leaf for `names` (host names or addresses).
    fn with_names(names: Vec<String>) -> Pki {
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "hush bench CA");
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign];
        let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
        let key = KeyPair::generate().unwrap();
        let mut leaf = CertificateParams::new(names).unwrap();
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let leaf = leaf.signed_by(&key, &ca).unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let server = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![leaf.der().clone()], key)
            .unwrap();
        Pki {
            ca_pem: ca.pem(),
            ca_der: ca.der().clone(),
            server: Arc::new(server),
        }
    }

    fn client(&self) -> TlsConnector {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca_der.clone()).unwrap();
        let config = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        TlsConnector::from(Arc::new(config))
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The proxy under test, started from this build with loopback upstreams allowed.
struct Hush {
    child: Child,
    addr: SocketAddr,
    /// A TLS client trusting this hush's own CA, when it intercepts.
    client: Option<TlsConnector>,
    _dir: tempfile::TempDir,
}

impl Hush {
    fn start(pki: &Pki, connect_ports: &[u16], flags: &[String]) -> Hush {
        Hush::with_config(pki, connect_ports, "", false, flags)
    }

    /// A hush with a CA of its own (not name-constrained) that intercepts `hosts`.
    fn intercepting(pki: &Pki, port: u16, hosts: &[String]) -> Hush {
        let list: Vec<String> = hosts.iter().map(|h| format!("\"{h}\"")).collect();
        let extra = format!("intercept = [{}]\n", list.join(", "));
        Hush::with_config(pki, &[port], &extra, true, &[])
    }

    fn with_config(
        pki: &Pki,
        connect_ports: &[u16],
        extra: &str,
        ca: bool,
        flags: &[String],
    ) -> Hush {
        let dir = tempfile::tempdir().unwrap();
        let ports: Vec<String> = connect_ports.iter().map(u16::to_string).collect();
        let config = format!(
            "[proxy]\nallow_private = [\"127.0.0.0/8\"]\nconnect_ports = [{}]\n{extra}",
            ports.join(", ")
        );
        std::fs::write(dir.path().join("hush.toml"), config).unwrap();
        // The data directory is the bench's own: a CA in the user's would turn interception on.
        let data = dir.path().join("data");
        let mut client = None;
        if ca {
            let made = Command::new(env!("CARGO_BIN_EXE_hush"))
                .args(["ca", "init", "--no-name-constraints"])
                .env("XDG_DATA_HOME", &data)
                .output()
                .unwrap();
            assert!(
                made.status.success(),
                "{}",
                String::from_utf8_lossy(&made.stderr)
            );
            let pem = std::fs::read(data.join("hush/ca.pem")).unwrap();
            let mut roots = rustls::RootCertStore::empty();
            use rustls::pki_types::pem::PemObject;
            roots
                .add(rustls::pki_types::CertificateDer::from_pem_slice(&pem).unwrap())
                .unwrap();
            let config = rustls::ClientConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth();
            client = Some(TlsConnector::from(Arc::new(config)));
        }
        std::fs::write(dir.path().join("ca.pem"), &pki.ca_pem).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_hush"))
            .args([
                "proxy",
                "--listen",
                "127.0.0.1:0",
                "--max-connections",
                "12000",
            ])
            .arg("--config")
            .arg(dir.path().join("hush.toml"))
            .arg("--ca-file")
            .arg(dir.path().join("ca.pem"))
            .arg("--audit-log")
            .arg(dir.path().join("audit.log"))
            .args(flags)
            .env("XDG_DATA_HOME", &data)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut addr = None;
        for _ in 0..10 {
            let mut line = String::new();
            err.read_line(&mut line).unwrap();
            if let Some(a) = line.trim().strip_prefix("hush proxy: listening on ") {
                addr = Some(a.parse().unwrap());
                break;
            }
        }
        Hush {
            child,
            addr: addr.expect("hush proxy: listening on …"),
            client,
            _dir: dir,
        }
    }
}

impl Drop for Hush {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
