//! The HTTP/1 server: accepts connections under a cap, asks the policy about each request and
//! carries the decision out (tunnel, TLS re-origination, local answer). Draining on shutdown
//! lets requests in flight finish, up to a deadline.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::http::request;
use hyper::http::uri::{PathAndQuery, Scheme};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode, Uri, Version};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsConnector;

use super::audit::{path_only, AuditLog, Outcome, Pending, Record};
use super::auth::Token;
use super::ca::Ca;
use super::dlp::{Dlp, Found, Inspected, Verdict};
use super::intercept;
use super::metrics;
use super::policy::{Decision, Env, Kind, Matched, Policy, Reason, Target};
use super::pool::{Origin, Pool};
use super::telemetry::{normalize_host, Answer};
use super::tunnel::{self, Counters, Ending, Side, Timeouts};
use super::upstream::{self, UpstreamError};
use super::watch::{Phase, PhaseCell, Watched};

pub(super) type ProxyBody = BoxBody<Bytes, BoxError>;
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The response header that carries why the proxy answered an error itself.
pub const ERROR_HEADER: &str = "x-hush-error";

/// Resource limits; see `ProxyArgs` for the defaults.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub max_header_size: usize,
    pub connect_timeout: Duration,
    pub response_timeout: Duration,
    pub idle_timeout: Duration,
    pub half_close_timeout: Duration,
    pub drain_timeout: Duration,
}

/// Everything a connection needs, shared read-only.
pub struct Shared {
    pub policy: Policy,
    pub env: Env,
    pub tls: TlsConnector,
    pub audit: Arc<AuditLog>,
    /// Idle upstream connections for plain-HTTP requests.
    pub pool: Arc<Pool<Upload>>,
    /// The local CA, when interception is on.
    pub ca: Option<Arc<Ca>>,
    pub token: Option<Token>,
    pub limits: Limits,
    /// The egress DLP; `None` when `dlp = "off"`.
    pub dlp: Option<Arc<Dlp>>,
}

/// Header fields a request or response head may have (hyper's default is 100): more gets
/// `431` from a client, `502` from an origin. The byte limit, `--max-header-size`, comes first
/// for all but heads of many tiny fields.
pub const MAX_HEADERS: usize = 500;

/// Serves until `shutdown` resolves, then stops accepting and drains.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>, shutdown: impl Future<Output = ()>) {
    let max = shared.limits.max_connections;
    let slots = Arc::new(Semaphore::new(max));
    let (stop_tx, stop_rx) = watch::channel(false);
    // Idle upstream connections past their keep-alive are closed even if no request comes.
    let pool = shared.pool.clone();
    let sweeper = (!pool.keepalive.is_zero()).then(|| {
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(pool.keepalive).await;
                pool.sweep();
            }
        })
    });
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => match slots.clone().try_acquire_owned() {
                    Ok(permit) => {
                        let conn = connection(stream, peer, shared.clone(), stop_rx.clone(), permit);
                        tokio::spawn(conn);
                    }
                    Err(_) => {
                        let why = "too many connections";
                        let record = Record::refused(peer, Outcome::Denied, 503, why);
                        shared.audit.write(&record);
                        tokio::spawn(refuse_busy(stream, max));
                    }
                },
                // Out of descriptors or a connection reset before accept: back off a moment
                // rather than spin on an error that will repeat at once.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    if let Some(sweeper) = sweeper {
        sweeper.abort();
    }
    let _ = stop_tx.send(true);
    // Every connection and tunnel holds a slot; all slots back means everything has finished.
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    let drain = shared.limits.drain_timeout;
    if tokio::time::timeout(drain, slots.acquire_many(all))
        .await
        .is_err()
    {
        let open = max.saturating_sub(slots.available_permits());
        shared.audit.cut_off_the_rest();
        eprintln!(
            "hush proxy: drain timeout ({drain:?}) reached; closing {open} open connection(s)"
        );
    }
}

/// Beyond the connection cap: a canned `503`, then close without serving the request.
async fn refuse_busy(mut stream: TcpStream, max: usize) {
    let reason =
        format!("too many connections: all {max} are in use; raise the cap with --max-connections");
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n\
         {ERROR_HEADER}: {reason}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n\
         hush proxy: {reason}\n",
        reason.len() + "hush proxy: \n".len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(head.as_bytes()).await?;
        stream.shutdown().await?;
        // Read what the client sent until it closes: closing with unread data would reset the
        // connection and could destroy the 503 before the client reads it.
        let mut sink = [0u8; 1024];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<_, std::io::Error>(())
    })
    .await;
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
    // Held until this task ends, tunnel included: one slot per client connection.
    _permit: OwnedSemaphorePermit,
) {
    let _ = stream.set_nodelay(true);
    let audit = shared.audit.clone();
    let _open = audit.metrics().open_connection();
    let tunnel_slot = TunnelSlot::default();
    let stop_inside = stop.clone();
    // Boxed so that hyper's connection state (several KiB) is freed once HTTP is done, and a
    // long-lived tunnel keeps only its own small state in this task.
    Box::pin(serve_http(
        stream,
        peer,
        shared.clone(),
        stop,
        tunnel_slot.clone(),
    ))
    .await;
    // After a CONNECT, hyper finishes the connection by handing the socket over; the tunnel
    // then runs right here, in the same task, rather than in one more spawned task.
    let job = tunnel_slot.lock().ok().and_then(|mut slot| slot.take());
    match job {
        Some(Job::Tunnel(job)) => {
            let timeouts = Timeouts {
                idle: shared.limits.idle_timeout,
                grace: shared.limits.half_close_timeout,
            };
            job.run(timeouts).await;
        }
        // Boxed: the HTTP/1 and HTTP/2 server state inside would otherwise weigh on every
        // connection's task, plain tunnels' included.
        Some(Job::Intercept(job)) => Box::pin(job.run(shared, stop_inside)).await,
        None => {}
    }
}

/// The HTTP/1 server settings of every client connection, and of the plain HTTP inside an
/// intercepted tunnel: the limits that `--header-timeout` and `--max-header-size` set.
pub(super) fn http1_server(limits: &Limits) -> http1::Builder {
    let mut builder = http1::Builder::new();
    builder
        .max_headers(MAX_HEADERS)
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_header_size(limits.max_header_size)
        .max_buf_size(limits.max_header_size.max(64 * 1024));
    builder
}

/// Serves HTTP/1 requests on one client connection until it closes, upgrades or is drained.
async fn serve_http(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    tunnel_slot: TunnelSlot,
) {
    let limits = &shared.limits;
    let phase = PhaseCell::default();
    let service = {
        let (shared, phase) = (shared.clone(), phase.clone());
        service_fn(move |req| {
            // A request hyper parsed: whatever is written next is its answer, not hyper's own.
            phase.set(Phase::Handling);
            handle(req, peer, shared.clone(), tunnel_slot.clone())
        })
    };
    let conn = http1_server(limits)
        .serve_connection(
            TokioIo::new(Watched::new(stream, phase.clone(), limits.max_header_size)),
            service,
        )
        .with_upgrades();
    tokio::pin!(conn);
    let start = Instant::now();
    let served = tokio::select! {
        served = conn.as_mut() => served,
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    // Requests hyper turns away itself never reach `handle`, and connections it closes for want
    // of a request have none: they are logged here.
    let ended = served.err();
    let rejected = ended
        .as_ref()
        .and_then(|e| rejection(e, phase.get(), limits.header_timeout));
    if let Some((decision, status, reason)) = rejected {
        let mut record = Record::refused(peer, decision, status, &reason);
        record.duration_ms = start.elapsed().as_millis() as u64;
        shared.audit.write(&record);
    }
}

/// The decision, status and reason for a connection hyper ended before a request reached the
/// handler: hyper has already answered `400`/`414`/`431`; or no request head arrived within
/// `--header-timeout`, which is an error (logged as `408`) only if one was on its way
/// (`phase`); an idle keep-alive connection, or one that never sent a byte, is simply `closed`
/// (status 0: nothing was sent). Other connection errors (a client gone mid-body, say) belong
/// to a request whose own record has been written.
fn rejection(
    e: &hyper::Error,
    phase: Phase,
    header_timeout: Duration,
) -> Option<(Outcome, u16, String)> {
    let error = |status, reason: &str| Some((Outcome::Error, status, reason.to_string()));
    if e.is_timeout() {
        match phase {
            Phase::Reading | Phase::Handling => error(408, "request head not received in time"),
            Phase::Answered => Some((
                Outcome::Closed,
                0,
                format!("idle keep-alive connection closed after {header_timeout:?}"),
            )),
            Phase::Fresh => Some((
                Outcome::Closed,
                0,
                format!("no request within {header_timeout:?}"),
            )),
        }
    } else if e.is_parse_too_large() {
        // hyper reports an over-long request target as "too large" as well.
        if e.to_string().contains("uri") {
            error(414, "request target too long")
        } else {
            error(431, "request head too large")
        }
    } else if e.is_parse() {
        error(400, "malformed request")
    } else {
        None
    }
}

/// Where a `CONNECT` handler leaves its tunnel for the connection task to run.
type TunnelSlot = Arc<Mutex<Option<Job>>>;

/// What runs on a client connection once hyper hands it over after a `CONNECT`.
enum Job {
    Tunnel(TunnelJob),
    Intercept(intercept::Job),
}

struct TunnelJob {
    on_upgrade: hyper::upgrade::OnUpgrade,
    upstream: TcpStream,
    pending: Pending,
}

impl TunnelJob {
    async fn run(self, timeouts: Timeouts) {
        let TunnelJob {
            on_upgrade,
            upstream,
            mut pending,
        } = self;
        let result = match on_upgrade.await {
            Ok(upgraded) => splice_upgraded(upgraded, upstream, timeouts, &pending).await,
            Err(e) => Err(std::io::Error::other(e)),
        };
        let grace = timeouts.grace.min(timeouts.idle);
        match result {
            Ok(Ending::Closed) => {}
            Ok(Ending::Idle) => pending.set_reason("idle timeout".into()),
            Ok(Ending::HalfClosed(Side::Client)) => pending.set_reason(format!(
                "the client closed its side; the upstream sent nothing more and did not close \
                 within {grace:?}"
            )),
            Ok(Ending::HalfClosed(Side::Upstream)) => pending.set_reason(format!(
                "the upstream closed its side; the client sent nothing more and did not close \
                 within {grace:?}"
            )),
            Err(e) => pending.fail(200, format!("tunnel: {e}")),
        }
    }
}

/// What the audit log needs to know about a request before a decision is carried out.
#[derive(Clone)]
pub(super) struct Ctx {
    shared: Arc<Shared>,
    /// Where a `CONNECT` leaves its tunnel; none inside an intercepted one.
    tunnel: Option<TunnelSlot>,
    start: Instant,
    record: Record,
}

impl Ctx {
    /// The context of a request inside an intercepted tunnel (which cannot open another).
    pub(super) fn inside(shared: Arc<Shared>, start: Instant, record: Record) -> Ctx {
        Ctx {
            shared,
            tunnel: None,
            start,
            record,
        }
    }

    pub(super) fn pending(&self, decision: Outcome, status: u16) -> Pending {
        let mut record = self.record.clone();
        record.decision = decision;
        record.status = status;
        Pending::new(self.shared.audit.clone(), record, self.start)
    }

    /// Logs a decision answered locally and builds the answer.
    pub(super) fn answer(
        &self,
        decision: Outcome,
        status: StatusCode,
        reason: Option<String>,
    ) -> Response<ProxyBody> {
        let mut record = self.record.clone();
        record.decision = decision;
        record.status = status.as_u16();
        record.reason = reason.clone();
        record.duration_ms = self.start.elapsed().as_millis() as u64;
        self.shared.audit.write(&record);
        local(status, reason.as_deref())
    }
}

async fn handle(
    req: Request<Incoming>,
    peer: SocketAddr,
    shared: Arc<Shared>,
    tunnel: TunnelSlot,
) -> Result<Response<ProxyBody>, Infallible> {
    let start = Instant::now();
    let is_connect = req.method() == Method::CONNECT;
    // Origin-form requests are addressed to the proxy itself, not through it.
    if !is_connect && req.uri().authority().is_none() {
        if req.method() == Method::GET && req.uri().path() == "/healthz" {
            return Ok(text(StatusCode::OK, "ok\n"));
        }
        if req.method() == Method::GET && req.uri().path() == "/metrics" {
            return Ok(serve_metrics(&shared, peer, &req));
        }
        return Ok(malformed(&shared, peer, &req, "not a proxy request"));
    }
    let (host, port, path) = match target_of(req.uri(), is_connect) {
        Ok(t) => t,
        Err(reason) => return Ok(malformed(&shared, peer, &req, reason)),
    };
    let ctx = Ctx {
        record: Record {
            path: path.clone(),
            ..Record::new(peer, req.method().as_str(), host.clone(), port)
        },
        shared,
        tunnel: Some(tunnel),
        start,
    };
    let shared = &ctx.shared;
    if let Some(token) = &shared.token {
        let ok = req
            .headers()
            .get(header::PROXY_AUTHORIZATION)
            .is_some_and(|v| token.accepts(v.as_bytes()));
        if !ok {
            let mut resp = ctx.answer(
                Outcome::Denied,
                StatusCode::PROXY_AUTHENTICATION_REQUIRED,
                Some(AUTH_REQUIRED.into()),
            );
            resp.headers_mut().insert(
                header::PROXY_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"hush\", Bearer"),
            );
            return Ok(resp);
        }
    }
    let kind = if is_connect {
        Kind::Connect
    } else {
        Kind::Http
    };
    let decided = carry_out(&ctx, req, kind).await;
    Ok(if is_connect {
        close_unless_tunnel(decided)
    } else {
        decided
    })
}

/// Decides one request and carries the decision out: the one path for requests to the proxy
/// and for requests inside an intercepted tunnel (`Kind::Intercepted`, or `Kind::Http` inside
/// a `CONNECT host:80`). The target is the record's host, port and path.
pub(super) async fn carry_out(
    ctx: &Ctx,
    mut req: Request<Incoming>,
    kind: Kind,
) -> Response<ProxyBody> {
    let shared = &ctx.shared;
    let (host, port) = (ctx.record.host.as_str(), ctx.record.port);
    let target = Target {
        kind,
        host,
        port,
        path: ctx.record.path.as_deref(),
    };
    match shared.policy.decide(&target, shared.env) {
        Decision::TelemetryBlocked {
            vendor,
            answer,
            matched,
        } => {
            let is_connect = kind == Kind::Connect;
            let why = telemetry_refusal(host, &vendor, matched, shared.env);
            let resp = if is_connect {
                local(StatusCode::FORBIDDEN, Some(&why))
            } else {
                // SDKs read the answer, not the header: it can say why without breaking them.
                let resp = telemetry_response(req.into_body(), &answer, &shared.limits).await;
                with_error(resp, &why)
            };
            let mut record = ctx.record.clone();
            record.decision = Outcome::TelemetryBlocked;
            record.status = resp.status().as_u16();
            record.duration_ms = ctx.start.elapsed().as_millis() as u64;
            record.vendor = Some(vendor);
            record.reason = is_connect.then_some(why);
            shared.audit.write(&record);
            resp
        }
        Decision::Denied(reason) => ctx.answer(
            Outcome::Denied,
            StatusCode::FORBIDDEN,
            Some(refusal(&reason)),
        ),
        Decision::Tunnel if kind == Kind::Connect => {
            let on_upgrade = hyper::upgrade::on(&mut req);
            open_tunnel(ctx, on_upgrade, None).await
        }
        Decision::Intercept { tls } if kind == Kind::Connect => {
            let on_upgrade = hyper::upgrade::on(&mut req);
            open_intercept(ctx, on_upgrade, tls).await
        }
        // Inside an intercepted tunnel, the origin is the tunnel's own host and port.
        Decision::Upgrade if kind == Kind::Intercepted => {
            let origin = Origin {
                host: host.to_string(),
                port,
                tls: true,
            };
            inspect_and_forward(ctx, req, origin).await
        }
        Decision::Upgrade => {
            let origin = Origin {
                host: host.to_string(),
                port: upstream_port(port, true),
                tls: true,
            };
            inspect_and_forward(ctx, req, origin).await
        }
        Decision::Forward => {
            let origin = Origin {
                host: host.to_string(),
                port,
                tls: false,
            };
            inspect_and_forward(ctx, req, origin).await
        }
        // The policy gives tunnels and interception only to a CONNECT.
        Decision::Tunnel | Decision::Intercept { .. } => ctx.answer(
            Outcome::Error,
            StatusCode::BAD_REQUEST,
            Some("a tunnel cannot be opened here".into()),
        ),
    }
}

/// Answers an intercepted `CONNECT`: `200`, then the connection task serves what comes inside
/// (see [`intercept::Job`]). A host the CA cannot sign for is tunnelled as out of scope.
async fn open_intercept(
    ctx: &Ctx,
    on_upgrade: hyper::upgrade::OnUpgrade,
    tls: bool,
) -> Response<ProxyBody> {
    let host = &ctx.record.host;
    let leaf = match (tls, &ctx.shared.ca) {
        (false, _) => None,
        (true, Some(ca)) => match ca.leaf(host) {
            Ok(leaf) => Some(leaf),
            Err(reason) => {
                let why = format!("not intercepted: the hush CA cannot sign for it ({reason})");
                return open_tunnel(ctx, on_upgrade, Some(why)).await;
            }
        },
        (true, None) => {
            let why = "not intercepted: no CA".to_string();
            return open_tunnel(ctx, on_upgrade, Some(why)).await;
        }
    };
    let job = intercept::Job {
        on_upgrade,
        leaf,
        host: host.clone(),
        port: ctx.record.port,
        client: ctx.record.client,
        pending: ctx.pending(Outcome::Intercept, 200),
    };
    if let Some(Ok(mut slot)) = ctx.tunnel.as_ref().map(|t| t.lock()) {
        *slot = Some(Job::Intercept(job));
    }
    Response::new(empty())
}

/// After a refused `CONNECT` the connection is closed: a client may already have sent the bytes
/// meant for the tunnel (a TLS ClientHello), which must not be read as the next request.
fn close_unless_tunnel(mut resp: Response<ProxyBody>) -> Response<ProxyBody> {
    if !resp.status().is_success() {
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

/// Logs and answers a request that is not a proxy request hush can carry out.
fn malformed(
    shared: &Shared,
    peer: SocketAddr,
    req: &Request<Incoming>,
    reason: &'static str,
) -> Response<ProxyBody> {
    let mut record = Record::refused(peer, Outcome::Error, 400, reason);
    record.method = req.method().as_str().to_string();
    shared.audit.write(&record);
    let why = format!(
        "{reason}: send an absolute http:// URL, or CONNECT host:port for https \
         (GET /healthz and /metrics are the proxy's own)"
    );
    local(StatusCode::BAD_REQUEST, Some(&why))
}

/// Host (lower-case, without IPv6 brackets), port and query-less path of a proxy request.
fn target_of(uri: &Uri, is_connect: bool) -> Result<(String, u16, Option<String>), &'static str> {
    let authority = uri.authority().ok_or("request target has no host")?;
    let host = normalize_host(
        authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']'),
    );
    if host.is_empty() {
        return Err("request target has no host");
    }
    // A port is digits only, 1 to 65535 (u16's parser would take `+443`, and a port that does
    // not fit must be refused, not defaulted); an empty one means the default.
    // (`Authority::port` is none for a port that does not fit, so the text is read here.)
    let port = match port_text(authority.as_str()) {
        Some(p) if !p.is_empty() => match p.parse::<u16>() {
            Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => Some(n),
            _ => return Err("request target has an invalid port"),
        },
        _ => None,
    };
    if is_connect {
        // Authority-form only (`host:port`), as RFC 9110 §9.3.6 has it: not a URL.
        if uri.scheme().is_some() {
            return Err("CONNECT target must be host:port");
        }
        let port = port.ok_or("CONNECT target needs a port")?;
        return Ok((host, port, None));
    }
    if uri.scheme() != Some(&Scheme::HTTP) {
        return Err("only http:// URLs can be proxied; use CONNECT for https");
    }
    Ok((host, port.unwrap_or(80), Some(path_only(uri.path()))))
}

/// The port part of an authority (`user@host:port`, `[v6]:port`), as written; none without `:`.
fn port_text(authority: &str) -> Option<&str> {
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    match host_port.strip_prefix('[') {
        Some(v6) => v6.split_once(']')?.1.strip_prefix(':'),
        None => host_port.rsplit_once(':').map(|(_, port)| port),
    }
}

/// Dials upstream, answers `200`, and splices the sockets once hyper hands the client over.
/// `note` says why a tunnel was opened where interception was asked for.
async fn open_tunnel(
    ctx: &Ctx,
    on_upgrade: hyper::upgrade::OnUpgrade,
    note: Option<String>,
) -> Response<ProxyBody> {
    let shared = &ctx.shared;
    let (host, port) = (&ctx.record.host, ctx.record.port);
    // Dial before answering, so an unreachable or refused upstream gets a true status.
    let upstream =
        match upstream::connect(host, port, &shared.policy, shared.limits.connect_timeout).await {
            Ok(s) => s,
            Err(e) => return upstream_failure(ctx, &e),
        };
    let mut pending = ctx.pending(Outcome::Tunnel, 200);
    if let Some(note) = note {
        pending.set_reason(note);
    }
    // TLS hides what goes through a tunnel: the DLP sees none of it.
    if shared.dlp.is_some() {
        pending.set_dlp(NOT_INSPECTED);
    }
    let job = TunnelJob {
        on_upgrade,
        upstream,
        pending,
    };
    if let Some(Ok(mut slot)) = ctx.tunnel.as_ref().map(|t| t.lock()) {
        *slot = Some(Job::Tunnel(job));
    }
    Response::new(empty())
}

async fn splice_upgraded(
    upgraded: hyper::upgrade::Upgraded,
    upstream: TcpStream,
    timeouts: Timeouts,
    pending: &Pending,
) -> std::io::Result<Ending> {
    let counters = Counters {
        up: &pending.up,
        down: &pending.down,
    };
    match upgraded.downcast::<TokioIo<Watched<TcpStream>>>() {
        Ok(parts) => {
            tunnel::splice(
                parts.io.into_inner().into_inner(),
                upstream,
                parts.read_buf,
                timeouts,
                counters,
            )
            .await
        }
        // Not expected with a plain TCP listener; kept correct, if without the idle timeout,
        // and boxed so that its state does not weigh on every tunnel's task.
        Err(upgraded) => {
            Box::pin(async move {
                let mut client = TokioIo::new(upgraded);
                let mut upstream = upstream;
                let (up, down) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
                counters.up.fetch_add(up, Ordering::Relaxed);
                counters.down.fetch_add(down, Ordering::Relaxed);
                Ok(Ending::Closed)
            })
            .await
        }
    }
}

/// The audit note of a tunnel: TLS hides its content from the DLP.
const NOT_INSPECTED: &str = "not inspected";
/// The audit note of a request whose body was scanned up to `dlp_max_body` only.
const PARTLY_INSPECTED: &str = "partly inspected";

/// Scans a request with the DLP before any of it is sent (see [`super::dlp`]), then forwards
/// it. The head is scanned first; then the body is held up to `dlp_max_body` and scanned as
/// one piece, so a secret split across frames is found. A credential that may not go to this
/// host is answered `403` here, and nothing of the request leaves. Past the limit, the rest of
/// the body streams on unscanned, and the record says `dlp: "partly inspected"`.
async fn inspect_and_forward(
    ctx: &Ctx,
    req: Request<Incoming>,
    origin: Origin,
) -> Response<ProxyBody> {
    let Some(dlp) = ctx.shared.dlp.clone() else {
        return forward(ctx, req.map(Inspected::Untouched), origin).await;
    };
    let host = ctx.record.host.as_str();
    let (parts, body) = req.into_parts();
    let mut text = Vec::new();
    Dlp::head_text(host, &parts, &mut text);
    let (mut verdict, mut whole) = dlp.judge(host, &text);
    let body = if matches!(verdict, Verdict::Block(_)) || body.is_end_stream() {
        Inspected::Untouched(body)
    } else {
        let idle = ctx.shared.limits.idle_timeout;
        match Inspected::hold(body, dlp.max_body, idle).await {
            Ok((held, body)) => {
                let (in_body, body_whole) = dlp.judge(host, &held);
                verdict = verdict.worst(in_body);
                whole = whole && body_whole && !body.has_rest();
                body
            }
            Err(e) => {
                let why = format!("request body not received: {e}");
                return ctx.answer(Outcome::Error, StatusCode::BAD_REQUEST, Some(why));
            }
        }
    };
    let noted = |found: Option<&Found>| {
        let mut noted = ctx.clone();
        noted.record.rule = found.map(|f| f.rule.clone());
        noted.record.fingerprint = found.map(|f| f.fingerprint.clone());
        noted.record.dlp = (!whole).then_some(PARTLY_INSPECTED);
        noted
    };
    match verdict {
        Verdict::Block(found) => {
            noted(Some(&found)).answer(Outcome::DlpBlocked, StatusCode::FORBIDDEN, Some(found.why))
        }
        Verdict::Log(found) => {
            let mut noted = noted(Some(&found));
            noted.record.reason = Some(found.why);
            forward(&noted, Request::from_parts(parts, body), origin).await
        }
        Verdict::Pass if whole => forward(ctx, Request::from_parts(parts, body), origin).await,
        Verdict::Pass => forward(&noted(None), Request::from_parts(parts, body), origin).await,
    }
}

/// Sends a request on to `origin`: over verified TLS, or in clear text for `plain_http_allow`
/// hosts, on a pooled connection to the origin when one is idle. The response streams back as
/// it arrives; once read to the end, its connection is pooled again.
async fn forward(ctx: &Ctx, req: Request<Inspected>, origin: Origin) -> Response<ProxyBody> {
    let shared = &ctx.shared;
    let tls = origin.tls;
    let limit = shared.limits.response_timeout;
    let up = Arc::new(AtomicU64::new(0));
    let (req, replay) = match upstream_request(req, &origin, up.clone()) {
        Ok(r) => r,
        Err(reason) => return ctx.answer(Outcome::Error, StatusCode::BAD_REQUEST, Some(reason)),
    };
    let attempt = match shared.pool.checkout(&origin) {
        Some(sender) => match (send(sender, req, limit).await, replay) {
            // The origin dropped an idle connection as the request went out: a request that is
            // safe to repeat (idempotent, no body) goes again on a fresh connection, as a
            // browser would retry it; any other is answered 502 below.
            (Err(SendFailure::Broken(_)), Some(head)) => {
                let again = Request::from_parts(head, Upload::Empty);
                Err(SendFailure::NotSent(Box::new(again)))
            }
            (attempt, _) => attempt,
        },
        None => Err(SendFailure::NotSent(Box::new(req))),
    };
    let attempt = match attempt {
        // No idle connection, or the origin closed it before the request was written (the
        // request comes back untouched): a fresh connection.
        Err(SendFailure::NotSent(req)) => match dial(shared, &origin).await {
            Ok(sender) => send(sender, *req, limit).await,
            Err(e) => return upstream_failure(ctx, &e),
        },
        attempt => attempt,
    };
    let (sender, resp) = match attempt {
        Ok(sent) => sent,
        Err(failure) => {
            let (status, reason) = failure.answer();
            return ctx.answer(Outcome::Error, status, Some(reason));
        }
    };
    let mut pending = ctx.pending(
        if tls {
            Outcome::Upgrade
        } else {
            Outcome::Forward
        },
        resp.status().as_u16(),
    );
    pending.up = up;
    let (mut parts, body) = resp.into_parts();
    response_head(&mut parts.headers);
    let pool = shared.pool.clone();
    let body = Counted {
        inner: body,
        count: pending.down.clone(),
        pending: Some(Box::new(pending)),
        ended: false,
        on_end: Some(Box::new(move || pool.checkin(origin, sender))),
    };
    let body = Idle::new(body, shared.limits.idle_timeout);
    Response::from_parts(parts, body.boxed())
}

/// The port to dial: `http://host` and `http://host:80` become `https://host:443`; any other
/// port is kept, and a plain forward keeps its port.
fn upstream_port(asked: u16, tls: bool) -> u16 {
    if tls && asked == 80 {
        443
    } else {
        asked
    }
}

type Sender = hyper::client::conn::http1::SendRequest<Upload>;

/// Opens a new connection to `origin` (verified TLS when it says so) ready for requests.
async fn dial(shared: &Shared, origin: &Origin) -> Result<Sender, UpstreamError> {
    let limits = &shared.limits;
    let (host, port) = (origin.host.as_str(), origin.port);
    let tcp = upstream::connect(host, port, &shared.policy, limits.connect_timeout).await?;
    if origin.tls {
        // Nothing is written upstream before the handshake: the request never leaves unverified.
        let stream =
            upstream::tls_handshake(&shared.tls, host, tcp, limits.connect_timeout).await?;
        handshake(stream).await
    } else {
        handshake(tcp).await
    }
}

async fn handshake<IO>(io: IO) -> Result<Sender, UpstreamError>
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::Builder::new()
        .max_headers(MAX_HEADERS)
        .handshake(TokioIo::new(io))
        .await
        .map_err(|e| UpstreamError::Http(e.to_string()))?;
    // The connection task ends when its last sender is dropped, or the origin closes it.
    tokio::spawn(conn);
    Ok(sender)
}

/// Why a request got no response.
enum SendFailure {
    /// The connection could not take it; the request is handed back, unsent.
    NotSent(Box<Request<Upload>>),
    /// The connection failed once the request was (perhaps partly) written.
    Broken(String),
    /// No response head within the limit.
    TimedOut(String),
}

impl SendFailure {
    /// The status and reason the client gets.
    fn answer(self) -> (StatusCode, String) {
        match self {
            SendFailure::NotSent(_) => (
                StatusCode::BAD_GATEWAY,
                "upstream closed the connection before the request".into(),
            ),
            SendFailure::Broken(reason) => (StatusCode::BAD_GATEWAY, reason),
            SendFailure::TimedOut(reason) => (
                StatusCode::GATEWAY_TIMEOUT,
                format!("{reason}; allow longer with --response-timeout"),
            ),
        }
    }
}

/// Sends one request and waits (up to `limit`) for the response head.
async fn send(
    mut sender: Sender,
    req: Request<Upload>,
    limit: Duration,
) -> Result<(Sender, Response<Incoming>), SendFailure> {
    match tokio::time::timeout(limit, sender.try_send_request(req)).await {
        Err(_) => Err(SendFailure::TimedOut(format!(
            "upstream sent no response within {limit:?}"
        ))),
        Ok(Ok(resp)) => Ok((sender, resp)),
        Ok(Err(mut e)) => match e.take_message() {
            Some(req) => Err(SendFailure::NotSent(Box::new(req))),
            None => Err(SendFailure::Broken(format!("upstream: {}", e.into_error()))),
        },
    }
}

/// A request body on its way upstream: the client's, counted as it streams, or none at all.
pub enum Upload {
    Streamed(Counted<Inspected>),
    Empty,
}

impl Body for Upload {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match self.get_mut() {
            Upload::Streamed(body) => Pin::new(body).poll_frame(cx),
            Upload::Empty => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Upload::Streamed(body) => body.is_end_stream(),
            Upload::Empty => true,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Upload::Streamed(body) => body.size_hint(),
            Upload::Empty => SizeHint::with_exact(0),
        }
    }
}

/// Rewrites a proxy request for the origin: origin-form target, `Host` from the URL, and no
/// hop-by-hop or proxy headers. A request that may be sent twice (idempotent, without a body)
/// comes with a copy of its head to send again.
fn upstream_request(
    req: Request<Inspected>,
    origin: &Origin,
    up: Arc<AtomicU64>,
) -> Result<(Request<Upload>, Option<request::Parts>), String> {
    let (host, port) = (origin.host.as_str(), origin.port);
    let (mut parts, body) = req.into_parts();
    let default_port = if origin.tls { 443 } else { 80 };
    let host_name = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    let authority = if port == default_port {
        host_name
    } else {
        format!("{host_name}:{port}")
    };
    let path = parts
        .uri
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    parts.uri = Uri::from(path);
    parts.version = Version::HTTP_11;
    strip_hop_by_hop(&mut parts.headers);
    let host_value =
        HeaderValue::from_str(&authority).map_err(|_| "request host is not a valid header")?;
    parts.headers.insert(header::HOST, host_value);
    if body.is_end_stream() && parts.method.is_idempotent() {
        let replay = parts.clone();
        return Ok((Request::from_parts(parts, Upload::Empty), Some(replay)));
    }
    let body = Upload::Streamed(Counted {
        inner: body,
        count: up,
        pending: None,
        ended: false,
        on_end: None,
    });
    Ok((Request::from_parts(parts, body), None))
}

/// Prepares an origin's response head for the client: the hop-by-hop headers go, and so does
/// a `Content-Length` that came with a `Transfer-Encoding` (RFC 9112 §6.3). The transfer coding
/// framed the body as it was read; passing the length on would cut the body short, or run it
/// into the next response on the connection. The body is framed anew for the client.
fn response_head(headers: &mut HeaderMap) {
    let coded = headers.contains_key(header::TRANSFER_ENCODING);
    strip_hop_by_hop(headers);
    if coded {
        headers.remove(header::CONTENT_LENGTH);
    }
}

/// Removes the headers that describe one hop (RFC 9110 §7.6.1), including any named in
/// `Connection`, and the proxy credentials, which are for us and never for the origin.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in [
        header::CONNECTION,
        header::PROXY_AUTHORIZATION,
        header::PROXY_AUTHENTICATE,
        header::TE,
        header::TRAILER,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
    ] {
        headers.remove(name);
    }
    headers.remove("keep-alive");
    headers.remove("proxy-connection");
}

/// Logs and answers a failure to reach or trust the upstream.
fn upstream_failure(ctx: &Ctx, e: &UpstreamError) -> Response<ProxyBody> {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_GATEWAY);
    let (decision, reason) = match e {
        UpstreamError::Denied(reason) => (Outcome::Denied, refusal(reason)),
        UpstreamError::ConnectTimeout { .. } | UpstreamError::TlsTimeout { .. } => (
            Outcome::Error,
            format!("{e}; allow longer with --connect-timeout"),
        ),
        // `http://host/` went to port 443 and nothing listens there: the origin may serve
        // plain HTTP only, which hush sends only where the config says so.
        UpstreamError::Connect { addr, .. }
            if addr.port() == 443 && ctx.record.port == 80 && ctx.record.method != "CONNECT" =>
        {
            (
                Outcome::Error,
                format!(
                    "{e}; hush sends http:// requests over TLS to port 443: if {} serves only \
                     plain HTTP, list it in plain_http_allow in [proxy]",
                    ctx.record.host
                ),
            )
        }
        _ => (Outcome::Error, e.to_string()),
    };
    ctx.answer(decision, status, Some(reason))
}

/// What a `407` says: how to send the credential, never what it is.
const AUTH_REQUIRED: &str = "missing or wrong Proxy-Authorization: send the HUSH_PROXY_TOKEN \
                             value as `Proxy-Authorization: Bearer <token>` (or Basic, as the \
                             password)";

/// A policy refusal, with the setting that would allow the request.
fn refusal(reason: &Reason) -> String {
    match reason {
        Reason::ConnectPort(port) => {
            format!("{reason}; to allow it, add {port} to connect_ports in [proxy]")
        }
        // The reason names its fix already.
        Reason::InterceptOff => reason.to_string(),
        Reason::PrivateAddress(ip, range) => {
            let allow = match (range.via, ip) {
                (Some(v4), _) => format!("{v4}/32"),
                (None, std::net::IpAddr::V4(v4)) => format!("{v4}/32"),
                (None, std::net::IpAddr::V6(v6)) => format!("{v6}/128"),
            };
            format!("{reason}; to allow it, add \"{allow}\" to allow_private in [proxy]")
        }
    }
}

/// `GET /metrics`: for loopback clients only (and, under `--allow-remote`, only with the token,
/// as `Proxy-Authorization` or `Authorization`, which scrapers send).
fn serve_metrics(
    shared: &Shared,
    peer: SocketAddr,
    req: &Request<Incoming>,
) -> Response<ProxyBody> {
    if !peer.ip().to_canonical().is_loopback() {
        return local(
            StatusCode::FORBIDDEN,
            Some("/metrics answers loopback clients only: scrape it from this host"),
        );
    }
    if let Some(token) = &shared.token {
        let ok = [header::PROXY_AUTHORIZATION, header::AUTHORIZATION]
            .iter()
            .filter_map(|name| req.headers().get(name))
            .any(|v| token.accepts(v.as_bytes()));
        if !ok {
            return local(
                StatusCode::UNAUTHORIZED,
                Some(
                    "/metrics needs the HUSH_PROXY_TOKEN value as `Authorization: Bearer \
                     <token>` under --allow-remote",
                ),
            );
        }
    }
    let mut resp = text(StatusCode::OK, &shared.audit.metrics().render());
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(metrics::CONTENT_TYPE),
    );
    resp
}

/// Puts `reason` in the `x-hush-error` header; `reason` must be one clean line already.
fn with_error(mut resp: Response<ProxyBody>, reason: &str) -> Response<ProxyBody> {
    if let Ok(v) = HeaderValue::from_str(reason) {
        resp.headers_mut().insert(ERROR_HEADER, v);
    }
    resp
}

/// `reason` as one line of visible ASCII, fit for a header and a one-line body: anything else
/// (line breaks, control or non-ASCII characters) becomes '?'.
fn one_line(reason: &str) -> String {
    reason
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

/// Most of a telemetry request body the proxy reads (and drops) before answering; a larger one
/// is answered without reading the rest, and its connection closed.
pub const TELEMETRY_BODY_LIMIT: u64 = 64 << 20;

/// The local answer to a telemetry request the proxy can see (plain HTTP, or a request inside
/// an intercepted tunnel): its body is read and dropped first, then the entry's answer is sent.
/// An unread body would make hyper close the connection after the answer, and a client that
/// reuses it for its next request (SDKs keep connections alive) meets a dead connection: a
/// failure, or a retry of data it believes was sent. Reading is bounded by
/// [`TELEMETRY_BODY_LIMIT`] and, between frames, by the idle timeout.
pub(super) async fn telemetry_response<B>(
    mut body: B,
    answer: &Answer,
    limits: &Limits,
) -> Response<ProxyBody>
where
    B: Body + Unpin,
{
    let mut read: u64 = 0;
    let whole = loop {
        match tokio::time::timeout(limits.idle_timeout, body.frame()).await {
            Ok(None) => break true,
            Ok(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    read += data.remaining() as u64;
                    if read > TELEMETRY_BODY_LIMIT {
                        break false;
                    }
                }
            }
            // The client stopped sending, or the connection failed: answer anyway.
            Ok(Some(Err(_))) | Err(_) => break false,
        }
    };
    let mut resp = telemetry_answer(answer);
    if !whole {
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

/// The entry's status, content type and body.
fn telemetry_answer(answer: &Answer) -> Response<ProxyBody> {
    let body = match answer.body.is_empty() {
        true => empty(),
        false => Full::new(answer.body.clone())
            .map_err(|never| match never {})
            .boxed(),
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = answer.status;
    if let Some(ct) = &answer.content_type {
        resp.headers_mut().insert(header::CONTENT_TYPE, ct.clone());
    }
    resp
}

/// Why a `CONNECT` to a telemetry host is refused, and what would let it through.
fn telemetry_refusal(host: &str, vendor: &str, matched: Matched, env: Env) -> String {
    let dnt = if env.do_not_track {
        ", with DO_NOT_TRACK unset"
    } else {
        ""
    };
    let allow = format!(
        "to allow it, set ENABLE_TELEMETRY=1 or telemetry_allow = [\"{vendor}\"] in [proxy]{dnt}"
    );
    match matched {
        Matched::HiddenPath => format!(
            "{host} carries {vendor} telemetry on paths a tunnel would hide, blocked: \
             interception (hush ca init) lets hush see them; {allow}"
        ),
        Matched::Host | Matched::Path => format!("{host} is {vendor} telemetry, blocked: {allow}"),
    }
}

/// A response the proxy makes itself. A refusal carries its reason in `x-hush-error` and as a
/// one-line `text/plain` body; a `204` has no body (telemetry SDKs expect none), so there the
/// header alone says why.
fn local(status: StatusCode, reason: Option<&str>) -> Response<ProxyBody> {
    let reason = reason.map(one_line);
    match reason {
        _ if status == StatusCode::NO_CONTENT => {
            let mut resp = Response::new(empty());
            *resp.status_mut() = status;
            match reason {
                Some(reason) => with_error(resp, &reason),
                None => resp,
            }
        }
        Some(reason) => with_error(text(status, &format!("hush proxy: {reason}\n")), &reason),
        None => text(status, ""),
    }
}

fn text(status: StatusCode, body: &str) -> Response<ProxyBody> {
    let mut resp = Response::new(
        Full::new(Bytes::from(body.to_string()))
            .map_err(|never| match never {})
            .boxed(),
    );
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

fn empty() -> ProxyBody {
    Empty::new().map_err(|never| match never {}).boxed()
}

/// A body that counts the bytes passing through it, runs `on_end` once it has been read to the
/// end (to pool its connection), and holds the exchange's audit record (written when it is
/// dropped), noting there why a body did not reach its end.
pub struct Counted<B: Body> {
    inner: B,
    count: Arc<AtomicU64>,
    pending: Option<Box<Pending>>,
    on_end: Option<Box<dyn FnOnce() + Send + Sync>>,
    /// Read to the end, or failed with its reason noted.
    ended: bool,
}

impl<B: Body> Counted<B> {
    fn ended(&mut self) {
        self.ended = true;
        if let Some(on_end) = self.on_end.take() {
            on_end();
        }
    }

    /// Records why the body stopped short; the status already sent stays as it was.
    fn cut_off(&mut self, reason: String) {
        self.ended = true;
        if let Some(pending) = &mut self.pending {
            pending.set_reason(reason);
        }
    }
}

impl<B: Body> Drop for Counted<B> {
    fn drop(&mut self) {
        // A body hyper never polled because it was empty (204, 304, HEAD) is still whole.
        if self.inner.is_end_stream() {
            self.ended();
        } else if !self.ended {
            self.cut_off("the client left before the body ended".into());
        }
    }
}

impl<B> Body for Counted<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.count.fetch_add(data.len() as u64, Ordering::Relaxed);
                }
            }
            Poll::Ready(Some(Err(e))) => {
                let reason = format!("body cut off: {e}");
                self.cut_off(reason);
            }
            Poll::Ready(None) => self.ended(),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body from an origin that has gone quiet: nothing for `--idle-timeout` mid-body.
#[derive(Debug, thiserror::Error)]
#[error("the origin sent nothing for {0:?} in the middle of a response")]
struct Stalled(Duration);

/// A response body that fails with [`Stalled`] when no frame arrives for `limit`, so that the
/// client's connection is closed rather than left waiting on an origin that will never finish.
struct Idle<B: Body> {
    inner: Counted<B>,
    limit: Duration,
    timer: Pin<Box<tokio::time::Sleep>>,
}

impl<B: Body> Idle<B> {
    fn new(inner: Counted<B>, limit: Duration) -> Idle<B> {
        let timer = Box::pin(tokio::time::sleep(limit));
        Idle {
            inner,
            limit,
            timer,
        }
    }
}

impl<B> Body for Idle<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError> + std::fmt::Display,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                let deadline = tokio::time::Instant::now() + self.limit;
                self.timer.as_mut().reset(deadline);
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => match self.timer.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    let stalled = Stalled(self.limit);
                    self.inner.cut_off(format!("body cut off: {stalled}"));
                    Poll::Ready(Some(Err(stalled.into())))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_hop_by_hop_headers() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("close, x-secret-hop"),
        );
        h.insert("x-secret-hop", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert("proxy-connection", HeaderValue::from_static("keep-alive"));
        h.insert(
            header::PROXY_AUTHORIZATION,
            HeaderValue::from_static("Basic x"),
        );
        h.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1, "{h:?}");
        assert!(h.contains_key(header::ACCEPT));
    }

    /// Response framing cases (issue 11, item 12): a length that came with a transfer coding
    /// is dropped; a length alone is kept.
    #[test]
    fn response_framing_table() {
        type Fields = &'static [(&'static str, &'static str)];
        let cases: &[(Fields, Option<&str>)] = &[
            (&[("content-length", "11")], Some("11")),
            (&[("transfer-encoding", "chunked")], None),
            (
                &[("content-length", "5"), ("transfer-encoding", "chunked")],
                None,
            ),
            (
                &[
                    ("transfer-encoding", "gzip, chunked"),
                    ("content-length", "5"),
                ],
                None,
            ),
            (
                &[("transfer-encoding", "Chunked"), ("content-length", "0")],
                None,
            ),
            (
                &[("connection", "content-length"), ("content-length", "5")],
                None,
            ),
            (&[], None),
        ];
        for (fields, want) in cases {
            let mut h = HeaderMap::new();
            for (name, value) in *fields {
                h.append(*name, HeaderValue::from_static(value));
            }
            response_head(&mut h);
            assert!(!h.contains_key(header::TRANSFER_ENCODING), "{fields:?}");
            let got = h.get(header::CONTENT_LENGTH).map(|v| v.to_str().unwrap());
            assert_eq!(got, *want, "{fields:?}");
        }
    }

    #[test]
    fn upgrades_port_80_only() {
        assert_eq!(upstream_port(80, true), 443);
        assert_eq!(upstream_port(8080, true), 8080);
        assert_eq!(upstream_port(80, false), 80);
    }

    #[test]
    fn parses_targets() {
        let t = |s: &str, c| target_of(&s.parse().unwrap(), c);
        assert_eq!(
            t("http://Example.COM/a/b?q=1", false),
            Ok(("example.com".into(), 80, Some("/a/b".into())))
        );
        assert_eq!(
            t("http://[::1]:8080/", false),
            Ok(("::1".into(), 8080, Some("/".into())))
        );
        assert_eq!(
            t("example.com:443", true),
            Ok(("example.com".into(), 443, None))
        );
        assert!(t("https://example.com/", false).is_err());
        assert!(t("example.com", true).is_err());
        for bad in ["99999", "65536", "0", "+443", "-1"] {
            assert!(t(&format!("http://h:{bad}/"), false).is_err(), "{bad}");
            assert!(t(&format!("h:{bad}"), true).is_err(), "{bad}");
        }
        assert_eq!(
            t("http://h:/", false),
            Ok(("h".into(), 80, Some("/".into())))
        );
        assert_eq!(t("h:0443", true), Ok(("h".into(), 443, None)));
        assert_eq!(t("[::1]:8443", true), Ok(("::1".into(), 8443, None)));
        assert!(t("http://[::1]:70000/", false).is_err());
        assert!(t("http://example.com:443/", true).is_err());
    }
}
