//! The fallback image: what `/t/` serves, rendered to the preset's box, instead of a
//! problem+json when the original is missing or cannot be rendered, so an `<img>` shows a
//! placeholder rather than a broken-image icon. Per preset (`fallback = "..."`) or global
//! (`THUMBKIT_FALLBACK`); each rendering is made once and kept.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;

use crate::pipeline::{self, Limits, OutputFormat};
use crate::service::workers::Patience;
use crate::service::{Thumbnails, Variant};

/// A fallback image rendered for one preset and format.
#[derive(Debug, Clone)]
pub struct Fallback {
    pub variant: Arc<Variant>,
    /// The format depends on `Accept`.
    pub varies: bool,
}

/// Checks that `path` is an image thumbkit can render, for configuration errors at start.
pub fn check(path: &Path, limits: &Limits) -> Result<(), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    pipeline::probe(&bytes, limits).map(|_| ()).map_err(|e| {
        format!(
            "{} is not an image thumbkit can render: {e}",
            path.display()
        )
    })
}

impl Thumbnails {
    /// `preset`'s fallback image in the best of `accepted` its format allows, or `None`
    /// when it has none (or it cannot be rendered: logged, and the error is served).
    pub async fn fallback(&self, preset: &str, accepted: &[OutputFormat]) -> Option<Fallback> {
        let preset = self.presets().get(preset)?;
        let path: PathBuf = preset
            .fallback
            .clone()
            .or_else(|| self.settings.fallback.clone())?;
        let limits = self.settings.limits;
        let read = self
            .fallback_files
            .try_get_with(path.clone(), async {
                let bytes = Bytes::from(tokio::fs::read(&path).await.map_err(|e| e.to_string())?);
                let probe = pipeline::probe(&bytes, &limits).map_err(|e| e.to_string())?;
                Ok::<_, String>((bytes, probe))
            })
            .await;
        let (bytes, probe) = match read {
            Ok(read) => read,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "the fallback image cannot be read");
                return None;
            }
        };
        let format = OutputFormat::resolve(preset.spec.format, &probe, accepted);
        let id = (
            preset.name.to_string(),
            preset.fingerprint().to_string(),
            path.clone(),
            format,
        );
        let varies = preset.spec.format == crate::preset::FormatChoice::Auto;
        let preset = preset.clone();
        let rendered = self
            .fallback_renders
            .try_get_with(id, async {
                let admitted = self
                    .workers
                    .admit(Patience::Wait)
                    .await
                    .map_err(|e| e.to_string())?;
                let rendered = self
                    .workers
                    .run(admitted, pipeline::decode_cost(&bytes), move || {
                        pipeline::render(&bytes, &preset.spec, format, &limits)
                    })
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| e.to_string())?;
                Ok::<_, String>(Arc::new(Variant {
                    hash: crate::keys::ContentHash::of(&rendered.bytes),
                    bytes: rendered.bytes.into(),
                    format: rendered.format,
                    made: super::Made::Alone,
                }))
            })
            .await;
        match rendered {
            Ok(variant) => Some(Fallback { variant, varies }),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "the fallback image cannot be rendered");
                None
            }
        }
    }
}
