//! CDN purges (`THUMBKIT_PURGE_WEBHOOK`): when an original is replaced or deleted through
//! thumbkit, the operator's endpoint is sent the cache tags (and the paths, for a CDN without
//! tags) to purge, signed with HMAC-SHA256 under the API token, and tried again with backoff
//! until it answers 2xx.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use hmac::{Hmac, KeyInit, Mac};
use http_body_util::Full;
use serde::Serialize;
use sha2::Sha256;

use crate::https::HttpsClient;
use crate::metrics::Metrics;
use crate::secrets::Secret;

/// The header carrying the signature: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`.
pub const SIGNATURE_HEADER: &str = "thumbkit-signature";

/// Where purges go and how they are signed and retried.
#[derive(Debug, Clone)]
pub struct PurgeOptions {
    /// The endpoint POSTed to (`https://`, or `http://` for one on this network).
    pub webhook: String,
    /// The key the signature is made with (the API token).
    pub secret: Secret,
    /// Tries in all, the first included.
    pub attempts: u32,
    /// The wait before the second try; each later one waits twice the one before.
    pub first_retry: Duration,
}

impl PurgeOptions {
    /// POSTs to `webhook`, signed with `secret`, tried 6 times over about a minute.
    pub fn new(webhook: impl Into<String>, secret: Secret) -> Self {
        Self {
            webhook: webhook.into(),
            secret,
            attempts: 6,
            first_retry: Duration::from_secs(2),
        }
    }
}

/// Why the cache is purged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PurgeReason {
    /// The original was written (new, or over another): what a CDN holds of the key
    /// (an old picture, a 404, the fallback image) is out of date.
    Replaced,
    Deleted,
}

/// What to purge: the body POSTed to the webhook.
#[derive(Debug, Clone, Serialize)]
pub struct Purge {
    pub reason: PurgeReason,
    /// The original's key (the receiver is the operator's own: it may see paths).
    pub key: String,
    /// Cache tags, as `Cache-Tag` and `Surrogate-Key` carry them.
    pub tags: Vec<String>,
    /// Every unpinned URL path of the key's variants, each ending in `*` so that its query
    /// strings go too (CloudFront's invalidation paths). Pinned URLs (`?v=`) never change.
    pub paths: Vec<String>,
}

/// Sends purges in the background, each signed and retried.
pub struct Purger {
    options: PurgeOptions,
    client: tokio::sync::OnceCell<Result<HttpsClient<Full<Bytes>>, String>>,
    metrics: Arc<Metrics>,
}

impl Purger {
    /// A purger for `options`, counting in `metrics`.
    pub fn new(options: PurgeOptions, metrics: Arc<Metrics>) -> Self {
        Self {
            options,
            client: tokio::sync::OnceCell::new(),
            metrics,
        }
    }

    /// Sends `purge` in the background (the caller's work does not wait for the CDN).
    pub fn announce(self: &Arc<Self>, purge: Purge) {
        let purger = self.clone();
        tokio::spawn(async move { purger.send(&purge).await });
    }

    /// Sends `purge` until the webhook answers 2xx, a 4xx other than 408 and 429 says it
    /// never will, or the tries run out. Answers whether it was taken.
    pub async fn send(&self, purge: &Purge) -> bool {
        let body = match serde_json::to_vec(purge) {
            Ok(b) => Bytes::from(b),
            Err(_) => return false,
        };
        let mut wait = self.options.first_retry;
        for attempt in 1..=self.options.attempts.max(1) {
            match self.post(&body).await {
                Ok(()) => {
                    self.metrics.purge("sent");
                    return true;
                }
                Err(Failure::Refused(why)) => {
                    tracing::warn!(webhook = %crate::secrets::redact_url(&self.options.webhook), key = %purge.key, "the purge webhook refused a purge: {why}");
                    break;
                }
                Err(Failure::Again(why)) if attempt < self.options.attempts => {
                    tracing::info!(
                        attempt,
                        "the purge webhook failed ({why}); trying again in {}s",
                        wait.as_secs_f32()
                    );
                    self.metrics.purge("retried");
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
                Err(Failure::Again(why)) => {
                    tracing::warn!(webhook = %crate::secrets::redact_url(&self.options.webhook), key = %purge.key, "gave up on a purge after {attempt} tries: {why}");
                }
            }
        }
        self.metrics.purge("failed");
        false
    }

    /// One signed POST of `body`.
    async fn post(&self, body: &Bytes) -> Result<(), Failure> {
        let client = self
            .client
            .get_or_init(|| async { crate::https::client() })
            .await
            .as_ref()
            .map_err(|e| Failure::Refused(e.clone()))?;
        let request = hyper::Request::post(&self.options.webhook)
            .header("content-type", "application/json")
            .header(
                "user-agent",
                concat!("thumbkit/", env!("CARGO_PKG_VERSION")),
            )
            .header(
                SIGNATURE_HEADER,
                signature(self.options.secret.expose(), now(), body),
            )
            .body(Full::new(body.clone()))
            .map_err(|e| Failure::Refused(e.to_string()))?;
        let answer = tokio::time::timeout(Duration::from_secs(10), client.request(request))
            .await
            .map_err(|_| Failure::Again("no answer within 10 s".into()))?
            .map_err(|e| Failure::Again(e.to_string()))?;
        match answer.status().as_u16() {
            200..=299 => Ok(()),
            408 | 429 | 500..=599 => Err(Failure::Again(format!("HTTP {}", answer.status()))),
            _ => Err(Failure::Refused(format!("HTTP {}", answer.status()))),
        }
    }
}

/// Why one POST did not take.
enum Failure {
    /// Worth another try.
    Again(String),
    /// Trying again would not help.
    Refused(String),
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `t=<at>,v1=<hex HMAC-SHA256(secret, "<at>.<body>")>`: the time is signed with the body,
/// so a receiver can refuse an old one replayed.
pub fn signature(secret: &str, at: u64, body: &[u8]) -> String {
    let mut mac = match <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        // HMAC takes a key of any length.
        Err(_) => return String::new(),
    };
    mac.update(format!("{at}.").as_bytes());
    mac.update(body);
    format!("t={at},v1={}", hex::encode(mac.finalize().into_bytes()))
}
