//! How thumbkit reaches its queue and how hard it pulls, with the defaults and SQS's bounds.

use std::time::Duration;

/// How thumbkit reaches its queue and how hard it pulls (`THUMBKIT_SQS_*`).
#[derive(Debug, Clone)]
pub struct QueueOptions {
    /// The queue's URL, e.g. `https://sqs.eu-west-1.amazonaws.com/123456789012/uploads`.
    pub url: String,
    /// Long polls running at once, each taking up to 10 messages.
    pub pollers: usize,
    /// How long a receive waits for messages (SQS allows 0 to 20 s).
    pub wait: Duration,
    /// The SQS endpoint, overriding `AWS_ENDPOINT_URL_SQS` (an emulator's).
    pub endpoint_url: Option<String>,
    /// Static access key id and secret (else the AWS credential chain).
    pub credentials: Option<(String, String)>,
}

impl QueueOptions {
    /// Pulls from `url` with the defaults.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            pollers: DEFAULT_POLLERS,
            wait: MAX_WAIT,
            endpoint_url: None,
            credentials: None,
        }
    }
}

/// Long polls at once unless told otherwise: two keep a queue drained while one waits.
pub const DEFAULT_POLLERS: usize = 2;
/// The longest long poll SQS allows.
pub const MAX_WAIT: Duration = Duration::from_secs(20);
/// The most messages one receive returns.
pub const BATCH: i32 = 10;
