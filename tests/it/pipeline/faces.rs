//! Faces on a real portrait: found where they are, and kept whole by `smart` crops of
//! panoramas cut from it with the face away from the centre.

use crate::helpers::fixtures::*;
use thumbkit::pipeline::{OutputFormat, Region};

/// The portrait and its face, measured by hand (fractions of the picture).
fn portrait() -> (image::RgbImage, Region) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/faces/astronaut.png");
    let img = image::open(path)
        .expect("tests/faces/astronaut.png")
        .to_rgb8();
    let face = Region {
        x: 0.36,
        y: 0.15,
        w: 0.18,
        h: 0.17,
    };
    (img, face)
}

fn png(img: &image::RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img.clone())
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .expect("encode");
    out
}

/// The part `(x0, y0)-(x1, y1)` (fractions) of the portrait, and where the face is in it.
fn cut(
    img: &image::RgbImage,
    face: Region,
    (x0, y0, x1, y1): (f64, f64, f64, f64),
) -> (Vec<u8>, Region) {
    let (w, h) = (f64::from(img.width()), f64::from(img.height()));
    let part = image::imageops::crop_imm(
        img,
        (x0 * w) as u32,
        (y0 * h) as u32,
        ((x1 - x0) * w) as u32,
        ((y1 - y0) * h) as u32,
    )
    .to_image();
    let within = Region {
        x: (face.x - x0) / (x1 - x0),
        y: (face.y - y0) / (y1 - y0),
        w: face.w / (x1 - x0),
        h: face.h / (y1 - y0),
    };
    (png(&part), within)
}

/// How many times the face fits in a `cover` crop of `aspect` on each axis (the smaller).
fn room_for(bytes: &[u8], aspect: f64, face: &Region) -> f64 {
    let probe = thumbkit::pipeline::probe(bytes, &Default::default()).expect("probe");
    let (w, h) = (f64::from(probe.width), f64::from(probe.height));
    let (cw, ch) = if w / h > aspect {
        (h * aspect, h)
    } else {
        (w, w / aspect)
    };
    (cw / (face.w * w)).min(ch / (face.h * h))
}

#[test]
fn the_face_of_a_portrait_is_found_where_it_is() {
    let (img, face) = portrait();
    let out = render(
        &png(&img),
        &preset(
            "c",
            "width = 100\nheight = 100\nfit = \"cover\"\ngravity = \"smart\"",
        ),
        OutputFormat::Png,
    );
    let map = out.subject.expect("a smart render finds the subject");
    let found: Vec<Region> = map.faces().iter().collect();
    assert!(!found.is_empty(), "no face found");
    // The detector's box and the hand-measured one overlap by most of either.
    let best = found
        .iter()
        .map(|f| face.kept_by(f).min(f.kept_by(&face)))
        .fold(0.0, f64::max);
    assert!(best > 0.5, "found {found:?}, measured {face:?}");
}

#[test]
fn smart_crops_of_panoramas_keep_the_face_whole() {
    let (img, face) = portrait();
    // Wide strips through the face, cut so that it sits left or right of the centre.
    let cuts = [
        (0.25, 0.05, 1.0, 0.45),
        (0.0, 0.08, 0.7, 0.42),
        (0.3, 0.0, 1.0, 0.5),
    ];
    let mut kept = Vec::new();
    for area in cuts {
        let (bytes, within) = cut(&img, face, area);
        for (aspect, w, h) in crate::pipeline::smart::ASPECTS {
            let spec = preset(
                "c",
                &format!("width = {w}\nheight = {h}\nfit = \"cover\"\ngravity = \"smart\""),
            )
            .spec;
            let centred = preset(
                "c",
                &format!("width = {w}\nheight = {h}\nfit = \"cover\"\ngravity = \"centre\""),
            )
            .spec;
            let smart = crate::pipeline::smart::kept(&bytes, &spec, &within);
            let centre = crate::pipeline::smart::kept(&bytes, &centred, &within);
            kept.push(format!(
                "{area:?} {aspect}: smart {smart:.2}, centre {centre:.2}"
            ));
            // Whole wherever the crop has room around the face (10% on each axis); where it
            // barely holds it, the detector's box and the measured one differ by a few pixels.
            let room = room_for(&bytes, f64::from(w) / f64::from(h), &within);
            let needed = if room >= 1.1 { 0.99 } else { 0.9 };
            assert!(
                smart >= needed,
                "{area:?} {aspect}: smart keeps {smart:.2} of the face"
            );
        }
    }
    eprintln!("{}", kept.join("\n"));
}
