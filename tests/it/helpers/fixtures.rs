//! Helpers shared by the integration tests: fixtures, the manifest, presets, an independent
//! container walker (so "no metadata" is checked by parsing bytes, not by asking thumbkit),
//! and pixel comparisons.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use thumbkit::pipeline::{self, Limits, OutputFormat, Rendered};
use thumbkit::preset::Preset;

/// The repo's fixtures directory.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// The bytes of one fixture.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = fixtures().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The manifest entries whose files are in the repo.
pub fn manifest() -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(fixtures().join("manifest.json")).expect("manifest.json");
    let all: Vec<serde_json::Value> = serde_json::from_str(&text).expect("manifest parses");
    all.into_iter()
        .filter(|e| {
            fixtures()
                .join(e["file"].as_str().unwrap_or_default())
                .exists()
        })
        .collect()
}

/// A preset from inline TOML.
pub fn preset(name: &str, toml: &str) -> Preset {
    Preset::parse(name, toml, Path::new("inline.toml")).expect("valid preset")
}

/// One of the shipped presets.
pub fn shipped(name: &str) -> Preset {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("presets")
        .join(format!("{name}.toml"));
    Preset::load(&path).expect("shipped preset loads")
}

/// Renders with default limits.
pub fn render(bytes: &[u8], preset: &Preset, format: OutputFormat) -> Rendered {
    pipeline::render(bytes, &preset.spec, format, &Limits::default()).expect("renders")
}

/// Segments/chunks found in an output, by name, e.g. `APP1`, `COM`, `eXIf`, `EXIF`.
pub fn containers(bytes: &[u8]) -> Vec<String> {
    if bytes.starts_with(&[0xFF, 0xD8]) {
        jpeg_segments(bytes)
    } else if bytes.starts_with(b"\x89PNG") {
        let mut out = Vec::new();
        let mut pos = 8;
        while pos + 8 <= bytes.len() {
            let len = u32::from_be_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
            out.push(String::from_utf8_lossy(&bytes[pos + 4..pos + 8]).into_owned());
            pos += 12 + len;
        }
        out
    } else if bytes.starts_with(b"RIFF") {
        let mut out = Vec::new();
        let mut pos = 12;
        while pos + 8 <= bytes.len() {
            let len = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().unwrap()) as usize;
            out.push(String::from_utf8_lossy(&bytes[pos..pos + 4]).into_owned());
            pos += 8 + len + (len & 1);
        }
        out
    } else if bytes.get(4..8) == Some(b"ftyp") {
        iso_boxes(bytes)
    } else {
        panic!("output is not JPEG, PNG, WebP or AVIF")
    }
}

/// An ISO media file's boxes, flattened: the top level, `meta`'s children, each item's type
/// (`item:av01`, `item:Exif`, `item:mime`) and each `colr` property's type (`colr:nclx`).
fn iso_boxes(bytes: &[u8]) -> Vec<String> {
    fn walk(data: &[u8]) -> Vec<(String, &[u8])> {
        let mut out = Vec::new();
        let mut pos = 0;
        while pos + 8 <= data.len() {
            let size = u32::from_be_bytes(data[pos..pos + 4].try_into().unwrap()) as usize;
            assert!(
                size >= 8 && pos + size <= data.len(),
                "a box overruns its parent"
            );
            let kind = String::from_utf8_lossy(&data[pos + 4..pos + 8]).into_owned();
            out.push((kind, &data[pos + 8..pos + size]));
            pos += size;
        }
        out
    }
    let mut out = Vec::new();
    for (kind, body) in walk(bytes) {
        out.push(kind.clone());
        if kind != "meta" {
            continue;
        }
        for (child, cbody) in walk(&body[4..]) {
            out.push(format!("meta/{child}"));
            match child.as_str() {
                "iinf" => {
                    let skip = if cbody[0] == 0 { 6 } else { 8 };
                    for (_, infe) in walk(&cbody[skip..]) {
                        let at = if infe[0] == 2 { 8 } else { 10 };
                        out.push(format!(
                            "item:{}",
                            String::from_utf8_lossy(&infe[at..at + 4])
                        ));
                    }
                }
                "iprp" => {
                    for (_, ipco) in walk(cbody).into_iter().filter(|(k, _)| k == "ipco") {
                        for (prop, pbody) in walk(ipco) {
                            out.push(format!("prop:{prop}"));
                            if prop == "colr" {
                                out.push(format!("colr:{}", String::from_utf8_lossy(&pbody[..4])));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }
    out
}

fn jpeg_segments(bytes: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut pos = 2;
    while pos + 4 <= bytes.len() && bytes[pos] == 0xFF {
        let marker = bytes[pos + 1];
        let name = match marker {
            0xE0..=0xEF => format!("APP{}", marker - 0xE0),
            0xFE => "COM".into(),
            0xDB => "DQT".into(),
            0xC4 => "DHT".into(),
            0xC0..=0xCF => "SOF".into(),
            0xDD => "DRI".into(),
            0xDA => "SOS".into(),
            other => format!("{other:02X}"),
        };
        out.push(name);
        if marker == 0xDA {
            break;
        }
        let len = u16::from_be_bytes([bytes[pos + 2], bytes[pos + 3]]) as usize;
        pos += 2 + len;
    }
    out
}

/// Asserts an output carries nothing but image data: for JPEG only JFIF APP0, tables and
/// frame; for PNG only IHDR/PLTE/tRNS/IDAT/IEND; for WebP only VP8X/VP8/VP8L/ALPH.
pub fn assert_no_metadata(bytes: &[u8], what: &str) {
    let allowed: &[&str] = if bytes.starts_with(&[0xFF, 0xD8]) {
        &["APP0", "DQT", "DHT", "SOF", "DRI", "SOS"]
    } else if bytes.starts_with(b"\x89PNG") {
        &["IHDR", "PLTE", "tRNS", "IDAT", "IEND"]
    } else if bytes.get(4..8) == Some(b"ftyp") {
        // The image item (and its alpha plane), how it is laid out and coded, and the nclx
        // colour description: no Exif or mime (XMP) item, no ICC (`colr:prof`/`rICC`).
        &[
            "ftyp",
            "meta",
            "mdat",
            "meta/hdlr",
            "meta/pinf",
            "meta/pitm",
            "meta/iloc",
            "meta/iinf",
            "meta/iprp",
            "meta/iref",
            "item:av01",
            "prop:ispe",
            "prop:pixi",
            "prop:av1C",
            "prop:colr",
            "colr:nclx",
            "prop:auxC",
        ]
    } else {
        // An animation's header and frames (each frame holds only VP8/VP8L/ALPH data).
        &["VP8X", "VP8 ", "VP8L", "ALPH", "ANIM", "ANMF"]
    };
    let found = containers(bytes);
    assert!(!found.is_empty(), "{what}: no structure found");
    for c in &found {
        assert!(
            allowed.contains(&c.as_str()),
            "{what}: output carries a `{c}` segment/chunk (all: {found:?})"
        );
    }
    // A VP8X header with its EXIF/XMP/ICC flags set would announce metadata too.
    if found.first().map(String::as_str) == Some("VP8X") {
        let flags = bytes[20];
        assert_eq!(
            flags & 0b0010_1100,
            0,
            "{what}: VP8X announces ICC/EXIF/XMP"
        );
    }
}

/// Decodes any output to RGB8 (independently of thumbkit's own decoder).
pub fn decode_rgb(bytes: &[u8]) -> image::RgbImage {
    if bytes.starts_with(&[0xFF, 0xD8]) {
        let img = turbojpeg::decompress(bytes, turbojpeg::PixelFormat::RGB).expect("decodes");
        image::RgbImage::from_raw(img.width as u32, img.height as u32, img.pixels).expect("size")
    } else {
        image::load_from_memory(bytes).expect("decodes").into_rgb8()
    }
}

/// Mean absolute difference per channel sample (0..255) of two equally sized images.
pub fn mean_abs_diff(a: &image::RgbImage, b: &image::RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions(), "sizes differ");
    let sum: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    sum as f64 / a.as_raw().len() as f64
}

/// Mean colour of an image, per channel.
pub fn mean_colour(img: &image::RgbImage) -> [f64; 3] {
    let mut s = [0u64; 3];
    for p in img.pixels() {
        for c in 0..3 {
            s[c] += u64::from(p[c]);
        }
    }
    let n = (img.width() * img.height()) as f64;
    [s[0] as f64 / n, s[1] as f64 / n, s[2] as f64 / n]
}

/// Every file under `dir`, recursively (none when it does not exist).
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
