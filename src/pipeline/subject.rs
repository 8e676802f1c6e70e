//! Where the subject of a picture is, for `gravity = "smart"`: a saliency map of a small
//! copy, pooled into the [`Saliency`] kept with the original.
//!
//! The map is Achanta and Süsstrunk's maximum symmetric surround (ICIP 2010, what Cloudflare's
//! `gravity=auto` uses): each cell's distance in CIELAB from the mean of the largest window
//! centred on it. Smooth backgrounds and linear gradients score near zero, a detailed or
//! differently coloured object high, and the shrinking windows near the edges favour what is
//! inside the frame. The map is a fixed grid of cell averages over a small copy of the
//! upright picture, so the subject barely depends on the scale the picture was decoded at.

use summed_area::SummedArea;

use super::colour::to_linear;
use super::faces;
use super::resize::Pixels;
use super::saliency::{CELLS, Saliency};

/// Cells on the analysis grid's longer side: the smallest subject worth keeping (a tenth of
/// the picture) still spans ten cells, and the whole map costs well under a millisecond.
const GRID: usize = 96;

/// A CIELAB distance too small to see: a cell that differs less from its surround is not
/// salient at all (and a flat picture's rounding errors are not a map).
const UNSEEN: f64 = 1.0;

/// Pixels on the longer side a decode needs: the small copy's, with room for its box filter.
pub const ENOUGH: f64 = faces::SIDE as f64 * 1.5;

/// The saliency of `pixels` (upright, any scale), pooled into a [`Saliency`] map.
pub fn find(pixels: &Pixels) -> Saliency {
    // One small copy feeds both the map and the faces: reading every pixel of a large
    // decode twice cost more than the map itself.
    let copy = small_copy(pixels);
    let grid = Grid::of(&copy);
    let map = saliency(&grid);
    let (w, h) = (grid.width, grid.height);
    let long = w.max(h);
    let cols = (w * CELLS).div_ceil(long).clamp(1, CELLS);
    let rows = (h * CELLS).div_ceil(long).clamp(1, CELLS);
    let mut pooled = vec![0.0; cols * rows];
    for (i, &s) in map.iter().enumerate() {
        if s >= UNSEEN {
            pooled[(i / w) * rows / h * cols + (i % w) * cols / w] += s;
        }
    }
    let grey: Vec<u8> = copy
        .data
        .chunks_exact(3)
        .map(|p| ((u32::from(p[0]) * 3 + u32::from(p[1]) * 6 + u32::from(p[2])) / 10) as u8)
        .collect();
    Saliency::new(cols, rows, &pooled).with_faces(faces::find(&grey, copy.width, copy.height))
}

/// An opaque RGB copy of `pixels` whose longer side is at most [`faces::SIDE`] (each pixel
/// the average of the pixels it covers; transparent parts seen on white, as crops mostly are).
fn small_copy(pixels: &Pixels) -> Pixels {
    let (pw, ph) = (pixels.width.max(1), pixels.height.max(1));
    let long = pw.max(ph);
    let shrunk = (long > faces::SIDE).then(|| {
        let side = |v: u32| (u64::from(v) * u64::from(faces::SIDE) / u64::from(long)).max(1) as u32;
        box_average(pixels, side(pw), side(ph))
    });
    let src = match &shrunk {
        Some(Some(copy)) => copy,
        _ => pixels,
    };
    let channels = src.channels();
    let mut data = Vec::with_capacity(src.data.len() / channels * 3);
    for px in src.data.chunks_exact(channels) {
        data.extend_from_slice(&opaque(px));
    }
    Pixels {
        width: src.width,
        height: src.height,
        alpha: false,
        grey: false,
        data,
    }
}

/// `pixels` box-averaged to `w` x `h` (SIMD, `fast_image_resize`); `None` if it refused.
fn box_average(pixels: &Pixels, w: u32, h: u32) -> Option<Pixels> {
    use fast_image_resize::images::{Image, ImageRef};
    use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
    let kind = match pixels.channels() {
        1 => PixelType::U8,
        4 => PixelType::U8x4,
        _ => PixelType::U8x3,
    };
    let view = ImageRef::new(pixels.width, pixels.height, &pixels.data, kind).ok()?;
    let mut dst = Image::new(w, h, kind);
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Box));
    Resizer::new().resize(&view, &mut dst, &options).ok()?;
    Some(Pixels {
        width: w,
        height: h,
        alpha: pixels.alpha,
        grey: pixels.grey,
        data: dst.into_vec(),
    })
}

/// The picture as a grid of CIELAB cell averages.
struct Grid {
    width: usize,
    height: usize,
    /// L*, a*, b*, each a plane of `width` x `height`.
    planes: [Vec<f64>; 3],
}

impl Grid {
    /// The grid of `copy`, an opaque RGB picture: each cell the average of its pixels.
    fn of(copy: &Pixels) -> Self {
        let (pw, ph) = (copy.width as usize, copy.height as usize);
        let long = pw.max(ph).max(1);
        // Never more cells than pixels: every cell holds at least one.
        let width = (pw * GRID).div_ceil(long).clamp(1, GRID).min(pw.max(1));
        let height = (ph * GRID).div_ceil(long).clamp(1, GRID).min(ph.max(1));
        let column: Vec<usize> = (0..pw).map(|x| x * width / pw).collect();
        let mut sums = vec![[0.0f32; 4]; width * height];
        for (y, row) in copy.data.chunks_exact(pw * 3).enumerate().take(ph) {
            let cells = &mut sums[y * height / ph * width..][..width];
            for (px, &cx) in row.chunks_exact(3).zip(&column) {
                let cell = &mut cells[cx];
                cell[0] += f32::from(px[0]);
                cell[1] += f32::from(px[1]);
                cell[2] += f32::from(px[2]);
                cell[3] += 1.0;
            }
        }
        let mut planes = [
            vec![0.0; width * height],
            vec![0.0; width * height],
            vec![0.0; width * height],
        ];
        // The sRGB curve, read between its whole values: a power per cell and channel cost
        // most of the grid's time.
        let curve: Vec<f64> = (0..=256).map(|v| to_linear(f64::from(v))).collect();
        let linear = |v: f64| {
            let i = (v as usize).min(255);
            let t = v - i as f64;
            curve[i] + (curve[i + 1] - curve[i]) * t
        };
        for (i, cell) in sums.iter().enumerate() {
            let n = f64::from(cell[3].max(1.0));
            let rgb = [0, 1, 2].map(|c| linear(f64::from(cell[c]) / n));
            for (plane, v) in planes.iter_mut().zip(lab(rgb)) {
                plane[i] = v;
            }
        }
        Self {
            width,
            height,
            planes,
        }
    }
}

/// A pixel's sRGB (0-255), transparent parts seen on white as the crop's output mostly is.
fn opaque(px: &[u8]) -> [u8; 3] {
    match *px {
        [g] => [g; 3],
        [r, g, b] => [r, g, b],
        [r, g, b, a] => {
            let over =
                |c: u8| ((u32::from(c) * u32::from(a) + 255 * (255 - u32::from(a))) / 255) as u8;
            [over(r), over(g), over(b)]
        }
        _ => [255; 3],
    }
}

/// CIELAB (D65) of a linear-light RGB colour (0-1).
fn lab(linear: [f64; 3]) -> [f64; 3] {
    let [r, g, b] = linear;
    let x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047;
    let y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    let z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883;
    let f = |t: f64| {
        if t > 0.008856 {
            t.cbrt()
        } else {
            7.787 * t + 16.0 / 116.0
        }
    };
    let (fx, fy, fz) = (f(x), f(y), f(z));
    [116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)]
}

/// Each cell's CIELAB distance from the mean of the largest window centred on it.
fn saliency(grid: &Grid) -> Vec<f64> {
    let (w, h) = (grid.width, grid.height);
    let tables: Vec<SummedArea<f64>> = grid
        .planes
        .iter()
        .map(|p| SummedArea::<f64>::new_slice(p, w))
        .collect();
    let mut map = Vec::with_capacity(w * h);
    for y in 0..h {
        let dy = y.min(h - 1 - y);
        for x in 0..w {
            let dx = x.min(w - 1 - x);
            let (ww, wh) = (2 * dx + 1, 2 * dy + 1);
            let area = (ww * wh) as f64;
            let d2: f64 = tables
                .iter()
                .zip(&grid.planes)
                .map(|(table, plane)| {
                    let sum = table.try_sum_rect(x - dx, y - dy, ww, wh).unwrap_or(0.0);
                    (sum / area - plane[y * w + x]).powi(2)
                })
                .sum();
            map.push(d2.sqrt());
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::spec::Region;

    /// A `w` x `h` grey picture with a red and green checked square at `square`.
    fn scene(w: u32, h: u32, square: (u32, u32, u32)) -> Pixels {
        let mut data = Vec::with_capacity((w * h * 3) as usize);
        let (sx, sy, side) = square;
        for y in 0..h {
            for x in 0..w {
                let inside = (sx..sx + side).contains(&x) && (sy..sy + side).contains(&y);
                let px = match (inside, (x / 4 + y / 4) % 2) {
                    (true, 0) => [220, 30, 30],
                    (true, _) => [30, 160, 40],
                    // A gentle gradient: smooth backgrounds score near zero.
                    (false, _) => [(100 + x * 40 / w) as u8, 110, (120 + y * 30 / h) as u8],
                };
                data.extend_from_slice(&px);
            }
        }
        Pixels {
            width: w,
            height: h,
            alpha: false,
            grey: false,
            data,
        }
    }

    #[test]
    fn the_region_holds_an_object_away_from_the_centre() {
        let found = find(&scene(600, 400, (40, 250, 100))).region();
        let truth = Region {
            x: 40.0 / 600.0,
            y: 250.0 / 400.0,
            w: 100.0 / 600.0,
            h: 100.0 / 400.0,
        };
        assert!(truth.kept_by(&found) >= 0.9, "{found:?}");
        // Not the whole picture: the region is about the object's size.
        assert!(found.w < 0.4 && found.h < 0.6, "{found:?}");
    }

    #[test]
    fn the_region_is_the_same_from_rgba_and_grey_decodes() {
        // Large enough to be box-averaged to the small copy, in each pixel layout.
        let rgb = scene(1200, 800, (80, 500, 200));
        let truth = Region {
            x: 80.0 / 1200.0,
            y: 500.0 / 800.0,
            w: 200.0 / 1200.0,
            h: 200.0 / 800.0,
        };
        let rgba = Pixels {
            alpha: true,
            data: rgb
                .data
                .chunks_exact(3)
                .flat_map(|p| [p[0], p[1], p[2], 255])
                .collect(),
            ..rgb.clone()
        };
        let grey = Pixels {
            grey: true,
            // A light square: its colours alone would be the background's grey (the map sees
            // contrast in colour and lightness, not texture finer than its cells).
            data: rgb
                .data
                .chunks_exact(3)
                .map(|p| match p {
                    [220, 30, 30] => 240,
                    [30, 160, 40] => 200,
                    _ => p[1],
                })
                .collect(),
            ..rgb.clone()
        };
        // Opaque alpha changes nothing.
        assert_eq!(find(&rgb), find(&rgba));
        for pixels in [rgb, rgba, grey] {
            let found = find(&pixels).region();
            assert!(truth.kept_by(&found) >= 0.9, "{found:?}");
        }
    }

    #[test]
    fn a_plain_picture_has_the_whole_picture_as_its_region() {
        let plain = Pixels {
            width: 50,
            height: 30,
            alpha: false,
            grey: true,
            data: vec![128; 1500],
        };
        let map = find(&plain);
        assert_eq!(map.region().w, 1.0);
        assert_eq!(map.region().h, 1.0);
    }

    #[test]
    fn a_one_pixel_picture_is_its_own_region() {
        let dot = Pixels {
            width: 1,
            height: 1,
            alpha: true,
            grey: false,
            data: vec![1, 2, 3, 4],
        };
        assert_eq!(find(&dot).region().w, 1.0);
    }
}
