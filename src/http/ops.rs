//! What operators and load balancers ask: `/healthz` (the process answers), `/readyz` (the
//! store answers and presets are loaded), `/metrics` (OpenMetrics), `/v1/presets`, and the
//! one log line and one count per request.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use crate::http::problem::problem_response;
use crate::service::{ServiceError, Thumbnails};

/// Health, readiness and metrics (no token: probes and scrapers do not carry one).
pub fn routes() -> Router<Arc<Thumbnails>> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
}

/// `/v1/presets` (behind the token, with the rest of the API).
pub fn api_routes() -> Router<Arc<Thumbnails>> {
    Router::new().route("/v1/presets", get(presets))
}

/// A span name with few values: the route's first segments, not the key.
fn route_of(path: &str) -> &'static str {
    match path.split('/').nth(1).unwrap_or_default() {
        "t" => "/t/{preset}/{key}",
        "v1" if path.starts_with("/v1/originals/") => "/v1/originals/{key}",
        "v1" if path.starts_with("/v1/uploads") => "/v1/uploads",
        "v1" => "/v1",
        "_peer" => "/_peer/v2",
        _ => "other",
    }
}

/// The preset a thumbnail response was for, set by the handler for [`observe`] (only for
/// presets that exist, so metric labels stay a closed set).
#[derive(Debug, Clone)]
pub struct LoggedPreset(pub String);

/// One log line and one count per request, with its preset, cache tier, status and duration.
pub async fn observe(
    State(service): State<Arc<Thumbnails>>,
    request: axum::extract::Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    // A clone of the URI shares its bytes: no copy of the path on every request.
    let uri = request.uri().clone();
    let path = uri.path();
    // The request's span (exported when tracing is on), a child of the caller's trace.
    let span = tracing::info_span!(
        "request",
        otel.name = %format_args!("{method} {}", route_of(path)),
        otel.kind = "server",
        http.request.method = %method,
        url.path = %path,
        http.response.status_code = tracing::field::Empty,
    );
    crate::telemetry::parent_from(&span, request.headers());
    let response = tracing::Instrument::instrument(next.run(request), span.clone()).await;
    span.record("http.response.status_code", response.status().as_u16());
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
        Some("hit-peer") => "hit-peer",
        _ => "none",
    };
    let preset = response
        .extensions()
        .get::<LoggedPreset>()
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

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "Alive", content_type = "text/plain")))]
pub(crate) async fn healthz() -> &'static str {
    "ok\n"
}

/// Prometheus/OpenMetrics text.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "The metrics", content_type = "application/openmetrics-text")))]
pub(crate) async fn metrics(State(service): State<Arc<Thumbnails>>) -> Response {
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

/// Readiness: presets loaded and the store answers.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, description = "Ready", content_type = "text/plain"), (status = "default", description = "An error", body = crate::http::schemas::Problem, content_type = "application/problem+json")))]
pub(crate) async fn ready(State(service): State<Arc<Thumbnails>>) -> Response {
    let reachable = service.storage().check().await.map_err(ServiceError::from);
    match reachable {
        Ok(_) if !service.presets().is_empty() => (StatusCode::OK, "ready\n").into_response(),
        Ok(_) => problem_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "Not ready",
            "no presets are loaded",
        ),
        Err(e) => e.into_response(),
    }
}

/// The presets with their fingerprints.
#[utoipa::path(get, path = "/v1/presets", tag = "operations", security(("token" = [])),
    responses((status = 200, description = "The presets", body = Vec<crate::http::schemas::PresetInfo>), (status = "default", description = "An error", body = crate::http::schemas::Problem, content_type = "application/problem+json")))]
pub(crate) async fn presets(State(service): State<Arc<Thumbnails>>) -> Response {
    let list: Vec<_> = service
        .presets()
        .iter()
        .map(crate::preset::Preset::listed)
        .collect();
    Json(list).into_response()
}
