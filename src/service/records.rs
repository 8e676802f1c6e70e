//! The facts thumbkit keeps about one version of an original (its [`Record`]): in the
//! object's own metadata when thumbkit stored it, else in a small JSON record in the store
//! that every instance reads before downloading the original.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;

use serde::{Deserialize, Serialize};

use crate::keys::{ContentHash, Layout, ObjectKey};
use crate::metrics::Metrics;
use crate::pipeline::{self, Limits, PipelineError, Placeholder, Probe, Saliency};
use crate::service::error::ServiceError;
use crate::storage::{Kind, ObjectInfo, Storage};

/// Object metadata key under which thumbkit records an original's content hash.
pub const HASH_METADATA: &str = "thumbkit-blake3";
/// Object metadata key under which thumbkit records an original's header facts (JSON).
pub const PROBE_METADATA: &str = "thumbkit-probe";
/// Object metadata key under which thumbkit records an original's EXIF orientation (1-8).
pub const ORIENTATION_METADATA: &str = "thumbkit-orientation";
/// Object metadata key under which thumbkit records an original's BlurHash.
pub const BLURHASH_METADATA: &str = "thumbkit-blurhash";
/// The original's ThumbHash (base64).
pub const THUMBHASH_METADATA: &str = "thumbkit-thumbhash";
/// The original's average and dominant colours, `#rrggbb,#rrggbb`.
pub const COLORS_METADATA: &str = "thumbkit-colors";
/// Object metadata key under which thumbkit records an original's saliency map.
pub const SALIENCY_METADATA: &str = "thumbkit-saliency";

/// An original that this pipeline cannot render, remembered (in memory and in the shared
/// record) so that it is not read and decoded again on every request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The pipeline version that failed: a newer one tries again.
    pub pipeline: u32,
    /// The readers' version that failed (1 before it was kept): one that reads more formats
    /// tries again.
    #[serde(default = "first_readers")]
    pub readers: u32,
    pub error: PipelineError,
}

fn first_readers() -> u32 {
    1
}

impl Failure {
    /// Still what this pipeline, under these limits, would say of the same bytes.
    pub(crate) fn holds(&self, limits: &Limits) -> bool {
        self.pipeline == pipeline::PIPELINE_VERSION
            && self.readers == pipeline::READERS_VERSION
            && match self.error {
                PipelineError::TooManyPixels { limit, .. } => limit == limits.max_pixels,
                _ => true,
            }
    }
}

/// The header facts of an original whose header cannot be read (its record has a failure).
pub(crate) const UNREADABLE: Probe = Probe {
    format: pipeline::SourceFormat::Jpeg,
    width: 0,
    height: 0,
    alpha: false,
    orientation: 1,
    frames: 1,
    pages: 0,
    duration_ms: None,
};

/// The facts of one version of an original. Also the shared record's JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The original's key (records are checked against it, not trusted by name alone).
    pub key: String,
    /// The store's ETag of the version these facts describe.
    pub etag: String,
    /// blake3 of the bytes, hex.
    pub hash: String,
    pub size: u64,
    pub probe: Probe,
    /// EXIF orientation, 1-8 (1 when the file has none).
    #[serde(default = "upright_orientation")]
    pub orientation: u8,
    /// BlurHash, ThumbHash and colours, once computed (a record written before ThumbHash
    /// has none, and gets them at its next `GET /v1/originals`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placeholder: Option<Placeholder>,
    /// When this version of the original was written (Unix seconds), if the store said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified: Option<u64>,
    /// Why these bytes cannot be rendered, once a render or probe found out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    /// Where its subject is (what `smart` crops keep), once found; of this pipeline version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saliency: Option<Saliency>,
}

fn upright_orientation() -> u8 {
    1
}

/// The placeholders in an original's metadata, when all of them are there.
fn placeholder_of(metadata: &BTreeMap<String, String>) -> Option<Placeholder> {
    let (average, dominant) = metadata.get(COLORS_METADATA)?.split_once(',')?;
    Some(Placeholder {
        blurhash: metadata.get(BLURHASH_METADATA)?.clone(),
        thumbhash: metadata.get(THUMBHASH_METADATA)?.clone(),
        average_color: average.to_owned(),
        dominant_color: dominant.to_owned(),
    })
}

impl Record {
    /// The record from an object's metadata, when thumbkit wrote it there.
    pub(crate) fn from_metadata(key: &ObjectKey, info: &ObjectInfo) -> Option<Self> {
        let hash = ContentHash::parse(info.metadata.get(HASH_METADATA)?).ok()?;
        let mut probe: Probe = serde_json::from_str(info.metadata.get(PROBE_METADATA)?).ok()?;
        // Written on its own before the probe carried it; the two agree from here on.
        let orientation = info
            .metadata
            .get(ORIENTATION_METADATA)
            .and_then(|o| o.parse().ok())
            .unwrap_or(probe.orientation);
        probe.orientation = orientation;
        Some(Self {
            key: key.to_string(),
            etag: info.etag.clone(),
            hash: hash.to_string(),
            size: info.size,
            probe,
            orientation,
            placeholder: placeholder_of(&info.metadata),
            modified: info.modified,
            failure: None,
            saliency: info
                .metadata
                .get(SALIENCY_METADATA)
                .and_then(|m| Saliency::parse(m)),
        })
    }

    /// Metadata to store with an original so that no instance ever needs to read it to
    /// learn its hash.
    pub fn metadata(
        hash: &ContentHash,
        probe: &Probe,
        orientation: u8,
        placeholder: &Placeholder,
        saliency: Option<&Saliency>,
    ) -> BTreeMap<String, String> {
        let colors = format!(
            "{},{}",
            placeholder.average_color, placeholder.dominant_color
        );
        let mut metadata = BTreeMap::from([
            (BLURHASH_METADATA.to_owned(), placeholder.blurhash.clone()),
            (THUMBHASH_METADATA.to_owned(), placeholder.thumbhash.clone()),
            (COLORS_METADATA.to_owned(), colors),
            (HASH_METADATA.to_owned(), hash.to_string()),
            (
                PROBE_METADATA.to_owned(),
                serde_json::to_string(probe).unwrap_or_default(),
            ),
            (ORIENTATION_METADATA.to_owned(), orientation.to_string()),
        ]);
        if let Some(map) = saliency {
            metadata.insert(SALIENCY_METADATA.to_owned(), map.to_string());
        }
        metadata
    }

    /// Width and height once the orientation is applied.
    pub fn upright(&self) -> (u32, u32) {
        if (5..=8).contains(&self.orientation) {
            (self.probe.height, self.probe.width)
        } else {
            (self.probe.width, self.probe.height)
        }
    }

    /// The content hash (validated when the record was read).
    pub fn content_hash(&self) -> ContentHash {
        ContentHash::parse(&self.hash).unwrap_or_else(|_| ContentHash::of(self.hash.as_bytes()))
    }
}

/// What is known of an original at one ETag.
#[derive(Debug, Clone)]
pub struct Original {
    pub record: Arc<Record>,
    pub hash: ContentHash,
}

impl Original {
    /// What `record` says of the original.
    pub(crate) fn new(record: Record) -> Self {
        Self {
            hash: record.content_hash(),
            record: Arc::new(record),
        }
    }

    /// The original, unless it is known not to render: then the remembered failure.
    pub(crate) fn renderable(self) -> Result<Self, ServiceError> {
        match &self.record.failure {
            Some(failure) => Err(ServiceError::Remembered(failure.error.clone())),
            None => Ok(self),
        }
    }
}

/// What is known of an original for a request: confirmed by the store, or only what it last
/// confirmed, because it cannot be reached now (stale-if-error).
#[derive(Debug)]
pub enum Resolved {
    /// The store confirmed it within the revalidation interval.
    Confirmed(Original),
    /// The store cannot be reached; this is what it confirmed last.
    Stale {
        original: Original,
        /// Why the store could not confirm it: the answer when memory does not hold the variant.
        because: ServiceError,
    },
}

impl Resolved {
    /// A stale answer of `original`, unless it is known not to render.
    pub(crate) fn stale(original: Original, because: ServiceError) -> Result<Self, ServiceError> {
        Ok(Resolved::Stale {
            original: original.renderable()?,
            because,
        })
    }

    /// The original's facts, confirmed or not.
    pub fn original(&self) -> &Original {
        match self {
            Resolved::Confirmed(original) | Resolved::Stale { original, .. } => original,
        }
    }
}

/// An original's bytes as read for a render.
#[derive(Debug)]
pub enum Fetched {
    /// Just hashed (to learn the hash the render files its variant under): known to match.
    Hashed(bytes::Bytes),
    /// Read from the store as the version whose hash was learned: to be checked on the
    /// render thread before a variant is filed under that hash.
    Unchecked(bytes::Bytes),
    /// The original changed between learning its hash and reading it.
    Replaced,
}

impl Fetched {
    /// The bytes, unless the original was replaced.
    pub fn bytes(self) -> Option<bytes::Bytes> {
        match self {
            Fetched::Hashed(bytes) | Fetched::Unchecked(bytes) => Some(bytes),
            Fetched::Replaced => None,
        }
    }
}

/// The writes that share `record` (of the original at `key`) with other instances: under the
/// original's key and ETag (the shared record) and under its key alone (the index that lets
/// a purge find the variants of an original that is already gone). Failures are logged and
/// counted: records only save work.
pub fn writes(
    record: &Record,
    key: ObjectKey,
    layout: &Layout,
    storage: &Storage,
    metrics: &Arc<Metrics>,
) -> Option<impl Future<Output = ()> + Send + 'static> {
    let json: Bytes = match serde_json::to_vec(record) {
        Ok(json) => json.into(),
        Err(e) => {
            tracing::warn!(key = %key, error = %e, "cannot encode a record");
            return None;
        }
    };
    let mut targets = vec![layout.index(&key)];
    if !record.etag.is_empty() {
        targets.push(layout.record(&key, &record.etag));
    }
    let (storage, metrics) = (storage.clone(), metrics.clone());
    Some(async move {
        let no_metadata = BTreeMap::new();
        for target in targets {
            let put = storage.put_behind(
                &target,
                Kind::Record,
                json.clone(),
                "application/json",
                &no_metadata,
            );
            if let Err(e) = put.await {
                metrics.store_write_failed();
                tracing::warn!(key = %key, error = %e, "cannot write the original's record");
            }
        }
    })
}

/// Longest [`settle`] waits.
const SETTLE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Waits (for at most [`SETTLE_WAIT`]) until the records written behind requests have landed,
/// so that a record written now is not overwritten by an older one still in flight (a failure
/// remembered for an original must not be hidden by the record written when it was first
/// seen). Rare: once per broken original.
pub(super) async fn settle(writes: &tokio_util::task::TaskTracker) {
    let waited = std::time::Instant::now();
    while !writes.is_empty() && waited.elapsed() < SETTLE_WAIT {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_remembered_before_the_readers_grew_is_tried_again() {
        // As kept before JPEG XL, SVG and PDF were read: no `readers`.
        let old = r#"{"pipeline":4,"error":{"kind":"unsupported_format","detail":"a PDF is not an image"}}"#;
        let failure: Failure = serde_json::from_str(old).expect("an old record reads");
        assert!(!failure.holds(&Limits::default()), "tried again");
        let now = Failure {
            readers: pipeline::READERS_VERSION,
            ..failure
        };
        assert!(now.holds(&Limits::default()), "today's refusal holds");
    }
}
