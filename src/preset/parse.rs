//! A preset file becomes a validated [`Preset`] here, and only here, with the fingerprint
//! of everything that determines its output.

use std::path::Path;

use crate::pipeline::version::PIPELINE_VERSION;
use crate::pipeline::{Spec, Subject};
use crate::preset::error::PresetError;
use crate::preset::file::{self, PresetFile, QualityFile};
use crate::preset::steps::Steps;
use crate::preset::terms::{
    Animation, Colour, Fingerprint, Fit, FormatChoice, Gravity, PresetName, Quality, fit_name,
};
use crate::preset::{MAX_PRESET_SIDE, Preset, effects, operations};

/// What a preset asks of its output format, checked together.
#[derive(Clone, Copy)]
struct Output {
    format: FormatChoice,
    lossless: bool,
    animation: Animation,
    fit: Fit,
    background: Colour,
}

/// A field's error in `path`.
fn field_error(path: &Path, field: &'static str, reason: String) -> PresetError {
    PresetError::Field {
        path: path.to_owned(),
        field,
        reason,
    }
}

/// `quality` as written: one number (JPEG's, the others at the same perceived quality), or
/// one per format, unnamed ones following JPEG's.
fn quality_of(given: Option<QualityFile>, path: &Path) -> Result<Quality, PresetError> {
    let one = |q: i64| -> Result<u8, PresetError> {
        u8::try_from(q)
            .ok()
            .filter(|q| (1..=100).contains(q))
            .ok_or_else(|| {
                field_error(
                    path,
                    "quality",
                    format!("must be between 1 and 100 (got {q})"),
                )
            })
    };
    Ok(match given {
        None => Quality::like_jpeg(80),
        Some(QualityFile::One(q)) => Quality::like_jpeg(one(q)?),
        Some(QualityFile::Each { jpeg, webp, avif }) => {
            let base = Quality::like_jpeg(jpeg.map(one).transpose()?.unwrap_or(80));
            Quality {
                jpeg: base.jpeg,
                webp: webp.map(one).transpose()?.unwrap_or(base.webp),
                avif: avif.map(one).transpose()?.unwrap_or(base.avif),
            }
        }
    })
}

/// Refuses what the output format cannot hold, here rather than dropped in silence at render
/// time: lossless outside WebP, an animation or a transparent padding in a JPEG.
fn check_format(out: Output, path: &Path) -> Result<(), PresetError> {
    let jpeg = out.format == FormatChoice::Jpeg;
    let not_webp = matches!(
        out.format,
        FormatChoice::Jpeg | FormatChoice::Avif | FormatChoice::Png
    );
    if out.lossless && not_webp {
        return Err(field_error(
            path,
            "lossless",
            "applies to WebP outputs (format = \"webp\", \"auto\" or \"source\")".into(),
        ));
    }
    if jpeg && out.animation == Animation::Keep {
        return Err(field_error(
            path,
            "animation",
            "\"keep\" needs a format that animates (format = \"webp\" or \"auto\"); \
             a JPEG is one frame"
                .into(),
        ));
    }
    if jpeg && out.fit == Fit::Contain && out.background.0[3] < 255 {
        return Err(field_error(
            path,
            "background",
            "is transparent, but a JPEG has no transparency: the padding would be \
             flattened; give an opaque colour, or format = \"png\", \"webp\" or \"auto\""
                .into(),
        ));
    }
    Ok(())
}

/// An error in `field` of the preset file at `path`.
fn field(path: &Path, field: &'static str, reason: String) -> PresetError {
    PresetError::Field {
        path: path.to_owned(),
        field,
        reason,
    }
}

/// A `width` or `height` as written: absent, or 1 to `MAX_PRESET_SIDE` pixels.
fn side(path: &Path, name: &'static str, v: Option<i64>) -> Result<Option<u32>, PresetError> {
    match v {
        None => Ok(None),
        Some(v) if (1..=i64::from(MAX_PRESET_SIDE)).contains(&v) => Ok(Some(v as u32)),
        Some(v) => Err(field(
            path,
            name,
            format!("must be between 1 and {MAX_PRESET_SIDE} pixels (got {v})"),
        )),
    }
}

/// `sizes` goes with a width ladder and is a media-condition list; client hints need steps.
fn check_responsive(file: &PresetFile, steps: &Steps, path: &Path) -> Result<(), PresetError> {
    if file.sizes.is_some() && !steps.by_width() {
        let reason = "goes with a width ladder (`widths = [...]`)";
        return Err(field(path, "sizes", reason.into()));
    }
    if let Some(sizes) = &file.sizes
        && (sizes.trim().is_empty() || sizes.chars().any(|c| c.is_control() || c == '"'))
    {
        let reason = "must be a media-condition list such as \"(max-width: 600px) 100vw, 50vw\"";
        return Err(field(path, "sizes", reason.into()));
    }
    if file.client_hints == Some(true) && *steps == Steps::One {
        let reason = "needs steps to choose from (`densities` or `widths`)";
        return Err(field(path, "client_hints", reason.into()));
    }
    Ok(())
}

/// What a render of the preset needs, checked: a box the fit can use, a gravity only for
/// `cover`, and a format that can hold what the preset asks of it.
fn spec_of(
    file: &mut PresetFile,
    width: Option<u32>,
    height: Option<u32>,
    path: &Path,
) -> Result<Spec, PresetError> {
    if width.is_none() && height.is_none() {
        let reason = "a preset needs a width, a height, or both";
        return Err(field(path, "width", reason.into()));
    }
    let fit = file.fit.unwrap_or(Fit::Inside);
    if matches!(fit, Fit::Cover | Fit::Contain | Fit::Fill) && (width.is_none() || height.is_none())
    {
        let reason = format!("fit = \"{}\" needs both width and height", fit_name(fit));
        return Err(field(
            path,
            if width.is_none() { "width" } else { "height" },
            reason,
        ));
    }
    if file.gravity.is_some() && fit != Fit::Cover {
        let reason = format!(
            "only applies to fit = \"cover\" (this preset has fit = \"{}\")",
            fit_name(fit)
        );
        return Err(field(path, "gravity", reason));
    }
    let background = match file.background.as_deref() {
        None => Colour::WHITE,
        Some(s) => Colour::parse(s).map_err(|reason| field(path, "background", reason))?,
    };
    let out = Output {
        format: file.format.unwrap_or(FormatChoice::Auto),
        lossless: file.lossless.unwrap_or(false),
        animation: file.animation.unwrap_or(Animation::FirstFrame),
        fit,
        background,
    };
    check_format(out, path)?;
    let mut spec = Spec {
        width,
        height,
        fit,
        gravity: file.gravity.unwrap_or(Gravity::Centre),
        format: out.format,
        quality: quality_of(file.quality.take(), path)?,
        lossless: out.lossless,
        animation: out.animation,
        background,
        // `cover` and `fill` promise the box (a layout slot, a social card of a required
        // size); `inside` and `contain` promise at most the box, so never enlarge unasked.
        upscale: file
            .upscale
            .unwrap_or(matches!(fit, Fit::Cover | Fit::Fill)),
        subject: Subject::Unknown,
        effects: effects::of(file, path)?,
        trim: None,
        mask: None,
        watermark: None,
        max_bytes: None,
        page: None,
    };
    operations::apply(file, path, &mut spec)?;
    Ok(spec)
}

impl Preset {
    /// Parses and validates one preset from its TOML text; `path` is only used in errors.
    pub fn parse(name: &str, toml_text: &str, path: &Path) -> Result<Self, PresetError> {
        let name = PresetName::parse(name).map_err(|reason| PresetError::Name {
            path: path.to_owned(),
            reason,
        })?;
        let mut file = file::read(toml_text, path)?;
        let height = side(path, "height", file.height)?;
        let given_width = side(path, "width", file.width)?;
        let steps = Steps::parse(
            file.densities.take(),
            file.widths.take(),
            given_width,
            height,
        )
        .map_err(|(name, reason)| field(path, name, reason))?;
        check_responsive(&file, &steps, path)?;
        let spec = spec_of(&mut file, given_width.or(steps.first_width()), height, path)?;
        let mut preset = Preset {
            name,
            spec,
            steps,
            sizes: file.sizes,
            client_hints: file.client_hints.unwrap_or(false),
            // Relative to the preset's own folder, so a preset and its image move together.
            fallback: file
                .fallback
                .map(|f| path.parent().unwrap_or(Path::new(".")).join(f)),
            step_of: None,
            sources: file.sources.take(),
            fingerprint: Fingerprint(String::new()),
        };
        preset.refingerprint();
        Ok(preset)
    }

    /// Recomputes the fingerprint after the box changed (a step of this preset).
    pub(crate) fn refingerprint(&mut self) {
        self.fingerprint = self.compute_fingerprint();
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
        let preset = Self::parse(stem, &text, path)?;
        if let Some(fallback) = &preset.fallback
            && !fallback.is_file()
        {
            return Err(PresetError::Field {
                path: path.to_owned(),
                field: "fallback",
                reason: format!("{} is not a file", fallback.display()),
            });
        }
        Ok(preset)
    }

    /// The fingerprint: changes exactly when the output would.
    pub fn fingerprint(&self) -> &Fingerprint {
        &self.fingerprint
    }

    /// The canonical definition hashed into the fingerprint. Fields that cannot change the
    /// output for this preset (gravity outside `cover`) are left out.
    fn canonical(&self) -> String {
        let side = |v: Option<u32>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
        let gravity = if self.spec.fit == Fit::Cover {
            format!("{:?}", self.spec.gravity).to_lowercase()
        } else {
            "-".into()
        };
        let q = self.spec.quality;
        format!(
            "pipeline={PIPELINE_VERSION};w={};h={};fit={};gravity={gravity};format={:?};q={}/{}/{};lossless={};animation={:?};bg={};upscale={}",
            side(self.spec.width),
            side(self.spec.height),
            fit_name(self.spec.fit),
            self.spec.format,
            q.jpeg,
            q.webp,
            q.avif,
            self.spec.lossless,
            self.spec.animation,
            self.spec.background,
            self.spec.upscale
        ) + &effects::canonical(&self.spec.effects)
            + &operations::canonical(&self.spec)
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
            fit_name(self.spec.fit),
            side(self.spec.width),
            side(self.spec.height)
        );
        if self.spec.fit == Fit::Cover && self.spec.gravity != Gravity::Centre {
            s.push_str(&format!(" ({:?})", self.spec.gravity).to_lowercase());
        }
        let q = self.spec.quality;
        let quality = match self.spec.format {
            FormatChoice::Jpeg => format!("q{}", q.jpeg),
            FormatChoice::Webp if self.spec.lossless => "lossless".into(),
            FormatChoice::Webp => format!("q{}", q.webp),
            FormatChoice::Avif => format!("q{}", q.avif),
            FormatChoice::Png => "lossless".into(),
            _ => format!("q{}/{}/{}", q.jpeg, q.webp, q.avif),
        };
        s.push_str(&format!(", {:?} {quality}", self.spec.format).to_lowercase());
        if self.spec.animation == Animation::Keep {
            s.push_str(", animated");
        }
        s += &(effects::summary(&self.spec.effects) + &operations::summary(&self.spec));
        if self.spec.upscale {
            s.push_str(", upscale");
        }
        s
    }
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
            "width = 320\nheight = 320\nformat = \"jpeg\"\nquality = { jpeg = 80, avif = 40 }\nfit = \"cover\"",
        ] {
            assert_ne!(&fp, parse(changed).unwrap().fingerprint(), "{changed}");
        }
        // (A JPEG is one frame, so `animation` is compared on WebP.)
        let still = parse("width = 320\nformat = \"webp\"").unwrap();
        let moving = parse("width = 320\nformat = \"webp\"\nanimation = \"keep\"").unwrap();
        assert_ne!(still.fingerprint(), moving.fingerprint());
    }

    #[test]
    fn quality_per_format() {
        let one = parse("width = 100\nquality = 80").unwrap().spec.quality;
        assert_eq!(one, Quality::like_jpeg(80));
        let each = parse("width = 100\nquality = { jpeg = 70, avif = 50 }")
            .unwrap()
            .spec
            .quality;
        assert_eq!(
            (each.jpeg, each.webp, each.avif),
            (70, Quality::like_jpeg(70).webp, 50)
        );
        for bad in [
            "quality = 0",
            "quality = { webp = 101 }",
            "quality = { gif = 5 }",
            "quality = \"high\"",
        ] {
            assert!(parse(&format!("width = 100\n{bad}")).is_err(), "{bad}");
        }
        // The mapping is monotonic and stays in range.
        let mut last = Quality::like_jpeg(1);
        for q in 1..=100 {
            let now = Quality::like_jpeg(q);
            assert!(
                now.webp >= last.webp && now.avif >= last.avif && now.avif >= 1,
                "{q}"
            );
            last = now;
        }
        assert_eq!((last.webp, last.avif), (100, 100));
        assert!(parse("width = 100\nformat = \"jpeg\"\nlossless = true").is_err());
    }
}
