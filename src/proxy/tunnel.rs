//! The byte-exact `CONNECT` tunnel between two TCP sockets, with an idle timeout.
//! On Linux the bytes move socket → pipe → socket with `splice(2)`, never through user space;
//! elsewhere (or out of descriptors) through a buffer. Either way a pipe or buffer is held only
//! while a direction has data to move, so thousands of idle tunnels stay cheap.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::time::Instant;

const CHUNK: usize = 64 * 1024;

/// Byte counters for the audit log.
pub struct Counters<'a> {
    pub up: &'a AtomicU64,
    pub down: &'a AtomicU64,
}

/// Which end of a tunnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Client,
    Upstream,
}

/// How a tunnel ended, when no socket failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Both sides closed.
    Closed,
    /// Nothing moved either way for the idle timeout.
    Idle,
    /// This side closed its sending side, and the other neither sent anything nor closed for
    /// the half-close grace period.
    HalfClosed(Side),
}

/// How long a tunnel may sit without traffic: `idle` while both sides are open, then `grace`
/// (at most `idle`) once one side has closed its sending side.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub idle: Duration,
    pub grace: Duration,
}

/// Copies both ways until both sides have closed, one fails, or nothing moves for too long.
/// `early` holds bytes the client sent after its `CONNECT` head, before it saw our answer.
pub async fn splice(
    client: TcpStream,
    upstream: TcpStream,
    early: Bytes,
    timeouts: Timeouts,
    counters: Counters<'_>,
) -> io::Result<Ending> {
    let (client_r, client_w) = client.into_split();
    let (upstream_r, mut upstream_w) = upstream.into_split();
    if !early.is_empty() {
        upstream_w.write_all(&early).await?;
        counters.up.fetch_add(early.len() as u64, Ordering::Relaxed);
    }
    // `early` is a slice of hyper's whole read buffer: release it rather than hold it open.
    drop(early);
    let activity = Activity::new();
    let up = pump(client_r, upstream_w, counters.up, &activity);
    let down = pump(upstream_r, client_w, counters.down, &activity);
    tokio::pin!(up, down);
    let (mut up_open, mut down_open) = (true, true);
    // A side that closes is passed on at once (half-close); the other then gets the grace
    // period, not the idle timeout: a client that has gone while the upstream never closes
    // would otherwise hold its connection slot for minutes.
    while up_open || down_open {
        let both = up_open && down_open;
        let limit = if both {
            timeouts.idle
        } else {
            timeouts.grace.min(timeouts.idle)
        };
        tokio::select! {
            done = &mut up, if up_open => {
                done?;
                up_open = false;
                activity.touch();
            }
            done = &mut down, if down_open => {
                done?;
                down_open = false;
                activity.touch();
            }
            () = quiet_for(&activity, limit) => {
                return Ok(match (both, up_open) {
                    (true, _) => Ending::Idle,
                    (false, false) => Ending::HalfClosed(Side::Client),
                    (false, true) => Ending::HalfClosed(Side::Upstream),
                });
            }
        }
    }
    Ok(Ending::Closed)
}

/// Resolves once no bytes have moved for `limit`. One timer per tunnel, set for `limit` after
/// the last bytes moved; moving bytes does not touch the timer, only a clock reading, and the
/// timer is re-armed when it fires.
async fn quiet_for(activity: &Activity, limit: Duration) {
    loop {
        let deadline = activity.last() + limit;
        if Instant::now() >= deadline {
            return;
        }
        tokio::time::sleep_until(deadline).await;
    }
}

/// When a tunnel last moved bytes, kept as milliseconds since it opened so that both
/// directions can note it with one relaxed store.
struct Activity {
    opened: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            opened: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let ms = self.opened.elapsed().as_millis() as u64;
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.opened + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }
}

/// Moves one direction; on end-of-stream it half-closes the other side and returns, so a client
/// that shuts down its writing side still receives the rest of the response.
async fn pump(
    from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    count: &AtomicU64,
    activity: &Activity,
) -> io::Result<()> {
    loop {
        from.readable().await?;
        // Boxed: the state of a burst exists only while data moves, so an idle tunnel's task
        // stays a few hundred bytes.
        if let Burst::Eof = Box::pin(burst(&from, &mut to, count, activity)).await? {
            // The peer may already be gone; the tunnel is ending either way.
            let _ = to.shutdown().await;
            return Ok(());
        }
    }
}

/// How a burst of reading ended.
enum Burst {
    /// The source has nothing more for now.
    Drained,
    /// The source closed its side.
    Eof,
}

/// Moves what the source has right now to the destination.
async fn burst(
    from: &OwnedReadHalf,
    to: &mut OwnedWriteHalf,
    count: &AtomicU64,
    activity: &Activity,
) -> io::Result<Burst> {
    #[cfg(target_os = "linux")]
    if let Some(pipe) = splicing::Pipe::take() {
        let end = splicing::burst(from, to, &pipe, count, activity).await?;
        pipe.give_back();
        return Ok(end);
    }
    let mut buf = Vec::with_capacity(CHUNK);
    loop {
        match from.try_read_buf(&mut buf) {
            Ok(0) => return Ok(Burst::Eof),
            Ok(n) => {
                to.write_all(&buf).await?;
                buf.clear();
                count.fetch_add(n as u64, Ordering::Relaxed);
                activity.touch();
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Burst::Drained),
            Err(e) => return Err(e),
        }
    }
}

/// Zero-copy moves with `splice(2)` through a pipe borrowed from a small shared pool.
#[cfg(target_os = "linux")]
mod splicing {
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Mutex;

    use tokio::io::Interest;
    use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

    use super::{Activity, Burst};

    /// Bytes a pipe holds: the most an unprivileged process may ask for (`pipe-max-size`), so
    /// a busy tunnel moves ~700 KiB per call. Pages are held only while data is in flight; if
    /// the per-user pipe budget is spent, new pipes keep the default 64 KiB and still work.
    const PIPE_SIZE: libc::c_int = 1024 * 1024;
    /// Idle pipes kept for reuse; beyond this they are closed.
    const POOL_MAX: usize = 64;

    static POOL: Mutex<Vec<Pipe>> = Mutex::new(Vec::new());

    /// An empty pipe (both ends non-blocking). Only empty pipes go back to the pool.
    pub struct Pipe {
        read: OwnedFd,
        write: OwnedFd,
    }

    impl Pipe {
        /// A pooled pipe or a new one; `None` if none can be made (e.g. out of descriptors),
        /// and the caller copies through a buffer instead.
        pub fn take() -> Option<Pipe> {
            if let Some(pipe) = POOL.lock().ok().and_then(|mut pool| pool.pop()) {
                return Some(pipe);
            }
            let mut fds = [0 as RawFd; 2];
            // SAFETY: `fds` is a valid array of two descriptors for pipe2 to fill.
            if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } != 0 {
                return None;
            }
            // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else.
            let pipe = unsafe {
                Pipe {
                    read: OwnedFd::from_raw_fd(fds[0]),
                    write: OwnedFd::from_raw_fd(fds[1]),
                }
            };
            // A failure leaves the default size, which still works.
            // SAFETY: plain fcntl on a descriptor we own.
            unsafe { libc::fcntl(pipe.write.as_raw_fd(), libc::F_SETPIPE_SZ, PIPE_SIZE) };
            Some(pipe)
        }

        pub fn give_back(self) {
            if let Ok(mut pool) = POOL.lock() {
                if pool.len() < POOL_MAX {
                    pool.push(self);
                }
            }
        }
    }

    fn splice(from: RawFd, to: RawFd, len: usize) -> io::Result<usize> {
        let flags = libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK;
        // SAFETY: both descriptors are open for the duration of the call; null offsets mean
        // "current position", as sockets and pipes require.
        let n = unsafe {
            libc::splice(
                from,
                std::ptr::null_mut(),
                to,
                std::ptr::null_mut(),
                len,
                flags,
            )
        };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    }

    /// Moves data until the source is drained or closed. The pipe is empty again on `Ok`.
    pub async fn burst(
        from: &OwnedReadHalf,
        to: &OwnedWriteHalf,
        pipe: &Pipe,
        count: &AtomicU64,
        activity: &Activity,
    ) -> io::Result<Burst> {
        let (from, to) = (from.as_ref(), to.as_ref());
        let (src, dst) = (from.as_raw_fd(), to.as_raw_fd());
        loop {
            // The pipe is empty here, so EAGAIN can only mean the socket has nothing to read.
            let read = from.try_io(Interest::READABLE, || {
                splice(src, pipe.write.as_raw_fd(), PIPE_SIZE as usize)
            });
            let n = match read {
                Ok(0) => return Ok(Burst::Eof),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Burst::Drained),
                Err(e) => return Err(e),
            };
            let mut left = n;
            while left > 0 {
                let written = to.try_io(Interest::WRITABLE, || {
                    splice(pipe.read.as_raw_fd(), dst, left)
                });
                match written {
                    Ok(m) => left -= m,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => to.writable().await?,
                    Err(e) => return Err(e),
                }
            }
            count.fetch_add(n as u64, Ordering::Relaxed);
            activity.touch();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    /// A connected loopback pair: (the far end a test drives, the end the tunnel gets).
    async fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let far = TcpStream::connect(listener.local_addr().unwrap());
        let (far, near) = tokio::join!(far, listener.accept());
        (far.unwrap(), near.unwrap().0)
    }

    const TIMEOUTS: Timeouts = Timeouts {
        idle: Duration::from_secs(60),
        grace: Duration::from_millis(200),
    };

    /// Runs a tunnel between the near ends; returns the far ends and the tunnel's task.
    async fn tunnel() -> (
        TcpStream,
        TcpStream,
        tokio::task::JoinHandle<io::Result<Ending>>,
    ) {
        let (client, client_near) = pair().await;
        let (upstream, upstream_near) = pair().await;
        let task = tokio::spawn(async move {
            let (up, down) = (AtomicU64::new(0), AtomicU64::new(0));
            let counters = Counters {
                up: &up,
                down: &down,
            };
            splice(client_near, upstream_near, Bytes::new(), TIMEOUTS, counters).await
        });
        (client, upstream, task)
    }

    async fn ending(task: tokio::task::JoinHandle<io::Result<Ending>>) -> (Ending, Duration) {
        let start = Instant::now();
        let end = tokio::time::timeout(Duration::from_secs(10), task).await;
        (end.unwrap().unwrap().unwrap(), start.elapsed())
    }

    #[tokio::test]
    async fn a_side_that_closes_leaves_the_other_a_grace_period() {
        // The client goes; the upstream never answers or closes.
        let (client, mut upstream, task) = tunnel().await;
        drop(client);
        let mut buf = [0u8; 16];
        assert_eq!(
            upstream.read(&mut buf).await.unwrap(),
            0,
            "half-closed at once"
        );
        let (end, took) = ending(task).await;
        assert_eq!(end, Ending::HalfClosed(Side::Client));
        assert!(took < Duration::from_secs(3), "{took:?}");

        // The upstream closes its side; the client stays open and silent.
        let (mut client, mut upstream, task) = tunnel().await;
        upstream.shutdown().await.unwrap();
        assert_eq!(
            client.read(&mut buf).await.unwrap(),
            0,
            "half-closed at once"
        );
        let (end, _) = ending(task).await;
        assert_eq!(end, Ending::HalfClosed(Side::Upstream));
        drop(upstream);
    }

    #[tokio::test]
    async fn a_response_still_flowing_after_a_half_close_is_not_cut() {
        let (mut client, mut upstream, task) = tunnel().await;
        client.shutdown().await.unwrap();
        // Five bytes 100 ms apart: 500 ms in all, longer than the 200 ms grace period.
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            upstream.write_all(b"x").await.unwrap();
        }
        upstream.shutdown().await.unwrap();
        let mut got = Vec::new();
        client.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"xxxxx");
        assert_eq!(ending(task).await.0, Ending::Closed);
    }
}
