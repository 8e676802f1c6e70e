//! `thumbkit pregen` and `thumbkit purge`: the service without HTTP, working on the store.

use std::sync::Arc;

use thumbkit::config::StoreArgs;
use thumbkit::keys::SourceName;
use thumbkit::pipeline::Limits;
use thumbkit::preset::Presets;
use thumbkit::service::{Settings, Thumbnails};

use super::error::CliError;
use super::progress::Progress;

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

/// The configured source called `name` (`None` for the default store), or the one line
/// that says which exist.
pub(crate) fn chosen_source<'s>(
    service: &'s Thumbnails,
    name: Option<&str>,
) -> Result<Option<&'s SourceName>, CliError> {
    let Some(name) = name else {
        return Ok(None);
    };
    let layout = &service.settings().layout;
    match layout.source(name) {
        Some(source) => Ok(Some(source)),
        None => {
            let known: Vec<&str> = layout.sources().iter().map(SourceName::as_str).collect();
            Err(CliError::Usage(format!(
                "--source {}: THUMBKIT_SOURCES configures no such source (it has: {})",
                name.chars().take(40).collect::<String>(),
                match known.is_empty() {
                    true => "none".into(),
                    false => known.join(", "),
                }
            )))
        }
    }
}

pub(crate) fn pregen(
    store: &StoreArgs,
    (source, prefix): (Option<&str>, &str),
    presets: &[String],
    concurrency: Option<usize>,
    loaded: Presets,
    limits: Limits,
) -> Result<(), CliError> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use thumbkit::service::backfill::OnProgress;
    let (runtime, service) = offline_service(store, loaded, limits)?;
    let prefix = match chosen_source(&service, source)? {
        Some(name) => format!("{name}:{prefix}"),
        None => prefix.to_owned(),
    };
    let prefix = prefix.as_str();
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
        let progress = Arc::new(Progress::new("pregen", "originals"));
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
