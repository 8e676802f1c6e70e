//! `sharpen` and `blur` on real photos: measured by what they do to the picture's edges,
//! and refused in the preset's words when their values make no sense.

use crate::helpers::fixtures::*;
use thumbkit::pipeline::OutputFormat;
use thumbkit::preset::Preset;

const PHOTOS: [&str; 4] = [
    "IMG_9424.JPG",
    "2569067123_aca715a2ee_o.jpg",
    "Landscape_1.jpg",
    "DSCN0010.jpg",
];

/// Mean squared luma gradient (horizontal and vertical neighbours): how much edge there is.
fn edge_energy(img: &image::RgbImage) -> f64 {
    let luma = |x: u32, y: u32| {
        let p = img.get_pixel(x, y).0;
        0.299 * f64::from(p[0]) + 0.587 * f64::from(p[1]) + 0.114 * f64::from(p[2])
    };
    let (w, h) = img.dimensions();
    let mut sum = 0.0;
    for y in 0..h - 1 {
        for x in 0..w - 1 {
            let (c, right, down) = (luma(x, y), luma(x + 1, y), luma(x, y + 1));
            sum += (right - c).powi(2) + (down - c).powi(2);
        }
    }
    sum / f64::from((w - 1) * (h - 1))
}

fn mean_luma(img: &image::RgbImage) -> f64 {
    let sum: f64 = img.pixels().map(|p| f64::from(p.0[1])).sum();
    sum / f64::from(img.width() * img.height())
}

fn thumb_with(extra: &str) -> Preset {
    preset(
        "t",
        &format!("width = 320\nheight = 320\nformat = \"png\"\n{extra}"),
    )
}

#[test]
fn sharpen_raises_the_edges_and_blur_lowers_them_keeping_size_and_brightness() {
    for name in PHOTOS {
        let bytes = fixture(name);
        let plain = decode_rgb(&render(&bytes, &thumb_with(""), OutputFormat::Png).bytes);
        let sharp =
            decode_rgb(&render(&bytes, &thumb_with("sharpen = 1"), OutputFormat::Png).bytes);
        let blurred = decode_rgb(&render(&bytes, &thumb_with("blur = 2"), OutputFormat::Png).bytes);
        assert_eq!(sharp.dimensions(), plain.dimensions(), "{name}");
        assert_eq!(blurred.dimensions(), plain.dimensions(), "{name}");
        let (e0, e1, e2) = (
            edge_energy(&plain),
            edge_energy(&sharp),
            edge_energy(&blurred),
        );
        eprintln!("{name}: edge energy plain {e0:.1}, sharpen 1 {e1:.1}, blur 2 {e2:.1}");
        assert!(e1 > e0 * 1.3, "{name}: sharpen {e1:.1} against {e0:.1}");
        assert!(e2 < e0 * 0.5, "{name}: blur {e2:.1} against {e0:.1}");
        // Neither moves the picture's brightness.
        for (what, img) in [("sharpen", &sharp), ("blur", &blurred)] {
            let shift = (mean_luma(img) - mean_luma(&plain)).abs();
            assert!(
                shift < 2.0,
                "{name}: {what} shifts brightness by {shift:.2}"
            );
        }
    }
}

#[test]
fn a_blurred_transparent_picture_has_no_dark_fringe() {
    // A white disc with a soft edge on transparent black: filtering straight alpha would
    // pull the black under the transparent pixels into the edge, greying it.
    let mut img = image::RgbaImage::new(200, 200);
    for (x, y, p) in img.enumerate_pixels_mut() {
        let d = ((f64::from(x) - 100.0).powi(2) + (f64::from(y) - 100.0).powi(2)).sqrt();
        let alpha = ((60.0 - d) * 64.0 + 128.0).clamp(0.0, 255.0) as u8;
        *p = if alpha > 0 {
            image::Rgba([255, 255, 255, alpha])
        } else {
            image::Rgba([0, 0, 0, 0])
        };
    }
    let mut png = Vec::new();
    image::DynamicImage::ImageRgba8(img)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .expect("encode");
    for effect in ["blur = 4", "sharpen = 2"] {
        let out = render(&png, &thumb_with(effect), OutputFormat::Png);
        let rgba = image::load_from_memory(&out.bytes)
            .expect("png")
            .into_rgba8();
        let edge: Vec<_> = rgba
            .pixels()
            .filter(|p| (40..=215).contains(&p.0[3]))
            .collect();
        assert!(!edge.is_empty(), "{effect}: the edge is soft somewhere");
        for p in edge {
            assert!(
                p.0[..3].iter().all(|&c| c >= 235),
                "{effect}: fringe pixel {p:?}"
            );
        }
    }
}

#[test]
fn any_sigma_on_the_smallest_outputs_renders() {
    // A blur far wider than the picture, and a sharpen on one pixel.
    let bytes = fixture("DSCN0010.jpg");
    for (w, h, effect) in [
        (1, 1, "blur = 100"),
        (3, 2, "blur = 100"),
        (1, 1, "sharpen = 3"),
        (2, 5, "sharpen = 3"),
    ] {
        let p = preset(
            "t",
            &format!("width = {w}\nheight = {h}\nfit = \"fill\"\n{effect}"),
        );
        let out = render(&bytes, &p, OutputFormat::Jpeg);
        assert_eq!((out.width, out.height), (w, h), "{effect}");
    }
}

#[test]
fn bad_sigmas_are_refused_naming_the_key() {
    for (text, field, reason) in [
        ("sharpen = -1", "sharpen", "between 0 and 3"),
        ("sharpen = 3.5", "sharpen", "between 0 and 3"),
        ("sharpen = nan", "sharpen", "between 0 and 3"),
        ("blur = inf", "blur", "between 0 and 100"),
        ("blur = 101", "blur", "between 0 and 100"),
        ("blur = \"soft\"", "blur", "a sigma in output pixels"),
        ("sharpen = 1\nblur = 2", "blur", "cannot go with `sharpen`"),
    ] {
        let e = Preset::parse(
            "p",
            &format!("width = 10\n{text}"),
            "presets/p.toml".as_ref(),
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(e.contains(&format!("`{field}`")), "{text}: {e}");
        assert!(e.contains(reason), "{text}: {e}");
    }
}

#[test]
fn an_effect_is_in_the_fingerprint_and_zero_is_none() {
    let plain = thumb_with("");
    assert_eq!(thumb_with("sharpen = 0").fingerprint(), plain.fingerprint());
    let sharpened = thumb_with("sharpen = 0.8");
    assert_ne!(sharpened.fingerprint(), plain.fingerprint());
    assert_ne!(
        thumb_with("sharpen = 0.9").fingerprint(),
        sharpened.fingerprint()
    );
    assert_ne!(
        thumb_with("blur = 0.8").fingerprint(),
        sharpened.fingerprint()
    );
    assert!(
        sharpened.summary().contains("sharpen 0.8"),
        "{}",
        sharpened.summary()
    );
    assert_eq!(sharpened.listed()["sharpen"], 0.8f32 as f64);
    assert!(plain.listed()["blur"].is_null());
}
