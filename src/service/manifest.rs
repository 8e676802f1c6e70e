//! What thumbkit tells a backend about an original: its content hash, upright size and
//! placeholder, and for every preset the variant's URL (pinned to the content, signed when
//! signing is on), size and format, and whether it is stored.

use std::collections::BTreeMap;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;

use crate::keys::{ContentHash, ObjectKey};
use crate::pipeline::{self, OutputFormat, Point, Region, Saliency};
use crate::preset::{FormatChoice, Preset, Presets};
use crate::service::error::ServiceError;
use crate::service::focus::Crop;
use crate::service::originals::Original;
use crate::service::workers::Patience;
use crate::service::{Settings, Thumbnails};
use crate::signing::now;
use crate::storage::Kind;
use crate::video;

/// Characters kept as they are in a URL path segment (RFC 3986 unreserved, and `:`, which
/// a path segment may hold and which names a source: `docs:scans/a.pdf`); `/` separates
/// segments and is kept too. Everything else (spaces, `?`, `#`, `%`, non-ASCII) is encoded.
pub(crate) const PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b':')
    .remove(b'/');

/// The URL path of `key`'s variant for `preset`, pinned to `hash`.
pub fn variant_url(preset: &str, key: &ObjectKey, hash: &ContentHash) -> String {
    format!("{}?v={hash}", variant_path(preset, key))
}

/// [`variant_url`] pinned to how a `smart` preset's crop is decided too (`?v={hash}.{tag}`).
fn crop_url(preset: &str, key: &ObjectKey, hash: &ContentHash, crop: &Crop) -> String {
    match &crop.tag {
        Some(tag) => format!("{}.{tag}", variant_url(preset, key, hash)),
        None => variant_url(preset, key, hash),
    }
}

/// A focal point: fractions of the upright picture, (0, 0) its top left.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Focus {
    pub x: f64,
    pub y: f64,
}

impl From<Point> for Focus {
    fn from(p: Point) -> Self {
        Self { x: p.x, y: p.y }
    }
}

/// A box in fractions of the upright picture.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SubjectBox {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

/// Where the picture's subject is (what `smart` crops keep without a focal point): the faces
/// found, and the box holding them, else the most salient part.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Subject {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    /// Each face found, the largest first.
    pub faces: Vec<SubjectBox>,
}

impl From<Saliency> for Subject {
    fn from(map: Saliency) -> Self {
        let faces: Vec<SubjectBox> = map.faces().iter().map(SubjectBox::from).collect();
        let around = map
            .faces()
            .kept_in(1.0, 1.0)
            .unwrap_or_else(|| map.region());
        let b = SubjectBox::from(around);
        Self {
            x: b.x,
            y: b.y,
            w: b.w,
            h: b.h,
            faces,
        }
    }
}

impl From<Region> for SubjectBox {
    fn from(r: Region) -> Self {
        let round = |v: f64| (v * 1e4).round() / 1e4;
        Self {
            x: round(r.x),
            y: round(r.y),
            w: round(r.w),
            h: round(r.h),
        }
    }
}

/// The URL path of `key`'s variant for `preset`, unpinned (whatever the key holds now).
pub fn variant_path(preset: &str, key: &ObjectKey) -> String {
    let key = utf8_percent_encode(key.as_str(), PATH);
    format!("/t/{preset}/{key}")
}

/// What thumbkit knows of an original, and of each preset's variant of it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Manifest {
    pub key: String,
    pub hash: String,
    pub bytes: u64,
    pub format: String,
    /// What kind of original it is.
    pub kind: OriginalKind,
    /// A PDF's pages (thumbnails show the first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pages: Option<u32>,
    /// A video's duration in seconds, when its container says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    /// Width once EXIF orientation is applied (a PDF page or an SVG counts as 2048-4096 px
    /// on its longer side).
    pub width: u32,
    pub height: u32,
    /// BlurHash placeholder (known for uploads; computed on `GET` otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blurhash: Option<String>,
    /// ThumbHash placeholder, base64 (keeps alpha and the aspect ratio), beside `blurhash`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thumbhash: Option<String>,
    /// The picture's mean colour, `#rrggbb`: a placeholder's background.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub average_color: Option<String>,
    /// The picture's most common colour, `#rrggbb`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dominant_color: Option<String>,
    /// The focal point the application set (`smart` crops are centred on it), or null.
    pub focus: Option<Focus>,
    /// Where the picture's subject was found (known for uploads when a preset is `smart`;
    /// computed on `GET` otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<Subject>,
    pub variants: BTreeMap<String, VariantInfo>,
}

/// What kind of original a manifest describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OriginalKind {
    /// A raster picture: a photo, a graphic, an animation.
    Image,
    /// A vector drawing.
    Svg,
    /// A document of pages.
    Pdf,
    /// A video, shown by a poster frame a short way in.
    Video,
}

impl From<pipeline::SourceKind> for OriginalKind {
    fn from(kind: pipeline::SourceKind) -> Self {
        match kind {
            pipeline::SourceKind::Image => OriginalKind::Image,
            pipeline::SourceKind::Svg => OriginalKind::Svg,
            pipeline::SourceKind::Pdf => OriginalKind::Pdf,
            pipeline::SourceKind::Video => OriginalKind::Video,
        }
    }
}

/// One preset's variant in a [`Manifest`].
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VariantInfo {
    /// Pinned to the content (`?v=`), so it can be cached forever.
    pub url: String,
    pub width: u32,
    pub height: u32,
    /// The format served to a client without WebP support.
    pub format: String,
    /// The format depends on the client's `Accept` (WebP when it is accepted).
    pub negotiated: bool,
    /// For a preset with steps: every step's URL with its descriptor (`1x`, `640w`), ready
    /// for `<img srcset>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub srcset: Option<String>,
    /// The preset's `sizes`, to go with a width ladder's `srcset`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sizes: Option<String>,
    /// For a step (`card@2x`): the preset it is a step of.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_of: Option<String>,
    /// Whether the variant is in the store now (asked for by `GET`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stored: Option<bool>,
    /// What pre-generation did: `rendered`, `existing`, or the error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pregenerated: Option<String>,
}

/// One step's variant as a `srcset` sees it.
#[derive(Debug, Clone)]
pub struct StepVariant {
    pub url: String,
    /// Its width for this original.
    pub width: u32,
    /// It enlarges the original (its pixels add no detail).
    pub enlarges: bool,
}

/// `preset`'s `srcset` from each step's variant (`variant("card@2x")`): `url 1x, url 2x`, or
/// `url 320w, url 640w` by the width each step really has for this original. A step after
/// the first is left out when it is no wider than the last one kept (the original is too
/// small to fill it) or when it enlarges the original: it would only cost bytes. The JS and
/// Python helpers apply the same rule. `None` without steps.
pub fn srcset(preset: &Preset, variant: impl Fn(&str) -> Option<StepVariant>) -> Option<String> {
    let suffixes = preset.step_suffixes();
    if suffixes.is_empty() {
        return None;
    }
    let mut entries: Vec<String> = Vec::new();
    let mut last_width = 0;
    for (i, suffix) in suffixes.iter().enumerate() {
        let name = match i {
            0 => preset.name.to_string(),
            _ => format!("{}@{suffix}", preset.name),
        };
        let StepVariant {
            url,
            width,
            enlarges,
        } = variant(&name)?;
        if i > 0 && (width <= last_width || enlarges) {
            continue;
        }
        last_width = width;
        if preset.steps.by_width() {
            entries.push(format!("{url} {width}w"));
        } else {
            entries.push(format!("{url} {suffix}"));
        }
    }
    Some(entries.join(", "))
}

/// The formats a preset's variant of this original can be served in, `auto` choosing
/// among `modern`.
pub(crate) fn formats(
    preset: &Preset,
    original: &Original,
    modern: &[OutputFormat],
) -> Vec<OutputFormat> {
    OutputFormat::candidates(&preset.spec, &original.record.probe, modern)
}

impl Manifest {
    /// What `presets` make of `original` (at `key`), with URLs as `settings` hand them out:
    /// signed, and under the public URL.
    pub(crate) fn of(
        key: &ObjectKey,
        original: &Original,
        presets: &Presets,
        settings: &Settings,
        focus: Option<Point>,
    ) -> Manifest {
        let record = &original.record;
        let upright = record.upright();
        let expires = crate::signing::expiry(now(), settings.signed_url_ttl);
        let source = settings.layout.source_name(key.as_str());
        let mut variants: BTreeMap<String, VariantInfo> = presets
            .every()
            .filter(|preset| preset.serves(source))
            .map(|preset| {
                let (width, height) = pipeline::output_size(upright, &preset.spec);
                let crop = Crop::of(preset, focus, record.saliency);
                let mut url = crop_url(preset.name.as_str(), key, &original.hash, &crop);
                if let Some(signer) = &settings.signer {
                    url = signer.sign(&url, expires);
                }
                // The signature covers the path: the CDN forwards it unchanged.
                if let Some(base) = &settings.public_url {
                    url.insert_str(0, base);
                }
                let info = VariantInfo {
                    url,
                    width,
                    height,
                    format: OutputFormat::resolve(&preset.spec, &record.probe, &[]).to_string(),
                    negotiated: preset.spec.format == FormatChoice::Auto,
                    srcset: None,
                    sizes: None,
                    step_of: preset.step_of.as_ref().map(|p| p.to_string()),
                    stored: None,
                    pregenerated: None,
                };
                (preset.name.as_str().to_owned(), info)
            })
            .collect();
        for preset in presets.iter() {
            let srcset = srcset(preset, |name| {
                let step = presets.get(name)?;
                variants.get(name).map(|v| StepVariant {
                    url: v.url.clone(),
                    width: v.width,
                    enlarges: pipeline::output_enlarges(upright, &step.spec),
                })
            });
            if let Some(info) = variants.get_mut(preset.name.as_str()) {
                info.srcset = srcset;
                info.sizes = preset.sizes.clone();
            }
        }
        Manifest {
            key: key.to_string(),
            hash: original.hash.to_string(),
            bytes: record.size,
            format: record.probe.format.to_string(),
            kind: record.probe.format.kind().into(),
            pages: (record.probe.pages > 0).then_some(record.probe.pages),
            duration: record.probe.duration_ms.map(|ms| ms as f64 / 1000.0),
            width: upright.0,
            height: upright.1,
            blurhash: record.placeholder.as_ref().map(|p| p.blurhash.clone()),
            thumbhash: record.placeholder.as_ref().map(|p| p.thumbhash.clone()),
            average_color: record.placeholder.as_ref().map(|p| p.average_color.clone()),
            dominant_color: record
                .placeholder
                .as_ref()
                .map(|p| p.dominant_color.clone()),
            focus: focus.map(Focus::from),
            subject: record.saliency.map(Subject::from),
            variants,
        }
    }
}

impl Thumbnails {
    /// The original's manifest with, for each preset, whether its variant is stored now.
    pub async fn describe(&self, key: &str) -> Result<Manifest, ServiceError> {
        let key = self.original_key(key)?;
        let mut original = self.originals.resolve(&key).await?;
        if (original.record.saliency.is_none() || original.record.placeholder.is_none())
            && let Some(found) = self.complete_facts(&key, &original).await
        {
            original = found;
        }
        let focus = self.focus.of(&key, &original.hash).await?;
        let mut manifest = Manifest::of(&key, &original, self.presets(), &self.settings, focus);
        let source = self.settings.layout.source_name(key.as_str());
        for preset in self.presets().every().filter(|p| p.serves(source)) {
            let mut stored = false;
            let crop = Crop::of(preset, focus, original.record.saliency);
            for format in formats(preset, &original, &self.settings.auto_formats) {
                let variant = self.variant_key(&key, &original.hash, preset, &crop, format);
                stored |= self
                    .storage()
                    .head(&variant, Kind::Variant)
                    .await?
                    .is_some();
            }
            if let Some(info) = manifest.variants.get_mut(preset.name.as_str()) {
                info.stored = Some(stored);
            }
        }
        Ok(manifest)
    }

    /// Computes what an original that was not uploaded through thumbkit (or before thumbkit
    /// kept it) lacks of its BlurHash and saliency, from one read of its bytes, and shares it
    /// in the original's record so that it is computed once. `None` if that fails.
    async fn complete_facts(&self, key: &ObjectKey, original: &Original) -> Option<Original> {
        let admitted = self.workers.admit(Patience::Wait).await.ok()?;
        let bytes = self.originals.fetch(key, original).await.ok()?.bytes()?;
        let limits = self.settings.limits;
        let mut record = (*original.record).clone();
        let (had_placeholder, had_saliency) = (record.placeholder.clone(), record.saliency);
        let (placeholder, saliency) = self
            .workers
            .run(admitted, pipeline::decode_cost(&bytes), move || {
                let bytes = video::viewable(&bytes, &limits)?;
                let placeholder = match had_placeholder {
                    Some(known) => known,
                    None => pipeline::placeholder(&bytes, &limits)?,
                };
                let saliency = match had_saliency {
                    Some(known) => known,
                    None => pipeline::saliency(&bytes, &limits)?,
                };
                Ok::<_, pipeline::PipelineError>((placeholder, saliency))
            })
            .await
            .ok()?
            .ok()?;
        record.placeholder = Some(placeholder);
        record.saliency = Some(saliency);
        let _ = self.originals.share(&record).await;
        Some(Original::new(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_encode_what_a_path_cannot_hold() {
        let key = ObjectKey::parse("a b/é?#%.jpg").unwrap();
        let hash = ContentHash::of(b"x");
        assert_eq!(
            variant_url("thumb", &key, &hash),
            format!("/t/thumb/a%20b/%C3%A9%3F%23%25.jpg?v={hash}")
        );
    }
}
