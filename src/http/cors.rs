//! CORS for browsers on other origins: an allowlist (`THUMBKIT_CORS_ORIGINS`), preflights for
//! the upload API answered before authentication, and never `*` together with credentials.

use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::response::Response;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// How long a browser may cache a preflight's answer, in seconds.
const PREFLIGHT_MAX_AGE: u64 = 600;

/// Who may read thumbkit's responses from another origin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CorsOrigins {
    /// No one (no CORS headers at all): the default.
    #[default]
    None,
    /// Any origin, without credentials (`*`).
    Any,
    /// These origins (`https://app.example`), with credentials.
    List(Vec<String>),
}

impl CorsOrigins {
    /// `*`, or origins separated by `,` (`scheme://host[:port]`, no path); empty is none.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let origins: Vec<&str> = spec
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if origins.is_empty() {
            return Ok(Self::None);
        }
        if origins.contains(&"*") {
            return match origins.len() {
                1 => Ok(Self::Any),
                _ => Err("`*` allows every origin: list origins or give `*` alone".into()),
            };
        }
        for origin in &origins {
            let rest = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"))
                .ok_or_else(|| {
                    format!("`{origin}` is not an origin: it starts with https:// or http://")
                })?;
            if rest.is_empty() || rest.contains(['/', '?', '#', ' ']) {
                return Err(format!(
                    "`{origin}` is not an origin: write scheme://host[:port], with no path or trailing /"
                ));
            }
        }
        Ok(Self::List(origins.into_iter().map(str::to_owned).collect()))
    }

    /// The layer that answers preflights and adds CORS headers, if any origin is allowed.
    pub fn layer(&self) -> Option<CorsLayer> {
        let base = CorsLayer::new()
            .allow_methods([
                Method::GET,
                Method::HEAD,
                Method::POST,
                Method::PUT,
                Method::DELETE,
            ])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::IF_NONE_MATCH,
                header::IF_MODIFIED_SINCE,
            ])
            .expose_headers([
                header::ETAG,
                header::CONTENT_DISPOSITION,
                header::LAST_MODIFIED,
                HeaderName::from_static("x-cache"),
                HeaderName::from_static("x-thumbkit-fallback"),
                HeaderName::from_static("x-thumbkit-animation"),
                HeaderName::from_static("x-thumbkit-quality"),
            ])
            .max_age(std::time::Duration::from_secs(PREFLIGHT_MAX_AGE));
        match self {
            Self::None => None,
            // The CORS spec forbids credentials with `*`: none are allowed.
            Self::Any => Some(base.allow_origin(AllowOrigin::any())),
            Self::List(origins) => {
                let list: Vec<HeaderValue> = origins
                    .iter()
                    .filter_map(|o| HeaderValue::from_str(o).ok())
                    .collect();
                Some(
                    base.allow_origin(AllowOrigin::list(list))
                        .allow_credentials(true),
                )
            }
        }
    }
}

/// Removes every CORS header from a response to an origin that is not allowed: such a
/// caller learns nothing about what would be allowed.
pub async fn only_for_allowed(mut response: Response) -> Response {
    let headers = response.headers_mut();
    if !headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN) {
        let cors: Vec<HeaderName> = headers
            .keys()
            .filter(|k| k.as_str().starts_with("access-control-"))
            .cloned()
            .collect();
        for name in cors {
            headers.remove(name);
        }
    }
    response
}
