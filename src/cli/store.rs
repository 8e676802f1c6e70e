//! `thumbkit pregen` and `thumbkit purge`: the service without HTTP, working on the store.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use thumbkit::config::StoreArgs;
use thumbkit::pipeline::Limits;
use thumbkit::preset::Presets;
use thumbkit::service::{Settings, Thumbnails};

use super::error::CliError;

/// A service without HTTP, for the commands that work on the store.
pub(crate) fn offline_service(
    store: &StoreArgs,
    presets: Presets,
    limits: Limits,
) -> Result<(tokio::runtime::Runtime, Arc<Thumbnails>), CliError> {
    let config = store.config()?;
    let runtime = tokio::runtime::Runtime::new().map_err(CliError::Runtime)?;
    let opened = runtime.block_on(thumbkit::startup::open_store(&config))?;
    let settings = Settings {
        limits,
        storage_timeout: config.timeout,
        layout: config.layout,
        ..Settings::default()
    };
    Ok((
        runtime,
        Arc::new(Thumbnails::new(opened, presets, settings)),
    ))
}

pub(crate) fn pregen(
    store: &StoreArgs,
    prefix: &str,
    presets: &[String],
    concurrency: Option<usize>,
    loaded: Presets,
    limits: Limits,
) -> Result<(), CliError> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use thumbkit::service::backfill::OnProgress;
    let (runtime, service) = offline_service(store, loaded, limits)?;
    let concurrency = concurrency.unwrap_or(service.settings().render_workers);
    let stop = Arc::new(AtomicBool::new(false));
    let summary = runtime.block_on(async {
        let flag = stop.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!(
                    "pregen: stopping after the originals in progress (Ctrl-C again to abort)"
                );
                flag.store(true, Ordering::Relaxed);
                let _ = tokio::signal::ctrl_c().await;
                std::process::exit(130);
            }
        });
        let progress = Arc::new(Progress::default());
        let shown = progress.clone();
        let on_progress: OnProgress = Arc::new(move |done, total| shown.update(done, total));
        let summary = thumbkit::service::backfill::backfill(
            service,
            prefix,
            presets,
            concurrency,
            stop,
            on_progress,
        )
        .await;
        progress.finish();
        summary
    });
    let summary = summary?;
    for (what, reason) in &summary.failed {
        eprintln!("failed: {what}: {reason}");
    }
    println!("{summary}");
    if summary.interrupted {
        Err(CliError::Incomplete(
            "interrupted; run again to resume".into(),
        ))
    } else if summary.failed.is_empty() {
        Ok(())
    } else {
        Err(CliError::Incomplete(format!(
            "{} variants or originals failed",
            summary.failed.len()
        )))
    }
}

pub(crate) fn purge(
    store: &StoreArgs,
    keys: Vec<String>,
    presets: Presets,
    limits: Limits,
) -> Result<(), CliError> {
    let (runtime, service) = offline_service(store, presets, limits)?;
    let mut failed = 0;
    for key in &keys {
        match runtime.block_on(service.delete_original(key)) {
            Ok(d) if d.original || !d.derived.is_empty() => println!(
                "{key}: deleted{} and {} derived objects",
                if d.original { " the original" } else { "" },
                d.derived.len()
            ),
            Ok(_) => println!("{key}: nothing to delete"),
            Err(e) => {
                failed += 1;
                eprintln!("thumbkit: {key}: {e}");
            }
        }
    }
    match failed {
        0 => Ok(()),
        n => Err(CliError::Incomplete(format!(
            "{n} of {} keys could not be purged",
            keys.len()
        ))),
    }
}

/// A progress bar with rate and ETA on a terminal; a plain line every few seconds otherwise.
#[derive(Default)]
struct Progress {
    bar: std::sync::OnceLock<Option<ProgressBar>>,
    /// When the run started and when the last plain line was printed.
    plain: std::sync::Mutex<Option<(Instant, Instant)>>,
}

impl Progress {
    fn update(&self, done: usize, total: usize) {
        let bar = self.bar.get_or_init(|| {
            std::io::stderr().is_terminal().then(|| {
                let bar = ProgressBar::new(total as u64);
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
            })
        });
        if let Some(bar) = bar {
            bar.set_position(done as u64);
            return;
        }
        let Ok(mut state) = self.plain.lock() else {
            return;
        };
        let now = Instant::now();
        let (started, last) = state.get_or_insert((now, now));
        if done > 0 && (last.elapsed() >= Duration::from_secs(5) || done == total) {
            *last = now;
            let rate = done as f64 / started.elapsed().as_secs_f64().max(1e-3);
            let eta = (total - done) as f64 / rate.max(1e-9);
            eprintln!("pregen: {done}/{total} originals, {rate:.1}/s, ETA {eta:.0} s");
        }
    }

    fn finish(&self) {
        if let Some(Some(bar)) = self.bar.get() {
            bar.finish_and_clear();
        }
    }
}
