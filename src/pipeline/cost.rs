//! What a decode will hold at its peak, read from the header alone: the render workers take
//! it out of their shared memory budget before decoding (`service::budget`).

use super::formats::SourceFormat as F;

/// What drawing a PDF page or an SVG may hold: the largest nominal size (4096 px a side) in
/// RGBA, twice (the renderer's pixmap and its copy). Most draws are far smaller (at the
/// preset's size); the bounds on what a document may inflate are its own (`pdf`, `svg`).
pub const VECTOR_COST: u64 = 4096 * 4096 * 4 * 2;

/// What decoding a video's poster frame may hold: a 4K frame as 16-bit RGB (ffmpeg writes
/// deep video as 16-bit PNG) and its 8-bit copy. ffmpeg's own memory is its process's,
/// bounded by `Limits::video_memory`.
pub const VIDEO_COST: u64 = 3840 * 2160 * (6 + 3);

/// Bytes a full decode of `input` may hold at its peak, from its header alone (0 when the
/// header cannot be read: such an input is refused before it decodes): the pixels at the
/// depth the format stores them, plus their 8-bit RGB(A) copy. What the render workers'
/// shared memory budget counts ([`crate::service::budget`]).
pub fn decode_cost(input: &[u8]) -> u64 {
    let Ok(format) = super::sniff::sniff(input) else {
        return 0;
    };
    // A vector's header is the whole document (parsing it is work for a render thread, not
    // for the caller): it is drawn at most at its nominal size, 4096 px a side, into RGBA.
    if format.is_vector() {
        return VECTOR_COST;
    }
    if format == F::Video {
        return VIDEO_COST;
    }
    let Ok((w, h, alpha)) = super::sniff::header(input, format) else {
        return 0;
    };
    let pixels = u64::from(w) * u64::from(h);
    let rgb: u64 = if alpha { 4 } else { 3 };
    let stored = match format {
        // Decoded straight to RGB, at most at full size (CMYK through 4 bytes first).
        F::Jpeg => return pixels * 4,
        // IHDR: bit depth at 24, colour type at 25; palettes expand to RGB(A).
        F::Png => {
            let depth: u64 = if input.get(24) == Some(&16) { 2 } else { 1 };
            // 8-bit grey is resized as it is, with no RGB copy (see `Pixels`).
            if input.get(25) == Some(&0) && depth == 1 {
                return pixels;
            }
            let channels = match input.get(25) {
                Some(0) => 1,
                Some(4) => 2,
                Some(3) => rgb,
                Some(6) => 4,
                _ => 3,
            };
            channels * depth
        }
        F::Gif | F::Webp => rgb,
        // May be 16 bits per sample.
        F::Tiff | F::Heif => rgb * 2,
        // dav1d's own frame buffers and libheif's RGB conversion come on top: a 2040 px and a
        // 6 MP AVIF peaked at 14.8 and 13.7 bytes a pixel above the binary (tests/rss.rs).
        F::Avif => rgb * 4 + 2,
        // jxl-oxide renders into f32 planes (alpha its own), then samples of up to 16 bits.
        F::Jxl => (rgb + 1) * 4 + rgb * 2,
        F::Svg | F::Pdf => return VECTOR_COST,
        F::Video => return VIDEO_COST,
    };
    pixels * (stored + rgb)
}
