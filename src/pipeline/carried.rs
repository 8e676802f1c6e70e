//! What a JPEG XL, SVG or PDF carries besides what is drawn: EXIF, XMP, ICC, comments and
//! document information, for `inspect` (no output carries any of it).

use super::formats::SourceFormat;

/// What such a file carries.
#[derive(Debug, Default)]
pub struct Carried {
    pub exif: Option<Vec<u8>>,
    pub icc: Option<Vec<u8>>,
    /// EXIF seen only compressed (a JPEG XL's `brob` box): present, not read.
    pub exif_compressed: bool,
    pub xmp: bool,
    /// Comments, titles, descriptions, document information.
    pub comment: bool,
}

/// What `data` carries.
pub fn metadata(data: &[u8], format: SourceFormat) -> Carried {
    let mut m = Carried::default();
    match format {
        SourceFormat::Jxl => jxl(data, &mut m),
        SourceFormat::Svg => {
            let has = |needle: &[u8]| data.windows(needle.len()).any(|w| w == needle);
            m.xmp = has(b"<metadata") || has(b"<rdf:RDF");
            m.comment = has(b"<!--") || has(b"<desc") || has(b"<title");
        }
        SourceFormat::Pdf => {
            let has = |needle: &[u8]| data.windows(needle.len()).any(|w| w == needle);
            m.xmp = has(b"<x:xmpmeta") || has(b"/Type/Metadata") || has(b"/Type /Metadata");
            m.comment = hayro::hayro_syntax::Pdf::new(data.to_vec()).is_ok_and(|pdf| {
                let info = pdf.metadata();
                [&info.title, &info.author, &info.subject, &info.keywords]
                    .iter()
                    .any(|f| f.is_some())
                    || info.creator.is_some()
                    || info.producer.is_some()
                    || info.creation_date.is_some()
            });
        }
        _ => {}
    }
    m
}

/// A JPEG XL container's `Exif` and `xml ` boxes (Brotli-compressed `brob` ones named by
/// their inner type), and the codestream's ICC profile.
fn jxl(data: &[u8], m: &mut Carried) {
    let mut at = 0usize;
    while data.len() >= at + 8 && data.starts_with(super::jxl::CONTAINER) {
        let size = u32::from_be_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]);
        let kind = &data[at + 4..at + 8];
        let (header, size) = match size {
            0 => (8, data.len() - at),
            1 => match data.get(at + 8..at + 16).and_then(|b| b.try_into().ok()) {
                Some(b) => (
                    16,
                    usize::try_from(u64::from_be_bytes(b)).unwrap_or(usize::MAX),
                ),
                None => break,
            },
            n => (8, n as usize),
        };
        if size < header {
            break;
        }
        let body = data
            .get(at + header..at.saturating_add(size))
            .unwrap_or_default();
        let inner = if kind == b"brob" {
            body.get(..4).unwrap_or_default()
        } else {
            kind
        };
        match inner {
            // A four-byte offset to the TIFF header comes first.
            b"Exif" if kind == b"Exif" => m.exif = body.get(4..).map(<[u8]>::to_vec),
            b"Exif" => m.exif_compressed = true,
            b"xml " => m.xmp = true,
            _ => {}
        }
        at = at.saturating_add(size);
    }
    m.icc = super::jxl::icc(data);
}
