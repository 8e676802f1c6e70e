//! Whether a small `sharpen` helps strong downscales: SSIMULACRA2 (and PSNR) of the preset's
//! render with each sigma against the full-resolution Lanczos3 reference, as PNG (so only the
//! resize and the sharpen are scored) and as the preset's JPEG.

use std::path::PathBuf;

use ssimulacra2::compute_frame_ssimulacra2;

use super::formats::to_rgb;
use super::quality;
use crate::pipeline::{self, Limits, OutputFormat};
use crate::preset::Preset;

/// Prints, per photo, the score of each sigma (0 is the plain render).
pub fn run(
    images: &[PathBuf],
    preset: &Preset,
    limits: &Limits,
    sigmas: &[f32],
) -> Result<(), String> {
    println!(
        "SSIMULACRA2 / PSNR against a full-resolution Lanczos3 reference, preset `{}`, by \
         `sharpen` sigma (PNG output, then JPEG q{})\n",
        preset.name, preset.spec.quality.jpeg
    );
    let header: Vec<String> = sigmas.iter().map(|s| format!("σ {s}")).collect();
    println!("| photo | downscale | output | {} |", header.join(" | "));
    println!("|---|---|---|{}", "---|".repeat(sigmas.len()));
    for image in images {
        let bytes = std::fs::read(image).map_err(|e| format!("{}: {e}", image.display()))?;
        let reference = quality::reference(&bytes, preset, limits)?;
        let planned = reference.planned(preset)?;
        let target = to_rgb(&planned)?;
        let probe = pipeline::probe(&bytes, limits).map_err(|e| e.to_string())?;
        let shrink =
            f64::from(probe.width.max(probe.height)) / f64::from(planned.width.max(planned.height));
        let name = image.file_name().and_then(|n| n.to_str()).unwrap_or("?");
        for format in [OutputFormat::Png, OutputFormat::Jpeg] {
            let mut row = format!("| {name} | {shrink:.1}× | {format} |");
            for &sigma in sigmas {
                let mut spec = preset.spec.clone();
                spec.effects.sharpen = (sigma > 0.0).then_some(sigma);
                let out =
                    pipeline::render(&bytes, &spec, format, limits).map_err(|e| e.to_string())?;
                let decoded = pipeline::decode_upright(&out.bytes, &spec, limits, None, false)
                    .map_err(|e| e.to_string())?;
                let score = compute_frame_ssimulacra2(target.clone(), to_rgb(&decoded.pixels)?)
                    .map_err(|e| format!("{e:?}"))?;
                let flat = decoded.pixels.flatten(crate::preset::Colour::WHITE);
                let db = quality::psnr(&planned.data, &flat.data);
                row.push_str(&format!(" {score:.2} / {db:.2} dB |"));
            }
            println!("{row}");
        }
    }
    Ok(())
}
