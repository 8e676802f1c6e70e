//! Resizing (Lanczos3 with premultiplied alpha, through `fast_image_resize`), `cover`'s
//! crop in the same pass, and the final composition: `contain`'s padding and flattening
//! alpha onto the background for formats without it.

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::{DynamicImage, RgbImage, RgbaImage};

use super::error::PipelineError;
use super::geometry::Plan;
use super::spec::Colour;

/// Upright 8-bit sRGB pixels, RGB or RGBA, or (before a resize only) one grey channel.
#[derive(Clone)]
pub struct Pixels {
    pub width: u32,
    pub height: u32,
    pub alpha: bool,
    /// One channel of grey (never with alpha): what a grey source decodes to, kept so
    /// until [`resize`], whose output is always RGB(A).
    pub grey: bool,
    pub data: Vec<u8>,
}

impl Pixels {
    /// Takes the buffer of an RGB8 or RGBA8 image (anything else is converted).
    pub fn from_image(img: DynamicImage) -> Self {
        let (width, height) = (img.width(), img.height());
        match img {
            DynamicImage::ImageRgba8(buf) => Pixels {
                width,
                height,
                alpha: true,
                grey: false,
                data: buf.into_raw(),
            },
            other => Pixels {
                width,
                height,
                alpha: false,
                grey: false,
                data: other.into_rgb8().into_raw(),
            },
        }
    }

    /// [`Self::from_image`], but an 8-bit grey image keeps its one channel (a third of the
    /// memory) for the resize to read.
    pub fn from_image_keeping_grey(img: DynamicImage) -> Self {
        match img {
            DynamicImage::ImageLuma8(buf) => Pixels {
                width: buf.width(),
                height: buf.height(),
                alpha: false,
                grey: true,
                data: buf.into_raw(),
            },
            other => Self::from_image(other),
        }
    }

    /// The same pixels as RGB(A): grey is spread to three channels, anything else unchanged.
    pub fn into_rgb(self) -> Pixels {
        if !self.grey {
            return self;
        }
        let data = self.data.iter().flat_map(|&v| [v, v, v]).collect();
        Pixels {
            grey: false,
            data,
            ..self
        }
    }

    /// Channels per pixel: 1 (grey), 3 (RGB) or 4 (RGBA).
    pub fn channels(&self) -> usize {
        match (self.grey, self.alpha) {
            (true, _) => 1,
            (false, true) => 4,
            (false, false) => 3,
        }
    }

    /// True when there is no alpha channel or every pixel is opaque.
    pub fn is_opaque(&self) -> bool {
        !self.alpha || self.data.chunks_exact(4).all(|p| p[3] == 255)
    }

    /// Drops the alpha channel, compositing onto `background` (whose own alpha is ignored).
    pub fn flatten(self, background: Colour) -> Pixels {
        if !self.alpha {
            return self;
        }
        let [br, bg, bb, _] = background.0;
        let mut data = Vec::with_capacity(self.width as usize * self.height as usize * 3);
        for p in self.data.chunks_exact(4) {
            let a = u32::from(p[3]);
            let mix =
                |c: u8, b: u8| ((u32::from(c) * a + u32::from(b) * (255 - a) + 127) / 255) as u8;
            data.extend_from_slice(&[mix(p[0], br), mix(p[1], bg), mix(p[2], bb)]);
        }
        Pixels {
            alpha: false,
            data,
            ..self
        }
    }

    /// Returns the pixels as an `image` buffer (used by the PNG encoder and by tests).
    pub fn into_image(self) -> Option<DynamicImage> {
        if self.grey {
            image::GrayImage::from_raw(self.width, self.height, self.data)
                .map(DynamicImage::ImageLuma8)
        } else if self.alpha {
            RgbaImage::from_raw(self.width, self.height, self.data).map(DynamicImage::ImageRgba8)
        } else {
            RgbImage::from_raw(self.width, self.height, self.data).map(DynamicImage::ImageRgb8)
        }
    }
}

/// Resizes the planned part of `src` to the planned size. The plan is in full-resolution
/// pixels; `scale` is decoded pixels per full-resolution pixel on each axis (below 1 after
/// shrink-on-load; the axes differ by a rounding when a decoder scaled to whole pixels).
pub fn resize(src: &Pixels, plan: &Plan, scale: (f64, f64)) -> Result<Pixels, PipelineError> {
    let (kx, ky) = scale;
    let pixel_type = match (src.grey, src.alpha) {
        (true, _) => PixelType::U8,
        (false, true) => PixelType::U8x4,
        (false, false) => PixelType::U8x3,
    };
    let (w, h) = plan.resized;
    let internal = |e: &dyn std::fmt::Display| PipelineError::Internal(format!("resize: {e}"));
    let view =
        ImageRef::new(src.width, src.height, &src.data, pixel_type).map_err(|e| internal(&e))?;
    let mut dst = Image::new(w, h, pixel_type);
    // Shrink-on-load drops a partial last block, so the plan can reach a fraction of a
    // pixel past the decoded edge; clamp to the image.
    let (sw, sh) = (f64::from(src.width), f64::from(src.height));
    let left = (plan.source.left * kx).clamp(0.0, sw);
    let top = (plan.source.top * ky).clamp(0.0, sh);
    let options = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3))
        .use_alpha(src.alpha && !src.grey)
        .crop(
            left,
            top,
            (plan.source.width * kx).min(sw - left),
            (plan.source.height * ky).min(sh - top),
        );
    Resizer::new()
        .resize(&view, &mut dst, &options)
        .map_err(|e| internal(&e))?;
    Ok(Pixels {
        width: w,
        height: h,
        alpha: src.alpha,
        grey: src.grey,
        data: dst.into_vec(),
    }
    .into_rgb())
}

/// Places the resized image on the plan's canvas, filling the rest with `background`.
pub fn pad(img: Pixels, plan: &Plan, background: Colour) -> Pixels {
    if plan.canvas == plan.resized {
        return img;
    }
    let alpha = img.alpha || background.0[3] != 255;
    let ch = if alpha { 4 } else { 3 };
    let (cw, chh) = plan.canvas;
    let fill = &background.0[..ch];
    let mut data: Vec<u8> = fill
        .iter()
        .copied()
        .cycle()
        .take(cw as usize * chh as usize * ch)
        .collect();
    let (ox, oy) = (plan.offset.0 as usize, plan.offset.1 as usize);
    let src_ch = img.channels();
    for (y, row) in img
        .data
        .chunks_exact(img.width as usize * src_ch)
        .enumerate()
    {
        let start = ((oy + y) * cw as usize + ox) * ch;
        let dst_row = &mut data[start..start + img.width as usize * ch];
        for (d, s) in dst_row.chunks_exact_mut(ch).zip(row.chunks_exact(src_ch)) {
            d[..3].copy_from_slice(&s[..3]);
            if ch == 4 {
                d[3] = if src_ch == 4 { s[3] } else { 255 };
            }
        }
    }
    Pixels {
        width: cw,
        height: chh,
        alpha,
        grey: false,
        data,
    }
}
