//! What an input is and what an output will be: the formats read and written, and the facts
//! of an input's header ([`Probe`]).

use std::fmt;

use crate::preset::FormatChoice;

/// Formats thumbkit reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceFormat {
    Jpeg,
    Png,
    Webp,
    Gif,
    Tiff,
}

impl fmt::Display for SourceFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SourceFormat::Jpeg => "jpeg",
            SourceFormat::Png => "png",
            SourceFormat::Webp => "webp",
            SourceFormat::Gif => "gif",
            SourceFormat::Tiff => "tiff",
        })
    }
}

impl SourceFormat {
    /// Every format thumbkit reads.
    pub const ALL: [SourceFormat; 5] = [
        SourceFormat::Jpeg,
        SourceFormat::Png,
        SourceFormat::Webp,
        SourceFormat::Gif,
        SourceFormat::Tiff,
    ];

    /// The MIME type.
    pub fn mime(self) -> &'static str {
        match self {
            SourceFormat::Jpeg => "image/jpeg",
            SourceFormat::Png => "image/png",
            SourceFormat::Webp => "image/webp",
            SourceFormat::Gif => "image/gif",
            SourceFormat::Tiff => "image/tiff",
        }
    }

    /// The format a `Content-Type` names (parameters and case ignored; `image/jpg` and
    /// `image/pjpeg`, which browsers and cameras send, are JPEG).
    pub fn from_mime(content_type: &str) -> Option<Self> {
        let essence = content_type.split(';').next()?.trim().to_ascii_lowercase();
        match essence.as_str() {
            "image/jpg" | "image/pjpeg" => Some(SourceFormat::Jpeg),
            e => Self::ALL.into_iter().find(|f| f.mime() == e),
        }
    }
}

/// Formats thumbkit writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Jpeg,
    Png,
    Webp,
}

impl OutputFormat {
    /// The MIME type, for `Content-Type`.
    pub fn mime(self) -> &'static str {
        match self {
            OutputFormat::Jpeg => "image/jpeg",
            OutputFormat::Png => "image/png",
            OutputFormat::Webp => "image/webp",
        }
    }

    /// The file extension.
    pub fn extension(self) -> &'static str {
        match self {
            OutputFormat::Jpeg => "jpg",
            OutputFormat::Png => "png",
            OutputFormat::Webp => "webp",
        }
    }

    /// Parses `jpeg`/`jpg`, `png` or `webp` (as in a file extension).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "jpeg" | "jpg" => Some(OutputFormat::Jpeg),
            "png" => Some(OutputFormat::Png),
            "webp" => Some(OutputFormat::Webp),
            _ => None,
        }
    }

    /// Every format `choice` may be served as for `source` (with and without WebP in the
    /// client's `Accept`): what pre-generation renders.
    pub fn candidates(choice: FormatChoice, source: &Probe) -> Vec<Self> {
        let mut out = vec![Self::resolve(choice, source, false)];
        let webp = Self::resolve(choice, source, true);
        if !out.contains(&webp) {
            out.push(webp);
        }
        out
    }

    /// The concrete format for a preset's choice. `auto` picks WebP when the client accepts
    /// it, else PNG when the source has an alpha channel and JPEG when it has none; `source`
    /// keeps the original's format when it can be written, else PNG.
    pub fn resolve(choice: FormatChoice, source: &Probe, accepts_webp: bool) -> Self {
        match choice {
            FormatChoice::Jpeg => OutputFormat::Jpeg,
            FormatChoice::Png => OutputFormat::Png,
            FormatChoice::Webp => OutputFormat::Webp,
            FormatChoice::Auto if accepts_webp => OutputFormat::Webp,
            FormatChoice::Auto if source.alpha => OutputFormat::Png,
            FormatChoice::Auto => OutputFormat::Jpeg,
            FormatChoice::Source => match source.format {
                SourceFormat::Jpeg => OutputFormat::Jpeg,
                SourceFormat::Webp => OutputFormat::Webp,
                _ => OutputFormat::Png,
            },
        }
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OutputFormat::Jpeg => "jpeg",
            OutputFormat::Png => "png",
            OutputFormat::Webp => "webp",
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
