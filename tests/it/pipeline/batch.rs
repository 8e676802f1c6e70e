//! Every variant from one decode ([`pipeline::batch`]): the same sizes as rendering each
//! preset alone, and no preset more than 0.2 dB further from a full-resolution Lanczos
//! reference than its own render.

use super::*;
use thumbkit::bench;
use thumbkit::pipeline::batch;

const SHIPPED: [&str; 6] = ["avatar", "large", "medium", "og", "small", "thumb"];

/// PSNR of each shipped preset (JPEG) from one decode and rendered alone, per photo.
#[test]
fn one_decode_stays_within_a_fifth_of_a_db() {
    let presets: Vec<_> = SHIPPED.iter().map(|n| shipped(n)).collect();
    let refs: Vec<&_> = presets.iter().collect();
    let limits = Limits::default();
    // A 12 MP landscape phone photo, a 12 MP rotated one, a 6 MP camera photo, and a
    // CMYK file with a profile (colour converted before the resize, not after).
    for photo in [
        "IMG_9424.JPG",
        "HMD_Nokia_8.3_5G.jpg",
        PHOTO_6MP,
        "Channel_digital_image_CMYK_color.jpg",
    ] {
        let bytes = fixture(photo);
        let reference = bench::reference(&bytes, &presets[0], &limits).expect("reference");
        let composed = batch::compose_all(
            &bytes,
            &refs.iter().map(|p| &p.spec).collect::<Vec<_>>(),
            &limits,
        )
        .expect("decodes");
        for (preset, one) in presets.iter().zip(composed) {
            let batched = one
                .expect("composed")
                .encode(OutputFormat::Jpeg)
                .expect("encodes");
            let alone = render(&bytes, preset, OutputFormat::Jpeg);
            assert_eq!(
                (batched.width, batched.height),
                (alone.width, alone.height),
                "{photo} {}",
                preset.name
            );
            let b = reference.psnr_of_preset(preset, &batched.bytes).expect("b");
            let a = reference.psnr_of_preset(preset, &alone.bytes).expect("a");
            eprintln!(
                "{photo} {}: one decode {b:.2} dB, alone {a:.2} dB",
                preset.name
            );
            assert!(
                b >= a - 0.2,
                "{photo} {}: {b:.2} dB from one decode, {a:.2} dB alone",
                preset.name
            );
            assert_no_metadata(&batched.bytes, preset.name.as_str());
        }
    }
}

/// Alpha survives into the formats that keep it and is flattened for JPEG, as in a render.
#[test]
fn one_decode_keeps_alpha_where_a_render_does() {
    let bytes = fixture("bggn4a16.png");
    let p = preset("t", "width = 16\nheight = 16\nformat = \"auto\"");
    let composed = batch::compose_all(&bytes, &[&p.spec], &Limits::default()).expect("decodes");
    let one = composed.into_iter().next().expect("one").expect("composed");
    for format in [OutputFormat::Png, OutputFormat::Webp, OutputFormat::Jpeg] {
        let batched = one.encode(format).expect("encodes");
        let alone = render(&bytes, &p, format);
        // One preset from its own decode: the very same bytes as a render.
        assert_eq!(batched.bytes, alone.bytes, "{format}");
        if format != OutputFormat::Jpeg {
            let img = image::load_from_memory(&batched.bytes).expect("decodes");
            assert!(img.color().has_alpha(), "{format} keeps alpha");
        }
    }
}

/// One preset over the output limit fails alone; the others are still composed.
#[test]
fn a_preset_over_the_limits_fails_alone() {
    let bytes = fixture(PHOTO_6MP);
    let big = preset("big", "width = 3000\nheight = 3000\nupscale = true");
    let thumb = shipped("thumb");
    let limits = Limits {
        max_output_side: 2048,
        ..Limits::default()
    };
    let out = batch::compose_all(&bytes, &[&big.spec, &thumb.spec], &limits).expect("decodes");
    assert!(matches!(out[0], Err(PipelineError::OutputTooLarge { .. })));
    assert_eq!(out[1].as_ref().expect("thumb").size(), (320, 261));
}

/// A file that cannot be decoded is the original's error, not a preset's.
#[test]
fn an_undecodable_original_is_one_error() {
    let bytes = fixture("truncated.jpg");
    let thumb = shipped("thumb");
    assert!(batch::compose_all(&bytes, &[&thumb.spec], &Limits::default()).is_err());
}
