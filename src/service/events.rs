//! S3 event notifications (`POST /v1/hooks/s3`, directly or through SNS): a created
//! original gets the configured presets pre-generated, a removed one its variants purged.

use percent_encoding::percent_decode_str;
use serde::Serialize;

use crate::purge::PurgeReason;
use crate::service::Thumbnails;
use crate::service::error::ServiceError;
use crate::service::manifest::Manifest;
use crate::storage::Kind;

impl Thumbnails {
    /// Acts on one S3 event: a created original gets the configured presets pre-generated,
    /// a removed one its variants purged. Events for other buckets, keys outside the prefix
    /// and thumbkit's own objects are ignored.
    pub async fn handle_event(&self, event: &S3Event) -> EventOutcome {
        let report = |key: &str, action, detail: Option<String>, manifest| EventOutcome {
            event: event.name.clone(),
            key: key.to_owned(),
            action,
            detail,
            manifest,
            transient: false,
        };
        let Some(key) = self
            .storage()
            .inner()
            .key_for_event(&event.bucket, &event.key)
        else {
            let why = "another bucket, outside the prefix, or not a valid key";
            return report(&event.key, EventAction::Ignored, Some(why.into()), None);
        };
        if self.settings.layout.owns(&key) {
            let why = "thumbkit's own object";
            return report(key.as_str(), EventAction::Ignored, Some(why.into()), None);
        }
        let failed = |e: ServiceError| EventOutcome {
            transient: e.is_transient(),
            ..report(key.as_str(), EventAction::Failed, Some(e.answered()), None)
        };
        if event.name.starts_with("ObjectCreated:") {
            // Whatever this instance knew of a previous version is void.
            self.originals.forget(&key).await;
            let presets = match self.select_presets(&self.settings.pregenerate) {
                Ok(p) => p,
                Err(e) => return failed(e),
            };
            let pregenerated = self.pregenerate(key.as_str(), &presets).await;
            // Whatever a CDN holds of the key (an old picture, a 404) is out of date.
            self.purge_cdn(&key, PurgeReason::Replaced);
            match pregenerated {
                // The manifest says which presets failed, and why.
                Ok(done) => EventOutcome {
                    transient: done.transient.is_some(),
                    ..report(
                        key.as_str(),
                        match done.transient.is_some() || done.lasting.is_some() {
                            true => EventAction::Failed,
                            false => EventAction::Pregenerated,
                        },
                        done.transient.or(done.lasting).map(|e| e.to_string()),
                        Some(done.manifest),
                    )
                },
                Err(e) => failed(e),
            }
        } else if event.name.starts_with("ObjectRemoved:") {
            // A late event must not purge an original uploaded again since.
            match self.storage().head(&key, Kind::Original).await {
                Ok(Some(_)) => {
                    let why = "the original exists again";
                    report(key.as_str(), EventAction::Ignored, Some(why.into()), None)
                }
                Ok(None) => match self.purge_derived(&key).await {
                    Ok(derived) => {
                        self.purge_cdn(&key, PurgeReason::Deleted);
                        let detail = format!("{} derived objects deleted", derived.len());
                        report(key.as_str(), EventAction::Purged, Some(detail), None)
                    }
                    Err(e) => failed(e),
                },
                Err(e) => failed(e.into()),
            }
        } else {
            let why = "neither ObjectCreated nor ObjectRemoved";
            report(key.as_str(), EventAction::Ignored, Some(why.into()), None)
        }
    }
}

/// One record of an S3 event notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Event {
    /// e.g. `ObjectCreated:Put`, `ObjectRemoved:Delete`.
    pub name: String,
    pub bucket: String,
    /// The object key, decoded (events carry it URL-encoded, `+` for a space).
    pub key: String,
}

/// Why an event body could not be read.
#[derive(Debug, thiserror::Error)]
#[error("not an S3 event notification: {0}")]
pub struct EventError(String);

impl EventError {
    /// Says why a body is not an S3 event notification.
    pub fn new(why: impl Into<String>) -> Self {
        Self(why.into())
    }
}

/// What an S3 notification says, whichever way it was delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    /// Objects created or removed.
    Events(Vec<S3Event>),
    /// `s3:TestEvent`, sent once when notifications are configured: nothing to do.
    Test,
}

impl Notification {
    /// Reads an S3 event notification (`{"Records": [...]}`), S3's test event, or an
    /// EventBridge event from S3 (`"source": "aws.s3"`, `Object Created`/`Object Deleted`).
    pub fn from_value(value: &serde_json::Value) -> Result<Self, EventError> {
        if value.get("Event").and_then(|e| e.as_str()) == Some("s3:TestEvent") {
            return Ok(Notification::Test);
        }
        if value.get("detail-type").is_some() {
            return S3Event::from_eventbridge(value).map(|e| Notification::Events(vec![e]));
        }
        S3Event::from_value(value).map(Notification::Events)
    }
}

impl S3Event {
    /// Reads the records of an S3 event notification (`{"Records": [...]}`).
    pub fn parse_all(body: &[u8]) -> Result<Vec<S3Event>, EventError> {
        let value: serde_json::Value =
            serde_json::from_slice(body).map_err(|e| EventError(e.to_string()))?;
        Self::from_value(&value)
    }

    /// The records of a notification already parsed as JSON.
    pub fn from_value(value: &serde_json::Value) -> Result<Vec<S3Event>, EventError> {
        let records = value
            .get("Records")
            .and_then(|r| r.as_array())
            .ok_or_else(|| EventError("no `Records` array".into()))?;
        records.iter().map(Self::from_record).collect()
    }

    /// The event in an EventBridge event from S3. Its `detail-type` is named as S3's own
    /// notifications name events (`Object Created` → `ObjectCreated:`), and its key is
    /// decoded the same way.
    pub fn from_eventbridge(value: &serde_json::Value) -> Result<Self, EventError> {
        let text = |path: &[&str]| {
            path.iter()
                .try_fold(value, |v, p| v.get(p))
                .and_then(|v| v.as_str())
                .ok_or_else(|| {
                    EventError(format!("an EventBridge event has no `{}`", path.join(".")))
                })
        };
        if text(&["source"])? != "aws.s3" {
            return Err(EventError(
                "an EventBridge event not from S3 (`source` is not `aws.s3`)".into(),
            ));
        }
        let reason = text(&["detail", "reason"]).unwrap_or("");
        let name = match text(&["detail-type"])? {
            "Object Created" => format!("ObjectCreated:{reason}"),
            "Object Deleted" => format!("ObjectRemoved:{reason}"),
            // Restores, tags, storage classes: nothing thumbkit acts on.
            other => other.to_owned(),
        };
        Ok(S3Event {
            name,
            bucket: text(&["detail", "bucket", "name"])?.to_owned(),
            key: decode_key(text(&["detail", "object", "key"])?)?,
        })
    }

    fn from_record(record: &serde_json::Value) -> Result<Self, EventError> {
        let field = |path: &[&str]| {
            path.iter()
                .try_fold(record, |v, p| v.get(p))
                .and_then(|v| v.as_str())
                .map(str::to_owned)
                .ok_or_else(|| EventError(format!("a record has no `{}`", path.join("."))))
        };
        Ok(S3Event {
            name: field(&["eventName"])?,
            bucket: field(&["s3", "bucket", "name"])?,
            key: decode_key(&field(&["s3", "object", "key"])?)?,
        })
    }
}

/// An event's key as S3 names the object: events carry it URL-encoded, `+` for a space.
fn decode_key(raw: &str) -> Result<String, EventError> {
    percent_decode_str(&raw.replace('+', " "))
        .decode_utf8()
        .map(|k| k.into_owned())
        .map_err(|_| EventError(format!("the key `{raw}` is not UTF-8")))
}

/// What was done for one event record.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EventOutcome {
    pub event: String,
    pub key: String,
    pub action: EventAction,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest: Option<Manifest>,
    /// Part of the work failed in a way worth trying again (the store unreachable, the
    /// workers busy): a queue leaves the message for redelivery.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub transient: bool,
}

/// What an event made thumbkit do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EventAction {
    /// The original's variants were rendered (those not stored yet).
    Pregenerated,
    /// The removed original's variants and records were deleted.
    Purged,
    /// Nothing to do: another bucket, outside the prefix, thumbkit's own object, or an
    /// original that exists again.
    Ignored,
    Failed,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_keys_are_decoded() {
        let inner = r#"{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"photos"},"object":{"key":"summer/My+photo+%C3%A9t%C3%A9%2B1.jpg"}}}]}"#;
        let events = S3Event::parse_all(inner.as_bytes()).unwrap();
        assert_eq!(
            events,
            [S3Event {
                name: "ObjectCreated:Put".into(),
                bucket: "photos".into(),
                key: "summer/My photo été+1.jpg".into(),
            }]
        );
        assert!(S3Event::parse_all(b"{}").is_err());
        assert!(S3Event::parse_all(b"not json").is_err());
        assert!(S3Event::parse_all(br#"{"Records":[{"eventName":"x"}]}"#).is_err());
    }
}
