//! Points and boxes in fractions of the upright picture, the words a subject is given in
//! (a focal point, a face, the salient part): they hold at any decode scale.

use serde::{Deserialize, Serialize};

/// A point in fractions of the upright picture: (0, 0) is the top left, (1, 1) the bottom
/// right.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub x: f64,
    pub y: f64,
}

impl Point {
    /// The point, if both coordinates are fractions (0.0-1.0).
    pub fn new(x: f64, y: f64) -> Option<Self> {
        let fraction = |v: f64| (0.0..=1.0).contains(&v);
        (fraction(x) && fraction(y)).then_some(Self { x, y })
    }
}

/// A rectangle in fractions of the upright picture (left, top, width, height).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Region {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

impl Region {
    /// This region in fractions of `frame` (a region of the same picture), clamped to it:
    /// where it lies once the picture is cut to `frame`.
    pub fn within(&self, frame: &Region) -> Region {
        let fx = |v: f64| ((v - frame.x) / frame.w.max(1e-9)).clamp(0.0, 1.0);
        let fy = |v: f64| ((v - frame.y) / frame.h.max(1e-9)).clamp(0.0, 1.0);
        let (x, y) = (fx(self.x), fy(self.y));
        Region {
            x,
            y,
            w: fx(self.x + self.w) - x,
            h: fy(self.y + self.h) - y,
        }
    }

    /// Its centre.
    pub fn centre(&self) -> Point {
        Point {
            x: self.x + self.w / 2.0,
            y: self.y + self.h / 2.0,
        }
    }

    /// The fraction of this region's area that lies inside `other` (0.0-1.0).
    pub fn kept_by(&self, other: &Region) -> f64 {
        let w = (self.x + self.w).min(other.x + other.w) - self.x.max(other.x);
        let h = (self.y + self.h).min(other.y + other.h) - self.y.max(other.y);
        let area = self.w * self.h;
        if w <= 0.0 || h <= 0.0 || area <= 0.0 {
            return 0.0;
        }
        (w * h / area).min(1.0)
    }
}
