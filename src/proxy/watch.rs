//! A client connection's socket that notes whether it was last read from or written to, so that
//! a connection hyper closes for want of a request head can be told apart: a head that was
//! arriving too slowly (an error, logged `408`) or a connection that was simply idle. It also
//! gives the answers hyper writes by itself, to a head it cannot parse (`400`, `414`, `431`:
//! no request reaches the proxy's handler), the reason every refusal of hush's carries.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Where a client connection stands between requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Nothing read or written yet.
    Fresh,
    /// Bytes have arrived since the last answer: a request is on its way.
    Reading,
    /// A request reached the handler; its answer has not gone out yet.
    Handling,
    /// An answer went out and nothing has arrived since: an idle keep-alive connection.
    /// (A partial head already buffered behind a pipelined request is not seen here.)
    Answered,
}

/// The [`Phase`] of one connection, shared between its socket and the task serving it.
#[derive(Debug, Clone, Default)]
pub struct PhaseCell(Arc<AtomicU8>);

impl PhaseCell {
    pub fn get(&self) -> Phase {
        match self.0.load(Ordering::Relaxed) {
            0 => Phase::Fresh,
            1 => Phase::Reading,
            2 => Phase::Handling,
            _ => Phase::Answered,
        }
    }

    pub fn set(&self, phase: Phase) {
        let value = match phase {
            Phase::Fresh => 0,
            Phase::Reading => 1,
            Phase::Handling => 2,
            Phase::Answered => 3,
        };
        self.0.store(value, Ordering::Relaxed);
    }
}

/// A socket whose reads and writes update a [`PhaseCell`].
pub struct Watched<T> {
    inner: T,
    phase: PhaseCell,
    /// `--max-header-size`, named in the answer to a head over it.
    head_limit: usize,
    /// The rest of a rewritten answer of hyper's, still to be written.
    rewritten: Option<(Vec<u8>, usize)>,
}

impl<T> Watched<T> {
    pub fn new(inner: T, phase: PhaseCell, head_limit: usize) -> Watched<T> {
        Watched {
            inner,
            phase,
            head_limit,
            rewritten: None,
        }
    }

    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.phase.set(Phase::Reading);
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Some(polled) = this.poll_rewrite(cx, buf) {
            return polled;
        }
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.wrote(&polled);
        polled
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        // hyper's own answer goes out as one buffer; only then can it be one of them.
        if let [only] = bufs {
            if let Some(polled) = this.poll_rewrite(cx, only) {
                return polled;
            }
        }
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.wrote(&polled);
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

impl<T: AsyncWrite + Unpin> Watched<T> {
    /// Writes hush's answer in place of `buf` when `buf` is hyper's own answer to a head it
    /// could not parse; `None` when it is not. The whole of `buf` counts as written once the
    /// replacement is: hyper closes the connection after it.
    fn poll_rewrite(
        &mut self,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Option<Poll<io::Result<usize>>> {
        if self.rewritten.is_none() {
            let handled = matches!(self.phase.get(), Phase::Handling | Phase::Answered);
            let answer = (!handled)
                .then(|| hyper_refusal(buf, self.head_limit))
                .flatten()?;
            self.rewritten = Some((answer, 0));
        }
        let (answer, sent) = self.rewritten.as_mut()?;
        while *sent < answer.len() {
            match Pin::new(&mut self.inner).poll_write(cx, &answer[*sent..]) {
                Poll::Ready(Ok(0)) => return Some(Poll::Ready(Ok(0))),
                Poll::Ready(Ok(n)) => *sent += n,
                other => return Some(other),
            }
        }
        self.rewritten = None;
        self.phase.set(Phase::Answered);
        Some(Poll::Ready(Ok(buf.len())))
    }
}

/// hush's answer in place of one hyper writes by itself: `400`, `414` or `431` with no body,
/// before any request reached the handler. The same status, with the reason in `x-hush-error`
/// and a one-line `text/plain` body.
fn hyper_refusal(head: &[u8], head_limit: usize) -> Option<Vec<u8>> {
    let status = head.strip_prefix(b"HTTP/1.1 ")?.get(..3)?;
    let why = match status {
        b"400" => "malformed request: not an HTTP/1.1 request head; send an absolute http:// \
                   URL, or CONNECT host:port for https"
            .to_string(),
        b"414" => format!(
            "request target too long: the head may take {head_limit} bytes \
                           (--max-header-size)"
        ),
        b"431" => format!(
            "request head too large: over {head_limit} bytes \
                           (--max-header-size) or 500 header fields"
        ),
        _ => return None,
    };
    let text = std::str::from_utf8(head).ok()?;
    let (status_line, rest) = text.split_once("\r\n")?;
    if !rest.ends_with("\r\n\r\n") || !rest.to_ascii_lowercase().contains("content-length: 0\r\n") {
        return None;
    }
    let body = format!("hush proxy: {why}\n");
    Some(
        format!(
            "{status_line}\r\ncontent-type: text/plain; charset=utf-8\r\nx-hush-error: {why}\r\n\
             connection: close\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

impl<T> Watched<T> {
    fn wrote(&self, polled: &Poll<io::Result<usize>>) {
        if let Poll::Ready(Ok(n)) = polled {
            if *n > 0 {
                self.phase.set(Phase::Answered);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn follows_reads_and_writes() {
        let (ours, mut theirs) = tokio::io::duplex(64);
        let phase = PhaseCell::default();
        let mut io = Watched::new(ours, phase.clone(), 1024);
        assert_eq!(phase.get(), Phase::Fresh);
        theirs.write_all(b"GET").await.unwrap();
        let mut buf = [0u8; 3];
        io.read_exact(&mut buf).await.unwrap();
        assert_eq!(phase.get(), Phase::Reading);
        io.write_all(b"200").await.unwrap();
        assert_eq!(phase.get(), Phase::Answered);
        theirs.write_all(b"G").await.unwrap();
        io.read_exact(&mut buf[..1]).await.unwrap();
        assert_eq!(phase.get(), Phase::Reading);
    }
}
