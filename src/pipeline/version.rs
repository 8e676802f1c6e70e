//! The pipeline's version: part of every preset's fingerprint, so a change to what the
//! pipeline makes re-renders every variant. Alone in its file so that presets can name it
//! without depending on the pipeline.

/// Bumped whenever a change to the pipeline changes its output; part of every fingerprint.
/// 2: WebP stills decoded by libwebp, scaled on load.
/// 3: progressive JPEGs at 1/8 scale take subsampled chroma from its DC coefficients.
/// 4: smart crops find the subject on one small copy, faces from a sixth of the picture up,
///    and leave the centre only for 5% more saliency.
pub const PIPELINE_VERSION: u32 = 4;

/// Bumped whenever the pipeline learns to read more: an original refused by an earlier reader
/// (remembered so it is not fetched again) is tried again.
/// 2: JPEG XL, SVG and PDF.
/// 3: videos' poster frames (through `ffmpeg`).
pub const READERS_VERSION: u32 = 3;
