//! The focal points applications set on originals (`?focus=` on upload, `PATCH`), and what
//! decides a `smart` variant's crop ([`Crop`]).
//!
//! A focal point is kept in the store beside the original's facts, bound to the content it
//! was set on (a replaced original starts without one), and read only for `smart` presets,
//! trusted for the revalidation interval like the original's own facts: every instance sees
//! a change within it, and the instance that made it at once.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use moka::future::Cache;
use serde::{Deserialize, Serialize};

use crate::caching::{self, Pin};
use crate::keys::{ContentHash, Fingerprint, Layout, ObjectKey};
use crate::pipeline::{Fit, Gravity, PipelineError, Point, Saliency, Spec, Subject};
use crate::preset::Preset;
use crate::service::error::ServiceError;
use crate::storage::{Kind, Storage};

/// What is stored for a focal point.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stored {
    key: String,
    /// The content the point was set on.
    hash: String,
    focus: Point,
}

/// The focal points, read through a cache trusted for the revalidation interval.
pub struct FocusBook {
    storage: Storage,
    layout: Layout,
    /// key → (the content hash the point was set on, the point).
    known: Cache<String, Arc<Option<(String, Point)>>>,
}

impl FocusBook {
    /// The book over `storage`, re-reading a key's point at most once per `revalidate`.
    pub fn new(storage: Storage, layout: Layout, revalidate: Duration) -> Self {
        Self {
            storage,
            layout,
            known: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(revalidate.max(Duration::from_millis(1)))
                .build(),
        }
    }

    /// The focal point set on `key` while it held `hash`, if any.
    pub async fn of(
        &self,
        key: &ObjectKey,
        hash: &ContentHash,
    ) -> Result<Option<Point>, ServiceError> {
        let known = self
            .known
            .try_get_with(key.as_str().to_owned(), async {
                let object = self
                    .storage
                    .get(&self.layout.focus(key), Kind::Record)
                    .await?;
                let stored = object
                    .and_then(|o| serde_json::from_slice::<Stored>(&o.bytes).ok())
                    .filter(|s| s.key == key.as_str())
                    .and_then(|s| Some((s.hash, Point::new(s.focus.x, s.focus.y)?)));
                Ok::<_, ServiceError>(Arc::new(stored))
            })
            .await
            .map_err(ServiceError::unshare)?;
        Ok(known
            .as_ref()
            .as_ref()
            .filter(|(h, _)| h == hash.as_str())
            .map(|(_, p)| *p))
    }

    /// Sets (or with `None` clears) the focal point of `key` holding `hash`.
    pub async fn set(
        &self,
        key: &ObjectKey,
        hash: &ContentHash,
        focus: Option<Point>,
    ) -> Result<(), ServiceError> {
        let target = self.layout.focus(key);
        match focus {
            Some(focus) => {
                let stored = Stored {
                    key: key.to_string(),
                    hash: hash.to_string(),
                    focus,
                };
                let json = serde_json::to_vec(&stored)
                    .map_err(|e| PipelineError::Internal(format!("a focal point: {e}")))?;
                let no_metadata = Default::default();
                let bytes = Bytes::from(json);
                let put = self.storage.put(
                    &target,
                    Kind::Record,
                    bytes,
                    "application/json",
                    &no_metadata,
                );
                put.await?;
            }
            None => self.storage.delete(&target, Kind::Record).await?,
        }
        let value = focus.map(|p| (hash.to_string(), p));
        self.known
            .insert(key.as_str().to_owned(), Arc::new(value))
            .await;
        Ok(())
    }
}

/// What decides a variant's pixels beyond its preset and content: for a `smart` preset, the
/// focal point (in the variant's fingerprint, so moving it changes the key and the ETag) or
/// the saliency (found from the content, which the key already names).
#[derive(Debug, Clone)]
pub struct Crop {
    /// The preset's fingerprint, with the focal point's tag when one decides the crop.
    pub fingerprint: Fingerprint,
    /// The focal point's tag, which `?v=` names beside the content (`{hash}.{tag}`).
    pub tag: Option<String>,
    /// A focal point set later would move the crop: only a `?v=` naming the point (`{hash}.
    /// {tag}`) is immutable; a bare `?v={hash}` is served as it is now, and revalidated.
    pub movable: bool,
    pub subject: Subject,
}

impl Crop {
    /// The crop of `preset` for an original with `focus` and `saliency`.
    pub fn of(preset: &Preset, focus: Option<Point>, saliency: Option<Saliency>) -> Self {
        if !is_smart(&preset.spec) {
            return Self::plain(preset);
        }
        match (focus, saliency) {
            (Some(p), _) => {
                let tag = focus_tag(p);
                Self {
                    fingerprint: Fingerprint(format!("{}-{tag}", preset.fingerprint())),
                    tag: Some(tag),
                    movable: true,
                    subject: Subject::Focus(p),
                }
            }
            (None, saliency) => Self {
                subject: saliency.map_or(Subject::Unknown, Subject::Salient),
                movable: true,
                ..Self::plain(preset)
            },
        }
    }

    /// The crop of a preset that nothing but itself decides.
    pub fn plain(preset: &Preset) -> Self {
        Self {
            fingerprint: preset.fingerprint().clone(),
            tag: None,
            movable: false,
            subject: Subject::Unknown,
        }
    }

    /// What a `?v=` says of this crop of the content `hash`.
    pub fn pin(&self, v: &str, hash: &ContentHash) -> Pin {
        match caching::pin(v, hash, self.tag.as_deref()) {
            // Immutable only if a later focal point could not change it.
            Pin::Current if self.movable && self.tag.is_none() => Pin::Content,
            other => other,
        }
    }

    /// `spec` with this crop's subject.
    pub fn spec(&self, spec: &Spec) -> Spec {
        Spec {
            subject: self.subject,
            ..spec.clone()
        }
    }
}

/// Whether `spec` crops around a subject.
pub fn is_smart(spec: &Spec) -> bool {
    spec.fit == Fit::Cover && spec.gravity == Gravity::Smart
}

/// Eight hex digits naming a focal point (rounded to 1/10 000 of the picture).
pub fn focus_tag(p: Point) -> String {
    let text = format!("{:.4},{:.4}", p.x, p.y);
    blake3::hash(text.as_bytes()).to_hex()[..8].to_owned()
}
