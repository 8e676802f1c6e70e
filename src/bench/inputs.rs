//! `thumbkit bench --inputs jpeg,png,webp,avif,gif,tiff`: the format matrix. Each `--images`
//! photo is saved as a lossless master at 2040 px (like the DIV2K set, what an app stores
//! after its own resize) and at full size, then in each format (by thumbkit's own encoders,
//! or libvips' for GIF and TIFF), and the comparison runs on those files: every tool reads
//! the same bytes, and each is scored against the master.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::compare::Input;
use crate::pipeline::{Limits, OutputFormat};

/// The formats thumbkit saves the matrix in, with the quality each is saved at: the peers'
/// common settings (JPEG q90, WebP q75, AVIF q60; PNG is lossless).
const SAVED: [(&str, &str); 4] = [
    ("jpeg", "90"),
    ("png", "90"),
    ("webp", "{ jpeg = 75, webp = 75 }"),
    ("avif", "{ jpeg = 60, avif = 60 }"),
];

/// The formats thumbkit reads but does not write, saved by libvips (`vips copy`): GIF
/// (256 colours, dithered) and TIFF (uncompressed, as scanners write it).
const BY_VIPS: [(&str, &str); 2] = [("gif", "gif"), ("tiff", "tif")];

/// The two sizes: the long side at 2040 px, and the photo as it is.
const SIZES: [(&str, u32); 2] = [("2k", 2040), ("full", 10_000)];

/// How one format of the matrix is made.
#[derive(Clone, Copy)]
enum Maker {
    /// thumbkit's own encoder at this quality.
    Thumbkit(&'static str, &'static str),
    /// `vips copy` to this extension.
    Vips(&'static str),
}

/// The maker of each asked format, or a one-line refusal.
fn makers(formats: &[String]) -> Result<Vec<Maker>, String> {
    formats
        .iter()
        .map(|f| {
            let name = f.trim().to_ascii_lowercase();
            let name = match name.as_str() {
                "jpg" => "jpeg",
                "tif" => "tiff",
                other => other,
            };
            if let Some((n, q)) = SAVED.iter().find(|(n, _)| *n == name) {
                return Ok(Maker::Thumbkit(n, q));
            }
            if let Some((_, ext)) = BY_VIPS.iter().find(|(n, _)| *n == name) {
                return Ok(Maker::Vips(ext));
            }
            Err(format!(
                "--inputs: cannot make `{f}` (jpeg, png, webp, avif, gif, tiff; HEIC needs an \
                 HEVC encoder, and Debian's is GPL x265: pass a HEIC photo with --images)"
            ))
        })
        .collect()
}

/// Writes every photo of `images` in each of `formats` at both sizes into `dir`, each from
/// a lossless PNG master of that size (made first, and the reference its PSNR is measured
/// against); photo by photo, 2 K before full size.
pub(super) fn make(
    images: &[PathBuf],
    formats: &[String],
    limits: &Limits,
    dir: &Path,
) -> Result<Vec<Input>, String> {
    let makers = makers(formats)?;
    // Made by `thumbkit render` in child processes: a worker's peak RSS, as the kernel
    // reports it, includes its parent's, which encoding full-size AVIFs here would inflate.
    let maker = Render::new(dir, limits)?;
    let mut made = Vec::new();
    for image in images {
        let stem = image
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("image");
        for (size, side) in SIZES {
            let master = dir.join(format!("{stem}-{size}-master.png"));
            maker.render(image, &master, "png", "90", side)?;
            for m in &makers {
                let file = match *m {
                    Maker::Thumbkit(format, quality) => {
                        let out = OutputFormat::parse(format).ok_or("a format thumbkit writes")?;
                        let file = dir.join(format!("{stem}-{size}.{}", out.extension()));
                        maker.render(&master, &file, format, quality, side)?;
                        file
                    }
                    Maker::Vips(ext) => {
                        let file = dir.join(format!("{stem}-{size}.{ext}"));
                        vips_copy(&master, &file)?;
                        file
                    }
                };
                made.push(Input {
                    file,
                    master: master.clone(),
                });
            }
        }
    }
    Ok(made)
}

/// `vips copy from to`: libvips saves by the extension.
fn vips_copy(from: &Path, to: &Path) -> Result<(), String> {
    let done = Command::new("vips")
        .arg("copy")
        .arg(from)
        .arg(to)
        .output()
        .map_err(|_| "vips not found: install Debian's libvips-tools (`make deps`)".to_owned())?;
    if !done.status.success() {
        return Err(String::from_utf8_lossy(&done.stderr).trim().to_owned());
    }
    Ok(())
}

/// Child `thumbkit render`s with one-off presets written into `dir/presets`.
struct Render {
    exe: PathBuf,
    presets: PathBuf,
    limits: Vec<String>,
}

impl Render {
    fn new(dir: &Path, limits: &Limits) -> Result<Self, String> {
        let presets = dir.join("presets");
        std::fs::create_dir_all(&presets).map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(Self {
            exe: std::env::current_exe().map_err(|e| e.to_string())?,
            presets,
            limits: vec![
                format!("--max-input-bytes={}", limits.max_input_bytes),
                format!("--max-pixels={}", limits.max_pixels),
                format!("--max-output-side={}", limits.max_output_side),
            ],
        })
    }

    /// Saves `from` as `format` at `quality`, its long side at most `side`, into `to`.
    fn render(
        &self,
        from: &Path,
        to: &Path,
        format: &str,
        quality: &str,
        side: u32,
    ) -> Result<(), String> {
        let name = format!("made-{side}-{format}");
        let toml =
            format!("width = {side}\nheight = {side}\nformat = \"{format}\"\nquality = {quality}");
        let file = self.presets.join(format!("{name}.toml"));
        std::fs::write(&file, toml).map_err(|e| format!("{}: {e}", file.display()))?;
        let done = Command::new(&self.exe)
            .args(["render", "--preset", &name, "--preset-files"])
            .arg(&self.presets)
            .args(&self.limits)
            .arg("-o")
            .arg(to)
            .arg(from)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.exe.display()))?;
        if !done.status.success() {
            return Err(String::from_utf8_lossy(&done.stderr).trim().to_owned());
        }
        Ok(())
    }
}
