//! Colour to sRGB: embedded ICC profiles, CMYK/YCCK (with or without a profile), grayscale.
//!
//! Outputs carry no ICC profile, so their pixels must already be sRGB: a Display P3 photo
//! shown untagged without this step looks dull, a CMYK JPEG looks like a negative.

use std::sync::{Arc, Mutex, OnceLock};

use image::{DynamicImage, RgbImage, RgbaImage};
use moxcms::{
    ColorProfile, DataColorSpace, Layout, RenderingIntent, Transform8BitExecutor, TransformOptions,
};

use super::error::PipelineError;

/// The press profile for CMYK JPEGs that carry none (see `icc/README.md`).
const DEFAULT_CMYK_PROFILE: &[u8] = include_bytes!("../../icc/FOGRA39L-coated.icc");

/// Pixels as decoded, before colour conversion.
pub enum Decoded {
    /// Gray, gray+alpha, RGB or RGBA at 8 or 16 bits.
    Image(DynamicImage),
    /// Interleaved 8-bit CMYK.
    Cmyk {
        width: u32,
        height: u32,
        data: Vec<u8>,
        /// Adobe applications store CMYK inverted (255 = no ink), flagged by an APP14 segment.
        inverted: bool,
    },
}

fn options(intent: RenderingIntent) -> TransformOptions {
    TransformOptions {
        rendering_intent: intent,
        ..TransformOptions::default()
    }
}

/// The intent for a source profile. Press (CMYK) profiles are LUT-based with perceptual
/// tables made for viewing: measured against libvips' colour-managed render of the CMYK
/// fixture, perceptual is 4/255 off in mean colour where relative colorimetric is 11/255.
/// For RGB matrix profiles both intents are the same transform.
fn intent_for(profile: &ColorProfile) -> RenderingIntent {
    if profile.color_space == DataColorSpace::Cmyk {
        RenderingIntent::Perceptual
    } else {
        RenderingIntent::RelativeColorimetric
    }
}

fn srgb() -> &'static ColorProfile {
    static SRGB: OnceLock<ColorProfile> = OnceLock::new();
    SRGB.get_or_init(ColorProfile::new_srgb)
}

type Executor = Arc<Transform8BitExecutor>;

/// A parsed source profile and the transforms built from it so far.
struct CachedProfile {
    hash: blake3::Hash,
    profile: Option<Arc<ColorProfile>>,
    transforms: Vec<(Layout, Layout, Option<Executor>)>,
}

/// Parsing a profile and building its transform costs ~3 ms (LUTs), more than applying it
/// to a thumbnail; photos from one camera or phone share a handful of profiles, so both
/// are kept, keyed by the profile's content, for the most recent few.
const PROFILE_CACHE_ENTRIES: usize = 32;

fn with_cached<T>(icc: &[u8], f: impl FnOnce(&mut CachedProfile) -> T) -> T {
    static CACHE: Mutex<Vec<CachedProfile>> = Mutex::new(Vec::new());
    let hash = blake3::hash(icc);
    // A panic elsewhere while holding the lock leaves a usable cache: recover it.
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    let index = match cache.iter().position(|e| e.hash == hash) {
        Some(i) => i,
        None => {
            if cache.len() >= PROFILE_CACHE_ENTRIES {
                cache.remove(0);
            }
            cache.push(CachedProfile {
                hash,
                profile: ColorProfile::new_from_slice(icc).ok().map(Arc::new),
                transforms: Vec::new(),
            });
            cache.len() - 1
        }
    };
    f(&mut cache[index])
}

/// The colour space an ICC profile describes, if it parses.
fn space_of(icc: &[u8]) -> Option<DataColorSpace> {
    with_cached(icc, |e| e.profile.as_ref().map(|p| p.color_space))
}

/// The transform from `icc` (in layout `from`) to sRGB (in layout `to`), if one can be built.
fn transform(icc: &[u8], from: Layout, to: Layout) -> Option<Executor> {
    with_cached(icc, |e| {
        if let Some((_, _, t)) = e.transforms.iter().find(|(f, t, _)| (*f, *t) == (from, to)) {
            return t.clone();
        }
        let built = e.profile.as_ref().and_then(|p| {
            p.create_transform_8bit(from, srgb(), to, options(intent_for(p)))
                .ok()
        });
        e.transforms.push((from, to, built.clone()));
        built
    })
}

/// Runs a transform into a new buffer of `out_len` bytes.
fn run(
    executor: Option<Arc<Transform8BitExecutor>>,
    src: &[u8],
    out_len: usize,
) -> Option<Vec<u8>> {
    let mut out = vec![0u8; out_len];
    executor?.transform(src, &mut out).ok()?;
    Some(out)
}

/// Converts to 8-bit sRGB, RGB or RGBA. A missing profile means sRGB; a profile that cannot
/// be used is ignored (as browsers do) rather than failing the render.
pub fn to_srgb(decoded: Decoded, icc: Option<&[u8]>) -> Result<DynamicImage, PipelineError> {
    let space = icc.and_then(space_of);
    match decoded {
        Decoded::Cmyk {
            width,
            height,
            data,
            inverted,
        } => cmyk_to_srgb(width, height, data, inverted, icc, space),
        Decoded::Image(img) => {
            let is_gray = matches!(
                img,
                DynamicImage::ImageLuma8(_)
                    | DynamicImage::ImageLuma16(_)
                    | DynamicImage::ImageLumaA8(_)
                    | DynamicImage::ImageLumaA16(_)
            );
            let profile = match (icc, space) {
                (Some(p), Some(DataColorSpace::Rgb)) if !is_gray => Some(p),
                (Some(p), Some(DataColorSpace::Gray)) if is_gray => Some(p),
                _ => None,
            };
            Ok(match profile {
                Some(p) => with_profile(img, is_gray, p),
                // 8-bit grey stays one channel until the resize has made it small: a
                // 49-megapixel grey PNG is 49 MB, where its RGB copy would add 147 more.
                None if matches!(img, DynamicImage::ImageLuma8(_)) => img,
                None if img.color().has_alpha() => DynamicImage::ImageRgba8(img.into_rgba8()),
                None => DynamicImage::ImageRgb8(img.into_rgb8()),
            })
        }
    }
}

/// CMYK (Adobe-inverted or not) to RGB through its own profile, else the default press
/// profile.
fn cmyk_to_srgb(
    width: u32,
    height: u32,
    mut data: Vec<u8>,
    inverted: bool,
    icc: Option<&[u8]>,
    space: Option<DataColorSpace>,
) -> Result<DynamicImage, PipelineError> {
    if inverted {
        data.iter_mut().for_each(|v| *v = 255 - *v);
    }
    let default = || transform(DEFAULT_CMYK_PROFILE, Layout::Rgba, Layout::Rgb);
    let executor = match (icc, space) {
        (Some(icc), Some(DataColorSpace::Cmyk)) => {
            transform(icc, Layout::Rgba, Layout::Rgb).or_else(default)
        }
        _ => default(),
    }
    .ok_or_else(|| PipelineError::Internal("no usable CMYK profile".into()))?;
    let mut rgb = vec![0u8; width as usize * height as usize * 3];
    executor
        .transform(&data, &mut rgb)
        .map_err(|e| PipelineError::Internal(format!("CMYK conversion: {e}")))?;
    let img = RgbImage::from_raw(width, height, rgb)
        .ok_or_else(|| PipelineError::Internal("CMYK buffer size".into()))?;
    Ok(DynamicImage::ImageRgb8(img))
}

/// Grey or RGB, with or without alpha, through the embedded profile `p` to 8-bit sRGB. A
/// transform that fails leaves the pixels as they are (treated as sRGB).
fn with_profile(img: DynamicImage, is_gray: bool, p: &[u8]) -> DynamicImage {
    let (width, height) = (img.width(), img.height());
    let n = width as usize * height as usize;
    match (is_gray, img.color().has_alpha()) {
        (true, false) => {
            let src = img.into_luma8();
            run(transform(p, Layout::Gray, Layout::Rgb), src.as_raw(), n * 3)
                .and_then(|out| RgbImage::from_raw(width, height, out))
                .unwrap_or_else(|| DynamicImage::ImageLuma8(src).into_rgb8())
                .into()
        }
        (true, true) => {
            let src = img.into_luma_alpha8();
            run(
                transform(p, Layout::GrayAlpha, Layout::Rgba),
                src.as_raw(),
                n * 4,
            )
            .and_then(|out| RgbaImage::from_raw(width, height, out))
            .unwrap_or_else(|| DynamicImage::ImageLumaA8(src).into_rgba8())
            .into()
        }
        (false, false) => {
            let src = img.into_rgb8();
            run(transform(p, Layout::Rgb, Layout::Rgb), src.as_raw(), n * 3)
                .and_then(|out| RgbImage::from_raw(width, height, out))
                .unwrap_or(src)
                .into()
        }
        (false, true) => {
            let src = img.into_rgba8();
            run(
                transform(p, Layout::Rgba, Layout::Rgba),
                src.as_raw(),
                n * 4,
            )
            .and_then(|out| RgbaImage::from_raw(width, height, out))
            .unwrap_or(src)
            .into()
        }
    }
}

/// True when `decoded` is 8-bit RGB(A) with an RGB profile: its conversion is per pixel and
/// can wait until after the resize, where it touches 10-20 times fewer pixels.
pub fn can_defer(decoded: &Decoded, icc: Option<&[u8]>) -> bool {
    matches!(
        decoded,
        Decoded::Image(DynamicImage::ImageRgb8(_) | DynamicImage::ImageRgba8(_))
    ) && icc.and_then(space_of) == Some(DataColorSpace::Rgb)
}

/// Converts 8-bit RGB(A) pixels from `icc` to sRGB in place; an unusable profile leaves
/// them as they are (treated as sRGB), as in [`to_srgb`].
pub fn convert_pixels(px: &mut super::resize::Pixels, icc: &[u8]) {
    let layout = if px.alpha { Layout::Rgba } else { Layout::Rgb };
    if let Some(out) = run(transform(icc, layout, layout), &px.data, px.data.len()) {
        px.data = out;
    }
}

/// Linear light (0-1) of an sRGB value given as 0-255 (the sRGB transfer curve).
pub fn to_linear(c: f64) -> f64 {
    let c = c / 255.0;
    if c <= 0.04045 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

/// The sRGB value (0-255, rounded) of linear light `l` (0-1).
pub fn from_linear(l: f64) -> u8 {
    let l = l.clamp(0.0, 1.0);
    let c = if l <= 0.003_130_8 {
        l * 12.92
    } else {
        1.055 * l.powf(1.0 / 2.4) - 0.055
    };
    (c * 255.0).round() as u8
}
