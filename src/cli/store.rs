//! `thumbkit pregen` and `thumbkit purge`: the service without HTTP, working on the store.

use thumbkit::pipeline::Limits;
use thumbkit::preset::Presets;

use super::args::StoreArgs;

/// A service without HTTP, for the commands that work on the store.
pub(crate) fn offline_service(
    store: &StoreArgs,
    presets: Presets,
    limits: Limits,
) -> Result<
    (
        tokio::runtime::Runtime,
        std::sync::Arc<thumbkit::service::Thumbnails>,
    ),
    String,
> {
    use thumbkit::service::{Settings, Thumbnails};
    let runtime = tokio::runtime::Runtime::new().map_err(|e| format!("cannot start: {e}"))?;
    let opened = runtime.block_on(store.open())?;
    let settings = Settings {
        limits,
        storage_timeout: store.storage_timeout,
        variants_prefix: store.variants_prefix.trim_end_matches('/').to_owned(),
        ..Settings::default()
    };
    let service = std::sync::Arc::new(Thumbnails::new(opened, presets, settings));
    Ok((runtime, service))
}

pub(crate) fn pregen(
    store: &StoreArgs,
    prefix: &str,
    presets: &[String],
    concurrency: Option<usize>,
    loaded: Presets,
    limits: Limits,
) -> Result<(), String> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
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
        thumbkit::backfill::run(service, prefix, presets, concurrency, stop).await
    });
    let summary = summary.map_err(|e| e.to_string())?;
    for (what, reason) in &summary.failed {
        eprintln!("failed: {what}: {reason}");
    }
    println!("{summary}");
    if summary.interrupted {
        Err("interrupted; run again to resume".into())
    } else if summary.failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} variants or originals failed",
            summary.failed.len()
        ))
    }
}

pub(crate) fn purge(
    store: &StoreArgs,
    keys: Vec<String>,
    presets: Presets,
    limits: Limits,
) -> Result<(), String> {
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
        n => Err(format!("{n} of {} keys could not be purged", keys.len())),
    }
}
