//! JPEG through libjpeg-turbo: header, markers, and decoding with DCT-domain shrink-on-load.
//!
//! The `turbojpeg` crate's `Decompressor` hides libjpeg-turbo's error code, and with it the
//! difference between a fatal error and a warning. A truncated or bit-flipped JPEG is only a
//! *warning* to libjpeg (it fills the missing or undecodable blocks with grey), and serving a
//! half-grey thumbnail is wrong, so decoding goes through the raw TurboJPEG 3 API here, where
//! that difference is visible.

use std::ffi::CStr;

use turbojpeg::raw;

use super::error::PipelineError;
use super::progressive;

/// The colour model a JPEG stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JpegColour {
    Gray,
    Rgb,
    Cmyk,
}

/// What the header says, read without decoding any pixels.
#[derive(Debug, Clone, Copy)]
pub struct JpegHeader {
    pub width: u32,
    pub height: u32,
    pub colour: JpegColour,
    pub lossless: bool,
}

/// The metadata segments of a JPEG that the pipeline needs (and that `inspect` reports).
#[derive(Debug, Default, Clone)]
pub struct JpegMarkers<'a> {
    /// The TIFF structure of the EXIF APP1 segment (after `Exif\0\0`).
    pub exif: Option<&'a [u8]>,
    /// The ICC profile reassembled from its APP2 chunks.
    pub icc: Option<Vec<u8>>,
    /// An Adobe APP14 segment is present: CMYK samples are stored inverted.
    pub adobe: bool,
    /// An XMP APP1 segment is present.
    pub xmp: bool,
    /// An IPTC (Photoshop APP13) segment is present.
    pub iptc: bool,
    /// A COM (comment) segment is present.
    pub comment: bool,
}

/// Walks the marker segments before the first scan. Malformed segment lengths end the walk
/// (the decoder reports the corruption); this never panics on any input.
pub fn markers(data: &[u8]) -> JpegMarkers<'_> {
    let mut out = JpegMarkers::default();
    let mut icc_chunks: Vec<(u8, &[u8])> = Vec::new();
    let mut pos = 2; // after SOI
    while pos + 4 <= data.len() {
        if data[pos] != 0xFF {
            break;
        }
        let marker = data[pos + 1];
        if marker == 0xFF {
            pos += 1; // fill byte
            continue;
        }
        if marker == 0xD8 || (0xD0..=0xD7).contains(&marker) || marker == 0x01 {
            pos += 2;
            continue;
        }
        if marker == 0xDA || marker == 0xD9 {
            break; // start of scan / end of image
        }
        let len = usize::from(u16::from_be_bytes([data[pos + 2], data[pos + 3]]));
        if len < 2 || pos + 2 + len > data.len() {
            break;
        }
        let body = &data[pos + 4..pos + 2 + len];
        match marker {
            0xE1 if body.starts_with(b"Exif\0\0") => out.exif = Some(&body[6..]),
            0xE1 if body.starts_with(b"http://ns.adobe.com/") => out.xmp = true,
            0xE2 if body.starts_with(b"ICC_PROFILE\0") && body.len() > 14 => {
                icc_chunks.push((body[12], &body[14..]));
            }
            0xED => out.iptc |= photoshop_has_iptc(body),
            0xEE if body.starts_with(b"Adobe") => out.adobe = true,
            0xFE => out.comment = true,
            _ => {}
        }
        pos += 2 + len;
    }
    if !icc_chunks.is_empty() {
        icc_chunks.sort_by_key(|(seq, _)| *seq);
        out.icc = Some(
            icc_chunks
                .iter()
                .flat_map(|(_, c)| c.iter().copied())
                .collect(),
        );
    }
    out
}

/// True when a Photoshop APP13 segment holds an IPTC-NAA resource (ID 0x0404); the same
/// segment often holds only other resources (resolution, thumbnails).
fn photoshop_has_iptc(body: &[u8]) -> bool {
    let Some(mut rest) = body.strip_prefix(b"Photoshop 3.0\0") else {
        return false;
    };
    while rest.len() >= 12 && rest.starts_with(b"8BIM") {
        let id = u16::from_be_bytes([rest[4], rest[5]]);
        // Pascal-string name, padded to an even length including its length byte.
        let name_len = usize::from(rest[6]) + 1;
        let at = 6 + name_len + (name_len & 1);
        let Some(size) = rest.get(at..at + 4) else {
            return false;
        };
        let size = u32::from_be_bytes([size[0], size[1], size[2], size[3]]) as usize;
        if id == 0x0404 && size > 0 {
            return true;
        }
        let next = at + 4 + size + (size & 1);
        let Some(tail) = rest.get(next..) else {
            return false;
        };
        rest = tail;
    }
    false
}

/// Which scans of a progressive JPEG a decode reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scans {
    /// Every scan: validation, which must find corrupt data wherever it is.
    All,
    /// Only those the output needs (at 1/8 scale, the DC scans): renders.
    Needed,
}

/// An owned TurboJPEG decompressor instance.
struct Handle(raw::tjhandle);

impl Handle {
    fn decompressor() -> Result<Self, PipelineError> {
        // SAFETY: tj3Init has no preconditions; a null result is checked.
        let ptr = unsafe { raw::tj3Init(raw::TJINIT_TJINIT_DECOMPRESS as libc::c_int) };
        if ptr.is_null() {
            return Err(PipelineError::Internal(
                "cannot start the JPEG decoder".into(),
            ));
        }
        Ok(Self(ptr))
    }

    fn message(&self) -> String {
        // SAFETY: the handle is valid; tj3GetErrorStr returns a NUL-terminated static or
        // per-instance string.
        unsafe { CStr::from_ptr(raw::tj3GetErrorStr(self.0)) }
            .to_string_lossy()
            .trim()
            .to_owned()
    }

    fn is_warning(&self) -> bool {
        // SAFETY: valid handle.
        unsafe { raw::tj3GetErrorCode(self.0) == raw::TJERR_TJERR_WARNING as libc::c_int }
    }

    fn set(&mut self, param: raw::TJPARAM, value: libc::c_int) -> Result<(), PipelineError> {
        // SAFETY: valid handle; the parameter constants come from the bindings.
        if unsafe { raw::tj3Set(self.0, param as libc::c_int, value) } != 0 {
            return Err(PipelineError::Internal(self.message()));
        }
        Ok(())
    }

    fn get(&self, param: raw::TJPARAM) -> libc::c_int {
        // SAFETY: valid handle.
        unsafe { raw::tj3Get(self.0, param as libc::c_int) }
    }

    fn header(&mut self, data: &[u8]) -> Result<JpegHeader, PipelineError> {
        // SAFETY: the pointer and length describe `data`, which outlives the call.
        let res = unsafe { raw::tj3DecompressHeader(self.0, data.as_ptr(), data.len() as _) };
        if res != 0 {
            return Err(corrupt_or_truncated(&self.message()));
        }
        let colour = match self.get(raw::TJPARAM_TJPARAM_COLORSPACE) as u32 {
            c if c == raw::TJCS_TJCS_GRAY => JpegColour::Gray,
            c if c == raw::TJCS_TJCS_CMYK || c == raw::TJCS_TJCS_YCCK => JpegColour::Cmyk,
            _ => JpegColour::Rgb,
        };
        let width = u32::try_from(self.get(raw::TJPARAM_TJPARAM_JPEGWIDTH)).unwrap_or(0);
        let height = u32::try_from(self.get(raw::TJPARAM_TJPARAM_JPEGHEIGHT)).unwrap_or(0);
        if width == 0 || height == 0 {
            return Err(PipelineError::Corrupt(
                "the JPEG header declares an empty image".into(),
            ));
        }
        Ok(JpegHeader {
            width,
            height,
            colour,
            lossless: self.get(raw::TJPARAM_TJPARAM_LOSSLESS) != 0,
        })
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: the handle came from tj3Init and is destroyed once.
        unsafe { raw::tj3Destroy(self.0) }
    }
}

/// Reads the JPEG header (dimensions, colour model) without decoding.
pub fn header(data: &[u8]) -> Result<JpegHeader, PipelineError> {
    Handle::decompressor()?.header(data)
}

/// Decoded JPEG pixels, interleaved 8-bit samples.
pub struct JpegPixels {
    pub width: u32,
    pub height: u32,
    /// 1 (gray), 3 (RGB) or 4 (CMYK).
    pub channels: u8,
    pub data: Vec<u8>,
}

/// Decodes at `1/denominator` scale (1, 2, 4 or 8) in the DCT domain.
///
/// Gray stays gray and CMYK/YCCK stays CMYK (the colour step converts them with their
/// profile); everything else comes out RGB. Truncated or corrupt data is an error, not grey
/// rows, even where libjpeg only warns.
///
/// With [`Scans::Needed`] at 1/8 scale, a progressive JPEG is decoded from its DC scans only
/// ([`progressive::dc_only`]): the same luma and, for subsampled chroma, its block averages
/// (0.00-0.08 dB on a thumbnail), for a fraction of the entropy decoding. Should that stream
/// fail for any reason, the file is decoded as it is.
pub fn decode_scaled(
    data: &[u8],
    header: &JpegHeader,
    denominator: u32,
    max_pixels: u64,
    scans: Scans,
) -> Result<JpegPixels, PipelineError> {
    if scans == Scans::Needed
        && denominator == 8
        && !header.lossless
        && let Some(dc) = progressive::dc_only(data)
        && let Ok(pixels) = decode_stream(&dc, header, denominator, max_pixels)
    {
        return Ok(pixels);
    }
    decode_stream(data, header, denominator, max_pixels)
}

fn decode_stream(
    data: &[u8],
    header: &JpegHeader,
    denominator: u32,
    max_pixels: u64,
) -> Result<JpegPixels, PipelineError> {
    let mut handle = Handle::decompressor()?;
    handle.header(data)?;
    // A pathological progressive JPEG can make libjpeg do unbounded work per scan.
    handle.set(raw::TJPARAM_TJPARAM_SCANLIMIT, 500)?;
    handle.set(
        raw::TJPARAM_TJPARAM_MAXPIXELS,
        libc::c_int::try_from(max_pixels).unwrap_or(libc::c_int::MAX),
    )?;
    let denominator = if header.lossless { 1 } else { denominator };
    if denominator > 1 {
        let factor = raw::tjscalingfactor {
            num: 1,
            denom: denominator as libc::c_int,
        };
        // SAFETY: valid handle; 1/2, 1/4 and 1/8 are always supported for lossy JPEG.
        if unsafe { raw::tj3SetScalingFactor(handle.0, factor) } != 0 {
            return Err(PipelineError::Internal(handle.message()));
        }
    }
    let width = header.width.div_ceil(denominator);
    let height = header.height.div_ceil(denominator);
    let (format, channels) = match header.colour {
        JpegColour::Gray => (raw::TJPF_TJPF_GRAY, 1u8),
        JpegColour::Rgb => (raw::TJPF_TJPF_RGB, 3),
        JpegColour::Cmyk => (raw::TJPF_TJPF_CMYK, 4),
    };
    let pitch = width as usize * usize::from(channels);
    let precision = handle.get(raw::TJPARAM_TJPARAM_PRECISION);
    let (pixels, res) = match precision {
        // 12-bit lossy (medical, some cameras' raw previews) and 13-16-bit lossless JPEG:
        // decoded at their precision, then reduced to 8 bits for the rest of the pipeline.
        9..=16 => decode_deep(&handle, data, pitch, height as usize, format, precision),
        _ => {
            let mut pixels = vec![0u8; pitch * height as usize];
            // SAFETY: `pixels` holds `pitch * height` bytes, exactly what libjpeg-turbo
            // writes for the scaled size (TJSCALED rounds up, as div_ceil does above).
            let res = unsafe {
                raw::tj3Decompress8(
                    handle.0,
                    data.as_ptr(),
                    data.len() as _,
                    pixels.as_mut_ptr(),
                    pitch as libc::c_int,
                    format,
                )
            };
            (pixels, res)
        }
    };
    if res != 0 {
        // A warning is libjpeg carrying on past corrupt data (a bad Huffman code, missing
        // data, stray bytes) with grey or smeared blocks in its place: such pixels are not
        // served or stored as if they were the image (sharp's `failOn: 'warning'`).
        let message = handle.message();
        return Err(if handle.is_warning() {
            corrupt_or_truncated(&format!("{message} (a warning libjpeg decodes past)"))
        } else {
            corrupt_or_truncated(&message)
        });
    }
    let decoded = JpegPixels {
        width,
        height,
        channels,
        data: pixels,
    };
    Ok(whole_blocks(decoded, header, denominator))
}

/// libjpeg rounds the scaled size up: the last column and row then stand for a partial
/// block (2725 px at 1/4 gives 682 columns, the last one covering a quarter of a block).
/// Dropping them keeps every decoded pixel exactly `denominator` source pixels wide, so the
/// resize can map coordinates by 1/denominator with no sub-pixel drift (which cost ~1.9 dB
/// of PSNR when the partial pixel was stretched over the image instead).
fn whole_blocks(mut decoded: JpegPixels, header: &JpegHeader, denominator: u32) -> JpegPixels {
    let (keep_w, keep_h) = (header.width / denominator, header.height / denominator);
    let (width, height) = (decoded.width, decoded.height);
    if denominator > 1 && keep_w > 0 && keep_h > 0 && (keep_w, keep_h) != (width, height) {
        let pitch = width as usize * usize::from(decoded.channels);
        let row = keep_w as usize * usize::from(decoded.channels);
        for y in 1..keep_h as usize {
            decoded
                .data
                .copy_within(y * pitch..y * pitch + row, y * row);
        }
        decoded.data.truncate(row * keep_h as usize);
        decoded.width = keep_w;
        decoded.height = keep_h;
    }
    decoded
}

/// Decodes a JPEG of 9-16 bits per sample and scales its samples to 8 bits.
fn decode_deep(
    handle: &Handle,
    data: &[u8],
    pitch: usize,
    height: usize,
    format: libc::c_int,
    precision: libc::c_int,
) -> (Vec<u8>, libc::c_int) {
    let mut deep = vec![0u16; pitch * height];
    // SAFETY: `deep` holds `pitch * height` samples (the pitch is in samples for these
    // calls), what libjpeg-turbo writes for the scaled size; i16 and u16 share a layout.
    let res = unsafe {
        if precision <= 12 {
            raw::tj3Decompress12(
                handle.0,
                data.as_ptr(),
                data.len() as _,
                deep.as_mut_ptr().cast::<libc::c_short>(),
                pitch as libc::c_int,
                format,
            )
        } else {
            raw::tj3Decompress16(
                handle.0,
                data.as_ptr(),
                data.len() as _,
                deep.as_mut_ptr(),
                pitch as libc::c_int,
                format,
            )
        }
    };
    let max = f32::from(u16::MAX >> (16 - precision.clamp(9, 16) as u32));
    let pixels = deep
        .iter()
        .map(|&v| (f32::from(v) * 255.0 / max).round().clamp(0.0, 255.0) as u8)
        .collect();
    (pixels, res)
}

fn corrupt_or_truncated(message: &str) -> PipelineError {
    let lower = message.to_ascii_lowercase();
    if lower.contains("premature end") || lower.contains("unexpected end") {
        PipelineError::Truncated
    } else {
        PipelineError::Corrupt(format!("JPEG decoder: {message}"))
    }
}
