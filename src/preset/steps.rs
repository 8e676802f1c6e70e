//! Responsive steps: a preset's fixed list of densities (`densities = [1, 2]`) or widths
//! (`widths = [320, 640]`), each a variant of its own named `{preset}@{n}x` or `{preset}@{w}w`.
//! The list is the preset's, so no client can ask for a size it does not declare.

use crate::preset::terms::MAX_PRESET_SIDE;

/// The most steps a preset may declare.
pub const MAX_STEPS: usize = 8;

/// The largest density a preset may declare.
pub const MAX_DENSITY: u32 = 4;

/// A preset's responsive steps.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Steps {
    /// One size: the preset's box.
    #[default]
    One,
    /// The box times each density (the first is 1).
    Densities(Vec<u32>),
    /// The box scaled to each width (the first is the preset's own width).
    Widths(Vec<u32>),
}

/// One step of a preset: its suffix (`2x`, `640w`) and the box it renders to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// `2x` or `640w`: what follows `@` in the URL, and the `srcset` descriptor's unit.
    pub suffix: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

impl Steps {
    /// Validates `densities` or `widths` as written (at most one of them) against the
    /// preset's box; `Err` names the field and why.
    pub fn parse(
        densities: Option<Vec<i64>>,
        widths: Option<Vec<i64>>,
        width: Option<u32>,
        height: Option<u32>,
    ) -> Result<Self, (&'static str, String)> {
        let ascending = |field: &'static str, v: &[i64], max: i64| {
            if v.is_empty() || v.len() > MAX_STEPS {
                return Err((field, format!("must list 1 to {MAX_STEPS} steps")));
            }
            if let Some(bad) = v.iter().find(|&&n| !(1..=max).contains(&n)) {
                return Err((field, format!("must be between 1 and {max} (got {bad})")));
            }
            if v.windows(2).any(|w| w[0] >= w[1]) {
                return Err((field, "must be in increasing order, each once".into()));
            }
            Ok(v.iter().map(|&n| n as u32).collect::<Vec<u32>>())
        };
        match (densities, widths) {
            (Some(_), Some(_)) => Err((
                "widths",
                "a preset declares densities or widths, not both".into(),
            )),
            (Some(d), None) => {
                let d = ascending("densities", &d, i64::from(MAX_DENSITY))?;
                if d[0] != 1 {
                    return Err((
                        "densities",
                        "must start with 1 (the plain URL is the 1x step)".into(),
                    ));
                }
                let top = d[d.len() - 1];
                let side = width.max(height).unwrap_or(0);
                if side * top > MAX_PRESET_SIDE {
                    return Err((
                        "densities",
                        format!(
                            "{top}x makes a side of {} pixels; the limit is {MAX_PRESET_SIDE}",
                            side * top
                        ),
                    ));
                }
                Ok(Self::Densities(d))
            }
            (None, Some(w)) => {
                let w = ascending("widths", &w, i64::from(MAX_PRESET_SIDE))?;
                if width.is_some_and(|width| width != w[0]) {
                    return Err((
                        "widths",
                        "must start with the preset's width (the plain URL is the first step)"
                            .into(),
                    ));
                }
                if let Some(h) = height {
                    let top = scale(h, w[w.len() - 1], w[0]);
                    if top > MAX_PRESET_SIDE {
                        return Err((
                            "widths",
                            format!(
                                "the widest step is {top} pixels high; the limit is {MAX_PRESET_SIDE}"
                            ),
                        ));
                    }
                }
                Ok(Self::Widths(w))
            }
            (None, None) => Ok(Self::One),
        }
    }

    /// The first step's width when the steps are widths (the preset's width if unset).
    pub fn first_width(&self) -> Option<u32> {
        match self {
            Self::Widths(w) => w.first().copied(),
            _ => None,
        }
    }

    /// Every step of a preset whose box is `width` x `height`, the plain one first.
    pub fn of(&self, width: Option<u32>, height: Option<u32>) -> Vec<Step> {
        match self {
            Self::One => Vec::new(),
            Self::Densities(d) => d
                .iter()
                .map(|&n| Step {
                    suffix: format!("{n}x"),
                    width: width.map(|v| v * n),
                    height: height.map(|v| v * n),
                })
                .collect(),
            Self::Widths(w) => w
                .iter()
                .map(|&step| Step {
                    suffix: format!("{step}w"),
                    width: Some(step),
                    height: height.map(|h| scale(h, step, w[0])),
                })
                .collect(),
        }
    }

    /// True for a width ladder (`640w` descriptors), false for densities (`2x`).
    pub fn by_width(&self) -> bool {
        matches!(self, Self::Widths(_))
    }
}

/// `v` scaled by `num / den`, rounded, at least 1.
fn scale(v: u32, num: u32, den: u32) -> u32 {
    ((u64::from(v) * u64::from(num) + u64::from(den) / 2) / u64::from(den)).max(1) as u32
}
