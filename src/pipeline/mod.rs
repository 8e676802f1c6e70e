//! The render pipeline: an original's bytes and a preset in, a thumbnail's bytes out.
//!
//! Pure and synchronous (no I/O, no async), so the service, the CLI and the benchmarks all
//! run exactly the same code. The steps, in order:
//! sniff -> limits -> decode (shrink-on-load) -> colour to sRGB -> orient -> resize/crop ->
//! pad/flatten -> encode (no metadata). One exception to the order: an 8-bit RGB image's
//! ICC conversion is per pixel, so it runs on the resized pixels (10-20x fewer of them).

pub mod animation;
pub mod batch;
pub mod carried;
pub mod colour;
pub mod cost;
pub mod decode;
pub mod effects;
pub mod encode;
pub mod error;
pub mod faces;
pub mod formats;
pub mod fractions;
pub mod geometry;
pub mod heif;
pub mod inspect;
pub mod isobmff;
pub mod jpeg;
pub mod jxl;
pub mod limits;
pub mod load;
pub mod overlay;
pub mod pdf;
pub mod placeholder;
pub mod png;
pub mod progressive;
pub mod resize;
pub mod saliency;
pub mod sniff;
pub mod spec;
pub mod subject;
pub mod svg;
pub mod trim;
pub mod upright;
pub mod vector;
pub mod version;
pub mod webp;

use std::panic::{AssertUnwindSafe, catch_unwind};

pub use cost::decode_cost;
pub use effects::Effects;
pub use encode::Rendered;
pub use error::PipelineError;
pub use formats::{OutputFormat, Probe, SourceFormat, SourceKind};
pub use limits::Limits;
pub(crate) use limits::check_output;
pub use load::Shrink;
pub use placeholder::Placeholder;
pub use resize::Pixels;
pub use saliency::Saliency;
pub use spec::{
    Animation, Colour, Fit, FormatChoice, Gravity, Mark, Mask, Placement, Point, Quality, Region,
    Spec, Subject, Trim, Watermark,
};
pub use upright::Upright;
pub(crate) use upright::{decode_probed, trim_of};
pub use version::{PIPELINE_VERSION, READERS_VERSION};

/// After shrink-on-load, the decoded image must still be at least a margin times larger than
/// the resize target on both axes, so the final Lanczos step has real detail to work with.
/// The margin depends on the source ([`shrink_margin`]): this one is for sources of up to
/// [`CAMERA_PIXELS`], which are usually already downscaled and sharp at the pixel level. On a
/// 2 K photo (JPEG q90, WebP q75) a margin of 1.6 cost 1.5 dB against a full decode, 3.2 cost
/// 0.01 dB (`thumbkit bench --margins`); 2 is libvips' own rule.
pub const SHARP_MARGIN: f64 = 2.0;

/// The margin for sources over [`CAMERA_PIXELS`]: a camera's full-resolution output, soft at
/// the pixel level (optics, demosaicing), where a margin of 1.5-1.8 cost 0.0-0.4 dB against
/// the next scale up on five camera photos and saves 15-25% of the render, and lets a
/// progressive file be decoded from its DC coefficients alone at 1/8 (4x faster).
pub const CAMERA_MARGIN: f64 = 1.5;

/// Sources over this many pixels are taken to be a camera's full-resolution output.
pub const CAMERA_PIXELS: u64 = 8_000_000;

/// The shrink-on-load margin for a `width` x `height` source (see [`SHARP_MARGIN`] and
/// [`CAMERA_MARGIN`]); `shrink_on_load_costs_at_most_half_a_db` and
/// `shrink_on_load_costs_nothing_on_a_sharp_2k_source` guard both.
pub fn shrink_margin(width: u32, height: u32) -> f64 {
    if u64::from(width) * u64::from(height) > CAMERA_PIXELS {
        CAMERA_MARGIN
    } else {
        SHARP_MARGIN
    }
}

/// Checks the input's size and header against the limits and returns what the header says,
/// without decoding any pixels.
pub fn probe(input: &[u8], limits: &Limits) -> Result<Probe, PipelineError> {
    if input.len() > limits.max_input_bytes {
        return Err(PipelineError::InputTooLarge {
            bytes: input.len(),
            limit: limits.max_input_bytes,
        });
    }
    let format = sniff::sniff(input)?;
    let (width, height, alpha) = sniff::header(input, format)?;
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(PipelineError::TooManyPixels {
            width,
            height,
            limit: limits.max_pixels,
        });
    }
    let report = inspect::inspect(input).ok();
    Ok(Probe {
        format,
        width,
        height,
        alpha,
        // Read from the container's segments, not a decode.
        orientation: report.as_ref().map_or(1, |r| r.orientation),
        frames: report.as_ref().map_or(1, |r| r.frames),
        pages: report.and_then(|r| r.document).map_or(0, |d| d.pages),
        duration_ms: None,
    })
}

/// Inspects a file and says whether the pipeline would render it under `limits`: the check
/// uploads make (the header against the limits, a decode to the last block), so a
/// truncated or corrupt file says so.
pub fn check(data: &[u8], limits: &Limits) -> Result<inspect::Report, PipelineError> {
    let mut report = inspect::inspect(data)?;
    report.renders = Some(validate(data, limits).map(|_| ()));
    Ok(report)
}

/// What a full validation of an original learnt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validated {
    pub probe: Probe,
    /// Width and height once EXIF orientation is applied (what specs are planned on).
    pub upright: (u32, u32),
}

/// Checks that `input` is an image thumbkit can render: within the limits, and decoding to
/// the end (a JPEG at 1/8 scale, which still reads every entropy-coded block, so a truncated
/// or corrupt file is caught at a fraction of the full decode's cost and memory).
pub fn validate(input: &[u8], limits: &Limits) -> Result<Validated, PipelineError> {
    catch_unwind(AssertUnwindSafe(|| {
        let probe = probe(input, limits)?;
        let full = (probe.width, probe.height);
        let source = decode::decode(
            input,
            probe.format,
            full,
            limits,
            &|_, _| Shrink::SMALLEST,
            jpeg::Scans::All,
            1,
        )?;
        let upright = if decode::swaps_axes(source.orientation) {
            (full.1, full.0)
        } else {
            full
        };
        Ok(Validated { probe, upright })
    }))
    .unwrap_or_else(|_| Err(PipelineError::Internal("the decoder panicked".into())))
}

/// The placeholders of `input` (BlurHash, ThumbHash, its average and dominant colours), from
/// one small rendering: what a page shows while the real thumbnail loads.
pub fn placeholder(input: &[u8], limits: &Limits) -> Result<Placeholder, PipelineError> {
    let side = Some(placeholder::SIDE);
    let spec = Spec {
        width: side,
        height: side,
        fit: Fit::Inside,
        gravity: Gravity::Centre,
        format: FormatChoice::Png,
        quality: Quality::like_jpeg(80),
        lossless: false,
        animation: Animation::FirstFrame,
        background: Colour::WHITE,
        upscale: false,
        subject: Subject::Unknown,
        effects: Effects::default(),
        trim: None,
        mask: None,
        watermark: None,
        max_bytes: None,
        page: None,
    };
    let small = render(input, &spec, OutputFormat::Png, limits)?;
    let rgba = image::load_from_memory_with_format(&small.bytes, image::ImageFormat::Png)
        .map_err(PipelineError::from_image)?
        .to_rgba8();
    let (w, h) = rgba.dimensions();
    placeholder::of_rgba(w, h, rgba.as_raw())
}

/// The saliency map of `input` (where `smart` crops go), from a decode shrunk to what the
/// map reads (a few hundred pixels a side).
pub fn saliency(input: &[u8], limits: &Limits) -> Result<Saliency, PipelineError> {
    catch_unwind(AssertUnwindSafe(|| {
        let probed = probe(input, limits)?;
        let enough = |w: u32, h: u32| Shrink {
            by: f64::from(w.max(h)) / subject::ENOUGH,
            margin: 1.0,
        };
        let upright = decode_probed(input, probed, limits, &enough, true, None)?;
        Ok(subject::find(&upright.pixels))
    }))
    .unwrap_or_else(|_| Err(PipelineError::Internal("the decoder panicked".into())))
}

/// The size of `preset`'s output for an upright source of `upright` pixels.
pub fn output_size(upright: (u32, u32), spec: &Spec) -> (u32, u32) {
    geometry::plan(upright.0, upright.1, spec).canvas
}

/// Whether `preset`'s output enlarges an upright source of `upright` pixels (`upscale`, or a
/// `cover` box larger than the source): such a step adds no detail to a `srcset`.
pub fn output_enlarges(upright: (u32, u32), spec: &Spec) -> bool {
    let (x, y) = geometry::plan(upright.0, upright.1, spec).shrink();
    x < 1.0 - 1e-9 || y < 1.0 - 1e-9
}

/// The DCT scale denominator for a shrink of `shrink` (source/target, per axis): the
/// largest of 8, 4, 2 that leaves at least `margin` times the target's pixels.
pub fn shrink_on_load_denominator(shrink: (f64, f64), margin: f64) -> u32 {
    Shrink {
        by: shrink.0.min(shrink.1),
        margin,
    }
    .denominator()
}

/// Decodes and makes the image upright sRGB, shrinking on load for `preset` by `margin`
/// (`None` decodes at full resolution). With `defer_colour`, an 8-bit RGB image's profile
/// conversion is left to the caller (in `deferred_icc`), to run on the resized pixels.
pub fn decode_upright(
    input: &[u8],
    spec: &Spec,
    limits: &Limits,
    margin: Option<f64>,
    defer_colour: bool,
) -> Result<Upright, PipelineError> {
    let probed = probe(input, limits)?;
    let mut upright = decode_probed(
        input,
        probed,
        limits,
        &denominator_for(spec, margin),
        defer_colour,
        spec.page,
    )?;
    upright.pixels = upright.pixels.into_rgb();
    Ok(upright)
}

/// The shrink on load `preset` allows with `margin` (`None`: full resolution), as a
/// function of the upright full-resolution size.
fn denominator_for(spec: &Spec, margin: Option<f64>) -> impl Fn(u32, u32) -> Shrink + '_ {
    move |w: u32, h: u32| match margin {
        Some(margin) => {
            let (x, y) = geometry::plan(w, h, spec).shrink();
            Shrink {
                by: x.min(y),
                margin,
            }
        }
        None => Shrink::NONE,
    }
}

/// Renders `input` for `preset` as `format`. Never panics: a panic in a decoder is caught
/// and reported as an internal error.
pub fn render(
    input: &[u8],
    spec: &Spec,
    format: OutputFormat,
    limits: &Limits,
) -> Result<Rendered, PipelineError> {
    catch_unwind(AssertUnwindSafe(|| {
        render_inner(input, spec, format, limits, None)
    }))
    .unwrap_or_else(|_| {
        Err(PipelineError::Internal(
            "a decoder failed on this input".into(),
        ))
    })
}

/// [`render`] with a chosen shrink-on-load margin (for measuring the margin's effect).
pub fn render_with_margin(
    input: &[u8],
    spec: &Spec,
    format: OutputFormat,
    limits: &Limits,
    margin: f64,
) -> Result<Rendered, PipelineError> {
    catch_unwind(AssertUnwindSafe(|| {
        render_inner(input, spec, format, limits, Some(margin))
    }))
    .unwrap_or_else(|_| {
        Err(PipelineError::Internal(
            "a decoder failed on this input".into(),
        ))
    })
}

fn render_inner(
    input: &[u8],
    spec: &Spec,
    format: OutputFormat,
    limits: &Limits,
    margin: Option<f64>,
) -> Result<Rendered, PipelineError> {
    // Refuse from the header what would be too large either way the image may be turned,
    // before paying for the decode; the exact check follows once the orientation is known.
    let probed = probe(input, limits)?;
    let (w, h) = (probed.width, probed.height);
    if let Err(too_large) = check_output(geometry::plan(w, h, spec).canvas, limits)
        && check_output(geometry::plan(h, w, spec).canvas, limits).is_err()
    {
        return Err(too_large);
    }
    if animation::keeps(spec, &probed, format) {
        return animation::render(input, &probed, spec, limits);
    }
    let margin = margin.unwrap_or_else(|| shrink_margin(w, h));
    let shrink = denominator_for(spec, Some(margin));
    let upright = tracing::info_span!("decode", format = %probed.format)
        .in_scope(|| decode_probed(input, probed, limits, &shrink, true, spec.page))?;
    // Cut in place: a trimmed render holds one decode's pixels, not two.
    let (upright, trimmed_spec) = match trim_of(&upright, spec) {
        Some((rect, spec)) => (upright.cut(rect), Some(spec)),
        None => (upright, None),
    };
    let (spec, found) = &with_subject(trimmed_spec.as_ref().unwrap_or(spec), &upright.pixels);
    // A subject found in a trimmed picture is not the original's to keep.
    let found = &found.filter(|_| trimmed_spec.is_none());
    let plan = geometry::plan(upright.full.0, upright.full.1, spec);
    check_output(plan.canvas, limits)?;
    let mut resized = tracing::info_span!("resize", width = plan.canvas.0, height = plan.canvas.1)
        .in_scope(|| resize::resize(&upright.pixels, &plan, upright.scale))?;
    if let Some(icc) = &upright.deferred_icc {
        colour::convert_pixels(&mut resized, icc);
    }
    // The decode's pixels are not needed past the resize: freed before the encode's buffers.
    drop(upright);
    let mut out = overlay::finish(resized, &plan, spec);
    if format == OutputFormat::Jpeg || out.is_opaque() {
        out = out.flatten(spec.background);
    }
    let how = encode::Encoding::for_output(spec, limits, format, &probed);
    let (bytes, quality) = tracing::info_span!("encode", format = %format)
        .in_scope(|| encode::encode_within(&out, format, how))?;
    Ok(Rendered {
        bytes,
        width: out.width,
        height: out.height,
        format,
        subject: *found,
        quality,
    })
}

/// Whether `spec` crops `smart` without knowing its subject.
pub(crate) fn needs_subject(spec: &Spec) -> bool {
    spec.fit == Fit::Cover && spec.gravity == Gravity::Smart && spec.subject == Subject::Unknown
}

/// `spec` with its subject found in `pixels` (upright, any scale) when it crops `smart` and
/// its caller did not know the subject; the region found is returned to be kept.
pub(crate) fn with_subject(spec: &Spec, pixels: &Pixels) -> (Spec, Option<Saliency>) {
    if !needs_subject(spec) {
        return (spec.clone(), None);
    }
    let map = tracing::info_span!("subject").in_scope(|| subject::find(pixels));
    let spec = Spec {
        subject: Subject::Salient(map),
        ..spec.clone()
    };
    (spec, Some(map))
}
