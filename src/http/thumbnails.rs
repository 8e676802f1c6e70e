//! `GET /t/{preset}/{key}`: a thumbnail with the headers a CDN and a browser cache need
//! (a strong ETag, `Cache-Control` by how pinned the URL is, `Vary: Accept` when the format is
//! negotiated, `X-Cache` saying which tier answered), and 304 when the client's copy is
//! current.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::http::auth::require_signature;
use crate::http::negotiate::accepts;
use crate::http::ops::PresetName;
use crate::http::problem::thumbnail_problem;
use crate::pipeline::OutputFormat;
use crate::service::Thumbnails;
use crate::service::variants::Request;

/// `max-age` of responses whose content is not pinned with `?v=`: short, because the
/// original behind the key may be replaced.
const UNPINNED_MAX_AGE: u64 = 60;

/// `max-age` of memory hits served while the store cannot confirm the original.
const STALE_MAX_AGE: u64 = 10;

/// `max-age` of responses pinned to their content with `?v=`: a year (they never change).
const PINNED_MAX_AGE: u64 = 31_536_000;

/// The thumbnail route, behind the signature check when signing is on.
pub fn routes(service: Arc<Thumbnails>) -> Router<Arc<Thumbnails>> {
    Router::new().route(
        "/t/{preset}/{*key}",
        get(thumbnail).route_layer(middleware::from_fn_with_state(service, require_signature)),
    )
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
    let accepted: Vec<OutputFormat> = service
        .settings()
        .auto_formats
        .iter()
        .copied()
        .filter(|f| accepts(accept, f.mime()))
        .collect();
    let request = Request {
        preset,
        key,
        accepted: &accepted,
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
    if served.flattened {
        set(
            header::HeaderName::from_static("x-thumbkit-animation"),
            "flattened",
        );
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
