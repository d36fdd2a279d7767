//! The byte-exact `CONNECT` tunnel between two TCP sockets, with an idle timeout.
//! A copy buffer exists only while a direction has data to move, so an idle tunnel costs two
//! sockets and a small task, not two 64 KiB buffers: thousands of idle tunnels stay cheap.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

const CHUNK: usize = 64 * 1024;

/// Byte counters for the audit log.
pub struct Counters<'a> {
    pub up: &'a AtomicU64,
    pub down: &'a AtomicU64,
}

/// Copies both ways until both sides have closed, one fails, or nothing moves for `idle`.
/// `early` holds bytes the client sent after its `CONNECT` head, before it saw our answer.
pub async fn splice(
    client: TcpStream,
    upstream: TcpStream,
    early: Bytes,
    idle: Duration,
    counters: Counters<'_>,
) -> io::Result<()> {
    let (client_r, client_w) = client.into_split();
    let (upstream_r, upstream_w) = upstream.into_split();
    let activity = AtomicU64::new(0);
    let up = pump(client_r, upstream_w, early, counters.up, &activity);
    let down = pump(upstream_r, client_w, Bytes::new(), counters.down, &activity);
    // One timer per tunnel: it fires every `idle` and ends the tunnel if no chunk moved since.
    let watchdog = async {
        let mut seen = activity.load(Ordering::Relaxed);
        loop {
            tokio::time::sleep(idle).await;
            let now = activity.load(Ordering::Relaxed);
            if now == seen {
                return io::Error::new(io::ErrorKind::TimedOut, "tunnel idle timeout");
            }
            seen = now;
        }
    };
    tokio::select! {
        done = async { tokio::try_join!(up, down).map(|_| ()) } => done,
        e = watchdog => Err(e),
    }
}

/// Moves one direction; on end-of-stream it half-closes the other side and returns, so a client
/// that shuts down its writing side still receives the rest of the response.
async fn pump(
    from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    early: Bytes,
    count: &AtomicU64,
    activity: &AtomicU64,
) -> io::Result<()> {
    if !early.is_empty() {
        to.write_all(&early).await?;
        count.fetch_add(early.len() as u64, Ordering::Relaxed);
    }
    loop {
        from.readable().await?;
        let mut buf = Vec::with_capacity(CHUNK);
        loop {
            match from.try_read_buf(&mut buf) {
                Ok(0) => {
                    // The peer may already be gone; the tunnel is ending either way.
                    let _ = to.shutdown().await;
                    return Ok(());
                }
                Ok(n) => {
                    to.write_all(&buf).await?;
                    buf.clear();
                    count.fetch_add(n as u64, Ordering::Relaxed);
                    activity.fetch_add(1, Ordering::Relaxed);
                }
                // Drained for now: drop the buffer and wait for the next readiness.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
    }
}
