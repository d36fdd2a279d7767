//! `hush ca` and the intercepting proxy end to end: the real binary, a CA it makes in a
//! temporary `XDG_DATA_HOME`, curl and a hyper/rustls client that trust that CA, and TLS
//! upstreams on loopback with certificates made here by rcgen. Everything is local and offline;
//! servers are waited for by polling, never by sleeping.

mod proxy_common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};

const WAIT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// Upstream certificates and servers

/// An upstream's CA (PEM) and its server settings, for a leaf covering `names`.
struct Pki {
    ca_pem: String,
    leaf_der: CertificateDer<'static>,
    server: Arc<rustls::ServerConfig>,
}

fn pki(names: &[&str]) -> Pki {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "upstream test CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut leaf = CertificateParams::new(names).unwrap();
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf = leaf.signed_by(&leaf_key, &ca).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], key)
        .unwrap();
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Pki {
        ca_pem: ca.pem(),
        leaf_der: leaf.der().clone(),
        server: Arc::new(server),
    }
}

/// Requests that reached an upstream.
#[derive(Default)]
struct Seen {
    requests: AtomicUsize,
    heads: Mutex<Vec<String>>,
}

/// An HTTPS upstream on `addr` that answers `echo METHOD PATH host=HOST`.
async fn upstream_at(addr: &str, tls: Arc<rustls::ServerConfig>) -> (SocketAddr, Arc<Seen>) {
    let listener = TcpListener::bind(addr).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let seen2 = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (tls, seen) = (tls.clone(), seen2.clone());
            tokio::spawn(async move {
                let Ok(stream) = TlsAcceptor::from(tls).accept(tcp).await else {
                    return;
                };
                let service = service_fn(move |req| echo(req, seen.clone()));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, seen)
}

async fn upstream(tls: Arc<rustls::ServerConfig>) -> (SocketAddr, Arc<Seen>) {
    upstream_at("127.0.0.1:0", tls).await
}

async fn echo(
    req: Request<Incoming>,
    seen: Arc<Seen>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    seen.requests.fetch_add(1, Ordering::SeqCst);
    let host = req
        .headers()
        .get("host")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_string();
    let head = format!("echo {} {} host={host}", req.method(), req.uri());
    seen.heads.lock().unwrap().push(head.clone());
    if req.uri().path() == "/slow" {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let body = req.into_body().collect().await.map(|b| b.to_bytes());
    let body = String::from_utf8_lossy(&body.unwrap_or_default()).into_owned();
    Ok(Response::new(Full::new(Bytes::from(format!(
        "{head}\n{body}"
    )))))
}

use proxy_common::tcp_echo;

// ---------------------------------------------------------------------------------------------
// hush: the CA and the proxy

/// A temporary `XDG_DATA_HOME` holding (or not) a hush CA.
struct Data {
    dir: tempfile::TempDir,
}

impl Data {
    fn new() -> Data {
        Data {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn hush(&self, args: &[&str]) -> Output {
        let out = Command::new(env!("CARGO_BIN_EXE_hush"))
            .args(args)
            .env("XDG_DATA_HOME", self.dir.path())
            .current_dir(self.dir.path())
            .output()
            .unwrap();
        self.assert_no_key(&out);
        out
    }

    fn cert(&self) -> PathBuf {
        self.dir.path().join("hush/ca.pem")
    }

    fn key(&self) -> PathBuf {
        self.dir.path().join("hush/ca-key.pem")
    }

    /// A CA whose scope comes from `config`.
    fn with_ca(config: &str) -> Data {
        let data = Data::new();
        let file = write_file(data.dir.path(), "scope.toml", config);
        let out = data.hush(&["ca", "init", "--config", file.to_str().unwrap()]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        data
    }

    /// No line of the CA key's PEM body may appear in any output.
    fn assert_no_key(&self, out: &Output) {
        let Ok(key) = std::fs::read_to_string(self.key()) else {
            return;
        };
        for line in key
            .lines()
            .filter(|l| !l.starts_with("-----") && l.len() > 16)
        {
            for stream in [&out.stdout, &out.stderr] {
                assert!(!text(stream).contains(line), "CA key in the output");
            }
        }
    }
}

struct Proxy {
    child: Child,
    addr: SocketAddr,
    dir: tempfile::TempDir,
    stderr: Arc<Mutex<Vec<String>>>,
}

/// Starts `hush proxy` with `config`, the data directory `data` and, if given, the upstream
/// CA as `--ca-file`.
fn start_proxy(data: &Data, config: &str, upstream_ca: Option<&Pki>) -> Proxy {
    start_proxy_with(data, config, upstream_ca, &[])
}

fn start_proxy_with(data: &Data, config: &str, upstream_ca: Option<&Pki>, args: &[&str]) -> Proxy {
    tokio::task::block_in_place(|| {
        let dir = tempfile::tempdir().unwrap();
        let config = write_file(dir.path(), "hush.toml", config);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hush"));
        let log = dir.path().join("audit.log");
        proxy_common::proxy_args(&mut cmd, &config, &log, data.dir.path());
        cmd.args(args);
        if let Some(pki) = upstream_ca {
            cmd.arg("--ca-file")
                .arg(write_file(dir.path(), "up-ca.pem", &pki.ca_pem));
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
    /// Waits (bounded) until the audit log holds a record that `want` accepts.
    async fn audit_find(&self, want: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        proxy_common::audit_find(&self.dir.path().join("audit.log"), want, WAIT).await
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
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

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A config for loopback upstreams on `port`, with `/track` on `localhost` as telemetry.
fn config(port: u16, extra: &str) -> String {
    format!(
        "[proxy]\nallow_private = [\"127.0.0.0/8\"]\nconnect_ports = [{port}]\n{extra}\n\
         [[proxy.telemetry]]\nhost = \"localhost\"\npath_prefix = \"/track\"\n"
    )
}

// ---------------------------------------------------------------------------------------------
// Clients

/// Runs curl through the proxy, trusting `cacert`; returns (status, HTTP version, body).
async fn curl(proxy: &Proxy, cacert: &Path, args: &[&str]) -> (String, String, String) {
    curl_at(&ProxyAddr(proxy.addr), cacert, args).await
}

/// A proxy's address alone, for a client running in a task of its own.
struct ProxyAddr(SocketAddr);

async fn curl_at(proxy: &ProxyAddr, cacert: &Path, args: &[&str]) -> (String, String, String) {
    let mut cmd = Command::new("curl");
    cmd.args([
        "-sS",
        "--max-time",
        "10",
        "-w",
        "\n%{http_code} %{http_version}",
    ])
    .arg("--proxy")
    .arg(format!("http://{}", proxy.0))
    .arg("--cacert")
    .arg(cacert)
    .args(args);
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
    let stdout = text(&out.stdout);
    let (body, tail) = stdout.rsplit_once('\n').unwrap_or(("", &stdout));
    let (code, version) = tail.split_once(' ').unwrap_or((tail, ""));
    (code.to_string(), version.to_string(), body.to_string())
}

/// Opens a `CONNECT` tunnel and returns the stream and the response head.
async fn connect(proxy: &Proxy, target: &str) -> (TcpStream, String) {
    let mut tcp = TcpStream::connect(proxy.addr).await.unwrap();
    let req = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n");
    tcp.write_all(req.as_bytes()).await.unwrap();
    let head = read_head(&mut tcp).await;
    (tcp, head)
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
    text(&head)
}

/// A rustls client trusting only the PEM certificates in `ca_pem`.
fn tls_client(ca_pem: &[u8], alpn: &[&[u8]]) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    TlsConnector::from(Arc::new(config))
}

/// Through a tunnel to `host:port`, a TLS session trusting `ca_pem`, then one HTTP/1.1 request
/// with the given `Host`; returns the server's certificate and the response.
async fn hyper_via_tunnel(
    proxy: &Proxy,
    host: &str,
    port: u16,
    ca_pem: &[u8],
    host_header: &str,
    path: &str,
) -> (
    CertificateDer<'static>,
    StatusCode,
    hyper::HeaderMap,
    String,
) {
    let (tcp, head) = connect(proxy, &format!("{host}:{port}")).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let name = ServerName::try_from(host.to_string()).unwrap();
    let tls = tls_client(ca_pem, &[b"http/1.1"])
        .connect(name, tcp)
        .await
        .unwrap();
    let cert = tls.get_ref().1.peer_certificates().unwrap()[0].clone();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = Request::get(path)
        .header("host", host_header)
        .body(Full::<Bytes>::default())
        .unwrap();
    let resp = tokio::time::timeout(WAIT, sender.send_request(req))
        .await
        .unwrap()
        .unwrap();
    let (parts, body) = resp.into_parts();
    let body = text(&body.collect().await.unwrap().to_bytes());
    (cert, parts.status, parts.headers, body)
}

// ---------------------------------------------------------------------------------------------
// Tests: hush ca

#[test]
fn ca_commands_keep_the_key_private() {
    use std::os::unix::fs::PermissionsExt;
    let data = Data::new();
    let out = data.hush(&["ca", "path"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("hush ca init"), "{err}");
    assert!(out.stdout.is_empty());

    let out = data.hush(&["ca", "init"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data.dir.path().join("hush")), 0o700);
    assert_eq!(mode(&data.key()), 0o600);
    assert_eq!(mode(&data.cert()), 0o644);
    let cert = std::fs::read_to_string(data.cert()).unwrap();
    assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"));
    // Nothing but the key file itself holds the key.
    let leftovers: Vec<_> = std::fs::read_dir(data.dir.path().join("hush"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 2, "{leftovers:?}");

    let out = data.hush(&["ca", "path"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), format!("{}\n", data.cert().display()));

    // A second init refuses and leaves the CA alone; --force replaces it.
    let out = data.hush(&["ca", "init"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--force"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(data.cert()).unwrap(), cert);
    let out = data.hush(&["ca", "init", "--force", "--no-name-constraints"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_ne!(std::fs::read_to_string(data.cert()).unwrap(), cert);

    let out = data.hush(&["ca", "trust"]);
    let trust = text(&out.stdout);
    for needle in [
        "--cacert",
        "CURL_CA_BUNDLE",
        "REQUESTS_CA_BUNDLE",
        "SSL_CERT_FILE",
        "PIP_CERT",
        "NODE_EXTRA_CA_CERTS",
        "http.sslCAInfo",
        "GIT_SSL_CAINFO",
        "update-ca-certificates",
        "update-ca-trust",
        "security add-trusted-cert",
        data.cert().to_str().unwrap(),
    ] {
        assert!(trust.contains(needle), "trust text lacks {needle}");
    }

    let out = data.hush(&["ca", "uninstall"]);
    assert!(out.status.success());
    assert!(
        text(&out.stdout).contains("ca-key.pem"),
        "{}",
        text(&out.stdout)
    );
    assert!(!data.key().exists() && !data.cert().exists());
    let out = data.hush(&["ca", "uninstall"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("nothing to remove"));
}

#[test]
fn interception_asked_for_without_a_ca_is_a_startup_error() {
    let data = Data::new();
    let dir = tempfile::tempdir().unwrap();
    for scope in ["\"telemetry\"", "[\"*.example.com\"]"] {
        let config = write_file(
            dir.path(),
            "c.toml",
            &format!("[proxy]\nintercept = {scope}\n"),
        );
        let out = data.hush(&[
            "proxy",
            "--listen=127.0.0.1:0",
            "--config",
            config.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(2));
        let err = text(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("hush ca init"), "{err}");
    }
}

/// A CA key others can read stops a proxy that would use it, with the fix; a proxy with
/// interception switched off does not look at the CA at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_readable_ca_key_is_refused_unless_interception_is_off() {
    use std::os::unix::fs::PermissionsExt;
    let data = Data::with_ca("");
    std::fs::set_permissions(data.key(), std::fs::Permissions::from_mode(0o644)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = write_file(dir.path(), "c.toml", "[proxy]\n");
    let out = data.hush(&[
        "proxy",
        "--listen=127.0.0.1:0",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("chmod 600"), "{err}");
    let p = start_proxy(&data, "[proxy]\nintercept = \"none\"\n", None);
    let (_, head) = connect(&p, "example.com:80").await;
    assert!(head.starts_with("HTTP/1.1 403"), "{head}");
}

// ---------------------------------------------------------------------------------------------
// Tests: interception

/// Over HTTPS, a path rule answers the telemetry path locally, and another path on the same
/// host reaches the upstream over verified TLS; HTTP/1.1 and HTTP/2 alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_rules_apply_over_https_in_h1_and_h2() {
    let up_pki = pki(&["localhost"]);
    let (up, seen) = upstream(up_pki.server.clone()).await;
    let config = config(up.port(), "");
    let data = Data::with_ca(&config);
    let p = start_proxy(&data, &config, Some(&up_pki));
    let base = format!("https://localhost:{}", up.port());
    for version in ["--http1.1", "--http2"] {
        let (code, v, body) = curl(&p, &data.cert(), &[version, &format!("{base}/track/e")]).await;
        assert_eq!(code, "204", "{version}: {body} {}", p.stderr());
        let (code, v2, body) =
            curl(&p, &data.cert(), &[version, &format!("{base}/api/users")]).await;
        assert_eq!(code, "200", "{version}: {body} {}", p.stderr());
        assert!(
            body.starts_with("echo GET /api/users host=localhost:"),
            "{body}"
        );
        let want = if version == "--http2" { "2" } else { "1.1" };
        assert_eq!((v.as_str(), v2.as_str()), (want, want), "{version}");
    }
    assert_eq!(
        seen.requests.load(Ordering::SeqCst),
        2,
        "telemetry reached the upstream"
    );
    let connect = p
        .audit_find(|r| r["method"] == "CONNECT" && r["decision"] == "intercept")
        .await;
    assert_eq!(connect["host"], "localhost");
    let blocked = p.audit_find(|r| r["decision"] == "telemetry-blocked").await;
    assert_eq!(blocked["path"], "/track/e");
    assert_eq!(blocked["status"], 204);
    let forwarded = p.audit_find(|r| r["path"] == "/api/users").await;
    assert_eq!(forwarded["decision"], "upgrade");
    assert_eq!(forwarded["status"], 200);
}

/// A whole-host telemetry host is answered locally for every request and never dialled: its
/// name does not even resolve, so any attempt would have been a 502.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_host_telemetry_is_answered_inside_without_dialling() {
    let config =
        "[proxy]\n\n[[proxy.telemetry]]\nvendor = \"beacon\"\nhost = \"*.beacon.invalid\"\n";
    let data = Data::with_ca(config);
    let p = start_proxy(&data, config, None);
    let hush_ca = std::fs::read(data.cert()).unwrap();
    for path in ["/", "/v1/anything"] {
        let (_, status, _, body) = hyper_via_tunnel(
            &p,
            "collector.beacon.invalid",
            443,
            &hush_ca,
            "collector.beacon.invalid",
            path,
        )
        .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{path}: {body}");
    }
    let r = p.audit_find(|r| r["path"] == "/v1/anything").await;
    assert_eq!(r["decision"], "telemetry-blocked");
    assert_eq!(r["vendor"], "beacon");
}

/// A hyper/rustls client trusting the hush CA sees hush's leaf for the host; a request naming
/// another host than the CONNECT's is answered 421 and goes nowhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mismatched_host_is_421() {
    let up_pki = pki(&["localhost"]);
    let (up, seen) = upstream(up_pki.server.clone()).await;
    let config = config(up.port(), "");
    let data = Data::with_ca(&config);
    let p = start_proxy(&data, &config, Some(&up_pki));
    let hush_ca = std::fs::read(data.cert()).unwrap();
    let port = up.port();
    let right = format!("localhost:{port}");
    let (cert, status, _, body) =
        hyper_via_tunnel(&p, "localhost", port, &hush_ca, &right, "/ok").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_ne!(cert, up_pki.leaf_der, "intercepted: hush's own leaf");
    for wrong in ["example.com", "localhost", "localhost:1"] {
        let (_, status, headers, _) =
            hyper_via_tunnel(&p, "localhost", port, &hush_ca, wrong, "/x").await;
        assert_eq!(status, StatusCode::MISDIRECTED_REQUEST, "{wrong}");
        assert!(headers.contains_key("x-hush-error"));
    }
    assert_eq!(seen.requests.load(Ordering::SeqCst), 1);
}

/// A host out of scope is tunnelled byte for byte: the client sees the upstream's own
/// certificate, and raw bytes come back unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_scope_hosts_are_tunnelled_untouched() {
    let up_pki = pki(&["127.0.0.1"]);
    let (up, seen) = upstream(up_pki.server.clone()).await;
    let echo = tcp_echo().await;
    let config = format!(
        "{}\n",
        config(up.port(), "").replace(
            &format!("connect_ports = [{}]", up.port()),
            &format!("connect_ports = [{}, {}]", up.port(), echo.port())
        )
    );
    let data = Data::with_ca(&config);
    let p = start_proxy(&data, &config, Some(&up_pki));
    let host = format!("127.0.0.1:{}", up.port());
    let (cert, status, _, body) = hyper_via_tunnel(
        &p,
        "127.0.0.1",
        up.port(),
        up_pki.ca_pem.as_bytes(),
        &host,
        "/t",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(cert, up_pki.leaf_der, "the upstream's own certificate");
    assert_eq!(seen.requests.load(Ordering::SeqCst), 1);

    let (mut tcp, head) = connect(&p, &format!("127.0.0.1:{}", echo.port())).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let bytes: Vec<u8> = (0..=255u8).cycle().take(64 * 1024).collect();
    tcp.write_all(&bytes).await.unwrap();
    let mut back = vec![0u8; bytes.len()];
    tokio::time::timeout(WAIT, tcp.read_exact(&mut back))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(back, bytes);
    let r = p
        .audit_find(|r| r["decision"] == "tunnel" && r["port"] == up.port())
        .await;
    assert_eq!(r["method"], "CONNECT");
}

/// A host in scope that the CA's name constraints exclude is tunnelled, and stderr says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_outside_the_ca_constraints_is_tunnelled_and_said_so() {
    let up_pki = pki(&["localhost"]);
    let (up, _) = upstream(up_pki.server.clone()).await;
    // The CA is made for the built-in telemetry list only: localhost is not in it.
    let data = Data::with_ca("");
    let config = format!(
        "[proxy]\nallow_private = [\"127.0.0.0/8\"]\nconnect_ports = [{}]\n\
         intercept = [\"localhost\"]\n",
        up.port()
    );
    let p = start_proxy(&data, &config, Some(&up_pki));
    let host = format!("localhost:{}", up.port());
    let (cert, status, _, _) = hyper_via_tunnel(
        &p,
        "localhost",
        up.port(),
        up_pki.ca_pem.as_bytes(),
        &host,
        "/",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(cert, up_pki.leaf_der);
    let r = p.audit_find(|r| r["decision"] == "tunnel").await;
    assert!(r["reason"].as_str().unwrap().contains("cannot sign"), "{r}");
    assert!(
        p.stderr().contains("hush ca init --force"),
        "{}",
        p.stderr()
    );
}

/// An upstream certificate that fails verification: 502 with the reason, nothing sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_upstream_is_502_inside_the_tunnel() {
    let up_pki = pki(&["localhost"]);
    let (up, seen) = upstream(up_pki.server.clone()).await;
    let config = config(up.port(), "");
    let data = Data::with_ca(&config);
    // No --ca-file: the upstream's CA is unknown to the proxy.
    let p = start_proxy(&data, &config, None);
    let (code, _, body) = curl(
        &p,
        &data.cert(),
        &["-i", &format!("https://localhost:{}/api", up.port())],
    )
    .await;
    assert_eq!(code, "502", "{body}");
    assert!(body.to_ascii_lowercase().contains("x-hush-error"), "{body}");
    assert!(body.contains("certificate"), "{body}");
    assert_eq!(seen.requests.load(Ordering::SeqCst), 0);
    let r = p.audit_find(|r| r["path"] == "/api").await;
    assert_eq!(r["status"], 502);
}

/// `CONNECT host:80` with interception on: plain HTTP inside, each request judged as a
/// plain-HTTP one (telemetry answered locally, the rest re-originated over TLS on 443).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_to_port_80_with_interception_on() {
    // An address of our own on 443, so the re-originated request has somewhere to go; needs
    // the privilege to bind a low port.
    let ip = format!(
        "127.80.{}.{}",
        std::process::id() % 250 + 1,
        fastrand_byte()
    );
    let up_pki = pki(&[&ip]);
    let bound = TcpListener::bind(format!("{ip}:443")).await.is_ok();
    let config = format!(
        "[proxy]\nallow_private = [\"127.0.0.0/8\"]\n\n[[proxy.telemetry]]\nhost = \"{ip}\"\n\
         path_prefix = \"/track\"\n"
    );
    let data = Data::with_ca("");
    let p = start_proxy(&data, &config, Some(&up_pki));
    let (mut tcp, head) = connect(&p, &format!("{ip}:80")).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let req = format!("GET /track/x HTTP/1.1\r\nHost: {ip}\r\n\r\n");
    tcp.write_all(req.as_bytes()).await.unwrap();
    let head = read_head(&mut tcp).await;
    assert!(head.starts_with("HTTP/1.1 204"), "{head}");
    if bound {
        let (_, seen) = upstream_at(&format!("{ip}:443"), up_pki.server.clone()).await;
        let req = format!("GET /page HTTP/1.1\r\nHost: {ip}\r\ncontent-length: 0\r\n\r\n");
        tcp.write_all(req.as_bytes()).await.unwrap();
        let head = read_head(&mut tcp).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert_eq!(seen.requests.load(Ordering::SeqCst), 1);
        let r = p.audit_find(|r| r["path"] == "/page").await;
        assert_eq!(r["decision"], "upgrade");
        assert_eq!(r["port"], 80);
        // The response body, before the next request.
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap();
        let mut body = vec![0u8; len];
        tcp.read_exact(&mut body).await.unwrap();
    } else {
        eprintln!("skipping re-origination on {ip}:443: cannot bind a low port here");
    }
    let req = "GET /x HTTP/1.1\r\nHost: other.example\r\n\r\n";
    tcp.write_all(req.as_bytes()).await.unwrap();
    let head = read_head(&mut tcp).await;
    assert!(head.starts_with("HTTP/1.1 421"), "{head}");
}

/// A client that does not trust the hush CA fails its handshake; the proxy logs why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_handshake_failure_is_logged() {
    let up_pki = pki(&["localhost"]);
    let (up, seen) = upstream(up_pki.server.clone()).await;
    let config = config(up.port(), "");
    let data = Data::with_ca(&config);
    let p = start_proxy(&data, &config, Some(&up_pki));
    let (tcp, head) = connect(&p, &format!("localhost:{}", up.port())).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let name = ServerName::try_from("localhost").unwrap();
    let client = tls_client(up_pki.ca_pem.as_bytes(), &[b"http/1.1"]);
    assert!(client.connect(name, tcp).await.is_err());
    let r = p
        .audit_find(|r| r["method"] == "CONNECT" && r["decision"] == "error")
        .await;
    assert!(
        r["reason"].as_str().unwrap().contains("TLS handshake"),
        "{r}"
    );
    assert_eq!(seen.requests.load(Ordering::SeqCst), 0);
}

/// The idle timeout applies inside an intercepted tunnel as it does to a plain one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_intercepted_connection_is_closed() {
    let up_pki = pki(&["localhost"]);
    let (up, _) = upstream(up_pki.server.clone()).await;
    let config = config(up.port(), "");
    let data = Data::with_ca(&config);
    let p = start_proxy_with(&data, &config, Some(&up_pki), &["--idle-timeout", "300ms"]);
    let (tcp, head) = connect(&p, &format!("localhost:{}", up.port())).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let hush_ca = std::fs::read(data.cert()).unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let mut tls = tls_client(&hush_ca, &[b"http/1.1"])
        .connect(name, tcp)
        .await
        .unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(WAIT, tls.read(&mut buf)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "closed: {read:?}");
    assert!(started.elapsed() >= Duration::from_millis(250));
    let r = p
        .audit_find(|r| r["decision"] == "intercept" && !r["reason"].is_null())
        .await;
    assert_eq!(r["reason"], "idle timeout");
}

/// SIGTERM lets a request in flight inside an intercepted tunnel finish, then exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_intercepted_requests() {
    let up_pki = pki(&["localhost"]);
    let (up, seen) = upstream(up_pki.server.clone()).await;
    let config = config(up.port(), "");
    let data = Data::with_ca(&config);
    let mut p = start_proxy(&data, &config, Some(&up_pki));
    let cert = data.cert();
    let url = format!("https://localhost:{}/slow", up.port());
    let proxy_addr = p.addr;
    let request = tokio::spawn(async move {
        let p = ProxyAddr(proxy_addr);
        curl_at(&p, &cert, &["--http2", &url]).await
    });
    let deadline = Instant::now() + WAIT;
    while seen.requests.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the request never arrived");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let status = Command::new("kill")
        .args(["-TERM", &p.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let (code, _, body) = request.await.unwrap();
    assert_eq!(code, "200", "{body}");
    let exited = tokio::task::block_in_place(|| {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = p.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(Instant::now() < deadline, "proxy did not exit");
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    assert_eq!(exited, Some(0));
}

/// `CONNECT host:80` with interception off: refused, and the reason names `hush ca init`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_to_port_80_without_interception_is_refused_with_the_fix() {
    let data = Data::new();
    let p = start_proxy(&data, "[proxy]\n", None);
    let (_, head) = connect(&p, "example.com:80").await;
    assert!(head.starts_with("HTTP/1.1 403"), "{head}");
    let why = head
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("x-hush-error:"))
        .unwrap_or_default();
    assert!(why.contains("hush ca init"), "{head}");
}

/// A byte from the clock, to keep parallel runs on distinct loopback addresses.
fn fastrand_byte() -> u8 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    (nanos % 250) as u8 + 1
}
