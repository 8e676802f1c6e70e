//! S3 event notifications (`POST /v1/hooks/s3`, directly or through SNS): a created
//! original gets the configured presets pre-generated, a removed one its variants purged.

use percent_encoding::percent_decode_str;
use serde::Serialize;

use crate::service::Thumbnails;
use crate::service::error::ServiceError;
use crate::service::manifest::Manifest;
use crate::storage::Kind;

impl Thumbnails {
    /// Acts on one S3 event: a created original gets the configured presets pre-generated,
    /// a removed one its variants purged. Events for other buckets, keys outside the prefix
    /// and thumbkit's own objects are ignored.
    pub async fn handle_event(&self, event: &S3Event) -> EventOutcome {
        let report = |key: &str, action: &str, detail: Option<String>, manifest| EventOutcome {
            event: event.name.clone(),
            key: key.to_owned(),
            action: action.to_owned(),
            detail,
            manifest,
        };
        let Some(key) = self
            .storage()
            .inner()
            .key_for_event(&event.bucket, &event.key)
        else {
            let why = "another bucket, outside the prefix, or not a valid key";
            return report(&event.key, "ignored", Some(why.into()), None);
        };
        if self.settings.layout.owns(&key) {
            return report(
                key.as_str(),
                "ignored",
                Some("thumbkit's own object".into()),
                None,
            );
        }
        let failed = |e: ServiceError| report(key.as_str(), "failed", Some(e.answered()), None);
        if event.name.starts_with("ObjectCreated:") {
            // Whatever this instance knew of a previous version is void.
            self.originals.forget(&key).await;
            let presets = match self.select_presets(&self.settings.pregenerate) {
                Ok(p) => p,
                Err(e) => return failed(e),
            };
            match self.pregenerate(key.as_str(), &presets).await {
                Ok(m) => report(key.as_str(), "pregenerated", None, Some(m)),
                Err(e) => failed(e),
            }
        } else if event.name.starts_with("ObjectRemoved:") {
            // A late event must not purge an original uploaded again since.
            match self.storage().head(&key, Kind::Original).await {
                Ok(Some(_)) => report(
                    key.as_str(),
                    "ignored",
                    Some("the original exists again".into()),
                    None,
                ),
                Ok(None) => match self.purge_derived(&key).await {
                    Ok(derived) => {
                        let detail = format!("{} derived objects deleted", derived.len());
                        report(key.as_str(), "purged", Some(detail), None)
                    }
                    Err(e) => failed(e),
                },
                Err(e) => failed(e.into()),
            }
        } else {
            let why = "neither ObjectCreated nor ObjectRemoved";
            report(key.as_str(), "ignored", Some(why.into()), None)
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

    fn from_record(record: &serde_json::Value) -> Result<Self, EventError> {
        let field = |path: &[&str]| {
            path.iter()
                .try_fold(record, |v, p| v.get(p))
                .and_then(|v| v.as_str())
                .map(str::to_owned)
                .ok_or_else(|| EventError(format!("a record has no `{}`", path.join("."))))
        };
        let raw_key = field(&["s3", "object", "key"])?;
        let key = percent_decode_str(&raw_key.replace('+', " "))
            .decode_utf8()
            .map_err(|_| EventError(format!("the key `{raw_key}` is not UTF-8")))?
            .into_owned();
        Ok(S3Event {
            name: field(&["eventName"])?,
            bucket: field(&["s3", "bucket", "name"])?,
            key,
        })
    }
}

/// What was done for one event record.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EventOutcome {
    pub event: String,
    pub key: String,
    /// `pregenerated`, `purged`, `ignored` or `failed`.
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest: Option<Manifest>,
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
