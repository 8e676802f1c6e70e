//! Named presets: what each variant is (size, fit, gravity, format, quality).
//!
//! Clients only ever name a preset; this module is the single place where a preset file
//! becomes a validated [`Preset`], and where its [`Fingerprint`] (the part of a variant's
//! cache key that changes whenever the preset's output would) is computed.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::pipeline::version::PIPELINE_VERSION;

/// The largest width or height a preset may ask for.
pub const MAX_PRESET_SIDE: u32 = 10_000;

/// Why a preset file or directory could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PresetError {
    /// The file or directory could not be read.
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML or has an unknown key or a value of the wrong type.
    #[error("{path}: {reason}")]
    Syntax { path: PathBuf, reason: String },
    /// A field has a value outside what it allows.
    #[error("{path}: field `{field}`: {reason}")]
    Field {
        path: PathBuf,
        field: &'static str,
        reason: String,
    },
    /// The file name does not make a valid preset name.
    #[error("{path}: {reason}")]
    Name { path: PathBuf, reason: String },
    /// Two files define the same preset name.
    #[error("{path}: preset `{name}` is already defined by {first}")]
    Duplicate {
        path: PathBuf,
        name: String,
        first: PathBuf,
    },
    /// No preset files were found.
    #[error("{path}: no preset files (*.toml) found")]
    Empty { path: PathBuf },
}

/// A preset's name: the file stem, `[a-z0-9_-]{1,64}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PresetName(String);

impl PresetName {
    /// Validates a preset name.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.is_empty() || s.len() > 64 {
            return Err(format!("preset name `{s}` must be 1 to 64 characters long"));
        }
        if let Some(c) = s
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-'))
        {
            return Err(format!(
                "preset name `{s}` has the character {c:?}; only a-z, 0-9, `_` and `-` are allowed"
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PresetName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

/// How the image is fitted into the preset's box (sharp's meanings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fit {
    /// Fill the box, cropping what overflows (by gravity).
    Cover,
    /// Fit inside the box and pad the rest with the background colour.
    Contain,
    /// Fit inside the box; the output is at most the box, never padded.
    Inside,
    /// Stretch to exactly the box, ignoring the aspect ratio.
    Fill,
}

/// Which part of the image `cover` keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Gravity {
    #[serde(alias = "center")]
    Centre,
    North,
    Northeast,
    East,
    Southeast,
    South,
    Southwest,
    West,
    Northwest,
}

impl Gravity {
    /// Horizontal and vertical anchor, each 0.0 (left/top), 0.5 or 1.0 (right/bottom).
    pub fn anchor(self) -> (f64, f64) {
        match self {
            Gravity::Centre => (0.5, 0.5),
            Gravity::North => (0.5, 0.0),
            Gravity::Northeast => (1.0, 0.0),
            Gravity::East => (1.0, 0.5),
            Gravity::Southeast => (1.0, 1.0),
            Gravity::South => (0.5, 1.0),
            Gravity::Southwest => (0.0, 1.0),
            Gravity::West => (0.0, 0.5),
            Gravity::Northwest => (0.0, 0.0),
        }
    }
}

/// The output format a preset asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FormatChoice {
    Jpeg,
    Png,
    Webp,
    /// Chosen per request (WebP when the client accepts it, else JPEG, or PNG for alpha).
    Auto,
    /// The original's format when it can be encoded (JPEG, PNG, WebP), else PNG.
    Source,
}

/// An 8-bit RGBA colour, written `#rgb`, `#rrggbb` or `#rrggbbaa`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Colour(pub [u8; 4]);

impl Colour {
    /// White, the default background.
    pub const WHITE: Colour = Colour([255, 255, 255, 255]);

    /// Parses `#rgb`, `#rrggbb` or `#rrggbbaa`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let hex = s
            .strip_prefix('#')
            .ok_or_else(|| format!("`{s}` is not a colour; write it as #rrggbb or #rrggbbaa"))?;
        let digits: Vec<u8> = hex
            .chars()
            .map(|c| c.to_digit(16).map(|d| d as u8))
            .collect::<Option<_>>()
            .ok_or_else(|| format!("`{s}` has a character that is not a hex digit"))?;
        let pair = |i: usize| digits[i] * 16 + digits[i + 1];
        match digits.len() {
            3 => Ok(Colour([
                digits[0] * 17,
                digits[1] * 17,
                digits[2] * 17,
                255,
            ])),
            6 => Ok(Colour([pair(0), pair(2), pair(4), 255])),
            8 => Ok(Colour([pair(0), pair(2), pair(4), pair(6)])),
            _ => Err(format!(
                "`{s}` is not a colour; write it as #rgb, #rrggbb or #rrggbbaa"
            )),
        }
    }
}

impl fmt::Display for Colour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [r, g, b, a] = self.0;
        write!(f, "#{r:02x}{g:02x}{b:02x}{a:02x}")
    }
}

/// A short hash of everything that determines a preset's output, plus the pipeline version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// The hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A validated preset.
#[derive(Debug, Clone, PartialEq)]
pub struct Preset {
    pub name: PresetName,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub fit: Fit,
    pub gravity: Gravity,
    pub format: FormatChoice,
    pub quality: u8,
    pub background: Colour,
    pub upscale: bool,
    fingerprint: Fingerprint,
}

/// The file as written; every field optional so that validation can name what is wrong.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PresetFile {
    width: Option<i64>,
    height: Option<i64>,
    fit: Option<Fit>,
    gravity: Option<Gravity>,
    format: Option<FormatChoice>,
    quality: Option<i64>,
    background: Option<String>,
    upscale: Option<bool>,
}

impl Preset {
    /// Parses and validates one preset from its TOML text; `path` is only used in errors.
    pub fn parse(name: &str, toml_text: &str, path: &Path) -> Result<Self, PresetError> {
        let name = PresetName::parse(name).map_err(|reason| PresetError::Name {
            path: path.to_owned(),
            reason,
        })?;
        let file: PresetFile = toml::from_str(toml_text).map_err(|e| PresetError::Syntax {
            path: path.to_owned(),
            reason: e.to_string().trim().replace('\n', " "),
        })?;
        let field = |field: &'static str, reason: String| PresetError::Field {
            path: path.to_owned(),
            field,
            reason,
        };
        let side = |name: &'static str, v: Option<i64>| -> Result<Option<u32>, PresetError> {
            match v {
                None => Ok(None),
                Some(v) if (1..=i64::from(MAX_PRESET_SIDE)).contains(&v) => Ok(Some(v as u32)),
                Some(v) => Err(field(
                    name,
                    format!("must be between 1 and {MAX_PRESET_SIDE} pixels (got {v})"),
                )),
            }
        };
        let width = side("width", file.width)?;
        let height = side("height", file.height)?;
        if width.is_none() && height.is_none() {
            return Err(field(
                "width",
                "a preset needs a width, a height, or both".into(),
            ));
        }
        let fit = file.fit.unwrap_or(Fit::Inside);
        if matches!(fit, Fit::Cover | Fit::Contain | Fit::Fill)
            && (width.is_none() || height.is_none())
        {
            return Err(field(
                if width.is_none() { "width" } else { "height" },
                format!("fit = \"{}\" needs both width and height", fit_name(fit)),
            ));
        }
        if file.gravity.is_some() && fit != Fit::Cover {
            return Err(field(
                "gravity",
                format!(
                    "only applies to fit = \"cover\" (this preset has fit = \"{}\")",
                    fit_name(fit)
                ),
            ));
        }
        let quality = match file.quality {
            None => 80,
            Some(q) if (1..=100).contains(&q) => q as u8,
            Some(q) => {
                return Err(field(
                    "quality",
                    format!("must be between 1 and 100 (got {q})"),
                ));
            }
        };
        let background = match file.background.as_deref() {
            None => Colour::WHITE,
            Some(s) => Colour::parse(s).map_err(|reason| field("background", reason))?,
        };
        let mut preset = Preset {
            name,
            width,
            height,
            fit,
            gravity: file.gravity.unwrap_or(Gravity::Centre),
            format: file.format.unwrap_or(FormatChoice::Auto),
            quality,
            background,
            // `cover` and `fill` promise the box (a layout slot, a social card of a required
            // size); `inside` and `contain` promise at most the box, so never enlarge unasked.
            upscale: file
                .upscale
                .unwrap_or(matches!(fit, Fit::Cover | Fit::Fill)),
            fingerprint: Fingerprint(String::new()),
        };
        preset.fingerprint = preset.compute_fingerprint();
        Ok(preset)
    }

    /// Reads and validates one preset file; its name is the file stem.
    pub fn load(path: &Path) -> Result<Self, PresetError> {
        let text = std::fs::read_to_string(path).map_err(|source| PresetError::Io {
            path: path.to_owned(),
            source,
        })?;
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .ok_or_else(|| PresetError::Name {
                path: path.to_owned(),
                reason: "the file name is not valid UTF-8".into(),
            })?;
        Self::parse(stem, &text, path)
    }

    /// The fingerprint: changes exactly when the output would.
    pub fn fingerprint(&self) -> &Fingerprint {
        &self.fingerprint
    }

    /// The canonical definition hashed into the fingerprint. Fields that cannot change the
    /// output for this preset (gravity outside `cover`) are left out.
    fn canonical(&self) -> String {
        let side = |v: Option<u32>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
        let gravity = if self.fit == Fit::Cover {
            format!("{:?}", self.gravity).to_lowercase()
        } else {
            "-".into()
        };
        format!(
            "pipeline={PIPELINE_VERSION};w={};h={};fit={};gravity={gravity};format={:?};q={};bg={};upscale={}",
            side(self.width),
            side(self.height),
            fit_name(self.fit),
            self.format,
            self.quality,
            self.background,
            self.upscale
        )
    }

    fn compute_fingerprint(&self) -> Fingerprint {
        let hash = blake3::hash(self.canonical().as_bytes());
        Fingerprint(hash.to_hex()[..12].to_owned())
    }

    /// One line saying what the preset does, e.g. `inside 320x320, jpeg q80`.
    pub fn summary(&self) -> String {
        let side = |v: Option<u32>| v.map_or_else(|| "auto".to_owned(), |v| v.to_string());
        let mut s = format!(
            "{} {}x{}",
            fit_name(self.fit),
            side(self.width),
            side(self.height)
        );
        if self.fit == Fit::Cover && self.gravity != Gravity::Centre {
            s.push_str(&format!(" ({:?})", self.gravity).to_lowercase());
        }
        s.push_str(&format!(", {:?} q{}", self.format, self.quality).to_lowercase());
        if self.upscale {
            s.push_str(", upscale");
        }
        s
    }
}

/// The name a fit is written with in preset files.
pub fn fit_name(fit: Fit) -> &'static str {
    match fit {
        Fit::Cover => "cover",
        Fit::Contain => "contain",
        Fit::Inside => "inside",
        Fit::Fill => "fill",
    }
}

/// Every loaded preset, by name.
#[derive(Debug, Clone, Default)]
pub struct Presets {
    by_name: BTreeMap<PresetName, Preset>,
}

impl Presets {
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
        Ok(Self { by_name })
    }

    /// The preset with this name, if any.
    pub fn get(&self, name: &str) -> Option<&Preset> {
        PresetName::parse(name)
            .ok()
            .and_then(|n| self.by_name.get(&n))
    }

    /// All presets in name order.
    pub fn iter(&self) -> impl Iterator<Item = &Preset> {
        self.by_name.values()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Preset, PresetError> {
        Preset::parse("p", text, Path::new("presets/p.toml"))
    }

    #[test]
    fn fingerprint_ignores_formatting_and_key_order() {
        let a = parse("width = 320\nheight = 320\nformat = \"jpeg\"\nquality = 80").unwrap();
        let b = parse("# comment\nquality=80\n\nformat='jpeg'\nheight = 320\nwidth=320\n").unwrap();
        assert_eq!(a.fingerprint(), b.fingerprint());
        // Writing a default explicitly does not change what the preset produces.
        let c = parse("width = 320\nheight = 320\nformat = \"jpeg\"\nquality = 80\nfit = \"inside\"\nupscale = false").unwrap();
        assert_eq!(a.fingerprint(), c.fingerprint());
    }

    #[test]
    fn fingerprint_changes_with_every_output_field() {
        let base = "width = 320\nheight = 320\nformat = \"jpeg\"\nquality = 80\nfit = \"cover\"";
        let fp = parse(base).unwrap().fingerprint().clone();
        for changed in [
            "width = 321\nheight = 320\nformat = \"jpeg\"\nquality = 80\nfit = \"cover\"",
            "width = 320\nheight = 300\nformat = \"jpeg\"\nquality = 80\nfit = \"cover\"",
            "width = 320\nheight = 320\nformat = \"png\"\nquality = 80\nfit = \"cover\"",
            "width = 320\nheight = 320\nformat = \"jpeg\"\nquality = 81\nfit = \"cover\"",
            "width = 320\nheight = 320\nformat = \"jpeg\"\nquality = 80\nfit = \"fill\"",
            "width = 320\nheight = 320\nformat = \"jpeg\"\nquality = 80\nfit = \"cover\"\ngravity = \"north\"",
            "width = 320\nheight = 320\nformat = \"jpeg\"\nquality = 80\nfit = \"cover\"\nbackground = \"#000\"",
            "width = 320\nheight = 320\nformat = \"jpeg\"\nquality = 80\nfit = \"cover\"\nupscale = false",
        ] {
            assert_ne!(&fp, parse(changed).unwrap().fingerprint(), "{changed}");
        }
    }

    #[test]
    fn colours() {
        assert_eq!(Colour::parse("#fff").unwrap(), Colour::WHITE);
        assert_eq!(Colour::parse("#102030").unwrap(), Colour([16, 32, 48, 255]));
        assert_eq!(Colour::parse("#10203000").unwrap(), Colour([16, 32, 48, 0]));
        assert!(Colour::parse("red").is_err());
        assert!(Colour::parse("#12345").is_err());
        assert!(Colour::parse("#ggg").is_err());
    }
}
