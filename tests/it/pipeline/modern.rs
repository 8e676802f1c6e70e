//! HEIC and AVIF in, AVIF out, animations kept: the iPhone photo against libheif's own
//! `heif-convert`, AVIF inputs made with `heif-enc` and with libheif directly (orientation in
//! the container and in EXIF at once), outputs walked box by box, frames counted.

use std::process::Command;

use image::AnimationDecoder;
use libheif_rs::{
    Channel, ColorSpace, CompressionFormat, EncoderQuality, EncodingOptions, HeifContext,
    ImageOrientation, LibHeif, RgbChroma,
};

use super::*;

fn tool(name: &str, args: &[&str]) {
    let out = Command::new(name)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{name} (libheif-examples, installed by `make deps`): {e}"));
    assert!(
        out.status.success(),
        "{name} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn temp(name: &str) -> std::path::PathBuf {
    let dir = crate::helpers::app::temp_dir("modern");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn the_iphone_heic_renders_upright_in_srgb_as_heif_convert_sees_it() {
    let heic = fixture("IMG_5195.HEIC");
    let p = preset("p", "width = 400\nheight = 400\nformat = \"jpeg\"");
    let ours = render(&heic, &p, OutputFormat::Jpeg);
    // 2566x3313 portrait, inside 400x400.
    assert_eq!((ours.width, ours.height), (310, 400));
    assert_no_metadata(&ours.bytes, "HEIC as JPEG");
    assert!(inspect::inspect(&ours.bytes).unwrap().metadata.is_empty());
    // libheif's own converter, its PNG (with the Display P3 profile) through the same resize.
    let input = temp("photo.heic");
    let png = temp("photo.png");
    std::fs::write(&input, &heic).unwrap();
    tool(
        "heif-convert",
        &[input.to_str().unwrap(), png.to_str().unwrap()],
    );
    let converted = std::fs::read(&png).unwrap();
    assert!(
        inspect::inspect(&converted).unwrap().metadata.icc,
        "heif-convert kept the profile"
    );
    let theirs = render(&converted, &p, OutputFormat::Jpeg);
    let (a, b) = (decode_rgb(&ours.bytes), decode_rgb(&theirs.bytes));
    let diff = mean_abs_diff(&a, &b);
    assert!(
        diff < 1.5,
        "mean difference from heif-convert's rendering: {diff}"
    );
    // And the profile was applied: P3 pixels shown as sRGB unconverted look different.
    let mut untagged = converted.clone();
    strip_iccp(&mut untagged);
    let raw = decode_rgb(&render(&untagged, &p, OutputFormat::Jpeg).bytes);
    assert!(
        mean_abs_diff(&a, &raw) > 1.0,
        "the Display P3 profile made no difference"
    );
}

/// Removes a PNG's iCCP chunk in place.
fn strip_iccp(png: &mut Vec<u8>) {
    let mut pos = 8;
    while pos + 12 <= png.len() {
        let len = u32::from_be_bytes(png[pos..pos + 4].try_into().unwrap()) as usize;
        if &png[pos + 4..pos + 8] == b"iCCP" {
            png.drain(pos..pos + 12 + len);
            return;
        }
        pos += 12 + len;
    }
}

#[test]
fn avif_and_heic_inputs_made_by_heif_enc_render_with_depth_and_alpha() {
    // Compared flattened onto white, where transparent pixels' colours cannot differ.
    let p = preset("p", "width = 200\nheight = 200\nformat = \"jpeg\"");
    let photo = render(
        &fixture("IMG_9424.JPG"),
        &preset("s", "width = 600\nformat = \"png\""),
        OutputFormat::Png,
    );
    // heif-enc misreads 16-bit gray+alpha PNGs: it is given the fixture as 8-bit RGBA.
    let alpha = render(
        &fixture("bggn4a16.png"),
        &preset("a", "width = 64\nformat = \"png\"\nupscale = true"),
        OutputFormat::Png,
    )
    .bytes;
    let cases: [(&str, &[u8], &[&str], bool); 4] = [
        ("photo-8bit.avif", &photo.bytes, &["-A", "-q", "90"], false),
        (
            "photo-10bit.avif",
            &photo.bytes,
            &["-A", "-q", "90", "-b", "10"],
            false,
        ),
        ("alpha.avif", &alpha, &["-A", "-q", "95"], true),
        ("photo.heic", &photo.bytes, &["-q", "90"], false),
    ];
    for (name, source, args, has_alpha) in cases {
        let png = temp(&format!("{name}.png"));
        std::fs::write(&png, source).unwrap();
        let out = temp(name);
        let mut all: Vec<&str> = args.to_vec();
        all.extend([png.to_str().unwrap(), "-o", out.to_str().unwrap()]);
        let made = Command::new("heif-enc")
            .args(&all)
            .output()
            .expect("heif-enc");
        if name.ends_with(".heic") && !made.status.success() {
            // No HEVC encoder is installed on purpose (x265 is GPL): HEIC is read-only.
            continue;
        }
        assert!(
            made.status.success(),
            "heif-enc {all:?}: {}",
            String::from_utf8_lossy(&made.stderr)
        );
        let bytes = std::fs::read(&out).unwrap();
        let probe = pipeline::probe(&bytes, &Limits::default()).expect(name);
        assert_eq!(probe.alpha, has_alpha, "{name}");
        let rendered = render(&bytes, &p, OutputFormat::Jpeg);
        let source_size = image::load_from_memory(source).unwrap();
        let reference = render(source, &p, OutputFormat::Jpeg);
        assert_eq!(
            (rendered.width, rendered.height),
            (reference.width, reference.height),
            "{name}"
        );
        let diff = mean_abs_diff(&decode_rgb(&rendered.bytes), &decode_rgb(&reference.bytes));
        assert!(
            diff < 4.0,
            "{name}: {diff} from its source ({}x{})",
            source_size.width(),
            source_size.height()
        );
    }
}

/// A 60x40 AVIF, red on its left half, blue on the right, stored with a container rotation
/// of 90 degrees clockwise and an EXIF block that also says "rotate 90" (orientation 6).
fn rotated_avif() -> Vec<u8> {
    let lib = LibHeif::new();
    let (w, h) = (60u32, 40u32);
    let mut image = libheif_rs::Image::new(w, h, ColorSpace::Rgb(RgbChroma::Rgb)).unwrap();
    image.create_plane(Channel::Interleaved, w, h, 8).unwrap();
    {
        let mut planes = image.planes_mut();
        let plane = planes.interleaved.as_mut().unwrap();
        for y in 0..h as usize {
            for x in 0..w as usize {
                let px = if x < 30 { [220, 20, 20] } else { [20, 20, 220] };
                let at = y * plane.stride + x * 3;
                plane.data[at..at + 3].copy_from_slice(&px);
            }
        }
    }
    let mut encoder = lib.encoder_for_format(CompressionFormat::Av1).unwrap();
    encoder.set_quality(EncoderQuality::Lossy(95)).unwrap();
    let mut options = EncodingOptions::new().unwrap();
    options.set_image_orientation(ImageOrientation::Rotate90Cw);
    let mut context = HeifContext::new().unwrap();
    let handle = context
        .encode_image(&image, &mut encoder, Some(options))
        .unwrap();
    // EXIF, big-endian, one IFD entry: Orientation (0x0112) = 6.
    let exif = b"MM\0*\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01\0\x06\0\0\0\0\0\0".to_vec();
    context.add_exif_metadata(&handle, &exif).unwrap();
    context.write_to_bytes().unwrap()
}

#[test]
fn the_container_orientation_is_applied_once_never_again_from_exif() {
    let bytes = rotated_avif();
    let report = inspect::inspect(&bytes).unwrap();
    assert!(report.metadata.exif, "the test file carries EXIF");
    assert_eq!(
        report.orientation, 1,
        "HEIF's EXIF orientation is not the image's"
    );
    let out = render(
        &bytes,
        &preset(
            "p",
            "width = 100\nheight = 100\nformat = \"png\"\nupscale = true",
        ),
        OutputFormat::Png,
    );
    // Turned once: 40x60, the left (red) half now on top. Turned twice it would be 60x40.
    assert_eq!((out.width, out.height), (67, 100));
    let img = decode_rgb(&out.bytes);
    let top = img.get_pixel(33, 10);
    let bottom = img.get_pixel(33, 90);
    assert!(top[0] > 150 && top[2] < 100, "top is red: {top:?}");
    assert!(
        bottom[2] > 150 && bottom[0] < 100,
        "bottom is blue: {bottom:?}"
    );
    assert_no_metadata(&out.bytes, "rotated AVIF as PNG");
}

#[test]
fn avif_outputs_carry_only_pixels_and_an_srgb_nclx() {
    let p = preset("p", "width = 240\nheight = 240\nformat = \"avif\"");
    for name in GPS_FILES.iter().copied().chain([
        "IMG_5195.HEIC",
        "Channel_digital_image_CMYK_color.jpg",
        "bggn4a16.png",
    ]) {
        let out = render(&fixture(name), &p, OutputFormat::Avif);
        assert_no_metadata(&out.bytes, &format!("{name} as AVIF"));
        let report = inspect::inspect(&out.bytes).expect("the AVIF inspects");
        assert_eq!(report.format, pipeline::SourceFormat::Avif);
        assert!(report.metadata.is_empty(), "{name}: {:?}", report.metadata);
        // It decodes back (through libheif) to the planned size.
        let back = pipeline::probe(&out.bytes, &Limits::default()).unwrap();
        assert_eq!((back.width, back.height), (out.width, out.height), "{name}");
    }
}

#[test]
fn lossless_webp_is_exact() {
    let p = preset(
        "p",
        "width = 64\nheight = 64\nformat = \"webp\"\nlossless = true",
    );
    let lossy = preset("q", "width = 64\nheight = 64\nformat = \"webp\"");
    let png = preset("r", "width = 64\nheight = 64\nformat = \"png\"");
    let source = fixture("swiss.png");
    let exact = decode_rgb(&render(&source, &png, OutputFormat::Png).bytes);
    let out = render(&source, &p, OutputFormat::Webp);
    assert_no_metadata(&out.bytes, "lossless WebP");
    assert!(
        containers(&out.bytes).iter().any(|c| c == "VP8L"),
        "{:?}",
        containers(&out.bytes)
    );
    assert_eq!(mean_abs_diff(&decode_rgb(&out.bytes), &exact), 0.0);
    let approx = decode_rgb(&render(&source, &lossy, OutputFormat::Webp).bytes);
    assert!(mean_abs_diff(&approx, &exact) > 0.0);
}

/// The frames of an animated GIF or WebP, composited, with their delays in ms.
fn frames(bytes: &[u8]) -> Vec<(image::RgbaImage, f64)> {
    let cursor = std::io::Cursor::new(bytes);
    let frames = if bytes.starts_with(b"GIF") {
        image::codecs::gif::GifDecoder::new(cursor)
            .unwrap()
            .into_frames()
    } else {
        image::codecs::webp::WebPDecoder::new(cursor)
            .unwrap()
            .into_frames()
    };
    frames
        .map(|f| {
            let f = f.unwrap();
            let (n, d) = f.delay().numer_denom_ms();
            (f.into_buffer(), f64::from(n) / f64::from(d))
        })
        .collect()
}

#[test]
fn a_keep_preset_keeps_every_frame_and_its_timing_at_the_preset_size() {
    let gif = fixture("rotating-squares.gif");
    let source = frames(&gif);
    assert_eq!(source.len(), 30);
    // Identical consecutive frames are one frame shown longer in the output (as libwebp's
    // animation encoder writes them): count the source's distinct runs.
    let runs = 1 + source.windows(2).filter(|w| w[0].0 != w[1].0).count();
    let keep = preset(
        "a",
        "width = 40\nheight = 40\nformat = \"webp\"\nanimation = \"keep\"",
    );
    let out = render(&gif, &keep, OutputFormat::Webp);
    assert_no_metadata(&out.bytes, "animated WebP");
    let kept = frames(&out.bytes);
    assert_eq!(kept.len(), runs, "every distinct frame kept");
    assert!(kept.iter().all(|(f, _)| f.dimensions() == (40, 40)));
    let total = |fs: &[(image::RgbaImage, f64)]| fs.iter().map(|f| f.1).sum::<f64>();
    assert_eq!(total(&kept), total(&source), "the same timing in all");
    assert!(inspect::inspect(&out.bytes).unwrap().frames > 1);
    // `first-frame` (the default) is a still, as before.
    let still = preset("s", "width = 40\nheight = 40\nformat = \"webp\"");
    let flat = render(&gif, &still, OutputFormat::Webp);
    assert_eq!(inspect::inspect(&flat.bytes).unwrap().frames, 1);
    // An animated WebP source is kept too.
    let from_webp = render(&fixture("rotating-squares.webp"), &keep, OutputFormat::Webp);
    assert!(frames(&from_webp.bytes).len() > 1);
}

#[test]
fn a_frame_bomb_is_refused_from_its_header() {
    // 5000 frames of a 2000x2000 canvas, each frame a single pixel: 10 KB on disk,
    // 20 gigapixels to composite.
    let mut bytes = Vec::new();
    {
        let mut encoder =
            gif::Encoder::new(&mut bytes, 2000, 2000, &[0, 0, 0, 255, 255, 255]).unwrap();
        for _ in 0..5000 {
            let frame = gif::Frame {
                width: 1,
                height: 1,
                buffer: std::borrow::Cow::Owned(vec![1]),
                ..gif::Frame::default()
            };
            encoder.write_frame(&frame).unwrap();
        }
    }
    let keep = preset(
        "a",
        "width = 40\nheight = 40\nformat = \"webp\"\nanimation = \"keep\"",
    );
    let started = std::time::Instant::now();
    let err =
        pipeline::render(&bytes, &keep.spec, OutputFormat::Webp, &Limits::default()).unwrap_err();
    assert!(
        matches!(err, PipelineError::AnimationTooLarge { frames: 5000, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("5000 frames"), "{err}");
    assert!(started.elapsed().as_secs() < 5, "refused before decoding");
    // A still of its first frame is cheap and still allowed.
    let still = preset("s", "width = 40\nheight = 40\nformat = \"webp\"");
    assert!(pipeline::render(&bytes, &still.spec, OutputFormat::Webp, &Limits::default()).is_ok());
}
