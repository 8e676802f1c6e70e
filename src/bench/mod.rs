//! `thumbkit bench`: Task A (JPEG -> fit inside 320x320, q80, no metadata) for thumbkit and
//! libvips' `vipsthumbnail` in the same run, in interleaved rounds, with 1..N worker processes.
//!
//! Each worker is a separate process handling one image at a time (`vipsthumbnail` in batch
//! mode with `VIPS_CONCURRENCY=1`, `thumbkit bench-worker`), so peak RSS per worker comes from
//! the kernel (`wait4`) and both tools are measured the same way. Quality is PSNR of each
//! tool's output against a full-resolution Lanczos3 reference in sRGB.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

mod formats;
mod pregen;
mod quality;

pub use quality::{Reference, median, psnr, reference};

use crate::pipeline::{self, Limits, OutputFormat};
use crate::preset::{Preset, Presets};

/// Options of `thumbkit bench`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// JPEG photos to run Task A on.
    #[arg(long, value_delimiter = ',', num_args = 1.., default_values = ["fixtures/2569067123_aca715a2ee_o.jpg", "fixtures/IMG_9424.JPG"])]
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
    /// The preset (Task A is `thumb`).
    #[arg(long, default_value = "thumb")]
    preset: String,
    /// Instead of the comparison, print PSNR and time for each shrink-on-load margin.
    #[arg(long)]
    margins: bool,
    /// Instead of the comparison, time every shipped preset's variants from one decode
    /// against one `large` render and against rendering each variant alone.
    #[arg(long)]
    pregen: bool,
    /// Instead of the comparison, print the PSNR of each of these JPEG outputs of
    /// `--preset` against a full-resolution Lanczos3 reference made from the first image.
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    psnr_of: Vec<PathBuf>,
    /// Instead of the comparison, encode `--preset` as JPEG at each `--jpeg-quality` and find
    /// the WebP and AVIF (per speed) of equal SSIMULACRA2, with bytes and encode time.
    #[arg(long)]
    formats: bool,
    /// The JPEG qualities `--formats` matches.
    #[arg(long, value_delimiter = ',', num_args = 1.., default_values_t = [80u8])]
    jpeg_quality: Vec<u8>,
    /// The libaom speeds `--formats` measures AVIF at.
    #[arg(long, value_delimiter = ',', num_args = 1.., default_values_t = [6u8, 7, 8, 9])]
    avif_speeds: Vec<u8>,
}

/// One tool's figures for one photo and worker count.
struct Figures {
    images_per_s: f64,
    peak_rss_mib: f64,
    out_bytes: u64,
    psnr: f64,
}

/// Runs the comparison and prints the table.
pub fn run(args: &Args, presets: &Presets, limits: &Limits) -> Result<(), String> {
    let preset = presets
        .get(&args.preset)
        .ok_or_else(|| format!("no preset named `{}`", args.preset))?;
    if args.margins {
        return quality::margins(&args.images, args.rounds, preset, limits);
    }
    if !args.psnr_of.is_empty() {
        let original = args.images.first().ok_or("no --images given")?;
        return quality::print_psnr(original, &args.psnr_of, preset, limits);
    }
    if args.formats {
        return formats::run(
            &args.images,
            args.rounds,
            preset,
            limits,
            &args.jpeg_quality,
            &args.avif_speeds,
        );
    }
    if args.pregen {
        return pregen::run(&args.images, args.rounds, presets, limits);
    }
    let vips_version = Command::new("vipsthumbnail")
        .arg("--version")
        .output()
        .map_err(|_| {
            "vipsthumbnail not found: install Debian's libvips-tools (`make deps`)".to_owned()
        })?;
    let vips_version = String::from_utf8_lossy(&vips_version.stdout)
        .trim()
        .to_owned();
    let (w, h) = (preset.width.unwrap_or(0), preset.height.unwrap_or(0));
    let vips_size = format!("{w}x{h}");
    let work = std::env::temp_dir().join(format!("thumbkit-bench-{}", std::process::id()));
    let result = (|| {
        println!(
            "Task A: preset `{}` ({}), {} rounds x {} images, interleaved; medians. vipsthumbnail: {vips_version}, VIPS_CONCURRENCY=1 per worker",
            preset.name,
            preset.summary(),
            args.rounds,
            args.batch
        );
        println!(
            "{:<30} {:>7}  {:<14} {:>8} {:>7} {:>16} {:>10} {:>8}",
            "image", "workers", "tool", "img/s", "ratio", "peak RSS/worker", "out bytes", "PSNR dB"
        );
        // Every timed run happens before any reference is decoded: a child's peak RSS as the
        // kernel reports it includes the parent's peak (the memory it was forked from), so
        // the parent must stay small until all workers have run.
        let mut measured = Vec::new();
        for image in &args.images {
            let bytes = std::fs::read(image).map_err(|e| format!("{}: {e}", image.display()))?;
            let name = image
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("image")
                .to_owned();
            let inputs = copies(&work.join("in"), &name, &bytes, args.batch)?;
            drop(bytes);
            let mut rows = Vec::new();
            for &workers in &args.workers {
                let mut tk_rates = Vec::new();
                let mut vips_rates = Vec::new();
                let (mut tk_rss, mut vips_rss) = (0u64, 0u64);
                let tk_out = work.join("out-thumbkit");
                let vips_out = work.join("out-vips");
                for dir in [&tk_out, &vips_out] {
                    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
                }
                let exe = std::env::current_exe().map_err(|e| e.to_string())?;
                for round in 0..args.rounds {
                    // Alternate which tool goes first, so neither always meets a warm cache.
                    for tool in if round % 2 == 0 { [0, 1] } else { [1, 0] } {
                        let chunks: Vec<&[PathBuf]> =
                            inputs.chunks(inputs.len().div_ceil(workers)).collect();
                        let commands: Vec<Command> = chunks
                            .iter()
                            .map(|files| {
                                if tool == 0 {
                                    let mut c = Command::new(&exe);
                                    c.arg("bench-worker")
                                        .arg("--preset")
                                        .arg(preset.name.as_str())
                                        .arg("--out-dir")
                                        .arg(&tk_out)
                                        .args(*files);
                                    c
                                } else {
                                    let mut c = Command::new("vipsthumbnail");
                                    c.env("VIPS_CONCURRENCY", "1")
                                        .args(*files)
                                        .arg("--size")
                                        .arg(&vips_size)
                                        .arg("-o")
                                        .arg(format!(
                                            "{}/tn_%s.jpg[Q={},optimize_coding,strip]",
                                            vips_out.display(),
                                            preset.quality.jpeg
                                        ));
                                    c
                                }
                            })
                            .collect();
                        let (seconds, rss) = run_parallel(commands)?;
                        let rate = inputs.len() as f64 / seconds;
                        if tool == 0 {
                            tk_rates.push(rate);
                            tk_rss = tk_rss.max(rss);
                        } else {
                            vips_rates.push(rate);
                            vips_rss = vips_rss.max(rss);
                        }
                    }
                }
                let first = inputs[0]
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or_default()
                    .to_owned();
                let tk_bytes = read_output(&tk_out.join(format!("{first}.jpg")))?;
                let vips_bytes = read_output(&vips_out.join(format!("tn_{first}.jpg")))?;
                rows.push((
                    workers,
                    [
                        (tk_rates, tk_rss, tk_bytes),
                        (vips_rates, vips_rss, vips_bytes),
                    ],
                ));
            }
            measured.push((image, name, rows));
        }
        for (image, name, rows) in measured {
            let bytes = std::fs::read(image).map_err(|e| format!("{}: {e}", image.display()))?;
            let reference = reference(&bytes, preset, limits)?;
            for (workers, [tk, vips]) in rows {
                let tk = figures(&tk.0, tk.1, &tk.2, &reference)?;
                let vips = figures(&vips.0, vips.1, &vips.2, &reference)?;
                for (tool, f, ratio) in [
                    (
                        "thumbkit",
                        &tk,
                        format!("{:.2}", tk.images_per_s / vips.images_per_s),
                    ),
                    ("vipsthumbnail", &vips, String::new()),
                ] {
                    println!(
                        "{:<30} {:>7}  {:<14} {:>8.1} {:>7} {:>12.1} MiB {:>10} {:>8.2}",
                        name,
                        workers,
                        tool,
                        f.images_per_s,
                        ratio,
                        f.peak_rss_mib,
                        f.out_bytes,
                        f.psnr
                    );
                }
            }
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&work);
    result
}

/// `batch` copies of one photo under distinct names (so no tool can reuse a cached result).
fn copies(dir: &Path, name: &str, bytes: &[u8], batch: usize) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let stem = Path::new(name)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("image");
    (0..batch)
        .map(|i| {
            let path = dir.join(format!("{stem}-{i:03}.jpg"));
            std::fs::write(&path, bytes).map_err(|e| e.to_string())?;
            Ok(path)
        })
        .collect()
}

/// Starts every command at once and waits for all; returns wall seconds and the largest
/// peak RSS (bytes) of any of them, as the kernel accounted it.
fn run_parallel(commands: Vec<Command>) -> Result<(f64, u64), String> {
    let started = Instant::now();
    let mut pids = Vec::new();
    for mut c in commands {
        c.stdout(std::process::Stdio::null());
        let child = c
            .spawn()
            .map_err(|e| format!("cannot start {:?}: {e}", c.get_program()))?;
        pids.push(child.id() as libc::pid_t);
    }
    let mut peak = 0u64;
    for pid in pids {
        let mut status = 0;
        // SAFETY: an all-zero rusage is a valid value for wait4 to overwrite.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `pid` is our own child, not yet reaped; the pointers are valid.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r != pid || !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
            return Err(format!("a benchmark worker failed (status {status})"));
        }
        peak = peak.max(usage.ru_maxrss as u64 * 1024);
    }
    Ok((started.elapsed().as_secs_f64(), peak))
}

fn read_output(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn figures(
    rates: &[f64],
    rss: u64,
    bytes: &[u8],
    reference: &Reference,
) -> Result<Figures, String> {
    Ok(Figures {
        images_per_s: median(rates),
        peak_rss_mib: rss as f64 / (1024.0 * 1024.0),
        out_bytes: bytes.len() as u64,
        psnr: reference.psnr_of_jpeg(bytes)?,
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
        let format = OutputFormat::resolve(preset.format, &source, &[]);
        let out = pipeline::render(&bytes, preset, format, limits)
            .map_err(|e| format!("{}: {e}", file.display()))?;
        let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("image");
        let path = out_dir.join(format!("{stem}.{}", format.extension()));
        std::fs::write(&path, &out.bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}
