//! The [`Layout`] of everything thumbkit derives from an original, in the original's own
//! store: the one place the bucket's key scheme is written.

use super::names::{ContentHash, Fingerprint, KeyError, ObjectKey, PresetName, VariantKey};
use super::source::SourceName;
use super::source::split_source;

/// Where thumbkit keeps what it derives, all under one folder of the store (`_variants` by
/// default), so that it can never be mistaken for an original:
///
/// ```text
/// {prefix}/{h[0..2]}/{h}/{preset}.{fingerprint}.{ext}   a variant of the content h
/// {prefix}/_records/{d[0..2]}/{d}.json                   an original's facts, d = blake3(key \n etag)
/// {prefix}/_keys/{d[0..2]}/{d}.json                      its last facts by key, d = blake3(key)
/// {prefix}/_focus/{d[0..2]}/{d}.json                     its focal point, d = blake3(key)
/// {prefix}/_staging/{id}.bytes | {id}.json               a browser upload and its ticket
/// ```
///
/// An original of a configured source (`docs:scans/a.pdf`) has all of these in that source's
/// store (`docs:{prefix}/...`), so each bucket keeps its own variants and records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    prefix: String,
    /// The configured sources (`THUMBKIT_SOURCES`) besides the default store.
    sources: Vec<SourceName>,
}

impl Layout {
    /// The layout under `prefix` (a folder; a trailing `/` is dropped), with no sources.
    pub fn new(prefix: &str) -> Result<Self, KeyError> {
        let prefix = prefix.trim_end_matches('/');
        ObjectKey::parse(prefix)?;
        Ok(Self {
            prefix: prefix.to_owned(),
            sources: Vec::new(),
        })
    }

    /// The same layout, knowing that keys may name these sources.
    pub fn with_sources(mut self, sources: impl IntoIterator<Item = SourceName>) -> Self {
        self.sources = sources.into_iter().collect();
        self
    }

    /// The folder, without a trailing `/`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The configured sources besides the default store.
    pub fn sources(&self) -> &[SourceName] {
        &self.sources
    }

    /// The configured source `key` names and its key there, or `None` for the default
    /// store's keys.
    pub fn source_of<'k>(&self, key: &'k str) -> Option<(&SourceName, &'k str)> {
        let (name, rest) = split_source(key, |name| self.source(name).is_some())?;
        Some((self.source(name)?, rest))
    }

    /// The name `key` seems to give a source when sources are configured but none has it
    /// (`other-bucket:x.jpg`): such a key is the default store's, and says so when missing.
    pub fn unconfigured_source<'k>(&self, key: &'k str) -> Option<&'k str> {
        let (name, _) = split_source(key, |n| SourceName::parse(n).is_ok())?;
        (!self.sources.is_empty() && self.source(name).is_none()).then_some(name)
    }

    /// The name of the configured source `key` names, if any.
    pub fn source_name<'s>(&'s self, key: &str) -> Option<&'s str> {
        self.source_of(key).map(|(name, _)| name.as_str())
    }

    /// The configured source called `name`.
    pub fn source(&self, name: &str) -> Option<&SourceName> {
        self.sources.iter().find(|s| s.as_str() == name)
    }

    /// The folder of `source` (the default store for `None`), as a key prefix without a
    /// trailing `/`: `_variants`, `docs:_variants`.
    pub fn folder(&self, source: Option<&SourceName>) -> String {
        match source {
            Some(name) => format!("{name}:{}", self.prefix),
            None => self.prefix.clone(),
        }
    }

    /// The folder of the store that holds `key`.
    fn folder_of(&self, key: &str) -> String {
        self.folder(self.source_of(key).map(|(name, _)| name))
    }

    /// Whether `key` lies in thumbkit's folder of its store (and so cannot be an original).
    pub fn owns(&self, key: &ObjectKey) -> bool {
        let rest = self
            .source_of(key.as_str())
            .map_or(key.as_str(), |(_, rest)| rest);
        rest.strip_prefix(self.prefix.as_str())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }

    /// Where the variant of the content `hash` (of the original `of`) made by the preset
    /// `name` at `fingerprint`, encoded as `ext`, is stored.
    pub fn variant(
        &self,
        of: &ObjectKey,
        hash: &ContentHash,
        name: &PresetName,
        fingerprint: &Fingerprint,
        ext: &str,
    ) -> ObjectKey {
        let key = VariantKey::new(&self.folder_of(of.as_str()), hash, name, fingerprint, ext);
        // Built from a valid folder, hex, a preset name and an extension: always valid.
        ObjectKey::derived(key.into_string())
    }

    /// The folder holding every variant of the content `hash` (of the original `of`),
    /// whatever preset made it.
    pub fn variants_of(&self, of: &ObjectKey, hash: &ContentHash) -> String {
        let folder = self.folder_of(of.as_str());
        format!("{folder}/{}/{hash}/", &hash.as_str()[..2])
    }

    /// The shared record of the original at `key` in the version `etag`.
    pub fn record(&self, key: &ObjectKey, etag: &str) -> ObjectKey {
        self.hashed(key, "_records", &format!("{}\n{etag}", key.as_str()))
    }

    /// The last record of the original at `key`, whatever its version (lets a purge find
    /// the variants of an original that is already gone).
    pub fn index(&self, key: &ObjectKey) -> ObjectKey {
        self.hashed(key, "_keys", key.as_str())
    }

    /// The focal point an application set on the original at `key`.
    pub fn focus(&self, key: &ObjectKey) -> ObjectKey {
        self.hashed(key, "_focus", key.as_str())
    }

    /// A staged browser upload (`what` = `bytes`) or its ticket (`json`) for an original of
    /// `source`; `id` is 32 hex digits, checked by the caller.
    pub fn staging(
        &self,
        source: Option<&SourceName>,
        id: &str,
        what: &str,
    ) -> Result<ObjectKey, KeyError> {
        ObjectKey::parse(&format!("{}/_staging/{id}.{what}", self.folder(source)))
    }

    /// A file named by the hash of `name` in `folder` of the store that holds `of`.
    fn hashed(&self, of: &ObjectKey, folder: &str, name: &str) -> ObjectKey {
        let d = blake3::hash(name.as_bytes()).to_hex();
        let root = self.folder_of(of.as_str());
        ObjectKey::derived(format!("{root}/{folder}/{}/{d}.json", &d[..2]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout_keeps_everything_derived_in_its_folder() {
        let layout = Layout::new("_variants/").unwrap();
        let (name, fingerprint) = (
            PresetName::parse("thumb").unwrap(),
            Fingerprint("9244a54d4ba2".into()),
        );
        let h = ContentHash::of(b"original");
        let key = ObjectKey::parse("a/photo.jpg").unwrap();
        let variant = layout.variant(&key, &h, &name, &fingerprint, "jpg");
        assert!(variant.as_str().starts_with(&layout.variants_of(&key, &h)));
        for derived in [
            variant,
            layout.record(&key, "\"etag\""),
            layout.index(&key),
            layout.staging(None, &"0".repeat(32), "json").unwrap(),
        ] {
            assert!(layout.owns(&derived), "{derived}");
            assert!(derived.as_str().starts_with("_variants/"), "{derived}");
        }
        assert_ne!(layout.record(&key, "1"), layout.record(&key, "2"));
        assert!(!layout.owns(&key));
        assert!(!layout.owns(&ObjectKey::parse("_variantsX/a.jpg").unwrap()));
        assert!(Layout::new("../up").is_err());
    }

    #[test]
    fn a_sources_derived_objects_stay_in_its_store() {
        let docs = SourceName::parse("docs").unwrap();
        let layout = Layout::new("_variants")
            .unwrap()
            .with_sources([docs.clone()]);
        let (name, fingerprint) = (
            PresetName::parse("thumb").unwrap(),
            Fingerprint("9244a54d4ba2".into()),
        );
        let h = ContentHash::of(b"original");
        let scan = ObjectKey::parse("docs:scans/a.pdf").unwrap();
        let plain = ObjectKey::parse("scans/a.pdf").unwrap();
        for derived in [
            layout.variant(&scan, &h, &name, &fingerprint, "jpg"),
            layout.record(&scan, "1"),
            layout.index(&scan),
            layout.focus(&scan),
            layout
                .staging(Some(&docs), &"0".repeat(32), "json")
                .unwrap(),
        ] {
            assert!(derived.as_str().starts_with("docs:_variants/"), "{derived}");
            assert!(layout.owns(&derived), "{derived}");
        }
        // The same content in the default store is another object; neither key is derived.
        assert_ne!(
            layout.variant(&scan, &h, &name, &fingerprint, "jpg"),
            layout.variant(&plain, &h, &name, &fingerprint, "jpg")
        );
        assert_ne!(layout.index(&scan), layout.index(&plain));
        assert!(!layout.owns(&scan) && !layout.owns(&plain));
        // An unconfigured name is the default store's key, in no one's folder.
        let other = ObjectKey::parse("avatars:_variants/x.jpg").unwrap();
        assert!(!layout.owns(&other));
        assert_eq!(layout.folder(Some(&docs)), "docs:_variants");
    }
}
