//! What an input is, from its bytes alone: the format by magic number, never by name or
//! `Content-Type`, and the dimensions from the header, before any pixel is decoded.

use std::io::Cursor;

use image::{ImageDecoder, ImageFormat, ImageReader};

use super::error::PipelineError;
use super::formats::SourceFormat;
use super::jpeg;

/// Identifies the format from the first bytes.
pub fn sniff(data: &[u8]) -> Result<SourceFormat, PipelineError> {
    if data.is_empty() {
        return Err(PipelineError::Empty);
    }
    let starts = |magic: &[u8]| data.starts_with(magic);
    if starts(&[0xFF, 0xD8, 0xFF]) {
        Ok(SourceFormat::Jpeg)
    } else if starts(b"\x89PNG\r\n\x1a\n") {
        Ok(SourceFormat::Png)
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        Ok(SourceFormat::Gif)
    } else if data.len() >= 12 && starts(b"RIFF") && &data[8..12] == b"WEBP" {
        Ok(SourceFormat::Webp)
    } else if starts(b"II*\0") || starts(b"MM\0*") {
        Ok(SourceFormat::Tiff)
    } else if let Some(format) = iso_media(data) {
        Ok(format)
    } else if is_video(data) {
        Ok(SourceFormat::Video)
    } else if starts(super::jxl::CODESTREAM) || starts(super::jxl::CONTAINER) {
        Ok(SourceFormat::Jxl)
    } else if super::pdf::sniff(data) {
        Ok(SourceFormat::Pdf)
    } else if super::svg::sniff(data) {
        Ok(SourceFormat::Svg)
    } else {
        Err(PipelineError::UnsupportedFormat(describe_unknown(data)))
    }
}

/// HEIF or AVIF, from the `ftyp` box's brands (AVIF when any brand says so).
fn iso_media(data: &[u8]) -> Option<SourceFormat> {
    if data.len() < 12 || &data[4..8] != b"ftyp" {
        return None;
    }
    let size = u32::from_be_bytes([data[0], data[1], data[2], data[3]]) as usize;
    let ftyp = data.get(8..size.clamp(12, data.len()))?;
    let brands: Vec<&[u8]> = ftyp
        .chunks_exact(4)
        .enumerate()
        .filter(|(i, _)| *i != 1)
        .map(|(_, b)| b)
        .collect();
    let has = |names: &[&[u8; 4]]| brands.iter().any(|b| names.iter().any(|n| *b == &n[..]));
    if has(&[b"avif", b"avis"]) {
        Some(SourceFormat::Avif)
    } else if has(&[
        b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1",
    ]) {
        Some(SourceFormat::Heif)
    } else if has(VIDEO_BRANDS) {
        Some(SourceFormat::Video)
    } else {
        None
    }
}

/// `ftyp` brands of MP4, QuickTime and their kin: files of moving pictures (a brand of
/// stills, such as Canon's `crx `, is not among them).
const VIDEO_BRANDS: &[&[u8; 4]] = &[
    b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"iso8", b"iso9", b"mp41", b"mp42",
    b"mp71", b"avc1", b"qt  ", b"M4V ", b"M4VH", b"M4VP", b"dash", b"3gp4", b"3gp5", b"3gp6",
    b"3gp7", b"3g2a", b"3g2b", b"3g2c", b"mmp4", b"MSNV", b"XAVC", b"f4v ",
];

/// Matroska and WebM (an EBML header), or a QuickTime movie that opens without `ftyp`, as
/// cameras wrote before it existed.
fn is_video(data: &[u8]) -> bool {
    data.starts_with(&[0x1A, 0x45, 0xDF, 0xA3])
        || (data.len() >= 16
            && matches!(&data[4..8], b"moov" | b"wide" | b"mdat" | b"pnot")
            && u32::from_be_bytes([data[0], data[1], data[2], data[3]]) >= 8)
}

/// What the pipeline says of a video handed to it directly (the service and the CLI hand it
/// the poster frame that `crate::video` extracts instead).
pub const VIDEO: &str =
    "a video: its poster frame is read by the `ffmpeg` program, which this caller did not run";

/// A human description of what an unsupported input looks like.
fn describe_unknown(data: &[u8]) -> String {
    if data.len() >= 12 && &data[4..8] == b"ftyp" {
        let brand = String::from_utf8_lossy(&data[8..12]).into_owned();
        return format!(
            "an ISO media file (brand `{brand}`) is not an image format thumbkit reads"
        );
    }
    if data.starts_with(b"BM") {
        return "BMP is not supported".into();
    }
    let head = &data[..data.len().min(512)];
    if std::str::from_utf8(head).is_ok_and(|s| !s.contains('\0')) {
        return "the data is text, not an image".into();
    }
    "not a recognised image format (expected JPEG, PNG, WebP, GIF, TIFF, HEIC, AVIF, JPEG XL, SVG, PDF or a video)".into()
}

/// Reads the width, height and whether there is an alpha channel from the header,
/// without decoding pixels.
pub fn header(data: &[u8], format: SourceFormat) -> Result<(u32, u32, bool), PipelineError> {
    if format == SourceFormat::Jpeg {
        let header = jpeg::header(data)?;
        return Ok((header.width, header.height, false));
    }
    match format {
        SourceFormat::Heif | SourceFormat::Avif => return super::heif::header(data),
        SourceFormat::Jxl => return super::jxl::header(data),
        SourceFormat::Svg => return super::svg::header(data),
        SourceFormat::Pdf => return super::pdf::header(data),
        SourceFormat::Video => return Err(PipelineError::UnsupportedFormat(VIDEO.into())),
        _ => {}
    }
    // A PNG decoder inflates the metadata chunks before the header is done: it gets a copy
    // without them (see `png`).
    let cleaned = if format == SourceFormat::Png {
        super::png::for_decoder(data).1
    } else {
        None
    };
    let data = cleaned.as_deref().unwrap_or(data);
    let mut reader = ImageReader::with_format(Cursor::new(data), image_format(format));
    // Only the header is read here; the caller judges the size against its own limits.
    reader.no_limits();
    if format == SourceFormat::Webp {
        super::webp::check_frames(data)?;
    }
    let declared = match format {
        SourceFormat::Webp => webp_declared(data),
        SourceFormat::Tiff => tiff_declared(data),
        _ => None,
    };
    let decoder = match reader.into_decoder() {
        Ok(decoder) => decoder,
        // image-webp refuses a canvas it thinks too large, and the tiff crate a size its
        // strips do not match, with a format error: the size the header declares is the
        // answer, so the caller's limit refuses a huge one by its size (a decode of one
        // within the limit fails later with the decoder's reason).
        Err(e) => return declared.ok_or_else(|| PipelineError::from_image(e)),
    };
    let (width, height) = decoder.dimensions();
    let alpha = decoder.color_type().has_alpha();
    match (width, height, declared) {
        // (It answers 0x0 for some lossless headers at the 14-bit maximum.)
        (0, _, Some(d)) | (_, 0, Some(d)) => Ok(d),
        (0, _, None) | (_, 0, None) => Err(PipelineError::Corrupt(
            "the header declares a width or height of 0".into(),
        )),
        _ => Ok((width, height, alpha)),
    }
}

/// The size a WebP's first chunk declares: `VP8X`'s canvas (24-bit width and height minus
/// one, the alpha flag in bit 4 of its flags), `VP8L`'s (14 bits each, minus one, after the
/// 0x2f signature) or a `VP8` key frame's (14 bits each after its start code).
fn webp_declared(data: &[u8]) -> Option<(u32, u32, bool)> {
    let at = |i: usize| data.get(i).copied().map(u32::from);
    let declared = match data.get(12..16)? {
        b"VP8X" => {
            let u24 = |i: usize| Some(at(i)? | at(i + 1)? << 8 | at(i + 2)? << 16);
            (u24(24)? + 1, u24(27)? + 1, at(20)? & 0x10 != 0)
        }
        b"VP8L" if at(20)? == 0x2f => {
            let bits = at(21)? | at(22)? << 8 | at(23)? << 16 | at(24)? << 24;
            let (w, h) = ((bits & 0x3fff) + 1, ((bits >> 14) & 0x3fff) + 1);
            (w, h, bits >> 28 & 1 == 1)
        }
        b"VP8 " if data.get(23..26)? == [0x9d, 0x01, 0x2a] => {
            let u14 = |i: usize| Some((at(i)? | at(i + 1)? << 8) & 0x3fff);
            (u14(26)?, u14(28)?, false)
        }
        _ => return None,
    };
    (declared.0 > 0 && declared.1 > 0).then_some(declared)
}

/// The `image` crate's name for a format.
pub fn image_format(format: SourceFormat) -> ImageFormat {
    match format {
        SourceFormat::Jpeg => ImageFormat::Jpeg,
        SourceFormat::Png => ImageFormat::Png,
        SourceFormat::Webp => ImageFormat::WebP,
        SourceFormat::Gif => ImageFormat::Gif,
        SourceFormat::Tiff => ImageFormat::Tiff,
        // Decoded through libheif (see `heif`), jxl-oxide, resvg and hayro, never by the
        // `image` crate.
        SourceFormat::Heif
        | SourceFormat::Avif
        | SourceFormat::Jxl
        | SourceFormat::Svg
        | SourceFormat::Video
        | SourceFormat::Pdf => ImageFormat::Avif,
    }
}

/// The size a TIFF's first IFD declares (`ImageWidth` 256, `ImageLength` 257, SHORT or
/// LONG), in either byte order.
fn tiff_declared(data: &[u8]) -> Option<(u32, u32, bool)> {
    let little = match data.get(..4)? {
        b"II*\0" => true,
        b"MM\0*" => false,
        _ => return None,
    };
    let u16_at = |i: usize| {
        let b: [u8; 2] = data.get(i..i + 2)?.try_into().ok()?;
        Some(if little {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    };
    let u32_at = |i: usize| {
        let b: [u8; 4] = data.get(i..i + 4)?.try_into().ok()?;
        Some(if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    };
    let ifd = usize::try_from(u32_at(4)?).ok()?;
    let (mut width, mut height) = (None, None);
    for e in 0..usize::from(u16_at(ifd)?) {
        let at = ifd + 2 + e * 12;
        let value = match u16_at(at + 2)? {
            3 => u32::from(u16_at(at + 8)?),
            4 => u32_at(at + 8)?,
            _ => continue,
        };
        match u16_at(at)? {
            256 => width = Some(value),
            257 => height = Some(value),
            _ => {}
        }
    }
    let (w, h) = (width?, height?);
    (w > 0 && h > 0).then_some((w, h, false))
}
