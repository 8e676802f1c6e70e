//! `sharpen` and `blur` as a preset file gives them, checked into the pipeline's [`Effects`].

use std::path::Path;

use crate::pipeline::effects::{Effects, MAX_BLUR, MAX_SHARPEN};
use crate::preset::error::PresetError;
use crate::preset::file::PresetFile;

/// The effects of `file`, each within its range, and not both at once.
pub(super) fn of(file: &PresetFile, path: &Path) -> Result<Effects, PresetError> {
    let error = |field: &'static str, reason: String| PresetError::Field {
        path: path.to_owned(),
        field,
        reason,
    };
    // NaN and infinities are TOML numbers too: the ranges below refuse them.
    let sigma = |field: &'static str, v: Option<f64>, max: f64| match v {
        None => Ok(None),
        Some(0.0) => Ok(None),
        Some(v) if v > 0.0 && v <= max => Ok(Some(v as f32)),
        Some(v) => Err(error(
            field,
            format!("must be between 0 and {max} (a sigma in output pixels); found {v}"),
        )),
    };
    let sharpen = sigma("sharpen", file.sharpen, MAX_SHARPEN)?;
    let blur = sigma("blur", file.blur, MAX_BLUR)?;
    if sharpen.is_some() && blur.is_some() {
        let reason = "cannot go with `sharpen` in one preset: one undoes the other; keep one";
        return Err(error("blur", reason.into()));
    }
    Ok(Effects { sharpen, blur })
}

/// Each effect set, by its key.
fn named(effects: &Effects) -> impl Iterator<Item = (&'static str, f32)> {
    [("sharpen", effects.sharpen), ("blur", effects.blur)]
        .into_iter()
        .filter_map(|(key, sigma)| Some((key, sigma?)))
}

/// What the fingerprint adds for `effects`: nothing when there are none, so presets
/// without them keep their fingerprints.
pub(super) fn canonical(effects: &Effects) -> String {
    named(effects)
        .map(|(key, sigma)| format!(";{key}={sigma}"))
        .collect()
}

/// What the one-line summary adds, e.g. `, sharpen 0.8`.
pub(super) fn summary(effects: &Effects) -> String {
    named(effects)
        .map(|(key, sigma)| format!(", {key} {sigma}"))
        .collect()
}
