//! JPEG XL in, through jxl-oxide (pure Rust): the size from the header, the first frame of an
//! animation, alpha, orientation (applied as it renders) and the colour profile it renders in.

use image::{DynamicImage, ImageBuffer, Luma, LumaA, Rgb, Rgba};
use jxl_oxide::{AllocTracker, InitializeResult, JxlImage, PixelFormat};

use super::colour::Decoded;
use super::error::{PipelineError, one_line};
use super::limits::Limits;

/// A bare codestream's signature.
pub const CODESTREAM: &[u8] = &[0xFF, 0x0A];
/// The ISO BMFF container's signature box.
pub const CONTAINER: &[u8] = b"\0\0\0\x0cJXL \r\n\x87\n";

/// What reading a file's headers and frame table may allocate: its own bytes and a margin.
/// jxl-oxide reserves each section's declared size as it is fed, so a few bytes declaring
/// 500 MB would reserve 500 MB without a tracker.
fn for_headers(data: &[u8]) -> AllocTracker {
    AllocTracker::with_limit(data.len() + (16 << 20))
}

/// The decoder with its header read (the frames are parsed later, not decoded).
fn open(data: &[u8], tracker: AllocTracker) -> Result<JxlImage, PipelineError> {
    let mut uninit = JxlImage::builder().alloc_tracker(tracker).build_uninit();
    uninit.feed_bytes(data).map_err(|e| corrupt(&*e))?;
    let mut image = match uninit.try_init().map_err(|e| corrupt(&*e))? {
        InitializeResult::Initialized(image) => image,
        InitializeResult::NeedMoreData(_) => return Err(PipelineError::Truncated),
    };
    image.finalize().map_err(|e| corrupt(&*e))?;
    Ok(image)
}

fn corrupt(e: &(dyn std::error::Error + 'static)) -> PipelineError {
    let msg = one_line(&e.to_string());
    if msg.to_ascii_lowercase().contains("eof") || msg.contains("more data") {
        PipelineError::Truncated
    } else {
        PipelineError::Corrupt(msg)
    }
}

/// Width and height (upright: the decoder applies the orientation) and whether there is
/// alpha. A header the decoder refuses still says its size, so a huge one is refused by it.
pub fn header(data: &[u8]) -> Result<(u32, u32, bool), PipelineError> {
    let mut uninit = JxlImage::builder()
        .alloc_tracker(for_headers(data))
        .build_uninit();
    let read = uninit
        .feed_bytes(data)
        .and_then(|_| uninit.try_init())
        .map_err(|e| corrupt(&*e));
    match read {
        Ok(InitializeResult::Initialized(image)) => {
            let alpha = matches!(image.pixel_format(), PixelFormat::Rgba | PixelFormat::Graya);
            Ok((image.width(), image.height(), alpha))
        }
        Ok(InitializeResult::NeedMoreData(_)) => Err(PipelineError::Truncated),
        Err(e) => declared(data).map(|(w, h)| (w, h, false)).ok_or(e),
    }
}

/// The size a codestream's `SizeHeader` declares (ISO/IEC 18181-1 A.2), read by hand.
fn declared(data: &[u8]) -> Option<(u32, u32)> {
    let stream = if data.starts_with(CODESTREAM) {
        data
    } else {
        codestream_in_container(data)?
    };
    let mut bits = BitReader {
        data: stream.get(2..)?,
        at: 0,
    };
    let div8 = bits.take(1)? == 1;
    let side = |bits: &mut BitReader<'_>| -> Option<u64> {
        if div8 {
            return Some((1 + bits.take(5)?) * 8);
        }
        let n = [9, 13, 18, 30][bits.take(2)? as usize];
        Some(1 + bits.take(n)?)
    };
    let height = side(&mut bits)?;
    let ratio = bits.take(3)?;
    let width = match ratio {
        0 => side(&mut bits)?,
        r => {
            let (num, den) =
                [(1, 1), (12, 10), (4, 3), (3, 2), (16, 9), (5, 4), (2, 1)][r as usize - 1];
            height * num / den
        }
    };
    Some((u32::try_from(width).ok()?, u32::try_from(height).ok()?))
}

/// The codestream's first bytes in a container: a `jxlc` box, or the first `jxlp` part.
fn codestream_in_container(data: &[u8]) -> Option<&[u8]> {
    let mut at = 0usize;
    while let Some(head) = data.get(at..at + 8) {
        let size = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        match &head[4..8] {
            b"jxlc" => return data.get(at + 8..),
            b"jxlp" => return data.get(at + 12..),
            _ if size < 8 => return None,
            _ => at = at.checked_add(size)?,
        }
    }
    None
}

/// Bits least significant first, as a codestream stores them.
struct BitReader<'a> {
    data: &'a [u8],
    at: usize,
}

impl BitReader<'_> {
    fn take(&mut self, n: usize) -> Option<u64> {
        let mut v = 0u64;
        for i in 0..n {
            let byte = self.data.get(self.at / 8)?;
            v |= u64::from((byte >> (self.at % 8)) & 1) << i;
            self.at += 1;
        }
        Some(v)
    }
}

/// Decodes the first frame, upright, with the profile its pixels are in.
pub fn decode(data: &[u8], limits: &Limits) -> Result<(Decoded, Option<Vec<u8>>), PipelineError> {
    // Four f32 planes per pixel, twice over for the decoder's own buffers.
    let budget = limits.max_pixels.saturating_mul(32) + (64 << 20);
    let tracker = AllocTracker::with_limit(usize::try_from(budget).unwrap_or(usize::MAX));
    // Fed once within the file's own size first: a section declaring more than the file
    // holds is refused before the pixel budget could let it be reserved.
    drop(open(data, for_headers(data))?);
    let image = open(data, tracker)?;
    let format = image.pixel_format();
    if matches!(format, PixelFormat::Cmyk | PixelFormat::Cmyka) {
        return Err(PipelineError::UnsupportedFormat(
            "a CMYK JPEG XL is not supported".into(),
        ));
    }
    if image.num_loaded_keyframes() == 0 {
        return Err(PipelineError::Truncated);
    }
    let render = image.render_frame(0).map_err(|e| corrupt(&*e))?;
    let mut stream = render.stream();
    let (w, h, channels) = (stream.width(), stream.height(), stream.channels());
    let deep = image.image_header().metadata.bit_depth.bits_per_sample() > 8;
    let samples = w as usize * h as usize * channels as usize;
    let size = || PipelineError::Internal("the JPEG XL frame has an unexpected size".into());
    let img = if deep {
        let mut buf = vec![0u16; samples];
        stream.write_to_buffer(&mut buf);
        match channels {
            1 => DynamicImage::ImageLuma16(
                ImageBuffer::<Luma<u16>, _>::from_raw(w, h, buf).ok_or_else(size)?,
            ),
            2 => DynamicImage::ImageLumaA16(
                ImageBuffer::<LumaA<u16>, _>::from_raw(w, h, buf).ok_or_else(size)?,
            ),
            3 => DynamicImage::ImageRgb16(
                ImageBuffer::<Rgb<u16>, _>::from_raw(w, h, buf).ok_or_else(size)?,
            ),
            _ => DynamicImage::ImageRgba16(
                ImageBuffer::<Rgba<u16>, _>::from_raw(w, h, buf).ok_or_else(size)?,
            ),
        }
    } else {
        let mut buf = vec![0u8; samples];
        stream.write_to_buffer(&mut buf);
        match channels {
            1 => DynamicImage::ImageLuma8(ImageBuffer::from_raw(w, h, buf).ok_or_else(size)?),
            2 => DynamicImage::ImageLumaA8(ImageBuffer::from_raw(w, h, buf).ok_or_else(size)?),
            3 => DynamicImage::ImageRgb8(ImageBuffer::from_raw(w, h, buf).ok_or_else(size)?),
            _ => DynamicImage::ImageRgba8(ImageBuffer::from_raw(w, h, buf).ok_or_else(size)?),
        }
    };
    Ok((Decoded::Image(img), Some(image.rendered_icc())))
}

/// Frames in the file (1 for a still), from the frame headers, without decoding.
pub fn frames(data: &[u8]) -> u32 {
    open(data, for_headers(data)).map_or(1, |image| {
        u32::try_from(image.num_loaded_keyframes())
            .unwrap_or(u32::MAX)
            .max(1)
    })
}

/// The ICC profile the codestream embeds, if any.
pub fn icc(data: &[u8]) -> Option<Vec<u8>> {
    let mut uninit = JxlImage::builder()
        .alloc_tracker(for_headers(data))
        .build_uninit();
    uninit.feed_bytes(data).ok()?;
    match uninit.try_init().ok()? {
        InitializeResult::Initialized(image) => image.original_icc().map(<[u8]>::to_vec),
        InitializeResult::NeedMoreData(_) => None,
    }
}
