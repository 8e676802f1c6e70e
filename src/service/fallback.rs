//! The fallback image: what `/t/` serves, rendered to the preset's box, instead of a
//! problem+json when the original is missing or cannot be rendered, so an `<img>` shows a
//! placeholder rather than a broken-image icon. Per preset (`fallback = "..."`) or global
//! (`THUMBKIT_FALLBACK`); each rendering is made once and kept.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use moka::future::Cache;

use crate::pipeline::{self, FormatChoice, Limits, OutputFormat, Probe};
use crate::preset::Preset;
use crate::service::workers::{Patience, Workers};

/// A fallback image rendered for one preset and format.
#[derive(Debug, Clone)]
pub struct Fallback {
    pub bytes: Bytes,
    pub format: OutputFormat,
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

/// The fallback images as read, by path, and as rendered per preset and format: each is made
/// once, on the render workers, and kept.
pub(super) struct Fallbacks {
    /// `THUMBKIT_FALLBACK`, for presets without one of their own.
    default: Option<PathBuf>,
    limits: Limits,
    workers: Arc<Workers>,
    files: Cache<PathBuf, (Bytes, Probe)>,
    renders: Cache<(String, String, PathBuf, OutputFormat), Arc<Fallback>>,
}

impl Fallbacks {
    /// No fallback image read or rendered yet.
    pub(super) fn new(default: Option<PathBuf>, limits: Limits, workers: Arc<Workers>) -> Self {
        Self {
            default,
            limits,
            workers,
            files: Cache::builder().max_capacity(64).build(),
            renders: Cache::builder().max_capacity(1024).build(),
        }
    }

    /// `preset`'s fallback image in the best of `accepted` its format allows, or `None`
    /// when it has none (or it cannot be rendered: logged, and the error is served).
    pub(super) async fn render(
        &self,
        preset: &Preset,
        accepted: &[OutputFormat],
    ) -> Option<Arc<Fallback>> {
        let path = preset.fallback.clone().or_else(|| self.default.clone())?;
        let (bytes, probe) = match self.read(&path).await {
            Ok(read) => read,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "the fallback image cannot be read");
                return None;
            }
        };
        let format = OutputFormat::resolve(&preset.spec, &probe, accepted);
        let id = (
            preset.name.to_string(),
            preset.fingerprint().to_string(),
            path.clone(),
            format,
        );
        let spec = preset.spec.clone();
        let varies = spec.format == FormatChoice::Auto;
        let limits = self.limits;
        let rendered = self
            .renders
            .try_get_with(id, async {
                let admitted = self
                    .workers
                    .admit(Patience::Wait)
                    .await
                    .map_err(|e| e.to_string())?;
                let rendered = self
                    .workers
                    .run(admitted, pipeline::decode_cost(&bytes), move || {
                        pipeline::render(&bytes, &spec, format, &limits)
                    })
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| e.to_string())?;
                Ok::<_, String>(Arc::new(Fallback {
                    bytes: rendered.bytes.into(),
                    format: rendered.format,
                    varies,
                }))
            })
            .await;
        match rendered {
            Ok(fallback) => Some(fallback),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "the fallback image cannot be rendered");
                None
            }
        }
    }

    /// The image at `path` and its header facts, read once.
    async fn read(&self, path: &Path) -> Result<(Bytes, Probe), Arc<String>> {
        let limits = self.limits;
        self.files
            .try_get_with(path.to_path_buf(), async {
                let bytes = Bytes::from(tokio::fs::read(path).await.map_err(|e| e.to_string())?);
                let probe = pipeline::probe(&bytes, &limits).map_err(|e| e.to_string())?;
                Ok::<_, String>((bytes, probe))
            })
            .await
    }
}
