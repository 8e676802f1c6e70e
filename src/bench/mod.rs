//! `thumbkit bench`: a preset's renders (Task A by default: `thumb`, fit inside 320x320,
//! JPEG q80, no metadata) by thumbkit and by libvips' `vipsthumbnail` in the same run, in
//! interleaved rounds, with 1..N worker processes.
//!
//! Each worker is a separate process handling one image at a time (`vipsthumbnail` in batch
//! mode with `VIPS_CONCURRENCY=1`, `thumbkit bench-worker`), so peak RSS per worker comes from
//! the kernel (`wait4`) and both tools are measured the same way. Quality is PSNR of each
//! tool's output against a full-resolution Lanczos3 reference in sRGB, alpha flattened on
//! the preset's background on both sides.

use std::path::{Path, PathBuf};
use std::process::Command;

mod formats;
mod inputs;
mod pregen;
mod quality;
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
    /// The libaom speeds `--formats` measures AVIF at.
    #[arg(long, value_delimiter = ',', num_args = 1.., default_values_t = [6u8, 7, 8, 9])]
    avif_speeds: Vec<u8>,
}

impl Args {
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

/// One tool's figures for one photo and worker count.
struct Figures {
    images_per_s: f64,
    peak_rss_mib: f64,
    out_bytes: u64,
    /// The output's width and height.
    size: (u32, u32),
    psnr: f64,
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
        return pregen::run(&images, args.rounds, presets, limits);
    }
    if args.inputs.is_empty() {
        return compare(args, &images, preset, preset_files, limits);
    }
    let dir = std::env::temp_dir().join(format!("thumbkit-bench-inputs-{}", std::process::id()));
    let result = inputs::make(&images, &args.inputs, limits, &dir)
        .and_then(|made| compare(args, &made, preset, preset_files, limits));
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// One tool's timings for one image and worker count: rates, peak RSS, the first output.
type Timed = (Vec<f64>, u64, Vec<u8>);

/// The comparison: every image, at every worker count, both tools; then the table.
fn compare(
    args: &Args,
    images: &[PathBuf],
    preset: &Preset,
    preset_files: &[PathBuf],
    limits: &Limits,
) -> Result<(), String> {
    let vips_version = Command::new("vipsthumbnail")
        .arg("--version")
        .output()
        .map_err(|_| {
            "vipsthumbnail not found: install Debian's libvips-tools (`make deps`)".to_owned()
        })?;
    let vips_version = String::from_utf8_lossy(&vips_version.stdout)
        .trim()
        .to_owned();
    let work = std::env::temp_dir().join(format!("thumbkit-bench-{}", std::process::id()));
    let run = Run {
        args,
        preset,
        preset_files,
        limits,
        work: &work,
    };
    let result = (|| {
        println!(
            "preset `{}` ({}), {} rounds x {} images, interleaved; medians. vipsthumbnail: {vips_version}, VIPS_CONCURRENCY=1 per worker",
            preset.name,
            preset.summary(),
            args.rounds,
            args.batch
        );
        println!(
            "{:<30} {:>7}  {:<14} {:>8} {:>7} {:>16} {:>10} {:>9} {:>8}",
            "image",
            "workers",
            "tool",
            "img/s",
            "ratio",
            "peak RSS/worker",
            "out bytes",
            "size",
            "PSNR dB"
        );
        // Every timed run happens before any reference is decoded: a child's peak RSS as the
        // kernel reports it includes the parent's peak (the memory it was forked from), so
        // the parent must stay small until all workers have run.
        let mut measured = Vec::new();
        for image in images {
            measured.push((image, run.image(image)?));
        }
        for (image, rows) in measured {
            run.print(image, rows)?;
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&work);
    result
}

/// What every round of one comparison shares.
struct Run<'a> {
    args: &'a Args,
    preset: &'a Preset,
    preset_files: &'a [PathBuf],
    limits: &'a Limits,
    work: &'a Path,
}

impl Run<'_> {
    /// Times both tools on `batch` copies of `image` at each worker count.
    fn image(&self, image: &Path) -> Result<Vec<(usize, [Timed; 2])>, String> {
        let bytes = std::fs::read(image).map_err(|e| format!("{}: {e}", image.display()))?;
        let source = pipeline::probe(&bytes, self.limits)
            .map_err(|e| format!("{}: {e}", image.display()))?;
        let format = OutputFormat::resolve(self.preset.spec.format, &source, &[]);
        let _ = std::fs::remove_dir_all(self.work.join("in"));
        let inputs = tools::copies(&self.work.join("in"), image, &bytes, self.args.batch)?;
        drop(bytes);
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let (tk_out, vips_out) = (self.work.join("out-thumbkit"), self.work.join("out-vips"));
        for dir in [&tk_out, &vips_out] {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        }
        let mut rows = Vec::new();
        for &workers in &self.args.workers {
            let chunks: Vec<&[PathBuf]> = inputs
                .chunks(inputs.len().div_ceil(workers.max(1)))
                .collect();
            let mut timed: [Timed; 2] = Default::default();
            for round in 0..self.args.rounds.max(1) {
                // Alternate which tool goes first, so neither always meets a warm cache.
                for tool in if round % 2 == 0 { [0, 1] } else { [1, 0] } {
                    let commands = chunks.iter().map(|files| match tool {
                        0 => tools::thumbkit(
                            &exe,
                            self.preset,
                            self.preset_files,
                            self.limits,
                            &tk_out,
                            files,
                        ),
                        _ => tools::vips(self.preset, format, &vips_out, files),
                    });
                    let (seconds, rss) = tools::run_parallel(commands.collect())?;
                    timed[tool].0.push(inputs.len() as f64 / seconds);
                    timed[tool].1 = timed[tool].1.max(rss);
                }
            }
            let first = inputs[0]
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default();
            let ext = format.extension();
            timed[0].2 = read_output(&tk_out.join(format!("{first}.{ext}")))?;
            timed[1].2 = read_output(&vips_out.join(format!("tn_{first}.{ext}")))?;
            rows.push((workers, timed));
        }
        Ok(rows)
    }

    /// Prints one image's rows: each tool's median rate, memory, bytes and PSNR.
    fn print(&self, image: &Path, rows: Vec<(usize, [Timed; 2])>) -> Result<(), String> {
        let bytes = std::fs::read(image).map_err(|e| format!("{}: {e}", image.display()))?;
        let name = image
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("image");
        let reference = reference(&bytes, self.preset, self.limits)?;
        for (workers, [tk, vips]) in rows {
            let tk = figures(&tk, &reference, self.preset, self.limits)?;
            let vips = figures(&vips, &reference, self.preset, self.limits)?;
            let ratio = format!("{:.2}", tk.images_per_s / vips.images_per_s);
            for (tool, f, ratio) in [
                ("thumbkit", &tk, ratio),
                ("vipsthumbnail", &vips, String::new()),
            ] {
                println!(
                    "{:<30} {:>7}  {:<14} {:>8.1} {:>7} {:>12.1} MiB {:>10} {:>9} {:>8.2}",
                    name,
                    workers,
                    tool,
                    f.images_per_s,
                    ratio,
                    f.peak_rss_mib,
                    f.out_bytes,
                    format!("{}x{}", f.size.0, f.size.1),
                    f.psnr
                );
            }
        }
        Ok(())
    }
}

fn read_output(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn figures(
    (rates, rss, bytes): &Timed,
    reference: &Reference,
    preset: &Preset,
    limits: &Limits,
) -> Result<Figures, String> {
    Ok(Figures {
        images_per_s: median(rates),
        peak_rss_mib: *rss as f64 / (1024.0 * 1024.0),
        out_bytes: bytes.len() as u64,
        size: pipeline::probe(bytes, limits)
            .map_err(|e| format!("an output: {e}"))?
            .upright(),
        psnr: reference.psnr_of_output(preset, bytes, limits)?,
    })
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
        let format = OutputFormat::resolve(preset.spec.format, &source, &[]);
        let out = pipeline::render(&bytes, &preset.spec, format, limits)
            .map_err(|e| format!("{}: {e}", file.display()))?;
        let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("image");
        let path = out_dir.join(format!("{stem}.{}", format.extension()));
        std::fs::write(&path, &out.bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}
