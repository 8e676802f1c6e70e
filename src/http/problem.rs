//! The one place errors meet HTTP: each [`ServiceError`] gets its status and an
//! `application/problem+json` body (RFC 9457) as an [`IntoResponse`], so handlers return
//! `Result<_, ServiceError>` and use `?`; and every other error response (axum's rejections)
//! is rewritten into the same shape.

use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::caching::Caching;
use crate::pipeline::PipelineError;
use crate::service::ServiceError;

impl IntoResponse for ServiceError {
    fn into_response(self) -> Response {
        problem(&self)
    }
}

/// The status for each error; the only place errors meet HTTP.
fn status_of(e: &ServiceError) -> StatusCode {
    match e {
        ServiceError::UnknownPreset(_)
        | ServiceError::NotForSource { .. }
        | ServiceError::NotFound(_)
        | ServiceError::NoSuchSource { .. }
        | ServiceError::StalePin { .. }
        | ServiceError::OwnArea(_) => StatusCode::NOT_FOUND,
        ServiceError::TicketExpired(_) => StatusCode::GONE,
        ServiceError::LengthRequired => StatusCode::LENGTH_REQUIRED,
        ServiceError::BadKey(_) | ServiceError::ReservedKey(_) | ServiceError::BadUpload(_) => {
            StatusCode::BAD_REQUEST
        }
        ServiceError::NoUpload(_) => StatusCode::NOT_FOUND,
        ServiceError::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
        ServiceError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        ServiceError::NothingUploaded(_) | ServiceError::Conflict(_) | ServiceError::NotMine(_) => {
            StatusCode::CONFLICT
        }
        // 413 is about request bodies; an original over a limit is content that cannot
        // be processed, whoever stored it.
        ServiceError::Pipeline(p) | ServiceError::Remembered(p) => match p {
            PipelineError::Empty
            | PipelineError::UnsupportedFormat(_)
            | PipelineError::Truncated
            | PipelineError::Corrupt(_)
            | PipelineError::InputTooLarge { .. }
            | PipelineError::TooManyPixels { .. }
            | PipelineError::AnimationTooLarge { .. }
            | PipelineError::OutputTooLarge { .. }
            | PipelineError::NoSuchPage { .. }
            | PipelineError::Unavailable(_)
            | PipelineError::TooSlow { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            PipelineError::Encode(_) | PipelineError::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        },
        ServiceError::Store(e) if !e.is_unavailable() => StatusCode::BAD_GATEWAY,
        ServiceError::Store(_)
        | ServiceError::Changed(_)
        | ServiceError::Busy
        | ServiceError::RenderTimeout(_)
        | ServiceError::OverBudget(_)
        | ServiceError::Deadline(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// Whether a thumbnail error is one a fallback image answers, with its status and the
/// `X-Thumbkit-Fallback` value: a missing original (404) or one that cannot be rendered (422).
pub(crate) fn fallback_status(e: &ServiceError) -> Option<(StatusCode, &'static str)> {
    match (e, status_of(e)) {
        (ServiceError::NotFound(_) | ServiceError::NoSuchSource { .. }, _) => {
            Some((StatusCode::NOT_FOUND, "not-found"))
        }
        (_, StatusCode::UNPROCESSABLE_ENTITY) => {
            Some((StatusCode::UNPROCESSABLE_ENTITY, "unprocessable"))
        }
        _ => None,
    }
}

/// The problem+json response for a thumbnail that cannot be served. A refusal that comes
/// from the original's bytes may be cached briefly (`X-Cache: hit-failure` when it was
/// answered from the remembered failure); every other error must not be.
pub(crate) fn thumbnail_problem(e: &ServiceError) -> Response {
    let mut response = problem(e);
    let (cacheable, tier) = match e {
        ServiceError::Remembered(_) => (true, Some("hit-failure")),
        ServiceError::Pipeline(p) => (p.is_property_of_input(), Some("miss")),
        _ => (false, None),
    };
    let headers = response.headers_mut();
    if cacheable && let Ok(v) = HeaderValue::from_str(&Caching::Refusal.header(0)) {
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
pub fn problem(e: &ServiceError) -> Response {
    let status = status_of(e);
    let title = status.canonical_reason().unwrap_or("Error");
    let mut response = problem_response(status, title, &e.answered());
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

/// A problem+json response (RFC 9457).
pub fn problem_response(status: StatusCode, title: &str, detail: &str) -> Response {
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
            (header::CONTENT_TYPE, "application/problem+json".to_owned()),
            (header::CACHE_CONTROL, Caching::Error.header(0)),
        ],
        body.to_string(),
    )
        .into_response()
}

/// Turns every error response that is not problem+json yet (axum's rejections: a path that
/// is not UTF-8, a body over the limit, a method a route does not take) into one, keeping
/// its status, its text as the detail, and headers such as `Allow`.
pub(crate) async fn problems_only(request: axum::extract::Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    // A fallback image is an error answered on purpose with an image.
    let is_fallback = response.headers().contains_key("x-thumbkit-fallback");
    if !(status.is_client_error() || status.is_server_error()) || is_problem || is_fallback {
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
