//! How close an output is to the ideal: a full-resolution Lanczos3 reference in sRGB, and
//! PSNR against it (the quality column of every benchmark, and of the shrink-on-load and
//! one-decode tests).

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::pipeline::{self, Limits, OutputFormat, Pixels, geometry, resize};
use crate::preset::{Colour, Preset};

/// The upright full-resolution sRGB image, for references of any size.
pub struct Reference {
    full: Pixels,
    upright: (u32, u32),
}

/// Decodes without shrink-on-load.
pub fn reference(input: &[u8], preset: &Preset, limits: &Limits) -> Result<Reference, String> {
    let decoded = pipeline::decode_upright(input, &preset.spec, limits, None, false)
        .map_err(|e| e.to_string())?;
    Ok(Reference {
        full: decoded.pixels,
        upright: decoded.full,
    })
}

impl Reference {
    /// Lanczos3 from full resolution to `w` x `h`.
    fn at(&self, w: u32, h: u32) -> Result<Pixels, String> {
        let plan = geometry::Plan {
            source: geometry::Rect {
                left: 0.0,
                top: 0.0,
                width: f64::from(self.upright.0),
                height: f64::from(self.upright.1),
            },
            resized: (w, h),
            canvas: (w, h),
            offset: (0, 0),
        };
        resize::resize(&self.full, &plan, (1.0, 1.0)).map_err(|e| e.to_string())
    }

    /// What `preset` looks like rendered from full resolution with Lanczos3 (cropped and
    /// padded as the preset says, alpha flattened onto its background), as RGB.
    pub fn planned(&self, preset: &Preset) -> Result<Pixels, String> {
        let plan = geometry::plan(self.upright.0, self.upright.1, &preset.spec);
        let resized = resize::resize(&self.full, &plan, (1.0, 1.0)).map_err(|e| e.to_string())?;
        Ok(resize::pad(resized, &plan, preset.spec.background).flatten(preset.spec.background))
    }

    /// PSNR (dB, RGB) of a JPEG rendering of `preset` against [`Self::planned`].
    pub fn psnr_of_preset(&self, preset: &Preset, jpeg: &[u8]) -> Result<f64, String> {
        let img =
            turbojpeg::decompress(jpeg, turbojpeg::PixelFormat::RGB).map_err(|e| e.to_string())?;
        let reference = self.planned(preset)?;
        if (reference.width as usize, reference.height as usize) != (img.width, img.height) {
            return Err(format!(
                "{}x{} rendered, {}x{} planned",
                img.width, img.height, reference.width, reference.height
            ));
        }
        Ok(psnr(&reference.data, &img.pixels))
    }

    /// PSNR (dB, RGB) of a JPEG thumbnail against the reference at the thumbnail's size
    /// (alpha flattened on white, as a JPEG output of the default background is).
    pub fn psnr_of_jpeg(&self, jpeg: &[u8]) -> Result<f64, String> {
        let img =
            turbojpeg::decompress(jpeg, turbojpeg::PixelFormat::RGB).map_err(|e| e.to_string())?;
        let reference = self
            .at(img.width as u32, img.height as u32)?
            .flatten(Colour::WHITE);
        Ok(psnr(&reference.data, &img.pixels))
    }

    /// PSNR (dB, RGB) of any tool's output of `preset`, in any format thumbkit reads, both
    /// sides flattened on the preset's background: against [`Self::planned`] when the output
    /// has the planned size (crops and pads compared as made), else against the whole
    /// picture at the output's size.
    pub fn psnr_of_output(
        &self,
        preset: &Preset,
        output: &[u8],
        limits: &Limits,
    ) -> Result<f64, String> {
        let shown = pipeline::decode_upright(output, &preset.spec, limits, None, false)
            .map_err(|e| e.to_string())?
            .pixels
            .flatten(preset.spec.background);
        let planned = self.planned(preset)?;
        let reference = if (planned.width, planned.height) == (shown.width, shown.height) {
            planned
        } else {
            self.at(shown.width, shown.height)?
                .flatten(preset.spec.background)
        };
        Ok(psnr(&reference.data, &shown.data))
    }
}

/// Peak signal-to-noise ratio of two equally sized 8-bit buffers.
pub fn psnr(a: &[u8], b: &[u8]) -> f64 {
    let n = a.len().min(b.len()).max(1) as f64;
    let se: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2))
        .sum();
    if se == 0.0 {
        return f64::INFINITY;
    }
    10.0 * (255.0f64 * 255.0 / (se / n)).log10()
}

/// Prints, per photo, the PSNR and time at each candidate shrink-on-load margin.
pub fn margins(
    images: &[PathBuf],
    rounds: usize,
    preset: &Preset,
    limits: &Limits,
) -> Result<(), String> {
    println!(
        "{:<30} {:>7} {:>6} {:>12} {:>9} {:>9}",
        "image", "margin", "denom", "decoded", "PSNR dB", "ms"
    );
    for image in images {
        let bytes = std::fs::read(image).map_err(|e| format!("{}: {e}", image.display()))?;
        let reference = reference(&bytes, preset, limits)?;
        let name = image
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("image");
        let plan = geometry::plan(reference.upright.0, reference.upright.1, &preset.spec);
        let shrink = plan.shrink();
        let mut seen = Vec::new();
        for margin in [1.0, 1.25, 1.5, 1.75, 2.0, 3.0, 4.5, 100.0] {
            let d = pipeline::shrink_on_load_denominator(shrink, margin);
            if seen.contains(&d) {
                continue;
            }
            seen.push(d);
            let mut times = Vec::new();
            let mut out = None;
            for _ in 0..rounds.max(1) {
                let t = Instant::now();
                let r = pipeline::render_with_margin(
                    &bytes,
                    &preset.spec,
                    OutputFormat::Jpeg,
                    limits,
                    margin,
                )
                .map_err(|e| e.to_string())?;
                times.push(t.elapsed().as_secs_f64() * 1e3);
                out = Some(r);
            }
            let out = out.ok_or("no rounds")?;
            println!(
                "{:<30} {:>7.2} {:>6} {:>12} {:>9.2} {:>9.1}",
                name,
                shrink.0.min(shrink.1) / f64::from(d),
                format!("1/{d}"),
                format!(
                    "{}x{}",
                    reference.upright.0.div_ceil(d),
                    reference.upright.1.div_ceil(d)
                ),
                reference.psnr_of_output(preset, &out.bytes, limits)?,
                median(&times)
            );
        }
    }
    Ok(())
}

/// Prints `<file> <width>x<height> <PSNR>` for each output of `preset` made from
/// `original` by any tool, against the reference. Outputs are decoded colour-managed (a
/// tool that keeps the source's profile, as thumbor does, is scored on what a browser
/// shows), oriented, at full size.
pub fn print_psnr(
    original: &Path,
    outputs: &[PathBuf],
    preset: &Preset,
    limits: &Limits,
) -> Result<(), String> {
    let bytes = std::fs::read(original).map_err(|e| format!("{}: {e}", original.display()))?;
    let reference = reference(&bytes, preset, limits)?;
    for out in outputs {
        let failed = |e: &dyn std::fmt::Display| format!("{}: {e}", out.display());
        let data = std::fs::read(out).map_err(|e| failed(&e))?;
        let db = reference
            .psnr_of_output(preset, &data, limits)
            .map_err(|e| failed(&e))?;
        let (w, h) = pipeline::probe(&data, limits)
            .map(|p| p.upright())
            .map_err(|e| failed(&e))?;
        println!("{} {w}x{h} {db:.2}", out.display());
    }
    Ok(())
}

/// The median (the upper one of an even count; NaN for none).
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}
