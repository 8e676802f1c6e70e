//! `GET /_peer/v1/{preset}/{ext}/{hash}/{key}`: the internal route another instance asks
//! when it takes this one to own a variant. Mounted only when peers are configured, and
//! answered only to requests signed with `THUMBKIT_PEER_SECRET` (403 otherwise), so it is
//! never a way around signed thumbnail URLs.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::http::problem::{problem, problem_response};
use crate::peers::auth::HEADER;
use crate::peers::client::OVER_BUDGET_HEADER;
use crate::service::{ServiceError, Thumbnails};

/// The internal route.
pub fn routes() -> Router<Arc<Thumbnails>> {
    Router::new().route("/_peer/v1/{preset}/{format}/{hash}/{*key}", get(variant))
}

async fn variant(
    State(service): State<Arc<Thumbnails>>,
    Path((preset, format, hash, key)): Path<(String, String, String, String)>,
    request: Request,
) -> Response {
    let Some(peers) = service.peers() else {
        return problem_response(
            StatusCode::NOT_FOUND,
            "Not Found",
            "no peers are configured",
        );
    };
    let given = request.headers().get(HEADER).and_then(|v| v.to_str().ok());
    if let Err(e) = peers.verify(given, request.uri().path()) {
        return problem_response(StatusCode::FORBIDDEN, "Forbidden", &e.to_string());
    }
    match service.for_peer(&preset, &format, &hash, &key).await {
        Ok((variant, tier)) => {
            let mut response = variant.bytes.clone().into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(variant.format.mime()),
            );
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            headers.insert(
                header::HeaderName::from_static("x-cache"),
                HeaderValue::from_static(tier.as_str()),
            );
            response
        }
        Err(e) => {
            let mut response = problem(&e);
            if matches!(e, ServiceError::OverBudget(_)) {
                response.headers_mut().insert(
                    header::HeaderName::from_static(OVER_BUDGET_HEADER),
                    HeaderValue::from_static("1"),
                );
            }
            response
        }
    }
}
