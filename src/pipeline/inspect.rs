//! What a file is and what it carries: format, dimensions (stored and upright), orientation,
//! frames, colour space, which metadata segments it holds (EXIF, GPS, XMP, IPTC, ICC,
//! comments), and whether the pipeline would render it.
//!
//! Backs `thumbkit inspect`, and lets the tests prove outputs carry nothing: it walks the
//! container structure (JPEG segments, PNG chunks, RIFF chunks) rather than trusting a decoder.

use std::fmt;

use crate::pipeline::error::PipelineError;
use crate::pipeline::formats::SourceFormat;
use crate::pipeline::webp::{riff_chunks, strip_exif_header};
use crate::pipeline::{decode, isobmff, jpeg, png, sniff};

/// Frames counted at most (a count beyond is reported as "at least").
const MAX_FRAMES: u32 = 100_000;

/// Which metadata a file carries.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Metadata {
    pub exif: bool,
    pub gps: bool,
    pub xmp: bool,
    pub iptc: bool,
    pub icc: bool,
    pub comment: bool,
}

impl Metadata {
    /// True when the file carries none of the above.
    pub fn is_empty(&self) -> bool {
        *self == Metadata::default()
    }
}

/// The facts `thumbkit inspect` prints.
#[derive(Debug, Clone)]
pub struct Report {
    pub format: SourceFormat,
    /// Width as stored (before the orientation is applied).
    pub width: u32,
    /// Height as stored.
    pub height: u32,
    pub orientation: u8,
    /// Frames of an animation (1 for a still image); thumbnails show the first.
    pub frames: u32,
    /// What the pipeline says of the file, when [`check`] was asked (`inspect` does not
    /// decode).
    pub renders: Option<Result<(), PipelineError>>,
    pub colour: String,
    pub icc_description: Option<String>,
    pub metadata: Metadata,
    /// A PDF's pages and first page size (`None` for other formats).
    pub document: Option<super::pdf::Document>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = &self.metadata;
        let mut carried: Vec<&str> = Vec::new();
        for (present, name) in [
            (m.exif, "exif"),
            (m.gps, "gps"),
            (m.xmp, "xmp"),
            (m.iptc, "iptc"),
            (m.icc, "icc"),
            (m.comment, "comment"),
        ] {
            if present {
                carried.push(name);
            }
        }
        writeln!(f, "format:      {}", self.format)?;
        let (w, h) = self.upright();
        if (w, h) == (self.width, self.height) {
            writeln!(f, "dimensions:  {w}x{h}")?;
        } else {
            writeln!(
                f,
                "dimensions:  {w}x{h} upright (stored {}x{}, turned by the orientation)",
                self.width, self.height
            )?;
        }
        if let Some(d) = &self.document {
            let (w, h) = d.page;
            writeln!(
                f,
                "pages:       {} (the first {w:.0}x{h:.0} pt, {:.0}x{:.0} mm)",
                d.pages,
                w * 25.4 / 72.0,
                h * 25.4 / 72.0
            )?;
        }
        writeln!(f, "orientation: {}", self.orientation)?;
        match self.frames {
            0 | 1 => {}
            MAX_FRAMES.. => writeln!(
                f,
                "frames:      at least {MAX_FRAMES} (animated; thumbnails show the first)"
            )?,
            n => writeln!(f, "frames:      {n} (animated; thumbnails show the first)")?,
        }
        write!(f, "colour:      {}", self.colour)?;
        if let Some(d) = &self.icc_description {
            write!(f, " (ICC: {d})")?;
        }
        writeln!(f)?;
        write!(
            f,
            "metadata:    {}",
            if carried.is_empty() {
                "none".to_owned()
            } else {
                carried.join(", ")
            }
        )?;
        match &self.renders {
            None => Ok(()),
            Some(Ok(())) => write!(f, "\nrenders:     yes"),
            Some(Err(e)) => write!(f, "\nrenders:     no: {e}"),
        }
    }
}

impl Report {
    /// Width and height once the orientation is applied: what thumbnails are made from.
    pub fn upright(&self) -> (u32, u32) {
        if (5..=8).contains(&self.orientation) {
            (self.height, self.width)
        } else {
            (self.width, self.height)
        }
    }
}

/// Frames in an animated GIF or WebP (1 otherwise), counted without decoding any pixels.
fn frames(data: &[u8], format: SourceFormat) -> u32 {
    match format {
        SourceFormat::Webp => {
            let n = riff_chunks(data)
                .iter()
                .filter(|(kind, _)| *kind == b"ANMF")
                .count();
            u32::try_from(n).unwrap_or(MAX_FRAMES).clamp(1, MAX_FRAMES)
        }
        SourceFormat::Gif => {
            let mut options = gif::DecodeOptions::new();
            // The LZW data is skipped, not decoded: counting costs a walk over the blocks.
            options.skip_frame_decoding(true);
            let Ok(mut decoder) = options.read_info(std::io::Cursor::new(data)) else {
                return 1;
            };
            let mut n = 0;
            // Each frame's header alone: `read_next_frame` would also reserve a quarter of
            // the size the frame declares for its data, whatever the file holds (848 MB for
            // a 64 KB file the fuzzer found), and copy the data there.
            while n < MAX_FRAMES && matches!(decoder.next_frame_info(), Ok(Some(_))) {
                n += 1;
            }
            n.max(1)
        }
        SourceFormat::Jxl => super::jxl::frames(data),
        _ => 1,
    }
}

/// Inspects a file's bytes.
pub fn inspect(data: &[u8]) -> Result<Report, PipelineError> {
    let format = sniff::sniff(data)?;
    let (width, height, _) = sniff::header(data, format)?;
    let (metadata, exif, icc) = metadata_of(data, format);
    let orientation = match format {
        SourceFormat::Tiff => tiff_orientation(data),
        _ => exif
            .as_deref()
            .map_or(1, |e| decode::exif_orientation(e).to_exif()),
    };
    // HEIF says its own transforms, not EXIF, orient the image (and they are applied as it
    // decodes): the stored size is already upright.
    let orientation = if format.is_heif() { 1 } else { orientation };
    let colour = match format {
        SourceFormat::Jpeg => format!("{:?}", jpeg::header(data)?.colour).to_lowercase(),
        SourceFormat::Heif | SourceFormat::Avif => {
            let c = isobmff::carried(data);
            let mut coded: Vec<(String, usize)> = Vec::new();
            for t in c
                .item_types
                .iter()
                .filter(|t| matches!(*t, b"av01" | b"hvc1" | b"grid"))
            {
                let name = String::from_utf8_lossy(t).into_owned();
                match coded.iter_mut().find(|(n, _)| *n == name) {
                    Some((_, count)) => *count += 1,
                    None => coded.push((name, 1)),
                }
            }
            let coded: Vec<String> = coded
                .into_iter()
                .map(|(n, count)| if count > 1 { format!("{count} {n}") } else { n })
                .collect();
            format!("coded as {}", coded.join(", "))
        }
        SourceFormat::Jxl => "coded as jpeg xl".to_owned(),
        SourceFormat::Svg => "rgba (vector)".to_owned(),
        SourceFormat::Pdf => "rgb (document, drawn on white)".to_owned(),
        _ => {
            use image::ImageDecoder;
            // Without the PNG's metadata chunks, which its decoder would inflate.
            let cleaned = match format {
                SourceFormat::Png => png::for_decoder(data).1,
                _ => None,
            };
            let mut reader = image::ImageReader::with_format(
                std::io::Cursor::new(cleaned.as_deref().unwrap_or(data)),
                sniff::image_format(format),
            );
            reader.no_limits();
            let decoder = reader.into_decoder().map_err(PipelineError::from_image)?;
            format!("{:?}", decoder.color_type()).to_lowercase()
        }
    };
    Ok(Report {
        format,
        width,
        height,
        orientation,
        frames: frames(data, format),
        renders: None,
        colour,
        icc_description: icc.as_deref().and_then(icc_description),
        metadata,
        document: match format {
            SourceFormat::Pdf => Some(super::pdf::document(data)?),
            _ => None,
        },
    })
}

fn icc_description(icc: &[u8]) -> Option<String> {
    let profile = moxcms::ColorProfile::new_from_slice(icc).ok()?;
    match profile.description? {
        moxcms::ProfileText::PlainString(s) => Some(s),
        moxcms::ProfileText::Localizable(v) => v.into_iter().next().map(|l| l.value),
        moxcms::ProfileText::Description(d) => Some(d.ascii_string),
    }
    .map(|s| s.trim_end_matches('\0').trim().to_owned())
}

/// True when a TIFF-structured EXIF block has a GPS IFD.
fn exif_has_gps(tiff: &[u8]) -> bool {
    exif::Reader::new()
        .read_raw(tiff.to_vec())
        .is_ok_and(|e| e.fields().any(is_location))
}

/// A GPS field that says where: a GPS IFD holding only GPSVersionID (as some cameras write)
/// carries no location.
fn is_location(f: &exif::Field) -> bool {
    f.tag.context() == exif::Context::Gps && f.tag != exif::Tag::GPSVersionID
}

/// Finds the metadata segments, and returns the EXIF block and ICC profile for decoding.
pub fn metadata_of(
    data: &[u8],
    format: SourceFormat,
) -> (Metadata, Option<Vec<u8>>, Option<Vec<u8>>) {
    let mut m = Metadata::default();
    let mut exif: Option<Vec<u8>> = None;
    let mut icc: Option<Vec<u8>> = None;
    match format {
        SourceFormat::Jpeg => {
            let j = jpeg::markers(data);
            exif = j.exif.map(<[u8]>::to_vec);
            icc = j.icc;
            m.xmp = j.xmp;
            m.iptc = j.iptc;
            m.comment = j.comment;
        }
        SourceFormat::Png => (exif, icc) = png_metadata(data, &mut m),
        SourceFormat::Webp => {
            for (kind, body) in riff_chunks(data) {
                match kind {
                    b"EXIF" => exif = Some(strip_exif_header(body).to_vec()),
                    b"XMP " => m.xmp = true,
                    b"ICCP" => icc = Some(body.to_vec()),
                    _ => {}
                }
            }
        }
        SourceFormat::Heif | SourceFormat::Avif => {
            let c = isobmff::carried(data);
            m.xmp = c.xmp();
            m.iptc = c.iptc();
            // The EXIF block and the profile are read through libheif (an item's bytes
            // may be spread over extents), their presence from the boxes above.
            let (e, profile) = super::heif::metadata(data);
            exif = e.or_else(|| c.exif().then(Vec::new));
            icc = profile.or_else(|| c.icc().then(Vec::new));
        }
        SourceFormat::Gif | SourceFormat::Tiff => {
            (exif, icc) = decoder_metadata(data, format, &mut m)
        }
        // A video's tags are never read: only its poster frame's pixels reach an output.
        SourceFormat::Video => {}
        SourceFormat::Jxl | SourceFormat::Svg | SourceFormat::Pdf => {
            let c = super::carried::metadata(data, format);
            (exif, icc) = (c.exif, c.icc);
            m.exif = c.exif_compressed;
            m.xmp = c.xmp;
            m.comment = c.comment;
        }
    }
    if let Some(e) = &exif {
        m.exif = true;
        m.gps = exif_has_gps(e);
    }
    m.icc = icc.is_some();
    (m, exif, icc)
}

/// A PNG's chunks: `eXIf` and `iCCP` for decoding; XMP, text and raw profiles noted.
fn png_metadata(data: &[u8], m: &mut Metadata) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    let (mut exif, mut icc) = (None, None);
    for chunk in png::chunks(data) {
        let (kind, body) = (chunk.kind, chunk.body);
        match kind {
            b"eXIf" => exif = Some(body.to_vec()),
            b"iCCP" => icc = png::iccp_profile(body),
            b"iTXt" if body.starts_with(b"XML:com.adobe.xmp\0") => m.xmp = true,
            b"tEXt" | b"zTXt" | b"iTXt" => {
                let key = body.split(|b| *b == 0).next().unwrap_or_default();
                match key {
                    b"Raw profile type exif" | b"Raw profile type APP1" => m.exif = true,
                    b"Raw profile type iptc" => m.iptc = true,
                    b"Raw profile type xmp" => m.xmp = true,
                    _ => m.comment = true,
                }
            }
            _ => {}
        }
    }
    (exif, icc)
}

/// GIF and TIFF through their decoders; a TIFF's own IFDs for EXIF, XMP and IPTC.
fn decoder_metadata(
    data: &[u8],
    format: SourceFormat,
    m: &mut Metadata,
) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    use image::ImageDecoder;
    let (mut exif, mut icc) = (None, None);
    let mut reader =
        image::ImageReader::with_format(std::io::Cursor::new(data), sniff::image_format(format));
    reader.no_limits();
    if let Ok(mut d) = reader.into_decoder() {
        icc = d.icc_profile().ok().flatten();
        exif = d.exif_metadata().ok().flatten();
    }
    if format == SourceFormat::Tiff
        && let Ok(e) = exif::Reader::new().read_raw(data.to_vec())
    {
        // A TIFF is itself an EXIF structure: its EXIF and GPS IFDs, XMP (700) and IPTC
        // (33723) hang off its first IFD. Parsed once: the parser needs the whole file,
        // and each parse copied it (four copies of 18 MB for a 6 MP TIFF).
        let any = |f: &dyn Fn(&exif::Field) -> bool| e.fields().any(f);
        m.exif = any(&|f| matches!(f.tag.context(), exif::Context::Exif | exif::Context::Gps));
        m.gps = any(&is_location);
        m.xmp = any(&|f| f.tag.number() == 700);
        m.iptc = any(&|f| f.tag.number() == 33723);
    }
    (exif, icc)
}

/// A TIFF's orientation tag, read by its decoder from the first IFD.
fn tiff_orientation(data: &[u8]) -> u8 {
    use image::ImageDecoder;
    image::ImageReader::with_format(std::io::Cursor::new(data), image::ImageFormat::Tiff)
        .into_decoder()
        .and_then(|mut d| d.orientation())
        .map_or(1, |o| o.to_exif())
}
