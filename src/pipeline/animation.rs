//! Animated GIF and WebP kept whole, for specs with `animation = "keep"`: every frame is
//! composited onto the canvas, resized and padded as a still would be, and the frames are
//! written as an animated WebP with their timing. Refused from the header when frames x
//! pixels exceeds [`Limits::max_animation_pixels`], before any frame is decoded.

use std::io::Cursor;

use image::codecs::gif::GifDecoder;
use image::codecs::webp::WebPDecoder;
use image::{AnimationDecoder, DynamicImage, Frames};

use super::encode::Rendered;
use super::error::PipelineError;
use super::formats::{OutputFormat, Probe, SourceFormat};
use super::geometry;
use super::limits::{Limits, check_output};
use super::overlay;
use super::resize::{self, Pixels};
use super::spec::{Animation, Spec};

/// Whether `preset` keeps this source's frames when writing `format`.
pub fn keeps(spec: &Spec, source: &Probe, format: OutputFormat) -> bool {
    spec.animation == Animation::Keep && source.frames > 1 && format == OutputFormat::Webp
}

/// Refuses an animation whose frames x pixels exceed the limit (from the header's counts).
pub fn check(source: &Probe, limits: &Limits) -> Result<(), PipelineError> {
    let pixels = u64::from(source.width) * u64::from(source.height);
    let total = pixels.saturating_mul(u64::from(source.frames));
    if total > limits.max_animation_pixels {
        return Err(PipelineError::AnimationTooLarge {
            frames: source.frames,
            width: source.width,
            height: source.height,
            limit: limits.max_animation_pixels,
        });
    }
    Ok(())
}

/// Renders every frame of an animated GIF or WebP for `preset` as an animated WebP.
pub fn render(
    input: &[u8],
    source: &Probe,
    spec: &Spec,
    limits: &Limits,
) -> Result<Rendered, PipelineError> {
    check(source, limits)?;
    let plan = geometry::plan(source.width, source.height, spec);
    check_output(plan.canvas, limits)?;
    let frames: Frames<'_> = match source.format {
        SourceFormat::Gif => GifDecoder::new(Cursor::new(input))
            .map_err(PipelineError::from_image)?
            .into_frames(),
        SourceFormat::Webp => WebPDecoder::new(Cursor::new(input))
            .map_err(PipelineError::from_image)?
            .into_frames(),
        other => {
            return Err(PipelineError::Internal(format!(
                "{other} has no frames to keep"
            )));
        }
    };
    let mut out: Vec<(Pixels, i32)> = Vec::new();
    let mut at_ms = 0f64;
    // At most the frames the header declared (what the limit was checked against).
    for frame in frames.take(source.frames as usize) {
        let frame = frame.map_err(PipelineError::from_image)?;
        let (num, den) = frame.delay().numer_denom_ms();
        let canvas = Pixels::from_image(DynamicImage::ImageRgba8(frame.into_buffer()));
        let resized = resize::resize(&canvas, &plan, (1.0, 1.0))?;
        out.push((overlay::finish(resized, &plan, spec), at_ms as i32));
        at_ms += f64::from(num) / f64::from(den.max(1));
    }
    let (width, height) = plan.canvas;
    let mut config = webp::WebPConfig::new()
        .map_err(|_| PipelineError::Internal("cannot set up the WebP encoder".into()))?;
    config.lossless = i32::from(spec.lossless);
    config.quality = f32::from(spec.quality.webp);
    config.method = 4;
    let mut encoder = webp::AnimEncoder::new(width, height, &config);
    encoder.set_loop_count(0);
    for (px, at) in &out {
        let frame = if px.alpha {
            webp::AnimFrame::from_rgba(&px.data, px.width, px.height, *at)
        } else {
            webp::AnimFrame::from_rgb(&px.data, px.width, px.height, *at)
        };
        encoder.add_frame(frame);
    }
    let bytes = encoder
        .try_encode()
        .map_err(|e| PipelineError::Encode(format!("animated webp: {e:?}")))?
        .to_vec();
    Ok(Rendered {
        bytes,
        width,
        height,
        format: OutputFormat::Webp,
        subject: None,
        quality: None,
    })
}
