//! Variants rendered before the first visitor asks: after an upload, for a batch of keys
//! (`POST /v1/pregenerate`), and for a whole bucket ([`backfill`], `thumbkit pregen`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::keys::ObjectKey;
use crate::preset::Preset;
use crate::service::Thumbnails;
use crate::service::error::ServiceError;
use crate::service::manifest::{Manifest, formats};
use crate::service::originals::Original;
use crate::service::variants::Tier;
use crate::storage::Kind;

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
    pub(crate) async fn pregenerate_original(
        &self,
        key: &ObjectKey,
        original: &Original,
        bytes: Option<&Bytes>,
        presets: &[&Preset],
    ) -> Manifest {
        let mut manifest = self.manifest(key, original);
        for preset in presets {
            let mut outcome = "existing".to_owned();
            for format in formats(preset, original) {
                // One at a time per original: the render pool bounds the CPU, and a queue of
                // an upload's variants should not crowd out visitors' requests.
                match self
                    .ensure_variant(key, original, bytes, preset, format)
                    .await
                {
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
        manifest
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
