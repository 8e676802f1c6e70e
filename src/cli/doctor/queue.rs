//! `thumbkit doctor`'s look at the SQS queue: reachable, readable, receivable, a visibility
//! timeout longer than a render, and a dead-letter queue for what keeps failing.

use std::time::Duration;

use thumbkit::config::QueueArgs;
use thumbkit::queue::{Queue, QueueError};

use super::report::Report;

/// Checks the queue `args` name, if any; `render_timeout` is serve's (if it would start).
pub(super) async fn check(args: &QueueArgs, render_timeout: Option<Duration>, report: &mut Report) {
    let options = match args.options() {
        Ok(Some(options)) => options,
        Ok(None) => return,
        Err(e) => {
            report.fail("queue", e.to_string(), "fix THUMBKIT_SQS_QUEUE_URL");
            return;
        }
    };
    let queue = Queue::connect(&options).await;
    let facts = match queue.facts().await {
        Ok(facts) => facts,
        Err(e) => {
            report.fail("queue", e.to_string(), fix(&e));
            return;
        }
    };
    match queue.try_receive().await {
        Ok(_) => {}
        Err(e) => report.fail("queue receive", e.to_string(), fix(&e)),
    }
    let visibility = facts.visibility_timeout.unwrap_or(Duration::from_secs(30));
    let render = render_timeout.unwrap_or(Duration::from_secs(30));
    if visibility < render {
        report.warn(
            "queue visibility",
            format!(
                "{}s, shorter than the render timeout ({}s): thumbkit extends a message's \
                 visibility at half the timeout while it works, so one late or failed extension \
                 hands a message still being worked on to another instance",
                visibility.as_secs(),
                render.as_secs()
            ),
            format!(
                "aws sqs set-queue-attributes --queue-url {} --attributes VisibilityTimeout={}",
                queue.url(),
                (render.as_secs() * 2).max(60)
            ),
        );
    }
    match &facts.redrive {
        Some((arn, max)) => report.ok(
            "queue",
            format!(
                "{}: {} waiting, {} in flight, visibility {}s, to {arn} after {max} receives",
                queue.url(),
                facts.waiting.unwrap_or(0),
                facts.in_flight.unwrap_or(0),
                visibility.as_secs()
            ),
        ),
        None => report.warn(
            "queue",
            format!(
                "{} has no redrive policy: a message that keeps failing for a passing reason \
                 is tried again until its retention period ends",
                queue.url()
            ),
            "give it a dead-letter queue: RedrivePolicy={\"deadLetterTargetArn\":\"<DLQ ARN>\",\
             \"maxReceiveCount\":\"5\"}",
        ),
    }
}

/// What to change, for each way the queue can fail.
fn fix(e: &QueueError) -> &'static str {
    match e {
        QueueError::Unreachable { .. } => {
            "check the network path to SQS (or AWS_ENDPOINT_URL_SQS for an emulator)"
        }
        QueueError::Denied { .. } => {
            "grant sqs:ReceiveMessage, sqs:DeleteMessage, sqs:ChangeMessageVisibility and \
             sqs:GetQueueAttributes on the queue (deploy/iam-policy.json)"
        }
        QueueError::NoQueue { .. } => "check THUMBKIT_SQS_QUEUE_URL and AWS_REGION",
        QueueError::Failed { .. } => "see the message SQS gave",
    }
}
