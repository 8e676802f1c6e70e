//! A picture's saliency as a small map, found once per original and kept with it: where a
//! `smart` crop of any aspect ratio goes ([`Saliency::centre_for`]) and the subject's region
//! ([`Saliency::region`]), both read from summed-area tables.

use std::fmt;

use serde::{Deserialize, Serialize};
use summed_area::SummedArea;

use super::faces::{Faces, MAX_FACES};
pub use super::fractions::{Point, Region};

/// A face as written `x,y,w,h`, each a fraction.
fn parse_region(text: &str) -> Option<Region> {
    let v: Vec<f64> = text
        .split(',')
        .map(|n| n.parse().ok().filter(|v: &f64| (0.0..=1.0).contains(v)))
        .collect::<Option<_>>()?;
    match v[..] {
        [x, y, w, h] if x + w <= 1.0 + 1e-3 && y + h <= 1.0 + 1e-3 => Some(Region { x, y, w, h }),
        _ => None,
    }
}

/// Cells on the map's longer side: a crop is placed to 1/24 of the picture.
pub const CELLS: usize = 24;

/// Levels per cell: 4 bits, one hex digit each when kept as text.
const LEVELS: f64 = 15.0;

/// How much less saliency than the most a crop nearer the centre may hold.
const TOLERANCE: f64 = 0.05;

/// A cell counts for the subject's region by how far it rises above this many times the
/// map's mean: a subject's cells add up, a busy background's spread out and cancel.
const FLOOR: f64 = 1.5;

/// Where the subject of the upright picture is: the faces found in it, and how salient each
/// part is (`cols` x `rows` cells of 0-15, row by row).
#[derive(Clone, Copy, PartialEq)]
pub struct Saliency {
    cols: u8,
    rows: u8,
    cells: [u8; CELLS * CELLS],
    faces: Faces,
}

// Every face's coordinates are finite fractions (checked when parsed, clamped when found).
impl Eq for Saliency {}

impl fmt::Debug for Saliency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Saliency({self})")
    }
}

/// Written `{cols}x{rows}:{one hex digit per cell}`, then `;x,y,w,h` per face (four
/// decimals), how records keep it.
impl fmt::Display for Saliency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}:", self.cols, self.rows)?;
        for &c in self.used() {
            write!(f, "{c:x}")?;
        }
        for r in self.faces.iter() {
            write!(f, ";{:.4},{:.4},{:.4},{:.4}", r.x, r.y, r.w, r.h)?;
        }
        Ok(())
    }
}

impl Serialize for Saliency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Saliency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Saliency::parse(&text).ok_or_else(|| serde::de::Error::custom("not a saliency map"))
    }
}

impl Saliency {
    /// The map of `values` (`cols` x `rows`, row by row, any scale), quantised to 0-15.
    pub fn new(cols: usize, rows: usize, values: &[f64]) -> Self {
        let (cols, rows) = (cols.clamp(1, CELLS), rows.clamp(1, CELLS));
        let max = values.iter().copied().fold(0.0, f64::max);
        let mut cells = [0u8; CELLS * CELLS];
        for (cell, v) in cells.iter_mut().zip(values.iter().take(cols * rows)) {
            if max > 0.0 {
                *cell = (v / max * LEVELS).round().clamp(0.0, LEVELS) as u8;
            }
        }
        Self {
            cols: cols as u8,
            rows: rows as u8,
            cells,
            faces: Faces::default(),
        }
    }

    /// This map with the faces found in the same picture (which crops keep before the rest).
    pub fn with_faces(self, faces: Faces) -> Self {
        Self { faces, ..self }
    }

    /// The faces found.
    pub fn faces(&self) -> &Faces {
        &self.faces
    }

    /// Reads what [`Display`](fmt::Display) wrote; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split(';');
        let map = parts.next()?;
        let faces: Vec<Region> = parts.map(parse_region).collect::<Option<_>>()?;
        if faces.len() > MAX_FACES {
            return None;
        }
        Some(Self::parse_map(map)?.with_faces(Faces::of(faces)))
    }

    fn parse_map(text: &str) -> Option<Self> {
        let (size, digits) = text.split_once(':')?;
        let (cols, rows) = size.split_once('x')?;
        let (cols, rows): (usize, usize) = (cols.parse().ok()?, rows.parse().ok()?);
        let valid = (1..=CELLS).contains(&cols) && (1..=CELLS).contains(&rows);
        if !valid || digits.len() != cols * rows {
            return None;
        }
        let mut cells = [0u8; CELLS * CELLS];
        for (cell, d) in cells.iter_mut().zip(digits.chars()) {
            *cell = d.to_digit(16)? as u8;
        }
        Some(Self {
            cols: cols as u8,
            rows: rows as u8,
            cells,
            faces: Faces::default(),
        })
    }

    fn used(&self) -> &[u8] {
        &self.cells[..usize::from(self.cols) * usize::from(self.rows)]
    }

    fn mean(&self) -> f64 {
        let used = self.used();
        used.iter().map(|&c| f64::from(c)).sum::<f64>() / used.len() as f64
    }

    fn size(&self) -> (usize, usize) {
        (usize::from(self.cols), usize::from(self.rows))
    }

    /// Where to centre a crop `w` x `h` (fractions of the picture): on the faces it can hold
    /// (all, else the largest), else where it holds the most saliency (among equals, the
    /// position nearest the picture's centre).
    pub fn centre_for(&self, w: f64, h: f64) -> Point {
        if let Some(kept) = self.faces.kept_in(w, h) {
            return kept.centre();
        }
        let (cols, rows) = self.size();
        let mean = self.mean();
        // Only what rises above the mean counts: a background's even texture does not pull
        // the crop away from the subject.
        let values: Vec<f64> = self
            .used()
            .iter()
            .map(|&c| (f64::from(c) - mean).max(0.0))
            .collect();
        let table = SummedArea::<f64>::new_slice(&values, cols);
        let ww = ((w * cols as f64).round() as usize).clamp(1, cols);
        let wh = ((h * rows as f64).round() as usize).clamp(1, rows);
        let sum_at = |left: usize, top: usize| table.try_sum_rect(left, top, ww, wh).unwrap_or(0.0);
        let mut most = 0.0f64;
        for top in 0..=rows - wh {
            for left in 0..=cols - ww {
                most = most.max(sum_at(left, top));
            }
        }
        // Of the windows holding nearly the most, the one nearest the centre: the crop leaves
        // the centre only for clearly more of the subject.
        let enough = most * (1.0 - TOLERANCE);
        let mut best = (f64::MAX, (0, 0));
        for top in 0..=rows - wh {
            for left in 0..=cols - ww {
                // Twice the offset of the window's centre from the map's, per axis.
                let off_x = (2 * left + ww) as f64 - cols as f64;
                let off_y = (2 * top + wh) as f64 - rows as f64;
                let distance = off_x.abs() + off_y.abs();
                if sum_at(left, top) >= enough && distance < best.0 {
                    best = (distance, (left, top));
                }
            }
        }
        let (left, top) = best.1;
        Point {
            x: (left as f64 + ww as f64 / 2.0) / cols as f64,
            y: (top as f64 + wh as f64 / 2.0) / rows as f64,
        }
    }

    /// The subject's region: the box whose cells rise furthest above [`FLOOR`] times the
    /// mean, in sum; the whole picture when nothing stands out.
    pub fn region(&self) -> Region {
        let (cols, rows) = self.size();
        let floor = self.mean() * FLOOR;
        let excess: Vec<f64> = self.used().iter().map(|&c| f64::from(c) - floor).collect();
        let table = SummedArea::<f64>::new_slice(&excess, cols);
        let mut best = (0.0, (0, 0, cols, rows));
        for top in 0..rows {
            for bottom in top + 1..=rows {
                for left in 0..cols {
                    for right in left + 1..=cols {
                        let sum = table
                            .try_sum_rect(left, top, right - left, bottom - top)
                            .unwrap_or(0.0);
                        if sum > best.0 {
                            best = (sum, (left, top, right, bottom));
                        }
                    }
                }
            }
        }
        let (left, top, right, bottom) = best.1;
        Region {
            x: left as f64 / cols as f64,
            y: top as f64 / rows as f64,
            w: (right - left) as f64 / cols as f64,
            h: (bottom - top) as f64 / rows as f64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map_with_hot_cell(cols: usize, rows: usize, hot: (usize, usize)) -> Saliency {
        let mut values = vec![1.0; cols * rows];
        values[hot.1 * cols + hot.0] = 30.0;
        Saliency::new(cols, rows, &values)
    }

    #[test]
    fn text_round_trips_and_hostile_text_is_refused() {
        let map = map_with_hot_cell(24, 16, (3, 4));
        let text = map.to_string();
        assert_eq!(Saliency::parse(&text), Some(map));
        let face = Region {
            x: 0.25,
            y: 0.125,
            w: 0.5,
            h: 0.25,
        };
        let with_face = map.with_faces(Faces::of(vec![face]));
        let text = with_face.to_string();
        assert!(text.ends_with(";0.2500,0.1250,0.5000,0.2500"), "{text}");
        assert_eq!(Saliency::parse(&text), Some(with_face));
        let base = map.to_string();
        for bad_face in [
            ";1,1,1,1",
            ";0.5,0.5",
            ";x,0,0,0",
            ";-0.1,0,0.1,0.1",
            ";0.9,0,0.5,0.1",
        ] {
            assert_eq!(
                Saliency::parse(&format!("{base}{bad_face}")),
                None,
                "{bad_face}"
            );
        }
        let nine = ";0.1,0.1,0.1,0.1".repeat(9);
        assert_eq!(Saliency::parse(&format!("{base}{nine}")), None);
        for bad in [
            "",
            "24x16",
            "0x0:",
            "25x1:0000000000000000000000000",
            "2x2:00g0",
            "2x2:000",
            "99999999999999999999x1:0",
        ] {
            assert_eq!(Saliency::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_crop_goes_where_the_saliency_is() {
        let map = map_with_hot_cell(24, 16, (2, 13));
        let c = map.centre_for(0.25, 0.5);
        // A window of 6 x 8 cells holding cell (2, 13): its left 0-2, its top 6-8.
        assert!(
            c.x <= 5.0 / 24.0 + 1e-9 && c.y >= 10.0 / 16.0 - 1e-9,
            "{c:?}"
        );
        let r = map.region();
        assert!((r.x - 2.0 / 24.0).abs() < 1e-9 && (r.y - 13.0 / 16.0).abs() < 1e-9);
    }

    #[test]
    fn a_crop_leaves_the_centre_only_for_clearly_more_saliency() {
        // Two subjects a 6-cell-wide crop cannot hold together: one at the centre, one at the
        // left edge holding `left` against the centre's 30.
        let map = |left: &[f64]| {
            let mut values = vec![0.0; 24 * 16];
            values[8 * 24 + 11] = 15.0;
            values[8 * 24 + 12] = 15.0;
            for (i, v) in left.iter().enumerate() {
                values[8 * 24 + 1 + i] = *v;
            }
            Saliency::new(24, 16, &values)
        };
        // 3% more at the edge: the crop stays on the centre's subject.
        let c = map(&[15.0, 15.0, 1.0]).centre_for(0.25, 0.5);
        assert!((c.x - 0.5).abs() < 0.05, "{c:?}");
        // Half as much again: the crop goes to the edge.
        let c = map(&[15.0, 15.0, 15.0]).centre_for(0.25, 0.5);
        assert!(c.x < 0.2, "{c:?}");
    }

    #[test]
    fn a_flat_map_centres_the_crop_and_its_region_is_everything() {
        let map = Saliency::new(24, 18, &[0.0; 24 * 18]);
        let c = map.centre_for(0.5, 1.0);
        assert!(
            (c.x - 0.5).abs() < 1e-9 && (c.y - 0.5).abs() < 1e-9,
            "{c:?}"
        );
        assert_eq!(map.region().w, 1.0);
    }
}
