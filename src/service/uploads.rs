//! Originals arriving and leaving through the API: an upload is validated in full and
//! stored only once it is known to render, with its hash and header facts in its metadata
//! (so no instance ever reads it to learn them); a delete removes the original with
//! everything derived from it; a `PATCH` moves its focal point.

use bytes::Bytes;
use serde::Serialize;

use crate::keys::{ContentHash, ObjectKey};
use crate::pipeline::{self, PipelineError, Point, SourceFormat};
use crate::preset::Preset;
use crate::purge::PurgeReason;
use crate::service::Thumbnails;
use crate::service::error::ServiceError;
use crate::service::focus::{focus_tag, is_smart};
use crate::service::manifest::Manifest;
use crate::service::originals::Original;
use crate::service::records::Record;
use crate::service::workers::Admitted;
use crate::storage::Kind;
use crate::video;

/// What a delete removed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Deleted {
    pub key: String,
    /// The original existed and was deleted.
    pub original: bool,
    /// Objects derived from it that were deleted (variants and the hash record).
    pub derived: Vec<String>,
}

impl Thumbnails {
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
        focus: Option<Point>,
    ) -> Result<Manifest, ServiceError> {
        let key = self.original_key(key)?;
        let limits = self.settings.limits;
        let checked = bytes.clone();
        // Found now, while the upload is in memory, when any preset crops around it.
        let smart = self.presets.every().any(|p| is_smart(&p.spec));
        let (validated, hash, placeholder, saliency, view) = self
            .workers
            .run(admitted, pipeline::decode_cost(&bytes), move || {
                // A video is judged, and its placeholder made, by its poster frame.
                let (validated, view) = video::validate(&checked, &limits)?;
                let placeholder = pipeline::placeholder(&view, &limits)?;
                let saliency = match smart {
                    true => Some(pipeline::saliency(&view, &limits)?),
                    false => None,
                };
                let hash = ContentHash::of(&checked);
                // What pre-generation renders from (a video's frame, not the video again).
                let view = video::frame(view).map_or_else(|| checked.clone(), Bytes::from);
                Ok::<_, PipelineError>((validated, hash, placeholder, saliency, view))
            })
            .await??;
        let orientation = validated.probe.orientation;
        let metadata = Record::metadata(
            &hash,
            &validated.probe,
            orientation,
            &placeholder,
            saliency.as_ref(),
        );
        let content_type = match validated.probe.format {
            SourceFormat::Video => video::mime(&bytes),
            format => format.mime(),
        };
        let size = bytes.len() as u64;
        let etag = self
            .storage()
            .put(&key, Kind::Original, bytes.clone(), content_type, &metadata)
            .await?;
        // Indexed by key, so that a purge after an S3 removal event still finds its variants.
        let record = Record {
            key: key.to_string(),
            etag: String::new(),
            hash: hash.to_string(),
            size,
            probe: validated.probe,
            orientation,
            placeholder: Some(placeholder),
            modified: Some(crate::signing::now()),
            failure: None,
            saliency,
        };
        self.originals.share(&record).await?;
        // A new picture starts without the old one's focal point, unless given its own.
        self.focus.set(&key, &hash, focus).await?;
        // What this instance knew of the previous version is void, and so is a CDN's.
        self.originals.forget(&key).await;
        // The first request for a preset not pre-generated renders from these bytes, without
        // reading them back or asking the store for a variant nobody could have made yet.
        self.originals
            .arrived(&key, etag, (view.clone(), hash.clone()))
            .await;
        self.purge_cdn(&key, PurgeReason::Replaced);
        // The original was just validated and is in memory: pre-generation renders from
        // these bytes (a video's poster frame) instead of reading back what was just written.
        let original = Original::new(record);
        Ok(self
            .pregenerate_original(&key, &original, Some(&view), pregenerate)
            .await
            .manifest)
    }

    /// Deletes the original at `key`, its hash record and every variant of its content
    /// (whatever preset version rendered them), and forgets them in memory. Idempotent.
    pub async fn delete_original(&self, key: &str) -> Result<Deleted, ServiceError> {
        let key = self.original_key(key)?;
        let derived = self.purge_derived(&key).await?;
        let existed = self.storage().head(&key, Kind::Original).await?.is_some();
        self.storage().delete(&key, Kind::Original).await?;
        self.originals.forget(&key).await;
        self.purge_cdn(&key, PurgeReason::Deleted);
        Ok(Deleted {
            key: key.to_string(),
            original: existed,
            derived,
        })
    }

    /// Deletes what was derived from the original at `key` (variants, records), leaving the
    /// original itself alone; returns the deleted keys.
    pub(crate) async fn purge_derived(&self, key: &ObjectKey) -> Result<Vec<String>, ServiceError> {
        let key = key.clone();
        let mut derived = Vec::new();
        let original = match self.originals.resolve(&key).await {
            Ok(original) => Some((original.hash.clone(), Some(original.record.etag.clone()))),
            // Already gone (an S3 removal event) or unreadable: the index still knows its
            // content hash.
            Err(
                ServiceError::NotFound(_)
                | ServiceError::NoSuchSource { .. }
                | ServiceError::Pipeline(_),
            ) => self.indexed(&key).await?.map(|r| (r.content_hash(), None)),
            Err(e) => return Err(e),
        };
        // Resolving may have written the record and index behind this call: let them land
        // first, or they would reappear after the deletes below.
        self.originals.drain().await;
        if let Some((hash, etag)) = &original {
            let prefix = self.settings.layout.variants_of(&key, hash);
            for variant in self.storage().list(&prefix, Kind::Variant).await? {
                self.storage().delete(&variant, Kind::Variant).await?;
                self.memory.invalidate(variant.as_str()).await;
                self.hot.invalidate(variant.as_str()).await;
                derived.push(variant.to_string());
            }
            if let Some(etag) = etag {
                let record = self.settings.layout.record(&key, etag);
                if self.storage().head(&record, Kind::Record).await?.is_some() {
                    self.storage().delete(&record, Kind::Record).await?;
                    derived.push(record.to_string());
                }
            }
        }
        let focus = self.settings.layout.focus(&key);
        if self.storage().head(&focus, Kind::Record).await?.is_some() {
            self.storage().delete(&focus, Kind::Record).await?;
            derived.push(focus.to_string());
        }
        let index = self.settings.layout.index(&key);
        if self.storage().head(&index, Kind::Record).await?.is_some() {
            self.storage().delete(&index, Kind::Record).await?;
            derived.push(index.to_string());
        }
        self.originals.forget(&key).await;
        Ok(derived)
    }

    /// Sets (or with `None` clears) the focal point of the original at `key`, deletes the
    /// variants cropped around the old one, and answers with the manifest (whose `smart`
    /// URLs name the new point).
    pub async fn set_focus(
        &self,
        key: &str,
        focus: Option<Point>,
    ) -> Result<Manifest, ServiceError> {
        let key = self.original_key(key)?;
        let original = self.originals.resolve(&key).await?;
        let old = self.focus.of(&key, &original.hash).await?;
        self.focus.set(&key, &original.hash, focus).await?;
        if let Some(old) = old
            && Some(old) != focus
        {
            // Never served again (their key names the old point): only space.
            let tagged = format!("-{}.", focus_tag(old));
            let prefix = self.settings.layout.variants_of(&key, &original.hash);
            for variant in self.storage.list(&prefix, Kind::Variant).await? {
                if variant.as_str().contains(&tagged) {
                    self.storage.delete(&variant, Kind::Variant).await?;
                    self.memory.invalidate(variant.as_str()).await;
                    self.hot.invalidate(variant.as_str()).await;
                }
            }
        }
        self.describe(key.as_str()).await
    }

    /// The last record shared for `key`, whatever its version (for purges).
    async fn indexed(&self, key: &ObjectKey) -> Result<Option<Record>, ServiceError> {
        let index = self.settings.layout.index(key);
        Ok(self
            .storage()
            .get(&index, Kind::Record)
            .await?
            .and_then(|o| serde_json::from_slice::<Record>(&o.bytes).ok())
            .filter(|r| r.key == key.as_str() && ContentHash::parse(&r.hash).is_ok()))
    }
}
