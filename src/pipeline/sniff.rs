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
    } else {
        None
    }
}

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
    if data.starts_with(b"%PDF") {
        return "a PDF is not an image".into();
    }
    let head = &data[..data.len().min(512)];
    if std::str::from_utf8(head).is_ok_and(|s| !s.contains('\0')) {
        return "the data is text, not an image".into();
    }
    "not a recognised image format (expected JPEG, PNG, WebP, GIF, TIFF, HEIC or AVIF)".into()
}

/// Reads the width, height and whether there is an alpha channel from the header,
/// without decoding pixels.
pub fn header(data: &[u8], format: SourceFormat) -> Result<(u32, u32, bool), PipelineError> {
    if format == SourceFormat::Jpeg {
        let header = jpeg::header(data)?;
        return Ok((header.width, header.height, false));
    }
    if format.is_heif() {
        return super::heif::header(data);
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
    let decoder = reader.into_decoder().map_err(PipelineError::from_image)?;
    let (width, height) = decoder.dimensions();
    Ok((width, height, decoder.color_type().has_alpha()))
}

/// The `image` crate's name for a format.
pub fn image_format(format: SourceFormat) -> ImageFormat {
    match format {
        SourceFormat::Jpeg => ImageFormat::Jpeg,
        SourceFormat::Png => ImageFormat::Png,
        SourceFormat::Webp => ImageFormat::WebP,
        SourceFormat::Gif => ImageFormat::Gif,
        SourceFormat::Tiff => ImageFormat::Tiff,
        // Decoded through libheif (see `heif`), never by the `image` crate.
        SourceFormat::Heif | SourceFormat::Avif => ImageFormat::Avif,
    }
}
