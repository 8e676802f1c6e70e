//! What a render needs and nothing else: the pipeline's own words for a box, a fit, a
//! crop, a background, a format and its qualities. A preset holds a [`Spec`]; the pipeline
//! never sees the preset (its name, steps, sizes or fallback).

use std::fmt;
use std::sync::Arc;

use serde::Deserialize;

pub use super::fractions::{Point, Region};
use super::saliency::Saliency;

/// One render's recipe: the box and how the picture goes into it, and how it is encoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// The box's width, if bounded.
    pub width: Option<u32>,
    /// The box's height, if bounded.
    pub height: Option<u32>,
    pub fit: Fit,
    pub gravity: Gravity,
    pub format: FormatChoice,
    pub quality: Quality,
    /// WebP outputs are lossless.
    pub lossless: bool,
    pub animation: Animation,
    pub background: Colour,
    /// Enlarge pictures smaller than the box.
    pub upscale: bool,
    /// What a `smart` crop keeps: known from the original, never from the preset, so it
    /// is [`Subject::Unknown`] in a preset's spec and set per original by the caller.
    pub subject: Subject,
    /// Borders of one colour removed before the fit.
    pub trim: Option<Trim>,
    /// What is done to the picture after the resize (sharpen, blur).
    pub effects: Effects,
    /// Corners made transparent after the padding.
    pub mask: Option<Mask>,
    /// A mark drawn over the output, last.
    pub watermark: Option<Watermark>,
    /// The most bytes a lossy output may take: its quality is lowered until it fits.
    pub max_bytes: Option<u32>,
    /// The page of a PDF drawn, from 1 (`None`: the first; other formats have one page).
    pub page: Option<u32>,
}

/// How the picture is fitted into the box (sharp's meanings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fit {
    /// Fill the box, cropping what overflows (by gravity).
    Cover,
    /// Fit inside the box and pad the rest with the background colour.
    Contain,
    /// Fit inside the box; the output is at most the box, never padded.
    Inside,
    /// Stretch to exactly the box, ignoring the aspect ratio.
    Fill,
}

/// Which part of the image `cover` keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Gravity {
    #[serde(alias = "center")]
    Centre,
    North,
    Northeast,
    East,
    Southeast,
    South,
    Southwest,
    West,
    Northwest,
    /// Around the subject: the original's focal point, else what is found in the picture.
    Smart,
}

impl Gravity {
    /// Horizontal and vertical anchor, each 0.0 (left/top), 0.5 or 1.0 (right/bottom);
    /// `smart` anchors at the centre when its subject is unknown.
    pub fn anchor(self) -> (f64, f64) {
        match self {
            Gravity::Centre | Gravity::Smart => (0.5, 0.5),
            Gravity::North => (0.5, 0.0),
            Gravity::Northeast => (1.0, 0.0),
            Gravity::East => (1.0, 0.5),
            Gravity::Southeast => (1.0, 1.0),
            Gravity::South => (0.5, 1.0),
            Gravity::Southwest => (0.0, 1.0),
            Gravity::West => (0.0, 0.5),
            Gravity::Northwest => (0.0, 0.0),
        }
    }
}

/// The largest `sharpen` sigma: past it an unsharp mask only draws halos.
pub const MAX_SHARPEN: f64 = 3.0;

/// The largest `blur` sigma, in output pixels (a hero background's wash).
pub const MAX_BLUR: f64 = 100.0;

/// The operations a preset applies after the resize (at most one of the two).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Effects {
    /// An unsharp mask whose blur has this sigma: the picture plus its difference from the
    /// blurred copy (what `vips sharpen` and imgproxy's `sharpen` do).
    pub sharpen: Option<f32>,
    /// A Gaussian blur of this sigma.
    pub blur: Option<f32>,
}

impl Effects {
    /// Whether nothing is applied.
    pub fn is_none(&self) -> bool {
        self.sharpen.is_none() && self.blur.is_none()
    }
}

/// `trim`: the borders to remove are those within `threshold` of the top-left pixel (or,
/// when that pixel is transparent, those no more opaque than `threshold`), as `vips
/// find_trim` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trim {
    /// The largest difference (0-255, per channel) still counted as border.
    pub threshold: u8,
}

impl Trim {
    /// vips' default: JPEG's noise around a flat border stays under it.
    pub const DEFAULT_THRESHOLD: u8 = 10;
}

/// The shape an output is cut to; what is outside it becomes transparent (or the
/// background, under JPEG).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mask {
    /// The ellipse touching the output's four edges: a circle on a square output.
    Circle,
    /// Corners rounded with this radius, in output pixels.
    Rounded { radius: u32 },
}

/// A mark composited over the output after everything else (before the encode).
#[derive(Clone, PartialEq)]
pub struct Watermark {
    /// The mark's pixels (straight-alpha RGBA, sRGB), shared by every render.
    pub mark: Arc<Mark>,
    /// Where it goes: a gravity's corner or edge, or repeated over the whole output.
    pub position: Placement,
    /// Pixels between the mark and the output's edges (and between tiles).
    pub margin: u32,
    /// 0-1: multiplies the mark's own alpha.
    pub opacity: f32,
    /// The mark's width as a fraction (0-1] of the output's width.
    pub width: f32,
    /// Outputs narrower than this many pixels get no mark (thumbnails too small for one).
    pub min_width: u32,
}

impl fmt::Debug for Watermark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watermark")
            .field("mark", &(self.mark.width, self.mark.height))
            .field("position", &self.position)
            .field("margin", &self.margin)
            .field("opacity", &self.opacity)
            .field("width", &self.width)
            .field("min_width", &self.min_width)
            .finish()
    }
}

/// A watermark's picture, decoded once when its preset is loaded.
#[derive(Clone, PartialEq, Eq)]
pub struct Mark {
    pub width: u32,
    pub height: u32,
    /// `width * height * 4` bytes of straight-alpha RGBA.
    pub rgba: Vec<u8>,
}

/// Where a watermark goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Anchored as a crop's gravity is (`smart` is not a placement).
    At(Gravity),
    /// Repeated in a grid over the whole output.
    Tile,
}

/// What a `smart` crop keeps, in fractions of the upright picture.
// The map inline (576 bytes) keeps `Spec` `Copy`; it is copied a few times per render.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Subject {
    /// Not known yet: the render finds it in the decoded picture.
    #[default]
    Unknown,
    /// A point the application chose: the crop is centred on it, moved only as far as the
    /// picture's edges require.
    Focus(Point),
    /// A region found earlier (faces): the crop is centred on it, so it is kept whole when
    /// it fits.
    Region(Region),
    /// The picture's saliency, found earlier: the crop holds the most of it.
    Salient(Saliency),
}

/// The output format asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FormatChoice {
    Jpeg,
    Png,
    Webp,
    Avif,
    /// Chosen per request: the first of the service's modern formats (AVIF, WebP) the
    /// client's `Accept` names, else JPEG, or PNG for a source with alpha.
    Auto,
    /// The original's format when it can be encoded (JPEG, PNG, WebP, AVIF), else PNG.
    Source,
}

/// Encoder quality (1-100) for each lossy output format; PNG and lossless WebP ignore it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quality {
    pub jpeg: u8,
    pub webp: u8,
    pub avif: u8,
}

impl Quality {
    /// The per-format qualities that look like JPEG quality `q`: WebP and AVIF at the
    /// settings whose SSIMULACRA2 score matched JPEG's on three photos
    /// (`thumbkit bench --formats`; the table is in docs/benchmarks.md).
    pub fn like_jpeg(q: u8) -> Self {
        Self {
            jpeg: q,
            webp: interpolate(q, &WEBP_LIKE_JPEG),
            avif: interpolate(q, &AVIF_LIKE_JPEG),
        }
    }
}

/// (JPEG quality, WebP quality of equal SSIMULACRA2): the median over three photos of
/// `thumbkit bench --formats --jpeg-quality 50,70,80,90` (2026-12-01, docs/benchmarks.md).
const WEBP_LIKE_JPEG: [(u8, u8); 4] = [(50, 61), (70, 77), (80, 83), (90, 97)];
/// (JPEG quality, AVIF quality at speed 8 of equal SSIMULACRA2), measured the same way.
const AVIF_LIKE_JPEG: [(u8, u8); 4] = [(50, 54), (70, 62), (80, 68), (90, 89)];

/// Piecewise-linear through `points` (sorted by x), clamped to 1-100 outside them.
fn interpolate(q: u8, points: &[(u8, u8)]) -> u8 {
    let (first, last) = (points[0], points[points.len() - 1]);
    if q <= first.0 {
        return (f64::from(q) * f64::from(first.1) / f64::from(first.0))
            .round()
            .max(1.0) as u8;
    }
    if q >= last.0 {
        let t = f64::from(q - last.0) / f64::from(100 - last.0);
        return (f64::from(last.1) + t * f64::from(100 - last.1)).round() as u8;
    }
    let i = points
        .iter()
        .position(|p| p.0 >= q)
        .unwrap_or(points.len() - 1);
    let (a, b) = (points[i - 1], points[i]);
    let t = f64::from(q - a.0) / f64::from(b.0 - a.0);
    (f64::from(a.1) + t * (f64::from(b.1) - f64::from(a.1))).round() as u8
}

/// What becomes of an animated GIF or WebP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Animation {
    /// A still of the first frame (the default).
    FirstFrame,
    /// Every frame, resized, with its timing (animated WebP, or GIF when the output is GIF).
    Keep,
}

/// An 8-bit RGBA colour, written `#rgb`, `#rrggbb` or `#rrggbbaa`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Colour(pub [u8; 4]);

impl Colour {
    /// White, the default background.
    pub const WHITE: Colour = Colour([255, 255, 255, 255]);

    /// Parses `#rgb`, `#rrggbb` or `#rrggbbaa`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let hex = s
            .strip_prefix('#')
            .ok_or_else(|| format!("`{s}` is not a colour; write it as #rrggbb or #rrggbbaa"))?;
        let digits: Vec<u8> = hex
            .chars()
            .map(|c| c.to_digit(16).map(|d| d as u8))
            .collect::<Option<_>>()
            .ok_or_else(|| format!("`{s}` has a character that is not a hex digit"))?;
        let pair = |i: usize| digits[i] * 16 + digits[i + 1];
        match digits.len() {
            3 => Ok(Colour([
                digits[0] * 17,
                digits[1] * 17,
                digits[2] * 17,
                255,
            ])),
            6 => Ok(Colour([pair(0), pair(2), pair(4), 255])),
            8 => Ok(Colour([pair(0), pair(2), pair(4), pair(6)])),
            _ => Err(format!(
                "`{s}` is not a colour; write it as #rgb, #rrggbb or #rrggbbaa"
            )),
        }
    }
}

impl fmt::Display for Colour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [r, g, b, a] = self.0;
        write!(f, "#{r:02x}{g:02x}{b:02x}{a:02x}")
    }
}

/// The name a fit is written with in preset files.
pub fn fit_name(fit: Fit) -> &'static str {
    match fit {
        Fit::Cover => "cover",
        Fit::Contain => "contain",
        Fit::Inside => "inside",
        Fit::Fill => "fill",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours() {
        assert_eq!(Colour::parse("#fff").unwrap(), Colour::WHITE);
        assert_eq!(Colour::parse("#102030").unwrap(), Colour([16, 32, 48, 255]));
        assert_eq!(Colour::parse("#10203000").unwrap(), Colour([16, 32, 48, 0]));
        assert!(Colour::parse("red").is_err());
        assert!(Colour::parse("#12345").is_err());
        assert!(Colour::parse("#ggg").is_err());
    }
}
