//! Who may call what: with `THUMBKIT_API_TOKEN`, every `/v1/` route needs the token, as
//! `Authorization: Bearer <token>` or as the password of HTTP basic auth (the only way an SNS
//! subscription can send it); with `THUMBKIT_SIGNING_KEY`, thumbnail URLs need a valid,
//! unexpired signature. Both are checked before any storage call.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::http::problem::problem_response;
use crate::service::Thumbnails;

/// The token's digest: only a digest is kept, and digests are compared in constant time
/// (blake3::Hash's ==).
pub type TokenDigest = Option<blake3::Hash>;

/// The digest of `token`, for [`require_token`].
pub fn digest(token: Option<&str>) -> TokenDigest {
    token.map(|t| blake3::hash(t.trim().as_bytes()))
}

/// Refuses a request without the API token (401, with both challenges).
pub async fn require_token(
    State(expected): State<TokenDigest>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(expected) = expected {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(given_token);
        let valid = given
            .as_deref()
            .is_some_and(|g| blake3::hash(g.trim().as_bytes()) == expected);
        if !valid {
            let detail = if given.is_some() {
                "the token is not valid"
            } else {
                "this endpoint needs the token (THUMBKIT_API_TOKEN): `Authorization: Bearer \
                 <token>`, or as the basic-auth password (https://thumbkit:<token>@host/...)"
            };
            let mut response = problem_response(StatusCode::UNAUTHORIZED, "Unauthorized", detail);
            // Both schemes: SNS sends basic-auth credentials only after a challenge for them.
            let headers = response.headers_mut();
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            headers.append(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"thumbkit\""),
            );
            return response;
        }
    }
    next.run(request).await
}

/// The token in an `Authorization` value: a bearer token, or a basic-auth password (any
/// user name).
fn given_token(value: &str) -> Option<String> {
    use base64::Engine as _;
    if let Some(token) = value.strip_prefix("Bearer ") {
        return Some(token.to_owned());
    }
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    text.split_once(':')
        .map(|(_, password)| password.to_owned())
}

/// With a signing key configured, refuses thumbnail URLs without a valid, unexpired
/// signature (403), before any storage call.
pub async fn require_signature(
    State(service): State<Arc<Thumbnails>>,
    request: Request,
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
