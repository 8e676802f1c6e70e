//! What PDF pages and SVGs share: the size they count as, and the pixels they are drawn at.
//!
//! A vector has no pixel size of its own. It counts as an image whose longer side is its own
//! size brought within [`MIN_SIDE`]..=[`MAX_SIDE`], so every preset up to that size gets a
//! crisp rendering without `upscale`; the decode then draws it at exactly the scale the
//! resize asks for (never large and then shrunk).

use image::DynamicImage;

use super::colour::Decoded;
use super::error::PipelineError;
use super::limits::Limits;
use super::load::Shrink;

/// The longer side a small vector (an icon, a label) counts as.
pub const MIN_SIDE: f64 = 2048.0;
/// The longer side a large vector (a poster, a map) counts as at most.
pub const MAX_SIDE: f64 = 4096.0;

/// The pixel size a vector of `natural` size (CSS pixels or points) counts as.
pub fn nominal(natural: (f64, f64)) -> Result<(u32, u32), PipelineError> {
    let (w, h) = natural;
    if !(w.is_finite() && h.is_finite() && w > 0.0 && h > 0.0) {
        return Err(PipelineError::Corrupt(format!(
            "it declares a size of {w}x{h}, which cannot be drawn"
        )));
    }
    let long = w.max(h);
    let k = long.clamp(MIN_SIDE, MAX_SIDE) / long;
    let side = |v: f64| ((v * k).round() as u32).max(1);
    Ok((side(w), side(h)))
}

/// The pixels a vector of `nominal` size is drawn at for `shrink`, within the pixel limit.
pub fn raster(
    nominal: (u32, u32),
    shrink: Shrink,
    limits: &Limits,
) -> Result<(u32, u32), PipelineError> {
    let s = shrink.vector_scale();
    let side = |v: u32| (f64::from(v) * s).round().clamp(1.0, f64::from(u16::MAX)) as u32;
    let (width, height) = (side(nominal.0), side(nominal.1));
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(PipelineError::TooManyPixels {
            width,
            height,
            limit: limits.max_pixels,
        });
    }
    Ok((width, height))
}

/// A vector drawn: its pixels, the nominal size it counts as, and the drawn pixels per
/// nominal pixel on each axis.
pub struct Drawn {
    pub decoded: Decoded,
    pub nominal: (u32, u32),
    pub scale: (f64, f64),
}

impl Drawn {
    /// `image` drawn for a vector that counts as `nominal`; what failed to draw is `what`.
    pub fn new(
        image: Option<DynamicImage>,
        nominal: (u32, u32),
        what: &str,
    ) -> Result<Self, PipelineError> {
        let image = image.ok_or_else(|| {
            PipelineError::Internal(format!("{what}'s pixels have an unexpected size"))
        })?;
        let scale = (
            f64::from(image.width()) / f64::from(nominal.0),
            f64::from(image.height()) / f64::from(nominal.1),
        );
        Ok(Self {
            decoded: Decoded::Image(image),
            nominal,
            scale,
        })
    }
}
