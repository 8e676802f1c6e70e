//! Named presets: what each variant is (size, fit, gravity, format, quality).
//!
//! Clients only ever name a preset; [`parse`] is the single place where a preset file
//! becomes a validated [`Preset`], and where its [`Fingerprint`] (the part of a variant's
//! cache key that changes whenever the preset's output would) is computed. [`terms`] holds
//! the words a preset is written in, [`error`] why one is refused.

mod effects;
pub mod error;
mod file;
mod operations;
pub mod parse;
pub mod steps;
pub mod terms;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::pipeline::{Mask, Spec};

pub use error::PresetError;
pub use steps::Steps;
pub use terms::{
    Animation, Colour, Fingerprint, Fit, FormatChoice, Gravity, MAX_PRESET_SIDE, PresetName,
    Quality, fit_name,
};

/// A validated preset.
#[derive(Debug, Clone, PartialEq)]
pub struct Preset {
    pub name: PresetName,
    /// What a render of this preset needs: the pipeline sees this and nothing else.
    pub spec: Spec,
    /// Responsive steps, each a variant of its own (`{name}@2x`, `{name}@640w`).
    pub steps: Steps,
    /// The `sizes` attribute that goes with a width ladder's `srcset`.
    pub sizes: Option<String>,
    /// Whether client hints (`Sec-CH-DPR`, `Sec-CH-Width`) pick a step for the plain URL.
    pub client_hints: bool,
    /// An image served, rendered to this preset, when the original is missing or broken.
    pub fallback: Option<PathBuf>,
    /// For a step preset, the preset it is a step of.
    pub step_of: Option<PresetName>,
    /// The sources whose originals it renders (`"default"` for the default store); `None`
    /// for every source.
    pub sources: Option<Vec<String>>,
    fingerprint: Fingerprint,
}

/// Every loaded preset, by name.
#[derive(Debug, Clone, Default)]
pub struct Presets {
    by_name: BTreeMap<PresetName, Preset>,
    /// `{name}@{suffix}` for every step of every preset, the plain step included.
    steps: BTreeMap<String, Preset>,
}

impl Presets {
    /// Checks that every source a preset names is `configured` (or `default`): a preset
    /// limited to a source that does not exist would never render anything.
    pub fn check_sources(&self, configured: &[crate::keys::SourceName]) -> Result<(), String> {
        for preset in self.by_name.values() {
            for name in preset.sources.iter().flatten() {
                let known = name == crate::keys::DEFAULT_SOURCE
                    || configured.iter().any(|c| c.as_str() == name);
                if !known {
                    return Err(format!(
                        "the preset `{}` names the source `{name}`, which THUMBKIT_SOURCES does \
                         not configure",
                        preset.name
                    ));
                }
            }
        }
        Ok(())
    }

    /// Loads every `*.toml` file of each directory (or a single file) in `paths`.
    /// Any invalid file, or one name defined twice, fails the whole load.
    pub fn load<P: AsRef<Path>>(paths: &[P]) -> Result<Self, PresetError> {
        let mut by_name: BTreeMap<PresetName, Preset> = BTreeMap::new();
        let mut origin: BTreeMap<PresetName, PathBuf> = BTreeMap::new();
        for root in paths {
            let root = root.as_ref();
            let files = preset_files(root)?;
            if files.is_empty() {
                return Err(PresetError::Empty {
                    path: root.to_owned(),
                });
            }
            for file in files {
                let preset = Preset::load(&file)?;
                if let Some(first) = origin.get(&preset.name) {
                    return Err(PresetError::Duplicate {
                        path: file,
                        name: preset.name.to_string(),
                        first: first.clone(),
                    });
                }
                origin.insert(preset.name.clone(), file);
                by_name.insert(preset.name.clone(), preset);
            }
        }
        Ok(Self::of(by_name.into_values()))
    }

    /// These presets and their steps.
    pub fn of(presets: impl IntoIterator<Item = Preset>) -> Self {
        let mut by_name = BTreeMap::new();
        let mut steps = BTreeMap::new();
        for preset in presets {
            let suffixes = preset.step_suffixes();
            // The plain step is the preset itself: `card@1x` is the same variant as `card`.
            if let Some(first) = suffixes.first() {
                steps.insert(format!("{}@{first}", preset.name), preset.clone());
            }
            for step in preset.step_presets() {
                steps.insert(step.name.to_string(), step);
            }
            by_name.insert(preset.name.clone(), preset);
        }
        Self { by_name, steps }
    }

    /// The preset (or step, `card@2x`) with this name, if any.
    pub fn get(&self, name: &str) -> Option<&Preset> {
        if name.contains('@') {
            return self.steps.get(name);
        }
        self.by_name.get(name)
    }

    /// All presets in name order, without their steps.
    pub fn iter(&self) -> impl Iterator<Item = &Preset> {
        self.by_name.values()
    }

    /// Every variant a preset names: each preset followed by its further steps.
    pub fn every(&self) -> impl Iterator<Item = &Preset> {
        self.by_name.values().flat_map(|p| self.with_steps(p))
    }

    /// `preset` followed by its further steps (`card`, `card@2x`).
    pub fn with_steps<'a>(&'a self, preset: &'a Preset) -> impl Iterator<Item = &'a Preset> {
        std::iter::once(preset).chain(
            preset
                .step_suffixes()
                .into_iter()
                .skip(1)
                .filter_map(|s| self.steps.get(&format!("{}@{s}", preset.name))),
        )
    }

    /// How many presets there are.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// True when no preset is loaded.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

/// The `.toml` files of a directory in name order, or the path itself when it is a file.
fn preset_files(root: &Path) -> Result<Vec<PathBuf>, PresetError> {
    let io = |source| PresetError::Io {
        path: root.to_owned(),
        source,
    };
    let meta = std::fs::metadata(root).map_err(io)?;
    if meta.is_file() {
        return Ok(vec![root.to_owned()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(root).map_err(io)? {
        let path = entry.map_err(io)?.path();
        let is_toml = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("toml"));
        if is_toml && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

impl Preset {
    /// The preset as `GET /v1/presets` and `thumbkit presets --json` list it: everything a
    /// client needs to build what a manifest builds (the box, the fit, each step's name and
    /// box) or to map a width to a step (a Next.js loader).
    pub fn listed(&self) -> serde_json::Value {
        let steps: Vec<_> = self
            .steps
            .of(self.spec.width, self.spec.height)
            .into_iter()
            .enumerate()
            .map(|(i, step)| {
                let name = match i {
                    0 => self.name.to_string(),
                    _ => format!("{}@{}", self.name, step.suffix),
                };
                serde_json::json!({
                    "name": name,
                    "suffix": step.suffix,
                    "width": step.width,
                    "height": step.height,
                })
            })
            .collect();
        serde_json::json!({
            "name": self.name.as_str(),
            "fingerprint": self.fingerprint().to_string(),
            "summary": self.summary(),
            "width": self.spec.width,
            "height": self.spec.height,
            "fit": fit_name(self.spec.fit),
            "upscale": self.spec.upscale,
            "sharpen": self.spec.effects.sharpen,
            "blur": self.spec.effects.blur,
            "trim": self.spec.trim.map(|t| t.threshold),
            "mask": self.spec.mask.map(|m| match m {
                Mask::Circle => "circle",
                Mask::Rounded { .. } => "rounded",
            }),
            "radius": match self.spec.mask {
                Some(Mask::Rounded { radius }) => Some(radius),
                _ => None,
            },
            "watermark": self.spec.watermark.is_some(),
            "max_bytes": self.spec.max_bytes,
            "page": self.spec.page.unwrap_or(1),
            "steps_by": match &self.steps {
                Steps::One => "none",
                Steps::Densities(_) => "density",
                Steps::Widths(_) => "width",
            },
            "steps": steps,
            "sizes": self.sizes,
            "sources": self.sources,
        })
    }

    /// Whether it renders the originals of `source` (the configured source's name, `None`
    /// for the default store).
    pub fn serves(&self, source: Option<&str>) -> bool {
        let name = source.unwrap_or(crate::keys::DEFAULT_SOURCE);
        (self.sources.as_ref()).is_none_or(|list| list.iter().any(|s| s == name))
    }

    /// The presets of this preset's steps after the first (which is the preset itself):
    /// each named `{name}@{suffix}`, with its own box and fingerprint and no steps.
    pub fn step_presets(&self) -> Vec<Preset> {
        self.steps
            .of(self.spec.width, self.spec.height)
            .into_iter()
            .skip(1)
            .map(|step| {
                let mut p = self.clone();
                p.name = PresetName::step(&self.name, &step.suffix);
                p.spec.width = step.width;
                p.spec.height = step.height;
                operations::scale_lengths(
                    &mut p.spec,
                    self.spec.width.or(self.spec.height),
                    step.width.or(step.height),
                );
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
            .of(self.spec.width, self.spec.height)
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
