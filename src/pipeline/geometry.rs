//! Where every output pixel comes from: the fit modes, `cover`'s crop by gravity, and
//! `contain`'s padding, computed from the upright source size alone.
//!
//! Planning on the full-resolution size (not the shrunk-on-load one) keeps the output size
//! independent of how the decoder happened to shrink.

use super::spec::{Fit, Gravity, Spec, Subject};

/// A rectangle in source pixels; fractional so a crop survives shrink-on-load exactly.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub left: f64,
    pub top: f64,
    pub width: f64,
    pub height: f64,
}

impl Rect {
    /// All of a `width` x `height` source.
    pub fn whole(width: u32, height: u32) -> Self {
        Self {
            left: 0.0,
            top: 0.0,
            width: f64::from(width),
            height: f64::from(height),
        }
    }
}

/// What to do with an upright source of a given size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plan {
    /// The part of the source that is used (all of it except for `cover`).
    pub source: Rect,
    /// The size the used part is resized to.
    pub resized: (u32, u32),
    /// The size of the output; larger than `resized` only for `contain`, which pads.
    pub canvas: (u32, u32),
    /// Where the resized image sits on the canvas.
    pub offset: (u32, u32),
}

impl Plan {
    /// How much the used part of the source shrinks on each axis (> 1 means downscaling).
    pub fn shrink(&self) -> (f64, f64) {
        (
            self.source.width / f64::from(self.resized.0),
            self.source.height / f64::from(self.resized.1),
        )
    }
}

fn at_least_one(v: f64) -> u32 {
    (v.round() as u32).max(1)
}

/// Plans the output for an upright source of `width` x `height` pixels.
pub fn plan(width: u32, height: u32, spec: &Spec) -> Plan {
    let simple = |resized: (u32, u32)| Plan {
        source: Rect::whole(width, height),
        resized,
        canvas: resized,
        offset: (0, 0),
    };
    match (spec.fit, spec.width, spec.height) {
        (Fit::Inside | Fit::Contain, w, h) => within(width, height, w, h, spec),
        (Fit::Fill, w, h) => {
            let w = w.unwrap_or(width);
            let h = h.unwrap_or(height);
            if spec.upscale {
                simple((w, h))
            } else {
                simple((w.min(width), h.min(height)))
            }
        }
        (Fit::Cover, w, h) => cover(width, height, w.unwrap_or(width), h.unwrap_or(height), spec),
    }
}

/// `inside` and `contain`: the whole source scaled to fit the box (never enlarged unless
/// the spec upscales); `contain` pads it to the box, centred.
fn within(width: u32, height: u32, w: Option<u32>, h: Option<u32>, spec: &Spec) -> Plan {
    let (sw, sh) = (f64::from(width), f64::from(height));
    let sx = w.map(|w| f64::from(w) / sw);
    let sy = h.map(|h| f64::from(h) / sh);
    let scale = match (sx, sy) {
        (Some(x), Some(y)) => x.min(y),
        (Some(x), None) => x,
        (None, Some(y)) => y,
        (None, None) => 1.0,
    };
    let scale = if spec.upscale { scale } else { scale.min(1.0) };
    // Round from the box side that binds, so the output meets the box exactly.
    let rw = match (w, sx) {
        (Some(w), Some(x)) if x <= scale => w,
        _ => at_least_one(sw * scale),
    };
    let rh = match (h, sy) {
        (Some(h), Some(y)) if y <= scale => h,
        _ => at_least_one(sh * scale),
    };
    let (cw, ch) = match spec.fit {
        Fit::Contain => (w.unwrap_or(rw).max(rw), h.unwrap_or(rh).max(rh)),
        _ => (rw, rh),
    };
    Plan {
        source: Rect::whole(width, height),
        resized: (rw, rh),
        canvas: (cw, ch),
        offset: ((cw - rw) / 2, (ch - rh) / 2),
    }
}

/// `cover`: the largest part of the source with the box's aspect ratio, placed by gravity,
/// scaled to the box (or kept at its own resolution when the spec does not upscale).
fn cover(width: u32, height: u32, box_w: u32, box_h: u32, spec: &Spec) -> Plan {
    let (sw, sh) = (f64::from(width), f64::from(height));
    let (bw, bh) = (f64::from(box_w), f64::from(box_h));
    let (cw, ch) = if sw / sh > bw / bh {
        (sh * bw / bh, sh)
    } else {
        (sw, sw * bh / bw)
    };
    let (left, top) = place((sw, sh), (cw, ch), spec);
    let source = Rect {
        left,
        top,
        width: cw,
        height: ch,
    };
    let resized = if spec.upscale || cw >= bw {
        (box_w, box_h)
    } else {
        // Never enlarge: keep the aspect ratio at the source's own resolution.
        (at_least_one(cw), at_least_one(ch))
    };
    Plan {
        source,
        resized,
        canvas: resized,
        offset: (0, 0),
    }
}

/// Where `cover`'s crop of `crop` pixels sits in a `source` of pixels: by the gravity's
/// anchor, or for `smart` centred on the subject (a focal point, or the centre of a region,
/// which is then kept whole when it fits), moved only as far as the edges require.
fn place(source: (f64, f64), crop: (f64, f64), spec: &Spec) -> (f64, f64) {
    let around = |centre: f64, window: f64, side: f64| {
        (centre * side - window / 2.0).clamp(0.0, (side - window).max(0.0))
    };
    let centre = match (spec.gravity, spec.subject) {
        (Gravity::Smart, Subject::Focus(p)) => Some(p),
        (Gravity::Smart, Subject::Region(r)) => Some(r.centre()),
        (Gravity::Smart, Subject::Salient(map)) => {
            Some(map.centre_for(crop.0 / source.0, crop.1 / source.1))
        }
        _ => None,
    };
    match centre {
        Some(c) => (around(c.x, crop.0, source.0), around(c.y, crop.1, source.1)),
        None => {
            let (ax, ay) = spec.gravity.anchor();
            ((source.0 - crop.0) * ax, (source.1 - crop.1) * ay)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::spec::{Point, Region};
    use std::path::Path;

    fn preset(text: &str) -> Spec {
        crate::preset::Preset::parse("t", text, Path::new("t.toml"))
            .unwrap()
            .spec
    }

    #[test]
    fn inside_keeps_aspect_and_binds_the_long_side() {
        let p = preset("width = 320\nheight = 320");
        assert_eq!(plan(2725, 2225, &p).canvas, (320, 261));
        assert_eq!(plan(2225, 2725, &p).canvas, (261, 320));
        assert_eq!(plan(4032, 3024, &p).canvas, (320, 240));
        // Never enlarges unless asked.
        assert_eq!(plan(100, 50, &p).canvas, (100, 50));
        let up = preset("width = 320\nheight = 320\nupscale = true");
        assert_eq!(plan(100, 50, &up).canvas, (320, 160));
    }

    #[test]
    fn one_side_only() {
        let p = preset("width = 640");
        assert_eq!(plan(4032, 3024, &p).canvas, (640, 480));
        let p = preset("height = 100");
        assert_eq!(plan(4032, 3024, &p).canvas, (133, 100));
    }

    #[test]
    fn cover_crops_by_gravity() {
        let p = preset("width = 100\nheight = 100\nfit = \"cover\"");
        let plan_c = plan(400, 200, &p);
        assert_eq!(plan_c.canvas, (100, 100));
        assert_eq!(plan_c.source.left, 100.0);
        assert_eq!(plan_c.source.width, 200.0);
        let p = preset("width = 100\nheight = 100\nfit = \"cover\"\ngravity = \"west\"");
        assert_eq!(plan(400, 200, &p).source.left, 0.0);
        let p = preset("width = 100\nheight = 100\nfit = \"cover\"\ngravity = \"southeast\"");
        let s = plan(200, 400, &p).source;
        assert_eq!((s.left, s.top), (0.0, 200.0));
        // A small source fills the box (cover enlarges by default)...
        let p = preset("width = 128\nheight = 128\nfit = \"cover\"");
        assert_eq!(plan(100, 50, &p).canvas, (128, 128));
        // ...or, told not to, keeps the box's aspect ratio without being enlarged.
        let p = preset("width = 128\nheight = 128\nfit = \"cover\"\nupscale = false");
        assert_eq!(plan(100, 50, &p).canvas, (50, 50));
    }

    #[test]
    fn smart_centres_on_the_subject_and_stops_at_the_edges() {
        let mut p = preset("width = 100\nheight = 100\nfit = \"cover\"\ngravity = \"smart\"");
        // Unknown subject: the centre, like `centre`.
        assert_eq!(plan(400, 200, &p).source.left, 100.0);
        p.subject = Subject::Focus(Point { x: 0.3, y: 0.5 });
        assert_eq!(plan(400, 200, &p).source.left, 20.0);
        p.subject = Subject::Focus(Point { x: 0.95, y: 0.5 });
        assert_eq!(plan(400, 200, &p).source.left, 200.0);
        // A region: its centre, so a region narrower than the crop is kept whole.
        let region = Region {
            x: 0.7,
            y: 0.1,
            w: 0.2,
            h: 0.2,
        };
        p.subject = Subject::Region(region);
        let s = plan(400, 200, &p).source;
        assert_eq!((s.left, s.top), (200.0, 0.0));
        let crop = Region {
            x: s.left / 400.0,
            y: s.top / 200.0,
            w: s.width / 400.0,
            h: s.height / 200.0,
        };
        assert!(region.kept_by(&crop) > 0.999);
        // Compass gravities ignore the subject.
        p.gravity = Gravity::West;
        assert_eq!(plan(400, 200, &p).source.left, 0.0);
    }

    #[test]
    fn contain_pads_to_the_box() {
        let p = preset("width = 200\nheight = 200\nfit = \"contain\"");
        let c = plan(400, 200, &p);
        assert_eq!(
            (c.resized, c.canvas, c.offset),
            ((200, 100), (200, 200), (0, 50))
        );
    }

    #[test]
    fn fill_stretches() {
        let p = preset("width = 200\nheight = 50\nfit = \"fill\"");
        assert_eq!(plan(400, 400, &p).canvas, (200, 50));
    }
}
