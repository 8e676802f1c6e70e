//! `trim`: finding the borders of one colour around a picture (as `vips find_trim` does),
//! so the fit and the crop see only what is inside them.

use super::resize::Pixels;
use super::spec::Trim;

/// A rectangle of pixels: left, top, width, height.
pub type Rect = (u32, u32, u32, u32);

/// The part of `px` inside its borders, or `None` when there are no borders to remove or
/// the picture is all border (then it is left as it is).
pub fn bounds(px: &Pixels, trim: Trim) -> Option<Rect> {
    let (w, h) = (px.width as usize, px.height as usize);
    let n = px.channels();
    if w == 0 || h == 0 || px.data.len() < w * h * n {
        return None;
    }
    let content = Content::new(px, trim.threshold);
    let row = |y: usize| &px.data[y * w * n..(y + 1) * w * n];
    let top = (0..h).find(|&y| row(y).chunks_exact(n).any(|p| content.is(p)))?;
    let bottom = (top..h)
        .rev()
        .find(|&y| row(y).chunks_exact(n).any(|p| content.is(p)))?;
    let (mut left, mut right) = (w, 0);
    for y in top..=bottom {
        let at = |x: usize| &row(y)[x * n..(x + 1) * n];
        // Only what could still move an edge is read: the row's ends, up to the edges so far.
        if let Some(x) = (0..left).find(|&x| content.is(at(x))) {
            left = x;
        }
        if let Some(x) = (right.max(left)..w).rev().find(|&x| content.is(at(x))) {
            right = right.max(x);
        }
    }
    let rect = (
        left as u32,
        top as u32,
        (right + 1 - left) as u32,
        (bottom + 1 - top) as u32,
    );
    (rect != (0, 0, px.width, px.height)).then_some(rect)
}

/// `px` cut to `rect` (which lies inside it).
pub fn crop(px: &Pixels, rect: Rect) -> Pixels {
    let n = px.channels();
    let (left, top, w, h) = (
        rect.0 as usize,
        rect.1 as usize,
        rect.2 as usize,
        rect.3 as usize,
    );
    let stride = px.width as usize * n;
    let mut data = Vec::with_capacity(w * h * n);
    for y in top..top + h {
        let start = y * stride + left * n;
        data.extend_from_slice(&px.data[start..start + w * n]);
    }
    Pixels {
        width: rect.2,
        height: rect.3,
        data,
        ..*px
    }
}

/// `px` cut to `rect` (which lies inside it) in its own buffer: each kept row moves toward
/// the start (never past a row still to be read), then the rest is dropped.
pub fn cut(mut px: Pixels, rect: Rect) -> Pixels {
    let n = px.channels();
    let stride = px.width as usize * n;
    let (left, top, w, h) = (
        rect.0 as usize,
        rect.1 as usize,
        rect.2 as usize,
        rect.3 as usize,
    );
    for row in 0..h {
        let from = (top + row) * stride + left * n;
        px.data.copy_within(from..from + w * n, row * w * n);
    }
    px.data.truncate(w * h * n);
    px.data.shrink_to_fit();
    Pixels {
        width: rect.2,
        height: rect.3,
        ..px
    }
}

/// Which pixels are not border.
struct Content {
    border: Vec<u8>,
    threshold: u8,
    /// The border is transparent: only opacity counts.
    clear: bool,
}

impl Content {
    fn new(px: &Pixels, threshold: u8) -> Self {
        let border = px.data[..px.channels()].to_vec();
        let clear = px.alpha && border.get(3).is_some_and(|&a| a <= threshold);
        Self {
            border,
            threshold,
            clear,
        }
    }

    fn is(&self, p: &[u8]) -> bool {
        if self.clear {
            return p[3] > self.threshold;
        }
        p.iter()
            .zip(&self.border)
            .any(|(&v, &b)| v.abs_diff(b) > self.threshold)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picture(w: u32, h: u32, n: usize, fill: &[u8], inner: Rect, ink: &[u8]) -> Pixels {
        let mut data = Vec::new();
        for y in 0..h {
            for x in 0..w {
                let inside =
                    x >= inner.0 && x < inner.0 + inner.2 && y >= inner.1 && y < inner.1 + inner.3;
                data.extend_from_slice(if inside { ink } else { fill });
            }
        }
        Pixels {
            width: w,
            height: h,
            alpha: n == 4,
            grey: n == 1,
            data,
        }
    }

    const T: Trim = Trim { threshold: 10 };

    #[test]
    fn a_flat_border_is_found_on_every_side() {
        let px = picture(40, 30, 3, &[250, 250, 250], (7, 5, 20, 12), &[10, 120, 30]);
        assert_eq!(bounds(&px, T), Some((7, 5, 20, 12)));
        let cut = crop(&px, (7, 5, 20, 12));
        assert_eq!(
            (cut.width, cut.height, cut.data.len()),
            (20, 12, 20 * 12 * 3)
        );
        assert!(cut.data.chunks(3).all(|p| p == [10, 120, 30]));
    }

    #[test]
    fn noise_under_the_threshold_is_border_and_over_it_is_not() {
        let px = picture(20, 20, 1, &[200], (5, 5, 4, 4), &[205]);
        assert_eq!(bounds(&px, T), None, "a difference of 5 is border at 10");
        let px = picture(20, 20, 1, &[200], (5, 5, 4, 4), &[185]);
        assert_eq!(bounds(&px, T), Some((5, 5, 4, 4)));
    }

    #[test]
    fn a_transparent_border_is_trimmed_whatever_colour_it_holds() {
        let mut px = picture(16, 16, 4, &[0, 0, 0, 0], (3, 4, 5, 6), &[255, 0, 0, 255]);
        // Invisible colour in the border is still border.
        px.data[4..8].copy_from_slice(&[255, 255, 255, 0]);
        assert_eq!(bounds(&px, T), Some((3, 4, 5, 6)));
    }

    #[test]
    fn all_border_or_no_border_leaves_the_picture() {
        let flat = picture(10, 10, 3, &[9, 9, 9], (0, 0, 0, 0), &[0, 0, 0]);
        assert_eq!(bounds(&flat, T), None);
        let full = picture(10, 10, 3, &[9, 9, 9], (1, 0, 9, 10), &[200, 0, 0]);
        assert_eq!(bounds(&full, T), Some((1, 0, 9, 10)));
        let none = picture(10, 10, 3, &[9, 9, 9], (0, 0, 10, 10), &[200, 0, 0]);
        assert_eq!(bounds(&none, T), None);
    }
}
