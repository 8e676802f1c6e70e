//! JPEGs of more than 8 bits per sample (12-bit lossy, as in libjpeg-turbo's
//! `testimages/monkey12.jpg`), written here by libjpeg-turbo's own 12-bit encoder from a
//! camera photo: they render like the 8-bit photo instead of being called corrupt.

use crate::helpers::fixtures::*;
use thumbkit::pipeline::OutputFormat;
use turbojpeg::raw;

/// `rgb` (8-bit samples) encoded as a 12-bit baseline JPEG at quality 95.
fn encode_12bit(rgb: &image::RgbImage) -> Vec<u8> {
    let (w, h) = rgb.dimensions();
    // 8-bit samples spread over the 12-bit range (0..=4095).
    let samples: Vec<i16> = rgb
        .as_raw()
        .iter()
        .map(|&v| (u32::from(v) * 4095 / 255) as i16)
        .collect();
    // SAFETY: the handle is checked; the buffer holds w*h*3 samples (pitch in samples); the
    // output buffer is allocated by libjpeg-turbo and freed with tj3Free.
    unsafe {
        let handle = raw::tj3Init(raw::TJINIT_TJINIT_COMPRESS as libc::c_int);
        assert!(!handle.is_null());
        assert_eq!(
            raw::tj3Set(handle, raw::TJPARAM_TJPARAM_QUALITY as libc::c_int, 95),
            0
        );
        assert_eq!(
            raw::tj3Set(
                handle,
                raw::TJPARAM_TJPARAM_SUBSAMP as libc::c_int,
                raw::TJSAMP_TJSAMP_420 as libc::c_int
            ),
            0
        );
        let mut out: *mut libc::c_uchar = std::ptr::null_mut();
        let mut size: raw::size_t = 0;
        let res = raw::tj3Compress12(
            handle,
            samples.as_ptr(),
            w as libc::c_int,
            (w * 3) as libc::c_int,
            h as libc::c_int,
            raw::TJPF_TJPF_RGB as libc::c_int,
            &mut out,
            &mut size,
        );
        assert_eq!(res, 0, "tj3Compress12");
        let bytes = std::slice::from_raw_parts(out, size as usize).to_vec();
        raw::tj3Free(out.cast());
        raw::tj3Destroy(handle);
        bytes
    }
}

#[test]
fn a_12_bit_jpeg_renders_like_its_8_bit_original() {
    let photo = fixture("DSCN0010.jpg");
    let rgb = decode_rgb(&photo);
    let deep = encode_12bit(&rgb);
    // Really 12-bit: the SOF1 frame header (extended sequential) with precision 12.
    let sof = deep
        .windows(5)
        .position(|w| w[0] == 0xff && (w[1] == 0xc1 || w[1] == 0xc0))
        .expect("a frame header");
    assert_eq!(deep[sof + 4], 12, "data precision");
    // Uploads accept it (their check decodes at 1/8 scale, which 12-bit data supports).
    let checked = thumbkit::pipeline::validate(&deep, &thumbkit::pipeline::Limits::default());
    assert_eq!(checked.expect("validates").upright, rgb.dimensions());

    for preset in ["thumb", "avatar", "large"] {
        let from_deep = render(&deep, &shipped(preset), OutputFormat::Png);
        let from_photo = render(&photo, &shipped(preset), OutputFormat::Png);
        assert_eq!(
            (from_deep.width, from_deep.height),
            (from_photo.width, from_photo.height),
            "{preset}"
        );
        let diff = mean_abs_diff(
            &decode_rgb(&from_deep.bytes),
            &decode_rgb(&from_photo.bytes),
        );
        assert!(diff < 3.0, "{preset}: mean difference {diff:.2} of 255");
        assert_no_metadata(&from_deep.bytes, preset);
    }
}
