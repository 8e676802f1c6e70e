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
}

impl Encoding {
    /// What `preset` asks for, with the service's AVIF speed.
    pub fn of(spec: &Spec, limits: &Limits) -> Self {
        Self {
            quality: spec.quality,
            lossless: spec.lossless,
            avif_speed: limits.avif_speed,
            exact_speed: false,
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

/// Encodes upright sRGB pixels. JPEG has no alpha: the caller flattens first.
pub fn encode(px: &Pixels, format: OutputFormat, how: Encoding) -> Result<Vec<u8>, PipelineError> {
    let failed = |e: &dyn std::fmt::Display| PipelineError::Encode(format!("{format}: {e}"));
    let quality = match format {
        OutputFormat::Jpeg => how.quality.jpeg,
        OutputFormat::Webp => how.quality.webp,
        OutputFormat::Avif => how.quality.avif,
        OutputFormat::Png => 100,
    };
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
