//! Hostile files made on the spot, a few lines each: decompression and dimension bombs in
//! every format read, marker and frame floods, looping IFDs, and text posing as images.

use std::io::Write;

use thumbkit::pipeline::png::chunk;

/// One hostile file: its name (with the extension a client would give it) and its bytes.
pub struct Bomb {
    pub name: &'static str,
    pub bytes: Vec<u8>,
}

fn small_rgb() -> image::RgbImage {
    image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8 * 4, y as u8 * 5, 90]))
}

pub(super) fn encoded(format: image::ImageFormat) -> Vec<u8> {
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(small_rgb())
        .write_to(&mut std::io::Cursor::new(&mut out), format)
        .expect("encode");
    out
}

fn small_jpeg() -> Vec<u8> {
    let img = small_rgb();
    let image = turbojpeg::Image {
        pixels: img.as_raw().as_slice(),
        width: 64,
        pitch: 64 * 3,
        height: 48,
        format: turbojpeg::PixelFormat::RGB,
    };
    turbojpeg::compress(image, 90, turbojpeg::Subsamp::Sub2x2)
        .expect("jpeg")
        .to_vec()
}

/// zlib of `mib` MiB of zeros: about a thousandth of that on the wire.
fn zlib_of_zeros(mib: usize) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..mib {
        z.write_all(&zeros).expect("deflate");
    }
    z.finish().expect("deflate")
}

/// A PNG with `extra` chunks after IHDR, and IHDR's size set to `w`x`h`.
pub fn png_with(w: u32, h: u32, extra: &[Vec<u8>]) -> Vec<u8> {
    let plain = encoded(image::ImageFormat::Png);
    let mut ihdr = plain[16..29].to_vec();
    ihdr[..4].copy_from_slice(&w.to_be_bytes());
    ihdr[4..8].copy_from_slice(&h.to_be_bytes());
    let mut out = plain[..8].to_vec();
    out.extend(chunk(b"IHDR", &ihdr));
    for c in extra {
        out.extend_from_slice(c);
    }
    out.extend_from_slice(&plain[33..]);
    out
}

/// A grey PNG of `w`x`h` zeros: a real image, within the pixel limit, from a few KB.
fn png_of_zeros(w: u32, h: u32) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    let row = vec![0u8; w as usize + 1]; // filter byte + samples
    for _ in 0..h {
        z.write_all(&row).expect("deflate");
    }
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([8, 0, 0, 0, 0]); // 8-bit grey
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend(chunk(b"IHDR", &ihdr));
    out.extend(chunk(b"IDAT", &z.finish().expect("deflate")));
    out.extend(chunk(b"IEND", b""));
    out
}

/// A GIF by hand: a `sw`x`sh` screen with a 2-colour table, and one frame declaring `fw`x`fh`
/// whose data is a single pixel.
fn gif_declaring(sw: u16, sh: u16, fw: u16, fh: u16) -> Vec<u8> {
    let mut g = b"GIF89a".to_vec();
    g.extend(sw.to_le_bytes());
    g.extend(sh.to_le_bytes());
    g.extend([0x80, 0, 0, 0, 0, 0, 255, 255, 255]);
    g.extend([0x2C, 0, 0, 0, 0]);
    g.extend(fw.to_le_bytes());
    g.extend(fh.to_le_bytes());
    g.extend([0, 2, 2, 0x4C, 0x01, 0, 0x3B]);
    g
}

/// An animated GIF of `frames` 1x1 frames on a 64x64 screen.
fn gif_of_frames(frames: usize) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = gif::Encoder::new(&mut out, 64, 64, &[0, 0, 0, 255, 255, 255]).expect("gif");
        for i in 0..frames {
            let mut f = gif::Frame::from_indexed_pixels(1, 1, vec![(i % 2) as u8], None);
            f.left = (i % 64) as u16;
            f.top = (i / 64 % 64) as u16;
            f.delay = 1;
            enc.write_frame(&f).expect("frame");
        }
    }
    out
}

/// A RIFF WebP of the given chunks, its size fields right.
fn riff(chunks: &[(&[u8; 4], Vec<u8>)]) -> Vec<u8> {
    let mut body = b"WEBP".to_vec();
    for (kind, data) in chunks {
        body.extend_from_slice(*kind);
        body.extend((data.len() as u32).to_le_bytes());
        body.extend_from_slice(data);
        if data.len() % 2 == 1 {
            body.push(0);
        }
    }
    let mut out = b"RIFF".to_vec();
    out.extend((body.len() as u32).to_le_bytes());
    out.extend(body);
    out
}

/// The VP8L chunk's payload of a real lossless WebP of the small image.
fn vp8l_payload() -> Vec<u8> {
    let webp = encoded(image::ImageFormat::WebP);
    assert_eq!(&webp[12..16], b"VP8L", "image writes simple lossless WebP");
    let len = u32::from_le_bytes(webp[16..20].try_into().expect("4 bytes")) as usize;
    webp[20..20 + len].to_vec()
}

/// A little-endian TIFF of the small image with IFD0 edited by `edit(ifd_offset, bytes)`.
pub(super) fn tiff_edited(edit: impl Fn(usize, &mut Vec<u8>)) -> Vec<u8> {
    let mut t = encoded(image::ImageFormat::Tiff);
    assert_eq!(&t[..2], b"II");
    let ifd = u32::from_le_bytes(t[4..8].try_into().expect("4 bytes")) as usize;
    edit(ifd, &mut t);
    t
}

/// Sets a TIFF tag's (SHORT or LONG, one value) value in IFD0.
pub(super) fn set_tag(t: &mut [u8], ifd: usize, tag: u16, value: u32) {
    let n = u16::from_le_bytes([t[ifd], t[ifd + 1]]) as usize;
    for e in 0..n {
        let at = ifd + 2 + e * 12;
        if u16::from_le_bytes([t[at], t[at + 1]]) == tag {
            let kind = u16::from_le_bytes([t[at + 2], t[at + 3]]);
            let v = if kind == 3 { value.min(65535) } else { value };
            t[at + 8..at + 12].copy_from_slice(&v.to_le_bytes());
        }
    }
}

/// A JPEG with `segments` inserted after SOI.
fn jpeg_with(segments: &[u8]) -> Vec<u8> {
    let j = small_jpeg();
    [&j[..2], segments, &j[2..]].concat()
}

/// EXIF whose IFD0 points back at itself and declares a 4-billion-byte string.
fn looping_exif() -> Vec<u8> {
    let mut tiff = b"II*\0\x08\0\0\0".to_vec();
    tiff.extend(2u16.to_le_bytes());
    tiff.extend([0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0]); // Orientation = 6
    tiff.extend([0x0F, 0x01, 2, 0, 0xF0, 0xFF, 0xFF, 0xFF, 8, 0, 0, 0]); // Make, 4 GB
    tiff.extend(8u32.to_le_bytes()); // next IFD: itself
    let mut body = b"Exif\0\0".to_vec();
    body.extend(tiff);
    let mut seg = vec![0xFF, 0xE1];
    seg.extend(((body.len() + 2) as u16).to_be_bytes());
    seg.extend(body);
    seg
}

/// Every bomb, each a few hundred KB at most.
pub fn all() -> Vec<Bomb> {
    let zeros = zlib_of_zeros(512);
    let mut ztxt = b"Comment\0\0".to_vec();
    ztxt.extend_from_slice(&zeros);
    let mut itxt = b"Comment\0\x01\0\0\0".to_vec();
    itxt.extend_from_slice(&zeros);
    let mut iccp = b"bomb\0\0".to_vec();
    iccp.extend_from_slice(&zeros);
    let jpeg = small_jpeg();
    let sof = jpeg
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .expect("SOF0");
    let mut huge_jpeg = jpeg.clone();
    huge_jpeg[sof + 5..sof + 9].copy_from_slice(&[0xFF, 0xDC, 0xFF, 0xDC]); // 65500x65500
    let mut vp8x = vec![0u8; 10];
    vp8x[4..7].copy_from_slice(&[0xFF, 0xFF, 0xFF]); // canvas 16777216 wide
    vp8x[7..10].copy_from_slice(&[0xFF, 0xFF, 0xFF]); // and high
    let mut vp8l_huge = vp8l_payload();
    // 14-bit width-1 and height-1 after the 0x2f signature: 16384x16384.
    vp8l_huge[1..5].copy_from_slice(&[0xFF, 0xFF, 0xFF, 0x0F]);
    let comments: Vec<u8> = (0..50_000).flat_map(|_| [0xFF, 0xFE, 0, 3, b'x']).collect();
    let mut all = vec![
        Bomb {
            name: "ihdr-1000000x1000000.png",
            bytes: png_with(1_000_000, 1_000_000, &[]),
        },
        Bomb {
            name: "ztxt-512mib.png",
            bytes: png_with(64, 48, &[chunk(b"zTXt", &ztxt)]),
        },
        Bomb {
            name: "itxt-512mib.png",
            bytes: png_with(64, 48, &[chunk(b"iTXt", &itxt)]),
        },
        Bomb {
            name: "iccp-512mib.png",
            bytes: png_with(64, 48, &[chunk(b"iCCP", &iccp)]),
        },
        Bomb {
            name: "idat-7000x7000-zeros.png",
            bytes: png_of_zeros(7000, 7000),
        },
        Bomb {
            name: "screen-65535x65535.gif",
            bytes: gif_declaring(65535, 65535, 1, 1),
        },
        Bomb {
            name: "frame-65535x65535.gif",
            bytes: gif_declaring(16, 16, 65535, 65535),
        },
        Bomb {
            name: "frames-30000.gif",
            bytes: gif_of_frames(30_000),
        },
        Bomb {
            name: "vp8x-canvas-16777216.webp",
            bytes: riff(&[(b"VP8X", vp8x), (b"VP8L", vp8l_payload())]),
        },
        Bomb {
            name: "vp8l-16384x16384.webp",
            bytes: riff(&[(b"VP8L", vp8l_huge)]),
        },
        Bomb {
            name: "tiff-1000000x1000000.tiff",
            bytes: tiff_edited(|ifd, t| {
                set_tag(t, ifd, 256, 1_000_000);
                set_tag(t, ifd, 257, 1_000_000);
            }),
        },
        Bomb {
            name: "tiff-ifd-loop.tiff",
            bytes: tiff_edited(|ifd, t| {
                let n = u16::from_le_bytes([t[ifd], t[ifd + 1]]) as usize;
                let next = ifd + 2 + n * 12;
                t[next..next + 4].copy_from_slice(&(ifd as u32).to_le_bytes());
            }),
        },
        Bomb {
            name: "sof-65500x65500.jpg",
            bytes: huge_jpeg,
        },
        Bomb {
            name: "comments-50000.jpg",
            bytes: jpeg_with(&comments),
        },
        Bomb {
            name: "scans-20000.jpg",
            bytes: many_scans(20_000),
        },
        Bomb {
            name: "exif-loop.jpg",
            bytes: jpeg_with(&looping_exif()),
        },
        Bomb {
            name: "html.png",
            bytes: b"<!DOCTYPE html><html><body><img src=x onerror=alert(1)></body></html>"
                .to_vec(),
        },
    ];
    all.extend(super::documents::pdfs());
    all.extend(super::documents::svgs());
    all.extend(super::documents::jxls());
    all
}

/// A progressive JPEG from the corpora whose smallest scan (with the tables before the next)
/// is repeated `n` times: libjpeg-turbo's scan limit, or its check of the progression, is
/// what stops the work.
fn many_scans(n: usize) -> Vec<u8> {
    let path = crate::helpers::fixtures::fixtures()
        .join("corpora/jpeg/video-001.q50.420.progressive.jpeg");
    let p = std::fs::read(path).expect("progressive corpus file");
    let eoi = p.len() - 2;
    let mut starts: Vec<usize> = (0..eoi).filter(|&i| p[i..i + 2] == [0xFF, 0xDA]).collect();
    starts.push(eoi);
    let scan = starts
        .windows(2)
        .map(|w| &p[w[0]..w[1]])
        .min_by_key(|s| s.len())
        .expect("a scan");
    let mut out = p[..eoi].to_vec();
    for _ in 0..n {
        out.extend_from_slice(scan);
    }
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}
