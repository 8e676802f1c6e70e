//! Public conformance corpora, not only our fixtures: PngSuite, libjpeg-turbo's test images,
//! Go's JPEG/GIF/TIFF/WebP test data and libwebp encodings of every kind
//! (`fixtures/corpora/README.md` says where each comes from). Each file renders at the size an
//! independent reader (libvips) gives and looks like its reference, or is refused with a clear
//! one-line error; none panics. PngSuite's `x*` corrupt files are made here from a valid one.

use std::collections::BTreeMap;

use super::*;

fn corpora() -> std::path::PathBuf {
    fixtures().join("corpora")
}

/// What a corpus file must give.
#[derive(Debug)]
enum Expect {
    /// Renders at the size libvips reads.
    Size(u32, u32),
    /// Refused: corrupt (libvips refuses it too).
    Refuse,
    /// libvips reads it; thumbkit says plainly that it does not support it.
    Unsupported,
}

/// `expect.tsv`: each file with the size libvips reads (`WxH`), `refuse`, or `unsupported`.
fn expectations() -> BTreeMap<String, Expect> {
    let text = std::fs::read_to_string(corpora().join("expect.tsv")).expect("expect.tsv");
    text.lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(file, what)| {
            let expect = match what.split_once('x') {
                Some((w, h)) => Expect::Size(w.parse().expect("width"), h.parse().expect("height")),
                None if what == "unsupported" => Expect::Unsupported,
                None => Expect::Refuse,
            };
            (file.to_string(), expect)
        })
        .collect()
}

/// The reference a file must look like, and how far its pixels may be from it on average
/// (0-255). The copies of one photo differ by their own encoding; a wrong decode (shifted
/// planes, swapped channels, garbage after a restart marker) is 30 or more.
fn reference(file: &str) -> Option<(&'static str, f64)> {
    let lossless = ["webp/gen-lossless-z0.webp", "webp/gen-lossless-z9.webp"];
    if lossless.contains(&file) {
        return Some(("jpeg/video-001.png", 0.0));
    }
    if file.starts_with("jpeg/testimg")
        || (file.starts_with("jpeg/gen-") && file != "jpeg/gen-progressive-restart.jpg")
    {
        // jpegtran's transcodes keep the coefficients; testimgint/ari are re-encodings.
        return Some(("jpeg/testorig.jpg", 1.0));
    }
    if file == "jpeg/video-001.cmyk.jpeg" {
        // Go's reference converts CMYK naively; through the FOGRA39 profile (icc/) the same
        // picture has other colours: `vips icc_transform` with that profile is 21.28 from it.
        return Some(("jpeg/video-001.png", 23.0));
    }
    if file == "jpeg/video-001.progressive.truncated.jpeg" {
        // Rendered from the scans it has: the same picture, blurred.
        return Some(("jpeg/video-001.png", 16.0));
    }
    let photo = file.contains("video-001") && !file.contains("gray") && !file.ends_with(".png");
    let generated =
        file.starts_with("webp/gen-") && !file.contains("alpha") && !file.contains("animated");
    (photo || generated || file == "jpeg/gen-progressive-restart.jpg")
        .then_some(("jpeg/video-001.png", 8.0))
}

#[test]
fn every_corpus_file_renders_at_its_size_or_is_refused_clearly() {
    let p = preset("corpus", "width = 4096\nheight = 4096\nformat = \"png\"");
    let expect = expectations();
    let (mut rendered, mut refused, mut unsupported) = (0, 0, 0);
    let mut per_set: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    let mut files: Vec<_> = walk(&corpora())
        .into_iter()
        .filter(|f| {
            !matches!(
                f.extension().and_then(|e| e.to_str()),
                Some("tsv" | "md" | "scan" | "original")
            )
        })
        .collect();
    files.sort();
    for path in files {
        let file = path
            .strip_prefix(corpora())
            .expect("under corpora")
            .to_string_lossy()
            .into_owned();
        let set = file.split('/').next().unwrap_or_default().to_string();
        let want = expect
            .get(&file)
            .unwrap_or_else(|| panic!("{file} is not in expect.tsv"));
        let bytes = std::fs::read(&path).expect("read");
        let result = pipeline::render(&bytes, &p.spec, OutputFormat::Png, &Limits::default());
        let tally = per_set.entry(set).or_default();
        match (want, result) {
            (Expect::Size(w, h), Ok(out)) => {
                let size = &(*w, *h);
                assert_eq!(
                    (out.width, out.height),
                    *size,
                    "{file}: the size libvips reads"
                );
                let img = decode_rgb(&out.bytes);
                assert_eq!(img.dimensions(), *size, "{file}: the bytes say so too");
                if let Some((base, limit)) = reference(&file) {
                    let reference = decode_rgb(&std::fs::read(corpora().join(base)).expect("ref"));
                    let diff = mean_abs_diff(&img, &reference);
                    assert!(
                        diff <= limit,
                        "{file}: {diff:.2} from {base} (at most {limit})"
                    );
                }
                tally.0 += 1;
                rendered += 1;
            }
            (Expect::Refuse, Err(e)) => {
                assert_clear(&file, &e);
                tally.1 += 1;
                refused += 1;
            }
            (Expect::Unsupported, Err(e)) => {
                assert!(
                    matches!(e, PipelineError::UnsupportedFormat(_)),
                    "{file}: {e:?}"
                );
                assert_clear(&file, &e);
                tally.1 += 1;
                unsupported += 1;
            }
            (Expect::Size(..), Err(e)) => panic!("{file}: libvips reads it, we refused: {e}"),
            (_, Ok(out)) => panic!(
                "{file}: expected a refusal, rendered {}x{}",
                out.width, out.height
            ),
        }
    }
    eprintln!(
        "corpora: {rendered} rendered, {refused} refused as corrupt, {unsupported} unsupported; \
         by set (rendered, refused): {per_set:?}"
    );
    assert!(rendered >= 120, "the corpora are all there ({rendered})");
}

/// A refusal a person understands: one line, from the input, never a caught panic.
fn assert_clear(what: &str, e: &PipelineError) {
    let msg = e.to_string();
    assert!(
        !msg.contains('\n') && !msg.is_empty(),
        "{what}: one line: {msg:?}"
    );
    assert!(
        e.is_property_of_input(),
        "{what}: a property of the input, got {e:?}"
    );
    assert!(!matches!(e, PipelineError::Internal(_)), "{what}: {e:?}");
}

/// Replaces a chunk's data in a PNG and recomputes its CRC, so only the value is wrong.
fn with_ihdr(png: &[u8], edit: impl Fn(&mut [u8])) -> Vec<u8> {
    let mut out = png.to_vec();
    // Signature (8), length (4), type (4), then IHDR's 13 bytes and its CRC.
    edit(&mut out[16..29]);
    let mut crc = flate2::Crc::new();
    crc.update(&out[12..29]);
    out[29..33].copy_from_slice(&crc.sum().to_be_bytes());
    out
}

/// Finds the first chunk of `kind`: (offset of its length field, data length).
fn chunk(png: &[u8], kind: &[u8; 4]) -> (usize, usize) {
    let mut at = 8;
    while at + 8 <= png.len() {
        let len = u32::from_be_bytes(png[at..at + 4].try_into().expect("4 bytes")) as usize;
        if &png[at + 4..at + 8] == kind {
            return (at, len);
        }
        at += 12 + len;
    }
    panic!("no {kind:?} chunk")
}

#[test]
fn pngsuites_corrupt_files_get_one_line_each() {
    let good = std::fs::read(corpora().join("pngsuite/basn0g08.png")).expect("basn0g08");
    let sig = |i: usize, b: u8| {
        let mut v = good.clone();
        v[i] = b;
        v
    };
    let (idat, idat_len) = chunk(&good, b"IDAT");
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("xs1n0g01: signature byte 1 MSBit reset", sig(0, 0x09)),
        ("xs2n0g01: signature byte 2 is a 'Q'", sig(1, b'Q')),
        ("xs4n0g01: signature byte 4 lowercase", sig(3, b'g')),
        ("xs7n0g01: 7th byte a space, not control-Z", sig(6, b' ')),
        (
            "xcrn0g04: added CR bytes",
            [&good[..4], b"\r", &good[4..]].concat(),
        ),
        (
            "xlfn0g04: added LF bytes",
            [&good[..6], b"\n", &good[6..]].concat(),
        ),
        ("xc1n0g08: colour type 1", with_ihdr(&good, |h| h[9] = 1)),
        ("xc9n2c08: colour type 9", with_ihdr(&good, |h| h[9] = 9)),
        ("xd0n2c08: bit depth 0", with_ihdr(&good, |h| h[8] = 0)),
        ("xd3n2c08: bit depth 3", with_ihdr(&good, |h| h[8] = 3)),
        ("xd9n2c08: bit depth 99", with_ihdr(&good, |h| h[8] = 99)),
        ("xhdn0g08: incorrect IHDR checksum", {
            let mut v = good.clone();
            v[30] ^= 0xFF;
            v
        }),
        ("xcsn0g01: incorrect IDAT checksum", {
            let mut v = good.clone();
            v[idat + 8 + idat_len] ^= 0xFF;
            v
        }),
        ("xdtn0g01: missing IDAT chunk", {
            [&good[..idat], &good[idat + 12 + idat_len..]].concat()
        }),
    ];
    // A zero-sized image, which IHDR forbids.
    cases.push((
        "zero width",
        with_ihdr(&good, |h| h[..4].copy_from_slice(&[0; 4])),
    ));
    let p = shipped("thumb");
    for (what, bytes) in cases {
        match pipeline::render(&bytes, &p.spec, OutputFormat::Jpeg, &Limits::default()) {
            Err(e) => assert_clear(what, &e),
            Ok(out) => panic!("{what}: rendered {}x{}", out.width, out.height),
        }
    }
}
