//! What a preset does to the picture after the resize: an unsharp mask or a Gaussian blur,
//! measured in output pixels, so a step of the preset looks the same at every size.

use fast_image_resize::MulDiv;
use fast_image_resize::PixelType;
use fast_image_resize::images::Image;
use libblur::{
    BlurImage, BlurImageMut, ConvolutionMode, EdgeMode, EdgeMode2D, FastBlurChannels,
    GaussianBlurParams, ThreadingPolicy,
};

use super::resize::Pixels;
pub use super::spec::{Effects, MAX_BLUR, MAX_SHARPEN};

/// `pixels` (RGB or RGBA, straight alpha) with `effects` applied.
pub fn apply(mut pixels: Pixels, effects: &Effects) -> Pixels {
    // Never grey after a resize (its output is RGB): left as it is rather than guessed at.
    if effects.is_none() || pixels.grey || pixels.width == 0 || pixels.height == 0 {
        return pixels;
    }
    let (w, h) = (pixels.width, pixels.height);
    let data = std::mem::take(&mut pixels.data);
    pixels.data = if pixels.alpha {
        // Colour under a transparent pixel means nothing: filtering premultiplied values
        // keeps it from bleeding dark fringes into the visible edge.
        let data = premultiplied(data, w, h, true);
        let data = run(data, w, h, FastBlurChannels::Channels4, effects);
        premultiplied(data, w, h, false)
    } else {
        run(data, w, h, FastBlurChannels::Channels3, effects)
    };
    pixels
}

/// The filter on one buffer of `channels` (3 or 4) interleaved 8-bit channels.
fn run(data: Vec<u8>, w: u32, h: u32, channels: FastBlurChannels, effects: &Effects) -> Vec<u8> {
    let Some(sigma) = effects.sharpen.or(effects.blur) else {
        return data;
    };
    let blurred = gaussian(&data, w, h, channels, sigma);
    if effects.sharpen.is_none() {
        return blurred;
    }
    // The unsharp mask: the picture plus its difference from the blur (amount 1).
    let mut out = blurred;
    for (o, &v) in out.iter_mut().zip(&data) {
        *o = (2 * i16::from(v) - i16::from(*o)).clamp(0, 255) as u8;
    }
    out
}

/// A Gaussian blur of `sigma` (SIMD, `libblur`, edges clamped), on this thread.
fn gaussian(data: &[u8], w: u32, h: u32, channels: FastBlurChannels, sigma: f32) -> Vec<u8> {
    let src = BlurImage::borrow(data, w, h, channels);
    let mut out = vec![0; data.len()];
    let mut dst = BlurImageMut::borrow(&mut out, w, h, channels);
    let params = GaussianBlurParams::new_from_sigma(f64::from(sigma));
    let done = libblur::gaussian_blur(
        &src,
        &mut dst,
        params,
        EdgeMode2D::new(EdgeMode::Clamp),
        ThreadingPolicy::Single,
        ConvolutionMode::FixedPoint,
    );
    match done {
        Ok(()) => out,
        // Only for a layout that does not match its size, which `Pixels` never has.
        Err(_) => data.to_vec(),
    }
}

/// `data` (RGBA) with its colour multiplied by its alpha, or divided back.
fn premultiplied(mut data: Vec<u8>, w: u32, h: u32, multiply: bool) -> Vec<u8> {
    let Ok(mut view) = Image::from_slice_u8(w, h, &mut data, PixelType::U8x4) else {
        return data;
    };
    let muldiv = MulDiv::new();
    // Both fail only for a pixel type other than the one given.
    let _ = if multiply {
        muldiv.multiply_alpha_inplace(&mut view)
    } else {
        muldiv.divide_alpha_inplace(&mut view)
    };
    data
}
