//! A served connection's socket and request bodies: when it last moved bytes, what is in
//! flight on it, and the lingering close that lets a client read a refusal.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

/// How long a closing connection keeps reading (and discarding) a body the server did not
/// want, per read and in all, so that the client gets to read the answer; Apache's
/// lingering close waits 2 s per read and 30 s in all.
const LINGER_READ: Duration = Duration::from_secs(2);
const LINGER_MAX: Duration = Duration::from_secs(10);

/// When a connection last moved bytes, how many requests it has in flight, and whether the
/// last request left part of its body unread.
#[derive(Debug)]
pub(super) struct Activity {
    pub(super) started: Instant,
    pub(super) last_ms: AtomicU64,
    pub(super) in_flight: AtomicUsize,
    pub(super) unread_body: AtomicBool,
    /// The socket, handed back when hyper lets go of it with a body left unread.
    pub(super) parked: Mutex<Option<TcpStream>>,
}

impl Activity {
    pub(super) fn new() -> Self {
        Self {
            started: Instant::now(),
            last_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            unread_body: AtomicBool::new(false),
            parked: Mutex::new(None),
        }
    }

    pub(super) fn touch(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    pub(super) fn idle_for(&self) -> Duration {
        let now = self.started.elapsed();
        now.saturating_sub(Duration::from_millis(self.last_ms.load(Ordering::Relaxed)))
    }
}

/// A socket that records when it last moved bytes, and is handed back for a lingering
/// close when a request left its body unread.
pub(super) struct Tracked {
    pub(super) inner: Option<TcpStream>,
    pub(super) activity: Arc<Activity>,
}

impl Tracked {
    fn stream(&mut self) -> io::Result<Pin<&mut TcpStream>> {
        match self.inner.as_mut() {
            Some(s) => Ok(Pin::new(s)),
            None => Err(io::ErrorKind::NotConnected.into()),
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if self.activity.unread_body.load(Ordering::Relaxed)
            && let Some(stream) = self.inner.take()
            && let Ok(mut parked) = self.activity.parked.lock()
        {
            *parked = Some(stream);
        }
    }
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = match self.stream() {
            Ok(s) => s.poll_read(cx, buf),
            Err(e) => return Poll::Ready(Err(e)),
        };
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = match self.stream() {
            Ok(s) => s.poll_write(cx, buf),
            Err(e) => return Poll::Ready(Err(e)),
        };
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    /// The head and the body in one `writev`: without it hyper copies every body into its
    /// own buffer first (7% of a memory hit's CPU, measured with `perf` under wrk).
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = match self.stream() {
            Ok(s) => s.poll_write_vectored(cx, bufs),
            Err(e) => return Poll::Ready(Err(e)),
        };
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.stream() {
            Ok(s) => s.poll_flush(cx),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.stream() {
            Ok(s) => s.poll_shutdown(cx),
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

/// A request body that tells the connection when it is dropped before its end (a refusal
/// that did not read it).
pub(super) struct Watched {
    pub(super) inner: Incoming,
    pub(super) activity: Arc<Activity>,
    pub(super) ended: bool,
}

impl HttpBody for Watched {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(None) = polled {
            self.ended = true;
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

impl Drop for Watched {
    fn drop(&mut self) {
        if !self.ended && !self.inner.is_end_stream() {
            self.activity.unread_body.store(true, Ordering::Relaxed);
        }
    }
}

/// Sends FIN after the answer, then reads and discards what the client is still sending
/// until it closes, pauses for [`LINGER_READ`] or [`LINGER_MAX`] has passed: closing a
/// socket with unread bytes resets it, and the reset destroys the answer the client has
/// not read yet.
pub(super) async fn linger(mut stream: TcpStream) {
    let _ = stream.shutdown().await;
    let mut sink = vec![0u8; 64 << 10];
    let _ = tokio::time::timeout(LINGER_MAX, async {
        while let Ok(Ok(n)) = tokio::time::timeout(LINGER_READ, stream.read(&mut sink)).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

/// Sends `answer` on a connection that will not be served, then closes it lingering.
pub(super) async fn refuse(mut stream: TcpStream, answer: Vec<u8>) {
    let sent = tokio::time::timeout(LINGER_READ, stream.write_all(&answer)).await;
    if matches!(sent, Ok(Ok(()))) {
        linger(stream).await;
    }
}

/// Counts a request as in flight until its response is produced.
pub(super) struct InFlight(pub(super) Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.0.touch();
    }
}
