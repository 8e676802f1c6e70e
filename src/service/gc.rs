//! `thumbkit gc`: finds the variants no current preset would ask for (made under an edited
//! preset's old fingerprint, or by a preset since removed) and deletes them on request, so
//! editing presets does not grow the bucket forever. Nothing else in the variants folder
//! (records, the key index, staged uploads) is ever touched.

use std::collections::BTreeMap;

use futures_util::StreamExt;

use super::ServiceError;
use crate::keys::ObjectKey;
use crate::preset::Presets;
use crate::storage::{Kind, Storage};

/// Storage calls a collection keeps in flight.
const CONCURRENCY: usize = 16;

/// Why a variant is no longer current.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Staleness {
    /// The preset exists, with another fingerprint now.
    Edited { current: String },
    /// No preset (or step) has this name any more.
    Removed,
}

/// A variant that no current preset would ask for.
#[derive(Debug, Clone)]
pub struct StaleVariant {
    pub key: ObjectKey,
    /// The preset (or step) name its key carries.
    pub preset: String,
    /// The fingerprint its key carries.
    pub fingerprint: String,
    /// Its size, if it was still there to be measured.
    pub bytes: Option<u64>,
    pub why: Staleness,
}

/// What a collection found.
#[derive(Debug, Default)]
pub struct Collection {
    /// Variants whose fingerprint is current (kept).
    pub current: usize,
    /// Those that are not, sorted by key.
    pub stale: Vec<StaleVariant>,
}

impl Collection {
    /// The bytes the stale variants take.
    pub fn stale_bytes(&self) -> u64 {
        self.stale.iter().filter_map(|s| s.bytes).sum()
    }

    /// How many stale variants each old `preset.fingerprint` left, in order.
    pub fn by_fingerprint(&self) -> BTreeMap<String, (usize, u64)> {
        let mut counts = BTreeMap::new();
        for s in &self.stale {
            let entry = counts
                .entry(format!("{}.{}", s.preset, s.fingerprint))
                .or_insert((0, 0));
            entry.0 += 1;
            entry.1 += s.bytes.unwrap_or(0);
        }
        counts
    }
}

impl Collection {
    /// Lists the variants folder `folder` (of one store: `Layout::folder`) and sorts each
    /// variant into current or stale under `presets` (with its size). Deletes nothing.
    pub async fn gather(
        storage: &Storage,
        folder: &str,
        presets: &Presets,
    ) -> Result<Collection, ServiceError> {
        let current: BTreeMap<&str, String> = presets
            .every()
            .map(|p| (p.name.as_str(), p.fingerprint().to_string()))
            .collect();
        let listed = storage.list(&format!("{folder}/"), Kind::Variant).await?;
        let mut collection = Collection::default();
        let mut stale = Vec::new();
        for key in listed {
            let Some((preset, fingerprint)) = variant_name(folder, key.as_str()) else {
                continue;
            };
            // A `smart` variant's fingerprint carries its focal point's tag after a `-`.
            let preset_part = fingerprint
                .split_once('-')
                .map_or(fingerprint, |(fp, _)| fp);
            let why = match current.get(preset) {
                Some(now) if *now == preset_part => {
                    collection.current += 1;
                    continue;
                }
                Some(now) => Staleness::Edited {
                    current: now.clone(),
                },
                None => Staleness::Removed,
            };
            let (preset, fingerprint) = (preset.to_owned(), fingerprint.to_owned());
            stale.push(StaleVariant {
                key,
                preset,
                fingerprint,
                bytes: None,
                why,
            });
        }
        let sized: Vec<Result<StaleVariant, ServiceError>> = futures_util::stream::iter(stale)
            .map(|mut s| async move {
                s.bytes = storage
                    .head(&s.key, Kind::Variant)
                    .await?
                    .map(|info| info.size);
                Ok(s)
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        collection.stale = sized.into_iter().collect::<Result<_, _>>()?;
        // Gone between the list and the HEAD: nothing left to collect.
        collection.stale.retain(|s| s.bytes.is_some());
        collection.stale.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(collection)
    }

    /// Deletes the stale variants; returns how many were deleted and the keys that could not
    /// be, with why.
    pub async fn delete(&self, storage: &Storage) -> (usize, Vec<(String, String)>) {
        let results: Vec<(String, Result<(), String>)> = futures_util::stream::iter(&self.stale)
            .map(|s| async move {
                let done = storage.delete(&s.key, Kind::Variant).await;
                (s.key.to_string(), done.map_err(|e| e.to_string()))
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let mut failed = Vec::new();
        let mut deleted = 0;
        for (key, result) in results {
            match result {
                Ok(()) => deleted += 1,
                Err(e) => failed.push((key, e)),
            }
        }
        // Deleted variants may still sit in memory under keys no request can form again
        // (their fingerprint is gone): they age out of the LRU.
        (deleted, failed)
    }
}

/// The preset name and fingerprint of a variant's key, `{prefix}/{h2}/{h}/{name}.{fp}.{ext}`;
/// `None` for anything else in the folder (records, the key index, staged uploads).
fn variant_name<'a>(prefix: &str, key: &'a str) -> Option<(&'a str, &'a str)> {
    let rest = key.strip_prefix(prefix)?.strip_prefix('/')?;
    let mut parts = rest.split('/');
    let (h2, h, file) = (parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    if parts.next().is_some() || !hex(h2, 2) || !hex(h, 64) || !h.starts_with(h2) {
        return None;
    }
    let mut pieces = file.rsplitn(3, '.');
    let (_ext, fingerprint, name) = (pieces.next()?, pieces.next()?, pieces.next()?);
    Some((name, fingerprint))
}

#[cfg(test)]
mod tests {
    use super::variant_name;

    #[test]
    fn only_variant_keys_are_read_as_variants() {
        let h = "ab".to_owned() + &"0".repeat(62);
        let key = format!("_variants/ab/{h}/card@2x.0123456789ab.webp");
        assert_eq!(
            variant_name("_variants", &key),
            Some(("card@2x", "0123456789ab"))
        );
        for other in [
            format!("_variants/_records/ab/{h}.json"),
            format!("_variants/_keys/ab/{h}.json"),
            "_variants/_staging/0123.bytes".to_owned(),
            format!("_variants/cd/{h}/thumb.0123456789ab.jpg"),
            format!("elsewhere/ab/{h}/thumb.0123456789ab.jpg"),
        ] {
            assert_eq!(variant_name("_variants", &other), None, "{other}");
        }
    }
}
