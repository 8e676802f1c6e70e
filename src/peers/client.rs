//! Asking the owner for a variant over HTTP: one pooled HTTP/1.1 client, a short connect
//! timeout (a stopped peer is known at once), a bound on the whole call and on the body's
//! size. Every failure is a [`PeerError`] the caller answers with a render of its own.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// The header that says how the owner's variant was made (`alone`, `one-decode`).
pub const MADE_HEADER: &str = "x-thumbkit-made";

/// The header an owner sets when its AVIF render outlasted its budget (the asker then
/// answers in the next format, as the owner's own request would).
pub const OVER_BUDGET_HEADER: &str = "x-thumbkit-over-budget";

/// Longest a connection to a peer may take: peers are on the same network.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// Largest variant accepted from a peer.
const MAX_BODY: usize = 128 << 20;

/// What the owner answered.
#[derive(Debug)]
pub struct Fetched {
    pub bytes: Bytes,
    pub content_type: String,
    /// How the owner's variant was made ([`MADE_HEADER`]; empty if not said).
    pub made: String,
    /// The owner's `X-Thumbkit-Peer-Answer`, if it sent one.
    pub tag: Option<String>,
}

/// Why the owner's answer could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("cannot reach the peer: {0}")]
    Unreachable(String),
    #[error("the peer did not answer within {0:?}")]
    Timeout(Duration),
    #[error("the peer answered {status}")]
    Answered { status: u16, over_budget: bool },
    /// The answer is not authenticated, or not the variant asked for.
    #[error("the peer's answer was refused: {0}")]
    Rejected(String),
}

impl PeerError {
    /// Whether the peer should be left out of the ranking for a while.
    pub fn means_down(&self) -> bool {
        matches!(self, PeerError::Unreachable(_) | PeerError::Timeout(_))
    }

    /// The `outcome` label of `thumbkit_peer_requests_total`.
    pub fn outcome(&self) -> &'static str {
        match self {
            PeerError::Unreachable(_) => "unreachable",
            PeerError::Timeout(_) => "timeout",
            PeerError::Answered {
                over_budget: true, ..
            } => "over_budget",
            PeerError::Answered { status: 409, .. } => "not_mine",
            PeerError::Answered { .. } => "error",
            PeerError::Rejected(_) => "rejected",
        }
    }
}

/// The pooled client.
pub struct Client {
    inner: hyper_util::client::legacy::Client<HttpConnector, Empty<Bytes>>,
}

impl Client {
    /// A client with the connect timeout set.
    pub fn new() -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        connector.set_nodelay(true);
        let inner = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Self { inner }
    }

    /// GETs `url` with the peer header `auth`, the whole call within `timeout`.
    pub async fn get(
        &self,
        url: &str,
        auth: &str,
        timeout: Duration,
    ) -> Result<Fetched, PeerError> {
        let mut request = axum::http::Request::get(url)
            .header(super::auth::HEADER, auth)
            .body(Empty::new())
            .map_err(|e| PeerError::Unreachable(e.to_string()))?;
        // The owner's spans join this request's trace.
        crate::telemetry::inject_traceparent(request.headers_mut());
        let span = tracing::info_span!("peer", otel.kind = "client", url = %url);
        let call = async {
            let response = self
                .inner
                .request(request)
                .await
                .map_err(|e| PeerError::Unreachable(e.to_string()))?;
            let status = response.status();
            if status != axum::http::StatusCode::OK {
                return Err(PeerError::Answered {
                    status: status.as_u16(),
                    over_budget: response.headers().contains_key(OVER_BUDGET_HEADER),
                });
            }
            let content_type = response
                .headers()
                .get(axum::http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let made = response
                .headers()
                .get(MADE_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let tag = response
                .headers()
                .get(super::auth::ANSWER_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = Limited::new(response.into_body(), MAX_BODY)
                .collect()
                .await
                .map_err(|e| PeerError::Unreachable(format!("reading the answer: {e}")))?;
            Ok(Fetched {
                bytes: body.to_bytes(),
                content_type,
                made,
                tag,
            })
        };
        tokio::time::timeout(timeout, tracing::Instrument::instrument(call, span))
            .await
            .unwrap_or(Err(PeerError::Timeout(timeout)))
    }
}

impl Default for Client {
    fn default() -> Self {
        Self::new()
    }
}
