//! The HTTP layer: routes, caching headers, conditional requests, the one place where
//! errors become `application/problem+json` (RFC 9457) responses, and the per-request log
//! line and request counter.

pub mod api;
pub mod deadline;
pub mod negotiate;
pub mod server;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::http::negotiate::accepts_webp;
use crate::http::server::ConnectionLimits;
use crate::pipeline::PipelineError;
use crate::service::{Request, ServiceError, Thumbnails};

/// `max-age` of responses whose content is not pinned with `?v=`: short, because the
/// original behind the key may be replaced.
const UNPINNED_MAX_AGE: u64 = 60;

/// `max-age` of memory hits served while the store cannot confirm the original.
const STALE_MAX_AGE: u64 = 10;

/// `max-age` of responses pinned to their content with `?v=`: a year (they never change).
const PINNED_MAX_AGE: u64 = 31_536_000;

/// Headers a request may carry (more get 431 problem+json).
pub const MAX_HEADERS: usize = 100;

/// Bytes of headers a request may carry (names and values).
pub const MAX_HEADER_BYTES: usize = 16 << 10;

/// HTTP settings that are not the service's.
#[derive(Debug, Clone)]
pub struct Options {
    /// Bearer token required by every `/v1/` route (`THUMBKIT_API_TOKEN`).
    pub api_token: Option<String>,
    /// Longest a client may take to send a request body (`THUMBKIT_BODY_TIMEOUT`).
    pub body_timeout: Duration,
    /// Timeouts and caps of connections.
    pub connections: ConnectionLimits,
    /// Who may send SNS messages to the S3 hook.
    pub sns: crate::sns::SnsOptions,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            api_token: None,
            body_timeout: Duration::from_secs(60),
            connections: ConnectionLimits::default(),
            sns: crate::sns::SnsOptions::default(),
        }
    }
}

/// The router over a service.
pub fn router(service: Arc<Thumbnails>, options: &Options) -> Router {
    Router::new()
        .route(
            "/t/{preset}/{*key}",
            get(thumbnail).route_layer(middleware::from_fn_with_state(
                service.clone(),
                require_signature,
            )),
        )
        .merge(crate::http::api::routes(options))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .fallback(|| async {
            problem_response(
                StatusCode::NOT_FOUND,
                "Not Found",
                "no such endpoint: thumbnails are at /t/{preset}/{key}, the API under /v1/",
            )
        })
        .layer(middleware::from_fn_with_state(
            options.body_timeout,
            crate::http::deadline::bound_request,
        ))
        .layer(middleware::from_fn(problems_only))
        .layer(middleware::from_fn_with_state(service.clone(), observe))
        .with_state(service)
}

/// With a signing key configured, refuses thumbnail URLs without a valid, unexpired
/// signature (403), before any storage call.
async fn require_signature(
    State(service): State<Arc<Thumbnails>>,
    request: axum::extract::Request,
    next: Next,
) -> Response {
    if let Some(signer) = &service.settings().signer {
        let uri = request.uri();
        let checked = signer.verify(
            uri.path(),
            uri.query().unwrap_or_default(),
            crate::signing::now(),
        );
        if let Err(e) = checked {
            return problem_response(StatusCode::FORBIDDEN, "Forbidden", &e.to_string());
        }
    }
    next.run(request).await
}

/// Turns every error response that is not problem+json yet (axum's rejections: a path that
/// is not UTF-8, a body over the limit, a method a route does not take) into one, keeping
/// its status, its text as the detail, and headers such as `Allow`.
async fn problems_only(request: axum::extract::Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let detail = match (text.trim(), status) {
        ("", StatusCode::METHOD_NOT_ALLOWED) => {
            "this endpoint does not take that method; see the Allow header"
        }
        ("", _) => status.canonical_reason().unwrap_or("error"),
        (text, _) => text,
    };
    let title = status.canonical_reason().unwrap_or("Error");
    let mut problem = problem_response(status, title, detail);
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE
            && name != header::CONTENT_LENGTH
            && name != header::CACHE_CONTROL
        {
            problem.headers_mut().append(name.clone(), value.clone());
        }
    }
    problem
}

/// The preset a thumbnail response was for, set by the handler for [`observe`] (only for
/// presets that exist, so metric labels stay a closed set).
#[derive(Debug, Clone)]
struct PresetName(String);

/// One log line and one count per request, with its preset, cache tier, status and duration.
async fn observe(
    State(service): State<Arc<Thumbnails>>,
    request: axum::extract::Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let cache = match response
        .headers()
        .get("x-cache")
        .and_then(|v| v.to_str().ok())
    {
        Some("hit-memory") => "hit-memory",
        Some("hit-store") => "hit-store",
        Some("miss") => "miss",
        Some("hit-failure") => "hit-failure",
        _ => "none",
    };
    let preset = response
        .extensions()
        .get::<PresetName>()
        .map_or("", |p| p.0.as_str());
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if path.starts_with("/t/") {
        service.counters().request(preset, status, cache);
    }
    tracing::info!(
        target: "thumbkit::request",
        %method,
        path = %path,
        status,
        preset,
        cache,
        ms = format_args!("{ms:.1}"),
    );
    response
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
    let router = router(service, &options);
    crate::http::server::bind(addr, router, options.connections, shutdown).await
}

#[derive(Debug, Deserialize)]
struct ThumbQuery {
    v: Option<String>,
    /// A signed URL's expiry (Unix seconds), already verified by [`require_signature`].
    exp: Option<String>,
}

async fn thumbnail(
    State(service): State<Arc<Thumbnails>>,
    Path((preset, key)): Path<(String, String)>,
    Query(query): Query<ThumbQuery>,
    headers: HeaderMap,
) -> Response {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let known = service
        .presets()
        .get(&preset)
        .map(|p| PresetName(p.name.as_str().to_owned()));
    let mut response = respond(&service, &preset, &key, query, &headers, accept).await;
    if let Some(name) = known {
        response.extensions_mut().insert(name);
    }
    response
}

async fn respond(
    service: &Thumbnails,
    preset: &str,
    key: &str,
    query: ThumbQuery,
    headers: &HeaderMap,
    accept: &str,
) -> Response {
    let signed_until = query.exp.as_deref().and_then(|e| e.parse::<u64>().ok());
    let request = Request {
        preset,
        key,
        accepts_webp: accepts_webp(accept),
        pinned: query.v.as_deref(),
        if_none_match: headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok()),
    };
    let served = match service.thumbnail(request).await {
        Ok(s) => s,
        Err(e) => return thumbnail_problem(&e),
    };
    let mut max_age = if served.pinned {
        PINNED_MAX_AGE
    } else {
        UNPINNED_MAX_AGE
    };
    // A stale answer is good for a moment only: the store may come back with news.
    if served.stale {
        max_age = max_age.min(STALE_MAX_AGE);
    }
    // No cache may keep a signed URL's response past the signature's expiry.
    if let (Some(_), Some(exp)) = (&service.settings().signer, signed_until) {
        max_age = max_age.min(exp.saturating_sub(crate::signing::now()));
    }
    let cache_control = if served.pinned {
        format!("public, max-age={max_age}, immutable")
    } else {
        format!("public, max-age={max_age}")
    };
    let mut out = HeaderMap::new();
    let mut set = |name: header::HeaderName, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            out.insert(name, v);
        }
    };
    set(header::ETAG, &served.etag);
    set(header::CACHE_CONTROL, &cache_control);
    if served.varies {
        set(header::VARY, "Accept");
    }
    if served.stale {
        set(
            header::HeaderName::from_static("x-thumbkit-stale"),
            "storage-unavailable",
        );
    }
    let (Some(variant), Some(tier)) = (served.variant, served.tier) else {
        return (StatusCode::NOT_MODIFIED, out).into_response();
    };
    set(header::HeaderName::from_static("x-cache"), tier.as_str());
    set(header::CONTENT_TYPE, variant.format.mime());
    (StatusCode::OK, out, variant.bytes.clone()).into_response()
}

async fn metrics(State(service): State<Arc<Thumbnails>>) -> Response {
    let text = service.metrics().await.encode();
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

async fn ready(State(service): State<Arc<Thumbnails>>) -> Response {
    let reachable = service.storage().check().await.map_err(ServiceError::from);
    match reachable {
        Ok(_) if !service.presets().is_empty() => (StatusCode::OK, "ready\n").into_response(),
        Ok(_) => problem_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "Not ready",
            "no presets are loaded",
        ),
        Err(e) => problem(&e),
    }
}

/// The status for each error; the only place errors meet HTTP.
fn status_of(e: &ServiceError) -> StatusCode {
    match e {
        ServiceError::UnknownPreset(_)
        | ServiceError::NotFound(_)
        | ServiceError::StalePin { .. } => StatusCode::NOT_FOUND,
        ServiceError::BadKey(_) | ServiceError::ReservedKey(_) | ServiceError::BadUpload(_) => {
            StatusCode::BAD_REQUEST
        }
        ServiceError::NoUpload(_) => StatusCode::NOT_FOUND,
        ServiceError::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
        ServiceError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        ServiceError::NothingUploaded(_) | ServiceError::Conflict(_) => StatusCode::CONFLICT,
        // 413 is about request bodies; an original over a limit is content that cannot
        // be processed, whoever stored it.
        ServiceError::Pipeline(p) | ServiceError::Remembered(p) => match p {
            PipelineError::Empty
            | PipelineError::UnsupportedFormat(_)
            | PipelineError::Truncated
            | PipelineError::Corrupt(_)
            | PipelineError::InputTooLarge { .. }
            | PipelineError::TooManyPixels { .. }
            | PipelineError::OutputTooLarge { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            PipelineError::Encode(_) | PipelineError::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        },
        ServiceError::Store(e) if !e.is_unavailable() => StatusCode::BAD_GATEWAY,
        ServiceError::Store(_)
        | ServiceError::Changed(_)
        | ServiceError::Busy
        | ServiceError::RenderTimeout(_)
        | ServiceError::Deadline(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// How long a client or CDN may keep the refusal of an original that cannot be rendered
/// (short: the original may be replaced under the same URL).
const FAILURE_MAX_AGE: u32 = 60;

/// The problem+json response for a thumbnail that cannot be served. A refusal that comes
/// from the original's bytes may be cached briefly (`X-Cache: hit-failure` when it was
/// answered from the remembered failure); every other error must not be.
fn thumbnail_problem(e: &ServiceError) -> Response {
    let mut response = problem(e);
    let (cacheable, tier) = match e {
        ServiceError::Remembered(_) => (true, Some("hit-failure")),
        ServiceError::Pipeline(p) => (p.is_property_of_input(), Some("miss")),
        _ => (false, None),
    };
    let headers = response.headers_mut();
    if cacheable && let Ok(v) = HeaderValue::from_str(&format!("public, max-age={FAILURE_MAX_AGE}"))
    {
        headers.insert(header::CACHE_CONTROL, v);
    }
    if let Some(tier) = tier {
        headers.insert(
            header::HeaderName::from_static("x-cache"),
            HeaderValue::from_static(tier),
        );
    }
    response
}

/// The problem+json response for an error.
pub(crate) fn problem(e: &ServiceError) -> Response {
    let status = status_of(e);
    let title = status.canonical_reason().unwrap_or("Error");
    let mut response = problem_response(status, title, &e.to_string());
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

/// A problem+json response (RFC 9457).
pub(crate) fn problem_response(status: StatusCode, title: &str, detail: &str) -> Response {
    let body = serde_json::json!({
        "type": "about:blank",
        "title": title,
        "status": status.as_u16(),
        "detail": detail,
    });
    // An error describes this moment; only refusals that are known to last say otherwise.
    (
        status,
        [
            (header::CONTENT_TYPE, "application/problem+json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body.to_string(),
    )
        .into_response()
}
