//! `trim`, `mask`, `watermark` and `max_bytes` on real photos, measured on the output: the
//! border gone, the corners transparent, the mark at its place with its opacity, every
//! output within its budget; and each refused in the preset's words when it makes no sense.

use std::path::{Path, PathBuf};

use crate::helpers::fixtures::*;
use crate::helpers::process::temp_dir;
use image::{Rgb, RgbImage, Rgba, RgbaImage};
use thumbkit::pipeline::{self, Limits, OutputFormat};
use thumbkit::preset::Preset;

const PHOTO: &str = "Landscape_1.jpg"; // 600x450
const PHOTOS: [&str; 3] = [
    "IMG_9424.JPG",
    "2569067123_aca715a2ee_o.jpg",
    "DSCN0010.jpg",
];

fn encoded(img: image::DynamicImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), format)
        .expect("encode");
    out
}

/// A preset file written into `dir` (beside its marks) and loaded as the service would.
fn preset_in(dir: &Path, text: &str) -> Result<Preset, String> {
    let path = dir.join("p.toml");
    std::fs::write(&path, text).expect("write preset");
    Preset::load(&path).map_err(|e| e.to_string())
}

/// `PHOTO` on a white frame `top` px high, 80 left, 48 right, 120 bottom, as JPEG q92
/// (or PNG, `lossless`).
fn framed(top: u32, lossless: bool) -> (Vec<u8>, RgbImage) {
    let photo = decode_rgb(&fixture(PHOTO));
    let (w, h) = photo.dimensions();
    let mut canvas = RgbImage::from_pixel(w + 128, h + top + 120, Rgb([255, 255, 255]));
    image::imageops::overlay(&mut canvas, &photo, 80, i64::from(top));
    if lossless {
        return (encoded(canvas.into(), image::ImageFormat::Png), photo);
    }
    let pixels = pipeline::Pixels {
        width: canvas.width(),
        height: canvas.height(),
        alpha: false,
        grey: false,
        data: canvas.into_raw(),
    };
    let how = pipeline::encode::Encoding {
        quality: pipeline::Quality::like_jpeg(92),
        lossless: false,
        avif_speed: 8,
        exact_speed: false,
        max_bytes: None,
    };
    let jpeg = pipeline::encode::encode(&pixels, OutputFormat::Jpeg, how).expect("jpeg");
    (jpeg, photo)
}

#[test]
fn trim_removes_a_white_frame_so_the_fit_sees_only_the_photo() {
    // Lossless: exactly the photo's own 4:3 comes out.
    let (png, photo) = framed(32, true);
    let trimmed = preset("t", "width = 300\nheight = 300\ntrim = true");
    let out = decode_rgb(&render(&png, &trimmed, OutputFormat::Png).bytes);
    assert_eq!(out.dimensions(), (300, 225));
    let alone = decode_rgb(&render(&fixture(PHOTO), &trimmed, OutputFormat::Png).bytes);
    let d = mean_abs_diff(&out, &alone);
    assert!(
        d < 3.0,
        "the trimmed frame renders like the photo alone: {d:.2}"
    );
    // JPEG: the ringing beside an edge inside an 8x8 block, above the threshold, is kept
    // (at most the block's other 7 rows), as `vips find_trim` keeps it.
    let (jpeg, _) = framed(30, false);
    let out = render(&jpeg, &trimmed, OutputFormat::Png);
    assert_eq!(out.width, 300);
    assert!(
        (225..=230).contains(&out.height),
        "{}x{}",
        out.width,
        out.height
    );
    // Without trim the frame is still there.
    let plain = preset("t", "width = 300\nheight = 300");
    let framed_out = decode_rgb(&render(&png, &plain, OutputFormat::Png).bytes);
    assert_eq!(framed_out.get_pixel(2, 2).0, [255, 255, 255]);
    // A cover crop of the trimmed photo fills its box with photo, not frame.
    let cover = preset(
        "t",
        "width = 200\nheight = 200\nfit = \"cover\"\ntrim = true",
    );
    let out = decode_rgb(&render(&png, &cover, OutputFormat::Png).bytes);
    let white = out
        .pixels()
        .filter(|p| p.0.iter().all(|&c| c > 250))
        .count();
    let photo_white = photo
        .pixels()
        .filter(|p| p.0.iter().all(|&c| c > 250))
        .count();
    assert!(
        (white as f64 / 40_000.0)
            <= (photo_white as f64 / f64::from(photo.width() * photo.height())) + 0.01,
        "{white} white pixels: the frame is gone"
    );
}

#[test]
fn trim_cuts_a_transparent_border_and_leaves_a_picture_that_is_all_border() {
    let mut img = RgbaImage::from_pixel(300, 200, Rgba([0, 0, 0, 0]));
    for y in 50..150 {
        for x in 40..240 {
            img.put_pixel(x, y, Rgba([200, 30, 30, 255]));
        }
    }
    let png = encoded(img.into(), image::ImageFormat::Png);
    let p = preset(
        "t",
        "width = 100\nheight = 100\nformat = \"png\"\ntrim = true",
    );
    let out = render(&png, &p, OutputFormat::Png);
    assert_eq!(
        (out.width, out.height),
        (100, 50),
        "the 2:1 rectangle alone"
    );
    let rgba = image::load_from_memory(&out.bytes)
        .expect("png")
        .into_rgba8();
    assert!(
        rgba.pixels().all(|p| p.0[3] == 255),
        "no transparent border left"
    );
    // All border: rendered as it is, not refused and not cut to nothing.
    let flat = encoded(
        RgbImage::from_pixel(120, 80, Rgb([40, 90, 200])).into(),
        image::ImageFormat::Png,
    );
    let out = render(&flat, &p, OutputFormat::Png);
    assert_eq!((out.width, out.height), (100, 67));
}

fn alpha(img: &RgbaImage, x: u32, y: u32) -> u8 {
    img.get_pixel(x, y).0[3]
}

#[test]
fn a_circle_mask_makes_an_avatar_with_transparent_corners_or_the_background_under_jpeg() {
    let text =
        "width = 128\nheight = 128\nfit = \"cover\"\nmask = \"circle\"\nbackground = \"#102030\"";
    let p = preset("avatar", text);
    for name in PHOTOS {
        let bytes = fixture(name);
        // (AVIF keeps its alpha too; the image crate here cannot read it back.)
        for format in [OutputFormat::Png, OutputFormat::Webp] {
            let out = render(&bytes, &p, format);
            let rgba = image::load_from_memory(&out.bytes)
                .expect("decodes")
                .into_rgba8();
            assert_eq!(rgba.dimensions(), (128, 128));
            for (x, y) in [(0, 0), (127, 0), (0, 127), (127, 127), (8, 8)] {
                assert!(
                    alpha(&rgba, x, y) < 8,
                    "{name} {format}: corner ({x},{y}) is clear"
                );
            }
            for (x, y) in [(64, 64), (64, 4), (4, 64), (30, 30)] {
                assert!(
                    alpha(&rgba, x, y) > 247,
                    "{name} {format}: ({x},{y}) is kept"
                );
            }
        }
        let jpeg = decode_rgb(&render(&bytes, &p, OutputFormat::Jpeg).bytes);
        let corner = jpeg.get_pixel(1, 1).0;
        let diff: i32 = corner
            .iter()
            .zip([0x10, 0x20, 0x30])
            .map(|(&a, b)| (i32::from(a) - b).abs())
            .sum();
        assert!(
            diff < 12,
            "{name}: the JPEG's corner is the background: {corner:?}"
        );
    }
    // `auto` picks a format that can hold the transparency for a JPEG original.
    let probe = pipeline::probe(&fixture(PHOTOS[0]), &Limits::default()).expect("probe");
    let auto = preset(
        "a",
        "width = 64\nheight = 64\nfit = \"cover\"\nmask = \"circle\"",
    );
    assert_eq!(
        OutputFormat::resolve(&auto.spec, &probe, &[]),
        OutputFormat::Png
    );
    let webp = [OutputFormat::Webp];
    assert_eq!(
        OutputFormat::resolve(&auto.spec, &probe, &webp),
        OutputFormat::Webp
    );
}

#[test]
fn rounded_corners_are_clear_only_at_the_corners() {
    let p = preset(
        "r",
        "width = 300\nheight = 200\nfit = \"cover\"\nmask = \"rounded\"\nradius = 24",
    );
    let out = render(&fixture(PHOTO), &p, OutputFormat::Png);
    let rgba = image::load_from_memory(&out.bytes)
        .expect("png")
        .into_rgba8();
    assert_eq!(alpha(&rgba, 0, 0), 0);
    assert_eq!(alpha(&rgba, 299, 199), 0);
    assert_eq!(alpha(&rgba, 150, 0), 255, "the straight edge is kept");
    assert_eq!(alpha(&rgba, 0, 100), 255);
    assert_eq!(alpha(&rgba, 24, 24), 255, "inside the corner's circle");
}

/// A 200x100 mark: opaque red with a transparent right half.
fn mark_file(dir: &Path) -> PathBuf {
    let mut mark = RgbaImage::from_pixel(200, 100, Rgba([255, 0, 0, 255]));
    for y in 0..100 {
        for x in 100..200 {
            mark.put_pixel(x, y, Rgba([0, 255, 0, 0]));
        }
    }
    std::fs::create_dir_all(dir.join("marks")).expect("dir");
    let path = dir.join("marks/logo.png");
    std::fs::write(&path, encoded(mark.into(), image::ImageFormat::Png)).expect("mark");
    path
}

#[test]
fn a_watermark_is_drawn_at_its_corner_with_its_opacity_and_width() {
    let dir = temp_dir("watermark");
    mark_file(&dir);
    let base = "width = 400\nheight = 300\nfit = \"cover\"\nformat = \"png\"\n";
    let plain = preset_in(&dir, base).expect("plain");
    let text = format!(
        "{base}watermark = {{ image = \"marks/logo.png\", position = \"south-east\", margin = 16, opacity = 0.6, width = 0.25 }}"
    );
    let marked = preset_in(&dir, &text).expect("marked");
    assert_ne!(marked.fingerprint(), plain.fingerprint());
    let bytes = fixture(PHOTO);
    let a = decode_rgb(&render(&bytes, &plain, OutputFormat::Png).bytes);
    let b = decode_rgb(&render(&bytes, &marked, OutputFormat::Png).bytes);
    // The mark is 100x50 (a quarter of 400), its bottom-right corner 16 px from the output's.
    let (left, top) = (400 - 16 - 100, 300 - 16 - 50);
    // Mixed in linear light: 0.6 of the mark's red and 0.4 of the photo, per channel.
    let linear = |v: u8| {
        let c = f64::from(v) / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    let srgb = |l: f64| {
        255.0
            * if l <= 0.0031308 {
                l * 12.92
            } else {
                1.055 * l.powf(1.0 / 2.4) - 0.055
            }
    };
    let mut apart = 0;
    for (x, y) in [
        (left + 10, top + 10),
        (left + 40, top + 25),
        (left + 45, top + 45),
    ] {
        let (p, q) = (a.get_pixel(x, y).0, b.get_pixel(x, y).0);
        for (c, mark) in [(0, 255), (1, 0), (2, 0)] {
            let want = srgb(0.6 * linear(mark) + 0.4 * linear(p[c]));
            let gamma_mix = 0.6 * f64::from(mark) + 0.4 * f64::from(p[c]);
            assert!(
                (f64::from(q[c]) - want).abs() < 3.0,
                "({x},{y}) channel {c}: {q:?} over {p:?}, want {want:.0}"
            );
            apart += usize::from((want - gamma_mix).abs() > 10.0);
        }
    }
    assert!(
        apart > 0,
        "somewhere linear light and gamma mixing differ, and linear won"
    );
    // The mark's transparent half, and everything outside it, is the photo untouched.
    for (x, y) in [
        (left + 70, top + 25),
        (left - 5, top + 25),
        (20, 20),
        (399, 299),
    ] {
        assert_eq!(
            a.get_pixel(x, y),
            b.get_pixel(x, y),
            "({x},{y}) is not marked"
        );
    }
    // An output narrower than the mark's own 200 px gets none (unless `min_width` says).
    let small = |extra: &str| {
        let text = format!(
            "width = 150\nheight = 100\nfit = \"cover\"\nformat = \"png\"\nwatermark = {{ image = \"marks/logo.png\"{extra} }}"
        );
        let p = preset_in(&dir, &text).expect("loads");
        render(&bytes, &p, OutputFormat::Png).bytes
    };
    let bare = preset_in(
        &dir,
        "width = 150\nheight = 100\nfit = \"cover\"\nformat = \"png\"",
    )
    .expect("loads");
    assert_eq!(small(""), render(&bytes, &bare, OutputFormat::Png).bytes);
    assert_ne!(
        small(", min_width = 100"),
        render(&bytes, &bare, OutputFormat::Png).bytes
    );
}

#[test]
fn a_tiled_watermark_covers_the_whole_output() {
    let dir = temp_dir("watermark-tile");
    mark_file(&dir);
    let text = "width = 400\nheight = 300\nfit = \"cover\"\nformat = \"png\"\nwatermark = { image = \"marks/logo.png\", position = \"tile\", margin = 20, width = 0.1, opacity = 1 }";
    let p = preset_in(&dir, text).expect("tiled");
    let out = decode_rgb(&render(&fixture(PHOTO), &p, OutputFormat::Png).bytes);
    // 40x20 marks (a red 20x20 half) every 60 px across and 40 px down: count red squares.
    let red = |x: u32, y: u32| out.get_pixel(x, y).0 == [255, 0, 0];
    let mut marks = 0;
    for y in (0..300).step_by(40) {
        for x in (0..400).step_by(60) {
            if red(x + 10 + 5, y + 10 + 5) {
                marks += 1;
            }
        }
    }
    assert!(marks >= 35, "{marks} marks across the output");
}

#[test]
fn every_output_fits_its_byte_budget_and_says_the_quality_chosen() {
    let p = preset(
        "b",
        "width = 1024\nheight = 1024\nquality = 90\nmax_bytes = 80000",
    );
    let unbudgeted = preset("u", "width = 1024\nheight = 1024\nquality = 90");
    let mut lowered = 0;
    for name in PHOTOS {
        let bytes = fixture(name);
        for format in [OutputFormat::Jpeg, OutputFormat::Webp, OutputFormat::Avif] {
            let out = render(&bytes, &p, format);
            let q = out.quality.expect("a budget reports its quality");
            let top = format.quality_in(p.spec.quality);
            let full = render(&bytes, &unbudgeted, format);
            assert!(full.quality.is_none(), "no budget, no quality reported");
            eprintln!(
                "{name} {format}: {} -> {} bytes at q{q} (preset q{top})",
                full.bytes.len(),
                out.bytes.len()
            );
            assert!(
                out.bytes.len() <= 80_000,
                "{name} {format}: {} bytes at q{q}",
                out.bytes.len()
            );
            if full.bytes.len() <= 80_000 {
                assert_eq!(
                    (q, out.bytes.len()),
                    (top, full.bytes.len()),
                    "{name} {format}"
                );
            } else {
                assert!(q < top, "{name} {format}: q{q} against the preset's {top}");
                lowered += 1;
            }
        }
    }
    assert!(lowered >= 6, "the budget bit on {lowered} of 9");
    // A budget that is met keeps the preset's quality; one no quality meets gives the floor.
    let easy = preset(
        "e",
        "width = 64\nheight = 64\nquality = 85\nmax_bytes = 100000",
    );
    let out = render(&fixture(PHOTO), &easy, OutputFormat::Jpeg);
    assert_eq!(out.quality, Some(85));
    let hard = preset(
        "h",
        "width = 2000\nheight = 2000\nquality = 85\nmax_bytes = 500",
    );
    let out = render(&fixture(PHOTOS[0]), &hard, OutputFormat::Jpeg);
    assert_eq!(out.quality, Some(pipeline::encode::MIN_BUDGET_QUALITY));
    assert!(
        out.bytes.len() > 500,
        "served over its budget at the floor, not refused"
    );
}

#[test]
fn bad_operation_values_are_refused_naming_the_key() {
    let dir = temp_dir("operations-bad");
    mark_file(&dir);
    std::fs::write(dir.join("marks/text.png"), b"not a picture").expect("write");
    let huge = RgbaImage::new(5000, 10);
    std::fs::write(
        dir.join("marks/huge.png"),
        encoded(huge.into(), image::ImageFormat::Png),
    )
    .expect("write");
    for (text, field, reason) in [
        ("trim = 3", "trim", "true, false, or a table"),
        ("trim = { threshold = 300 }", "trim", "from 0 to 254"),
        ("trim = { limit = 3 }", "trim", "has no key `limit`"),
        ("trim = true\nanimation = \"keep\"", "trim", "animation"),
        ("mask = \"star\"", "mask", "\"circle\" or \"rounded\""),
        ("mask = \"rounded\"", "radius", "needs a radius"),
        (
            "mask = \"circle\"\nradius = 5",
            "radius",
            "only applies to mask = \"rounded\"",
        ),
        ("mask = \"rounded\"\nradius = -2", "radius", "from 1 to"),
        ("max_bytes = 10", "max_bytes", "at least 500"),
        (
            "max_bytes = 50000\nformat = \"png\"",
            "max_bytes",
            "lossy format",
        ),
        (
            "max_bytes = 50000\nformat = \"webp\"\nlossless = true",
            "max_bytes",
            "lossy format",
        ),
        ("watermark = \"logo.png\"", "watermark", "must be a table"),
        (
            "watermark = { position = \"south\" }",
            "watermark",
            "needs `image`",
        ),
        (
            "watermark = { image = \"marks/none.png\" }",
            "watermark",
            "cannot read",
        ),
        (
            "watermark = { image = \"marks/text.png\" }",
            "watermark",
            "not a picture",
        ),
        (
            "watermark = { image = \"marks/huge.png\" }",
            "watermark",
            "at most 4096",
        ),
        (
            "watermark = { image = \"marks/logo.png\", opacity = 1.5 }",
            "watermark",
            "`opacity`",
        ),
        (
            "watermark = { image = \"marks/logo.png\", width = 0 }",
            "watermark",
            "`width`",
        ),
        (
            "watermark = { image = \"marks/logo.png\", position = \"smart\" }",
            "watermark",
            "`position`",
        ),
        (
            "watermark = { image = \"marks/logo.png\", size = 3 }",
            "watermark",
            "has no key `size`",
        ),
        (
            "watermark = { image = \"marks/logo.png\", min_width = -1 }",
            "watermark",
            "`min_width`",
        ),
    ] {
        let e = preset_in(&dir, &format!("width = 100\nheight = 100\n{text}"))
            .err()
            .unwrap_or_default();
        assert!(e.contains(&format!("`{field}`")), "{text}: {e}");
        assert!(e.contains(reason), "{text}: {e}");
        assert!(!e.contains('\n'), "{text}: one line: {e}");
    }
}

#[test]
fn a_changed_mark_changes_the_fingerprint_and_steps_scale_their_lengths() {
    let dir = temp_dir("operations-fingerprint");
    let mark = mark_file(&dir);
    let text = "width = 200\ndensities = [1, 2]\nblur = 4\nmask = \"rounded\"\nradius = 10\nwatermark = { image = \"marks/logo.png\", margin = 8 }";
    let before = preset_in(&dir, text).expect("loads");
    let other = RgbaImage::from_pixel(200, 100, Rgba([0, 0, 255, 255]));
    std::fs::write(&mark, encoded(other.into(), image::ImageFormat::Png)).expect("mark");
    let after = preset_in(&dir, text).expect("loads");
    assert_ne!(
        before.fingerprint(),
        after.fingerprint(),
        "a new logo re-renders"
    );
    let step = after
        .step_presets()
        .into_iter()
        .next()
        .expect("the @2x step");
    assert_eq!(step.spec.effects.blur, Some(8.0));
    assert_eq!(
        step.spec.mask,
        Some(thumbkit::pipeline::Mask::Rounded { radius: 20 })
    );
    assert_eq!(step.spec.watermark.as_ref().map(|w| w.margin), Some(16));
    let listed = after.listed();
    assert_eq!(
        (listed["mask"].as_str(), listed["radius"].as_u64()),
        (Some("rounded"), Some(10))
    );
    assert_eq!(listed["watermark"], true);
}

#[test]
fn pre_generation_trims_each_preset_alone_and_the_others_not_at_all() {
    let (png, _) = framed(32, true);
    let trimmed = preset("t", "width = 300\nheight = 300\ntrim = true");
    let plain = preset("p", "width = 200\nheight = 200");
    let specs = [&trimmed.spec, &plain.spec];
    let composed = pipeline::batch::compose_all(&png, &specs, &Limits::default()).expect("decodes");
    let sizes: Vec<_> = composed
        .iter()
        .map(|c| c.as_ref().expect("composed").size())
        .collect();
    assert_eq!(sizes, [(300, 225), (200, 165)]);
    let alone = render(&png, &trimmed, OutputFormat::Png);
    let batch = composed[0]
        .as_ref()
        .expect("composed")
        .encode(OutputFormat::Png)
        .expect("encodes");
    assert_eq!(
        alone.bytes, batch.bytes,
        "one decode gives what a render alone gives"
    );
}

#[test]
fn every_operation_at_once_renders_the_smallest_outputs() {
    let dir = temp_dir("operations-tiny");
    mark_file(&dir);
    let bytes = fixture(PHOTO);
    for (w, h) in [(1, 1), (2, 3), (5, 1)] {
        for mask in ["mask = \"circle\"", "mask = \"rounded\"\nradius = 40"] {
            let text = format!(
                "width = {w}\nheight = {h}\nfit = \"fill\"\ntrim = true\nblur = 3\n{mask}\nmax_bytes = 500\nwatermark = {{ image = \"marks/logo.png\", position = \"tile\", min_width = 0, margin = 0 }}"
            );
            let p = preset_in(&dir, &text).expect("loads");
            for format in [OutputFormat::Png, OutputFormat::Webp, OutputFormat::Jpeg] {
                let out = render(&bytes, &p, format);
                assert_eq!((out.width, out.height), (w, h), "{mask} {format}");
            }
        }
    }
}
