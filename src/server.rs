//! The connections under the router: how long a client may take to send its headers, how
//! long a connection may sit idle, how many may be open, and how long shutdown waits for
//! them, so that slow or idle clients can hold neither the service nor its shutdown hostage.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

/// Bounds on connections (`THUMBKIT_*_TIMEOUT`, `THUMBKIT_MAX_CONNECTIONS`).
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Longest a client may take to send a request's headers.
    pub header_timeout: Duration,
    /// Longest a connection may stay open with no request in flight and no bytes moving.
    pub idle_timeout: Duration,
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// After the shutdown signal, how long open connections get to finish.
    pub shutdown_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: default_max_connections(),
            shutdown_timeout: Duration::from_secs(10),
        }
    }
}

/// 1024, or fewer when the process may not open that many files (a quarter of the
/// descriptors stay for the store, files and the listener).
pub fn default_max_connections() -> usize {
    let soft = crate::runtime::open_files_limit().unwrap_or(1024);
    (soft - soft / 4).clamp(16, 1024) as usize
}

/// When a connection last moved bytes, and how many requests it has in flight.
#[derive(Debug)]
struct Activity {
    started: Instant,
    last_ms: AtomicU64,
    in_flight: AtomicUsize,
}

impl Activity {
    fn new() -> Self {
        Self {
            started: Instant::now(),
            last_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn idle_for(&self) -> Duration {
        let now = self.started.elapsed();
        now.saturating_sub(Duration::from_millis(self.last_ms.load(Ordering::Relaxed)))
    }
}

/// A socket that records when it last moved bytes.
struct Tracked {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
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
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Counts a request as in flight until its response is produced.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.0.touch();
    }
}

/// Binds `addr` (port 0 picks a free port) and returns the bound address and the server,
/// which runs until `shutdown` completes, then lets open connections finish for
/// `shutdown_timeout` and closes the rest.
pub async fn bind(
    addr: SocketAddr,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<(SocketAddr, impl Future<Output = io::Result<()>>)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    Ok((local, serve(listener, router, limits, shutdown)))
}

async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let (stop, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // Reap finished connections so the set stays the size of the open ones.
        while connections.try_join_next().is_some() {}
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => slot,
        };
        let Ok(slot) = slot else { break };
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of descriptors and the like: back off instead of spinning.
                tracing::warn!(error = %e, "cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let stopping = stopping.clone();
        connections.spawn(async move {
            let _slot = slot;
            connection(stream, router, limits, stopping).await;
        });
    }
    drop(listener);
    let _ = stop.send(true);
    let open = connections.len();
    let deadline = tokio::time::sleep(limits.shutdown_timeout);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            next = connections.join_next() => if next.is_none() { break },
            () = &mut deadline => {
                tracing::warn!(open = connections.len(), of = open, "closing connections still open at the shutdown deadline");
                connections.abort_all();
                while connections.join_next().await.is_some() {}
                break;
            }
        }
    }
    Ok(())
}

/// Serves one connection until the client closes it, it has been idle too long, or shutdown
/// (which lets a request in flight finish).
async fn connection(
    stream: TcpStream,
    router: Router,
    limits: ConnectionLimits,
    mut stopping: watch::Receiver<bool>,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Tracked {
        inner: stream,
        activity: activity.clone(),
    });
    let tower = TowerToHyperService::new(router);
    let counted = activity.clone();
    let service = hyper::service::service_fn(move |request| {
        counted.in_flight.fetch_add(1, Ordering::Relaxed);
        let guard = InFlight(counted.clone());
        let call = hyper::service::Service::call(&tower, request);
        async move {
            let response = call.await;
            drop(guard);
            response
        }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        // Above axum's checks, which answer with problem+json up to their own limits.
        .max_headers(crate::http::MAX_HEADERS * 4);
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let tick = (limits.idle_timeout / 4).clamp(Duration::from_millis(20), Duration::from_secs(5));
    let mut idle_check = tokio::time::interval(tick);
    let mut draining = *stopping.borrow();
    if draining {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            _ = conn.as_mut() => return,
            changed = stopping.changed(), if !draining => {
                if changed.is_err() || *stopping.borrow() {
                    draining = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
            _ = idle_check.tick() => {
                if activity.in_flight.load(Ordering::Relaxed) == 0
                    && activity.idle_for() >= limits.idle_timeout
                {
                    return;
                }
            }
        }
    }
}
