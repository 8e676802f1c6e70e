//! A thumbnail request: resolve the preset and the original's content hash
//! ([`super::originals`]), then find the variant in memory, then in the store, else render it
//! once, answer, and write it to the store behind the response.
//!
//! Renders run on the fixed render threads of [`super::render`], admitted up to workers +
//! queue (memory) before the original is read. A request that finds the queue full is
//! refused at once (`Busy`, answered 503 with `Retry-After`) instead of piling up. Writes
//! behind the response are tracked, so shutdown waits for them ([`Thumbnails::drain`]).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::caching::{self, Made, Pin};
use crate::keys::{ContentHash, ObjectKey};
use crate::metrics::Metrics;
use crate::pipeline::{self, OutputFormat, PipelineError};
use crate::preset::{FormatChoice, Preset};
use crate::service::error::ServiceError;
use crate::service::focus::{Crop, is_smart};
use crate::service::originals::{Fetched, Original, Resolved};
use crate::service::workers::{Patience, Pending};
use crate::service::{MADE_METADATA, QUALITY_METADATA, Thumbnails, Variant};
use crate::storage::{Kind, Storage};
use crate::video;

/// Where a response came from, for `X-Cache`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    Memory,
    Store,
    Miss,
    /// Fetched from the peer that owns the variant.
    Peer,
}

impl Tier {
    /// The `X-Cache` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Memory => "hit-memory",
            Tier::Store => "hit-store",
            Tier::Miss => "miss",
            Tier::Peer => "hit-peer",
        }
    }
}

/// What the service answers for a thumbnail request.
#[derive(Debug)]
pub struct Served {
    /// `None` when the client's copy is current (`If-None-Match` matched): a 304, answered
    /// without fetching or rendering the variant.
    pub variant: Option<Arc<Variant>>,
    /// Where the variant came from (`None` with no variant).
    pub tier: Option<Tier>,
    /// Strong ETag: the content hash, the preset's fingerprint and the format.
    pub etag: String,
    /// The request pinned the current content with `?v=` (the response may be immutable).
    pub pinned: bool,
    /// The preset's format depends on `Accept` (responses need `Vary: Accept`).
    pub varies: bool,
    /// When the original was last written (Unix seconds), for `Last-Modified`.
    pub modified: Option<u64>,
    /// The source is animated and this output is a still of its first frame.
    pub flattened: bool,
    /// Served from memory on what the store last confirmed, because it cannot be reached
    /// now (stale-if-error).
    pub stale: bool,
}

/// One thumbnail request, as the HTTP layer read it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Request<'a> {
    pub preset: &'a str,
    pub key: &'a str,
    /// The service's `auto` formats that the client accepts, in the service's order (empty:
    /// JPEG/PNG only).
    pub accepted: &'a [OutputFormat],
    /// `?v=`: the content hash the client expects.
    pub pinned: Option<&'a str>,
    /// The `If-None-Match` header.
    pub if_none_match: Option<&'a str>,
}

/// What a render worker made of an original's bytes.
// A render's bytes dwarf the saliency map it may carry inline.
#[allow(clippy::large_enum_variant)]
enum Rendered {
    /// The render (or why the pipeline refused it), and how long it took.
    Made(Result<pipeline::Rendered, PipelineError>, Duration),
    /// The bytes are not the content they were said to be: nothing may be filed under it.
    HashMismatch,
}

/// One variant to find or render: the original it comes from and what to make of it.
#[derive(Clone, Copy)]
pub(super) struct Job<'a> {
    pub(super) key: &'a ObjectKey,
    pub(super) variant_key: &'a ObjectKey,
    pub(super) original: &'a Original,
    pub(super) preset: &'a Preset,
    /// What decides the crop beyond the preset (a `smart` preset's subject).
    pub(super) crop: &'a Crop,
    pub(super) format: OutputFormat,
}

impl Thumbnails {
    /// The variant of `key` for `preset`, rendering it if no tier has it.
    pub async fn thumbnail(&self, request: Request<'_>) -> Result<Served, ServiceError> {
        let preset = self
            .presets
            .get(request.preset)
            .ok_or_else(|| ServiceError::UnknownPreset(request.preset.to_owned()))?;
        // thumbkit's own folder (staged uploads, records, variants) is never an original.
        let key = self.original_key(request.key)?;
        self.offered(preset, &key)?;
        let deadline = self.settings.request_timeout;
        let mut attempts = std::pin::pin!(async {
            // A replacement between learning the hash and reading the bytes is retried once
            // with the new version; a second one in a row is reported.
            for _ in 0..2 {
                match self.serve(preset, &key, &request).await {
                    Err(ServiceError::Changed(_)) => continue,
                    other => return other,
                }
            }
            Err(ServiceError::Changed(key.to_string()))
        });
        // A memory hit, done at its first poll, arms no timer (the timer wheel's lock).
        match futures_util::FutureExt::now_or_never(attempts.as_mut()) {
            Some(done) => done,
            None => tokio::time::timeout(deadline, attempts)
                .await
                .unwrap_or(Err(ServiceError::Deadline(deadline))),
        }
    }

    async fn serve(
        &self,
        preset: &Preset,
        key: &ObjectKey,
        request: &Request<'_>,
    ) -> Result<Served, ServiceError> {
        // When the store cannot say whether the original changed, what memory holds for the
        // version it last confirmed is served rather than an error (stale-if-error).
        let resolved = self.originals.resolve_or_stale(key).await?;
        let original = resolved.original();
        let crop = self.crop_of(preset, key, original).await?;
        if let Some(v) = request.pinned
            && crop.pin(v, &original.hash) == Pin::Stale
        {
            return Err(ServiceError::StalePin {
                key: key.to_string(),
                pinned: v.chars().take(80).collect(),
            });
        }
        let probe = &original.record.probe;
        let format = OutputFormat::resolve(&preset.spec, probe, request.accepted);
        let tried = (self.serve_as(preset, key, request, &resolved, &crop, format)).await;
        match tried {
            // An `auto` preset's AVIF that outlasts its budget: this request gets the next
            // format the client takes (WebP, else JPEG/PNG); the AVIF is stored behind it.
            Err(ServiceError::OverBudget(_)) if preset.spec.format == FormatChoice::Auto => {
                self.metrics.avif_fallback();
                let next = OutputFormat::resolve(
                    &preset.spec,
                    probe,
                    request.accepted.get(1..).unwrap_or_default(),
                );
                self.serve_as(preset, key, request, &resolved, &crop, next)
                    .await
            }
            other => other,
        }
    }

    /// [`Self::serve`] in one format.
    async fn serve_as(
        &self,
        preset: &Preset,
        key: &ObjectKey,
        request: &Request<'_>,
        resolved: &Resolved,
        crop: &Crop,
        format: OutputFormat,
    ) -> Result<Served, ServiceError> {
        let original = resolved.original();
        let stale = matches!(resolved, Resolved::Stale { .. });
        let pinned = request
            .pinned
            .is_some_and(|v| crop.pin(v, &original.hash) == Pin::Current);
        let variant_key = self.variant_key(key, &original.hash, preset, crop, format);
        // Known before the variant is, so a client revalidating its copy costs no variant
        // fetch and no render.
        let etag =
            |made| caching::etag(&original.hash, &crop.fingerprint, format.extension(), made);
        let served = |variant: Option<Arc<Variant>>, tier: Option<Tier>, etag: String| Served {
            variant,
            tier,
            etag,
            pinned,
            varies: preset.spec.format == FormatChoice::Auto,
            modified: original.record.modified,
            flattened: original.record.probe.frames > 1
                && !pipeline::animation::keeps(&preset.spec, &original.record.probe, format),
            stale,
        };
        // Either way of making it is this variant, current: the client's copy is answered 304
        // under the ETag it has.
        if let Some(inm) = request.if_none_match {
            for made in Made::ALL {
                if caching::etag_matches(inm, &etag(made)) {
                    return Ok(served(None, None, etag(made)));
                }
            }
        }
        let in_memory = match self.memory.get(variant_key.as_str()).await {
            Some(v) => Some(v),
            None => self.hot.get(variant_key.as_str()).await,
        };
        if let Some(v) = in_memory {
            if stale {
                self.metrics.stale_served();
            }
            let tag = etag(v.made);
            return Ok(served(Some(v), Some(Tier::Memory), tag));
        }
        if let Resolved::Stale { because, .. } = resolved {
            return Err(because.clone());
        }
        let job = Job {
            key,
            variant_key: &variant_key,
            original,
            preset,
            crop,
            format,
        };
        // Boxed: the cold path's state is kilobytes, which every memory hit's future would
        // otherwise carry and copy as the layers above move it.
        let (variant, tier) = Box::pin(self.cached_or_rendered(job, true)).await?;
        let tag = etag(variant.made);
        Ok(served(Some(variant), Some(tier), tag))
    }

    /// The variant from memory, else from its owner when another peer owns it (and
    /// `ask_owner`), else from the store, else rendered; one computation per missing variant
    /// however many ask at once (the others wait for it and are answered from memory). Says
    /// where it came from: [`Tier::Memory`] when another caller fetched or rendered it.
    pub(super) async fn cached_or_rendered(
        &self,
        job: Job<'_>,
        ask_owner: bool,
    ) -> Result<(Arc<Variant>, Tier), ServiceError> {
        let owner = ask_owner.then(|| self.owner_of(job.variant_key)).flatten();
        let cache = if owner.is_some() {
            &self.hot
        } else {
            &self.memory
        };
        // The tier this caller's computation reached (another caller's answers from memory).
        let reached = OnceLock::new();
        let variant = cache
            .try_get_with(job.variant_key.as_str().to_owned(), async {
                if let Some(owner) = &owner
                    && let Some(v) = self.ask_owner_for(owner, &job).await?
                {
                    let _ = reached.set(Tier::Peer);
                    return Ok(Arc::new(v));
                }
                let (v, t) = self.fetch_or_render(&job).await?;
                let _ = reached.set(t);
                Ok::<_, ServiceError>(Arc::new(v))
            })
            .await
            .map_err(ServiceError::unshare)?;
        let tier = reached.get().copied().unwrap_or(Tier::Memory);
        Ok((variant, tier))
    }

    async fn fetch_or_render(&self, job: &Job<'_>) -> Result<(Variant, Tier), ServiceError> {
        let Job {
            key,
            variant_key,
            original,
            preset,
            crop,
            format,
        } = *job;
        let stored_key = variant_key.clone();
        // A version of the original that no instance had read until this one did, moments
        // ago, has no variants in the store: asking would be a call on the response's path.
        let unseen = self.originals.first_read(key, original).await;
        if !unseen && let Some(object) = self.storage.get(&stored_key, Kind::Variant).await? {
            let meta = &object.info.metadata;
            let variant = Variant {
                made: Made::parse(meta.get(MADE_METADATA).map(String::as_str)),
                quality: meta.get(QUALITY_METADATA).and_then(|q| q.parse().ok()),
                bytes: object.bytes,
                format,
                hash: original.hash.clone(),
            };
            return Ok((variant, Tier::Store));
        }
        // A visitor is refused at once when the queue is full.
        let admitted = self.workers.admit(Patience::Refuse).await?;
        let (bytes, hashed) = match self.originals.fetch(key, original).await? {
            Fetched::Hashed(bytes) => (bytes, true),
            Fetched::Unchecked(bytes) => (bytes, false),
            // Never store new pixels under the old content's key.
            Fetched::Replaced => return Err(ServiceError::Changed(key.to_string())),
        };
        let spec = crop.spec(&preset.spec);
        let limits = self.settings.limits;
        let expected = original.hash.clone();
        let cost = pipeline::decode_cost(&bytes);
        let job = self.workers.submit(admitted, cost, move || {
            // A variant is filed under the hash of the bytes it was rendered from, whatever
            // metadata or records claimed (unless these bytes were just hashed to learn it).
            if !hashed && ContentHash::of(&bytes) != expected {
                return Rendered::HashMismatch;
            }
            let started = Instant::now();
            let out = video::viewable(&bytes, &limits)
                .and_then(|view| pipeline::render(&view, &spec, format, &limits));
            Rendered::Made(out, started.elapsed())
        });
        let pending = job.await?;
        let finished = if format == OutputFormat::Avif {
            match pending.within(self.settings.avif_budget).await {
                Ok(finished) => finished,
                Err(still_running) => {
                    self.finish_behind(still_running, stored_key, original.hash.clone());
                    return Err(ServiceError::OverBudget(self.settings.avif_budget));
                }
            }
        } else {
            pending.wait().await
        };
        let Rendered::Made(rendered, took) = finished? else {
            tracing::warn!(key = %key, claimed = %original.hash, "an original's recorded hash does not match its bytes; hashing it again");
            self.originals.distrust(key, original).await;
            return Err(ServiceError::Changed(key.to_string()));
        };
        let rendered = self.made(original, preset, rendered, took).await?;
        let variant = Variant {
            bytes: bytes::Bytes::from(rendered.bytes),
            format,
            hash: original.hash.clone(),
            made: Made::Alone,
            quality: rendered.quality,
        };
        self.write_behind(stored_key, &variant);
        Ok((variant, Tier::Miss))
    }

    /// Finishes a render no request waits for any more, and keeps it like any other (in
    /// memory, then in the store).
    fn finish_behind(&self, pending: Pending<Rendered>, key: ObjectKey, hash: ContentHash) {
        let (memory, storage, metrics) = (
            self.cache_for(&key).clone(),
            self.storage.clone(),
            self.metrics.clone(),
        );
        self.writes.spawn(async move {
            let Ok(Rendered::Made(Ok(rendered), _)) = pending.wait().await else {
                return;
            };
            let variant = Variant {
                bytes: bytes::Bytes::from(rendered.bytes),
                format: rendered.format,
                hash: hash.clone(),
                made: Made::Alone,
                quality: rendered.quality,
            };
            let (bytes, metadata) = (variant.bytes.clone(), variant.metadata());
            memory
                .insert(key.as_str().to_owned(), Arc::new(variant))
                .await;
            store_behind(&storage, &metrics, &key, bytes, rendered.format, metadata).await;
        });
    }

    /// Stores a rendered variant after the response: the client does not wait for S3, and
    /// the memory tier already answers. Failures are logged and counted; the next instance
    /// that misses renders it again.
    fn write_behind(&self, key: ObjectKey, variant: &Variant) {
        let (storage, metrics) = (self.storage.clone(), self.metrics.clone());
        let (bytes, format, metadata) = (variant.bytes.clone(), variant.format, variant.metadata());
        self.writes.spawn(async move {
            store_behind(&storage, &metrics, &key, bytes, format, metadata).await;
        });
    }
}

/// Stores a variant no one waits for, retrying while the store recovers; a failure that
/// outlasts the retries is logged and counted (the next miss renders it again).
async fn store_behind(
    storage: &Storage,
    metrics: &Metrics,
    key: &ObjectKey,
    bytes: bytes::Bytes,
    format: OutputFormat,
    metadata: BTreeMap<String, String>,
) {
    let put = storage.put_behind(key, Kind::Variant, bytes, format.mime(), &metadata);
    if let Err(e) = put.await {
        metrics.store_write_failed();
        tracing::warn!(key = %key, error = %e, "cannot store a rendered variant");
    }
}

impl Thumbnails {
    /// What decides `preset`'s crop of the original at `key`: its focal point (read only
    /// for `smart` presets) and its saliency.
    pub(super) async fn crop_of(
        &self,
        preset: &Preset,
        key: &ObjectKey,
        original: &Original,
    ) -> Result<Crop, ServiceError> {
        if !is_smart(&preset.spec) {
            return Ok(Crop::plain(preset));
        }
        let point = self.focus.of(key, &original.hash).await?;
        Ok(Crop::of(preset, point, original.record.saliency))
    }
}
