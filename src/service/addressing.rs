//! What a request names: the original's key (in the default store or a configured source,
//! never in thumbkit's own folder) and the presets that may render it.

use crate::keys::ObjectKey;
use crate::preset::Preset;
use crate::service::{ServiceError, Thumbnails};

impl Thumbnails {
    /// Refuses keys inside thumbkit's own folder: an upload there could pose as a variant.
    pub(crate) fn original_key(&self, key: &str) -> Result<ObjectKey, ServiceError> {
        let key = ObjectKey::parse(key)?;
        if let Some((_, rest)) = self.settings.layout.source_of(key.as_str()) {
            // `docs:` alone, or `docs:/x`, names no key of the source.
            ObjectKey::parse(rest)?;
        }
        if self.settings.layout.owns(&key) {
            return Err(ServiceError::OwnArea(key.to_string()));
        }
        Ok(key)
    }

    /// `preset`, if it renders the originals of `key`'s source.
    pub(crate) fn offered(&self, preset: &Preset, key: &ObjectKey) -> Result<(), ServiceError> {
        let source = self.settings.layout.source_of(key.as_str()).map(|(s, _)| s);
        match preset.serves(source.map(|s| s.as_str())) {
            true => Ok(()),
            false => Err(ServiceError::NotForSource {
                preset: preset.name.to_string(),
                store: source.map_or("the default store".into(), |s| format!("the source `{s}`")),
            }),
        }
    }

    /// Those of `presets` that render the originals of `key`'s source.
    pub(crate) fn offered_of<'p>(
        &self,
        key: &ObjectKey,
        presets: &[&'p Preset],
    ) -> Vec<&'p Preset> {
        let source = self.settings.layout.source_name(key.as_str());
        (presets.iter().copied())
            .filter(|p| p.serves(source))
            .collect()
    }

    /// The presets named in `names` with their steps (`card` is `card` and `card@2x`; `all`
    /// is every preset), each once.
    pub fn select_presets(&self, names: &[String]) -> Result<Vec<&Preset>, ServiceError> {
        if names.iter().any(|n| n == "all") {
            return Ok(self.presets().every().collect());
        }
        let mut chosen: Vec<&Preset> = Vec::new();
        for name in names {
            let preset = self
                .presets()
                .get(name)
                .ok_or_else(|| ServiceError::UnknownPreset(name.clone()))?;
            for p in self.presets().with_steps(preset) {
                if !chosen.iter().any(|c| c.name == p.name) {
                    chosen.push(p);
                }
            }
        }
        Ok(chosen)
    }
}
