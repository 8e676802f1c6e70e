//! Request bodies: read whole up to a limit (a declared length over it is refused before
//! reading, an endless body costs at most the limit), within the body deadline, and never a
//! multipart form where the API takes the file itself.

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::http::deadline::BodyTimeout;
use crate::service::ServiceError;

/// Reads a body of at most `limit` bytes: a declared `Content-Length` over it is refused
/// before reading, and reading stops at the limit, so an endless body costs at most `limit`
/// bytes of memory.
pub async fn read_limited(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, ServiceError> {
    let too_large = |bytes: usize| ServiceError::BodyTooLarge { bytes, limit };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if let Some(n) = declared.filter(|&n| n > limit) {
        return Err(too_large(n));
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(too_large(limit.saturating_add(1)))
        }
        Err(e) => match BodyTimeout::find(e.as_ref()) {
            Some(t) => Err(ServiceError::BodyTimeout(t.0)),
            None => Err(ServiceError::BadUpload(format!(
                "the upload could not be read to its end: {e}"
            ))),
        },
    }
}

/// Refuses a multipart form upload declared as one (`Content-Type: multipart/...`).
pub fn refuse_form_type(headers: &HeaderMap) -> Result<(), ServiceError> {
    let multipart = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with("multipart/"));
    if multipart { Err(not_raw()) } else { Ok(()) }
}

/// Refuses a body that is a multipart form sent under another content type.
pub fn refuse_form_body(body: &[u8]) -> Result<(), ServiceError> {
    if looks_like_form(body) {
        Err(not_raw())
    } else {
        Ok(())
    }
}

/// The refusal of a form upload (`curl -F`): the API takes the file itself as the body.
fn not_raw() -> ServiceError {
    ServiceError::BadUpload(
        "the body must be the raw image file, not a multipart form: send it as the whole body \
         (curl --data-binary @photo.jpg, or -T photo.jpg), not with curl -F"
            .into(),
    )
}

/// A multipart form body sent under another content type: `--boundary` then a form-data part.
fn looks_like_form(body: &[u8]) -> bool {
    const PART: &[u8] = b"content-disposition: form-data";
    let head = &body[..body.len().min(1024)];
    head.starts_with(b"--")
        && head
            .windows(PART.len())
            .any(|w| w.eq_ignore_ascii_case(PART))
}
