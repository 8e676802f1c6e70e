//! The thumbnail service without HTTP: resolve a preset and an original's content hash, then
//! find the variant in memory, then in the store, else render it once and store it.
//!
//! Renders run on tokio's blocking pool behind two semaphores: one sized to the render
//! workers (CPU), one to workers + queue (memory). A request that finds the queue full is
//! refused at once (`Busy`, answered 503 with `Retry-After`) instead of piling up.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use moka::future::Cache;
use tokio::sync::Semaphore;

use crate::keys::{ContentHash, KeyError, ObjectKey, VariantKey};
use crate::pipeline::{self, Limits, OutputFormat, PipelineError, Probe};
use crate::preset::{Preset, Presets};
use crate::storage::{Store, StoreError};

/// Object metadata key under which thumbkit records an original's content hash.
pub const HASH_METADATA: &str = "thumbkit-blake3";

/// Why a thumbnail could not be served.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ServiceError {
    #[error("there is no preset named `{0}`")]
    UnknownPreset(String),
    #[error("invalid object key: {0}")]
    BadKey(#[from] KeyError),
    #[error("there is no original at `{0}`")]
    NotFound(String),
    #[error("`{key}` no longer has the content `v={pinned}`")]
    StalePin { key: String, pinned: String },
    #[error("{0}")]
    Pipeline(#[from] PipelineError),
    #[error("storage is unavailable: {0}")]
    Store(String),
    #[error("all render workers are busy and the queue is full; try again shortly")]
    Busy,
    #[error("rendering took longer than {0:?}")]
    RenderTimeout(Duration),
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        ServiceError::Store(e.to_string())
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
    pub variant: Arc<Variant>,
    pub tier: Tier,
    /// The request pinned the current content with `?v=` (the response may be immutable).
    pub pinned: bool,
    /// The preset's format depends on `Accept` (responses need `Vary: Accept`).
    pub varies: bool,
    pub preset_fingerprint: String,
}

/// What is known of an original at one ETag.
#[derive(Debug, Clone)]
struct Original {
    etag: String,
    hash: ContentHash,
    probe: Probe,
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
    /// How long what is known of an original is trusted before its ETag is checked again.
    pub revalidate: Duration,
    /// Folder of the store that holds variants.
    pub variants_prefix: String,
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
            revalidate: Duration::from_secs(30),
            variants_prefix: "_variants".into(),
        }
    }
}

/// The service: presets, store, caches and the render pool.
pub struct Thumbnails {
    store: Store,
    presets: Presets,
    settings: Settings,
    memory: Cache<String, Arc<Variant>>,
    originals: Cache<ObjectKey, Original>,
    workers: Arc<Semaphore>,
    admission: Arc<Semaphore>,
}

impl Thumbnails {
    /// A service over `store` with `presets`.
    pub fn new(store: Store, presets: Presets, settings: Settings) -> Self {
        let memory = Cache::builder()
            .max_capacity(settings.memory_cache_bytes)
            .weigher(|key: &String, v: &Arc<Variant>| {
                u32::try_from(key.len() + v.bytes.len()).unwrap_or(u32::MAX)
            })
            .build();
        let originals = Cache::builder()
            .max_capacity(100_000)
            .time_to_live(settings.revalidate)
            .build();
        Self {
            workers: Arc::new(Semaphore::new(settings.render_workers.max(1))),
            admission: Arc::new(Semaphore::new(
                settings.render_workers.max(1) + settings.render_queue,
            )),
            store,
            presets,
            settings,
            memory,
            originals,
        }
    }

    /// The loaded presets.
    pub fn presets(&self) -> &Presets {
        &self.presets
    }

    /// The store (for readiness checks and tests).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The variant of `key` for `preset`, rendering it if no tier has it.
    pub async fn thumbnail(
        &self,
        preset: &str,
        key: &str,
        accepts_webp: bool,
        pinned: Option<&str>,
    ) -> Result<Served, ServiceError> {
        let preset = self
            .presets
            .get(preset)
            .ok_or_else(|| ServiceError::UnknownPreset(preset.to_owned()))?;
        let key = ObjectKey::parse(key)?;
        let (original, bytes) = self.original(&key).await?;
        if let Some(v) = pinned
            && v != original.hash.as_str()
        {
            return Err(ServiceError::StalePin {
                key: key.to_string(),
                pinned: v.chars().take(80).collect(),
            });
        }
        let format = OutputFormat::resolve(preset.format, &original.probe, accepts_webp);
        let variant_key = VariantKey::new(
            &self.settings.variants_prefix,
            &original.hash,
            preset,
            format,
        );
        let served = |variant, tier| Served {
            variant,
            tier,
            pinned: pinned.is_some(),
            varies: preset.format == crate::preset::FormatChoice::Auto,
            preset_fingerprint: preset.fingerprint().to_string(),
        };
        if let Some(v) = self.memory.get(variant_key.as_str()).await {
            return Ok(served(v, Tier::Memory));
        }
        // One computation per missing variant however many requests ask at once; the
        // others wait for it and are answered from memory.
        let tier = AtomicU8::new(0);
        let variant = self
            .memory
            .try_get_with(variant_key.as_str().to_owned(), async {
                let (v, t) = self
                    .fetch_or_render(&key, &variant_key, &original, bytes, preset, format)
                    .await?;
                tier.store(t as u8 + 1, Ordering::Relaxed);
                Ok::<_, ServiceError>(Arc::new(v))
            })
            .await
            .map_err(|e: Arc<ServiceError>| {
                Arc::try_unwrap(e).unwrap_or_else(|shared| (*shared).clone())
            })?;
        let tier = match tier.load(Ordering::Relaxed) {
            2 => Tier::Store,
            3 => Tier::Miss,
            _ => Tier::Memory,
        };
        Ok(served(variant, tier))
    }

    /// What is known of the original at `key`, and its bytes when they had to be read.
    async fn original(&self, key: &ObjectKey) -> Result<(Original, Option<Vec<u8>>), ServiceError> {
        if let Some(known) = self.originals.get(key).await {
            return Ok((known, None));
        }
        let (bytes, info) = self
            .store
            .get(key)
            .await?
            .ok_or_else(|| ServiceError::NotFound(key.to_string()))?;
        let hash = info
            .metadata
            .get(HASH_METADATA)
            .and_then(|h| ContentHash::parse(h).ok())
            .unwrap_or_else(|| ContentHash::of(&bytes));
        let probe = pipeline::probe(&bytes, &self.settings.limits)?;
        let original = Original {
            etag: info.etag,
            hash,
            probe,
        };
        self.originals.insert(key.clone(), original.clone()).await;
        Ok((original, Some(bytes)))
    }

    async fn fetch_or_render(
        &self,
        key: &ObjectKey,
        variant_key: &VariantKey,
        original: &Original,
        bytes: Option<Vec<u8>>,
        preset: &Preset,
        format: OutputFormat,
    ) -> Result<(Variant, Tier), ServiceError> {
        let stored_key = ObjectKey::parse(variant_key.as_str())?;
        if let Some((bytes, _)) = self.store.get(&stored_key).await? {
            let variant = Variant {
                bytes: bytes.into(),
                format,
                hash: original.hash.clone(),
            };
            return Ok((variant, Tier::Store));
        }
        let admission = self
            .admission
            .clone()
            .try_acquire_owned()
            .map_err(|_| ServiceError::Busy)?;
        let bytes = match bytes {
            Some(b) => b,
            None => {
                let (b, info) = self
                    .store
                    .get(key)
                    .await?
                    .ok_or_else(|| ServiceError::NotFound(key.to_string()))?;
                if info.etag != original.etag {
                    // Replaced since its hash was learnt: forget it and let the client retry
                    // rather than store new pixels under the old content's key.
                    self.originals.invalidate(key).await;
                    return Err(ServiceError::NotFound(key.to_string()));
                }
                b
            }
        };
        let worker = self
            .workers
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| ServiceError::Busy)?;
        let preset_owned = preset.clone();
        let limits = self.settings.limits;
        let job = tokio::task::spawn_blocking(move || {
            let _held = (admission, worker);
            pipeline::render(&bytes, &preset_owned, format, &limits)
        });
        let timeout = self.settings.render_timeout;
        let rendered = tokio::time::timeout(timeout, job)
            .await
            .map_err(|_| ServiceError::RenderTimeout(timeout))?
            .map_err(|e| PipelineError::Internal(format!("render task: {e}")))??;
        let metadata = BTreeMap::from([(HASH_METADATA.to_owned(), original.hash.to_string())]);
        self.store
            .put(&stored_key, &rendered.bytes, &metadata)
            .await?;
        Ok((
            Variant {
                bytes: rendered.bytes.into(),
                format,
                hash: original.hash.clone(),
            },
            Tier::Miss,
        ))
    }
}
