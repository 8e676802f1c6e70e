//! The thumbnail service without HTTP: the [`Thumbnails`] type, its settings, and one file
//! per thing it does, in the order a request meets them:
//!
//! - [`addressing`]: which original (in which source) and which presets a request names;
//! - [`variants`]: a thumbnail request: memory, then the store, else a render;
//! - [`originals`]: what is known of an original (its content hash and header facts), with
//!   the [`records`] shared between instances;
//! - [`render`]: the fixed render threads and their admission bound;
//! - [`peers`]: a miss asked of the instance that owns the variant, or answered for one;
//! - [`manifest`]: every preset's URL and size for an original;
//! - [`uploads`] and [`tickets`]: originals arriving, directly or from a browser;
//! - [`pregenerate`]: variants made before anyone asks, all of an original from one decode;
//! - [`backfill`]: a whole bucket pre-generated (`thumbkit pregen`);
//! - [`events`]: S3 event notifications;
//! - [`error`]: why any of it failed.

pub mod addressing;
pub mod backfill;
pub mod budget;
mod cdn;
pub mod error;
pub mod events;
pub mod fallback;
pub mod focus;
pub mod gc;
pub mod intake;
pub mod manifest;
pub mod originals;
pub mod outage;
pub mod peers;
pub mod pregenerate;
pub mod records;
pub mod tickets;
pub mod uploads;
pub mod variants;
pub mod workers;

use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;
use tokio_util::task::TaskTracker;

use crate::keys::{ContentHash, Layout, ObjectKey};
use crate::metrics::Metrics;
use crate::pipeline::{Limits, OutputFormat};
use crate::preset::{Preset, Presets};
use crate::purge::Purger;
use crate::signing::Signer;
use crate::storage::{Storage, Store};

pub use crate::caching::Made;
pub use error::ServiceError;

use originals::Originals;
use workers::{Admitted, Patience, Workers};

/// A variant's bytes and what they are.
#[derive(Debug)]
pub struct Variant {
    /// Shared, so a response clones a reference, not the image.
    pub bytes: bytes::Bytes,
    pub format: OutputFormat,
    pub hash: ContentHash,
    /// How its pixels were made, which its ETag says (the two ways give other bytes).
    pub made: Made,
    /// The quality a byte budget chose (`X-Thumbkit-Quality`); `None` without a budget, or
    /// when it is not known (a peer's answer).
    pub quality: Option<u8>,
}

impl Variant {
    /// The object metadata it is stored with: the original's hash, how it was made (when
    /// not alone) and the quality its budget chose.
    pub fn metadata(&self) -> std::collections::BTreeMap<String, String> {
        let mut out = std::collections::BTreeMap::from([(
            records::HASH_METADATA.to_owned(),
            self.hash.to_string(),
        )]);
        if self.made != Made::Alone {
            out.insert(MADE_METADATA.to_owned(), self.made.as_str().to_owned());
        }
        if let Some(q) = self.quality {
            out.insert(QUALITY_METADATA.to_owned(), q.to_string());
        }
        out
    }
}

/// The stored variant's metadata that says how it was made.
pub const MADE_METADATA: &str = "thumbkit-made";

/// The stored variant's metadata that says what quality its byte budget chose.
pub const QUALITY_METADATA: &str = "thumbkit-quality";

/// How the service runs.
#[derive(Debug, Clone)]
pub struct Settings {
    pub limits: Limits,
    /// Bytes of rendered variants kept in memory.
    pub memory_cache_bytes: u64,
    pub render_workers: usize,
    /// Renders allowed to wait for a worker before requests are refused.
    pub render_queue: usize,
    pub render_timeout: Duration,
    /// Longest a single storage call may take.
    pub storage_timeout: Duration,
    /// How long what is known of an original is trusted before its ETag is checked again.
    pub revalidate: Duration,
    /// How long after the store last confirmed an original its variants in memory are still
    /// served while the store cannot be reached.
    pub stale_if_error: Duration,
    /// Longest a thumbnail request may take, all storage calls and the render included.
    pub request_timeout: Duration,
    /// Where thumbkit keeps what it derives (variants, records, staged uploads).
    pub layout: Layout,
    /// Presets rendered when an S3 event says an original was created (`all` = every one).
    pub pregenerate: Vec<String>,
    /// When set, `/t/...` URLs must be signed, and manifests hand out signed URLs.
    pub signer: Option<Signer>,
    /// How long the signed URLs in manifests stay valid.
    pub signed_url_ttl: Duration,
    /// How long an upload ticket's URL stays valid (at most 15 minutes).
    pub upload_ttl: Duration,
    /// The formats an `auto` preset may choose beyond JPEG/PNG, in order of preference: the
    /// first one the client's `Accept` names wins.
    pub auto_formats: Vec<OutputFormat>,
    /// Longest an AVIF render may take before the request is answered with WebP instead
    /// (the AVIF is still finished and stored for the next request).
    pub avif_budget: Duration,
    /// The image served in place of a missing or broken original for presets without a
    /// fallback of their own (`THUMBKIT_FALLBACK`).
    pub fallback: Option<std::path::PathBuf>,
    /// The other instances over the same store (`THUMBKIT_PEERS`), when there are any.
    pub peers: Option<crate::peers::PeerConfig>,
    /// Put before every URL the service hands out (`THUMBKIT_PUBLIC_URL`, a CDN's origin),
    /// without a trailing `/`; `None` hands out paths.
    pub public_url: Option<String>,
    /// Where CDN purges are sent when an original changes (`THUMBKIT_PURGE_WEBHOOK`).
    pub purge: Option<crate::purge::PurgeOptions>,
}

impl Settings {
    /// Renders allowed to wait per render worker, unless configured.
    pub const QUEUE_PER_WORKER: usize = 4;
}

impl Default for Settings {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Self {
            limits: Limits::default(),
            memory_cache_bytes: 256 << 20,
            render_workers: cores,
            render_queue: cores * Self::QUEUE_PER_WORKER,
            render_timeout: Duration::from_secs(30),
            storage_timeout: Duration::from_secs(10),
            revalidate: Duration::from_secs(30),
            stale_if_error: Duration::from_secs(300),
            request_timeout: Duration::from_secs(30),
            layout: Layout::new("_variants").unwrap_or_else(|_| unreachable!("a valid folder")),
            pregenerate: vec!["all".into()],
            signer: None,
            signed_url_ttl: Duration::from_secs(24 * 3600),
            upload_ttl: Duration::from_secs(15 * 60),
            auto_formats: OutputFormat::MODERN.to_vec(),
            avif_budget: Duration::from_secs(2),
            fallback: None,
            peers: None,
            public_url: None,
            purge: None,
        }
    }
}

/// The service: presets, storage, caches and the render pool.
pub struct Thumbnails {
    storage: Storage,
    presets: Presets,
    settings: Settings,
    metrics: Arc<Metrics>,
    originals: Originals,
    memory: Cache<String, Arc<Variant>>,
    /// With peers: what was fetched from the variants' owners ([`crate::peers::HOT_SHARE_EIGHTHS`]
    /// of the memory budget; the main tier holds only what this instance owns).
    hot: Cache<String, Arc<Variant>>,
    peers: Option<Arc<crate::peers::Peers>>,
    /// Every decode-like step runs here, within the admission bound.
    workers: Arc<Workers>,
    writes: TaskTracker,
    fallbacks: fallback::Fallbacks,
    /// Signs the fs store's upload URLs: the configured signing key, else a key of this
    /// process's own (fs stores serve one instance).
    upload_signer: Signer,
    /// The bodies of browser uploads being received (fs store).
    intake: intake::Intake,
    /// The focal points applications set.
    focus: focus::FocusBook,
    /// Tells the CDN what to purge when an original changes, if configured.
    purger: Option<Arc<crate::purge::Purger>>,
}

impl Thumbnails {
    /// A service over `store` with `presets`.
    pub fn new(store: Arc<dyn Store>, presets: Presets, settings: Settings) -> Self {
        let metrics = Arc::new(Metrics::new());
        // A key of this process's own comes from the OS's CSPRNG: one made from the time and
        // the pid can be found by trying the few million a start time allows.
        let settings_signer = settings.signer.clone().unwrap_or_else(|| {
            let key = crate::signing::random_hex(32);
            Signer::parse(&key).unwrap_or_else(|_| unreachable!("64 hex digits are a valid key"))
        });
        let storage = Storage::new(store, settings.storage_timeout, metrics.clone());
        let hot_bytes = match settings.peers {
            Some(_) => settings.memory_cache_bytes / 8 * crate::peers::HOT_SHARE_EIGHTHS,
            None => 0,
        };
        let weighed = |bytes: u64| {
            Cache::builder()
                .max_capacity(bytes)
                .weigher(|key: &String, v: &Arc<Variant>| {
                    u32::try_from(key.len() + v.bytes.len()).unwrap_or(u32::MAX)
                })
                .build()
        };
        let memory = weighed(settings.memory_cache_bytes - hot_bytes);
        let hot = weighed(hot_bytes);
        let peers = settings
            .peers
            .as_ref()
            .map(|config| crate::peers::Peers::start(config, metrics.clone()));
        let workers = Arc::new(Workers::start(
            settings.render_workers,
            settings.render_queue,
            settings.render_timeout,
        ));
        let originals = Originals::new(
            storage.clone(),
            settings.limits,
            settings.layout.clone(),
            settings.revalidate,
            settings.stale_if_error,
            metrics.clone(),
            workers.clone(),
        );
        let intake = intake::Intake::new(settings.limits.max_input_bytes);
        let focus = focus::FocusBook::new(
            storage.clone(),
            settings.layout.clone(),
            settings.revalidate,
        );
        let fallbacks =
            fallback::Fallbacks::new(settings.fallback.clone(), settings.limits, workers.clone());
        Self {
            purger: (settings.purge.clone()).map(|o| Arc::new(Purger::new(o, metrics.clone()))),
            workers,
            storage,
            presets,
            settings,
            metrics,
            originals,
            memory,
            hot,
            peers,
            writes: TaskTracker::new(),
            fallbacks,
            upload_signer: settings_signer,
            intake,
            focus,
        }
    }

    /// `preset`'s fallback image in the best of `accepted` its format allows, or `None`
    /// when it has none (or it cannot be rendered: logged, and the error is served).
    pub async fn fallback(
        &self,
        preset: &str,
        accepted: &[OutputFormat],
    ) -> Option<Arc<fallback::Fallback>> {
        self.fallbacks
            .render(self.presets.get(preset)?, accepted)
            .await
    }

    /// Where `preset`'s variant of the content `hash` (of the original at `key`) in `format`
    /// is stored: in the original's own store.
    fn variant_key(
        &self,
        key: &ObjectKey,
        hash: &ContentHash,
        preset: &Preset,
        crop: &focus::Crop,
        format: OutputFormat,
    ) -> ObjectKey {
        self.settings.layout.variant(
            key,
            hash,
            &preset.name,
            &crop.fingerprint,
            format.extension(),
        )
    }

    /// What a render made, counted; a failure is remembered for the original, and a subject
    /// it found is kept with it (its other presets and the other instances reuse it).
    async fn made(
        &self,
        original: &originals::Original,
        preset: &Preset,
        rendered: Result<crate::pipeline::Rendered, crate::pipeline::PipelineError>,
        took: Duration,
    ) -> Result<crate::pipeline::Rendered, ServiceError> {
        let rendered = match rendered {
            Ok(rendered) => rendered,
            Err(e) => {
                self.originals.failed(original, &e).await;
                return Err(e.into());
            }
        };
        self.metrics
            .render(preset.name.as_str(), took.as_secs_f64());
        self.count_budget(preset, &rendered);
        if let Some(map) = rendered.subject {
            self.originals.found_saliency(original, map).await;
        }
        Ok(rendered)
    }

    /// Counts what `preset`'s byte budget did to `rendered`, if it has one.
    fn count_budget(&self, preset: &Preset, rendered: &crate::pipeline::Rendered) {
        let Some(max) = preset.spec.max_bytes else {
            return;
        };
        let outcome = if rendered.bytes.len() > max as usize {
            "over"
        } else if rendered.quality < Some(rendered.format.quality_in(preset.spec.quality)) {
            "lowered"
        } else {
            "fits"
        };
        self.metrics.budget(preset.name.as_str(), outcome);
    }

    /// How the service runs.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The loaded presets.
    pub fn presets(&self) -> &Presets {
        &self.presets
    }

    /// The storage (for readiness checks).
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// The metrics as they stand, for counting (cheap; gauges not refreshed).
    pub fn counters(&self) -> &Metrics {
        &self.metrics
    }

    /// The metrics, with the gauges brought up to date (for `/metrics`).
    pub async fn metrics(&self) -> &Metrics {
        self.memory.run_pending_tasks().await;
        self.hot.run_pending_tasks().await;
        self.metrics.set_gauges(
            self.memory.weighted_size() + self.hot.weighted_size(),
            self.memory.entry_count() + self.hot.entry_count(),
            self.writes.len() + self.originals.pending_writes(),
        );
        &self.metrics
    }

    /// Bytes of browser-upload bodies being received now.
    pub fn intake_bytes(&self) -> usize {
        self.intake.in_flight()
    }

    /// A place among the admitted jobs for a request body about to be read: uploads count in
    /// the same memory bound as renders, and wait for it rather than fail.
    pub async fn admit_upload(&self) -> Result<Admitted, ServiceError> {
        Ok(self.workers.admit(Patience::Wait).await?)
    }

    /// Waits until every write behind a response has finished (for shutdown and tests).
    pub async fn drain(&self) {
        self.originals.drain().await;
        self.writes.close();
        self.writes.wait().await;
        self.writes.reopen();
    }
}
