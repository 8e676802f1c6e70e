//! `GET /t/{preset}/{key}`: a thumbnail with the headers a CDN and a browser cache need
//! (a strong ETag, `Cache-Control` by how pinned the URL is, `Vary: Accept` when the format is
//! negotiated, `X-Cache` saying which tier answered), and 304 when the client's copy is
//! current.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::caching::{self, Caching, Hints};
use crate::http::auth::require_signature;
use crate::http::negotiate::accepts;
use crate::http::ops::LoggedPreset;
use crate::http::problem::{fallback_status, thumbnail_problem};
use crate::pipeline::OutputFormat;
use crate::service::Thumbnails;
use crate::service::fallback::Fallback;
use crate::service::variants::{Request, Served};

// Names made at compile time: a `&str` name is parsed and checked on every insert.
const CACHE_TAG: HeaderName = HeaderName::from_static("cache-tag");
const SURROGATE_KEY: HeaderName = HeaderName::from_static("surrogate-key");
const X_CACHE: HeaderName = HeaderName::from_static("x-cache");
const X_QUALITY: HeaderName = HeaderName::from_static("x-thumbkit-quality");
const X_ANIMATION: HeaderName = HeaderName::from_static("x-thumbkit-animation");
const X_STALE: HeaderName = HeaderName::from_static("x-thumbkit-stale");

/// The thumbnail route, behind the signature check when signing is on.
pub fn routes(service: Arc<Thumbnails>) -> Router<Arc<Thumbnails>> {
    Router::new().route(
        "/t/{preset}/{*key}",
        get(thumbnail).route_layer(middleware::from_fn_with_state(service, require_signature)),
    )
}

#[derive(Debug, Deserialize)]
pub(crate) struct ThumbQuery {
    v: Option<String>,
    /// A signed URL's expiry (Unix seconds), already verified by [`require_signature`].
    exp: Option<String>,
    /// `?download=1`: `Content-Disposition: attachment` instead of `inline`.
    download: Option<String>,
}

/// A thumbnail: the original at `key` rendered with `preset`.
#[utoipa::path(get, path = "/t/{preset}/{key}", tag = "thumbnails",
    params(
        ("preset" = String, Path, description = "The preset's name (or a step: `card@2x`)"),
        ("key" = String, Path, description = "The original's key; may contain `/`"),
        ("v" = Option<String>, Query, description = "The original's content hash: pins the URL (cached a year, immutable)"),
        ("exp" = Option<u64>, Query, description = "A signed URL's expiry, Unix seconds"),
        ("sig" = Option<String>, Query, description = "A signed URL's signature"),
        ("download" = Option<String>, Query, description = "`1`: Content-Disposition attachment"),
    ),
    responses(
        (status = 200, description = "The thumbnail", content(
            ("image/jpeg"), ("image/png"), ("image/webp"), ("image/avif"), ("image/gif"))),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 404, description = "No such original or preset; with a fallback image configured, that image rendered to the preset", content(
            (crate::http::schemas::Problem = "application/problem+json"),
            ("image/jpeg"), ("image/png"), ("image/webp"), ("image/avif"), ("image/gif"))),
        (status = 422, description = "The original cannot be rendered (corrupt, unsupported, over the limits); or the fallback image", content(
            (crate::http::schemas::Problem = "application/problem+json"),
            ("image/jpeg"), ("image/png"), ("image/webp"), ("image/avif"), ("image/gif"))),
        (status = "default", description = "An error", body = crate::http::schemas::Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn thumbnail(
    State(service): State<Arc<Thumbnails>>,
    Path((preset, key)): Path<(String, String)>,
    Query(query): Query<ThumbQuery>,
    headers: HeaderMap,
) -> Response {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let found = service.presets().get(&preset);
    let known = found.map(|p| LoggedPreset(p.name.as_str().to_owned()));
    // A preset that opts in to client hints picks its step for the plain URL from them.
    let hinted = found.filter(|p| p.client_hints).map(|p| {
        (
            if p.steps.by_width() {
                Hints::WidthAndDpr
            } else {
                Hints::Dpr
            },
            p.step_for_hints(dpr(&headers), width_hint(&headers)),
        )
    });
    let chosen = match &hinted {
        Some((_, Some(step))) => step.as_str(),
        _ => preset.as_str(),
    };
    let mut response = respond(&service, chosen, &key, query, &headers, accept).await;
    if let Some((hints, _)) = hinted {
        let out = response.headers_mut();
        out.insert("accept-ch", HeaderValue::from_static(hints.accept_ch()));
        // Whatever answered (thumbnail, 304, fallback, problem) depends on the hints too.
        let negotiated = out.get(header::VARY).is_some();
        if let Some(v) = caching::vary(negotiated, Some(hints))
            && let Ok(v) = HeaderValue::from_str(&v)
        {
            out.insert(header::VARY, v);
        }
    }
    tag(&mut response, &key, known.as_ref().map(|k| k.0.as_str()));
    if let Some(name) = known {
        response.extensions_mut().insert(name);
    }
    response
}

/// Names the original (a hash of its key) and the preset in `Cache-Tag` (Cloudflare) and
/// `Surrogate-Key` (Fastly), so that a CDN can purge every response about an original at
/// once, whatever it answered (a thumbnail, a 404, the fallback image).
fn tag(response: &mut Response, key: &str, preset: Option<&str>) {
    let original = caching::original_tag(key);
    let (comma, space) = match preset.map(caching::preset_tag) {
        Some(p) => ([&original, ",", &p].concat(), [&original, " ", &p].concat()),
        None => (original.clone(), original),
    };
    let out = response.headers_mut();
    // Moved into the header values, not copied: this runs on every hit.
    for (name, value) in [(CACHE_TAG, comma), (SURROGATE_KEY, space)] {
        if let Ok(v) = HeaderValue::try_from(value) {
            out.insert(name, v);
        }
    }
}

/// The device pixel ratio a client hints at (`Sec-CH-DPR`, or the legacy `DPR`).
fn dpr(headers: &HeaderMap) -> Option<f64> {
    hint(headers, &["sec-ch-dpr", "dpr"]).and_then(|v| v.parse().ok())
}

/// The width in device pixels a client hints at (`Sec-CH-Width`, or the legacy `Width`).
fn width_hint(headers: &HeaderMap) -> Option<u32> {
    hint(headers, &["sec-ch-width", "width"]).and_then(|v| v.parse().ok())
}

fn hint<'a>(headers: &'a HeaderMap, names: &[&str]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|n| headers.get(*n).and_then(|v| v.to_str().ok()))
        .map(str::trim)
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
        Err(e) => {
            if let Some((status, why)) = fallback_status(&e)
                && let Some(fallback) = Box::pin(service.fallback(preset, &accepted)).await
            {
                return fallback_response(status, why, &fallback, key);
            }
            return thumbnail_problem(&e);
        }
    };
    let signer = service.settings().signer.as_ref();
    let caching = Caching::Thumbnail {
        pinned: served.pinned,
        stale: served.stale,
        signed_until: signed_until.filter(|_| signer.is_some()),
    };
    let download = matches!(query.download.as_deref(), Some("1" | "true"));
    answer(served, caching, key, download)
}

/// A served thumbnail as a response: 200 with the variant, or 304 when the client's copy is
/// current, with the validators and how long it may be kept.
fn answer(served: Served, caching: Caching, key: &str, download: bool) -> Response {
    // Room for every header a thumbnail gets (the cache tags and hints included), so that
    // the map never grows while they are added.
    let mut out = HeaderMap::with_capacity(16);
    // Owned values move into the header and static ones are used as they are (no copy):
    // this runs on every hit.
    let mut set = |name: header::HeaderName, value: String| {
        if let Ok(v) = HeaderValue::try_from(value) {
            out.insert(name, v);
        }
    };
    set(header::ETAG, served.etag);
    if let Some(modified) = served.modified {
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(modified);
        set(header::LAST_MODIFIED, httpdate::fmt_http_date(at));
    }
    set(header::CACHE_CONTROL, caching.header(crate::signing::now()));
    if let Some(vary) = caching::vary(served.varies, None) {
        set(header::VARY, vary);
    }
    if served.flattened {
        out.insert(X_ANIMATION, HeaderValue::from_static("flattened"));
    }
    if served.stale {
        out.insert(X_STALE, HeaderValue::from_static("storage-unavailable"));
    }
    let (Some(variant), Some(tier)) = (served.variant, served.tier) else {
        return (StatusCode::NOT_MODIFIED, out).into_response();
    };
    out.insert(X_CACHE, HeaderValue::from_static(tier.as_str()));
    if let Some(q) = variant.quality {
        out.insert(X_QUALITY, HeaderValue::from(u16::from(q)));
    }
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(variant.format.mime()),
    );
    if let Ok(v) = HeaderValue::try_from(disposition(key, variant.format, download)) {
        out.insert(header::CONTENT_DISPOSITION, v);
    }
    // The map becomes the response's as it is: merging it into a fresh one re-hashes every
    // header on every hit.
    let mut response = Response::new(axum::body::Body::from(variant.bytes.clone()));
    *response.headers_mut() = out;
    response
}

/// `inline` (or `attachment`) with the key's file name, its extension the output's:
/// `filename=` in ASCII for old clients, `filename*=` in UTF-8 (RFC 6266) for the rest.
fn disposition(key: &str, format: OutputFormat, download: bool) -> String {
    let name = key.rsplit('/').next().unwrap_or(key);
    let stem = match name.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem,
        _ => name,
    };
    let file = [stem, ".", format.extension()].concat();
    let kind = if download { "attachment" } else { "inline" };
    // Built with pushes, not `format!`: this runs on every hit.
    let mut out = String::with_capacity(kind.len() + 3 * file.len() + 32);
    out.push_str(kind);
    out.push_str("; filename=\"");
    out.extend(file.chars().map(|c| match c {
        ' '..='~' if c != '"' && c != '\\' && c != '%' => c,
        _ => '_',
    }));
    out.push_str("\"; filename*=UTF-8''");
    out.extend(percent_encoding::utf8_percent_encode(
        &file,
        percent_encoding::NON_ALPHANUMERIC,
    ));
    out
}

/// The fallback image with the error's status, marked so that no cache mistakes it for the
/// thumbnail.
fn fallback_response(
    status: StatusCode,
    why: &'static str,
    fallback: &Fallback,
    key: &str,
) -> Response {
    let mut out = HeaderMap::new();
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(fallback.format.mime()),
    );
    if let Ok(v) = HeaderValue::from_str(&Caching::Fallback.header(crate::signing::now())) {
        out.insert(header::CACHE_CONTROL, v);
    }
    out.insert("x-thumbkit-fallback", HeaderValue::from_static(why));
    if let Some(v) = caching::vary(fallback.varies, None)
        && let Ok(v) = HeaderValue::from_str(&v)
    {
        out.insert(header::VARY, v);
    }
    if let Ok(v) = HeaderValue::from_str(&disposition(key, fallback.format, false)) {
        out.insert(header::CONTENT_DISPOSITION, v);
    }
    (status, out, fallback.bytes.clone()).into_response()
}
