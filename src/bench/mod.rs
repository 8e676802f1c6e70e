//! `thumbkit bench`: a preset's renders (Task A by default: `thumb`, fit inside 320x320,
//! JPEG q80, no metadata) by thumbkit, by libvips' `vipsthumbnail` and by sharp in the same
//! run, in interleaved rounds, with 1..N worker processes.
//!
//! Each worker is a separate process handling one image at a time (`thumbkit bench-worker`,
//! `vipsthumbnail` in batch mode with `VIPS_CONCURRENCY=1`, sharp in one node process with
//! `concurrency(1)`), so peak RSS per worker comes from the kernel (`wait4`) and every tool
//! is measured the same way. Quality is PSNR of each tool's output against a full-resolution
//! Lanczos3 reference in sRGB made from the image's lossless master, alpha flattened on the
//! preset's background on every side.

use std::path::{Path, PathBuf};

mod compare;
mod formats;
mod inputs;
mod pregen;
mod quality;
mod sharpen;
mod tools;

pub use quality::{Reference, median, psnr, reference};

use crate::pipeline::{self, Limits, OutputFormat};
use crate::preset::{Preset, Presets};

/// What `--images` is when not given: photos of the repository's `fixtures/`.
const DEFAULT_IMAGES: [&str; 2] = [
    "fixtures/2569067123_aca715a2ee_o.jpg",
    "fixtures/IMG_9424.JPG",
];

/// Options of `thumbkit bench`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Images to render, in any format thumbkit reads [default:
    /// fixtures/2569067123_aca715a2ee_o.jpg,fixtures/IMG_9424.JPG, run from the repository].
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    images: Vec<PathBuf>,
    /// Rounds per configuration; the median is reported.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Images per round (split across the workers).
    #[arg(long, default_value_t = 24)]
    batch: usize,
    /// Worker counts to run.
    #[arg(long, value_delimiter = ',', num_args = 1.., default_values_t = [1usize, 2])]
    workers: Vec<usize>,
    /// The preset (Task A is `thumb`); vipsthumbnail is given its box, crop, format and
    /// quality (a `contain` preset is not padded by vipsthumbnail).
    #[arg(long, default_value = "thumb")]
    preset: String,
    /// Instead of the comparison, print PSNR and time for each shrink-on-load margin.
    #[arg(long)]
    margins: bool,
    /// Instead of the comparison, time every shipped preset's variants from one decode
    /// against one `large` render and against rendering each variant alone.
    #[arg(long)]
    pregen: bool,
    /// Instead of the comparison, print the PSNR of each of these outputs of `--preset`
    /// (any tool, any format) against a full-resolution Lanczos3 reference made from the
    /// first image.
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    psnr_of: Vec<PathBuf>,
    /// Instead of the comparison, encode `--preset` as JPEG at each `--jpeg-quality` and find
    /// the WebP and AVIF (per speed) of equal SSIMULACRA2, with bytes and encode time.
    #[arg(long)]
    formats: bool,
    /// The JPEG qualities `--formats` matches.
    #[arg(long, value_delimiter = ',', num_args = 1.., default_values_t = [80u8])]
    jpeg_quality: Vec<u8>,
    /// The format matrix: each `--images` photo saved as each of these (jpeg, png, webp,
    /// avif) at 2040 px and at full size, and the comparison run on those files.
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    inputs: Vec<String>,
    /// The directory of sharp's benchmark worker (`worker.mjs`, with sharp installed in its
    /// `node_modules` by `make bench`); sharp is left out, saying why, when it is missing.
    #[arg(long, default_value = "benches/sharp")]
    sharp: PathBuf,
    /// Instead of the comparison, score `--preset` rendered with each of these `sharpen`
    /// sigmas (0: none) against a full-resolution reference (SSIMULACRA2 and PSNR).
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    sharpen: Vec<f32>,
    /// The libaom speeds `--formats` measures AVIF at.
    #[arg(long, value_delimiter = ',', num_args = 1.., default_values_t = [6u8, 7, 8, 9])]
    avif_speeds: Vec<u8>,
}

impl Args {
    /// What the comparison needs of these options.
    fn rounds(&self) -> compare::Rounds {
        compare::Rounds {
            rounds: self.rounds,
            batch: self.batch,
            workers: self.workers.clone(),
            sharp: self.sharp.clone(),
        }
    }

    /// `--images`, or the repository's photos, each checked to exist (a missing default is
    /// explained: it is relative to the repository).
    fn images(&self) -> Result<Vec<PathBuf>, String> {
        if !self.images.is_empty() {
            return Ok(self.images.clone());
        }
        let defaults: Vec<PathBuf> = DEFAULT_IMAGES.iter().map(PathBuf::from).collect();
        if let Some(missing) = defaults.iter().find(|p| !p.is_file()) {
            return Err(format!(
                "{}: not found; the default images are the repository's fixtures: run from the repository root or pass --images FILE[,FILE...]",
                missing.display()
            ));
        }
        Ok(defaults)
    }
}

/// Runs the comparison and prints the table.
pub fn run(
    args: &Args,
    presets: &Presets,
    preset_files: &[PathBuf],
    limits: &Limits,
) -> Result<(), String> {
    let images = args.images()?;
    let preset = presets
        .get(&args.preset)
        .ok_or_else(|| format!("no preset named `{}`", args.preset))?;
    if args.margins {
        return quality::margins(&images, args.rounds, preset, limits);
    }
    if !args.sharpen.is_empty() {
        return sharpen::run(&images, preset, limits, &args.sharpen);
    }
    if !args.psnr_of.is_empty() {
        let original = images.first().ok_or("no --images given")?;
        return quality::print_psnr(original, &args.psnr_of, preset, limits);
    }
    if args.formats {
        return formats::run(
            &images,
            args.rounds,
            preset,
            limits,
            &args.jpeg_quality,
            &args.avif_speeds,
        );
    }
    if args.pregen {
        return pregen::run(&images, args.rounds, presets, limits, &args.sharp);
    }
    if args.inputs.is_empty() {
        let inputs: Vec<compare::Input> = images
            .iter()
            .map(|file| compare::Input {
                file: file.clone(),
                master: file.clone(),
            })
            .collect();
        return compare::compare(&args.rounds(), &inputs, preset, preset_files, limits);
    }
    let dir = std::env::temp_dir().join(format!("thumbkit-bench-inputs-{}", std::process::id()));
    let result = inputs::make(&images, &args.inputs, limits, &dir)
        .and_then(|made| compare::compare(&args.rounds(), &made, preset, preset_files, limits));
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// One benchmark worker: renders each file and writes `<stem>.<ext>` into `out_dir`.
pub fn worker(
    preset: &Preset,
    limits: &Limits,
    out_dir: &Path,
    files: &[PathBuf],
) -> Result<(), String> {
    for file in files {
        let bytes = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
        let source =
            pipeline::probe(&bytes, limits).map_err(|e| format!("{}: {e}", file.display()))?;
        let format = OutputFormat::resolve(&preset.spec, &source, &[]);
        let out = pipeline::render(&bytes, &preset.spec, format, limits)
            .map_err(|e| format!("{}: {e}", file.display()))?;
        let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("image");
        let path = out_dir.join(format!("{stem}.{}", format.extension()));
        std::fs::write(&path, &out.bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}
