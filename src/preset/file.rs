//! A preset file's TOML read key by key, so that every mistake is told in the preset's own
//! words: the file, the key, what it allows and what was found (never a deserializer's
//! "expected i64" or "did not match any variant of untagged enum"), and a syntax error by
//! its line and column.

use std::path::Path;

use serde::Deserialize;
use toml::{Table, Value};

use crate::preset::error::PresetError;
use crate::preset::terms::{Animation, Fit, FormatChoice, Gravity};

/// The file as written; every field optional so that validation can name what is wrong.
#[derive(Debug, Default)]
pub(super) struct PresetFile {
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub fit: Option<Fit>,
    pub gravity: Option<Gravity>,
    pub format: Option<FormatChoice>,
    pub quality: Option<QualityFile>,
    pub lossless: Option<bool>,
    pub animation: Option<Animation>,
    pub background: Option<String>,
    pub upscale: Option<bool>,
    pub densities: Option<Vec<i64>>,
    pub widths: Option<Vec<i64>>,
    pub sizes: Option<String>,
    pub client_hints: Option<bool>,
    pub fallback: Option<String>,
    pub sharpen: Option<f64>,
    pub blur: Option<f64>,
    /// `true`, or a table with a `threshold` (read in `operations`).
    pub trim: Option<Value>,
    pub mask: Option<String>,
    pub radius: Option<i64>,
    /// A table (read in `operations`, which knows the preset's folder).
    pub watermark: Option<Value>,
    pub max_bytes: Option<i64>,
    pub page: Option<i64>,
    pub sources: Option<Vec<String>>,
}

/// `quality = 80` (JPEG's quality, the others at the same perceived quality), or one per
/// format: `quality = { jpeg = 80, webp = 78, avif = 55 }`.
#[derive(Debug)]
pub(super) enum QualityFile {
    One(i64),
    Each {
        jpeg: Option<i64>,
        webp: Option<i64>,
        avif: Option<i64>,
    },
}

/// Every key a preset file may hold.
const KEYS: &[&str] = &[
    "width",
    "height",
    "fit",
    "gravity",
    "format",
    "quality",
    "lossless",
    "animation",
    "background",
    "upscale",
    "densities",
    "widths",
    "sizes",
    "client_hints",
    "fallback",
    "sharpen",
    "blur",
    "trim",
    "mask",
    "radius",
    "watermark",
    "max_bytes",
    "page",
    "sources",
];

/// What `animation` may be.
const ANIMATIONS: &str = "\"first-frame\" or \"keep\"";

/// The formats `quality` may name.
const QUALITY_FORMATS: &[&str] = &["jpeg", "webp", "avif"];

/// How a value reads to a person: `the string "640"`, `the number 1.5`, `a list`...
pub(super) fn found(v: &Value) -> String {
    match v {
        Value::String(s) => format!("the string {:?}", s.chars().take(60).collect::<String>()),
        Value::Integer(i) => format!("the number {i}"),
        Value::Float(f) => format!("the number {f}"),
        Value::Boolean(b) => format!("{b}"),
        Value::Datetime(d) => format!("the date {d}"),
        Value::Array(_) => "a list".into(),
        Value::Table(t) => {
            let keys: Vec<&str> = t.keys().map(String::as_str).collect();
            format!("a table with {}", keys.join(", "))
        }
    }
}

/// `line L, column C` of byte offset `at` in `text`.
fn position(text: &str, at: usize) -> String {
    let before = &text[..at.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("line {line}, column {column}")
}

/// Reads a preset file's text.
pub(super) fn read(text: &str, path: &Path) -> Result<PresetFile, PresetError> {
    let table: Table = toml::from_str(text).map_err(|e| PresetError::Syntax {
        path: path.to_owned(),
        reason: match e.span() {
            Some(span) => format!("{}: {}", position(text, span.start), e.message().trim()),
            None => e.message().trim().to_owned(),
        },
    })?;
    let wrong = |key: &'static str, allowed: &str, v: &Value| PresetError::Field {
        path: path.to_owned(),
        field: key,
        reason: format!("must be {allowed}; found {}", found(v)),
    };
    let mut file = PresetFile::default();
    for (key, value) in &table {
        let Some(&key) = KEYS.iter().find(|k| **k == key) else {
            return Err(PresetError::Syntax {
                path: path.to_owned(),
                reason: format!(
                    "unknown key `{}`; a preset's keys are {}",
                    key.chars().take(60).collect::<String>(),
                    KEYS.join(", ")
                ),
            });
        };
        let int = |allowed| value.as_integer().ok_or_else(|| wrong(key, allowed, value));
        let boolean = || {
            value
                .as_bool()
                .ok_or_else(|| wrong(key, "true or false", value))
        };
        let number = |allowed| {
            (value.as_float().or(value.as_integer().map(|i| i as f64)))
                .ok_or_else(|| wrong(key, allowed, value))
        };
        let string = |allowed| {
            value
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| wrong(key, allowed, value))
        };
        match key {
            "width" => file.width = Some(int("a whole number of pixels, such as 640")?),
            "height" => file.height = Some(int("a whole number of pixels, such as 480")?),
            "fit" => file.fit = Some(choice(value, "inside, cover, contain or fill", key, path)?),
            "gravity" => {
                let allowed = "centre, north, northeast, east, southeast, south, southwest, \
                               west, northwest or smart";
                file.gravity = Some(choice(value, allowed, key, path)?);
            }
            "format" => {
                let allowed = "auto, source, jpeg, png, webp or avif";
                file.format = Some(choice(value, allowed, key, path)?);
            }
            "animation" => file.animation = Some(choice(value, ANIMATIONS, key, path)?),
            "quality" => file.quality = Some(quality(value, path)?),
            "lossless" => file.lossless = Some(boolean()?),
            "upscale" => file.upscale = Some(boolean()?),
            "client_hints" => file.client_hints = Some(boolean()?),
            "background" => file.background = Some(string("a colour such as \"#ffffff\"")?),
            "sizes" => file.sizes = Some(string("a media-condition list such as \"100vw\"")?),
            "fallback" => file.fallback = Some(string("the path of an image file")?),
            "densities" => file.densities = Some(steps(value, key, path)?),
            "widths" => file.widths = Some(steps(value, key, path)?),
            "sharpen" => file.sharpen = Some(number("a sigma in output pixels, such as 0.8")?),
            "blur" => file.blur = Some(number("a sigma in output pixels, such as 12")?),
            "trim" => file.trim = Some(value.clone()),
            "watermark" => file.watermark = Some(value.clone()),
            "mask" => file.mask = Some(string("\"circle\" or \"rounded\"")?),
            "radius" => file.radius = Some(int("a whole number of output pixels, such as 16")?),
            "max_bytes" => file.max_bytes = Some(int("a whole number of bytes, such as 40000")?),
            "page" => file.page = Some(int("a page number from 1, such as 2")?),
            "sources" => file.sources = Some(sources(value, path)?),
            _ => unreachable!("every key of KEYS is read above"),
        }
    }
    Ok(file)
}

/// One of an enum's words, or the error that lists them.
fn choice<T: for<'de> Deserialize<'de>>(
    value: &Value,
    allowed: &str,
    key: &'static str,
    path: &Path,
) -> Result<T, PresetError> {
    T::deserialize(value.clone()).map_err(|_| PresetError::Field {
        path: path.to_owned(),
        field: key,
        reason: format!("must be one of {allowed}; found {}", found(value)),
    })
}

/// `densities = [1, 2]` or `widths = [320, 640]`: whole numbers.
fn steps(value: &Value, key: &'static str, path: &Path) -> Result<Vec<i64>, PresetError> {
    let error = |reason: String| PresetError::Field {
        path: path.to_owned(),
        field: key,
        reason,
    };
    let list = value.as_array().ok_or_else(|| {
        error(format!(
            "must be a list such as [1, 2]; found {}",
            found(value)
        ))
    })?;
    list.iter()
        .map(|v| match v {
            Value::Integer(n) => Ok(*n),
            Value::Float(f) if key == "densities" => Err(error(format!(
                "must be whole numbers; found {f}. A srcset's browser picks the nearest step \
                 at or above its screen's ratio, so a {f}x screen gets the next whole step \
                 (declare [1, 2, 3] for 1.5x and 2.625x screens)"
            ))),
            other => Err(error(format!(
                "must be whole numbers; found {}",
                found(other)
            ))),
        })
        .collect()
}

/// `sources = ["default", "avatars"]`: the stores whose originals the preset renders.
fn sources(value: &Value, path: &Path) -> Result<Vec<String>, PresetError> {
    let error = |found: String| PresetError::Field {
        path: path.to_owned(),
        field: "sources",
        reason: format!(
            "must be a list of source names (THUMBKIT_SOURCES), \"default\" for the default \
             store, such as [\"default\", \"avatars\"]; found {found}"
        ),
    };
    let list = value.as_array().ok_or_else(|| error(found(value)))?;
    let names = (list.iter())
        .map(|v| match v.as_str() {
            Some(name) if name == crate::keys::DEFAULT_SOURCE => Ok(name.to_owned()),
            Some(name) => crate::keys::SourceName::parse(name)
                .map(|n| n.as_str().to_owned())
                .map_err(|_| error(found(v))),
            None => Err(error(found(v))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    if names.is_empty() {
        return Err(error("an empty list, which no original could use".into()));
    }
    Ok(names)
}

/// `quality = 80` or `quality = { jpeg = 80, webp = 78, avif = 55 }`.
fn quality(value: &Value, path: &Path) -> Result<QualityFile, PresetError> {
    let error = |reason: String| PresetError::Field {
        path: path.to_owned(),
        field: "quality",
        reason,
    };
    let allowed = "a number from 1 to 100, or one per format such as \
                   { jpeg = 80, webp = 78, avif = 55 }";
    match value {
        Value::Integer(q) => Ok(QualityFile::One(*q)),
        Value::Table(t) => {
            let mut each = [None; 3];
            for (name, q) in t {
                let Some(i) = QUALITY_FORMATS.iter().position(|f| f == name) else {
                    return Err(error(format!(
                        "names `{}`, which has no quality setting (PNG is lossless); the \
                         formats with one are jpeg, webp and avif",
                        name.chars().take(40).collect::<String>()
                    )));
                };
                each[i] = Some(q.as_integer().ok_or_else(|| {
                    error(format!(
                        "`{name}` must be a number from 1 to 100; found {}",
                        found(q)
                    ))
                })?);
            }
            Ok(QualityFile::Each {
                jpeg: each[0],
                webp: each[1],
                avif: each[2],
            })
        }
        other => Err(error(format!("must be {allowed}; found {}", found(other)))),
    }
}
