//! How small a decoder may deliver an image: a DCT or WebP denominator for photos, an exact
//! scale for vectors (PDF pages and SVG, drawn at the size the resize needs).

/// What the resize needs of a decode: the plan's shrink (full-resolution pixels per output
/// pixel, the smaller axis) and the margin of detail a photo's decode must keep beyond it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shrink {
    /// Full-resolution pixels per output pixel (below 1 when the output enlarges).
    pub by: f64,
    /// How many times the target's pixels a shrunk photo must still hold.
    pub margin: f64,
}

impl Shrink {
    /// As small as the decoder can make it (a validation that only needs to read every block).
    pub const SMALLEST: Shrink = Shrink {
        by: f64::INFINITY,
        margin: 1.0,
    };

    /// The full resolution.
    pub const NONE: Shrink = Shrink {
        by: 1.0,
        margin: 1.0,
    };

    /// The DCT scale denominator: the largest of 8, 4, 2 that leaves at least `margin` times
    /// the target's pixels (1 when none does).
    pub fn denominator(self) -> u32 {
        [8u32, 4, 2]
            .into_iter()
            .find(|&d| self.by / f64::from(d) >= self.margin)
            .unwrap_or(1)
    }

    /// Pixels per full-resolution pixel a vector is drawn at: exactly what the resize needs,
    /// since drawing larger adds no detail a margin could keep (`SMALLEST`: 1/4096).
    pub fn vector_scale(self) -> f64 {
        if self.by.is_finite() && self.by > 0.0 {
            1.0 / self.by
        } else {
            1.0 / 4096.0
        }
    }

    /// The more demanding of two (what a decode shared by both must deliver).
    pub fn finer(self, other: Shrink) -> Shrink {
        if other.by / other.margin < self.by / self.margin {
            other
        } else {
            self
        }
    }
}
