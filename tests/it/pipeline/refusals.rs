//! Inputs other than plain JPEGs: other formats decode, misnamed files are read by what they
//! are, every bad file gets its error, limits hold, and damaged or mutated inputs never panic.

use super::*;

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
        if !expect.starts_with("reject") {
            continue;
        }
        let name = entry["file"].as_str().unwrap_or_default();
        let err = pipeline::render(
            &fixture(name),
            &p.spec,
            OutputFormat::Jpeg,
            &Limits::default(),
        )
        .expect_err(name);
        let ok = match name {
            "truncated.jpg" => err == PipelineError::Truncated,
            "empty.jpg" => err == PipelineError::Empty,
            "exif-samples-README.jpg" => {
                matches!(&err, PipelineError::UnsupportedFormat(m) if m.contains("text"))
            }
            "bomb-60000x60000.png" | "giant-image.jpg" => {
                matches!(err, PipelineError::TooManyPixels { .. })
            }
            other => panic!("no expectation written for {other}: {err}"),
        };
        assert!(ok, "{name}: got `{err}` for `{expect}`");
        checked += 1;
    }
    assert_eq!(checked, 5, "every bad fixture was tried");
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
        pipeline::render(&bytes, &p.spec, OutputFormat::Jpeg, &small),
        Err(PipelineError::InputTooLarge { .. })
    ));
    let few = Limits {
        max_pixels: 1_000_000,
        ..Limits::default()
    };
    assert!(matches!(
        pipeline::render(&bytes, &p.spec, OutputFormat::Jpeg, &few),
        Err(PipelineError::TooManyPixels { .. })
    ));
    let big = preset("b", "width = 3000\nheight = 3000\nupscale = true");
    let narrow = Limits {
        max_output_side: 2000,
        ..Limits::default()
    };
    assert!(matches!(
        pipeline::render(&bytes, &big.spec, OutputFormat::Jpeg, &narrow),
        Err(PipelineError::OutputTooLarge { .. })
    ));
    // A one-sided box on a very tall image: too tall either way it is turned.
    let wide = preset("w", "width = 3000\nupscale = true");
    let tall = Limits {
        max_output_side: 3000,
        ..Limits::default()
    };
    assert!(matches!(
        pipeline::render(&fixture("HMD_Nokia_8.3_5G.jpg"), &wide.spec, OutputFormat::Jpeg, &tall),
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
    assert!(pipeline::render(&portrait, &p.spec, OutputFormat::Jpeg, &limit).is_ok());
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
                &p.spec,
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
        let r = pipeline::render(&flipped, &p.spec, OutputFormat::Jpeg, &Limits::default());
        assert!(
            !matches!(r, Err(PipelineError::Internal(_))),
            "{name} flipped: {r:?}"
        );
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
        let r = pipeline::render(&d, &p.spec, OutputFormat::Jpeg, &Limits::default());
        assert!(
            !matches!(r, Err(PipelineError::Internal(_))),
            "{} mutation {i}: {r:?}",
            files[i % files.len()]
        );
    }
}

#[test]
fn placeholders_and_validation_describe_the_real_image() {
    let limits = Limits::default();
    // The BlurHash decodes to an image whose colours follow the photo's, region by region.
    for name in ["DSCN0010.jpg", "Landscape_6.jpg"] {
        let bytes = fixture(name);
        let hash = pipeline::placeholder(&bytes, &limits).unwrap().blurhash;
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

#[test]
fn the_thumbhash_and_colours_follow_the_picture() {
    use base64::Engine as _;
    let limits = Limits::default();
    for name in ["DSCN0010.jpg", "Landscape_6.jpg", "IMG_9424.JPG"] {
        let bytes = fixture(name);
        let p = pipeline::placeholder(&bytes, &limits).unwrap();
        let hash = base64::engine::general_purpose::STANDARD
            .decode(&p.thumbhash)
            .expect("base64");
        // The aspect ratio is in the hash; the decoded colours follow the photo's mean.
        let thumb = decode_rgb(&render(&bytes, &shipped("thumb"), OutputFormat::Jpeg).bytes);
        let aspect = f64::from(thumb.width()) / f64::from(thumb.height());
        let coded = f64::from(thumbhash::thumb_hash_to_approximate_aspect_ratio(&hash).unwrap());
        assert!(
            (coded / aspect - 1.0).abs() < 0.15,
            "{name}: {coded} vs {aspect}"
        );
        let (_, _, rgba) = thumbhash::thumb_hash_to_rgba(&hash).expect("decodes");
        let n = (rgba.len() / 4) as f64;
        let mean = mean_colour(&thumb);
        for c in 0..3 {
            let decoded: f64 = rgba.chunks(4).map(|p| f64::from(p[c])).sum::<f64>() / n;
            assert!(
                (decoded - mean[c]).abs() < 16.0,
                "{name} channel {c}: {decoded} vs {}",
                mean[c]
            );
            let average = u8::from_str_radix(&p.average_color[1 + 2 * c..3 + 2 * c], 16).unwrap();
            assert!(
                (f64::from(average) - mean[c]).abs() < 6.0,
                "{name}: {} vs {mean:?}",
                p.average_color
            );
        }
    }
    // A mostly red picture with a blue stripe: red dominates; transparency is in the hash.
    let mut img = image::RgbaImage::from_pixel(200, 100, image::Rgba([220, 30, 30, 255]));
    for y in 0..100 {
        for x in 0..40 {
            img.put_pixel(x, y, image::Rgba([20, 40, 220, 0]));
        }
        for x in 160..200 {
            img.put_pixel(x, y, image::Rgba([20, 40, 220, 255]));
        }
    }
    let mut png = Vec::new();
    image::DynamicImage::ImageRgba8(img)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let p = pipeline::placeholder(&png, &limits).unwrap();
    assert_eq!(p.dominant_color, "#dc1e1e", "{p:?}");
    let hash = base64::engine::general_purpose::STANDARD
        .decode(&p.thumbhash)
        .unwrap();
    let (w, _, rgba) = thumbhash::thumb_hash_to_rgba(&hash).unwrap();
    assert!(
        rgba[3] < 128 && rgba[(w - 1) * 4 + 3] > 200,
        "the left edge is clear, the right opaque"
    );
}
