//! JPEG, WebP and AVIF at equal perceived quality: for each photo, the SSIMULACRA2 score of
//! the preset's JPEG against the full-resolution Lanczos3 reference, then the lowest WebP
//! and AVIF quality (per AVIF speed) that score at least as well, with their bytes and
//! encode time. What the per-format quality defaults and the AVIF speed were chosen from.

use std::path::PathBuf;
use std::time::Instant;

use ssimulacra2::{ColorPrimaries, Rgb, TransferCharacteristic, compute_frame_ssimulacra2};

use super::quality::{self, median};
use crate::pipeline::batch::{self, Composed};
use crate::pipeline::{self, Limits, OutputFormat, Pixels};
use crate::preset::{Preset, Quality};

/// `px` flattened on white, as SSIMULACRA2 reads it.
pub(super) fn to_rgb(px: &Pixels) -> Result<Rgb, String> {
    let flat = px.clone().flatten(crate::preset::Colour::WHITE);
    let data: Vec<[f32; 3]> = flat
        .data
        .chunks_exact(3)
        .map(|c| [c[0], c[1], c[2]].map(|v| f32::from(v) / 255.0))
        .collect();
    Rgb::new(
        data,
        flat.width as usize,
        flat.height as usize,
        TransferCharacteristic::SRGB,
        ColorPrimaries::BT709,
    )
    .map_err(|e| format!("{e:?}"))
}

/// One encoding's figures.
#[derive(Clone, Copy)]
struct Encoded {
    quality: u8,
    score: f64,
    bytes: usize,
    ms: f64,
}

struct Scorer<'a> {
    composed: &'a Composed,
    preset: &'a Preset,
    reference: &'a Rgb,
    limits: Limits,
    rounds: usize,
}

impl Scorer<'_> {
    fn encode(&self, format: OutputFormat, q: u8, speed: u8) -> Result<Encoded, String> {
        let mut preset = self.preset.clone();
        preset.spec.quality = Quality {
            jpeg: q,
            webp: q,
            avif: q,
        };
        let limits = Limits {
            avif_speed: speed,
            ..self.limits
        };
        let how = pipeline::encode::Encoding {
            exact_speed: true,
            ..pipeline::encode::Encoding::of(&preset.spec, &limits)
        };
        let mut times = Vec::new();
        let mut out = Vec::new();
        for _ in 0..self.rounds.max(1) {
            let t = Instant::now();
            out = self
                .composed
                .encode_with(format, how)
                .map_err(|e| e.to_string())?
                .bytes;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        let decoded = pipeline::decode_upright(&out, &preset.spec, &limits, None, false)
            .map_err(|e| e.to_string())?;
        let score = compute_frame_ssimulacra2(self.reference.clone(), to_rgb(&decoded.pixels)?)
            .map_err(|e| format!("{e:?}"))?;
        Ok(Encoded {
            quality: q,
            score,
            bytes: out.len(),
            ms: median(&times),
        })
    }

    /// The lowest quality of `format` scoring at least `target` (bisection; 100 if none).
    fn matching(&self, format: OutputFormat, target: f64, speed: u8) -> Result<Encoded, String> {
        let (mut lo, mut hi) = (1u8, 100u8);
        let mut best = self.encode(format, hi, speed)?;
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let e = self.encode(format, mid, speed)?;
            if e.score >= target {
                best = e;
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        Ok(best)
    }
}

/// Prints, per photo, JPEG at each of `jpeg_qualities` and the WebP and AVIF that match it.
pub fn run(
    images: &[PathBuf],
    rounds: usize,
    preset: &Preset,
    limits: &Limits,
    jpeg_qualities: &[u8],
    speeds: &[u8],
) -> Result<(), String> {
    println!(
        "Equal perceived quality (SSIMULACRA2 against a full-resolution Lanczos3 reference), \
         preset `{}`, {} rounds per encode (median ms)\n",
        preset.name, rounds
    );
    println!(
        "| photo | JPEG q | score | JPEG bytes / ms | WebP q | WebP bytes / ms | {} |",
        speeds
            .iter()
            .map(|s| format!("AVIF s{s} q | bytes / ms"))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    println!(
        "|---|---|---|---|---|---|{}",
        "---|".repeat(speeds.len() * 2)
    );
    for image in images {
        let bytes = std::fs::read(image).map_err(|e| format!("{}: {e}", image.display()))?;
        let reference = quality::reference(&bytes, preset, limits)?.planned(preset)?;
        let reference = to_rgb(&reference)?;
        let composed =
            batch::compose_all(&bytes, &[&preset.spec], limits).map_err(|e| e.to_string())?;
        let composed = composed
            .into_iter()
            .next()
            .ok_or("nothing composed")?
            .map_err(|e| e.to_string())?;
        let scorer = Scorer {
            composed: &composed,
            preset,
            reference: &reference,
            limits: *limits,
            rounds,
        };
        let name = image.file_name().and_then(|n| n.to_str()).unwrap_or("?");
        for &q in jpeg_qualities {
            let jpeg = scorer.encode(OutputFormat::Jpeg, q, limits.avif_speed)?;
            let webp = scorer.matching(OutputFormat::Webp, jpeg.score, limits.avif_speed)?;
            let mut row = format!(
                "| {name} | {q} | {:.1} | {} / {:.1} | {} | {} / {:.1} |",
                jpeg.score, jpeg.bytes, jpeg.ms, webp.quality, webp.bytes, webp.ms
            );
            for &speed in speeds {
                let avif = scorer.matching(OutputFormat::Avif, jpeg.score, speed)?;
                row.push_str(&format!(
                    " {} | {} / {:.1} |",
                    avif.quality, avif.bytes, avif.ms
                ));
            }
            println!("{row}");
        }
    }
    Ok(())
}
