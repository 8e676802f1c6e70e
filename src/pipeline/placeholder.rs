//! What a page shows while the thumbnail loads, all from one 32-pixel rendering of the
//! original: a BlurHash, a ThumbHash (which keeps alpha and the aspect ratio), and the
//! picture's average and dominant colours.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::error::PipelineError;

/// An original's placeholders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placeholder {
    /// BlurHash, 4x3 components (3x4 when portrait).
    pub blurhash: String,
    /// ThumbHash, base64 (standard alphabet, padded), as its reference decoder takes it.
    pub thumbhash: String,
    /// The mean colour of the visible pixels, `#rrggbb` (alpha-weighted).
    pub average_color: String,
    /// The most common colour, `#rrggbb`: the mean of the fullest bin of a 4-bit-per-channel
    /// histogram of the visible pixels.
    pub dominant_color: String,
}

/// The side of the rendering every placeholder is computed from: BlurHash and ThumbHash read
/// nothing finer (ThumbHash takes at most 100).
pub const SIDE: u32 = 32;

/// The placeholders of a small straight-alpha RGBA rendering (at most 100 px a side).
pub fn of_rgba(w: u32, h: u32, rgba: &[u8]) -> Result<Placeholder, PipelineError> {
    let (x, y) = if w >= h { (4, 3) } else { (3, 4) };
    let blurhash = blurhash::encode(x, y, w, h, rgba)
        .map_err(|e| PipelineError::Internal(format!("blurhash: {e}")))?;
    if w > 100 || h > 100 || rgba.len() != (w * h * 4) as usize {
        return Err(PipelineError::Internal(format!(
            "thumbhash: a {w}x{h} rendering"
        )));
    }
    let thumbhash = thumbhash::rgba_to_thumb_hash(w as usize, h as usize, rgba);
    let (average, dominant) = colours(rgba);
    Ok(Placeholder {
        blurhash,
        thumbhash: base64::engine::general_purpose::STANDARD.encode(thumbhash),
        average_color: hex(average),
        dominant_color: hex(dominant),
    })
}

/// The alpha-weighted mean colour of `rgba`, and the mean of its fullest histogram bin
/// (white for a picture with no visible pixel).
fn colours(rgba: &[u8]) -> ([u8; 3], [u8; 3]) {
    let mut sum = [0f64; 4];
    // Per bin of 4 bits a channel: the weight and the weighted channel sums.
    let mut bins = vec![[0f64; 4]; 4096];
    for p in rgba.chunks_exact(4) {
        let a = f64::from(p[3]) / 255.0;
        if a == 0.0 {
            continue;
        }
        let bin = &mut bins[(usize::from(p[0] >> 4) << 8)
            | (usize::from(p[1] >> 4) << 4)
            | usize::from(p[2] >> 4)];
        for acc in [&mut sum, bin] {
            for i in 0..3 {
                acc[i] += a * f64::from(p[i]);
            }
            acc[3] += a;
        }
    }
    let mean = |acc: &[f64; 4]| -> [u8; 3] {
        if acc[3] <= 0.0 {
            return [255, 255, 255];
        }
        [0, 1, 2].map(|i| (acc[i] / acc[3]).round().clamp(0.0, 255.0) as u8)
    };
    let fullest = bins
        .iter()
        .max_by(|a, b| a[3].total_cmp(&b[3]))
        .copied()
        .unwrap_or_default();
    (mean(&sum), mean(&fullest))
}

fn hex([r, g, b]: [u8; 3]) -> String {
    format!("#{r:02x}{g:02x}{b:02x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dominant_colour_is_the_commonest_and_the_average_weighs_alpha() {
        let mut px = Vec::new();
        for _ in 0..60 {
            px.extend_from_slice(&[200, 20, 20, 255]);
        }
        for _ in 0..40 {
            px.extend_from_slice(&[20, 20, 200, 255]);
        }
        // Invisible pixels count for nothing.
        for _ in 0..500 {
            px.extend_from_slice(&[0, 255, 0, 0]);
        }
        let (average, dominant) = colours(&px);
        assert_eq!(hex(dominant), "#c81414");
        assert_eq!(average, [128, 20, 92]);
        assert_eq!(colours(&[9, 9, 9, 0]), ([255, 255, 255], [255, 255, 255]));
    }
}
