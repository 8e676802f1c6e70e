//! The boxes of an ISO media file (HEIF, AVIF), walked without a decoder: the brands, the
//! item types (`Exif`, XMP as `mime`) and the colour properties, so that `inspect` and the
//! tests can say what an AVIF or HEIC carries from its structure alone.

/// One box: its four-character type and its body.
#[derive(Debug, Clone, Copy)]
pub struct Bmff<'a> {
    pub kind: [u8; 4],
    pub body: &'a [u8],
}

/// The boxes laid end to end in `data` (a file, or a container box's body).
pub fn boxes(data: &[u8]) -> Vec<Bmff<'_>> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos + 8 <= data.len() {
        let size32 = u32::from_be_bytes([data[pos], data[pos + 1], data[pos + 2], data[pos + 3]]);
        let kind = [data[pos + 4], data[pos + 5], data[pos + 6], data[pos + 7]];
        let (header, size) = match size32 {
            // To the end of the enclosing data.
            0 => (8, data.len() - pos),
            1 => {
                let Some(large) = data.get(pos + 8..pos + 16) else {
                    break;
                };
                let mut b = [0u8; 8];
                b.copy_from_slice(large);
                (
                    16,
                    usize::try_from(u64::from_be_bytes(b)).unwrap_or(usize::MAX),
                )
            }
            n => (8, n as usize),
        };
        let Some(end) = pos
            .checked_add(size)
            .filter(|e| *e <= data.len() && size >= header)
        else {
            break;
        };
        out.push(Bmff {
            kind,
            body: &data[pos + header..end],
        });
        pos = end;
    }
    out
}

/// The children of the first box of type `kind` among `within` (skipping a full box's
/// version and flags when `full`).
fn children<'a>(within: &[Bmff<'a>], kind: &[u8; 4], full: bool) -> Vec<Bmff<'a>> {
    within
        .iter()
        .find(|b| &b.kind == kind)
        .and_then(|b| b.body.get(if full { 4 } else { 0 }..))
        .map(boxes)
        .unwrap_or_default()
}

/// What an ISO media file's structure says it carries.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Carried {
    /// The major brand and the compatible ones (`ftyp`).
    pub brands: Vec<[u8; 4]>,
    /// The item types, e.g. `av01`, `hvc1`, `grid`, `Exif`, `mime`.
    pub item_types: Vec<[u8; 4]>,
    /// The content types of `mime` items (XMP is `application/rdf+xml`).
    pub mime_types: Vec<String>,
    /// The `colr` properties' types: `nclx` (colour primaries and transfer, no profile),
    /// `prof` or `rICC` (an ICC profile).
    pub colours: Vec<[u8; 4]>,
}

impl Carried {
    /// An EXIF item.
    pub fn exif(&self) -> bool {
        self.item_types.iter().any(|t| t == b"Exif")
    }

    /// An XMP packet.
    pub fn xmp(&self) -> bool {
        self.mime_types.iter().any(|m| m.contains("rdf+xml"))
    }

    /// IPTC data (as a `mime` item).
    pub fn iptc(&self) -> bool {
        self.mime_types.iter().any(|m| m.contains("iptc"))
    }

    /// An ICC profile.
    pub fn icc(&self) -> bool {
        self.colours.iter().any(|c| c == b"prof" || c == b"rICC")
    }
}

/// Walks `ftyp` and `meta` (its `iinf` items and `iprp/ipco` properties).
pub fn carried(data: &[u8]) -> Carried {
    let top = boxes(data);
    let mut out = Carried::default();
    if let Some(ftyp) = top.iter().find(|b| &b.kind == b"ftyp") {
        let brands = ftyp.body.chunks_exact(4).enumerate();
        // Major brand, minor version (skipped), then the compatible brands.
        out.brands = brands
            .filter(|(i, _)| *i != 1)
            .filter_map(|(_, c)| <[u8; 4]>::try_from(c).ok())
            .collect();
    }
    let meta = children(&top, b"meta", true);
    if let Some(iinf) = meta.iter().find(|b| &b.kind == b"iinf") {
        let version = iinf.body.first().copied().unwrap_or(0);
        let skip = if version == 0 { 6 } else { 8 };
        for infe in boxes(iinf.body.get(skip..).unwrap_or_default()) {
            if &infe.kind != b"infe" {
                continue;
            }
            let b = infe.body;
            let v = b.first().copied().unwrap_or(0);
            // version 2: u16 item_ID, version 3: u32; then u16 protection index, the type.
            let at = match v {
                2 => 4 + 2 + 2,
                3 => 4 + 4 + 2,
                _ => continue,
            };
            let Some(kind) = b.get(at..at + 4).and_then(|k| <[u8; 4]>::try_from(k).ok()) else {
                continue;
            };
            out.item_types.push(kind);
            if &kind == b"mime" {
                // item_name (NUL-terminated), then content_type.
                let rest = b.get(at + 4..).unwrap_or_default();
                let mut parts = rest.split(|c| *c == 0);
                let _name = parts.next();
                if let Some(ct) = parts.next() {
                    out.mime_types
                        .push(String::from_utf8_lossy(ct).into_owned());
                }
            }
        }
    }
    let ipco = children(&children(&meta, b"iprp", false), b"ipco", false);
    for property in ipco.iter().filter(|b| &b.kind == b"colr") {
        if let Some(kind) = property
            .body
            .get(..4)
            .and_then(|k| <[u8; 4]>::try_from(k).ok())
        {
            out.colours.push(kind);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bx(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut v = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn finds_items_and_colour_properties() {
        let mut infe_exif = vec![2, 0, 0, 0, 0, 1, 0, 0];
        infe_exif.extend_from_slice(b"Exif\0");
        let mut infe_xmp = vec![2, 0, 0, 0, 0, 2, 0, 0];
        infe_xmp.extend_from_slice(b"mime\0application/rdf+xml\0");
        let mut iinf = vec![0, 0, 0, 0, 0, 2];
        iinf.extend(bx(b"infe", &infe_exif));
        iinf.extend(bx(b"infe", &infe_xmp));
        let ipco = bx(
            b"ipco",
            &[bx(b"colr", b"prof...."), bx(b"colr", b"nclx....")].concat(),
        );
        let mut meta = vec![0, 0, 0, 0];
        meta.extend(bx(b"iinf", &iinf));
        meta.extend(bx(b"iprp", &ipco));
        let file = [bx(b"ftyp", b"avif\0\0\0\0mif1avif"), bx(b"meta", &meta)].concat();
        let c = carried(&file);
        assert_eq!(c.brands, vec![*b"avif", *b"mif1", *b"avif"]);
        assert!(c.exif() && c.xmp() && c.icc() && !c.iptc());
        // Truncated anywhere: no panic, less found.
        for n in 0..file.len() {
            let _ = carried(&file[..n]);
        }
    }
}
