//! `thumbkit pregen`: renders every missing variant of every original in the store (or under
//! a prefix), a few originals at a time. Variants already stored are skipped with one HEAD
//! each, and originals with a shared record are not even read, so an interrupted run resumes
//! by running it again and a second run renders nothing.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::service::{ServiceError, Thumbnails};
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

/// Renders `presets`' missing variants of every original under `prefix`, `concurrency`
/// originals at a time, until done or `stop` is set.
pub async fn run(
    service: Arc<Thumbnails>,
    prefix: &str,
    presets: &[String],
    concurrency: usize,
    stop: Arc<AtomicBool>,
) -> Result<Summary, ServiceError> {
    service.select_presets(presets)?;
    let own = format!("{}/", service.settings.variants_prefix);
    let mut keys: Vec<_> = service
        .storage()
        .list(prefix, Kind::Original)
        .await?
        .into_iter()
        .filter(|k| !k.as_str().starts_with(&own))
        .collect();
    keys.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    let progress = Progress::new(keys.len() as u64);
    let limit = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut jobs = JoinSet::new();
    for key in keys {
        let permit = limit.clone().acquire_owned().await;
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let (service, presets, progress) = (service.clone(), presets.to_vec(), progress.clone());
        jobs.spawn(async move {
            let _permit = permit;
            let result = match service.select_presets(&presets) {
                Ok(selected) => service.pregenerate(key.as_str(), &selected).await,
                Err(e) => Err(e),
            };
            progress.tick();
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
    progress.finish();
    Ok(summary)
}

/// A progress bar with rate and ETA on a terminal; a plain line every few seconds otherwise.
#[derive(Clone)]
struct Progress {
    bar: Option<ProgressBar>,
    plain: Arc<std::sync::Mutex<(u64, u64, Instant, Instant)>>,
}

impl Progress {
    fn new(total: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total);
            if let Ok(style) = ProgressStyle::with_template(
                "{bar:40} {pos}/{len} originals  {rate}  ETA {eta}  ({elapsed} elapsed)",
            ) {
                // indicatif's {per_sec} prints every digit it has ("86.7157/s").
                bar.set_style(style.with_key(
                    "rate",
                    |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = write!(w, "{:.1}/s", state.per_sec());
                    },
                ));
            }
            bar
        });
        let now = Instant::now();
        Self {
            bar,
            plain: Arc::new(std::sync::Mutex::new((0, total, now, now))),
        }
    }

    fn tick(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
            return;
        }
        let Ok(mut state) = self.plain.lock() else {
            return;
        };
        let (done, total, started, last) = &mut *state;
        *done += 1;
        if last.elapsed() >= Duration::from_secs(5) || *done == *total {
            *last = Instant::now();
            let rate = *done as f64 / started.elapsed().as_secs_f64().max(1e-3);
            let eta = (*total - *done) as f64 / rate.max(1e-9);
            eprintln!("pregen: {done}/{total} originals, {rate:.1}/s, ETA {eta:.0} s");
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
