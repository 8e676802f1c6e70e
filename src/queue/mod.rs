//! S3 event notifications pulled from an SQS queue (`THUMBKIT_SQS_QUEUE_URL`): direct from
//! S3, through SNS (raw or enveloped), or from EventBridge. Each message is done through the
//! webhook's code ([`crate::service::Thumbnails::handle_event`]) and deleted only once its
//! work is done or has failed for good; a transient failure leaves it for redelivery.

mod body;
mod consumer;
mod options;
mod sqs;

pub use consumer::{Consumer, Drained, Progress};
pub use options::{BATCH, DEFAULT_POLLERS, MAX_WAIT, QueueOptions};
pub use sqs::{Queue, QueueError, QueueFacts};
