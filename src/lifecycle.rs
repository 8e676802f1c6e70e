//! An original's life through the API: a validated upload (stored only once it is known to
//! render, with its hash in its metadata so no instance ever reads it to learn it), the
//! manifest that tells a backend every preset's URL and size, pre-generation of variants
//! before the first visitor, and deletion of the original with everything derived from it.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::keys::{ContentHash, ObjectKey};
use crate::originals::{Original, Record, index_key, record_key};
use crate::pipeline::{self, OutputFormat, PipelineError};
use crate::preset::{FormatChoice, Preset};
use crate::service::{ServiceError, Thumbnails, Tier};
use crate::storage::Kind;
use crate::workers::{Admitted, Patience};

/// Characters kept as they are in a URL path segment (RFC 3986 unreserved); `/` separates
/// segments and is kept too. Everything else (spaces, `?`, `#`, `%`, non-ASCII) is encoded.
const PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// The URL path of `key`'s variant for `preset`, pinned to `hash`.
pub fn variant_url(preset: &str, key: &ObjectKey, hash: &ContentHash) -> String {
    let key = utf8_percent_encode(key.as_str(), PATH);
    format!("/t/{preset}/{key}?v={hash}")
}

/// What thumbkit knows of an original, and of each preset's variant of it.
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    pub key: String,
    pub hash: String,
    pub bytes: u64,
    pub format: String,
    /// Width once EXIF orientation is applied.
    pub width: u32,
    pub height: u32,
    /// BlurHash placeholder (known for uploads; computed on `GET` otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blurhash: Option<String>,
    pub variants: BTreeMap<String, VariantInfo>,
}

/// One preset's variant in a [`Manifest`].
#[derive(Debug, Clone, Serialize)]
pub struct VariantInfo {
    /// Pinned to the content (`?v=`), so it can be cached forever.
    pub url: String,
    pub width: u32,
    pub height: u32,
    /// The format served to a client without WebP support.
    pub format: String,
    /// The format depends on the client's `Accept` (WebP when it is accepted).
    pub negotiated: bool,
    /// Whether the variant is in the store now (asked for by `GET`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stored: Option<bool>,
    /// What pre-generation did: `rendered`, `existing`, or the error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pregenerated: Option<String>,
}

/// What a delete removed.
#[derive(Debug, Clone, Serialize)]
pub struct Deleted {
    pub key: String,
    /// The original existed and was deleted.
    pub original: bool,
    /// Objects derived from it that were deleted (variants and the hash record).
    pub derived: Vec<String>,
}

/// The formats a preset's variant of this original can be served in.
fn formats(preset: &Preset, original: &Original) -> Vec<OutputFormat> {
    let probe = &original.record.probe;
    let mut out = vec![OutputFormat::resolve(preset.format, probe, false)];
    let webp = OutputFormat::resolve(preset.format, probe, true);
    if !out.contains(&webp) {
        out.push(webp);
    }
    out
}

impl Thumbnails {
    fn manifest(&self, key: &ObjectKey, original: &Original) -> Manifest {
        let record = &original.record;
        let upright = record.upright();
        let variants = self
            .presets()
            .iter()
            .map(|preset| {
                let (width, height) = pipeline::output_size(upright, preset);
                let mut url = variant_url(preset.name.as_str(), key, &original.hash);
                if let Some(signer) = &self.settings.signer {
                    let expires = crate::signing::now() + self.settings.signed_url_ttl.as_secs();
                    url = signer.sign(&url, expires);
                }
                let info = VariantInfo {
                    url,
                    width,
                    height,
                    format: OutputFormat::resolve(preset.format, &record.probe, false).to_string(),
                    negotiated: preset.format == FormatChoice::Auto,
                    stored: None,
                    pregenerated: None,
                };
                (preset.name.as_str().to_owned(), info)
            })
            .collect();
        Manifest {
            key: key.to_string(),
            hash: original.hash.to_string(),
            bytes: record.size,
            format: record.probe.format.to_string(),
            width: upright.0,
            height: upright.1,
            blurhash: record.blurhash.clone(),
            variants,
        }
    }

    /// Refuses keys inside thumbkit's own prefix: an upload there could pose as a variant.
    pub(crate) fn original_key(&self, key: &str) -> Result<ObjectKey, ServiceError> {
        let key = ObjectKey::parse(key)?;
        if key.is_under(&self.settings.variants_prefix) {
            return Err(ServiceError::ReservedKey(key.to_string()));
        }
        Ok(key)
    }

    /// The presets named in `names` (`all` = every preset).
    pub fn select_presets(&self, names: &[String]) -> Result<Vec<&Preset>, ServiceError> {
        if names.iter().any(|n| n == "all") {
            return Ok(self.presets().iter().collect());
        }
        names
            .iter()
            .map(|n| {
                self.presets()
                    .get(n)
                    .ok_or_else(|| ServiceError::UnknownPreset(n.clone()))
            })
            .collect()
    }

    /// Validates `bytes` fully and stores them at `key` with their hash in the metadata;
    /// then renders `pregenerate`'s variants. Nothing is stored when validation fails.
    /// `admitted` was taken before `bytes` were read, so uploads in memory are bounded like
    /// renders; it is given back once validation ends, before pre-generation asks for more.
    pub async fn upload(
        &self,
        key: &str,
        bytes: Bytes,
        pregenerate: &[&Preset],
        admitted: Admitted,
    ) -> Result<Manifest, ServiceError> {
        let key = self.original_key(key)?;
        let limits = self.settings.limits;
        let checked = bytes.clone();
        let (validated, hash, orientation, blurhash) = self
            .workers
            .run(admitted, move || {
                let validated = pipeline::validate(&checked, &limits)?;
                let orientation = crate::inspect::inspect(&checked).map_or(1, |r| r.orientation);
                let blurhash = pipeline::placeholder(&checked, &limits)?;
                Ok::<_, PipelineError>((
                    validated,
                    ContentHash::of(&checked),
                    orientation,
                    blurhash,
                ))
            })
            .await??;
        let metadata = Record::metadata(&hash, &validated.probe, orientation, &blurhash);
        let content_type = match validated.probe.format {
            pipeline::SourceFormat::Jpeg => "image/jpeg",
            pipeline::SourceFormat::Png => "image/png",
            pipeline::SourceFormat::Webp => "image/webp",
            pipeline::SourceFormat::Gif => "image/gif",
            pipeline::SourceFormat::Tiff => "image/tiff",
        };
        let size = bytes.len() as u64;
        self.storage()
            .put(&key, Kind::Original, bytes, content_type, &metadata)
            .await?;
        // Indexed by key, so that a purge after an S3 removal event still finds its variants.
        let record = Record {
            key: key.to_string(),
            etag: String::new(),
            hash: hash.to_string(),
            size,
            probe: validated.probe,
            orientation,
            blurhash: Some(blurhash),
            failure: None,
        };
        self.originals.share(&record).await?;
        // What this instance knew of the previous version is void.
        self.originals.forget(&key).await;
        self.pregenerate(key.as_str(), pregenerate).await
    }

    /// The original's manifest with, for each preset, whether its variant is stored now.
    pub async fn describe(&self, key: &str) -> Result<Manifest, ServiceError> {
        let key = self.original_key(key)?;
        let original = self.originals.resolve(&key).await?;
        let mut manifest = self.manifest(&key, &original);
        if manifest.blurhash.is_none() {
            manifest.blurhash = self.compute_placeholder(&key, &original).await;
        }
        for preset in self.presets().iter() {
            let mut stored = false;
            for format in formats(preset, &original) {
                let variant = crate::keys::VariantKey::new(
                    &self.settings.variants_prefix,
                    &original.hash,
                    preset,
                    format,
                );
                let variant = ObjectKey::parse(variant.as_str())?;
                stored |= self
                    .storage()
                    .head(&variant, Kind::Variant)
                    .await?
                    .is_some();
            }
            if let Some(info) = manifest.variants.get_mut(preset.name.as_str()) {
                info.stored = Some(stored);
            }
        }
        Ok(manifest)
    }

    /// Computes the BlurHash of an original that was not uploaded through thumbkit, and shares
    /// it in the original's record so that it is computed once. `None` if that fails.
    async fn compute_placeholder(&self, key: &ObjectKey, original: &Original) -> Option<String> {
        let admitted = self.workers.admit(Patience::Wait).await.ok()?;
        let bytes = self.originals.bytes(key, original).await.ok()?.ok()?;
        let limits = self.settings.limits;
        let blurhash = self
            .workers
            .run(admitted, move || pipeline::placeholder(&bytes, &limits))
            .await
            .ok()?
            .ok()?;
        let mut record = (*original.record).clone();
        record.blurhash = Some(blurhash.clone());
        let _ = self.originals.share(&record).await;
        Some(blurhash)
    }

    /// Renders and stores `presets`' variants of `key` that are not stored yet (in every
    /// format a client may be served), and answers with the manifest saying what was done.
    pub async fn pregenerate(
        &self,
        key: &str,
        presets: &[&Preset],
    ) -> Result<Manifest, ServiceError> {
        let key = self.original_key(key)?;
        let original = self.originals.resolve(&key).await?;
        let mut manifest = self.manifest(&key, &original);
        for preset in presets {
            let mut outcome = "existing".to_owned();
            for format in formats(preset, &original) {
                // One at a time per original: the render pool bounds the CPU, and a queue of
                // an upload's variants should not crowd out visitors' requests.
                match self.ensure_variant(&key, &original, preset, format).await {
                    Ok(Tier::Store) => {}
                    Ok(_) => outcome = "rendered".into(),
                    Err(e) => {
                        outcome = format!("failed: {e}");
                        break;
                    }
                }
            }
            if let Some(info) = manifest.variants.get_mut(preset.name.as_str()) {
                info.pregenerated = Some(outcome);
            }
        }
        Ok(manifest)
    }

    /// Deletes the original at `key`, its hash record and every variant of its content
    /// (whatever preset version rendered them), and forgets them in memory. Idempotent.
    pub async fn delete_original(&self, key: &str) -> Result<Deleted, ServiceError> {
        let key = self.original_key(key)?;
        let derived = self.purge_derived(&key).await?;
        let existed = self.storage().head(&key, Kind::Original).await?.is_some();
        self.storage().delete(&key, Kind::Original).await?;
        self.originals.forget(&key).await;
        Ok(Deleted {
            key: key.to_string(),
            original: existed,
            derived,
        })
    }

    /// Deletes what was derived from the original at `key` (variants, records), leaving the
    /// original itself alone; returns the deleted keys.
    async fn purge_derived(&self, key: &ObjectKey) -> Result<Vec<String>, ServiceError> {
        let key = key.clone();
        let mut derived = Vec::new();
        let original = match self.originals.resolve(&key).await {
            Ok(original) => Some((original.hash.clone(), Some(original.record.etag.clone()))),
            // Already gone (an S3 removal event) or unreadable: the index still knows its
            // content hash.
            Err(ServiceError::NotFound(_) | ServiceError::Pipeline(_)) => self
                .originals
                .indexed(&key)
                .await?
                .map(|r| (r.content_hash(), None)),
            Err(e) => return Err(e),
        };
        if let Some((hash, etag)) = &original {
            let prefix = format!(
                "{}/{}/{}/",
                self.settings.variants_prefix,
                &hash.as_str()[..2],
                hash
            );
            for variant in self.storage().list(&prefix, Kind::Variant).await? {
                self.storage().delete(&variant, Kind::Variant).await?;
                self.memory.invalidate(variant.as_str()).await;
                derived.push(variant.to_string());
            }
            if let Some(etag) = etag {
                let record = record_key(&self.settings.variants_prefix, &key, etag)?;
                if self.storage().head(&record, Kind::Record).await?.is_some() {
                    self.storage().delete(&record, Kind::Record).await?;
                    derived.push(record.to_string());
                }
            }
        }
        let index = index_key(&self.settings.variants_prefix, &key)?;
        if self.storage().head(&index, Kind::Record).await?.is_some() {
            self.storage().delete(&index, Kind::Record).await?;
            derived.push(index.to_string());
        }
        self.originals.forget(&key).await;
        Ok(derived)
    }

    /// Pre-generates `presets` (none = all) for each of `keys`, a few keys at a time, and
    /// answers per key with the manifest or the error.
    pub async fn pregenerate_many(
        self: &Arc<Self>,
        keys: Vec<String>,
        presets: &[String],
    ) -> Result<Vec<KeyOutcome>, ServiceError> {
        let names = if presets.is_empty() {
            vec!["all".to_owned()]
        } else {
            presets.to_vec()
        };
        self.select_presets(&names)?;
        let limit = Arc::new(Semaphore::new(self.settings.render_workers.max(1)));
        let mut jobs = JoinSet::new();
        for (i, key) in keys.into_iter().enumerate() {
            let (service, names, limit) = (self.clone(), names.clone(), limit.clone());
            jobs.spawn(async move {
                let _permit = limit.acquire_owned().await;
                let result = match service.select_presets(&names) {
                    Ok(presets) => service.pregenerate(&key, &presets).await,
                    Err(e) => Err(e),
                };
                (i, KeyOutcome::new(key, result))
            });
        }
        let mut out = jobs.join_all().await;
        out.sort_by_key(|(i, _)| *i);
        Ok(out.into_iter().map(|(_, o)| o).collect())
    }

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
        if key.is_under(&self.settings.variants_prefix) {
            return report(
                key.as_str(),
                "ignored",
                Some("thumbkit's own object".into()),
                None,
            );
        }
        let failed = |e: ServiceError| report(key.as_str(), "failed", Some(e.to_string()), None);
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

/// One key's result in a batch.
#[derive(Debug, Clone, Serialize)]
pub struct KeyOutcome {
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest: Option<Manifest>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl KeyOutcome {
    fn new(key: String, result: Result<Manifest, ServiceError>) -> Self {
        match result {
            Ok(m) => Self {
                key,
                manifest: Some(m),
                error: None,
            },
            Err(e) => Self {
                key,
                manifest: None,
                error: Some(e.to_string()),
            },
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
#[derive(Debug, Clone, Serialize)]
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

    #[test]
    fn urls_encode_what_a_path_cannot_hold() {
        let key = ObjectKey::parse("a b/é?#%.jpg").unwrap();
        let hash = ContentHash::of(b"x");
        assert_eq!(
            variant_url("thumb", &key, &hash),
            format!("/t/thumb/a%20b/%C3%A9%3F%23%25.jpg?v={hash}")
        );
    }
}
