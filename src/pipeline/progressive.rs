//! Progressive JPEGs at 1/8 scale without their AC scans.
//!
//! At 1/8 scale libjpeg's 1x1 IDCT reads only each block's DC coefficient, yet it still
//! entropy-decodes every scan of a progressive file, and the AC scans are most of its bytes
//! (a 12 MP photo renders `thumb` ~5x slower progressive than baseline). [`dc_only`] rewrites
//! the stream for that decode: every marker segment and the DC scans (first pass and
//! refinements) as they are, and in place of each component's AC scans one tiny scan that
//! says "every AC coefficient is zero" with end-of-band runs.
//!
//! Why not just drop the AC scans: libjpeg smooths blocks whose first AC coefficients are
//! still unknown (and, in libjpeg-turbo >= 2.1, their DC too), which would change the pixels.
//! Coefficients declared zero are known, so no smoothing runs, and full-resolution
//! components (luma) get exactly the pixels of the whole file decoded at 1/8. Subsampled
//! chroma is decoded by libjpeg with a larger IDCT (2x2 for 4:2:0) that would read AC
//! coefficients; from DC alone each chroma block becomes its average. That costs 0.00-0.08 dB
//! on a `thumb` of the fixtures' 9-12 MP camera photos and halves the time of the Olympus
//! one (its chroma AC refinement scans were the slowest part): docs/benchmarks.md.

/// Longest end-of-band run one code can say (EOB14: 2^14 + 14 bits).
const MAX_EOB_RUN: u32 = 32_767;

/// One component of the frame: its id and sampling factors.
#[derive(Debug, Clone, Copy)]
struct Component {
    id: u8,
    h: u8,
    v: u8,
}

/// The frame header of a Huffman-coded progressive JPEG (SOF2).
#[derive(Debug)]
struct Frame {
    width: u32,
    height: u32,
    components: Vec<Component>,
}

impl Frame {
    fn parse(body: &[u8]) -> Option<Self> {
        let height = u32::from(u16::from_be_bytes([*body.get(1)?, *body.get(2)?]));
        let width = u32::from(u16::from_be_bytes([*body.get(3)?, *body.get(4)?]));
        let count = usize::from(*body.get(5)?);
        let components = (0..count)
            .map(|i| {
                let spec = body.get(6 + 3 * i..9 + 3 * i)?;
                Some(Component {
                    id: spec[0],
                    h: spec[1] >> 4,
                    v: spec[1] & 0x0F,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        let valid = width > 0
            && height > 0
            && !components.is_empty()
            && components
                .iter()
                .all(|c| (1..=4).contains(&c.h) && (1..=4).contains(&c.v));
        valid.then_some(Self {
            width,
            height,
            components,
        })
    }

    /// Blocks of `c` in a non-interleaved scan: its own size in 8x8 blocks.
    fn blocks(&self, c: Component) -> u32 {
        let h_max = u32::from(self.components.iter().map(|c| c.h).max().unwrap_or(1));
        let v_max = u32::from(self.components.iter().map(|c| c.v).max().unwrap_or(1));
        let w = (self.width * u32::from(c.h)).div_ceil(h_max);
        let h = (self.height * u32::from(c.v)).div_ceil(v_max);
        w.div_ceil(8) * h.div_ceil(8)
    }
}

/// The stream a 1/8-scale decode needs, or `None` when rewriting would not help or is not
/// safe: not a Huffman progressive JPEG, restart intervals, no AC scan to drop, or anything
/// unexpected in its structure (the decoder then gets the file as it is).
pub fn dc_only(data: &[u8]) -> Option<Vec<u8>> {
    if !data.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut out = Vec::with_capacity(data.len() / 4);
    out.extend_from_slice(&data[..2]);
    let mut frame = None;
    // Components whose AC scans were left out.
    let mut dropped = std::collections::BTreeSet::new();
    let mut pos = 2;
    loop {
        // Fill bytes may precede a marker.
        while data.get(pos) == Some(&0xFF) && data.get(pos + 1) == Some(&0xFF) {
            pos += 1;
        }
        if data.get(pos) != Some(&0xFF) {
            return None;
        }
        let marker = *data.get(pos + 1)?;
        if marker == 0xD9 {
            break;
        }
        let len = usize::from(u16::from_be_bytes([
            *data.get(pos + 2)?,
            *data.get(pos + 3)?,
        ]));
        let segment = data.get(pos..pos + 2 + len)?;
        let body = segment.get(4..)?;
        pos += 2 + len;
        match marker {
            0xC2 => frame = Some(Frame::parse(body)?),
            // Any other frame type (baseline, arithmetic, lossless): nothing to gain here.
            0xC0 | 0xC1 | 0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => return None,
            // Restart markers would have to be kept in step with the runs written below.
            0xDD if body.get(..2)? != [0, 0] => return None,
            _ => {}
        }
        if marker != 0xDA {
            out.extend_from_slice(segment);
            continue;
        }
        let scan_end = pos + entropy_len(&data[pos..]);
        let ns = usize::from(*body.first()?);
        let ss = *body.get(1 + 2 * ns)?;
        // An AC scan has one component.
        let drop = ss != 0 && ns == 1 && frame.is_some();
        if drop {
            dropped.insert(*body.get(1)?);
        } else {
            out.extend_from_slice(segment);
            out.extend_from_slice(&data[pos..scan_end]);
        }
        pos = scan_end;
    }
    let frame = frame?;
    if dropped.is_empty() {
        return None;
    }
    out.extend_from_slice(&EOB_TABLE);
    for &c in frame.components.iter().filter(|c| dropped.contains(&c.id)) {
        write_zero_ac_scan(&mut out, c, frame.blocks(c));
    }
    out.extend_from_slice(&[0xFF, 0xD9]);
    Some(out)
}

/// Bytes of entropy-coded data at the start of `data`: up to the next marker that is not a
/// stuffed 0xFF or a restart marker.
fn entropy_len(data: &[u8]) -> usize {
    let mut i = 0;
    while i + 1 < data.len() {
        if data[i] == 0xFF && data[i + 1] != 0 && !(0xD0..=0xD7).contains(&data[i + 1]) {
            return i;
        }
        i += 1;
    }
    data.len()
}

/// A DHT segment defining AC table 0 with the fifteen end-of-band symbols (EOB0..EOB14,
/// `r << 4`), each a 4-bit code in symbol order: symbol `r` is the code `r`.
const EOB_TABLE: [u8; 36] = [
    0xFF, 0xC4, 0x00, 0x22, // DHT, length 34
    0x10, // class 1 (AC), table 0
    0, 0, 0, 15, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // 15 codes of length 4
    0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xA0, 0xB0, 0xC0, 0xD0, 0xE0,
];

/// A first AC scan of `c` over coefficients 1-63 at full precision in which every one of its
/// `blocks` blocks ends at once (end-of-band runs).
fn write_zero_ac_scan(out: &mut Vec<u8>, c: Component, blocks: u32) {
    // SOS, length 8, one component using AC table 0, Ss=1, Se=63, Ah=Al=0.
    out.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x08, 0x01, c.id, 0x00, 0x01, 0x3F, 0x00]);
    let mut bits = BitWriter::default();
    let mut left = blocks;
    while left > 0 {
        let run = left.min(MAX_EOB_RUN);
        let r = 31 - run.leading_zeros(); // floor(log2(run)), 0..=14
        bits.put(r, 4);
        bits.put(run - (1 << r), r);
        left -= run;
    }
    bits.finish(out);
}

/// Writes bits most significant first, stuffing a zero byte after every 0xFF.
#[derive(Default)]
struct BitWriter {
    bytes: Vec<u8>,
    acc: u32,
    len: u32,
}

impl BitWriter {
    fn put(&mut self, value: u32, count: u32) {
        for i in (0..count).rev() {
            self.acc = (self.acc << 1) | ((value >> i) & 1);
            self.len += 1;
            if self.len == 8 {
                self.push();
            }
        }
    }

    fn push(&mut self) {
        let byte = (self.acc & 0xFF) as u8;
        self.bytes.push(byte);
        if byte == 0xFF {
            self.bytes.push(0);
        }
        self.acc = 0;
        self.len = 0;
    }

    /// Pads the last byte with 1 bits, as JPEG asks, and appends everything to `out`.
    fn finish(mut self, out: &mut Vec<u8>) {
        while self.len != 0 {
            self.acc = (self.acc << 1) | 1;
            self.len += 1;
            if self.len == 8 {
                self.push();
            }
        }
        out.extend_from_slice(&self.bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::jpeg::{self, Scans};

    /// A fixture's pixels, decoded whole.
    fn pixels(name: &str) -> (Vec<u8>, u32, u32) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join(name);
        let data = std::fs::read(path).unwrap();
        let header = jpeg::header(&data).unwrap();
        let px = jpeg::decode_scaled(&data, &header, 1, u64::MAX, Scans::All).unwrap();
        assert_eq!(px.channels, 3);
        (px.data, px.width, px.height)
    }

    fn progressive(rgb: &[u8], w: u32, h: u32, subsamp: turbojpeg::Subsamp, gray: bool) -> Vec<u8> {
        let mut c = turbojpeg::Compressor::new().unwrap();
        c.set_quality(90).unwrap();
        c.set_subsamp(subsamp).unwrap();
        c.set_progressive(true).unwrap();
        let luma: Vec<u8>;
        let image = if gray {
            luma = rgb.chunks(3).map(|p| p[1]).collect();
            turbojpeg::Image {
                pixels: &luma[..],
                width: w as usize,
                pitch: w as usize,
                height: h as usize,
                format: turbojpeg::PixelFormat::GRAY,
            }
        } else {
            turbojpeg::Image {
                pixels: rgb,
                width: w as usize,
                pitch: 3 * w as usize,
                height: h as usize,
                format: turbojpeg::PixelFormat::RGB,
            }
        };
        c.compress_to_vec(image).unwrap()
    }

    /// Entropy-coded bytes in the AC scans (Ss > 0) of a stream.
    fn ac_bytes(data: &[u8]) -> usize {
        let (mut pos, mut total) = (2, 0);
        while pos + 4 <= data.len() && data[pos + 1] != 0xD9 {
            let len = usize::from(u16::from_be_bytes([data[pos + 2], data[pos + 3]]));
            let body = &data[pos + 4..pos + 2 + len];
            pos += 2 + len;
            if data[pos - 2 - len + 1] == 0xDA {
                let scan = entropy_len(&data[pos..]);
                if body[1 + 2 * usize::from(body[0])] != 0 {
                    total += scan;
                }
                pos += scan;
            }
        }
        total
    }

    #[test]
    fn the_dc_scans_give_the_pixels_of_the_whole_file_at_one_eighth() {
        use turbojpeg::Subsamp;
        // Whether every pixel is the whole file's: yes without subsampled chroma, else the
        // luma is and each chroma block is its average (close, not equal).
        let cases = [
            ("DSCN0010.jpg", Subsamp::Sub2x2, false, false),
            ("2569067123_aca715a2ee_o.jpg", Subsamp::Sub2x1, false, false),
            ("IMG_9424.JPG", Subsamp::None, false, true),
            ("Landscape_6.jpg", Subsamp::Sub2x2, false, false),
            ("DSCN0010.jpg", Subsamp::Gray, true, true),
        ];
        for (name, subsamp, gray, exact) in cases {
            let (rgb, w, h) = pixels(name);
            // An odd size too: partial blocks and MCUs at the right and bottom edges.
            for (w2, h2) in [(w, h), (w - 13, h - 7)] {
                let cropped: Vec<u8> = (0..h2 as usize)
                    .flat_map(|y| rgb[y * 3 * w as usize..][..3 * w2 as usize].to_vec())
                    .collect();
                let file = progressive(&cropped, w2, h2, subsamp, gray);
                let dc = dc_only(&file).expect("a progressive file with AC scans");
                assert!(
                    dc.len() * 3 < file.len(),
                    "{name}: {} of {} bytes",
                    dc.len(),
                    file.len()
                );
                assert!(ac_bytes(&dc) < 64, "{name}: an AC scan was kept");
                let header = jpeg::header(&file).unwrap();
                let whole = jpeg::decode_scaled(&file, &header, 8, u64::MAX, Scans::All).unwrap();
                let fast = jpeg::decode_scaled(&file, &header, 8, u64::MAX, Scans::Needed).unwrap();
                let only_dc = jpeg::decode_scaled(&dc, &header, 8, u64::MAX, Scans::All).unwrap();
                assert_eq!(
                    (fast.width, fast.height),
                    (whole.width, whole.height),
                    "{name}"
                );
                assert!(fast.data == only_dc.data, "{name}: not the DC stream's");
                let db = crate::bench::psnr(&whole.data, &only_dc.data);
                if exact {
                    assert!(db.is_infinite(), "{name} {w2}x{h2} {subsamp:?}: {db:.2} dB");
                } else {
                    // At 1/8 itself (before any resize) 4:2:0 chroma is 2x2 output pixels
                    // per block: 32.3 dB on DSCN0010, 4:2:2 happens to be exact.
                    assert!(db > 30.0, "{name} {w2}x{h2} {subsamp:?}: {db:.2} dB");
                }
            }
        }
    }

    /// A progressive file from a camera's own software, not made by libjpeg-turbo.
    #[test]
    fn a_real_progressive_file_gives_the_same_pixels() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let file = std::fs::read(path.join("32-lens_data.jpeg")).unwrap();
        let header = jpeg::header(&file).unwrap();
        let Some(dc) = dc_only(&file) else {
            panic!("32-lens_data.jpeg is progressive with AC scans");
        };
        assert!(dc.len() < file.len());
        let whole = jpeg::decode_scaled(&file, &header, 8, u64::MAX, Scans::All).unwrap();
        let fast = jpeg::decode_scaled(&file, &header, 8, u64::MAX, Scans::Needed).unwrap();
        assert!(fast.data == whole.data, "pixels differ");
    }

    #[test]
    fn other_files_are_left_alone() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let baseline = std::fs::read(path.join("DSCN0010.jpg")).unwrap();
        assert!(dc_only(&baseline).is_none(), "baseline");
        assert!(dc_only(b"not a jpeg").is_none());
        assert!(dc_only(&[0xFF, 0xD8, 0xFF]).is_none());
        let truncated = std::fs::read(path.join("truncated.jpg")).unwrap();
        let _ = dc_only(&truncated);
    }
}
