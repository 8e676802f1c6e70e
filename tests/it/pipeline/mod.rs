//! The render pipeline on the real fixtures: sizes for every fit, orientation, no metadata,
//! GPS gone, colour against libvips, and every bad file refused with the right error.

use crate::helpers::fixtures::*;
use thumbkit::pipeline::inspect;
use thumbkit::pipeline::{self, Limits, OutputFormat, PipelineError};

mod batch;
mod colour;
mod corpora;
mod documents;
mod effects;
mod faces;
mod modern;
mod operations;
mod privacy;
mod refusals;
pub(crate) mod smart;
mod webp;

const PHOTO_6MP: &str = "2569067123_aca715a2ee_o.jpg"; // 2725x2225
const GPS_FILES: [&str; 4] = [
    "IMG_9424.JPG",
    "DSCN0010.jpg",
    "HMD_Nokia_8.3_5G.jpg",
    "flower2.webp",
];

#[test]
fn thumb_fits_inside_320_as_jpeg() {
    let out = render(
        &fixture("IMG_9424.JPG"),
        &shipped("thumb"),
        OutputFormat::Jpeg,
    );
    assert_eq!((out.width, out.height), (320, 240));
    let decoded = decode_rgb(&out.bytes);
    assert_eq!(
        decoded.dimensions(),
        (320, 240),
        "the bytes say what the result says"
    );
    assert_no_metadata(&out.bytes, "thumb");
}

#[test]
fn every_fit_mode_gives_its_dimensions() {
    let bytes = fixture(PHOTO_6MP);
    let cases = [
        ("width = 400\nheight = 400\nfit = \"inside\"", (400, 327)),
        ("width = 400\nheight = 400\nfit = \"cover\"", (400, 400)),
        ("width = 400\nheight = 400\nfit = \"contain\"", (400, 400)),
        ("width = 400\nheight = 100\nfit = \"fill\"", (400, 100)),
        ("width = 300", (300, 245)),
        ("height = 300", (367, 300)),
        // Not enlarged unless asked...
        ("width = 4000\nheight = 4000", (2725, 2225)),
        // ...and enlarged when asked.
        ("width = 3000\nheight = 3000\nupscale = true", (3000, 2450)),
    ];
    for (toml, expected) in cases {
        let p = preset("t", toml);
        let out = render(&bytes, &p, OutputFormat::Png);
        assert_eq!((out.width, out.height), expected, "{toml}");
        assert_eq!(decode_rgb(&out.bytes).dimensions(), expected, "{toml}");
    }
}

#[test]
fn contain_pads_with_the_background_and_cover_crops_by_gravity() {
    // The Dutch flag: red over white over blue, 3:2.
    let flag = fixture("Flag_of_the_Netherlands-16bit.png");
    let contain = preset(
        "c",
        "width = 300\nheight = 300\nfit = \"contain\"\nbackground = \"#00ff00\"",
    );
    let img = decode_rgb(&render(&flag, &contain, OutputFormat::Png).bytes);
    assert_eq!(img.dimensions(), (300, 300));
    assert_eq!(
        img.get_pixel(150, 10).0,
        [0, 255, 0],
        "padding above is the background"
    );
    assert_eq!(
        img.get_pixel(150, 290).0,
        [0, 255, 0],
        "padding below is the background"
    );
    let top_band = img.get_pixel(150, 70).0;
    assert!(
        top_band[0] > 150 && top_band[2] < 100,
        "red band: {top_band:?}"
    );

    // A vertical strip from the flag: north keeps red, south keeps blue.
    for (gravity, red_expected) in [("north", true), ("south", false)] {
        // A wide box keeps a horizontal strip: the top third (red) or the bottom (blue).
        let p = preset(
            "g",
            &format!("width = 200\nheight = 50\nfit = \"cover\"\ngravity = \"{gravity}\""),
        );
        let img = decode_rgb(&render(&flag, &p, OutputFormat::Png).bytes);
        assert_eq!(img.dimensions(), (200, 50));
        let [r, _, b] = img.get_pixel(100, 25).0;
        assert_eq!(r > b, red_expected, "{gravity}: top pixel {:?}", [r, b]);
    }
}

#[test]
fn all_eight_orientations_come_out_upright_and_alike() {
    let p = preset("o", "width = 120\nheight = 120");
    let renders: Vec<_> = (1..=8)
        .map(|i| {
            let out = render(
                &fixture(&format!("Landscape_{i}.jpg")),
                &p,
                OutputFormat::Png,
            );
            decode_rgb(&out.bytes)
        })
        .collect();
    let upright = &renders[0];
    assert_eq!(upright.dimensions(), (120, 90));
    // What a wrong orientation looks like, to show the threshold can catch one.
    let turned = image::imageops::rotate180(upright);
    let wrong = mean_abs_diff(upright, &turned);
    for (i, r) in renders.iter().enumerate() {
        assert_eq!(r.dimensions(), (120, 90), "Landscape_{}", i + 1);
        let d = mean_abs_diff(upright, r);
        assert!(
            d < 4.0,
            "Landscape_{} differs from Landscape_1 by {d:.1}",
            i + 1
        );
        assert!(d * 5.0 < wrong, "threshold too loose: {d:.1} vs {wrong:.1}");
    }
    // The same eight as TIFFs (libvips keeps the orientation as the TIFF's own tag).
    let dir = crate::helpers::process::temp_dir("tiff-orientation");
    for i in 1..=8 {
        let tif = dir.join(format!("{i}.tif"));
        let made = std::process::Command::new("vips")
            .arg("copy")
            .arg(crate::helpers::fixtures::fixtures().join(format!("Landscape_{i}.jpg")))
            .arg(&tif)
            .status()
            .expect("vips (libvips-tools)");
        assert!(made.success());
        let bytes = std::fs::read(&tif).unwrap();
        // `inspect` says so too (it used to read a TIFF's orientation only beside EXIF IFDs,
        // so said 1 for these while the render turned them).
        let report = thumbkit::pipeline::inspect::inspect(&bytes).unwrap();
        assert_eq!(report.orientation, i, "{i}.tif");
        let r = decode_rgb(&render(&bytes, &p, OutputFormat::Png).bytes);
        assert_eq!(r.dimensions(), (120, 90), "{i}.tif");
        let d = mean_abs_diff(upright, &r);
        assert!(d < 4.0, "{i}.tif differs from Landscape_1 by {d:.1}");
    }
}

#[test]
fn auto_resolves_by_alpha_and_acceptance() {
    use thumbkit::pipeline::{Probe, probe};
    let small = shipped("small");
    let auto = &small.spec;
    let limits = Limits::default();
    let photo: Probe = probe(&fixture("DSCN0010.jpg"), &limits).unwrap();
    let with_alpha = probe(&fixture("1_webp_ll.webp"), &limits).unwrap();
    let opaque_png = probe(&fixture("Flag_of_the_Netherlands-16bit.png"), &limits).unwrap();
    assert!(with_alpha.alpha && !photo.alpha && !opaque_png.alpha);
    assert_eq!(OutputFormat::resolve(auto, &photo, &[]), OutputFormat::Jpeg);
    assert_eq!(
        OutputFormat::resolve(auto, &with_alpha, &[]),
        OutputFormat::Png
    );
    assert_eq!(
        OutputFormat::resolve(auto, &opaque_png, &[]),
        OutputFormat::Jpeg
    );
    use OutputFormat::{Avif, Png, Webp};
    // An opaque photo gets the first modern format the client accepts.
    assert_eq!(OutputFormat::resolve(auto, &photo, &[Avif, Webp]), Avif);
    assert_eq!(OutputFormat::resolve(auto, &photo, &[Webp]), Webp);
    // A source with alpha gets lossless WebP when accepted (never lossy AVIF), else PNG.
    assert_eq!(
        OutputFormat::resolve(auto, &with_alpha, &[Avif, Webp]),
        Webp
    );
    assert_eq!(OutputFormat::resolve(auto, &with_alpha, &[Avif]), Png);
    assert!(
        Webp.is_lossless_for(auto.format, &with_alpha)
            && !Webp.is_lossless_for(auto.format, &photo)
    );
    let out = render(&fixture("1_webp_ll.webp"), &shipped("small"), Webp);
    assert!(
        containers(&out.bytes).iter().any(|c| c == "VP8L"),
        "lossless"
    );
    let png = render(&fixture("1_webp_ll.webp"), &shipped("small"), Png);
    assert!(
        out.bytes.len() < png.bytes.len(),
        "{} >= {}",
        out.bytes.len(),
        png.bytes.len()
    );
}
