//! The HTTP layer, one file per group of routes, in the order a request meets them:
//! [`server`] holds the connections, [`deadline`] bounds headers and bodies, [`ops`] logs and
//! counts each request, [`auth`] checks the token and URL signatures, then [`thumbnails`]
//! (`/t/`), [`originals`], [`uploads`] and [`hooks`] (`/v1/`) answer, and [`peers`] answers
//! other instances, reading bodies through [`body`] and `Accept` through [`negotiate`].
//! Errors become problem+json in one place, [`problem`].

pub mod auth;
pub mod body;
pub mod cors;
pub mod deadline;
pub mod demo;
pub mod hooks;
pub mod negotiate;
pub mod openapi;
pub mod ops;
pub mod originals;
pub mod peers;
pub mod problem;
pub mod schemas;
pub mod server;
pub mod share;
mod socket;
pub mod thumbnails;
pub mod uploads;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::middleware;
use tower_layer::Layer;

use crate::http::problem::problem_response;
use crate::http::server::ConnectionLimits;
use crate::secrets::Secret;
use crate::service::Thumbnails;

/// HTTP settings that are not the service's.
#[derive(Debug, Clone)]
pub struct Options {
    /// Bearer token required by every `/v1/` route (`THUMBKIT_API_TOKEN`).
    pub api_token: Option<Secret>,
    /// Longest a client may take to send a request body (`THUMBKIT_BODY_TIMEOUT`).
    pub body_timeout: Duration,
    /// Timeouts and caps of connections.
    pub connections: ConnectionLimits,
    /// Who may send SNS messages to the S3 hook.
    pub sns: crate::sns::SnsOptions,
    /// Which other origins may read responses (`THUMBKIT_CORS_ORIGINS`).
    pub cors: cors::CorsOrigins,
    /// Whether `/` serves the demo page (`THUMBKIT_DEMO`).
    pub demo: bool,
    /// Without a token, which `Host` a write may name.
    pub tokenless_writes: auth::TokenlessWrites,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            api_token: None,
            body_timeout: Duration::from_secs(60),
            connections: ConnectionLimits::default(),
            sns: crate::sns::SnsOptions::default(),
            cors: cors::CorsOrigins::None,
            demo: false,
            tokenless_writes: auth::TokenlessWrites::LoopbackOnly,
        }
    }
}

/// The router over a service. With a token, every `/v1/` route needs it, reads included:
/// manifests hand out signed URLs and tell which keys exist, and each costs storage calls.
/// The one exception is the fs store's upload URL, which its ticket's signature authorises.
pub fn router(service: Arc<Thumbnails>, options: &Options) -> Router {
    let mut api = Router::new()
        .merge(originals::routes())
        .merge(uploads::routes())
        .merge(hooks::routes(&options.sns))
        .merge(ops::api_routes());
    if options.api_token.is_none() {
        api = api.route_layer(middleware::from_fn_with_state(
            options.tokenless_writes,
            auth::guard_tokenless_writes,
        ));
    }
    let api = api.route_layer(middleware::from_fn_with_state(
        auth::digest(options.api_token.as_ref().map(Secret::expose)),
        auth::require_token,
    ));
    let mut router = Router::new();
    if options.demo {
        router = router.merge(demo::routes());
    }
    // Only with peers configured (and so with their secret): never reachable without it.
    if service.peers().is_some() {
        router = router.merge(peers::routes());
    }
    let router = router
        .merge(thumbnails::routes(service.clone()))
        .merge(uploads::browser_routes())
        .merge(api)
        .merge(ops::routes())
        .route("/openapi.json", axum::routing::get(openapi::openapi_json))
        .fallback(|| async {
            problem_response(
                StatusCode::NOT_FOUND,
                "Not Found",
                "no such endpoint: thumbnails are at /t/{preset}/{key}, the API under /v1/",
            )
        })
        .with_state(service);
    // Outside the routes: a preflight is answered before any authentication.
    match options.cors.layer() {
        Some(cors) => router
            .layer(cors)
            .layer(middleware::map_response(cors::only_for_allowed)),
        None => router,
    }
}

/// The router under what every request passes, outermost first: [`ops::observe`],
/// [`problem::problems_only`], [`deadline::bound_request`]. Around the router, not inside
/// it: `Router::layer` wraps each route, and each layer then clones that route's boxed
/// service on every request (25 of a memory hit's 94 allocations).
pub fn app(service: Arc<Thumbnails>, options: &Options) -> impl server::App + use<> {
    let routes = router(service.clone(), options);
    let bounded =
        middleware::from_fn_with_state(options.body_timeout, deadline::bound_request).layer(routes);
    let problems = middleware::from_fn(problem::problems_only).layer(bounded);
    middleware::from_fn_with_state(service, ops::observe).layer(problems)
}

/// Binds `addr` (port 0 picks a free port) and returns the bound address and the server,
/// which runs until `shutdown` completes and then drains in-flight requests (for at most
/// the shutdown timeout).
pub async fn bind(
    addr: SocketAddr,
    service: Arc<Thumbnails>,
    options: Options,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<(
    SocketAddr,
    impl std::future::Future<Output = std::io::Result<()>>,
)> {
    let app = app(service, &options);
    crate::http::server::bind(addr, app, options.connections, shutdown).await
}
