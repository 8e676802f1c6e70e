//! `GET /_peer/v2/{preset}/{fingerprint}/{ext}/{hash}/{key}`: the internal route another
//! instance asks when it takes this one to own a variant. Mounted only when peers are
//! configured, and answered only to requests signed with `THUMBKIT_PEER_SECRET` (403
//! otherwise), so it is never a way around signed thumbnail URLs; the answer is tagged with
//! the same secret, bound to the request, so nothing else can pose as this instance.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::http::problem::{problem, problem_response};
use crate::peers::Answer;
use crate::peers::auth::{ANSWER_HEADER, HEADER};
use crate::peers::client::{MADE_HEADER, OVER_BUDGET_HEADER};
use crate::service::peers::PeerAsk;
use crate::service::{ServiceError, Thumbnails};

/// The internal route.
pub fn routes() -> Router<Arc<Thumbnails>> {
    Router::new().route(
        "/_peer/v2/{preset}/{fingerprint}/{format}/{hash}/{*key}",
        get(variant),
    )
}

async fn variant(
    State(service): State<Arc<Thumbnails>>,
    Path((preset, fingerprint, format, hash, key)): Path<(String, String, String, String, String)>,
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
    let path = request.uri().path();
    let nonce = match peers.verify(given, path) {
        Ok(nonce) => nonce,
        Err(e) => return problem_response(StatusCode::FORBIDDEN, "Forbidden", &e.to_string()),
    };
    let ask = PeerAsk {
        preset: &preset,
        fingerprint: &fingerprint,
        format: &format,
        hash: &hash,
        key: &key,
    };
    match service.for_peer(ask).await {
        Ok((variant, tier)) => {
            let answer = Answer {
                content_type: variant.format.mime(),
                made: variant.made.as_str(),
                bytes: &variant.bytes,
            };
            let tag = peers.answer_tag(&nonce, path, answer);
            let mut response = variant.bytes.clone().into_response();
            let headers = response.headers_mut();
            if let Ok(tag) = HeaderValue::from_str(&tag) {
                headers.insert(header::HeaderName::from_static(ANSWER_HEADER), tag);
            }
            headers.insert(
                header::HeaderName::from_static(MADE_HEADER),
                HeaderValue::from_static(variant.made.as_str()),
            );
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
