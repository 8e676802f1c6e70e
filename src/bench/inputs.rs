//! `thumbkit bench --inputs jpeg,png,webp,avif`: the format matrix. Each `--images` photo is
//! saved in each format, at 2040 px (like the DIV2K set, what an app stores after its own
//! resize) and at full size, by thumbkit's own encoders, and the comparison runs on those
//! files: every tool reads the same bytes.

use std::path::{Path, PathBuf};

use crate::pipeline::{self, Limits, OutputFormat};
use crate::preset::Preset;

/// The formats the matrix can be made in (those thumbkit writes), with the quality each is
/// saved at: the peers' common settings (JPEG q90, WebP q75, AVIF q60; PNG is lossless).
const MADE: [(&str, &str); 4] = [
    ("jpeg", "90"),
    ("png", "90"),
    ("webp", "{ jpeg = 75, webp = 75 }"),
    ("avif", "{ jpeg = 60, avif = 60 }"),
];

/// The two sizes: the long side at 2040 px, and the photo as it is.
const SIZES: [(&str, u32); 2] = [("2k", 2040), ("full", 10_000)];

/// Writes every photo of `images` in each of `formats` at both sizes into `dir`; the paths,
/// photo by photo, 2 K before full size.
pub(super) fn make(
    images: &[PathBuf],
    formats: &[String],
    limits: &Limits,
    dir: &Path,
) -> Result<Vec<PathBuf>, String> {
    let chosen = formats
        .iter()
        .map(|f| {
            let name = f.trim().to_ascii_lowercase();
            MADE.iter()
                .find(|(n, _)| *n == name || (name == "jpg" && *n == "jpeg"))
                .copied()
                .ok_or_else(|| {
                    format!(
                        "--inputs: thumbkit cannot save `{f}` (it writes jpeg, png, webp, avif); \
                         pass files in other formats with --images"
                    )
                })
        })
        .collect::<Result<Vec<_>, String>>()?;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut made = Vec::new();
    for image in images {
        let bytes = std::fs::read(image).map_err(|e| format!("{}: {e}", image.display()))?;
        let stem = image
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("image");
        for (size, side) in SIZES {
            for (format, quality) in &chosen {
                let toml = format!(
                    "width = {side}\nheight = {side}\nformat = \"{format}\"\nquality = {quality}"
                );
                let preset = Preset::parse("made", &toml, Path::new("--inputs"))
                    .map_err(|e| format!("--inputs {format}: {e}"))?;
                let out = OutputFormat::parse(format).ok_or("a format thumbkit writes")?;
                let rendered = pipeline::render(&bytes, &preset.spec, out, limits)
                    .map_err(|e| format!("{}: {e}", image.display()))?;
                let path = dir.join(format!("{stem}-{size}.{}", out.extension()));
                std::fs::write(&path, &rendered.bytes)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                made.push(path);
            }
        }
    }
    Ok(made)
}
