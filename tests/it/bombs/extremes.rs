//! The mutation test's other half: header fields of a real file of every format set to
//! their extremes (sizes of 0, 1 and the format's maximum, bit depths, channel counts,
//! sampling factors, compression and colour codes, strip offsets), each through everything
//! an upload and a render do: never a panic or a hang, a clear refusal or a render within
//! the limits.

use std::time::{Duration, Instant};

use super::make::{encoded, set_tag, tiff_edited};
use crate::helpers::fixtures::*;
use thumbkit::pipeline::{self, Limits, OutputFormat, PipelineError};

/// Probe, validate, placeholder and render; true when the render succeeded.
fn survives(what: &str, bytes: &[u8]) -> bool {
    let limits = Limits::default();
    let thumb = shipped("thumb");
    let started = Instant::now();
    let results = [
        pipeline::probe(bytes, &limits).map(|_| ()),
        pipeline::validate(bytes, &limits).map(|_| ()),
        pipeline::placeholder(bytes, &limits).map(|_| ()),
        pipeline::render(bytes, &thumb.spec, OutputFormat::Jpeg, &limits).map(|out| {
            assert!(out.width <= 320 && out.height <= 320, "{what}");
        }),
    ];
    for e in results.iter().filter_map(|r| r.as_ref().err()) {
        assert!(!matches!(e, PipelineError::Internal(_)), "{what}: {e:?}");
        assert!(!e.to_string().contains('\n'), "{what}: {e}");
    }
    let took = started.elapsed();
    assert!(took < Duration::from_secs(20), "{what}: {took:?}");
    results[3].is_ok()
}

fn be16(d: &[u8], at: usize) -> usize {
    usize::from(u16::from_be_bytes([d[at], d[at + 1]]))
}

/// Every variant of `base` with the bytes at `at` set to each of `values`.
fn variants(base: &[u8], at: usize, values: &[&[u8]]) -> Vec<Vec<u8>> {
    values
        .iter()
        .map(|v| {
            let mut d = base.to_vec();
            d[at..at + v.len()].copy_from_slice(v);
            d
        })
        .collect()
}

fn png_cases() -> Vec<(String, Vec<u8>)> {
    let base = encoded(image::ImageFormat::Png);
    let with_ihdr = |at: usize, v: &[u8]| {
        let mut d = base.clone();
        d[16 + at..16 + at + v.len()].copy_from_slice(v);
        let mut crc = flate2::Crc::new();
        crc.update(&d[12..29]);
        d[29..33].copy_from_slice(&crc.sum().to_be_bytes());
        d
    };
    let mut cases = Vec::new();
    for (field, at) in [("width", 0), ("height", 4)] {
        for v in [0u32, 1, 0x7FFF_FFFF, u32::MAX] {
            cases.push((format!("png {field}={v}"), with_ihdr(at, &v.to_be_bytes())));
        }
    }
    for (field, at, values) in [
        ("depth", 8, &[0u8, 1, 2, 4, 16, 255][..]),
        ("colour", 9, &[1, 2, 3, 4, 6, 7, 255]),
        ("compression", 10, &[1, 255]),
        ("filter", 11, &[1, 255]),
        ("interlace", 12, &[1, 2, 255]),
    ] {
        for v in values {
            cases.push((format!("png {field}={v}"), with_ihdr(at, &[*v])));
        }
    }
    cases
}

fn jpeg_cases() -> Vec<(String, Vec<u8>)> {
    let base = fixture("DSCN0010.jpg");
    // Walk the segments to the frame header (SOF0-2).
    let mut at = 2;
    while !(0xC0..=0xC2).contains(&base[at + 1]) {
        at += 2 + be16(&base, at + 2);
    }
    let sof = at + 4; // precision, height (2), width (2), components, then 3 bytes each
    let mut cases = Vec::new();
    let mut add = |name: &str, off: usize, values: &[&[u8]]| {
        for (v, d) in values.iter().zip(variants(&base, sof + off, values)) {
            cases.push((format!("jpeg {name}={v:02x?}"), d));
        }
    };
    add("precision", 0, &[&[0], &[1], &[12], &[16], &[255]]);
    add("height", 1, &[&[0, 0], &[0, 1], &[0xFF, 0xFF]]);
    add("width", 3, &[&[0, 0], &[0, 1], &[0xFF, 0xFF]]);
    add("components", 5, &[&[0], &[1], &[2], &[4], &[255]]);
    add("sampling", 7, &[&[0x00], &[0x0F], &[0x44], &[0xFF]]);
    add("quant-table", 8, &[&[3], &[255]]);
    add("chroma-sampling", 10, &[&[0x44], &[0x00]]);
    cases
}

fn gif_cases() -> Vec<(String, Vec<u8>)> {
    let base = fixture("rotating-squares.gif");
    let mut cases = Vec::new();
    for (name, at, values) in [
        (
            "screen-width",
            6,
            &[&[0u8, 0][..], &[1, 0], &[0xFF, 0xFF]][..],
        ),
        ("screen-height", 8, &[&[0, 0], &[1, 0], &[0xFF, 0xFF]]),
        ("flags", 10, &[&[0x00], &[0xFF], &[0x87]]),
    ] {
        for (v, d) in values.iter().zip(variants(&base, at, values)) {
            cases.push((format!("gif {name}={v:02x?}"), d));
        }
    }
    // The first image descriptor: past the global colour table and any extensions.
    let mut at = 13
        + if base[10] & 0x80 != 0 {
            3 << ((base[10] & 7) + 1)
        } else {
            0
        };
    while base[at] == 0x21 {
        at += 2;
        while base[at] != 0 {
            at += 1 + usize::from(base[at]);
        }
        at += 1;
    }
    assert_eq!(base[at], 0x2C, "an image descriptor");
    for (name, off, values) in [
        ("frame-left", 1, &[&[0xFFu8, 0xFF][..]][..]),
        ("frame-width", 5, &[&[0, 0], &[1, 0], &[0xFF, 0xFF]]),
        ("frame-height", 7, &[&[0, 0], &[0xFF, 0xFF]]),
        ("frame-flags", 9, &[&[0xFF], &[0x40]]),
        ("lzw-code-size", 10, &[&[0], &[1], &[12], &[255]]),
    ] {
        for (v, d) in values.iter().zip(variants(&base, at + off, values)) {
            cases.push((format!("gif {name}={v:02x?}"), d));
        }
    }
    cases
}

fn webp_cases() -> Vec<(String, Vec<u8>)> {
    let mut cases = Vec::new();
    for file in ["flower2.webp", "1_webp_ll.webp"] {
        let base = fixture(file);
        // Each chunk's payload after RIFF....WEBP.
        let mut at = 12;
        while at + 8 <= base.len() {
            let kind = &base[at..at + 4];
            let len = u32::from_le_bytes(base[at + 4..at + 8].try_into().expect("4")) as usize;
            let data = at + 8;
            let edits: Vec<(&str, usize, &[&[u8]])> = match kind {
                b"VP8X" => vec![
                    ("vp8x-flags", data, &[&[0x00], &[0xFF]]),
                    ("vp8x-canvas", data + 4, &[&[0; 6], &[0xFF; 6]]),
                ],
                b"VP8L" => vec![(
                    "vp8l-size",
                    data + 1,
                    &[&[0; 4], &[0xFF; 4], &[0xFF, 0xFF, 0xFF, 0x0F]],
                )],
                b"VP8 " => vec![
                    (
                        "vp8-width",
                        data + 6,
                        &[&[0, 0], &[0xFF, 0x3F], &[0xFF, 0xFF]],
                    ),
                    ("vp8-height", data + 8, &[&[0, 0], &[0xFF, 0xFF]]),
                ],
                _ => vec![("chunk-size", at + 4, &[&[0xFF; 4], &[0; 4]])],
            };
            for (name, off, values) in edits {
                for (v, d) in values.iter().zip(variants(&base, off, values)) {
                    cases.push((format!("{file} {name}={v:02x?}"), d));
                }
            }
            at = data + len + (len & 1);
        }
    }
    cases
}

fn tiff_cases() -> Vec<(String, Vec<u8>)> {
    let mut cases = Vec::new();
    for (tag, values) in [
        (256u16, &[0u32, 1, 65535, u32::MAX][..]),
        (257, &[0, 1, 65535, u32::MAX]),
        (258, &[0, 1, 3, 16, 64, 255]),
        (259, &[0, 2, 5, 7, 8, 32773, 65535]),
        (262, &[0, 3, 4, 5, 6, 8, 9, 65535]),
        (273, &[0, u32::MAX]),
        (277, &[0, 1, 255]),
        (278, &[0, 1, u32::MAX]),
        (279, &[0, u32::MAX]),
        (284, &[2, 255]),
    ] {
        for &v in values {
            let d = tiff_edited(|ifd, t| set_tag(t, ifd, tag, v));
            cases.push((format!("tiff tag {tag}={v}"), d));
        }
    }
    cases
}

fn heic_cases() -> Vec<(String, Vec<u8>)> {
    let base = fixture("IMG_5195.HEIC");
    let find = |what: &[u8]| base.windows(4).position(|w| w == what).expect("box");
    let ispe = find(b"ispe") + 8; // version and flags, then width and height (4 each)
    let pixi = find(b"pixi") + 8; // version and flags, then the channel count
    let mut cases = Vec::new();
    for v in [0u32, 1, u32::MAX] {
        cases.extend(
            variants(&base, ispe, &[&v.to_be_bytes()])
                .into_iter()
                .map(|d| (format!("heic ispe width={v}"), d)),
        );
        cases.extend(
            variants(&base, ispe + 4, &[&v.to_be_bytes()])
                .into_iter()
                .map(|d| (format!("heic ispe height={v}"), d)),
        );
    }
    for v in [0u8, 255] {
        let d = variants(&base, pixi, &[&[v]]).remove(0);
        cases.push((format!("heic pixi channels={v}"), d));
    }
    cases
}

#[test]
fn header_fields_at_their_extremes_in_every_format_never_panic() {
    let mut tally = Vec::new();
    for (format, cases) in [
        ("png", png_cases()),
        ("jpeg", jpeg_cases()),
        ("gif", gif_cases()),
        ("webp", webp_cases()),
        ("tiff", tiff_cases()),
        ("heic", heic_cases()),
    ] {
        let n = cases.len();
        let rendered = cases.iter().filter(|(what, d)| survives(what, d)).count();
        assert!(n >= 5, "{format}: {n} cases");
        tally.push(format!("{format} {rendered}/{n}"));
    }
    eprintln!(
        "extreme header fields, rendered/cases: {}",
        tally.join(", ")
    );
}
