//! A whole bucket pre-generated ([`backfill`], `thumbkit pregen`): every original under a
//! prefix, a few at a time, resumable by running it again.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::service::Thumbnails;
use crate::service::error::ServiceError;
use crate::storage::Kind;

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
                Ok(selected) => service
                    .pregenerate(key.as_str(), &selected)
                    .await
                    .map(|p| p.manifest),
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
                summary.failed.insert(key, e.answered());
            }
        }
    }
    Ok(summary)
}
