//! The inside of an intercepted `CONNECT`: the client's stream is TLS-terminated with a leaf
//! minted for the CONNECT's host (or, for `CONNECT host:80`, read as plain HTTP), HTTP/1.1 or
//! HTTP/2 by ALPN, and each request in it is decided and carried out like a request to the
//! proxy itself (`server::carry_out`), with its own audit record.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::header;
use hyper::http::uri::Authority;
use hyper::server::conn::http2;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use super::audit::{path_only, Outcome, Pending, Record};
use super::policy::Kind;
use super::server::{carry_out, http1_server, Ctx, ProxyBody, Shared};
use super::telemetry::normalize_host;

/// An intercepted `CONNECT`, answered `200`, waiting for hyper to hand the client over.
pub struct Job {
    pub on_upgrade: hyper::upgrade::OnUpgrade,
    /// The host's leaf; `None` serves plain HTTP (`CONNECT host:80`).
    pub leaf: Option<Arc<ServerConfig>>,
    pub host: String,
    pub port: u16,
    pub client: SocketAddr,
    /// The CONNECT's own record: client-side bytes each way, and how it ended.
    pub pending: Pending,
}

impl Job {
    /// Serves the requests inside until the client leaves, goes idle, or the proxy drains.
    pub async fn run(self, shared: Arc<Shared>, stop: watch::Receiver<bool>) {
        let Job {
            on_upgrade,
            leaf,
            host,
            port,
            client,
            mut pending,
        } = self;
        let upgraded = match on_upgrade.await {
            Ok(upgraded) => upgraded,
            Err(e) => return pending.fail(200, format!("intercept: {e}")),
        };
        let activity = Arc::new(Activity::new());
        let io = Metered {
            inner: TokioIo::new(upgraded),
            up: pending.up.clone(),
            down: pending.down.clone(),
            activity: activity.clone(),
        };
        let inside = Arc::new(Inside {
            shared: shared.clone(),
            host,
            port,
            client,
            tls: leaf.is_some(),
        });
        let limit = shared.limits.header_timeout;
        let ended = match leaf {
            None => serve(io, false, inside, stop, activity).await,
            Some(leaf) => {
                match tokio::time::timeout(limit, TlsAcceptor::from(leaf).accept(io)).await {
                    Err(_) => Err(format!(
                        "the client did not finish the TLS handshake within {limit:?}"
                    )),
                    Ok(Err(e)) => Err(format!(
                        "TLS handshake with the client failed: {e} (does it trust the hush \
                         CA? see `hush ca trust`)"
                    )),
                    Ok(Ok(tls)) => {
                        let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
                        serve(tls, h2, inside, stop, activity).await
                    }
                }
            }
        };
        match ended {
            Ok(None) => {}
            Ok(Some(reason)) => pending.set_reason(reason),
            Err(reason) => pending.fail(200, reason),
        }
    }
}

/// Runs a hyper server connection to its end: shut down gracefully when the proxy drains,
/// dropped once nothing has moved either way for the idle timeout.
macro_rules! drive {
    ($conn:ident, $stop:ident, $activity:ident, $idle:ident) => {{
        let mut stop = $stop;
        let mut stopping = false;
        tokio::pin!($conn);
        let mut deadline = $activity.deadline($idle);
        loop {
            tokio::select! {
                served = $conn.as_mut() => {
                    break Ok(served.err().map(|e| format!("inside the tunnel: {e}")));
                }
                changed = stop.changed(), if !stopping => {
                    stopping = true;
                    if changed.is_ok() {
                        $conn.as_mut().graceful_shutdown();
                    }
                }
                () = tokio::time::sleep_until(deadline) => {
                    let next = $activity.deadline($idle);
                    if next <= tokio::time::Instant::now() {
                        break Ok(Some("idle timeout".to_string()));
                    }
                    deadline = next;
                }
            }
        }
    }};
}

/// Serves HTTP/1.1 or HTTP/2 on the client's stream, under the proxy's header and idle
/// timeouts and its drain. `Ok(Some(_))` is an ending worth noting, `Err` a failure.
async fn serve<IO>(
    io: IO,
    h2: bool,
    inside: Arc<Inside>,
    stop: watch::Receiver<bool>,
    activity: Arc<Activity>,
) -> Result<Option<String>, String>
where
    IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let limits = inside.shared.limits.clone();
    let service = service_fn(move |req| {
        let inside = inside.clone();
        async move { Ok::<_, Infallible>(inside.handle(req).await) }
    });
    let io = TokioIo::new(io);
    let idle = limits.idle_timeout;
    if h2 {
        let mut builder = http2::Builder::new(TokioExecutor::new());
        builder
            .timer(TokioTimer::new())
            .max_header_list_size(u32::try_from(limits.max_header_size).unwrap_or(u32::MAX));
        let conn = builder.serve_connection(io, service);
        drive!(conn, stop, activity, idle)
    } else {
        let conn = http1_server(&limits).serve_connection(io, service);
        drive!(conn, stop, activity, idle)
    }
}

/// What every request inside one intercepted tunnel shares.
struct Inside {
    shared: Arc<Shared>,
    host: String,
    port: u16,
    client: SocketAddr,
    tls: bool,
}

impl Inside {
    async fn handle(&self, req: Request<Incoming>) -> Response<ProxyBody> {
        let start = Instant::now();
        let record = Record {
            path: Some(path_only(req.uri().path())),
            ..Record::new(
                self.client,
                req.method().as_str(),
                self.host.clone(),
                self.port,
            )
        };
        let ctx = Ctx::inside(self.shared.clone(), start, record);
        if req.method() == Method::CONNECT {
            let reason = "CONNECT inside an intercepted tunnel is not supported";
            return ctx.answer(
                Outcome::Denied,
                StatusCode::METHOD_NOT_ALLOWED,
                Some(reason.into()),
            );
        }
        // The origin form's Host, or HTTP/2's :authority (and an absolute form's authority,
        // which wins over Host).
        let named = req
            .uri()
            .authority()
            .map(|a| a.as_str().to_string())
            .or_else(|| {
                req.headers()
                    .get(header::HOST)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            });
        match named {
            None => {
                let reason = "request without a Host inside an intercepted tunnel";
                return ctx.answer(Outcome::Error, StatusCode::BAD_REQUEST, Some(reason.into()));
            }
            Some(named) if !self.is_tunnel_origin(&named) => {
                // A client that reuses one connection for several hosts (HTTP/2 coalescing)
                // retries elsewhere on 421 (RFC 9110 §15.5.20); nothing goes to another host
                // than the one the CONNECT was judged for.
                let reason = format!(
                    "request for {named} inside a tunnel to {}:{}",
                    self.host, self.port
                );
                return ctx.answer(
                    Outcome::Denied,
                    StatusCode::MISDIRECTED_REQUEST,
                    Some(reason),
                );
            }
            Some(_) => {}
        }
        let kind = if self.tls {
            Kind::Intercepted
        } else {
            Kind::Http
        };
        carry_out(&ctx, req, kind).await
    }

    /// Whether an authority (`host[:port]`) names the tunnel's host and port.
    fn is_tunnel_origin(&self, authority: &str) -> bool {
        let Ok(authority) = authority.parse::<Authority>() else {
            return false;
        };
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let default = if self.tls { 443 } else { 80 };
        normalize_host(host) == self.host && authority.port_u16().unwrap_or(default) == self.port
    }
}

/// When the last byte moved on a stream, to close it after the idle timeout.
struct Activity {
    base: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            base: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let ms = self.base.elapsed().as_millis() as u64;
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn deadline(&self, idle: Duration) -> tokio::time::Instant {
        let last = self.base + Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        tokio::time::Instant::from_std(last + idle)
    }
}

/// The client's stream, counting bytes each way and noting activity.
struct Metered<T> {
    inner: T,
    up: Arc<AtomicU64>,
    down: Arc<AtomicU64>,
    activity: Arc<Activity>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Metered<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.inner).poll_read(cx, buf))?;
        let n = buf.filled().len() - before;
        if n > 0 {
            self.up.fetch_add(n as u64, Ordering::Relaxed);
            self.activity.touch();
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Metered<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let n = ready!(Pin::new(&mut self.inner).poll_write(cx, buf))?;
        self.wrote(n);
        Poll::Ready(Ok(n))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let n = ready!(Pin::new(&mut self.inner).poll_write_vectored(cx, bufs))?;
        self.wrote(n);
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl<T> Metered<T> {
    fn wrote(&self, n: usize) {
        if n > 0 {
            self.down.fetch_add(n as u64, Ordering::Relaxed);
            self.activity.touch();
        }
    }
}
