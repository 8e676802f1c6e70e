//! Where the subject of a picture is, for `gravity = "smart"`: a saliency map of a small
//! copy, pooled into the [`Saliency`] kept with the original.
//!
//! The map is Achanta and Süsstrunk's maximum symmetric surround (ICIP 2010, what Cloudflare's
//! `gravity=auto` uses): each cell's distance in CIELAB from the mean of the largest window
//! centred on it. Smooth backgrounds and linear gradients score near zero, a detailed or
//! differently coloured object high, and the shrinking windows near the edges favour what is
//! inside the frame. The copy is a fixed grid of cell averages over the upright picture, so
//! the subject barely depends on the scale the picture was decoded at.

use summed_area::SummedArea;

use super::faces;
use super::resize::Pixels;
use super::saliency::{CELLS, Saliency};

/// Cells on the analysis grid's longer side: the smallest subject worth keeping (a tenth of
/// the picture) still spans ten cells, and the whole map costs well under a millisecond.
const GRID: usize = 96;

/// A CIELAB distance too small to see: a cell that differs less from its surround is not
/// salient at all (and a flat picture's rounding errors are not a map).
const UNSEEN: f64 = 1.0;

/// Samples per cell and axis read from a large decode (the cell's average, not every pixel).
const SAMPLES: usize = 4;

/// Pixels on the longer side a decode needs for the map: [`SAMPLES`] per cell.
pub const ENOUGH: f64 = (GRID * SAMPLES) as f64;

/// The saliency of `pixels` (upright, any scale), pooled into a [`Saliency`] map.
pub fn find(pixels: &Pixels) -> Saliency {
    let grid = Grid::of(pixels);
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
    let (grey, gw, gh) = grey_copy(pixels);
    Saliency::new(cols, rows, &pooled).with_faces(faces::find(&grey, gw, gh))
}

/// A grey copy of `pixels` whose longer side is at most [`faces::SIDE`] (box-averaged).
fn grey_copy(pixels: &Pixels) -> (Vec<u8>, u32, u32) {
    let (pw, ph) = (pixels.width as usize, pixels.height as usize);
    let k = pw.max(ph).div_ceil(faces::SIDE as usize).max(1);
    let (w, h) = (pw / k, ph / k);
    let channels = if pixels.grey {
        1
    } else if pixels.alpha {
        4
    } else {
        3
    };
    let mut grey = vec![0u8; w * h];
    for (y, row) in grey.chunks_exact_mut(w.max(1)).enumerate().take(h) {
        for (x, out) in row.iter_mut().enumerate() {
            let mut sum = 0u32;
            for dy in 0..k {
                let line = (y * k + dy) * pw * channels;
                for dx in 0..k {
                    let px = &pixels.data[line + (x * k + dx) * channels..][..channels];
                    sum += match *px {
                        [g] => u32::from(g) * 10,
                        [r, g, b, ..] => u32::from(r) * 3 + u32::from(g) * 6 + u32::from(b),
                        _ => 0,
                    };
                }
            }
            *out = (sum / (10 * (k * k) as u32)).min(255) as u8;
        }
    }
    (grey, w as u32, h as u32)
}

/// The picture as a grid of CIELAB cell averages.
struct Grid {
    width: usize,
    height: usize,
    /// L*, a*, b*, each a plane of `width` x `height`.
    planes: [Vec<f64>; 3],
}

impl Grid {
    fn of(pixels: &Pixels) -> Self {
        let (pw, ph) = (pixels.width as usize, pixels.height as usize);
        let long = pw.max(ph).max(1);
        // Never more cells than pixels: every cell holds at least one.
        let width = (pw * GRID).div_ceil(long).clamp(1, GRID).min(pw.max(1));
        let height = (ph * GRID).div_ceil(long).clamp(1, GRID).min(ph.max(1));
        let channels = if pixels.grey {
            1
        } else if pixels.alpha {
            4
        } else {
            3
        };
        let step_x = (pw / (width * SAMPLES)).max(1);
        let step_y = (ph / (height * SAMPLES)).max(1);
        let mut sums = vec![[0.0f64; 4]; width * height];
        for y in (0..ph).step_by(step_y) {
            let row = &pixels.data[y * pw * channels..(y + 1) * pw * channels];
            let cy = y * height / ph;
            for x in (0..pw).step_by(step_x) {
                let px = &row[x * channels..(x + 1) * channels];
                let rgb = opaque(px);
                let cell = &mut sums[cy * width + x * width / pw];
                for (sum, v) in cell.iter_mut().zip(rgb) {
                    *sum += v;
                }
                cell[3] += 1.0;
            }
        }
        let mut planes = [
            vec![0.0; width * height],
            vec![0.0; width * height],
            vec![0.0; width * height],
        ];
        for (i, cell) in sums.iter().enumerate() {
            let n = cell[3].max(1.0);
            let lab = lab([cell[0] / n, cell[1] / n, cell[2] / n]);
            for (plane, v) in planes.iter_mut().zip(lab) {
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
fn opaque(px: &[u8]) -> [f64; 3] {
    match *px {
        [g] => [f64::from(g); 3],
        [r, g, b] => [f64::from(r), f64::from(g), f64::from(b)],
        [r, g, b, a] => {
            let a = f64::from(a) / 255.0;
            let over = |c: u8| f64::from(c) * a + 255.0 * (1.0 - a);
            [over(r), over(g), over(b)]
        }
        _ => [255.0; 3],
    }
}

/// CIELAB (D65) of an sRGB colour given as 0-255.
fn lab(srgb: [f64; 3]) -> [f64; 3] {
    let [r, g, b] = srgb.map(|c| {
        let c = c / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    });
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
