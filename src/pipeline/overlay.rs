//! What is drawn on the finished canvas, after the padding: a mask's transparent corners,
//! then a watermark composited over everything.

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};

use super::colour::{from_linear, to_linear};
use super::effects;
use super::geometry::Plan;
use super::resize::{self, Pixels};
use super::spec::{Mask, Placement, Spec, Watermark};

/// The resized picture made into the output's canvas: filtered (sharpen, blur), padded to
/// the box, masked, and marked, in that order.
pub fn finish(resized: Pixels, plan: &Plan, spec: &Spec) -> Pixels {
    let filtered = effects::apply(resized, &spec.effects);
    let canvas = resize::pad(filtered, plan, spec.background);
    apply(canvas, spec.mask, spec.watermark.as_ref())
}

/// `canvas` cut to `mask`, with `watermark` over it.
pub fn apply(canvas: Pixels, mask: Option<Mask>, watermark: Option<&Watermark>) -> Pixels {
    let canvas = match mask {
        Some(mask) => masked(canvas, mask),
        None => canvas,
    };
    match watermark {
        Some(mark) => marked(canvas, mark),
        None => canvas,
    }
}

/// `canvas` (RGB or RGBA) as RGBA with what lies outside `mask` transparent; the shape's
/// edge is anti-aliased by the share of each pixel it covers.
fn masked(canvas: Pixels, mask: Mask) -> Pixels {
    let mut px = with_alpha(canvas);
    let (w, h) = (px.width as usize, px.height as usize);
    let cover = coverage(mask, px.width, px.height);
    for y in 0..h {
        let (inner, outer) = edge_band(mask, px.width, px.height, y as f64);
        let row = &mut px.data[y * w * 4..(y + 1) * w * 4];
        for x in 0..w {
            // Distance from the vertical axis: the shapes are symmetric about it.
            let dx = (x as f64 + 0.5 - w as f64 / 2.0).abs();
            let c = if dx <= inner {
                continue;
            } else if dx >= outer {
                0.0
            } else {
                cover(x as f64 + 0.5, y as f64 + 0.5)
            };
            let a = &mut row[x * 4 + 3];
            *a = (f64::from(*a) * c).round() as u8;
        }
    }
    px
}

/// For row `y`, the distances from the vertical axis within which every pixel is wholly
/// inside the shape, and beyond which wholly outside: only the band between is computed.
fn edge_band(mask: Mask, w: u32, h: u32, y: f64) -> (f64, f64) {
    let (cx, cy) = (f64::from(w) / 2.0, f64::from(h) / 2.0);
    // The shape's half-width at a height, for the row's top and bottom edges.
    let half = |y: f64| -> f64 {
        let dy = (y - cy).abs().min(cy);
        match mask {
            Mask::Circle => cx * (1.0 - (dy / cy).powi(2)).max(0.0).sqrt(),
            Mask::Rounded { radius } => {
                let r = f64::from(radius).min(cx).min(cy);
                let into = dy - (cy - r);
                if into <= 0.0 {
                    cx
                } else {
                    cx - r + (r * r - into * into).max(0.0).sqrt()
                }
            }
        }
    };
    let (a, b) = (half(y), half(y + 1.0));
    (a.min(b) - 1.5, a.max(b) + 1.5)
}

/// The share (0-1) of the pixel centred at (x, y) that `mask` keeps on a `w` x `h` canvas.
fn coverage(mask: Mask, w: u32, h: u32) -> Box<dyn Fn(f64, f64) -> f64> {
    let (cx, cy) = (f64::from(w) / 2.0, f64::from(h) / 2.0);
    match mask {
        Mask::Circle => Box::new(move |x, y| {
            let (dx, dy) = (x - cx, y - cy);
            // The ellipse's implicit function over its gradient: the distance to its edge.
            let f = (dx / cx).powi(2) + (dy / cy).powi(2) - 1.0;
            let g = 2.0 * ((dx / (cx * cx)).powi(2) + (dy / (cy * cy)).powi(2)).sqrt();
            let inside = if g > 0.0 { -f / g } else { cx.min(cy) };
            (inside + 0.5).clamp(0.0, 1.0)
        }),
        Mask::Rounded { radius } => {
            let r = f64::from(radius).min(cx).min(cy);
            Box::new(move |x, y| {
                // The distance past the corner's circle, for pixels in a corner square.
                let (dx, dy) = ((cx - r) - (x - cx).abs(), (cy - r) - (y - cy).abs());
                if dx >= 0.0 || dy >= 0.0 {
                    return 1.0;
                }
                (r - dx.hypot(dy) + 0.5).clamp(0.0, 1.0)
            })
        }
    }
}

/// `px` with an alpha channel (opaque where it had none).
fn with_alpha(px: Pixels) -> Pixels {
    if px.alpha {
        return px;
    }
    let data = px
        .data
        .chunks_exact(3)
        .flat_map(|p| [p[0], p[1], p[2], 255])
        .collect();
    Pixels {
        alpha: true,
        data,
        ..px
    }
}

/// `canvas` with `mark` composited over it where its placement puts it, unless the canvas
/// is narrower than the mark's `min_width`.
fn marked(mut canvas: Pixels, mark: &Watermark) -> Pixels {
    if canvas.width < mark.min_width {
        return canvas;
    }
    let Some(stamp) = scaled(mark, canvas.width, canvas.height) else {
        return canvas;
    };
    for (left, top) in places(mark, &stamp, canvas.width, canvas.height) {
        over(&mut canvas, &stamp, (left, top), mark.opacity);
    }
    canvas
}

/// The mark at its width on a `w` x `h` output (never wider or taller than the output
/// less its margins), or `None` when that leaves it no pixels.
fn scaled(mark: &Watermark, w: u32, h: u32) -> Option<Pixels> {
    let src = &mark.mark;
    let room_w = f64::from(w.saturating_sub(2 * mark.margin));
    let room_h = f64::from(h.saturating_sub(2 * mark.margin));
    let want = (f64::from(w) * f64::from(mark.width)).min(room_w);
    let aspect = f64::from(src.height) / f64::from(src.width.max(1));
    let want = want.min(room_h / aspect);
    let (mw, mh) = (want.round() as u32, (want * aspect).round() as u32);
    if mw == 0 || mh == 0 || src.width == 0 || src.height == 0 {
        return None;
    }
    let from = ImageRef::new(src.width, src.height, &src.rgba, PixelType::U8x4).ok()?;
    let mut to = Image::new(mw, mh, PixelType::U8x4);
    // Premultiplied (the resizer's default for RGBA), so transparent pixels add no fringe.
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
    Resizer::new().resize(&from, &mut to, &options).ok()?;
    Some(Pixels {
        width: mw,
        height: mh,
        alpha: true,
        grey: false,
        data: to.into_vec(),
    })
}

/// The top-left corners at which `stamp` is drawn on a `w` x `h` output.
fn places(mark: &Watermark, stamp: &Pixels, w: u32, h: u32) -> Vec<(i64, i64)> {
    let (sw, sh, m) = (
        i64::from(stamp.width),
        i64::from(stamp.height),
        i64::from(mark.margin),
    );
    let (w, h) = (i64::from(w), i64::from(h));
    match mark.position {
        Placement::At(gravity) => {
            let (ax, ay) = gravity.anchor();
            let x = m + ((w - sw - 2 * m) as f64 * ax).round() as i64;
            let y = m + ((h - sh - 2 * m) as f64 * ay).round() as i64;
            vec![(x, y)]
        }
        Placement::Tile => {
            let (step_x, step_y) = (sw + m.max(1), sh + m.max(1));
            let mut out = Vec::new();
            let mut y = m / 2;
            while y < h {
                let mut x = m / 2;
                while x < w {
                    out.push((x, y));
                    x += step_x;
                }
                y += step_y;
            }
            out
        }
    }
}

/// Draws `stamp` (straight-alpha RGBA) over `canvas` at `at`, its alpha times `opacity`, in
/// linear light; what falls outside the canvas is dropped.
fn over(canvas: &mut Pixels, stamp: &Pixels, at: (i64, i64), opacity: f32) {
    let n = canvas.channels();
    let (cw, ch) = (i64::from(canvas.width), i64::from(canvas.height));
    let linear = linear_table();
    for sy in 0..i64::from(stamp.height) {
        let y = at.1 + sy;
        if y < 0 || y >= ch {
            continue;
        }
        for sx in 0..i64::from(stamp.width) {
            let x = at.0 + sx;
            if x < 0 || x >= cw {
                continue;
            }
            let s = &stamp.data[((sy * i64::from(stamp.width) + sx) * 4) as usize..][..4];
            let a = f64::from(s[3]) / 255.0 * f64::from(opacity);
            if a <= 0.0 {
                continue;
            }
            let d = &mut canvas.data[((y * cw + x) as usize) * n..][..n];
            blend(d, s, a, linear);
        }
    }
}

/// sRGB 0-255 to linear light, once.
fn linear_table() -> &'static [f64; 256] {
    static TABLE: std::sync::OnceLock<[f64; 256]> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| std::array::from_fn(|v| to_linear(v as f64)))
}

/// `d` (RGB or RGBA) with the colour `s` laid over it at alpha `a` (Porter-Duff over, the
/// colours mixed in linear light, the alphas as they are).
fn blend(d: &mut [u8], s: &[u8], a: f64, linear: &[f64; 256]) {
    let da = if d.len() == 4 {
        f64::from(d[3]) / 255.0
    } else {
        1.0
    };
    let out_a = a + da * (1.0 - a);
    for c in 0..3 {
        let mixed = linear[usize::from(s[c])] * a + linear[usize::from(d[c])] * da * (1.0 - a);
        d[c] = from_linear(mixed / out_a.max(1e-9));
    }
    if d.len() == 4 {
        d[3] = (out_a * 255.0).round() as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grey(w: u32, h: u32) -> Pixels {
        Pixels {
            width: w,
            height: h,
            alpha: false,
            grey: false,
            data: vec![128; (w * h * 3) as usize],
        }
    }

    fn alpha_at(px: &Pixels, x: u32, y: u32) -> u8 {
        px.data[((y * px.width + x) * 4 + 3) as usize]
    }

    #[test]
    fn a_circle_keeps_the_middle_and_clears_the_corners() {
        let px = masked(grey(64, 64), Mask::Circle);
        assert!(px.alpha);
        assert_eq!(alpha_at(&px, 32, 32), 255);
        assert_eq!(alpha_at(&px, 0, 0), 0);
        assert_eq!(alpha_at(&px, 63, 63), 0);
        // On the edge, partly covered: anti-aliased.
        let edge = alpha_at(&px, 32, 0);
        assert!(edge > 0, "the top middle is on the circle: {edge}");
        let partial = (0..64)
            .filter(|&x| (1..255).contains(&alpha_at(&px, x, 5)))
            .count();
        assert!(partial >= 2, "the edge is smoothed");
    }

    #[test]
    fn the_edge_band_skips_only_pixels_the_shape_wholly_keeps_or_clears() {
        for (w, h) in [(64, 64), (300, 120), (7, 50), (1, 1), (2, 3)] {
            for mask in [Mask::Circle, Mask::Rounded { radius: 9 }] {
                let fast = masked(grey(w, h), mask);
                let cover = coverage(mask, w, h);
                for y in 0..h {
                    for x in 0..w {
                        let want = (255.0 * cover(f64::from(x) + 0.5, f64::from(y) + 0.5)).round();
                        let got = f64::from(alpha_at(&fast, x, y));
                        assert!(
                            (got - want).abs() <= 1.0,
                            "{mask:?} {w}x{h} ({x},{y}): {got} vs {want}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn rounded_corners_keep_the_edges_straight() {
        let px = masked(grey(100, 60), Mask::Rounded { radius: 12 });
        assert_eq!(alpha_at(&px, 0, 0), 0);
        assert_eq!(alpha_at(&px, 50, 0), 255);
        assert_eq!(alpha_at(&px, 0, 30), 255);
        assert_eq!(alpha_at(&px, 12, 12), 255);
    }
}
