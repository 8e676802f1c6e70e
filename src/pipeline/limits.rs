//! What one input may cost: bytes, pixels, the size of the output, the AVIF encoder's effort.

use std::time::Duration;

/// What the pipeline refuses to take on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest input in bytes.
    pub max_input_bytes: usize,
    /// Largest decoded image in pixels (width x height as the header declares it).
    pub max_pixels: u64,
    /// Largest output width or height.
    pub max_output_side: u32,
    /// Largest animation kept whole, in frames x pixels per frame (from the header).
    pub max_animation_pixels: u64,
    /// libaom's speed for AVIF outputs, 0-9 (what an AVIF encode may cost in time).
    pub avif_speed: u8,
    /// Longest the `ffmpeg` program may take to give a video's poster frame (killed after).
    pub video_time: Duration,
    /// Address space the `ffmpeg` program may map, in bytes (its allocations fail past it).
    pub video_memory: u64,
}

/// The AVIF speed by default, measured with `thumbkit bench --formats` (docs/benchmarks.md).
pub const AVIF_SPEED: u8 = 8;

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_input_bytes: 50 << 20,
            max_pixels: 50_000_000,
            max_output_side: 10_000,
            max_animation_pixels: 100_000_000,
            avif_speed: AVIF_SPEED,
            video_time: Duration::from_secs(20),
            video_memory: 1 << 30,
        }
    }
}

/// Errors when an output of `canvas` would exceed the per-side limit.
pub(crate) fn check_output(
    canvas: (u32, u32),
    limits: &Limits,
) -> Result<(), super::error::PipelineError> {
    let (width, height) = canvas;
    if width > limits.max_output_side || height > limits.max_output_side {
        return Err(super::error::PipelineError::OutputTooLarge {
            width,
            height,
            limit: limits.max_output_side,
        });
    }
    Ok(())
}
