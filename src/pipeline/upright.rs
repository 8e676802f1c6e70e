//! An upright sRGB decode and what maps the full-resolution plan onto it, cut to its
//! borders when a preset trims.

use super::error::PipelineError;
use super::formats::Probe;
use super::fractions::{Point, Region};
use super::limits::Limits;
use super::load::Shrink;
use super::resize::Pixels;
use super::spec::{Spec, Subject};
use super::trim::{self, Rect};
use super::{colour, decode, jpeg};

/// An upright sRGB image with what is needed to map the full-size plan onto it.
pub struct Upright {
    pub pixels: Pixels,
    /// The upright full-resolution size (what the plan is made for).
    pub full: (u32, u32),
    /// Decoded pixels per full-resolution pixel on each upright axis (below 1 after
    /// shrink-on-load).
    pub scale: (f64, f64),
    /// An RGB profile whose conversion to sRGB was deferred (see `decode_upright`).
    pub deferred_icc: Option<Vec<u8>>,
}

/// `decode_upright` for an input already `probe`d, at the denominator `shrink` answers
/// for the upright full-resolution size.
pub(crate) fn decode_probed(
    input: &[u8],
    probed: Probe,
    limits: &Limits,
    shrink: &dyn Fn(u32, u32) -> Shrink,
    defer_colour: bool,
    page: Option<u32>,
) -> Result<Upright, PipelineError> {
    let full = (probed.width, probed.height);
    let source = decode::decode(
        input,
        probed.format,
        full,
        limits,
        shrink,
        jpeg::Scans::Needed,
        page.unwrap_or(1),
    )?;
    let (upright, scale) = if decode::swaps_axes(source.orientation) {
        (
            (source.full.1, source.full.0),
            (source.scale.1, source.scale.0),
        )
    } else {
        (source.full, source.scale)
    };
    let defer = defer_colour && colour::can_defer(&source.decoded, source.icc.as_deref());
    let (mut img, deferred_icc) = if defer {
        let colour::Decoded::Image(img) = source.decoded else {
            return Err(PipelineError::Internal("deferred colour on CMYK".into()));
        };
        (img, source.icc)
    } else {
        (
            colour::to_srgb(source.decoded, source.icc.as_deref())?,
            None,
        )
    };
    img.apply_orientation(source.orientation);
    Ok(Upright {
        pixels: Pixels::from_image_keeping_grey(img),
        full: upright,
        scale,
        deferred_icc,
    })
}

/// Where `spec`'s trim cuts `upright` (`None`: it does not trim, or there is no border), and
/// `spec` with its subject moved into the cut picture.
pub(crate) fn trim_of(upright: &Upright, spec: &Spec) -> Option<(Rect, Spec)> {
    let rect = trim::bounds(&upright.pixels, spec.trim?)?;
    let (pw, ph) = (
        f64::from(upright.pixels.width),
        f64::from(upright.pixels.height),
    );
    let frame = Region {
        x: f64::from(rect.0) / pw,
        y: f64::from(rect.1) / ph,
        w: f64::from(rect.2) / pw,
        h: f64::from(rect.3) / ph,
    };
    let subject = match spec.subject {
        Subject::Focus(p) => {
            let at = Region {
                x: p.x,
                y: p.y,
                w: 0.0,
                h: 0.0,
            }
            .within(&frame);
            Subject::Focus(Point { x: at.x, y: at.y })
        }
        Subject::Region(r) => Subject::Region(r.within(&frame)),
        // The map is of the whole picture: found again in the cut one.
        Subject::Salient(_) | Subject::Unknown => Subject::Unknown,
    };
    let spec = Spec {
        subject,
        ..spec.clone()
    };
    Some((rect, spec))
}

impl Upright {
    /// Cut to `rect` (of its pixels), in place: no second buffer.
    pub(crate) fn cut(self, rect: Rect) -> Upright {
        let full = self.full_of(rect);
        Upright {
            pixels: trim::cut(self.pixels, rect),
            full,
            ..self
        }
    }

    /// [`Self::cut`] into a copy, leaving this one whole (for the batch's shared decode).
    pub(crate) fn cut_copy(&self, rect: Rect) -> Upright {
        Upright {
            pixels: trim::crop(&self.pixels, rect),
            full: self.full_of(rect),
            scale: self.scale,
            deferred_icc: self.deferred_icc.clone(),
        }
    }

    /// The full-resolution size of `rect` of the decoded pixels.
    fn full_of(&self, rect: Rect) -> (u32, u32) {
        let full = |px: u32, scale: f64| ((f64::from(px) / scale).round() as u32).max(1);
        (full(rect.2, self.scale.0), full(rect.3, self.scale.1))
    }
}
