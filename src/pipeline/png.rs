//! PNG metadata read with bounds: an `iCCP` chunk is zlib data, so a 97 KB file can carry a
//! profile that inflates to 100 MB. The decoder would inflate it whole; thumbkit inflates it
//! itself up to [`MAX_ICC_BYTES`] and hands the decoder a copy without any metadata chunk.

use std::io::Read;

/// The largest ICC profile thumbkit reads (real profiles are a few KB, the largest common
/// ones under 1 MB); a larger one is ignored and the image read as sRGB.
pub const MAX_ICC_BYTES: usize = 4 << 20;

/// Chunks the decoder never needs: the profile (read here, bounded) and text, which may be
/// compressed too.
const DROPPED: [&[u8; 4]; 4] = [b"iCCP", b"tEXt", b"zTXt", b"iTXt"];

/// A chunk: its type, its body, and where the whole chunk (length to CRC) lies.
pub struct Chunk<'a> {
    pub kind: &'a [u8; 4],
    pub body: &'a [u8],
    span: std::ops::Range<usize>,
}

/// The chunks of a PNG; stops quietly at the first malformed chunk.
pub fn chunks(data: &[u8]) -> Vec<Chunk<'_>> {
    let mut out = Vec::new();
    let mut pos = 8;
    while pos + 12 <= data.len() {
        let len =
            u32::from_be_bytes([data[pos], data[pos + 1], data[pos + 2], data[pos + 3]]) as usize;
        let Some(end) = (pos + 8).checked_add(len).filter(|e| e + 4 <= data.len()) else {
            break;
        };
        let Ok(kind) = <&[u8; 4]>::try_from(&data[pos + 4..pos + 8]) else {
            break;
        };
        out.push(Chunk {
            kind,
            body: &data[pos + 8..end],
            span: pos..end + 4,
        });
        pos = end + 4;
    }
    out
}

/// The profile inside an `iCCP` chunk body (name, NUL, method, zlib data), or `None` when it
/// is malformed or inflates past [`MAX_ICC_BYTES`].
pub fn iccp_profile(body: &[u8]) -> Option<Vec<u8>> {
    let nul = body.iter().position(|b| *b == 0)?;
    let compressed = body.get(nul + 2..)?;
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(compressed)
        .take(MAX_ICC_BYTES as u64 + 1)
        .read_to_end(&mut out)
        .ok()?;
    (out.len() <= MAX_ICC_BYTES).then_some(out)
}

/// The PNG's ICC profile (bounded) and, when it has metadata chunks, a copy without them for
/// the decoder.
pub fn for_decoder(data: &[u8]) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    let all = chunks(data);
    let icc = all
        .iter()
        .find(|c| c.kind == b"iCCP")
        .and_then(|c| iccp_profile(c.body));
    if !all.iter().any(|c| DROPPED.contains(&c.kind)) {
        return (icc, None);
    }
    let mut copy = Vec::with_capacity(data.len());
    copy.extend_from_slice(&data[..8]);
    let mut end = 8;
    for c in &all {
        if !DROPPED.contains(&c.kind) {
            copy.extend_from_slice(&data[c.span.clone()]);
        }
        end = c.span.end;
    }
    // Whatever follows the last whole chunk (a truncated one) stays, so truncation is still
    // reported as such.
    copy.extend_from_slice(&data[end..]);
    (icc, Some(copy))
}

/// A chunk as it is written in a file: length, type, body, CRC (for building test files).
pub fn chunk(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut crc = flate2::Crc::new();
    crc.update(kind);
    crc.update(body);
    let len = u32::try_from(body.len()).unwrap_or(u32::MAX);
    let mut out = len.to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(body);
    out.extend_from_slice(&crc.sum().to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zlib(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(bytes).unwrap();
        z.finish().unwrap()
    }

    #[test]
    fn a_profile_that_inflates_past_the_cap_is_ignored_and_dropped() {
        let mut body = b"bomb\0\0".to_vec();
        body.extend(zlib(&vec![0u8; 64 << 20]));
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend(chunk(b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0]));
        png.extend(chunk(b"iCCP", &body));
        png.extend(chunk(b"tEXt", b"Comment\0hello"));
        png.extend(chunk(b"IEND", b""));
        let (icc, copy) = for_decoder(&png);
        assert!(icc.is_none());
        let copy = copy.expect("a copy without metadata");
        let kinds: Vec<_> = chunks(&copy).iter().map(|c| *c.kind).collect();
        assert_eq!(kinds, [*b"IHDR", *b"IEND"]);
        let mut small = b"p\0\0".to_vec();
        small.extend(zlib(&[7u8; 3000]));
        assert_eq!(iccp_profile(&small).map(|p| p.len()), Some(3000));
    }
}
