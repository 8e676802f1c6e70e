//! `thumbkit bench --pregen`: every shipped preset's variants of a photo from one decode
//! (what an upload with `?pregenerate=all` runs), against one `large` JPEG render and
//! against rendering each variant alone (what pre-generation did before).

use std::path::PathBuf;
use std::time::Instant;

use super::quality::median;
use crate::pipeline::{self, Limits, OutputFormat, batch};
use crate::preset::{Preset, Presets};

/// Prints, per photo, the medians of `rounds` runs on one thread: one `large` JPEG render,
/// every variant alone, every variant from one decode, and the ratios.
pub fn run(
    images: &[PathBuf],
    rounds: usize,
    presets: &Presets,
    limits: &Limits,
) -> Result<(), String> {
    let large = presets.get("large").ok_or("no preset named `large`")?;
    let all: Vec<&Preset> = presets.every().collect();
    println!(
        "every preset and step ({} in all), one thread, {rounds} rounds, medians",
        all.len()
    );
    println!(
        "{:<30} {:>9} {:>9} {:>14} {:>8} {:>11} {:>11} {:>9} {:>9}",
        "image",
        "variants",
        "large ms",
        "each alone ms",
        "one ms",
        "(decode+",
        "webp+avif)",
        "÷ large",
        "speed-up"
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
        let name = image
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("image");
        println!(
            "{name:<30} {:>9} {l:>9.1} {a:>14.1} {b:>8.1} {:>11.1} {:>11.1} {:>8.2}x {:>8.2}x",
            wanted.len(),
            median(&composing),
            median(&modern),
            b / l,
            a / b
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
