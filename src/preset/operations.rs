//! `trim`, `mask`, `watermark` and `max_bytes` as a preset file gives them, checked into the
//! pipeline's words; the watermark's picture is read and decoded here, once, at load.

use std::path::Path;
use std::sync::Arc;

use toml::Value;

use crate::pipeline::{Animation, Gravity, Mark, Mask, Placement, Spec, Trim, Watermark};
use crate::preset::error::PresetError;
use crate::preset::file::{PresetFile, found};
use crate::preset::terms::FormatChoice;
use crate::preset::terms::MAX_PRESET_SIDE;

/// The largest watermark file read, and the most pixels a side of its picture may have.
const MAX_MARK_BYTES: u64 = 8 << 20;
const MAX_MARK_SIDE: u32 = 4096;

/// The highest `page` a preset may name.
const MAX_PAGE: u32 = 100_000;

/// The smallest `max_bytes`: below it no photo is more than a smudge.
pub const MIN_MAX_BYTES: i64 = 500;

/// The keys a `watermark` table may hold.
const MARK_KEYS: &[&str] = &[
    "image",
    "position",
    "margin",
    "opacity",
    "width",
    "min_width",
];

/// `spec` given `file`'s trim, mask, watermark and byte budget.
pub(super) fn apply(file: &PresetFile, path: &Path, spec: &mut Spec) -> Result<(), PresetError> {
    let error = |field: &'static str, reason: String| PresetError::Field {
        path: path.to_owned(),
        field,
        reason,
    };
    spec.trim = match &file.trim {
        None => None,
        Some(v) => trim(v).map_err(|r| error("trim", r))?,
    };
    if spec.trim.is_some() && spec.animation == Animation::Keep {
        let reason = "cannot go with animation = \"keep\": frames are not trimmed";
        return Err(error("trim", reason.into()));
    }
    spec.mask = mask(file).map_err(|(field, r)| error(field, r))?;
    spec.watermark = match &file.watermark {
        None => None,
        Some(v) => Some(watermark(v, path).map_err(|r| error("watermark", r))?),
    };
    spec.max_bytes = match file.max_bytes {
        None => None,
        Some(n) if !(MIN_MAX_BYTES..=i64::from(u32::MAX)).contains(&n) => {
            let reason = format!("must be at least {MIN_MAX_BYTES} bytes; found {n}");
            return Err(error("max_bytes", reason));
        }
        Some(_) if spec.format == FormatChoice::Png || spec.lossless => {
            let reason = "needs a lossy format: a lossless output has no quality to lower";
            return Err(error("max_bytes", reason.into()));
        }
        Some(n) => Some(n as u32),
    };
    spec.page = match file.page {
        None | Some(1) => None,
        Some(n) if (2..=i64::from(MAX_PAGE)).contains(&n) => Some(n as u32),
        Some(n) => {
            let reason = format!("must be a page number from 1 to {MAX_PAGE}; found {n}");
            return Err(error("page", reason));
        }
    };
    Ok(())
}

/// `trim = true`, `trim = false` or `trim = { threshold = N }`.
fn trim(v: &Value) -> Result<Option<Trim>, String> {
    let allowed = "true, false, or a table such as { threshold = 10 }";
    match v {
        Value::Boolean(false) => Ok(None),
        Value::Boolean(true) => Ok(Some(Trim {
            threshold: Trim::DEFAULT_THRESHOLD,
        })),
        Value::Table(t) => {
            if let Some(k) = t.keys().find(|k| *k != "threshold") {
                return Err(format!("has no key `{k}`; its only key is threshold"));
            }
            let threshold = match t.get("threshold") {
                None => Trim::DEFAULT_THRESHOLD,
                Some(Value::Integer(n)) if (0..=254).contains(n) => *n as u8,
                Some(other) => {
                    return Err(format!(
                        "`threshold` must be a whole number from 0 to 254 (a difference per \
                         channel); found {}",
                        found(other)
                    ));
                }
            };
            Ok(Some(Trim { threshold }))
        }
        other => Err(format!("must be {allowed}; found {}", found(other))),
    }
}

/// `mask = "circle"`, or `mask = "rounded"` with `radius`.
fn mask(file: &PresetFile) -> Result<Option<Mask>, (&'static str, String)> {
    let radius = match file.radius {
        None => None,
        Some(r) if (1..=i64::from(MAX_PRESET_SIDE)).contains(&r) => Some(r as u32),
        Some(r) => {
            let reason = format!("must be from 1 to {MAX_PRESET_SIDE} output pixels; found {r}");
            return Err(("radius", reason));
        }
    };
    match (file.mask.as_deref(), radius) {
        (None, None) => Ok(None),
        (Some("circle"), None) => Ok(Some(Mask::Circle)),
        (Some("rounded"), Some(radius)) => Ok(Some(Mask::Rounded { radius })),
        (Some("rounded"), None) => Err(("radius", "mask = \"rounded\" needs a radius".into())),
        (None | Some("circle"), Some(_)) => {
            Err(("radius", "only applies to mask = \"rounded\"".into()))
        }
        (Some(other), _) => Err((
            "mask",
            format!(
                "must be \"circle\" or \"rounded\"; found the string {:?}",
                other.chars().take(40).collect::<String>()
            ),
        )),
    }
}

/// A `watermark` table, its picture read from beside the preset file.
fn watermark(v: &Value, path: &Path) -> Result<Watermark, String> {
    let Value::Table(t) = v else {
        return Err(format!(
            "must be a table such as {{ image = \"marks/logo.png\", position = \"southeast\" }}; \
             found {}",
            found(v)
        ));
    };
    if let Some(k) = t.keys().find(|k| !MARK_KEYS.contains(&k.as_str())) {
        let k: String = k.chars().take(40).collect();
        return Err(format!(
            "has no key `{k}`; its keys are {}",
            MARK_KEYS.join(", ")
        ));
    }
    let fraction = |key: &str, default: f64| match t.get(key) {
        None => Ok(default as f32),
        Some(v) => match v.as_float().or(v.as_integer().map(|i| i as f64)) {
            Some(f) if f > 0.0 && f <= 1.0 => Ok(f as f32),
            _ => Err(format!(
                "`{key}` must be a number above 0 and at most 1; found {}",
                found(v)
            )),
        },
    };
    let margin = match t.get("margin") {
        None => 16,
        Some(Value::Integer(m)) if (0..=i64::from(MAX_PRESET_SIDE)).contains(m) => *m as u32,
        Some(v) => {
            return Err(format!(
                "`margin` must be a whole number of pixels; found {}",
                found(v)
            ));
        }
    };
    let image = match t.get("image") {
        Some(Value::String(s)) => s,
        Some(v) => return Err(format!("`image` must be a file's path; found {}", found(v))),
        None => return Err("needs `image`, the path of the mark (relative to this file)".into()),
    };
    let folder = path.parent().unwrap_or(Path::new("."));
    let mark = mark(&folder.join(image))?;
    let min_width = match t.get("min_width") {
        // Never on an output narrower than the mark's own picture, unless the preset says.
        None => mark.width,
        Some(Value::Integer(m)) if (0..=i64::from(MAX_PRESET_SIDE)).contains(m) => *m as u32,
        Some(v) => {
            return Err(format!(
                "`min_width` must be a whole number of pixels; found {}",
                found(v)
            ));
        }
    };
    Ok(Watermark {
        min_width,
        mark: Arc::new(mark),
        position: placement(t.get("position"))?,
        margin,
        opacity: fraction("opacity", 1.0)?,
        width: fraction("width", 0.2)?,
    })
}

/// `position`: a gravity's name (`south-east` or `southeast`), or `tile`.
fn placement(v: Option<&Value>) -> Result<Placement, String> {
    let allowed = "centre, north, north-east, east, south-east, south, south-west, west, \
                   north-west or tile";
    let Some(v) = v else {
        return Ok(Placement::At(Gravity::Southeast));
    };
    let word = v.as_str().map(|s| s.replace('-', "")).unwrap_or_default();
    if word == "tile" {
        return Ok(Placement::Tile);
    }
    match serde::Deserialize::deserialize(Value::String(word)) {
        Ok(Gravity::Smart) | Err(_) => Err(format!(
            "`position` must be one of {allowed}; found {}",
            found(v)
        )),
        Ok(g) => Ok(Placement::At(g)),
    }
}

/// The mark's picture as straight-alpha RGBA, within the size limits.
fn mark(file: &Path) -> Result<Mark, String> {
    let shown = file.display();
    let size = std::fs::metadata(file)
        .map_err(|e| format!("cannot read {shown}: {e}"))?
        .len();
    if size > MAX_MARK_BYTES {
        return Err(format!(
            "{shown} is {size} bytes; a mark may have at most {MAX_MARK_BYTES}"
        ));
    }
    let bytes = std::fs::read(file).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let reader = image::ImageReader::new(std::io::Cursor::new(&bytes))
        .with_guessed_format()
        .map_err(|e| format!("cannot read {shown}: {e}"))?;
    let (w, h) = reader
        .into_dimensions()
        .map_err(|e| format!("{shown} is not a picture thumbkit reads: {e}"))?;
    if w > MAX_MARK_SIDE || h > MAX_MARK_SIDE || w == 0 || h == 0 {
        return Err(format!(
            "{shown} is {w}x{h}; a mark may be at most {MAX_MARK_SIDE} a side"
        ));
    }
    let rgba = image::load_from_memory(&bytes)
        .map_err(|e| format!("{shown} is not a picture thumbkit reads: {e}"))?
        .to_rgba8();
    Ok(Mark {
        width: w,
        height: h,
        rgba: rgba.into_raw(),
    })
}

/// What the fingerprint adds: nothing for what is not set, the mark by its pixels' hash.
pub(super) fn canonical(spec: &Spec) -> String {
    let mut s = String::new();
    if let Some(t) = spec.trim {
        s.push_str(&format!(";trim={}", t.threshold));
    }
    match spec.mask {
        Some(Mask::Circle) => s.push_str(";mask=circle"),
        Some(Mask::Rounded { radius }) => s.push_str(&format!(";mask=rounded/{radius}")),
        None => {}
    }
    if let Some(w) = &spec.watermark {
        let mut hash = blake3::Hasher::new();
        hash.update(&w.mark.width.to_le_bytes());
        hash.update(&w.mark.height.to_le_bytes());
        hash.update(&w.mark.rgba);
        let id = &hash.finalize().to_hex()[..16];
        s.push_str(&format!(
            ";watermark={id}/{:?}/{}/{}/{}/{}",
            w.position, w.margin, w.opacity, w.width, w.min_width
        ));
    }
    if let Some(n) = spec.max_bytes {
        s.push_str(&format!(";max_bytes={n}"));
    }
    if let Some(n) = spec.page {
        s.push_str(&format!(";page={n}"));
    }
    s
}

/// What the one-line summary adds, e.g. `, trim, circle, watermark, at most 40000 bytes`.
pub(super) fn summary(spec: &Spec) -> String {
    let mut s = String::new();
    if spec.trim.is_some() {
        s.push_str(", trim");
    }
    match spec.mask {
        Some(Mask::Circle) => s.push_str(", circle"),
        Some(Mask::Rounded { radius }) => s.push_str(&format!(", rounded {radius}")),
        None => {}
    }
    if spec.watermark.is_some() {
        s.push_str(", watermark");
    }
    if let Some(n) = spec.max_bytes {
        s.push_str(&format!(", at most {n} bytes"));
    }
    if let Some(n) = spec.page {
        s.push_str(&format!(", page {n}"));
    }
    s
}

/// A step's lengths in output pixels scaled with its box (a `@2x` step's blur, corner radius
/// and watermark margin twice the first's), so every step looks the same at its density;
/// `sharpen` is about single pixels, and stays.
pub(super) fn scale_lengths(spec: &mut Spec, from: Option<u32>, to: Option<u32>) {
    let (Some(from), Some(to)) = (from, to) else {
        return;
    };
    let k = f64::from(to) / f64::from(from.max(1));
    let scaled = |v: u32| ((f64::from(v) * k).round() as u32).max(1);
    if let Some(blur) = &mut spec.effects.blur {
        *blur = (f64::from(*blur) * k).min(crate::pipeline::effects::MAX_BLUR) as f32;
    }
    if let Some(Mask::Rounded { radius }) = &mut spec.mask {
        *radius = scaled(*radius);
    }
    if let Some(w) = &mut spec.watermark {
        w.margin = if w.margin > 0 { scaled(w.margin) } else { 0 };
        w.min_width = if w.min_width > 0 {
            scaled(w.min_width)
        } else {
            0
        };
    }
}
