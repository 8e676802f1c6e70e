//! Decoding into pixels plus the two facts the rest of the pipeline needs from the
//! metadata: the ICC profile and the EXIF orientation. All other metadata is left behind here.
//!
//! JPEG decodes through libjpeg-turbo with DCT-domain shrink-on-load: asked for 1/2, 1/4 or
//! 1/8 scale, it skips most of the inverse DCT work, which is where a thumbnailer's time goes.

use std::io::Cursor;

use image::metadata::Orientation;
use image::{DynamicImage, GrayImage, ImageDecoder, ImageReader, RgbImage};

use super::colour::Decoded;
use super::error::PipelineError;
use super::formats::SourceFormat;
use super::jpeg::Scans;
use super::limits::Limits;
use super::load::Shrink;
use super::{jpeg, sniff};

/// Decoded pixels with what is needed to make them upright sRGB.
pub struct Source {
    pub decoded: Decoded,
    pub icc: Option<Vec<u8>>,
    pub orientation: Orientation,
    /// The full-resolution size as stored (before orientation and shrink-on-load).
    pub full: (u32, u32),
    /// Decoded pixels per source pixel on each stored axis: 1/denominator of a JPEG's
    /// shrink-on-load, the exact ratio of a WebP scaled to whole pixels, else 1.
    pub scale: (f64, f64),
}

/// Reads the EXIF orientation from a TIFF-structured EXIF block; 1 when absent or invalid.
pub fn exif_orientation(tiff: &[u8]) -> Orientation {
    exif::Reader::new()
        .read_raw(tiff.to_vec())
        .ok()
        .and_then(|exif| {
            exif.get_field(exif::Tag::Orientation, exif::In::PRIMARY)
                .and_then(|f| f.value.get_uint(0))
        })
        .and_then(|v| u8::try_from(v).ok())
        .and_then(Orientation::from_exif)
        .unwrap_or(Orientation::NoTransforms)
}

/// True when the orientation turns the image a quarter, swapping width and height.
pub fn swaps_axes(orientation: Orientation) -> bool {
    matches!(
        orientation,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    )
}

/// Decodes `data`. `shrink` is given the upright full-resolution size and answers what the
/// resize needs: a JPEG or WebP decodes at the DCT denominator it allows, a vector is drawn
/// at its exact scale.
pub fn decode(
    data: &[u8],
    format: SourceFormat,
    full: (u32, u32),
    limits: &Limits,
    shrink: &dyn Fn(u32, u32) -> Shrink,
    scans: Scans,
    page: u32,
) -> Result<Source, PipelineError> {
    if format == SourceFormat::Jpeg {
        return decode_jpeg(data, limits, shrink, scans);
    }
    if format == SourceFormat::Webp
        && let Some(source) = decode_webp(data, full, limits, shrink)?
    {
        return Ok(source);
    }
    if let Some(source) = decode_other(data, format, limits, shrink, page)? {
        return Ok(source);
    }
    if format.is_heif() {
        // libheif applies the container's transforms: the result is upright already.
        let heif = super::heif::decode(data, limits)?;
        let Decoded::Image(img) = &heif.decoded else {
            return Err(PipelineError::Internal("libheif gave CMYK".into()));
        };
        return Ok(Source {
            full: (img.width(), img.height()),
            decoded: heif.decoded,
            icc: heif.icc,
            orientation: Orientation::NoTransforms,
            scale: (1.0, 1.0),
        });
    }
    // A PNG's profile is inflated here with a bound, and the decoder gets a copy without
    // metadata chunks, so none of them is inflated past the bound.
    let (png_icc, cleaned) = if format == SourceFormat::Png {
        super::png::for_decoder(data)
    } else {
        (None, None)
    };
    let data = cleaned.as_deref().unwrap_or(data);
    let mut reader = ImageReader::with_format(Cursor::new(data), sniff::image_format(format));
    let mut image_limits = image::Limits::default();
    image_limits.max_image_width = Some(full.0);
    image_limits.max_image_height = Some(full.1);
    // 8 bytes per pixel covers 16-bit RGBA, the widest layout accepted.
    image_limits.max_alloc = Some(limits.max_pixels.saturating_mul(8) + (64 << 20));
    reader.limits(image_limits);
    let mut decoder = reader.into_decoder().map_err(PipelineError::from_image)?;
    let icc = if format == SourceFormat::Png {
        png_icc
    } else {
        decoder.icc_profile().ok().flatten()
    };
    let orientation = match decoder.exif_metadata() {
        Ok(Some(tiff)) => exif_orientation(&tiff),
        // A TIFF's own first IFD holds its orientation tag, read where the decoder stands
        // (parsing the file as EXIF copied all of it: 18 MB for a 6 MP TIFF).
        _ if format == SourceFormat::Tiff => {
            decoder.orientation().unwrap_or(Orientation::NoTransforms)
        }
        _ => Orientation::NoTransforms,
    };
    let img = DynamicImage::from_decoder(decoder).map_err(PipelineError::from_image)?;
    let img = match img {
        // Float images (some TIFFs) are brought to 16 bits, which the colour step handles.
        DynamicImage::ImageRgb32F(_) => DynamicImage::ImageRgb16(img.into_rgb16()),
        DynamicImage::ImageRgba32F(_) => DynamicImage::ImageRgba16(img.into_rgba16()),
        other => other,
    };
    Ok(Source {
        full: (img.width(), img.height()),
        decoded: Decoded::Image(img),
        icc,
        orientation,
        scale: (1.0, 1.0),
    })
}

/// JPEG XL (upright as it decodes), SVG and PDF (drawn at the scale `shrink` asks; a PDF's
/// `page`, from 1); `None` for the other formats.
fn decode_other(
    data: &[u8],
    format: SourceFormat,
    limits: &Limits,
    shrink: &dyn Fn(u32, u32) -> Shrink,
    page: u32,
) -> Result<Option<Source>, PipelineError> {
    let (decoded, icc, full, scale) = match format {
        SourceFormat::Jxl => {
            let (decoded, icc) = super::jxl::decode(data, limits)?;
            let Decoded::Image(img) = &decoded else {
                return Err(PipelineError::Internal("a JPEG XL gave CMYK".into()));
            };
            let full = (img.width(), img.height());
            (decoded, icc, full, (1.0, 1.0))
        }
        SourceFormat::Svg | SourceFormat::Pdf => {
            let drawn = if format == SourceFormat::Svg {
                super::svg::decode(data, limits, shrink)?
            } else {
                super::pdf::decode(data, limits, shrink, page)?
            };
            (drawn.decoded, None, drawn.nominal, drawn.scale)
        }
        _ => return Ok(None),
    };
    Ok(Some(Source {
        decoded,
        icc,
        orientation: Orientation::NoTransforms,
        full,
        scale,
    }))
}

/// A still WebP through libwebp, scaled on load; `None` for an animation.
fn decode_webp(
    data: &[u8],
    full: (u32, u32),
    limits: &Limits,
    shrink: &dyn Fn(u32, u32) -> Shrink,
) -> Result<Option<Source>, PipelineError> {
    let (mut icc, mut orientation) = (None, Orientation::NoTransforms);
    for (kind, body) in super::webp::riff_chunks(data) {
        match kind {
            b"ICCP" => icc = Some(body.to_vec()),
            b"EXIF" => orientation = exif_orientation(super::webp::strip_exif_header(body)),
            _ => {}
        }
    }
    let upright = if swaps_axes(orientation) {
        (full.1, full.0)
    } else {
        full
    };
    let denominator = shrink(upright.0, upright.1).denominator();
    let Some(still) = super::webp::decode_scaled(data, denominator, limits.max_pixels)? else {
        return Ok(None);
    };
    // libwebp spreads the whole image over the rounded size: the exact ratio per axis
    // (1/denominator would drift by up to a pixel across the image).
    let scale = (
        f64::from(still.image.width()) / f64::from(still.full.0),
        f64::from(still.image.height()) / f64::from(still.full.1),
    );
    Ok(Some(Source {
        full: still.full,
        decoded: Decoded::Image(still.image),
        icc,
        orientation,
        scale,
    }))
}

fn decode_jpeg(
    data: &[u8],
    limits: &Limits,
    shrink: &dyn Fn(u32, u32) -> Shrink,
    scans: Scans,
) -> Result<Source, PipelineError> {
    let header = jpeg::header(data)?;
    let markers = jpeg::markers(data);
    let orientation = markers
        .exif
        .map(exif_orientation)
        .unwrap_or(Orientation::NoTransforms);
    let (uw, uh) = if swaps_axes(orientation) {
        (header.height, header.width)
    } else {
        (header.width, header.height)
    };
    let denominator = shrink(uw, uh).denominator();
    let px = jpeg::decode_scaled(data, &header, denominator, limits.max_pixels, scans)?;
    let size_error = || PipelineError::Internal("decoded JPEG has an unexpected size".into());
    let decoded = match px.channels {
        1 => Decoded::Image(DynamicImage::ImageLuma8(
            GrayImage::from_raw(px.width, px.height, px.data).ok_or_else(size_error)?,
        )),
        3 => Decoded::Image(DynamicImage::ImageRgb8(
            RgbImage::from_raw(px.width, px.height, px.data).ok_or_else(size_error)?,
        )),
        _ => Decoded::Cmyk {
            width: px.width,
            height: px.height,
            data: px.data,
            inverted: markers.adobe,
        },
    };
    Ok(Source {
        decoded,
        icc: markers.icc,
        orientation,
        full: (header.width, header.height),
        scale: {
            let k = 1.0 / f64::from(if header.lossless { 1 } else { denominator });
            (k, k)
        },
    })
}
