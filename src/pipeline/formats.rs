//! What an input is and what an output will be: the formats read and written, and the facts
//! of an input's header ([`Probe`]).

use std::fmt;

use super::spec::{FormatChoice, Quality, Spec};

/// Formats thumbkit reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceFormat {
    Jpeg,
    Png,
    Webp,
    Gif,
    Tiff,
    /// HEIF/HEIC (HEVC in an ISO media file), as iPhones write.
    Heif,
    /// AVIF (AV1 in an ISO media file).
    Avif,
    /// JPEG XL (a bare codestream or its ISO media container).
    Jxl,
    /// SVG, drawn at the size each preset needs.
    Svg,
    /// PDF: its first page, drawn at the size each preset needs.
    Pdf,
    /// A video (MP4, MOV, WebM, Matroska): its poster frame, which the `video` module has
    /// the `ffmpeg` program extract; the pipeline itself reads no video.
    Video,
}

/// What kind of original a format holds (the manifest's `kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// A raster picture (a photo, a graphic, an animation).
    Image,
    /// A vector drawing.
    Svg,
    /// A document of pages.
    Pdf,
    /// A video, shown by a poster frame.
    Video,
}

impl fmt::Display for SourceFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SourceFormat::Jpeg => "jpeg",
            SourceFormat::Png => "png",
            SourceFormat::Webp => "webp",
            SourceFormat::Gif => "gif",
            SourceFormat::Tiff => "tiff",
            SourceFormat::Heif => "heif",
            SourceFormat::Avif => "avif",
            SourceFormat::Jxl => "jxl",
            SourceFormat::Svg => "svg",
            SourceFormat::Pdf => "pdf",
            SourceFormat::Video => "video",
        })
    }
}

impl SourceFormat {
    /// Every format thumbkit reads.
    pub const ALL: [SourceFormat; 11] = [
        SourceFormat::Jpeg,
        SourceFormat::Png,
        SourceFormat::Webp,
        SourceFormat::Gif,
        SourceFormat::Tiff,
        SourceFormat::Heif,
        SourceFormat::Avif,
        SourceFormat::Jxl,
        SourceFormat::Svg,
        SourceFormat::Pdf,
        SourceFormat::Video,
    ];

    /// The MIME types of video beyond [`Self::mime`]'s `video/mp4`, which uploads may name.
    pub const VIDEO_MIMES: [&'static str; 4] = [
        "video/quicktime",
        "video/webm",
        "video/x-matroska",
        "video/matroska",
    ];

    /// What kind of original this is.
    pub fn kind(self) -> SourceKind {
        match self {
            SourceFormat::Svg => SourceKind::Svg,
            SourceFormat::Pdf => SourceKind::Pdf,
            SourceFormat::Video => SourceKind::Video,
            _ => SourceKind::Image,
        }
    }

    /// True for the formats drawn at the size each preset needs (PDF, SVG).
    pub fn is_vector(self) -> bool {
        matches!(self, SourceFormat::Svg | SourceFormat::Pdf)
    }

    /// True for the ISO media formats decoded through libheif.
    pub fn is_heif(self) -> bool {
        matches!(self, SourceFormat::Heif | SourceFormat::Avif)
    }

    /// The MIME type.
    pub fn mime(self) -> &'static str {
        match self {
            SourceFormat::Jpeg => "image/jpeg",
            SourceFormat::Png => "image/png",
            SourceFormat::Webp => "image/webp",
            SourceFormat::Gif => "image/gif",
            SourceFormat::Tiff => "image/tiff",
            SourceFormat::Heif => "image/heif",
            SourceFormat::Avif => "image/avif",
            SourceFormat::Jxl => "image/jxl",
            SourceFormat::Svg => "image/svg+xml",
            SourceFormat::Pdf => "application/pdf",
            SourceFormat::Video => "video/mp4",
        }
    }

    /// The format a `Content-Type` names (parameters and case ignored; `image/jpg` and
    /// `image/pjpeg`, which browsers and cameras send, are JPEG).
    pub fn from_mime(content_type: &str) -> Option<Self> {
        let essence = content_type.split(';').next()?.trim().to_ascii_lowercase();
        match essence.as_str() {
            "image/jpg" | "image/pjpeg" => Some(SourceFormat::Jpeg),
            "image/heic" | "image/heic-sequence" | "image/heif-sequence" => {
                Some(SourceFormat::Heif)
            }
            e if Self::VIDEO_MIMES.contains(&e) => Some(SourceFormat::Video),
            e => Self::ALL.into_iter().find(|f| f.mime() == e),
        }
    }
}

/// Formats thumbkit writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutputFormat {
    Jpeg,
    Png,
    Webp,
    Avif,
}

impl OutputFormat {
    /// The formats `auto` may pick beyond JPEG/PNG, in the default order of preference.
    pub const MODERN: [OutputFormat; 2] = [OutputFormat::Avif, OutputFormat::Webp];

    /// The MIME type, for `Content-Type`.
    pub fn mime(self) -> &'static str {
        match self {
            OutputFormat::Jpeg => "image/jpeg",
            OutputFormat::Png => "image/png",
            OutputFormat::Webp => "image/webp",
            OutputFormat::Avif => "image/avif",
        }
    }

    /// The file extension.
    pub fn extension(self) -> &'static str {
        match self {
            OutputFormat::Jpeg => "jpg",
            OutputFormat::Png => "png",
            OutputFormat::Webp => "webp",
            OutputFormat::Avif => "avif",
        }
    }

    /// Parses `jpeg`/`jpg`, `png`, `webp` or `avif` (as in a file extension).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "jpeg" | "jpg" => Some(OutputFormat::Jpeg),
            "png" => Some(OutputFormat::Png),
            "webp" => Some(OutputFormat::Webp),
            "avif" => Some(OutputFormat::Avif),
            _ => None,
        }
    }

    /// Every format `choice` may be served as for `source`, whatever the client accepts,
    /// with `auto` choosing among `modern`: what pre-generation renders.
    pub fn candidates(spec: &Spec, source: &Probe, modern: &[OutputFormat]) -> Vec<Self> {
        let mut out = vec![Self::resolve(spec, source, &[])];
        for m in modern {
            let f = Self::resolve(spec, source, std::slice::from_ref(m));
            if !out.contains(&f) {
                out.push(f);
            }
        }
        out
    }

    /// The concrete format for a preset's choice, given the modern formats the client
    /// `accepted` (in the service's order). `auto` takes the first of them for an opaque
    /// source, else JPEG; for a source with alpha, lossless WebP when accepted (exactly what
    /// PNG would show, and smaller: see [`Self::is_lossless_for`]), else PNG; a masked
    /// output (transparent corners) takes the first accepted, else PNG. `source` keeps the
    /// original's format when it can be written, else PNG.
    pub fn resolve(spec: &Spec, source: &Probe, accepted: &[OutputFormat]) -> Self {
        match spec.format {
            FormatChoice::Jpeg => OutputFormat::Jpeg,
            FormatChoice::Png => OutputFormat::Png,
            FormatChoice::Webp => OutputFormat::Webp,
            FormatChoice::Avif => OutputFormat::Avif,
            FormatChoice::Auto if source.alpha => {
                if accepted.contains(&OutputFormat::Webp) {
                    OutputFormat::Webp
                } else {
                    OutputFormat::Png
                }
            }
            FormatChoice::Auto if spec.mask.is_some() => {
                accepted.first().copied().unwrap_or(OutputFormat::Png)
            }
            FormatChoice::Auto => accepted.first().copied().unwrap_or(OutputFormat::Jpeg),
            FormatChoice::Source => match source.format {
                SourceFormat::Jpeg => OutputFormat::Jpeg,
                SourceFormat::Webp => OutputFormat::Webp,
                SourceFormat::Avif => OutputFormat::Avif,
                // A video's frame is a photograph.
                SourceFormat::Video => OutputFormat::Jpeg,
                _ => OutputFormat::Png,
            },
        }
    }

    /// The quality `quality` gives this format (100 for PNG, which has none).
    pub fn quality_in(self, quality: Quality) -> u8 {
        match self {
            OutputFormat::Jpeg => quality.jpeg,
            OutputFormat::Webp => quality.webp,
            OutputFormat::Avif => quality.avif,
            OutputFormat::Png => 100,
        }
    }

    /// Whether `choice` writes this format losslessly for `source`: `auto` stands in for PNG
    /// with lossless WebP on sources with alpha (29-64% smaller than the PNG on the alpha
    /// fixtures, README), so graphics and cut-outs are never smeared.
    pub fn is_lossless_for(self, choice: FormatChoice, source: &Probe) -> bool {
        self == OutputFormat::Webp && choice == FormatChoice::Auto && source.alpha
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OutputFormat::Jpeg => "jpeg",
            OutputFormat::Png => "png",
            OutputFormat::Webp => "webp",
            OutputFormat::Avif => "avif",
        })
    }
}

/// What the header of an input says, read without decoding any pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Probe {
    pub format: SourceFormat,
    /// Width as stored (before EXIF orientation).
    pub width: u32,
    /// Height as stored (before EXIF orientation).
    pub height: u32,
    /// The image has an alpha channel (it may still be fully opaque).
    pub alpha: bool,
    /// EXIF orientation, 1-8 (1 when the file has none).
    #[serde(default = "upright")]
    pub orientation: u8,
    /// Frames of an animated GIF or WebP (1 for a still), counted from the header.
    #[serde(default = "one_frame")]
    pub frames: u32,
    /// Pages of a PDF (0 for other formats).
    #[serde(default)]
    pub pages: u32,
    /// A video's duration in milliseconds, when its container says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
}

fn one_frame() -> u32 {
    1
}

fn upright() -> u8 {
    1
}

impl Probe {
    /// Width and height once the orientation is applied.
    pub fn upright(&self) -> (u32, u32) {
        if (5..=8).contains(&self.orientation) {
            (self.height, self.width)
        } else {
            (self.width, self.height)
        }
    }
}
