//! `thumbkit bench --inputs jpeg,png,webp,avif`: the format matrix. Each `--images` photo is
//! saved in each format, at 2040 px (like the DIV2K set, what an app stores after its own
//! resize) and at full size, by thumbkit's own encoders, and the comparison runs on those
//! files: every tool reads the same bytes.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::pipeline::{Limits, OutputFormat};

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
    // Made by `thumbkit render` in child processes: a worker's peak RSS, as the kernel
    // reports it, includes its parent's, which encoding full-size AVIFs here would inflate.
    let preset_dir = dir.join("presets");
    std::fs::create_dir_all(&preset_dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut made = Vec::new();
    for image in images {
        let stem = image
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("image");
        for (size, side) in SIZES {
            for (format, quality) in &chosen {
                let name = format!("made-{size}-{format}");
                let toml = format!(
                    "width = {side}\nheight = {side}\nformat = \"{format}\"\nquality = {quality}"
                );
                let file = preset_dir.join(format!("{name}.toml"));
                std::fs::write(&file, toml).map_err(|e| format!("{}: {e}", file.display()))?;
                let out = OutputFormat::parse(format).ok_or("a format thumbkit writes")?;
                let path = dir.join(format!("{stem}-{size}.{}", out.extension()));
                let done = Command::new(&exe)
                    .args(["render", "--preset", &name, "--preset-files"])
                    .arg(&preset_dir)
                    .args(limit_flags(limits))
                    .arg("-o")
                    .arg(&path)
                    .arg(image)
                    .output()
                    .map_err(|e| format!("cannot run {}: {e}", exe.display()))?;
                if !done.status.success() {
                    return Err(String::from_utf8_lossy(&done.stderr).trim().to_owned());
                }
                made.push(path);
            }
        }
    }
    Ok(made)
}

/// The flags that give a child `thumbkit render` these limits.
fn limit_flags(limits: &Limits) -> Vec<String> {
    vec![
        format!("--max-input-bytes={}", limits.max_input_bytes),
        format!("--max-pixels={}", limits.max_pixels),
        format!("--max-output-side={}", limits.max_output_side),
    ]
}
