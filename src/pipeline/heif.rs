//! HEIF/HEIC and AVIF through libheif: the header read before any decoding, the decode to
//! upright RGB(A) with its colour profile, and the AVIF encoder (libheif's aomenc plugin).
//!
//! The container's transforms (`irot`, `imir`, `clap`) are applied by libheif as it decodes;
//! HEIF says they, not EXIF, orient the image, so the EXIF orientation is never applied on
//! top. Every metadata item (EXIF, XMP, IPTC) is left in the container.

use std::sync::LazyLock;

use image::{DynamicImage, ImageBuffer, RgbImage, RgbaImage};
use libheif_rs::{
    Channel, ColorProfileNCLX, ColorSpace, CompressionFormat, EncoderParameterValue,
    EncoderQuality, EncodingOptions, HeifContext, HeifErrorCode, Image, ImageHandle, LibHeif,
    RgbChroma,
};

use super::colour::Decoded;
use super::error::{PipelineError, one_line};
use super::limits::Limits;

/// libheif, initialised once with its plugins (decoders and encoders are plugins).
static LIBHEIF: LazyLock<LibHeif> = LazyLock::new(LibHeif::new);

/// libheif's error as what it means for the user: a codec or feature it lacks is an
/// unsupported format, anything else a corrupt file.
fn failed(what: &str) -> impl Fn(libheif_rs::HeifError) -> PipelineError + '_ {
    move |e| {
        let msg = format!("{what}: {}", one_line(&e.message));
        match e.code {
            HeifErrorCode::UnsupportedFeature | HeifErrorCode::UnsupportedFileType => {
                PipelineError::UnsupportedFormat(msg)
            }
            _ => PipelineError::Corrupt(msg),
        }
    }
}

fn primary(context: &HeifContext<'_>) -> Result<ImageHandle, PipelineError> {
    context
        .primary_image_handle()
        .map_err(failed("the file has no primary image"))
}

/// Width and height once the container's transforms are applied, and whether there is an
/// alpha channel: read from the boxes, decoding nothing.
pub fn header(data: &[u8]) -> Result<(u32, u32, bool), PipelineError> {
    LazyLock::force(&LIBHEIF);
    let context = HeifContext::read_from_bytes(data).map_err(failed("not a readable HEIF file"))?;
    let handle = primary(&context)?;
    Ok((handle.width(), handle.height(), handle.has_alpha_channel()))
}

/// Decoded pixels, upright, with the ICC profile that describes them (from the `colr` box:
/// an embedded profile, or one built from its nclx primaries and transfer).
pub struct Heif {
    pub decoded: Decoded,
    pub icc: Option<Vec<u8>>,
}

/// Decodes the primary image, refusing from the header what exceeds `limits`.
pub fn decode(data: &[u8], limits: &Limits) -> Result<Heif, PipelineError> {
    LazyLock::force(&LIBHEIF);
    let mut context =
        HeifContext::read_from_bytes(data).map_err(failed("not a readable HEIF file"))?;
    // A grid (every iPhone photo) is decoded tile by tile on this thread: by default libheif
    // starts 4 threads, which took 1.5 cores and more memory per render while every render
    // worker already has a core of its own.
    context.set_max_decoding_threads(0);
    let handle = primary(&context)?;
    let (width, height) = (handle.width(), handle.height());
    // The coded size too: a small `clap` crop can hide a huge coded image.
    let coded = (
        u32::try_from(handle.ispe_width()).unwrap_or(u32::MAX),
        u32::try_from(handle.ispe_height()).unwrap_or(u32::MAX),
    );
    for (w, h) in [(width, height), coded] {
        if u64::from(w) * u64::from(h) > limits.max_pixels {
            return Err(PipelineError::TooManyPixels {
                width: w,
                height: h,
                limit: limits.max_pixels,
            });
        }
    }
    let alpha = handle.has_alpha_channel();
    let deep = handle.luma_bits_per_pixel() > 8;
    let chroma = match (deep, alpha) {
        (false, false) => RgbChroma::Rgb,
        (false, true) => RgbChroma::Rgba,
        (true, false) => RgbChroma::HdrRgbLe,
        (true, true) => RgbChroma::HdrRgbaLe,
    };
    let image = LIBHEIF
        .decode(&handle, ColorSpace::Rgb(chroma), None)
        .map_err(failed("cannot decode the image"))?;
    let decoded = Decoded::Image(to_dynamic(&image, alpha, deep)?);
    Ok(Heif {
        decoded,
        icc: profile(&handle),
    })
}

/// The interleaved plane as an `image` buffer; deeper samples are scaled to 16 bits.
fn to_dynamic(image: &Image, alpha: bool, deep: bool) -> Result<DynamicImage, PipelineError> {
    let planes = image.planes();
    let plane = planes
        .interleaved
        .ok_or_else(|| PipelineError::Internal("libheif gave no interleaved plane".into()))?;
    let (w, h) = (plane.width as usize, plane.height as usize);
    let channels = if alpha { 4 } else { 3 };
    let size = || PipelineError::Internal("libheif's plane has an unexpected size".into());
    if !deep {
        let row = w * channels;
        let mut data = Vec::with_capacity(row * h);
        for y in 0..h {
            let start = y * plane.stride;
            data.extend_from_slice(plane.data.get(start..start + row).ok_or_else(size)?);
        }
        let (w, h) = (plane.width, plane.height);
        return Ok(if alpha {
            DynamicImage::ImageRgba8(RgbaImage::from_raw(w, h, data).ok_or_else(size)?)
        } else {
            DynamicImage::ImageRgb8(RgbImage::from_raw(w, h, data).ok_or_else(size)?)
        });
    }
    let bits = u32::from(plane.bits_per_pixel.clamp(9, 16));
    let max = f64::from((1u32 << bits) - 1);
    let row = w * channels * 2;
    let mut data: Vec<u16> = Vec::with_capacity(w * channels * h);
    for y in 0..h {
        let start = y * plane.stride;
        let bytes = plane.data.get(start..start + row).ok_or_else(size)?;
        data.extend(bytes.chunks_exact(2).map(|b| {
            let v = f64::from(u16::from_le_bytes([b[0], b[1]]));
            (v / max * 65535.0).round().min(65535.0) as u16
        }));
    }
    let (w, h) = (plane.width, plane.height);
    Ok(if alpha {
        DynamicImage::ImageRgba16(ImageBuffer::from_raw(w, h, data).ok_or_else(size)?)
    } else {
        DynamicImage::ImageRgb16(ImageBuffer::from_raw(w, h, data).ok_or_else(size)?)
    })
}

/// The source's colour as an ICC profile: the embedded one, else one made from the nclx
/// primaries and transfer when they are not sRGB's; `None` means sRGB.
fn profile(handle: &ImageHandle) -> Option<Vec<u8>> {
    if let Some(raw) = handle.color_profile_raw() {
        return Some(raw.data);
    }
    let nclx = handle.color_profile_nclx()?;
    let (primaries, transfer) = (
        nclx.color_primaries() as u8,
        nclx.transfer_characteristics() as u8,
    );
    // 1 = BT.709/sRGB primaries, 2 = unspecified; 13 = sRGB transfer, 1/6 = BT.709's
    // (which browsers show as sRGB), 2 = unspecified.
    if matches!(primaries, 1 | 2) && matches!(transfer, 1 | 2 | 6 | 13) {
        return None;
    }
    let cicp = moxcms::CicpProfile {
        color_primaries: moxcms::CicpColorPrimaries::try_from(primaries).ok()?,
        transfer_characteristics: moxcms::TransferCharacteristics::try_from(transfer).ok()?,
        matrix_coefficients: moxcms::MatrixCoefficients::try_from(0u8).ok()?,
        full_range: true,
    };
    moxcms::ColorProfile::new_from_cicp(cicp).encode().ok()
}

/// Outputs of at least this many pixels are encoded one speed step faster: at 2048 px, speed 9
/// gave speed 8's bytes (-12% to +0%) in a fifth to a third of the time (`bench --formats
/// --preset large`, README), where at 320 px it cost 2-10% more bytes.
pub const FASTER_FROM_PIXELS: u64 = 1_000_000;

/// The libaom speed for a `width` x `height` output when `speed` is asked for.
pub fn speed_for(width: u32, height: u32, speed: u8) -> u8 {
    let large = u64::from(width) * u64::from(height) >= FASTER_FROM_PIXELS;
    (speed + u8::from(large)).min(9)
}

/// Encodes 8-bit sRGB pixels as AVIF: 4:2:0, `quality` 1-100, libaom `speed` 0-9 (higher
/// is faster). The file holds the pixels and an nclx `colr` box saying sRGB, nothing else.
pub fn encode_avif(
    data: &[u8],
    width: u32,
    height: u32,
    alpha: bool,
    quality: u8,
    speed: u8,
) -> Result<Vec<u8>, PipelineError> {
    let fail = |what: &'static str| {
        move |e: libheif_rs::HeifError| {
            PipelineError::Encode(format!("avif: {what}: {}", one_line(&e.message)))
        }
    };
    let chroma = if alpha {
        RgbChroma::Rgba
    } else {
        RgbChroma::Rgb
    };
    let mut image = Image::new(width, height, ColorSpace::Rgb(chroma)).map_err(fail("image"))?;
    image
        .create_plane(Channel::Interleaved, width, height, 8)
        .map_err(fail("plane"))?;
    {
        let mut planes = image.planes_mut();
        let plane = planes
            .interleaved
            .as_mut()
            .ok_or_else(|| PipelineError::Internal("no interleaved plane to fill".into()))?;
        let row = width as usize * if alpha { 4 } else { 3 };
        for (y, src) in data.chunks_exact(row).enumerate() {
            let start = y * plane.stride;
            plane
                .data
                .get_mut(start..start + row)
                .ok_or_else(|| PipelineError::Internal("plane smaller than the image".into()))?
                .copy_from_slice(src);
        }
    }
    // libheif's default nclx is sRGB: BT.709 primaries, sRGB transfer, BT.601 matrix, full
    // range. Written out, so no decoder has to guess how the YCbCr was made.
    let nclx = ColorProfileNCLX::new()
        .ok_or_else(|| PipelineError::Internal("cannot allocate an nclx profile".into()))?;
    image.set_color_profile_nclx(&nclx).map_err(fail("nclx"))?;
    let mut encoder = LIBHEIF
        .encoder_for_format(CompressionFormat::Av1)
        .map_err(fail("no AV1 encoder (is libheif-plugin-aomenc installed?)"))?;
    encoder
        .set_quality(EncoderQuality::Lossy(quality))
        .map_err(fail("quality"))?;
    encoder
        .set_parameter_value("speed", EncoderParameterValue::Int(i32::from(speed.min(9))))
        .map_err(fail("speed"))?;
    encoder
        .set_parameter_value("chroma", EncoderParameterValue::String("420".into()))
        .map_err(fail("chroma"))?;
    // One render per worker thread already fills the cores.
    encoder
        .set_parameter_value("threads", EncoderParameterValue::Int(1))
        .map_err(fail("threads"))?;
    let mut context = HeifContext::new().map_err(fail("context"))?;
    let options = EncodingOptions::new().map_err(fail("options"))?;
    context
        .encode_image(&image, &mut encoder, Some(options))
        .map_err(fail("encode"))?;
    context.write_to_bytes().map_err(fail("write"))
}

/// The primary image's EXIF block (TIFF-structured) and embedded ICC profile, if any.
pub fn metadata(data: &[u8]) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    LazyLock::force(&LIBHEIF);
    let Ok(context) = HeifContext::read_from_bytes(data) else {
        return (None, None);
    };
    let Ok(handle) = context.primary_image_handle() else {
        return (None, None);
    };
    let mut ids = vec![0; 8];
    let n = handle.metadata_block_ids(&mut ids, b"Exif");
    // Each EXIF item starts with the offset of the TIFF header within it.
    let exif = ids[..n].iter().find_map(|id| {
        let block = handle.metadata(*id).ok()?;
        let skip = u32::from_be_bytes(block.get(..4)?.try_into().ok()?) as usize;
        block.get(4 + skip..).map(<[u8]>::to_vec)
    });
    (exif, handle.color_profile_raw().map(|p| p.data))
}
