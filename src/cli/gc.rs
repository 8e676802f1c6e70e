//! `thumbkit gc`: lists (by default) or deletes the variants made under presets' old
//! fingerprints or by presets since removed, with counts and bytes.

use thumbkit::config::StoreArgs;
use thumbkit::pipeline::Limits;
use thumbkit::preset::Presets;
use thumbkit::service::gc::{Collection, Staleness};

use super::error::CliError;
use super::store::{chosen_source, offline_service};

/// Lists the stale variants; deletes them when `delete` is set.
pub(crate) fn run(
    store: &StoreArgs,
    source: Option<&str>,
    presets: Presets,
    limits: Limits,
    delete: bool,
) -> Result<(), CliError> {
    let (runtime, service) = offline_service(store, presets, limits)?;
    let source = chosen_source(&service, source)?;
    let collection = runtime.block_on(Collection::gather(
        service.storage(),
        &service.settings().layout.folder(source),
        service.presets(),
    ))?;
    for s in &collection.stale {
        let why = match &s.why {
            Staleness::Edited { current } => format!("{} is now {current}", s.preset),
            Staleness::Removed => format!("no preset {}", s.preset),
        };
        println!("stale  {}  {} bytes  ({why})", s.key, s.bytes.unwrap_or(0));
    }
    for (old, (count, bytes)) in collection.by_fingerprint() {
        println!("{old}: {count} variants, {bytes} bytes");
    }
    let (n, bytes) = (collection.stale.len(), collection.stale_bytes());
    if !delete {
        println!(
            "gc: {n} stale variants ({bytes} bytes), {} current kept; dry run: \
             `thumbkit gc --delete` deletes them",
            collection.current
        );
        return Ok(());
    }
    let (deleted, failed) = runtime.block_on(collection.delete(service.storage()));
    for (key, reason) in &failed {
        eprintln!("thumbkit: {key}: {reason}");
    }
    println!(
        "gc: deleted {deleted} stale variants ({bytes} bytes listed), {} current kept",
        collection.current
    );
    match failed.len() {
        0 => Ok(()),
        f => Err(CliError::Incomplete(format!(
            "{f} of {n} stale variants could not be deleted"
        ))),
    }
}
