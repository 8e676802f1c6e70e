//! Responsive steps: a preset's fixed list of densities (`densities = [1, 2]`) or widths
//! (`widths = [320, 640]`), each a variant of its own named `{preset}@{n}x` or `{preset}@{w}w`.
//! The list is the preset's, so no client can ask for a size it does not declare.

use crate::preset::terms::PresetName;
use crate::preset::{MAX_PRESET_SIDE, Preset};

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

    /// The data a `srcset` descriptor needs: widths are in pixels, densities in `x`.
    pub fn by_width(&self) -> bool {
        matches!(self, Self::Widths(_))
    }
}

/// `v` scaled by `num / den`, rounded, at least 1.
fn scale(v: u32, num: u32, den: u32) -> u32 {
    ((u64::from(v) * u64::from(num) + u64::from(den) / 2) / u64::from(den)).max(1) as u32
}

impl Preset {
    /// The presets of this preset's steps after the first (which is the preset itself):
    /// each named `{name}@{suffix}`, with its own box and fingerprint and no steps.
    pub fn step_presets(&self) -> Vec<Preset> {
        self.steps
            .of(self.width, self.height)
            .into_iter()
            .skip(1)
            .map(|step| {
                let mut p = self.clone();
                p.name = PresetName::step(&self.name, &step.suffix);
                p.width = step.width;
                p.height = step.height;
                p.steps = Steps::One;
                p.step_of = Some(self.name.clone());
                p.refingerprint();
                p
            })
            .collect()
    }

    /// The suffixes of every step, the plain one first (empty without steps).
    pub fn step_suffixes(&self) -> Vec<String> {
        self.steps
            .of(self.width, self.height)
            .into_iter()
            .map(|s| s.suffix)
            .collect()
    }

    /// The step whose name a client hint picks: the smallest density at least `dpr`, or the
    /// smallest width at least `width` pixels, else the largest; `None` for the plain one.
    pub fn step_for_hints(&self, dpr: Option<f64>, width: Option<u32>) -> Option<String> {
        let suffixes = self.step_suffixes();
        let pick = match &self.steps {
            Steps::One => return None,
            Steps::Densities(d) => {
                let dpr = dpr.filter(|v| v.is_finite() && *v > 0.0)?;
                d.iter()
                    .position(|&n| f64::from(n) >= dpr - 0.01)
                    .unwrap_or(d.len() - 1)
            }
            Steps::Widths(w) => {
                let want = width.or_else(|| {
                    // Without a width hint, the plain step's width times the density.
                    dpr.filter(|v| v.is_finite() && *v > 0.0)
                        .map(|v| (f64::from(w[0]) * v).round() as u32)
                })?;
                w.iter().position(|&s| s >= want).unwrap_or(w.len() - 1)
            }
        };
        (pick > 0).then(|| format!("{}@{}", self.name, suffixes[pick]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn parse(text: &str) -> Result<Preset, crate::preset::PresetError> {
        Preset::parse("card", text, Path::new("presets/card.toml"))
    }

    #[test]
    fn densities_and_widths_make_named_steps() {
        let p = parse("width = 200\nheight = 100\nfit = \"cover\"\ndensities = [1, 2, 3]").unwrap();
        let steps = p.step_presets();
        let names: Vec<_> = steps.iter().map(|s| s.name.to_string()).collect();
        assert_eq!(names, ["card@2x", "card@3x"]);
        assert_eq!((steps[0].width, steps[0].height), (Some(400), Some(200)));
        assert_ne!(steps[0].fingerprint(), p.fingerprint());
        let w = parse("height = 300\nwidths = [400, 800]").unwrap();
        assert_eq!(w.width, Some(400));
        let steps = w.step_presets();
        assert_eq!((steps[0].width, steps[0].height), (Some(800), Some(600)));
        assert_eq!(
            w.step_for_hints(None, Some(500)).as_deref(),
            Some("card@800w")
        );
        assert_eq!(w.step_for_hints(None, Some(300)), None);
        assert_eq!(
            p.step_for_hints(Some(2.0), None).as_deref(),
            Some("card@2x")
        );
        assert_eq!(
            p.step_for_hints(Some(1.5), None).as_deref(),
            Some("card@2x")
        );
        assert_eq!(
            p.step_for_hints(Some(9.0), None).as_deref(),
            Some("card@3x")
        );
        assert_eq!(p.step_for_hints(None, None), None);
    }

    #[test]
    fn bad_steps_are_named() {
        for (bad, field) in [
            ("width = 100\ndensities = [2]", "densities"),
            ("width = 100\ndensities = [1, 1]", "densities"),
            ("width = 100\ndensities = [1, 9]", "densities"),
            ("width = 4000\ndensities = [1, 3]", "densities"),
            ("width = 100\nwidths = [200, 400]", "widths"),
            ("widths = []", "widths"),
            ("widths = [400, 300]", "widths"),
            ("width = 100\ndensities = [1]\nwidths = [100]", "widths"),
            ("width = 100\nsizes = \"50vw\"", "sizes"),
            ("width = 100\nclient_hints = true", "client_hints"),
        ] {
            let err = parse(bad).unwrap_err().to_string();
            assert!(err.contains(field), "{bad}: {err}");
        }
    }
}
