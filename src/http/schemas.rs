//! The shapes of the API's bodies that have no type of their own in the service (errors,
//! batch wrappers, the hook's answers), for the OpenAPI document and its tests.

use serde::Serialize;
use utoipa::ToSchema;

use crate::service::events::EventOutcome;

/// An error, as RFC 9457 has it (`application/problem+json`).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct Problem {
    /// Always `about:blank`: the status and title say what it is.
    #[serde(rename = "type")]
    kind: String,
    title: String,
    status: u16,
    /// What went wrong and what to do, for a person.
    detail: String,
}

/// A preset as `GET /v1/presets` lists it.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct PresetInfo {
    name: String,
    /// Changes whenever what the preset produces changes.
    fingerprint: String,
    summary: String,
    /// The box; `null` for a side left free.
    width: Option<u32>,
    height: Option<u32>,
    /// `inside`, `cover`, `contain` or `fill`.
    fit: String,
    /// Whether an original smaller than the box is enlarged.
    upscale: bool,
    /// The unsharp mask's sigma in output pixels, applied after the resize; `null` for none.
    sharpen: Option<f32>,
    /// The Gaussian blur's sigma in output pixels; `null` for none.
    blur: Option<f32>,
    /// The trim's threshold (borders within it of the corner's colour are cut before the
    /// fit); `null` when the preset does not trim.
    trim: Option<u8>,
    /// `circle` or `rounded` (transparent corners); `null` for none.
    mask: Option<String>,
    /// A `rounded` mask's corner radius in output pixels.
    radius: Option<u32>,
    /// Whether a watermark is drawn over the output.
    watermark: bool,
    /// The byte budget: the encoder lowers its quality until the output fits.
    max_bytes: Option<u32>,
    /// `none`, `density` (`densities = [...]`) or `width` (`widths = [...]`).
    steps_by: String,
    /// Each step, the plain one first (empty without steps).
    steps: Vec<PresetStep>,
    /// The preset's `sizes` for its width ladder's `srcset`.
    sizes: Option<String>,
}

/// One responsive step of a preset.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct PresetStep {
    /// `card@2x`, `hero@640w`, or the preset's own name for the first.
    name: String,
    /// `2x`, `640w`.
    suffix: String,
    width: Option<u32>,
    height: Option<u32>,
}

/// `POST /v1/pregenerate`'s body.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct PregenerateRequest {
    /// Originals' keys (at most 1000).
    keys: Vec<String>,
    /// Preset names; none or absent means every preset.
    #[serde(default)]
    presets: Vec<String>,
}

/// One result per key of a batch (`POST /v1/pregenerate`, S3 events).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct Results<T> {
    results: Vec<T>,
}

/// What `POST /v1/hooks/s3` did with an SNS message.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct HookOutcome {
    /// One per S3 event record.
    #[serde(skip_serializing_if = "Option::is_none")]
    results: Option<Vec<EventOutcome>>,
    /// S3's `s3:TestEvent`, acknowledged.
    #[serde(skip_serializing_if = "Option::is_none")]
    test_event: Option<bool>,
    /// The topic whose subscription was confirmed.
    #[serde(skip_serializing_if = "Option::is_none")]
    confirmed: Option<String>,
    /// The topic that unsubscribed this endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    unsubscribed: Option<String>,
    /// The `MessageId` of an SNS message acted on before (acknowledged, not redone).
    #[serde(skip_serializing_if = "Option::is_none")]
    duplicate: Option<String>,
}
