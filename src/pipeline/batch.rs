//! Every variant of an original from one decode: what an upload's pre-generation runs.
//!
//! Rendering each preset alone decodes the photo once per preset (the largest at full
//! scale). Here it is decoded once, at the scale the largest preset needs, made upright
//! and sRGB once, and each preset is resized from the smallest result already made that is
//! still [`CASCADE_MARGIN`] times larger than it (a whole-image `large` feeds `medium`, which
//! feeds `small`...), so most resizes read a fraction of the photo's pixels. Encoding is
//! left to the caller ([`Composed::encode`]), so formats can be encoded in parallel.

use std::panic::{AssertUnwindSafe, catch_unwind};

use super::error::PipelineError;
use super::formats::{OutputFormat, Probe};
use super::geometry::{self, Plan};
use super::resize::{self, Pixels};
use super::saliency::Saliency;
use super::spec::{Colour, FormatChoice, Spec, Subject};
use super::{
    Limits, Rendered, Shrink, Upright, animation, check_output, colour, encode, needs_subject,
    overlay, probe, subject, trim_of, with_subject,
};

/// A preset is resized from an earlier, smaller result only when that result still has this
/// many times the preset's pixels per axis; otherwise from the decoded image. Lanczos from
/// a Lanczos result at this margin stays within 0.2 dB of rendering the preset alone
/// (`one_decode_stays_within_a_fifth_of_a_db` measures it on camera photos).
pub const CASCADE_MARGIN: f64 = 3.0;

/// One preset's pixels, composed (resized, cropped, padded, sRGB) and ready to encode.
pub struct Composed {
    pixels: Pixels,
    background: Colour,
    how: encode::Encoding,
    /// What `auto` knows of the source (an alpha source's WebP is lossless).
    choice: FormatChoice,
    source: Probe,
    /// The whole animation as WebP, for a preset that keeps an animated source's frames.
    animated: Option<Result<Rendered, PipelineError>>,
    /// The subject found for this preset's `smart` crop, if it was not given.
    subject: Option<Saliency>,
}

impl Composed {
    /// The output's width and height.
    pub fn size(&self) -> (u32, u32) {
        (self.pixels.width, self.pixels.height)
    }

    /// Encodes as `format`, flattening alpha as a render does (always for JPEG, and for any
    /// format when every pixel is opaque).
    pub fn encode(&self, format: OutputFormat) -> Result<Rendered, PipelineError> {
        let mut how = self.how;
        how.lossless |= format.is_lossless_for(self.choice, &self.source);
        self.encode_with(format, how)
    }

    /// [`Self::encode`] with other encoder settings (for measuring them).
    pub fn encode_with(
        &self,
        format: OutputFormat,
        how: encode::Encoding,
    ) -> Result<Rendered, PipelineError> {
        if let (Some(animated), true) = (&self.animated, format == OutputFormat::Webp) {
            return animated.clone();
        }
        catch_unwind(AssertUnwindSafe(|| {
            let flat;
            let px =
                if self.pixels.alpha && (format == OutputFormat::Jpeg || self.pixels.is_opaque()) {
                    flat = self.pixels.clone().flatten(self.background);
                    &flat
                } else {
                    &self.pixels
                };
            let (bytes, quality) = encode::encode_within(px, format, how)?;
            Ok(Rendered {
                bytes,
                width: px.width,
                height: px.height,
                format,
                subject: self.subject,
                quality,
            })
        }))
        .unwrap_or_else(|_| Err(PipelineError::Internal("an encoder panicked".into())))
    }
}

/// Decodes `input` once and composes every one of `specs` from it, in the given order.
/// The outer error is the original's (it cannot be decoded); an inner one is a preset's
/// own (its output would exceed the limits).
pub fn compose_all(
    input: &[u8],
    specs: &[&Spec],
    limits: &Limits,
) -> Result<Vec<Result<Composed, PipelineError>>, PipelineError> {
    let mut out: Vec<Option<Result<Composed, PipelineError>>> =
        (0..specs.len()).map(|_| None).collect();
    compose_each(input, specs, limits, &mut |i, one| out[i] = Some(one))?;
    Ok(out
        .into_iter()
        .map(|o| o.unwrap_or_else(|| Err(PipelineError::Internal("preset not composed".into()))))
        .collect())
}

/// [`compose_all`], handing each preset (by its index in `specs`) to `each` as soon as it
/// is composed, largest first: a caller can start encoding the first while the rest are
/// still being resized.
pub fn compose_each(
    input: &[u8],
    specs: &[&Spec],
    limits: &Limits,
    each: &mut dyn FnMut(usize, Result<Composed, PipelineError>),
) -> Result<(), PipelineError> {
    catch_unwind(AssertUnwindSafe(|| by_page(input, specs, limits, each))).unwrap_or_else(|_| {
        Err(PipelineError::Internal(
            "a decoder failed on this input".into(),
        ))
    })
}

/// [`compose_inner`] once per page the presets draw (a PDF's page is a decode of its own):
/// the first page's error is the original's, another page's only its presets'.
fn by_page(
    input: &[u8],
    specs: &[&Spec],
    limits: &Limits,
    each: &mut dyn FnMut(usize, Result<Composed, PipelineError>),
) -> Result<(), PipelineError> {
    let mut pages: Vec<Option<u32>> = Vec::new();
    for s in specs {
        if !pages.contains(&s.page) {
            pages.push(s.page);
        }
    }
    pages.sort();
    for page in pages {
        let at: Vec<usize> = (0..specs.len())
            .filter(|&i| specs[i].page == page)
            .collect();
        let group: Vec<&Spec> = at.iter().map(|&i| specs[i]).collect();
        let done = compose_inner(input, &group, limits, &mut |j, one| each(at[j], one));
        match done {
            Err(e) if page.is_some() => at.iter().for_each(|&i| each(i, Err(e.clone()))),
            other => other?,
        }
    }
    Ok(())
}

/// A whole-image resize kept as a source for smaller specs.
struct Intermediate {
    pixels: Pixels,
    /// Its pixels per full-resolution pixel.
    scale: (f64, f64),
}

fn compose_inner(
    input: &[u8],
    specs: &[&Spec],
    limits: &Limits,
    each: &mut dyn FnMut(usize, Result<Composed, PipelineError>),
) -> Result<(), PipelineError> {
    let probed = probe(input, limits)?;
    // The decode serves every preset: the smallest denominator any of them allows.
    let shrink = |w: u32, h: u32| {
        let margin = super::shrink_margin(w, h);
        specs
            .iter()
            .map(|p| {
                let (x, y) = geometry::plan(w, h, p).shrink();
                Shrink {
                    by: x.min(y),
                    margin,
                }
            })
            .reduce(Shrink::finer)
            .unwrap_or(Shrink::NONE)
    };
    let page = specs.first().and_then(|s| s.page);
    let upright = super::decode_probed(input, probed, limits, &shrink, true, page)?;
    let full = upright.full;
    let specs = with_subjects(specs, &upright.pixels);
    let plans: Vec<Plan> = specs
        .iter()
        .map(|(p, _)| geometry::plan(full.0, full.1, p))
        .collect();
    // Largest first, so that each result can feed the smaller ones after it.
    let mut order: Vec<usize> = (0..specs.len()).collect();
    order.sort_by_key(|&i| {
        let (w, h) = plans[i].resized;
        std::cmp::Reverse(u64::from(w) * u64::from(h))
    });
    let mut kept: Vec<Intermediate> = Vec::new();
    for i in order {
        let ((spec, subject), plan) = (&specs[i], &plans[i]);
        if let Some(made) = compose_trimmed(&upright, spec, limits, input, &probed) {
            each(i, made);
            continue;
        }
        if let Err(e) = check_output(plan.canvas, limits) {
            each(i, Err(e));
            continue;
        }
        let shrink = plan.shrink();
        let shrink = shrink.0.min(shrink.1);
        // The smallest kept result with the margin, else the decoded image.
        let source = kept
            .iter()
            .filter(|k| shrink * k.scale.0.min(k.scale.1) >= CASCADE_MARGIN)
            .min_by_key(|k| k.pixels.width)
            .map_or((&upright.pixels, upright.scale), |k| (&k.pixels, k.scale));
        let mut resized = resize::resize(source.0, plan, source.1)?;
        if covers_whole(plan, full) {
            kept.push(Intermediate {
                pixels: resized.clone(),
                scale: (
                    f64::from(resized.width) / f64::from(full.0),
                    f64::from(resized.height) / f64::from(full.1),
                ),
            });
        }
        if let Some(icc) = &upright.deferred_icc {
            colour::convert_pixels(&mut resized, icc);
        }
        let pixels = overlay::finish(resized, plan, spec);
        each(
            i,
            Ok(composed(pixels, spec, limits, input, &probed, *subject)),
        );
    }
    Ok(())
}

/// `spec`'s output resized from `upright` cut to its borders (alone: a trimmed picture
/// feeds no other preset), or `None` when `spec` does not trim or there is nothing to cut.
fn compose_trimmed(
    upright: &Upright,
    spec: &Spec,
    limits: &Limits,
    input: &[u8],
    probed: &Probe,
) -> Option<Result<Composed, PipelineError>> {
    let (rect, spec) = trim_of(upright, spec)?;
    let cut = upright.cut_copy(rect);
    let (spec, _) = with_subject(&spec, &cut.pixels);
    let plan = geometry::plan(cut.full.0, cut.full.1, &spec);
    let made = check_output(plan.canvas, limits).and_then(|()| {
        let mut resized = resize::resize(&cut.pixels, &plan, cut.scale)?;
        if let Some(icc) = &cut.deferred_icc {
            colour::convert_pixels(&mut resized, icc);
        }
        let pixels = overlay::finish(resized, &plan, &spec);
        Ok(composed(pixels, &spec, limits, input, probed, None))
    });
    Some(made)
}

/// A preset's finished canvas, ready to encode.
fn composed(
    pixels: Pixels,
    spec: &Spec,
    limits: &Limits,
    input: &[u8],
    probed: &Probe,
    subject: Option<Saliency>,
) -> Composed {
    Composed {
        pixels,
        background: spec.background,
        how: encode::Encoding::of(spec, limits),
        choice: spec.format,
        source: *probed,
        animated: animation::keeps(spec, probed, OutputFormat::Webp)
            .then(|| animation::render(input, probed, spec, limits)),
        subject,
    }
}

/// `specs`, each `smart` one that does not know its subject given the one found in `pixels`
/// (once for all of them), with what was found for it.
fn with_subjects(specs: &[&Spec], pixels: &Pixels) -> Vec<(Spec, Option<Saliency>)> {
    let found = specs
        .iter()
        .any(|s| needs_subject(s))
        .then(|| subject::find(pixels));
    specs
        .iter()
        .map(|s| match found {
            Some(map) if needs_subject(s) => (
                Spec {
                    subject: Subject::Salient(map),
                    ..(*s).clone()
                },
                found,
            ),
            _ => ((*s).clone(), None),
        })
        .collect()
}

/// Whether `plan` resizes the whole image (no `cover` crop), so its result can stand in
/// for the image at a smaller scale.
fn covers_whole(plan: &Plan, full: (u32, u32)) -> bool {
    let s = &plan.source;
    s.left == 0.0
        && s.top == 0.0
        && s.width == f64::from(full.0)
        && s.height == f64::from(full.1)
        && plan.resized.0 < full.0
}
