//! WebP stills through libwebp, scaled on load: what a hostile or unusual WebP does to that
//! path (cut short, a canvas bigger than the limits, an EXIF orientation, alpha at the edges).

use super::*;

/// A 40x20 WebP, left half red and right half blue, as thumbkit writes it (a simple file:
/// RIFF, WEBP, one `VP8 ` or `VP8L` chunk).
fn two_halves(lossless: bool) -> Vec<u8> {
    let img = image::RgbaImage::from_fn(40, 20, |x, _| {
        if x < 20 {
            image::Rgba([255, 0, 0, 255])
        } else {
            image::Rgba([0, 0, 255, 255])
        }
    });
    let encoder = ::webp::Encoder::from_rgba(img.as_raw(), 40, 20);
    let out = if lossless {
        encoder.encode_lossless()
    } else {
        encoder.encode(90.0)
    };
    out.to_vec()
}

/// `simple` rewritten as an extended WebP (`VP8X`) with `extra` chunks after the image and
/// `canvas` as the declared size.
fn extended(
    simple: &[u8],
    canvas: (u32, u32),
    flags: u8,
    extra: &[(&[u8; 4], Vec<u8>)],
) -> Vec<u8> {
    let mut body = b"WEBP".to_vec();
    let mut vp8x = vec![flags, 0, 0, 0];
    vp8x.extend_from_slice(&(canvas.0 - 1).to_le_bytes()[..3]);
    vp8x.extend_from_slice(&(canvas.1 - 1).to_le_bytes()[..3]);
    fn chunk(body: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        body.extend_from_slice(kind);
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(data);
        if data.len() % 2 == 1 {
            body.push(0);
        }
    }
    chunk(&mut body, b"VP8X", &vp8x);
    // The image chunk of the simple file, as it is.
    body.extend_from_slice(&simple[12..]);
    for (kind, data) in extra {
        chunk(&mut body, &kind[..], data);
    }
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

/// A little-endian TIFF whose first IFD holds only an orientation tag.
fn exif_orientation(value: u16) -> Vec<u8> {
    let mut t = b"II*\0\x08\0\0\0".to_vec();
    t.extend_from_slice(&1u16.to_le_bytes());
    t.extend_from_slice(&0x0112u16.to_le_bytes());
    t.extend_from_slice(&3u16.to_le_bytes());
    t.extend_from_slice(&1u32.to_le_bytes());
    t.extend_from_slice(&value.to_le_bytes());
    t.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    t
}

#[test]
fn a_webp_cut_short_is_refused_as_truncated_never_rendered_half_grey() {
    let p = preset("p", "width = 16\nheight = 16\nformat = \"jpeg\"");
    for lossless in [false, true] {
        let whole = two_halves(lossless);
        assert!(pipeline::render(&whole, &p.spec, OutputFormat::Jpeg, &Limits::default()).is_ok());
        for keep in [whole.len() * 9 / 10, whole.len() - 1, 40] {
            let cut = &whole[..keep];
            let r = pipeline::render(cut, &p.spec, OutputFormat::Jpeg, &Limits::default());
            assert!(
                matches!(r, Err(PipelineError::Truncated | PipelineError::Corrupt(_))),
                "lossless {lossless}, {keep} of {} bytes: {:?}",
                whole.len(),
                r.map(|o| (o.width, o.height))
            );
        }
    }
}

#[test]
fn a_webp_declaring_a_canvas_over_the_limits_is_refused_before_decoding() {
    let p = preset("p", "width = 16\nheight = 16");
    // 60000x60000 declared, a 40x20 frame inside: the declared size counts.
    let bomb = extended(&two_halves(false), (60_000, 60_000), 0, &[]);
    let r = pipeline::render(&bomb, &p.spec, OutputFormat::Jpeg, &Limits::default());
    assert!(
        matches!(
            r,
            Err(PipelineError::TooManyPixels { .. } | PipelineError::Corrupt(_))
        ),
        "{:?}",
        r.map(|o| (o.width, o.height))
    );
}

#[test]
fn a_webp_turned_by_its_exif_renders_upright() {
    // Orientation 6 (turn 90° clockwise): the red left half ends up on top.
    let p = preset("p", "width = 64\nheight = 64\nformat = \"png\"");
    let turned = extended(
        &two_halves(true),
        (40, 20),
        0x08,
        &[(b"EXIF", exif_orientation(6))],
    );
    let out = render(&turned, &p, OutputFormat::Png);
    assert_eq!((out.width, out.height), (20, 40), "upright is portrait");
    let img = decode_rgb(&out.bytes);
    let (top, bottom) = (img.get_pixel(10, 5), img.get_pixel(10, 35));
    assert!(top[0] > 200 && top[2] < 60, "top is red: {top:?}");
    assert!(
        bottom[2] > 200 && bottom[0] < 60,
        "bottom is blue: {bottom:?}"
    );
}

#[test]
fn a_large_webp_is_scaled_on_load_and_keeps_its_alpha_edges_clean() {
    // 1600x1600, opaque red disc on transparent: scaled on load to 1/4 for a 200 px box.
    // A rescaler that averaged colour without weighting by alpha would darken the edge
    // towards the transparent pixels' black.
    let img = image::RgbaImage::from_fn(1600, 1600, |x, y| {
        let (dx, dy) = (x as f64 - 800.0, y as f64 - 800.0);
        if dx * dx + dy * dy < 600.0 * 600.0 {
            image::Rgba([255, 0, 0, 255])
        } else {
            image::Rgba([0, 0, 0, 0])
        }
    });
    let webp = ::webp::Encoder::from_rgba(img.as_raw(), 1600, 1600)
        .encode_lossless()
        .to_vec();
    let p = preset("p", "width = 200\nheight = 200\nformat = \"png\"");
    let out = render(&webp, &p, OutputFormat::Png);
    assert_eq!((out.width, out.height), (200, 200));
    let rgba = image::load_from_memory(&out.bytes).unwrap().into_rgba8();
    assert_eq!(rgba.get_pixel(0, 0)[3], 0, "the corner stays transparent");
    for px in rgba.pixels().filter(|p| p[3] > 16) {
        assert!(px[0] > 200 && px[1] < 40, "an edge pixel darkened: {px:?}");
    }
}
