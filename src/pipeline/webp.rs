//! WebP stills through libwebp: decoded already scaled (libwebp's rescaler runs row by row as
//! the frame is decoded, so the full-size image never exists) and with its SIMD decoder, where
//! the pure-Rust decoder of `image` decodes at full size. Animations stay with `image`.

use std::mem::MaybeUninit;

use image::{DynamicImage, RgbImage, RgbaImage};
use libwebp_sys as sys;

use super::error::PipelineError;

/// A still decoded by libwebp.
pub struct Still {
    pub image: DynamicImage,
    /// The bitstream's full size.
    pub full: (u32, u32),
}

/// Decodes the still WebP `data` scaled down by `denominator` (1: full size; each side
/// rounded up, as a JPEG's DCT scaling does). `None` when libwebp cannot decode it as a still
/// (an animation), for the caller to decode another way.
pub fn decode_scaled(
    data: &[u8],
    denominator: u32,
    max_pixels: u64,
) -> Result<Option<Still>, PipelineError> {
    let mut features = MaybeUninit::<sys::WebPBitstreamFeatures>::zeroed();
    // SAFETY: `data` is a live slice of `data.len()` bytes; `features` is writable.
    let status = unsafe { sys::WebPGetFeatures(data.as_ptr(), data.len(), features.as_mut_ptr()) };
    check(status)?;
    // SAFETY: WebPGetFeatures filled it (status OK), and all-zero is a valid value anyway.
    let features = unsafe { features.assume_init() };
    if features.has_animation != 0 {
        return Ok(None);
    }
    let (width, height) = (side(features.width)?, side(features.height)?);
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err(PipelineError::TooManyPixels {
            width,
            height,
            limit: max_pixels,
        });
    }
    let d = denominator.max(1);
    let (out_w, out_h) = (width.div_ceil(d), height.div_ceil(d));
    let alpha = features.has_alpha != 0;
    let channels = if alpha { 4 } else { 3 };
    let stride = out_w as usize * channels;
    let mut pixels = vec![0u8; stride * out_h as usize];

    let mut config = MaybeUninit::<sys::WebPDecoderConfig>::zeroed();
    // SAFETY: `config` is writable; the call only initialises it.
    if !unsafe { sys::WebPInitDecoderConfig(config.as_mut_ptr()) } {
        return Err(PipelineError::Internal(
            "libwebp's decoder version differs".into(),
        ));
    }
    // SAFETY: initialised just above.
    let mut config = unsafe { config.assume_init() };
    if (out_w, out_h) != (width, height) {
        config.options.use_scaling = 1;
        config.options.scaled_width = out_w as i32;
        config.options.scaled_height = out_h as i32;
    }
    config.output.colorspace = if alpha {
        sys::WEBP_CSP_MODE::MODE_RGBA
    } else {
        sys::WEBP_CSP_MODE::MODE_RGB
    };
    // libwebp writes into `pixels` (external memory), so nothing of its own needs freeing.
    config.output.is_external_memory = 1;
    config.output.u.RGBA = sys::WebPRGBABuffer {
        rgba: pixels.as_mut_ptr(),
        stride: stride as i32,
        size: pixels.len(),
    };
    // SAFETY: `data` is live for the call; `config.output` points at `pixels`, whose length
    // is exactly `stride * out_h` as libwebp checks against `size`.
    let status = unsafe { sys::WebPDecode(data.as_ptr(), data.len(), &mut config) };
    // SAFETY: frees only what libwebp allocated itself (nothing, with external memory).
    unsafe { sys::WebPFreeDecBuffer(&mut config.output) };
    check(status)?;
    let wrong_size = || PipelineError::Internal("libwebp gave an unexpected size".into());
    let image = if alpha {
        DynamicImage::ImageRgba8(RgbaImage::from_raw(out_w, out_h, pixels).ok_or_else(wrong_size)?)
    } else {
        DynamicImage::ImageRgb8(RgbImage::from_raw(out_w, out_h, pixels).ok_or_else(wrong_size)?)
    };
    Ok(Some(Still {
        image,
        full: (width, height),
    }))
}

/// A side as libwebp gives it, refused when it is not a usable size.
fn side(v: i32) -> Result<u32, PipelineError> {
    u32::try_from(v)
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| PipelineError::Corrupt(format!("a WebP side of {v} pixels")))
}

/// libwebp's status as the pipeline's error.
fn check(status: sys::VP8StatusCode) -> Result<(), PipelineError> {
    use sys::VP8StatusCode as S;
    match status {
        S::VP8_STATUS_OK => Ok(()),
        S::VP8_STATUS_NOT_ENOUGH_DATA => Err(PipelineError::Truncated),
        // Within the pixel limit, only a bitstream that says more than its header does
        // makes libwebp refuse an allocation.
        S::VP8_STATUS_OUT_OF_MEMORY => Err(PipelineError::Corrupt(
            "libwebp cannot allocate what its bitstream declares".into(),
        )),
        S::VP8_STATUS_UNSUPPORTED_FEATURE => Err(PipelineError::UnsupportedFormat(
            "a WebP feature libwebp does not support".into(),
        )),
        other => Err(PipelineError::Corrupt(format!("WebP: {other:?}"))),
    }
}

/// Some writers keep the JPEG-style `Exif\0\0` prefix inside container chunks.
pub fn strip_exif_header(body: &[u8]) -> &[u8] {
    body.strip_prefix(b"Exif\0\0").unwrap_or(body)
}

/// The chunks of a RIFF (WebP) file as (fourcc, body).
pub fn riff_chunks(data: &[u8]) -> Vec<(&[u8; 4], &[u8])> {
    let mut out = Vec::new();
    let mut pos = 12;
    while pos + 8 <= data.len() {
        let len = u32::from_le_bytes([data[pos + 4], data[pos + 5], data[pos + 6], data[pos + 7]])
            as usize;
        let Some(end) = (pos + 8).checked_add(len).filter(|e| *e <= data.len()) else {
            break;
        };
        let Ok(kind) = <&[u8; 4]>::try_from(&data[pos..pos + 4]) else {
            break;
        };
        out.push((kind, &data[pos + 8..end]));
        pos = end + (len & 1);
    }
    out
}

/// Refuses an animation whose frame's own bitstream is not the size its `ANMF` header
/// says: image-webp indexes its rows by the header and panics on the difference.
pub fn check_frames(data: &[u8]) -> Result<(), PipelineError> {
    for (kind, body) in chunks_cut_short(data) {
        if kind != b"ANMF" || body.len() < 16 {
            continue;
        }
        let u24 = |i: usize| {
            u32::from(body[i]) | u32::from(body[i + 1]) << 8 | u32::from(body[i + 2]) << 16
        };
        let declared = (u24(6) + 1, u24(9) + 1);
        let mut inner = b"RIFF\0\0\0\0WEBP".to_vec();
        inner.extend_from_slice(&body[16..]);
        let mut after_alpha = false;
        for (kind, frame) in chunks_cut_short(&inner) {
            // image-webp decodes whatever chunk follows an ALPH as VP8, whatever its name
            // (and, there, trusts its size: a "VP6 " coded 0x32 under a 32x32 frame panicked).
            let follows_alpha = std::mem::replace(&mut after_alpha, kind == b"ALPH");
            let lossy = kind == b"VP8 " || follows_alpha;
            let coded = match kind {
                _ if lossy && frame.get(3..6) == Some(&[0x9d, 0x01, 0x2a]) && frame.len() >= 10 => {
                    let u14 =
                        |i: usize| (u32::from(frame[i]) | u32::from(frame[i + 1]) << 8) & 0x3fff;
                    (u14(6), u14(8))
                }
                b"VP8L" if frame.first() == Some(&0x2f) && frame.len() >= 5 => {
                    let bits = u32::from_le_bytes([frame[1], frame[2], frame[3], frame[4]]);
                    ((bits & 0x3fff) + 1, ((bits >> 14) & 0x3fff) + 1)
                }
                _ => continue,
            };
            if coded != declared {
                return Err(PipelineError::Corrupt(format!(
                    "the picture is coded {}x{} where its header says {}x{}",
                    coded.0, coded.1, declared.0, declared.1
                )));
            }
        }
    }
    Ok(())
}

/// [`riff_chunks`], with a last chunk that runs past the end cut short where the data ends
/// (as image-webp reads it).
fn chunks_cut_short(data: &[u8]) -> Vec<(&[u8; 4], &[u8])> {
    let mut out = riff_chunks(data);
    let used: usize = 12
        + out
            .iter()
            .map(|(_, b)| 8 + b.len() + (b.len() & 1))
            .sum::<usize>();
    if let (Some(kind), Some(body)) = (data.get(used..used + 4), data.get(used + 8..))
        && let Ok(kind) = <&[u8; 4]>::try_from(kind)
    {
        out.push((kind, body));
    }
    out
}
