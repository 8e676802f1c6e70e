//! `thumbkit bench --pregen`: every shipped preset's variants of a photo from one decode
//! (what an upload with `?pregenerate=all` runs), against one `large` JPEG render and
//! against rendering each variant alone (what pre-generation did before), and against
//! sharp making the same variant set (`benches/sharp/pregen.mjs`), when it is installed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use super::quality::median;
use super::tools::{sharp_dir, sharp_position};
use crate::pipeline::{self, Limits, OutputFormat, batch, heif};
use crate::preset::{Preset, Presets, fit_name};

/// Prints, per photo, the medians of `rounds` runs on one thread: one `large` JPEG render,
/// every variant alone, every variant from one decode, and the ratios.
pub fn run(
    images: &[PathBuf],
    rounds: usize,
    presets: &Presets,
    limits: &Limits,
    sharp: &Path,
) -> Result<(), String> {
    let large = presets.get("large").ok_or("no preset named `large`")?;
    let sharp = sharp_dir(sharp).map(|_| sharp);
    if let Err(why) = &sharp {
        println!("sharp left out: {why}");
    }
    let all: Vec<&Preset> = presets.every().collect();
    println!(
        "every preset and step ({} in all), one thread, {rounds} rounds, medians",
        all.len()
    );
    println!(
        "{:<30} {:>9} {:>9} {:>14} {:>8} {:>11} {:>11} {:>9} {:>9} {:>9} {:>9}",
        "image",
        "variants",
        "large ms",
        "each alone ms",
        "one ms",
        "(decode+",
        "webp+avif)",
        "÷ large",
        "speed-up",
        "sharp ms",
        "vs sharp"
    );
    for image in images {
        let bytes = std::fs::read(image).map_err(|e| format!("{}: {e}", image.display()))?;
        let probe = pipeline::probe(&bytes, limits).map_err(|e| e.to_string())?;
        let wanted: Vec<(usize, OutputFormat)> = all
            .iter()
            .enumerate()
            .flat_map(|(i, p)| {
                OutputFormat::candidates(&p.spec, &probe, &OutputFormat::MODERN)
                    .into_iter()
                    .map(move |f| (i, f))
            })
            .collect();
        let mut times = Times::default();
        for _ in 0..rounds.max(1) {
            times.round(&bytes, large, &all, &wanted, limits)?;
        }
        let Times {
            one_large,
            alone,
            batched,
            composing,
            modern,
        } = times;
        let (l, a, b) = (median(&one_large), median(&alone), median(&batched));
        let peer = match &sharp {
            Ok(dir) => sharp_ms(
                dir,
                image,
                &variant_set(&bytes, &all, &wanted, limits)?,
                rounds,
            )?,
            Err(_) => f64::NAN,
        };
        let name = image
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("image");
        println!(
            "{name:<30} {:>9} {l:>9.1} {a:>14.1} {b:>8.1} {:>11.1} {:>11.1} {:>8.2}x {:>8.2}x {peer:>9.1} {:>8.2}x",
            wanted.len(),
            median(&composing),
            median(&modern),
            b / l,
            a / b,
            peer / b
        );
    }
    Ok(())
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}

/// Each round's milliseconds: one `large`, every variant alone, every variant from one
/// decode, of which composing and of which WebP and AVIF encoding.
#[derive(Default)]
struct Times {
    one_large: Vec<f64>,
    alone: Vec<f64>,
    batched: Vec<f64>,
    composing: Vec<f64>,
    modern: Vec<f64>,
}

impl Times {
    /// Times one round of the three ways.
    fn round(
        &mut self,
        bytes: &[u8],
        large: &Preset,
        all: &[&Preset],
        wanted: &[(usize, OutputFormat)],
        limits: &Limits,
    ) -> Result<(), String> {
        let t = Instant::now();
        pipeline::render(bytes, &large.spec, OutputFormat::Jpeg, limits)
            .map_err(|e| e.to_string())?;
        self.one_large.push(ms(t));
        let t = Instant::now();
        for &(i, f) in wanted {
            pipeline::render(bytes, &all[i].spec, f, limits).map_err(|e| e.to_string())?;
        }
        self.alone.push(ms(t));
        let t = Instant::now();
        let specs: Vec<_> = all.iter().map(|p| &p.spec).collect();
        let composed = batch::compose_all(bytes, &specs, limits).map_err(|e| e.to_string())?;
        self.composing.push(ms(t));
        let mut modern_ms = 0.0;
        for &(i, f) in wanted {
            let c = composed[i].as_ref().map_err(|e| e.to_string())?;
            let e = Instant::now();
            c.encode(f).map_err(|e| e.to_string())?;
            if OutputFormat::MODERN.contains(&f) {
                modern_ms += ms(e);
            }
        }
        self.batched.push(ms(t));
        self.modern.push(modern_ms);
        Ok(())
    }
}

/// The variants thumbkit makes of `bytes`, in sharp's words (`benches/sharp/pregen.mjs`):
/// each with its box, fit, position, background, format, quality and the encoder effort
/// thumbkit uses at that output size (libaom's speed is `9 - effort`).
fn variant_set(
    bytes: &[u8],
    all: &[&Preset],
    wanted: &[(usize, OutputFormat)],
    limits: &Limits,
) -> Result<serde_json::Value, String> {
    let specs: Vec<_> = all.iter().map(|p| &p.spec).collect();
    let composed = batch::compose_all(bytes, &specs, limits).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for &(i, format) in wanted {
        let spec = &all[i].spec;
        let (w, h) = composed[i].as_ref().map_err(|e| e.to_string())?.size();
        let [r, g, b, _] = spec.background.0;
        out.push(serde_json::json!({
            "width": spec.width, "height": spec.height,
            "fit": fit_name(spec.fit), "position": sharp_position(spec.gravity),
            "background": [r, g, b], "upscale": spec.upscale, "lossless": spec.lossless,
            "format": match format { OutputFormat::Jpeg => "jpeg", other => other.extension() },
            "quality": format.quality_in(spec.quality),
            "effort": 9 - heif::speed_for(w, h, limits.avif_speed),
        }));
    }
    Ok(serde_json::Value::Array(out))
}

/// sharp's median milliseconds for the variant set, the faster of its two ways.
fn sharp_ms(
    dir: &Path,
    image: &Path,
    set: &serde_json::Value,
    rounds: usize,
) -> Result<f64, String> {
    let spec = std::env::temp_dir().join(format!("thumbkit-pregen-{}.json", std::process::id()));
    std::fs::write(&spec, set.to_string()).map_err(|e| format!("{}: {e}", spec.display()))?;
    let out = Command::new("node")
        .arg(dir.join("pregen.mjs"))
        .arg("--spec")
        .arg(&spec)
        .args(["--rounds", &rounds.max(1).to_string()])
        .arg(image)
        .output()
        .map_err(|e| format!("node: {e}"))?;
    let _ = std::fs::remove_file(&spec);
    let line = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
    }
    // `clone <ms> raw <ms>`
    let numbers: Vec<f64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    numbers
        .into_iter()
        .reduce(f64::min)
        .ok_or_else(|| format!("sharp pregen printed `{}`", line.trim()))
}
