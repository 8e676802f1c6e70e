//! Who may call what: with `THUMBKIT_API_TOKEN`, every `/v1/` route needs the token, as
//! `Authorization: Bearer <token>` or as the password of HTTP basic auth (the only way an SNS
//! subscription can send it); with `THUMBKIT_SIGNING_KEY`, thumbnail URLs need a valid,
//! unexpired signature. Both are checked before any storage call.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
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

/// Without a token, which `Host` a write may name (`THUMBKIT_ALLOW_UNAUTHENTICATED_WRITES`
/// lifts the loopback rule for an instance behind a proxy that authenticates).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenlessWrites {
    /// Writes need a loopback `Host` (and `Origin`, when sent): a DNS-rebinding page names
    /// its own host.
    LoopbackOnly,
    /// Any `Host`; a cross-site `Origin` is still refused.
    AnyHost,
}

/// Without a token, a write (`POST`, `PUT`, `DELETE`) must name a loopback `Host`, must not
/// come from another site's page (`Origin`), and a `POST` body must be declared JSON, which a
/// page of another site cannot send without a preflight; SNS's `text/plain` messages carry
/// `x-amz-sns-message-type`, which no such page can set either.
pub async fn guard_tokenless_writes(
    State(policy): State<TokenlessWrites>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method();
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(request).await;
    }
    let headers = request.headers();
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let refuse = |detail: &str| {
        let detail = format!(
            "{detail}; without THUMBKIT_API_TOKEN writes are taken only from this machine. \
             Set a token to write from elsewhere"
        );
        problem_response(StatusCode::FORBIDDEN, "Forbidden", &detail)
    };
    if policy == TokenlessWrites::LoopbackOnly && !text(header::HOST).is_some_and(is_loopback_host)
    {
        return refuse(
            "this write names a Host that is not loopback (localhost, 127.0.0.1, [::1])",
        );
    }
    if let Some(origin) = text(header::ORIGIN) {
        // This machine's pages, or the service's own (the demo page, same origin).
        let host = origin.split_once("://").map(|(_, host)| host);
        let own = host.is_some_and(|h| {
            is_loopback_host(h) || text(header::HOST).is_some_and(|own| own.eq_ignore_ascii_case(h))
        });
        if !own {
            return refuse("this write comes from a page of another site (its Origin)");
        }
    }
    let has_body = text(header::TRANSFER_ENCODING).is_some()
        || text(header::CONTENT_LENGTH).is_some_and(|n| n.trim() != "0");
    let json = text(header::CONTENT_TYPE).is_some_and(|t| {
        let essence = t
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        essence == "application/json"
            || (essence.starts_with("application/") && essence.ends_with("+json"))
    });
    let sns = headers.contains_key("x-amz-sns-message-type");
    if *method == Method::POST && has_body && !json && !sns {
        return refuse("a POST body must be sent as `Content-Type: application/json`");
    }
    next.run(request).await
}

/// Whether a `Host` (or an origin's host) is this machine: `localhost`, `127.0.0.0/8` or
/// `[::1]`, with any port.
fn is_loopback_host(host: &str) -> bool {
    let host = host.trim();
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            _ => host,
        }
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The parameters a signed thumbnail URL may carry besides `exp` and `sig`.
const THUMBNAIL_PARAMS: &[&str] = &["v", "download"];

/// With a signing key configured, refuses thumbnail URLs without a valid, unexpired
/// signature (403), before any storage call.
pub async fn require_signature(
    State(service): State<Arc<Thumbnails>>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(signer) = &service.settings().signer {
        let uri = request.uri();
        let rules = crate::signing::Rules {
            params: THUMBNAIL_PARAMS,
            max_ahead: crate::signing::Rules::ahead_for(service.settings().signed_url_ttl),
        };
        let checked = signer.verify(
            uri.path(),
            uri.query().unwrap_or_default(),
            crate::signing::now(),
            rules,
        );
        if let Err(e) = checked {
            return problem_response(StatusCode::FORBIDDEN, "Forbidden", &e.to_string());
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::is_loopback_host;

    #[test]
    fn only_this_machine_s_names_are_loopback_hosts() {
        for host in [
            "localhost",
            "LOCALHOST:8080",
            "127.0.0.1",
            "127.9.9.9:80",
            "[::1]:8080",
            "[::1]",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "evil.rebind.example",
            "evil.rebind.example:8080",
            "localhost.evil.example",
            "127.0.0.1.nip.io",
            "10.0.0.1:8080",
            "[::2]",
            "",
            "null",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }
}
