//! The thumbnail service without HTTP: resolve a preset and an original's content hash
//! ([`crate::originals`]), then find the variant in memory, then in the store, else render it
//! once, answer, and write it to the store behind the response.
//!
//! Renders run on the fixed render threads of [`crate::workers`], admitted up to workers +
//! queue (memory) before the original is read. A request that finds the queue full is
//! refused at once (`Busy`, answered 503 with `Retry-After`) instead of piling up. Writes
//! behind the response are tracked, so shutdown waits for them ([`Thumbnails::drain`]).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use moka::future::Cache;
use tokio_util::task::TaskTracker;

use crate::keys::{ContentHash, KeyError, ObjectKey, VariantKey};
use crate::metrics::Metrics;
use crate::originals::{Original, Originals};
use crate::pipeline::{self, Limits, OutputFormat, PipelineError};
use crate::preset::{FormatChoice, Preset, Presets};
use crate::storage::{Kind, Storage, Store, StoreError};
use crate::workers::{Patience, WorkError, Workers};

pub use crate::originals::HASH_METADATA;

/// Why a thumbnail could not be served.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ServiceError {
    #[error("there is no preset named `{0}`")]
    UnknownPreset(String),
    #[error("invalid object key: {0}")]
    BadKey(#[from] KeyError),
    #[error("`{0}` is reserved for thumbkit's own use; originals cannot live there")]
    ReservedKey(String),
    #[error("{0}")]
    Conflict(String),
    #[error("there is no pending upload `{0}` (it was completed, or never issued)")]
    NoUpload(String),
    #[error("nothing has been uploaded for `{0}` yet; PUT the file to its upload_url first")]
    NothingUploaded(String),
    #[error("{0}")]
    BadUpload(String),
    #[error("there is no original at `{0}`")]
    NotFound(String),
    #[error(
        "`{key}` does not have the content `v={pinned}` (now or no longer); `v` is the content \
         hash from the manifest or the ETag: its first 32 to all 64 hex digits"
    )]
    StalePin { key: String, pinned: String },
    #[error("{0}")]
    Pipeline(#[from] PipelineError),
    /// A failure remembered for the original's content: answered without reading it.
    #[error("{0}")]
    Remembered(PipelineError),
    #[error("{message}")]
    Store {
        /// Unreachable or timed out (503), rather than answering with an error (502).
        unavailable: bool,
        message: String,
    },
    #[error("`{0}` changed while it was being read; try again")]
    Changed(String),
    #[error("all render workers are busy and the queue is full; try again shortly")]
    Busy,
    #[error("rendering took longer than {0:?}")]
    RenderTimeout(Duration),
    #[error("the request body did not arrive within {0:?}; nothing was stored")]
    BodyTimeout(Duration),
    #[error(
        "the request body is {bytes} bytes, over the limit of {limit} bytes; nothing was stored"
    )]
    BodyTooLarge { bytes: usize, limit: usize },
    #[error("the request took longer than {0:?}; try again shortly")]
    Deadline(Duration),
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Reserved(key) => ServiceError::ReservedKey(key),
            StoreError::Conflict { .. } => ServiceError::Conflict(e.to_string()),
            e => {
                // The whole story (endpoint, path, SDK cause) is for the operator's log;
                // the client gets what it can act on.
                tracing::warn!(error = %e, "storage");
                ServiceError::Store {
                    unavailable: e.is_unavailable(),
                    message: e.public_message(),
                }
            }
        }
    }
}

impl From<WorkError> for ServiceError {
    fn from(e: WorkError) -> Self {
        match e {
            WorkError::Busy => ServiceError::Busy,
            WorkError::Timeout(after) => ServiceError::RenderTimeout(after),
            WorkError::Crashed(why) => PipelineError::Internal(why).into(),
        }
    }
}

impl ServiceError {
    /// The error behind a shared single-flight failure (every waiter gets its own copy).
    pub fn unshare(e: Arc<ServiceError>) -> ServiceError {
        Arc::try_unwrap(e).unwrap_or_else(|shared| (*shared).clone())
    }
}

/// Where a response came from, for `X-Cache`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    Memory,
    Store,
    Miss,
}

impl Tier {
    /// The `X-Cache` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Memory => "hit-memory",
            Tier::Store => "hit-store",
            Tier::Miss => "miss",
        }
    }
}

/// A variant's bytes and what they are.
#[derive(Debug)]
pub struct Variant {
    /// Shared, so a response clones a reference, not the image.
    pub bytes: bytes::Bytes,
    pub format: OutputFormat,
    pub hash: ContentHash,
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
    /// Served from memory on what the store last confirmed, because it cannot be reached
    /// now (stale-if-error).
    pub stale: bool,
}

/// One thumbnail request, as the HTTP layer read it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Request<'a> {
    pub preset: &'a str,
    pub key: &'a str,
    pub accepts_webp: bool,
    /// `?v=`: the content hash the client expects.
    pub pinned: Option<&'a str>,
    /// The `If-None-Match` header.
    pub if_none_match: Option<&'a str>,
}

/// The shortest `?v=` accepted: the 32 hex digits the ETag shows (128 bits, as unambiguous
/// as a content hash needs to be).
pub const MIN_PIN_DIGITS: usize = 32;

/// Whether `?v=` names `hash`: all 64 digits or a prefix of at least [`MIN_PIN_DIGITS`].
fn pins(v: &str, hash: &ContentHash) -> bool {
    v.len() >= MIN_PIN_DIGITS && hash.as_str().starts_with(v)
}

/// Whether an `If-None-Match` value names `etag` (weak comparison, as RFC 9110 asks for).
fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    if_none_match
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

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
    /// Folder of the store that holds variants.
    pub variants_prefix: String,
    /// Presets rendered when an S3 event says an original was created (`all` = every one).
    pub pregenerate: Vec<String>,
    /// When set, `/t/...` URLs must be signed, and manifests hand out signed URLs.
    pub signer: Option<crate::signing::Signer>,
    /// How long the signed URLs in manifests stay valid.
    pub signed_url_ttl: Duration,
    /// How long an upload ticket's URL stays valid (at most 15 minutes).
    pub upload_ttl: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Self {
            limits: Limits::default(),
            memory_cache_bytes: 256 << 20,
            render_workers: cores,
            render_queue: cores * 4,
            render_timeout: Duration::from_secs(30),
            storage_timeout: Duration::from_secs(10),
            revalidate: Duration::from_secs(30),
            stale_if_error: Duration::from_secs(300),
            request_timeout: Duration::from_secs(30),
            variants_prefix: "_variants".into(),
            pregenerate: vec!["all".into()],
            signer: None,
            signed_url_ttl: Duration::from_secs(24 * 3600),
            upload_ttl: Duration::from_secs(15 * 60),
        }
    }
}

/// When a rendered variant is written to the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Write {
    /// After the response (requests).
    Behind,
    /// Before returning (uploads and pre-generation, which promise the variant is stored).
    Now,
}

/// The service: presets, storage, caches and the render pool.
pub struct Thumbnails {
    storage: Storage,
    presets: Presets,
    pub(crate) settings: Settings,
    metrics: Arc<Metrics>,
    pub(crate) originals: Originals,
    pub(crate) memory: Cache<String, Arc<Variant>>,
    /// Every decode-like step runs here, within the admission bound.
    pub(crate) workers: Arc<Workers>,
    writes: TaskTracker,
    /// Signs the fs store's upload URLs: the configured signing key, else a key of this
    /// process's own (fs stores serve one instance).
    pub(crate) upload_signer: crate::signing::Signer,
}

impl Thumbnails {
    /// A service over `store` with `presets`.
    pub fn new(store: Arc<dyn Store>, presets: Presets, settings: Settings) -> Self {
        let metrics = Arc::new(Metrics::new());
        let settings_signer = settings.signer.clone().unwrap_or_else(|| {
            let seed = format!("{:?}{}", std::time::SystemTime::now(), std::process::id());
            let key = blake3::hash(seed.as_bytes()).to_hex().to_string();
            crate::signing::Signer::parse(&key)
                .unwrap_or_else(|_| unreachable!("64 hex digits are a valid key"))
        });
        let storage = Storage::new(store, settings.storage_timeout, metrics.clone());
        let memory = Cache::builder()
            .max_capacity(settings.memory_cache_bytes)
            .weigher(|key: &String, v: &Arc<Variant>| {
                u32::try_from(key.len() + v.bytes.len()).unwrap_or(u32::MAX)
            })
            .build();
        let workers = Arc::new(Workers::start(
            settings.render_workers,
            settings.render_queue,
            settings.render_timeout,
        ));
        let originals = Originals::new(
            storage.clone(),
            settings.limits,
            settings.variants_prefix.clone(),
            settings.revalidate,
            settings.stale_if_error,
            metrics.clone(),
            workers.clone(),
        );
        Self {
            workers,
            storage,
            presets,
            settings,
            metrics,
            originals,
            memory,
            writes: TaskTracker::new(),
            upload_signer: settings_signer,
        }
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
        self.metrics.set_gauges(
            self.memory.weighted_size(),
            self.memory.entry_count(),
            self.writes.len(),
        );
        &self.metrics
    }

    /// Waits until every write behind a response has finished (for shutdown and tests).
    pub async fn drain(&self) {
        self.writes.close();
        self.writes.wait().await;
        self.writes.reopen();
    }

    /// The variant of `key` for `preset`, rendering it if no tier has it.
    pub async fn thumbnail(&self, request: Request<'_>) -> Result<Served, ServiceError> {
        let preset = self
            .presets
            .get(request.preset)
            .ok_or_else(|| ServiceError::UnknownPreset(request.preset.to_owned()))?;
        let key = ObjectKey::parse(request.key)?;
        let deadline = self.settings.request_timeout;
        let attempts = async {
            // A replacement between learning the hash and reading the bytes is retried once
            // with the new version; a second one in a row is reported.
            for _ in 0..2 {
                match self.serve(preset, &key, &request).await {
                    Err(ServiceError::Changed(_)) => continue,
                    other => return other,
                }
            }
            Err(ServiceError::Changed(key.to_string()))
        };
        tokio::time::timeout(deadline, attempts)
            .await
            .unwrap_or(Err(ServiceError::Deadline(deadline)))
    }

    async fn serve(
        &self,
        preset: &Preset,
        key: &ObjectKey,
        request: &Request<'_>,
    ) -> Result<Served, ServiceError> {
        // When the store cannot say whether the original changed, what memory holds for the
        // version it last confirmed is served rather than an error (stale-if-error).
        let (original, unconfirmed) = self.originals.resolve_or_stale(key).await?;
        if let Some(v) = request.pinned
            && !pins(v, &original.hash)
        {
            return Err(ServiceError::StalePin {
                key: key.to_string(),
                pinned: v.chars().take(80).collect(),
            });
        }
        let format =
            OutputFormat::resolve(preset.format, &original.record.probe, request.accepts_webp);
        let variant_key = VariantKey::new(
            &self.settings.variants_prefix,
            &original.hash,
            preset,
            format,
        );
        let etag = format!(
            "\"{}-{}-{}\"",
            &original.hash.as_str()[..32],
            preset.fingerprint(),
            format.extension()
        );
        let served = |variant: Option<Arc<Variant>>, tier: Option<Tier>| Served {
            variant,
            tier,
            etag: etag.clone(),
            pinned: request.pinned.is_some(),
            varies: preset.format == FormatChoice::Auto,
            stale: unconfirmed.is_some(),
        };
        // The ETag is known before the variant is: a client revalidating its copy costs no
        // variant fetch and no render.
        if request
            .if_none_match
            .is_some_and(|inm| etag_matches(inm, &etag))
        {
            return Ok(served(None, None));
        }
        if let Some(v) = self.memory.get(variant_key.as_str()).await {
            if unconfirmed.is_some() {
                self.metrics.stale_served();
            }
            return Ok(served(Some(v), Some(Tier::Memory)));
        }
        if let Some(e) = unconfirmed {
            return Err(e);
        }
        // One computation per missing variant however many requests ask at once; the
        // others wait for it and are answered from memory.
        let tier = AtomicU8::new(0);
        let variant = self
            .memory
            .try_get_with(variant_key.as_str().to_owned(), async {
                let (v, t) = self
                    .fetch_or_render(key, &variant_key, &original, preset, format, Write::Behind)
                    .await?;
                tier.store(t as u8 + 1, Ordering::Relaxed);
                Ok::<_, ServiceError>(Arc::new(v))
            })
            .await
            .map_err(ServiceError::unshare)?;
        let tier = match tier.load(Ordering::Relaxed) {
            2 => Tier::Store,
            3 => Tier::Miss,
            _ => Tier::Memory,
        };
        Ok(served(Some(variant), Some(tier)))
    }

    /// Makes sure the variant is in the store (rendering it if it is not), for uploads and
    /// pre-generation: unlike a request, this waits for the write. Returns where it was.
    pub(crate) async fn ensure_variant(
        &self,
        key: &ObjectKey,
        original: &Original,
        preset: &Preset,
        format: OutputFormat,
    ) -> Result<Tier, ServiceError> {
        let variant_key = VariantKey::new(
            &self.settings.variants_prefix,
            &original.hash,
            preset,
            format,
        );
        let stored_key = ObjectKey::parse(variant_key.as_str())?;
        if self
            .storage
            .head(&stored_key, Kind::Variant)
            .await?
            .is_some()
        {
            return Ok(Tier::Store);
        }
        let tier = AtomicU8::new(0);
        self.memory
            .try_get_with(variant_key.as_str().to_owned(), async {
                let (v, t) = self
                    .fetch_or_render(key, &variant_key, original, preset, format, Write::Now)
                    .await?;
                tier.store(t as u8 + 1, Ordering::Relaxed);
                Ok::<_, ServiceError>(Arc::new(v))
            })
            .await
            .map_err(ServiceError::unshare)?;
        Ok(match tier.load(Ordering::Relaxed) {
            2 => Tier::Store,
            3 => Tier::Miss,
            // Rendered by a concurrent request, whose write may still be in flight.
            _ => Tier::Memory,
        })
    }

    async fn fetch_or_render(
        &self,
        key: &ObjectKey,
        variant_key: &VariantKey,
        original: &Original,
        preset: &Preset,
        format: OutputFormat,
        write: Write,
    ) -> Result<(Variant, Tier), ServiceError> {
        let stored_key = ObjectKey::parse(variant_key.as_str())?;
        if let Some(object) = self.storage.get(&stored_key, Kind::Variant).await? {
            let variant = Variant {
                bytes: object.bytes,
                format,
                hash: original.hash.clone(),
            };
            return Ok((variant, Tier::Store));
        }
        let patience = match write {
            // A visitor is refused at once when the queue is full...
            Write::Behind => Patience::Refuse,
            // ...while uploads and pre-generation wait their turn rather than fail.
            Write::Now => Patience::Wait,
        };
        // Admitted before the original is read, so originals in memory are bounded too.
        let admitted = self.workers.admit(patience).await?;
        let bytes = match self.originals.bytes(key, original).await? {
            Ok(bytes) => bytes,
            // Never store new pixels under the old content's key.
            Err(_replaced) => return Err(ServiceError::Changed(key.to_string())),
        };
        let preset_owned = preset.clone();
        let limits = self.settings.limits;
        let expected = original.hash.clone();
        let job = self.workers.run(admitted, move || {
            // A variant is filed under the hash of the bytes it was rendered from, whatever
            // metadata or records claimed (blake3 runs at GB/s: about 1 ms for a photo).
            if ContentHash::of(&bytes) != expected {
                return None;
            }
            let started = Instant::now();
            let out = pipeline::render(&bytes, &preset_owned, format, &limits);
            Some((out, started.elapsed()))
        });
        let Some((rendered, took)) = job.await? else {
            tracing::warn!(key = %key, claimed = %original.hash, "an original's recorded hash does not match its bytes; hashing it again");
            self.originals.distrust(key, original).await;
            return Err(ServiceError::Changed(key.to_string()));
        };
        let rendered = match rendered {
            Ok(rendered) => rendered,
            Err(e) => {
                self.originals.failed(original, &e).await;
                return Err(e.into());
            }
        };
        self.metrics
            .render(preset.name.as_str(), took.as_secs_f64());
        let bytes = bytes::Bytes::from(rendered.bytes);
        match write {
            Write::Behind => self.write_behind(stored_key, bytes.clone(), format, &original.hash),
            Write::Now => {
                let metadata =
                    BTreeMap::from([(HASH_METADATA.to_owned(), original.hash.to_string())]);
                self.storage
                    .put(
                        &stored_key,
                        Kind::Variant,
                        bytes.clone(),
                        format.mime(),
                        &metadata,
                    )
                    .await?;
            }
        }
        Ok((
            Variant {
                bytes,
                format,
                hash: original.hash.clone(),
            },
            Tier::Miss,
        ))
    }

    /// Stores a rendered variant after the response: the client does not wait for S3, and
    /// the memory tier already answers. Failures are logged and counted; the next instance
    /// that misses renders it again.
    fn write_behind(
        &self,
        key: ObjectKey,
        bytes: bytes::Bytes,
        format: OutputFormat,
        hash: &ContentHash,
    ) {
        let storage = self.storage.clone();
        let metrics = self.metrics.clone();
        let metadata = BTreeMap::from([(HASH_METADATA.to_owned(), hash.to_string())]);
        self.writes.spawn(async move {
            let put = storage.put(&key, Kind::Variant, bytes, format.mime(), &metadata);
            if let Err(e) = put.await {
                metrics.store_write_failed();
                tracing::warn!(key = %key, error = %e, "cannot store a rendered variant");
            }
        });
    }
}
