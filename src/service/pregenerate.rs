//! Variants rendered before the first visitor asks: after an upload, for a batch of keys
//! (`POST /v1/pregenerate`), and for a whole bucket ([`backfill`], `thumbkit pregen`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use std::time::{Duration, Instant};

use futures_util::future::join_all;

use crate::keys::{ContentHash, ObjectKey};
use crate::pipeline::batch::{self, Composed};
use crate::pipeline::{OutputFormat, PipelineError};
use crate::preset::Preset;
use crate::service::error::ServiceError;
use crate::service::manifest::{Manifest, formats};
use crate::service::originals::Original;
use crate::service::records::HASH_METADATA;
use crate::service::render::Patience;
use crate::service::{Thumbnails, Variant};
use crate::storage::Kind;

/// A variant that is not stored yet: which preset, which format, and its key.
struct Missing {
    preset: usize,
    format: OutputFormat,
    key: ObjectKey,
}

/// One preset composed, with its share of the decode's time; or why not.
type Composition = Result<(Arc<Composed>, Duration), ServiceError>;

impl Thumbnails {
    /// Renders and stores `presets`' variants of `key` that are not stored yet (in every
    /// format a client may be served), and answers with the manifest saying what was done.
    pub async fn pregenerate(
        &self,
        key: &str,
        presets: &[&Preset],
    ) -> Result<Manifest, ServiceError> {
        let key = self.original_key(key)?;
        let original = self.originals.resolve(&key).await?;
        Ok(self
            .pregenerate_original(&key, &original, None, presets)
            .await)
    }

    /// [`Self::pregenerate`] for an original already resolved; with its `bytes` when the
    /// caller holds them (an upload), so that they are not read back from the store.
    ///
    /// The missing variants are made from one decode ([`pipeline::batch`]): one job on a
    /// render worker decodes and resizes every preset, then each format is encoded as its own
    /// job, so the workers encode in parallel, and each is stored before this returns.
    pub(crate) async fn pregenerate_original(
        &self,
        key: &ObjectKey,
        original: &Original,
        bytes: Option<&Bytes>,
        presets: &[&Preset],
    ) -> Manifest {
        let mut manifest = self.manifest(key, original);
        let mut outcomes: Vec<String> = vec!["existing".to_owned(); presets.len()];
        let mut missing = Vec::new();
        for (i, preset) in presets.iter().enumerate() {
            for format in formats(preset, original) {
                let variant_key = self.settings.layout.variant(&original.hash, preset, format);
                match self.storage.head(&variant_key, Kind::Variant).await {
                    Ok(Some(_)) => {}
                    Ok(None) => missing.push(Missing {
                        preset: i,
                        format,
                        key: variant_key,
                    }),
                    Err(e) => {
                        outcomes[i] = format!("failed: {}", ServiceError::from(e));
                        missing.retain(|m| m.preset != i);
                        break;
                    }
                }
            }
        }
        if !missing.is_empty() {
            self.render_missing(key, original, bytes, presets, &missing, &mut outcomes)
                .await;
        }
        for (preset, outcome) in presets.iter().zip(outcomes) {
            if let Some(info) = manifest.variants.get_mut(preset.name.as_str()) {
                info.pregenerated = Some(outcome);
            }
        }
        manifest
    }

    /// Renders and stores `missing` from one decode, writing each preset's outcome.
    async fn render_missing(
        &self,
        key: &ObjectKey,
        original: &Original,
        held: Option<&Bytes>,
        presets: &[&Preset],
        missing: &[Missing],
        outcomes: &mut [String],
    ) {
        let composed = match self.compose(key, original, held, presets, missing).await {
            Ok(composed) => composed,
            Err(e) => {
                for m in missing {
                    outcomes[m.preset] = format!("failed: {e}");
                }
                return;
            }
        };
        let encodes = missing.iter().map(|m| {
            let composed = composed[m.preset].clone();
            async move {
                let composed = composed?;
                let name = presets[m.preset].name.as_str();
                self.encode_and_store(m, composed, &original.hash, name)
                    .await
            }
        });
        let results = join_all(encodes).await;
        for (m, result) in missing.iter().zip(results) {
            match result {
                Ok(()) if !outcomes[m.preset].starts_with("failed") => {
                    outcomes[m.preset] = "rendered".into();
                }
                Ok(()) => {}
                Err(e) => outcomes[m.preset] = format!("failed: {e}"),
            }
        }
    }

    /// Decodes the original once and composes every preset `missing` names, on a worker.
    /// Indexed like `presets` (a preset nothing is missing for is `None`).
    async fn compose(
        &self,
        key: &ObjectKey,
        original: &Original,
        held: Option<&Bytes>,
        presets: &[&Preset],
        missing: &[Missing],
    ) -> Result<Vec<Composition>, ServiceError> {
        let wanted: Vec<usize> = (0..presets.len())
            .filter(|i| missing.iter().any(|m| m.preset == *i))
            .collect();
        let chosen: Vec<Preset> = wanted.iter().map(|&i| presets[i].clone()).collect();
        let admitted = self.workers.admit(Patience::Wait).await?;
        let bytes = match held {
            Some(bytes) => bytes.clone(),
            None => match self.originals.bytes(key, original).await? {
                Ok(bytes) => bytes,
                Err(_replaced) => return Err(ServiceError::Changed(key.to_string())),
            },
        };
        let (limits, expected) = (self.settings.limits, original.hash.clone());
        let job = self.workers.run(admitted, move || {
            // As for a request: filed under the hash of the bytes it was rendered from.
            if ContentHash::of(&bytes) != expected {
                return None;
            }
            let refs: Vec<&Preset> = chosen.iter().collect();
            let started = Instant::now();
            let out = batch::compose_all(&bytes, &refs, &limits);
            Some((out, started.elapsed()))
        });
        let Some((composed, took)) = job.await? else {
            self.originals.distrust(key, original).await;
            return Err(ServiceError::Changed(key.to_string()));
        };
        let composed = match composed {
            Ok(composed) => composed,
            Err(e) => {
                self.originals.failed(original, &e).await;
                return Err(e.into());
            }
        };
        // The decode's time is shared among the presets it served.
        let share = took / u32::try_from(wanted.len().max(1)).unwrap_or(u32::MAX);
        let unwanted = || Err(PipelineError::Internal("not composed".into()).into());
        let mut out: Vec<Composition> = (0..presets.len()).map(|_| unwanted()).collect();
        for (i, one) in wanted.into_iter().zip(composed) {
            out[i] = one
                .map(|c| (Arc::new(c), share))
                .map_err(ServiceError::from);
        }
        Ok(out)
    }

    /// Encodes one format of a composed preset on a worker, stores it (before returning, as
    /// pre-generation promises) and keeps it in memory.
    async fn encode_and_store(
        &self,
        missing: &Missing,
        (composed, share): (Arc<Composed>, Duration),
        hash: &ContentHash,
        preset: &str,
    ) -> Result<(), ServiceError> {
        let format = missing.format;
        let admitted = self.workers.admit(Patience::Wait).await?;
        let job = self.workers.run(admitted, move || {
            let started = Instant::now();
            composed.encode(format).map(|r| (r, started.elapsed()))
        });
        let (rendered, took) = job.await??;
        self.metrics.render(preset, (share + took).as_secs_f64());
        let bytes = Bytes::from(rendered.bytes);
        let metadata = BTreeMap::from([(HASH_METADATA.to_owned(), hash.to_string())]);
        self.storage
            .put(
                &missing.key,
                Kind::Variant,
                bytes.clone(),
                format.mime(),
                &metadata,
            )
            .await?;
        let variant = Variant {
            bytes,
            format,
            hash: hash.clone(),
        };
        self.memory
            .insert(missing.key.as_str().to_owned(), Arc::new(variant))
            .await;
        Ok(())
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

/// What a backfill did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub originals: usize,
    pub rendered: usize,
    pub skipped: usize,
    /// Key (and preset) → reason.
    pub failed: BTreeMap<String, String>,
    /// Stopped early (Ctrl-C); running again resumes.
    pub interrupted: bool,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} originals: {} variants rendered, {} already stored, {} failed{}",
            self.originals,
            self.rendered,
            self.skipped,
            self.failed.len(),
            if self.interrupted {
                " (interrupted: run again to resume)"
            } else {
                ""
            }
        )
    }
}

/// Called with (originals done, originals in all): once with 0 before the first, then after
/// each.
pub type OnProgress = Arc<dyn Fn(usize, usize) + Send + Sync>;

/// Renders `presets`' missing variants of every original under `prefix`, `concurrency`
/// originals at a time, until done or `stop` is set. Variants already stored are skipped
/// with one HEAD each, and originals with a shared record are not even read, so an
/// interrupted run resumes by running it again and a second run renders nothing.
pub async fn backfill(
    service: Arc<Thumbnails>,
    prefix: &str,
    presets: &[String],
    concurrency: usize,
    stop: Arc<AtomicBool>,
    progress: OnProgress,
) -> Result<Summary, ServiceError> {
    service.select_presets(presets)?;
    let layout = service.settings.layout.clone();
    let mut keys: Vec<_> = service
        .storage()
        .list(prefix, Kind::Original)
        .await?
        .into_iter()
        .filter(|k| !layout.owns(k))
        .collect();
    keys.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    let total = keys.len();
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    progress(0, total);
    let limit = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut jobs = JoinSet::new();
    for key in keys {
        let permit = limit.clone().acquire_owned().await;
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let (service, presets) = (service.clone(), presets.to_vec());
        let (progress, done) = (progress.clone(), done.clone());
        jobs.spawn(async move {
            let _permit = permit;
            let result = match service.select_presets(&presets) {
                Ok(selected) => service.pregenerate(key.as_str(), &selected).await,
                Err(e) => Err(e),
            };
            progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
            (key.to_string(), result)
        });
    }
    let mut summary = Summary {
        interrupted: stop.load(Ordering::Relaxed),
        ..Summary::default()
    };
    while let Some(joined) = jobs.join_next().await {
        let Ok((key, result)) = joined else {
            continue;
        };
        summary.originals += 1;
        match result {
            Ok(manifest) => {
                for (preset, variant) in manifest.variants {
                    match variant.pregenerated.as_deref() {
                        Some("rendered") => summary.rendered += 1,
                        Some("existing") => summary.skipped += 1,
                        Some(reason) => {
                            let reason = reason.strip_prefix("failed: ").unwrap_or(reason);
                            let what = format!("{key} ({preset})");
                            summary.failed.insert(what, reason.into());
                        }
                        None => {}
                    }
                }
            }
            Err(e) => {
                summary.failed.insert(key, e.to_string());
            }
        }
    }
    Ok(summary)
}
