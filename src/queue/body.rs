//! What an SQS message from S3 says, in every shape it arrives: S3 → SQS (`Records`), S3 →
//! SNS → SQS (SNS's envelope, or its raw delivery, which is S3's own JSON), EventBridge →
//! SQS, and `s3:TestEvent`.
//!
//! An SNS envelope is not verified here: it came through the queue, and the queue's access
//! policy decides who may send to it, as it does for S3's own messages.

use crate::service::events::{EventError, Notification};

/// Records one message may carry: S3 sends one per event, so more is not S3.
pub const MAX_RECORDS: usize = 100;

/// The notification in a message's body.
pub fn read(body: &str) -> Result<Notification, EventError> {
    let value: serde_json::Value =
        serde_json::from_str(body).map_err(|e| EventError::new(format!("not JSON: {e}")))?;
    let value = match sns_message(&value) {
        Some(inner) => serde_json::from_str(inner).map_err(|e| {
            EventError::new(format!("an SNS message whose Message is not JSON: {e}"))
        })?,
        None => value,
    };
    let notification = Notification::from_value(&value)?;
    if let Notification::Events(events) = &notification
        && events.len() > MAX_RECORDS
    {
        return Err(EventError::new(format!(
            "{} records in one message; at most {MAX_RECORDS} (S3 sends one per event)",
            events.len()
        )));
    }
    Ok(notification)
}

/// The `Message` of an SNS notification's envelope (`"Type": "Notification"`).
fn sns_message(value: &serde_json::Value) -> Option<&str> {
    if value.get("Type")?.as_str()? != "Notification" || value.get("TopicArn").is_none() {
        return None;
    }
    value.get("Message")?.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::events::S3Event;

    fn created(key: &str) -> S3Event {
        S3Event {
            name: "ObjectCreated:Put".into(),
            bucket: "photos".into(),
            key: key.into(),
        }
    }

    const RECORDS: &str = r#"{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"photos"},"object":{"key":"a/b+c.jpg","size":1}}}]}"#;

    #[test]
    fn every_shape_s3_sends_reads_as_the_same_event() {
        let direct = read(RECORDS).expect("direct");
        let envelope = serde_json::json!({
            "Type": "Notification", "MessageId": "m", "TopicArn": "arn:aws:sns:eu-west-1:1:t",
            "Subject": "Amazon S3 Notification", "Message": RECORDS, "Timestamp": "2026-12-06T00:00:00.000Z",
            "SignatureVersion": "1", "Signature": "x", "SigningCertURL": "https://sns.eu-west-1.amazonaws.com/c.pem",
        });
        let enveloped = read(&envelope.to_string()).expect("through SNS");
        let bridge = serde_json::json!({
            "version": "0", "id": "1", "detail-type": "Object Created", "source": "aws.s3",
            "account": "1", "time": "2026-12-06T00:00:00Z", "region": "eu-west-1", "resources": [],
            "detail": {"version": "0", "bucket": {"name": "photos"}, "object": {"key": "a/b+c.jpg", "size": 1}, "reason": "PutObject"},
        });
        let bridged = read(&bridge.to_string()).expect("EventBridge");
        let want = Notification::Events(vec![created("a/b c.jpg")]);
        assert_eq!(direct, want);
        assert_eq!(enveloped, want);
        assert_eq!(
            bridged,
            Notification::Events(vec![S3Event {
                name: "ObjectCreated:PutObject".into(),
                ..created("a/b c.jpg")
            }])
        );
        let test = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-12-06T00:00:00.000Z","Bucket":"photos","RequestId":"r","HostId":"h"}"#;
        assert_eq!(read(test).expect("test event"), Notification::Test);
    }

    #[test]
    fn what_is_not_an_s3_notification_is_refused_with_its_reason() {
        for (body, says) in [
            ("", "not JSON"),
            ("{}", "Records"),
            (
                r#"{"Type":"Notification","TopicArn":"t","Message":"<xml/>"}"#,
                "not JSON",
            ),
            (
                r#"{"detail-type":"Object Created","source":"aws.ec2"}"#,
                "not from S3",
            ),
        ] {
            let e = read(body).expect_err(body).to_string();
            assert!(e.contains(says), "{body}: {e}");
        }
        let many: Vec<_> = (0..101)
            .map(|_| RECORDS[12..RECORDS.len() - 2].to_owned())
            .collect();
        let e = read(&format!(r#"{{"Records":[{}]}}"#, many.join(","))).expect_err("101");
        assert!(e.to_string().contains("at most 100"), "{e}");
    }
}
