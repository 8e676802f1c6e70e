//! The render pipeline: an original's bytes and a preset in, a thumbnail's bytes out.
//!
//! Pure and synchronous (no I/O, no async), so the service, the CLI and the benchmarks all
//! run exactly the same code. The steps, in order:
//! sniff -> limits -> decode (shrink-on-load) -> colour to sRGB -> orient -> resize/crop ->
//! pad/flatten -> encode (no metadata). One exception to the order: an 8-bit RGB image's
//! ICC conversion is per pixel, so it runs on the resized pixels (10-20x fewer of them).

pub mod colour;
pub mod decode;
pub mod encode;
pub mod geometry;
pub mod jpeg;
pub mod png;
pub mod resize;
pub mod sniff;

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::preset::{FormatChoice, Preset};
pub use resize::Pixels;

/// Bumped whenever a change to the pipeline changes its output; part of every fingerprint.
pub const PIPELINE_VERSION: u32 = 1;

/// After shrink-on-load, the decoded image must still be at least this many times larger
/// than the resize target on both axes, so the final Lanczos step has real detail to work
/// with. Measured with `thumbkit bench --margins` (PSNR of the `thumb` JPEG against a
/// full-resolution Lanczos3 reference, five photos): margins of 1.51-1.80 cost 0.15-0.42 dB
/// against a full-resolution decode for a 20-25% faster render; a margin of 1.06 cost
/// 2.4 dB. The README has the table; `shrink_on_load_costs_at_most_half_a_db` guards it.
pub const SHRINK_MARGIN: f64 = 1.5;

/// Formats thumbkit reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceFormat {
    Jpeg,
    Png,
    Webp,
    Gif,
    Tiff,
}

impl fmt::Display for SourceFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SourceFormat::Jpeg => "jpeg",
            SourceFormat::Png => "png",
            SourceFormat::Webp => "webp",
            SourceFormat::Gif => "gif",
            SourceFormat::Tiff => "tiff",
        })
    }
}

impl SourceFormat {
    /// Every format thumbkit reads.
    pub const ALL: [SourceFormat; 5] = [
        SourceFormat::Jpeg,
        SourceFormat::Png,
        SourceFormat::Webp,
        SourceFormat::Gif,
        SourceFormat::Tiff,
    ];

    /// The MIME type.
    pub fn mime(self) -> &'static str {
        match self {
            SourceFormat::Jpeg => "image/jpeg",
            SourceFormat::Png => "image/png",
            SourceFormat::Webp => "image/webp",
            SourceFormat::Gif => "image/gif",
            SourceFormat::Tiff => "image/tiff",
        }
    }

    /// The format a `Content-Type` names (parameters and case ignored; `image/jpg` and
    /// `image/pjpeg`, which browsers and cameras send, are JPEG).
    pub fn from_mime(content_type: &str) -> Option<Self> {
        let essence = content_type.split(';').next()?.trim().to_ascii_lowercase();
        match essence.as_str() {
            "image/jpg" | "image/pjpeg" => Some(SourceFormat::Jpeg),
            e => Self::ALL.into_iter().find(|f| f.mime() == e),
        }
    }
}

/// Formats thumbkit writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Jpeg,
    Png,
    Webp,
}

impl OutputFormat {
    /// The MIME type, for `Content-Type`.
    pub fn mime(self) -> &'static str {
        match self {
            OutputFormat::Jpeg => "image/jpeg",
            OutputFormat::Png => "image/png",
            OutputFormat::Webp => "image/webp",
        }
    }

    /// The file extension.
    pub fn extension(self) -> &'static str {
        match self {
            OutputFormat::Jpeg => "jpg",
            OutputFormat::Png => "png",
            OutputFormat::Webp => "webp",
        }
    }

    /// Parses `jpeg`/`jpg`, `png` or `webp` (as in a file extension).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "jpeg" | "jpg" => Some(OutputFormat::Jpeg),
            "png" => Some(OutputFormat::Png),
            "webp" => Some(OutputFormat::Webp),
            _ => None,
        }
    }

    /// The concrete format for a preset's choice. `auto` picks WebP when the client accepts
    /// it, else PNG when the source has an alpha channel and JPEG when it has none; `source`
    /// keeps the original's format when it can be written, else PNG.
    pub fn resolve(choice: FormatChoice, source: &Probe, accepts_webp: bool) -> Self {
        match choice {
            FormatChoice::Jpeg => OutputFormat::Jpeg,
            FormatChoice::Png => OutputFormat::Png,
            FormatChoice::Webp => OutputFormat::Webp,
            FormatChoice::Auto if accepts_webp => OutputFormat::Webp,
            FormatChoice::Auto if source.alpha => OutputFormat::Png,
            FormatChoice::Auto => OutputFormat::Jpeg,
            FormatChoice::Source => match source.format {
                SourceFormat::Jpeg => OutputFormat::Jpeg,
                SourceFormat::Webp => OutputFormat::Webp,
                _ => OutputFormat::Png,
            },
        }
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OutputFormat::Jpeg => "jpeg",
            OutputFormat::Png => "png",
            OutputFormat::Webp => "webp",
        })
    }
}

/// What the pipeline refuses to take on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest input in bytes.
    pub max_input_bytes: usize,
    /// Largest decoded image in pixels (width x height as the header declares it).
    pub max_pixels: u64,
    /// Largest output width or height.
    pub max_output_side: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_input_bytes: 50 << 20,
            max_pixels: 50_000_000,
            max_output_side: 10_000,
        }
    }
}

/// Why an input could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum PipelineError {
    #[error("the input is empty (0 bytes)")]
    Empty,
    #[error("unsupported format: {0}")]
    UnsupportedFormat(String),
    #[error("the image data is truncated (the file ends before the image does)")]
    Truncated,
    #[error("the image is corrupt: {0}")]
    Corrupt(String),
    #[error("the input is {bytes} bytes, over the limit of {limit} bytes")]
    InputTooLarge { bytes: usize, limit: usize },
    #[error(
        "the image is {width}x{height} ({} megapixels), over the limit of {} megapixels",
        mp(*width as u64 * *height as u64),
        mp(*limit)
    )]
    TooManyPixels { width: u32, height: u32, limit: u64 },
    #[error("the output would be {width}x{height}, over the limit of {limit} pixels per side")]
    OutputTooLarge { width: u32, height: u32, limit: u32 },
    #[error("cannot encode the thumbnail: {0}")]
    Encode(String),
    #[error("internal error: {0}")]
    Internal(String),
}

fn mp(pixels: u64) -> String {
    format!("{:.1}", pixels as f64 / 1e6)
}

impl PipelineError {
    /// The error comes from the input's bytes (as this pipeline version reads them under
    /// these limits), not from the preset, the machine or chance: trying again gives it again.
    pub fn is_property_of_input(&self) -> bool {
        matches!(
            self,
            PipelineError::Empty
                | PipelineError::UnsupportedFormat(_)
                | PipelineError::Truncated
                | PipelineError::Corrupt(_)
                | PipelineError::TooManyPixels { .. }
        )
    }

    /// Maps an `image` crate error to what it means for the user.
    pub fn from_image(e: image::ImageError) -> Self {
        use image::ImageError as E;
        match e {
            E::Limits(l) => PipelineError::Corrupt(format!("decoder limit reached: {l}")),
            E::Unsupported(u) => PipelineError::UnsupportedFormat(u.to_string()),
            E::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
                PipelineError::Truncated
            }
            other => {
                let msg = other.to_string();
                let lower = msg.to_ascii_lowercase();
                if lower.contains("eof")
                    || lower.contains("end of file")
                    || lower.contains("unexpected end")
                {
                    PipelineError::Truncated
                } else {
                    PipelineError::Corrupt(msg)
                }
            }
        }
    }
}

/// A rendered thumbnail.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub bytes: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub format: OutputFormat,
}

/// What the header of an input says, read without decoding any pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Probe {
    pub format: SourceFormat,
    /// Width as stored (before EXIF orientation).
    pub width: u32,
    /// Height as stored (before EXIF orientation).
    pub height: u32,
    /// The image has an alpha channel (it may still be fully opaque).
    pub alpha: bool,
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
    Ok(Probe {
        format,
        width,
        height,
        alpha,
    })
}

/// What a full validation of an original learnt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validated {
    pub probe: Probe,
    /// Width and height once EXIF orientation is applied (what presets are planned on).
    pub upright: (u32, u32),
}

/// Checks that `input` is an image thumbkit can render: within the limits, and decoding to
/// the end (a JPEG at 1/8 scale, which still reads every entropy-coded block, so a truncated
/// or corrupt file is caught at a fraction of the full decode's cost and memory).
pub fn validate(input: &[u8], limits: &Limits) -> Result<Validated, PipelineError> {
    catch_unwind(AssertUnwindSafe(|| {
        let probe = probe(input, limits)?;
        let full = (probe.width, probe.height);
        let source = decode::decode(input, probe.format, full, limits, &|_, _| 8)?;
        let upright = if decode::swaps_axes(source.orientation) {
            (full.1, full.0)
        } else {
            full
        };
        Ok(Validated { probe, upright })
    }))
    .unwrap_or_else(|_| Err(PipelineError::Internal("the decoder panicked".into())))
}

/// A BlurHash of the image (4x3 components, 3x4 when portrait) for placeholders, computed
/// from a 32-pixel rendering: what a page shows while the real thumbnail loads.
pub fn placeholder(input: &[u8], limits: &Limits) -> Result<String, PipelineError> {
    let spec = "width = 32\nheight = 32\nfit = \"inside\"\nformat = \"png\"";
    let preset = Preset::parse("placeholder", spec, std::path::Path::new("<built-in>"))
        .map_err(|e| PipelineError::Internal(format!("placeholder preset: {e}")))?;
    let small = render(input, &preset, OutputFormat::Png, limits)?;
    let rgba = image::load_from_memory_with_format(&small.bytes, image::ImageFormat::Png)
        .map_err(PipelineError::from_image)?
        .to_rgba8();
    let (w, h) = rgba.dimensions();
    let (x, y) = if w >= h { (4, 3) } else { (3, 4) };
    blurhash::encode(x, y, w, h, rgba.as_raw())
        .map_err(|e| PipelineError::Internal(format!("blurhash: {e}")))
}

/// The size of `preset`'s output for an upright source of `upright` pixels.
pub fn output_size(upright: (u32, u32), preset: &Preset) -> (u32, u32) {
    geometry::plan(upright.0, upright.1, preset).canvas
}

/// The DCT scale denominator for a shrink of `shrink` (source/target, per axis): the
/// largest of 8, 4, 2 that leaves at least `margin` times the target's pixels.
pub fn shrink_on_load_denominator(shrink: (f64, f64), margin: f64) -> u32 {
    let s = shrink.0.min(shrink.1);
    [8u32, 4, 2]
        .into_iter()
        .find(|&d| s / f64::from(d) >= margin)
        .unwrap_or(1)
}

/// An upright sRGB image with what is needed to map the full-size plan onto it.
pub struct Upright {
    pub pixels: Pixels,
    /// The upright full-resolution size (what the plan is made for).
    pub full: (u32, u32),
    /// Decoded pixels per full-resolution pixel (below 1 after shrink-on-load).
    pub scale: f64,
    /// An RGB profile whose conversion to sRGB was deferred (see [`decode_upright`]).
    pub deferred_icc: Option<Vec<u8>>,
}

/// Decodes and makes the image upright sRGB, shrinking on load for `preset` by `margin`
/// (`None` decodes at full resolution). With `defer_colour`, an 8-bit RGB image's profile
/// conversion is left to the caller (in `deferred_icc`), to run on the resized pixels.
pub fn decode_upright(
    input: &[u8],
    preset: &Preset,
    limits: &Limits,
    margin: Option<f64>,
    defer_colour: bool,
) -> Result<Upright, PipelineError> {
    let probed = probe(input, limits)?;
    decode_probed(input, probed, preset, limits, margin, defer_colour)
}

/// [`decode_upright`] for an input already [`probe`]d.
fn decode_probed(
    input: &[u8],
    probed: Probe,
    preset: &Preset,
    limits: &Limits,
    margin: Option<f64>,
    defer_colour: bool,
) -> Result<Upright, PipelineError> {
    let shrink = |w: u32, h: u32| match margin {
        Some(m) => shrink_on_load_denominator(geometry::plan(w, h, preset).shrink(), m),
        None => 1,
    };
    let full = (probed.width, probed.height);
    let source = decode::decode(input, probed.format, full, limits, &shrink)?;
    let upright = if decode::swaps_axes(source.orientation) {
        (source.full.1, source.full.0)
    } else {
        source.full
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
        pixels: Pixels::from_image(img),
        full: upright,
        scale: source.scale,
        deferred_icc,
    })
}

/// Renders `input` for `preset` as `format`. Never panics: a panic in a decoder is caught
/// and reported as an internal error.
pub fn render(
    input: &[u8],
    preset: &Preset,
    format: OutputFormat,
    limits: &Limits,
) -> Result<Rendered, PipelineError> {
    render_with_margin(input, preset, format, limits, SHRINK_MARGIN)
}

/// [`render`] with a chosen shrink-on-load margin (for measuring the margin's effect).
pub fn render_with_margin(
    input: &[u8],
    preset: &Preset,
    format: OutputFormat,
    limits: &Limits,
    margin: f64,
) -> Result<Rendered, PipelineError> {
    catch_unwind(AssertUnwindSafe(|| {
        render_inner(input, preset, format, limits, margin)
    }))
    .unwrap_or_else(|_| {
        Err(PipelineError::Internal(
            "a decoder failed on this input".into(),
        ))
    })
}

/// Errors when an output of `canvas` would exceed the per-side limit.
fn check_output(canvas: (u32, u32), limits: &Limits) -> Result<(), PipelineError> {
    let (width, height) = canvas;
    if width > limits.max_output_side || height > limits.max_output_side {
        return Err(PipelineError::OutputTooLarge {
            width,
            height,
            limit: limits.max_output_side,
        });
    }
    Ok(())
}

fn render_inner(
    input: &[u8],
    preset: &Preset,
    format: OutputFormat,
    limits: &Limits,
    margin: f64,
) -> Result<Rendered, PipelineError> {
    // Refuse from the header what would be too large either way the image may be turned,
    // before paying for the decode; the exact check follows once the orientation is known.
    let probed = probe(input, limits)?;
    let (w, h) = (probed.width, probed.height);
    if let Err(too_large) = check_output(geometry::plan(w, h, preset).canvas, limits)
        && check_output(geometry::plan(h, w, preset).canvas, limits).is_err()
    {
        return Err(too_large);
    }
    let upright = decode_probed(input, probed, preset, limits, Some(margin), true)?;
    let plan = geometry::plan(upright.full.0, upright.full.1, preset);
    check_output(plan.canvas, limits)?;
    let mut resized = resize::resize(&upright.pixels, &plan, upright.scale)?;
    if let Some(icc) = &upright.deferred_icc {
        colour::convert_pixels(&mut resized, icc);
    }
    drop(upright);
    let mut out = resize::pad(resized, &plan, preset.background);
    if format == OutputFormat::Jpeg || out.is_opaque() {
        out = out.flatten(preset.background);
    }
    let bytes = encode::encode(&out, format, preset.quality)?;
    Ok(Rendered {
        bytes,
        width: out.width,
        height: out.height,
        format,
    })
}
