//! The tools `thumbkit bench` runs, each one process per worker: a `thumbkit bench-worker`
//! given the same presets and limits as the bench itself, and `vipsthumbnail` and sharp
//! (`benches/sharp/worker.mjs`, in-process on one thread) given the preset's geometry,
//! format and quality in their own words.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::pipeline::{Limits, OutputFormat};
use crate::preset::{Fit, Gravity, Preset, fit_name};

/// A `thumbkit bench-worker` over `files`, loading presets from `preset_files` (the bench's
/// own `--preset-files`) under the bench's limits.
pub(super) fn thumbkit(
    exe: &Path,
    preset: &Preset,
    preset_files: &[PathBuf],
    limits: &Limits,
    out_dir: &Path,
    files: &[PathBuf],
) -> Command {
    let mut c = Command::new(exe);
    c.arg("bench-worker");
    for path in preset_files {
        c.arg("--preset-files").arg(path);
    }
    c.arg("--max-input-bytes")
        .arg(limits.max_input_bytes.to_string())
        .arg("--max-pixels")
        .arg(limits.max_pixels.to_string())
        .arg("--max-animation-pixels")
        .arg(limits.max_animation_pixels.to_string())
        .arg("--max-output-side")
        .arg(limits.max_output_side.to_string())
        .arg("--avif-speed")
        .arg(limits.avif_speed.to_string())
        .arg("--preset")
        .arg(preset.name.as_str())
        .arg("--out-dir")
        .arg(out_dir)
        .args(files);
    c
}

/// `vipsthumbnail` in batch mode on one thread over `files`, writing `tn_<stem>.<ext>`.
pub(super) fn vips(
    preset: &Preset,
    format: OutputFormat,
    out_dir: &Path,
    files: &[PathBuf],
) -> Command {
    let mut c = Command::new("vipsthumbnail");
    c.env("VIPS_CONCURRENCY", "1").args(files);
    if let Some(size) = vips_size(preset) {
        c.arg("--size").arg(size);
    }
    if preset.spec.fit == Fit::Cover {
        c.arg("--smartcrop").arg(vips_crop(preset.spec.gravity));
    }
    c.arg("-o").arg(format!(
        "{}/tn_%s.{}[{}]",
        out_dir.display(),
        format.extension(),
        vips_save_options(preset, format)
    ));
    c
}

/// `vipsthumbnail --version`, or how to install it.
pub(super) fn vips_version() -> Result<String, String> {
    let out = Command::new("vipsthumbnail")
        .arg("--version")
        .output()
        .map_err(|_| {
            "vipsthumbnail not found: install Debian's libvips-tools (`make deps`)".to_owned()
        })?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// sharp's version when `dir` holds the worker script and an installed sharp, else why not.
pub(super) fn sharp_dir(dir: &Path) -> Result<String, String> {
    let script = dir.join("worker.mjs");
    if !script.is_file() {
        return Err(format!(
            "{} not found (run from the repository, or pass --sharp DIR)",
            script.display()
        ));
    }
    let out = Command::new("node")
        .current_dir(dir)
        .args([
            "--input-type=module",
            "-e",
            "import s from 'sharp'; console.log(s.versions.sharp)",
        ])
        .output()
        .map_err(|_| "node not found (`make bench` installs it)".to_owned())?;
    if !out.status.success() {
        return Err(format!(
            "sharp is not installed in {} (`make bench` installs it)",
            dir.display()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// sharp over `files` in one node process (`concurrency(1)`, cache off), writing
/// `<stem>.<ext>`; alpha flattened on the preset's background for JPEG, as thumbkit does.
pub(super) fn sharp(
    dir: &Path,
    preset: &Preset,
    format: OutputFormat,
    (out_dir, time_file): (&Path, &Path),
    files: &[PathBuf],
) -> Command {
    let spec = &preset.spec;
    let mut c = Command::new("node");
    c.arg(dir.join("worker.mjs"));
    if let Some(w) = spec.width {
        c.arg("--width").arg(w.to_string());
    }
    if let Some(h) = spec.height {
        c.arg("--height").arg(h.to_string());
    }
    let quality = match format {
        OutputFormat::Jpeg => spec.quality.jpeg,
        OutputFormat::Webp => spec.quality.webp,
        OutputFormat::Avif => spec.quality.avif,
        OutputFormat::Png => 100,
    };
    let [r, g, b, _] = spec.background.0;
    let format_name = match format {
        OutputFormat::Jpeg => "jpeg",
        other => other.extension(),
    };
    c.args([
        "--fit",
        fit_name(spec.fit),
        "--gravity",
        &sharp_position(spec.gravity),
    ])
    .args(["--format", format_name, "--quality", &quality.to_string()])
    .args(["--background", &format!("{r},{g},{b}")]);
    if spec.upscale {
        c.arg("--upscale");
    }
    if spec.lossless {
        c.arg("--lossless");
    }
    c.arg("--out-dir").arg(out_dir);
    c.arg("--time-file").arg(time_file).args(files);
    c
}

/// sharp's word for a gravity: thumbkit's compass names are sharp's positions in lower case;
/// `smart` is sharp's `attention` (libvips' saliency crop).
pub(super) fn sharp_position(gravity: Gravity) -> String {
    match gravity {
        Gravity::Smart => "attention".to_owned(),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// The longest in-process time the sharp workers wrote (seconds from their first image to
/// their last: sharp is used in-process, so node's start-up is left out of its rate).
pub(super) fn sharp_seconds(time_files: &[PathBuf]) -> Result<f64, String> {
    time_files.iter().try_fold(0.0f64, |longest, f| {
        let s = std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
        let s: f64 = s
            .trim()
            .parse()
            .map_err(|_| format!("{}: not seconds", f.display()))?;
        Ok(longest.max(s))
    })
}

/// The preset's box in vipsthumbnail's `--size` syntax: `!` stretches (`fill`), `>` only
/// shrinks (no `upscale`). `contain` is sized as `inside`: vipsthumbnail cannot pad.
fn vips_size(preset: &Preset) -> Option<String> {
    let mut size = match (preset.spec.width, preset.spec.height) {
        (Some(w), Some(h)) => format!("{w}x{h}"),
        (Some(w), None) => format!("{w}"),
        (None, Some(h)) => format!("x{h}"),
        (None, None) => return None,
    };
    if preset.spec.fit == Fit::Fill {
        size.push('!');
    } else if !preset.spec.upscale {
        size.push('>');
    }
    Some(size)
}

/// vipsthumbnail's crop that keeps the side thumbkit's gravity keeps (`low` is the top or
/// left edge, `high` the bottom or right; a corner keeps the one axis a crop cuts).
fn vips_crop(gravity: Gravity) -> &'static str {
    if gravity == Gravity::Smart {
        // libvips' own saliency crop, the peer of `smart`.
        return "attention";
    }
    match gravity.anchor() {
        (x, y) if x == 0.5 && y == 0.5 => "centre",
        (x, y) if x == 0.0 || y == 0.0 => "low",
        _ => "high",
    }
}

/// vipsthumbnail's save options for the output format at the preset's quality, metadata
/// stripped as thumbkit's is.
fn vips_save_options(preset: &Preset, format: OutputFormat) -> String {
    match format {
        OutputFormat::Jpeg => format!("Q={},optimize_coding,strip", preset.spec.quality.jpeg),
        OutputFormat::Webp if preset.spec.lossless => "lossless,strip".to_owned(),
        OutputFormat::Webp => format!("Q={},strip", preset.spec.quality.webp),
        OutputFormat::Avif => format!("Q={},strip", preset.spec.quality.avif),
        OutputFormat::Png => "strip".to_owned(),
    }
}

/// `batch` copies of one image under distinct names (so no tool can reuse a cached
/// result), keeping its extension. Copied by the kernel: the bench itself never holds an
/// input, whose size would otherwise raise every worker's peak RSS (below).
pub(super) fn copies(dir: &Path, image: &Path, batch: usize) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let stem = image
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("image");
    let ext = image.extension().and_then(|s| s.to_str()).unwrap_or("img");
    (0..batch.max(1))
        .map(|i| {
            let path = dir.join(format!("{stem}-{i:03}.{ext}"));
            std::fs::copy(image, &path).map_err(|e| format!("{}: {e}", image.display()))?;
            Ok(path)
        })
        .collect()
}

/// Starts every command at once and waits for all; returns wall seconds and the largest
/// peak RSS (bytes) of any of them, as the kernel accounted it.
///
/// A child's `ru_maxrss` starts from the bench's own peak (exec records the peak of the
/// memory it replaces, which a spawned child shares with its parent), so the bench keeps
/// itself small: it never reads an input or decodes a reference before the timed runs end.
/// Each child's stderr goes to `stderr` (libvips warns once per image on some files) and is
/// shown only when a child fails.
pub(super) fn run_parallel(commands: Vec<Command>, stderr: &Path) -> Result<(f64, u64), String> {
    let log = std::fs::File::create(stderr).map_err(|e| format!("{}: {e}", stderr.display()))?;
    let started = Instant::now();
    let mut pids = Vec::new();
    for mut c in commands {
        c.stdout(std::process::Stdio::null());
        c.stderr(log.try_clone().map_err(|e| e.to_string())?);
        let child = c
            .spawn()
            .map_err(|e| format!("cannot start {:?}: {e}", c.get_program()))?;
        pids.push(child.id() as libc::pid_t);
    }
    let mut peak = 0u64;
    let mut failed = None;
    for pid in pids {
        let mut status = 0;
        // SAFETY: an all-zero rusage is a valid value for wait4 to overwrite.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `pid` is our own child, not yet reaped; the pointers are valid.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r != pid || !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
            failed.get_or_insert(status);
        }
        peak = peak.max(usage.ru_maxrss as u64 * 1024);
    }
    match failed {
        // Every child is reaped before saying so, with the end of what they printed.
        Some(status) => {
            let said = std::fs::read_to_string(stderr).unwrap_or_default();
            let last = said.lines().rev().find(|l| !l.trim().is_empty());
            Err(last.map_or_else(
                || format!("a benchmark worker failed (status {status})"),
                |l| l.trim().to_owned(),
            ))
        }
        None => Ok((started.elapsed().as_secs_f64(), peak)),
    }
}
