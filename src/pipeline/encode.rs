//! Encoding with no metadata at all: no EXIF, XMP, IPTC, comments or ICC. The encoders are
//! only ever handed pixels, never a source's metadata, so nothing can carry it through.

use image::ImageEncoder;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};

use super::error::PipelineError;
use super::formats::{OutputFormat, Probe};
use super::limits::Limits;
use super::resize::Pixels;
use super::saliency::Saliency;
use super::spec::{Quality, Spec};

/// A rendered thumbnail.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub bytes: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub format: OutputFormat,
    /// The subject this render found for a `smart` crop (to keep with the original, so
    /// later renders reuse it); `None` when it was given or not needed.
    pub subject: Option<Saliency>,
    /// The quality a byte budget (`max_bytes`) chose; `None` without one, or for PNG.
    pub quality: Option<u8>,
}

/// How a preset's pixels are encoded: its qualities, lossless WebP, the AVIF effort.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encoding {
    pub quality: Quality,
    pub lossless: bool,
    /// libaom's speed, 0-9: higher is faster, and larger at the same quality.
    pub avif_speed: u8,
    /// Use `avif_speed` as it is, not one step faster for large outputs (for measuring).
    pub exact_speed: bool,
    /// The most bytes the output may take (lossy formats lower their quality to fit).
    pub max_bytes: Option<u32>,
}

/// The lowest quality a byte budget may choose, on JPEG's scale (WebP's and AVIF's floors
/// look alike, [`Quality::like_jpeg`]): below it photos turn to blocks, and an output that
/// does not fit even there is served at it and counted as over its budget.
pub const MIN_BUDGET_QUALITY: u8 = 30;

/// Encodes at most this many times to meet a byte budget.
pub const MAX_BUDGET_ENCODES: usize = 5;

impl Encoding {
    /// What `preset` asks for, with the service's AVIF speed.
    pub fn of(spec: &Spec, limits: &Limits) -> Self {
        Self {
            quality: spec.quality,
            lossless: spec.lossless,
            avif_speed: limits.avif_speed,
            exact_speed: false,
            max_bytes: spec.max_bytes,
        }
    }

    /// [`Self::of`] for `format` from `source` (an `auto` WebP of a source with alpha is
    /// lossless).
    pub fn for_output(spec: &Spec, limits: &Limits, format: OutputFormat, source: &Probe) -> Self {
        let mut how = Self::of(spec, limits);
        how.lossless |= format.is_lossless_for(spec.format, source);
        how
    }
}

/// [`encode`] within `how.max_bytes`, with the quality the budget chose: the preset's
/// quality when it fits, else the highest that fits found by bisection down to
/// [`MIN_BUDGET_QUALITY`] (at most [`MAX_BUDGET_ENCODES`] encodes). A lossless WebP that
/// does not fit is made lossy; PNG is served as it is.
pub fn encode_within(
    px: &Pixels,
    format: OutputFormat,
    how: Encoding,
) -> Result<(Vec<u8>, Option<u8>), PipelineError> {
    let first = encode(px, format, how)?;
    let Some(max) = how.max_bytes.map(|m| m as usize) else {
        return Ok((first, None));
    };
    let top = format.quality_in(how.quality);
    if format == OutputFormat::Png || first.len() <= max {
        return Ok((
            first,
            (format != OutputFormat::Png && !how.lossless).then_some(top),
        ));
    }
    let at = |q: u8| {
        let quality = Quality {
            jpeg: q,
            webp: q,
            avif: q,
        };
        encode(
            px,
            format,
            Encoding {
                quality,
                lossless: false,
                ..how
            },
        )
    };
    let floor = format
        .quality_in(Quality::like_jpeg(MIN_BUDGET_QUALITY))
        .min(top);
    let mut best = (at(floor)?, floor);
    if best.0.len() > max {
        return Ok((best.0, Some(floor)));
    }
    // The highest quality known to fit is `best.1`; `over` is the lowest known not to
    // (the preset's own, unless it was lossless).
    let mut over = if how.lossless {
        top.saturating_add(1)
    } else {
        top
    };
    for _ in 2..MAX_BUDGET_ENCODES {
        if over <= best.1 + 1 {
            break;
        }
        let mid = best.1 + (over - best.1) / 2;
        let bytes = at(mid)?;
        if bytes.len() <= max {
            best = (bytes, mid);
        } else {
            over = mid;
        }
    }
    Ok((best.0, Some(best.1)))
}

/// Encodes upright sRGB pixels. JPEG has no alpha: the caller flattens first.
pub fn encode(px: &Pixels, format: OutputFormat, how: Encoding) -> Result<Vec<u8>, PipelineError> {
    let failed = |e: &dyn std::fmt::Display| PipelineError::Encode(format!("{format}: {e}"));
    let quality = format.quality_in(how.quality);
    match format {
        OutputFormat::Jpeg => {
            if px.alpha {
                return Err(PipelineError::Internal(
                    "JPEG encoder given an alpha channel".into(),
                ));
            }
            let mut c = turbojpeg::Compressor::new().map_err(|e| failed(&e))?;
            c.set_quality(i32::from(quality)).map_err(|e| failed(&e))?;
            // As libvips does: chroma subsampling below quality 90, full chroma from 90 up.
            let subsamp = if quality >= 90 {
                turbojpeg::Subsamp::None
            } else {
                turbojpeg::Subsamp::Sub2x2
            };
            c.set_subsamp(subsamp).map_err(|e| failed(&e))?;
            c.set_optimize(true).map_err(|e| failed(&e))?;
            let image = turbojpeg::Image {
                pixels: px.data.as_slice(),
                width: px.width as usize,
                pitch: px.width as usize * 3,
                height: px.height as usize,
                format: turbojpeg::PixelFormat::RGB,
            };
            c.compress_to_vec(image).map_err(|e| failed(&e))
        }
        OutputFormat::Png => {
            let mut out = Vec::new();
            let encoder = PngEncoder::new_with_quality(
                &mut out,
                CompressionType::Default,
                FilterType::Adaptive,
            );
            let colour = if px.alpha {
                image::ExtendedColorType::Rgba8
            } else {
                image::ExtendedColorType::Rgb8
            };
            encoder
                .write_image(&px.data, px.width, px.height, colour)
                .map_err(|e| failed(&e))?;
            Ok(out)
        }
        OutputFormat::Webp => {
            let encoder = if px.alpha {
                webp::Encoder::from_rgba(&px.data, px.width, px.height)
            } else {
                webp::Encoder::from_rgb(&px.data, px.width, px.height)
            };
            let memory = encoder
                .encode_simple(how.lossless, f32::from(quality))
                .map_err(|e| failed(&format!("{e:?}")))?;
            Ok(memory.to_vec())
        }
        OutputFormat::Avif => super::heif::encode_avif(
            &px.data,
            px.width,
            px.height,
            px.alpha,
            quality,
            if how.exact_speed {
                how.avif_speed
            } else {
                super::heif::speed_for(px.width, px.height, how.avif_speed)
            },
        ),
    }
}
