//! What a preset does to the picture after the resize: an unsharp mask or a Gaussian blur,
//! measured in output pixels, so a step of the preset looks the same at every size.

use fast_image_resize::MulDiv;
use fast_image_resize::PixelType;
use fast_image_resize::images::Image;
use image::imageops::{self, GaussianBlurParameters};
use image::{ImageBuffer, Pixel};

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
        let data = run::<image::Rgba<u8>>(data, w, h, effects);
        premultiplied(data, w, h, false)
    } else {
        run::<image::Rgb<u8>>(data, w, h, effects)
    };
    pixels
}

/// The filter on one buffer of pixels `P`.
fn run<P>(data: Vec<u8>, w: u32, h: u32, effects: &Effects) -> Vec<u8>
where
    P: Pixel<Subpixel = u8> + 'static,
{
    let len = data.len();
    let Some(img) = ImageBuffer::<P, Vec<u8>>::from_raw(w, h, data) else {
        return vec![0; len];
    };
    let out = match (effects.sharpen, effects.blur) {
        (Some(sigma), _) => unsharp(&img, sigma),
        (None, Some(sigma)) => imageops::fast_blur(&img, sigma),
        (None, None) => img,
    };
    out.into_raw()
}

/// The picture plus its difference from a Gaussian blur of it (amount 1, no threshold).
fn unsharp<P>(img: &ImageBuffer<P, Vec<u8>>, sigma: f32) -> ImageBuffer<P, Vec<u8>>
where
    P: Pixel<Subpixel = u8> + 'static,
{
    let blurred = imageops::blur_advanced(img, GaussianBlurParameters::new_from_sigma(sigma));
    let mut out = blurred.into_raw();
    for (o, &v) in out.iter_mut().zip(img.as_raw()) {
        *o = (2 * i16::from(v) - i16::from(*o)).clamp(0, 255) as u8;
    }
    let (w, h) = img.dimensions();
    ImageBuffer::from_raw(w, h, out).unwrap_or_else(|| img.clone())
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
