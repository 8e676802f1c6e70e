//! The SQS calls thumbkit makes (receive, delete and extend in batches, read the queue's
//! attributes), with the SDK's errors turned into what a person can act on.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_config::BehaviorVersion;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::config::{Credentials, Region};
use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry,
    MessageSystemAttributeName, QueueAttributeName,
};

use super::options::{BATCH, QueueOptions};

/// Why SQS did not do what was asked.
#[derive(Debug, Clone, thiserror::Error)]
pub enum QueueError {
    /// No answer: the endpoint is down, unreachable or too slow (retried with backoff).
    #[error("cannot reach the queue {url}: {why}")]
    Unreachable { url: String, why: String },
    /// The credentials may not do this to the queue.
    #[error(
        "the queue {url} refused a {op} ({code}): check that the credentials may \
         sqs:ReceiveMessage, sqs:DeleteMessage, sqs:ChangeMessageVisibility and \
         sqs:GetQueueAttributes on it"
    )]
    Denied {
        url: String,
        op: &'static str,
        code: String,
    },
    /// The queue does not exist (or not in this region).
    #[error("there is no queue {url}")]
    NoQueue { url: String },
    #[error("the queue {url} failed a {op}: {message}")]
    Failed {
        url: String,
        op: &'static str,
        message: String,
    },
}

/// One message as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    /// What deletes it or extends its visibility (this receive's, not the message's).
    pub handle: String,
    pub body: String,
    /// How many times it has been received, this time included.
    pub receives: u32,
    /// When it was sent, in milliseconds since the epoch.
    pub sent_ms: Option<u64>,
}

impl Received {
    /// How long ago it was sent (zero when unknown or in the future).
    pub fn age(&self) -> Duration {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Duration::from_millis(self.sent_ms.map_or(0, |sent| now.saturating_sub(sent)))
    }
}

/// What the queue says of itself.
#[derive(Debug, Clone, Default)]
pub struct QueueFacts {
    pub visibility_timeout: Option<Duration>,
    /// The dead-letter queue's ARN and the receives before a message is moved there.
    pub redrive: Option<(String, u32)>,
    /// Messages waiting (approximate, as SQS counts them).
    pub waiting: Option<u64>,
    /// Messages received and not yet deleted (approximate).
    pub in_flight: Option<u64>,
}

/// An SQS queue and a client for it.
#[derive(Debug, Clone)]
pub struct Queue {
    client: Client,
    url: String,
}

impl Queue {
    /// A client for the queue `options` name, from the standard AWS configuration (with
    /// `AWS_ENDPOINT_URL_SQS`) plus `options`. Makes no request.
    pub async fn connect(options: &QueueOptions) -> Self {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(url) = &options.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some((id, secret)) = &options.credentials {
            let credentials = Credentials::new(id, secret, None, None, "thumbkit");
            loader = loader.credentials_provider(credentials);
        }
        let shared = loader.load().await;
        let mut config = aws_sdk_sqs::config::Builder::from(&shared);
        if shared.region().is_none() {
            // An AWS queue URL names its region; an emulator's region hardly matters.
            let region = region_of(&options.url).unwrap_or("us-east-1");
            config = config.region(Region::new(region.to_owned()));
        }
        Self {
            client: Client::from_conf(config.build()),
            url: options.url.clone(),
        }
    }

    /// The queue's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Waits up to `wait` for up to 10 messages.
    pub async fn receive(&self, wait: Duration) -> Result<Vec<Received>, QueueError> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(BATCH)
            .wait_time_seconds(wait.as_secs().min(20) as i32)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|e| self.error("ReceiveMessage", e))?;
        let received = out
            .messages
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| {
                let attribute = |name| m.attributes().and_then(|a| a.get(&name)).cloned();
                Some(Received {
                    receives: attribute(MessageSystemAttributeName::ApproximateReceiveCount)
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(1),
                    sent_ms: attribute(MessageSystemAttributeName::SentTimestamp)
                        .and_then(|t| t.parse().ok()),
                    id: m.message_id.clone().unwrap_or_default(),
                    handle: m.receipt_handle.clone()?,
                    body: m.body.clone().unwrap_or_default(),
                })
            });
        Ok(received.collect())
    }

    /// Whether this client may receive: one receive that waits for nothing and leaves any
    /// message it gets visible again at once (its receive count goes up by one).
    pub async fn try_receive(&self) -> Result<bool, QueueError> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(1)
            .wait_time_seconds(0)
            .visibility_timeout(0)
            .send()
            .await
            .map_err(|e| self.error("ReceiveMessage", e))?;
        Ok(out.messages.is_some_and(|m| !m.is_empty()))
    }

    /// Deletes `messages` (at most 10), answering how many were deleted.
    pub async fn delete(&self, messages: &[&Received]) -> Result<usize, QueueError> {
        if messages.is_empty() {
            return Ok(0);
        }
        let entries = messages.iter().enumerate().filter_map(|(i, m)| {
            DeleteMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .receipt_handle(&m.handle)
                .build()
                .ok()
        });
        let out = self
            .client
            .delete_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries.collect()))
            .send()
            .await
            .map_err(|e| self.error("DeleteMessageBatch", e))?;
        for failed in out.failed() {
            tracing::warn!(code = failed.code(), message = ?failed.message(), "an SQS message could not be deleted; it will be done again");
        }
        Ok(out.successful().len())
    }

    /// Keeps `messages` (at most 10) hidden from other consumers for `visibility` more.
    pub async fn extend(
        &self,
        messages: &[&Received],
        visibility: Duration,
    ) -> Result<(), QueueError> {
        if messages.is_empty() {
            return Ok(());
        }
        let seconds = visibility.as_secs().min(12 * 3600) as i32;
        let entries = messages.iter().enumerate().filter_map(|(i, m)| {
            ChangeMessageVisibilityBatchRequestEntry::builder()
                .id(i.to_string())
                .receipt_handle(&m.handle)
                .visibility_timeout(seconds)
                .build()
                .ok()
        });
        self.client
            .change_message_visibility_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries.collect()))
            .send()
            .await
            .map_err(|e| self.error("ChangeMessageVisibilityBatch", e))?;
        Ok(())
    }

    /// The queue's visibility timeout, redrive policy and message counts.
    pub async fn facts(&self) -> Result<QueueFacts, QueueError> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::All)
            .send()
            .await
            .map_err(|e| self.error("GetQueueAttributes", e))?;
        let attributes = out.attributes.unwrap_or_default();
        let number = |name| attributes.get(&name).and_then(|v| v.parse::<u64>().ok());
        let redrive = attributes
            .get(&QueueAttributeName::RedrivePolicy)
            .and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok())
            .and_then(|p| {
                let arn = p.get("deadLetterTargetArn")?.as_str()?.to_owned();
                let max = p.get("maxReceiveCount")?;
                let max = max.as_u64().or_else(|| max.as_str()?.parse().ok())?;
                Some((arn, u32::try_from(max).unwrap_or(u32::MAX)))
            });
        Ok(QueueFacts {
            visibility_timeout: number(QueueAttributeName::VisibilityTimeout)
                .map(Duration::from_secs),
            redrive,
            waiting: number(QueueAttributeName::ApproximateNumberOfMessages),
            in_flight: number(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        })
    }

    /// Turns an SDK error into a [`QueueError`] a person can act on.
    fn error<E>(&self, op: &'static str, err: SdkError<E>) -> QueueError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let url = self.url.clone();
        if matches!(
            err,
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_)
        ) {
            return QueueError::Unreachable {
                url,
                why: root_cause(&err),
            };
        }
        let status = err.raw_response().map(|r| r.status().as_u16());
        let code = err.code().unwrap_or_default().to_owned();
        match (code.as_str(), status) {
            ("AWS.SimpleQueueService.NonExistentQueue" | "QueueDoesNotExist", _) => {
                QueueError::NoQueue { url }
            }
            (
                "AccessDenied"
                | "AccessDeniedException"
                | "InvalidClientTokenId"
                | "UnrecognizedClientException"
                | "SignatureDoesNotMatch"
                | "ExpiredToken",
                _,
            )
            | (_, Some(401 | 403)) => QueueError::Denied { url, op, code },
            (_, Some(500..=599)) => QueueError::Unreachable {
                url,
                why: format!("HTTP {} {code}", status.unwrap_or_default()),
            },
            _ => QueueError::Failed {
                url,
                op,
                message: format!("{code} {}", err.message().unwrap_or_default())
                    .trim()
                    .to_owned(),
            },
        }
    }
}

/// The region in an AWS queue URL (`https://sqs.eu-west-1.amazonaws.com/...`).
fn region_of(url: &str) -> Option<&str> {
    let host = url.split("://").nth(1)?.split('/').next()?;
    let rest = host.strip_prefix("sqs.")?;
    let (region, domain) = rest.split_once('.')?;
    domain.starts_with("amazonaws.").then_some(region)
}

/// The innermost cause of an error (the SDK wraps the one worth reading).
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use super::region_of;

    #[test]
    fn an_aws_queue_url_names_its_region() {
        let url = "https://sqs.eu-west-3.amazonaws.com/123456789012/uploads";
        assert_eq!(region_of(url), Some("eu-west-3"));
        assert_eq!(region_of("http://127.0.0.1:5000/123456789012/q"), None);
        assert_eq!(region_of("https://sqs.evil.example/q"), None);
    }
}
