//! The settings of the SQS consumer (`THUMBKIT_SQS_*`): which queue of S3 events to pull
//! and how many long polls at once. Credentials and region come from the AWS chain, as for
//! S3; the endpoint from `AWS_ENDPOINT_URL_SQS` or the flag.

use super::error::ConfigError;
use crate::queue::{DEFAULT_POLLERS, QueueOptions};

/// The most long polls one instance runs: each holds up to 10 messages' work at once.
const MAX_POLLERS: usize = 64;

/// The flags and environment of the SQS consumer.
#[derive(clap::Args, Debug, Clone)]
pub struct QueueArgs {
    /// An SQS queue of S3 event notifications (straight from S3, through SNS, or from
    /// EventBridge) to pull: created originals get THUMBKIT_PREGENERATE's variants, removed
    /// ones are purged.
    #[arg(long, env = "THUMBKIT_SQS_QUEUE_URL")]
    pub sqs_queue_url: Option<String>,
    /// Long polls at once, each taking up to 10 messages.
    #[arg(long, env = "THUMBKIT_SQS_CONCURRENCY", default_value_t = DEFAULT_POLLERS)]
    pub sqs_concurrency: usize,
    /// SQS endpoint URL, overriding AWS_ENDPOINT_URL_SQS (an emulator, say).
    #[arg(long, env = "THUMBKIT_SQS_ENDPOINT")]
    pub sqs_endpoint: Option<String>,
}

impl QueueArgs {
    /// The queue to pull, or `None` when THUMBKIT_SQS_QUEUE_URL is unset or blank.
    pub fn options(&self) -> Result<Option<QueueOptions>, ConfigError> {
        let Some(url) = self.sqs_queue_url.as_deref().map(str::trim) else {
            return Ok(None);
        };
        if url.is_empty() {
            return Ok(None);
        }
        for (setting, value) in [
            ("THUMBKIT_SQS_QUEUE_URL", Some(url)),
            ("THUMBKIT_SQS_ENDPOINT", self.sqs_endpoint.as_deref()),
        ] {
            let Some(value) = value else { continue };
            let http = value.starts_with("https://") || value.starts_with("http://");
            if !http || value.len() <= "https://".len() {
                return Err(ConfigError::Invalid {
                    setting,
                    reason: format!(
                        "`{}` is not an http:// or https:// URL (a queue URL is like \
                         https://sqs.eu-west-1.amazonaws.com/123456789012/uploads)",
                        crate::secrets::redact_url(value)
                    ),
                });
            }
        }
        if !(1..=MAX_POLLERS).contains(&self.sqs_concurrency) {
            return Err(ConfigError::Invalid {
                setting: "THUMBKIT_SQS_CONCURRENCY",
                reason: format!(
                    "{} long polls; from 1 to {MAX_POLLERS}",
                    self.sqs_concurrency
                ),
            });
        }
        Ok(Some(QueueOptions {
            pollers: self.sqs_concurrency,
            endpoint_url: self.sqs_endpoint.clone(),
            ..QueueOptions::new(url)
        }))
    }
}
