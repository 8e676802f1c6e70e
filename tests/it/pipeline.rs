//! The render pipeline on the real fixtures: sizes for every fit, orientation, no metadata,
//! GPS gone, colour against libvips, and every bad file refused with the right error.

use crate::helpers::fixtures::*;
use thumbkit::pipeline::inspect;
use thumbkit::pipeline::{self, Limits, OutputFormat, PipelineError};

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
}

#[test]
fn no_output_carries_metadata() {
    let p = preset("m", "width = 200\nheight = 200");
    for entry in manifest() {
        if entry["expect"] != "ok" {
            continue;
        }
        let name = entry["file"].as_str().unwrap_or_default();
        let bytes = fixture(name);
        for format in [OutputFormat::Jpeg, OutputFormat::Png, OutputFormat::Webp] {
            let out = render(&bytes, &p, format);
            assert_no_metadata(&out.bytes, &format!("{name} as {format}"));
            let report = inspect::inspect(&out.bytes).expect("output inspects");
            assert!(
                report.metadata.is_empty(),
                "{name} as {format}: {:?}",
                report.metadata
            );
        }
    }
}

#[test]
fn inspect_agrees_with_the_manifest() {
    // inspect is what the no-metadata checks lean on; prove it sees what exiftool saw.
    for entry in manifest() {
        if entry["expect"] != "ok" || entry["format"] == "heif" {
            continue;
        }
        let name = entry["file"].as_str().unwrap_or_default();
        let r = inspect::inspect(&fixture(name)).expect(name);
        assert_eq!(
            u64::from(r.width),
            entry["width"].as_u64().unwrap(),
            "{name} width"
        );
        assert_eq!(
            u64::from(r.height),
            entry["height"].as_u64().unwrap(),
            "{name} height"
        );
        for (field, seen) in [
            ("has_gps", r.metadata.gps),
            ("has_icc", r.metadata.icc),
            ("has_exif", r.metadata.exif),
            ("has_iptc", r.metadata.iptc),
        ] {
            assert_eq!(seen, entry[field] == true, "{name}: {field}");
        }
        // sample.jpg has an XMP segment holding a malformed packet that exiftool does not
        // count; thumbkit counts the segment, so it may see XMP where exiftool saw none.
        if entry["has_xmp"] == true {
            assert!(r.metadata.xmp, "{name}: has_xmp");
        }
        if let Some(o) = entry["exif_orientation"].as_u64() {
            assert_eq!(u64::from(r.orientation), o, "{name} orientation");
        }
    }
}

#[test]
fn gps_is_gone_from_outputs() {
    for name in GPS_FILES {
        let bytes = fixture(name);
        let before = inspect::inspect(&bytes).unwrap().metadata;
        // flower2.webp has EXIF and XMP but, per the manifest, no GPS tags.
        assert!(
            before.gps || (before.exif && before.xmp),
            "{name} carries location data to begin with"
        );
        for format in [OutputFormat::Jpeg, OutputFormat::Webp, OutputFormat::Png] {
            let out = render(&bytes, &shipped("thumb"), format);
            assert!(out.width <= 320 && out.height <= 320);
            let m = inspect::inspect(&out.bytes).unwrap().metadata;
            assert!(!m.gps && !m.exif, "{name} as {format} still has EXIF/GPS");
            assert_no_metadata(&out.bytes, name);
        }
    }
}

/// Renders with vipsthumbnail (which must be installed: `make deps`).
fn vipsthumbnail(name: &str, size: &str) -> image::RgbImage {
    let dir = std::env::temp_dir().join(format!("thumbkit-vips-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("out.png");
    let status = std::process::Command::new("vipsthumbnail")
        .arg(fixtures().join(name))
        // Colour-managed like thumbkit: import the embedded profile, export sRGB.
        .args(["--size", size, "--export-profile", "srgb", "-o"])
        .arg(format!("{}[strip]", out.display()))
        .status()
        .expect("vipsthumbnail runs (install libvips-tools: `make deps`)");
    assert!(status.success());
    let img = image::open(&out).expect("vips output").into_rgb8();
    let _ = std::fs::remove_dir_all(&dir);
    img
}

#[test]
fn cmyk_and_adobe_rgb_match_libvips_colours() {
    let p = preset("c", "width = 200\nheight = 200");
    // (file, mean absolute difference limit, mean colour difference limit), all /255.
    // Without a profile, thumbkit uses FOGRA39 (European press) and libvips its built-in
    // US profile: the two standards differ, hence the wider bounds for that one file.
    for (name, limit, colour_limit) in [
        ("Channel_digital_image_CMYK_color.jpg", 8.5, 5.0),
        (
            "Channel_digital_image_CMYK_color_no_profile.jpg",
            12.0,
            13.0,
        ),
        ("sample.jpg", 3.0, 1.0),
        ("IMG_9424.JPG", 3.0, 1.0),
        ("tifftag-photoshop.tiff", 3.0, 1.0),
        // A profile that swaps channels: unconverted, this photo's colours are all wrong.
        ("rgb-to-gbr-test.jpg", 3.0, 1.0),
    ] {
        let ours = decode_rgb(&render(&fixture(name), &p, OutputFormat::Png).bytes);
        let theirs = vipsthumbnail(name, "200x200");
        assert_eq!(ours.dimensions(), theirs.dimensions(), "{name}");
        let d = mean_abs_diff(&ours, &theirs);
        let (a, b) = (mean_colour(&ours), mean_colour(&theirs));
        eprintln!("{name}: mean difference {d:.2}/255, mean colour {a:.1?} vs {b:.1?}");
        assert!(
            d < limit,
            "{name}: mean difference {d:.2} against vipsthumbnail"
        );
        for c in 0..3 {
            assert!(
                (a[c] - b[c]).abs() < colour_limit,
                "{name}: channel {c} mean {:.1} vs {:.1}",
                a[c],
                b[c]
            );
        }
    }
}

#[test]
fn cmyk_is_not_rendered_as_a_negative() {
    // Independent of libvips: the photo's sky-free park scene is mostly mid-tone green/grey;
    // an uninverted Adobe CMYK decode would come out near-black or inverted.
    let p = preset("c", "width = 100\nheight = 100");
    let img = decode_rgb(
        &render(
            &fixture("Channel_digital_image_CMYK_color.jpg"),
            &p,
            OutputFormat::Png,
        )
        .bytes,
    );
    let [r, g, b] = mean_colour(&img);
    assert!(
        g > 80.0 && g < 200.0 && g >= b,
        "mean colour {r:.0},{g:.0},{b:.0}"
    );
}

#[test]
fn other_formats_decode() {
    let p = preset("f", "width = 64\nheight = 64\nformat = \"png\"");
    for (name, alpha) in [
        ("1_webp_ll.webp", true),
        ("rotating-squares.gif", true),
        ("rotating-squares.webp", true),
        ("bggn4a16.png", true),
        ("Flag_of_the_Netherlands-16bit.png", false),
        ("tifftag-photoshop.tiff", false),
        ("concert.jpg", false),
        ("swiss.png", false),
    ] {
        let out = render(&fixture(name), &p, OutputFormat::Png);
        assert!(out.width <= 64 && out.height <= 64, "{name}");
        let img = image::load_from_memory(&out.bytes).unwrap();
        assert_eq!(
            img.color().has_alpha(),
            alpha,
            "{name}: alpha kept only where there is some"
        );
    }
    // Alpha flattened onto the background for JPEG.
    let out = render(&fixture("1_webp_ll.webp"), &p, OutputFormat::Jpeg);
    assert_eq!(decode_rgb(&out.bytes).dimensions(), (out.width, out.height));
}

#[test]
fn a_png_named_jpg_is_read_as_png() {
    let out = render(
        &fixture("Flag_of_the_Netherlands.jpg"),
        &shipped("thumb"),
        OutputFormat::Jpeg,
    );
    assert_eq!((out.width, out.height), (320, 213));
}

#[test]
fn every_bad_file_gets_its_error() {
    let p = shipped("thumb");
    let mut checked = 0;
    for entry in manifest() {
        let expect = entry["expect"].as_str().unwrap_or_default();
        if !expect.starts_with("reject") && entry["format"] != "heif" {
            continue;
        }
        let name = entry["file"].as_str().unwrap_or_default();
        let err = pipeline::render(&fixture(name), &p, OutputFormat::Jpeg, &Limits::default())
            .expect_err(name);
        let ok = match name {
            "truncated.jpg" => err == PipelineError::Truncated,
            "empty.jpg" => err == PipelineError::Empty,
            "exif-samples-README.jpg" => {
                matches!(&err, PipelineError::UnsupportedFormat(m) if m.contains("text"))
            }
            "IMG_5195.HEIC" => {
                matches!(&err, PipelineError::UnsupportedFormat(m) if m.contains("HEIC"))
            }
            "bomb-60000x60000.png" | "giant-image.jpg" => {
                matches!(err, PipelineError::TooManyPixels { .. })
            }
            other => panic!("no expectation written for {other}: {err}"),
        };
        assert!(ok, "{name}: got `{err}` for `{expect}`");
        checked += 1;
    }
    assert_eq!(checked, 6, "every bad fixture was tried");
}

#[test]
fn limits_are_enforced() {
    let bytes = fixture(PHOTO_6MP);
    let p = shipped("thumb");
    let small = Limits {
        max_input_bytes: 1000,
        ..Limits::default()
    };
    assert!(matches!(
        pipeline::render(&bytes, &p, OutputFormat::Jpeg, &small),
        Err(PipelineError::InputTooLarge { .. })
    ));
    let few = Limits {
        max_pixels: 1_000_000,
        ..Limits::default()
    };
    assert!(matches!(
        pipeline::render(&bytes, &p, OutputFormat::Jpeg, &few),
        Err(PipelineError::TooManyPixels { .. })
    ));
    let big = preset("b", "width = 3000\nheight = 3000\nupscale = true");
    let narrow = Limits {
        max_output_side: 2000,
        ..Limits::default()
    };
    assert!(matches!(
        pipeline::render(&bytes, &big, OutputFormat::Jpeg, &narrow),
        Err(PipelineError::OutputTooLarge { .. })
    ));
    // A one-sided box on a very tall image: too tall either way it is turned.
    let wide = preset("w", "width = 3000\nupscale = true");
    let tall = Limits {
        max_output_side: 3000,
        ..Limits::default()
    };
    assert!(matches!(
        pipeline::render(&fixture("HMD_Nokia_8.3_5G.jpg"), &wide, OutputFormat::Jpeg, &tall),
        Ok(r) if r.width == 3000
    ));
    let portrait = fixture("Landscape_6.jpg"); // stored 450x600, upright 600x450
    let p = preset("p", "width = 1400\nupscale = true");
    let limit = Limits {
        max_output_side: 1500,
        ..Limits::default()
    };
    // As stored it would be 1400x1867 (too tall), upright it is 1400x1050: the check from
    // the header must not refuse what only the unturned image would exceed.
    assert!(pipeline::render(&portrait, &p, OutputFormat::Jpeg, &limit).is_ok());
}

#[test]
fn damaged_inputs_never_panic() {
    // Every prefix length class and some flipped bytes of real files of each format.
    let p = preset("d", "width = 64\nheight = 64");
    for name in [
        "DSCN0010.jpg",
        "blackbug.png",
        "flower2.webp",
        "rotating-squares.gif",
        "tifftag-photoshop.tiff",
    ] {
        let bytes = fixture(name);
        for cut in [
            1,
            2,
            3,
            8,
            16,
            33,
            100,
            500,
            bytes.len() / 3,
            bytes.len() - 2,
        ] {
            let r = pipeline::render(
                &bytes[..cut.min(bytes.len())],
                &p,
                OutputFormat::Jpeg,
                &Limits::default(),
            );
            assert!(r.is_err() || cut > 500, "{name} cut at {cut} rendered");
            assert!(
                !matches!(r, Err(PipelineError::Internal(_))),
                "{name} cut at {cut}: {r:?}"
            );
        }
        let mut flipped = bytes.clone();
        for i in (20..flipped.len()).step_by(97) {
            flipped[i] ^= 0x5A;
        }
        // Either an error or an image; a caught panic would show as an internal error.
        let r = pipeline::render(&flipped, &p, OutputFormat::Jpeg, &Limits::default());
        assert!(
            !matches!(r, Err(PipelineError::Internal(_))),
            "{name} flipped: {r:?}"
        );
    }
}

#[test]
fn shrink_on_load_costs_at_most_half_a_db() {
    // PSNR against a full-resolution Lanczos3 reference, for the render as shipped and for
    // one decoded at full resolution: shrink-on-load may cost speed-worth quality only
    // within 0.5 dB (a sub-pixel misalignment of the shrunk image once cost 1.9 dB here).
    let thumb = shipped("thumb");
    for name in [PHOTO_6MP, "IMG_9424.JPG", "HMD_Nokia_8.3_5G.jpg"] {
        let bytes = fixture(name);
        let reference = thumbkit::bench::reference(&bytes, &thumb, &Limits::default()).unwrap();
        let shipped_out = render(&bytes, &thumb, OutputFormat::Jpeg);
        let full = pipeline::render_with_margin(
            &bytes,
            &thumb,
            OutputFormat::Jpeg,
            &Limits::default(),
            f64::INFINITY,
        )
        .unwrap();
        let (a, b) = (
            reference.psnr_of_jpeg(&shipped_out.bytes).unwrap(),
            reference.psnr_of_jpeg(&full.bytes).unwrap(),
        );
        eprintln!("{name}: {a:.2} dB shrunk on load, {b:.2} dB from full resolution");
        assert!(a > b - 0.5, "{name}: {a:.2} dB against {b:.2} dB");
    }
}

#[test]
fn mutated_inputs_never_panic() {
    // Deterministic mutations (byte sets, bit flips, truncations, insertions) of real files
    // of every format. A caught panic would come back as an internal error.
    let p = shipped("avatar");
    let files = [
        "DSCN0010.jpg",
        "blackbug.png",
        "flower2.webp",
        "rotating-squares.gif",
        "tifftag-photoshop.tiff",
        "1_webp_ll.webp",
        "bggn4a16.png",
        "Channel_digital_image_CMYK_color_no_profile.jpg",
    ];
    let originals: Vec<Vec<u8>> = files.iter().map(|f| fixture(f)).collect();
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for i in 0..1000 {
        let mut d = originals[i % files.len()].clone();
        for _ in 0..1 + next() % 8 {
            let pos = (next() as usize) % d.len();
            match next() % 4 {
                0 => d[pos] = next() as u8,
                1 => d[pos] ^= 1 << (next() % 8),
                2 => d.truncate(pos.max(1)),
                _ => d.insert(pos, next() as u8),
            }
        }
        let r = pipeline::render(&d, &p, OutputFormat::Jpeg, &Limits::default());
        assert!(
            !matches!(r, Err(PipelineError::Internal(_))),
            "{} mutation {i}: {r:?}",
            files[i % files.len()]
        );
    }
}

#[test]
fn auto_resolves_by_alpha_and_acceptance() {
    use thumbkit::pipeline::{Probe, probe};
    let auto = shipped("small").format;
    let limits = Limits::default();
    let photo: Probe = probe(&fixture("DSCN0010.jpg"), &limits).unwrap();
    let with_alpha = probe(&fixture("1_webp_ll.webp"), &limits).unwrap();
    let opaque_png = probe(&fixture("Flag_of_the_Netherlands-16bit.png"), &limits).unwrap();
    assert!(with_alpha.alpha && !photo.alpha && !opaque_png.alpha);
    assert_eq!(
        OutputFormat::resolve(auto, &photo, false),
        OutputFormat::Jpeg
    );
    assert_eq!(
        OutputFormat::resolve(auto, &with_alpha, false),
        OutputFormat::Png
    );
    assert_eq!(
        OutputFormat::resolve(auto, &opaque_png, false),
        OutputFormat::Jpeg
    );
    assert_eq!(
        OutputFormat::resolve(auto, &photo, true),
        OutputFormat::Webp
    );
}

#[test]
fn placeholders_and_validation_describe_the_real_image() {
    let limits = Limits::default();
    // The BlurHash decodes to an image whose colours follow the photo's, region by region.
    for name in ["DSCN0010.jpg", "Landscape_6.jpg"] {
        let bytes = fixture(name);
        let hash = pipeline::placeholder(&bytes, &limits).unwrap();
        let reference = decode_rgb(&render(&bytes, &shipped("thumb"), OutputFormat::Jpeg).bytes);
        let (w, h) = reference.dimensions();
        let decoded = blurhash::decode(&hash, w, h, 1.0).unwrap();
        let mean = |f: &dyn Fn(u32, u32) -> [u8; 3], x0: u32, x1: u32| {
            let mut sum = [0f64; 3];
            let mut n = 0f64;
            for y in 0..h {
                for x in x0..x1 {
                    let p = f(x, y);
                    for c in 0..3 {
                        sum[c] += f64::from(p[c]);
                    }
                    n += 1.0;
                }
            }
            sum.map(|s| s / n)
        };
        let from_hash = |x: u32, y: u32| {
            let i = ((y * w + x) * 4) as usize;
            [decoded[i], decoded[i + 1], decoded[i + 2]]
        };
        let from_image = |x: u32, y: u32| reference.get_pixel(x, y).0;
        for (x0, x1) in [(0, w / 2), (w / 2, w)] {
            let (a, b) = (mean(&from_hash, x0, x1), mean(&from_image, x0, x1));
            for c in 0..3 {
                assert!(
                    (a[c] - b[c]).abs() < 25.0,
                    "{name} {x0}..{x1}: {a:?} vs {b:?}"
                );
            }
        }
    }
    // Validation: upright dimensions, and damaged files refused.
    let v = pipeline::validate(&fixture("Landscape_6.jpg"), &limits).unwrap();
    let report = inspect::inspect(&fixture("Landscape_6.jpg")).unwrap();
    assert_eq!(
        v.upright,
        (report.height, report.width),
        "orientation 6 swaps the axes"
    );
    assert!(matches!(
        pipeline::validate(&fixture("truncated.jpg"), &limits),
        Err(PipelineError::Truncated)
    ));
}
