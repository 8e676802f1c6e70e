//! What one request may cost the server before a handler sees it: at most [`MAX_HEADERS`]
//! headers of [`MAX_HEADER_BYTES`],
//! and a body that arrives whole within the body timeout (a client sending a byte a second
//! is cut off, not waited for).

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};

use crate::http::problem::problem_response;

/// Headers a request may carry (more get 431 problem+json).
pub const MAX_HEADERS: usize = 100;

/// Bytes of headers a request may carry (names and values).
pub const MAX_HEADER_BYTES: usize = 16 << 10;

/// A request body that did not arrive within the body timeout.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {0:?}")]
pub struct BodyTimeout(pub Duration);

impl BodyTimeout {
    /// The timeout behind a body-reading error, if that is what it was.
    pub fn find<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a BodyTimeout> {
        let mut cause = Some(e);
        while let Some(c) = cause {
            if let Some(t) = c.downcast_ref::<BodyTimeout>() {
                return Some(t);
            }
            cause = c.source();
        }
        None
    }
}

/// Refuses oversized headers with 431 and gives a request's body a deadline.
pub async fn bound_request(
    State(body_timeout): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    let bytes: usize = headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len())
        .sum();
    if headers.len() > MAX_HEADERS || bytes > MAX_HEADER_BYTES {
        let detail = format!(
            "the request carries {} headers of {bytes} bytes; at most {MAX_HEADERS} headers of \
             {MAX_HEADER_BYTES} bytes are accepted",
            headers.len()
        );
        return problem_response(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "Request Header Fields Too Large",
            &detail,
        );
    }
    // Only requests that have a body pay for a timer.
    let has_body = headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0");
    if !has_body {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let bounded = Body::new(Deadline {
        inner: body,
        sleep: Box::pin(tokio::time::sleep(body_timeout)),
        after: body_timeout,
    });
    next.run(Request::from_parts(parts, bounded)).await
}

/// A body that fails with [`BodyTimeout`] once its deadline passes.
struct Deadline {
    inner: Body,
    sleep: Pin<Box<tokio::time::Sleep>>,
    after: Duration,
}

impl HttpBody for Deadline {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(Box::new(BodyTimeout(self.after)))));
        }
        Pin::new(&mut self.inner)
            .poll_frame(cx)
            .map_err(axum::BoxError::from)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
