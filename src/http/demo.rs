//! The demo page at `/`: plain HTML, CSS and JS compiled into the binary (no build step, no
//! third-party assets), on by default for the local-directory store (`THUMBKIT_DEMO`).

use std::sync::Arc;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::service::Thumbnails;

const INDEX: &str = include_str!("../../assets/demo/index.html");
const SCRIPT: &str = include_str!("../../assets/demo/demo.js");
const STYLE: &str = include_str!("../../assets/demo/demo.css");

/// Only this origin's scripts, styles and images (and the blobs the page makes of them).
const POLICY: &str = "default-src 'self'; img-src 'self' blob: data:; object-src 'none'; \
                      base-uri 'none'; frame-ancestors 'none'";

/// The page and its two assets.
pub fn routes() -> Router<Arc<Thumbnails>> {
    Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", INDEX) }),
        )
        .route(
            "/demo/demo.js",
            get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }),
        )
        .route(
            "/demo/demo.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE) }),
        )
}

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_SECURITY_POLICY, POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
}
