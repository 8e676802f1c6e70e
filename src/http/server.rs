//! The connections under the router: how long a client may take to send its headers, how
//! long a connection may sit idle, how many may be open, and how long shutdown waits for
//! them, so that slow or idle clients can hold neither the service nor its shutdown hostage;
//! and a lingering close, so that a client still sending a body the server refused reads the
//! refusal instead of a reset connection.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use std::convert::Infallible;

use axum::body::Body;
use axum::response::Response;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::http::share::{PerClient, refusal};
use crate::http::socket::{Activity, InFlight, Tracked, Watched, linger, refuse};

pub use crate::http::share::default_max_per_client;

/// Bounds on connections (`THUMBKIT_*_TIMEOUT`, `THUMBKIT_MAX_CONNECTIONS*`,
/// `THUMBKIT_TRUSTED_PROXIES`).
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// Longest a client may take to send a request's headers.
    pub header_timeout: Duration,
    /// Longest a connection may stay open with no request in flight and no bytes moving.
    pub idle_timeout: Duration,
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// Connections one client address may hold at once (0: no cap); more are answered 429
    /// and closed, so that one address cannot take every slot.
    pub max_per_client: usize,
    /// Addresses exempt from the per-client cap: the proxies and CDNs in front, whose one
    /// address carries many clients.
    pub trusted_proxies: Arc<[ipnet::IpNet]>,
    /// After the shutdown signal, how long open connections get to finish.
    pub shutdown_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: default_max_connections(),
            max_per_client: default_max_per_client(default_max_connections()),
            trusted_proxies: Arc::from(Vec::new()),
            shutdown_timeout: Duration::from_secs(10),
        }
    }
}

/// 1024, or fewer when the process may not open that many files (a quarter of the
/// descriptors stay for the store, files and the listener).
pub fn default_max_connections() -> usize {
    let soft = crate::process::open_files_limit().unwrap_or(1024);
    (soft - soft / 4).clamp(16, 1024) as usize
}

/// What answers the requests: the router under the layers every request passes.
pub trait App:
    tower_service::Service<
        axum::extract::Request,
        Response = Response,
        Error = Infallible,
        Future: Send + 'static,
    > + Clone
    + Send
    + Sync
    + 'static
{
}

impl<S> App for S where
    S: tower_service::Service<
            axum::extract::Request,
            Response = Response,
            Error = Infallible,
            Future: Send + 'static,
        > + Clone
        + Send
        + Sync
        + 'static
{
}

/// Binds `addr` (port 0 picks a free port) and returns the bound address and the server,
/// which runs until `shutdown` completes, then lets open connections finish for
/// `shutdown_timeout` and closes the rest.
pub async fn bind(
    addr: SocketAddr,
    router: impl App,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<(SocketAddr, impl Future<Output = io::Result<()>>)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    Ok((local, serve(listener, router, limits, shutdown)))
}

async fn serve(
    listener: TcpListener,
    router: impl App,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let per_client = Arc::new(PerClient::default());
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
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of descriptors and the like: back off instead of spinning.
                tracing::warn!(error = %e, "cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let ip = peer.ip().to_canonical();
        let capped = limits.max_per_client > 0
            && !limits.trusted_proxies.iter().any(|net| net.contains(&ip));
        let client = if capped {
            let Some(client) = PerClient::take(&per_client, ip, limits.max_per_client) else {
                // Its global slot is given back at once: the refusal holds none.
                drop(slot);
                tracing::debug!(client = %ip, "a client over its connection share");
                connections.spawn(refuse(stream, refusal(limits.max_per_client)));
                continue;
            };
            Some(client)
        } else {
            None
        };
        let router = router.clone();
        let stopping = stopping.clone();
        let limits = limits.clone();
        connections.spawn(async move {
            let _slots = (slot, client);
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
    router: impl App,
    limits: ConnectionLimits,
    mut stopping: watch::Receiver<bool>,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Tracked {
        inner: Some(stream),
        activity: activity.clone(),
    });
    let tower = TowerToHyperService::new(router);
    let counted = activity.clone();
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        counted.in_flight.fetch_add(1, Ordering::Relaxed);
        // A new request means hyper read the previous body to its end after all.
        counted.unread_body.store(false, Ordering::Relaxed);
        let guard = InFlight(counted.clone());
        let request = request.map(|inner| {
            Body::new(Watched {
                inner,
                activity: counted.clone(),
                ended: false,
            })
        });
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
        .max_headers(crate::http::deadline::MAX_HEADERS * 4);
    let mut conn = Box::pin(builder.serve_connection(io, service));
    let tick = (limits.idle_timeout / 4).clamp(Duration::from_millis(20), Duration::from_secs(5));
    let mut idle_check = tokio::time::interval(tick);
    let mut draining = *stopping.borrow();
    if draining {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            _ = conn.as_mut() => break,
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
                    break;
                }
            }
        }
    }
    drop(conn);
    let parked = activity.parked.lock().ok().and_then(|mut p| p.take());
    if let Some(stream) = parked {
        linger(stream).await;
    }
}
