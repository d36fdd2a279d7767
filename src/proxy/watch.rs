//! A client connection's socket that notes whether it was last read from or written to, so that
//! a connection hyper closes for want of a request head can be told apart: a head that was
//! arriving too slowly (an error, logged `408`) or a connection that was simply idle.

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
            _ => Phase::Answered,
        }
    }

    fn set(&self, phase: Phase) {
        let value = match phase {
            Phase::Fresh => 0,
            Phase::Reading => 1,
            Phase::Answered => 2,
        };
        self.0.store(value, Ordering::Relaxed);
    }
}

/// A socket whose reads and writes update a [`PhaseCell`].
pub struct Watched<T> {
    inner: T,
    phase: PhaseCell,
}

impl<T> Watched<T> {
    pub fn new(inner: T, phase: PhaseCell) -> Watched<T> {
        Watched { inner, phase }
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
        let mut io = Watched::new(ours, phase.clone());
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
