//! Faces, for `gravity = "smart"`: SeetaFace's frontal detector (`rustface`, pure Rust) on a
//! grey copy of at most [`SIDE`] pixels, with the model embedded in the binary.
//!
//! A smart crop keeps every face when they fit together, else the largest ([`Faces`]).

use std::cell::RefCell;
use std::sync::OnceLock;

use rustface::{Detector, ImageData, Model};

use super::fractions::Region;

/// SeetaFace's frontal model (BSD 2-Clause, `assets/faces/`).
static MODEL: &[u8] = include_bytes!("../../assets/faces/seeta_fd_frontal_v1.0.bin");

/// The longer side of the grey copy searched. The detector's window is 40 pixels and
/// `rustface` never enlarges the picture (it ignores `set_min_face_size`), so faces from a
/// sixth of the longer side up are found: a portrait's, an avatar's or a small group's. Each
/// halving of the smallest face found would cost four times the search.
pub const SIDE: u32 = 256;

/// The detector's window: no face is smaller, and no picture smaller is searched.
const WINDOW: u32 = 40;

/// Between the image pyramid's levels: faces of every size in between are still found by
/// the cascade's own tolerance, at half the levels of 0.8.
const PYRAMID: f32 = 0.7;

/// The detector's score a face must reach (its authors' middle setting of 0.95, 2.8, 4.5).
const SCORE: f64 = 2.8;

/// At most this many faces are kept, the largest first.
pub const MAX_FACES: usize = 8;

/// The faces found in a picture, in fractions of the upright picture, the largest first.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Faces {
    found: [Option<Region>; MAX_FACES],
}

impl Faces {
    /// The faces of `regions` (the largest [`MAX_FACES`] of them).
    pub fn of(mut regions: Vec<Region>) -> Self {
        regions.sort_by(|a, b| (b.w * b.h).total_cmp(&(a.w * a.h)));
        let mut found = [None; MAX_FACES];
        for (slot, r) in found.iter_mut().zip(regions) {
            *slot = Some(r);
        }
        Self { found }
    }

    /// Each face, the largest first.
    pub fn iter(&self) -> impl Iterator<Item = Region> + '_ {
        self.found.iter().flatten().copied()
    }

    /// Whether none was found.
    pub fn is_empty(&self) -> bool {
        self.found[0].is_none()
    }

    /// What a crop of `w` x `h` (fractions of the picture) should keep: every face when their
    /// bounding box fits in it, else the largest face.
    pub fn kept_in(&self, w: f64, h: f64) -> Option<Region> {
        let largest = self.found[0]?;
        let (mut x0, mut y0, mut x1, mut y1) = (1.0f64, 1.0f64, 0.0f64, 0.0f64);
        for r in self.iter() {
            (x0, y0) = (x0.min(r.x), y0.min(r.y));
            (x1, y1) = (x1.max(r.x + r.w), y1.max(r.y + r.h));
        }
        let all = Region {
            x: x0,
            y: y0,
            w: x1 - x0,
            h: y1 - y0,
        };
        Some(if all.w <= w && all.h <= h {
            all
        } else {
            largest
        })
    }
}

thread_local! {
    /// Each render thread's detector, made on its first picture.
    static DETECTOR: RefCell<Option<Box<dyn Detector>>> = const { RefCell::new(None) };
}

fn model() -> Option<&'static Model> {
    static LOADED: OnceLock<Option<Model>> = OnceLock::new();
    LOADED
        .get_or_init(|| rustface::read_model(MODEL).ok())
        .as_ref()
}

/// The faces in `grey`, a `w` x `h` grey copy of the upright picture whose longer side is
/// at most [`SIDE`] pixels.
pub fn find(grey: &[u8], w: u32, h: u32) -> Faces {
    let Some(model) = model() else {
        return Faces::default();
    };
    if w < WINDOW || h < WINDOW || grey.len() != w as usize * h as usize {
        return Faces::default();
    }
    let faces = DETECTOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        let detector = slot.get_or_insert_with(|| {
            // Once per render thread: the model is 1.2 MB of classifiers.
            let mut d = rustface::create_detector_with_model(model.clone());
            d.set_score_thresh(SCORE);
            d.set_pyramid_scale_factor(PYRAMID);
            d.set_slide_window_step(4, 4);
            d
        });
        detector.detect(&ImageData::new(grey, w, h))
    });
    let (fw, fh) = (f64::from(w), f64::from(h));
    let regions = faces
        .iter()
        .map(|f| {
            let b = f.bbox();
            // Boxes may reach past the edges: clipped to the picture.
            let x0 = (f64::from(b.x()) / fw).clamp(0.0, 1.0);
            let y0 = (f64::from(b.y()) / fh).clamp(0.0, 1.0);
            let x1 = ((f64::from(b.x()) + f64::from(b.width())) / fw).clamp(0.0, 1.0);
            let y1 = ((f64::from(b.y()) + f64::from(b.height())) / fh).clamp(0.0, 1.0);
            Region {
                x: x0,
                y: y0,
                w: x1 - x0,
                h: y1 - y0,
            }
        })
        .filter(|r| r.w > 0.0 && r.h > 0.0)
        .collect();
    Faces::of(regions)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(x: f64, y: f64, w: f64, h: f64) -> Region {
        Region { x, y, w, h }
    }

    #[test]
    fn faces_that_fit_together_are_kept_together_else_the_largest() {
        let faces = Faces::of(vec![
            region(0.1, 0.1, 0.05, 0.05),
            region(0.3, 0.1, 0.1, 0.1),
        ]);
        assert_eq!(faces.iter().next(), Some(region(0.3, 0.1, 0.1, 0.1)));
        let both = faces.kept_in(0.5, 0.5).unwrap();
        assert!((both.x - 0.1).abs() < 1e-9 && (both.w - 0.3).abs() < 1e-9);
        assert_eq!(faces.kept_in(0.2, 0.5), Some(region(0.3, 0.1, 0.1, 0.1)));
        assert_eq!(Faces::default().kept_in(1.0, 1.0), None);
    }

    #[test]
    fn the_model_loads_and_a_blank_picture_has_no_faces() {
        assert!(model().is_some());
        assert!(find(&vec![200; 300 * 200], 300, 200).is_empty());
        assert!(find(&[0; 6], 3, 2).is_empty());
        // A buffer that is not the size it claims is no picture.
        assert!(find(&[0; 10], 300, 200).is_empty());
    }
}
